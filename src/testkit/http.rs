//! A tiny HTTP/1.1 server on 127.0.0.1 for the fetch tests: fixed responses, handler
//! closures (an OCSP responder plugs one in), and hostile behaviours — tarpits, trickles,
//! giant bodies, closes and garbage — that a certificate's URL may lead kensa to.
//!
//! Hand-rolled on tokio because the tests need to misbehave in ways a real server
//! framework would not allow. One request per connection, answered with
//! `connection: close`. Every connection runs under a deadline and all of them stop when
//! the [`RunningHttpServer`] is dropped.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

/// Largest request head read, in bytes.
const MAX_HEAD: usize = 64 * 1024;
/// Largest request body read, in bytes.
const MAX_REQUEST_BODY: usize = 1 << 20;
/// Longest a connection is kept, hostile ones included.
const CONNECTION_DEADLINE: Duration = Duration::from_secs(120);
/// How long a client gets to send its request.
const REQUEST_DEADLINE: Duration = Duration::from_secs(10);

/// A request as the server read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `POST`…
    pub method: String,
    /// The request target as sent, query included.
    pub path: String,
    /// Header names in lower case, values as sent, in order.
    pub headers: Vec<(String, String)>,
    /// The body, read as far as `content-length` said.
    pub body: Vec<u8>,
}

impl Request {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }
}

/// A response the server sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The `content-type` header, if any.
    pub content_type: Option<String>,
    /// Extra headers, e.g. `location`.
    pub headers: Vec<(String, String)>,
    /// The body; `content-length` is set from it.
    pub body: Vec<u8>,
}

impl Response {
    /// `200 OK` with `body` of `content_type`.
    pub fn ok(content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        Response { status: 200, content_type: Some(content_type.to_string()), headers: Vec::new(), body: body.into() }
    }

    /// A response with `status` and an empty body.
    pub fn status(status: u16) -> Response {
        Response { status, content_type: None, headers: Vec::new(), body: Vec::new() }
    }

    /// A redirect with `status` (301, 302, 303, 307, 308) to `location`.
    pub fn redirect(status: u16, location: &str) -> Response {
        Response { headers: vec![("location".to_string(), location.to_string())], ..Response::status(status) }
    }
}

/// How a route misbehaves once the request is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hostile {
    /// Never answers (until the connection deadline).
    Tarpit,
    /// Sends a status line and headers declaring a 1 KiB body, then one byte per `interval`.
    Trickle {
        /// Pause before each byte.
        interval: Duration,
    },
    /// A `200` body of `size` zero bytes, with a `content-length` if `declare_length`,
    /// otherwise delimited by closing the connection.
    GiantBody {
        /// Bytes in the body.
        size: usize,
        /// Send a `content-length`.
        declare_length: bool,
    },
    /// Closes the connection without a word.
    Close,
    /// Sends bytes that are not HTTP, then closes.
    Garbage,
}

/// A handler that computes the response from the request.
pub type Handler = Arc<dyn Fn(&Request) -> Response + Send + Sync>;

#[derive(Clone)]
enum Route {
    Fixed(Response),
    Handler(Handler),
    Hostile(Hostile),
}

/// Routes for an HTTP server, then [`HttpServer::start`]. Paths are matched exactly,
/// without the query string; anything else gets `404`.
#[derive(Clone, Default)]
pub struct HttpServer {
    routes: HashMap<String, Route>,
}

impl HttpServer {
    /// A server with no routes yet.
    pub fn new() -> HttpServer {
        HttpServer::default()
    }

    /// Answers `path` with `response`.
    pub fn route(mut self, path: &str, response: Response) -> HttpServer {
        self.routes.insert(path.to_string(), Route::Fixed(response));
        self
    }

    /// Answers `path` with whatever `handler` makes of the request.
    pub fn handler(mut self, path: &str, handler: impl Fn(&Request) -> Response + Send + Sync + 'static) -> HttpServer {
        self.routes.insert(path.to_string(), Route::Handler(Arc::new(handler)));
        self
    }

    /// Misbehaves on `path`.
    pub fn hostile(mut self, path: &str, behaviour: Hostile) -> HttpServer {
        self.routes.insert(path.to_string(), Route::Hostile(behaviour));
        self
    }

    /// Starts listening on 127.0.0.1 on a port the OS picks.
    pub async fn start(self) -> Result<RunningHttpServer, String> {
        self.listen(None).await
    }

    /// Starts an HTTPS server on 127.0.0.1 serving `identity` (TLS 1.2 and 1.3, ALPN
    /// http/1.1) with the same routes; connections that fail the handshake (a scanner's
    /// legacy hellos) are closed.
    pub async fn start_tls(self, identity: crate::testkit::Identity) -> Result<RunningHttpServer, String> {
        let mut config = rustls::ServerConfig::builder_with_provider(crate::probe::modern::provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_no_client_auth()
            .with_single_cert(identity.chain, identity.key)
            .map_err(|e| e.to_string())?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        self.listen(Some(tokio_rustls::TlsAcceptor::from(Arc::new(config)))).await
    }

    async fn listen(self, tls: Option<tokio_rustls::TlsAcceptor>) -> Result<RunningHttpServer, String> {
        let bind = SocketAddr::from(([127, 0, 0, 1], 0));
        let listener = TcpListener::bind(bind).await.map_err(|e| format!("cannot listen on {bind}: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let counters = Arc::new(Counters::default());
        let routes = Arc::new(self.routes);
        let task = tokio::spawn(accept_loop(listener, routes, counters.clone(), tls));
        Ok(RunningHttpServer { addr, counters, task })
    }
}

#[derive(Default)]
struct Counters {
    connections: AtomicUsize,
    requests: AtomicUsize,
}

/// A running loopback HTTP server; stops, with every open connection, when dropped.
pub struct RunningHttpServer {
    /// Where the server listens.
    pub addr: SocketAddr,
    counters: Arc<Counters>,
    task: JoinHandle<()>,
}

impl RunningHttpServer {
    /// `http://127.0.0.1:PORT` followed by `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Requests read so far (a connection that never sent a full request head is not one).
    pub fn requests(&self) -> usize {
        self.counters.requests.load(Ordering::Relaxed)
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.counters.connections.load(Ordering::Relaxed)
    }
}

impl Drop for RunningHttpServer {
    fn drop(&mut self) {
        // The connection tasks live in the accept task's JoinSet: aborting it aborts them.
        self.task.abort();
    }
}

async fn accept_loop(
    listener: TcpListener,
    routes: Arc<HashMap<String, Route>>,
    counters: Arc<Counters>,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let Ok((stream, _)) = listener.accept().await else {
            // Out of descriptors or similar: back off instead of spinning.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        counters.connections.fetch_add(1, Ordering::Relaxed);
        let (routes, counters, tls) = (routes.clone(), counters.clone(), tls.clone());
        connections.spawn(async move {
            let _ = tokio::time::timeout(CONNECTION_DEADLINE, async {
                match tls {
                    None => serve_connection(stream, &routes, &counters).await,
                    Some(acceptor) => {
                        if let Ok(Ok(stream)) = tokio::time::timeout(REQUEST_DEADLINE, acceptor.accept(stream)).await {
                            serve_connection(stream, &routes, &counters).await;
                        }
                    }
                }
            })
            .await;
        });
    }
}

async fn serve_connection<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    routes: &HashMap<String, Route>,
    counters: &Counters,
) {
    let request = match tokio::time::timeout(REQUEST_DEADLINE, read_request(&mut stream)).await {
        Ok(Ok(request)) => request,
        Ok(Err(status)) => {
            let _ = write_response(&mut stream, &Response::status(status)).await;
            return;
        }
        Err(_) => return,
    };
    counters.requests.fetch_add(1, Ordering::Relaxed);
    let path = request.path.split('?').next().unwrap_or_default();
    let response = match routes.get(path) {
        None => Response {
            content_type: Some("text/plain".to_string()),
            body: b"not found".to_vec(),
            ..Response::status(404)
        },
        Some(Route::Fixed(response)) => response.clone(),
        Some(Route::Handler(handler)) => handler(&request),
        Some(Route::Hostile(behaviour)) => return misbehave(stream, *behaviour).await,
    };
    let _ = write_response(&mut stream, &response).await;
}

/// Reads one request; an `Err` is the status to answer a request that cannot be served.
async fn read_request<S: AsyncRead + Unpin>(stream: &mut S) -> Result<Request, u16> {
    let head = crate::http_head::read_request_head(stream, MAX_HEAD).await?;
    let mut headers = Vec::new();
    for line in head.header_lines() {
        let (name, value) = line.split_once(':').ok_or(400u16)?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let (method, path, head_end, mut buffer) = (head.method, head.target, head.end, head.bytes);
    let mut request = Request { method, path, headers, body: Vec::new() };
    if request.header("transfer-encoding").is_some() {
        return Err(411);
    }
    let length = match request.header("content-length") {
        None => 0,
        Some(value) => value.parse::<usize>().map_err(|_| 400u16)?,
    };
    if length > MAX_REQUEST_BODY {
        return Err(413);
    }
    let mut body = buffer.split_off(head_end + 4);
    while body.len() < length {
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return Err(400),
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    body.truncate(length);
    request.body = body;
    Ok(request)
}

async fn write_response<S: AsyncWrite + Unpin>(stream: &mut S, response: &Response) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {} {}\r\n", response.status, reason(response.status));
    if let Some(content_type) = &response.content_type {
        head.push_str(&format!("content-type: {content_type}\r\n"));
    }
    for (name, value) in &response.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("content-length: {}\r\nconnection: close\r\n\r\n", response.body.len()));
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(&response.body).await?;
    stream.shutdown().await
}

async fn misbehave<S: AsyncWrite + Unpin>(mut stream: S, behaviour: Hostile) {
    match behaviour {
        Hostile::Tarpit => tokio::time::sleep(CONNECTION_DEADLINE).await,
        Hostile::Trickle { interval } => {
            let head = "HTTP/1.1 200 OK\r\ncontent-type: application/pkix-cert\r\ncontent-length: 1024\r\n\r\n";
            if stream.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            for _ in 0..1024 {
                tokio::time::sleep(interval).await;
                if stream.write_all(b"0").await.is_err() {
                    return;
                }
            }
        }
        Hostile::GiantBody { size, declare_length } => {
            let mut head = "HTTP/1.1 200 OK\r\ncontent-type: application/pkix-crl\r\nconnection: close\r\n".to_string();
            if declare_length {
                head.push_str(&format!("content-length: {size}\r\n"));
            }
            head.push_str("\r\n");
            if stream.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let block = [0u8; 16 * 1024];
            let mut left = size;
            while left > 0 {
                let n = left.min(block.len());
                // The client hanging up mid-body is the expected end.
                if stream.write_all(&block[..n]).await.is_err() {
                    return;
                }
                left -= n;
            }
            let _ = stream.shutdown().await;
        }
        Hostile::Close => {
            let _ = stream.shutdown().await;
        }
        Hostile::Garbage => {
            let _ = stream.write_all(b"SSH-2.0-OpenSSH_9.2\r\n\x00\xff\xfe\x16\x03\x01 not http at all\r\n\r\n").await;
            let _ = stream.shutdown().await;
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        404 => "Not Found",
        411 => "Length Required",
        413 => "Content Too Large",
        426 => "Upgrade Required",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        505 => "HTTP Version Not Supported",
        _ => "Status",
    }
}
