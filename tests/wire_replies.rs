//! The reply parser on bytes captured from real servers, and a bounded property test of it.
//!
//! `fixtures/wire/NAME.hex` holds, as one line of hex, the bytes a server sent in reply to one
//! of kensa's own hellos, up to the end of its first flight (ServerHelloDone, the
//! HelloRetryRequest, or the alert). `NAME.toml` beside it says what kensa must read from them
//! and how they were captured. The captures come from Debian's `openssl s_server`, made by
//! `record_wire_fixtures` below:
//!
//! ```text
//! KENSA_WRITE_FIXTURES=1 cargo test --test wire_replies -- --ignored record_wire_fixtures
//! ```
//!
//! CI only replays them, with no network: as captured, re-framed into records of every size
//! from 1 byte up, delivered a few bytes per read, cut at every length, and mutated at random.
//!
//! The property test (`arbitrary_bytes_never_break_the_reply_parser`) runs a fixed number of
//! cases from a fixed seed; `KENSA_FUZZ_SEED`, `KENSA_FUZZ_CASES` and `KENSA_FUZZ_CASE` (one
//! case only) change that, to reproduce a failure or to search longer.

use std::path::{Path, PathBuf};
use std::time::Duration;

use kensa::evidence::{Bytes, CertDer, HelloReply};
use kensa::wire::deframer::{Transcript, MAX_REPLY_BYTES, TRANSCRIPT_CAP};
use kensa::wire::server_reply::{
    parse_certificate, parse_certificate_status, parse_server_hello, parse_server_key_exchange, read_server_reply,
    KeyExchangeParams,
};
use serde::Deserialize;
use tokio::io::AsyncWriteExt;
use tokio::time::Instant;

/// What one capture must read as.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expectation {
    /// Why the capture exists.
    about: String,
    /// The server's options and the hello sent.
    recorded_with: String,
    /// `server_hello` or `alert`.
    reply: String,
    /// TLS records in the capture.
    records: usize,
    version: Option<u16>,
    cipher_suite: Option<u16>,
    #[serde(default)]
    retry_request: bool,
    group: Option<u16>,
    dh_bits: Option<u32>,
    #[serde(default)]
    chain_len: usize,
    #[serde(default)]
    extensions: Vec<u16>,
    alert_level: Option<u8>,
    alert_description: Option<u8>,
}

/// One capture and what it must read as.
struct Capture {
    name: String,
    wire: Vec<u8>,
    expect: Expectation,
}

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/wire")
}

fn load_captures() -> Vec<Capture> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(fixture_dir())
        .expect("fixtures/wire exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "hex"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| {
            let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("?").to_string();
            let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{name}: {e}"));
            let wire = hex::decode(text.trim()).unwrap_or_else(|e| panic!("{name}: not hex: {e}"));
            let toml_path = path.with_extension("toml");
            let expect: Expectation = toml::from_str(
                &std::fs::read_to_string(&toml_path).unwrap_or_else(|e| panic!("{name}: no expectation file: {e}")),
            )
            .unwrap_or_else(|e| panic!("{name}: bad expectation: {e}"));
            Capture { name, wire, expect }
        })
        .collect()
}

/// The record layer and handshake framing, decoded independently of kensa's deframer: for
/// re-framing captures, aiming mutations at length fields, and cross-checking the recorder.
mod frames {
    /// One record: content type, record-layer version, payload.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Record {
        pub typ: u8,
        pub version: u16,
        pub payload: Vec<u8>,
    }

    /// The whole records at the start of `wire`, and where the first incomplete one starts.
    pub fn records(wire: &[u8]) -> (Vec<Record>, usize) {
        let mut out = Vec::new();
        let mut at = 0;
        while let (Some(&typ), Some(&v0), Some(&v1), Some(&l0), Some(&l1)) =
            (wire.get(at), wire.get(at + 1), wire.get(at + 2), wire.get(at + 3), wire.get(at + 4))
        {
            let len = usize::from(u16::from_be_bytes([l0, l1]));
            let Some(payload) = wire.get(at + 5..at + 5 + len) else { break };
            out.push(Record { typ, version: u16::from_be_bytes([v0, v1]), payload: payload.to_vec() });
            at += 5 + len;
        }
        (out, at)
    }

    /// `records` written back to bytes; payloads longer than 0xffff are cut.
    pub fn write(records: &[Record]) -> Vec<u8> {
        let mut out = Vec::new();
        for r in records {
            let len = r.payload.len().min(0xffff);
            out.push(r.typ);
            out.extend_from_slice(&r.version.to_be_bytes());
            out.extend_from_slice(&(len as u16).to_be_bytes());
            out.extend_from_slice(&r.payload[..len]);
        }
        out
    }

    /// `wire` with each run of same-type records joined and cut again into records of at
    /// most `n` payload bytes. Bytes after the last whole record are kept as they are.
    pub fn reframe(wire: &[u8], n: usize) -> Vec<u8> {
        reframe_types(wire, n, |_| true)
    }

    /// [`reframe`] for handshake records only; other records stay as they are.
    pub fn reframe_handshake(wire: &[u8], n: usize) -> Vec<u8> {
        reframe_types(wire, n, |typ| typ == 22)
    }

    fn reframe_types(wire: &[u8], n: usize, which: impl Fn(u8) -> bool) -> Vec<u8> {
        let n = n.clamp(1, 1 << 14);
        let (records, end) = records(wire);
        let mut out: Vec<Record> = Vec::new();
        let mut i = 0;
        while let Some(first) = records.get(i) {
            if !which(first.typ) {
                out.push(first.clone());
                i += 1;
                continue;
            }
            let mut joined = Vec::new();
            while let Some(r) = records.get(i).filter(|r| r.typ == first.typ) {
                joined.extend_from_slice(&r.payload);
                i += 1;
            }
            out.extend(joined.chunks(n).map(|c| Record {
                typ: first.typ,
                version: first.version,
                payload: c.to_vec(),
            }));
        }
        let mut bytes = write(&out);
        bytes.extend_from_slice(&wire[end..]);
        bytes
    }

    /// A handshake message (type and body), and the index of the record that completed it.
    pub struct Message {
        pub typ: u8,
        pub body: Vec<u8>,
        pub record: usize,
    }

    /// The handshake messages carried by the whole records of `wire`, reassembled.
    pub fn handshake_messages(wire: &[u8]) -> Vec<Message> {
        let mut out = Vec::new();
        let mut pending: Vec<u8> = Vec::new();
        for (index, record) in records(wire).0.iter().enumerate() {
            if record.typ != 22 {
                continue;
            }
            pending.extend_from_slice(&record.payload);
            while pending.len() >= 4 {
                let len = u32::from_be_bytes([0, pending[1], pending[2], pending[3]]) as usize;
                if pending.len() < 4 + len {
                    break;
                }
                let body = pending[4..4 + len].to_vec();
                out.push(Message { typ: pending[0], body, record: index });
                pending.drain(..4 + len);
            }
        }
        out
    }

    /// The extension types of a ServerHello body, in wire order.
    pub fn server_hello_extensions(body: &[u8]) -> Vec<u16> {
        let sid = usize::from(body.get(34).copied().unwrap_or(0));
        let start = 35 + sid + 3; // session id, suite, compression
        let mut at = start + 2;
        let mut out = Vec::new();
        while let Some(ext) = body.get(at..at + 4) {
            out.push(u16::from_be_bytes([ext[0], ext[1]]));
            at += 4 + usize::from(u16::from_be_bytes([ext[2], ext[3]]));
        }
        out
    }

    /// Offsets of every record length field and handshake length field in `wire` (the
    /// latter only where a handshake header starts a record payload).
    pub fn length_fields(wire: &[u8]) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut at = 0;
        for r in records(wire).0 {
            out.push((at + 3, 2));
            if r.typ == 22 && r.payload.len() >= 4 {
                out.push((at + 6, 3));
            }
            at += 5 + r.payload.len();
        }
        out
    }
}

const RECORD_HANDSHAKE: u8 = 22;
const HS_SERVER_HELLO: u8 = 2;
const HS_CERTIFICATE: u8 = 11;
const HS_SERVER_KEY_EXCHANGE: u8 = 12;
const HS_SERVER_HELLO_DONE: u8 = 14;
const HS_CERTIFICATE_STATUS: u8 = 22;
const EXT_SIGNED_CERTIFICATE_TIMESTAMP: u16 = 18;

fn later(ms: u64) -> Instant {
    Instant::now() + Duration::from_millis(ms)
}

async fn reply_to(wire: &[u8]) -> (HelloReply, Transcript) {
    read_server_reply(wire, later(2000)).await
}

/// How `reply` differs from `expect`, as readable lines.
fn mismatches(expect: &Expectation, reply: &HelloReply) -> Vec<String> {
    let mut out = Vec::new();
    let mut same = |what: &str, want: String, got: String| {
        if want != got {
            out.push(format!("{what}: want {want}, got {got}"));
        }
    };
    match (expect.reply.as_str(), reply) {
        ("server_hello", HelloReply::ServerHello { version, cipher_suite, chain, details }) => {
            same("version", format!("{:?}", expect.version), format!("{:?}", Some(*version)));
            same("cipher_suite", format!("{:?}", expect.cipher_suite), format!("{:?}", Some(*cipher_suite)));
            same("retry_request", expect.retry_request.to_string(), details.retry_request.to_string());
            same("group", format!("{:?}", expect.group), format!("{:?}", details.group));
            same("dh_bits", format!("{:?}", expect.dh_bits), format!("{:?}", details.dh_bits));
            same("chain_len", expect.chain_len.to_string(), chain.len().to_string());
            same("extensions", format!("{:?}", expect.extensions), format!("{:?}", details.extensions));
            same("compression", "0".to_string(), details.compression.to_string());
            same("flight_error", "None".to_string(), format!("{:?}", details.flight_error));
        }
        ("alert", HelloReply::Alert { level, description }) => {
            same("alert_level", format!("{:?}", expect.alert_level), format!("{:?}", Some(*level)));
            same("alert_description", format!("{:?}", expect.alert_description), format!("{:?}", Some(*description)));
        }
        (want, got) => out.push(format!("reply: want {want}, got {got:?}")),
    }
    out
}

#[test]
fn every_capture_has_its_expectation_and_the_set_is_complete() {
    let captures = load_captures();
    let names: Vec<&str> = captures.iter().map(|c| c.name.as_str()).collect();
    for wanted in [
        "tls12-ecdhe-rsa",
        "tls12-ecdhe-rsa-fragmented",
        "tls12-dhe-rsa",
        "tls12-ecdhe-ecdsa",
        "tls11-rsa",
        "tls10-ecdhe-rsa",
        "tls13-hello-retry-request",
        "alert-handshake-failure",
        "alert-protocol-version",
    ] {
        assert!(names.contains(&wanted), "fixtures/wire/{wanted}.hex is missing (have {names:?})");
    }
    for c in &captures {
        assert!(!c.expect.about.is_empty() && !c.expect.recorded_with.is_empty(), "{}", c.name);
        let (records, end) = frames::records(&c.wire);
        assert_eq!(end, c.wire.len(), "{}: the capture ends inside a record", c.name);
        assert_eq!(records.len(), c.expect.records, "{}: record count", c.name);
    }
}

#[tokio::test]
async fn captured_flights_read_as_recorded() {
    for c in load_captures() {
        let (reply, transcript) = reply_to(&c.wire).await;
        let wrong = mismatches(&c.expect, &reply);
        assert!(wrong.is_empty(), "{}: {}\n{reply:?}", c.name, wrong.join("; "));
        assert_eq!(transcript.bytes, c.wire, "{}: the transcript is every byte received", c.name);
        assert!(!transcript.truncated);
        if let HelloReply::ServerHello { chain, .. } = &reply {
            for (i, cert) in chain.iter().enumerate() {
                let parsed = x509_parser::parse_x509_certificate(&cert.0);
                assert!(parsed.is_ok(), "{}: certificate {i} is not DER X.509", c.name);
            }
            if let Some(leaf) = chain.first() {
                let (_, leaf) = x509_parser::parse_x509_certificate(&leaf.0).expect("leaf");
                assert!(leaf.subject().to_string().contains("localhost"), "{}: {}", c.name, leaf.subject());
            }
        }
    }
}

/// The same bytes in records of any size, and arriving a few bytes per read, read the same.
#[tokio::test]
async fn captured_flights_read_the_same_however_framed_or_delivered() {
    for c in load_captures() {
        let (whole, _) = reply_to(&c.wire).await;
        for n in [1, 2, 3, 4, 5, 7, 16, 100, 1000, 4096, 1 << 14] {
            let reframed = frames::reframe(&c.wire, n);
            let (reply, transcript) = reply_to(&reframed).await;
            assert_eq!(reply, whole, "{}: records of {n} bytes", c.name);
            assert_eq!(transcript.bytes, reframed);
        }
        for chunk in [1, 2, 5, 13, 512] {
            let (mut server, client) = tokio::io::duplex(64);
            let wire = c.wire.clone();
            let writer = tokio::spawn(async move {
                for piece in wire.chunks(chunk) {
                    if server.write_all(piece).await.is_err() {
                        return;
                    }
                    tokio::task::yield_now().await;
                }
                // Keep the connection open: the reader must stop at the end of the flight.
                tokio::time::sleep(Duration::from_secs(5)).await;
            });
            let started = std::time::Instant::now();
            let (reply, _) = read_server_reply(client, later(3000)).await;
            assert_eq!(reply, whole, "{}: delivered {chunk} bytes at a time", c.name);
            assert!(started.elapsed() < Duration::from_secs(2), "{}: waited past the flight", c.name);
            writer.abort();
        }
    }
}

/// Cut anywhere, a capture gives a clear answer: closed, malformed, or — once the whole
/// ServerHello arrived — the hello with a note of why the rest of the flight is missing.
#[tokio::test]
async fn every_truncation_of_a_capture_is_a_clear_answer() {
    for c in load_captures() {
        let (whole, _) = reply_to(&c.wire).await;
        let hello_ends = frames::handshake_messages(&c.wire)
            .iter()
            .find(|m| m.typ == HS_SERVER_HELLO)
            .map(|m| frames::write(&frames::records(&c.wire).0[..=m.record]).len());
        for cut in 0..c.wire.len() {
            let (reply, transcript) = reply_to(&c.wire[..cut]).await;
            assert_eq!(transcript.bytes, &c.wire[..cut]);
            let hello_complete = hello_ends.is_some_and(|end| cut >= end);
            match (&reply, &whole) {
                (HelloReply::Closed, _) => assert_eq!(cut, 0, "{}: cut at {cut}: {reply:?}", c.name),
                (HelloReply::Malformed { reason }, _) => {
                    assert!(cut > 0 && !reason.is_empty());
                    assert!(!hello_complete, "{}: cut at {cut}: the whole ServerHello was there: {reason}", c.name);
                }
                (
                    HelloReply::ServerHello { version, cipher_suite, details, .. },
                    HelloReply::ServerHello { version: v, cipher_suite: s, .. },
                ) => {
                    assert!(hello_complete, "{}: cut at {cut}: a hello from part of it", c.name);
                    assert_eq!((version, cipher_suite), (v, s), "{}: cut at {cut}", c.name);
                    assert!(details.flight_error.is_some(), "{}: cut at {cut}: no flight error", c.name);
                }
                _ => panic!("{}: cut at {cut}: {reply:?}", c.name),
            }
        }
    }
}

/// The flight without its ServerHelloDone, then silence: the hello stands, and the reader
/// gives up at the deadline rather than waiting for the rest.
#[tokio::test]
async fn a_flight_that_stops_short_ends_at_the_deadline() {
    for c in load_captures().into_iter().filter(|c| c.expect.reply == "server_hello" && !c.expect.retry_request) {
        let (records, _) = frames::records(&frames::reframe(&c.wire, 1 << 14));
        let mut payload = records.iter().flat_map(|r| r.payload.clone()).collect::<Vec<u8>>();
        assert_eq!(payload[payload.len() - 4..], [HS_SERVER_HELLO_DONE, 0, 0, 0], "{}", c.name);
        payload.truncate(payload.len() - 4);
        let short = frames::write(&[frames::Record { typ: RECORD_HANDSHAKE, version: records[0].version, payload }]);
        let (mut server, client) = tokio::io::duplex(1 << 16);
        server.write_all(&short).await.expect("write");
        let started = std::time::Instant::now();
        let (reply, _) = read_server_reply(client, later(200)).await;
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(150) && took < Duration::from_secs(2), "{}: {took:?}", c.name);
        let HelloReply::ServerHello { details, chain, .. } = reply else { panic!("{}: {reply:?}", c.name) };
        assert_eq!(details.flight_error.as_deref(), Some("no ServerHelloDone before the deadline"), "{}", c.name);
        assert_eq!(chain.len(), c.expect.chain_len, "{}: the chain before the silence is kept", c.name);
        drop(server);
    }
}

/// A ServerHello followed in its own record by a message too large to accept reads as it
/// does when the two come in separate records: the hello stands, the flight error says why
/// the rest was not read.
#[tokio::test]
async fn a_hello_is_not_lost_to_a_bad_message_sharing_its_record() {
    let captures = load_captures();
    let flight = &captures.iter().find(|c| c.name == "tls12-ecdhe-rsa").expect("capture").wire;
    let hello = frames::handshake_messages(flight).into_iter().find(|m| m.typ == HS_SERVER_HELLO).expect("hello");
    let mut hello_message = vec![HS_SERVER_HELLO];
    hello_message.extend_from_slice(&(hello.body.len() as u32).to_be_bytes()[1..]);
    hello_message.extend_from_slice(&hello.body);
    let huge = [HS_CERTIFICATE, 0x0f, 0xff, 0xff, 0, 0, 0];
    let record = |payload: Vec<u8>| frames::Record { typ: RECORD_HANDSHAKE, version: 0x0303, payload };
    let together = frames::write(&[record([hello_message.clone(), huge.to_vec()].concat())]);
    let apart = frames::write(&[record(hello_message), record(huge.to_vec())]);
    let (one, _) = reply_to(&together).await;
    let (two, _) = reply_to(&apart).await;
    assert_eq!(one, two);
    let HelloReply::ServerHello { version: 0x0303, cipher_suite: 0xc02f, details, .. } = one else { panic!("{one:?}") };
    assert!(details.flight_error.is_some_and(|e| e.contains("too large")));
}

/// The messages of each capture, parsed one by one, agree with the whole-flight reading.
#[tokio::test]
async fn message_parsers_agree_with_the_flight() {
    for c in load_captures() {
        let messages = frames::handshake_messages(&c.wire);
        let Some(hello) = messages.iter().find(|m| m.typ == HS_SERVER_HELLO) else { continue };
        let info = parse_server_hello(&hello.body).unwrap_or_else(|e| panic!("{}: {e}", c.name));
        assert_eq!(Some(info.version), c.expect.version, "{}", c.name);
        assert_eq!(Some(info.cipher_suite), c.expect.cipher_suite, "{}", c.name);
        assert_eq!(info.extensions, frames::server_hello_extensions(&hello.body), "{}", c.name);
        if let Some(cert) = messages.iter().find(|m| m.typ == HS_CERTIFICATE) {
            let chain = parse_certificate(&cert.body).unwrap_or_else(|e| panic!("{}: {e}", c.name));
            assert_eq!(chain.len(), c.expect.chain_len, "{}", c.name);
        }
        if let Some(ske) = messages.iter().find(|m| m.typ == HS_SERVER_KEY_EXCHANGE) {
            let params = parse_server_key_exchange(info.cipher_suite, &ske.body).expect("key exchange");
            let want = match (c.expect.group, c.expect.dh_bits) {
                (Some(g), None) => KeyExchangeParams::NamedCurve(g),
                (None, Some(bits)) => KeyExchangeParams::DhPrime(bits),
                other => panic!("{}: a ServerKeyExchange but expected {other:?}", c.name),
            };
            assert_eq!(params, want, "{}", c.name);
        }
    }
}

/// A SignedCertificateTimestampList of `n` v1 SCTs with made-up log ids and signatures.
fn sct_list(n: u8) -> Vec<u8> {
    let mut list = Vec::new();
    for i in 0..n {
        let mut sct = vec![0];
        sct.extend_from_slice(&[0xc0 | i; 32]);
        sct.extend_from_slice(&(1_790_000_000_000u64 + u64::from(i)).to_be_bytes());
        sct.extend_from_slice(&[0, 0, 4, 3, 0, 4, 0x30, 2, i, 0]);
        list.extend_from_slice(&(sct.len() as u16).to_be_bytes());
        list.extend(sct);
    }
    let mut out = (list.len() as u16).to_be_bytes().to_vec();
    out.extend(list);
    out
}

/// A ServerHello body with `typ`/`data` appended to its extension block (one is added if it
/// had none).
fn with_extension(hello: &[u8], typ: u16, data: &[u8]) -> Vec<u8> {
    let sid = usize::from(hello[34]);
    let block = 35 + sid + 3;
    let mut out = hello[..block].to_vec();
    let existing = hello.get(block + 2..).unwrap_or_default();
    let mut ext = existing.to_vec();
    ext.extend_from_slice(&typ.to_be_bytes());
    ext.extend_from_slice(&(data.len() as u16).to_be_bytes());
    ext.extend_from_slice(data);
    out.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    out.extend(ext);
    out
}

fn handshake_message(typ: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![typ];
    m.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    m.extend_from_slice(body);
    m
}

/// The tls12-ecdhe-rsa capture as a server with SCTs and a stapled response would send it:
/// the SCT list in the ServerHello, a CertificateStatus after the Certificate.
fn capture_with_scts_and_staple(sct: &[u8], ocsp: &[u8]) -> Vec<u8> {
    let captures = load_captures();
    let flight = &captures.iter().find(|c| c.name == "tls12-ecdhe-rsa").expect("capture").wire;
    let mut payload = Vec::new();
    for m in frames::handshake_messages(flight) {
        let body = if m.typ == HS_SERVER_HELLO {
            with_extension(&m.body, EXT_SIGNED_CERTIFICATE_TIMESTAMP, sct)
        } else {
            m.body
        };
        payload.extend(handshake_message(m.typ, &body));
        if m.typ == HS_CERTIFICATE {
            let mut status = vec![1];
            status.extend_from_slice(&(ocsp.len() as u32).to_be_bytes()[1..]);
            status.extend_from_slice(ocsp);
            payload.extend(handshake_message(HS_CERTIFICATE_STATUS, &status));
        }
    }
    let record = frames::Record { typ: RECORD_HANDSHAKE, version: 0x0303, payload };
    frames::reframe(&frames::write(&[record]), 1 << 14)
}

/// A stapled OCSP response and SCTs in the ServerHello come back byte for byte, however the
/// flight is framed, and a cut anywhere after the hello loses neither what had arrived.
#[tokio::test]
async fn stapled_ocsp_and_tls_extension_scts_come_back_exactly() {
    // Any bytes do as the response: the reader keeps it verbatim, the checks parse it.
    let ocsp: Vec<u8> = (0..3000u32).map(|i| (i * 7 + 1) as u8).collect();
    let list = sct_list(3);
    let wire = capture_with_scts_and_staple(&list, &ocsp);
    let (whole, _) = reply_to(&wire).await;
    let HelloReply::ServerHello { version: 0x0303, cipher_suite: 0xc02f, chain, details } = &whole else {
        panic!("{whole:?}")
    };
    assert_eq!(chain.len(), 2);
    assert_eq!(details.flight_error, None);
    assert_eq!(details.group, Some(0x001d), "the ServerKeyExchange after the staple is read");
    assert!(details.extensions.contains(&EXT_SIGNED_CERTIFICATE_TIMESTAMP));
    assert_eq!(details.sct_list, Some(Bytes(list.clone())));
    assert!(details.ocsp_stapled);
    assert_eq!(details.ocsp_response, Some(Bytes(ocsp.clone())));
    let scts = kensa::ct::parse_sct_list(&list).expect("the list parses");
    assert_eq!(scts.len(), 3);
    for n in [1, 2, 5, 64, 1000, 4096] {
        let (reply, _) = reply_to(&frames::reframe(&wire, n)).await;
        assert_eq!(reply, whole, "records of {n} bytes");
    }
    // Cut inside the staple: the SCTs (in the hello) stay, the response is not made up.
    let mut payload: Vec<u8> = frames::records(&wire).0.into_iter().flat_map(|r| r.payload).collect();
    let status_at = payload.windows(4).position(|w| w == [HS_CERTIFICATE_STATUS, 0, 0x0b, 0xbc]).expect("status");
    payload.truncate(status_at + 100);
    let (cut, _) =
        reply_to(&frames::write(&[frames::Record { typ: RECORD_HANDSHAKE, version: 0x0303, payload }])).await;
    let HelloReply::ServerHello { details, .. } = cut else { panic!("{cut:?}") };
    assert_eq!(details.sct_list, Some(Bytes(list)));
    assert_eq!(details.ocsp_response, None);
    assert!(details.flight_error.is_some());
}

// ---------------------------------------------------------------------------------------
// The property test.
// ---------------------------------------------------------------------------------------

/// xorshift64*: small, fast, and the same everywhere.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        // Never zero, and neighbouring seeds far apart.
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (0 when `n` is 0).
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    fn byte(&mut self) -> u8 {
        (self.next() >> 32) as u8
    }

    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.byte()).collect()
    }

    fn pick<T: Clone>(&mut self, from: &[T]) -> T {
        from[self.below(from.len())].clone()
    }
}

/// Suites whose ServerKeyExchange kensa reads differently: ECDHE, DHE, anonymous, PSK,
/// static RSA and one unknown.
const FUZZ_SUITES: &[u16] = &[0xc02f, 0xc02b, 0x009e, 0x0033, 0x0034, 0xc018, 0x008e, 0x00a8, 0xcca8, 0x002f, 0xfefe];

/// A random but plausibly framed handshake message.
fn random_message(rng: &mut Rng) -> Vec<u8> {
    let typ = {
        let wild = rng.byte();
        rng.pick(&[0, 2, 2, 2, 11, 11, 12, 12, 13, 14, 22, 20, wild])
    };
    let body = match typ {
        2 => random_server_hello_body(rng),
        11 => random_certificate_body(rng),
        22 => {
            // CertificateStatus: mostly the ocsp type with a length that fits, or nearly.
            let n = rng.below(120);
            let len =
                if rng.chance(5) { (n as u32).wrapping_add(rng.below(3) as u32).wrapping_sub(1) } else { n as u32 };
            let mut b = vec![rng.pick(&[1, 1, 1, 2, 0])];
            b.extend_from_slice(&(len & 0xff_ffff).to_be_bytes()[1..]);
            b.extend(rng.bytes(n));
            b
        }
        _ => {
            let n = rng.below(200);
            rng.bytes(n)
        }
    };
    let mut m = vec![typ];
    m.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    m.extend(body);
    m
}

/// A ServerHello body with random fields and extensions, some of them well-formed.
fn random_server_hello_body(rng: &mut Rng) -> Vec<u8> {
    let wild = rng.next() as u16;
    let mut b = rng.pick(&[0x0300u16, 0x0301, 0x0302, 0x0303, 0x0304, 0x7f12, 0x0909, wild]).to_be_bytes().to_vec();
    if rng.chance(4) {
        // The HelloRetryRequest random.
        b.extend_from_slice(
            &hex::decode("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c").unwrap_or_default(),
        );
    } else {
        b.extend(rng.bytes(32));
    }
    let sid = {
        let wild = rng.below(40);
        rng.pick(&[0, 32, wild])
    };
    b.push(sid as u8);
    b.extend(rng.bytes(sid));
    b.extend_from_slice(&rng.pick(FUZZ_SUITES).to_be_bytes());
    b.push({
        let wild = rng.byte();
        rng.pick(&[0, 0, 1, wild])
    });
    if rng.chance(5) {
        return b;
    }
    let mut ext = Vec::new();
    for _ in 0..rng.below(6) {
        let typ = {
            let wild = rng.next() as u16;
            rng.pick(&[0u16, 5, 10, 11, 16, 18, 23, 35, 43, 51, 0xff01, wild])
        };
        let body = match typ {
            43 => rng.pick(&[vec![3, 4], vec![3, 3], vec![3], vec![]]),
            51 => {
                let mut s = {
                    let wild = rng.next() as u16;
                    rng.pick(&[0x001du16, 0x0017, 0x11ec, wild])
                }
                .to_be_bytes()
                .to_vec();
                if rng.chance(2) {
                    let n = rng.below(40);
                    s.extend_from_slice(&(n as u16).to_be_bytes());
                    s.extend(rng.bytes(n));
                }
                s
            }
            18 if rng.chance(2) => sct_list(rng.below(3) as u8),
            16 => {
                let n = rng.below(10);
                let name = rng.bytes(n);
                let mut list = vec![name.len() as u8];
                list.extend(name);
                let mut s = (list.len() as u16).to_be_bytes().to_vec();
                s.extend(list);
                s
            }
            _ => {
                let n = rng.below(8);
                rng.bytes(n)
            }
        };
        ext.extend_from_slice(&typ.to_be_bytes());
        let len = if rng.chance(20) { rng.next() as u16 } else { body.len() as u16 };
        ext.extend_from_slice(&len.to_be_bytes());
        ext.extend(body);
    }
    b.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    b.extend(ext);
    b
}

/// A Certificate body with random entries, the lengths mostly consistent.
fn random_certificate_body(rng: &mut Rng) -> Vec<u8> {
    let mut list = Vec::new();
    for _ in 0..rng.below(4) {
        let n = {
            let wild = rng.below(300);
            rng.pick(&[0, 1, wild])
        };
        let len = if rng.chance(10) { rng.next() as u32 & 0xffffff } else { n as u32 };
        list.extend_from_slice(&len.to_be_bytes()[1..]);
        list.extend(rng.bytes(n));
    }
    let len = if rng.chance(10) { rng.next() as u32 & 0xffffff } else { list.len() as u32 };
    let mut b = len.to_be_bytes()[1..].to_vec();
    b.extend(list);
    b
}

/// Records of random plausible types and versions, carrying random messages or bytes.
fn random_records(rng: &mut Rng) -> Vec<u8> {
    let mut records = Vec::new();
    let mut handshake = Vec::new();
    for _ in 0..=rng.below(4) {
        handshake.extend(random_message(rng));
    }
    let n = rng.pick(&[1, 3, 16, 1000, 1 << 14]);
    for chunk in handshake.chunks(n) {
        records.push(frames::Record { typ: 22, version: 0x0303, payload: chunk.to_vec() });
    }
    for _ in 0..rng.below(3) {
        let at = rng.below(records.len() + 1);
        let typ = {
            let wild = rng.byte();
            rng.pick(&[20u8, 21, 21, 23, 24, wild])
        };
        let payload = match typ {
            20 => vec![1],
            21 => vec![rng.pick(&[1, 2]), {
                let wild = rng.byte();
                rng.pick(&[0, 40, 70, 112, wild])
            }],
            _ => {
                let n = rng.below(30);
                rng.bytes(n)
            }
        };
        records.insert(at, frames::Record { typ, version: 0x0303, payload });
    }
    for r in &mut records {
        if rng.chance(10) {
            r.version = {
                let wild = rng.next() as u16;
                rng.pick(&[0x0300, 0x0301, 0x0304, 0x0909, wild])
            };
        }
    }
    frames::write(&records)
}

/// `base` changed in one to four random ways.
fn mutate(rng: &mut Rng, base: &[u8], others: &[Capture]) -> Vec<u8> {
    let mut wire = base.to_vec();
    for _ in 0..=rng.below(4) {
        let len = wire.len();
        match rng.below(10) {
            0 if len > 0 => {
                let at = rng.below(len);
                wire[at] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let at = rng.below(len);
                wire[at] = rng.byte();
            }
            2 => wire.truncate(rng.below(len + 1)),
            3 => {
                let at = rng.below(len + 1);
                let n = rng.below(20);
                let extra = rng.bytes(n);
                wire.splice(at..at, extra);
            }
            4 if len > 0 => {
                let at = rng.below(len);
                let end = (at + rng.below(64)).min(len);
                wire.drain(at..end);
            }
            5 | 6 => {
                // A length field set to an edge value or nudged by one.
                let fields = frames::length_fields(&wire);
                if fields.is_empty() {
                    continue;
                }
                let (at, width) = rng.pick(&fields);
                let old = wire[at..at + width].iter().fold(0u32, |v, b| (v << 8) | u32::from(*b));
                let max = if width == 2 { 0xffff } else { 0xff_ffff };
                let new = match rng.below(6) {
                    0 => 0,
                    1 => max,
                    2 => old.wrapping_add(1) & max,
                    3 => old.wrapping_sub(1) & max,
                    4 => (MAX_REPLY_BYTES as u32 + 1) & max,
                    _ => rng.next() as u32 & max,
                };
                for i in 0..width {
                    wire[at + i] = (new >> (8 * (width - 1 - i))) as u8;
                }
            }
            7 => {
                let wild = rng.below(2000) + 1;
                let n = rng.pick(&[1, 2, 3, 5, 64, wild]);
                wire = frames::reframe(&wire, n);
            }
            8 => {
                // A record duplicated or moved.
                let (mut records, end) = frames::records(&wire);
                if records.is_empty() {
                    continue;
                }
                let tail = wire[end..].to_vec();
                let from = rng.below(records.len());
                let record = if rng.chance(2) { records[from].clone() } else { records.remove(from) };
                let to = rng.below(records.len() + 1);
                records.insert(to, record);
                wire = frames::write(&records);
                wire.extend(tail);
            }
            _ => {
                // Spliced with the tail of another capture.
                if let Some(other) = others.get(rng.below(others.len())) {
                    let cut = rng.below(len + 1);
                    let from = rng.below(other.wire.len() + 1);
                    wire.truncate(cut);
                    wire.extend_from_slice(&other.wire[from..]);
                }
            }
        }
    }
    wire
}

/// One generated input, by kind.
fn generate(rng: &mut Rng, captures: &[Capture]) -> (&'static str, Vec<u8>) {
    match rng.below(8) {
        0 | 1 => {
            let n = rng.below(2000);
            // Mostly pure noise; sometimes noise behind a plausible record header, so that it
            // gets past the first byte.
            let mut wire = rng.bytes(n);
            if rng.chance(2) && wire.len() >= 5 {
                wire[0] = rng.pick(&[20, 21, 22, 23, 24]);
                wire[1] = 3;
            }
            ("random bytes", wire)
        }
        2 | 3 => ("random records", random_records(rng)),
        _ if captures.is_empty() => ("random records", random_records(rng)),
        _ => {
            let base = &captures[rng.below(captures.len())];
            ("mutated capture", mutate(rng, &base.wire, captures))
        }
    }
}

fn env_u64(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    let text = text.trim();
    match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// What must hold of any reply to any bytes.
fn check_reply(wire: &[u8], reply: &HelloReply, transcript: &Transcript) -> Result<(), String> {
    if transcript.bytes.len() > TRANSCRIPT_CAP || !wire.starts_with(&transcript.bytes) {
        return Err("the transcript is not a capped prefix of the input".to_string());
    }
    match reply {
        HelloReply::ServerHello { chain, details, .. } => {
            let total: usize = chain.iter().map(|c| c.0.len()).sum();
            if total > MAX_REPLY_BYTES {
                return Err(format!("a chain of {total} bytes, beyond the {MAX_REPLY_BYTES}-byte reply cap"));
            }
            if chain.iter().any(|c: &CertDer| c.0.is_empty()) {
                return Err("an empty certificate in the chain".to_string());
            }
            let mut seen = details.extensions.clone();
            seen.sort_unstable();
            seen.dedup();
            if seen.len() != details.extensions.len() {
                return Err("an extension listed twice".to_string());
            }
            if details.ocsp_response.is_some() && !details.ocsp_stapled {
                return Err("an OCSP response without a CertificateStatus".to_string());
            }
            if details.ocsp_response.as_ref().is_some_and(|r| r.0.is_empty() || r.0.len() > MAX_REPLY_BYTES) {
                return Err("an empty or oversized OCSP response".to_string());
            }
            let sct_extension = details.extensions.contains(&EXT_SIGNED_CERTIFICATE_TIMESTAMP);
            if details.sct_list.is_some() != sct_extension
                || details.sct_list.as_ref().is_some_and(|l| l.0.len() > usize::from(u16::MAX))
            {
                return Err("an SCT list without its extension, or longer than one".to_string());
            }
        }
        HelloReply::Malformed { reason } if reason.is_empty() => return Err("malformed without a reason".to_string()),
        HelloReply::Closed if !wire.is_empty() => return Err("closed although bytes arrived".to_string()),
        HelloReply::Timeout => return Err("a timeout from a reader that ends".to_string()),
        _ => {}
    }
    Ok(())
}

/// A reply without the parts that may name byte counts: what must not depend on framing.
fn gist(reply: &HelloReply) -> String {
    match reply {
        HelloReply::ServerHello { version, cipher_suite, chain, details } => {
            let mut details = details.clone();
            details.flight_error = details.flight_error.map(|_| String::new());
            format!("hello {version:#06x} {cipher_suite:#06x} {chain:?} {details:?}")
        }
        HelloReply::Malformed { .. } => "malformed".to_string(),
        other => format!("{other:?}"),
    }
}

/// The same handshake bytes, cut into records of two different sizes, read the same.
async fn check_framing_invariance(rng: &mut Rng, wire: &[u8]) -> Result<(), String> {
    let sizes = [1, 2, 3, 7, 64, 1000, 1 << 14, rng.below(300) + 1];
    let (a, b) = (rng.pick(&sizes), rng.pick(&sizes));
    let (one, _) = reply_to(&frames::reframe_handshake(wire, a)).await;
    let (two, _) = reply_to(&frames::reframe_handshake(wire, b)).await;
    if gist(&one) != gist(&two) {
        return Err(format!("records of {a} bytes read as {one:?}, of {b} bytes as {two:?}"));
    }
    Ok(())
}

/// The message parsers on their own, on every handshake body in `wire` and on raw slices.
fn run_parsers(rng: &mut Rng, wire: &[u8]) -> Result<(), String> {
    let mut bodies: Vec<Vec<u8>> = frames::handshake_messages(wire).into_iter().map(|m| m.body).collect();
    bodies.push(wire.get(9..).unwrap_or_default().to_vec());
    bodies.push(wire.to_vec());
    for body in &bodies {
        if let Ok(info) = parse_server_hello(body) {
            let mut seen = info.extensions.clone();
            seen.sort_unstable();
            seen.dedup();
            if seen.len() != info.extensions.len() {
                return Err("parse_server_hello listed an extension twice".to_string());
            }
        }
        if let Ok(response) = parse_certificate_status(body) {
            if response.is_empty() || response.len() + 4 != body.len() {
                return Err("parse_certificate_status accepted inconsistent lengths".to_string());
            }
        }
        if let Ok(chain) = parse_certificate(body) {
            let listed: usize = chain.iter().map(|c| 3 + c.0.len()).sum();
            if listed + 3 != body.len() || chain.iter().any(|c| c.0.is_empty()) {
                return Err("parse_certificate accepted inconsistent lengths".to_string());
            }
        }
        let suite = rng.pick(FUZZ_SUITES);
        match parse_server_key_exchange(suite, body) {
            Ok(KeyExchangeParams::DhPrime(bits)) if bits as usize > 8 * body.len() || bits == 0 => {
                return Err(format!("a DH prime of {bits} bits in {} bytes", body.len()));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Arbitrary bytes — noise, random records, and captures mutated every which way — never
/// make the reply parser panic, outlast its deadline, or return more than its caps allow.
#[tokio::test]
async fn arbitrary_bytes_never_break_the_reply_parser() {
    use futures::FutureExt;

    let seed = env_u64("KENSA_FUZZ_SEED").unwrap_or(0x6b65_6e73_6177_6972);
    let cases = env_u64("KENSA_FUZZ_CASES").unwrap_or(20_000);
    let only = env_u64("KENSA_FUZZ_CASE");
    eprintln!("reply-parser property test: seed {seed:#x}, {cases} cases (KENSA_FUZZ_SEED / KENSA_FUZZ_CASES)");
    let captures = load_captures();
    let started = std::time::Instant::now();
    let mut kinds: std::collections::BTreeMap<&str, usize> = Default::default();
    let mut answers: std::collections::BTreeMap<String, usize> = Default::default();
    for case in 0..cases {
        if only.is_some_and(|o| o != case) {
            continue;
        }
        let mut rng = Rng::new(seed ^ case.wrapping_mul(0xd134_2543_de82_ef95));
        let (kind, wire) = generate(&mut rng, &captures);
        *kinds.entry(kind).or_default() += 1;
        // One case in 500 arrives over a stream that stays open, to hold the reader to its
        // deadline; the rest come from a slice, which ends.
        let stalls = rng.chance(500);
        let deadline_ms = if stalls { 30 } else { 2000 };
        let begun = std::time::Instant::now();
        let run = async {
            let (reply, transcript) = if stalls {
                // Room for every byte, so that writing them all never waits for the reader.
                let (mut server, client) = tokio::io::duplex(wire.len() + 1);
                let _ = server.write_all(&wire).await;
                let got = read_server_reply(client, later(deadline_ms)).await;
                drop(server);
                got
            } else {
                read_server_reply(&wire[..], later(deadline_ms)).await
            };
            let checked = if stalls {
                match &reply {
                    HelloReply::Closed => Err("closed although the stream stayed open".to_string()),
                    _ => Ok(()),
                }
            } else {
                match check_reply(&wire, &reply, &transcript) {
                    Ok(()) => check_framing_invariance(&mut rng, &wire).await,
                    Err(e) => Err(e),
                }
            };
            (reply, checked.and_then(|()| run_parsers(&mut rng, &wire)))
        };
        let outcome = std::panic::AssertUnwindSafe(run).catch_unwind().await;
        let took = begun.elapsed();
        let failure = match &outcome {
            Err(_) => Some("panicked".to_string()),
            Ok((_, Err(e))) => Some(e.clone()),
            Ok(_) if took > Duration::from_millis(deadline_ms + 1000) => {
                Some(format!("took {took:?} with a {deadline_ms} ms deadline"))
            }
            Ok(_) => None,
        };
        if let Some(failure) = failure {
            panic!(
                "case {case} ({kind}) {failure}\nreproduce: KENSA_FUZZ_SEED={seed:#x} KENSA_FUZZ_CASE={case} \
                 cargo test --test wire_replies arbitrary_bytes\ninput: {}",
                hex::encode(&wire)
            );
        }
        if let Ok((reply, _)) = outcome {
            let label = match reply {
                HelloReply::ServerHello { details, .. } if details.flight_error.is_some() => {
                    "server_hello+flight_error"
                }
                HelloReply::ServerHello { .. } => "server_hello",
                HelloReply::Alert { .. } => "alert",
                HelloReply::Malformed { .. } => "malformed",
                HelloReply::Closed => "closed",
                HelloReply::Timeout => "timeout",
                _ => "other",
            };
            *answers.entry(label.to_string()).or_default() += 1;
        }
    }
    eprintln!("{cases} cases in {:?}: inputs {kinds:?}; replies {answers:?}", started.elapsed());
    if only.is_none() && cases >= 1000 {
        // The generators must reach deep: whole hellos and flights, not only early rejections.
        assert!(answers.get("server_hello").copied().unwrap_or(0) > 0, "{answers:?}");
        assert!(answers.get("server_hello+flight_error").copied().unwrap_or(0) > 0, "{answers:?}");
        assert!(answers.get("alert").copied().unwrap_or(0) > 0, "{answers:?}");
    }
}

// ---------------------------------------------------------------------------------------
// The recorder.
// ---------------------------------------------------------------------------------------

/// Captures the fixtures from `openssl s_server`. Run on demand (see the module docs).
#[tokio::test]
#[ignore = "writes fixtures; run with KENSA_WRITE_FIXTURES=1"]
async fn record_wire_fixtures() {
    if std::env::var_os("KENSA_WRITE_FIXTURES").is_none() {
        eprintln!("set KENSA_WRITE_FIXTURES=1 to rewrite fixtures/wire");
        return;
    }
    recorder::record_all(&fixture_dir()).await;
}

mod recorder {
    use std::net::SocketAddr;
    use std::path::Path;
    use std::process::{Command, Stdio};
    use std::time::Duration;

    use kensa::evidence::HelloReply;
    use kensa::testkit::{OpenSslServer, TempDir, TestCa, Validity};
    use kensa::wire::client_hello::{ClientHello, HelloOptions};
    use kensa::wire::server_reply::HELLO_RETRY_REQUEST_RANDOM;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use super::{frames, mismatches, Expectation, HS_SERVER_HELLO, HS_SERVER_HELLO_DONE};

    /// The hello to send: a TLS version (0x0304 for a TLS 1.3 hello), one suite, the groups.
    struct Hello {
        version: u16,
        suites: &'static [u16],
        groups: &'static [u16],
    }

    impl Hello {
        fn record(&self) -> Vec<u8> {
            let options = HelloOptions {
                server_name: Some("localhost"),
                groups: Some(self.groups),
                alpn: &[],
                fallback_scsv: false,
                ask_features: true,
            };
            let hello = if self.version == 0x0304 {
                ClientHello::tls13(self.suites, &options)
            } else {
                ClientHello::tls(self.version, self.suites, &options)
            };
            hello.and_then(|h| h.to_record()).expect("hello")
        }

        fn describe(&self) -> String {
            let suites: Vec<String> = self.suites.iter().map(|s| format!("{s:#06x}")).collect();
            let groups: Vec<String> = self.groups.iter().map(|g| format!("{g:#06x}")).collect();
            let kind = if self.version == 0x0304 {
                "TLS 1.3 (empty key_share)".to_string()
            } else {
                format!("{:#06x}", self.version)
            };
            format!(
                "kensa hello {kind}, suites [{}], groups [{}], SNI localhost, ask_features",
                suites.join(", "),
                groups.join(", ")
            )
        }
    }

    /// Where the first flight ends in `wire`: after the record that completes the
    /// ServerHelloDone, a TLS 1.3 ServerHello or HelloRetryRequest, or an alert.
    fn flight_end(wire: &[u8]) -> Option<usize> {
        let (records, _) = frames::records(wire);
        let mut ends = Vec::new();
        let mut at = 0;
        for r in &records {
            at += 5 + r.payload.len();
            ends.push(at);
        }
        if let Some(i) = records.iter().position(|r| r.typ == 21) {
            return Some(ends[i]);
        }
        frames::handshake_messages(wire).iter().find_map(|m| {
            let tls13 = m.typ == HS_SERVER_HELLO
                && (m.body.get(2..34) == Some(&HELLO_RETRY_REQUEST_RANDOM[..])
                    || frames::server_hello_extensions(&m.body).contains(&43));
            (m.typ == HS_SERVER_HELLO_DONE || tls13).then(|| ends[m.record])
        })
    }

    async fn capture(addr: SocketAddr, hello: &[u8]) -> Vec<u8> {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream.write_all(hello).await.expect("send the hello");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        let mut got = Vec::new();
        loop {
            if let Some(end) = flight_end(&got) {
                got.truncate(end);
                return got;
            }
            let mut buf = [0u8; 4096];
            match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => got.extend_from_slice(&buf[..n]),
                other => panic!("no whole flight ({} bytes): {other:?}", got.len()),
            }
        }
    }

    fn openssl(dir: &Path, args: &[&str]) {
        let status = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run openssl");
        assert!(status.success(), "openssl {args:?} failed");
    }

    fn hex_list(values: &[u16]) -> String {
        let items: Vec<String> = values.iter().map(|v| format!("0x{v:04x}")).collect();
        format!("[{}]", items.join(", "))
    }

    /// The expectation file: what the recorder knows a priori, plus the extension list and
    /// record count read by the independent decoder in `frames`.
    fn expectation_toml(about: &str, recorded_with: &str, wire: &[u8], reply: &HelloReply) -> String {
        let (records, _) = frames::records(wire);
        let mut t = format!("about = {about:?}\nrecorded_with = {recorded_with:?}\nrecords = {}\n", records.len());
        match reply {
            HelloReply::ServerHello { version, cipher_suite, chain, details } => {
                let hello = frames::handshake_messages(wire).into_iter().find(|m| m.typ == HS_SERVER_HELLO);
                let extensions = hello.map(|m| frames::server_hello_extensions(&m.body)).unwrap_or_default();
                t += "reply = \"server_hello\"\n";
                t += &format!("version = 0x{version:04x}\ncipher_suite = 0x{cipher_suite:04x}\n");
                if details.retry_request {
                    t += "retry_request = true\n";
                }
                if let Some(g) = details.group {
                    t += &format!("group = 0x{g:04x}\n");
                }
                if let Some(bits) = details.dh_bits {
                    t += &format!("dh_bits = {bits}\n");
                }
                t += &format!("chain_len = {}\nextensions = {}\n", chain.len(), hex_list(&extensions));
            }
            HelloReply::Alert { level, description } => {
                t += &format!("reply = \"alert\"\nalert_level = {level}\nalert_description = {description}\n");
            }
            other => panic!("not a fixture: {other:?}"),
        }
        t
    }

    struct Case {
        name: &'static str,
        about: &'static str,
        /// Which certificate: "rsa" (RSA-2048 leaf under an RSA CA) or "ecdsa" (P-256, rcgen).
        key: &'static str,
        server: &'static [&'static str],
        hello: Hello,
        /// A priori: version, suite, group, dh_bits, chain length — or the alert.
        want: Want,
    }

    enum Want {
        Hello { version: u16, suite: u16, group: Option<u16>, dh_bits: Option<u32>, chain_len: usize, retry: bool },
        Alert(u8),
    }

    fn cases() -> Vec<Case> {
        let seclevel0: &'static [&'static str] = &["-tls1_2", "-cipher", "ALL:@SECLEVEL=0"];
        vec![
            Case {
                name: "tls12-ecdhe-rsa",
                about: "TLS 1.2 ECDHE-RSA flight: ServerHello, Certificate (leaf + CA), ServerKeyExchange (x25519), ServerHelloDone",
                key: "rsa",
                server: seclevel0,
                hello: Hello { version: 0x0303, suites: &[0xc02f], groups: &[0x001d] },
                want: Want::Hello { version: 0x0303, suite: 0xc02f, group: Some(0x001d), dh_bits: None, chain_len: 2, retry: false },
            },
            Case {
                name: "tls12-dhe-rsa",
                about: "TLS 1.2 DHE-RSA flight with the RFC 7919 ffdhe2048 prime in the ServerKeyExchange",
                key: "rsa",
                server: &["-tls1_2", "-cipher", "ALL:@SECLEVEL=0", "-dhparam", "DHPARAM"],
                hello: Hello { version: 0x0303, suites: &[0x009e], groups: &[0x001d] },
                want: Want::Hello { version: 0x0303, suite: 0x009e, group: None, dh_bits: Some(2048), chain_len: 2, retry: false },
            },
            Case {
                name: "tls12-ecdhe-ecdsa",
                about: "TLS 1.2 ECDHE-ECDSA flight: P-256 leaf and CA made by rcgen, secp256r1 key exchange",
                key: "ecdsa",
                server: seclevel0,
                hello: Hello { version: 0x0303, suites: &[0xc02b], groups: &[0x0017] },
                want: Want::Hello { version: 0x0303, suite: 0xc02b, group: Some(0x0017), dh_bits: None, chain_len: 2, retry: false },
            },
            Case {
                name: "tls11-rsa",
                about: "TLS 1.1 static-RSA flight: no ServerKeyExchange",
                key: "rsa",
                server: &["-tls1_1", "-cipher", "ALL:@SECLEVEL=0"],
                hello: Hello { version: 0x0302, suites: &[0x002f], groups: &[0x001d] },
                want: Want::Hello { version: 0x0302, suite: 0x002f, group: None, dh_bits: None, chain_len: 2, retry: false },
            },
            Case {
                name: "tls10-ecdhe-rsa",
                about: "TLS 1.0 ECDHE-RSA flight (CBC suite, secp256r1) from a TLS 1.0-only server",
                key: "rsa",
                server: &["-tls1", "-cipher", "ALL:@SECLEVEL=0"],
                hello: Hello { version: 0x0301, suites: &[0xc013], groups: &[0x0017] },
                want: Want::Hello { version: 0x0301, suite: 0xc013, group: Some(0x0017), dh_bits: None, chain_len: 2, retry: false },
            },
            Case {
                name: "tls13-hello-retry-request",
                about: "TLS 1.3 HelloRetryRequest naming suite and group, in reply to kensa's empty key_share",
                key: "rsa",
                server: &["-tls1_3"],
                hello: Hello { version: 0x0304, suites: &[0x1302], groups: &[0x0018] },
                want: Want::Hello { version: 0x0304, suite: 0x1302, group: Some(0x0018), dh_bits: None, chain_len: 0, retry: true },
            },
            Case {
                name: "alert-handshake-failure",
                about: "fatal handshake_failure: the only suite offered (static-RSA AES-128-GCM) is not enabled",
                key: "rsa",
                server: &["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"],
                hello: Hello { version: 0x0303, suites: &[0x009c], groups: &[0x001d] },
                want: Want::Alert(40),
            },
            Case {
                name: "alert-protocol-version",
                about: "fatal protocol_version: a TLS 1.0 hello to a TLS 1.2-only server",
                key: "rsa",
                server: &["-tls1_2", "-cipher", "ALL:@SECLEVEL=0"],
                hello: Hello { version: 0x0301, suites: &[0xc013, 0x002f], groups: &[0x0017] },
                want: Want::Alert(70),
            },
        ]
    }

    fn check_a_priori(name: &str, want: &Want, reply: &HelloReply) {
        match (want, reply) {
            (
                Want::Hello { version, suite, group, dh_bits, chain_len, retry },
                HelloReply::ServerHello { version: v, cipher_suite: s, chain, details },
            ) => {
                assert_eq!(
                    (*version, *suite, *group, *dh_bits, *chain_len, *retry),
                    (*v, *s, details.group, details.dh_bits, chain.len(), details.retry_request),
                    "{name}: {reply:?}"
                );
                assert_eq!(details.flight_error, None, "{name}");
            }
            (Want::Alert(description), HelloReply::Alert { level: 2, description: d }) => {
                assert_eq!(description, d, "{name}");
            }
            _ => panic!("{name}: unexpected reply {reply:?}"),
        }
    }

    pub async fn record_all(dir: &Path) {
        std::fs::create_dir_all(dir).expect("fixture dir");
        let work = TempDir::new("wire-fixtures").expect("work dir");
        let w = work.path();
        // An RSA CA and an RSA-2048 leaf for localhost, as a legacy deployment would have.
        openssl(
            w,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "3650",
                "-subj",
                "/CN=kensa wire fixture CA",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
            ],
        );
        openssl(
            w,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                "/CN=localhost",
                "-keyout",
                "leaf.key",
                "-out",
                "leaf.csr",
            ],
        );
        std::fs::write(w.join("ext.cnf"), "subjectAltName=DNS:localhost\n").expect("ext");
        openssl(
            w,
            &[
                "x509",
                "-req",
                "-in",
                "leaf.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-set_serial",
                "7",
                "-days",
                "3650",
                "-extfile",
                "ext.cnf",
                "-out",
                "leaf.pem",
            ],
        );
        openssl(w, &["genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", "group:ffdhe2048", "-out", "dh.pem"]);
        let ca = TestCa::new("kensa wire fixture ECDSA CA").expect("ca");
        let ecdsa = ca.issue(&["localhost"], Validity { from_days: -1, until_days: 3650 }).expect("leaf");
        std::fs::write(w.join("ecdsa-ca.pem"), ca.certificate_pem()).expect("ca pem");
        std::fs::write(w.join("ecdsa-leaf.pem"), kensa::testkit::pem_encode(&ecdsa.chain[0])).expect("leaf pem");
        let read = |name: &str| std::fs::read_to_string(w.join(name)).expect("PEM");
        let path = |name: &str| w.join(name).to_string_lossy().into_owned();

        let mut recorded = Vec::new();
        for case in cases() {
            let (cert, key, chain) = match case.key {
                "ecdsa" => (read("ecdsa-leaf.pem"), ecdsa.key_pem(), path("ecdsa-ca.pem")),
                _ => (read("leaf.pem"), read("leaf.key"), path("ca.pem")),
            };
            let mut args: Vec<String> =
                case.server.iter().map(|a| if *a == "DHPARAM" { path("dh.pem") } else { a.to_string() }).collect();
            args.extend(["-cert_chain".to_string(), chain]);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let server = OpenSslServer::start_with_files(&cert, &key, &args).expect("openssl s_server");
            let wire = capture(server.addr, &case.hello.record()).await;
            drop(server);
            let (reply, _) = super::reply_to(&wire).await;
            check_a_priori(case.name, &case.want, &reply);
            let recorded_with = format!(
                "openssl s_server {} (Debian {}); {}",
                case.server.join(" ").replace("DHPARAM", "ffdhe2048.pem"),
                openssl_version(),
                case.hello.describe()
            );
            let toml = expectation_toml(case.about, &recorded_with, &wire, &reply);
            save(dir, case.name, &wire, &toml, &reply);
            recorded.push((case.name, wire, toml, reply));
        }

        // The ECDHE-RSA flight again, re-framed into records of 16 bytes: a message split over
        // many records, and records that end inside a message header.
        let (_, wire, toml, reply) = recorded.iter().find(|(n, ..)| *n == "tls12-ecdhe-rsa").expect("recorded");
        let fragmented = frames::reframe(wire, 16);
        let records = frames::records(&fragmented).0.len();
        let toml = toml
            .lines()
            .map(|l| match l {
                l if l.starts_with("about") => {
                    format!("about = {:?}", "the tls12-ecdhe-rsa capture re-framed into records of at most 16 bytes")
                }
                l if l.starts_with("records") => format!("records = {records}"),
                l => l.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n")
            + "\n";
        let (again, _) = super::reply_to(&fragmented).await;
        assert_eq!(&again, reply, "the re-framed flight reads the same");
        save(dir, "tls12-ecdhe-rsa-fragmented", &fragmented, &toml, reply);
    }

    fn save(dir: &Path, name: &str, wire: &[u8], toml: &str, reply: &HelloReply) {
        let expect: Expectation = toml::from_str(toml).expect("expectation parses");
        let wrong = mismatches(&expect, reply);
        assert!(wrong.is_empty(), "{name}: {}", wrong.join("; "));
        std::fs::write(dir.join(format!("{name}.hex")), hex::encode(wire) + "\n").expect("write hex");
        std::fs::write(dir.join(format!("{name}.toml")), toml).expect("write toml");
        eprintln!("recorded {name}: {} bytes, {} records", wire.len(), expect.records);
    }

    fn openssl_version() -> String {
        let out = Command::new("openssl").arg("version").output().expect("openssl version");
        String::from_utf8_lossy(&out.stdout).split_whitespace().take(2).collect::<Vec<_>>().join(" ")
    }
}
