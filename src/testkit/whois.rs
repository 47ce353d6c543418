//! A WHOIS server (RFC 3912) on 127.0.0.1 for the WHOIS tests and the demo: canned answers
//! by query line, a record of the queries asked, and hostile behaviours — endless and huge
//! answers, tarpits, trickles, closes and resets — that a registry gone wrong could show.
//!
//! One query per connection, as the protocol has it: the server reads a line, writes the
//! answer and closes. Every connection runs under a deadline, and all of them stop when the
//! [`RunningWhoisServer`] is dropped.
//!
//! ```no_run
//! # async fn demo() -> Result<(), String> {
//! use kensa::testkit::whois::WhoisServer;
//! let server = WhoisServer::new().answer("google.jp", b"[Domain Name] GOOGLE.JP\r\n".to_vec()).start().await?;
//! let target = server.target(); // a `kensa::domain::whois::WhoisServer` to pass as the override
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// Longest a connection is kept, hostile ones included.
const CONNECTION_DEADLINE: Duration = Duration::from_secs(60);
/// How long a client gets to send its query line.
const QUERY_DEADLINE: Duration = Duration::from_secs(10);
/// Longest query line read.
const MAX_QUERY: usize = 4096;

/// How the server misbehaves on every connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hostile {
    /// Reads the query, then writes without end (until the client hangs up).
    Endless,
    /// Reads the query, then sends `size` bytes of text and closes.
    Huge {
        /// Bytes sent.
        size: usize,
    },
    /// Reads the query and never answers.
    Tarpit,
    /// Reads the query, then answers one byte per `interval`, for a long time.
    Trickle {
        /// Pause before each byte.
        interval: Duration,
    },
    /// Closes as soon as it has accepted, without reading.
    Close,
    /// Reads the query, then resets the connection.
    Reset,
}

/// Answers for a WHOIS server, then [`WhoisServer::start`]. Queries are matched without
/// their line end and case-insensitively; an unknown query gets the fallback answer.
#[derive(Clone, Debug, Default)]
pub struct WhoisServer {
    answers: HashMap<String, Vec<u8>>,
    fallback: Option<Vec<u8>>,
    hostile: Option<Hostile>,
}

impl WhoisServer {
    /// A server with no answers yet; unknown queries get `No match for "QUERY".`.
    pub fn new() -> WhoisServer {
        WhoisServer::default()
    }

    /// Answers the query line `query` with `bytes`, sent as they are.
    pub fn answer(mut self, query: &str, bytes: impl Into<Vec<u8>>) -> WhoisServer {
        self.answers.insert(query.to_lowercase(), bytes.into());
        self
    }

    /// Answers every query not given an answer with `bytes`.
    pub fn fallback(mut self, bytes: impl Into<Vec<u8>>) -> WhoisServer {
        self.fallback = Some(bytes.into());
        self
    }

    /// Misbehaves on every connection instead of answering.
    pub fn hostile(mut self, behaviour: Hostile) -> WhoisServer {
        self.hostile = Some(behaviour);
        self
    }

    /// Starts listening on 127.0.0.1 on a port the OS picks.
    pub async fn start(self) -> Result<RunningWhoisServer, String> {
        let bind = SocketAddr::from(([127, 0, 0, 1], 0));
        let listener = TcpListener::bind(bind).await.map_err(|e| format!("cannot listen on {bind}: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let queries = Arc::new(Mutex::new(Vec::new()));
        let task = tokio::spawn(accept_loop(listener, Arc::new(self), queries.clone()));
        Ok(RunningWhoisServer { addr, queries, task })
    }
}

/// A running loopback WHOIS server; stops, with every open connection, when dropped.
pub struct RunningWhoisServer {
    addr: SocketAddr,
    queries: Arc<Mutex<Vec<String>>>,
    task: JoinHandle<()>,
}

impl RunningWhoisServer {
    /// Where the server listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server as kensa's WHOIS client names one (`127.0.0.1:PORT`).
    pub fn target(&self) -> crate::domain::whois::WhoisServer {
        crate::domain::whois::WhoisServer { host: self.addr.ip().to_string(), port: self.addr.port() }
    }

    /// The query lines read so far, without their line ends, in order.
    pub fn queries(&self) -> Vec<String> {
        self.queries.lock().map(|q| q.clone()).unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }
}

impl Drop for RunningWhoisServer {
    fn drop(&mut self) {
        // The connection tasks live in the accept task's JoinSet: aborting it aborts them.
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, server: Arc<WhoisServer>, queries: Arc<Mutex<Vec<String>>>) {
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let Ok((stream, _)) = listener.accept().await else {
            // Out of descriptors or similar: back off instead of spinning.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let (server, queries) = (server.clone(), queries.clone());
        connections.spawn(async move {
            let _ = tokio::time::timeout(CONNECTION_DEADLINE, serve(stream, &server, &queries)).await;
        });
    }
}

async fn serve(mut stream: TcpStream, server: &WhoisServer, queries: &Mutex<Vec<String>>) {
    if server.hostile == Some(Hostile::Close) {
        let _ = stream.shutdown().await;
        return;
    }
    let Ok(Some(query)) = tokio::time::timeout(QUERY_DEADLINE, read_query(&mut stream)).await else { return };
    match queries.lock() {
        Ok(mut list) => list.push(query.clone()),
        Err(poisoned) => poisoned.into_inner().push(query.clone()),
    }
    match server.hostile {
        None => {
            let answer = server
                .answers
                .get(&query.to_lowercase())
                .or(server.fallback.as_ref())
                .cloned()
                .unwrap_or_else(|| format!("No match for \"{}\".\r\n", query.to_uppercase()).into_bytes());
            let _ = stream.write_all(&answer).await;
            let _ = stream.shutdown().await;
        }
        Some(behaviour) => misbehave(stream, behaviour).await,
    }
}

/// Reads up to the first line end; `None` if the client sent none.
async fn read_query(stream: &mut TcpStream) -> Option<String> {
    let mut line = Vec::new();
    let mut chunk = [0u8; 512];
    loop {
        if let Some(end) = line.iter().position(|&b| b == b'\n') {
            line.truncate(end);
            break;
        }
        if line.len() > MAX_QUERY {
            return None;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => line.extend_from_slice(chunk.get(..n).unwrap_or_default()),
        }
    }
    let text = String::from_utf8_lossy(&line);
    Some(text.trim_end_matches('\r').to_string())
}

async fn misbehave(mut stream: TcpStream, behaviour: Hostile) {
    match behaviour {
        Hostile::Endless => {
            let block = b"% and another line of an answer that never ends\r\n".repeat(64);
            // The client hanging up is the expected end.
            while stream.write_all(&block).await.is_ok() {}
        }
        Hostile::Huge { size } => {
            let block = b"Remarks: filler\r\n".repeat(1024);
            let mut left = size;
            while left > 0 {
                let n = left.min(block.len());
                if stream.write_all(block.get(..n).unwrap_or_default()).await.is_err() {
                    return;
                }
                left -= n;
            }
            let _ = stream.shutdown().await;
        }
        Hostile::Tarpit => tokio::time::sleep(CONNECTION_DEADLINE).await,
        Hostile::Trickle { interval } => {
            for byte in b"Domain Name: TRICKLE.EXAMPLE\r\n".iter().cycle() {
                tokio::time::sleep(interval).await;
                if stream.write_all(&[*byte]).await.is_err() {
                    return;
                }
            }
        }
        Hostile::Close => {
            let _ = stream.shutdown().await;
        }
        Hostile::Reset => {
            // A zero linger makes the drop send RST at once; it never blocks.
            #[allow(deprecated)]
            let _ = stream.set_linger(Some(Duration::ZERO));
        }
    }
}
