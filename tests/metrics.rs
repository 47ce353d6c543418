//! Metrics: the exposition rendered from recorded evidence (`fixtures/evidence/`), checked
//! series by series and as a whole by a strict parser of the text format written here; the
//! exporter on loopback, with garbage and slow clients; the node-exporter textfile.
//!
//! The format is validated by the parser below rather than Python's `prometheus_client`:
//! that parser is lenient (it accepts a family's samples split by another family, and HELP
//! after samples), this one is not, and CI needs nothing beyond cargo for it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use kensa::evidence::domain::{
    DomainEvidence, DomainRole, DomainSurvey, LookupAnswer, RegistrationEvidence, RegistrationLookup,
    RegistrationRecord, RegistrationSource,
};
use kensa::evidence::ScanEvidence;
use kensa::metrics::{render, write_textfile, MetricsRun, MetricsServer, CONTENT_TYPE};
use kensa::profile::Profile;
use kensa::verdict::Assessment;

fn load(name: &str) -> ScanEvidence {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/evidence").join(format!("{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The exposition of one monitor `clinic` over `evidence`, run from 100 s before the scan's end.
fn exposition(evidence: &ScanEvidence, events: &[(String, String, u64)]) -> String {
    let profile = Profile::embedded();
    let assessment = Assessment::evaluate(&profile, evidence);
    let text = render(&[MetricsRun {
        key: "clinic",
        evidence,
        assessment: &assessment,
        profile: &profile,
        started_at: evidence.finished_at - 100,
        finished_at: evidence.finished_at,
        events_total: events,
    }]);
    validate(&text);
    text
}

/// One sample as parsed: name, labels, value.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("__")
}

/// Parses `{a="x",b="y"}` (no trailing comma, escapes `\\` `\"` `\n` only); returns the
/// labels and the rest of the line.
fn parse_labels(text: &str) -> Result<(BTreeMap<String, String>, &str), String> {
    let mut labels = BTreeMap::new();
    let mut rest = text.strip_prefix('{').ok_or("labels must start with {")?;
    if let Some(after) = rest.strip_prefix('}') {
        return Ok((labels, after));
    }
    loop {
        let eq = rest.find('=').ok_or("label without =")?;
        let name = &rest[..eq];
        if !is_label_name(name) {
            return Err(format!("bad label name {name:?}"));
        }
        rest = rest[eq + 1..].strip_prefix('"').ok_or("label value must be quoted")?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next().ok_or("unterminated label value")? {
                (i, '"') => break i,
                (_, '\\') => match chars.next().ok_or("dangling escape")?.1 {
                    '\\' => value.push('\\'),
                    '"' => value.push('"'),
                    'n' => value.push('\n'),
                    other => return Err(format!("bad escape \\{other}")),
                },
                (_, '\n') => return Err("raw newline in label value".to_string()),
                (_, c) => value.push(c),
            }
        };
        if labels.insert(name.to_string(), value).is_some() {
            return Err(format!("label {name} twice"));
        }
        rest = &rest[end + 1..];
        if let Some(after) = rest.strip_prefix('}') {
            return Ok((labels, after));
        }
        rest = rest.strip_prefix(',').ok_or("labels must be separated by ,")?;
    }
}

/// A strict reader of the text exposition format 0.0.4 as kensa writes it: every line is a
/// blank, a comment, a HELP or TYPE (one each per family, before its samples), or a sample
/// `name{labels} value`; a family's samples are contiguous; no series twice.
fn parse(text: &str) -> Result<Vec<Sample>, String> {
    if !text.is_empty() && !text.ends_with('\n') {
        return Err("the exposition must end with a newline".to_string());
    }
    let mut help: HashSet<String> = HashSet::new();
    let mut types: HashMap<String, String> = HashMap::new();
    let mut finished: HashSet<String> = HashSet::new();
    let mut current: Option<String> = None;
    let mut series: HashSet<(String, BTreeMap<String, String>)> = HashSet::new();
    let mut samples = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let at = |e: String| format!("line {}: {e}: {line:?}", number + 1);
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let mut words = comment.trim_start().splitn(3, ' ');
            let keyword = words.next().unwrap_or_default();
            if keyword != "HELP" && keyword != "TYPE" {
                continue;
            }
            let name = words.next().ok_or_else(|| at("no metric name".into()))?.to_string();
            let rest = words.next().unwrap_or_default();
            if !is_metric_name(&name) {
                return Err(at("bad metric name".into()));
            }
            if finished.contains(&name) || samples.iter().any(|s: &Sample| s.name == name) {
                return Err(at(format!("{keyword} after the samples of {name}")));
            }
            if keyword == "HELP" {
                if !help.insert(name.clone()) {
                    return Err(at("second HELP".into()));
                }
                let mut chars = rest.chars();
                while let Some(c) = chars.next() {
                    if c == '\\' && !matches!(chars.next(), Some('\\' | 'n')) {
                        return Err(at("bad escape in HELP".into()));
                    }
                }
            } else {
                if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&rest) {
                    return Err(at("unknown type".into()));
                }
                if types.insert(name.clone(), rest.to_string()).is_some() {
                    return Err(at("second TYPE".into()));
                }
            }
            continue;
        }
        let name_end = line.find(['{', ' ']).ok_or_else(|| at("no value".into()))?;
        let name = &line[..name_end];
        if !is_metric_name(name) {
            return Err(at("bad metric name".into()));
        }
        let (labels, rest) = if line[name_end..].starts_with('{') {
            parse_labels(&line[name_end..]).map_err(at)?
        } else {
            (BTreeMap::new(), &line[name_end..])
        };
        let mut fields = rest.strip_prefix(' ').ok_or_else(|| at("value must follow one space".into()))?.split(' ');
        let value = match fields.next().unwrap_or_default() {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            v => v.parse::<f64>().map_err(|e| at(format!("bad value: {e}")))?,
        };
        if let Some(timestamp) = fields.next() {
            timestamp.parse::<i64>().map_err(|e| at(format!("bad timestamp: {e}")))?;
        }
        if fields.next().is_some() {
            return Err(at("trailing fields".into()));
        }
        if !help.contains(name) || !types.contains_key(name) {
            return Err(at(format!("{name} has no HELP or TYPE before its samples")));
        }
        if current.as_deref() != Some(name) {
            if finished.contains(name) {
                return Err(at(format!("samples of {name} are split")));
            }
            if let Some(previous) = current.replace(name.to_string()) {
                finished.insert(previous);
            }
        }
        if types[name] == "counter" && (value.is_nan() || value < 0.0) {
            return Err(at("negative counter".into()));
        }
        if !series.insert((name.to_string(), labels.clone())) {
            return Err(at("duplicate series".into()));
        }
        samples.push(Sample { name: name.to_string(), labels, value });
    }
    Ok(samples)
}

fn validate(text: &str) -> Vec<Sample> {
    parse(text).unwrap_or_else(|e| panic!("invalid exposition: {e}\n{text}"))
}

/// The value of the series `name` whose labels include `labels`; panics unless exactly one.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let found: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.name == name && labels.iter().all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v)))
        .collect();
    assert!(found.len() <= 1, "{name} {labels:?} matches {found:?}");
    found.first().map(|s| s.value)
}

fn endpoint_of(evidence: &ScanEvidence) -> String {
    evidence.targets[0].endpoints[0].label()
}

#[test]
fn the_validator_rejects_what_prometheus_would() {
    let ok = "# HELP a_b x\n# TYPE a_b gauge\na_b{l=\"v\"} 1\n";
    assert!(parse(ok).is_ok());
    for bad in [
        "a_b 1\n",                                                                          // no HELP/TYPE
        "# HELP a x\n# TYPE a gauge\na 1\na 2\n",                                           // duplicate series
        "# HELP a x\n# TYPE a gauge\n# HELP a y\na 1\n",                                    // second HELP
        "# HELP a x\n# TYPE a gauge\na{l=\"v\",} 1\n",                                      // trailing comma
        "# HELP a x\n# TYPE a gauge\na{l=\"\\t\"} 1\n",                                     // bad escape
        "# HELP a x\n# TYPE a gauge\n1a 1\n",                                               // bad name
        "# HELP a x\n# TYPE a gauge\na 1",                                                  // no final newline
        "# HELP a x\n# TYPE a gauge\n# HELP b x\n# TYPE b gauge\na{x=\"1\"} 1\nb 1\na 1\n", // split
        "# HELP a x\n# TYPE a gauge\na one\n",                                              // bad value
    ] {
        assert!(parse(bad).is_err(), "accepted {bad:?}");
    }
}

#[test]
fn a_compliant_endpoint() {
    let evidence = load("compliant-tls12-tls13");
    let events = [("item_changed".to_string(), "warning".to_string(), 2)];
    let text = exposition(&evidence, &events);
    let samples = validate(&text);
    let endpoint = endpoint_of(&evidence);
    let at = |extra: &[(&'static str, &'static str)]| {
        let mut labels: Vec<(&str, &str)> = vec![("monitor", "clinic"), ("endpoint", endpoint.as_str())];
        labels.extend_from_slice(extra);
        labels
    };
    assert!(text.contains(&format!(
        "kensa_endpoint_up{{monitor=\"clinic\",endpoint=\"{endpoint}\",host=\"web.clinic.example\",address=\"127.0.0.1:33829\"}} 1\n"
    )));
    assert_eq!(value(&samples, "kensa_probe_errors", &at(&[])), Some(0.0));
    assert_eq!(value(&samples, "kensa_tls_version_accepted", &at(&[("version", "TLS 1.3")])), Some(1.0));
    assert_eq!(value(&samples, "kensa_tls_version_accepted", &at(&[("version", "TLS 1.2")])), Some(1.0));
    for old in ["SSLv2", "SSLv3", "TLS 1.0", "TLS 1.1"] {
        assert_eq!(value(&samples, "kensa_tls_version_accepted", &at(&[("version", old)])), Some(0.0), "{old}");
        assert_eq!(value(&samples, "kensa_tls_version_determined", &at(&[("version", old)])), Some(1.0), "{old}");
    }
    // One-hot: the current status 1, every other 0.
    let xii: Vec<&Sample> =
        samples.iter().filter(|s| s.name == "kensa_item_status" && s.labels["item"] == "2-1.xii").collect();
    assert_eq!(xii.len(), 6);
    assert_eq!(xii.iter().map(|s| s.value).sum::<f64>(), 1.0);
    assert_eq!(value(&samples, "kensa_item_status", &[("item", "2-1.xii"), ("status", "compliant")]), Some(1.0));
    assert_eq!(value(&samples, "kensa_item_status", &[("item", "2-1.v"), ("status", "declaration_needed")]), Some(1.0));
    assert_eq!(value(&samples, "kensa_exit_code", &[("monitor", "clinic")]), Some(0.0));
    assert_eq!(
        value(&samples, "kensa_last_run_timestamp_seconds", &[("monitor", "clinic")]),
        Some(evidence.finished_at as f64)
    );
    assert_eq!(value(&samples, "kensa_last_run_duration_seconds", &[("monitor", "clinic")]), Some(100.0));
    assert_eq!(value(&samples, "kensa_events_total", &[("kind", "item_changed"), ("severity", "warning")]), Some(2.0));
    assert_eq!(value(&samples, "kensa_target_endpoints", &[("target", "web.clinic.example:33829")]), Some(1.0));
    assert_eq!(value(&samples, "kensa_profile_info", &[("profile", Profile::embedded().meta.id.as_str())]), Some(1.0));
    assert_eq!(value(&samples, "kensa_build_info", &[("version", env!("CARGO_PKG_VERSION"))]), Some(1.0));

    // The days are the report's: whole days from the probe to the same notAfter.
    let not_after = value(&samples, "kensa_ssl_earliest_cert_expiry_timestamp_seconds", &at(&[])).unwrap() as i64;
    let days = value(&samples, "kensa_cert_days_remaining", &at(&[])).unwrap() as i64;
    let probed_at = evidence.targets[0].endpoints[0].probed_at as i64;
    assert!(days > 0, "{days}");
    assert_eq!(days, (not_after - probed_at).div_euclid(86_400));
    let report = kensa::report::Report {
        profile: &Profile::embedded(),
        evidence: &evidence,
        assessment: &Assessment::evaluate(&Profile::embedded(), &evidence),
        lang: kensa::i18n::Lang::En,
        bundle_sha256: None,
    };
    let report_days = report.endpoint_facts()[0].chains.iter().flat_map(|c| &c.path).map(|p| p.days_remaining).min();
    assert_eq!(report_days, Some(days));

    // Families in name order, HELP and TYPE once each.
    let families: Vec<&str> =
        text.lines().filter_map(|l| l.strip_prefix("# TYPE ")).map(|l| l.split(' ').next().unwrap()).collect();
    let mut sorted = families.clone();
    sorted.sort();
    assert_eq!(families, sorted);
    assert!(text.contains("# TYPE kensa_events_total counter\n"));
    // Deterministic.
    assert_eq!(text, exposition(&evidence, &events));
}

#[test]
fn an_expired_certificate_counts_negative_days() {
    let evidence = load("expired-certificate");
    let samples = validate(&exposition(&evidence, &[]));
    let endpoint = endpoint_of(&evidence);
    let labels = [("monitor", "clinic"), ("endpoint", endpoint.as_str())];
    let days = value(&samples, "kensa_cert_days_remaining", &labels).unwrap();
    // Expired ten days before the probe (the fixture's own description).
    assert!((-11.0..=-10.0).contains(&days), "{days}");
    let not_after = value(&samples, "kensa_ssl_earliest_cert_expiry_timestamp_seconds", &labels).unwrap();
    assert!(not_after < evidence.targets[0].endpoints[0].probed_at as f64);
    assert_eq!(value(&samples, "kensa_item_status", &[("item", "2-1.xii"), ("status", "non_compliant")]), Some(1.0));
    assert_eq!(value(&samples, "kensa_item_status", &[("item", "2-1.xii"), ("status", "compliant")]), Some(0.0));
    assert_eq!(value(&samples, "kensa_exit_code", &[]), Some(1.0));
}

#[test]
fn an_openssl_server_with_tls10_only() {
    let evidence = load("openssl-tls10-only");
    let samples = validate(&exposition(&evidence, &[]));
    let endpoint = endpoint_of(&evidence);
    let version = |v: &'static str| [("endpoint", endpoint.clone()), ("version", v.to_string())];
    let get = |name: &str, v: &'static str| {
        let labels = version(v);
        let labels: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
        value(&samples, name, &labels)
    };
    assert_eq!(get("kensa_tls_version_accepted", "TLS 1.0"), Some(1.0));
    assert_eq!(get("kensa_tls_version_accepted", "TLS 1.2"), Some(0.0));
    assert_eq!(get("kensa_tls_version_accepted", "TLS 1.3"), Some(0.0));
    assert_eq!(value(&samples, "kensa_endpoint_up", &[]), Some(1.0));
    assert_eq!(value(&samples, "kensa_item_status", &[("item", "2-1.xii"), ("status", "non_compliant")]), Some(1.0));
}

#[test]
fn an_unanswering_endpoint_is_down_with_unknown_versions() {
    let evidence = load("hostile-tarpit");
    let samples = validate(&exposition(&evidence, &[]));
    let endpoint = endpoint_of(&evidence);
    let on = |extra: Option<(&'static str, &'static str)>| {
        let mut labels = vec![("endpoint", endpoint.as_str())];
        labels.extend(extra);
        labels
    };
    assert_eq!(value(&samples, "kensa_endpoint_up", &on(None)), Some(0.0));
    // Both rustls attempts timed out; the legacy hellos were skipped, which is no error.
    assert_eq!(value(&samples, "kensa_probe_errors", &on(None)), Some(2.0));
    for version in ["SSLv2", "TLS 1.0", "TLS 1.2", "TLS 1.3"] {
        assert_eq!(value(&samples, "kensa_tls_version_determined", &on(Some(("version", version)))), Some(0.0));
        assert_eq!(value(&samples, "kensa_tls_version_accepted", &on(Some(("version", version)))), None);
    }
    assert_eq!(value(&samples, "kensa_cert_days_remaining", &on(None)), None);
    assert_eq!(value(&samples, "kensa_exit_code", &[]), Some(3.0));
}

#[test]
fn a_closed_port_counts_its_failed_connections() {
    let evidence = load("closed-port");
    let samples = validate(&exposition(&evidence, &[]));
    assert_eq!(value(&samples, "kensa_endpoint_up", &[]), Some(0.0));
    assert_eq!(value(&samples, "kensa_probe_errors", &[]), Some(2.0));
}

fn registration(at: u64, expires: Option<u64>) -> RegistrationEvidence {
    RegistrationEvidence {
        lookups: vec![RegistrationLookup {
            source: RegistrationSource::Rdap,
            server: "https://rdap.example/".to_string(),
            query: "https://rdap.example/domain/x".to_string(),
            at,
            elapsed_ms: 5,
            answer: LookupAnswer::Found {
                record: RegistrationRecord { domain: "x".to_string(), expires, ..Default::default() },
                raw: "{}".to_string(),
            },
        }],
    }
}

fn domain(name: &str, registration: RegistrationEvidence) -> DomainEvidence {
    DomainEvidence {
        name: name.to_string(),
        public_suffix: "example".to_string(),
        role: DomainRole::Target,
        hosts: vec![format!("web.{name}")],
        registration,
        delegation: None,
        dnssec: None,
    }
}

#[test]
fn domains_show_their_registry_expiry() {
    let mut evidence = load("compliant-tls12-tls13");
    let at = evidence.finished_at;
    let expires = at + 45 * 86_400 + 3_600;
    evidence.domains = Some(DomainSurvey {
        domains: vec![
            domain("clinic.example", registration(at, Some(expires))),
            domain("lapsed.example", registration(at, Some(at - 86_400 - 1))),
            // No expiry in the record, and no lookup at all: nothing to show, nothing guessed.
            domain("redacted.example", registration(at, None)),
            domain("unasked.example", RegistrationEvidence::default()),
        ],
        ..Default::default()
    });
    let samples = validate(&exposition(&evidence, &[]));
    let of = |d: &'static str| [("monitor", "clinic"), ("domain", d)];
    assert_eq!(value(&samples, "kensa_domain_expiry_timestamp_seconds", &of("clinic.example")), Some(expires as f64));
    assert_eq!(value(&samples, "kensa_domain_days_remaining", &of("clinic.example")), Some(45.0));
    assert_eq!(value(&samples, "kensa_domain_days_remaining", &of("lapsed.example")), Some(-2.0));
    for absent in ["redacted.example", "unasked.example"] {
        assert_eq!(value(&samples, "kensa_domain_days_remaining", &of(absent)), None);
        assert_eq!(value(&samples, "kensa_domain_expiry_timestamp_seconds", &of(absent)), None);
    }
}

#[test]
fn several_monitors_share_one_exposition_without_duplicates() {
    let profile = Profile::embedded();
    let compliant = load("compliant-tls12-tls13");
    let expired = load("expired-certificate");
    let mut twice = compliant.clone();
    // The same endpoint reached through two targets is one series.
    twice.targets.push(twice.targets[0].clone());
    let a = Assessment::evaluate(&profile, &twice);
    let b = Assessment::evaluate(&profile, &expired);
    let run = |key, evidence, assessment| MetricsRun {
        key,
        evidence,
        assessment,
        profile: &profile,
        started_at: 0,
        finished_at: 10,
        events_total: &[],
    };
    let hostile_key = "a \"quoted\" \\ key\nwith a newline";
    let text = render(&[run("one", &twice, &a), run(hostile_key, &expired, &b), run("one", &twice, &a)]);
    let samples = validate(&text);
    assert_eq!(value(&samples, "kensa_exit_code", &[("monitor", "one")]), Some(0.0));
    assert_eq!(value(&samples, "kensa_exit_code", &[("monitor", hostile_key)]), Some(1.0));
    assert!(text.contains(r#"monitor="a \"quoted\" \\ key\nwith a newline""#), "{text}");
    assert_eq!(samples.iter().filter(|s| s.name == "kensa_build_info").count(), 1);
}

// ---- the exporter -------------------------------------------------------------------------

/// Sends `request` and reads until the server closes; `None` when it sent nothing.
fn exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    stream.write_all(request).unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    String::from_utf8_lossy(&response).into_owned()
}

fn split(response: &str) -> (String, String, String) {
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((response, ""));
    let status = head.lines().next().unwrap_or_default().to_string();
    (status, head.to_ascii_lowercase(), body.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_exporter_serves_the_latest_exposition() {
    let server = MetricsServer::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
    let addr = server.local_addr();
    assert_ne!(addr.port(), 0);
    let evidence = load("compliant-tls12-tls13");
    let text = exposition(&evidence, &[]);
    server.update(text.clone());

    let get = |request: &'static [u8]| tokio::task::spawn_blocking(move || exchange(addr, request));
    let (status, head, body) = split(&get(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap());
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(head.contains(&format!("content-type: {CONTENT_TYPE}\r\n")), "{head}");
    assert!(head.contains(&format!("content-length: {}\r\n", text.len())), "{head}");
    assert_eq!(body, text);
    validate(&body);

    server.update("# HELP x y\n# TYPE x gauge\nx 2\n".to_string());
    let (_, _, body) = split(&get(b"GET /metrics?name[]=x HTTP/1.0\r\n\r\n").await.unwrap());
    assert_eq!(body, "# HELP x y\n# TYPE x gauge\nx 2\n");

    let (status, head, body) = split(&get(b"HEAD /metrics HTTP/1.1\r\n\r\n").await.unwrap());
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(head.contains("content-length: 30\r\n"), "{head}");
    assert_eq!(body, "");

    let (status, head, body) = split(&get(b"GET / HTTP/1.1\r\n\r\n").await.unwrap());
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(head.contains("content-type: text/html"), "{head}");
    assert!(body.contains("/metrics"));
    assert!(split(&get(b"GET /favicon.ico HTTP/1.1\r\n\r\n").await.unwrap()).0.starts_with("HTTP/1.1 404 "));
    let (status, head, _) = split(&get(b"DELETE /metrics HTTP/1.1\r\n\r\n").await.unwrap());
    assert!(status.starts_with("HTTP/1.1 405 "));
    assert!(head.contains("allow: get, head"));
    assert!(split(&get(b"\x16\x03\x01\x02\x00garbage\r\n\r\n").await.unwrap()).0.starts_with("HTTP/1.1 400 "));
    let mut huge = b"GET /metrics HTTP/1.1\r\ncookie: ".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 16 * 1024));
    let huge: &'static [u8] = huge.leak();
    assert!(split(&get(huge).await.unwrap()).0.starts_with("HTTP/1.1 431 "));

    // Dropping the server stops it: no one answers any more.
    drop(server);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let refused = tokio::task::spawn_blocking(move || match TcpStream::connect(addr) {
        Err(_) => true,
        Ok(mut stream) => {
            stream.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let _ = stream.write_all(b"GET /metrics HTTP/1.1\r\n\r\n");
            let mut buffer = Vec::new();
            let _ = stream.read_to_end(&mut buffer);
            buffer.is_empty()
        }
    })
    .await
    .unwrap();
    assert!(refused);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_garbage_clients_do_not_block_a_scrape() {
    let server = MetricsServer::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
    let addr = server.local_addr();
    server.update("# HELP x y\n# TYPE x gauge\nx 1\n".to_string());
    let answered = tokio::task::spawn_blocking(move || {
        // Slowloris: a head begun and never finished, on several connections.
        let mut slow: Vec<TcpStream> = (0..8)
            .map(|_| {
                let mut stream = TcpStream::connect(addr).unwrap();
                stream.write_all(b"GET /metrics HTTP/1.1\r\nX-a: ").unwrap();
                stream
            })
            .collect();
        // Connected and silent.
        let _silent = TcpStream::connect(addr).unwrap();
        // Garbage that never ends a head.
        let mut garbage = TcpStream::connect(addr).unwrap();
        garbage.write_all(&[0u8; 4000]).unwrap();
        let started = Instant::now();
        let response = exchange(addr, b"GET /metrics HTTP/1.1\r\n\r\n");
        let elapsed = started.elapsed();
        for stream in &mut slow {
            let _ = stream.write_all(b"b");
        }
        (response, elapsed)
    })
    .await
    .unwrap();
    let (response, elapsed) = answered;
    assert!(
        response.starts_with("HTTP/1.1 200 OK\r\n") && response.ends_with("\r\n\r\n# HELP x y\n# TYPE x gauge\nx 1\n"),
        "{response}"
    );
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
}

// ---- the textfile -------------------------------------------------------------------------

#[test]
fn the_textfile_is_replaced_whole_and_named_prom() {
    let dir = std::env::temp_dir().join(format!("kensa-metrics-textfile-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let evidence = load("expired-certificate");
    let text = exposition(&evidence, &[]);
    let path = dir.join("kensa.prom");
    std::fs::write(&path, "stale 1\n").unwrap();
    write_textfile(&path, &text).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    let names: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names, ["kensa.prom"], "no temporary file is left behind");

    let error = write_textfile(&dir.join("kensa.txt"), &text).unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
    assert!(error.to_string().contains("NAME.prom"), "{error}");
    // A missing directory is an error naming the file, not a panic.
    let error = write_textfile(&dir.join("missing/kensa.prom"), &text).unwrap_err();
    assert!(error.to_string().contains("missing/kensa.prom"), "{error}");
    std::fs::remove_dir_all(&dir).unwrap();
}
