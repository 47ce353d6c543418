//! The certification package end to end, as the issue's "done when" puts it: one command
//! produces, for the demo service and for a manifest of local endpoints, a Japanese HTML
//! report covering every item, JUnit and SARIF files, and an evidence bundle that `kensa
//! verify` confirms and that detects tampering.

#[macro_use]
mod common;

use std::path::Path;

use common::{kensa, kensa_with_env, Run};
use kensa::profile::Profile;
use kensa::testkit::http::{HttpServer, Response};
use kensa::testkit::{TempDir, TestCa, Validity};
use serde_json::Value;

const FORMATS: &str = "html,junit,sarif,json,csv,md,text";

/// Checks what one `--format … --out-dir DIR --evidence DIR/bundle` run wrote.
async fn assert_package(out: &Path, run: &Run) {
    let html = std::fs::read_to_string(out.join("kensa-report.html")).expect("HTML report");
    let profile = Profile::embedded();
    for item in &profile.items {
        assert!(
            html.contains(&format!("data-item=\"{}\"", item.id)),
            "item {} missing from the summary table",
            item.id
        );
    }
    assert!(html.contains("<html lang=\"ja\""), "Japanese by default");
    assert!(html.contains("不適合"));
    // The report names the bundle it belongs to.
    let manifest = std::fs::read(out.join("bundle/manifest.json")).expect("bundle manifest");
    let digest = kensa::bundle::sha256_hex(&manifest);
    assert!(html.contains(&digest), "the HTML names the bundle digest {digest}");
    assert!(run.stderr.contains(&digest), "{}", run.stderr);
    let json: Value = serde_json::from_slice(&std::fs::read(out.join("kensa-report.json")).unwrap()).unwrap();
    assert_eq!(json["evidence_bundle_sha256"], digest.as_str());

    let junit = std::fs::read_to_string(out.join("kensa-junit.xml")).unwrap();
    assert!(junit.starts_with("<?xml"), "{junit:.200}");
    assert!(junit.contains("<failure"), "a 不適合 item is a failure");
    assert!(junit.contains("<skipped"), "a 申告待ち item is skipped");
    let sarif: Value = serde_json::from_slice(&std::fs::read(out.join("kensa-report.sarif")).unwrap()).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    assert!(sarif["runs"][0]["results"].as_array().is_some_and(|r| r.iter().any(|r| r["level"] == "error")));
    for file in ["kensa-findings.csv", "kensa-report.md", "kensa-report.txt"] {
        assert!(out.join(file).is_file(), "{file}");
    }

    // The bundle verifies …
    let bundle = out.join("bundle");
    let verified = kensa(args!["verify", &bundle]).await;
    assert_eq!(verified.code, 0, "{}\n{}", verified.stdout, verified.stderr);
    assert!(verified.stdout.contains("verified"), "{}", verified.stdout);
    let in_japanese = kensa_with_env(args!["verify", &bundle], &[("LANG", "ja_JP.UTF-8")]).await;
    assert!(in_japanese.stdout.contains("検証済み"), "{}", in_japanese.stdout);

    // … and one changed byte anywhere is found and named.
    let evidence = bundle.join("evidence.json");
    let mut bytes = std::fs::read(&evidence).unwrap();
    let at = bytes.iter().position(|b| *b == b'1').expect("a digit to change");
    bytes[at] = b'2';
    std::fs::write(&evidence, bytes).unwrap();
    let tampered = kensa(args!["verify", &bundle]).await;
    assert_eq!(tampered.code, 1, "{}", tampered.stdout);
    assert!(tampered.stdout.contains("evidence.json"), "{}", tampered.stdout);

    let missing = kensa(args!["verify", out.join("no-such-bundle")]).await;
    assert_eq!(missing.code, 2, "{}", missing.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_service_produces_the_whole_package() {
    let dir = TempDir::new("package-demo").unwrap();
    let out = dir.path().join("out");
    let run = kensa_with_env(
        args!["demo", "--format", FORMATS, "--out-dir", &out, "--evidence", out.join("bundle")],
        &[("LANG", "ja_JP.UTF-8")],
    )
    .await;
    assert_eq!(run.code, 0, "every demo expectation holds\n{}", run.stderr);
    assert_package(&out, &run).await;
    let text = std::fs::read_to_string(out.join("kensa-report.txt")).unwrap();
    assert!(text.contains("デモ: 期待値と検査結果"), "the demo's comparison goes with the text report");
    let html = std::fs::read_to_string(out.join("kensa-report.html")).unwrap();
    for shown in ["（デモ）ネットワーク設計書 4.3 IDS", "strict-transport-security", "kensa デモ診療サービス"]
    {
        assert!(html.contains(shown), "{shown}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manifest_of_local_endpoints_produces_the_whole_package() {
    let dir = TempDir::new("package-manifest").unwrap();
    let ca = TestCa::new("kensa package CA").unwrap();
    let ca_file = dir.write("ca.pem", ca.certificate_pem()).unwrap();
    let mut page = Response::ok("text/html", "<!doctype html><title>app</title>");
    page.headers = vec![("strict-transport-security".into(), "max-age=31536000; includeSubDomains; preload".into())];
    let app = HttpServer::new()
        .route("/", page)
        .start_tls(ca.issue(&["app.clinic.test"], Validity::CURRENT).unwrap())
        .await
        .unwrap();
    let app_port = app.addr.port();
    let plain = HttpServer::new()
        .route("/", Response::redirect(301, &format!("https://app.clinic.test:{app_port}/")))
        .start()
        .await
        .unwrap();
    let expired = HttpServer::new()
        .route("/", Response::ok("text/html", "x"))
        .start_tls(ca.issue(&["doctor.clinic.test"], Validity::EXPIRED).unwrap())
        .await
        .unwrap();
    let doctor_port = expired.addr.port();
    let declarations = dir
        .write(
            "declarations.toml",
            "[[declaration]]\nitem = \"2-1.viii\"\nstatus = \"実施\"\nreference = \"ネットワーク設計書 4.3\"\n\
             declared_by = \"テスト\"\ndeclared_on = 2026-11-20\n",
        )
        .unwrap();
    let manifest = dir
        .write(
            "kensa.toml",
            format!(
                "[service]\nname = \"テスト診療\"\nvendor = \"テスト株式会社\"\naffects_clinic_systems = false\n\
                 declarations = \"declarations.toml\"\n\n\
                 [[endpoints]]\nrole = \"patient-web\"\nurl = \"https://app.clinic.test:{app_port}/\"\npatient_facing = true\n\
                 http_port = {}\n\n\
                 [[endpoints]]\nrole = \"api\"\nurl = \"https://doctor.clinic.test:{doctor_port}/\"\npatient_facing = false\n",
                plain.addr.port()
            ),
        )
        .unwrap();
    assert!(declarations.is_file());
    let out = dir.path().join("out");
    let run = kensa_with_env(
        args![
            "scan",
            "--manifest",
            &manifest,
            "--ca-file",
            &ca_file,
            "--resolve",
            format!("app.clinic.test:{app_port}:127.0.0.1"),
            "--resolve",
            format!("app.clinic.test:{}:127.0.0.1", plain.addr.port()),
            "--resolve",
            format!("doctor.clinic.test:{doctor_port}:127.0.0.1"),
            "--no-domain",
            "--timeout",
            "5",
            "--format",
            FORMATS,
            "--out-dir",
            &out,
            "--evidence",
            out.join("bundle"),
        ],
        &[("LANG", "ja_JP.UTF-8")],
    )
    .await;
    assert_eq!(run.code, 1, "the expired certificate is 不適合\n{}", run.stderr);
    assert_package(&out, &run).await;
    let report: Value = serde_json::from_slice(&std::fs::read(out.join("kensa-report.json")).unwrap()).unwrap();
    let declared = report["items"].as_array().unwrap().iter().find(|i| i["id"] == "2-1.viii").unwrap();
    assert_eq!((declared["status"].as_str(), declared["basis"].as_str()), (Some("compliant"), Some("declared")));
    // The plain-HTTP port came from the manifest: the redirect was followed and passed.
    let redirect = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check_id"] == "http.redirect" && f["endpoint"].as_str().unwrap().starts_with("app.clinic.test"))
        .expect("http.redirect on the patient app");
    assert_eq!(redirect["status"], "pass", "{redirect}");
    assert!(plain.requests() >= 1);
}
