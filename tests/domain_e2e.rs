//! End-to-end tests of the domain survey (item 2-1.xv) through the `kensa` binary: an
//! in-process DNS world (`testkit::dns`) on loopback, a loopback WHOIS server answering with
//! a JPRS answer rewritten to the test name, a loopback RDAP server answering with the
//! Verisign-style fixture rewritten, and a rustls endpoint whose certificate comes from a
//! test root named "Let's Encrypt" (so that CAA can be judged on it). Each scan is the real
//! binary, pointed at those servers with `--resolver`, `--authoritative-port`,
//! `--dnssec-anchor`, `--whois-server` and `--rdap-bootstrap`.

#[macro_use]
mod common;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{kensa, Run};
use kensa::testkit::dns::{DnsWorld, Signing};
use kensa::testkit::http::{HttpServer, Response, RunningHttpServer};
use kensa::testkit::pki::{Authority, CertSpec};
use kensa::testkit::whois::{Hostile, RunningWhoisServer, WhoisServer};
use kensa::testkit::{spawn_tls_server, RunningServer, TempDir};
use rustls::version::{TLS12, TLS13};
use serde_json::{json, Value};

/// The item the domain checks feed.
const ITEM: &str = "2-1.xv";

const CLINIC: &str = "clinic-example.co.jp";
const CLINIC_WWW: &str = "www.clinic-example.co.jp";
const CLINIC_OLD: &str = "old.clinic-example.co.jp";
const VENDOR: &str = "vendor-example.com";
const VENDOR_WWW: &str = "www.vendor-example.com";

/// The registrant the rewritten JPRS answer names.
const CLINIC_ORG: &str = "医療法人社団けんさクリニック";
const CLINIC_ORG_EN: &str = "Kensa Clinic Medical Corporation";

// ---------------------------------------------------------------------------------------
// Running the binary
// ---------------------------------------------------------------------------------------

/// Runs a scan with `--format json` and returns the run and its report, after checking that
/// the report's `exit_code` is the process's.
async fn scan_json(args: Vec<OsString>) -> (Run, Value) {
    let mut args = args;
    args.extend(args!["--format", "json"]);
    let run = kensa(args).await;
    let report = run.json();
    assert_eq!(report["exit_code"], Value::from(run.code), "JSON exit_code vs process exit code\n{}", digest(&report));
    (run, report)
}

// ---------------------------------------------------------------------------------------
// Reading reports
// ---------------------------------------------------------------------------------------

/// Every finding, one per line, for assertion messages.
fn digest(report: &Value) -> String {
    let mut out = String::new();
    for f in report["findings"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "  {} {} [{}] {}: {}\n",
            f["item_id"], f["check_id"], f["endpoint"], f["status"], f["message"]
        ));
    }
    for i in report["items"].as_array().into_iter().flatten().filter(|i| i["id"] == ITEM) {
        out.push_str(&format!("  item {ITEM}: {} ({})\n", i["status"], i["reason"]));
    }
    out
}

fn item_status<'a>(report: &'a Value, id: &str) -> &'a str {
    report["items"]
        .as_array()
        .and_then(|items| items.iter().find(|i| i["id"] == id))
        .and_then(|i| i["status"].as_str())
        .unwrap_or_else(|| panic!("item {id} missing from the report"))
}

/// Findings of `check_id` (any item) on `endpoint`.
fn findings_of<'a>(report: &'a Value, check_id: &str, endpoint: &str) -> Vec<&'a Value> {
    report["findings"]
        .as_array()
        .expect("findings array")
        .iter()
        .filter(|f| f["check_id"] == check_id && f["endpoint"] == endpoint)
        .collect()
}

/// The one finding of `check_id` for item 2-1.xv on `endpoint` (a domain, a host or an
/// endpoint label).
fn finding<'a>(report: &'a Value, check_id: &str, endpoint: &str) -> &'a Value {
    let found: Vec<&Value> =
        findings_of(report, check_id, endpoint).into_iter().filter(|f| f["item_id"] == ITEM).collect();
    assert_eq!(found.len(), 1, "one {check_id} finding on {endpoint} expected\n{}", digest(report));
    found[0]
}

fn assert_status(report: &Value, check_id: &str, endpoint: &str, status: &str) {
    assert_eq!(finding(report, check_id, endpoint)["status"], status, "{check_id} on {endpoint}\n{}", digest(report));
}

/// The survey's entry for the registrable domain `name`.
fn surveyed_domain<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["evidence"]["domains"]["domains"]
        .as_array()
        .and_then(|d| d.iter().find(|d| d["name"] == name))
        .unwrap_or_else(|| panic!("{name} is not in evidence.domains: {}", report["evidence"]["domains"]))
}

/// The endpoint label of a loopback endpoint.
fn label(host: &str, server: &RunningServer) -> String {
    format!("{host} [{}]:{}", server.addr.ip(), server.addr.port())
}

// ---------------------------------------------------------------------------------------
// The servers
// ---------------------------------------------------------------------------------------

fn fixture(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// The day `days` from today (UTC).
fn day_from_today(days: i64) -> time::Date {
    (time::OffsetDateTime::now_utc() + time::Duration::days(days)).date()
}

fn slashed(date: time::Date) -> String {
    format!("{:04}/{:02}/{:02}", date.year(), u8::from(date.month()), date.day())
}

fn dashed(date: time::Date) -> String {
    format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day())
}

/// Midnight of `date` in Japan time, as Unix seconds (how JPRS dates are read).
fn jst_midnight(date: time::Date) -> u64 {
    let at = date.with_time(time::Time::MIDNIGHT).assume_offset(time::macros::offset!(+9));
    u64::try_from(at.unix_timestamp()).expect("after 1970")
}

/// The `jp.` zone delegating `clinic-example.co.jp` to ns1/ns2, with glue.
const JP: &str = "$TTL 3600
@ IN SOA a.dns.jp. hostmaster.jp. 1 3600 900 604800 300
@ IN NS a.dns.jp.
@ IN NS b.dns.jp.
a.dns IN A 127.0.0.2
b.dns IN A 127.0.0.3
clinic-example.co IN NS ns1.clinic-example.co.jp.
clinic-example.co IN NS ns2.clinic-example.co.jp.
ns1.clinic-example.co IN A 127.0.0.4
ns2.clinic-example.co IN A 127.0.0.5
";

/// The clinic's zone: CAA `issue` for `issuer`, `www` on 127.0.0.1, and `old` a CNAME to a
/// name that does not exist.
fn clinic_zone(issuer: &str) -> String {
    format!(
        "$TTL 3600
@ IN SOA ns1.clinic-example.co.jp. hostmaster.clinic-example.co.jp. 2026010101 3600 900 604800 300
@ IN NS ns1
@ IN NS ns2
ns1 IN A 127.0.0.4
ns2 IN A 127.0.0.5
@ IN CAA 0 issue \"{issuer}\"
www IN A 127.0.0.1
old IN CNAME gone.clinic-example.co.jp.
"
    )
}

async fn jp_world(issuer: &str) -> DnsWorld {
    DnsWorld::builder()
        .zone("jp.", JP, Signing::Signed)
        .zone("clinic-example.co.jp.", &clinic_zone(issuer), Signing::Signed)
        .server("127.0.0.2", &["jp."])
        .server("127.0.0.3", &["jp."])
        .server("127.0.0.4", &["clinic-example.co.jp."])
        .server("127.0.0.5", &["clinic-example.co.jp."])
        .start()
        .await
        .expect("the .jp DNS world starts")
}

/// The `com.` zone delegating `vendor-example.com` to ns1 and `second` (`ns2` on
/// 127.0.0.5, or `ns3` on 127.0.0.6), with glue.
fn com_zone(second: &str) -> String {
    format!(
        "$TTL 3600
@ IN SOA a.nic.com. hostmaster.nic.com. 1 3600 900 604800 300
@ IN NS a.nic.com.
a.nic IN A 127.0.0.2
vendor-example IN NS ns1.vendor-example.com.
vendor-example IN NS {second}.vendor-example.com.
ns1.vendor-example IN A 127.0.0.4
{second}.vendor-example IN A {}
",
        second_address(second)
    )
}

fn second_address(second: &str) -> &'static str {
    if second == "ns2" {
        "127.0.0.5"
    } else {
        "127.0.0.6"
    }
}

/// The vendor's zone naming ns1 and `second`, CAA for Let's Encrypt, `www` on 127.0.0.1.
fn vendor_zone(second: &str) -> String {
    format!(
        "$TTL 3600
@ IN SOA ns1.vendor-example.com. hostmaster.vendor-example.com. 7 3600 900 604800 300
@ IN NS ns1
@ IN NS {second}
ns1 IN A 127.0.0.4
{second} IN A {}
@ IN CAA 0 issue \"letsencrypt.org\"
www IN A 127.0.0.1
",
        second_address(second)
    )
}

/// A signed `com.` zone delegating `vendor-example.com` (unsigned, so DNSSEC is provably
/// insecure) to ns1 and `second`; the child names the same servers.
async fn com_world(second: &str) -> DnsWorld {
    DnsWorld::builder()
        .zone("com.", &com_zone(second), Signing::Signed)
        .zone("vendor-example.com.", &vendor_zone(second), Signing::Unsigned)
        .server("127.0.0.2", &["com."])
        .server("127.0.0.4", &["vendor-example.com."])
        .server(second_address(second), &["vendor-example.com."])
        .start()
        .await
        .expect("the .com DNS world starts")
}

/// Both services in one world: the signed `jp.` and clinic zones, and a signed `com.` with
/// the vendor's unsigned zone. The world's `trust_anchor` holds the key of `jp.` only (see
/// [`tld_ds_anchor`] for both).
async fn jp_and_com_world() -> DnsWorld {
    DnsWorld::builder()
        .zone("jp.", JP, Signing::Signed)
        .zone("clinic-example.co.jp.", &clinic_zone("letsencrypt.org"), Signing::Signed)
        .zone("com.", &com_zone("ns2"), Signing::Signed)
        .zone("vendor-example.com.", &vendor_zone("ns2"), Signing::Unsigned)
        .server("127.0.0.2", &["jp.", "com."])
        .server("127.0.0.3", &["jp."])
        .server("127.0.0.4", &["clinic-example.co.jp.", "vendor-example.com."])
        .server("127.0.0.5", &["clinic-example.co.jp.", "vendor-example.com."])
        .start()
        .await
        .expect("the .jp and .com DNS world starts")
}

/// A test root whose subject organisation is "Let's Encrypt", and a rustls endpoint on
/// 127.0.0.1 serving a leaf for `host` issued by it.
struct Endpoint {
    root_pem: String,
    server: RunningServer,
}

async fn endpoint(host: &str) -> Endpoint {
    endpoint_for(&[host]).await
}

async fn endpoint_for(hosts: &[&str]) -> Endpoint {
    let root = Authority::root(CertSpec {
        organization: Some("Let's Encrypt".to_string()),
        ..CertSpec::ca("kensa test root posing as Let's Encrypt")
    })
    .expect("test root");
    let leaf = root.issue(CertSpec::leaf(hosts)).expect("leaf");
    let server =
        spawn_tls_server(leaf.identity_with(&[]), &[&TLS13, &TLS12]).await.expect("start the rustls test server");
    Endpoint { root_pem: root.pem(), server }
}

/// The JPRS organisational answer (jprs.co.jp) rewritten to `clinic-example.co.jp`, its
/// registrant, its name servers, and `[状態] Connected (expires)`.
fn clinic_whois_answer(expires: time::Date) -> String {
    let text = fixture("whois/jprs-organization-jprs.co.jp.txt");
    assert!(text.contains("Connected (2027/01/31)") && text.contains("AgentChangeLocked"), "fixture changed");
    text.replace("JPRS.CO.JP", "CLINIC-EXAMPLE.CO.JP")
        .replace("ns1.jprs.co.jp", "ns1.clinic-example.co.jp")
        .replace("ns2.jprs.co.jp", "ns2.clinic-example.co.jp")
        .replace("かぶしきがいしゃにほんれじすとりさーびす", "いりょうほうじんしゃだんけんさくりにっく")
        .replace("株式会社日本レジストリサービス", CLINIC_ORG)
        .replace("Japan Registry Services Co.,Ltd.", CLINIC_ORG_EN)
        .replace("Connected (2027/01/31)", &format!("Connected ({})", slashed(expires)))
}

/// The Verisign-style registry answer rewritten to `vendor-example.com`: registrar `registrar`
/// with IANA ID `iana_id`, registered at `registered` (RFC 3339), expiring at `expires`,
/// name servers `nameservers`, `client transfer prohibited`; no link to a registrar's RDAP
/// (so nothing else is asked) and no `secureDNS` (the zone is unsigned).
fn vendor_rdap_answer(registrar: &str, iana_id: &str, registered: &str, expires: &str, nameservers: &[&str]) -> String {
    let mut value: Value = serde_json::from_str(&fixture("rdap/verisign-example-com.json")).expect("fixture is JSON");
    let object = value.as_object_mut().expect("an object");
    object.remove("links");
    object.remove("secureDNS");
    object.insert("ldhName".into(), json!("VENDOR-EXAMPLE.COM"));
    object.insert("handle".into(), json!("9999999_DOMAIN_COM-VRSN"));
    object.insert(
        "entities".into(),
        json!([{
            "objectClassName": "entity",
            "handle": iana_id,
            "roles": ["registrar"],
            "publicIds": [{"type": "IANA Registrar ID", "identifier": iana_id}],
            "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", registrar]]]
        }]),
    );
    object.insert(
        "events".into(),
        json!([
            {"eventAction": "registration", "eventDate": registered},
            {"eventAction": "expiration", "eventDate": expires},
            {"eventAction": "last changed", "eventDate": registered},
        ]),
    );
    object.insert(
        "nameservers".into(),
        Value::Array(
            nameservers.iter().map(|n| json!({"objectClassName": "nameserver", "ldhName": n.to_uppercase()})).collect(),
        ),
    );
    assert!(value["status"].as_array().is_some_and(|s| s.contains(&json!("client transfer prohibited"))));
    value.to_string()
}

/// An RDAP server answering `/rdap/domain/vendor-example.com` with whatever `body` holds
/// at the time of the request.
async fn rdap_server(body: Arc<Mutex<String>>) -> RunningHttpServer {
    HttpServer::new()
        .handler("/rdap/domain/vendor-example.com", move |_| {
            let text = body.lock().map(|b| b.clone()).unwrap_or_default();
            Response::ok("application/rdap+json", text)
        })
        .start()
        .await
        .expect("RDAP server starts")
}

/// An RFC 9224 bootstrap file mapping `com` to `com_base`, and nothing to `jp`.
fn bootstrap(com_base: &str) -> String {
    json!({
        "version": "1.0",
        "publication": "2026-01-01T00:00:00Z",
        "description": "kensa domain_e2e test bootstrap",
        "services": [[["com"], [com_base]]],
    })
    .to_string()
}

/// Files a scan reads.
struct Files {
    dir: TempDir,
    anchor: PathBuf,
    ca: PathBuf,
    bootstrap: PathBuf,
}

fn files(test: &str, world: &DnsWorld, endpoint: &Endpoint, com_base: &str) -> Files {
    assert!(!world.trust_anchor.is_empty(), "the world is signed");
    files_with_anchor(test, &world.trust_anchor, endpoint, com_base)
}

fn files_with_anchor(test: &str, anchor: &str, endpoint: &Endpoint, com_base: &str) -> Files {
    let dir = TempDir::new(test).expect("temp dir");
    let anchor = dir.write("anchor.txt", anchor).expect("write anchor");
    let ca = dir.write("ca.pem", &endpoint.root_pem).expect("write CA");
    let bootstrap = dir.write("dns.json", bootstrap(com_base)).expect("write bootstrap");
    Files { dir, anchor, ca, bootstrap }
}

/// The DS records of the world's top-level zones (`jp.`, `com.`), as a trust-anchor file.
fn tld_ds_anchor(world: &DnsWorld) -> String {
    let lines: Vec<&str> =
        world.ds_records.lines().filter(|l| l.starts_with("jp. ") || l.starts_with("com. ")).collect();
    assert_eq!(lines.len(), 2, "DS of jp. and com.: {}", world.ds_records);
    lines.join("\n") + "\n"
}

/// `scan TARGETS` against `world` with the survey's sources pointed at the loopback servers.
fn scan_args(targets: &[String], world: &DnsWorld, files: &Files, whois: Option<&RunningWhoisServer>) -> Vec<OsString> {
    let mut args = args!["scan"];
    args.extend(targets.iter().map(OsString::from));
    args.extend(args![
        "--resolver",
        world.resolver.to_string(),
        "--authoritative-port",
        world.port.to_string(),
        "--dnssec-anchor",
        &files.anchor,
        "--rdap-bootstrap",
        &files.bootstrap,
        "--ca-file",
        &files.ca,
        "--no-fetch",
        "--no-progress",
        "--mode",
        "minimal",
        "--timeout",
        "2",
    ]);
    if let Some(whois) = whois {
        args.extend(args!["--whois-server", whois.addr().to_string()]);
    }
    args
}

// ---------------------------------------------------------------------------------------
// 1. A .jp service: registration over WHOIS, DNS, CAA, dangling CNAME
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn jp_service_is_surveyed_over_whois_and_dns() {
    let world = jp_world("letsencrypt.org").await;
    let site = endpoint(CLINIC_WWW).await;
    let expires = day_from_today(3 * 365);
    let whois = WhoisServer::new()
        .answer(CLINIC, clinic_whois_answer(expires).into_bytes())
        .start()
        .await
        .expect("WHOIS server starts");
    // The bootstrap covers .com only: .jp is looked up over WHOIS.
    let files = files("domain-e2e-jp", &world, &site, "http://127.0.0.1:9/rdap/");
    let port = site.server.addr.port();
    let targets = vec![format!("{CLINIC_WWW}:{port}"), format!("{CLINIC_OLD}:{port}")];
    let mut json_args = scan_args(&targets, &world, &files, Some(&whois));
    json_args.extend(args!["--lang", "en"]);
    let (run, report) = scan_json(json_args).await;

    // The registration record, as WHOIS gave it.
    let domain = surveyed_domain(&report, CLINIC);
    assert_eq!(domain["role"], "target");
    assert_eq!(domain["public_suffix"], "co.jp");
    let lookups = domain["registration"]["lookups"].as_array().expect("lookups");
    assert_eq!(lookups.len(), 1, "one WHOIS query, no RDAP: {lookups:?}");
    let lookup = &lookups[0];
    assert_eq!(lookup["source"], "whois", "{lookup}");
    assert_eq!(lookup["server"], whois.addr().to_string());
    assert_eq!(lookup["query"], CLINIC);
    assert_eq!(lookup["answer"]["kind"], "found", "{lookup}");
    let record = &lookup["answer"]["record"];
    assert_eq!(record["domain"], CLINIC);
    assert_eq!(record["registrant_organization"], CLINIC_ORG, "{record}");
    assert_eq!(record["nameservers"], json!(["ns1.clinic-example.co.jp", "ns2.clinic-example.co.jp"]));
    assert_eq!(record["expires"].as_u64(), Some(jst_midnight(expires)), "{record}");
    assert_eq!(record["locks"], json!(["AgentChangeLocked"]), "{record}");
    assert_eq!(record["statuses"], json!([format!("Connected ({})", slashed(expires))]), "{record}");
    assert_eq!(record["delegation_signed"], true, "{record}");
    assert_eq!(whois.queries(), vec![CLINIC.to_string()], "WHOIS was asked once, for the registrable domain");

    // DNS facts.
    assert_eq!(domain["dnssec"]["status"], "secure", "{}", domain["dnssec"]);
    assert_eq!(domain["delegation"]["parent_zone"], "jp");

    // The judgements.
    assert_status(&report, "domain.expiry", CLINIC, "pass");
    assert!(
        finding(&report, "domain.expiry", CLINIC)["message"]
            .as_str()
            .is_some_and(|m| m.contains(&format!("{} (JST)", dashed(expires)))),
        "{}",
        digest(&report)
    );
    assert_status(&report, "domain.transfer-lock", CLINIC, "warn");
    assert!(
        finding(&report, "domain.transfer-lock", CLINIC)["message"]
            .as_str()
            .is_some_and(|m| m.contains("AgentChangeLocked")),
        "{}",
        digest(&report)
    );
    assert_status(&report, "domain.ns-consistency", CLINIC, "pass");
    assert_status(&report, "domain.dnssec", CLINIC, "pass");
    assert_status(&report, "domain.caa", CLINIC_WWW, "pass");
    assert_status(&report, "cert.caa", &label(CLINIC_WWW, &site.server), "pass");
    let caa = finding(&report, "cert.caa", &label(CLINIC_WWW, &site.server));
    assert!(caa["message"].as_str().is_some_and(|m| m.contains("letsencrypt.org")), "{caa}");
    assert_status(&report, "domain.dangling", CLINIC_WWW, "pass");
    assert_status(&report, "domain.dangling", CLINIC_OLD, "fail");
    let dangling = finding(&report, "domain.dangling", CLINIC_OLD);
    assert!(dangling["message"].as_str().is_some_and(|m| m.contains("gone.clinic-example.co.jp")), "{dangling}");
    // No baseline, so no drift findings.
    assert!(
        report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .all(|f| !f["check_id"].as_str().unwrap_or_default().starts_with("drift.")),
        "{}",
        digest(&report)
    );
    assert_eq!(item_status(&report, ITEM), "non_compliant", "{}", digest(&report));
    assert_eq!(run.code, 1, "{}", digest(&report));

    // The terminal report in Japanese has the domain section.
    let mut text_args = scan_args(&targets, &world, &files, Some(&whois));
    text_args.extend(args!["--lang", "ja"]);
    let text = kensa(text_args).await;
    assert_eq!(text.code, 1, "{}\n{}", text.stdout, text.stderr);
    for needle in ["== ドメイン ==", CLINIC, CLINIC_ORG, "DNSSEC", "AgentChangeLocked", "WHOIS"] {
        assert!(text.stdout.contains(needle), "the text report lacks {needle:?}:\n{}", text.stdout);
    }
    drop(files.dir);
    world.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// 2. CAA that forbids the CA which issued the served certificate
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn caa_forbidding_the_served_issuer_fails() {
    let world = jp_world("digicert.com").await;
    let site = endpoint(CLINIC_WWW).await;
    let whois = WhoisServer::new()
        .answer(CLINIC, clinic_whois_answer(day_from_today(3 * 365)).into_bytes())
        .start()
        .await
        .expect("WHOIS server starts");
    let files = files("domain-e2e-caa", &world, &site, "http://127.0.0.1:9/rdap/");
    let port = site.server.addr.port();
    let mut args = scan_args(&[format!("{CLINIC_WWW}:{port}")], &world, &files, Some(&whois));
    args.extend(args!["--lang", "en"]);
    let (run, report) = scan_json(args).await;

    // Records exist, so domain.caa passes; they name another CA than the one that issued.
    assert_status(&report, "domain.caa", CLINIC_WWW, "pass");
    let endpoint = label(CLINIC_WWW, &site.server);
    assert_status(&report, "cert.caa", &endpoint, "fail");
    let message = finding(&report, "cert.caa", &endpoint)["message"].as_str().unwrap_or_default().to_string();
    for needle in ["Let's Encrypt", "letsencrypt.org", "digicert.com"] {
        assert!(message.contains(needle), "cert.caa should name {needle:?}: {message}");
    }
    // cert.caa feeds 2-1.xii as well, with the same verdict.
    for f in findings_of(&report, "cert.caa", &endpoint) {
        assert_eq!(f["status"], "fail", "{f}");
    }
    assert_eq!(item_status(&report, ITEM), "non_compliant", "{}", digest(&report));
    assert_eq!(run.code, 1);
    world.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// 3. A .com service over RDAP, then drift against the first scan
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn com_service_over_rdap_and_drift_since_the_baseline() {
    let site = endpoint(VENDOR_WWW).await;
    let expires = format!("{}T04:00:00Z", dashed(day_from_today(3 * 365)));
    let body = Arc::new(Mutex::new(vendor_rdap_answer(
        "Registrar One",
        "1111",
        "2015-04-01T00:00:00Z",
        &expires,
        &["ns1.vendor-example.com", "ns2.vendor-example.com"],
    )));
    let rdap = rdap_server(body.clone()).await;
    let base = rdap.url("/rdap/");
    let target = vec![format!("{VENDOR_WWW}:{}", site.server.addr.port())];
    let endpoint_label = label(VENDOR_WWW, &site.server);

    // Scan 1: ns1+ns2, Registrar One, registered 2015.
    let world = com_world("ns2").await;
    let first = files("domain-e2e-drift-1", &world, &site, &base);
    let baseline = first.dir.path().join("report1.json");
    let mut args = scan_args(&target, &world, &first, None);
    args.extend(args!["--lang", "en", "--format", "json", "-o", &baseline]);
    let run = kensa(args).await;
    assert!(run.stdout.is_empty(), "the report goes to the file: {}", run.stdout);
    let text = std::fs::read_to_string(&baseline).expect("the report file was written");
    let report: Value = serde_json::from_str(&text).expect("the report file is JSON");
    assert_eq!(report["exit_code"], Value::from(run.code));

    let domain = surveyed_domain(&report, VENDOR);
    let lookups = domain["registration"]["lookups"].as_array().expect("lookups");
    assert_eq!(lookups.len(), 1, "{lookups:?}");
    assert_eq!(lookups[0]["source"], "rdap");
    assert_eq!(lookups[0]["query"], format!("{base}domain/{VENDOR}"));
    let record = &lookups[0]["answer"]["record"];
    assert_eq!(record["registrar"], "Registrar One", "{record}");
    assert_eq!(record["registrar_iana_id"], "1111", "{record}");
    assert_eq!(record["created"].as_u64(), Some(1_427_846_400), "2015-04-01T00:00:00Z: {record}");
    assert_eq!(record["nameservers"], json!(["ns1.vendor-example.com", "ns2.vendor-example.com"]));
    assert_eq!(rdap.requests(), 1, "one RDAP request, no registrar referral");
    assert_status(&report, "domain.expiry", VENDOR, "pass");
    assert_status(&report, "domain.transfer-lock", VENDOR, "pass");
    assert_status(&report, "domain.ns-consistency", VENDOR, "pass");
    assert_status(&report, "domain.dnssec", VENDOR, "info");
    assert_eq!(domain["dnssec"]["status"], "insecure", "{}", domain["dnssec"]);
    assert_status(&report, "domain.caa", VENDOR_WWW, "pass");
    assert_status(&report, "domain.dangling", VENDOR_WWW, "pass");
    assert_status(&report, "cert.caa", &endpoint_label, "pass");
    world.shutdown().await;

    // Scan 2: the parent now delegates to ns1+ns3, the registry names Registrar Two and a new
    // registration date: the domain was transferred, deleted and registered again.
    *body.lock().expect("lock") = vendor_rdap_answer(
        "Registrar Two",
        "2222",
        "2026-10-01T00:00:00Z",
        &expires,
        &["ns1.vendor-example.com", "ns3.vendor-example.com"],
    );
    let world = com_world("ns3").await;
    let second = files("domain-e2e-drift-2", &world, &site, &base);
    let mut args = scan_args(&target, &world, &second, None);
    args.extend(args!["--lang", "en", "--baseline", &baseline]);
    let (run, report) = scan_json(args).await;

    let registrar = finding(&report, "drift.registrar", VENDOR);
    assert_eq!(registrar["status"], "fail", "{}", digest(&report));
    assert_eq!(registrar["evidence"]["before"], "Registrar One (IANA 1111)", "{registrar}");
    assert_eq!(registrar["evidence"]["after"], "Registrar Two (IANA 2222)", "{registrar}");

    let reregistration = finding(&report, "drift.reregistration", VENDOR);
    assert_eq!(reregistration["status"], "fail", "{}", digest(&report));
    assert!(
        reregistration["evidence"]["before"].as_str().is_some_and(|d| d.starts_with("2015-04-01")),
        "{reregistration}"
    );
    assert!(
        reregistration["evidence"]["after"].as_str().is_some_and(|d| d.starts_with("2026-10-01")),
        "{reregistration}"
    );

    let nameservers = finding(&report, "drift.nameservers", VENDOR);
    assert_eq!(nameservers["status"], "warn", "{}", digest(&report));
    assert_eq!(nameservers["evidence"]["before"], "ns1.vendor-example.com, ns2.vendor-example.com", "{nameservers}");
    assert_eq!(nameservers["evidence"]["after"], "ns1.vendor-example.com, ns3.vendor-example.com", "{nameservers}");

    // Three distinct findings, not one merged "something changed".
    for (a, b) in [(registrar, reregistration), (registrar, nameservers), (reregistration, nameservers)] {
        assert_ne!(a["message"], b["message"]);
    }
    assert_status(&report, "drift.dnssec", VENDOR, "pass");
    // Whatever drift.registrant says (RDAP gave no registrant either time), it is one finding.
    finding(&report, "drift.registrant", VENDOR);
    for check in ["drift.certificate", "drift.protocols"] {
        let found = findings_of(&report, check, &endpoint_label);
        assert!(!found.is_empty(), "{check} on {endpoint_label}\n{}", digest(&report));
        for f in found {
            assert!(f["status"] == "pass" || f["status"] == "info", "{check}: {f}");
        }
    }
    // The NS change also shows now in the delegation itself, which is consistent.
    assert_status(&report, "domain.ns-consistency", VENDOR, "pass");
    assert_eq!(item_status(&report, ITEM), "non_compliant", "{}", digest(&report));
    assert_eq!(run.code, 1, "{}", digest(&report));
    assert!(report["evidence"]["baseline"].is_object(), "the baseline snapshot is kept in the evidence");
    world.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// 4. Hostile registries: a WHOIS tarpit and RDAP answering something that is not JSON
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn hostile_registries_end_as_indeterminate_within_the_timeout() {
    // The .jp domain goes to the WHOIS tarpit (the bootstrap has no .jp entry); the .com
    // domain to an RDAP server whose 200 answer is not JSON.
    let site = endpoint_for(&[CLINIC_WWW, VENDOR_WWW]).await;
    let garbage = "{\"objectClassName\": \"domain\", ldhName: VENDOR-EXAMPLE.COM";
    let rdap = rdap_server(Arc::new(Mutex::new(garbage.to_string()))).await;
    let whois = WhoisServer::new().hostile(Hostile::Tarpit).start().await.expect("WHOIS tarpit starts");
    let world = jp_and_com_world().await;
    let files = files_with_anchor("domain-e2e-hostile", &tld_ds_anchor(&world), &site, &rdap.url("/rdap/"));
    let port = site.server.addr.port();
    let targets = vec![format!("{CLINIC_WWW}:{port}"), format!("{VENDOR_WWW}:{port}")];
    let mut args = scan_args(&targets, &world, &files, Some(&whois));
    args.extend(args!["--lang", "en"]);
    let (run, report) = scan_json(args).await;

    // It returned (RUN_LIMIT did not fire); a generous bound, not a timing test.
    assert!(run.elapsed < Duration::from_secs(30), "{:?}", run.elapsed);

    // The tarpit: one WHOIS query that failed at the deadline, and a message that says so.
    let lookups = surveyed_domain(&report, CLINIC)["registration"]["lookups"].as_array().expect("lookups").clone();
    assert_eq!(lookups.len(), 1, "{lookups:?}");
    assert_eq!(lookups[0]["source"], "whois");
    assert_eq!(lookups[0]["answer"]["kind"], "failed", "{}", lookups[0]);
    assert!(whois.queries().contains(&CLINIC.to_string()), "{:?}", whois.queries());
    let expiry = finding(&report, "domain.expiry", CLINIC);
    assert_eq!(expiry["status"], "indeterminate", "{}", digest(&report));
    let message = expiry["message"].as_str().unwrap_or_default();
    assert!(message.contains(CLINIC) && message.contains("could not be obtained"), "{message}");
    assert!(message.contains(&whois.addr().to_string()), "the message names the silent server: {message}");
    assert_status(&report, "domain.transfer-lock", CLINIC, "indeterminate");

    // The garbage: an unparsed RDAP answer whose raw text is kept.
    let lookups = surveyed_domain(&report, VENDOR)["registration"]["lookups"].as_array().expect("lookups").clone();
    assert_eq!(lookups[0]["source"], "rdap", "{lookups:?}");
    assert_eq!(lookups[0]["answer"]["kind"], "unparsed", "{}", lookups[0]);
    assert!(lookups[0]["answer"]["reason"].as_str().is_some_and(|r| r.contains("invalid JSON")), "{}", lookups[0]);
    assert_eq!(lookups[0]["answer"]["raw"], garbage, "{}", lookups[0]);
    let expiry = finding(&report, "domain.expiry", VENDOR);
    assert_eq!(expiry["status"], "indeterminate", "{}", digest(&report));
    let message = expiry["message"].as_str().unwrap_or_default();
    assert!(message.contains("could not be read") || message.contains("could not be obtained"), "{message}");
    assert_status(&report, "domain.transfer-lock", VENDOR, "indeterminate");

    // The DNS side still answered for both.
    assert_status(&report, "domain.ns-consistency", CLINIC, "pass");
    assert_status(&report, "domain.ns-consistency", VENDOR, "pass");
    assert_status(&report, "domain.dnssec", CLINIC, "pass");
    assert_status(&report, "domain.dnssec", VENDOR, "info");
    assert_eq!(item_status(&report, ITEM), "indeterminate", "{}", digest(&report));
    assert_eq!(run.code, 3, "{}", digest(&report));
    world.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// 5. --no-domain
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn no_domain_skips_the_survey() {
    let world = jp_world("letsencrypt.org").await;
    let site = endpoint(CLINIC_WWW).await;
    let dir = TempDir::new("domain-e2e-none").expect("temp dir");
    let ca = dir.write("ca.pem", &site.root_pem).expect("write CA");
    let args = args![
        "scan",
        format!("{CLINIC_WWW}:{}", site.server.addr.port()),
        "--resolver",
        world.resolver.to_string(),
        "--no-domain",
        "--ca-file",
        &ca,
        "--no-fetch",
        "--mode",
        "minimal",
        "--timeout",
        "2",
        "--lang",
        "en",
    ];
    let (_run, report) = scan_json(args).await;
    assert!(report["evidence"]["domains"].is_null(), "{}", report["evidence"]["domains"]);
    let findings = report["findings"].as_array().expect("findings");
    assert!(!findings.is_empty());
    for f in findings {
        let check = f["check_id"].as_str().unwrap_or_default();
        assert!(!check.starts_with("domain.") && !check.starts_with("drift."), "{f}");
        if check == "cert.caa" {
            assert_eq!(f["status"], "info", "{f}");
        }
    }
    assert_eq!(item_status(&report, ITEM), "declaration_needed", "{}", digest(&report));
    world.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// 6. Registry dates in the terminal report
// ---------------------------------------------------------------------------------------

/// JPRS gives days in Japan time (`[状態] Connected (2029/11/22)`, `[登録年月日] 2001/01/22`);
/// the terminal report should show those days, not the day before.
#[tokio::test(flavor = "multi_thread")]
async fn jp_registry_dates_are_shown_as_the_registry_gives_them() {
    let world = jp_world("letsencrypt.org").await;
    let site = endpoint(CLINIC_WWW).await;
    let expires = day_from_today(3 * 365);
    let whois = WhoisServer::new()
        .answer(CLINIC, clinic_whois_answer(expires).into_bytes())
        .start()
        .await
        .expect("WHOIS server starts");
    let files = files("domain-e2e-dates", &world, &site, "http://127.0.0.1:9/rdap/");
    let mut args = scan_args(&[format!("{CLINIC_WWW}:{}", site.server.addr.port())], &world, &files, Some(&whois));
    args.extend(args!["--lang", "en"]);
    let run = kensa(args).await;
    let line = run
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("registration:"))
        .unwrap_or_else(|| panic!("no registration line:\n{}", run.stdout))
        .to_string();
    assert!(line.contains(&format!("expires {}", dashed(expires))), "JPRS says {}: {line}", slashed(expires));
    assert!(line.contains("created 2001-01-22"), "JPRS says [登録年月日] 2001/01/22: {line}");
    world.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// 7. A domain no configured trust anchor covers
// ---------------------------------------------------------------------------------------

/// With `--dnssec-anchor` holding the key of `jp.` only, nothing can be said about the DNSSEC
/// of a .com domain: RFC 4035 §4.3 calls that indeterminate, not bogus, and it must not
/// make 2-1.xv non-compliant.
#[tokio::test(flavor = "multi_thread")]
async fn a_domain_outside_the_trust_anchor_is_not_bogus() {
    let site = endpoint(VENDOR_WWW).await;
    let world = jp_and_com_world().await;
    assert!(world.trust_anchor.starts_with("jp. "), "{}", world.trust_anchor);
    let rdap = rdap_server(Arc::new(Mutex::new(vendor_rdap_answer(
        "Registrar One",
        "1111",
        "2015-04-01T00:00:00Z",
        &format!("{}T04:00:00Z", dashed(day_from_today(3 * 365))),
        &["ns1.vendor-example.com", "ns2.vendor-example.com"],
    ))))
    .await;
    let files = files("domain-e2e-outside-anchor", &world, &site, &rdap.url("/rdap/"));
    let mut args = scan_args(&[format!("{VENDOR_WWW}:{}", site.server.addr.port())], &world, &files, None);
    args.extend(args!["--lang", "en"]);
    let (_run, report) = scan_json(args).await;
    let dnssec = finding(&report, "domain.dnssec", VENDOR);
    assert_eq!(dnssec["status"], "indeterminate", "{}", digest(&report));
    world.shutdown().await;
}
