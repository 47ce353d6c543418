//! The `--metrics-listen` exporter: `GET /metrics` answers the latest exposition.
//!
//! Hand-rolled on tokio, like the test kit's HTTP server, because the whole job is one fixed
//! response and a scanner should not grow a web framework for it. It faces whatever can
//! reach the port, so every connection is bounded: the request head must arrive within
//! [`READ_DEADLINE`] and fit in [`MAX_HEAD`], the answer must be taken within
//! [`WRITE_DEADLINE`], and at most [`MAX_CONNECTIONS`] are served at once. One request per
//! connection (`connection: close`), which Prometheus handles without cost at scrape rates.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::{JoinHandle, JoinSet};

use super::CONTENT_TYPE;

/// Largest request head read, in bytes; a scraper's is a few hundred.
const MAX_HEAD: usize = 8 * 1024;
/// How long a client gets to send its request head.
const READ_DEADLINE: Duration = Duration::from_secs(10);
/// How long a client gets to take the response.
const WRITE_DEADLINE: Duration = Duration::from_secs(10);
/// Connections served at once. Beyond it new connections are closed at once rather than
/// queued, so slow clients cannot hold a scraper up for longer than one read deadline.
const MAX_CONNECTIONS: usize = 64;

/// A running exporter. It serves the text last given to [`MetricsServer::update`], and
/// stops — listener and open connections — when dropped.
pub struct MetricsServer {
    addr: SocketAddr,
    // Arc<str> so a scrape clones a pointer under the lock, never the text.
    exposition: Arc<RwLock<Arc<str>>>,
    task: JoinHandle<()>,
}

impl MetricsServer {
    /// Listens on `addr` (port 0 lets the OS pick; see [`MetricsServer::local_addr`]) and
    /// serves an empty exposition until the first [`MetricsServer::update`]. Must be called
    /// inside a tokio runtime.
    pub async fn bind(addr: SocketAddr) -> io::Result<MetricsServer> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {addr} for metrics: {e}")))?;
        let addr = listener.local_addr()?;
        let exposition: Arc<RwLock<Arc<str>>> = Arc::new(RwLock::new(Arc::from("")));
        let task = tokio::spawn(accept_loop(listener, exposition.clone()));
        Ok(MetricsServer { addr, exposition, task })
    }

    /// Where the exporter listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Replaces the exposition served from now on (scrapes under way finish with the old one).
    pub fn update(&self, text: String) {
        let text: Arc<str> = Arc::from(text);
        match self.exposition.write() {
            Ok(mut current) => *current = text,
            // Nothing panics while holding the lock; if something ever did, the value is
            // still a whole Arc and serving the new one is right.
            Err(poisoned) => *poisoned.into_inner() = text,
        }
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        // Connection tasks live in the accept task's JoinSet: aborting it aborts them.
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, exposition: Arc<RwLock<Arc<str>>>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let Ok((stream, _)) = listener.accept().await else {
            // Out of descriptors or similar: back off instead of spinning.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            drop(stream);
            continue;
        };
        let exposition = exposition.clone();
        connections.spawn(async move {
            serve(stream, &exposition).await;
            drop(slot);
        });
    }
}

async fn serve(mut stream: TcpStream, exposition: &RwLock<Arc<str>>) {
    let response = match tokio::time::timeout(READ_DEADLINE, read_head(&mut stream)).await {
        Ok(Ok(head)) => respond(&head, exposition),
        Ok(Err(status)) => Response::plain(status, status_reason(status)),
        // A client too slow to send a few hundred bytes gets no answer.
        Err(_) => return,
    };
    let _ = tokio::time::timeout(WRITE_DEADLINE, write_response(&mut stream, &response)).await;
}

/// A request head: method and path, all the exporter looks at.
struct Head {
    method: String,
    path: String,
}

/// Reads the request head; an `Err` is the status to answer with.
async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> Result<Head, u16> {
    let head = crate::http_head::read_request_head(stream, MAX_HEAD).await?;
    let path = head.target.split('?').next().unwrap_or_default().to_string();
    Ok(Head { method: head.method, path })
}

/// What the exporter answers.
struct Response {
    status: u16,
    content_type: &'static str,
    body: Arc<str>,
    /// HEAD: the headers of the GET answer, without its body.
    head_only: bool,
}

impl Response {
    fn plain(status: u16, body: &str) -> Response {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: Arc::from(format!("{body}\n")),
            head_only: false,
        }
    }
}

fn respond(head: &Head, exposition: &RwLock<Arc<str>>) -> Response {
    let head_only = match head.method.as_str() {
        "GET" => false,
        "HEAD" => true,
        _ => return Response::plain(405, status_reason(405)),
    };
    let response = match head.path.as_str() {
        "/metrics" => Response {
            status: 200,
            content_type: CONTENT_TYPE,
            body: match exposition.read() {
                Ok(text) => text.clone(),
                Err(poisoned) => poisoned.into_inner().clone(),
            },
            head_only,
        },
        "/" => Response {
            status: 200,
            content_type: "text/html; charset=utf-8",
            body: Arc::from(
                "<!DOCTYPE html><title>kensa</title><p>kensa metrics: <a href=\"/metrics\">/metrics</a></p>\n",
            ),
            head_only,
        },
        _ => Response::plain(404, status_reason(404)),
    };
    Response { head_only, ..response }
}

fn status_reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        505 => "HTTP Version Not Supported",
        _ => "Error",
    }
}

async fn write_response<S: AsyncWrite + Unpin>(stream: &mut S, response: &Response) -> io::Result<()> {
    let allow = if response.status == 405 { "allow: GET, HEAD\r\n" } else { "" };
    let head = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: {}\r\ncontent-length: {}\r\n{allow}connection: close\r\n\r\n",
        response.status,
        status_reason(response.status),
        response.content_type,
        response.body.len(),
    );
    stream.write_all(head.as_bytes()).await?;
    if !response.head_only {
        stream.write_all(response.body.as_bytes()).await?;
    }
    stream.flush().await?;
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn head_of(bytes: &[u8]) -> Result<(String, String), u16> {
        let mut reader = bytes;
        read_head(&mut reader).await.map(|h| (h.method, h.path))
    }

    #[tokio::test]
    async fn request_heads_are_read_strictly() {
        assert_eq!(
            head_of(b"GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\n\r\n").await,
            Ok(("GET".to_string(), "/metrics".to_string()))
        );
        assert_eq!(head_of(b"GET /metrics HTTP/1.1\r\n").await, Err(400));
        assert_eq!(head_of(b"GET /metrics\r\n\r\n").await, Err(400));
        assert_eq!(head_of(b"GET  /metrics HTTP/1.1\r\n\r\n").await, Err(400));
        assert_eq!(head_of(b"GET /metrics SPDY/3\r\n\r\n").await, Err(505));
        assert_eq!(head_of(b"\xff\xfe / HTTP/1.1\r\n\r\n").await, Err(400));
        let mut huge = b"GET /metrics HTTP/1.1\r\nx: ".to_vec();
        huge.extend(std::iter::repeat_n(b'a', MAX_HEAD));
        huge.extend_from_slice(b"\r\n\r\n");
        assert_eq!(head_of(&huge).await, Err(431));
    }

    #[test]
    fn routes() {
        let exposition = RwLock::new(Arc::from("a 1\n"));
        let get = |method: &str, path: &str| {
            let response = respond(&Head { method: method.to_string(), path: path.to_string() }, &exposition);
            (response.status, response.content_type, response.body.to_string(), response.head_only)
        };
        assert_eq!(get("GET", "/metrics"), (200, CONTENT_TYPE, "a 1\n".to_string(), false));
        assert_eq!(get("HEAD", "/metrics"), (200, CONTENT_TYPE, "a 1\n".to_string(), true));
        assert_eq!(get("GET", "/").0, 200);
        assert_eq!(get("GET", "/metrics/").0, 404);
        assert_eq!(get("POST", "/metrics").0, 405);
    }
}
