//! One hand-built hello on its own connection, and its reply: the building block of the
//! legacy-version probes and of full enumeration.

use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::gate::EndpointGate;
use super::net;
use crate::evidence::{Bytes, HelloExchange, HelloPurpose, HelloReply, Outcome};
use crate::wire::client_hello::{ClientHello, COMPRESSION_NULL};
use crate::wire::deframer::{io_stop, Stop, Transcript};
use crate::wire::server_reply::read_server_reply;
use crate::wire::sslv2;

/// Sends `hello` on a fresh connection through `gate` and reads the reply.
///
/// `timeout` bounds the TCP connect, and separately the writing of the hello and the
/// reading of its reply. A hello that cannot be encoded is an error exchange, not a panic.
pub async fn send_tls_hello(
    gate: &EndpointGate,
    timeout: Duration,
    purpose: HelloPurpose,
    hello: &ClientHello,
) -> HelloExchange {
    let mut exchange = match hello.to_record() {
        Ok(record) => round_trip(gate, timeout, record, Dialect::Tls).await,
        Err(e) => HelloExchange::new(purpose, HelloReply::Malformed { reason: format!("hello not sent: {e}") }),
    };
    exchange.purpose = purpose;
    exchange.offered_suites = hello.suites.clone();
    exchange.offered_groups = hello.offered_groups.clone();
    exchange.offered_versions = hello.offered_versions.clone();
    exchange.offered_extensions = hello.extensions.iter().map(|e| e.typ).collect();
    exchange.offered_compression = hello.compression.iter().copied().filter(|c| *c != COMPRESSION_NULL).collect();
    exchange.fallback_scsv = hello.fallback_scsv;
    exchange
}

/// Sends the standard SSLv2 CLIENT-HELLO and reads the reply.
pub async fn send_sslv2_hello(gate: &EndpointGate, timeout: Duration) -> HelloExchange {
    round_trip(gate, timeout, sslv2::standard_client_hello(), Dialect::Sslv2).await
}

/// Which reader interprets the reply.
#[derive(Clone, Copy)]
enum Dialect {
    Tls,
    Sslv2,
}

async fn round_trip(gate: &EndpointGate, timeout: Duration, hello: Vec<u8>, dialect: Dialect) -> HelloExchange {
    let started = std::time::Instant::now();
    let (sent, reply, transcript) = match gate.connect(timeout).await {
        Err(outcome) => (Vec::new(), connect_reply(outcome), Transcript::default()),
        Ok(mut connection) => {
            let deadline = Instant::now() + timeout;
            let (reply, transcript) = send_and_read(&mut connection.stream, &hello, deadline, dialect).await;
            (hello, reply, transcript)
        }
    };
    let mut exchange = HelloExchange::new(HelloPurpose::Suites, reply);
    exchange.sent = Bytes(sent);
    exchange.received = Bytes(transcript.bytes);
    exchange.received_truncated = transcript.truncated;
    exchange.elapsed_ms = net::elapsed_ms(started);
    exchange
}

async fn send_and_read(
    stream: &mut TcpStream,
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
        Dialect::Tls => read_server_reply(stream, deadline).await,
        Dialect::Sslv2 => sslv2::read_reply(stream, deadline).await,
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
