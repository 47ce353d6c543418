//! HTTP posture evidence: what the plain-HTTP port, the HTTPS entry page and a cleartext
//! WebSocket upgrade answered, hop by hop.
//!
//! Every request kensa made is an [`HttpExchange`], whether it got a response or an error,
//! so checks can re-judge the redirect, HSTS, cookie and caching signals offline and an
//! evidence bundle can export the response heads as they came.

use serde::{Deserialize, Serialize};

use super::UnixSeconds;

/// The HTTP posture of one endpoint.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct HttpPosture {
    /// The name sent as `Host` and SNI (the target's host name; the IP for IP literals).
    pub host: String,
    /// The plain-HTTP port asked (80 unless set per host or with `--http-port`).
    pub plain_port: u16,
    /// The URL path of the target, asked on every request.
    pub path: String,
    /// What was probed, and why.
    pub scope: HttpScope,
    /// When the first request was made.
    pub started_at: UnixSeconds,
    /// Wall time of the whole posture probe.
    pub elapsed_ms: u64,
    /// TCP connections opened (each request opens its own: no connection is reused).
    pub connections: u32,
    /// Set when nothing could be asked at all (the HTTP client could not be built).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// `GET http://host:plain_port/path` and the redirects followed from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plain: Option<RedirectChain>,
    /// `GET https://host:port/path`: the entry page, not followed further.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<HttpExchange>,
    /// A WebSocket upgrade asked in cleartext at `ws://host:plain_port/path`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cleartext_websocket: Option<HttpExchange>,
}

impl HttpPosture {
    /// Whether any request was planned for this endpoint.
    pub fn probed(&self) -> bool {
        !matches!(self.scope, HttpScope::NotApplicable { .. })
    }
}

/// What an endpoint is asked over HTTP.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HttpScope {
    /// Browsers load pages from it: the plain-HTTP redirect and the entry page.
    Pages,
    /// A WebSocket endpoint: whether it also accepts an upgrade in cleartext.
    Websocket,
    /// Nothing asked; the reason says why (an API or TURN endpoint, no host name…).
    NotApplicable { reason: String },
}

/// A request on the plain-HTTP port and the redirects followed by hand from it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RedirectChain {
    /// Every request in order; the first is the plain-HTTP URL.
    pub hops: Vec<HttpExchange>,
    /// Why the chain stopped.
    pub end: ChainEnd,
}

/// Why a redirect chain stopped.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ChainEnd {
    /// The last hop answered with something other than a followed redirect.
    Answered,
    /// The last hop got no response (its error says why).
    Failed,
    /// A redirect to `https` on the same host: not followed (the entry page is asked on
    /// its own).
    Upgraded { location: String },
    /// A redirect to another host: not followed (kensa connects to the endpoint only).
    LeftHost { location: String },
    /// A redirect to a URL already visited.
    Loop { location: String },
    /// More redirects than kensa follows.
    TooManyRedirects { location: String },
    /// A `Location` that is not a usable `http`/`https` URL.
    BadLocation { location: String, reason: String },
}

/// One HTTP request and what came back.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct HttpExchange {
    /// The URL asked.
    pub url: String,
    /// From sending the request to having read the head and (a capped part of) the body.
    pub elapsed_ms: u64,
    pub outcome: HttpOutcome,
}

impl HttpExchange {
    /// The response head, if one came.
    pub fn response(&self) -> Option<&ResponseHead> {
        match &self.outcome {
            HttpOutcome::Response(head) => Some(head),
            HttpOutcome::Error { .. } => None,
        }
    }
}

/// A response head, or why there was none.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HttpOutcome {
    Response(ResponseHead),
    Error { error: HttpErrorKind, reason: String },
}

/// What went wrong with a request, in terms a check can interpret.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum HttpErrorKind {
    /// The connection was refused: the port is closed.
    Refused,
    /// No answer to the TCP connect before the deadline (a filtered port, or a dead host).
    ConnectTimeout,
    /// Connected, but no complete response head before the deadline (a tarpit).
    Timeout,
    /// The connection was reset.
    Reset,
    /// The peer closed the connection before a response head.
    Closed,
    /// What came back was not HTTP.
    Garbage,
    /// The TLS handshake failed (an untrusted or mismatched certificate, no common version…).
    Tls,
    /// Anything else.
    Other,
}

/// A response head as received.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ResponseHead {
    /// `HTTP/1.1`, `HTTP/1.0`…
    pub version: String,
    pub status: u16,
    /// Header fields in the order received (fields of the same name grouped, as the HTTP
    /// library keeps them), names in lower case. `set-cookie` values are redacted: the
    /// cookie's name and attributes are kept, its value is not.
    pub headers: Vec<HeaderField>,
    /// The head as text: status line and header lines, CRLF-separated; what an evidence
    /// bundle exports as "HTTP response head".
    pub head: String,
    /// The `Location` of a redirect, resolved against the request URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Body bytes read (the body is read only up to a small cap, then dropped).
    pub body_read: u64,
    /// The body went on past the cap.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub body_truncated: bool,
}

impl ResponseHead {
    /// Every value of header `name` (case-insensitive), in order.
    pub fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers.iter().filter(move |h| h.name.eq_ignore_ascii_case(name)).map(|h| h.value.as_str())
    }

    /// Whether the status is a redirect kensa follows (301, 302, 303, 307, 308).
    pub fn is_redirect(&self) -> bool {
        matches!(self.status, 301 | 302 | 303 | 307 | 308)
    }
}

/// One header field.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct HeaderField {
    pub name: String,
    pub value: String,
}
