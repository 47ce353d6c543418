//! `kensa demo`: a handful of loopback endpoints with known postures, scanned end to end.
//!
//! Needs no network and no setup: a throwaway CA is made at start-up and trusted for the
//! scan the way `--ca-file` would, each endpoint gets its own in-process rustls server, and
//! host names are pinned to 127.0.0.1 the way `--resolve` would.

use std::net::SocketAddr;
use std::time::Duration;

use rustls::version::{TLS12, TLS13};

use crate::declaration::Declarations;
use crate::evidence::{AddressFamily, CertDer, EndpointRole, ScanEvidence, ServiceInfo};
use crate::i18n::{pad, Lang, Text};
use crate::manifest::coverage_gaps;
use crate::probe::http_posture::HttpSettings;
use crate::probe::{scan, ScanRequest};
use crate::profile::Profile;
use crate::resolve::{Pin, ResolverSettings};
use crate::target::Target;
use crate::testkit::http::{HttpServer, Response, RunningHttpServer};
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

/// A demo server; dropping it stops it.
enum Running {
    /// A TLS endpoint that speaks no HTTP (an API or relay).
    Tls(RunningServer),
    /// An HTTPS web server, and the plain-HTTP server standing in for its port 80.
    Web { https: RunningHttpServer, plain: RunningHttpServer },
}

impl Running {
    fn addr(&self) -> SocketAddr {
        match self {
            Running::Tls(server) => server.addr,
            Running::Web { https, .. } => https.addr,
        }
    }

    fn plain_port(&self) -> Option<u16> {
        match self {
            Running::Tls(_) => None,
            Running::Web { plain, .. } => Some(plain.addr.port()),
        }
    }
}

/// An entry page as a careful web server sends it: HSTS for two years with subdomains and
/// preload, a session cookie with every flag, and no caching.
fn careful_page() -> Response {
    let mut page = Response::ok("text/html; charset=utf-8", "<!doctype html><title>demo</title>");
    page.headers = vec![
        ("strict-transport-security".to_string(), "max-age=63072000; includeSubDomains; preload".to_string()),
        ("set-cookie".to_string(), "session=demo; Path=/; Secure; HttpOnly; SameSite=Lax".to_string()),
        ("cache-control".to_string(), "no-store".to_string()),
    ];
    page
}

/// An entry page with no HSTS, a cookie without flags, and default caching.
fn careless_page() -> Response {
    let mut page = Response::ok("text/html; charset=utf-8", "<!doctype html><title>demo</title>");
    page.headers = vec![("set-cookie".to_string(), "session=demo; Path=/".to_string())];
    page
}

/// Starts an HTTPS web server for `host` with `page` at `/`, and a plain-HTTP server that
/// either redirects to it or serves the page in cleartext.
async fn web(
    identity: crate::testkit::Identity,
    host: &str,
    page: Response,
    redirect: bool,
) -> Result<Running, String> {
    let https = HttpServer::new().route("/", page.clone()).start_tls(identity).await?;
    let plain = if redirect {
        let location = format!("https://{host}:{}/", https.addr.port());
        HttpServer::new().route("/", Response::redirect(301, &location)).start().await?
    } else {
        HttpServer::new().route("/", page).start().await?
    };
    Ok(Running::Web { https, plain })
}

/// Starts the demo servers, scans them, and stops them.
pub async fn run(timeout: Duration) -> Result<DemoRun, String> {
    let ca = TestCa::new("kensa demo CA").map_err(|e| e.to_string())?;
    let both: &[&'static rustls::SupportedProtocolVersion] = &[&TLS13, &TLS12];
    let e = |e: crate::testkit::PkiError| e.to_string();
    let issue = |host: &str, validity| ca.issue(&[host], validity).map_err(e);
    let tls = |server: RunningServer| Running::Tls(server);
    let mut servers: Vec<(DemoEndpoint, Running)> = Vec::new();
    let mut add = |endpoint: DemoEndpoint, server: Running| servers.push((endpoint, server));

    add(
        DemoEndpoint {
            host: "patient.clinic.example",
            role: EndpointRole::PatientWeb,
            description: Text::new(
                "TLS 1.2/1.3, CA certificate, HTTPS redirect, HSTS",
                "TLS 1.2/1.3、CA証明書、HTTPS転送、HSTS",
            ),
            expected: ItemStatus::Compliant,
        },
        web(issue("patient.clinic.example", Validity::CURRENT)?, "patient.clinic.example", careful_page(), true)
            .await?,
    );
    add(
        DemoEndpoint {
            host: "api.clinic.example",
            role: EndpointRole::Api,
            description: Text::new("TLS 1.2 only, valid certificate", "TLS 1.2のみ、有効な証明書"),
            expected: ItemStatus::Compliant,
        },
        tls(spawn_tls_server(issue("api.clinic.example", Validity::CURRENT)?, &[&TLS12]).await?),
    );
    add(
        DemoEndpoint {
            host: "portal.clinic.example",
            role: EndpointRole::Static,
            description: Text::new(
                "valid TLS; page also over plain HTTP, no HSTS",
                "TLS有効だが平文HTTPでも配信、HSTSなし",
            ),
            expected: ItemStatus::NeedsReview,
        },
        web(issue("portal.clinic.example", Validity::CURRENT)?, "portal.clinic.example", careless_page(), false)
            .await?,
    );
    add(
        DemoEndpoint {
            host: "expired.clinic.example",
            role: EndpointRole::ClinicianWeb,
            description: Text::new("certificate expired ten days ago", "10日前に期限切れの証明書"),
            expected: ItemStatus::NonCompliant,
        },
        web(issue("expired.clinic.example", Validity::EXPIRED)?, "expired.clinic.example", careful_page(), true)
            .await?,
    );
    add(
        DemoEndpoint {
            host: "selfsigned.clinic.example",
            role: EndpointRole::Auth,
            description: Text::new("self-signed certificate", "自己署名証明書"),
            expected: ItemStatus::NonCompliant,
        },
        web(
            self_signed(&["selfsigned.clinic.example"], Validity::CURRENT).map_err(e)?,
            "selfsigned.clinic.example",
            careful_page(),
            true,
        )
        .await?,
    );
    add(
        DemoEndpoint {
            host: "mismatch.clinic.example",
            role: EndpointRole::Api,
            description: Text::new("certificate issued for another name", "別の名前に発行された証明書"),
            expected: ItemStatus::NonCompliant,
        },
        tls(spawn_tls_server(issue("www.other.example", Validity::CURRENT)?, both).await?),
    );

    let mut targets = Vec::new();
    let mut pins = Vec::new();
    let mut http = HttpSettings::default();
    for (endpoint, server) in &servers {
        // Every endpoint that serves pages has its own plain-HTTP stand-in: the demo never
        // asks the machine's real port 80.
        debug_assert!(server.plain_port().is_some() || !endpoint.role.serves_pages());
        let addr = server.addr();
        let port = addr.port();
        let mut target: Target = format!("https://{}:{port}/", endpoint.host)
            .parse()
            .map_err(|e: crate::target::TargetError| e.to_string())?;
        target.role = Some(endpoint.role);
        targets.push(target);
        pins.push(format!("{}:{port}:{}", endpoint.host, addr.ip()).parse::<Pin>().map_err(|e| e.to_string())?);
        if let Some(plain) = server.plain_port() {
            pins.push(format!("{}:{plain}:{}", endpoint.host, addr.ip()).parse::<Pin>().map_err(|e| e.to_string())?);
            http.plain_ports.insert(endpoint.host.to_string(), plain);
        }
    }
    let mut request =
        ScanRequest::new(targets, ResolverSettings { server: None, timeout, family: AddressFamily::Any }, timeout);
    request.pins = pins;
    request.extra_roots = vec![CertDer(ca.certificate().to_vec())];
    request.http = http;
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
