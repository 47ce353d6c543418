//! The certificate checks (`cert.*`) rule by rule, against loopback servers serving chains
//! built with `kensa::testkit::pki`: each test scans with the private root passed as
//! `extra_roots` (the `--ca-file` equivalent), judges with the embedded profile, and checks
//! the one check's status, that its message names the cause, and the status of item
//! 2-1.xii. The last tests mutate recorded evidence (no server) into hostile chains.
//!
//! Servers: `kensa::testkit::spawn_tls_server` for one chain, a rustls server with its own
//! `ResolvesServerCert` here for endpoints that pick a certificate per client (RSA or ECDSA,
//! with or without SNI), `openssl s_server` for an RSA-1024 leaf, and
//! `kensa::testkit::http` for AIA caIssuers URLs. Most scans are minimal-mode (a handful of
//! connections); the certificate-variant tests need full mode.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use kensa::checks::{self, CheckStatus, ExpiryThresholds, REGISTRY};
use kensa::evidence::{AddressFamily, CertDer, EndpointEvidence, HelloReply, ScanEvidence, ScanMode, VariantRequest};
use kensa::i18n::Lang;
use kensa::probe::modern::provider;
use kensa::probe::{scan, ScanRequest};
use kensa::profile::Profile;
use kensa::report::{Format, Report};
use kensa::resolve::ResolverSettings;
use kensa::testkit::http::{HttpServer, Response};
use kensa::testkit::pki::{
    openssl_available, pkcs7_certs_only, tlv, Authority, CertSpec, Chain, KeySpec, POLICY_DV, POLICY_EV,
};
use kensa::testkit::{spawn_tls_server, Identity, OpenSslServer, RunningServer};
use kensa::verdict::{Assessment, Finding, ItemStatus, JudgingOptions};
use rcgen::{BasicConstraints, ExtendedKeyUsagePurpose, IsCa};
use rustls::pki_types::CertificateDer;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::version::{TLS12, TLS13};
use rustls::{SignatureScheme, SupportedProtocolVersion};
use tokio::io::AsyncWriteExt;

/// The item every certificate check feeds.
const ITEM: &str = "2-1.xii";
/// The host name scans pin to 127.0.0.1.
const HOST: &str = "web.clinic.example";
/// Deadline of each network operation in a scan.
const TIMEOUT: Duration = Duration::from_secs(5);
const BOTH: &[&SupportedProtocolVersion] = &[&TLS13, &TLS12];

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// One root and one intermediate for the whole file; each test issues its own leaves.
fn shared() -> &'static Chain {
    static PKI: OnceLock<Chain> = OnceLock::new();
    PKI.get_or_init(|| Chain::build(1, CertSpec::leaf(&[HOST])).expect("shared test PKI"))
}

/// The shared intermediate, which issues the leaves.
fn intermediate() -> &'static Authority {
    shared().issuing()
}

/// A leaf from the shared intermediate, served with the intermediate.
fn served_by_intermediate(spec: CertSpec) -> Identity {
    intermediate().issue(spec).expect("issue leaf").identity_with(&[intermediate().der().clone()])
}

async fn serve(identity: Identity) -> RunningServer {
    spawn_tls_server(identity, BOTH).await.expect("start the rustls test server")
}

/// Scans `names`, each pinned to `addr` (its port), trusting `roots`, in `mode`; `tweak`
/// adjusts the request further.
async fn scan_names(
    addr: SocketAddr,
    names: &[&str],
    roots: &[CertDer],
    mode: ScanMode,
    tweak: impl FnOnce(&mut ScanRequest),
) -> ScanEvidence {
    let port = addr.port();
    let targets = names.iter().map(|n| format!("{n}:{port}").parse().expect("target")).collect();
    let resolver = ResolverSettings { server: None, timeout: TIMEOUT, family: AddressFamily::Any };
    let mut request = ScanRequest::new(targets, resolver, TIMEOUT);
    request.pins = names.iter().map(|n| format!("{n}:{port}:{}", addr.ip()).parse().expect("pin")).collect();
    request.extra_roots = roots.to_vec();
    request.mode = mode;
    tweak(&mut request);
    scan(&request).await
}

/// [`scan_names`] for [`HOST`] alone, minimal mode, trusting the shared root.
async fn scan_host(addr: SocketAddr) -> ScanEvidence {
    scan_names(addr, &[HOST], &shared().roots(), ScanMode::Minimal, |_| {}).await
}

/// A scan and its assessment by the embedded profile.
struct Judged {
    evidence: ScanEvidence,
    assessment: Assessment,
    profile: Profile,
}

impl Judged {
    fn new(evidence: ScanEvidence) -> Judged {
        Judged::with(evidence, JudgingOptions::default())
    }

    fn with(evidence: ScanEvidence, options: JudgingOptions) -> Judged {
        let profile = Profile::embedded();
        let assessment = Assessment::evaluate_with(&profile, &evidence, options);
        Judged { evidence, assessment, profile }
    }

    /// The only endpoint.
    fn endpoint(&self) -> &EndpointEvidence {
        let endpoints: Vec<&EndpointEvidence> = self.evidence.targets.iter().flat_map(|t| &t.endpoints).collect();
        assert_eq!(endpoints.len(), 1, "one endpoint expected\n{}", self.digest());
        endpoints[0]
    }

    /// The finding of `check` for item 2-1.xii on the endpoint named `name`.
    fn finding_for(&self, name: &str, check: &str) -> &Finding {
        let prefix = format!("{name} [");
        self.assessment
            .findings
            .iter()
            .find(|f| f.item_id == ITEM && f.check_id == check && f.endpoint.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no {check} finding for {name}\n{}", self.digest()))
    }

    /// The finding of `check` on the only endpoint.
    fn finding(&self, check: &str) -> &Finding {
        let name = self.endpoint().server_name.clone().expect("a named endpoint");
        self.finding_for(&name, check)
    }

    /// Asserts the status of `check` on `name` and that its English message contains every
    /// one of `needles`.
    fn expect_for(&self, name: &str, check: &str, status: CheckStatus, needles: &[&str]) -> &Finding {
        let finding = self.finding_for(name, check);
        assert_eq!(finding.status, status, "{check} on {name}: {}\n{}", finding.message.en, self.digest());
        for needle in needles {
            assert!(
                finding.message.en.contains(needle),
                "{check} on {name}: message lacks {needle:?}: {}\n{}",
                finding.message.en,
                self.digest()
            );
        }
        finding
    }

    /// [`Judged::expect_for`] on the only endpoint.
    fn expect(&self, check: &str, status: CheckStatus, needles: &[&str]) -> &Finding {
        let name = self.endpoint().server_name.clone().expect("a named endpoint");
        self.expect_for(&name, check, status, needles)
    }

    /// The status of item 2-1.xii over the whole scan.
    fn item(&self) -> ItemStatus {
        self.assessment.item(ITEM).expect("item 2-1.xii").status
    }

    /// The status of item 2-1.xii for the endpoint named `name` alone.
    fn item_for(&self, name: &str) -> ItemStatus {
        let prefix = format!("{name} [");
        let label = self
            .assessment
            .findings
            .iter()
            .find(|f| f.endpoint.starts_with(&prefix))
            .map(|f| f.endpoint.clone())
            .unwrap_or_else(|| panic!("no endpoint {name}\n{}", self.digest()));
        self.assessment.item_status_for_endpoint(ITEM, &label, &self.profile).expect("item 2-1.xii")
    }

    /// Every certificate finding, one per line, for assertion messages.
    fn digest(&self) -> String {
        let mut out = String::new();
        for finding in self.assessment.findings.iter().filter(|f| f.item_id == ITEM) {
            if finding.check_id.starts_with("cert.")
                || !matches!(finding.status, CheckStatus::Pass | CheckStatus::NotRun)
            {
                out.push_str(&format!(
                    "  {} {} {}: {}\n",
                    finding.endpoint,
                    finding.check_id,
                    finding.status.as_str(),
                    finding.message.en
                ));
            }
        }
        if let Some(item) = self.assessment.item(ITEM) {
            out.push_str(&format!("  {ITEM}: {:?} {}\n", item.status, item.reason.en));
        }
        out
    }

    /// Renders the report in both formats and languages; the JSON must parse.
    fn render_all(&self) -> Vec<String> {
        let mut out = Vec::new();
        for lang in [Lang::En, Lang::Ja] {
            let report = Report {
                profile: &self.profile,
                evidence: &self.evidence,
                assessment: &self.assessment,
                lang,
                bundle_sha256: None,
            };
            let text = report.render(Format::Text);
            let json = report.render(Format::Json);
            serde_json::from_str::<serde_json::Value>(&json).expect("the JSON report parses");
            out.extend([text, json]);
        }
        out
    }
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// Skips (returns true) when `openssl` cannot be run, saying so.
fn skip_without_openssl(test: &str) -> bool {
    if openssl_available() {
        return false;
    }
    eprintln!("SKIPPED {test}: no `openssl` binary on this host");
    true
}

// ---------------------------------------------------------------------------------------
// A rustls server that picks the certificate per client
// ---------------------------------------------------------------------------------------

/// Picks the certificate from the ClientHello: `without_sni` when there is no server_name,
/// else `rsa` when the client offers no ECDSA signature scheme, else `ecdsa` — as a server
/// configured with an RSA and an ECDSA certificate (and a default vhost) does.
#[derive(Debug)]
struct PickCertificate {
    ecdsa: Arc<CertifiedKey>,
    rsa: Option<Arc<CertifiedKey>>,
    without_sni: Option<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for PickCertificate {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        if hello.server_name().is_none() {
            if let Some(default) = &self.without_sni {
                return Some(default.clone());
            }
        }
        let ecdsa = hello.signature_schemes().iter().any(|s| {
            matches!(
                s,
                SignatureScheme::ECDSA_NISTP256_SHA256
                    | SignatureScheme::ECDSA_NISTP384_SHA384
                    | SignatureScheme::ECDSA_NISTP521_SHA512
            )
        });
        match (&self.rsa, ecdsa) {
            (Some(rsa), false) => Some(rsa.clone()),
            _ => Some(self.ecdsa.clone()),
        }
    }
}

fn certified(identity: Identity) -> Arc<CertifiedKey> {
    Arc::new(CertifiedKey::from_der(identity.chain, identity.key, &provider()).expect("key matches certificate"))
}

/// A loopback rustls server with a certificate resolver; stops when dropped.
struct ResolverServer {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ResolverServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve_resolver(resolver: PickCertificate) -> ResolverServer {
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(BOTH)
        .expect("versions")
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(resolver));
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("listen");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let mut connections = tokio::task::JoinSet::new();
        loop {
            while connections.try_join_next().is_some() {}
            let Ok((stream, _)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            let acceptor = acceptor.clone();
            connections.spawn(async move {
                if let Ok(Ok(mut tls)) = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await {
                    let _ = tls.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok").await;
                    let _ = tls.shutdown().await;
                }
            });
        }
    });
    ResolverServer { addr, task }
}

// ---------------------------------------------------------------------------------------
// The PKI builder itself
// ---------------------------------------------------------------------------------------

#[test]
fn pki_builder_writes_every_extension_kensa_reads() {
    let spec = CertSpec::leaf(&[HOST, "*.api.clinic.example", "192.0.2.7"])
        .with_ca_issuers("http://127.0.0.1:9/issuer.der")
        .with_ocsp("http://127.0.0.1:9/ocsp")
        .with_crl("http://127.0.0.1:9/ca.crl")
        .with_policy(POLICY_EV)
        .with_must_staple();
    let leaf = intermediate().issue(spec).expect("leaf");
    let facts = kensa::certificate::read_certificate(&leaf.der).expect("readable leaf");
    assert_eq!(facts.dns_names, [HOST, "*.api.clinic.example"]);
    assert_eq!(facts.ip_addresses, ["192.0.2.7".parse::<std::net::IpAddr>().expect("ip")]);
    assert_eq!(facts.common_names, [HOST]);
    assert_eq!(facts.ca_issuers, ["http://127.0.0.1:9/issuer.der"]);
    assert_eq!(facts.ocsp_responders, ["http://127.0.0.1:9/ocsp"]);
    assert_eq!(facts.crl_urls, ["http://127.0.0.1:9/ca.crl"]);
    assert_eq!(facts.policies, [POLICY_EV]);
    assert_eq!(facts.validation.label(), "EV");
    assert!(facts.must_staple, "must-staple read back");
    assert!(facts.extension_errors.is_empty(), "{:?}", facts.extension_errors);
    let eku = facts.extended_key_usage.expect("EKU");
    assert!(eku.server_auth && !eku.client_auth);
    assert_eq!(facts.issuer, kensa::certificate::read_certificate(intermediate().der()).expect("ca").subject);

    let cn_only = intermediate().issue(CertSpec::cn_only(HOST).with_eku(vec![])).expect("cn-only");
    let facts = kensa::certificate::read_certificate(&cn_only.der).expect("readable");
    assert!(!facts.has_san && facts.dns_names.is_empty());
    assert!(facts.extended_key_usage.is_none());

    // The shared chain: root → intermediate → leaf, and the CA key is usable for more.
    let chain = shared();
    assert_eq!(chain.served().len(), 2);
    let root_facts = kensa::certificate::read_certificate(chain.root.der()).expect("root");
    assert!(root_facts.self_issued && root_facts.is_ca);
    assert!(!chain.root.key_pair().serialize_der().is_empty());

    // The PKCS#7 bundle and PEM are what kensa's AIA reader takes.
    let der = intermediate().der().to_vec();
    let bundle = pkcs7_certs_only(&[&der]).expect("pkcs7");
    let read = kensa::issuer_bundle::certificates_from_aia(&bundle, Some("application/pkcs7-mime")).expect("p7c");
    assert_eq!(read, [CertDer(der.clone())]);
    let read = kensa::issuer_bundle::certificates_from_aia(intermediate().pem().as_bytes(), None).expect("pem");
    assert_eq!(read, [CertDer(der)]);
}

// ---------------------------------------------------------------------------------------
// A well-configured server: the baseline every other test departs from
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn good_chain_passes_every_certificate_check() {
    let server = serve(served_by_intermediate(CertSpec::leaf(&[HOST]).with_policy(POLICY_DV))).await;
    let judged = Judged::new(scan_host(server.addr).await);
    judged.expect("cert.trusted", CheckStatus::Pass, &["--ca-file"]);
    judged.expect("cert.chain-complete", CheckStatus::Pass, &["complete as served"]);
    judged.expect("cert.chain-order", CheckStatus::Pass, &["2 certificates in order"]);
    judged.expect("cert.hostname", CheckStatus::Pass, &[HOST]);
    judged.expect("cert.validity", CheckStatus::Pass, &["days left"]);
    judged.expect("cert.lifetime", CheckStatus::Pass, &["lifetime 90 days"]);
    judged.expect("cert.key-strength", CheckStatus::Pass, &["EC P-256"]);
    judged.expect("cert.signature-hash", CheckStatus::Pass, &["no SHA-1"]);
    judged.expect("cert.usage", CheckStatus::Pass, &["serverAuth"]);
    judged.expect("cert.validation-type", CheckStatus::Info, &["DV certificate"]);
    assert_eq!(judged.item(), ItemStatus::Compliant, "{}", judged.digest());
}

// ---------------------------------------------------------------------------------------
// 1. Validity of an intermediate
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_intermediate_fails_validity_and_trust() {
    let expired = shared()
        .root
        .issue_ca(CertSpec::ca("kensa expired intermediate").with_validity(-400, -10))
        .expect("expired intermediate");
    let leaf = expired.issue(CertSpec::leaf(&[HOST])).expect("leaf");
    let server = serve(leaf.identity_with(&[expired.der().clone()])).await;
    let judged = Judged::new(scan_host(server.addr).await);
    judged.expect(
        "cert.validity",
        CheckStatus::Fail,
        &["#1 CN=kensa expired intermediate", "intermediate certificate expired on"],
    );
    judged.expect("cert.trusted", CheckStatus::Fail, &["has expired"]);
    assert_eq!(judged.item(), ItemStatus::NonCompliant);
}

// ---------------------------------------------------------------------------------------
// 2. SHA-1
// ---------------------------------------------------------------------------------------

/// A SHA-1 intermediate made by `openssl x509 -req -sha1` under a fresh root with `root_key`,
/// a leaf under it, served together; the scan's judgement.
async fn scan_sha1_intermediate(root_key: KeySpec) -> Judged {
    let root = Authority::root(CertSpec::ca("kensa SHA-1 test root").with_key(root_key)).expect("root");
    let sha1 = root
        .issue_ca_with_openssl(CertSpec::ca("kensa SHA-1 intermediate"), "sha1")
        .expect("SHA-1 intermediate by openssl");
    let leaf = sha1.issue(CertSpec::leaf(&[HOST])).expect("leaf under the SHA-1 intermediate");
    let server = serve(leaf.identity_with(&[sha1.der().clone()])).await;
    Judged::new(scan_names(server.addr, &[HOST], &[root.evidence_der()], ScanMode::Minimal, |_| {}).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sha1_signed_intermediate_fails_signature_hash() {
    if skip_without_openssl("sha1_signed_intermediate_fails_signature_hash") {
        return;
    }
    // sha1WithRSAEncryption under an RSA root: the SHA-1 intermediates that existed.
    let judged = scan_sha1_intermediate(KeySpec::RSA_2048).await;
    judged.expect(
        "cert.signature-hash",
        CheckStatus::Fail,
        &["#1 CN=kensa SHA-1 intermediate", "broken hash", "sha1WithRSAEncryption"],
    );
    // The leaf itself is signed with SHA-256: only the intermediate is named.
    assert!(!judged.finding("cert.signature-hash").message.en.contains("#0"));
    judged.expect("cert.trusted", CheckStatus::Fail, &["not acceptable"]);
    // kensa still verifies the SHA-1 signature to build the path: the chain is complete.
    judged.expect("cert.chain-complete", CheckStatus::Pass, &["complete as served"]);
    assert_eq!(judged.item(), ItemStatus::NonCompliant);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ecdsa_sha1_intermediate_is_not_an_incomplete_chain() {
    if skip_without_openssl("ecdsa_sha1_intermediate_is_not_an_incomplete_chain") {
        return;
    }
    let judged = scan_sha1_intermediate(KeySpec::EcdsaP256).await;
    judged.expect("cert.signature-hash", CheckStatus::Fail, &["#1 CN=kensa SHA-1 intermediate", "broken hash"]);
    judged.expect("cert.trusted", CheckStatus::Fail, &["not acceptable"]);
    // Expected: the intermediate's issuer is the trust anchor, so nothing is missing.
    judged.expect("cert.chain-complete", CheckStatus::Pass, &["complete as served"]);
    // Expected: the algorithm named as people know it, not 1.2.840.10045.4.1.
    judged.expect("cert.signature-hash", CheckStatus::Fail, &["ecdsa-with-SHA1"]);
}

// ---------------------------------------------------------------------------------------
// 3. Extended key usage
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_auth_only_leaf_fails_usage() {
    let spec = CertSpec::leaf(&[HOST]).with_eku(vec![ExtendedKeyUsagePurpose::ClientAuth]);
    let server = serve(served_by_intermediate(spec)).await;
    let judged = Judged::new(scan_host(server.addr).await);
    judged.expect("cert.usage", CheckStatus::Fail, &["#0 CN=web.clinic.example", "does not include serverAuth"]);
    judged.expect("cert.trusted", CheckStatus::Fail, &["not valid for TLS server authentication"]);
    assert_eq!(judged.item(), ItemStatus::NonCompliant);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaf_without_eku_warns_on_usage() {
    let server = serve(served_by_intermediate(CertSpec::leaf(&[HOST]).with_eku(vec![]))).await;
    let judged = Judged::new(scan_host(server.addr).await);
    judged.expect("cert.usage", CheckStatus::Warn, &["#0 CN=web.clinic.example", "no extendedKeyUsage"]);
    // webpki accepts a leaf without EKU for any purpose.
    judged.expect("cert.trusted", CheckStatus::Pass, &[]);
    assert_eq!(judged.item(), ItemStatus::NeedsReview, "{}", judged.digest());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ca_constraints_must_fit_the_place_in_the_path() {
    // pathLenConstraint 0 on the upper intermediate, with another intermediate below it.
    let root = &shared().root;
    let upper = root
        .issue_ca(
            CertSpec::ca("kensa pathlen-0 intermediate")
                .with_basic_constraints(IsCa::Ca(BasicConstraints::Constrained(0))),
        )
        .expect("upper");
    let lower = upper.issue_ca(CertSpec::ca("kensa lower intermediate")).expect("lower");
    let leaf = lower.issue(CertSpec::leaf(&[HOST])).expect("leaf");
    let server = serve(leaf.identity_with(&[lower.der().clone(), upper.der().clone()])).await;
    let judged = Judged::new(scan_host(server.addr).await);
    judged.expect("cert.usage", CheckStatus::Fail, &["#2 CN=kensa pathlen-0 intermediate", "pathLenConstraint 0"]);
    judged.expect("cert.trusted", CheckStatus::Fail, &[]);
    drop(server);

    // A CA certificate served as the server certificate.
    let spec = CertSpec::leaf(&[HOST]).with_basic_constraints(IsCa::Ca(BasicConstraints::Unconstrained));
    let server = serve(served_by_intermediate(spec)).await;
    let judged = Judged::new(scan_host(server.addr).await);
    judged.expect("cert.usage", CheckStatus::Fail, &["#0 CN=web.clinic.example", "basicConstraints CA:TRUE"]);
    judged.expect("cert.trusted", CheckStatus::Fail, &[]);
    assert_eq!(judged.item(), ItemStatus::NonCompliant);
}

// ---------------------------------------------------------------------------------------
// 4. and 5. Host names
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cn_only_leaf_warns_on_hostname() {
    let server = serve(served_by_intermediate(CertSpec::cn_only(HOST))).await;
    let judged = Judged::new(scan_host(server.addr).await);
    judged.expect("cert.hostname", CheckStatus::Warn, &["only in the subject CN", "no subjectAltName"]);
    judged.expect("cert.trusted", CheckStatus::Pass, &[]);
    assert_eq!(judged.item(), ItemStatus::NeedsReview, "{}", judged.digest());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wildcard_covers_exactly_one_label() {
    let server = serve(served_by_intermediate(CertSpec::leaf(&["*.example.test"]))).await;
    let names = ["a.example.test", "a.b.example.test", "example.test"];
    let judged = Judged::new(scan_names(server.addr, &names, &shared().roots(), ScanMode::Minimal, |_| {}).await);
    judged.expect_for("a.example.test", "cert.hostname", CheckStatus::Pass, &["valid for a.example.test"]);
    judged.expect_for("a.b.example.test", "cert.hostname", CheckStatus::Fail, &["not valid for a.b.example.test"]);
    judged.expect_for("example.test", "cert.hostname", CheckStatus::Fail, &["not valid for example.test"]);
    assert_eq!(judged.item_for("a.example.test"), ItemStatus::Compliant, "{}", judged.digest());
    assert_eq!(judged.item_for("a.b.example.test"), ItemStatus::NonCompliant);
    assert_eq!(judged.item_for("example.test"), ItemStatus::NonCompliant);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wildcard_over_a_whole_tld_warns_when_the_name_matches() {
    // The name matches through its own SAN; the `*.test` SAN beside it is the warning.
    let server = serve(served_by_intermediate(CertSpec::leaf(&["a.test", "*.test"]))).await;
    let judged = Judged::new(scan_names(server.addr, &["a.test"], &shared().roots(), ScanMode::Minimal, |_| {}).await);
    judged.expect("cert.hostname", CheckStatus::Warn, &["valid for a.test", "whole public suffix", "*.test"]);
    assert_eq!(judged.item(), ItemStatus::NeedsReview, "{}", judged.digest());

    // `*.test` alone matches nothing: webpki, like NSS and Chrome, wants two labels after
    // the wildcard, so browsers reject the certificate for a.test.
    let server = serve(served_by_intermediate(CertSpec::leaf(&["*.test"]))).await;
    let judged = Judged::new(scan_names(server.addr, &["a.test"], &shared().roots(), ScanMode::Minimal, |_| {}).await);
    judged.expect("cert.hostname", CheckStatus::Fail, &["not valid for a.test"]);
}

// ---------------------------------------------------------------------------------------
// 6. Chain shape
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_chain_in_order_passes_and_untidy_ones_warn() {
    let chain = Chain::build(4, CertSpec::leaf(&[HOST])).expect("leaf + 4 intermediates");
    let roots = chain.roots();
    let served = chain.served();
    assert_eq!(served.len(), 5);
    let stranger = Chain::build(0, CertSpec::leaf(&["stranger.example"])).expect("unrelated PKI");
    let [leaf, i1, i2, i3, i4] = <[CertificateDer<'static>; 5]>::try_from(served.clone()).expect("five");
    let cases: Vec<(&str, Vec<CertificateDer<'static>>, CheckStatus, Vec<&str>)> = vec![
        ("in order", served.clone(), CheckStatus::Pass, vec!["5 certificates in order"]),
        (
            "out of order",
            vec![leaf.clone(), i2.clone(), i1.clone(), i3.clone(), i4.clone()],
            CheckStatus::Warn,
            vec!["out of order"],
        ),
        (
            "duplicate",
            vec![leaf.clone(), i1.clone(), i1.clone(), i2.clone(), i3.clone(), i4.clone()],
            CheckStatus::Warn,
            vec!["#2 repeats #1"],
        ),
        (
            "unrelated extra",
            vec![leaf.clone(), i1.clone(), i2.clone(), i3.clone(), i4.clone(), stranger.leaf.der.clone()],
            CheckStatus::Warn,
            vec!["#5 (CN=stranger.example)", "not part of the path"],
        ),
    ];
    for (case, certificates, status, needles) in cases {
        let server = serve(Identity { chain: certificates, key: chain.leaf.key() }).await;
        let judged = Judged::new(scan_names(server.addr, &[HOST], &roots, ScanMode::Minimal, |_| {}).await);
        let order = judged.expect("cert.chain-order", status, &needles);
        assert_eq!(order.status, status, "{case}");
        // Whatever the order, the path is found and trusted.
        judged.expect("cert.trusted", CheckStatus::Pass, &[]);
        judged.expect("cert.chain-complete", CheckStatus::Pass, &[]);
        let expected_item = if status == CheckStatus::Pass { ItemStatus::Compliant } else { ItemStatus::NeedsReview };
        assert_eq!(judged.item(), expected_item, "{case}\n{}", judged.digest());
    }
}

// ---------------------------------------------------------------------------------------
// 7. Completion through AIA
// ---------------------------------------------------------------------------------------

/// A leaf whose AIA caIssuers URL is `url`, served alone; scanned with `fetch` on or off.
async fn scan_leaf_only(url: &str, fetch: bool) -> Judged {
    let leaf = intermediate().issue(CertSpec::leaf(&[HOST]).with_ca_issuers(url)).expect("leaf with AIA");
    let server = serve(leaf.identity_with(&[])).await;
    let evidence = scan_names(server.addr, &[HOST], &shared().roots(), ScanMode::Minimal, |r| r.fetch = fetch).await;
    Judged::new(evidence)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_intermediate_is_completed_through_aia() {
    let der = intermediate().der().to_vec();
    let bodies = [
        ("DER", Response::ok("application/pkix-cert", der.clone())),
        ("PKCS#7", Response::ok("application/pkcs7-mime", pkcs7_certs_only(&[&der]).expect("p7c"))),
        ("PEM", Response::ok("application/x-pem-file", intermediate().pem())),
    ];
    for (format, response) in bodies {
        let http = HttpServer::new().route("/issuer", response).start().await.expect("http server");
        let judged = scan_leaf_only(&http.url("/issuer"), true).await;
        let complete = judged.expect("cert.chain-complete", CheckStatus::Warn, &["completed through AIA"]);
        assert_eq!(complete.evidence["completed_through_aia"], true, "{format}");
        judged.expect("cert.trusted", CheckStatus::Pass, &[]);
        assert_eq!(http.requests(), 1, "{format}: one request for the missing intermediate");
        assert_eq!(judged.item(), ItemStatus::NeedsReview, "{format}\n{}", judged.digest());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aia_that_fails_leaves_the_chain_incomplete() {
    // 404.
    let http = HttpServer::new().start().await.expect("http server");
    let url = http.url("/issuer");
    let judged = scan_leaf_only(&url, true).await;
    judged.expect("cert.chain-complete", CheckStatus::Fail, &["cannot be completed", &url, "HTTP 404"]);
    judged.expect("cert.trusted", CheckStatus::Fail, &["issuer unknown"]);
    assert_eq!(http.requests(), 1);
    assert_eq!(judged.item(), ItemStatus::NonCompliant);

    // Nothing listening.
    let url = format!("http://127.0.0.1:{}/issuer", closed_port());
    let judged = scan_leaf_only(&url, true).await;
    judged.expect("cert.chain-complete", CheckStatus::Fail, &["cannot be completed", &url]);
    judged.expect("cert.trusted", CheckStatus::Fail, &[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_fetch_leaves_an_incomplete_chain_indeterminate() {
    let http = HttpServer::new()
        .route("/issuer", Response::ok("application/pkix-cert", intermediate().der().to_vec()))
        .start()
        .await
        .expect("http server");
    let judged = scan_leaf_only(&http.url("/issuer"), false).await;
    assert!(!judged.evidence.settings.fetch);
    judged.expect("cert.chain-complete", CheckStatus::Indeterminate, &["--no-fetch"]);
    judged.expect("cert.trusted", CheckStatus::Indeterminate, &["--no-fetch"]);
    assert_eq!(http.requests(), 0, "--no-fetch must not fetch");
    assert_eq!(http.connections(), 0);
    assert_eq!(judged.item(), ItemStatus::Indeterminate);
}

// ---------------------------------------------------------------------------------------
// 8. and 9. Certificate variants (full mode)
// ---------------------------------------------------------------------------------------

/// The leaf each variant handshake of the only endpoint captured.
fn variant_leaf(endpoint: &EndpointEvidence, request: VariantRequest) -> Option<&CertDer> {
    endpoint
        .certificate_variants
        .iter()
        .find(|v| v.request == request)
        .and_then(|v| v.attempt.session.as_ref())
        .and_then(|s| s.chain.first())
}

/// An endpoint with an ECDSA and an RSA certificate (RSA for clients offering no ECDSA
/// scheme, as rustls narrows the schemes to the offered TLS 1.2 suites), scanned in full mode.
/// Returns the judgement and the two leaves (ECDSA, RSA).
async fn scan_dual_certificates(rsa_validity: (i64, i64)) -> (Judged, CertDer, CertDer) {
    let ecdsa = served_by_intermediate(CertSpec::leaf(&[HOST]));
    let (from, until) = rsa_validity;
    let rsa = served_by_intermediate(CertSpec::leaf(&[HOST]).with_key(KeySpec::RSA_2048).with_validity(from, until));
    let (ecdsa_leaf, rsa_leaf) = (CertDer(ecdsa.chain[0].to_vec()), CertDer(rsa.chain[0].to_vec()));
    let resolver = PickCertificate { ecdsa: certified(ecdsa), rsa: Some(certified(rsa)), without_sni: None };
    let server = serve_resolver(resolver).await;
    let evidence = scan_names(server.addr, &[HOST], &shared().roots(), ScanMode::Full, |_| {}).await;
    (Judged::new(evidence), ecdsa_leaf, rsa_leaf)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsa_and_ecdsa_certificates_are_both_captured_and_judged() {
    if skip_without_openssl("rsa_and_ecdsa_certificates_are_both_captured_and_judged") {
        return;
    }
    // Both good: two chains captured, both pass.
    let (judged, ecdsa_leaf, rsa_leaf) = scan_dual_certificates((-1, 89)).await;
    let endpoint = judged.endpoint();
    assert_eq!(variant_leaf(endpoint, VariantRequest::RsaSignatures), Some(&rsa_leaf));
    assert_eq!(variant_leaf(endpoint, VariantRequest::EcdsaSignatures), Some(&ecdsa_leaf));
    let report = Report {
        profile: &judged.profile,
        evidence: &judged.evidence,
        assessment: &judged.assessment,
        lang: Lang::En,
        bundle_sha256: None,
    };
    let facts = report.endpoint_facts();
    let mut leaves: Vec<String> =
        facts[0].chains.iter().filter_map(|c| c.leaf.as_ref().map(|l| l.sha256_fingerprint.clone())).collect();
    leaves.sort();
    leaves.dedup();
    assert_eq!(leaves.len(), 2, "two distinct leaves in the report's chains");
    judged.expect("cert.validity", CheckStatus::Pass, &["2 different chains"]);
    judged.expect("cert.key-strength", CheckStatus::Pass, &["2 different chains"]);
    judged.expect("cert.trusted", CheckStatus::Pass, &[]);
    assert_eq!(judged.item(), ItemStatus::Compliant, "{}", judged.digest());

    // The RSA one expired: the endpoint fails although the default (ECDSA) chain is fine.
    let (judged, _, rsa_leaf) = scan_dual_certificates((-100, -10)).await;
    assert_eq!(variant_leaf(judged.endpoint(), VariantRequest::RsaSignatures), Some(&rsa_leaf));
    let validity = judged.expect(
        "cert.validity",
        CheckStatus::Fail,
        &["#0 CN=web.clinic.example", "server certificate expired on", "2 different chains"],
    );
    // The evidence of the failing chain names the RSA key.
    let chains = validity.evidence.as_array().expect("one evidence entry per chain");
    let failing: Vec<&serde_json::Value> = chains
        .iter()
        .filter(|c| c["evidence"]["path"][0]["findings"].as_array().is_some_and(|f| !f.is_empty()))
        .collect();
    assert_eq!(failing.len(), 1, "{chains:?}");
    assert_eq!(failing[0]["evidence"]["path"][0]["key"]["type"], "rsa");
    judged.expect("cert.trusted", CheckStatus::Fail, &["has expired"]);
    assert_eq!(judged.item(), ItemStatus::NonCompliant);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_rsa_certificate_is_labelled_as_the_rsa_chain() {
    if skip_without_openssl("expired_rsa_certificate_is_labelled_as_the_rsa_chain") {
        return;
    }
    let (judged, _, _) = scan_dual_certificates((-100, -10)).await;
    judged.expect("cert.validity", CheckStatus::Fail, &["server certificate expired on", "RSA"]);
    judged.expect("cert.trusted", CheckStatus::Fail, &["has expired", "RSA"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_served_without_sni_is_captured_and_a_mismatch_there_is_info() {
    let main = served_by_intermediate(CertSpec::leaf(&[HOST]));
    let default = served_by_intermediate(CertSpec::leaf(&["default.clinic.example"]));
    let default_leaf = CertDer(default.chain[0].to_vec());
    let server =
        serve_resolver(PickCertificate { ecdsa: certified(main), rsa: None, without_sni: Some(certified(default)) })
            .await;
    let judged = Judged::new(scan_names(server.addr, &[HOST], &shared().roots(), ScanMode::Full, |_| {}).await);
    assert_eq!(variant_leaf(judged.endpoint(), VariantRequest::NoServerName), Some(&default_leaf));
    judged.expect(
        "cert.hostname",
        CheckStatus::Info,
        &["served without SNI is not valid for web.clinic.example", "no SNI"],
    );
    judged.expect("cert.trusted", CheckStatus::Pass, &[]);
    assert_eq!(judged.item(), ItemStatus::Compliant, "{}", judged.digest());
}

// ---------------------------------------------------------------------------------------
// 10. Patient-facing endpoints
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_root_warns_only_on_patient_facing_hosts() {
    const API: &str = "api.clinic.example";
    let server = serve(served_by_intermediate(CertSpec::leaf(&[HOST, API]))).await;
    let evidence = scan_names(server.addr, &[HOST, API], &shared().roots(), ScanMode::Minimal, |r| {
        r.patient_facing = vec![HOST.to_string()];
    })
    .await;
    let judged = Judged::new(evidence);
    let warn = judged.expect_for(HOST, "cert.trusted", CheckStatus::Warn, &["patient-facing", "--ca-file"]);
    assert_eq!(warn.evidence["patient_facing"], true);
    let pass = judged.expect_for(API, "cert.trusted", CheckStatus::Pass, &["--ca-file"]);
    assert_eq!(pass.evidence["patient_facing"], false);
    assert_eq!(judged.item_for(HOST), ItemStatus::NeedsReview);
    assert_eq!(judged.item_for(API), ItemStatus::Compliant, "{}", judged.digest());
}

// ---------------------------------------------------------------------------------------
// 11. Expiry, lifetime, key strength
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_thresholds_decide_warn_and_fail() {
    let server = serve(served_by_intermediate(CertSpec::leaf(&[HOST]).with_validity(-70, 20))).await;
    let evidence = scan_host(server.addr).await;
    let judged = Judged::new(evidence.clone());
    judged.expect("cert.validity", CheckStatus::Warn, &["server certificate expires in", "warning below 30 days"]);
    assert_eq!(judged.item(), ItemStatus::NeedsReview);
    let relaxed = JudgingOptions { expiry: ExpiryThresholds { warn_days: 10, fail_days: 5 }, ..Default::default() };
    let judged = Judged::with(evidence, relaxed);
    judged.expect("cert.validity", CheckStatus::Pass, &["days left"]);
    assert_eq!(judged.item(), ItemStatus::Compliant);

    let server = serve(served_by_intermediate(CertSpec::leaf(&[HOST]).with_validity(-85, 5))).await;
    let judged = Judged::new(scan_host(server.addr).await);
    judged.expect("cert.validity", CheckStatus::Fail, &["server certificate expires in", "failing below 7 days"]);
    assert_eq!(judged.item(), ItemStatus::NonCompliant);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifetime_over_398_days_warns() {
    let server = serve(served_by_intermediate(CertSpec::leaf(&[HOST]).with_validity(-1, 399))).await;
    let judged = Judged::new(scan_host(server.addr).await);
    judged.expect("cert.lifetime", CheckStatus::Warn, &["lifetime of 400 days exceeds the 398 days"]);
    judged.expect("cert.validity", CheckStatus::Pass, &[]);
    assert_eq!(judged.item(), ItemStatus::NeedsReview);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsa_1024_leaf_fails_key_strength() {
    if skip_without_openssl("rsa_1024_leaf_fails_key_strength") {
        return;
    }
    // ring will neither make nor load a 1024-bit RSA key: openssl signs the certificate and
    // `openssl s_server` serves it.
    let leaf = intermediate()
        .issue_with_openssl(CertSpec::leaf(&[HOST]).with_key(KeySpec::Rsa { bits: 1024 }), "sha256")
        .expect("RSA-1024 leaf by openssl");
    let chain_pem = format!("{}{}", leaf.pem(), intermediate().pem());
    let server = OpenSslServer::start_with_files(&chain_pem, &leaf.key_pem(), &["-cipher", "ALL:@SECLEVEL=0"])
        .expect("openssl s_server with an RSA-1024 key");
    let judged = Judged::new(scan_host(server.addr).await);
    judged.expect("cert.key-strength", CheckStatus::Fail, &["#0 CN=web.clinic.example", "RSA 1024 is too weak"]);
    // rustls cannot verify a handshake signature made with a 1024-bit key: possession unproven.
    judged.expect("cert.trusted", CheckStatus::Fail, &["did not prove it holds the certificate's key"]);
    assert_eq!(judged.item(), ItemStatus::NonCompliant);
}

// ---------------------------------------------------------------------------------------
// 12. Validation type
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_type_names_dv_and_ev() {
    for (policy, label) in [(POLICY_DV, "DV certificate"), (POLICY_EV, "EV certificate")] {
        let server = serve(served_by_intermediate(CertSpec::leaf(&[HOST]).with_policy(policy))).await;
        let judged = Judged::new(scan_host(server.addr).await);
        let finding = judged.expect("cert.validation-type", CheckStatus::Info, &[label]);
        assert_eq!(finding.evidence["policies"][0], policy);
        assert_eq!(judged.item(), ItemStatus::Compliant, "{label}: info does not lower the item");
    }
    let server = serve(served_by_intermediate(CertSpec::leaf(&[HOST]))).await;
    let judged = Judged::new(scan_host(server.addr).await);
    judged.expect("cert.validation-type", CheckStatus::Info, &["no CA/Browser Forum validation policy"]);
}

// ---------------------------------------------------------------------------------------
// 13. Hostile chains in recorded evidence
// ---------------------------------------------------------------------------------------

/// `endpoint` with every captured chain replaced by `chain`.
fn with_chain(endpoint: &EndpointEvidence, chain: &[CertDer]) -> EndpointEvidence {
    let mut endpoint = endpoint.clone();
    let attempts = endpoint
        .modern
        .iter_mut()
        .chain(endpoint.health_check.iter_mut())
        .chain(endpoint.certificate_variants.iter_mut().map(|v| &mut v.attempt));
    for attempt in attempts {
        if let Some(session) = &mut attempt.session {
            session.chain = chain.to_vec();
        }
    }
    for attempt in &mut endpoint.hand_built {
        for exchange in &mut attempt.exchanges {
            if let HelloReply::ServerHello { chain: served, .. } = &mut exchange.reply {
                if !served.is_empty() {
                    *served = chain.to_vec();
                }
            }
        }
    }
    endpoint
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_chains_in_evidence_never_pass_and_never_panic() {
    let server = serve(served_by_intermediate(CertSpec::leaf(&[HOST]))).await;
    let recorded = scan_host(server.addr).await;
    drop(server);
    let endpoint = recorded.targets[0].endpoints[0].clone();
    let leaf = endpoint.modern.iter().find_map(|a| a.session.as_ref()).expect("a session").chain[0].clone();
    let deep = Chain::build(10, CertSpec::leaf(&[HOST])).expect("leaf + 10 intermediates");
    let mut deep_served: Vec<CertDer> = deep.served().iter().map(|c| CertDer(c.to_vec())).collect();
    deep_served.push(deep.root.evidence_der());
    assert_eq!(deep_served.len(), 12);
    let mut nested = Vec::new();
    for _ in 0..10_000 {
        nested = tlv(0x30, &nested);
    }

    // (case, chain, every cert.* check unreadable-or-failing)
    let cases: Vec<(&str, Vec<CertDer>, bool)> = vec![
        ("garbage bytes", vec![CertDer(b"this is not a certificate \x00\xff\x30\x82".to_vec())], true),
        ("truncated DER", vec![CertDer(leaf.0[..leaf.0.len() / 2].to_vec())], true),
        ("empty certificate", vec![CertDer(Vec::new())], true),
        ("1 MB bogus certificate", vec![CertDer(tlv(0x30, &vec![0x42; 1 << 20]))], true),
        ("10,000 nested SEQUENCEs", vec![CertDer(nested)], true),
        ("50 copies of the leaf", vec![leaf.clone(); 50], false),
        ("12-deep chain", deep_served, false),
    ];
    for (case, chain, all_bad) in cases {
        let mut evidence = recorded.clone();
        evidence.targets[0].endpoints[0] = with_chain(&endpoint, &chain);
        evidence.extra_roots.push(deep.root.evidence_der());
        let stores = JudgingOptions::stores(&evidence);
        let context = JudgingOptions::default().context(&evidence, &stores);
        let mutated = &evidence.targets[0].endpoints[0];
        // cert.caa needs the domain survey, which this evidence has not got.
        for def in REGISTRY.iter().filter(|d| d.id.starts_with("cert.") && d.requires == checks::Requires::Nothing) {
            let result = checks::run(def, mutated, &context);
            if all_bad {
                assert!(
                    matches!(result.status, CheckStatus::Indeterminate | CheckStatus::Fail),
                    "{case}: {} is {:?}: {}",
                    def.id,
                    result.status,
                    result.message.en
                );
            }
            if def.id == "cert.trusted" {
                assert!(
                    matches!(result.status, CheckStatus::Indeterminate | CheckStatus::Fail),
                    "{case}: cert.trusted is {:?}: {}",
                    result.status,
                    result.message.en
                );
            }
        }
        let judged = Judged::new(evidence);
        assert!(matches!(judged.item(), ItemStatus::NonCompliant | ItemStatus::Indeterminate), "{case}");
        for rendered in judged.render_all() {
            assert!(!rendered.is_empty(), "{case}: empty report");
        }
        match case {
            "50 copies of the leaf" => {
                judged.expect("cert.chain-order", CheckStatus::Warn, &["#1 repeats #0", "#49 repeats #0"]);
                judged.expect("cert.trusted", CheckStatus::Fail, &["issuer unknown"]);
            }
            "12-deep chain" => {
                judged.expect("cert.chain-complete", CheckStatus::Fail, &["exceeds 10 certificates"]);
                judged.expect("cert.trusted", CheckStatus::Fail, &[]);
            }
            _ => {
                judged.expect("cert.trusted", CheckStatus::Indeterminate, &["cannot be read"]);
            }
        }
    }
}
