//! The service manifest and declarations end to end: `kensa init`, `kensa declare init`,
//! `kensa scan --manifest` against loopback endpoints (one of them unreachable), the
//! declaration merge as the report shows it, and manifest errors as the user sees them.

#[macro_use]
mod common;

use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};

use common::{kensa, Run};
use kensa::testkit::{spawn_tls_server, RunningServer, TempDir, TestCa, Validity};
use rustls::version::{TLS12, TLS13};
use serde_json::Value;

/// A manifest of loopback endpoints and what the test needs to scan it.
struct Lab {
    dir: TempDir,
    manifest: PathBuf,
    ca_file: PathBuf,
    /// `--resolve` pins for every manifest host.
    pins: Vec<String>,
    _servers: Vec<RunningServer>,
    /// The port nothing listens on (the unreachable endpoint).
    closed_port: u16,
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("pick a free port").port()
}

/// A patient web app (good certificate), a clinician app (expired certificate), and an
/// API endpoint nobody listens on.
async fn lab(test: &str, affects_clinic_systems: bool, declarations: Option<&str>) -> Lab {
    let ca = TestCa::new("kensa manifest CA").expect("test CA");
    let dir = TempDir::new(test).expect("temp dir");
    let ca_file = dir.write("ca.pem", ca.certificate_pem()).expect("write CA");
    let good = spawn_tls_server(ca.issue(&["app.clinic.test"], Validity::CURRENT).unwrap(), &[&TLS13, &TLS12])
        .await
        .expect("start server");
    let expired = spawn_tls_server(ca.issue(&["doctor.clinic.test"], Validity::EXPIRED).unwrap(), &[&TLS13, &TLS12])
        .await
        .expect("start server");
    let closed_port = free_port();
    let (good_port, expired_port) = (good.addr.port(), expired.addr.port());
    let declarations_line = declarations.map(|file| format!("declarations = \"{file}\"\n")).unwrap_or_default();
    let text = format!(
        "[service]\nname = \"テスト診療\"\nvendor = \"テスト株式会社\"\naffects_clinic_systems = {affects_clinic_systems}\n\
         {declarations_line}\n\
         [[endpoints]]\nrole = \"patient-web\"\nurl = \"https://app.clinic.test:{good_port}/\"\npatient_facing = true\n\n\
         [[endpoints]]\nrole = \"clinician-web\"\nurl = \"https://doctor.clinic.test:{expired_port}/login\"\npatient_facing = false\n\n\
         [[endpoints]]\nrole = \"api\"\nurl = \"https://api.clinic.test:{closed_port}/\"\npatient_facing = true\n"
    );
    let manifest = dir.write("kensa.toml", text).expect("write manifest");
    let pins = vec![
        format!("app.clinic.test:{good_port}:127.0.0.1"),
        format!("doctor.clinic.test:{expired_port}:127.0.0.1"),
        format!("api.clinic.test:{closed_port}:127.0.0.1"),
    ];
    Lab { dir, manifest, ca_file, pins, _servers: vec![good, expired], closed_port }
}

impl Lab {
    async fn scan(&self, extra: &[&str]) -> Run {
        let mut args = args!["scan", "--manifest", &self.manifest, "--ca-file", &self.ca_file, "--timeout", "3"];
        for pin in &self.pins {
            args.extend(args!["--resolve", pin]);
        }
        args.extend(args!["--no-domain", "--lang", "en"]);
        args.extend(extra.iter().map(std::ffi::OsString::from));
        kensa(args).await
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

fn item<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["items"]
        .as_array()
        .and_then(|items| items.iter().find(|i| i["id"] == id))
        .unwrap_or_else(|| panic!("item {id} missing from the report"))
}

const DECLARATIONS: &str = "\
[[declaration]]
item = \"2-1.v\"
status = \"実施\"
reference = \"情報セキュリティ基本方針 第4章\"
declared_by = \"山田 太郎（情報セキュリティ責任者）\"
declared_on = 2026-11-20

[[declaration]]
item = \"2-1.ix\"
status = \"未実施\"
declared_by = \"山田 太郎\"
declared_on = 2026-11-20

[[declaration]]
item = \"2-1.xii\"
status = \"実施\"
reference = \"TLS設定書\"
declared_by = \"山田 太郎\"
declared_on = 2026-11-20
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manifest_scan_covers_every_endpoint_and_lists_the_unreachable_one() {
    let lab = lab("manifest-scan", false, None).await;
    let run = lab.scan(&["--format", "json"]).await;
    let report = run.json();
    assert_eq!(run.code, 1, "the expired clinician app is non-compliant\n{}", run.stderr);
    assert_eq!(report["profile"]["id"], "mhlw-online-2023");
    let service = &report["evidence"]["service"];
    assert_eq!(service["name"], "テスト診療");
    let gaps = service["coverage_gaps"].as_array().expect("coverage gaps");
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    assert_eq!(gaps[0]["role"], "api");
    assert!(gaps[0]["endpoint"].as_str().unwrap().contains(&lab.closed_port.to_string()));
    assert!(run.stderr.contains("coverage gap"), "{}", run.stderr);
    let targets = report["evidence"]["targets"].as_array().unwrap();
    let roles: Vec<&str> = targets.iter().map(|t| t["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["patient-web", "clinician-web", "api"]);
    assert_eq!(targets[1]["path"], "/login");
    // Patient-facing comes from the manifest: the patient app's endpoint is marked, the
    // clinician app's is not.
    assert_eq!(targets[0]["endpoints"][0]["patient_facing"], true);
    assert_ne!(targets[1]["endpoints"][0]["patient_facing"], true);

    let text = lab.scan(&[]).await;
    assert!(text.stdout.contains("Coverage gaps"), "{}", text.stdout);
    assert!(text.stdout.contains("Service: テスト診療 — テスト株式会社"), "{}", text.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declarations_merge_but_never_override_a_measured_failure() {
    let lab = lab("manifest-declarations", false, Some("declarations.toml")).await;
    lab.dir.write("declarations.toml", DECLARATIONS).unwrap();
    let report = lab.scan(&["--format", "json"]).await.json();
    let declared = item(&report, "2-1.v");
    assert_eq!((declared["status"].as_str(), declared["basis"].as_str()), (Some("compliant"), Some("declared")));
    assert_eq!(declared["declaration"]["reference"], "情報セキュリティ基本方針 第4章");
    assert_eq!(item(&report, "2-1.ix")["status"], "non_compliant");
    let probed = item(&report, "2-1.xii");
    assert_eq!((probed["status"].as_str(), probed["basis"].as_str()), (Some("non_compliant"), Some("measured")));
    assert_eq!(probed["declaration"]["state"], "implemented", "the declaration is still shown");
    assert_eq!(item(&report, "2-1.vii")["status"], "declaration_needed", "undeclared items wait");

    // --declarations overrides the manifest's file.
    lab.dir.write("other.toml", "").unwrap();
    let other = lab.scan(&["--format", "json", "--declarations", lab.path("other.toml").to_str().unwrap()]).await;
    assert_eq!(item(&other.json(), "2-1.v")["status"], "declaration_needed");

    // The text report shows the declaration with its reference.
    let text = lab.scan(&[]).await.stdout;
    assert!(text.contains("Declared: implemented — 情報セキュリティ基本方針 第4章"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_system_that_can_affect_clinic_systems_is_judged_by_the_strict_profile() {
    let lab = lab("manifest-strict", true, None).await;
    let report = lab.scan(&["--format", "json"]).await.json();
    assert_eq!(report["profile"]["id"], "mhlw-online-2023-high");
    let explicit = lab.scan(&["--format", "json", "--profile", "mhlw-online-2023"]).await;
    assert_eq!(explicit.json()["profile"]["id"], "mhlw-online-2023");
    assert!(explicit.stderr.contains("calls for mhlw-online-2023-high"), "{}", explicit.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_formats_go_to_an_output_directory() {
    let lab = lab("manifest-formats", false, None).await;
    let out = lab.path("out");
    let run = lab.scan(&["--format", "text,json", "--out-dir", out.to_str().unwrap()]).await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stdout.is_empty());
    let json: Value = serde_json::from_slice(&std::fs::read(out.join("kensa-report.json")).unwrap()).unwrap();
    assert_eq!(json["exit_code"], 1);
    assert!(std::fs::read_to_string(out.join("kensa-report.txt")).unwrap().contains("2-1.xii"));
    let refused = kensa(args!["scan", "example.jp", "--format", "text,json"]).await;
    assert_eq!(refused.code, 2);
    assert!(refused.stderr.contains("need --out-dir"), "{}", refused.stderr);
}

/// Writes a manifest and returns what scanning it says.
async fn manifest_error(dir: &TempDir, text: &str) -> String {
    let path = dir.write("bad.toml", text).unwrap();
    let run = kensa(args!["scan", "--manifest", &path, "--no-domain", "--timeout", "1"]).await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    run.stderr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifest_errors_name_the_line() {
    let dir = TempDir::new("manifest-errors").unwrap();
    let head = "[service]\nname = \"S\"\nvendor = \"V\"\naffects_clinic_systems = false\n\n";
    let endpoint =
        |role: &str, url: &str| format!("[[endpoints]]\nrole = \"{role}\"\nurl = \"{url}\"\npatient_facing = true\n");
    let unknown_role = manifest_error(&dir, &format!("{head}{}", endpoint("database", "https://db.example.jp/"))).await;
    assert!(unknown_role.contains("bad.toml:7: unknown role \"database\""), "{unknown_role}");
    let duplicate = format!(
        "{head}{}\n{}",
        endpoint("api", "https://a.example.jp/"),
        endpoint("auth", "https://A.example.jp:443/")
    );
    let duplicate = manifest_error(&dir, &duplicate).await;
    assert!(duplicate.contains("bad.toml:13: duplicate endpoint"), "{duplicate}");
    assert!(duplicate.contains("line 6"), "{duplicate}");
    let bad_toml = manifest_error(&dir, &format!("{head}[[endpoints]]\nrole = api\n")).await;
    assert!(bad_toml.contains("bad.toml:7:"), "{bad_toml}");
    let missing = kensa(args!["scan", "--manifest", dir.path().join("nope.toml")]).await;
    assert_eq!(missing.code, 2);
    assert!(missing.stderr.contains("nope.toml"), "{}", missing.stderr);
    let bad_declarations = dir.write("d.toml", "[[declaration]]\nitem = \"2-1.v\"\nstatus = \"yes\"\n").unwrap();
    let run = kensa(args!["scan", "example.jp", "--declarations", &bad_declarations]).await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("d.toml:3: status \"yes\""), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn templates_are_written_once_and_load_back() {
    let dir = TempDir::new("manifest-templates").unwrap();
    let manifest = dir.path().join("kensa.toml");
    let declarations = dir.path().join("declarations.toml");
    assert_eq!(kensa(args!["init", "-o", &manifest]).await.code, 0);
    let again = kensa(args!["init", "-o", &manifest]).await;
    assert_eq!(again.code, 2);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
    assert_eq!(kensa(args!["init", "-o", &manifest, "--force"]).await.code, 0);
    assert_eq!(kensa(args!["declare", "init", "-o", &declarations]).await.code, 0);
    let template = std::fs::read_to_string(&declarations).unwrap();
    assert!(template.contains("item = \"2-1.v\""));
    assert!(template.contains("クラウドサービス") || template.contains("（＊）"));
    // The blank template declares nothing: recheck of a fixture with it changes no item.
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/evidence/compliant-tls12-tls13.json");
    let plain = kensa(args!["recheck", &fixture, "--format", "json"]).await.json();
    let with = kensa(args!["recheck", &fixture, "--format", "json", "--declarations", &declarations]).await.json();
    assert_eq!(plain["items"], with["items"]);
}
