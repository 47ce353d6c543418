//! End-to-end tests of the `kensa` binary: in-process rustls servers built with
//! `kensa::testkit`, `openssl s_server` legacy peers and hostile peers on 127.0.0.1, scanned
//! by the real binary with `--resolve` pins; plus input errors, `recheck`, languages and
//! `demo`. Each scan test checks the evidence facts, the status of item 2-1.xii and the
//! exit code.

#[macro_use]
mod common;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::net::{SocketAddr, TcpListener as StdListener, TcpStream as StdStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{kensa, kensa_with_env, Run};
use kensa::profile::Profile;
use kensa::testkit::{
    self_signed, spawn_hostile_server, spawn_tls_server, HostileBehaviour, Identity, OpenSslServer, RunningServer,
    TempDir, TestCa, Validity,
};
use rustls::version::{TLS12, TLS13};
use rustls::SupportedProtocolVersion;
use serde_json::Value;

/// The item every network check feeds.
const ITEM: &str = "2-1.xii";
/// The host name every scan pins to 127.0.0.1.
const HOST: &str = "web.clinic.example";
/// The checks the default profile runs for [`ITEM`].
const ITEM_CHECKS: [&str; 29] = [
    "tls.no-sslv2",
    "tls.no-sslv3",
    "tls.no-tls10",
    "tls.no-tls11",
    "tls.tls12-or-13",
    "tls.tls13",
    "suites.no-null",
    "suites.no-anonymous",
    "suites.no-export",
    "suites.no-rc4",
    "suites.no-weak-cipher",
    "kex.dhe-strength",
    "suites.no-3des",
    "suites.no-static-rsa",
    "suites.no-cbc",
    "cert.trusted",
    "cert.chain-complete",
    "cert.chain-order",
    "cert.hostname",
    "cert.validity",
    "cert.lifetime",
    "cert.key-strength",
    "cert.signature-hash",
    "cert.usage",
    "cert.transparency",
    "cert.revocation",
    "cert.must-staple",
    "cert.validation-type",
    "cert.caa",
];

const BOTH: &[&SupportedProtocolVersion] = &[&TLS13, &TLS12];

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// `scan HOST:PORT --resolve HOST:PORT:127.0.0.1 --lang en` for a loopback server.
fn scan_args(addr: SocketAddr) -> Vec<OsString> {
    let port = addr.port();
    args!["scan", format!("{HOST}:{port}"), "--resolve", format!("{HOST}:{port}:{}", addr.ip()), "--lang", "en",]
}

/// Scans `addr` as [`HOST`] and returns the run and its JSON report, after checking the
/// report's shape and that its `exit_code` is the process's.
async fn scan_json(addr: SocketAddr, ca_file: Option<&Path>, extra: &[&str]) -> (Run, Value) {
    let mut args = scan_args(addr);
    args.extend(args!["--format", "json"]);
    if let Some(path) = ca_file {
        args.extend(args!["--ca-file", path]);
    }
    if !extra.contains(&"--timeout") {
        args.extend(args!["--timeout", "5"]);
    }
    args.extend(extra.iter().map(OsString::from));
    let run = kensa(args).await;
    let report = run.json();
    assert_report_shape(&report);
    assert_eq!(report["exit_code"], Value::from(run.code), "JSON exit_code vs process exit code\n{}", digest(&report));
    (run, report)
}

/// A CA, a temp dir holding its PEM, and the `--ca-file` path.
struct Pki {
    ca: TestCa,
    ca_file: PathBuf,
    dir: TempDir,
}

fn pki(test: &str) -> Pki {
    let ca = TestCa::new("kensa e2e CA").expect("test CA");
    let dir = TempDir::new(test).expect("temp dir");
    let ca_file = dir.write("ca.pem", ca.certificate_pem()).expect("write temp file");
    Pki { ca, ca_file, dir }
}

async fn serve(identity: Identity, versions: &[&'static SupportedProtocolVersion]) -> RunningServer {
    spawn_tls_server(identity, versions).await.expect("start the rustls test server")
}

/// A one-paragraph summary of a report for assertion messages.
fn digest(report: &Value) -> String {
    let mut out = String::new();
    for endpoint in report["endpoints"].as_array().into_iter().flatten() {
        out.push_str(&format!("endpoint {}\n", endpoint["endpoint"]));
        for p in endpoint["protocols"].as_array().into_iter().flatten() {
            out.push_str(&format!("  {} {} {}\n", p["version"], p["support"]["status"], p["support"]["detail"]));
        }
        out.push_str(&format!("  certificate: {}\n", endpoint["chains"][0]));
    }
    for f in report["findings"].as_array().into_iter().flatten() {
        out.push_str(&format!("  finding {} {} {}: {}\n", f["item_id"], f["check_id"], f["status"], f["message"]));
    }
    out.push_str(&format!("  {ITEM}: {}\n", item(report, ITEM)));
    out
}

fn item<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["items"]
        .as_array()
        .and_then(|items| items.iter().find(|i| i["id"] == id))
        .unwrap_or_else(|| panic!("item {id} missing from the report"))
}

fn item_status<'a>(report: &'a Value, id: &str) -> &'a str {
    item(report, id)["status"].as_str().unwrap_or_else(|| panic!("item {id} has no status"))
}

/// The single endpoint of a one-target, one-address scan.
fn the_endpoint(report: &Value) -> &Value {
    let endpoints = report["endpoints"].as_array().expect("endpoints array");
    assert_eq!(endpoints.len(), 1, "one endpoint expected\n{}", digest(report));
    &endpoints[0]
}

/// The support status (`accepted`, `refused`, `unknown`) of `version` on the endpoint.
fn protocol<'a>(report: &'a Value, version: &str) -> &'a str {
    the_endpoint(report)["protocols"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["version"] == version))
        .and_then(|p| p["support"]["status"].as_str())
        .unwrap_or_else(|| panic!("no protocol fact for {version}\n{}", digest(report)))
}

fn assert_protocols(report: &Value, expected: &[(&str, &str)]) {
    for (version, status) in expected {
        assert_eq!(protocol(report, version), *status, "{version} support\n{}", digest(report));
    }
}

/// The finding of `check_id` for [`ITEM`] (exactly one: one endpoint per scan).
fn finding<'a>(report: &'a Value, check_id: &str) -> &'a Value {
    let found: Vec<&Value> = report["findings"]
        .as_array()
        .expect("findings array")
        .iter()
        .filter(|f| f["item_id"] == ITEM && f["check_id"] == check_id)
        .collect();
    assert_eq!(found.len(), 1, "one {check_id} finding expected\n{}", digest(report));
    found[0]
}

fn finding_status<'a>(report: &'a Value, check_id: &str) -> &'a str {
    finding(report, check_id)["status"].as_str().expect("finding status")
}

fn assert_findings(report: &Value, expected: &[(&str, &str)]) {
    for (check_id, status) in expected {
        assert_eq!(finding_status(report, check_id), *status, "{check_id}\n{}", digest(report));
    }
}

/// The trust verdict of the captured certificate.
fn trust(report: &Value) -> &Value {
    &the_endpoint(report)["chains"][0]["trust"]
}

/// What every report must hold, whatever the scan found.
fn assert_report_shape(report: &Value) {
    assert_eq!(report["schema_version"], "kensa.report/2");
    assert!(report["exit_code"].is_i64(), "exit_code: {}", report["exit_code"]);
    assert!(report["summary"].is_object(), "summary: {}", report["summary"]);
    // Every item of the profile, in profile order, each with a status.
    let profile = Profile::embedded();
    let expected_ids: Vec<&str> = profile.items.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(expected_ids.len(), 44, "the default profile has 44 items");
    let items = report["items"].as_array().expect("items array");
    let ids: Vec<&str> = items.iter().map(|i| i["id"].as_str().expect("item id")).collect();
    assert_eq!(ids, expected_ids, "items in the report vs the profile");
    const STATUSES: [&str; 6] =
        ["compliant", "non_compliant", "needs_review", "declaration_needed", "indeterminate", "not_applicable"];
    for i in items {
        let status = i["status"].as_str().unwrap_or_else(|| panic!("item without status: {i}"));
        assert!(STATUSES.contains(&status), "unknown item status {status}");
        assert!(i["status_ja"].as_str().is_some_and(|s| !s.is_empty()), "status_ja: {i}");
        assert!(i["reason"].as_str().is_some_and(|s| !s.is_empty()), "reason: {i}");
    }
    let total: u64 = report["summary"].as_object().expect("summary").values().filter_map(Value::as_u64).sum();
    assert_eq!(total, 44, "summary counts: {}", report["summary"]);
    // Every finding is complete.
    for f in report["findings"].as_array().expect("findings array") {
        for key in ["item_id", "check_id", "endpoint", "message"] {
            assert!(f[key].as_str().is_some_and(|s| !s.is_empty()), "finding without {key}: {f}");
        }
        assert!(
            ["pass", "not_run", "info", "warn", "indeterminate", "fail"].contains(&f["status"].as_str().unwrap_or("")),
            "finding status: {f}"
        );
        assert!(f.get("evidence").is_some(), "finding without evidence: {f}");
    }
    assert!(report["evidence"].is_object(), "raw evidence missing");
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("pick a free port").port()
}

// ---------------------------------------------------------------------------------------
// 1-7: rustls servers with known postures
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compliant_tls12_and_tls13_with_ca_issued_certificate() {
    let pki = pki("compliant");
    let server = serve(pki.ca.issue(&[HOST], Validity::CURRENT).expect("leaf"), BOTH).await;

    let (run, report) = scan_json(server.addr, Some(&pki.ca_file), &[]).await;

    assert_protocols(
        &report,
        &[
            ("SSLv2", "refused"),
            ("SSLv3", "refused"),
            ("TLSv1.0", "refused"),
            ("TLSv1.1", "refused"),
            ("TLSv1.2", "accepted"),
            ("TLSv1.3", "accepted"),
        ],
    );
    let endpoint = the_endpoint(&report);
    assert_eq!(endpoint["endpoint"], format!("{HOST} [127.0.0.1]:{}", server.addr.port()));
    assert_eq!(endpoint["server_name"], HOST);
    // Full mode completes a TLS 1.3 handshake with rustls; TLS 1.2 is enumerated with
    // hand-built hellos, and the TLS 1.2 handshake is skipped because the chain is the same.
    let negotiated: Vec<&str> =
        endpoint["negotiated"].as_array().expect("negotiated").iter().filter_map(|n| n["version"].as_str()).collect();
    assert_eq!(negotiated, ["TLSv1.3"], "negotiated {negotiated:?}");
    let suites: Vec<(&str, usize)> = endpoint["suites"]
        .as_array()
        .expect("suites")
        .iter()
        .map(|v| (v["version"].as_str().unwrap_or(""), v["suites"].as_array().map_or(0, Vec::len)))
        .collect();
    // rustls/ring offers three suites per version (ECDSA certificate: the ECDHE-ECDSA ones).
    assert_eq!(suites, [("TLSv1.3", 3), ("TLSv1.2", 3)], "{suites:?}");
    // rustls ignores TLS_FALLBACK_SCSV; it marks downgrades with the TLS 1.3 sentinel instead.
    assert_eq!(endpoint["handshake"]["fallback_scsv"]["status"], "no");
    let detail = endpoint["handshake"]["fallback_scsv"]["detail"].as_str().unwrap_or("");
    assert!(detail.contains("sentinel"), "{detail}");
    let certificate = &endpoint["chains"][0];
    let leaf = &certificate["leaf"];
    assert_eq!(leaf["subject"], format!("CN={HOST}"));
    assert_eq!(leaf["dns_names"], serde_json::json!([HOST]));
    assert_eq!(leaf["issuer"], "CN=kensa e2e CA, O=kensa test PKI");
    assert_eq!(leaf["key"]["type"], "ec");
    assert_eq!(leaf["key"]["bits"], 256);
    assert_eq!(leaf["signature_algorithm"], "ecdsa-with-SHA256");
    assert_eq!(certificate["served_count"], 2);
    let days = certificate["path"][0]["days_remaining"].as_i64().expect("days_remaining");
    assert!((87..=89).contains(&days), "days_remaining {days}");
    assert_eq!(trust(&report)["verdict"], "trusted");
    assert_eq!(trust(&report)["store"], "ca-file");

    for check in ITEM_CHECKS {
        // The validation level is information, never a pass or a failure; revocation is
        // not asked without --revocation and nothing was stapled.
        let expected = match check {
            // web.clinic.example is a special-use name, so no CAA was looked up for it.
            "cert.validation-type" | "cert.transparency" | "cert.caa" => "info",
            "cert.revocation" => "not_run",
            _ => "pass",
        };
        assert_eq!(finding_status(&report, check), expected, "{check}\n{}", digest(&report));
    }
    assert_eq!(finding(&report, "cert.trusted")["evidence"]["verdict"]["store"], "ca-file");
    assert_eq!(finding(&report, "cert.hostname")["evidence"]["expected"], HOST);
    let findings = report["findings"].as_array().expect("findings");
    // Besides 2-1.xii, only 2-1.xv judges an endpoint (cert.caa); drift checks need --baseline.
    assert_eq!(findings.len(), ITEM_CHECKS.len() + 1, "{}", digest(&report));
    assert_eq!(findings.iter().filter(|f| f["item_id"] != ITEM).count(), 1, "{}", digest(&report));
    assert!(findings.iter().all(|f| f["endpoint"] == endpoint["endpoint"]));

    assert_eq!(item_status(&report, ITEM), "compliant");
    assert_eq!(item(&report, ITEM)["status_ja"], "適合");
    assert_eq!(report["summary"]["compliant"], 1);
    assert_eq!(report["summary"]["non_compliant"], 0);
    assert_eq!(report["summary"]["indeterminate"], 0);
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    // The --ca-file root is kept in the evidence so the verdict can be re-derived.
    assert_eq!(report["evidence"]["extra_roots"].as_array().map(Vec::len), Some(1));
    assert!(server.connections() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls12_only_is_compliant_and_tls13_is_advisory() {
    let pki = pki("tls12-only");
    let server = serve(pki.ca.issue(&[HOST], Validity::CURRENT).expect("leaf"), &[&TLS12]).await;

    let (run, report) = scan_json(server.addr, Some(&pki.ca_file), &[]).await;

    assert_protocols(
        &report,
        &[
            ("SSLv2", "refused"),
            ("SSLv3", "refused"),
            ("TLSv1.0", "refused"),
            ("TLSv1.1", "refused"),
            ("TLSv1.2", "accepted"),
            ("TLSv1.3", "refused"),
        ],
    );
    let negotiated: Vec<&str> = the_endpoint(&report)["negotiated"]
        .as_array()
        .expect("negotiated")
        .iter()
        .filter_map(|n| n["version"].as_str())
        .collect();
    assert_eq!(negotiated, ["TLSv1.2"]);
    assert_eq!(finding_status(&report, "tls.tls13"), "info");
    assert_findings(&report, &[("tls.tls12-or-13", "pass"), ("cert.trusted", "pass"), ("cert.hostname", "pass")]);
    assert_eq!(item_status(&report, ITEM), "compliant", "{}", digest(&report));
    assert_eq!(run.code, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls13_only_is_compliant() {
    let pki = pki("tls13-only");
    let server = serve(pki.ca.issue(&[HOST], Validity::CURRENT).expect("leaf"), &[&TLS13]).await;

    let (run, report) = scan_json(server.addr, Some(&pki.ca_file), &[]).await;

    assert_protocols(
        &report,
        &[
            ("SSLv2", "refused"),
            ("SSLv3", "refused"),
            ("TLSv1.0", "refused"),
            ("TLSv1.1", "refused"),
            ("TLSv1.2", "refused"),
            ("TLSv1.3", "accepted"),
        ],
    );
    assert_findings(&report, &[("tls.tls12-or-13", "pass"), ("tls.tls13", "pass"), ("cert.trusted", "pass")]);
    assert_eq!(the_endpoint(&report)["chains"][0]["version"], "TLSv1.3");
    assert_eq!(item_status(&report, ITEM), "compliant", "{}", digest(&report));
    assert_eq!(run.code, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_certificate_is_non_compliant() {
    let pki = pki("expired");
    let server = serve(pki.ca.issue(&[HOST], Validity::EXPIRED).expect("leaf"), BOTH).await;

    let (run, report) = scan_json(server.addr, Some(&pki.ca_file), &[]).await;

    assert_protocols(&report, &[("TLSv1.2", "accepted"), ("TLSv1.3", "accepted"), ("TLSv1.0", "refused")]);
    assert_findings(&report, &[("cert.validity", "fail"), ("cert.hostname", "pass"), ("tls.tls12-or-13", "pass")]);
    let validity = &finding(&report, "cert.validity")["evidence"];
    assert!(validity["path"][0]["days_remaining"].as_i64().is_some_and(|d| d < 0), "{validity}");
    assert!(the_endpoint(&report)["chains"][0]["path"][0]["days_remaining"].as_i64().is_some_and(|d| d < 0));
    // Path validation rejects the chain too, for the expiry.
    assert_eq!(finding_status(&report, "cert.trusted"), "fail");
    assert_eq!(trust(&report)["reason"], "expired", "{}", digest(&report));
    assert_eq!(item_status(&report, ITEM), "non_compliant");
    assert_eq!(item(&report, ITEM)["status_ja"], "不適合");
    assert_eq!(run.code, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_signed_certificate_is_not_trusted() {
    // The --ca-file names an unrelated CA: it must not make a self-signed leaf trusted.
    let pki = pki("self-signed");
    let server = serve(self_signed(&[HOST], Validity::CURRENT).expect("self-signed"), BOTH).await;

    let (run, report) = scan_json(server.addr, Some(&pki.ca_file), &[]).await;

    assert_protocols(&report, &[("TLSv1.2", "accepted"), ("TLSv1.3", "accepted")]);
    assert_eq!(the_endpoint(&report)["chains"][0]["served_count"], 1);
    assert_findings(&report, &[("cert.trusted", "fail"), ("cert.hostname", "pass"), ("cert.validity", "pass")]);
    assert_eq!(finding(&report, "cert.trusted")["evidence"]["verdict"]["reason"], "unknown_issuer");
    assert_eq!(trust(&report)["verdict"], "not_trusted");
    assert_eq!(trust(&report)["reason"], "unknown_issuer");
    assert_eq!(item_status(&report, ITEM), "non_compliant");
    assert_eq!(run.code, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn name_mismatch_is_non_compliant() {
    let pki = pki("mismatch");
    let server = serve(pki.ca.issue(&["www.other.example"], Validity::CURRENT).expect("leaf"), BOTH).await;

    let (run, report) = scan_json(server.addr, Some(&pki.ca_file), &[]).await;

    assert_findings(&report, &[("cert.hostname", "fail"), ("cert.trusted", "pass"), ("cert.validity", "pass")]);
    let evidence = &finding(&report, "cert.hostname")["evidence"];
    assert_eq!(evidence["expected"], HOST);
    assert_eq!(evidence["certificate"]["dns_names"], serde_json::json!(["www.other.example"]));
    assert_eq!(item_status(&report, ITEM), "non_compliant");
    assert_eq!(run.code, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_ca_without_ca_file_is_not_trusted() {
    let pki = pki("no-ca-file");
    let server = serve(pki.ca.issue(&[HOST], Validity::CURRENT).expect("leaf"), BOTH).await;

    let (run, report) = scan_json(server.addr, None, &[]).await;

    assert_protocols(&report, &[("TLSv1.2", "accepted"), ("TLSv1.3", "accepted")]);
    assert_findings(&report, &[("cert.trusted", "fail"), ("cert.hostname", "pass"), ("cert.validity", "pass")]);
    assert_eq!(trust(&report)["verdict"], "not_trusted");
    assert_eq!(trust(&report)["reason"], "unknown_issuer");
    assert_eq!(report["evidence"]["extra_roots"].as_array().map(Vec::len), Some(0));
    assert_eq!(item_status(&report, ITEM), "non_compliant");
    assert_eq!(run.code, 1);
}

// ---------------------------------------------------------------------------------------
// 8: openssl s_server legacy peers
// ---------------------------------------------------------------------------------------

/// An `openssl s_server` legacy peer with a certificate from its own test CA.
struct OpensslPeer {
    addr: SocketAddr,
    pki: Pki,
    _server: OpenSslServer,
}

fn openssl_available() -> bool {
    let available = OpenSslServer::available();
    if !available {
        eprintln!("note: openssl is missing; skipping the openssl s_server test (CI installs it)");
    }
    available
}

/// The cipher string of the legacy peers: everything OpenSSL 3.0 still has, anonymous
/// (aNULL) suites included.
const ALL_CIPHERS: &str = "ALL:@SECLEVEL=0";

/// Starts `openssl s_server` with a testkit-CA certificate for [`HOST`], `ciphers` and
/// `version_args`.
fn start_openssl(test: &str, ciphers: &str, version_args: &[&str]) -> OpensslPeer {
    let pki = pki(test);
    let identity = pki.ca.issue(&[HOST], Validity::CURRENT).expect("leaf");
    let mut args = vec!["-cipher", ciphers];
    args.extend_from_slice(version_args);
    let server = OpenSslServer::start(&identity, &args).expect("start openssl s_server");
    OpensslPeer { addr: server.addr, pki, _server: server }
}

fn assert_openssl_certificate(report: &Value) {
    let certificate = &the_endpoint(report)["chains"][0];
    assert_eq!(certificate["leaf"]["subject"], format!("CN={HOST}"), "{}", digest(report));
    assert_eq!(certificate["trust"]["verdict"], "trusted", "{}", digest(report));
    assert_eq!(certificate["trust"]["store"], "ca-file");
    assert_findings(report, &[("cert.trusted", "pass"), ("cert.hostname", "pass"), ("cert.validity", "pass")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssl_tls10_only_is_non_compliant() {
    if !openssl_available() {
        return;
    }
    let server = start_openssl("openssl-tls1", ALL_CIPHERS, &["-tls1"]);

    let (run, report) = scan_json(server.addr, Some(&server.pki.ca_file), &[]).await;

    assert_protocols(
        &report,
        &[
            ("SSLv2", "refused"),
            ("SSLv3", "refused"),
            ("TLSv1.0", "accepted"),
            ("TLSv1.1", "refused"),
            ("TLSv1.2", "refused"),
            ("TLSv1.3", "refused"),
        ],
    );
    assert_findings(
        &report,
        &[("tls.no-tls10", "fail"), ("tls.tls12-or-13", "fail"), ("tls.no-tls11", "pass"), ("tls.no-sslv3", "pass")],
    );
    // The chain comes from the legacy ServerHello: kensa must offer authenticated suites
    // before anonymous ones, or this peer (which honours the client's order) sends none.
    assert_openssl_certificate(&report);
    assert_eq!(item_status(&report, ITEM), "non_compliant");
    assert_eq!(run.code, 1);
}

/// The chain of a TLS 1.0-only peer arrives in a TLS 1.0 ServerHello (also when the hello
/// asked for TLS 1.1), so the report must say it was captured with TLS 1.0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssl_tls10_only_certificate_is_labelled_tls10() {
    if !openssl_available() {
        return;
    }
    let server = start_openssl("openssl-tls1-label", ALL_CIPHERS, &["-tls1"]);

    let (_, report) = scan_json(server.addr, Some(&server.pki.ca_file), &[]).await;

    assert_eq!(the_endpoint(&report)["chains"][0]["version"], "TLSv1.0", "{}", digest(&report));
    assert_eq!(finding(&report, "cert.trusted")["evidence"]["captured_with"], "TLS 1.0");
}

/// rustls offers only ECDHE with AEAD suites; a TLS 1.2 server with CBC suites only must
/// still be seen to speak TLS 1.2 (through the hand-built TLS 1.2 hello), and is compliant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssl_tls12_with_cbc_suites_only_needs_review() {
    if !openssl_available() {
        return;
    }
    let server = start_openssl("openssl-tls1_2-cbc", "ECDHE-ECDSA-AES128-SHA", &["-tls1_2"]);

    let (run, report) = scan_json(server.addr, Some(&server.pki.ca_file), &[]).await;

    assert_protocols(
        &report,
        &[
            ("SSLv2", "refused"),
            ("SSLv3", "refused"),
            ("TLSv1.0", "refused"),
            ("TLSv1.1", "refused"),
            ("TLSv1.2", "accepted"),
            ("TLSv1.3", "refused"),
        ],
    );
    // TLS 1.2 is spoken, so the protocol checks pass; the CBC-only suite needs review.
    assert_findings(&report, &[("tls.tls12-or-13", "pass"), ("tls.no-tls10", "pass"), ("suites.no-cbc", "warn")]);
    assert_eq!(the_endpoint(&report)["chains"][0]["version"], "TLSv1.2");
    assert_openssl_certificate(&report);
    assert_eq!(item_status(&report, ITEM), "needs_review", "{}", digest(&report));
    assert_eq!(run.code, 0);
}

/// Minimal mode asks each version once and captures the certificate in at most 8
/// connections; the suite checks are reported as not run, and the item is judged on the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minimal_mode_stays_within_eight_connections() {
    let pki = pki("minimal");
    let server = serve(pki.ca.issue(&[HOST], Validity::CURRENT).expect("leaf"), BOTH).await;

    let (run, report) = scan_json(server.addr, Some(&pki.ca_file), &["--mode", "minimal"]).await;

    let endpoint = the_endpoint(&report);
    let connections = endpoint["connections"].as_u64().expect("connections");
    assert!((1..=8).contains(&connections), "{connections} connections");
    assert_eq!(server.connections(), connections as usize, "the server saw what kensa counted");
    assert_eq!(report["scan"]["settings"]["mode"], "minimal");
    assert_findings(
        &report,
        &[("tls.tls12-or-13", "pass"), ("suites.no-cbc", "not_run"), ("kex.dhe-strength", "not_run")],
    );
    assert_eq!(item_status(&report, ITEM), "compliant", "{}", digest(&report));
    let reason = item(&report, ITEM)["reason"].as_str().unwrap_or("");
    assert!(reason.contains("full mode") || reason.contains("fullモード"), "{reason}");
    assert_eq!(run.code, 0);
}

/// The strict profile for systems that can affect medical-information systems fails a
/// CBC-only server that the default profile only flags for review, and shows what it raised.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn high_profile_fails_cbc_and_passes_an_aead_only_server() {
    if !openssl_available() {
        return;
    }
    let server = start_openssl("openssl-high-cbc", "ECDHE-ECDSA-AES128-SHA", &["-tls1_2"]);
    let (run, report) =
        scan_json(server.addr, Some(&server.pki.ca_file), &["--profile", "mhlw-online-2023-high"]).await;
    assert_eq!(report["profile"]["id"], "mhlw-online-2023-high");
    assert_findings(&report, &[("suites.no-cbc", "fail"), ("suites.aead-only", "fail"), ("tls.tls13", "warn")]);
    assert_eq!(finding(&report, "suites.no-cbc")["raised_from"], "warn");
    assert_eq!(item_status(&report, ITEM), "non_compliant", "{}", digest(&report));
    assert_eq!(run.code, 1);

    // rustls offers TLS 1.3 and ECDHE with AEAD only: compliant under the strict reading too.
    let pki = pki("high-aead");
    let modern = serve(pki.ca.issue(&[HOST], Validity::CURRENT).expect("leaf"), BOTH).await;
    let (run, report) = scan_json(modern.addr, Some(&pki.ca_file), &["--profile", "mhlw-online-2023-high"]).await;
    assert_findings(
        &report,
        &[("suites.aead-only", "pass"), ("suites.forward-secrecy", "pass"), ("tls.tls13", "pass")],
    );
    assert_eq!(item_status(&report, ITEM), "compliant", "{}", digest(&report));
    assert_eq!(run.code, 0);
}

/// Device files and directories given as inputs are errors, not hangs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_files_and_directories_are_input_errors() {
    let started = Instant::now();
    let os = |args: &[&str]| args.iter().map(OsString::from).collect::<Vec<_>>();
    assert_input_error("recheck /dev/zero", os(&["recheck", "/dev/zero"]), vec!["not a regular file".into()]).await;
    let ca_dir = os(&["scan", "127.0.0.1:1", "--ca-file", "/tmp"]);
    assert_input_error("--ca-file directory", ca_dir, vec!["not a regular file".into()]).await;
    let profile = os(&["scan", "127.0.0.1:1", "--profile", "/dev/zero"]);
    assert_input_error("--profile /dev/zero", profile, vec!["not a regular file".into()]).await;
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssl_tls11_only_is_non_compliant() {
    if !openssl_available() {
        return;
    }
    let server = start_openssl("openssl-tls1_1", ALL_CIPHERS, &["-tls1_1"]);

    let (run, report) = scan_json(server.addr, Some(&server.pki.ca_file), &[]).await;

    assert_protocols(
        &report,
        &[
            ("SSLv2", "refused"),
            ("SSLv3", "refused"),
            ("TLSv1.0", "refused"),
            ("TLSv1.1", "accepted"),
            ("TLSv1.2", "refused"),
            ("TLSv1.3", "refused"),
        ],
    );
    assert_findings(&report, &[("tls.no-tls11", "fail"), ("tls.tls12-or-13", "fail"), ("tls.no-tls10", "pass")]);
    assert_eq!(the_endpoint(&report)["chains"][0]["version"], "TLSv1.1");
    assert_openssl_certificate(&report);
    assert_eq!(item_status(&report, ITEM), "non_compliant");
    assert_eq!(run.code, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssl_tls10_to_tls13_is_non_compliant() {
    if !openssl_available() {
        return;
    }
    let server = start_openssl("openssl-all", ALL_CIPHERS, &["-min_protocol", "TLSv1", "-max_protocol", "TLSv1.3"]);

    let (run, report) = scan_json(server.addr, Some(&server.pki.ca_file), &[]).await;

    assert_protocols(
        &report,
        &[
            ("SSLv2", "refused"),
            ("SSLv3", "refused"),
            ("TLSv1.0", "accepted"),
            ("TLSv1.1", "accepted"),
            ("TLSv1.2", "accepted"),
            ("TLSv1.3", "accepted"),
        ],
    );
    assert_findings(
        &report,
        &[
            ("tls.no-sslv2", "pass"),
            ("tls.no-sslv3", "pass"),
            ("tls.no-tls10", "fail"),
            ("tls.no-tls11", "fail"),
            ("tls.tls12-or-13", "pass"),
            ("tls.tls13", "pass"),
        ],
    );
    assert_openssl_certificate(&report);
    assert_eq!(item_status(&report, ITEM), "non_compliant");
    assert_eq!(run.code, 1);
}

// ---------------------------------------------------------------------------------------
// 9: hostile peers and closed ports
// ---------------------------------------------------------------------------------------

/// Scans a peer with `--timeout 0.5` and checks that 2-1.xii is indeterminate (exit 3).
async fn assert_indeterminate(addr: SocketAddr) -> (Run, Value) {
    let (run, report) = scan_json(addr, None, &["--timeout", "0.5"]).await;
    assert_eq!(item_status(&report, ITEM), "indeterminate", "{}", digest(&report));
    assert_eq!(item(&report, ITEM)["status_ja"], "判定不能");
    for f in report["findings"].as_array().expect("findings") {
        assert_ne!(f["status"], "fail", "nothing is proven against a broken peer: {f}");
    }
    for version in ["SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"] {
        assert_eq!(protocol(&report, version), "unknown", "{version}\n{}", digest(&report));
    }
    assert!(the_endpoint(&report)["certificate"].is_null(), "{}", digest(&report));
    assert_eq!(run.code, 3, "stderr: {}", run.stderr);
    (run, report)
}

async fn hostile(behaviour: HostileBehaviour) -> RunningServer {
    spawn_hostile_server(behaviour).await.expect("start the hostile peer")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_tarpit_is_indeterminate_and_bounded() {
    let server = hostile(HostileBehaviour::Silent).await;
    let (run, report) = assert_indeterminate(server.addr).await;
    assert!(run.elapsed < Duration::from_secs(5), "a tarpit held the scan for {:?}", run.elapsed);
    assert_eq!(finding_status(&report, "tls.tls12-or-13"), "indeterminate");
    assert!(server.connections() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_peer_is_indeterminate() {
    let server = hostile(HostileBehaviour::Garbage).await;
    let (run, _) = assert_indeterminate(server.addr).await;
    assert!(run.elapsed < Duration::from_secs(10), "took {:?}", run.elapsed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resetting_peer_is_indeterminate() {
    let server = hostile(HostileBehaviour::Reset).await;
    let (run, _) = assert_indeterminate(server.addr).await;
    assert!(run.elapsed < Duration::from_secs(10), "took {:?}", run.elapsed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_peer_is_indeterminate() {
    let server = hostile(HostileBehaviour::Close).await;
    let (run, _) = assert_indeterminate(server.addr).await;
    assert!(run.elapsed < Duration::from_secs(10), "took {:?}", run.elapsed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_port_is_indeterminate() {
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let (run, _) = assert_indeterminate(addr).await;
    assert!(run.elapsed < Duration::from_secs(5), "took {:?}", run.elapsed);
}

// ---------------------------------------------------------------------------------------
// 10: input errors
// ---------------------------------------------------------------------------------------

/// How kensa's own input errors begin (the argument parser's begin with `error:`).
const KENSA_ERROR: &str = "kensa: error:";

/// Runs `args`, expecting exit 2, no report, and every one of `needles` on stderr.
async fn assert_input_error(case: &str, args: Vec<OsString>, needles: Vec<String>) {
    let run = kensa(args).await;
    assert_eq!(run.code, 2, "{case}: exit code\nstdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert!(run.stdout.trim().is_empty(), "{case}: a report was printed:\n{}", run.stdout);
    assert!(!run.stderr.trim().is_empty(), "{case}: no message on stderr");
    for needle in &needles {
        assert!(run.stderr.contains(needle.as_str()), "{case}: stderr lacks {needle:?}:\n{}", run.stderr);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_errors_exit_2() {
    let dir = TempDir::new("input-errors").expect("temp dir");
    let pki = pki("input-errors-ca");
    let closed = free_port();
    let target = format!("{HOST}:{closed}");
    let pin = format!("{HOST}:{closed}:127.0.0.1");
    // Everything is valid except the one thing each case breaks.
    let scan = |extra: Vec<OsString>| {
        let mut args = args!["scan", &target, "--resolve", &pin];
        args.extend(extra);
        args
    };

    let missing_ca = dir.path().join("no-such-ca.pem");
    let empty_ca = dir.write("not-a-ca.pem", "this file holds no certificate\n").expect("write temp file");

    let profile_text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/probes/mhlw-online-2023.toml"))
        .expect("read the default profile");
    let hostname_line = profile_text
        .lines()
        .position(|l| l.contains("\"cert.hostname\""))
        .map(|i| i + 1)
        .expect("the default profile names cert.hostname");
    let bad_check = dir
        .write("unknown-check.toml", profile_text.replace("\"cert.hostname\"", "\"cert.nope\""))
        .expect("write temp file");
    let not_toml = dir.write("not-toml.toml", "this is { not toml ]]\n").expect("write temp file");
    let missing_profile = dir.path().join("no-such-profile.toml");
    let show = |p: &Path| p.display().to_string();

    let cases: Vec<(&str, Vec<OsString>, Vec<String>)> = vec![
        ("scheme", args!["scan", "http://x"], vec![KENSA_ERROR.into(), "http://x".into()]),
        ("port out of range", args!["scan", "host:99999"], vec![KENSA_ERROR.into(), "host:99999".into()]),
        ("unclosed IPv6", args!["scan", "[::1"], vec![KENSA_ERROR.into(), "[::1".into()]),
        (
            "pin without address",
            scan(args!["--resolve", "web.clinic.example:443"]),
            vec![KENSA_ERROR.into(), "--resolve".into()],
        ),
        (
            "pin with a bad address",
            scan(args!["--resolve", "web.clinic.example:443:not-an-ip"]),
            vec![KENSA_ERROR.into(), "not-an-ip".into()],
        ),
        (
            "pin with a bad port",
            scan(args!["--resolve", "web.clinic.example:0:127.0.0.1"]),
            vec![KENSA_ERROR.into(), "--resolve".into()],
        ),
        ("unreadable --ca-file", scan(args!["--ca-file", &missing_ca]), vec![KENSA_ERROR.into(), show(&missing_ca)]),
        (
            "--ca-file without certificate",
            scan(args!["--ca-file", &empty_ca]),
            vec![KENSA_ERROR.into(), show(&empty_ca)],
        ),
        ("--timeout 0", scan(args!["--timeout", "0"]), vec![KENSA_ERROR.into(), "--timeout must be".into()]),
        ("--timeout -1", scan(args!["--timeout=-1"]), vec![KENSA_ERROR.into(), "--timeout must be".into()]),
        (
            "profile naming an unknown check",
            scan(args!["--profile", &bad_check]),
            vec![KENSA_ERROR.into(), show(&bad_check), format!(":{hostname_line}:"), "cert.nope".into()],
        ),
        ("profile that is not TOML", scan(args!["--profile", &not_toml]), vec![KENSA_ERROR.into(), show(&not_toml)]),
        (
            "missing profile",
            scan(args!["--profile", &missing_profile]),
            vec![KENSA_ERROR.into(), show(&missing_profile)],
        ),
        // Rejected by the argument parser, which also exits with 2.
        ("no target", args!["scan"], vec!["<TARGET>".into()]),
        ("unknown flag", scan(args!["--no-such-flag"]), vec!["--no-such-flag".into()]),
        // A valid CA file alongside a broken one is still an error.
        (
            "one bad --ca-file of two",
            scan(args!["--ca-file", &pki.ca_file, "--ca-file", &empty_ca]),
            vec![KENSA_ERROR.into(), show(&empty_ca)],
        ),
    ];
    let started = Instant::now();
    futures::future::join_all(cases.into_iter().map(|(case, args, needles)| assert_input_error(case, args, needles)))
        .await;
    assert!(started.elapsed() < Duration::from_secs(10), "input errors took {:?}", started.elapsed());
}

// ---------------------------------------------------------------------------------------
// 11: recheck
// ---------------------------------------------------------------------------------------

fn statuses(report: &Value) -> BTreeMap<String, String> {
    report["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| (i["id"].as_str().unwrap_or("").to_string(), i["status"].as_str().unwrap_or("").to_string()))
        .collect()
}

fn finding_statuses(report: &Value) -> Vec<(String, String, String)> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| (f["check_id"].to_string(), f["endpoint"].to_string(), f["status"].to_string()))
        .collect()
}

/// Scans `server` into a file, stops the server, rechecks the file and compares.
async fn scan_then_recheck(pki: &Pki, server: RunningServer, name: &str, expected_code: i32) {
    let file = pki.dir.path().join(name);
    let mut args = scan_args(server.addr);
    args.extend(args!["--format", "json", "--ca-file", &pki.ca_file, "-o", &file]);
    let scanned = kensa(args).await;
    assert_eq!(scanned.code, expected_code, "scan exit code; stderr: {}", scanned.stderr);
    assert!(scanned.stdout.is_empty(), "-o writes the report to the file only:\n{}", scanned.stdout);
    let original: Value = serde_json::from_str(&std::fs::read_to_string(&file).expect("read the report"))
        .expect("the -o file holds JSON");
    assert_report_shape(&original);

    // Stop the server, and wait until its port refuses, so recheck cannot use the network.
    let addr = server.addr;
    drop(server);
    let waited = Instant::now();
    while StdStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
        assert!(waited.elapsed() < Duration::from_secs(2), "the test server did not stop");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let rechecked = kensa(args!["recheck", &file, "--format", "json", "--lang", "en"]).await;
    assert_eq!(rechecked.code, expected_code, "recheck exit code; stderr: {}", rechecked.stderr);
    let again = rechecked.json();
    assert_report_shape(&again);
    assert_eq!(statuses(&again), statuses(&original), "item statuses after recheck");
    assert_eq!(finding_statuses(&again), finding_statuses(&original), "findings after recheck");
    assert_eq!(again["exit_code"], original["exit_code"]);
    assert_eq!(again["endpoints"], original["endpoints"], "endpoint facts are re-derived identically");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recheck_reproduces_the_scan_offline() {
    let pki = pki("recheck");
    let good = serve(pki.ca.issue(&[HOST], Validity::CURRENT).expect("leaf"), BOTH).await;
    let expired = serve(pki.ca.issue(&[HOST], Validity::EXPIRED).expect("leaf"), BOTH).await;
    tokio::join!(
        scan_then_recheck(&pki, good, "compliant.json", 0),
        scan_then_recheck(&pki, expired, "expired.json", 1),
    );

    let not_json = pki.dir.write("report.txt", "kensa 0.1.0 — not a JSON report\n").expect("write temp file");
    let run = kensa(args!["recheck", &not_json, "--format", "json"]).await;
    assert_eq!(run.code, 2, "stderr: {}", run.stderr);
    assert!(run.stderr.contains(&not_json.display().to_string()), "stderr: {}", run.stderr);
    assert!(run.stdout.is_empty());

    let no_evidence = pki.dir.write("other.json", "{\"hello\": \"world\"}\n").expect("write temp file");
    let run = kensa(args!["recheck", &no_evidence]).await;
    assert_eq!(run.code, 2, "stderr: {}", run.stderr);

    let missing = pki.dir.path().join("missing.json");
    let run = kensa(args!["recheck", &missing]).await;
    assert_eq!(run.code, 2, "stderr: {}", run.stderr);
}

// ---------------------------------------------------------------------------------------
// 12: languages
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_language_follows_lang_flag_and_locale() {
    let pki = pki("lang");
    let server = serve(pki.ca.issue(&[HOST], Validity::CURRENT).expect("leaf"), BOTH).await;
    let port = server.addr.port();
    let base = args![
        "scan",
        format!("{HOST}:{port}"),
        "--resolve",
        format!("{HOST}:{port}:127.0.0.1"),
        "--ca-file",
        &pki.ca_file
    ];
    let with = |extra: Vec<OsString>| base.iter().cloned().chain(extra).collect::<Vec<_>>();

    let (ja, en, locale_ja, locale_en) = tokio::join!(
        kensa(with(args!["--lang", "ja"])),
        kensa(with(args!["--lang", "en"])),
        kensa_with_env(base.clone(), &[("LANG", "ja_JP.UTF-8")]),
        kensa(base.clone()),
    );
    for run in [&ja, &en, &locale_ja, &locale_en] {
        assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    }
    let item_line = |text: &str| text.lines().find(|l| l.trim_start().starts_with(ITEM)).unwrap_or("").to_string();

    assert!(ja.stdout.contains("適合") && ja.stdout.contains("不適合"), "{}", ja.stdout);
    assert!(ja.stdout.contains("指針の項目"), "{}", ja.stdout);
    assert!(item_line(&ja.stdout).contains("適合"), "{}", item_line(&ja.stdout));
    assert!(!ja.stdout.contains("Guideline items"), "{}", ja.stdout);

    assert!(en.stdout.contains("compliant"), "{}", en.stdout);
    assert!(en.stdout.contains("Guideline items"), "{}", en.stdout);
    assert!(item_line(&en.stdout).contains("compliant"), "{}", item_line(&en.stdout));
    assert!(!en.stdout.contains("指針の項目"), "{}", en.stdout);

    assert!(locale_ja.stdout.contains("指針の項目") && locale_ja.stdout.contains("適合"), "{}", locale_ja.stdout);
    assert!(locale_en.stdout.contains("Guideline items"), "without a ja locale the report is English");
}

// ---------------------------------------------------------------------------------------
// 13: demo
// ---------------------------------------------------------------------------------------

const DEMO_HOSTS: [&str; 6] = [
    "patient.clinic.example",
    "api.clinic.example",
    "portal.clinic.example",
    "expired.clinic.example",
    "selfsigned.clinic.example",
    "mismatch.clinic.example",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_runs_and_meets_its_expectations() {
    let (text, json) = tokio::join!(kensa(args!["demo", "--lang", "en"]), kensa(args!["demo", "--format", "json"]));

    assert_eq!(text.code, 0, "stdout:\n{}\nstderr:\n{}", text.stdout, text.stderr);
    for host in DEMO_HOSTS {
        assert!(text.stdout.contains(host), "demo text lacks {host}");
    }
    let comparison = text.stdout.split("== Demo").nth(1).expect("the demo appends its expectation table");
    assert_eq!(comparison.matches('✔').count(), DEMO_HOSTS.len(), "{comparison}");
    assert!(!comparison.contains('✘'), "a demo expectation failed:\n{comparison}");

    assert_eq!(json.code, 0, "stderr: {}", json.stderr);
    let report = json.json();
    assert_report_shape(&report);
    assert_eq!(report["schema_version"], "kensa.report/2");
    let endpoints: Vec<&str> =
        report["endpoints"].as_array().expect("endpoints").iter().filter_map(|e| e["server_name"].as_str()).collect();
    for host in DEMO_HOSTS {
        assert!(endpoints.contains(&host), "demo JSON lacks {host}: {endpoints:?}");
    }
    // Three of the demo endpoints are built to be non-compliant.
    assert_eq!(item_status(&report, ITEM), "non_compliant");
    // The expectation table goes to stderr when stdout carries JSON.
    for host in DEMO_HOSTS {
        assert!(json.stderr.contains(host), "demo comparison on stderr lacks {host}:\n{}", json.stderr);
    }
}
