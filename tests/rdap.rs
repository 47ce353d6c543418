//! RDAP (`kensa::domain::rdap`) against `kensa::testkit::http` servers on 127.0.0.1: the
//! bundled bootstrap, every field of the fixtures in `fixtures/rdap/`, the registrar
//! follow, rate limits, redirects, and hostile answers that must end as a clear
//! `Unparsed` or `Failed` lookup — never a hang, a panic or a stack overflow.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kensa::domain::rdap::{self, load_bootstrap, lookup, parse_domain, RdapBootstrap, MAX_RETRY_AFTER, RAW_KEEP_BYTES};
use kensa::evidence::domain::{
    LookupAnswer, RegistrationEvidence, RegistrationLookup, RegistrationRecord, RegistrationSource,
};
use kensa::probe::fetch::Fetcher;
use kensa::testkit::http::{Hostile, HttpServer, Response, RunningHttpServer};

const RDAP_JSON: &str = "application/rdap+json";
const REGISTRY_PLACEHOLDER: &str = "https://rdap.registry.example";
const REGISTRAR_PLACEHOLDER: &str = "https://rdap.registrar.example";

fn fixture(name: &str) -> String {
    let path = format!("{}/fixtures/rdap/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn fetcher() -> Fetcher {
    Fetcher::new().expect("fetcher builds")
}

fn timeout() -> Duration {
    Duration::from_secs(5)
}

fn found(lookup: &RegistrationLookup) -> &RegistrationRecord {
    match &lookup.answer {
        LookupAnswer::Found { record, .. } => record,
        other => panic!("expected a record from {}, got {other:?}", lookup.query),
    }
}

fn failed(lookup: &RegistrationLookup) -> &str {
    match &lookup.answer {
        LookupAnswer::Failed { reason } => reason,
        other => panic!("expected {} to fail, got {other:?}", lookup.query),
    }
}

fn unparsed(answer: &LookupAnswer) -> (&str, &str) {
    match answer {
        LookupAnswer::Unparsed { reason, raw } => (reason, raw),
        other => panic!("expected an unparsed answer, got {other:?}"),
    }
}

/// A server answering `/rdap/domain/example.com` with `response`; its base URL.
async fn serve(response: Response) -> (RunningHttpServer, String) {
    let server = HttpServer::new().route("/rdap/domain/example.com", response).start().await.expect("server starts");
    let base = server.url("/rdap/");
    (server, base)
}

fn ok_json(body: impl Into<Vec<u8>>) -> Response {
    Response::ok(RDAP_JSON, body)
}

/// The registry and registrar servers of the .com fixtures, each fixture's placeholder links
/// pointing at the loopback servers, and every request's `Accept` header recorded.
struct ComServers {
    registry: RunningHttpServer,
    registrar: RunningHttpServer,
    accepts: Arc<Mutex<Vec<String>>>,
}

async fn com_servers(registry_fixture: &str) -> ComServers {
    let registry_url = Arc::new(Mutex::new(String::new()));
    let registrar_url = Arc::new(Mutex::new(String::new()));
    let accepts = Arc::new(Mutex::new(Vec::new()));
    let substitute = {
        let (registry_url, registrar_url) = (registry_url.clone(), registrar_url.clone());
        move |text: &str| {
            let registry = registry_url.lock().map(|u| u.clone()).unwrap_or_default();
            let registrar = registrar_url.lock().map(|u| u.clone()).unwrap_or_default();
            text.replace(REGISTRY_PLACEHOLDER, &registry).replace(REGISTRAR_PLACEHOLDER, &registrar)
        }
    };
    let registry_body = fixture(registry_fixture);
    let registrar_body = fixture("registrar-example-com.json");
    let (sub, seen) = (substitute.clone(), accepts.clone());
    let registry = HttpServer::new()
        .handler("/com/v1/domain/example.com", move |request| {
            if let Ok(mut seen) = seen.lock() {
                seen.push(request.header("accept").unwrap_or_default().to_string());
            }
            ok_json(sub(&registry_body))
        })
        .start()
        .await
        .expect("registry starts");
    let (sub, seen) = (substitute, accepts.clone());
    let registrar = HttpServer::new()
        .handler("/rdap/domain/EXAMPLE.COM", move |request| {
            if let Ok(mut seen) = seen.lock() {
                seen.push(request.header("accept").unwrap_or_default().to_string());
            }
            ok_json(sub(&registrar_body))
        })
        .start()
        .await
        .expect("registrar starts");
    *registry_url.lock().expect("lock") = format!("http://{}", registry.addr);
    *registrar_url.lock().expect("lock") = format!("http://{}", registrar.addr);
    ComServers { registry, registrar, accepts }
}

// --- bootstrap ------------------------------------------------------------------------

#[test]
fn the_embedded_bootstrap_maps_com_to_verisign() {
    let bootstrap = RdapBootstrap::embedded();
    assert_eq!(bootstrap.publication(), "2026-07-23T02:00:03Z");
    let verisign = vec!["https://rdap.verisign.com/com/v1/".to_string()];
    assert_eq!(bootstrap.servers_for("example.com"), verisign);
    assert_eq!(bootstrap.servers_for("WWW.Example.COM."), verisign);
    assert_eq!(bootstrap.servers_for("example.net"), vec!["https://rdap.verisign.com/net/v1/".to_string()]);
    assert_eq!(bootstrap.servers_for("example.no"), vec!["https://rdap.norid.no/".to_string()]);
    // A service that only has http is still listed.
    assert_eq!(bootstrap.servers_for("example.kg"), vec!["http://rdap.cctld.kg/".to_string()]);
    // JPRS publishes no RDAP service in this snapshot: .jp goes to WHOIS.
    assert!(bootstrap.servers_for("example.co.jp").is_empty());
    assert!(bootstrap.servers_for("example.invalid").is_empty());
    assert!(bootstrap.servers_for("").is_empty());
    // The same instance every time.
    assert!(std::ptr::eq(bootstrap, RdapBootstrap::embedded()));
}

#[test]
fn the_longest_suffix_wins_and_https_comes_first() {
    let json = br#"{"version": "1.0", "publication": "2024-01-01T00:00:00Z", "services": [
        [["com", "net"], ["http://plain.example/rdap", "https://secure.example/rdap/"]],
        [["CO.Example.COM"], ["https://deeper.example/"]],
        [["org"], ["ftp://nowhere.example/"]]
    ]}"#;
    let bootstrap = RdapBootstrap::parse(json).expect("parses");
    assert_eq!(bootstrap.publication(), "2024-01-01T00:00:00Z");
    assert_eq!(
        bootstrap.servers_for("shop.example.com"),
        vec!["https://secure.example/rdap/".to_string(), "http://plain.example/rdap/".to_string()]
    );
    assert_eq!(bootstrap.servers_for("a.co.example.com"), vec!["https://deeper.example/".to_string()]);
    assert_eq!(bootstrap.servers_for("co.example.com"), vec!["https://deeper.example/".to_string()]);
    // A suffix match is by whole labels.
    assert_eq!(bootstrap.servers_for("aco.example.com").len(), 2);
    // Only http(s) services are kept.
    assert!(bootstrap.servers_for("example.org").is_empty());
}

#[test]
fn malformed_bootstrap_files_are_errors() {
    for (json, expected) in [
        (&b"not json"[..], "invalid JSON"),
        (br#"{"services": []}"#, "publication"),
        (br#"{"publication": "x"}"#, "services"),
        (br#"{"publication": "x", "services": [[["com"]]]}"#, "service 0"),
        (br#"{"publication": "x", "services": [[["com"], [1]]]}"#, "service 0"),
    ] {
        let error = RdapBootstrap::parse(json).expect_err("must not parse");
        assert!(error.contains(expected), "{error}");
    }
}

#[tokio::test]
async fn load_bootstrap_from_a_file_and_from_a_local_url() {
    let path = format!("{}/probes/rdap-dns-bootstrap.json", env!("CARGO_MANIFEST_DIR"));
    let from_file = load_bootstrap(&path, &fetcher(), timeout()).await.expect("file loads");
    assert_eq!(&from_file, RdapBootstrap::embedded());

    let custom = r#"{"publication": "2030-01-01T00:00:00Z", "services": [[["test"], ["https://rdap.test.example/"]]]}"#;
    let server = HttpServer::new()
        .route("/rdap/dns.json", Response::ok("application/json", custom))
        .route("/rdap/broken.json", Response::ok("application/json", "{}"))
        .start()
        .await
        .expect("server starts");
    let from_url = load_bootstrap(&server.url("/rdap/dns.json"), &fetcher(), timeout()).await.expect("URL loads");
    assert_eq!(from_url.publication(), "2030-01-01T00:00:00Z");
    assert_eq!(from_url.servers_for("example.test"), vec!["https://rdap.test.example/".to_string()]);

    let missing = load_bootstrap(&server.url("/rdap/missing.json"), &fetcher(), timeout()).await;
    assert!(missing.expect_err("404").contains("HTTP 404"));
    let broken = load_bootstrap(&server.url("/rdap/broken.json"), &fetcher(), timeout()).await;
    assert!(broken.expect_err("not a bootstrap").contains("publication"));
    let no_file = load_bootstrap("/nonexistent/dns.json", &fetcher(), timeout()).await;
    assert!(no_file.expect_err("no file").contains("/nonexistent/dns.json"));
    let directory = load_bootstrap(env!("CARGO_MANIFEST_DIR"), &fetcher(), timeout()).await;
    assert!(directory.expect_err("a directory").contains("not a regular file"));
}

// --- lookups of the fixtures ------------------------------------------------------------

#[tokio::test]
async fn a_thin_registry_answer_is_completed_by_the_registrar_once() {
    let servers = com_servers("verisign-example-com.json").await;
    let base = servers.registry.url("/com/v1/");
    let lookups = lookup("Example.COM.", std::slice::from_ref(&base), &fetcher(), timeout()).await;
    assert_eq!(lookups.len(), 2, "{lookups:#?}");

    let registry = &lookups[0];
    assert_eq!(registry.source, RegistrationSource::Rdap);
    assert_eq!(registry.server, base);
    assert_eq!(registry.query, format!("{base}domain/example.com"));
    assert!(registry.at > 1_700_000_000);
    let record = found(registry);
    assert_eq!(
        record,
        &RegistrationRecord {
            domain: "example.com".into(),
            registrar: Some("RESERVED-Internet Assigned Numbers Authority".into()),
            registrar_iana_id: Some("376".into()),
            registrant_organization: None,
            created: Some(808_372_800),
            expires: Some(1_944_360_000),
            updated: Some(1_723_618_894),
            transferred: None,
            statuses: vec![
                "client delete prohibited".into(),
                "client transfer prohibited".into(),
                "client update prohibited".into()
            ],
            locks: vec![],
            nameservers: vec!["a.iana-servers.net".into(), "b.iana-servers.net".into()],
            delegation_signed: Some(true),
            ds: vec![
                "31589 8 2 CDE0D742D6998AA554A92D890F8184C698CFAC8A26FA59875A990C03E576343C".into(),
                "43547 8 2 615A64233543F66F44D68933625B17497C89A70E858ED76A2145997EDF96A918".into()
            ],
            redacted: vec![],
        }
    );
    let LookupAnswer::Found { raw, .. } = &registry.answer else { unreachable!() };
    assert!(raw.contains("2336799_DOMAIN_COM-VRSN"));

    let registrar = &lookups[1];
    let registrar_url = servers.registrar.url("/rdap/domain/EXAMPLE.COM");
    assert_eq!((registrar.server.as_str(), registrar.query.as_str()), (registrar_url.as_str(), registrar_url.as_str()));
    // The registry's record, completed: registrant and redactions from the registrar, a
    // transfer date it alone gives; the registry's registrar name and expiry stand.
    let completed = RegistrationRecord {
        registrant_organization: Some("Example Inc.".into()),
        transferred: Some(1_551_441_600),
        redacted: vec!["Registrant Phone".into()],
        ..record.clone()
    };
    assert_eq!(found(registrar), &completed);
    let LookupAnswer::Found { raw, .. } = &registrar.answer else { unreachable!() };
    assert!(raw.contains("Domain Administrator"), "raw is the registrar's own answer");

    // The registrar's answer links back to the registry: not followed.
    assert_eq!((servers.registry.requests(), servers.registrar.requests()), (1, 1));
    let accepts = servers.accepts.lock().expect("lock").clone();
    assert_eq!(accepts.len(), 2);
    assert!(accepts.iter().all(|a| a.starts_with("application/rdap+json")), "{accepts:?}");

    let evidence = RegistrationEvidence { lookups };
    assert_eq!(evidence.record(), Some(&completed));
}

#[tokio::test]
async fn a_registry_answer_linking_to_itself_is_not_followed() {
    let registry_url = Arc::new(Mutex::new(String::new()));
    let body = fixture("verisign-example-com.json");
    let url = registry_url.clone();
    let server = HttpServer::new()
        .handler("/rdap/domain/example.com", move |_| {
            let me = url.lock().map(|u| u.clone()).unwrap_or_default();
            ok_json(
                body.replace(REGISTRAR_PLACEHOLDER, &me)
                    .replace("/rdap/domain/EXAMPLE.COM", "/rdap/domain/example.com"),
            )
        })
        .start()
        .await
        .expect("server starts");
    *registry_url.lock().expect("lock") = format!("http://{}", server.addr);
    let lookups = lookup("example.com", &[server.url("/rdap/")], &fetcher(), timeout()).await;
    assert_eq!(lookups.len(), 1);
    assert_eq!(found(&lookups[0]).registrar_iana_id.as_deref(), Some("376"));
    assert_eq!(server.requests(), 1);
}

#[tokio::test]
async fn a_failing_registrar_leaves_the_registry_answer_decisive() {
    let body = fixture("verisign-example-com.json");
    let (server, base) = serve(ok_json(body.replace(REGISTRAR_PLACEHOLDER, "http://127.0.0.1:9"))).await;
    let lookups = lookup("example.com", &[base], &fetcher(), timeout()).await;
    assert_eq!(lookups.len(), 2);
    assert!(failed(&lookups[1]).contains("connection failed"), "{:?}", lookups[1]);
    let evidence = RegistrationEvidence { lookups };
    assert_eq!(evidence.record().map(|r| r.registrar_iana_id.as_deref()), Some(Some("376")));
    assert_eq!(server.requests(), 1);
}

#[tokio::test]
async fn a_cctld_answer_without_iana_id() {
    let body = fixture("norid-example-no.json");
    let server = HttpServer::new().route("/domain/example.no", ok_json(body)).start().await.expect("server starts");
    // A hand-written base without the trailing slash.
    let base = format!("http://{}", server.addr);
    let lookups = lookup("example.no", std::slice::from_ref(&base), &fetcher(), timeout()).await;
    assert_eq!(lookups.len(), 1);
    assert_eq!(lookups[0].query, format!("{base}/domain/example.no"));
    assert_eq!(
        found(&lookups[0]),
        &RegistrationRecord {
            domain: "example.no".into(),
            registrar: Some("Domeneshop AS".into()),
            registrar_iana_id: None,
            // `kind: org` and only `fn`: the name is the organisation.
            registrant_organization: Some("Eksempel Helse AS".into()),
            created: Some(1_485_259_763),
            expires: None,
            updated: Some(1_610_601_419),
            transferred: None,
            statuses: vec![],
            locks: vec![],
            nameservers: vec!["ns1.example.net".into(), "ns2.example.net".into()],
            delegation_signed: None,
            ds: vec![],
            redacted: vec![],
        }
    );
}

#[tokio::test]
async fn rfc9537_redactions_are_listed_and_placeholders_are_not_names() {
    let (_server, base) =
        serve(ok_json(fixture("redacted-example-org.json").replace("example.org", "example.com"))).await;
    let lookups = lookup("example.com", &[base], &fetcher(), timeout()).await;
    assert_eq!(lookups.len(), 1, "no related link, so nothing to follow");
    assert_eq!(
        found(&lookups[0]),
        &RegistrationRecord {
            domain: "example.com".into(),
            registrar: Some("Example Registrar, LLC".into()),
            // A JSON number, not a string, in this answer.
            registrar_iana_id: Some("9999".into()),
            // "REDACTED FOR PRIVACY" is not an organisation.
            registrant_organization: None,
            created: Some(809_841_600),
            expires: Some(1_914_292_800),
            updated: Some(1_751_386_412),
            // The later of two transfers.
            transferred: Some(1_458_034_200),
            statuses: vec!["client transfer prohibited".into(), "server transfer prohibited".into()],
            locks: vec![],
            nameservers: vec!["ns1.example.com".into(), "ns2.example.com".into()],
            delegation_signed: Some(false),
            ds: vec![],
            redacted: vec![
                "Registry Domain ID".into(),
                "Registrant Name".into(),
                "Registrant Street".into(),
                "Registrant Email".into()
            ],
        }
    );
}

#[test]
fn entities_are_found_when_nested() {
    let body = br#"{"objectClassName": "domain", "ldhName": "example.com.br",
        "entities": [{"roles": ["registrant"], "vcardArray": ["vcard", [["fn", {}, "text", "Jane Doe"], ["kind", {}, "text", "individual"]]],
            "entities": [{"roles": ["technical", "registrar"], "vcardArray": ["vcard", [["fn", {}, "text", "Nested Registrar Ltda"]]]}]}]}"#;
    let LookupAnswer::Found { record, .. } = parse_domain("example.com.br", body) else { panic!("not found") };
    assert_eq!(record.registrar.as_deref(), Some("Nested Registrar Ltda"));
    // A person's name is not an organisation.
    assert_eq!(record.registrant_organization, None);
}

// --- status codes, rate limits, redirects, deadlines ----------------------------------------

#[tokio::test]
async fn not_found_keeps_the_error_object() {
    let body = fixture("error-404.json");
    let response = Response { status: 404, ..ok_json(body.clone()) };
    let (_server, base) = serve(response).await;
    let lookups = lookup("example.com", &[base.clone(), base], &fetcher(), timeout()).await;
    assert_eq!(lookups.len(), 1, "a 404 is an answer: no other base is asked");
    assert_eq!(lookups[0].answer, LookupAnswer::NotFound { raw: body });
}

#[tokio::test]
async fn a_429_with_a_short_retry_after_is_asked_again_once() {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let body = fixture("norid-example-no.json").replace("example.no", "example.com");
    let server = HttpServer::new()
        .handler("/rdap/domain/example.com", move |_| {
            if counter.fetch_add(1, Ordering::SeqCst) == 0 {
                Response { headers: vec![("retry-after".into(), "1".into())], ..Response::status(429) }
            } else {
                ok_json(body.clone())
            }
        })
        .start()
        .await
        .expect("server starts");
    let start = Instant::now();
    let lookups = lookup("example.com", &[server.url("/rdap/")], &fetcher(), timeout()).await;
    assert!(start.elapsed() >= Duration::from_secs(1));
    assert_eq!(lookups.len(), 2);
    assert!(failed(&lookups[0]).starts_with("rate limited (429), retry after 1 s"), "{:?}", lookups[0]);
    assert_eq!(found(&lookups[1]).registrar.as_deref(), Some("Domeneshop AS"));
    assert_eq!(hits.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_429_that_asks_too_long_fails_at_once() {
    let response = Response { headers: vec![("retry-after".into(), "3600".into())], ..Response::status(429) };
    let (server, base) = serve(response).await;
    let start = Instant::now();
    let lookups = lookup("example.com", &[base], &fetcher(), timeout()).await;
    assert!(start.elapsed() < Duration::from_secs(2));
    assert_eq!(lookups.len(), 1);
    assert_eq!(failed(&lookups[0]), "rate limited (429), retry after 3600 s");
    assert_eq!(server.requests(), 1);
    assert!(MAX_RETRY_AFTER < Duration::from_secs(3600));
}

#[tokio::test]
async fn a_429_whose_wait_outlasts_the_deadline_is_not_waited_for() {
    let response = Response { headers: vec![("retry-after".into(), "2".into())], ..Response::status(429) };
    let (server, base) = serve(response).await;
    let start = Instant::now();
    let lookups = lookup("example.com", &[base], &fetcher(), Duration::from_millis(1500)).await;
    assert!(start.elapsed() < Duration::from_secs(1));
    assert_eq!(failed(&lookups[0]), "rate limited (429), retry after 2 s");
    assert_eq!(server.requests(), 1);
}

#[tokio::test]
async fn a_second_429_is_not_retried_and_a_missing_retry_after_is_said() {
    let limited = Response { headers: vec![("retry-after".into(), "0".into())], ..Response::status(429) };
    let (server, base) = serve(limited).await;
    let lookups = lookup("example.com", &[base], &fetcher(), timeout()).await;
    assert_eq!(lookups.len(), 2);
    assert_eq!(failed(&lookups[1]), "rate limited (429), retry after 0 s");
    assert_eq!(server.requests(), 2);

    let (_server, base) = serve(Response::status(429)).await;
    let lookups = lookup("example.com", &[base], &fetcher(), timeout()).await;
    assert_eq!(failed(&lookups[0]), "rate limited (429), no usable Retry-After");
}

#[tokio::test]
async fn redirects_to_another_server_are_followed() {
    let body = fixture("norid-example-no.json").replace("example.no", "example.com");
    let (target, _) = serve(ok_json(body)).await;
    let (origin, base) = serve(Response::redirect(302, &target.url("/rdap/domain/example.com"))).await;
    let lookups = lookup("example.com", std::slice::from_ref(&base), &fetcher(), timeout()).await;
    assert_eq!(lookups.len(), 1);
    assert_eq!(lookups[0].query, format!("{base}domain/example.com"));
    assert_eq!(found(&lookups[0]).registrar.as_deref(), Some("Domeneshop AS"));
    assert_eq!((origin.requests(), target.requests()), (1, 1));
}

#[tokio::test]
async fn a_tarpit_fails_at_the_deadline() {
    let server = HttpServer::new().hostile("/rdap/domain/example.com", Hostile::Tarpit).start().await.expect("starts");
    let start = Instant::now();
    let lookups = lookup("example.com", &[server.url("/rdap/")], &fetcher(), Duration::from_millis(300)).await;
    assert!(start.elapsed() < Duration::from_secs(2));
    assert_eq!(lookups.len(), 1);
    assert!(failed(&lookups[0]).contains("timed out"), "{:?}", lookups[0]);
}

#[tokio::test]
async fn a_failing_base_hands_over_to_the_next() {
    let server_error = Response { status: 500, ..ok_json(r#"{"errorCode": 500, "title": "Backend unavailable"}"#) };
    let (_broken, broken) = serve(server_error).await;
    let (_good, good) = serve(ok_json(fixture("norid-example-no.json").replace("example.no", "example.com"))).await;
    let lookups = lookup("example.com", &[broken, good], &fetcher(), timeout()).await;
    assert_eq!(lookups.len(), 2);
    assert_eq!(failed(&lookups[0]), "HTTP 500: Backend unavailable");
    assert_eq!(found(&lookups[1]).domain, "example.com");
    assert!(lookup("example.com", &[], &fetcher(), timeout()).await.is_empty());
}

// --- hostile and wrong answers ---------------------------------------------------------

#[tokio::test]
async fn invalid_json_is_unparsed_with_the_raw_text() {
    let (_server, base) = serve(ok_json("<html>Service temporarily unavailable</html>")).await;
    let lookups = lookup("example.com", &[base], &fetcher(), timeout()).await;
    let (reason, raw) = unparsed(&lookups[0].answer);
    assert!(reason.starts_with("invalid JSON"), "{reason}");
    assert_eq!(raw, "<html>Service temporarily unavailable</html>");
}

#[test]
fn answers_that_are_not_the_queried_domain_object_are_unparsed() {
    let cases: [(&[u8], &str); 6] = [
        (br#"{"objectClassName": "entity", "handle": "376"}"#, r#"objectClassName is "entity""#),
        (br#"{"ldhName": "example.com"}"#, "no objectClassName"),
        (br#"{"objectClassName": "domain"}"#, "no ldhName"),
        (
            br#"{"objectClassName": "domain", "ldhName": "EXAMPLE.NET"}"#,
            r#"about "example.net", not the queried "example.com""#,
        ),
        (br#"[{"objectClassName": "domain", "ldhName": "example.com"}]"#, "not an object"),
        (br#"{"errorCode": 400, "title": "Bad Request"}"#, "RDAP error object 400: Bad Request"),
    ];
    for (body, expected) in cases {
        let answer = parse_domain("example.com", body);
        let (reason, raw) = unparsed(&answer);
        assert!(reason.contains(expected), "{reason}");
        assert_eq!(raw.as_bytes(), body);
    }
}

#[tokio::test]
async fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let deep = "[".repeat(100_000);
    let answer = parse_domain("example.com", deep.as_bytes());
    let (reason, raw) = unparsed(&answer);
    assert!(reason.contains("recursion limit"), "{reason}");
    assert!(raw.contains("[kensa: truncated to 65536 of 100000 bytes]"));

    let (_server, base) = serve(ok_json(deep)).await;
    let lookups = lookup("example.com", &[base], &fetcher(), timeout()).await;
    assert!(unparsed(&lookups[0].answer).0.contains("recursion limit"));
}

#[tokio::test]
async fn a_huge_body_fails_at_the_cap() {
    let server = HttpServer::new()
        .hostile("/rdap/domain/example.com", Hostile::GiantBody { size: 3 << 20, declare_length: false })
        .start()
        .await
        .expect("starts");
    let lookups = lookup("example.com", &[server.url("/rdap/")], &fetcher(), timeout()).await;
    assert_eq!(lookups.len(), 1);
    assert_eq!(failed(&lookups[0]), format!("response larger than {} bytes", kensa::probe::fetch::RDAP_BODY_CAP));
}

#[test]
fn a_long_raw_answer_is_cut_and_says_so() {
    let mut body = fixture("norid-example-no.json").into_bytes();
    body.pop(); // the final newline, then pad inside the object to push it past the cut
    let closing = body.pop();
    assert_eq!(closing, Some(b'}'));
    body.extend_from_slice(format!(", \"padding\": \"{}\"}}", "x".repeat(RAW_KEEP_BYTES)).as_bytes());
    let LookupAnswer::Found { record, raw } = parse_domain("example.no", &body) else { panic!("not found") };
    assert_eq!(record.registrar.as_deref(), Some("Domeneshop AS"));
    assert!(raw.len() < RAW_KEEP_BYTES + 100);
    assert!(raw.ends_with(&format!("[kensa: truncated to {RAW_KEEP_BYTES} of {} bytes]", body.len())));
    assert_eq!(rdap::RAW_KEEP_BYTES, 64 * 1024);
}
