//! The certificate fetcher (`kensa::probe::fetch`) against `kensa::testkit::http` servers on
//! 127.0.0.1: good answers, error statuses, redirects, and hostile servers that must end as a
//! `Failed` outcome within the deadline — never a hang, a panic or an unbounded body.

use std::time::{Duration, Instant};

use kensa::evidence::{Bytes, Fetch, FetchOutcome, FetchPurpose};
use kensa::probe::fetch::{FetchLimits, Fetcher, USER_AGENT};
use kensa::testkit::http::{Hostile, HttpServer, Response};
use kensa::testkit::{self, Validity};

const SHA: &str = "00112233";

fn limits(timeout_ms: u64) -> FetchLimits {
    FetchLimits { timeout: Duration::from_millis(timeout_ms), max_body_bytes: 1024 * 1024, max_redirects: 3 }
}

fn fetcher() -> Fetcher {
    Fetcher::new().expect("fetcher builds")
}

fn response(fetch: &Fetch) -> (u16, Option<&str>, &[u8]) {
    match &fetch.outcome {
        FetchOutcome::Response { status, content_type, body } => (*status, content_type.as_deref(), &body.0),
        FetchOutcome::Failed { reason } => panic!("expected a response from {}, got failure: {reason}", fetch.url),
    }
}

fn failure(fetch: &Fetch) -> &str {
    match &fetch.outcome {
        FetchOutcome::Failed { reason } => reason,
        FetchOutcome::Response { status, .. } => panic!("expected {} to fail, got HTTP {status}", fetch.url),
    }
}

#[tokio::test]
async fn get_returns_status_content_type_and_body() {
    let server = HttpServer::new()
        .route("/ca.crt", Response::ok("application/pkix-cert", b"\x30\x03\x02\x01\x00".to_vec()))
        .start()
        .await
        .unwrap();
    let url = server.url("/ca.crt");
    let fetch = fetcher().get(FetchPurpose::CaIssuers, &url, SHA, &limits(5000)).await;
    assert_eq!(response(&fetch), (200, Some("application/pkix-cert"), &b"\x30\x03\x02\x01\x00"[..]));
    assert_eq!(fetch.purpose, FetchPurpose::CaIssuers);
    assert_eq!(fetch.url, url);
    assert_eq!(fetch.certificate_sha256, SHA);
    assert_eq!(fetch.request, None);
    assert!(fetch.elapsed_ms < 5000);
    assert_eq!(server.requests(), 1);
}

#[tokio::test]
async fn post_body_and_headers_reach_the_handler() {
    let server = HttpServer::new()
        .handler("/ocsp", |request| {
            let echo = format!(
                "{} {} ct={} accept={} ua={} body={}",
                request.method,
                request.path,
                request.header("content-type").unwrap_or("-"),
                request.header("accept").unwrap_or("-"),
                request.header("user-agent").unwrap_or("-"),
                hex::encode(&request.body),
            );
            Response::ok("application/ocsp-response", echo)
        })
        .start()
        .await
        .unwrap();
    let query = vec![0x30, 0x05, 0x30, 0x03, 0x02, 0x01, 0x07];
    let fetch = fetcher()
        .post(FetchPurpose::Ocsp, &server.url("/ocsp"), SHA, "application/ocsp-request", query.clone(), &limits(5000))
        .await;
    let (status, content_type, body) = response(&fetch);
    assert_eq!((status, content_type), (200, Some("application/ocsp-response")));
    let expected = format!(
        "POST /ocsp ct=application/ocsp-request accept=application/ocsp-response ua={USER_AGENT} body={}",
        hex::encode(&query)
    );
    assert_eq!(String::from_utf8_lossy(body), expected);
    assert_eq!(fetch.request, Some(Bytes(query)));
}

#[tokio::test]
async fn error_statuses_are_responses_not_failures() {
    let server = HttpServer::new()
        .route("/gone", Response { body: b"gone".to_vec(), ..Response::status(410) })
        .start()
        .await
        .unwrap();
    let f = fetcher();
    let missing = f.get(FetchPurpose::Crl, &server.url("/nothing-here"), SHA, &limits(5000)).await;
    assert_eq!(response(&missing).0, 404);
    let gone = f.get(FetchPurpose::Crl, &server.url("/gone"), SHA, &limits(5000)).await;
    assert_eq!(response(&gone), (410, None, &b"gone"[..]));
}

#[tokio::test]
async fn redirects_are_followed_within_the_limit() {
    let server = HttpServer::new()
        .route("/old", Response::redirect(301, "/middle"))
        .route("/middle", Response::redirect(302, "/new?x=1"))
        .route("/new", Response::ok("application/pkix-cert", b"issuer".to_vec()))
        .start()
        .await
        .unwrap();
    let fetch = fetcher().get(FetchPurpose::CaIssuers, &server.url("/old"), SHA, &limits(5000)).await;
    assert_eq!(response(&fetch), (200, Some("application/pkix-cert"), &b"issuer"[..]));
    assert_eq!(fetch.url, server.url("/old"), "the record keeps the URL the certificate named");
    assert_eq!(server.requests(), 3);
}

#[tokio::test]
async fn a_307_repeats_the_post_with_its_body() {
    let server = HttpServer::new()
        .route("/ocsp", Response::redirect(307, "/ocsp2"))
        .handler("/ocsp2", |request| Response::ok("application/ocsp-response", request.body.clone()))
        .start()
        .await
        .unwrap();
    let fetch = fetcher()
        .post(FetchPurpose::Ocsp, &server.url("/ocsp"), SHA, "application/ocsp-request", b"q".to_vec(), &limits(5000))
        .await;
    assert_eq!(response(&fetch).2, b"q");
}

#[tokio::test]
async fn redirect_loops_and_long_chains_fail() {
    let server = HttpServer::new()
        .route("/a", Response::redirect(302, "/b"))
        .route("/b", Response::redirect(302, "/a"))
        .route("/self", Response::redirect(308, "/self"))
        .handler("/hop", |request| {
            let n: u32 = request.path.split("n=").nth(1).and_then(|n| n.parse().ok()).unwrap_or(0);
            Response::redirect(302, &format!("/hop?n={}", n + 1))
        })
        .route("/to-ldap", Response::redirect(302, "ldap://ldap.example/cn=CA"))
        .start()
        .await
        .unwrap();
    let f = fetcher();
    for path in ["/a", "/self"] {
        let fetch = f.get(FetchPurpose::CaIssuers, &server.url(path), SHA, &limits(5000)).await;
        assert!(failure(&fetch).contains("redirect loop"), "{path}: {}", failure(&fetch));
    }
    let before = server.requests();
    let chain = f.get(FetchPurpose::CaIssuers, &server.url("/hop"), SHA, &limits(5000)).await;
    assert_eq!(failure(&chain), "more than 3 redirects");
    assert_eq!(server.requests() - before, 4, "the first request and three redirects");
    let ldap = f.get(FetchPurpose::CaIssuers, &server.url("/to-ldap"), SHA, &limits(5000)).await;
    assert!(failure(&ldap).contains("unsupported scheme"), "{}", failure(&ldap));
}

#[tokio::test]
async fn a_tarpit_ends_at_the_deadline() {
    let server = HttpServer::new().hostile("/tarpit", Hostile::Tarpit).start().await.unwrap();
    let started = Instant::now();
    let fetch = fetcher().get(FetchPurpose::CaIssuers, &server.url("/tarpit"), SHA, &limits(500)).await;
    assert!(failure(&fetch).contains("timed out"), "{}", failure(&fetch));
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    assert!(fetch.elapsed_ms >= 400, "ended early: {} ms", fetch.elapsed_ms);
}

#[tokio::test]
async fn a_trickling_body_ends_at_the_deadline() {
    let server = HttpServer::new()
        .hostile("/slow", Hostile::Trickle { interval: Duration::from_millis(200) })
        .start()
        .await
        .unwrap();
    let started = Instant::now();
    let fetch = fetcher().get(FetchPurpose::CaIssuers, &server.url("/slow"), SHA, &limits(1000)).await;
    assert!(failure(&fetch).contains("timed out"), "{}", failure(&fetch));
    assert!(started.elapsed() < Duration::from_secs(6), "took {:?}", started.elapsed());
}

#[tokio::test]
async fn bodies_over_the_cap_fail_declared_or_not() {
    let server = HttpServer::new()
        .hostile("/declared", Hostile::GiantBody { size: 64 * 1024 * 1024, declare_length: true })
        .hostile("/undeclared", Hostile::GiantBody { size: 64 * 1024 * 1024, declare_length: false })
        .route("/exact", Response::ok("application/pkix-crl", vec![7u8; 4096]))
        .start()
        .await
        .unwrap();
    let f = fetcher();
    let small = FetchLimits { max_body_bytes: 4096, ..limits(10_000) };
    for path in ["/declared", "/undeclared"] {
        let fetch = f.get(FetchPurpose::Crl, &server.url(path), SHA, &small).await;
        assert_eq!(failure(&fetch), "response larger than 4096 bytes", "{path}");
    }
    let exact = f.get(FetchPurpose::Crl, &server.url("/exact"), SHA, &small).await;
    assert_eq!(response(&exact).2.len(), 4096, "a body exactly at the cap is accepted");
}

#[tokio::test]
async fn closed_and_garbage_answers_fail() {
    let server = HttpServer::new()
        .hostile("/close", Hostile::Close)
        .hostile("/garbage", Hostile::Garbage)
        .start()
        .await
        .unwrap();
    let f = fetcher();
    for path in ["/close", "/garbage"] {
        let fetch = f.get(FetchPurpose::CaIssuers, &server.url(path), SHA, &limits(5000)).await;
        assert!(!failure(&fetch).is_empty(), "{path}");
    }
}

#[tokio::test]
async fn unsupported_schemes_and_malformed_urls_fail_without_connecting() {
    let f = fetcher();
    for url in ["ldap://127.0.0.1/cn=CA?cACertificate", "file:///etc/passwd", "ftp://127.0.0.1/ca.crt"] {
        let started = Instant::now();
        let fetch = f.get(FetchPurpose::CaIssuers, url, SHA, &limits(5000)).await;
        assert!(failure(&fetch).contains("unsupported scheme"), "{url}: {}", failure(&fetch));
        assert!(started.elapsed() < Duration::from_secs(1));
    }
    for url in ["", "not a url", "http://", "http://[::1/x"] {
        let fetch = f.get(FetchPurpose::CaIssuers, url, SHA, &limits(5000)).await;
        assert!(failure(&fetch).contains("malformed URL"), "{url:?}: {}", failure(&fetch));
    }
}

#[tokio::test]
async fn a_refused_connection_fails() {
    // Bind, note the port, close: nothing listens there any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).unwrap().port();
    let url = format!("http://127.0.0.1:{port}/ca.crt");
    let fetch = fetcher().get(FetchPurpose::CaIssuers, &url, SHA, &limits(5000)).await;
    assert!(failure(&fetch).contains("refused"), "{}", failure(&fetch));
}

#[tokio::test]
async fn https_is_verified_against_the_configured_roots() {
    let ca = testkit::TestCa::new("kensa fetch test CA").unwrap();
    let identity = ca.issue(&["127.0.0.1"], Validity::CURRENT).unwrap();
    let server = testkit::spawn_tls_server(identity, &[&rustls::version::TLS13]).await.unwrap();
    let url = format!("https://{}/ca.crt", server.addr);

    let trusting = Fetcher::with_extra_roots(&[kensa::evidence::CertDer(ca.certificate().to_vec())]).unwrap();
    let fetch = trusting.get(FetchPurpose::CaIssuers, &url, SHA, &limits(5000)).await;
    assert_eq!(response(&fetch), (200, None, &b"ok"[..]));

    // The Mozilla roots alone do not know the test CA.
    let fetch = fetcher().get(FetchPurpose::CaIssuers, &url, SHA, &limits(5000)).await;
    assert!(failure(&fetch).contains("certificate"), "{}", failure(&fetch));
}

#[tokio::test]
async fn the_server_counts_connections_and_requests() {
    let server = HttpServer::new().route("/x", Response::status(200)).start().await.unwrap();
    assert_eq!((server.requests(), server.connections()), (0, 0));
    let _ = fetcher().get(FetchPurpose::Crl, &server.url("/x"), SHA, &limits(5000)).await;
    assert_eq!((server.requests(), server.connections()), (1, 1));
}

/// Set in the child process of [`proxy_variables_are_ignored`].
const PROXY_CHILD: &str = "KENSA_FETCH_PROXY_CHILD";

/// reqwest honours `HTTP_PROXY` and friends unless told not to; a certificate's URL must not
/// be sent to (or through) a proxy the environment names. Changing the environment races
/// every other thread, so the check runs alone in a child process of this test binary.
#[test]
fn proxy_variables_are_ignored() {
    if std::env::var_os(PROXY_CHILD).is_some() {
        return proxy_child();
    }
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "proxy_variables_are_ignored", "--test-threads=1", "--nocapture"])
        .env(PROXY_CHILD, "1")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "child failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn proxy_child() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let proxy = HttpServer::new().start().await.unwrap();
        let target = HttpServer::new().route("/x", Response::ok("text/plain", "direct")).start().await.unwrap();
        for name in ["NO_PROXY", "no_proxy", "REQUEST_METHOD"] {
            std::env::remove_var(name);
        }
        for name in ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"] {
            std::env::set_var(name, proxy.url("/"));
        }

        // The control: a stock client does go through the proxy.
        let tls = rustls::ClientConfig::builder_with_provider(kensa::probe::modern::provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
        let stock = reqwest::Client::builder().tls_backend_preconfigured(tls).build().unwrap();
        let _ = stock.get(target.url("/x")).send().await;
        assert_eq!((proxy.requests(), target.requests()), (1, 0), "the stock client used the proxy");

        let fetch = fetcher().get(FetchPurpose::CaIssuers, &target.url("/x"), SHA, &limits(5000)).await;
        assert_eq!(response(&fetch), (200, Some("text/plain"), &b"direct"[..]));
        assert_eq!((proxy.requests(), target.requests()), (1, 1), "kensa went direct");
    });
}
