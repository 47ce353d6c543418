//! Interpreting the server's first flight in reply to a hand-built ClientHello.
//!
//! Only the plaintext start of the flight matters to kensa. For TLS 1.0–1.2 and SSLv3 that is
//! everything up to ServerHelloDone: the ServerHello (version, suite, compression and which
//! extensions the server echoed, and the SCT list of its signed_certificate_timestamp
//! extension), the Certificate (the chain served at that version), a CertificateStatus (the
//! stapled OCSP response, kept verbatim), and the ServerKeyExchange (the ECDHE curve or the
//! size of the DHE prime). For TLS 1.3 it is the ServerHello or HelloRetryRequest
//! alone, whose key_share names the group; everything after it is encrypted. Nothing is
//! ever sent back, so the server is left waiting for a reply that never comes.

use tls_parser::{
    parse_tls_handshake_msg_certificate, parse_tls_handshake_msg_server_hello, TlsCipherAu, TlsCipherKx,
    TlsMessageHandshake, CIPHERS,
};
use tokio::io::AsyncRead;
use tokio::time::Instant;

use super::client_hello::{EXT_ALPN, EXT_KEY_SHARE, EXT_SIGNED_CERTIFICATE_TIMESTAMP, EXT_SUPPORTED_VERSIONS};
use super::codec::Reader;
use super::deframer::{Deframer, Message, Stop, Transcript};
use crate::evidence::{Bytes, CertDer, HelloDetails, HelloReply};

/// Handshake type: HelloRequest.
pub const HS_HELLO_REQUEST: u8 = 0;
/// Handshake type: ServerHello.
pub const HS_SERVER_HELLO: u8 = 2;
/// Handshake type: Certificate.
pub const HS_CERTIFICATE: u8 = 11;
/// Handshake type: ServerKeyExchange.
pub const HS_SERVER_KEY_EXCHANGE: u8 = 12;
/// Handshake type: CertificateRequest.
pub const HS_CERTIFICATE_REQUEST: u8 = 13;
/// Handshake type: ServerHelloDone.
pub const HS_SERVER_HELLO_DONE: u8 = 14;
/// Handshake type: CertificateStatus (RFC 6066 §8).
pub const HS_CERTIFICATE_STATUS: u8 = 22;

/// CertificateStatusType: ocsp (RFC 6066 §8).
pub const STATUS_TYPE_OCSP: u8 = 1;

/// Alert description: handshake_failure.
pub const ALERT_HANDSHAKE_FAILURE: u8 = 40;
/// Alert description: insufficient_security.
pub const ALERT_INSUFFICIENT_SECURITY: u8 = 71;
/// Alert description: close_notify.
pub const ALERT_CLOSE_NOTIFY: u8 = 0;
/// Alert description: protocol_version.
pub const ALERT_PROTOCOL_VERSION: u8 = 70;
/// Alert description: inappropriate_fallback (RFC 7507).
pub const ALERT_INAPPROPRIATE_FALLBACK: u8 = 86;
/// Alert level: warning.
pub const ALERT_LEVEL_WARNING: u8 = 1;

/// The `random` of a HelloRetryRequest: SHA-256 of "HelloRetryRequest" (RFC 8446 §4.1.3).
pub const HELLO_RETRY_REQUEST_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2, 0x11,
    0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// The last 8 bytes of a TLS 1.3 server's random when it negotiates TLS 1.2 (RFC 8446 §4.1.3).
pub const DOWNGRADE_TLS12: [u8; 8] = *b"DOWNGRD\x01";
/// The same when it negotiates TLS 1.1 or older.
pub const DOWNGRADE_TLS11: [u8; 8] = *b"DOWNGRD\x00";

/// What a ServerHello says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerHelloInfo {
    /// The negotiated version: `supported_versions` if present, else `server_version`.
    pub version: u16,
    /// The chosen cipher suite.
    pub cipher_suite: u16,
    /// A HelloRetryRequest rather than a ServerHello.
    pub retry_request: bool,
    /// The random ends with the TLS 1.3 downgrade sentinel.
    pub downgrade_sentinel: bool,
    /// The compression method chosen.
    pub compression: u8,
    /// Extension types, in wire order.
    pub extensions: Vec<u16>,
    /// The group of key_share: the selected group of a HelloRetryRequest, or the group of
    /// the server's share.
    pub group: Option<u16>,
    /// The protocol selected by ALPN.
    pub alpn: Option<String>,
    /// The body of the signed_certificate_timestamp extension, verbatim: a TLS-encoded
    /// SignedCertificateTimestampList, which [`crate::ct::parse_sct_list`] judges.
    pub sct_list: Option<Vec<u8>>,
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
    let (server_version, random, cipher_suite, compression, ext) = match message {
        TlsMessageHandshake::ServerHello(sh) => (sh.version.0, Some(sh.random), sh.cipher.0, sh.compression.0, sh.ext),
        TlsMessageHandshake::ServerHelloV13Draft18(sh) => (sh.version.0, None, sh.cipher.0, 0, sh.ext),
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
    let retry_request = random == Some(&HELLO_RETRY_REQUEST_RANDOM[..]);
    let downgrade_sentinel =
        random.and_then(|r| r.get(24..)).is_some_and(|tail| tail == DOWNGRADE_TLS12 || tail == DOWNGRADE_TLS11);
    let mut info = ServerHelloInfo {
        version: server_version,
        cipher_suite,
        retry_request,
        downgrade_sentinel,
        compression,
        extensions: Vec::new(),
        group: None,
        alpn: None,
        sct_list: None,
    };
    let mut r = Reader::new(ext.unwrap_or_default());
    while !r.is_empty() {
        let (Some(typ), Some(data)) = (r.u16(), r.vec_u16()) else {
            return Err("malformed extensions in ServerHello".to_string());
        };
        if info.extensions.contains(&typ) {
            return Err(format!("extension {typ} twice in ServerHello"));
        }
        info.extensions.push(typ);
        let mut d = Reader::new(data);
        match typ {
            // kensa offers only TLS 1.3 there, and a server may select nothing else
            // (RFC 8446 §4.2.1: anything older, or not offered, is illegal_parameter).
            EXT_SUPPORTED_VERSIONS => match (d.u16(), d.is_empty()) {
                (Some(v @ 0x0304), true) => info.version = v,
                (Some(v), true) => return Err(format!("ServerHello selects version {v:#06x} in supported_versions")),
                _ => return Err("malformed supported_versions in ServerHello".to_string()),
            },
            EXT_KEY_SHARE => {
                // A HelloRetryRequest names only the group; a ServerHello carries a whole share.
                let group = d.u16();
                let well_formed = if retry_request { d.is_empty() } else { d.vec_u16().is_some() && d.is_empty() };
                match (group, well_formed) {
                    (Some(g), true) => info.group = Some(g),
                    _ => return Err("malformed key_share in ServerHello".to_string()),
                }
            }
            EXT_ALPN => {
                let protocol = d.vec_u16().and_then(|list| {
                    let mut l = Reader::new(list);
                    let len = l.u8()?;
                    let name = l.take(usize::from(len))?;
                    l.is_empty().then_some(name)
                });
                match (protocol, d.is_empty()) {
                    (Some(p), true) if !p.is_empty() => info.alpn = Some(String::from_utf8_lossy(p).into_owned()),
                    _ => return Err("malformed ALPN in ServerHello".to_string()),
                }
            }
            // Opaque to the handshake: kept as sent, so that a broken list is evidence rather
            // than a reason to lose the hello. Its length is bounded by the extension's.
            EXT_SIGNED_CERTIFICATE_TIMESTAMP => info.sct_list = Some(data.to_vec()),
            _ => {}
        }
    }
    Ok(info)
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

/// The OCSPResponse carried by a CertificateStatus body (RFC 6066 §8): status_type ocsp, then
/// a 24-bit length that the response must fill exactly. The response itself is not parsed
/// here; it is evidence for the checks.
pub fn parse_certificate_status(body: &[u8]) -> Result<&[u8], String> {
    let mut r = Reader::new(body);
    match r.u8() {
        Some(STATUS_TYPE_OCSP) => {}
        Some(other) => return Err(format!("CertificateStatus of unknown status type {other}")),
        None => return Err("empty CertificateStatus".to_string()),
    }
    let response = r
        .u24()
        .and_then(|len| r.take(usize::try_from(len).ok()?))
        .ok_or("CertificateStatus shorter than its OCSP response length")?;
    if !r.is_empty() {
        return Err("trailing bytes after the OCSP response in CertificateStatus".to_string());
    }
    if response.is_empty() {
        return Err("empty OCSP response in CertificateStatus".to_string());
    }
    Ok(response)
}

/// The key-exchange parameters a ServerKeyExchange announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyExchangeParams {
    /// ECDHE over a named curve.
    NamedCurve(u16),
    /// Finite-field DHE with a prime of this many bits.
    DhPrime(u32),
    /// A format kensa does not read (RSA export keys, SRP, explicit curves).
    Other,
}

/// Reads the parameters at the start of a ServerKeyExchange for `cipher_suite`. The
/// signature that follows is not checked: kensa only reports what the server offered.
pub fn parse_server_key_exchange(cipher_suite: u16, body: &[u8]) -> Result<KeyExchangeParams, String> {
    let Some(suite) = CIPHERS.get(&cipher_suite) else {
        return Ok(KeyExchangeParams::Other);
    };
    let mut r = Reader::new(body);
    if suite.au == TlsCipherAu::Psk && r.vec_u16().is_none() {
        return Err("ServerKeyExchange too short for its PSK identity hint".to_string());
    }
    let anonymous = suite.au == TlsCipherAu::Null;
    match suite.kx {
        TlsCipherKx::Ecdhe | TlsCipherKx::Aecdh => read_named_curve(&mut r),
        TlsCipherKx::Ecdh if anonymous => read_named_curve(&mut r),
        TlsCipherKx::Dhe => read_dh_prime(&mut r),
        TlsCipherKx::Dh if anonymous => read_dh_prime(&mut r),
        _ => Ok(KeyExchangeParams::Other),
    }
}

fn read_named_curve(r: &mut Reader<'_>) -> Result<KeyExchangeParams, String> {
    const NAMED_CURVE: u8 = 3;
    match (r.u8(), r.u16()) {
        (Some(NAMED_CURVE), Some(curve)) => Ok(KeyExchangeParams::NamedCurve(curve)),
        (Some(_), Some(_)) => Ok(KeyExchangeParams::Other),
        _ => Err("ServerKeyExchange too short for its curve".to_string()),
    }
}

fn read_dh_prime(r: &mut Reader<'_>) -> Result<KeyExchangeParams, String> {
    let prime = r.vec_u16().ok_or("ServerKeyExchange too short for its DH prime")?;
    let (generator, public) = (r.vec_u16(), r.vec_u16());
    if generator.is_none_or(<[u8]>::is_empty) || public.is_none_or(<[u8]>::is_empty) {
        return Err("ServerKeyExchange with a malformed DH generator or public value".to_string());
    }
    let zeros = prime.iter().take_while(|b| **b == 0).count();
    let significant = prime.get(zeros..).unwrap_or_default();
    let Some(first) = significant.first() else {
        return Err("ServerKeyExchange with a zero DH prime".to_string());
    };
    let bits = (significant.len() as u64 - 1) * 8 + u64::from(8 - first.leading_zeros());
    Ok(KeyExchangeParams::DhPrime(u32::try_from(bits).unwrap_or(u32::MAX)))
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
                // A warning and then the end of the connection is the server's answer; a
                // warning followed by bytes that break the limits, or by silence until the
                // deadline, is not a refusal, however many warnings came.
                if let (Some((level, description)), Stop::Closed | Stop::Reset) = (warning, &stop) {
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
    let mut details = HelloDetails {
        retry_request: hello.retry_request,
        downgrade_sentinel: hello.downgrade_sentinel,
        group: hello.group,
        compression: hello.compression,
        extensions: hello.extensions,
        alpn: hello.alpn,
        sct_list: hello.sct_list.map(Bytes),
        ..HelloDetails::default()
    };
    // The version and suite are decided; the rest of the flight is a bonus. Whatever goes
    // wrong after the ServerHello, the answer stays a ServerHello, with what arrived intact.
    let mut chain = Vec::new();
    if hello.version <= 0x0303 && !hello.retry_request {
        read_rest_of_flight(d, hello.cipher_suite, &mut chain, &mut details).await;
    }
    HelloReply::ServerHello { version: hello.version, cipher_suite: hello.cipher_suite, chain, details }
}

/// Reads Certificate, CertificateStatus, ServerKeyExchange and CertificateRequest until
/// ServerHelloDone, noting in `details.flight_error` why it stopped early, if it did.
async fn read_rest_of_flight<R: AsyncRead + Unpin>(
    d: &mut Deframer<R>,
    cipher_suite: u16,
    chain: &mut Vec<CertDer>,
    details: &mut HelloDetails,
) {
    loop {
        let problem = match d.next_message().await {
            Ok(Message::Handshake { typ: HS_SERVER_HELLO_DONE, .. }) => return,
            Ok(Message::Handshake { typ: HS_CERTIFICATE, body }) => match parse_certificate(&body) {
                Ok(certificates) => {
                    *chain = certificates;
                    continue;
                }
                Err(e) => e,
            },
            Ok(Message::Handshake { typ: HS_CERTIFICATE_STATUS, body }) => {
                // The server did staple something, readable or not; a body that is not one
                // OCSP response is noted and the rest of the flight still read.
                details.ocsp_stapled = true;
                match parse_certificate_status(&body) {
                    Ok(_) if details.ocsp_response.is_some() => {
                        details.flight_error.get_or_insert_with(|| "CertificateStatus twice".to_string());
                    }
                    Ok(response) => details.ocsp_response = Some(Bytes(response.to_vec())),
                    Err(e) => {
                        details.flight_error.get_or_insert(e);
                    }
                }
                continue;
            }
            Ok(Message::Handshake { typ: HS_SERVER_KEY_EXCHANGE, body }) => {
                match parse_server_key_exchange(cipher_suite, &body) {
                    Ok(KeyExchangeParams::NamedCurve(curve)) => details.group = Some(curve),
                    Ok(KeyExchangeParams::DhPrime(bits)) => details.dh_bits = Some(bits),
                    Ok(KeyExchangeParams::Other) => {}
                    Err(e) => details.flight_error = Some(e),
                }
                continue;
            }
            Ok(Message::Handshake { typ: HS_CERTIFICATE_REQUEST, .. }) => continue,
            Ok(Message::Handshake { typ, .. }) => format!("unexpected {} in the server's flight", handshake_name(typ)),
            Ok(Message::Alert { description, .. }) => format!("alert {} inside the flight", alert_name(description)),
            Ok(other) => format!("unexpected {other:?} inside the flight"),
            Err(Stop::Timeout) => "no ServerHelloDone before the deadline".to_string(),
            Err(Stop::Closed) => "connection closed before ServerHelloDone".to_string(),
            Err(Stop::Reset) => "connection reset before ServerHelloDone".to_string(),
            Err(Stop::Malformed(reason)) => reason,
        };
        details.flight_error.get_or_insert(problem);
        return;
    }
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

    use crate::evidence::HelloDetails;
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
                details: HelloDetails { extensions: vec![0xff01], ..HelloDetails::default() },
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
        let HelloReply::ServerHello { version, cipher_suite, chain, .. } = reply else { panic!("{reply:?}") };
        assert_eq!((version, cipher_suite, chain.len()), (0x0302, 0xc013, 1));
        assert_eq!(chain[0].0.len(), 3000);
    }

    #[tokio::test]
    async fn sslv3_hello_with_renegotiation_info() {
        let mut flight = server_hello(0x0300, 0x000a, Some(RENEG_INFO));
        flight.extend(handshake(HS_SERVER_HELLO_DONE, &[]));
        let (reply, _) = reply_to(&record(22, 0x0300, &flight)).await;
        let details = HelloDetails { extensions: vec![0xff01], ..HelloDetails::default() };
        assert_eq!(reply, HelloReply::ServerHello { version: 0x0300, cipher_suite: 0x000a, chain: vec![], details });
    }

    /// A DHE ServerKeyExchange body with a prime of `prime_bytes` bytes (top bit set).
    fn dhe_key_exchange(prime_bytes: usize) -> Vec<u8> {
        let mut b = (prime_bytes as u16).to_be_bytes().to_vec();
        b.push(0x80);
        b.extend(std::iter::repeat_n(0xff, prime_bytes - 1));
        b.extend_from_slice(&[0, 1, 2, 0, 2, 7, 7]); // g = 2, Ys
        b.extend_from_slice(&[4, 1, 0, 2, 0xaa, 0xbb]); // signature: scheme, bytes
        b
    }

    #[tokio::test]
    async fn anonymous_suite_flight_has_key_exchange_but_no_chain() {
        let mut flight = server_hello(0x0301, 0x0034, None);
        let mut ske = vec![0, 3, 0, 0x7f, 0xff]; // a 15-bit prime after a leading zero byte
        ske.extend_from_slice(&[0, 1, 2, 0, 1, 9]);
        flight.extend(handshake(HS_SERVER_KEY_EXCHANGE, &ske));
        flight.extend(handshake(HS_SERVER_HELLO_DONE, &[]));
        let (reply, _) = reply_to(&record(22, 0x0301, &flight)).await;
        let details = HelloDetails { dh_bits: Some(15), ..HelloDetails::default() };
        assert_eq!(reply, HelloReply::ServerHello { version: 0x0301, cipher_suite: 0x0034, chain: vec![], details });
    }

    #[tokio::test]
    async fn key_exchange_status_and_extensions_are_read() {
        // ECDHE-RSA with x25519, a stapled OCSP response, EMS and a session ticket.
        let ext = [0xff, 0x01, 0, 1, 0, 0, 23, 0, 0, 0, 35, 0, 0, 0, 5, 0, 0];
        let mut flight = server_hello(0x0303, 0xc02f, Some(&ext));
        flight.extend(certificate(&[b"leaf"]));
        flight.extend(handshake(HS_CERTIFICATE_STATUS, &[1, 0, 0, 2, 0x30, 0]));
        flight.extend(handshake(HS_SERVER_KEY_EXCHANGE, &[3, 0, 0x1d, 32]));
        flight.extend(handshake(HS_SERVER_HELLO_DONE, &[]));
        let (reply, _) = reply_to(&record(22, 0x0303, &flight)).await;
        let HelloReply::ServerHello { details, chain, .. } = reply else { panic!("{reply:?}") };
        assert_eq!(chain.len(), 1);
        assert_eq!(details.group, Some(0x001d));
        assert!(details.ocsp_stapled);
        assert_eq!(details.ocsp_response, Some(Bytes(vec![0x30, 0])));
        assert_eq!(details.sct_list, None);
        assert_eq!(details.extensions, vec![0xff01, 23, 35, 5]);
        assert_eq!(details.flight_error, None);
        // DHE-RSA with a 2048-bit prime.
        let mut flight = server_hello(0x0303, 0x009e, None);
        flight.extend(handshake(HS_SERVER_KEY_EXCHANGE, &dhe_key_exchange(256)));
        flight.extend(handshake(HS_SERVER_HELLO_DONE, &[]));
        let (reply, _) = reply_to(&record(22, 0x0303, &flight)).await;
        assert!(matches!(reply, HelloReply::ServerHello { details: HelloDetails { dh_bits: Some(2048), .. }, .. }));
    }

    /// A SignedCertificateTimestampList of one SCT with a recognisable log id.
    fn sct_list() -> Vec<u8> {
        let mut sct = vec![0];
        sct.extend_from_slice(&[0xab; 32]);
        sct.extend_from_slice(&1_790_000_000_000u64.to_be_bytes());
        sct.extend_from_slice(&[0, 0, 4, 3, 0, 3, 0x30, 1, 0]);
        let mut list = ((sct.len() + 2) as u16).to_be_bytes().to_vec();
        list.extend_from_slice(&(sct.len() as u16).to_be_bytes());
        list.extend(sct);
        list
    }

    fn extension(typ: u16, body: &[u8]) -> Vec<u8> {
        let mut e = typ.to_be_bytes().to_vec();
        e.extend_from_slice(&(body.len() as u16).to_be_bytes());
        e.extend_from_slice(body);
        e
    }

    fn certificate_status(response: &[u8]) -> Vec<u8> {
        let mut b = vec![STATUS_TYPE_OCSP];
        b.extend_from_slice(&(response.len() as u32).to_be_bytes()[1..]);
        b.extend_from_slice(response);
        handshake(HS_CERTIFICATE_STATUS, &b)
    }

    #[tokio::test]
    async fn stapled_ocsp_and_tls_extension_scts_are_kept_verbatim() {
        let list = sct_list();
        let ocsp = [0x30, 0x03, 0x0a, 0x01, 0x00]; // OCSPResponse { successful }, no body
        let ext = [extension(0xff01, &[0]), extension(EXT_SIGNED_CERTIFICATE_TIMESTAMP, &list)].concat();
        let mut flight = server_hello(0x0303, 0xc02f, Some(&ext));
        flight.extend(certificate(&[b"leaf"]));
        flight.extend(certificate_status(&ocsp));
        flight.extend(handshake(HS_SERVER_KEY_EXCHANGE, &[3, 0, 0x1d, 32]));
        flight.extend(handshake(HS_SERVER_HELLO_DONE, &[]));
        let (reply, _) = reply_to(&record(22, 0x0303, &flight)).await;
        let HelloReply::ServerHello { details, chain, .. } = reply else { panic!("{reply:?}") };
        assert_eq!(chain.len(), 1);
        assert_eq!(details.extensions, vec![0xff01, EXT_SIGNED_CERTIFICATE_TIMESTAMP]);
        assert_eq!(details.sct_list, Some(Bytes(list.clone())));
        assert!(details.ocsp_stapled);
        assert_eq!(details.ocsp_response, Some(Bytes(ocsp.to_vec())));
        assert_eq!(details.flight_error, None);
        assert_eq!(crate::ct::parse_sct_list(&list).map(|s| s[0].log_id), Ok([0xab; 32]));
        // The same in the evidence's JSON, as hex, and back.
        let json = serde_json::to_value(&details).unwrap();
        assert_eq!(json["ocsp_response"], "30030a0100");
        assert_eq!(serde_json::from_value::<HelloDetails>(json).unwrap(), details);
    }

    #[tokio::test]
    async fn a_broken_sct_list_or_certificate_status_never_loses_the_hello() {
        // An SCT extension whose list is garbage is still kept as sent: the checks judge it.
        let ext = extension(EXT_SIGNED_CERTIFICATE_TIMESTAMP, &[0, 9, 1]);
        let mut flight = server_hello(0x0303, 0xc02f, Some(&ext));
        flight.extend(handshake(HS_SERVER_HELLO_DONE, &[]));
        let (reply, _) = reply_to(&record(22, 0x0303, &flight)).await;
        let HelloReply::ServerHello { details, .. } = reply else { panic!("{reply:?}") };
        assert_eq!(details.sct_list, Some(Bytes(vec![0, 9, 1])));
        assert!(crate::ct::parse_sct_list(&[0, 9, 1]).is_err());
        // Broken CertificateStatus bodies: stapled, no response, a flight error, and the rest
        // of the flight still read.
        let broken: [&[u8]; 6] =
            [&[], &[2, 0, 0, 1, 0x30], &[1, 0, 0], &[1, 0, 0, 3, 0x30], &[1, 0, 0, 1, 0x30, 0], &[1, 0, 0, 0]];
        for body in broken {
            let mut flight = server_hello(0x0303, 0xc02f, None);
            flight.extend(handshake(HS_CERTIFICATE_STATUS, body));
            flight.extend(handshake(HS_SERVER_KEY_EXCHANGE, &[3, 0, 0x17, 32]));
            flight.extend(handshake(HS_SERVER_HELLO_DONE, &[]));
            let (reply, _) = reply_to(&record(22, 0x0303, &flight)).await;
            let HelloReply::ServerHello { details, .. } = reply else { panic!("{body:?}: {reply:?}") };
            assert!(details.ocsp_stapled, "{body:?}");
            assert_eq!(details.ocsp_response, None, "{body:?}");
            assert!(details.flight_error.is_some_and(|e| e.contains("CertificateStatus")), "{body:?}");
            assert_eq!(details.group, Some(0x0017), "{body:?}: the flight goes on");
        }
        // Two CertificateStatus messages: the first response stands.
        let mut flight = server_hello(0x0303, 0xc02f, None);
        flight.extend(certificate_status(&[0x30, 1]));
        flight.extend(certificate_status(&[0x30, 2]));
        flight.extend(handshake(HS_SERVER_HELLO_DONE, &[]));
        let (reply, _) = reply_to(&record(22, 0x0303, &flight)).await;
        let HelloReply::ServerHello { details, .. } = reply else { panic!("{reply:?}") };
        assert_eq!(details.ocsp_response, Some(Bytes(vec![0x30, 1])));
        assert_eq!(details.flight_error.as_deref(), Some("CertificateStatus twice"));
    }

    #[test]
    fn certificate_status_parser_is_total() {
        assert_eq!(parse_certificate_status(&[1, 0, 0, 2, 0x30, 0]), Ok(&[0x30, 0][..]));
        let good = [1, 0, 0, 3, 0x30, 1, 5];
        for cut in 0..good.len() {
            assert!(parse_certificate_status(&good[..cut]).is_err(), "{cut}");
        }
        assert!(parse_certificate_status(&[1, 0xff, 0xff, 0xff]).is_err());
    }

    #[tokio::test]
    async fn broken_flight_after_the_hello_keeps_the_hello() {
        let mut flight = server_hello(0x0303, 0x009e, None);
        flight.extend(handshake(HS_SERVER_KEY_EXCHANGE, &[0, 9, 1]));
        flight.extend(handshake(20, &[0; 12])); // Finished, out of place
        let (reply, _) = reply_to(&record(22, 0x0303, &flight)).await;
        let HelloReply::ServerHello { details, .. } = reply else { panic!("{reply:?}") };
        assert!(details.flight_error.is_some_and(|e| e.contains("DH prime")));
        // ServerHello and then silence: the hello stands, the flight error says why it ended.
        let (reply, _) = reply_to(&record(22, 0x0303, &server_hello(0x0303, 0xc02f, None))).await;
        let HelloReply::ServerHello { details, .. } = reply else { panic!("{reply:?}") };
        assert_eq!(details.flight_error.as_deref(), Some("connection closed before ServerHelloDone"));
    }

    #[tokio::test]
    async fn hello_retry_request_names_suite_and_group() {
        let mut body = 0x0303u16.to_be_bytes().to_vec();
        body.extend_from_slice(&HELLO_RETRY_REQUEST_RANDOM);
        body.push(0);
        body.extend_from_slice(&[0x13, 0x02, 0]);
        let ext = [0, 0x2b, 0, 2, 3, 4, 0, 0x33, 0, 2, 0, 0x17];
        body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        body.extend_from_slice(&ext);
        let (reply, _) = reply_to(&record(22, 0x0303, &handshake(HS_SERVER_HELLO, &body))).await;
        let details = HelloDetails {
            retry_request: true,
            group: Some(0x0017),
            extensions: vec![43, 51],
            ..HelloDetails::default()
        };
        assert_eq!(reply, HelloReply::ServerHello { version: 0x0304, cipher_suite: 0x1302, chain: vec![], details });
        // A key_share that is not a single group in a HelloRetryRequest is malformed.
        let bad = [&body[..body.len() - 2], &[0, 0x17, 0]].concat();
        let mut bad = bad;
        let at = bad.len() - 15;
        bad[at] += 1; // extensions block one byte longer
        let (reply, _) = reply_to(&record(22, 0x0303, &handshake(HS_SERVER_HELLO, &bad))).await;
        assert!(matches!(reply, HelloReply::Malformed { .. }), "{reply:?}");
    }

    #[tokio::test]
    async fn other_version_and_supported_versions() {
        let (reply, _) = reply_to(&record(22, 0x0303, &server_hello(0x0303, 0xc02f, None))).await;
        assert!(matches!(reply, HelloReply::ServerHello { version: 0x0303, .. }));
        let sv = [0x00, 0x2b, 0x00, 0x02, 0x03, 0x04];
        let (reply, _) = reply_to(&record(22, 0x0303, &server_hello(0x0303, 0x1301, Some(&sv)))).await;
        assert!(matches!(reply, HelloReply::ServerHello { version: 0x0304, cipher_suite: 0x1301, .. }));
        // A version never offered there, or one older than TLS 1.3, is malformed.
        for v in [[0x09, 0x09], [0x03, 0x03]] {
            let sv = [0x00, 0x2b, 0x00, 0x02, v[0], v[1]];
            let (reply, _) = reply_to(&record(22, 0x0303, &server_hello(0x0303, 0x1301, Some(&sv)))).await;
            assert!(
                matches!(&reply, HelloReply::Malformed { reason } if reason.contains("supported_versions")),
                "{reply:?}"
            );
        }
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
        // Warnings and then garbage, or silence: not a refusal.
        let mut wire = record(21, 0x0301, &[1, 112]);
        wire.extend_from_slice(&[0x99, 3, 1, 0, 1, 0]);
        let (reply, _) = reply_to(&wire).await;
        assert!(matches!(&reply, HelloReply::Malformed { reason } if reason.contains("0x99")), "{reply:?}");
        let (mut server, client) = tokio::io::duplex(64);
        server.write_all(&record(21, 0x0301, &[1, 112])).await.unwrap();
        let (reply, _) = read_server_reply(client, Instant::now() + Duration::from_millis(50)).await;
        assert_eq!(reply, HelloReply::Timeout);
        drop(server);
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
        let HelloReply::ServerHello { version: 0x0301, cipher_suite: 0x002f, chain, details } = reply else {
            panic!("{reply:?}")
        };
        assert!(chain.is_empty());
        assert_eq!(details.flight_error.as_deref(), Some("no ServerHelloDone before the deadline"));
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
        let ext = [RENEG_INFO.to_vec(), extension(EXT_SIGNED_CERTIFICATE_TIMESTAMP, &sct_list())].concat();
        let mut flight = server_hello(0x0301, 0x002f, Some(&ext));
        flight.extend(certificate(&[b"leaf", b"ca"]));
        flight.extend(certificate_status(&[0x30, 3, 1, 2, 3]));
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
            let _ = parse_certificate_status(wire.get(9..).unwrap_or_default());
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
