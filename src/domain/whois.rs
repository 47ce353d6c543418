//! A WHOIS client (RFC 3912): one query line over TCP, the answer read until the server
//! closes, under one deadline and a size cap.
//!
//! Which server: `--whois-server` if given, else the registry listed for the TLD in
//! `probes/whois-servers.toml`, else the one IANA's WHOIS names for the TLD. Thin registries
//! (.com, .net) only know the registrar; their `Registrar WHOIS Server:` is followed once.
//! Every query made becomes its own [`RegistrationLookup`], so the evidence shows the whole
//! path, IANA's referral included.

use std::collections::HashMap;
use std::fmt;
use std::net::Ipv6Addr;
use std::str::FromStr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::whois_text::{decode, iana_whois_server, parse_answer, registrar_referral};
use crate::evidence::domain::{LookupAnswer, RegistrationLookup, RegistrationSource};
use crate::evidence::now_unix;

/// The WHOIS port.
pub const WHOIS_PORT: u16 = 43;
/// The largest answer read. Real answers are a few KiB; anything far larger is a server
/// gone wrong, and reading on would only cost memory.
pub const MAX_ANSWER_BYTES: usize = 256 * 1024;
/// IANA's WHOIS, which names each TLD's registry server.
pub const IANA_WHOIS: &str = "whois.iana.org";

/// The bundled TLD → server table.
const SERVERS: &str = include_str!("../../probes/whois-servers.toml");

/// A WHOIS server to ask.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct WhoisServer {
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    /// TCP port, 43 unless given.
    pub port: u16,
}

impl WhoisServer {
    /// `host` on the WHOIS port.
    pub fn new(host: &str) -> WhoisServer {
        WhoisServer { host: host.to_string(), port: WHOIS_PORT }
    }
}

impl fmt::Display for WhoisServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl FromStr for WhoisServer {
    type Err = String;

    /// `HOST`, `HOST:PORT`, `[IPv6]`, `[IPv6]:PORT` or a bare IPv6 address; a `whois://`
    /// prefix (as some registrars write their referral) is accepted.
    fn from_str(text: &str) -> Result<WhoisServer, String> {
        let original = text;
        let text = text.trim();
        let text = text.strip_prefix("whois://").unwrap_or(text).trim_end_matches('/');
        let bad = |why: &str| format!("`{original}` is not a WHOIS server (HOST[:PORT]): {why}");
        if text.is_empty() {
            return Err(bad("it is empty"));
        }
        let (host, port) = if let Some(rest) = text.strip_prefix('[') {
            let (host, after) = rest.split_once(']').ok_or_else(|| bad("`[` without `]`"))?;
            if host.parse::<Ipv6Addr>().is_err() {
                return Err(bad("the bracketed part is not an IPv6 address"));
            }
            match after {
                "" => (host, None),
                _ => (host, Some(after.strip_prefix(':').ok_or_else(|| bad("text after `]` is not `:PORT`"))?)),
            }
        } else if text.parse::<Ipv6Addr>().is_ok() {
            (text, None)
        } else {
            match text.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (text, None),
            }
        };
        if host.is_empty() {
            return Err(bad("the host is missing"));
        }
        if !host.contains(':') && !host.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_') {
            return Err(bad("the host has characters a host name cannot have"));
        }
        let port = match port {
            None => WHOIS_PORT,
            Some(port) => match port.parse::<u16>() {
                Ok(0) | Err(_) => return Err(bad("the port must be a number from 1 to 65535")),
                Ok(port) => port,
            },
        };
        Ok(WhoisServer { host: host.to_ascii_lowercase(), port })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerTable {
    servers: HashMap<String, String>,
}

fn table() -> &'static HashMap<String, WhoisServer> {
    static TABLE: OnceLock<HashMap<String, WhoisServer>> = OnceLock::new();
    TABLE.get_or_init(|| {
        // A table that fails to load leaves every TLD to the IANA fallback; the unit test
        // below keeps the bundled one loadable.
        let Ok(parsed) = toml::from_str::<ServerTable>(SERVERS) else { return HashMap::new() };
        parsed
            .servers
            .into_iter()
            .filter_map(|(tld, server)| Some((tld.to_ascii_lowercase(), server.parse().ok()?)))
            .collect()
    })
}

/// The server `probes/whois-servers.toml` lists for a TLD (`jp`, `com`), if any.
pub fn server_for_tld(tld: &str) -> Option<WhoisServer> {
    table().get(&tld.trim_matches('.').to_ascii_lowercase()).cloned()
}

/// Looks `domain` (a registrable domain) up over WHOIS, within `timeout` per query.
///
/// Asks `server_override` if given, else the TLD's listed server, else the server IANA
/// names; follows one registrar referral from a thin registry. Returns every query made, in
/// order; the last one that got an answer is the one that counts
/// ([`crate::evidence::domain::RegistrationEvidence::decisive`]).
pub async fn lookup(domain: &str, server_override: Option<&WhoisServer>, timeout: Duration) -> Vec<RegistrationLookup> {
    lookup_with_iana(domain, server_override, &WhoisServer::new(IANA_WHOIS), timeout).await
}

/// [`lookup`] that asks `iana` instead of whois.iana.org when the TLD is not in the table
/// (for tests, which must stay on loopback, and for a local mirror of IANA's data).
pub async fn lookup_with_iana(
    domain: &str,
    server_override: Option<&WhoisServer>,
    iana: &WhoisServer,
    timeout: Duration,
) -> Vec<RegistrationLookup> {
    let domain = normalise(domain);
    let mut lookups = Vec::new();
    if domain.is_empty() || domain.chars().any(|c| c.is_whitespace() || c.is_control()) {
        // Such a line would be a different query, or several.
        let server = server_override.map(ToString::to_string).unwrap_or_default();
        lookups.push(failed(&server, &domain, format!("`{domain}` is not a domain name to ask WHOIS about")));
        return lookups;
    }
    let tld = domain.rsplit('.').next().unwrap_or(&domain).to_string();
    let server = match server_override.cloned().or_else(|| server_for_tld(&tld)) {
        Some(server) => server,
        None => {
            let (iana_lookup, named) = ask_iana(iana, &tld, timeout).await;
            lookups.push(iana_lookup);
            match named {
                Some(server) => server,
                None => return lookups,
            }
        }
    };
    // JPRS answers a plain name in Japanese, with English labels beside some fields; every
    // other registry takes the plain name too.
    let (first, text) = ask(&server, &domain, timeout, |text| parse_answer(&domain, text)).await;
    let referral = text.as_deref().and_then(registrar_referral).and_then(|r| referral_server(&r));
    lookups.push(first);
    if let Some(registrar) = referral.filter(|r| *r != server) {
        // Once only: a registrar's answer repeats its own server, and a loop must not start.
        let (second, _) = ask(&registrar, &domain, timeout, |text| parse_answer(&domain, text)).await;
        lookups.push(second);
    }
    lookups
}

/// Asks IANA (or its stand-in) which server serves `tld`.
async fn ask_iana(iana: &WhoisServer, tld: &str, timeout: Duration) -> (RegistrationLookup, Option<WhoisServer>) {
    let mut named = None;
    let (lookup, _) = ask(iana, tld, timeout, |text| match iana_whois_server(text) {
        Some(server) => {
            named = server.parse::<WhoisServer>().ok();
            LookupAnswer::Unparsed {
                reason: format!("IANA's referral for .{tld} to {server}, not registration data"),
                raw: text.to_string(),
            }
        }
        None => {
            LookupAnswer::Unparsed { reason: format!("IANA names no WHOIS server for .{tld}"), raw: text.to_string() }
        }
    })
    .await;
    (lookup, named)
}

/// A referral value as a server: a host, `host:port`, or `whois://host`. Web addresses
/// (some registrars put one there) are not WHOIS servers and are not followed.
fn referral_server(value: &str) -> Option<WhoisServer> {
    let value = value.trim();
    if value.contains("://") && !value.starts_with("whois://") {
        return None;
    }
    value.parse().ok()
}

/// One query to `server`, read with `read` when an answer came; returns the lookup and the
/// decoded text.
async fn ask(
    server: &WhoisServer,
    query: &str,
    timeout: Duration,
    read: impl FnOnce(&str) -> LookupAnswer,
) -> (RegistrationLookup, Option<String>) {
    let at = now_unix();
    let started = Instant::now();
    let outcome = exchange(server, query, timeout).await;
    let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let (answer, text) = match outcome {
        Ok(bytes) => {
            let (text, encoding) = decode(&bytes);
            let mut answer = read(&text);
            // Say so when the bytes fitted no encoding: the raw text then has U+FFFD in it.
            if let (LookupAnswer::Unparsed { reason, .. }, "utf-8 (lossy)") = (&mut answer, encoding) {
                reason.push_str("; the bytes were in no encoding kensa knows (read as lossy UTF-8)");
            }
            (answer, Some(text))
        }
        Err(reason) => (LookupAnswer::Failed { reason }, None),
    };
    let lookup = RegistrationLookup {
        source: RegistrationSource::Whois,
        server: server.to_string(),
        query: query.to_string(),
        at,
        elapsed_ms,
        answer,
    };
    (lookup, text)
}

/// Connects, sends `query`, and reads until the server closes — all before one deadline.
pub async fn exchange(server: &WhoisServer, query: &str, timeout: Duration) -> Result<Vec<u8>, String> {
    let deadline = tokio::time::Instant::now() + timeout;
    let late = |what: &str| format!("{server} {what} within {} ms", timeout.as_millis());
    let mut stream =
        match tokio::time::timeout_at(deadline, TcpStream::connect((server.host.as_str(), server.port))).await {
            Err(_) => return Err(late("did not accept a connection")),
            Ok(Err(e)) => return Err(format!("cannot connect to {server}: {e}")),
            Ok(Ok(stream)) => stream,
        };
    let line = format!("{query}\r\n");
    match tokio::time::timeout_at(deadline, stream.write_all(line.as_bytes())).await {
        Err(_) => return Err(late("did not take the query")),
        Ok(Err(e)) => return Err(format!("cannot send the query to {server}: {e}")),
        Ok(Ok(())) => {}
    }
    let mut answer = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Err(_) => {
                return Err(if answer.is_empty() {
                    late("sent no answer")
                } else {
                    late(&format!("had sent {} bytes but not finished its answer", answer.len()))
                })
            }
            Ok(Err(e)) => return Err(format!("the connection to {server} broke after {} bytes: {e}", answer.len())),
            Ok(Ok(0)) => break,
            Ok(Ok(n)) => {
                if answer.len() + n > MAX_ANSWER_BYTES {
                    return Err(format!("answer exceeded {} KiB", MAX_ANSWER_BYTES / 1024));
                }
                answer.extend_from_slice(chunk.get(..n).unwrap_or_default());
            }
        }
    }
    if answer.is_empty() {
        return Err(format!("{server} closed the connection without answering"));
    }
    Ok(answer)
}

fn failed(server: &str, query: &str, reason: String) -> RegistrationLookup {
    RegistrationLookup {
        source: RegistrationSource::Whois,
        server: server.to_string(),
        query: query.to_string(),
        at: now_unix(),
        elapsed_ms: 0,
        answer: LookupAnswer::Failed { reason },
    }
}

/// Lower case, no trailing dot, A-labels where IDNA can make them.
fn normalise(domain: &str) -> String {
    let domain = domain.trim().trim_end_matches('.');
    if domain.is_ascii() {
        return domain.to_ascii_lowercase();
    }
    idna::domain_to_ascii(domain).unwrap_or_else(|_| domain.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(text: &str) -> Result<WhoisServer, String> {
        text.parse()
    }

    #[test]
    fn server_syntax() {
        assert_eq!(server("whois.jprs.jp"), Ok(WhoisServer::new("whois.jprs.jp")));
        assert_eq!(server("Whois.Example:4343"), Ok(WhoisServer { host: "whois.example".into(), port: 4343 }));
        assert_eq!(server("127.0.0.1:4343"), Ok(WhoisServer { host: "127.0.0.1".into(), port: 4343 }));
        assert_eq!(server("[::1]:43"), Ok(WhoisServer { host: "::1".into(), port: 43 }));
        assert_eq!(server("[::1]"), Ok(WhoisServer { host: "::1".into(), port: 43 }));
        assert_eq!(server("2001:db8::1"), Ok(WhoisServer { host: "2001:db8::1".into(), port: 43 }));
        assert_eq!(server("whois://whois.markmonitor.com"), Ok(WhoisServer::new("whois.markmonitor.com")));
        for bad in ["", ":43", "host:", "host:0", "host:70000", "host:x", "[::1", "[nope]:43", "[::1]x", "a b", "a/b"] {
            let error = server(bad).err().unwrap_or_default();
            assert!(error.contains("is not a WHOIS server (HOST[:PORT])"), "{bad}: {error}");
        }
        assert_eq!(WhoisServer { host: "::1".into(), port: 4343 }.to_string(), "[::1]:4343");
        assert_eq!(WhoisServer::new("whois.jprs.jp").to_string(), "whois.jprs.jp:43");
    }

    #[test]
    fn the_bundled_table_loads() {
        assert!(toml::from_str::<ServerTable>(SERVERS).is_ok());
        assert_eq!(table().len(), SERVERS.lines().filter(|l| l.contains(" = \"")).count());
        assert_eq!(server_for_tld("jp"), Some(WhoisServer::new("whois.jprs.jp")));
        assert_eq!(server_for_tld("COM"), Some(WhoisServer::new("whois.verisign-grs.com")));
        assert_eq!(server_for_tld("net"), Some(WhoisServer::new("whois.verisign-grs.com")));
        assert_eq!(server_for_tld("zzzunknown"), None);
    }

    #[test]
    fn referral_values() {
        assert_eq!(referral_server("whois.markmonitor.com"), Some(WhoisServer::new("whois.markmonitor.com")));
        assert_eq!(referral_server("https://www.markmonitor.com"), None);
        assert_eq!(referral_server(""), None);
    }
}
