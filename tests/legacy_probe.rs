//! Loopback tests of the legacy probes: against `openssl s_server` restricted to one old
//! version, and against hostile or broken peers made with plain tokio listeners.

use std::net::{SocketAddr, TcpListener as StdListener};
use std::time::{Duration, Instant};

use kensa::evidence::{HandBuiltAttempt, HelloReply, Outcome, TlsVersion};
use kensa::probe::gate::EndpointGate;
use kensa::probe::legacy::probe_legacy_version;
use kensa::testkit::OpenSslServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn openssl_available() -> bool {
    let available = OpenSslServer::available();
    if !available {
        eprintln!("note: openssl is missing; skipping the openssl s_server tests");
    }
    available
}

fn free_port() -> u16 {
    let listener = StdListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// Starts `openssl s_server` accepting only `version_flag` (e.g. `-tls1`).
/// Starts `openssl s_server` accepting only `version_flag` (e.g. `-tls1`), with an RSA
/// certificate for `localhost` made by `openssl req` (as a legacy deployment would have).
fn start_openssl(version_flag: &str) -> OpenSslServer {
    let (cert, key) =
        OpenSslServer::self_signed("localhost", &["-newkey", "rsa:2048"], &["-days", "2"]).expect("openssl req");
    OpenSslServer::start_with_files(&cert, &key, &[version_flag, "-cipher", "ALL:@SECLEVEL=0"])
        .expect("start openssl s_server")
}

const TIMEOUT: Duration = Duration::from_secs(5);

/// One version's probe on a gate of its own, with no connection budget.
async fn probe(addr: SocketAddr, name: Option<&str>, version: TlsVersion, timeout: Duration) -> HandBuiltAttempt {
    probe_legacy_version(&EndpointGate::standalone(addr), name, version, timeout, usize::MAX).await
}

#[tokio::test]
async fn openssl_tls10_only_server() {
    if !openssl_available() {
        return;
    }
    let server = start_openssl("-tls1");

    let tls10 = probe(server.addr, Some("localhost"), TlsVersion::Tls10, TIMEOUT).await;
    assert_eq!(tls10.outcome, Outcome::Accepted, "{tls10:#?}");
    assert_eq!(tls10.exchanges.len(), 1);
    let exchange = &tls10.exchanges[0];
    assert!(!exchange.sent.0.is_empty() && !exchange.received.0.is_empty());
    let HelloReply::ServerHello { version, cipher_suite, chain, .. } = &exchange.reply else {
        panic!("{:?}", exchange.reply)
    };
    assert_eq!(*version, 0x0301);
    assert!(exchange.offered_suites.contains(cipher_suite));
    assert!(!chain.is_empty(), "the chain comes with a TLS 1.0 ServerHello");
    let (_, leaf) = x509_parser::parse_x509_certificate(&chain[0].0).expect("leaf DER parses");
    assert!(leaf.subject().to_string().contains("localhost"));

    let tls11 = probe(server.addr, Some("localhost"), TlsVersion::Tls11, TIMEOUT).await;
    assert_ne!(tls11.outcome, Outcome::Accepted, "{tls11:#?}");
    assert_eq!(tls11.outcome, Outcome::OtherVersion { version: 0x0301 });

    let ssl2 = probe(server.addr, None, TlsVersion::Ssl2, TIMEOUT).await;
    assert_ne!(ssl2.outcome, Outcome::Accepted, "{ssl2:#?}");
    let ssl3 = probe(server.addr, None, TlsVersion::Ssl3, TIMEOUT).await;
    assert_ne!(ssl3.outcome, Outcome::Accepted, "{ssl3:#?}");
    eprintln!("TLS 1.0-only server: SSLv2 → {:?}, SSLv3 → {:?}", ssl2.outcome, ssl3.outcome);
}

#[tokio::test]
async fn openssl_tls11_only_server() {
    if !openssl_available() {
        return;
    }
    let server = start_openssl("-tls1_1");
    let tls11 = probe(server.addr, Some("localhost"), TlsVersion::Tls11, TIMEOUT).await;
    assert_eq!(tls11.outcome, Outcome::Accepted, "{tls11:#?}");
    let tls10 = probe(server.addr, Some("localhost"), TlsVersion::Tls10, TIMEOUT).await;
    assert!(matches!(tls10.outcome, Outcome::Alert { .. } | Outcome::Closed | Outcome::Reset), "{tls10:#?}");
    eprintln!("TLS 1.1-only server: TLS 1.0 → {:?}", tls10.outcome);
}

/// A listener on 127.0.0.1:0 whose every connection is handled by `serve`.
async fn hostile<F, Fut>(serve: F) -> SocketAddr
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream));
        }
    });
    addr
}

/// Reads whatever the client sends first, so that closing afterwards sends a FIN, not a RST.
async fn read_hello(stream: &mut TcpStream) {
    let mut buf = [0u8; 4096];
    let _ = stream.read(&mut buf).await;
}

#[tokio::test]
async fn silent_peer_times_out_quickly() {
    let addr = hostile(|mut stream| async move {
        read_hello(&mut stream).await;
        tokio::time::sleep(Duration::from_secs(30)).await;
    })
    .await;
    let started = Instant::now();
    let attempt = probe(addr, None, TlsVersion::Tls10, Duration::from_millis(300)).await;
    assert_eq!(attempt.outcome, Outcome::Timeout);
    assert_eq!(attempt.exchanges.len(), 1);
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
}

#[tokio::test]
async fn garbage_is_malformed() {
    let addr = hostile(|mut stream| async move {
        read_hello(&mut stream).await;
        let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n").await;
        tokio::time::sleep(Duration::from_secs(5)).await;
    })
    .await;
    let attempt = probe(addr, None, TlsVersion::Tls11, TIMEOUT).await;
    assert!(matches!(&attempt.outcome, Outcome::Malformed { reason } if reason.contains("HTTP")), "{attempt:#?}");
    assert!(attempt.exchanges[0].received.0.starts_with(b"HTTP/1.1"));
}

#[tokio::test]
async fn immediate_close_is_closed() {
    let addr = hostile(|mut stream| async move {
        read_hello(&mut stream).await;
        drop(stream);
    })
    .await;
    let attempt = probe(addr, None, TlsVersion::Tls10, TIMEOUT).await;
    assert_eq!(attempt.outcome, Outcome::Closed, "{attempt:#?}");
    let ssl2 = probe(addr, None, TlsVersion::Ssl2, TIMEOUT).await;
    assert_eq!(ssl2.outcome, Outcome::Closed, "{ssl2:#?}");
}

#[tokio::test]
async fn reset_is_reset() {
    let addr = hostile(|mut stream| async move {
        read_hello(&mut stream).await;
        // SO_LINGER 0 turns close into a RST; with a zero linger, drop does not block.
        #[allow(deprecated)]
        let _ = stream.set_linger(Some(Duration::ZERO));
        drop(stream);
    })
    .await;
    let attempt = probe(addr, None, TlsVersion::Tls10, TIMEOUT).await;
    assert_eq!(attempt.outcome, Outcome::Reset, "{attempt:#?}");
}

fn server_hello_record(version: u16, suite: u16) -> Vec<u8> {
    let mut body = version.to_be_bytes().to_vec();
    body.extend_from_slice(&[0x11; 32]);
    body.push(0);
    body.extend_from_slice(&suite.to_be_bytes());
    body.push(0);
    let mut hs = vec![2, 0, 0, body.len() as u8];
    hs.extend(body);
    let mut record = vec![22, 3, 1, 0, hs.len() as u8];
    record.extend(hs);
    record
}

#[tokio::test]
async fn drip_feed_hits_the_deadline() {
    let addr = hostile(|mut stream| async move {
        read_hello(&mut stream).await;
        for b in server_hello_record(0x0301, 0x002f) {
            if stream.write_all(&[b]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    let started = Instant::now();
    let attempt = probe(addr, None, TlsVersion::Tls10, Duration::from_millis(500)).await;
    assert_eq!(attempt.outcome, Outcome::Timeout, "{attempt:#?}");
    assert!(!attempt.exchanges[0].received.0.is_empty());
    assert!(started.elapsed() < Duration::from_millis(1500), "{:?}", started.elapsed());
}

#[tokio::test]
async fn no_common_suite_tries_every_bundle() {
    let addr = hostile(|mut stream| async move {
        read_hello(&mut stream).await;
        let _ = stream.write_all(&[21, 3, 1, 0, 2, 2, 40]).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    })
    .await;
    let attempt = probe(addr, None, TlsVersion::Tls10, TIMEOUT).await;
    assert_eq!(attempt.outcome, Outcome::Alert { description: 40, name: "handshake_failure".to_string() });
    let all = kensa::wire::suites::suites_for(TlsVersion::Tls10);
    assert_eq!(attempt.exchanges.len(), all.len().div_ceil(128));
    let offered: Vec<u16> = attempt.exchanges.iter().flat_map(|e| e.offered_suites.clone()).collect();
    assert_eq!(offered, all);
}

#[tokio::test]
async fn protocol_version_alert_stops_at_once() {
    let addr = hostile(|mut stream| async move {
        read_hello(&mut stream).await;
        let _ = stream.write_all(&[21, 3, 1, 0, 2, 2, 70]).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    })
    .await;
    let attempt = probe(addr, None, TlsVersion::Ssl3, TIMEOUT).await;
    assert_eq!(attempt.outcome, Outcome::Alert { description: 70, name: "protocol_version".to_string() });
    assert_eq!(attempt.exchanges.len(), 1);
    // The SSLv3 hello went out in an SSLv3 record.
    assert_eq!(&attempt.exchanges[0].sent.0[..3], &[22, 3, 0]);
}

#[tokio::test]
async fn sslv2_server_hello_is_accepted() {
    let addr = hostile(|mut stream| async move {
        read_hello(&mut stream).await;
        let cert = b"\x30\x03\x02\x01\x07";
        let mut body = vec![4, 0, 1, 0, 2, 0, cert.len() as u8, 0, 3, 0, 16];
        body.extend_from_slice(cert);
        body.extend_from_slice(&[0x01, 0x00, 0x80]);
        body.extend_from_slice(&[0xab; 16]);
        let mut record = vec![0x80, body.len() as u8];
        record.extend(body);
        let _ = stream.write_all(&record).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    })
    .await;
    let attempt = probe(addr, None, TlsVersion::Ssl2, TIMEOUT).await;
    assert_eq!(attempt.outcome, Outcome::Accepted, "{attempt:#?}");
    let HelloReply::ServerHello { version, chain, .. } = &attempt.exchanges[0].reply else { panic!() };
    assert_eq!(*version, 2);
    assert_eq!(chain[0].0, b"\x30\x03\x02\x01\x07");
    assert_eq!(attempt.exchanges[0].sent.0[0], 0x80);
}

#[tokio::test]
async fn refused_connection_is_connect_failed() {
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let attempt = probe(addr, None, TlsVersion::Tls11, Duration::from_secs(2)).await;
    assert!(matches!(attempt.outcome, Outcome::ConnectFailed { .. }), "{attempt:#?}");
    assert!(attempt.exchanges[0].sent.0.is_empty());
}
