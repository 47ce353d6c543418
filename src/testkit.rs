//! In-process servers and a throwaway PKI, for `kensa demo` and for the tests.
//!
//! Everything here listens on 127.0.0.1 only, on a port the OS picks, and stops when its
//! handle is dropped.

pub mod dns;
pub mod http;
pub mod pki;
pub mod whois;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, SupportedProtocolVersion};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::probe::modern::provider;

/// A certificate authority made on the spot.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    der: CertificateDer<'static>,
}

/// A served chain and its private key.
#[derive(Debug)]
pub struct Identity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

impl Clone for Identity {
    fn clone(&self) -> Self {
        Identity { chain: self.chain.clone(), key: self.key.clone_key() }
    }
}

impl Identity {
    /// The chain as PEM, leaf first.
    pub fn chain_pem(&self) -> String {
        self.chain.iter().map(pem_encode).collect()
    }

    /// The private key as PKCS#8 PEM.
    pub fn key_pem(&self) -> String {
        pem_block("PRIVATE KEY", self.key.secret_der())
    }
}

/// When a certificate is valid, relative to now.
#[derive(Clone, Copy, Debug)]
pub struct Validity {
    /// Days from now to notBefore (negative: in the past).
    pub from_days: i64,
    /// Days from now to notAfter.
    pub until_days: i64,
}

impl Validity {
    /// Valid from yesterday for 90 days, like a typical ACME certificate.
    pub const CURRENT: Validity = Validity { from_days: -1, until_days: 89 };
    /// Expired ten days ago.
    pub const EXPIRED: Validity = Validity { from_days: -100, until_days: -10 };
}

fn set_validity(params: &mut CertificateParams, validity: Validity) {
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now + time::Duration::days(validity.from_days);
    params.not_after = now + time::Duration::days(validity.until_days);
}

/// Errors from building test certificates.
#[derive(Debug, thiserror::Error)]
#[error("test PKI: {0}")]
pub struct PkiError(String);

impl From<rcgen::Error> for PkiError {
    fn from(e: rcgen::Error) -> Self {
        PkiError(e.to_string())
    }
}

impl TestCa {
    /// A new root CA with an ECDSA P-256 key.
    pub fn new(common_name: &str) -> Result<TestCa, PkiError> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, common_name);
        params.distinguished_name.push(DnType::OrganizationName, "kensa test PKI");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        set_validity(&mut params, Validity { from_days: -30, until_days: 3650 });
        let key = KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        Ok(TestCa { der: cert.der().clone(), issuer: Issuer::new(params, key) })
    }

    /// The CA certificate, to trust it (`--ca-file` equivalent).
    pub fn certificate(&self) -> &CertificateDer<'static> {
        &self.der
    }

    /// The CA certificate as PEM.
    pub fn certificate_pem(&self) -> String {
        pem_encode(&self.der)
    }

    /// A server certificate for `names` (DNS names or IP addresses) signed by this CA,
    /// served as leaf + CA.
    pub fn issue(&self, names: &[&str], validity: Validity) -> Result<Identity, PkiError> {
        let (params, key) = leaf_params(names, validity)?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(Identity { chain: vec![cert.der().clone(), self.der.clone()], key: private_key(&key) })
    }
}

/// A self-signed server certificate for `names`.
pub fn self_signed(names: &[&str], validity: Validity) -> Result<Identity, PkiError> {
    let (params, key) = leaf_params(names, validity)?;
    let cert = params.self_signed(&key)?;
    Ok(Identity { chain: vec![cert.der().clone()], key: private_key(&key) })
}

fn leaf_params(names: &[&str], validity: Validity) -> Result<(CertificateParams, KeyPair), PkiError> {
    let mut params = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())?;
    if let Some(first) = names.first() {
        params.distinguished_name.push(DnType::CommonName, *first);
    }
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    set_validity(&mut params, validity);
    Ok((params, KeyPair::generate()?))
}

fn private_key(key: &KeyPair) -> PrivateKeyDer<'static> {
    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()))
}

/// PEM-encodes a certificate.
pub fn pem_encode(der: &CertificateDer<'_>) -> String {
    pem_block("CERTIFICATE", der.as_ref())
}

fn pem_block(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    pem
}

/// A running loopback server; stops when dropped.
pub struct RunningServer {
    pub addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl RunningServer {
    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::Relaxed)
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts a rustls server on 127.0.0.1 serving `identity` with only `versions` enabled.
/// Each connection completes the handshake, gets a tiny HTTP response, and is closed.
pub async fn spawn_tls_server(
    identity: Identity,
    versions: &[&'static SupportedProtocolVersion],
) -> Result<RunningServer, String> {
    spawn_tls_server_on(SocketAddr::from(([127, 0, 0, 1], 0)), identity, versions).await
}

/// [`spawn_tls_server`] on a chosen loopback address and port (e.g. `[::1]` with the port of
/// a server already on 127.0.0.1, to make one dual-stack endpoint).
pub async fn spawn_tls_server_on(
    bind: SocketAddr,
    identity: Identity,
    versions: &[&'static SupportedProtocolVersion],
) -> Result<RunningServer, String> {
    spawn_stapling_server_on(bind, identity, Vec::new(), versions).await
}

/// [`spawn_tls_server`] that staples `ocsp_response` (DER OCSPResponse) to every handshake
/// whose client asks for it.
pub async fn spawn_stapling_server(
    identity: Identity,
    ocsp_response: Vec<u8>,
    versions: &[&'static SupportedProtocolVersion],
) -> Result<RunningServer, String> {
    spawn_stapling_server_on(SocketAddr::from(([127, 0, 0, 1], 0)), identity, ocsp_response, versions).await
}

async fn spawn_stapling_server_on(
    bind: SocketAddr,
    identity: Identity,
    ocsp_response: Vec<u8>,
    versions: &[&'static SupportedProtocolVersion],
) -> Result<RunningServer, String> {
    if !bind.ip().is_loopback() {
        return Err(format!("test servers listen on loopback only, not {bind}"));
    }
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert_with_ocsp(identity.chain, identity.key, ocsp_response)
        .map_err(|e| e.to_string())?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    serve(bind, move |stream| {
        let acceptor = acceptor.clone();
        async move {
            let handshake = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await;
            if let Ok(Ok(mut tls)) = handshake {
                let _ = tls.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok").await;
                let _ = tls.shutdown().await;
            }
        }
    })
    .await
}

/// Listens on `bind` and runs `handle` on each connection in its own task.
async fn serve<F, Fut>(bind: SocketAddr, handle: F) -> Result<RunningServer, String>
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind(bind).await.map_err(|e| format!("cannot listen on {bind}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                // Out of descriptors or similar: back off instead of spinning.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            counter.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(handle(stream));
        }
    });
    Ok(RunningServer { addr, connections, task })
}

/// How a deliberately broken peer behaves once a client connects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostileBehaviour {
    /// Accepts and never says anything (a tarpit).
    Silent,
    /// Answers every connection with bytes that are not TLS.
    Garbage,
    /// Resets every connection.
    Reset,
    /// Closes every connection at once.
    Close,
}

/// Starts a broken peer on 127.0.0.1.
pub async fn spawn_hostile_server(behaviour: HostileBehaviour) -> Result<RunningServer, String> {
    serve(SocketAddr::from(([127, 0, 0, 1], 0)), move |mut stream| async move {
        match behaviour {
            HostileBehaviour::Silent => tokio::time::sleep(Duration::from_secs(120)).await,
            HostileBehaviour::Garbage => {
                let _ = stream.write_all(b"SSH-2.0-OpenSSH_9.2 hello there\r\n\x00\xff\xfe garbage").await;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            HostileBehaviour::Reset => {
                // A zero linger makes the drop send RST at once; it never blocks.
                #[allow(deprecated)]
                let _ = stream.set_linger(Some(Duration::ZERO));
            }
            HostileBehaviour::Close => {
                let _ = stream.shutdown().await;
            }
        }
    })
    .await
}

/// A temporary directory, removed when dropped.
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    /// Creates a fresh directory under the system temp dir, named after `tag` and the process.
    pub fn new(tag: &str) -> std::io::Result<TempDir> {
        static SEQUENCE: AtomicUsize = AtomicUsize::new(0);
        let unique = SEQUENCE.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("kensa-{tag}-{}-{unique}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(TempDir(dir))
    }

    /// The directory.
    pub fn path(&self) -> &std::path::Path {
        &self.0
    }

    /// Writes `contents` to `name` inside the directory and returns its path.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> std::io::Result<std::path::PathBuf> {
        let path = self.0.join(name);
        std::fs::write(&path, contents)?;
        Ok(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Debian's `openssl s_server` on 127.0.0.1: the peer for TLS 1.0/1.1, weak keys and other
/// legacy postures rustls will not serve. Killed when dropped.
pub struct OpenSslServer {
    pub addr: SocketAddr,
    child: std::process::Child,
    _dir: TempDir,
}

impl OpenSslServer {
    /// Whether an `openssl` binary can be run here.
    pub fn available() -> bool {
        std::process::Command::new("openssl")
            .arg("version")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Starts `openssl s_server -www` serving PEM files `cert` and `key` with `args` (version
    /// and cipher options), and waits until it accepts connections.
    pub fn start_with_files(cert: &str, key: &str, args: &[&str]) -> Result<OpenSslServer, String> {
        Self::start_files_on(None, cert, key, args)
    }

    /// [`OpenSslServer::start`] on a chosen loopback port (to restart a server with another
    /// configuration where a monitor expects it).
    pub fn start_on(port: u16, identity: &Identity, args: &[&str]) -> Result<OpenSslServer, String> {
        Self::start_files_on(Some(port), &identity.chain_pem(), &identity.key_pem(), args)
    }

    fn start_files_on(port: Option<u16>, cert: &str, key: &str, args: &[&str]) -> Result<OpenSslServer, String> {
        let dir = TempDir::new("openssl").map_err(|e| e.to_string())?;
        let cert = dir.write("cert.pem", cert).map_err(|e| e.to_string())?;
        let key = dir.write("key.pem", key).map_err(|e| e.to_string())?;
        // Another process may take the port between our pick and s_server's bind: retry.
        for _ in 0..5 {
            let port = match port {
                Some(port) => port,
                None => std::net::TcpListener::bind("127.0.0.1:0")
                    .and_then(|l| l.local_addr())
                    .map_err(|e| e.to_string())?
                    .port(),
            };
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            // `-www` keeps s_server off stdin, which would otherwise end connections early.
            let mut child = std::process::Command::new("openssl")
                .args(["s_server", "-www", "-accept", &addr.to_string()])
                .arg("-cert")
                .arg(&cert)
                .arg("-key")
                .arg(&key)
                .args(args)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .map_err(|e| format!("cannot run openssl s_server: {e}"))?;
            let waited = std::time::Instant::now();
            while waited.elapsed() < Duration::from_secs(5) {
                if let Ok(Some(_)) = child.try_wait() {
                    break; // it exited: probably the port was taken
                }
                if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                    // The listener that answered may be another test's that took the port
                    // first, while our s_server is about to fail its bind and exit: only a
                    // child still running after a moment owns the port.
                    std::thread::sleep(Duration::from_millis(100));
                    if let Ok(None) = child.try_wait() {
                        return Ok(OpenSslServer { addr, child, _dir: dir });
                    }
                    break;
                }
                std::thread::sleep(Duration::from_millis(25));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        Err(format!("openssl s_server {args:?} did not start"))
    }

    /// [`OpenSslServer::start_with_files`] serving `identity`.
    pub fn start(identity: &Identity, args: &[&str]) -> Result<OpenSslServer, String> {
        Self::start_with_files(&identity.chain_pem(), &identity.key_pem(), args)
    }

    /// A self-signed certificate for `host` made by `openssl req -x509 -nodes` with `key_args`
    /// (e.g. `["-newkey", "rsa:2048"]`: ring, behind rcgen, cannot make RSA keys) and any
    /// `extra` options, as (certificate PEM, key PEM). Killed after 30 seconds.
    pub fn self_signed(host: &str, key_args: &[&str], extra: &[&str]) -> Result<(String, String), String> {
        let dir = TempDir::new("openssl-req").map_err(|e| e.to_string())?;
        let (key, cert) = (dir.path().join("key.pem"), dir.path().join("cert.pem"));
        let mut child = std::process::Command::new("openssl")
            .args(["req", "-x509", "-nodes", "-subj", &format!("/CN={host}")])
            .args(["-addext", &format!("subjectAltName=DNS:{host}")])
            .args(key_args)
            .args(extra)
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run openssl req: {e}"))?;
        let started = std::time::Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if started.elapsed() < Duration::from_secs(30) => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                Ok(None) | Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err("openssl req did not finish within 30 s".to_string());
                }
            }
        };
        if !status.success() {
            return Err(format!("openssl req {key_args:?} {extra:?} failed ({status})"));
        }
        let read = |path: &std::path::Path| std::fs::read_to_string(path).map_err(|e| e.to_string());
        Ok((read(&cert)?, read(&key)?))
    }
}

impl Drop for OpenSslServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
