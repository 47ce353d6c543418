//! Evidence bundles through the library: a bundle written from recorded evidence (a real
//! OpenSSL endpoint from `fixtures/evidence/`, plus a domain survey with real registry
//! answers from `fixtures/rdap/` and `fixtures/whois/`) verifies, and every kind of tampering
//! is caught and named.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use kensa::bundle::{self, BundleDeclarations, BundleError, BundleInput, Discrepancy, FileStatus, Verification};
use kensa::declaration::Declarations;
use kensa::evidence::domain::{
    CaaEvidence, DelegationEvidence, DnsOutcome, DnssecEvidence, DnssecStatus, DomainEvidence, DomainRole,
    DomainSurvey, HostDnsEvidence, HostTerminal, LookupAnswer, NsAnswer, RegistrationEvidence, RegistrationLookup,
    RegistrationRecord, RegistrationSource,
};
use kensa::evidence::{Bytes, Fetch, FetchOutcome, FetchPurpose, ScanEvidence};
use kensa::i18n::Lang;
use kensa::profile::Profile;
use kensa::testkit::TempDir;
use kensa::verdict::{Assessment, JudgingOptions};
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn ip(text: &str) -> IpAddr {
    text.parse().expect("IP address")
}

/// The recorded OpenSSL endpoint (TLS 1.0 to 1.3, seventy hand-built hellos), with an AIA
/// fetch and a domain survey added.
fn evidence() -> ScanEvidence {
    let text = std::fs::read_to_string(root().join("fixtures/evidence/openssl-tls10-to-tls13.json")).expect("fixture");
    let mut evidence: ScanEvidence = serde_json::from_str(&text).expect("evidence");
    let endpoint = &mut evidence.targets[0].endpoints[0];
    endpoint.fetches.push(Fetch {
        purpose: FetchPurpose::CaIssuers,
        url: "http://127.0.0.1:1/ca.der".to_string(),
        certificate_sha256: "00".repeat(32),
        request: None,
        elapsed_ms: 3,
        outcome: FetchOutcome::Response {
            status: 404,
            content_type: Some("text/plain".to_string()),
            body: Bytes(b"not here".to_vec()),
        },
    });
    let at = evidence.finished_at;
    let rdap = std::fs::read_to_string(root().join("fixtures/rdap/registrar-example-com.json")).expect("rdap");
    let whois = std::fs::read_to_string(root().join("fixtures/whois/jprs-general-google.jp.txt")).expect("whois");
    let lookup = |source, server: &str, raw: String| RegistrationLookup {
        source,
        server: server.to_string(),
        query: "clinic.example".to_string(),
        at,
        elapsed_ms: 5,
        answer: LookupAnswer::Found {
            record: RegistrationRecord { domain: "clinic.example".to_string(), ..Default::default() },
            raw,
        },
    };
    evidence.domains = Some(DomainSurvey {
        public_suffix_list: "2026-01-01".to_string(),
        trust_anchor: "built-in root KSKs".to_string(),
        rdap_servers: "2026-01-01".to_string(),
        whois_server: None,
        domains: vec![DomainEvidence {
            name: "clinic.example".to_string(),
            public_suffix: "example".to_string(),
            role: DomainRole::Target,
            hosts: vec!["web.clinic.example".to_string()],
            registration: RegistrationEvidence {
                lookups: vec![
                    lookup(RegistrationSource::Rdap, "https://rdap.example/", rdap),
                    lookup(RegistrationSource::Whois, "whois.example:43", whois),
                    RegistrationLookup {
                        answer: LookupAnswer::Failed { reason: "timeout".to_string() },
                        ..lookup(RegistrationSource::Whois, "whois2.example:43", String::new())
                    },
                ],
            },
            delegation: Some(DelegationEvidence {
                parent_zone: Some("example".to_string()),
                parent: vec![NsAnswer {
                    server: "a.example".to_string(),
                    address: ip("192.0.2.53"),
                    answer: DnsOutcome::Answer { records: vec!["ns1.clinic.example".to_string()] },
                }],
                child: vec![],
                soa: None,
                error: None,
            }),
            dnssec: Some(DnssecEvidence {
                status: DnssecStatus::Insecure,
                ds: vec![],
                dnskey: vec![],
                detail: "no DS".to_string(),
            }),
        }],
        hosts: vec![HostDnsEvidence {
            host: "web.clinic.example".to_string(),
            registrable_domain: "clinic.example".to_string(),
            cname_chain: vec![],
            terminal: HostTerminal::Addresses {
                name: "web.clinic.example".to_string(),
                addresses: vec![ip("127.0.0.1")],
            },
            caa: CaaEvidence::default(),
        }],
        skipped: vec![],
    });
    evidence
}

const DECLARATIONS: &str = r#"
[[declaration]]
item = "2-1.v"
status = "実施"
reference = "情報セキュリティ基本方針 第4章"
declared_by = "山田 太郎（CISO）"
declared_on = 2026-11-20
"#;

/// Writes a bundle of `evidence` judged with the named embedded profile (and the test
/// declarations when `declare`), and returns the directory holding it.
fn write_bundle(evidence: &ScanEvidence, profile_name: &str, declare: bool) -> (TempDir, PathBuf) {
    let (profile, profile_text) = Profile::resolve_with_text(profile_name).expect("profile");
    let declarations = Declarations::parse(DECLARATIONS, "declarations.toml", &profile).expect("declarations");
    let options = JudgingOptions::default();
    let mut assessment = Assessment::evaluate_with(&profile, evidence, options);
    if declare {
        assessment.apply_declarations(&profile, &declarations);
    }
    let input = BundleInput {
        evidence,
        profile: &profile,
        profile_text: &profile_text,
        declarations: declare.then_some(BundleDeclarations { text: DECLARATIONS, parsed: &declarations }),
        options,
        assessment: &assessment,
    };
    let temp = TempDir::new("bundle").expect("temp dir");
    let dir = temp.path().join("bundle");
    let summary = bundle::write(&dir, &input).expect("bundle written");
    assert_eq!(summary.manifest_sha256.len(), 64);
    assert!(summary.files > 70, "{} files", summary.files);
    (temp, dir)
}

fn verified(dir: &Path) -> Verification {
    bundle::verify(dir).expect("bundle readable")
}

fn manifest(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).expect("manifest")).expect("manifest JSON")
}

/// Puts `path`'s current size and SHA-256 into the manifest, as a careful forger would.
fn refresh_hash(dir: &Path, path: &str) {
    let bytes = std::fs::read(dir.join(path)).expect("file");
    let mut manifest = manifest(dir);
    let files = manifest["files"].as_array_mut().expect("files");
    let entry = files.iter_mut().find(|f| f["path"] == path).expect("listed");
    entry["sha256"] = Value::from(bundle::sha256_hex(&bytes));
    entry["bytes"] = Value::from(bytes.len() as u64);
    std::fs::write(dir.join("manifest.json"), serde_json::to_vec_pretty(&manifest).expect("json")).expect("write");
}

/// The first listed path that starts with `prefix`.
fn listed(dir: &Path, prefix: &str) -> String {
    let manifest = manifest(dir);
    manifest["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(|f| f["path"].as_str())
        .find(|p| p.starts_with(prefix))
        .unwrap_or_else(|| panic!("no file under {prefix}"))
        .to_string()
}

fn assert_only(verification: &Verification, wanted: impl Fn(&Discrepancy) -> bool, what: &str) {
    assert!(!verification.ok(), "{what}: tampering not detected\n{verification}");
    assert!(verification.problems.iter().any(&wanted), "{what}: not reported\n{verification}");
}

#[test]
fn a_fresh_bundle_verifies_and_holds_the_raw_material() {
    let evidence = evidence();
    let (_temp, dir) = write_bundle(&evidence, "mhlw-online-2023", false);
    let verification = verified(&dir);
    assert!(verification.ok(), "{verification}");
    assert!(verification.warnings.is_empty(), "{verification}");
    assert!(verification.items_compared >= 44 && verification.findings_compared > 10);
    assert!(verification.files.iter().all(|f| f.status == FileStatus::Intact));
    assert_eq!(verification.manifest_sha256, bundle::sha256_hex(&std::fs::read(dir.join("manifest.json")).unwrap()));
    let text = verification.lines(Lang::Ja).join("\n");
    assert!(text.contains("検証済み"), "{text}");

    let endpoint = dir.join("raw/endpoints/01-web.clinic.example_127.0.0.1_39507");
    let handshake = std::fs::read_to_string(endpoint.join("handshakes/004-tls1.0-suites.txt")).expect("handshake");
    assert!(handshake.contains("sent: ") && handshake.contains("received: "), "{handshake}");
    let chains: Vec<_> = std::fs::read_dir(endpoint.join("chains")).expect("chains").collect();
    assert!(!chains.is_empty());
    let pem = std::fs::read_to_string(endpoint.join("chains/01-tls1.3.pem")).expect("TLS 1.3 chain");
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
    assert_eq!(std::fs::read(endpoint.join("fetches/001-ca_issuers.body")).expect("body"), b"not here");
    assert!(dir.join("raw/trust/extra-roots.pem").is_file());
    let domain = dir.join("raw/domains/01-clinic.example");
    let rdap = std::fs::read_to_string(domain.join("rdap-1.json")).expect("rdap");
    assert_eq!(rdap, std::fs::read_to_string(root().join("fixtures/rdap/registrar-example-com.json")).unwrap());
    assert!(domain.join("whois-2.txt").is_file() && !domain.join("whois-3.txt").exists());
    assert!(std::fs::read_to_string(domain.join("dns.json")).expect("dns").contains("ns1.clinic.example"));
    assert!(dir.join("raw/domains/survey.json").is_file());
    let manifest = manifest(&dir);
    assert_eq!(manifest["schema"], "kensa.bundle/1");
    assert_eq!(manifest["created_at"], evidence.finished_at);
    assert_eq!(manifest["kensa_version"], env!("CARGO_PKG_VERSION"));
}

#[test]
fn the_same_input_gives_the_same_bundle_and_a_previous_bundle_is_replaced() {
    let evidence = evidence();
    let (_a, first) = write_bundle(&evidence, "mhlw-online-2023", false);
    let (_b, second) = write_bundle(&evidence, "mhlw-online-2023", false);
    assert_eq!(
        std::fs::read(first.join("manifest.json")).unwrap(),
        std::fs::read(second.join("manifest.json")).unwrap()
    );

    // Writing over a previous bundle replaces it whole.
    let (profile, text) = Profile::resolve_with_text("mhlw-online-2023").unwrap();
    let assessment = Assessment::evaluate(&profile, &evidence);
    let input = BundleInput {
        evidence: &evidence,
        profile: &profile,
        profile_text: &text,
        declarations: None,
        options: JudgingOptions::default(),
        assessment: &assessment,
    };
    std::fs::remove_file(first.join("raw/domains/survey.json")).unwrap();
    bundle::write(&first, &input).expect("previous bundle replaced");
    assert!(verified(&first).ok());
    let parent = first.parent().unwrap();
    let leftovers: Vec<_> = std::fs::read_dir(parent).unwrap().filter_map(|e| e.ok()).collect();
    assert_eq!(leftovers.len(), 1, "no temporary directory left behind");
}

#[test]
fn a_stricter_profile_with_declarations_verifies() {
    let (_temp, dir) = write_bundle(&evidence(), "mhlw-online-2023-high", true);
    let verification = verified(&dir);
    assert!(verification.ok(), "{verification}");
    assert_eq!(
        std::fs::read_to_string(dir.join("profile-base.toml")).unwrap(),
        Profile::embedded_text("mhlw-online-2023").unwrap()
    );
    assert_eq!(std::fs::read_to_string(dir.join("declarations.toml")).unwrap(), DECLARATIONS);
    let assessment: Value = serde_json::from_slice(&std::fs::read(dir.join("assessment.json")).unwrap()).unwrap();
    let item = assessment["items"].as_array().unwrap().iter().find(|i| i["item_id"] == "2-1.v").unwrap();
    assert_eq!(item["status"], "compliant");
    assert_eq!(item["basis"], "declared");

    // Declarations edited after the fact no longer give the recorded verdicts.
    std::fs::write(dir.join("declarations.toml"), DECLARATIONS.replace("\"実施\"", "\"未実施\"")).unwrap();
    refresh_hash(&dir, "declarations.toml");
    let tampered = verified(&dir);
    assert_only(&tampered, |d| matches!(d, Discrepancy::DeclarationsChanged { .. }), "declarations");
    assert!(tampered.problems.iter().any(|d| matches!(d, Discrepancy::ItemStatus { item, .. } if item == "2-1.v")));
}

#[test]
fn a_flipped_byte_in_the_evidence_is_named() {
    let (_temp, dir) = write_bundle(&evidence(), "mhlw-online-2023", false);
    let path = dir.join("evidence.json");
    let mut bytes = std::fs::read(&path).unwrap();
    // A digit inside the hex of a handshake: still JSON, still evidence.
    let at = bytes.windows(8).position(|w| w == b"\"sent\": ").unwrap() + 9;
    bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
    std::fs::write(&path, bytes).unwrap();
    let verification = verified(&dir);
    assert_only(&verification, |d| matches!(d, Discrepancy::Changed { path, .. } if path == "evidence.json"), "flip");
    let file = verification.files.iter().find(|f| f.path == "evidence.json").unwrap();
    assert!(matches!(file.status, FileStatus::Changed { .. }));
    assert!(verification.to_string().contains("evidence.json: changed"), "{verification}");
    // The evidence changed, so the first handshake view derived from it no longer matches.
    assert!(verification.problems.iter().any(|d| matches!(d, Discrepancy::DerivedDiffers { .. })), "{verification}");
}

#[test]
fn a_raw_file_changed_with_its_hash_is_caught_by_derivation() {
    let (_temp, dir) = write_bundle(&evidence(), "mhlw-online-2023", false);
    let path = listed(&dir, "raw/domains/01-clinic.example/whois-");
    let mut text = std::fs::read_to_string(dir.join(&path)).unwrap();
    text.push_str("forged line\n");
    std::fs::write(dir.join(&path), text).unwrap();
    refresh_hash(&dir, &path);
    let verification = verified(&dir);
    assert!(!verification.problems.iter().any(|d| matches!(d, Discrepancy::Changed { .. })), "{verification}");
    assert_only(&verification, |d| matches!(d, Discrepancy::DerivedDiffers { path: p } if *p == path), "raw");
}

#[test]
fn edited_verdicts_are_caught_by_judging_again() {
    let (_temp, dir) = write_bundle(&evidence(), "mhlw-online-2023", false);
    let path = dir.join("assessment.json");
    let mut record: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let item = record["items"].as_array_mut().unwrap().iter_mut().find(|i| i["item_id"] == "2-1.xii").unwrap();
    assert_ne!(item["status"], "compliant");
    item["status"] = Value::from("compliant");
    let finding = &mut record["findings"][0];
    let was = finding["status"].clone();
    finding["status"] = Value::from(if was == "pass" { "fail" } else { "pass" });
    std::fs::write(&path, serde_json::to_vec_pretty(&record).unwrap()).unwrap();
    refresh_hash(&dir, "assessment.json");
    let verification = verified(&dir);
    assert_only(&verification, |d| matches!(d, Discrepancy::ItemStatus { item, .. } if item == "2-1.xii"), "item");
    assert!(verification.problems.iter().any(|d| matches!(d, Discrepancy::FindingStatus { .. })), "{verification}");
    assert!(verification.lines(Lang::En).iter().any(|l| l.contains("item 2-1.xii: recorded compliant")));
}

#[test]
fn missing_and_unlisted_files_are_named() {
    let (_temp, dir) = write_bundle(&evidence(), "mhlw-online-2023", false);
    let gone = listed(&dir, "raw/endpoints/");
    std::fs::remove_file(dir.join(&gone)).unwrap();
    std::fs::write(dir.join("raw/notes.txt"), "added later").unwrap();
    let verification = verified(&dir);
    assert_only(&verification, |d| matches!(d, Discrepancy::Missing { path } if *path == gone), "deleted");
    assert!(verification
        .problems
        .iter()
        .any(|d| matches!(d, Discrepancy::Unlisted { path } if path == "raw/notes.txt")));
    assert!(verification.files.iter().any(|f| f.path == "raw/notes.txt" && f.kind.is_none()));
}

#[test]
fn an_edited_profile_is_not_the_profile_judged_with() {
    let (_temp, dir) = write_bundle(&evidence(), "mhlw-online-2023", false);
    let path = dir.join("profile.toml");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("\n# harmless-looking comment\n");
    std::fs::write(&path, text).unwrap();
    let verification = verified(&dir);
    assert_only(&verification, |d| matches!(d, Discrepancy::Changed { path, .. } if path == "profile.toml"), "hash");
    refresh_hash(&dir, "profile.toml");
    assert_only(&verified(&dir), |d| matches!(d, Discrepancy::ProfileChanged { .. }), "profile sha");
}

#[test]
fn hostile_manifests_are_errors_not_panics() {
    let (_temp, dir) = write_bundle(&evidence(), "mhlw-online-2023", false);
    let original = std::fs::read(dir.join("manifest.json")).unwrap();

    for bad in ["../outside.txt", "/etc/passwd", "raw/../../outside.txt", "raw\\..\\x"] {
        let mut manifest = manifest(&dir);
        manifest["files"][0]["path"] = Value::from(bad);
        std::fs::write(dir.join("manifest.json"), serde_json::to_vec(&manifest).unwrap()).unwrap();
        assert!(matches!(bundle::verify(&dir), Err(BundleError::UnsafePath { .. })), "{bad} accepted");
    }

    std::fs::write(dir.join("manifest.json"), &original[..original.len() / 2]).unwrap();
    let error = bundle::verify(&dir).unwrap_err();
    assert!(matches!(error, BundleError::InvalidManifest { .. }), "{error}");

    let mut manifest: Value = serde_json::from_slice(&original).unwrap();
    manifest["surprise"] = Value::from(1);
    std::fs::write(dir.join("manifest.json"), serde_json::to_vec(&manifest).unwrap()).unwrap();
    assert!(matches!(bundle::verify(&dir), Err(BundleError::InvalidManifest { .. })));

    manifest = serde_json::from_slice(&original).unwrap();
    manifest["schema"] = Value::from("kensa.bundle/99");
    std::fs::write(dir.join("manifest.json"), serde_json::to_vec(&manifest).unwrap()).unwrap();
    assert!(matches!(bundle::verify(&dir), Err(BundleError::UnsupportedSchema { .. })));

    std::fs::write(dir.join("manifest.json"), vec![b' '; (bundle::MANIFEST_LIMIT + 1) as usize]).unwrap();
    assert!(matches!(bundle::verify(&dir), Err(BundleError::InvalidManifest { .. })));

    std::fs::remove_file(dir.join("manifest.json")).unwrap();
    assert!(matches!(bundle::verify(&dir), Err(BundleError::NoManifest(_))));
    assert!(matches!(bundle::verify(&dir.join("evidence.json")), Err(BundleError::NotADirectory(_))));
}

#[cfg(unix)]
#[test]
fn links_inside_a_bundle_are_never_followed() {
    let (temp, dir) = write_bundle(&evidence(), "mhlw-online-2023", false);
    let secret = temp.write("secret.txt", "outside the bundle").unwrap();
    let path = listed(&dir, "raw/endpoints/");
    std::fs::remove_file(dir.join(&path)).unwrap();
    std::os::unix::fs::symlink(&secret, dir.join(&path)).unwrap();
    std::os::unix::fs::symlink(&secret, dir.join("raw/extra-link")).unwrap();
    let verification = verified(&dir);
    assert_only(&verification, |d| matches!(d, Discrepancy::NotRegular { path: p } if *p == path), "link");
    assert!(verification
        .problems
        .iter()
        .any(|d| matches!(d, Discrepancy::NotRegular { path } if path == "raw/extra-link")));
}

#[test]
fn writing_never_deletes_a_users_files() {
    let evidence = evidence();
    let (profile, text) = Profile::resolve_with_text("mhlw-online-2023").unwrap();
    let assessment = Assessment::evaluate(&profile, &evidence);
    let input = BundleInput {
        evidence: &evidence,
        profile: &profile,
        profile_text: &text,
        declarations: None,
        options: JudgingOptions::default(),
        assessment: &assessment,
    };
    let temp = TempDir::new("bundle-refuse").unwrap();
    let occupied = temp.path().join("occupied");
    std::fs::create_dir(&occupied).unwrap();
    std::fs::write(occupied.join("thesis.docx"), "precious").unwrap();
    assert!(matches!(bundle::write(&occupied, &input), Err(BundleError::NotABundle { .. })));
    assert_eq!(std::fs::read_to_string(occupied.join("thesis.docx")).unwrap(), "precious");

    assert!(matches!(bundle::write(&temp.path().join(".."), &input), Err(BundleError::NotADirectory(_))));
    let file = temp.write("a-file", "x").unwrap();
    assert!(matches!(bundle::write(&file, &input), Err(BundleError::NotADirectory(_))));

    // A previous bundle with a file of the user's in it is not replaced either.
    let previous = temp.path().join("previous");
    bundle::write(&previous, &input).expect("first write");
    std::fs::write(previous.join("raw/my-notes.txt"), "mine").unwrap();
    assert!(matches!(bundle::write(&previous, &input), Err(BundleError::ForeignFile { .. })));
    assert_eq!(std::fs::read_to_string(previous.join("raw/my-notes.txt")).unwrap(), "mine");

    // An empty directory is fine.
    let empty = temp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    bundle::write(&empty, &input).expect("empty directory");
    assert!(verified(&empty).ok());

    // Profile text of another profile is refused rather than bundled.
    let other = Profile::embedded_text("mhlw-online-2023-high").unwrap();
    let wrong = BundleInput { profile_text: other, ..input };
    assert!(matches!(bundle::write(&temp.path().join("wrong"), &wrong), Err(BundleError::Inconsistent(_))));
}

#[test]
fn verdicts_that_the_evidence_does_not_give_are_refused_at_writing() {
    let evidence = evidence();
    let (profile, text) = Profile::resolve_with_text("mhlw-online-2023").unwrap();
    let declarations = Declarations::parse(DECLARATIONS, "declarations.toml", &profile).unwrap();
    // Declarations bundled, but not merged into the verdicts: verify would disagree.
    let assessment = Assessment::evaluate(&profile, &evidence);
    let input = BundleInput {
        evidence: &evidence,
        profile: &profile,
        profile_text: &text,
        declarations: Some(BundleDeclarations { text: DECLARATIONS, parsed: &declarations }),
        options: JudgingOptions::default(),
        assessment: &assessment,
    };
    let temp = TempDir::new("bundle-inconsistent").unwrap();
    let error = bundle::write(&temp.path().join("b"), &input).unwrap_err();
    assert!(matches!(error, BundleError::Inconsistent(_)) && error.to_string().contains("2-1.v"), "{error}");
    assert!(!temp.path().join("b").exists());

    let mut options = JudgingOptions::default();
    options.expiry.warn_days += 1;
    let other_options = BundleInput { declarations: None, options, ..input };
    assert!(matches!(bundle::write(&temp.path().join("b"), &other_options), Err(BundleError::Inconsistent(_))));
}

#[test]
fn another_kensa_version_is_a_note_not_a_failure() {
    let (_temp, dir) = write_bundle(&evidence(), "mhlw-online-2023", false);
    let mut manifest = manifest(&dir);
    manifest["kensa_version"] = Value::from("0.0.1-older");
    std::fs::write(dir.join("manifest.json"), serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
    let verification = verified(&dir);
    assert!(verification.ok(), "{verification}");
    assert!(verification
        .warnings
        .iter()
        .any(|w| matches!(w, Discrepancy::Version { bundle, .. } if bundle == "0.0.1-older")));
    assert!(verification.lines(Lang::En).iter().any(|l| l.starts_with("note written by kensa 0.0.1-older")));
}
