//! HTTP posture: what a browser meets before and around TLS. For an endpoint that serves
//! pages, the plain-HTTP port (does it redirect to `https` on the same host, or is it
//! closed?) and the HTTPS entry page (HSTS, cookies, caching); for a WebSocket endpoint,
//! whether it also accepts an upgrade in cleartext.
//!
//! Every request goes to the endpoint's own IP address with the target's host name as
//! `Host` and SNI, through the project's one HTTP client ([`super::fetch::pinned_client`]):
//! redirects are followed by hand, only on the same host, and each hop is recorded. Each
//! request takes the IP's turn at the connection gate, opens its own connection, reads the
//! head and at most [`BODY_CAP`] bytes of body, and has the scan's deadline.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderValue, CONNECTION, LOCATION, SET_COOKIE, UPGRADE};
use reqwest::Url;

use super::fetch::{classify_error, pinned_client};
use super::gate::EndpointGate;
use super::net::elapsed_ms;
use crate::evidence::http::{
    ChainEnd, HeaderField, HttpErrorKind, HttpExchange, HttpOutcome, HttpPosture, HttpScope, RedirectChain,
    ResponseHead,
};
use crate::evidence::{now_unix, CertDer, EndpointRole};
use crate::target::{Scheme, Target, DEFAULT_PORT};

/// The plain-HTTP port asked unless a host has its own.
pub const DEFAULT_PLAIN_PORT: u16 = 80;

/// Most requests in one plain-HTTP redirect chain (the first request included).
pub const MAX_HOPS: usize = 5;

/// Most body bytes read from any response: only heads are judged, and a page's first
/// bytes are enough to tell that one was served.
pub const BODY_CAP: usize = 64 * 1024;

/// What the HTTP posture probe does in a scan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpSettings {
    /// Probe at all (`--no-http` turns it off).
    pub enabled: bool,
    /// The plain-HTTP port of every host without its own (`--http-port`).
    pub plain_port: u16,
    /// Plain-HTTP ports per host name (lower case), e.g. from a manifest's `http_port`.
    pub plain_ports: BTreeMap<String, u16>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings { enabled: true, plain_port: DEFAULT_PLAIN_PORT, plain_ports: BTreeMap::new() }
    }
}

impl HttpSettings {
    /// The plain-HTTP port to ask `target` on.
    pub fn plain_port_for(&self, target: &Target) -> u16 {
        let host = target.host.to_string();
        self.plain_ports
            .iter()
            .find(|(name, _)| name.trim_end_matches('.').eq_ignore_ascii_case(&host))
            .map_or(self.plain_port, |(_, port)| *port)
    }
}

/// What `target` is asked over HTTP: its manifest role decides; without one, `wss://` is a
/// WebSocket, and `https://` or a bare name on port 443 serves pages. A bare `host:port`
/// on another port may be anything that speaks TLS (TURN, a mail or database port), so it
/// is not asked HTTP questions it was never meant to answer.
pub fn scope(target: &Target) -> HttpScope {
    let named = target.server_name().is_some();
    match (target.role, target.scheme) {
        (Some(EndpointRole::Websocket), _) => HttpScope::Websocket,
        (Some(role), _) if role.serves_pages() => HttpScope::Pages,
        (Some(role), _) => {
            HttpScope::NotApplicable { reason: format!("{} endpoints do not serve pages", role.label_en()) }
        }
        (None, Scheme::Wss) => HttpScope::Websocket,
        (None, Scheme::Https) if named => HttpScope::Pages,
        (None, Scheme::Bare) if named && target.port == DEFAULT_PORT => HttpScope::Pages,
        (None, Scheme::Bare) if named => HttpScope::NotApplicable {
            reason: format!(
                "a bare host:port on port {} is not known to serve pages (write https://… or give a role)",
                target.port
            ),
        },
        (None, _) => HttpScope::NotApplicable { reason: "an IP address without a role serves no known pages".into() },
    }
}

/// Probes the HTTP posture of the endpoint behind `gate` for `target`.
pub async fn probe(
    gate: &EndpointGate,
    target: &Target,
    plain_port: u16,
    extra_roots: &[CertDer],
    timeout: Duration,
) -> HttpPosture {
    let start = Instant::now();
    let host = target.host.to_string();
    let mut posture = HttpPosture {
        host: target.server_name().unwrap_or(&host).to_string(),
        plain_port,
        path: target.path.clone(),
        scope: scope(target),
        started_at: now_unix(),
        elapsed_ms: 0,
        connections: 0,
        error: None,
        plain: None,
        entry: None,
        cleartext_websocket: None,
    };
    if !posture.probed() {
        return posture;
    }
    let client = match pinned_client(extra_roots, target.server_name(), gate.addr().ip(), timeout) {
        Ok(client) => client,
        Err(reason) => {
            posture.error = Some(reason);
            return posture;
        }
    };
    let mut probe = Prober { client, gate, timeout, connections: 0 };
    let plain = format!("http://{host}:{plain_port}{}", target.path);
    match posture.scope {
        HttpScope::Pages => {
            posture.plain = Some(probe.follow(&plain).await);
            let entry = format!("https://{host}:{}{}", target.port, target.path);
            posture.entry = Some(probe.exchange(&entry, Request::Page).await);
        }
        HttpScope::Websocket => {
            posture.cleartext_websocket = Some(probe.exchange(&plain, Request::WebsocketUpgrade).await);
        }
        HttpScope::NotApplicable { .. } => {}
    }
    posture.connections = probe.connections;
    posture.elapsed_ms = elapsed_ms(start);
    posture
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Request {
    Page,
    WebsocketUpgrade,
}

struct Prober<'a> {
    client: reqwest::Client,
    gate: &'a EndpointGate,
    timeout: Duration,
    connections: u32,
}

impl Prober<'_> {
    /// GETs `start` and follows redirects on the same host over `http`, up to `https`.
    async fn follow(&mut self, start: &str) -> RedirectChain {
        let mut hops = Vec::new();
        let Ok(first) = Url::parse(start) else {
            let reason = format!("the target does not make a valid URL: {start}");
            hops.push(HttpExchange {
                url: start.to_string(),
                elapsed_ms: 0,
                outcome: HttpOutcome::Error { error: HttpErrorKind::Other, reason },
            });
            return RedirectChain { hops, end: ChainEnd::Failed };
        };
        let mut visited = vec![first.clone()];
        let mut current = first.clone();
        loop {
            let hop = self.exchange(current.as_str(), Request::Page).await;
            let raw_location = match hop.response() {
                None => {
                    hops.push(hop);
                    return RedirectChain { hops, end: ChainEnd::Failed };
                }
                Some(head) if head.is_redirect() => head.values(LOCATION.as_str()).next().map(str::to_string),
                Some(_) => None,
            };
            let resolved = hop.response().and_then(|h| h.location.clone());
            hops.push(hop);
            let Some(location) = raw_location else {
                return RedirectChain { hops, end: ChainEnd::Answered };
            };
            let next = match resolved.as_deref().map(Url::parse) {
                Some(Ok(next)) if matches!(next.scheme(), "http" | "https") => next,
                Some(Ok(next)) => {
                    let reason = format!("scheme {:?} is neither http nor https", next.scheme());
                    return RedirectChain { hops, end: ChainEnd::BadLocation { location, reason } };
                }
                _ => {
                    let reason = "not a URL".to_string();
                    return RedirectChain { hops, end: ChainEnd::BadLocation { location, reason } };
                }
            };
            let location = next.to_string();
            if next.host() != first.host() {
                return RedirectChain { hops, end: ChainEnd::LeftHost { location } };
            }
            if next.scheme() == "https" {
                return RedirectChain { hops, end: ChainEnd::Upgraded { location } };
            }
            if visited.contains(&next) {
                return RedirectChain { hops, end: ChainEnd::Loop { location } };
            }
            if hops.len() >= MAX_HOPS {
                return RedirectChain { hops, end: ChainEnd::TooManyRedirects { location } };
            }
            visited.push(next.clone());
            current = next;
        }
    }

    /// One request on its own connection, under the deadline, recorded whatever happens.
    async fn exchange(&mut self, url: &str, kind: Request) -> HttpExchange {
        let start = Instant::now();
        let recorded_url = match kind {
            Request::Page => url.to_string(),
            Request::WebsocketUpgrade => url.replacen("http://", "ws://", 1),
        };
        let _turn = self.gate.turn().await;
        self.connections += 1;
        // Connect and each read have the deadline already; this bounds a peer that
        // trickles the head or body a byte at a time.
        let whole = self.timeout.saturating_mul(3);
        let outcome = match tokio::time::timeout(whole, self.ask(url, kind)).await {
            Ok(outcome) => outcome,
            Err(_) => HttpOutcome::Error {
                error: HttpErrorKind::Timeout,
                reason: format!("no complete response head within {} ms", whole.as_millis()),
            },
        };
        HttpExchange { url: recorded_url, elapsed_ms: elapsed_ms(start), outcome }
    }

    async fn ask(&self, url: &str, kind: Request) -> HttpOutcome {
        let parsed = match Url::parse(url) {
            Ok(parsed) => parsed,
            Err(e) => return HttpOutcome::Error { error: HttpErrorKind::Other, reason: format!("bad URL {url}: {e}") },
        };
        let mut request = self.client.get(parsed.clone());
        if kind == Request::WebsocketUpgrade {
            request = request
                .header(UPGRADE, HeaderValue::from_static("websocket"))
                .header(CONNECTION, HeaderValue::from_static("Upgrade"))
                .header("sec-websocket-version", HeaderValue::from_static("13"))
                .header("sec-websocket-key", websocket_key());
        }
        let mut response = match request.send().await {
            Ok(response) => response,
            Err(e) => {
                let (error, reason) = classify_error(&e);
                return HttpOutcome::Error { error, reason };
            }
        };
        let mut head = record_head(&response, &parsed);
        // A 101 hands the connection over to another protocol: there is no HTTP body.
        if response.status().as_u16() != 101 {
            read_capped(&mut response, &mut head).await;
        }
        HttpOutcome::Response(head)
    }
}

/// Reads at most [`BODY_CAP`] body bytes, counting them; an error mid-body ends the read
/// (the head is what matters).
async fn read_capped(response: &mut reqwest::Response, head: &mut ResponseHead) {
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = BODY_CAP.saturating_sub(usize::try_from(head.body_read).unwrap_or(usize::MAX));
        head.body_read = head.body_read.saturating_add(chunk.len().min(room) as u64);
        if chunk.len() > room {
            head.body_truncated = true;
            return;
        }
    }
}

/// The response head as evidence: fields in order, `set-cookie` values redacted, and the
/// head rebuilt as text (reqwest hands over parsed heads; names come lower-cased and the
/// reason phrase is the canonical one).
fn record_head(response: &reqwest::Response, url: &Url) -> ResponseHead {
    let status = response.status();
    let version = format!("{:?}", response.version());
    let headers: Vec<HeaderField> = response
        .headers()
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            let value = if name == SET_COOKIE { redact_cookie(&value) } else { value };
            HeaderField { name: name.as_str().to_string(), value }
        })
        .collect();
    let mut text = format!("{version} {} {}\r\n", status.as_u16(), status.canonical_reason().unwrap_or(""));
    for field in &headers {
        text.push_str(&format!("{}: {}\r\n", field.name, field.value));
    }
    let location = response
        .headers()
        .get(LOCATION)
        .and_then(|v| std::str::from_utf8(v.as_bytes()).ok())
        .and_then(|v| url.join(v.trim()).ok())
        .map(|u| u.to_string());
    ResponseHead {
        version,
        status: status.as_u16(),
        headers,
        head: text,
        location,
        body_read: 0,
        body_truncated: false,
    }
}

/// `name=value; attributes` with the value replaced by its length: session identifiers do
/// not belong in evidence, and the name and attributes are all the checks judge.
pub fn redact_cookie(set_cookie: &str) -> String {
    let (pair, attributes) = match set_cookie.split_once(';') {
        Some((pair, rest)) => (pair, Some(rest)),
        None => (set_cookie, None),
    };
    let pair = match pair.split_once('=') {
        Some((name, value)) => format!("{}=<redacted {} bytes>", name.trim(), value.trim().len()),
        None => format!("<redacted {} bytes>", pair.trim().len()),
    };
    match attributes {
        Some(rest) => format!("{pair};{rest}"),
        None => pair,
    }
}

/// A fresh `Sec-WebSocket-Key` (RFC 6455 §4.1: 16 random bytes, base64).
fn websocket_key() -> HeaderValue {
    use base64::Engine;
    use ring::rand::SecureRandom;
    let mut nonce = [0u8; 16];
    // A failed random source only makes the key predictable; the probe asks nothing secret.
    let _ = ring::rand::SystemRandom::new().fill(&mut nonce);
    let key = base64::engine::general_purpose::STANDARD.encode(nonce);
    HeaderValue::from_str(&key).unwrap_or_else(|_| HeaderValue::from_static("dGhlIHNhbXBsZSBub25jZQ=="))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(text: &str, role: Option<EndpointRole>) -> Target {
        let mut target: Target = text.parse().expect("target");
        target.role = role;
        target
    }

    #[test]
    fn scope_follows_role_then_scheme() {
        assert_eq!(scope(&target("https://web.example:8443/x", None)), HttpScope::Pages);
        assert_eq!(scope(&target("web.example", None)), HttpScope::Pages);
        assert_eq!(scope(&target("wss://ws.example/signal", None)), HttpScope::Websocket);
        assert_eq!(scope(&target("web.example", Some(EndpointRole::Websocket))), HttpScope::Websocket);
        assert_eq!(scope(&target("turn.example:5349", Some(EndpointRole::PatientWeb))), HttpScope::Pages);
        for (text, role) in [
            ("web.example:8443", None),
            ("https://192.0.2.1/", None),
            ("api.example", Some(EndpointRole::Api)),
            ("turn.example:5349", Some(EndpointRole::Turn)),
        ] {
            assert!(matches!(scope(&target(text, role)), HttpScope::NotApplicable { .. }), "{text}");
        }
    }

    #[test]
    fn plain_port_per_host_overrides_the_default() {
        let mut settings = HttpSettings { plain_port: 8080, ..HttpSettings::default() };
        settings.plain_ports.insert("web.example.".into(), 8081);
        assert_eq!(settings.plain_port_for(&target("web.example", None)), 8081);
        assert_eq!(settings.plain_port_for(&target("other.example", None)), 8080);
        assert_eq!(HttpSettings::default().plain_port, 80);
    }

    #[test]
    fn cookie_values_are_redacted_names_and_attributes_kept() {
        assert_eq!(redact_cookie("SID=abc123; Path=/; Secure"), "SID=<redacted 6 bytes>; Path=/; Secure");
        assert_eq!(redact_cookie("flag"), "<redacted 4 bytes>");
        assert_eq!(redact_cookie("a="), "a=<redacted 0 bytes>");
        assert!(!redact_cookie("token=s3cr3t;HttpOnly").contains("s3cr3t"));
    }
}
