//! Turning targets into endpoints: every A and AAAA address of a host is its own endpoint.
//!
//! `--resolve HOST:PORT:ADDR` pins (as curl's) win over DNS; IP literals need no lookup;
//! everything else is asked of hickory-resolver, with the system configuration or the
//! server given with `--resolver`.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::config::{LookupIpStrategy, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::TokioResolver;

use crate::evidence::{AddressFamily, ResolutionEvidence, ResolutionSource};
use crate::target::{parse_host, Host, Target};

/// A `--resolve HOST:PORT:ADDR[,ADDR…]` pin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pin {
    pub host: String,
    pub port: u16,
    pub addresses: Vec<IpAddr>,
    /// As the user wrote it.
    pub input: String,
}

/// Why a pin could not be parsed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid --resolve {input:?}: {reason} (expected HOST:PORT:ADDR)")]
pub struct PinError {
    pub input: String,
    pub reason: String,
}

impl std::str::FromStr for Pin {
    type Err = PinError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let fail = |reason: &str| PinError { input: input.to_string(), reason: reason.to_string() };
        let mut parts = input.splitn(3, ':');
        let (Some(host), Some(port), Some(addrs)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(fail("missing part"));
        };
        let host = match parse_host(host) {
            Ok(Host::Name(name)) => name,
            Ok(Host::Ip(_)) => return Err(fail("the host of a pin must be a name")),
            Err(reason) => return Err(fail(&reason)),
        };
        let port = port.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| fail("bad port"))?;
        let mut addresses = Vec::new();
        for addr in addrs.split(',') {
            let bare = addr.strip_prefix('[').and_then(|a| a.strip_suffix(']')).unwrap_or(addr);
            let ip = bare.parse::<IpAddr>().map_err(|_| fail(&format!("{addr:?} is not an IP address")))?;
            addresses.push(ip);
        }
        Ok(Pin { host, port, addresses, input: input.to_string() })
    }
}

/// How names are looked up.
#[derive(Clone, Debug)]
pub struct ResolverSettings {
    /// `--resolver ADDR[:PORT]`; `None` uses the system configuration.
    pub server: Option<SocketAddr>,
    pub timeout: Duration,
    pub family: AddressFamily,
}

/// Parses `--resolver ADDR[:PORT]` (port 53 by default; IPv6 as `[ADDR]:PORT` or bare).
pub fn parse_resolver(text: &str) -> Result<SocketAddr, String> {
    if let Ok(sa) = text.parse::<SocketAddr>() {
        return Ok(sa);
    }
    let bare = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')).unwrap_or(text);
    bare.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .map_err(|_| format!("invalid --resolver {text:?}: expected ADDR or ADDR:PORT"))
}

/// Resolves targets to addresses, honouring pins, literals and the address family.
pub struct EndpointResolver {
    settings: ResolverSettings,
    pins: Vec<Pin>,
    dns: Option<TokioResolver>,
    dns_error: Option<String>,
}

impl EndpointResolver {
    /// Builds the resolver. A broken system configuration is not an error here: it only
    /// matters (and is reported per target) if some target actually needs DNS.
    pub fn new(settings: ResolverSettings, pins: Vec<Pin>) -> Self {
        let (dns, dns_error) = match build_dns(&settings) {
            Ok(resolver) => (Some(resolver), None),
            Err(e) => (None, Some(e)),
        };
        EndpointResolver { settings, pins, dns, dns_error }
    }

    /// The addresses to probe for `target`.
    pub async fn resolve(&self, target: &Target) -> ResolutionEvidence {
        let family = self.settings.family;
        let (source, found) = match &target.host {
            Host::Ip(ip) => (ResolutionSource::Literal, Ok(vec![*ip])),
            Host::Name(name) => match self.pins.iter().find(|p| &p.host == name && p.port == target.port) {
                Some(pin) => (ResolutionSource::Pinned, Ok(pin.addresses.clone())),
                None => (ResolutionSource::Dns, self.lookup(name).await),
            },
        };
        match found {
            Err(error) => ResolutionEvidence { source, addresses: Vec::new(), error: Some(error) },
            Ok(all) => {
                let unique: BTreeSet<IpAddr> = all.into_iter().collect();
                let addresses: Vec<IpAddr> = unique.iter().copied().filter(|ip| family.admits(ip)).collect();
                let error = match (addresses.is_empty(), unique.is_empty()) {
                    (false, _) => None,
                    (true, true) => Some("no address found".to_string()),
                    (true, false) => Some(format!(
                        "no {} address (found {})",
                        if family == AddressFamily::V4 { "IPv4" } else { "IPv6" },
                        unique.iter().map(|ip| ip.to_string()).collect::<Vec<_>>().join(", ")
                    )),
                };
                ResolutionEvidence { source, addresses, error }
            }
        }
    }

    async fn lookup(&self, name: &str) -> Result<Vec<IpAddr>, String> {
        let Some(dns) = &self.dns else {
            return Err(format!("cannot use DNS: {}", self.dns_error.as_deref().unwrap_or("no resolver configured")));
        };
        // The resolver has its own per-query timeout; this bounds retries and both families.
        let deadline = self.settings.timeout * 3;
        match tokio::time::timeout(deadline, dns.lookup_ip(format!("{name}."))).await {
            Err(_) => Err(format!("DNS lookup timed out after {} ms", deadline.as_millis())),
            Ok(Err(e)) => Err(format!("DNS lookup failed: {e}")),
            Ok(Ok(lookup)) => Ok(lookup.iter().collect()),
        }
    }
}

/// A resolver builder for `settings`: the `--resolver` server (UDP and TCP, on its port) or
/// the system configuration, with the timeout and two attempts per question.
pub fn resolver_builder(
    settings: &ResolverSettings,
) -> Result<hickory_resolver::ResolverBuilder<TokioRuntimeProvider>, String> {
    let provider = TokioRuntimeProvider::default();
    let mut builder = match settings.server {
        Some(server) => {
            let mut ns = NameServerConfig::udp_and_tcp(server.ip());
            for connection in ns.connections.iter_mut() {
                connection.port = server.port();
            }
            TokioResolver::builder_with_config(ResolverConfig::from_name_servers(vec![ns]), provider)
        }
        None => TokioResolver::builder(provider).map_err(|e| format!("system resolver configuration: {e}"))?,
    };
    let options = builder.options_mut();
    options.timeout = settings.timeout;
    options.attempts = 2;
    Ok(builder)
}

fn build_dns(settings: &ResolverSettings) -> Result<TokioResolver, String> {
    let mut builder = resolver_builder(settings)?;
    let options = builder.options_mut();
    options.ip_strategy = match settings.family {
        AddressFamily::Any => LookupIpStrategy::Ipv4AndIpv6,
        AddressFamily::V4 => LookupIpStrategy::Ipv4Only,
        AddressFamily::V6 => LookupIpStrategy::Ipv6Only,
    };
    builder.build().map_err(|e| format!("resolver: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_parse_like_curl() {
        let pin: Pin = "api.example.jp:443:127.0.0.1".parse().unwrap();
        assert_eq!(pin.host, "api.example.jp");
        assert_eq!(pin.port, 443);
        assert_eq!(pin.addresses, vec!["127.0.0.1".parse::<IpAddr>().unwrap()]);
        let pin: Pin = "a.example:8443:[::1],127.0.0.2".parse().unwrap();
        assert_eq!(pin.addresses.len(), 2);
        let pin: Pin = "a.example:8443:::1".parse().unwrap();
        assert_eq!(pin.addresses, vec!["::1".parse::<IpAddr>().unwrap()]);
        for bad in ["a.example", "a.example:443", "a.example:0:127.0.0.1", "a.example:443:nope", "1.2.3.4:443:1.2.3.4"]
        {
            assert!(bad.parse::<Pin>().is_err(), "{bad}");
        }
    }

    #[test]
    fn resolver_addresses() {
        assert_eq!(parse_resolver("127.0.0.1").unwrap(), "127.0.0.1:53".parse().unwrap());
        assert_eq!(parse_resolver("127.0.0.1:5353").unwrap(), "127.0.0.1:5353".parse().unwrap());
        assert_eq!(parse_resolver("[::1]:5353").unwrap(), "[::1]:5353".parse().unwrap());
        assert_eq!(parse_resolver("::1").unwrap(), "[::1]:53".parse().unwrap());
        assert!(parse_resolver("dns.example").is_err());
    }

    #[tokio::test]
    async fn pins_and_literals_skip_dns_and_honour_family() {
        let settings = ResolverSettings {
            server: Some("127.0.0.1:9".parse().unwrap()),
            timeout: Duration::from_millis(200),
            family: AddressFamily::V4,
        };
        let pins = vec!["web.example:443:127.0.0.5,::1".parse().unwrap()];
        let resolver = EndpointResolver::new(settings, pins);
        let pinned = resolver.resolve(&"web.example".parse().unwrap()).await;
        assert_eq!(pinned.source, ResolutionSource::Pinned);
        assert_eq!(pinned.addresses, vec!["127.0.0.5".parse::<IpAddr>().unwrap()]);
        let v6 = resolver.resolve(&"[::1]:443".parse().unwrap()).await;
        assert!(v6.addresses.is_empty());
        assert!(v6.error.unwrap().contains("no IPv4 address"));
    }
}
