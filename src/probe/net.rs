//! TCP plumbing shared by every probe: connecting under a deadline and naming failures.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpStream;

use crate::evidence::Outcome;

/// Opens a TCP connection to `addr`, giving up after `timeout`.
pub async fn connect(addr: SocketAddr, timeout: Duration) -> Result<TcpStream, Outcome> {
    match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Err(_) => Err(Outcome::Timeout),
        Ok(Err(e)) => Err(Outcome::ConnectFailed { reason: describe_connect_error(&e) }),
        Ok(Ok(stream)) => {
            // Hellos are small single writes; don't let Nagle hold them back.
            let _ = stream.set_nodelay(true);
            Ok(stream)
        }
    }
}

fn describe_connect_error(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
        io::ErrorKind::TimedOut => "connection timed out".to_string(),
        _ => e.to_string(),
    }
}

/// Classifies an I/O error met after the connection was open.
pub fn io_outcome(e: &io::Error) -> Outcome {
    match e.kind() {
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted | io::ErrorKind::BrokenPipe => Outcome::Reset,
        io::ErrorKind::UnexpectedEof => Outcome::Closed,
        io::ErrorKind::TimedOut => Outcome::Timeout,
        _ => Outcome::Error { reason: e.to_string() },
    }
}

/// Milliseconds elapsed since `start`, saturating.
pub fn elapsed_ms(start: std::time::Instant) -> u64 {
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}
