//! Stapled OCSP responses and SCTs, end to end: Debian's `openssl s_server` staples a real
//! OCSP response (`-status_file`, made by `openssl ocsp`) and sends an SCT list in its
//! ServerHello (`-serverinfo`), and a hand-built TLS 1.2 hello sent through the probe path
//! must bring both back byte for byte, next to the SCTs embedded in the certificate; the CT
//! module then reads all three places.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use kensa::ct::{self, SctSource};
use kensa::evidence::{Bytes, HelloExchange, HelloPurpose, HelloReply};
use kensa::probe::gate::EndpointGate;
use kensa::probe::hand_built::send_tls_hello;
use kensa::testkit::{OpenSslServer, TempDir};
use kensa::wire::client_hello::{ClientHello, HelloOptions, EXT_SIGNED_CERTIFICATE_TIMESTAMP, EXT_STATUS_REQUEST};
use rcgen::{BasicConstraints, CertificateParams, CustomExtension, DnType, IsCa, Issuer, KeyPair, SerialNumber};

const TIMEOUT: Duration = Duration::from_secs(5);

/// ECDHE-ECDSA suites, for the P-256 leaf.
const SUITES: &[u16] = &[0xc02b, 0xc02c, 0xc009];

/// Google 'Argon2026h2' log and Sectigo 'Tiger2026h2', as the bundled log list gives them.
const ARGON_2026H2: &str = "1219ENGn9XfCx+lf1wC/+YLJM1pl4dCzAXMXwMjFaXc=";
const TIGER_2026H2: &str = "yKPEf8ezrbk1awE/anoSbeM6TkOlxkb5l605dZkdz5o=";

fn openssl_available() -> bool {
    let available = OpenSslServer::available();
    if !available {
        eprintln!("note: openssl is missing; skipping the stapling tests");
    }
    available
}

/// A SignedCertificateTimestampList of one v1 SCT naming `log_id`. The signature is made up:
/// nothing on the wire path checks it.
fn sct_list(log_id: &str, timestamp_ms: u64) -> Vec<u8> {
    let id = ct::decode_log_id(log_id).expect("log id");
    let mut sct = vec![0];
    sct.extend_from_slice(&id);
    sct.extend_from_slice(&timestamp_ms.to_be_bytes());
    sct.extend_from_slice(&[0, 0, 4, 3, 0, 6, 0x30, 4, 2, 0, 2, 1]);
    let mut list = ((sct.len() + 2) as u16).to_be_bytes().to_vec();
    list.extend_from_slice(&(sct.len() as u16).to_be_bytes());
    list.extend(sct);
    list
}

fn der_octet_string(content: &[u8]) -> Vec<u8> {
    let mut b = vec![0x04];
    match content.len() {
        n @ 0..=0x7f => b.push(n as u8),
        n @ 0x80..=0xff => b.extend_from_slice(&[0x81, n as u8]),
        n => b.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]),
    }
    b.extend_from_slice(content);
    b
}

fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = body.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap_or_default()).collect();
    format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").args(args).current_dir(dir).stdin(Stdio::null()).output().expect("run openssl");
    assert!(out.status.success(), "openssl {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// The files of one server: a P-256 CA, a leaf for localhost with an embedded SCT list, an
/// OCSP response for the leaf signed by the CA, and a serverinfo PEM with the TLS SCT list.
struct Pki {
    dir: TempDir,
    leaf_pem: String,
    leaf_key_pem: String,
    embedded: Vec<u8>,
    ocsp_der: Vec<u8>,
    tls_scts: Vec<u8>,
}

fn make_pki() -> Pki {
    let dir = TempDir::new("stapling").expect("temp dir");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.distinguished_name.push(DnType::CommonName, "kensa stapling CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate().expect("ca key");
    let ca_cert = ca_params.self_signed(&ca_key).expect("ca cert");
    let ca_pem = pem("CERTIFICATE", ca_cert.der());
    let ca_key_pem = ca_key.serialize_pem();
    let issuer = Issuer::new(ca_params, ca_key);

    let embedded = sct_list(TIGER_2026H2, 1_780_000_000_000);
    let mut leaf_params = CertificateParams::new(vec!["localhost".to_string()]).expect("leaf params");
    leaf_params.distinguished_name.push(DnType::CommonName, "localhost");
    leaf_params.serial_number = Some(SerialNumber::from(vec![0x1f, 0x2e]));
    leaf_params
        .custom_extensions
        .push(CustomExtension::from_oid_content(ct::OID_EMBEDDED_SCT_LIST, der_octet_string(&embedded)));
    let leaf_key = KeyPair::generate().expect("leaf key");
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).expect("leaf cert");
    let leaf_pem = pem("CERTIFICATE", leaf.der());

    let write = |name: &str, text: &str| dir.write(name, text).expect("write");
    write("ca.pem", &ca_pem);
    write("ca.key", &ca_key_pem);
    write("leaf.pem", &leaf_pem);
    // The responder's database: the leaf (serial 1F2E) is valid.
    write("index.txt", "V\t391231000000Z\t\t1F2E\tunknown\t/CN=localhost\n");
    openssl(
        dir.path(),
        &[
            "ocsp",
            "-issuer",
            "ca.pem",
            "-cert",
            "leaf.pem",
            "-index",
            "index.txt",
            "-CA",
            "ca.pem",
            "-rsigner",
            "ca.pem",
            "-rkey",
            "ca.key",
            "-ndays",
            "1",
            "-respout",
            "ocsp.der",
        ],
    );
    let ocsp_der = std::fs::read(dir.path().join("ocsp.der")).expect("ocsp.der");

    // serverinfo: extension type, length, data (SSL_CTX_use_serverinfo_file, version 1).
    let tls_scts = sct_list(ARGON_2026H2, 1_790_000_000_000);
    let mut info = EXT_SIGNED_CERTIFICATE_TIMESTAMP.to_be_bytes().to_vec();
    info.extend_from_slice(&(tls_scts.len() as u16).to_be_bytes());
    info.extend_from_slice(&tls_scts);
    write("serverinfo.pem", &pem("SERVERINFO FOR SIGNED_CERTIFICATE_TIMESTAMP", &info));

    Pki { dir, leaf_pem, leaf_key_pem: leaf_key.serialize_pem(), embedded, ocsp_der, tls_scts }
}

impl Pki {
    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_string_lossy().into_owned()
    }

    /// `openssl s_server` with the leaf, stapling and sending SCTs if `staple` is set.
    fn server(&self, staple: bool) -> OpenSslServer {
        let (status, info, chain) = (self.path("ocsp.der"), self.path("serverinfo.pem"), self.path("ca.pem"));
        let mut args = vec!["-cert_chain", chain.as_str()];
        if staple {
            args.extend(["-status_file", status.as_str(), "-serverinfo", info.as_str()]);
        }
        OpenSslServer::start_with_files(&self.leaf_pem, &self.leaf_key_pem, &args).expect("openssl s_server")
    }
}

async fn hello(addr: SocketAddr, ask_features: bool) -> HelloExchange {
    let options = HelloOptions { server_name: Some("localhost"), ask_features, ..HelloOptions::default() };
    let hello = ClientHello::tls(0x0303, SUITES, &options).expect("hello");
    send_tls_hello(&EndpointGate::standalone(addr), TIMEOUT, HelloPurpose::Suites, &hello).await
}

#[tokio::test]
async fn stapled_ocsp_and_tls_scts_come_back_byte_for_byte() {
    if !openssl_available() {
        return;
    }
    let pki = make_pki();
    let server = pki.server(true);
    let exchange = hello(server.addr, true).await;
    assert!(exchange.offered_extensions.contains(&EXT_STATUS_REQUEST));
    assert!(exchange.offered_extensions.contains(&EXT_SIGNED_CERTIFICATE_TIMESTAMP));
    let HelloReply::ServerHello { version: 0x0303, cipher_suite, chain, details } = &exchange.reply else {
        panic!("{:#?}", exchange.reply)
    };
    assert!(SUITES.contains(cipher_suite));
    assert_eq!(details.flight_error, None);
    assert!(details.extensions.contains(&EXT_STATUS_REQUEST), "{:?}", details.extensions);
    assert!(details.extensions.contains(&EXT_SIGNED_CERTIFICATE_TIMESTAMP), "{:?}", details.extensions);
    assert_eq!(details.sct_list, Some(Bytes(pki.tls_scts.clone())));
    assert!(details.ocsp_stapled);
    assert_eq!(details.ocsp_response, Some(Bytes(pki.ocsp_der.clone())));
    // The bytes are on record too: the response appears verbatim in what was received.
    assert!(exchange.received.0.windows(pki.ocsp_der.len()).any(|w| w == pki.ocsp_der.as_slice()));

    // All three sources meet in the CT module.
    let leaf = &chain.first().expect("a chain").0;
    let embedded = ct::embedded_scts(leaf).expect("embedded SCTs");
    assert_eq!(embedded, ct::parse_sct_list(&pki.embedded).expect("list"));
    let tls = ct::parse_sct_list(&details.sct_list.as_ref().expect("sct list").0).expect("TLS SCTs");
    // openssl's response is a real one, and carries no SCT extension.
    assert_eq!(ct::ocsp_scts(&pki.ocsp_der), Ok(Vec::new()));
    let mut observed = ct::observe(SctSource::Embedded, embedded);
    observed.extend(ct::observe(SctSource::TlsExtension, tls));
    let summary = ct::summarize(&observed);
    assert_eq!(summary.count, 2);
    assert_eq!(summary.operators, vec!["Google".to_string(), "Sectigo".to_string()]);
    assert!(summary.unknown_log_ids.is_empty(), "{summary:?}");
}

#[tokio::test]
async fn nothing_is_made_up_when_nothing_was_sent() {
    if !openssl_available() {
        return;
    }
    let pki = make_pki();
    // A server with the files, asked by the plain hello of minimal mode: it sends neither.
    let stapling = pki.server(true);
    let plain = hello(stapling.addr, false).await;
    assert!(!plain.offered_extensions.contains(&EXT_SIGNED_CERTIFICATE_TIMESTAMP));
    let HelloReply::ServerHello { details, .. } = &plain.reply else { panic!("{:#?}", plain.reply) };
    assert_eq!((details.sct_list.as_ref(), details.ocsp_response.as_ref(), details.ocsp_stapled), (None, None, false));
    drop(stapling);
    // A server without them, asked for both: the same.
    let bare = pki.server(false);
    let asked = hello(bare.addr, true).await;
    let HelloReply::ServerHello { details, chain, .. } = &asked.reply else { panic!("{:#?}", asked.reply) };
    assert_eq!((details.sct_list.as_ref(), details.ocsp_response.as_ref(), details.ocsp_stapled), (None, None, false));
    assert_eq!(details.flight_error, None);
    // The embedded SCTs are in the certificate whatever the server was told.
    assert_eq!(ct::embedded_scts(&chain[0].0).map(|s| s.len()), Ok(1));
}
