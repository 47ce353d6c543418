//! Every check, run on evidence recorded from real servers and stored in `fixtures/evidence/`,
//! without a network. Each `NAME.json` (a `kensa.evidence/1` document) has a `NAME.expect.toml`
//! beside it listing the status every check must give on every endpoint, each item's status and
//! the exit code.
//!
//! The fixtures were recorded from loopback servers by `regenerate_fixtures` below:
//! `KENSA_WRITE_FIXTURES=1 cargo test --test check_fixtures -- --ignored regenerate_fixtures`.
//! Certificates are judged at the recorded probe time, so the fixtures never expire.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kensa::evidence::ScanEvidence;
use kensa::profile::Profile;
use kensa::verdict::Assessment;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expectation {
    /// Why this fixture exists.
    about: String,
    exit_code: i32,
    /// check ID → status on every endpoint.
    checks: BTreeMap<String, String>,
    /// item ID → status.
    items: BTreeMap<String, String>,
}

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/evidence")
}

fn as_str<T: serde::Serialize>(value: T) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

#[test]
fn checks_reach_the_recorded_verdicts() {
    let profile = Profile::embedded();
    let mut names: Vec<PathBuf> = std::fs::read_dir(fixture_dir())
        .expect("fixtures/evidence exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    names.sort();
    assert!(names.len() >= 12, "expected the recorded fixtures, found {}", names.len());
    let mut failures = Vec::new();
    for path in &names {
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("?").to_string();
        let evidence: ScanEvidence = serde_json::from_str(&std::fs::read_to_string(path).expect("readable fixture"))
            .unwrap_or_else(|e| panic!("{name}: not evidence: {e}"));
        let expect_path = path.with_extension("expect.toml");
        let expect: Expectation = toml::from_str(
            &std::fs::read_to_string(&expect_path).unwrap_or_else(|e| panic!("{name}: no expectation file: {e}")),
        )
        .unwrap_or_else(|e| panic!("{name}: bad expectation: {e}"));
        assert!(!expect.about.is_empty());
        let assessment = Assessment::evaluate(&profile, &evidence);
        for (check, want) in &expect.checks {
            let got: Vec<String> =
                assessment.findings.iter().filter(|f| &f.check_id == check).map(|f| as_str(f.status)).collect();
            if got.is_empty() || got.iter().any(|g| g != want) {
                failures.push(format!("{name}: check {check}: want {want}, got {got:?}"));
            }
        }
        for (item, want) in &expect.items {
            let got = assessment.item(item).map(|v| as_str(v.status)).unwrap_or_default();
            if &got != want {
                failures.push(format!("{name}: item {item}: want {want}, got {got}"));
            }
        }
        if assessment.exit_code() != expect.exit_code {
            failures.push(format!("{name}: exit code: want {}, got {}", expect.exit_code, assessment.exit_code()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Evidence survives a JSON round trip unchanged, so a stored report can always be re-judged.
#[test]
fn evidence_round_trips() {
    for entry in std::fs::read_dir(fixture_dir()).expect("fixtures") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|x| x == "json") {
            let text = std::fs::read_to_string(&path).expect("readable");
            let evidence: ScanEvidence = serde_json::from_str(&text).expect("evidence");
            let again: ScanEvidence =
                serde_json::from_str(&serde_json::to_string(&evidence).expect("serialise")).expect("parse");
            assert_eq!(evidence, again, "{}", path.display());
        }
    }
}

/// Records the fixtures from loopback servers. Run on demand (see the module docs); needs
/// Debian's `openssl` for the legacy and weak-key cases.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes fixtures; run with KENSA_WRITE_FIXTURES=1"]
async fn regenerate_fixtures() {
    if std::env::var_os("KENSA_WRITE_FIXTURES").is_none() {
        eprintln!("set KENSA_WRITE_FIXTURES=1 to rewrite fixtures/evidence");
        return;
    }
    recorder::record_all(&fixture_dir()).await;
}

mod recorder {
    use std::net::SocketAddr;
    use std::path::Path;
    use std::time::Duration;

    use kensa::evidence::{AddressFamily, CertDer, ScanEvidence};
    use kensa::probe::{scan, ScanRequest};
    use kensa::resolve::{Pin, ResolverSettings};
    use kensa::testkit::{
        self_signed, spawn_hostile_server, spawn_tls_server, HostileBehaviour, Identity, OpenSslServer, TestCa,
        Validity,
    };
    use rustls::version::{TLS12, TLS13};

    const HOST: &str = "web.clinic.example";

    async fn record(
        addr: SocketAddr,
        roots: &[CertDer],
        timeout: Duration,
        resolver: Option<SocketAddr>,
        pin: bool,
    ) -> ScanEvidence {
        let target = format!("{HOST}:{}", addr.port()).parse().expect("target");
        let pins = if pin {
            vec![format!("{HOST}:{}:{}", addr.port(), addr.ip()).parse::<Pin>().expect("pin")]
        } else {
            vec![]
        };
        let mut request = ScanRequest::new(
            vec![target],
            ResolverSettings { server: resolver, timeout, family: AddressFamily::Any },
            timeout,
        );
        request.pins = pins;
        request.extra_roots = roots.to_vec();
        scan(&request).await
    }

    fn save(dir: &Path, name: &str, evidence: &ScanEvidence) {
        let text = serde_json::to_string_pretty(evidence).expect("serialise");
        std::fs::write(dir.join(format!("{name}.json")), text + "\n").expect("write fixture");
        eprintln!("recorded {name}");
    }

    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
    }

    fn openssl_server(identity: &Identity, args: &[&str]) -> OpenSslServer {
        let mut all = vec!["-cipher", "ALL:@SECLEVEL=0"];
        all.extend_from_slice(args);
        OpenSslServer::start(identity, &all).expect("openssl s_server")
    }

    pub async fn record_all(dir: &Path) {
        std::fs::create_dir_all(dir).expect("fixture dir");
        let normal = Duration::from_secs(5);
        let short = Duration::from_millis(400);
        let ca = TestCa::new("kensa fixture CA").expect("ca");
        let roots = vec![CertDer(ca.certificate().to_vec())];
        let both: &[&'static rustls::SupportedProtocolVersion] = &[&TLS13, &TLS12];

        let server = spawn_tls_server(ca.issue(&[HOST], Validity::CURRENT).expect("leaf"), both).await.expect("srv");
        save(dir, "compliant-tls12-tls13", &record(server.addr, &roots, normal, None, true).await);
        save(dir, "untrusted-without-ca-file", &record(server.addr, &[], normal, None, true).await);
        drop(server);

        let server =
            spawn_tls_server(ca.issue(&[HOST], Validity::CURRENT).expect("leaf"), &[&TLS12]).await.expect("srv");
        save(dir, "tls12-only", &record(server.addr, &roots, normal, None, true).await);
        let server =
            spawn_tls_server(ca.issue(&[HOST], Validity::CURRENT).expect("leaf"), &[&TLS13]).await.expect("srv");
        save(dir, "tls13-only", &record(server.addr, &roots, normal, None, true).await);
        let server = spawn_tls_server(ca.issue(&[HOST], Validity::EXPIRED).expect("leaf"), both).await.expect("srv");
        save(dir, "expired-certificate", &record(server.addr, &roots, normal, None, true).await);
        let soon = Validity { from_days: -80, until_days: 10 };
        let server = spawn_tls_server(ca.issue(&[HOST], soon).expect("leaf"), both).await.expect("srv");
        save(dir, "expiring-in-10-days", &record(server.addr, &roots, normal, None, true).await);
        let server = spawn_tls_server(self_signed(&[HOST], Validity::CURRENT).expect("leaf"), both).await.expect("srv");
        save(dir, "self-signed", &record(server.addr, &roots, normal, None, true).await);
        let server = spawn_tls_server(ca.issue(&["other.clinic.example"], Validity::CURRENT).expect("leaf"), both)
            .await
            .expect("srv");
        save(dir, "name-mismatch", &record(server.addr, &roots, normal, None, true).await);

        for (name, behaviour) in [
            ("hostile-tarpit", HostileBehaviour::Silent),
            ("hostile-garbage", HostileBehaviour::Garbage),
            ("hostile-reset", HostileBehaviour::Reset),
            ("hostile-close", HostileBehaviour::Close),
        ] {
            let server = spawn_hostile_server(behaviour).await.expect("hostile");
            save(dir, name, &record(server.addr, &roots, short, None, true).await);
        }
        let closed: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        save(dir, "closed-port", &record(closed, &roots, short, None, true).await);
        // No pin and a resolver where nothing listens: the name cannot be resolved.
        let nowhere: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        save(dir, "unresolvable-name", &record(closed, &roots, short, Some(nowhere), false).await);

        let identity = ca.issue(&[HOST], Validity::CURRENT).expect("leaf");
        let tls10 = openssl_server(&identity, &["-tls1"]);
        save(dir, "openssl-tls10-only", &record(tls10.addr, &roots, normal, None, true).await);
        let all = openssl_server(&identity, &["-min_protocol", "TLSv1", "-max_protocol", "TLSv1.3"]);
        save(dir, "openssl-tls10-to-tls13", &record(all.addr, &roots, normal, None, true).await);

        // RSA-1024 key signed with SHA-1: weak on both counts. Made with openssl, which
        // (unlike ring) still produces such keys.
        let (weak_cert, weak_key) =
            OpenSslServer::self_signed(HOST, &["-newkey", "rsa:1024"], &["-sha1", "-days", "90"]).expect("openssl req");
        let weak = OpenSslServer::start_with_files(
            &weak_cert,
            &weak_key,
            &["-cipher", "ALL:@SECLEVEL=0", "-min_protocol", "TLSv1.2"],
        )
        .expect("openssl s_server");
        save(dir, "weak-rsa1024-sha1", &record(weak.addr, &roots, normal, None, true).await);
    }
}

fn load(name: &str) -> ScanEvidence {
    let text = std::fs::read_to_string(fixture_dir().join(format!("{name}.json"))).expect("fixture");
    serde_json::from_str(&text).expect("evidence")
}

fn check_status(assessment: &Assessment, check: &str) -> String {
    assessment.findings.iter().find(|f| f.check_id == check).map(|f| as_str(f.status)).unwrap_or_default()
}

/// A server presenting a valid chain without its key (a failing handshake signature) must not
/// pass: the recorded `handshake_signature_error` makes `cert.trusted` fail.
#[test]
fn a_chain_without_proof_of_key_possession_is_not_trusted() {
    let profile = Profile::embedded();
    let mut evidence = load("compliant-tls12-tls13");
    for attempt in &mut evidence.targets[0].endpoints[0].modern {
        if let Some(session) = attempt.session.as_mut() {
            session.handshake_signature_error = Some("invalid peer certificate: BadSignature".to_string());
        }
    }
    let assessment = Assessment::evaluate(&profile, &evidence);
    assert_eq!(check_status(&assessment, "cert.trusted"), "fail");
    assert_eq!(assessment.item("2-1.xii").map(|v| as_str(v.status)).as_deref(), Some("non_compliant"));
    assert_eq!(assessment.exit_code(), 1);
}

/// A bad certificate served to TLS 1.2 clients is not hidden by a good one served over TLS 1.3.
#[test]
fn every_distinct_chain_is_judged() {
    let profile = Profile::embedded();
    let mut evidence = load("compliant-tls12-tls13");
    let expired = load("expired-certificate");
    let expired_chain = expired.targets[0].endpoints[0].modern[0].session.as_ref().expect("session").chain.clone();
    let endpoint = &mut evidence.targets[0].endpoints[0];
    let tls12 = endpoint
        .hand_built
        .iter_mut()
        .filter(|a| a.version == kensa::evidence::TlsVersion::Tls12)
        .flat_map(|a| a.exchanges.iter_mut())
        .find_map(|e| match &mut e.reply {
            kensa::evidence::HelloReply::ServerHello { chain, .. } if !chain.is_empty() => Some(chain),
            _ => None,
        })
        .expect("a TLS 1.2 ServerHello with a chain");
    *tls12 = expired_chain;
    let assessment = Assessment::evaluate(&profile, &evidence);
    assert_eq!(check_status(&assessment, "cert.validity"), "fail");
    let message = &assessment.findings.iter().find(|f| f.check_id == "cert.validity").expect("finding").message.en;
    assert!(message.contains("TLS 1.2") && message.contains("2 different chains"), "{message}");
    assert_eq!(assessment.item("2-1.xii").map(|v| as_str(v.status)).as_deref(), Some("non_compliant"));
}

/// Resets after a block are not refusals: when the health check after the legacy hellos
/// fails, silent closes and resets prove nothing.
#[test]
fn silent_refusals_followed_by_a_failed_health_check_are_indeterminate() {
    use kensa::evidence::{ModernAttempt, Outcome, TlsVersion};
    let profile = Profile::embedded();
    let mut evidence = load("compliant-tls12-tls13");
    let endpoint = &mut evidence.targets[0].endpoints[0];
    for attempt in &mut endpoint.hand_built {
        attempt.outcome = Outcome::Reset;
    }
    let healthy = Assessment::evaluate(&profile, &evidence);
    assert_eq!(check_status(&healthy, "tls.no-tls10"), "pass", "resets from a TLS-speaking endpoint are refusals");
    evidence.targets[0].endpoints[0].health_check =
        Some(ModernAttempt { version: TlsVersion::Tls13, elapsed_ms: 1, outcome: Outcome::Reset, session: None });
    let blocked = Assessment::evaluate(&profile, &evidence);
    assert_eq!(check_status(&blocked, "tls.no-tls10"), "indeterminate");
    assert_eq!(blocked.item("2-1.xii").map(|v| as_str(v.status)).as_deref(), Some("indeterminate"));
    assert_eq!(blocked.exit_code(), 3);
}

/// Absurd recorded times (a hand-edited or corrupted file) give an answer, never a panic.
#[test]
fn extreme_probe_times_do_not_panic() {
    let profile = Profile::embedded();
    let mut evidence = load("compliant-tls12-tls13");
    for at in [0, u64::MAX] {
        evidence.targets[0].endpoints[0].probed_at = at;
        let assessment = Assessment::evaluate(&profile, &evidence);
        assert_eq!(check_status(&assessment, "cert.validity"), "fail", "at {at}");
    }
}
