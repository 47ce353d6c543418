//! The HTTP posture probe and its checks end to end through the library: `kensa::probe::scan`
//! against an HTTPS server (`kensa::testkit::http` in TLS mode, with the TLS probes' hellos
//! hitting it too) and a plain HTTP server standing in for port 80, both on 127.0.0.1. The
//! host name is pinned to 127.0.0.1 and the HTTP client resolves nothing else, so nothing
//! leaves loopback even when a server redirects elsewhere.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use kensa::checks::CheckStatus;
use kensa::evidence::http::{ChainEnd, HttpErrorKind, HttpOutcome, HttpPosture, HttpScope};
use kensa::evidence::{AddressFamily, EndpointRole, ScanEvidence, ScanMode};
use kensa::probe::{scan, ScanRequest};
use kensa::profile::Profile;
use kensa::resolve::ResolverSettings;
use kensa::target::Target;
use kensa::testkit::http::{Hostile, HttpServer, Response, RunningHttpServer};
use kensa::testkit::pki::{CertSpec, Chain};
use kensa::verdict::{Assessment, ItemStatus};

const HOST: &str = "web.clinic.example";
const TIMEOUT: Duration = Duration::from_secs(5);
const GOOD_HSTS: &str = "max-age=63072000; includeSubDomains; preload";

fn pki() -> &'static Chain {
    static PKI: OnceLock<Chain> = OnceLock::new();
    PKI.get_or_init(|| Chain::build(1, CertSpec::leaf(&[HOST])).expect("test PKI"))
}

fn page(headers: &[(&str, &str)]) -> Response {
    let mut response = Response::ok("text/html", "<html>clinic</html>");
    response.headers = headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
    response
}

/// An entry page with every signal clean.
fn clean_page() -> Response {
    page(&[
        ("strict-transport-security", GOOD_HSTS),
        ("set-cookie", "__Host-sid=s3cr3t-session; Path=/; Secure; HttpOnly; SameSite=Lax"),
        ("cache-control", "no-store"),
    ])
}

async fn https(routes: HttpServer) -> RunningHttpServer {
    routes.start_tls(pki().identity()).await.expect("HTTPS test server")
}

async fn plain(routes: HttpServer) -> RunningHttpServer {
    routes.start().await.expect("plain HTTP test server")
}

fn redirect_home() -> HttpServer {
    HttpServer::new().route("/", Response::redirect(301, &format!("https://{HOST}/")))
}

/// A port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port()
}

/// Scans `url` (with `{port}` replaced by the HTTPS server's port) pinned to 127.0.0.1, with
/// `plain_port` standing in for port 80.
async fn scan_url(url: &str, tls: SocketAddr, plain_port: u16, tweak: impl FnOnce(&mut ScanRequest)) -> ScanEvidence {
    let url = url.replace("{port}", &tls.port().to_string());
    let target: Target = url.parse().expect("target");
    let resolver = ResolverSettings { server: None, timeout: TIMEOUT, family: AddressFamily::Any };
    let mut request = ScanRequest::new(vec![target], resolver, TIMEOUT);
    // Both ports on one pin: the TLS port for the probes, the HTTP client pins by name.
    request.pins = vec![format!("{HOST}:{}:127.0.0.1", tls.port()).parse().expect("pin")];
    request.extra_roots = pki().roots();
    request.mode = ScanMode::Minimal;
    request.http.plain_port = plain_port;
    tweak(&mut request);
    scan(&request).await
}

async fn scan_site(tls: SocketAddr, plain_port: u16) -> ScanEvidence {
    scan_url("https://web.clinic.example:{port}/", tls, plain_port, |_| {}).await
}

struct Judged {
    evidence: ScanEvidence,
    assessment: Assessment,
}

impl Judged {
    fn new(evidence: ScanEvidence) -> Judged {
        let assessment = Assessment::evaluate(&Profile::embedded(), &evidence);
        Judged { evidence, assessment }
    }

    fn posture(&self) -> &HttpPosture {
        self.evidence.targets[0].endpoints[0].http.as_ref().expect("HTTP posture recorded")
    }

    fn status(&self, check: &str) -> CheckStatus {
        self.finding(check).0
    }

    fn finding(&self, check: &str) -> (CheckStatus, String, String) {
        let f = self
            .assessment
            .findings
            .iter()
            .find(|f| f.check_id == check)
            .unwrap_or_else(|| panic!("no {check} finding: {:#?}", self.posture()));
        (f.status, f.message.en.clone(), f.message.ja.clone())
    }

    fn item(&self, id: &str) -> ItemStatus {
        self.assessment.item(id).expect("item").status
    }
}

#[tokio::test]
async fn clean_site_passes_every_signal() {
    let site = https(HttpServer::new().route("/", clean_page())).await;
    let port80 = plain(redirect_home()).await;
    let judged = Judged::new(scan_site(site.addr, port80.addr.port()).await);
    let posture = judged.posture();
    assert_eq!(posture.scope, HttpScope::Pages);
    let chain = posture.plain.as_ref().expect("plain chain");
    assert_eq!(chain.hops.len(), 1);
    assert_eq!(chain.end, ChainEnd::Upgraded { location: format!("https://{HOST}/") });
    for check in ["http.redirect", "http.hsts", "http.cookies", "http.cache-control"] {
        assert_eq!(judged.status(check), CheckStatus::Pass, "{check}: {:?}", judged.finding(check));
    }
    // A page endpoint is not a WebSocket one: said, not passed.
    assert_eq!(judged.status("ws.cleartext"), CheckStatus::Info);
    assert_eq!(judged.item("2-1.xii"), ItemStatus::Compliant, "{:#?}", judged.assessment.item("2-1.xii"));
    assert_eq!(judged.item("2-1.vi"), ItemStatus::DeclarationNeeded);
    // Raw heads are recorded, cookie values are not.
    let entry = posture.entry.as_ref().expect("entry");
    let head = entry.response().expect("entry response");
    assert!(head.head.starts_with("HTTP/1.1 200"), "{}", head.head);
    assert!(head.head.contains(&format!("strict-transport-security: {GOOD_HSTS}")), "{}", head.head);
    let json = serde_json::to_string(&judged.evidence).expect("evidence serialises");
    assert!(!json.contains("s3cr3t"), "a cookie value leaked into the evidence");
    assert!(json.contains("__Host-sid=<redacted"));
    // One connection per request, each counted, each seen by the servers.
    assert_eq!(posture.connections, 2);
    assert_eq!(port80.requests(), 1);
    // The evidence reloads (checks can re-judge offline).
    let again: ScanEvidence = serde_json::from_str(&json).expect("evidence reloads");
    assert_eq!(again.targets[0].endpoints[0].http.as_ref(), Some(posture));
}

#[tokio::test]
async fn a_page_over_plain_http_is_a_warning_never_a_failure() {
    let site = https(HttpServer::new().route("/", clean_page())).await;
    let port80 = plain(HttpServer::new().route("/", page(&[]))).await;
    let judged = Judged::new(scan_site(site.addr, port80.addr.port()).await);
    let (status, en, ja) = judged.finding("http.redirect");
    assert_eq!(status, CheckStatus::Warn);
    assert!(en.contains("HTTP 200") && ja.contains("暗号化なし"), "{en} / {ja}");
    assert_eq!(judged.posture().plain.as_ref().map(|c| &c.end), Some(&ChainEnd::Answered));
    assert_eq!(judged.item("2-1.xii"), ItemStatus::NeedsReview);
}

#[tokio::test]
async fn redirect_to_another_host_is_recorded_not_followed() {
    let site = https(HttpServer::new().route("/", clean_page())).await;
    let port80 = plain(HttpServer::new().route("/", Response::redirect(302, "https://login.other.example/"))).await;
    let judged = Judged::new(scan_site(site.addr, port80.addr.port()).await);
    let chain = judged.posture().plain.as_ref().expect("chain");
    assert_eq!(chain.end, ChainEnd::LeftHost { location: "https://login.other.example/".into() });
    assert_eq!(chain.hops.len(), 1);
    let (status, en, _) = judged.finding("http.redirect");
    assert_eq!(status, CheckStatus::Warn);
    assert!(en.contains("another host"), "{en}");
}

#[tokio::test]
async fn redirect_loop_and_cleartext_hops() {
    let site = https(HttpServer::new().route("/", clean_page())).await;
    let looping =
        plain(HttpServer::new().route("/", Response::redirect(302, "/a")).route("/a", Response::redirect(302, "/")))
            .await;
    let judged = Judged::new(scan_site(site.addr, looping.addr.port()).await);
    let chain = judged.posture().plain.as_ref().expect("chain");
    assert!(matches!(chain.end, ChainEnd::Loop { .. }), "{:?}", chain.end);
    assert_eq!(chain.hops.len(), 2);
    assert_eq!(judged.status("http.redirect"), CheckStatus::Warn);

    // A cleartext detour before https is a warning too.
    let detour = plain(
        HttpServer::new()
            .route("/", Response::redirect(301, "/start"))
            .route("/start", Response::redirect(301, &format!("https://{HOST}/start"))),
    )
    .await;
    let judged = Judged::new(scan_site(site.addr, detour.addr.port()).await);
    let (status, en, _) = judged.finding("http.redirect");
    assert_eq!(status, CheckStatus::Warn);
    assert!(en.contains("after 2 redirects"), "{en}");
}

#[tokio::test]
async fn endless_redirects_stop_at_the_hop_limit() {
    let site = https(HttpServer::new().route("/", clean_page())).await;
    let counter = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = counter.clone();
    let endless = plain(HttpServer::new().handler("/", move |_| {
        let n = seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Response::redirect(302, &format!("/?n={n}"))
    }))
    .await;
    let judged = Judged::new(scan_site(site.addr, endless.addr.port()).await);
    let chain = judged.posture().plain.as_ref().expect("chain");
    assert!(matches!(chain.end, ChainEnd::TooManyRedirects { .. }), "{:?}", chain.end);
    assert_eq!(chain.hops.len(), kensa::probe::http_posture::MAX_HOPS);
    assert_eq!(endless.requests(), kensa::probe::http_posture::MAX_HOPS);
    assert_eq!(judged.status("http.redirect"), CheckStatus::Warn);
}

#[tokio::test]
async fn a_closed_plain_port_passes() {
    let site = https(HttpServer::new().route("/", clean_page())).await;
    let judged = Judged::new(scan_site(site.addr, closed_port()).await);
    let first = &judged.posture().plain.as_ref().expect("chain").hops[0];
    assert!(matches!(first.outcome, HttpOutcome::Error { error: HttpErrorKind::Refused, .. }), "{first:?}");
    let (status, en, _) = judged.finding("http.redirect");
    assert_eq!(status, CheckStatus::Pass);
    assert!(en.contains("closed"), "{en}");
}

#[tokio::test]
async fn a_tarpit_on_the_plain_port_ends_within_the_deadline() {
    let site = https(HttpServer::new().route("/", clean_page())).await;
    let tarpit = plain(HttpServer::new().hostile("/", Hostile::Tarpit)).await;
    let deadline = Duration::from_millis(800);
    let started = Instant::now();
    let evidence =
        scan_url("https://web.clinic.example:{port}/", site.addr, tarpit.addr.port(), |r| r.timeout = deadline).await;
    let judged = Judged::new(evidence);
    let first = &judged.posture().plain.as_ref().expect("chain").hops[0];
    assert!(matches!(first.outcome, HttpOutcome::Error { error: HttpErrorKind::Timeout, .. }), "{first:?}");
    assert!(first.elapsed_ms < 3 * 800 + 500, "{} ms", first.elapsed_ms);
    // Nothing to judge: not a pass.
    assert_eq!(judged.status("http.redirect"), CheckStatus::Indeterminate);
    assert!(started.elapsed() < Duration::from_secs(30), "{:?}", started.elapsed());
}

#[tokio::test]
async fn garbage_on_the_plain_port_is_recorded_as_such() {
    let site = https(HttpServer::new().route("/", clean_page())).await;
    let garbage = plain(HttpServer::new().hostile("/", Hostile::Garbage)).await;
    let judged = Judged::new(scan_site(site.addr, garbage.addr.port()).await);
    let first = &judged.posture().plain.as_ref().expect("chain").hops[0];
    assert!(matches!(first.outcome, HttpOutcome::Error { error: HttpErrorKind::Garbage, .. }), "{first:?}");
    assert_eq!(judged.status("http.redirect"), CheckStatus::Indeterminate);
}

#[tokio::test]
async fn missing_or_short_hsts_warns_partial_hsts_informs() {
    let port80 = plain(redirect_home()).await;
    for (hsts, expected, words) in [
        (None, CheckStatus::Warn, "no Strict-Transport-Security"),
        (Some("max-age=86400; includeSubDomains; preload"), CheckStatus::Warn, "shorter than one year"),
        (Some("max-age=0"), CheckStatus::Warn, "max-age=0"),
        (Some("max-age=abc"), CheckStatus::Warn, "invalid"),
        (Some("max-age=31536000"), CheckStatus::Info, "includeSubDomains"),
        (Some("max-age=31536000; includeSubDomains"), CheckStatus::Info, "preload"),
    ] {
        let headers: Vec<(&str, &str)> =
            hsts.map(|v| ("strict-transport-security", v)).into_iter().chain([("cache-control", "no-store")]).collect();
        let site = https(HttpServer::new().route("/", page(&headers))).await;
        let judged = Judged::new(scan_site(site.addr, port80.addr.port()).await);
        let (status, en, ja) = judged.finding("http.hsts");
        assert_eq!(status, expected, "{hsts:?}: {en}");
        assert!(en.contains(words), "{hsts:?}: {en}");
        assert!(!ja.is_empty());
        let xii = if expected == CheckStatus::Warn { ItemStatus::NeedsReview } else { ItemStatus::Compliant };
        assert_eq!(judged.item("2-1.xii"), xii, "{hsts:?}");
    }
}

#[tokio::test]
async fn cookies_without_flags_make_2_1_vi_need_review() {
    let site = https(HttpServer::new().route(
        "/",
        page(&[
            ("strict-transport-security", GOOD_HSTS),
            ("set-cookie", "session=very-secret-value; Path=/"),
            ("set-cookie", "__Host-ok=1; Path=/; Secure; HttpOnly; SameSite=Strict"),
            ("cache-control", "no-store"),
        ]),
    ))
    .await;
    let port80 = plain(redirect_home()).await;
    let judged = Judged::new(scan_site(site.addr, port80.addr.port()).await);
    let (status, en, ja) = judged.finding("http.cookies");
    assert_eq!(status, CheckStatus::Warn);
    assert!(en.contains("session (no Secure, no HttpOnly, no SameSite)"), "{en}");
    assert!(!en.contains("__Host-ok"), "{en}");
    assert!(ja.contains("session（Secureなし"), "{ja}");
    assert!(!en.contains("very-secret-value") && !ja.contains("very-secret-value"));
    assert_eq!(judged.item("2-1.vi"), ItemStatus::NeedsReview);
    // The item 2-1.xii does not look at cookies.
    assert_eq!(judged.item("2-1.xii"), ItemStatus::Compliant);
}

#[tokio::test]
async fn caching_is_information_unless_shared_caches_get_the_cookie() {
    let port80 = plain(redirect_home()).await;
    let site = https(HttpServer::new().route("/", page(&[("strict-transport-security", GOOD_HSTS)]))).await;
    let judged = Judged::new(scan_site(site.addr, port80.addr.port()).await);
    assert_eq!(judged.status("http.cache-control"), CheckStatus::Info);
    assert_eq!(judged.item("2-1.vi"), ItemStatus::DeclarationNeeded);

    let site = https(HttpServer::new().route(
        "/",
        page(&[
            ("strict-transport-security", GOOD_HSTS),
            ("set-cookie", "s=1; Secure; HttpOnly; SameSite=Lax"),
            ("cache-control", "public, max-age=600"),
        ]),
    ))
    .await;
    let judged = Judged::new(scan_site(site.addr, port80.addr.port()).await);
    assert_eq!(judged.status("http.cache-control"), CheckStatus::Warn);
    assert_eq!(judged.item("2-1.vi"), ItemStatus::NeedsReview);
}

#[tokio::test]
async fn cleartext_websocket_upgrade_is_a_warning() {
    let site = https(HttpServer::new().route("/", clean_page())).await;
    let accepting = plain(HttpServer::new().handler("/signal", |request| {
        let upgrade = request.header("upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
        let key = request.header("sec-websocket-key").is_some();
        if upgrade && key && request.header("sec-websocket-version") == Some("13") {
            Response {
                headers: vec![
                    ("upgrade".into(), "websocket".into()),
                    ("sec-websocket-accept".into(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".into()),
                ],
                ..Response::status(101)
            }
        } else {
            Response::status(400)
        }
    }))
    .await;
    let url = "wss://web.clinic.example:{port}/signal";
    let judged = Judged::new(scan_url(url, site.addr, accepting.addr.port(), |_| {}).await);
    assert_eq!(judged.posture().scope, HttpScope::Websocket);
    let exchange = judged.posture().cleartext_websocket.as_ref().expect("upgrade asked");
    assert!(exchange.url.starts_with("ws://web.clinic.example:"), "{}", exchange.url);
    let (status, en, _) = judged.finding("ws.cleartext");
    assert_eq!(status, CheckStatus::Warn, "{en}");
    assert!(en.contains("101"), "{en}");
    // WebSocket endpoints have no page: the page signals say so rather than pass.
    assert_eq!(judged.status("http.redirect"), CheckStatus::Info);
    assert_eq!(judged.status("http.hsts"), CheckStatus::Info);
    assert!(judged.posture().entry.is_none() && judged.posture().plain.is_none());
    assert_eq!(judged.item("2-1.xii"), ItemStatus::NeedsReview);

    let refusing = plain(HttpServer::new().route("/signal", Response::status(426))).await;
    let judged = Judged::new(scan_url(url, site.addr, refusing.addr.port(), |_| {}).await);
    assert_eq!(judged.status("ws.cleartext"), CheckStatus::Pass);
    let judged = Judged::new(scan_url(url, site.addr, closed_port(), |_| {}).await);
    assert_eq!(judged.status("ws.cleartext"), CheckStatus::Pass);
}

#[tokio::test]
async fn roles_decide_what_is_asked_and_no_http_asks_nothing() {
    let site = https(HttpServer::new().route("/", clean_page())).await;
    let port80 = plain(HttpServer::new().route("/", page(&[]))).await;
    // An API endpoint: nothing asked, and since nothing in the scan was, no finding at all.
    let api = |request: &mut ScanRequest| request.targets[0].role = Some(EndpointRole::Api);
    let judged = Judged::new(scan_url("https://web.clinic.example:{port}/", site.addr, port80.addr.port(), api).await);
    assert!(matches!(judged.posture().scope, HttpScope::NotApplicable { .. }));
    assert_eq!(judged.posture().connections, 0);
    assert_eq!(port80.requests(), 0);
    assert!(judged.assessment.findings.iter().all(|f| !f.check_id.starts_with("http.")));
    assert_eq!(judged.item("2-1.vi"), ItemStatus::DeclarationNeeded);

    let off = |request: &mut ScanRequest| request.http.enabled = false;
    let judged = Judged::new(scan_url("https://web.clinic.example:{port}/", site.addr, port80.addr.port(), off).await);
    assert!(judged.evidence.targets[0].endpoints[0].http.is_none());
    assert_eq!(port80.requests(), 0);
    assert!(judged
        .assessment
        .findings
        .iter()
        .all(|f| !f.check_id.starts_with("http.") && f.check_id != "ws.cleartext"));
    assert_eq!(judged.item("2-1.vi"), ItemStatus::DeclarationNeeded);
    assert_eq!(judged.item("2-1.xii"), ItemStatus::Compliant);
}

#[tokio::test]
async fn an_untrusted_certificate_leaves_the_page_signals_to_the_certificate_checks() {
    let site = https(HttpServer::new().route("/", clean_page())).await;
    let port80 = plain(redirect_home()).await;
    let untrusted = |request: &mut ScanRequest| request.extra_roots.clear();
    let judged =
        Judged::new(scan_url("https://web.clinic.example:{port}/", site.addr, port80.addr.port(), untrusted).await);
    let entry = judged.posture().entry.as_ref().expect("entry");
    assert!(matches!(entry.outcome, HttpOutcome::Error { error: HttpErrorKind::Tls, .. }), "{entry:?}");
    assert_eq!(judged.status("http.hsts"), CheckStatus::Info);
    assert_eq!(judged.item("2-1.xii"), ItemStatus::NonCompliant);
}
