//! Outbound HTTP: the only HTTP client in kensa, for what certificates point to — issuer
//! certificates (AIA caIssuers), OCSP responders and CRLs — and for RDAP registration data.
//!
//! Every request ends as a [`Fetch`] record, whatever happens: a bad URL, a refused
//! connection, a tarpit or a body over the cap are outcomes to report, not errors to
//! propagate. URLs come from certificates, i.e. from whoever made the certificate, so
//! the client is locked down: `http` and `https` only, no proxies taken from the
//! environment, no cookies, no compression (no decompression bombs), a bounded number of
//! redirects followed by hand so that every hop is checked, one deadline over the whole
//! exchange including the body, and a cap on the body that is enforced while streaming.

use std::time::{Duration, Instant};

use reqwest::header::{HeaderValue, ACCEPT, CONTENT_TYPE, LOCATION};
use reqwest::{Method, StatusCode, Url};
use rustls::pki_types::CertificateDer;
use rustls::RootCertStore;

use crate::evidence::{Bytes, CertDer, Fetch, FetchOutcome, FetchPurpose};
use crate::probe::modern::provider;
use crate::probe::net::elapsed_ms;

/// The `User-Agent` of every fetch, so that operators can tell kensa's requests apart.
pub const USER_AGENT: &str = concat!("kensa/", env!("CARGO_PKG_VERSION"));

/// Default deadline for one fetch, redirects and body included.
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Default body cap for issuer certificates and OCSP responses: both are a few KiB.
pub const CERTIFICATE_BODY_CAP: usize = 1 << 20;

/// Default body cap for CRLs, which can legitimately run to megabytes.
pub const CRL_BODY_CAP: usize = 10 << 20;

/// Default body cap for RDAP answers and the RDAP bootstrap file: a domain object is a few
/// KiB and IANA's `dns.json` under 100 KiB; anything near this is not a registration record.
pub const RDAP_BODY_CAP: usize = 2 << 20;

/// Default number of redirects followed.
pub const DEFAULT_MAX_REDIRECTS: usize = 3;

/// Bounds on one fetch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FetchLimits {
    /// Deadline for the whole exchange: connecting, every redirect and the full body.
    pub timeout: Duration,
    /// Largest response body accepted; a longer one fails the fetch.
    pub max_body_bytes: usize,
    /// Most redirects followed before the fetch fails.
    pub max_redirects: usize,
}

impl FetchLimits {
    /// The default limits for `purpose` (the body cap depends on it) with `timeout`.
    pub fn for_purpose(purpose: FetchPurpose, timeout: Duration) -> FetchLimits {
        let max_body_bytes = match purpose {
            FetchPurpose::CaIssuers | FetchPurpose::Ocsp => CERTIFICATE_BODY_CAP,
            FetchPurpose::Crl => CRL_BODY_CAP,
            FetchPurpose::Rdap => RDAP_BODY_CAP,
        };
        FetchLimits { timeout, max_body_bytes, max_redirects: DEFAULT_MAX_REDIRECTS }
    }
}

impl Default for FetchLimits {
    /// Limits for an issuer certificate or an OCSP response.
    fn default() -> FetchLimits {
        FetchLimits::for_purpose(FetchPurpose::CaIssuers, DEFAULT_FETCH_TIMEOUT)
    }
}

/// An HTTP client for certificate fetches, built once per scan and shared by its tasks.
#[derive(Clone, Debug)]
pub struct Fetcher {
    client: reqwest::Client,
}

impl Fetcher {
    /// A fetcher that trusts the Mozilla roots (webpki-roots) for `https` URLs.
    pub fn new() -> Result<Fetcher, String> {
        Fetcher::with_extra_roots(&[])
    }

    /// A fetcher that trusts the Mozilla roots and `extra_roots` (the run's `--ca-file`),
    /// so that a private PKI's `https` distribution points can be fetched too.
    pub fn with_extra_roots(extra_roots: &[CertDer]) -> Result<Fetcher, String> {
        let client = locked_down(tls_config(extra_roots)?)
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| format!("HTTP client for fetches: {}", describe_error(&e)))?;
        Ok(Fetcher { client })
    }

    /// GETs `url` (an issuer certificate or a CRL) on behalf of the certificate with
    /// SHA-256 fingerprint `certificate_sha256`.
    pub async fn get(&self, purpose: FetchPurpose, url: &str, certificate_sha256: &str, limits: &FetchLimits) -> Fetch {
        self.fetch(purpose, url, certificate_sha256, None, limits, &[]).await.0
    }

    /// GETs `url` like [`Fetcher::get`], and also returns the final response's headers named
    /// in `keep` (lower case names, values as sent), e.g. the `retry-after` of a 429 that an
    /// RDAP client must honour. Headers of redirect hops are not returned.
    pub async fn get_keeping_headers(
        &self,
        purpose: FetchPurpose,
        url: &str,
        certificate_sha256: &str,
        limits: &FetchLimits,
        keep: &[&str],
    ) -> (Fetch, Vec<(String, String)>) {
        self.fetch(purpose, url, certificate_sha256, None, limits, keep).await
    }

    /// POSTs `body` with `content_type` to `url` (an OCSP query) on behalf of the
    /// certificate with SHA-256 fingerprint `certificate_sha256`. The body is recorded in
    /// the returned [`Fetch`].
    pub async fn post(
        &self,
        purpose: FetchPurpose,
        url: &str,
        certificate_sha256: &str,
        content_type: &str,
        body: Vec<u8>,
        limits: &FetchLimits,
    ) -> Fetch {
        self.fetch(purpose, url, certificate_sha256, Some((content_type, body)), limits, &[]).await.0
    }

    async fn fetch(
        &self,
        purpose: FetchPurpose,
        url: &str,
        certificate_sha256: &str,
        upload: Option<(&str, Vec<u8>)>,
        limits: &FetchLimits,
        keep: &[&str],
    ) -> (Fetch, Vec<(String, String)>) {
        let start = Instant::now();
        let request = upload.as_ref().map(|(_, body)| Bytes(body.clone()));
        let mut kept = Vec::new();
        // One deadline over everything: every redirect hop, the chunked body reads, and
        // connects (a DNS lookup stuck in getaddrinfo is abandoned here, too).
        let exchange = self.exchange(purpose, url, upload, limits, keep, &mut kept);
        let outcome = match tokio::time::timeout(limits.timeout, exchange).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(reason)) => FetchOutcome::Failed { reason },
            Err(_) => FetchOutcome::Failed { reason: timed_out(limits.timeout) },
        };
        let fetch = Fetch {
            purpose,
            url: url.to_string(),
            certificate_sha256: certificate_sha256.to_string(),
            request,
            elapsed_ms: elapsed_ms(start),
            outcome,
        };
        (fetch, kept)
    }

    async fn exchange(
        &self,
        purpose: FetchPurpose,
        url: &str,
        upload: Option<(&str, Vec<u8>)>,
        limits: &FetchLimits,
        keep: &[&str],
        kept: &mut Vec<(String, String)>,
    ) -> Result<FetchOutcome, String> {
        let mut current = checked_url(url)?;
        let mut visited = vec![current.clone()];
        let mut method = if upload.is_some() { Method::POST } else { Method::GET };
        let mut upload = upload;
        loop {
            let mut request = self
                .client
                .request(method.clone(), current.clone())
                .header(ACCEPT, HeaderValue::from_static(accept(purpose)));
            if let Some((content_type, body)) = &upload {
                let content_type = HeaderValue::from_str(content_type)
                    .map_err(|_| format!("content type {content_type:?} is not a valid header value"))?;
                request = request.header(CONTENT_TYPE, content_type).body(body.clone());
            }
            let mut response = request.send().await.map_err(|e| describe_error(&e))?;
            let status = response.status();
            if let Some(location) = redirect_location(&response) {
                let next = current.join(&location).map_err(|e| {
                    format!("HTTP {} redirect to malformed location {location:?}: {e}", status.as_u16())
                })?;
                let next = checked_url(next.as_str())
                    .map_err(|reason| format!("HTTP {} redirect to {next}: {reason}", status.as_u16()))?;
                if visited.contains(&next) {
                    return Err(format!("redirect loop: {next} was already visited"));
                }
                if visited.len() > limits.max_redirects {
                    return Err(format!("more than {} redirects", limits.max_redirects));
                }
                // What browsers and reqwest do: 307/308 repeat the request, the others
                // turn it into a GET without a body.
                if !matches!(status, StatusCode::TEMPORARY_REDIRECT | StatusCode::PERMANENT_REDIRECT) {
                    method = Method::GET;
                    upload = None;
                }
                visited.push(next.clone());
                current = next;
                continue;
            }
            let content_type =
                response.headers().get(CONTENT_TYPE).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
            for name in keep {
                for value in response.headers().get_all(*name) {
                    kept.push((name.to_ascii_lowercase(), String::from_utf8_lossy(value.as_bytes()).into_owned()));
                }
            }
            let body = read_capped(&mut response, limits.max_body_bytes).await?;
            return Ok(FetchOutcome::Response { status: status.as_u16(), content_type, body: Bytes(body) });
        }
    }
}

/// A rustls client configuration on kensa's ring provider trusting the Mozilla roots and
/// `extra_roots`.
fn tls_config(extra_roots: &[CertDer]) -> Result<rustls::ClientConfig, String> {
    let mut roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    for root in extra_roots {
        roots
            .add(CertificateDer::from(root.0.clone()))
            .map_err(|e| format!("extra trust anchor not usable for fetches: {e}"))?;
    }
    // reqwest is built with `rustls-no-provider`: it must get a complete rustls
    // configuration, on kensa's ring provider, or it would fail to build (and the
    // default `rustls` feature would pull aws-lc-rs in).
    let mut tls = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS configuration for fetches: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    // reqwest is built without HTTP/2; say so in ALPN rather than leave servers guessing.
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tls)
}

/// The client settings every kensa HTTP request shares, whoever builds the client.
fn locked_down(tls: rustls::ClientConfig) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        // Without this reqwest honours HTTP_PROXY/HTTPS_PROXY/ALL_PROXY, which could send
        // the requests (and proxy credentials) somewhere the user did not expect.
        .no_proxy()
        // Redirects are followed by hand, so each hop is checked for scheme and loops.
        .redirect(reqwest::redirect::Policy::none())
        .referer(false)
        .retry(reqwest::retry::never())
        .user_agent(USER_AGENT)
}

/// A resolver that resolves nothing: a client pinned to one address with
/// [`reqwest::ClientBuilder::resolve`] must never look any other name up and connect there.
#[derive(Debug)]
struct NoResolution;

impl reqwest::dns::Resolve for NoResolution {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let name = name.as_str().to_string();
        Box::pin(async move {
            Err(format!("{name} is not the probed endpoint; kensa does not resolve it").into())
                as Result<reqwest::dns::Addrs, Box<dyn std::error::Error + Send + Sync>>
        })
    }
}

/// A client for the HTTP posture probe of one endpoint: `host` (a DNS name, sent as `Host`
/// and SNI) always connects to `ip`, whatever port the URL names, and no other name
/// resolves. Trusts the Mozilla roots and `extra_roots`; no connection is reused, so every
/// request is one connection; `timeout` bounds the connect and each read.
pub fn pinned_client(
    extra_roots: &[CertDer],
    host: Option<&str>,
    ip: std::net::IpAddr,
    timeout: Duration,
) -> Result<reqwest::Client, String> {
    let mut builder = locked_down(tls_config(extra_roots)?)
        .dns_resolver(std::sync::Arc::new(NoResolution))
        .pool_max_idle_per_host(0)
        .connect_timeout(timeout)
        .read_timeout(timeout);
    if let Some(host) = host {
        // Port 0: the URL's port is used (reqwest's documented rule for overrides).
        builder = builder.resolve(host, std::net::SocketAddr::new(ip, 0));
    }
    builder.build().map_err(|e| format!("HTTP client for the posture probe: {}", describe_error(&e)))
}

/// A client for kensa's own outbound notifications (the monitoring webhook): the same
/// locked-down settings as every fetch — ring TLS trusting the Mozilla roots and
/// `extra_roots`, no proxies from the environment, no cookies, and no redirects followed
/// (the caller sees a 3xx as the answer). `connect_timeout` bounds the connect only; the
/// caller puts its own deadline over the whole exchange.
pub fn notification_client(extra_roots: &[CertDer], connect_timeout: Duration) -> Result<reqwest::Client, String> {
    locked_down(tls_config(extra_roots)?)
        .connect_timeout(connect_timeout)
        .build()
        .map_err(|e| format!("HTTP client for notifications: {}", describe_error(&e)))
}

/// How a request failed, for [`crate::evidence::http::HttpErrorKind`], and a one-line reason.
pub fn classify_error(error: &reqwest::Error) -> (crate::evidence::http::HttpErrorKind, String) {
    use crate::evidence::http::HttpErrorKind as Kind;
    let reason = describe_error(error);
    if error.is_timeout() {
        let kind = if error.is_connect() { Kind::ConnectTimeout } else { Kind::Timeout };
        return (kind, reason);
    }
    let mut cause: Option<&dyn std::error::Error> = Some(error);
    while let Some(err) = cause {
        if err.downcast_ref::<rustls::Error>().is_some() {
            return (Kind::Tls, reason);
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if io.get_ref().is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some()) {
                return (Kind::Tls, reason);
            }
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => return (Kind::Refused, reason),
                std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::ConnectionAborted
                | std::io::ErrorKind::BrokenPipe => return (Kind::Reset, reason),
                std::io::ErrorKind::UnexpectedEof => return (Kind::Closed, reason),
                std::io::ErrorKind::TimedOut => return (Kind::Timeout, reason),
                _ => {}
            }
        }
        cause = err.source();
    }
    // rustls errors reach here re-wrapped by the TLS connector, and hyper's parse errors
    // (hyper is not a direct dependency) are opaque too: both are recognisable by their
    // text only — rustls's `Display` forms, and "invalid HTTP version parsed"…
    const TLS_FAILURES: [&str; 6] = [
        "invalid peer certificate",
        "received fatal alert",
        "peer is incompatible",
        "peer misbehaved",
        "corrupt message",
        "handshake",
    ];
    let kind = if TLS_FAILURES.iter().any(|t| reason.contains(t)) {
        Kind::Tls
    } else if reason.contains(" parsed") || reason.contains("message head is too large") {
        Kind::Garbage
    } else if reason.contains("connection closed before message completed") {
        Kind::Closed
    } else {
        Kind::Other
    };
    (kind, reason)
}

/// Parses `url` and admits only `http` and `https` with a host, before anything connects.
pub(crate) fn checked_url(url: &str) -> Result<Url, String> {
    let parsed = Url::parse(url).map_err(|e| format!("malformed URL: {e}"))?;
    match parsed.scheme() {
        "http" | "https" => {}
        other => return Err(format!("unsupported scheme {other:?} (only http and https are fetched)")),
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("malformed URL: no host".to_string());
    }
    Ok(parsed)
}

fn accept(purpose: FetchPurpose) -> &'static str {
    match purpose {
        FetchPurpose::CaIssuers => "application/pkix-cert, application/pkcs7-mime, */*",
        FetchPurpose::Ocsp => "application/ocsp-response",
        FetchPurpose::Crl => "application/pkix-crl, */*",
        // RFC 7480 §4.2: RDAP clients ask for application/rdap+json; plain JSON is accepted
        // because the bootstrap files are served as application/json.
        FetchPurpose::Rdap => "application/rdap+json, application/json;q=0.9",
    }
}

/// The `Location` of a redirect that is to be followed, if `response` is one. Other 3xx
/// (300, 304, 305…) and redirects without a usable `Location` are plain responses.
fn redirect_location(response: &reqwest::Response) -> Option<String> {
    let followed = matches!(
        response.status(),
        StatusCode::MOVED_PERMANENTLY
            | StatusCode::FOUND
            | StatusCode::SEE_OTHER
            | StatusCode::TEMPORARY_REDIRECT
            | StatusCode::PERMANENT_REDIRECT
    );
    if !followed {
        return None;
    }
    let location = response.headers().get(LOCATION)?;
    Some(String::from_utf8_lossy(location.as_bytes()).into_owned())
}

/// Reads the body chunk by chunk, failing as soon as it outgrows `cap` so that a huge or
/// endless body never sits in memory.
async fn read_capped(response: &mut reqwest::Response, cap: usize) -> Result<Vec<u8>, String> {
    let too_large = || format!("response larger than {cap} bytes");
    let declared = response.content_length();
    if declared.is_some_and(|length| length > cap as u64) {
        return Err(too_large());
    }
    // Trust a declared length only up to the cap, and only as a capacity hint.
    let hint = declared.map_or(0, |length| usize::try_from(length).unwrap_or(cap)).min(cap).min(64 * 1024);
    let mut body = Vec::with_capacity(hint);
    while let Some(chunk) = response.chunk().await.map_err(|e| describe_error(&e))? {
        if body.len().saturating_add(chunk.len()) > cap {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn timed_out(timeout: Duration) -> String {
    format!("timed out after {} ms", timeout.as_millis())
}

/// A one-line reason from a reqwest error and its causes, without the URL (the [`Fetch`]
/// already records it) and without hyper's generic wrappers, e.g. `connection failed: tcp
/// connect error: Connection refused (os error 111)`.
pub(crate) fn describe_error(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return "timed out".to_string();
    }
    let mut parts: Vec<String> = Vec::new();
    let mut cause: Option<&dyn std::error::Error> = Some(error);
    while let Some(err) = cause {
        cause = err.source();
        let text = err.to_string();
        let generic = text.starts_with("error sending request") || text.starts_with("client error (");
        // Wrappers often repeat their cause's message; keep the chain readable.
        if !generic && !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text.split(" for url (").next().unwrap_or(&text).to_string());
        }
    }
    let stage = if error.is_connect() {
        "connection failed"
    } else if error.is_body() {
        "reading the body failed"
    } else if error.is_builder() {
        "bad request"
    } else {
        "HTTP exchange failed"
    };
    if parts.is_empty() {
        stage.to_string()
    } else {
        format!("{stage}: {}", parts.join(": "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_and_https_are_admitted() {
        assert!(checked_url("http://ca.example/ca.crt").is_ok());
        assert!(checked_url("https://ca.example/ca.crt").is_ok());
        for url in ["ldap://ldap.example/cn=CA", "file:///etc/passwd", "ftp://x/y", "data:,hi"] {
            let reason = checked_url(url).expect_err(url);
            assert!(reason.contains("unsupported scheme"), "{url}: {reason}");
        }
        assert!(checked_url("not a url").expect_err("garbage").contains("malformed URL"));
        assert!(checked_url("http://").is_err());
    }

    #[test]
    fn limits_depend_on_purpose() {
        let t = Duration::from_secs(1);
        assert_eq!(FetchLimits::for_purpose(FetchPurpose::Crl, t).max_body_bytes, CRL_BODY_CAP);
        assert_eq!(FetchLimits::for_purpose(FetchPurpose::Ocsp, t).max_body_bytes, CERTIFICATE_BODY_CAP);
        assert_eq!(FetchLimits::for_purpose(FetchPurpose::Rdap, t).max_body_bytes, RDAP_BODY_CAP);
        assert!(accept(FetchPurpose::Rdap).starts_with("application/rdap+json"));
        assert_eq!(FetchLimits::default().max_redirects, DEFAULT_MAX_REDIRECTS);
    }

    #[test]
    fn the_client_builds_on_the_ring_provider() {
        assert!(Fetcher::new().is_ok());
    }
}
