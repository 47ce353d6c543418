//! The enumeration engine against hostile peers: plain tokio listeners on 127.0.0.1 that
//! answer kensa's hellos with truncated, oversized, mistyped, dripping, wrong-version,
//! endless or non-TLS replies, or with nothing at all.
//!
//! For each peer: `enumerate_version` at TLS 1.2 and TLS 1.3, and a whole `probe_endpoint`
//! in full and in minimal mode, all with a 0.5 s timeout. Each must come back within a
//! generous wall-clock bound (a hang guard, not a speed test), without a panic, without
//! taking the version as accepted, and after few connections: a hello that makes no
//! progress ends the enumeration. The evidence is then judged, and item 2-1.xii must not
//! come out 適合 — 判定不能 when the peer never spoke TLS.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kensa::evidence::{
    AddressFamily, EndpointEvidence, HandBuiltAttempt, Outcome, ResolutionEvidence, ResolutionSource, ScanEvidence,
    ScanMode, ScanSettings, TargetEvidence, TlsVersion, EVIDENCE_SCHEMA,
};
use kensa::probe::enumerate::{enumerate_version, Peer as Prober};
use kensa::probe::gate::EndpointGate;
use kensa::probe::{probe_endpoint, MINIMAL_CONNECTION_BUDGET};
use kensa::profile::Profile;
use kensa::verdict::{Assessment, ItemStatus};
use kensa::wire::deframer::TRANSCRIPT_CAP;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The deadline of every network operation in these tests.
const TIMEOUT: Duration = Duration::from_millis(500);
/// Hang guards, generous enough for a loaded CI machine.
const VERSION_BOUND: Duration = Duration::from_secs(10);
const ENDPOINT_BOUND: Duration = Duration::from_secs(30);
/// Most connections one version's enumeration may open to a peer that never accepts it.
const VERSION_CONNECTIONS: u32 = 3;
/// Most connections a whole full-mode endpoint probe may open to such a peer.
const ENDPOINT_CONNECTIONS: u32 = 12;

/// How a hostile peer answers a hello.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Peer {
    /// The first 40 bytes of a real ServerHello record, then a clean close.
    TruncatedHello,
    /// A handshake record header claiming 0xFFFF bytes, then silence.
    OversizedRecord,
    /// A ServerHello whose handshake header claims 16 MB, followed by filler records.
    HugeHandshake,
    /// A record of content type 0x99.
    GarbageRecordType,
    /// A real flight, one byte every 200 ms, over and over.
    SlowDrip,
    /// A ServerHello with server_version 0x0909.
    Version0909,
    /// A TLS 1.2 ServerHello whose supported_versions selects 0x0909.
    SupportedVersion0909,
    /// A TLS 1.1 ServerHello to every hello, always with TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
    /// (a TLS 1.2 suite, never offered at TLS 1.1).
    Tls11Hello,
    /// Empty HelloRequests, as fast as the socket takes them.
    EndlessHelloRequests,
    /// Warning alerts (unrecognized_name), as fast as the socket takes them.
    EndlessWarnings,
    /// A warning alert every 100 ms, and never anything else.
    WarningDrip,
    /// A ServerHello whose Certificate never ends: small records forever.
    EndlessCertificate,
    /// `HTTP/1.1 400 Bad Request`.
    Http400,
    /// Accepts, reads the hello and never answers.
    Tarpit,
}

/// The bytes of the TLS 1.2 ECDHE-RSA flight captured from `openssl s_server`.
fn captured_flight() -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/wire/tls12-ecdhe-rsa.hex");
    hex::decode(std::fs::read_to_string(path).expect("fixtures/wire/tls12-ecdhe-rsa.hex").trim()).expect("hex")
}

fn record(typ: u8, version: u16, payload: &[u8]) -> Vec<u8> {
    let mut r = vec![typ];
    r.extend_from_slice(&version.to_be_bytes());
    r.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    r.extend_from_slice(payload);
    r
}

fn handshake(typ: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![typ];
    m.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    m.extend_from_slice(body);
    m
}

/// A ServerHello message with no session id, no compression and `extensions` (a raw block).
fn server_hello(version: u16, suite: u16, extensions: &[u8]) -> Vec<u8> {
    let mut b = version.to_be_bytes().to_vec();
    b.extend_from_slice(&[0x5a; 32]);
    b.push(0);
    b.extend_from_slice(&suite.to_be_bytes());
    b.push(0);
    if !extensions.is_empty() {
        b.extend_from_slice(&(extensions.len() as u16).to_be_bytes());
        b.extend_from_slice(extensions);
    }
    handshake(2, &b)
}

/// Reads the client's hello record (so that a close is a FIN, not a reset).
async fn read_hello(stream: &mut TcpStream) -> bool {
    let mut header = [0u8; 5];
    let read = async {
        stream.read_exact(&mut header).await.ok()?;
        let mut body = vec![0u8; usize::from(u16::from_be_bytes([header[3], header[4]]))];
        stream.read_exact(&mut body).await.ok()
    };
    tokio::time::timeout(Duration::from_secs(5), read).await.ok().flatten().is_some()
}

/// Writes `chunk` over and over until the client goes away.
async fn flood(stream: &mut TcpStream, chunk: &[u8]) {
    let many: Vec<u8> = chunk.iter().copied().cycle().take(chunk.len() * 512).collect();
    while stream.write_all(&many).await.is_ok() {}
}

async fn behave(peer: Peer, mut stream: TcpStream) {
    if !read_hello(&mut stream).await {
        return;
    }
    let hold = Duration::from_secs(20);
    match peer {
        Peer::TruncatedHello => {
            let _ = stream.write_all(&captured_flight()[..40]).await;
            let _ = stream.shutdown().await;
        }
        Peer::OversizedRecord => {
            let _ = stream.write_all(&[22, 3, 3, 0xff, 0xff, 2, 0, 0, 70, 3, 3]).await;
            tokio::time::sleep(hold).await;
        }
        Peer::HugeHandshake => {
            let mut hello = server_hello(0x0303, 0xc02f, &[]);
            hello[1..4].copy_from_slice(&[0xff, 0xff, 0xff]);
            let _ = stream.write_all(&record(22, 0x0303, &hello)).await;
            flood(&mut stream, &record(22, 0x0303, &[0; 1024])).await;
        }
        Peer::GarbageRecordType => {
            let _ = stream.write_all(&record(0x99, 0x0303, &[1, 2, 3, 4])).await;
            tokio::time::sleep(hold).await;
        }
        Peer::SlowDrip => {
            for byte in captured_flight().into_iter().cycle() {
                if stream.write_all(&[byte]).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        Peer::Version0909 => {
            let mut flight = server_hello(0x0909, 0xc02f, &[0xff, 0x01, 0, 1, 0]);
            flight.extend(handshake(14, &[]));
            let _ = stream.write_all(&record(22, 0x0303, &flight)).await;
            tokio::time::sleep(hold).await;
        }
        Peer::SupportedVersion0909 => {
            let flight = server_hello(0x0303, 0x1301, &[0, 43, 0, 2, 0x09, 0x09]);
            let _ = stream.write_all(&record(22, 0x0303, &flight)).await;
            tokio::time::sleep(hold).await;
        }
        Peer::Tls11Hello => {
            let mut flight = server_hello(0x0302, 0xc02f, &[0xff, 0x01, 0, 1, 0]);
            flight.extend(handshake(14, &[]));
            let _ = stream.write_all(&record(22, 0x0302, &flight)).await;
            tokio::time::sleep(hold).await;
        }
        Peer::EndlessHelloRequests => flood(&mut stream, &record(22, 0x0303, &handshake(0, &[]))).await,
        Peer::EndlessWarnings => flood(&mut stream, &record(21, 0x0303, &[1, 112])).await,
        Peer::WarningDrip => {
            while stream.write_all(&record(21, 0x0303, &[1, 112])).await.is_ok() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Peer::EndlessCertificate => {
            let mut start = server_hello(0x0303, 0xc02f, &[0xff, 0x01, 0, 1, 0]);
            start.extend_from_slice(&[11, 0x0f, 0xff, 0xff]); // a Certificate of 1 MB
            let _ = stream.write_all(&record(22, 0x0303, &start)).await;
            flood(&mut stream, &record(22, 0x0303, &[0x30; 64])).await;
        }
        Peer::Http400 => {
            let _ =
                stream.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await;
            let _ = stream.shutdown().await;
        }
        Peer::Tarpit => tokio::time::sleep(Duration::from_secs(60)).await,
    }
}

/// A hostile peer on 127.0.0.1; stops accepting when dropped.
struct HostilePeer {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Drop for HostilePeer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn spawn(peer: Peer) -> HostilePeer {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(behave(peer, stream));
        }
    });
    HostilePeer { addr, accepted, task }
}

/// One scan's worth of evidence around a single probed endpoint.
fn evidence_for(endpoint: EndpointEvidence, mode: ScanMode) -> ScanEvidence {
    let address = endpoint.address;
    ScanEvidence {
        schema: EVIDENCE_SCHEMA.to_string(),
        kensa_version: env!("CARGO_PKG_VERSION").to_string(),
        started_at: endpoint.probed_at,
        finished_at: endpoint.probed_at,
        settings: ScanSettings {
            timeout_ms: TIMEOUT.as_millis() as u64,
            address_family: AddressFamily::Any,
            resolver: None,
            pins: vec![format!("localhost:{}:{}", address.port(), address.ip())],
            mode,
            parallel_per_ip: 1,
            delay_ms: 0,
            fetch: false,
            revocation: false,
        },
        extra_roots: Vec::new(),
        system_roots: Vec::new(),
        targets: vec![TargetEvidence {
            input: format!("localhost:{}", address.port()),
            host: "localhost".to_string(),
            port: address.port(),
            server_name: Some("localhost".to_string()),
            scheme: kensa::target::Scheme::Bare,
            path: "/".to_string(),
            role: None,
            resolution: ResolutionEvidence {
                source: ResolutionSource::Pinned,
                addresses: vec![address.ip()],
                error: None,
            },
            endpoints: vec![endpoint],
        }],
        domains: None,
        baseline: None,
        service: None,
    }
}

/// Every exchange of an attempt kept within the transcript cap.
fn assert_bounded(what: &str, attempt: &HandBuiltAttempt) {
    for exchange in &attempt.exchanges {
        assert!(exchange.received.0.len() <= TRANSCRIPT_CAP, "{what}: {} bytes kept", exchange.received.0.len());
    }
}

/// Versions the peer can fairly be said to accept: it sent a well-formed ServerHello for
/// them. TLS 1.1 for [`Peer::Tls11Hello`], TLS 1.2 for [`Peer::EndlessCertificate`].
fn may_accept(peer: Peer, version: TlsVersion) -> bool {
    matches!((peer, version), (Peer::Tls11Hello, TlsVersion::Tls11) | (Peer::EndlessCertificate, TlsVersion::Tls12))
}

async fn enumerate_against(peer: Peer, version: TlsVersion) {
    let server = spawn(peer).await;
    let gate = EndpointGate::standalone(server.addr);
    let target = Prober { gate: &gate, server_name: Some("localhost"), timeout: TIMEOUT };
    let started = Instant::now();
    let attempt = tokio::time::timeout(VERSION_BOUND, enumerate_version(&target, version))
        .await
        .unwrap_or_else(|_| panic!("{peer:?} {version:?}: enumeration hung past {VERSION_BOUND:?}"));
    let took = started.elapsed();
    let what = format!("{peer:?} {version:?}");
    eprintln!(
        "{what}: {:?} after {} connections in {took:?}; replies {:?}",
        attempt.outcome,
        gate.connections(),
        attempt.exchanges.iter().map(|e| short(&e.reply)).collect::<Vec<_>>()
    );
    if !may_accept(peer, version) {
        assert_ne!(attempt.outcome, Outcome::Accepted, "{what}: {attempt:#?}");
    }
    assert!(!attempt.exchanges.is_empty(), "{what}: no hello sent");
    let connections = gate.connections();
    assert!((1..=VERSION_CONNECTIONS).contains(&connections), "{what}: {connections} connections: {attempt:#?}");
    assert!(server.accepted.load(Ordering::Relaxed) <= connections as usize);
    assert_bounded(&what, &attempt);
    assert_eq!(attempt.version, version);
}

async fn probe_against(peer: Peer, mode: ScanMode) {
    let server = spawn(peer).await;
    let gate = EndpointGate::standalone(server.addr);
    let started = Instant::now();
    let endpoint =
        tokio::time::timeout(ENDPOINT_BOUND, probe_endpoint(&gate, Some("localhost".to_string()), TIMEOUT, mode))
            .await
            .unwrap_or_else(|_| panic!("{peer:?} {mode:?}: the endpoint probe hung past {ENDPOINT_BOUND:?}"));
    let took = started.elapsed();
    let what = format!("{peer:?} {mode:?}");
    let outcomes: Vec<String> =
        endpoint.hand_built.iter().map(|a| format!("{:?}={}", a.version, short_outcome(&a.outcome))).collect();
    let modern: Vec<String> =
        endpoint.modern.iter().map(|a| format!("{:?}={}", a.version, short_outcome(&a.outcome))).collect();
    eprintln!(
        "{what}: {} connections in {took:?}; hand-built {outcomes:?}; rustls {modern:?}; health check {:?}",
        endpoint.connections,
        endpoint.health_check.as_ref().map(|h| short_outcome(&h.outcome))
    );
    let bound = match mode {
        ScanMode::Full => ENDPOINT_CONNECTIONS,
        ScanMode::Minimal => MINIMAL_CONNECTION_BUDGET,
    };
    assert!(endpoint.connections <= bound, "{what}: {} connections (bound {bound})", endpoint.connections);
    assert_eq!(endpoint.connections, gate.connections());
    assert!(server.accepted.load(Ordering::Relaxed) <= endpoint.connections as usize);
    for attempt in &endpoint.hand_built {
        if !may_accept(peer, attempt.version) {
            assert_ne!(attempt.outcome, Outcome::Accepted, "{what}: {:?} accepted: {attempt:#?}", attempt.version);
        }
        assert_bounded(&what, attempt);
    }
    for attempt in endpoint.modern.iter().chain(&endpoint.health_check) {
        assert_ne!(attempt.outcome, Outcome::Accepted, "{what}: rustls {:?} accepted", attempt.version);
    }

    let assessment = Assessment::evaluate(&Profile::embedded(), &evidence_for(endpoint, mode));
    let status = assessment.item("2-1.xii").map(|v| v.status).expect("item 2-1.xii");
    eprintln!("{what}: 2-1.xii {status:?}");
    assert_ne!(status, ItemStatus::Compliant, "{what}: a hostile peer judged 適合");
    let want = match peer {
        // A server that answers TLS 1.1 is speaking an old version: 不適合 is a fair reading too.
        Peer::Tls11Hello => [ItemStatus::NonCompliant, ItemStatus::Indeterminate].as_slice(),
        _ => [ItemStatus::Indeterminate].as_slice(),
    };
    assert!(want.contains(&status), "{what}: 2-1.xii is {status:?}, want one of {want:?}");
}

fn short(reply: &kensa::evidence::HelloReply) -> String {
    let text = format!("{reply:?}");
    text.chars().take(120).collect()
}

fn short_outcome(outcome: &Outcome) -> String {
    let text = format!("{outcome:?}");
    text.chars().take(100).collect()
}

async fn against(peer: Peer) {
    // The four runs are independent; running them together keeps the suite quick.
    futures::join!(
        enumerate_against(peer, TlsVersion::Tls12),
        enumerate_against(peer, TlsVersion::Tls13),
        probe_against(peer, ScanMode::Full),
        probe_against(peer, ScanMode::Minimal),
    );
}

macro_rules! hostile_tests {
    ($($name:ident => $peer:expr,)*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                against($peer).await;
            }
        )*
    };
}

hostile_tests! {
    truncated_server_hello_then_close => Peer::TruncatedHello,
    record_claiming_64_kib => Peer::OversizedRecord,
    handshake_message_claiming_16_mb => Peer::HugeHandshake,
    garbage_record_type => Peer::GarbageRecordType,
    slow_drip_of_a_real_flight => Peer::SlowDrip,
    server_version_0x0909 => Peer::Version0909,
    supported_versions_0x0909 => Peer::SupportedVersion0909,
    tls11_hello_to_every_hello => Peer::Tls11Hello,
    endless_hello_requests => Peer::EndlessHelloRequests,
    endless_warning_alerts => Peer::EndlessWarnings,
    warning_alert_every_100_ms => Peer::WarningDrip,
    endless_certificate_after_a_hello => Peer::EndlessCertificate,
    http_400 => Peer::Http400,
    tarpit => Peer::Tarpit,
}
