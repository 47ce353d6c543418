//! The fixed scan every report-format test renders: recorded evidence of an OpenSSL server
//! that accepts only TLS 1.0 (so 2-1.xii is 不適合), a target that resolved to nothing, a
//! service manifest with a coverage gap, and a few declarations.

#![allow(dead_code)] // each test binary uses its own subset

use std::path::{Path, PathBuf};

use kensa::declaration::Declarations;
use kensa::evidence::{CoverageGap, EndpointRole, ScanEvidence, ServiceInfo};
use kensa::i18n::Lang;
use kensa::profile::Profile;
use kensa::report::Report;
use kensa::verdict::Assessment;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn evidence(name: &str) -> ScanEvidence {
    let path = root().join("fixtures/evidence").join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: not evidence: {e}", path.display()))
}

/// Declarations of the fixed scan: 実施 with a reference, 未実施, 対象外, and text that
/// needs escaping in every format.
pub const DECLARATIONS: &str = r#"
[[declaration]]
item = "2-1.v"
status = "実施"
reference = "情報セキュリティ基本方針 第4章 4.2, \"暗号化\""
declared_by = "山田 太郎（情報システム部） <script>alert(1)</script>"
declared_on = 2026-11-20

[[declaration]]
item = "1-1.i"
status = "未実施"
reference = ""
declared_by = "佐藤"
declared_on = 2026-11-21
note = "=次回監査までに整備"

[[declaration]]
item = "2-1.viii"
status = "対象外"
reference = "サービス仕様書 2.3（端末を配布しない）"
declared_by = "佐藤"
declared_on = 2026-11-21
"#;

/// The fixed scan: evidence, profile and assessment with declarations applied.
pub struct Scan {
    pub profile: Profile,
    pub evidence: ScanEvidence,
    pub assessment: Assessment,
}

impl Scan {
    /// Loads the fixed scan.
    pub fn load() -> Scan {
        let profile = Profile::embedded();
        let mut evidence = evidence("openssl-tls10-only");
        evidence.targets.extend(evidence_targets("unresolvable-name"));
        evidence.service = Some(ServiceInfo {
            name: "テスト診療 Online".to_string(),
            vendor: "Example Medical K.K.".to_string(),
            manifest: "kensa-service.toml".to_string(),
            manifest_sha256: "0".repeat(64),
            affects_clinic_systems: false,
            domains: vec!["clinic.example".to_string()],
            coverage_gaps: vec![CoverageGap {
                endpoint: "turn.clinic.example:5349".to_string(),
                role: EndpointRole::Turn,
                reason: "no address (NXDOMAIN)".to_string(),
            }],
        });
        let mut assessment = Assessment::evaluate(&profile, &evidence);
        let declarations =
            Declarations::parse(DECLARATIONS, "declarations.toml", &profile).expect("declarations parse");
        assessment.apply_declarations(&profile, &declarations);
        Scan { profile, evidence, assessment }
    }

    /// The report in `lang`, with a fixed bundle digest.
    pub fn report(&self, lang: Lang) -> Report<'_> {
        Report {
            profile: &self.profile,
            evidence: &self.evidence,
            assessment: &self.assessment,
            lang,
            bundle_sha256: Some("ab".repeat(32)),
        }
    }
}

fn evidence_targets(name: &str) -> Vec<kensa::evidence::TargetEvidence> {
    evidence(name).targets
}

/// A directory under `target/` for files a test leaves for a person to look at.
pub fn artifacts_dir(name: &str) -> PathBuf {
    let dir = root().join("target/test-artifacts").join(name);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

/// Whether `path` exists as an executable file.
pub fn executable(path: &Path) -> bool {
    path.is_file()
}
