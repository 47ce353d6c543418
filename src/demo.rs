//! `kensa demo`: a handful of loopback endpoints with known postures, scanned end to end.
//!
//! Needs no network and no setup: a throwaway CA is made at start-up and trusted for the
//! scan the way `--ca-file` would, each endpoint gets its own in-process rustls server, and
//! host names are pinned to 127.0.0.1 the way `--resolve` would.

use std::time::Duration;

use rustls::version::{TLS12, TLS13};

use crate::declaration::Declarations;
use crate::evidence::{AddressFamily, CertDer, EndpointRole, ScanEvidence, ServiceInfo};
use crate::i18n::{pad, Lang, Text};
use crate::manifest::coverage_gaps;
use crate::probe::{scan, ScanRequest};
use crate::profile::Profile;
use crate::resolve::{Pin, ResolverSettings};
use crate::target::Target;
use crate::testkit::{self_signed, spawn_tls_server, RunningServer, TestCa, Validity};
use crate::verdict::{Assessment, ItemStatus};

/// The item the demo endpoints exercise.
pub const DEMO_ITEM: &str = "2-1.xii";

/// One demo endpoint and what kensa is expected to conclude about it.
pub struct DemoEndpoint {
    pub host: &'static str,
    pub role: EndpointRole,
    pub description: Text,
    pub expected: ItemStatus,
}

/// A demo run: the evidence, and the expectations to compare it with.
pub struct DemoRun {
    pub evidence: ScanEvidence,
    pub endpoints: Vec<DemoEndpoint>,
}

/// Starts the demo servers, scans them, and stops them.
pub async fn run(timeout: Duration) -> Result<DemoRun, String> {
    let ca = TestCa::new("kensa demo CA").map_err(|e| e.to_string())?;
    let both: &[&'static rustls::SupportedProtocolVersion] = &[&TLS13, &TLS12];
    let e = |e: crate::testkit::PkiError| e.to_string();
    let mut servers: Vec<(DemoEndpoint, RunningServer)> = Vec::new();
    let mut add = |endpoint: DemoEndpoint, server: RunningServer| servers.push((endpoint, server));

    add(
        DemoEndpoint {
            host: "patient.clinic.example",
            role: EndpointRole::PatientWeb,
            description: Text::new(
                "TLS 1.2 and 1.3, certificate from the (demo) CA",
                "TLS 1.2/1.3、（デモ用）認証局発行の証明書",
            ),
            expected: ItemStatus::Compliant,
        },
        spawn_tls_server(ca.issue(&["patient.clinic.example"], Validity::CURRENT).map_err(e)?, both).await?,
    );
    add(
        DemoEndpoint {
            host: "api.clinic.example",
            role: EndpointRole::Api,
            description: Text::new("TLS 1.2 only, valid certificate", "TLS 1.2のみ、有効な証明書"),
            expected: ItemStatus::Compliant,
        },
        spawn_tls_server(ca.issue(&["api.clinic.example"], Validity::CURRENT).map_err(e)?, &[&TLS12]).await?,
    );
    add(
        DemoEndpoint {
            host: "expired.clinic.example",
            role: EndpointRole::ClinicianWeb,
            description: Text::new("certificate expired ten days ago", "10日前に期限切れの証明書"),
            expected: ItemStatus::NonCompliant,
        },
        spawn_tls_server(ca.issue(&["expired.clinic.example"], Validity::EXPIRED).map_err(e)?, both).await?,
    );
    add(
        DemoEndpoint {
            host: "selfsigned.clinic.example",
            role: EndpointRole::Auth,
            description: Text::new("self-signed certificate", "自己署名証明書"),
            expected: ItemStatus::NonCompliant,
        },
        spawn_tls_server(self_signed(&["selfsigned.clinic.example"], Validity::CURRENT).map_err(e)?, both).await?,
    );
    add(
        DemoEndpoint {
            host: "mismatch.clinic.example",
            role: EndpointRole::Static,
            description: Text::new("certificate issued for another name", "別の名前に発行された証明書"),
            expected: ItemStatus::NonCompliant,
        },
        spawn_tls_server(ca.issue(&["www.other.example"], Validity::CURRENT).map_err(e)?, both).await?,
    );

    let mut targets = Vec::new();
    let mut pins = Vec::new();
    for (endpoint, server) in &servers {
        let port = server.addr.port();
        let mut target: Target = format!("https://{}:{port}/", endpoint.host)
            .parse()
            .map_err(|e: crate::target::TargetError| e.to_string())?;
        target.role = Some(endpoint.role);
        targets.push(target);
        pins.push(format!("{}:{port}:{}", endpoint.host, server.addr.ip()).parse::<Pin>().map_err(|e| e.to_string())?);
    }
    let mut request =
        ScanRequest::new(targets, ResolverSettings { server: None, timeout, family: AddressFamily::Any }, timeout);
    request.pins = pins;
    request.extra_roots = vec![CertDer(ca.certificate().to_vec())];
    let mut evidence = scan(&request).await;
    evidence.service = Some(ServiceInfo {
        name: "kensa デモ診療サービス (demo)".to_string(),
        vendor: "kensa demo".to_string(),
        manifest: "(kensa demo)".to_string(),
        manifest_sha256: String::new(),
        affects_clinic_systems: false,
        domains: Vec::new(),
        coverage_gaps: coverage_gaps(&evidence),
    });
    // Dropping the servers stops them.
    let endpoints = servers.into_iter().map(|(endpoint, _server)| endpoint).collect();
    Ok(DemoRun { evidence, endpoints })
}

/// Example declarations the demo applies, so its report shows how declared items read.
pub const DEMO_DECLARATIONS: &str = r#"
[[declaration]]
item = "2-1.v"
status = "実施"
reference = "（デモ）システム構成説明書 第2章 医療情報システムへの影響"
declared_by = "（デモ）情報セキュリティ責任者"
declared_on = 2026-11-01

[[declaration]]
item = "2-1.viii"
status = "実施"
reference = "（デモ）ネットワーク設計書 4.3 IDS/IPS"
declared_by = "（デモ）情報セキュリティ責任者"
declared_on = 2026-11-01

[[declaration]]
item = "2-1.x"
status = "未実施"
declared_by = "（デモ）情報セキュリティ責任者"
declared_on = 2026-11-01
note = "ログ監査は来期に導入予定（デモ）"
"#;

/// The demo's example declarations, checked against `profile` (a profile without those
/// items gets none).
pub fn declarations(profile: &Profile) -> Option<Declarations> {
    Declarations::parse(DEMO_DECLARATIONS, "(kensa demo declarations)", profile).ok()
}

/// Compares each demo endpoint's status for [`DEMO_ITEM`] with its expectation and renders
/// the comparison. Returns the text and whether every expectation held.
pub fn expectations(run: &DemoRun, profile: &Profile, assessment: &Assessment, lang: Lang) -> (String, bool) {
    let mut out = String::new();
    let mut all_held = true;
    out.push_str(match lang {
        Lang::En => "\n== Demo: expected vs measured (item 2-1.xii) ==\n",
        Lang::Ja => "\n== デモ: 期待値と検査結果（項目 2-1.xii）==\n",
    });
    for endpoint in &run.endpoints {
        let measured = run
            .evidence
            .targets
            .iter()
            .filter(|t| t.server_name.as_deref() == Some(endpoint.host))
            .flat_map(|t| t.endpoints.iter())
            .map(|e| assessment.item_status_for_endpoint(DEMO_ITEM, &e.label(), profile))
            .next()
            .flatten();
        let held = measured == Some(endpoint.expected);
        all_held &= held;
        out.push_str(&format!(
            "  {} {} {} {} {}, {} {}\n",
            if held { "✔" } else { "✘" },
            pad(endpoint.host, 26),
            pad(endpoint.description.get(lang), 48),
            match lang {
                Lang::En => "expected",
                Lang::Ja => "期待",
            },
            endpoint.expected.label(lang),
            match lang {
                Lang::En => "measured",
                Lang::Ja => "結果",
            },
            measured.map(|s| s.label(lang)).unwrap_or("-"),
        ));
    }
    (out, all_held)
}
