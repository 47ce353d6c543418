//! Revocation end to end: a local OCSP responder (kensa's response builder behind the
//! loopback HTTP server), stapled OCSP responses from a rustls server, and must-staple.
//! Every server is on 127.0.0.1 and started here.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kensa::checks::CheckStatus;
use kensa::evidence::{AddressFamily, FetchPurpose, ScanEvidence, ScanMode};
use kensa::probe::{scan, ScanRequest};
use kensa::profile::Profile;
use kensa::resolve::{Pin, ResolverSettings};
use kensa::revocation::respond::{OcspResponder, ResponderStatus};
use kensa::testkit::http::{HttpServer, Request, Response, RunningHttpServer};
use kensa::testkit::pki::{CertSpec, Chain};
use kensa::testkit::{spawn_stapling_server, spawn_tls_server, RunningServer};
use kensa::verdict::{Assessment, ItemStatus};

const HOST: &str = "revocation.clinic.example";
const TIMEOUT: Duration = Duration::from_secs(5);
const ITEM: &str = "2-1.xii";

fn now() -> i64 {
    i64::try_from(kensa::evidence::now_unix()).expect("time")
}

/// A local OCSP responder whose answer can be changed between scans.
struct Responder {
    http: RunningHttpServer,
    answer: Arc<Mutex<ResponderStatus>>,
}

/// Issues a leaf (with `spec`) under a fresh root and intermediate. The responder is started
/// first, so the leaf can name it; it answers for the leaf's issuer.
async fn pki_with_responder(spec: impl FnOnce(String) -> CertSpec) -> (Chain, Responder) {
    let answer = Arc::new(Mutex::new(ResponderStatus::Good));
    let responder: Arc<Mutex<Option<OcspResponder>>> = Arc::new(Mutex::new(None));
    let (shared_answer, shared_responder) = (answer.clone(), responder.clone());
    let http = HttpServer::new()
        .handler("/ocsp", move |request: &Request| {
            let guard = shared_responder.lock().expect("responder lock");
            let Some(responder) = guard.as_ref() else {
                return Response::status(503);
            };
            let status = *shared_answer.lock().expect("answer lock");
            Response::ok("application/ocsp-response", responder.answer(&request.body, &|_| status, now()))
        })
        .start()
        .await
        .expect("OCSP responder");
    let chain = Chain::build(1, spec(http.url("/ocsp"))).expect("chain");
    let issuer = chain.issuing();
    let key = issuer.key_pair();
    *responder.lock().expect("responder lock") =
        Some(OcspResponder::new(issuer.der().to_vec(), key).expect("responder for the issuer"));
    (chain, Responder { http, answer })
}

async fn scan_with(server: &RunningServer, chain: &Chain, revocation: bool) -> ScanEvidence {
    let addr: SocketAddr = server.addr;
    let target = format!("{HOST}:{}", addr.port()).parse().expect("target");
    let pin: Pin = format!("{HOST}:{}:{}", addr.port(), addr.ip()).parse().expect("pin");
    let resolver = ResolverSettings { server: None, timeout: TIMEOUT, family: AddressFamily::Any };
    let mut request = ScanRequest::new(vec![target], resolver, TIMEOUT);
    request.pins = vec![pin];
    request.mode = ScanMode::Minimal;
    request.extra_roots = chain.roots();
    request.revocation = revocation;
    scan(&request).await
}

fn status_of(evidence: &ScanEvidence, check: &str) -> (CheckStatus, String) {
    let assessment = Assessment::evaluate(&Profile::embedded(), evidence);
    let finding = assessment.findings.iter().find(|f| f.check_id == check).expect("finding");
    (finding.status, finding.message.en.clone())
}

fn item_status(evidence: &ScanEvidence) -> ItemStatus {
    let assessment = Assessment::evaluate(&Profile::embedded(), evidence);
    assessment.item(ITEM).expect("item").status
}

fn versions() -> Vec<&'static rustls::SupportedProtocolVersion> {
    vec![&rustls::version::TLS13, &rustls::version::TLS12]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_responder_good_then_revoked() {
    let (chain, responder) = pki_with_responder(|url| CertSpec::leaf(&[HOST]).with_ocsp(&url)).await;
    let server = spawn_tls_server(chain.identity(), &versions()).await.expect("server");

    let evidence = scan_with(&server, &chain, true).await;
    let (status, message) = status_of(&evidence, "cert.revocation");
    assert_eq!(status, CheckStatus::Pass, "{message}");
    assert!(message.contains("good"), "{message}");
    let endpoint = &evidence.targets[0].endpoints[0];
    assert!(endpoint.fetches.iter().any(|f| f.purpose == FetchPurpose::Ocsp), "{:?}", endpoint.fetches);
    assert!(responder.http.requests() >= 1);

    *responder.answer.lock().expect("answer lock") =
        ResponderStatus::Revoked { revoked_at: now() - 3600, reason: None };
    let evidence = scan_with(&server, &chain, true).await;
    let (status, message) = status_of(&evidence, "cert.revocation");
    assert_eq!(status, CheckStatus::Fail, "{message}");
    assert!(message.contains("REVOKED"), "{message}");
    assert_eq!(item_status(&evidence), ItemStatus::NonCompliant);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_revocation_flag_nothing_is_asked() {
    let (chain, responder) = pki_with_responder(|url| CertSpec::leaf(&[HOST]).with_ocsp(&url)).await;
    let server = spawn_tls_server(chain.identity(), &versions()).await.expect("server");

    let evidence = scan_with(&server, &chain, false).await;
    let (status, message) = status_of(&evidence, "cert.revocation");
    assert_eq!(status, CheckStatus::NotRun, "{message}");
    assert_eq!(responder.http.requests(), 0, "no OCSP query without --revocation");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_responder_is_indeterminate_not_a_failure() {
    // A port nothing listens on: bind, read the port, close.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr");
    let url = format!("http://{closed}/ocsp");
    let chain = Chain::build(1, CertSpec::leaf(&[HOST]).with_ocsp(&url)).expect("chain");
    let server = spawn_tls_server(chain.identity(), &versions()).await.expect("server");

    let evidence = scan_with(&server, &chain, true).await;
    let (status, message) = status_of(&evidence, "cert.revocation");
    assert_eq!(status, CheckStatus::Indeterminate, "{message}");
    assert!(message.contains("unreachable"), "{message}");
    assert_ne!(item_status(&evidence), ItemStatus::NonCompliant);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stapled_good_and_revoked_responses_are_judged() {
    let (chain, _responder) =
        pki_with_responder(|url| CertSpec::leaf(&[HOST]).with_ocsp(&url).with_must_staple()).await;
    let issuer = chain.issuing();
    let signer = OcspResponder::new(issuer.der().to_vec(), issuer.key_pair()).expect("signer");

    let good = signer
        .respond(&chain.leaf.der, ResponderStatus::Good, now() - 3600, Some(now() + 86_400), None)
        .expect("good response");
    let server = spawn_stapling_server(chain.identity(), good, &versions()).await.expect("server");
    let evidence = scan_with(&server, &chain, false).await;
    let (status, message) = status_of(&evidence, "cert.revocation");
    assert_eq!(status, CheckStatus::Pass, "{message}");
    assert!(message.contains("stapled"), "{message}");
    assert_eq!(status_of(&evidence, "cert.must-staple").0, CheckStatus::Pass);

    let revoked = signer
        .respond(
            &chain.leaf.der,
            ResponderStatus::Revoked { revoked_at: now() - 7200, reason: None },
            now() - 3600,
            Some(now() + 86_400),
            None,
        )
        .expect("revoked response");
    let server = spawn_stapling_server(chain.identity(), revoked, &versions()).await.expect("server");
    let evidence = scan_with(&server, &chain, false).await;
    let (status, message) = status_of(&evidence, "cert.revocation");
    assert_eq!(status, CheckStatus::Fail, "{message}");

    let stale = signer
        .respond(&chain.leaf.der, ResponderStatus::Good, now() - 10 * 86_400, Some(now() - 86_400), None)
        .expect("stale response");
    let server = spawn_stapling_server(chain.identity(), stale, &versions()).await.expect("server");
    let evidence = scan_with(&server, &chain, false).await;
    let (status, message) = status_of(&evidence, "cert.revocation");
    assert_eq!(status, CheckStatus::Fail, "a stale staple is rejected by browsers: {message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn must_staple_without_a_staple_fails() {
    let chain = Chain::build(1, CertSpec::leaf(&[HOST]).with_must_staple()).expect("chain");
    let server = spawn_tls_server(chain.identity(), &versions()).await.expect("server");

    let evidence = scan_with(&server, &chain, false).await;
    let (status, message) = status_of(&evidence, "cert.must-staple");
    assert_eq!(status, CheckStatus::Fail, "{message}");
    assert!(message.contains("must-staple"), "{message}");
    assert_eq!(item_status(&evidence), ItemStatus::NonCompliant);
}
