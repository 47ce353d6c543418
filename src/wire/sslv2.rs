//! SSLv2 (draft-hickman-netscape-ssl-00): just enough to ask "do you still speak SSLv2?".
//!
//! The CLIENT-HELLO offers all seven SSLv2 cipher kinds; a SERVER-HELLO in reply is proof
//! of SSLv2 support and carries the server certificate in the clear. Servers that do not
//! speak SSLv2 either close, or answer with a TLS record (usually an alert), which is
//! handed to the TLS reply reader so that it is interpreted exactly like any TLS answer.

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::time::Instant;

use super::client_hello::fresh_random;
use super::codec::{Reader, Writer};
use super::deframer::{io_stop, Stop, Transcript, CONTENT_CHANGE_CIPHER_SPEC, CONTENT_HEARTBEAT};
use super::server_reply::read_server_reply;
use super::suites::SSLV2_CIPHER_KINDS;
use crate::evidence::{CertDer, HelloReply};

/// SSLv2 message type CLIENT-HELLO.
pub const MSG_CLIENT_HELLO: u8 = 1;
/// SSLv2 message type SERVER-HELLO.
pub const MSG_SERVER_HELLO: u8 = 4;
/// SSLv2 message type ERROR.
pub const MSG_ERROR: u8 = 0;
/// The SSLv2 protocol version number.
pub const SSLV2_VERSION: u16 = 0x0002;
/// SERVER-HELLO certificate type for X.509 certificates.
pub const CERT_TYPE_X509: u8 = 1;

/// Builds a complete SSLv2 CLIENT-HELLO record offering `kinds`.
pub fn client_hello(kinds: &[[u8; 3]]) -> Vec<u8> {
    let challenge = fresh_random();
    let challenge = challenge.get(..16).unwrap_or(&challenge);
    let mut body = Writer::new();
    body.u8(MSG_CLIENT_HELLO)
        .u16(SSLV2_VERSION)
        .u16((kinds.len() * 3) as u16)
        .u16(0) // no session id
        .u16(challenge.len() as u16);
    for kind in kinds {
        body.bytes(kind);
    }
    body.bytes(challenge);
    // At most 7 kinds in practice; the 15-bit length of a two-byte header holds 32767.
    let body = body.finish().unwrap_or_default();
    let len = body.len().min(0x7fff) as u16;
    let mut record = Writer::new();
    record.u16(0x8000 | len).bytes(&body);
    record.finish().unwrap_or_default()
}

/// The standard kensa SSLv2 hello: every cipher kind.
pub fn standard_client_hello() -> Vec<u8> {
    client_hello(SSLV2_CIPHER_KINDS)
}

/// A decoded SSLv2 SERVER-HELLO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerHello {
    /// Whether the server found the (never sent) session id.
    pub session_id_hit: bool,
    /// 1 for X.509.
    pub certificate_type: u8,
    /// The server's version, 0x0002 for SSLv2.
    pub version: u16,
    /// The certificate as sent (X.509 DER when `certificate_type` is 1).
    pub certificate: Vec<u8>,
    /// The cipher kinds the server accepts from those offered.
    pub cipher_kinds: Vec<[u8; 3]>,
    /// The connection id.
    pub connection_id: Vec<u8>,
}

impl ServerHello {
    /// The first cipher kind as an integer (0x010080…), if any.
    pub fn first_cipher_kind(&self) -> Option<u32> {
        self.cipher_kinds.first().map(|[a, b, c]| u32::from_be_bytes([0, *a, *b, *c]))
    }
}

/// What the first bytes of a reply to an SSLv2 hello are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sslv2Record {
    /// A SERVER-HELLO.
    ServerHello(ServerHello),
    /// An SSLv2 ERROR message with its error code.
    Error(u16),
}

/// Decodes one SSLv2 message (the record body, after the two-byte header).
pub fn parse_message(body: &[u8]) -> Result<Sslv2Record, String> {
    let mut r = Reader::new(body);
    match r.u8() {
        Some(MSG_SERVER_HELLO) => parse_server_hello(&mut r).map(Sslv2Record::ServerHello),
        Some(MSG_ERROR) => match (r.u16(), r.is_empty()) {
            (Some(code), true) => Ok(Sslv2Record::Error(code)),
            _ => Err("malformed SSLv2 ERROR message".to_string()),
        },
        Some(other) => Err(format!("unexpected SSLv2 message type {other}")),
        None => Err("empty SSLv2 record".to_string()),
    }
}

fn parse_server_hello(r: &mut Reader<'_>) -> Result<ServerHello, String> {
    let short = || "truncated SSLv2 SERVER-HELLO".to_string();
    let session_id_hit = r.u8().ok_or_else(short)? != 0;
    let certificate_type = r.u8().ok_or_else(short)?;
    let version = r.u16().ok_or_else(short)?;
    let cert_len = r.u16().ok_or_else(short)?;
    let specs_len = r.u16().ok_or_else(short)?;
    let conn_len = r.u16().ok_or_else(short)?;
    let certificate = r.take(usize::from(cert_len)).ok_or_else(short)?.to_vec();
    let specs = r.take(usize::from(specs_len)).ok_or_else(short)?;
    let connection_id = r.take(usize::from(conn_len)).ok_or_else(short)?.to_vec();
    if !r.is_empty() {
        return Err("trailing bytes after SSLv2 SERVER-HELLO".to_string());
    }
    if specs.len() % 3 != 0 {
        return Err("SSLv2 cipher specs not a multiple of 3 bytes".to_string());
    }
    let cipher_kinds = specs
        .chunks_exact(3)
        .map(|c| {
            let mut k = [0u8; 3];
            k.copy_from_slice(c);
            k
        })
        .collect();
    Ok(ServerHello { session_id_hit, certificate_type, version, certificate, cipher_kinds, connection_id })
}

/// The [`HelloReply`] for a decoded SSLv2 SERVER-HELLO.
///
/// `HelloReply` has a 16-bit `cipher_suite`, which cannot hold a 24-bit SSLv2 cipher kind;
/// it is set to 0 (TLS_NULL_WITH_NULL_NULL, "no TLS suite") and the kinds stay in the raw
/// bytes of the exchange.
pub fn hello_reply(hello: &ServerHello) -> HelloReply {
    let chain = if hello.certificate_type == CERT_TYPE_X509 && !hello.certificate.is_empty() {
        vec![CertDer(hello.certificate.clone())]
    } else {
        Vec::new()
    };
    HelloReply::ServerHello { version: hello.version, cipher_suite: 0, chain, details: Default::default() }
}

/// Reads and interprets the reply to an SSLv2 CLIENT-HELLO until `deadline`.
///
/// A reply starting like a TLS record is handed, bytes already read included, to the TLS
/// reply reader; an SSLv2 record (two-byte header with the high bit set) is read whole and
/// decoded; anything else is malformed.
pub async fn read_reply<R: AsyncRead + Unpin>(mut reader: R, deadline: Instant) -> (HelloReply, Transcript) {
    let mut buf: Vec<u8> = Vec::new();
    let outcome = loop {
        if let Some(&first) = buf.first() {
            if (CONTENT_CHANGE_CIPHER_SPEC..=CONTENT_HEARTBEAT).contains(&first) {
                let prefix = std::mem::take(&mut buf);
                return read_server_reply(AsyncReadExt::chain(&prefix[..], reader), deadline).await;
            }
            if first & 0x80 == 0 {
                break Err(Stop::Malformed(format!("neither SSLv2 nor TLS: first byte {first:#04x}")));
            }
            if let Some(&second) = buf.get(1) {
                let len = usize::from(u16::from_be_bytes([first & 0x7f, second]));
                if buf.len() >= 2 + len {
                    break parse_message(buf.get(2..2 + len).unwrap_or_default()).map_err(Stop::Malformed);
                }
            }
        }
        // The header caps a record at 32 KiB + 1, so `buf` stays bounded.
        let mut chunk = [0u8; 4096];
        match tokio::time::timeout_at(deadline, reader.read(&mut chunk)).await {
            Err(_) => break Err(Stop::Timeout),
            Ok(Err(e)) => break Err(io_stop(&e)),
            Ok(Ok(0)) if buf.is_empty() => break Err(Stop::Closed),
            Ok(Ok(0)) => {
                break Err(Stop::Malformed(format!(
                    "connection closed inside an SSLv2 record ({} bytes of it received)",
                    buf.len()
                )))
            }
            Ok(Ok(n)) => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
        }
    };
    let reply = match outcome {
        Ok(Sslv2Record::ServerHello(hello)) => hello_reply(&hello),
        Ok(Sslv2Record::Error(code)) => HelloReply::Sslv2Error { code, name: error_name(code).to_string() },
        Err(Stop::Closed) => HelloReply::Closed,
        Err(Stop::Reset) => HelloReply::Reset,
        Err(Stop::Timeout) => HelloReply::Timeout,
        Err(Stop::Malformed(reason)) => HelloReply::Malformed { reason },
    };
    let mut transcript = Transcript::default();
    transcript.push(&buf);
    (reply, transcript)
}

fn error_name(code: u16) -> &'static str {
    match code {
        0x0001 => "NO-CIPHER-ERROR",
        0x0002 => "NO-CERTIFICATE-ERROR",
        0x0004 => "BAD-CERTIFICATE-ERROR",
        0x0006 => "UNSUPPORTED-CERTIFICATE-TYPE-ERROR",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn server_hello_record(cert: &[u8], kinds: &[[u8; 3]]) -> Vec<u8> {
        let mut body = vec![MSG_SERVER_HELLO, 0, CERT_TYPE_X509, 0x00, 0x02];
        body.extend_from_slice(&(cert.len() as u16).to_be_bytes());
        body.extend_from_slice(&((kinds.len() * 3) as u16).to_be_bytes());
        body.extend_from_slice(&16u16.to_be_bytes());
        body.extend_from_slice(cert);
        for k in kinds {
            body.extend_from_slice(k);
        }
        body.extend_from_slice(&[0xcc; 16]);
        let mut rec = (0x8000u16 | body.len() as u16).to_be_bytes().to_vec();
        rec.extend(body);
        rec
    }

    async fn reply_to(wire: &[u8]) -> (HelloReply, Transcript) {
        read_reply(wire, Instant::now() + Duration::from_secs(1)).await
    }

    #[test]
    fn client_hello_layout() {
        let hello = standard_client_hello();
        let body_len = 9 + 21 + 16;
        assert_eq!(hello.len(), 2 + body_len);
        assert_eq!(hello[0], 0x80);
        assert_eq!(usize::from(hello[1]), body_len);
        assert_eq!(&hello[2..11], &[1, 0, 2, 0, 21, 0, 0, 0, 16]);
        assert_eq!(&hello[11..14], &[0x01, 0x00, 0x80]);
        assert_eq!(&hello[29..32], &[0x07, 0x00, 0xc0]);
    }

    #[test]
    fn parses_hand_made_server_hello() {
        let rec = server_hello_record(b"\x30\x03\x02\x01\x00", &[[1, 0, 0x80], [7, 0, 0xc0]]);
        let Ok(Sslv2Record::ServerHello(sh)) = parse_message(&rec[2..]) else { panic!() };
        assert_eq!(sh.version, 2);
        assert_eq!(sh.certificate, b"\x30\x03\x02\x01\x00");
        assert_eq!(sh.first_cipher_kind(), Some(0x010080));
        assert_eq!(sh.cipher_kinds.len(), 2);
        assert_eq!(sh.connection_id.len(), 16);
        assert!(parse_message(&rec[2..rec.len() - 1]).is_err());
        assert!(parse_message(&[]).is_err());
        assert_eq!(parse_message(&[0, 0, 1]), Ok(Sslv2Record::Error(1)));
    }

    #[tokio::test]
    async fn reply_kinds() {
        let rec = server_hello_record(b"cert", &[[1, 0, 0x80]]);
        let (reply, transcript) = reply_to(&rec).await;
        assert_eq!(
            reply,
            HelloReply::ServerHello {
                version: 2,
                cipher_suite: 0,
                chain: vec![CertDer(b"cert".to_vec())],
                details: Default::default()
            }
        );
        assert_eq!(transcript.bytes, rec);

        let alert = [0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46];
        let (reply, transcript) = reply_to(&alert).await;
        assert_eq!(reply, HelloReply::Alert { level: 2, description: 70 });
        assert_eq!(transcript.bytes, alert);

        assert_eq!(reply_to(&[]).await.0, HelloReply::Closed);
        assert!(matches!(reply_to(b"HTTP/1.0 400").await.0, HelloReply::Malformed { .. }));
        assert!(matches!(reply_to(&rec[..10]).await.0, HelloReply::Malformed { reason } if reason.contains("inside")));
        assert!(
            matches!(reply_to(&[0x80, 3, 0, 0, 1]).await.0, HelloReply::Sslv2Error { code: 1, name } if name == "NO-CIPHER-ERROR")
        );
    }
}
