//! Legacy-version probes: SSLv2, SSLv3, TLS 1.0 and TLS 1.1 with hand-built hellos.
//!
//! rustls cannot speak these versions, and the question is only "would the server agree
//! to this version?", which the ServerHello answers; no handshake is ever completed. Each
//! hello goes on its own connection. A TLS version is offered every suite that exists for
//! it, in bundles (a hello must fit one record and some servers cap the suite list), and
//! the next bundle is tried only when the server says "nothing in common".

use std::time::Duration;

use super::gate::EndpointGate;
use super::hand_built::{send_sslv2_hello, send_tls_hello};
use crate::evidence::{HandBuiltAttempt, HelloExchange, HelloPurpose, HelloReply, Outcome, TlsVersion};
use crate::posture::is_no_common_suite;
use crate::wire::client_hello::ClientHello;
use crate::wire::server_reply::alert_name;
use crate::wire::suites::suites_for;

pub use super::enumerate::MAX_SUITES_PER_HELLO;

/// Asks whether the endpoint accepts `version`, using plain hand-built hellos.
///
/// Supported for SSLv2, SSLv3, TLS 1.0 and TLS 1.1 (and TLS 1.2, whose hello the builder
/// can also produce); TLS 1.3 is answered with an error outcome. Every suite that exists
/// for the version is offered, in up to `max_hellos` bundles; the next bundle is sent only
/// when the server said "nothing in common". With fewer bundles than suites need, the
/// evidence shows how many suites were offered, and checks say so.
pub async fn probe_legacy_version(
    gate: &EndpointGate,
    server_name: Option<&str>,
    version: TlsVersion,
    timeout: Duration,
    max_hellos: usize,
) -> HandBuiltAttempt {
    let exchanges = match version {
        TlsVersion::Ssl2 => vec![send_sslv2_hello(gate, timeout).await],
        TlsVersion::Ssl3 | TlsVersion::Tls10 | TlsVersion::Tls11 | TlsVersion::Tls12 => {
            let mut exchanges = Vec::new();
            for bundle in suites_for(version).chunks(MAX_SUITES_PER_HELLO).take(max_hellos.max(1)) {
                let hello = match ClientHello::legacy(version.wire(), bundle, server_name) {
                    Ok(hello) => hello,
                    Err(e) => {
                        return HandBuiltAttempt {
                            version,
                            outcome: Outcome::Error { reason: e.to_string() },
                            exchanges,
                        }
                    }
                };
                let done = send_tls_hello(gate, timeout, HelloPurpose::Suites, &hello).await;
                let go_on = is_no_common_suite(&done.reply);
                exchanges.push(done);
                if !go_on {
                    break;
                }
            }
            exchanges
        }
        TlsVersion::Tls13 => {
            return HandBuiltAttempt {
                version,
                outcome: Outcome::Error { reason: "TLS 1.3 is not probed with a plain hello".to_string() },
                exchanges: Vec::new(),
            }
        }
    };
    HandBuiltAttempt { version, outcome: overall_outcome(version, &exchanges), exchanges }
}

/// The verdict-free summary of a version's exchanges: a ServerHello decides; otherwise an
/// alert if the server refused every hello with one; otherwise how the last one ended.
pub fn overall_outcome(version: TlsVersion, exchanges: &[HelloExchange]) -> Outcome {
    let hello_version = exchanges.iter().find_map(|e| match e.reply {
        HelloReply::ServerHello { version, .. } => Some(version),
        _ => None,
    });
    if let Some(answered) = hello_version {
        return if answered == version.wire() {
            Outcome::Accepted
        } else {
            Outcome::OtherVersion { version: answered }
        };
    }
    let Some(last) = exchanges.last() else {
        return Outcome::Error { reason: "no hello was sent".to_string() };
    };
    // Only a "no suite in common" alert leads to another bundle, so a last alert means
    // every exchange ended in one.
    match &last.reply {
        HelloReply::Alert { description, .. } => {
            Outcome::Alert { description: *description, name: alert_name(*description) }
        }
        HelloReply::Sslv2Error { code, name } => {
            Outcome::Incompatible { reason: format!("SSLv2 ERROR {name} ({code:#06x})") }
        }
        HelloReply::ServerHello { .. } => Outcome::Accepted, // handled above
        HelloReply::Closed => Outcome::Closed,
        HelloReply::Reset => Outcome::Reset,
        HelloReply::Timeout => Outcome::Timeout,
        HelloReply::ConnectFailed { reason } => Outcome::ConnectFailed { reason: reason.clone() },
        HelloReply::Malformed { reason } => Outcome::Malformed { reason: reason.clone() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(reply: HelloReply) -> HelloExchange {
        HelloExchange::new(HelloPurpose::Suites, reply)
    }

    #[test]
    fn outcome_rules() {
        let sh =
            |v| HelloReply::ServerHello { version: v, cipher_suite: 0x2f, chain: vec![], details: Default::default() };
        let alert = |d| HelloReply::Alert { level: 2, description: d };
        assert_eq!(overall_outcome(TlsVersion::Tls10, &[ex(alert(40)), ex(sh(0x0301))]), Outcome::Accepted);
        assert_eq!(overall_outcome(TlsVersion::Tls11, &[ex(sh(0x0301))]), Outcome::OtherVersion { version: 0x0301 });
        assert_eq!(
            overall_outcome(TlsVersion::Tls10, &[ex(alert(40)), ex(alert(40))]),
            Outcome::Alert { description: 40, name: "handshake_failure".to_string() }
        );
        assert_eq!(overall_outcome(TlsVersion::Tls10, &[ex(alert(40)), ex(HelloReply::Reset)]), Outcome::Reset);
        assert_eq!(overall_outcome(TlsVersion::Ssl2, &[ex(sh(0x0002))]), Outcome::Accepted);
        assert!(matches!(overall_outcome(TlsVersion::Ssl3, &[]), Outcome::Error { .. }));
    }
}
