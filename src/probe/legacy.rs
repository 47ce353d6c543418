//! Legacy-version probes: SSLv2, SSLv3, TLS 1.0 and TLS 1.1 with hand-built hellos.
//!
//! rustls cannot speak these versions, and the question is only "would the server agree
//! to this version?", which the ServerHello answers; no handshake is ever completed. Each
//! hello goes on its own connection. A TLS version is offered every suite that exists for
//! it, in bundles (a hello must fit one record and some servers cap the suite list), and
//! the next bundle is tried only when the server says "nothing in common".

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::net;
use crate::evidence::{Bytes, HelloExchange, HelloReply, LegacyAttempt, Outcome, TlsVersion};
use crate::wire::client_hello::ClientHello;
use crate::wire::deframer::{io_stop, Stop, Transcript};
use crate::wire::server_reply::{alert_name, read_server_reply, ALERT_HANDSHAKE_FAILURE, ALERT_INSUFFICIENT_SECURITY};
use crate::wire::sslv2;
use crate::wire::suites::suites_for;

/// Most suites offered in one hello. 128 suites keep the hello far below the record limit
/// and below the list sizes some old stacks choke on.
pub const MAX_SUITES_PER_HELLO: usize = 128;

/// Which reader interprets the reply.
#[derive(Clone, Copy)]
enum Dialect {
    Tls,
    Sslv2,
}

/// Asks `addr` whether it accepts `version`, using hand-built hellos.
///
/// `timeout` bounds the TCP connect, and separately the writing of each hello and the
/// reading of its reply. Supported for SSLv2, SSLv3, TLS 1.0 and TLS 1.1 (and TLS 1.2,
/// whose hello the builder can also produce); TLS 1.3 is answered with an error outcome.
pub async fn probe_legacy_version(
    addr: SocketAddr,
    server_name: Option<&str>,
    version: TlsVersion,
    timeout: Duration,
) -> LegacyAttempt {
    let exchanges = match version {
        TlsVersion::Ssl2 => {
            vec![exchange(addr, timeout, Vec::new(), sslv2::standard_client_hello(), Dialect::Sslv2).await]
        }
        TlsVersion::Ssl3 | TlsVersion::Tls10 | TlsVersion::Tls11 | TlsVersion::Tls12 => {
            match probe_tls(addr, server_name, version, timeout).await {
                Ok(exchanges) => exchanges,
                Err(reason) => {
                    return LegacyAttempt { version, outcome: Outcome::Error { reason }, exchanges: Vec::new() }
                }
            }
        }
        TlsVersion::Tls13 => {
            return LegacyAttempt {
                version,
                outcome: Outcome::Error { reason: "TLS 1.3 is not probed with a hand-built hello".to_string() },
                exchanges: Vec::new(),
            }
        }
    };
    LegacyAttempt { version, outcome: overall_outcome(version, &exchanges), exchanges }
}

async fn probe_tls(
    addr: SocketAddr,
    server_name: Option<&str>,
    version: TlsVersion,
    timeout: Duration,
) -> Result<Vec<HelloExchange>, String> {
    let suites = suites_for(version);
    let mut exchanges = Vec::new();
    for bundle in suites.chunks(MAX_SUITES_PER_HELLO) {
        let hello = ClientHello::legacy(version.wire(), bundle, server_name)
            .and_then(|h| h.to_record())
            .map_err(|e| e.to_string())?;
        let done = exchange(addr, timeout, bundle.to_vec(), hello, Dialect::Tls).await;
        let no_common_suite = matches!(
            done.reply,
            HelloReply::Alert { description: ALERT_HANDSHAKE_FAILURE | ALERT_INSUFFICIENT_SECURITY, .. }
        );
        exchanges.push(done);
        if !no_common_suite {
            break;
        }
    }
    Ok(exchanges)
}

/// One hello on a fresh connection, and its reply.
async fn exchange(
    addr: SocketAddr,
    timeout: Duration,
    offered_suites: Vec<u16>,
    hello: Vec<u8>,
    dialect: Dialect,
) -> HelloExchange {
    let started = std::time::Instant::now();
    let (sent, reply, transcript) = match net::connect(addr, timeout).await {
        Err(outcome) => (Vec::new(), connect_reply(outcome), Transcript::default()),
        Ok(stream) => {
            let deadline = Instant::now() + timeout;
            let (reply, transcript) = send_and_read(stream, &hello, deadline, dialect).await;
            (hello, reply, transcript)
        }
    };
    HelloExchange {
        offered_suites,
        sent: Bytes(sent),
        received: Bytes(transcript.bytes),
        received_truncated: transcript.truncated,
        elapsed_ms: net::elapsed_ms(started),
        reply,
    }
}

async fn send_and_read(
    mut stream: TcpStream,
    hello: &[u8],
    deadline: Instant,
    dialect: Dialect,
) -> (HelloReply, Transcript) {
    let written = tokio::time::timeout_at(deadline, stream.write_all(hello)).await;
    let failed = match written {
        Err(_) => Some(HelloReply::Timeout),
        Ok(Err(e)) => Some(stop_reply(io_stop(&e))),
        Ok(Ok(())) => None,
    };
    if let Some(reply) = failed {
        return (reply, Transcript::default());
    }
    match dialect {
        Dialect::Tls => read_server_reply(&mut stream, deadline).await,
        Dialect::Sslv2 => sslv2::read_reply(&mut stream, deadline).await,
    }
}

fn stop_reply(stop: Stop) -> HelloReply {
    match stop {
        Stop::Closed => HelloReply::Closed,
        Stop::Reset => HelloReply::Reset,
        Stop::Timeout => HelloReply::Timeout,
        Stop::Malformed(reason) => HelloReply::Malformed { reason },
    }
}

fn connect_reply(outcome: Outcome) -> HelloReply {
    match outcome {
        Outcome::Timeout => HelloReply::Timeout,
        Outcome::ConnectFailed { reason } => HelloReply::ConnectFailed { reason },
        other => HelloReply::ConnectFailed { reason: format!("{other:?}") },
    }
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
        HelloExchange {
            offered_suites: vec![],
            sent: Bytes::default(),
            received: Bytes::default(),
            received_truncated: false,
            elapsed_ms: 0,
            reply,
        }
    }

    #[test]
    fn outcome_rules() {
        let sh = |v| HelloReply::ServerHello { version: v, cipher_suite: 0x2f, chain: vec![] };
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
