//! Interpreting the server's first flight in reply to a hand-built ClientHello.
//!
//! Only the plaintext start of the flight matters to kensa: the ServerHello (which version
//! and suite the server chose) and, when it follows directly, the Certificate message (the
//! chain served at that version). Reading stops there, at ServerHelloDone, at any other
//! handshake message, or at the deadline; nothing is ever sent back, so the server is left
//! waiting for a ClientKeyExchange that never comes.

use tls_parser::{parse_tls_handshake_msg_certificate, parse_tls_handshake_msg_server_hello, TlsMessageHandshake};
use tokio::io::AsyncRead;
use tokio::time::Instant;

use super::codec::Reader;
use super::deframer::{Deframer, Message, Stop, Transcript};
use crate::evidence::{CertDer, HelloReply};

/// Handshake type: HelloRequest.
pub const HS_HELLO_REQUEST: u8 = 0;
/// Handshake type: ServerHello.
pub const HS_SERVER_HELLO: u8 = 2;
/// Handshake type: Certificate.
pub const HS_CERTIFICATE: u8 = 11;
/// Handshake type: ServerHelloDone.
pub const HS_SERVER_HELLO_DONE: u8 = 14;

/// Alert description: handshake_failure.
pub const ALERT_HANDSHAKE_FAILURE: u8 = 40;
/// Alert description: insufficient_security.
pub const ALERT_INSUFFICIENT_SECURITY: u8 = 71;
/// Alert description: close_notify.
pub const ALERT_CLOSE_NOTIFY: u8 = 0;
/// Alert level: warning.
pub const ALERT_LEVEL_WARNING: u8 = 1;

/// Extension type: supported_versions (RFC 8446).
const EXT_SUPPORTED_VERSIONS: u16 = 43;

/// What a ServerHello says, as far as kensa needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerHelloInfo {
    /// The negotiated version: `supported_versions` if present, else `server_version`.
    pub version: u16,
    /// The chosen cipher suite.
    pub cipher_suite: u16,
}

/// Decodes a ServerHello body (without the handshake header) completely, or says why not.
///
/// SSLv3 ServerHellos are parsed by tls-parser without extensions, but real SSLv3 stacks
/// (OpenSSL among them) append renegotiation_info anyway, so a well-formed extension block
/// is accepted there too. Any other trailing byte is malformed.
pub fn parse_server_hello(body: &[u8]) -> Result<ServerHelloInfo, String> {
    let (rest, message) = parse_tls_handshake_msg_server_hello(body).map_err(|_| match Reader::new(body).u16() {
        Some(v @ (0x0300..=0x0303 | 0x7f12)) => {
            format!("undecodable ServerHello (version {v:#06x})")
        }
        Some(v) => format!("ServerHello with unknown version {v:#06x}"),
        None => "empty ServerHello".to_string(),
    })?;
    let (server_version, cipher_suite, ext) = match message {
        TlsMessageHandshake::ServerHello(sh) => (sh.version.0, sh.cipher.0, sh.ext),
        TlsMessageHandshake::ServerHelloV13Draft18(sh) => (sh.version.0, sh.cipher.0, sh.ext),
        _ => return Err("undecodable ServerHello".to_string()),
    };
    let ext = match (ext, rest.is_empty()) {
        (ext, true) => ext,
        (None, false) if server_version == 0x0300 => {
            let mut r = Reader::new(rest);
            let block = r.vec_u16();
            if !r.is_empty() || block.is_none() {
                return Err(format!("{} trailing bytes after ServerHello", rest.len()));
            }
            block
        }
        (_, false) => return Err(format!("{} trailing bytes after ServerHello", rest.len())),
    };
    let mut version = server_version;
    if let Some(block) = ext {
        let mut r = Reader::new(block);
        while !r.is_empty() {
            let (Some(typ), Some(data)) = (r.u16(), r.vec_u16()) else {
                return Err("malformed extensions in ServerHello".to_string());
            };
            if typ == EXT_SUPPORTED_VERSIONS {
                let mut d = Reader::new(data);
                match (d.u16(), d.is_empty()) {
                    (Some(v), true) => version = v,
                    _ => return Err("malformed supported_versions in ServerHello".to_string()),
                }
            }
        }
    }
    Ok(ServerHelloInfo { version, cipher_suite })
}

/// Decodes a TLS 1.0–1.2 Certificate body into its chain, leaf first.
pub fn parse_certificate(body: &[u8]) -> Result<Vec<CertDer>, String> {
    let Ok((rest, TlsMessageHandshake::Certificate(contents))) = parse_tls_handshake_msg_certificate(body) else {
        return Err("undecodable Certificate message".to_string());
    };
    // tls-parser stops quietly at a bad entry; insist that the entries fill the list.
    let listed: usize = contents.cert_chain.iter().map(|c| 3 + c.data.len()).sum();
    if !rest.is_empty() || listed + 3 != body.len() {
        return Err("Certificate message with inconsistent lengths".to_string());
    }
    if contents.cert_chain.iter().any(|c| c.data.is_empty()) {
        return Err("empty certificate in Certificate message".to_string());
    }
    Ok(contents.cert_chain.iter().map(|c| CertDer(c.data.to_vec())).collect())
}

/// Reads the first flight from `reader` until `deadline` and interprets it, returning the
/// reply and every byte received (capped).
pub async fn read_server_reply<R: AsyncRead + Unpin>(reader: R, deadline: Instant) -> (HelloReply, Transcript) {
    let mut deframer = Deframer::new(reader, deadline);
    let reply = interpret(&mut deframer).await;
    let (_, transcript) = deframer.into_parts();
    (reply, transcript)
}

async fn interpret<R: AsyncRead + Unpin>(d: &mut Deframer<R>) -> HelloReply {
    // Warning alerts before the ServerHello are not refusals: Apache, for one, sends a
    // warning unrecognized_name and then carries on with the handshake.
    let mut warning: Option<(u8, u8)> = None;
    let hello = loop {
        let message = match d.next_message().await {
            Ok(m) => m,
            Err(stop) => {
                if let Some((level, description)) = warning {
                    return HelloReply::Alert { level, description };
                }
                return match stop {
                    Stop::Closed if d.received() == 0 => HelloReply::Closed,
                    Stop::Closed => HelloReply::Malformed {
                        reason: format!("connection closed after {} bytes without a ServerHello", d.received()),
                    },
                    Stop::Reset => HelloReply::Reset,
                    Stop::Timeout => HelloReply::Timeout,
                    Stop::Malformed(reason) => HelloReply::Malformed { reason },
                };
            }
        };
        match message {
            Message::Alert { level, description }
                if level == ALERT_LEVEL_WARNING && description != ALERT_CLOSE_NOTIFY =>
            {
                warning = Some((level, description));
            }
            Message::Alert { level, description } => {
                return HelloReply::Alert { level, description };
            }
            Message::Handshake { typ: HS_HELLO_REQUEST, body } if body.is_empty() => {}
            Message::Handshake { typ: HS_SERVER_HELLO, body } => match parse_server_hello(&body) {
                Ok(hello) => break hello,
                Err(reason) => return HelloReply::Malformed { reason },
            },
            Message::Handshake { typ, .. } => {
                return HelloReply::Malformed {
                    reason: format!("expected ServerHello, got handshake message {}", handshake_name(typ)),
                };
            }
            Message::ChangeCipherSpec => {
                return HelloReply::Malformed { reason: "ChangeCipherSpec before ServerHello".to_string() };
            }
            Message::Other { content_type, .. } => {
                return HelloReply::Malformed {
                    reason: format!("record of content type {content_type} before ServerHello"),
                };
            }
        }
    };
    // The version is decided; the chain is a bonus. Whatever follows — a late or broken
    // Certificate, ServerHelloDone, a key exchange for an anonymous suite — the answer stays
    // a ServerHello, with the chain only if it arrived intact and in time.
    let chain = match d.next_message().await {
        Ok(Message::Handshake { typ: HS_CERTIFICATE, body }) => parse_certificate(&body).unwrap_or_default(),
        _ => Vec::new(),
    };
    HelloReply::ServerHello { version: hello.version, cipher_suite: hello.cipher_suite, chain }
}

/// The RFC name of an alert description, such as `handshake_failure`.
pub fn alert_name(description: u8) -> String {
    let name = match description {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        21 => "decryption_failed",
        22 => "record_overflow",
        30 => "decompression_failure",
        40 => "handshake_failure",
        41 => "no_certificate",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        60 => "export_restriction",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        100 => "no_renegotiation",
        109 => "missing_extension",
        110 => "unsupported_extension",
        111 => "certificate_unobtainable",
        112 => "unrecognized_name",
        113 => "bad_certificate_status_response",
        114 => "bad_certificate_hash_value",
        115 => "unknown_psk_identity",
        116 => "certificate_required",
        120 => "no_application_protocol",
        other => return format!("unknown_alert_{other}"),
    };
    name.to_string()
}

fn handshake_name(typ: u8) -> String {
    let name = match typ {
        0 => "HelloRequest",
        1 => "ClientHello",
        2 => "ServerHello",
        4 => "NewSessionTicket",
        8 => "EncryptedExtensions",
        11 => "Certificate",
        12 => "ServerKeyExchange",
        13 => "CertificateRequest",
        14 => "ServerHelloDone",
        15 => "CertificateVerify",
        16 => "ClientKeyExchange",
        20 => "Finished",
        22 => "CertificateStatus",
        other => return format!("type {other}"),
    };
    name.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::io::AsyncWriteExt;

    use crate::wire::test_frames::{handshake, record};

    fn server_hello(version: u16, suite: u16, ext: Option<&[u8]>) -> Vec<u8> {
        let mut b = version.to_be_bytes().to_vec();
        b.extend_from_slice(&[0x42; 32]);
        b.push(4);
        b.extend_from_slice(&[1, 2, 3, 4]);
        b.extend_from_slice(&suite.to_be_bytes());
        b.push(0);
        if let Some(ext) = ext {
            b.extend_from_slice(&(ext.len() as u16).to_be_bytes());
            b.extend_from_slice(ext);
        }
        handshake(HS_SERVER_HELLO, &b)
    }

    fn certificate(certs: &[&[u8]]) -> Vec<u8> {
        let mut list = Vec::new();
        for c in certs {
            list.extend_from_slice(&(c.len() as u32).to_be_bytes()[1..]);
            list.extend_from_slice(c);
        }
        let mut b = (list.len() as u32).to_be_bytes()[1..].to_vec();
        b.extend(list);
        handshake(HS_CERTIFICATE, &b)
    }

    async fn reply_to(wire: &[u8]) -> (HelloReply, Transcript) {
        read_server_reply(wire, Instant::now() + Duration::from_secs(1)).await
    }

    const RENEG_INFO: &[u8] = &[0xff, 0x01, 0x00, 0x01, 0x00];

    #[tokio::test]
    async fn full_flight_in_one_record() {
        let mut flight = server_hello(0x0301, 0x002f, Some(RENEG_INFO));
        flight.extend(certificate(&[b"leaf-der", b"ca-der"]));
        flight.extend(handshake(HS_SERVER_HELLO_DONE, &[]));
        let wire = record(22, 0x0301, &flight);
        let (reply, transcript) = reply_to(&wire).await;
        assert_eq!(
            reply,
            HelloReply::ServerHello {
                version: 0x0301,
                cipher_suite: 0x002f,
                chain: vec![CertDer(b"leaf-der".to_vec()), CertDer(b"ca-der".to_vec())],
            }
        );
        assert_eq!(transcript.bytes, wire);
        assert!(!transcript.truncated);
    }

    #[tokio::test]
    async fn flight_in_separate_records_with_fragmented_certificate() {
        let cert = certificate(&[&[0x30; 3000]]);
        let mut wire = record(22, 0x0302, &server_hello(0x0302, 0xc013, None));
        wire.extend(record(22, 0x0302, &cert[..1000]));
        wire.extend(record(22, 0x0302, &cert[1000..]));
        wire.extend(record(22, 0x0302, &handshake(HS_SERVER_HELLO_DONE, &[])));
        let (reply, _) = reply_to(&wire).await;
        let HelloReply::ServerHello { version, cipher_suite, chain } = reply else { panic!("{reply:?}") };
        assert_eq!((version, cipher_suite, chain.len()), (0x0302, 0xc013, 1));
        assert_eq!(chain[0].0.len(), 3000);
    }

    #[tokio::test]
    async fn sslv3_hello_with_renegotiation_info() {
        let mut flight = server_hello(0x0300, 0x000a, Some(RENEG_INFO));
        flight.extend(handshake(HS_SERVER_HELLO_DONE, &[]));
        let (reply, _) = reply_to(&record(22, 0x0300, &flight)).await;
        assert_eq!(reply, HelloReply::ServerHello { version: 0x0300, cipher_suite: 0x000a, chain: vec![] });
    }

    #[tokio::test]
    async fn anonymous_suite_has_no_chain() {
        let mut flight = server_hello(0x0301, 0x0034, None);
        flight.extend(handshake(12, &[0; 20]));
        flight.extend(certificate(&[b"never-read"]));
        let (reply, _) = reply_to(&record(22, 0x0301, &flight)).await;
        assert_eq!(reply, HelloReply::ServerHello { version: 0x0301, cipher_suite: 0x0034, chain: vec![] });
    }

    #[tokio::test]
    async fn other_version_and_supported_versions() {
        let (reply, _) = reply_to(&record(22, 0x0303, &server_hello(0x0303, 0xc02f, None))).await;
        assert!(matches!(reply, HelloReply::ServerHello { version: 0x0303, .. }));
        let sv = [0x00, 0x2b, 0x00, 0x02, 0x03, 0x04];
        let (reply, _) = reply_to(&record(22, 0x0303, &server_hello(0x0303, 0x1301, Some(&sv)))).await;
        assert!(matches!(reply, HelloReply::ServerHello { version: 0x0304, cipher_suite: 0x1301, .. }));
    }

    #[tokio::test]
    async fn alerts() {
        let (reply, _) = reply_to(&record(21, 0x0301, &[2, 40])).await;
        assert_eq!(reply, HelloReply::Alert { level: 2, description: 40 });
        // A warning, then the real hello.
        let mut wire = record(21, 0x0301, &[1, 112]);
        wire.extend(record(22, 0x0301, &server_hello(0x0301, 0x002f, None)));
        let (reply, _) = reply_to(&wire).await;
        assert!(matches!(reply, HelloReply::ServerHello { .. }));
        // A warning and then nothing: the warning is the answer.
        let (reply, _) = reply_to(&record(21, 0x0301, &[1, 112])).await;
        assert_eq!(reply, HelloReply::Alert { level: 1, description: 112 });
        assert_eq!(alert_name(70), "protocol_version");
        assert_eq!(alert_name(200), "unknown_alert_200");
    }

    #[tokio::test]
    async fn closed_and_malformed() {
        assert_eq!(reply_to(&[]).await.0, HelloReply::Closed);
        let (reply, _) = reply_to(&record(22, 0x0301, &certificate(&[b"x"]))).await;
        assert!(matches!(reply, HelloReply::Malformed { reason } if reason.contains("expected ServerHello")));
        let mut bad = server_hello(0x0301, 0x002f, None);
        bad.extend_from_slice(&[0]); // a stray byte inside the handshake message
        bad[3] += 1;
        let (reply, _) = reply_to(&record(22, 0x0301, &bad)).await;
        assert!(matches!(&reply, HelloReply::Malformed { reason } if reason.contains("trailing")), "{reply:?}");
        let (reply, _) = reply_to(&record(22, 0x0301, &server_hello(0x0909, 1, None))).await;
        assert!(matches!(reply, HelloReply::Malformed { reason } if reason.contains("0x0909")));
        let mut truncated = record(22, 0x0301, &server_hello(0x0301, 0x002f, None));
        truncated.truncate(30);
        let (reply, transcript) = reply_to(&truncated).await;
        assert!(matches!(reply, HelloReply::Malformed { .. }));
        assert_eq!(transcript.bytes.len(), 30);
        let (reply, _) = reply_to(b"\x00\x00\x00garbage").await;
        assert!(matches!(reply, HelloReply::Malformed { .. }));
    }

    #[tokio::test]
    async fn hello_then_silence_is_still_a_hello() {
        let (mut server, client) = tokio::io::duplex(4096);
        server.write_all(&record(22, 0x0301, &server_hello(0x0301, 0x002f, None))).await.unwrap();
        let (reply, _) = read_server_reply(client, Instant::now() + Duration::from_millis(100)).await;
        assert_eq!(reply, HelloReply::ServerHello { version: 0x0301, cipher_suite: 0x002f, chain: vec![] });
        drop(server);
    }

    #[tokio::test]
    async fn silence_is_a_timeout() {
        let (_server, client) = tokio::io::duplex(64);
        let (reply, transcript) = read_server_reply(client, Instant::now() + Duration::from_millis(50)).await;
        assert_eq!(reply, HelloReply::Timeout);
        assert!(transcript.bytes.is_empty());
    }

    #[tokio::test]
    async fn mutated_flights_never_panic() {
        let mut flight = server_hello(0x0301, 0x002f, Some(RENEG_INFO));
        flight.extend(certificate(&[b"leaf", b"ca"]));
        flight.extend(handshake(HS_SERVER_HELLO_DONE, &[]));
        let base = record(22, 0x0301, &flight);
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for i in 0..3000 {
            let mut wire = base.clone();
            for _ in 0..=(i % 4) {
                let r = next();
                let at = (r as usize) % wire.len();
                wire[at] = (r >> 40) as u8;
            }
            if i % 3 == 0 {
                wire.truncate((next() as usize) % wire.len());
            }
            let _ = reply_to(&wire).await;
            let _ = parse_server_hello(wire.get(9..).unwrap_or_default());
            let _ = parse_certificate(wire.get(9..).unwrap_or_default());
            let _ = crate::wire::sslv2::parse_message(&wire);
        }
    }

    #[test]
    fn certificate_lengths_must_agree() {
        let good = certificate(&[b"abc"]);
        assert_eq!(parse_certificate(&good[4..]).unwrap(), vec![CertDer(b"abc".to_vec())]);
        let mut bad = good[4..].to_vec();
        bad[2] += 2; // list claims two more bytes than its entries use
        bad.extend_from_slice(&[0, 0]);
        assert!(parse_certificate(&bad).is_err());
        assert!(parse_certificate(&[0, 0]).is_err());
    }
}
