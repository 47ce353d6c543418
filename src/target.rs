//! Targets as users write them: `host`, `host:port`, `https://host[:port][/path]`,
//! `wss://host[:port]/…`, an IPv4 address, `[IPv6]` or `[IPv6]:port`.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

pub use crate::evidence::EndpointRole;

/// The port used when a target names none.
pub const DEFAULT_PORT: u16 = 443;

/// A parsed scan target.
///
/// ```
/// use kensa::target::{Host, Target};
///
/// let target: Target = "wss://ws.clinic.example/signal".parse().unwrap();
/// assert_eq!(target.host, Host::Name("ws.clinic.example".into()));
/// assert_eq!(target.port, 443);
/// assert_eq!(target.server_name(), Some("ws.clinic.example"));
///
/// let ip: Target = "[2001:db8::1]:8443".parse().unwrap();
/// assert_eq!((ip.server_name(), ip.port), (None, 8443));
/// assert!("http://clinic.example".parse::<Target>().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The text the user gave, for the report.
    pub input: String,
    pub host: Host,
    pub port: u16,
    /// The URL scheme the user wrote, if any.
    pub scheme: Scheme,
    /// The URL's path (with its query), `/` when none was written.
    pub path: String,
    /// What the endpoint is for, when a service manifest said so.
    pub role: Option<EndpointRole>,
}

/// The scheme a target was written with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// `https://…`
    Https,
    /// `wss://…` (WebSocket over TLS).
    Wss,
    /// A bare `host[:port]`.
    Bare,
}

/// The host part of a target.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Host {
    /// A DNS name, lower-cased, without a trailing dot.
    Name(String),
    Ip(IpAddr),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(name) => f.write_str(name),
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            Host::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

impl Target {
    /// The name to send as SNI and to match certificates against; none for IP literals.
    pub fn server_name(&self) -> Option<&str> {
        match &self.host {
            Host::Name(name) => Some(name),
            Host::Ip(_) => None,
        }
    }
}

/// Why a target could not be parsed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid target {input:?}: {reason}")]
pub struct TargetError {
    pub input: String,
    pub reason: String,
}

impl std::str::FromStr for Target {
    type Err = TargetError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        parse(input)
    }
}

fn parse(input: &str) -> Result<Target, TargetError> {
    let fail = |reason: &str| TargetError { input: input.to_string(), reason: reason.to_string() };
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(fail("empty target"));
    }
    let (scheme, authority, path) = match trimmed.split_once("://") {
        Some((scheme, rest)) => {
            let scheme = match scheme.to_ascii_lowercase().as_str() {
                "https" => Scheme::Https,
                "wss" => Scheme::Wss,
                _ => return Err(fail("only https:// and wss:// URLs are scanned (TLS endpoints)")),
            };
            let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            let authority = &rest[..end];
            if authority.contains('@') {
                return Err(fail("user information in URLs is not supported"));
            }
            let path = rest[end..].split('#').next().unwrap_or_default();
            let path = if path.starts_with('/') { path.to_string() } else { format!("/{path}") };
            if path.chars().any(|c| c.is_ascii_control() || c == ' ') {
                return Err(fail("the path holds spaces or control characters"));
            }
            (scheme, authority, path)
        }
        None => {
            if trimmed.contains(['/', '?', '#']) {
                return Err(fail("a path needs a scheme, as in https://host/path"));
            }
            (Scheme::Bare, trimmed, "/".to_string())
        }
    };
    let (host_text, port) = split_host_port(authority).map_err(|r| fail(&r))?;
    let host = parse_host(host_text).map_err(|r| fail(&r))?;
    Ok(Target { input: input.to_string(), host, port: port.unwrap_or(DEFAULT_PORT), scheme, path, role: None })
}

/// Splits `host`, `host:port`, `[v6]`, `[v6]:port` or a bare IPv6 address.
fn split_host_port(authority: &str) -> Result<(&str, Option<u16>), String> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (inside, after) = rest.split_once(']').ok_or("unclosed '[' in IPv6 address")?;
        if inside.parse::<Ipv6Addr>().is_err() {
            return Err(format!("{inside:?} is not an IPv6 address"));
        }
        return match after {
            "" => Ok((inside, None)),
            _ => match after.strip_prefix(':') {
                Some(port) => Ok((inside, Some(parse_port(port)?))),
                None => Err("unexpected text after ']'".to_string()),
            },
        };
    }
    if authority.parse::<Ipv6Addr>().is_ok() {
        return Ok((authority, None));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => {
            if host.contains(':') {
                return Err("an IPv6 address with a port must be written [address]:port".to_string());
            }
            Ok((host, Some(parse_port(port)?)))
        }
        None => Ok((authority, None)),
    }
}

fn parse_port(text: &str) -> Result<u16, String> {
    match text.parse::<u16>() {
        Ok(0) => Err("port 0 is not a valid port".to_string()),
        Ok(port) => Ok(port),
        Err(_) => Err(format!("{text:?} is not a port number (1-65535)")),
    }
}

/// Parses an IP literal or a DNS name (LDH labels; IDNs in U-label form are converted to
/// A-labels with UTS #46, so `診療.jp` is probed, sent as SNI and matched as `xn--...`).
pub(crate) fn parse_host(text: &str) -> Result<Host, String> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(Host::Ip(ip));
    }
    let name = text.strip_suffix('.').unwrap_or(text).to_ascii_lowercase();
    if name.is_empty() {
        return Err("empty host name".to_string());
    }
    let name = if name.is_ascii() {
        name
    } else {
        idna::domain_to_ascii(&name).map_err(|_| format!("{text:?} is not a valid internationalised domain name"))?
    };
    if name.len() > 253 {
        return Err("host name longer than 253 characters".to_string());
    }
    for label in name.split('.') {
        let valid = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            return Err(format!("{label:?} is not a valid DNS label"));
        }
    }
    if name.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(format!("{text:?} is neither an IPv4 address nor a host name"));
    }
    Ok(Host::Name(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(input: &str) -> (String, u16) {
        let t: Target = input.parse().unwrap_or_else(|e| panic!("{input}: {e}"));
        (t.host.to_string(), t.port)
    }

    #[test]
    fn accepted_forms() {
        assert_eq!(ok("example.jp"), ("example.jp".into(), 443));
        assert_eq!(ok("Example.JP."), ("example.jp".into(), 443));
        assert_eq!(ok("example.jp:8443"), ("example.jp".into(), 8443));
        assert_eq!(ok("https://api.example.jp"), ("api.example.jp".into(), 443));
        assert_eq!(ok("https://api.example.jp:9443/v1/x?y=1"), ("api.example.jp".into(), 9443));
        assert_eq!(ok("wss://ws.example.jp/signal"), ("ws.example.jp".into(), 443));
        assert_eq!(ok("192.0.2.7"), ("192.0.2.7".into(), 443));
        assert_eq!(ok("192.0.2.7:5349"), ("192.0.2.7".into(), 5349));
        assert_eq!(ok("[2001:db8::1]:8443"), ("[2001:db8::1]".into(), 8443));
        assert_eq!(ok("[::1]"), ("[::1]".into(), 443));
        assert_eq!(ok("2001:db8::1"), ("[2001:db8::1]".into(), 443));
        assert_eq!(ok("https://[::1]:4433/"), ("[::1]".into(), 4433));
        assert_eq!(ok("xn--eckwd4c7c.xn--zckzah"), ("xn--eckwd4c7c.xn--zckzah".into(), 443));
        // U-labels become A-labels (UTS #46), so SNI and certificate matching use xn-- forms.
        assert_eq!(ok("ドメイン.テスト"), ("xn--eckwd4c7c.xn--zckzah".into(), 443));
        assert_eq!(ok("https://診療.jp/"), ("xn--lvyx93b.jp".into(), 443));
    }

    #[test]
    fn ip_targets_have_no_server_name() {
        let t: Target = "127.0.0.1:443".parse().unwrap();
        assert_eq!(t.server_name(), None);
        let t: Target = "a.example".parse().unwrap();
        assert_eq!(t.server_name(), Some("a.example"));
    }

    #[test]
    fn rejected_forms() {
        for bad in [
            "",
            "  ",
            "http://example.jp",
            "ftp://example.jp",
            "example.jp:0",
            "example.jp:65536",
            "example.jp:https",
            "[::1",
            "[not-v6]:443",
            "[::1]x",
            "2001:db8::1:443:",
            "-bad.example",
            "bad..example",
            "exa mple.jp",
            "ex ample.日本",
            "example.jp/path",
            "https://user@example.jp",
            "999.1.1.1",
        ] {
            assert!(bad.parse::<Target>().is_err(), "{bad:?} should be rejected");
        }
    }
}
