//! The TLS ClientHello, built byte for byte (RFC 5246 §7.4.1.2, RFC 8446 §4.1.2; RFC 6101
//! for SSLv3).
//!
//! A hand-built hello lets kensa offer versions, suites and groups that no maintained TLS
//! library will send, in any order. The hello has no session id and carries the
//! renegotiation SCSV instead of the extension (so SSLv3 servers see it too). What else it
//! asks for is set by [`HelloOptions`]: the plain hello of minimal mode carries only what a
//! server needs to pick a suite and a virtual host; enumeration hellos also ask for OCSP
//! stapling, signed certificate timestamps, ALPN, extended master secret, session tickets and
//! compression, so that each reply shows those handshake facts at no extra connection. TLS 1.3
//! hellos ([`ClientHello::tls13`]) send an empty key_share, so the server names its group in a
//! HelloRetryRequest and no key agreement is ever needed.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::codec::Writer;
use super::suites::{EMPTY_RENEGOTIATION_INFO_SCSV, FALLBACK_SCSV};

/// Handshake type of ClientHello.
pub const HANDSHAKE_CLIENT_HELLO: u8 = 1;
/// Record content type of handshake records.
pub const CONTENT_HANDSHAKE: u8 = 22;
/// The largest record plaintext allowed (RFC 5246 §6.2.1).
pub const MAX_PLAINTEXT: usize = 1 << 14;

/// Extension type: server_name (RFC 6066).
pub const EXT_SERVER_NAME: u16 = 0;
/// Extension type: supported_groups, formerly elliptic_curves (RFC 8422, RFC 7919).
pub const EXT_SUPPORTED_GROUPS: u16 = 10;
/// Extension type: ec_point_formats (RFC 8422).
pub const EXT_EC_POINT_FORMATS: u16 = 11;
/// Extension type: padding (RFC 7685).
pub const EXT_PADDING: u16 = 21;
/// signature_algorithms (RFC 5246 §7.4.1.4.1, RFC 8446 §4.2.3).
pub const EXT_SIGNATURE_ALGORITHMS: u16 = 13;
/// Extension type: status_request (RFC 6066 §8).
pub const EXT_STATUS_REQUEST: u16 = 5;
/// Extension type: signed_certificate_timestamp (RFC 6962 §3.3.1).
pub const EXT_SIGNED_CERTIFICATE_TIMESTAMP: u16 = 18;
/// Extension type: application_layer_protocol_negotiation (RFC 7301).
pub const EXT_ALPN: u16 = 16;
/// Extension type: extended_master_secret (RFC 7627).
pub const EXT_EXTENDED_MASTER_SECRET: u16 = 23;
/// Extension type: session_ticket (RFC 5077).
pub const EXT_SESSION_TICKET: u16 = 35;
/// Extension type: supported_versions (RFC 8446 §4.2.1).
pub const EXT_SUPPORTED_VERSIONS: u16 = 43;
/// Extension type: key_share (RFC 8446 §4.2.8).
pub const EXT_KEY_SHARE: u16 = 51;
/// Extension type: renegotiation_info (RFC 5746).
pub const EXT_RENEGOTIATION_INFO: u16 = 0xff01;

/// Compression method: DEFLATE (RFC 3749). Offered to see whether a server still agrees
/// to compression (CRIME).
pub const COMPRESSION_DEFLATE: u8 = 1;
/// Compression method: none.
pub const COMPRESSION_NULL: u8 = 0;

/// Groups offered in supported_groups: x25519, secp256r1, secp384r1, secp521r1, ffdhe2048,
/// ffdhe3072.
pub const OFFERED_GROUPS: &[u16] = &[0x001d, 0x0017, 0x0018, 0x0019, 0x0100, 0x0101];

/// Signature schemes offered in TLS 1.2 hellos: everything a server might sign with, the
/// SHA-1 ones last. Without the extension a TLS 1.2 server must assume SHA-1 only (RFC 5246
/// §7.4.1.4.1), which modern servers refuse; a probe wants any answer the server can give.
pub const OFFERED_SIGNATURE_SCHEMES: &[u16] = &[
    0x0403, 0x0804, 0x0401, // ecdsa_secp256r1_sha256, rsa_pss_rsae_sha256, rsa_pkcs1_sha256
    0x0503, 0x0805, 0x0501, // … sha384
    0x0603, 0x0806, 0x0601, // … sha512
    0x0807, 0x0808, // ed25519, ed448
    0x0809, 0x080a, 0x080b, // rsa_pss_pss_sha256/384/512
    0x0402, 0x0303, 0x0301, 0x0302, // dsa_sha256, sha224 variants
    0x0203, 0x0201, 0x0202, // ecdsa_sha1, rsa_pkcs1_sha1, dsa_sha1
];

/// Why a ClientHello could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// The version cannot be expressed as a TLS ClientHello (SSLv2 has its own format).
    #[error("version {0:#06x} has no TLS ClientHello")]
    UnsupportedVersion(u16),
    /// The server name cannot be sent as a DNS host name in SNI.
    #[error("server name {0:?} is not an ASCII DNS name")]
    BadServerName(String),
    /// The hello would not fit in one record.
    #[error("ClientHello of {0} bytes does not fit in one record")]
    TooLarge(usize),
}

/// One extension, already encoded: type and opaque body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    /// The extension type.
    pub typ: u16,
    /// The extension body, without the type and length header.
    pub body: Vec<u8>,
}

impl Extension {
    /// server_name with a single host_name entry.
    pub fn server_name(host: &str) -> Extension {
        let mut w = Writer::new();
        w.vec_u16(|w| {
            w.u8(0).vec_u16(|w| {
                w.bytes(host.as_bytes());
            });
        });
        Extension::from_writer(EXT_SERVER_NAME, w)
    }

    /// supported_groups listing `groups` in order.
    pub fn supported_groups(groups: &[u16]) -> Extension {
        let mut w = Writer::new();
        w.vec_u16(|w| {
            for &g in groups {
                w.u16(g);
            }
        });
        Extension::from_writer(EXT_SUPPORTED_GROUPS, w)
    }

    /// signature_algorithms listing `schemes` (TLS 1.2 and later only).
    pub fn signature_algorithms(schemes: &[u16]) -> Extension {
        let mut w = Writer::new();
        w.vec_u16(|w| {
            for &scheme in schemes {
                w.u16(scheme);
            }
        });
        Extension::from_writer(EXT_SIGNATURE_ALGORITHMS, w)
    }

    /// application_layer_protocol_negotiation listing `protocols`.
    pub fn alpn(protocols: &[&str]) -> Extension {
        let mut w = Writer::new();
        w.vec_u16(|w| {
            for p in protocols {
                w.vec_u8(|w| {
                    w.bytes(p.as_bytes());
                });
            }
        });
        Extension::from_writer(EXT_ALPN, w)
    }

    /// ec_point_formats offering only `uncompressed`.
    pub fn ec_point_formats_uncompressed() -> Extension {
        Extension { typ: EXT_EC_POINT_FORMATS, body: vec![1, 0] }
    }

    fn from_writer(typ: u16, w: Writer) -> Extension {
        // Only ever fed bounded inputs (host names ≤ 253 bytes, a handful of groups), so the
        // prefixes cannot overflow; an empty body would merely be sent as such.
        Extension { typ, body: w.finish().unwrap_or_default() }
    }
}

/// What a hello asks for besides its version and suites.
#[derive(Debug, Clone, Default)]
pub struct HelloOptions<'a> {
    /// Sent as SNI when it is a DNS name (never for IP literals, as RFC 6066 forbids).
    pub server_name: Option<&'a str>,
    /// supported_groups in offer order; `None` offers [`OFFERED_GROUPS`].
    pub groups: Option<&'a [u16]>,
    /// ALPN protocols to offer; none if empty.
    pub alpn: &'a [&'a str],
    /// Append TLS_FALLBACK_SCSV (RFC 7507) to the suites.
    pub fallback_scsv: bool,
    /// Ask for OCSP stapling, SCTs, extended master secret and session tickets, and offer
    /// DEFLATE compression next to none (TLS 1.2 and older).
    pub ask_features: bool,
}

/// A ClientHello to be encoded. Build with [`ClientHello::tls`], [`ClientHello::tls13`] or
/// [`ClientHello::legacy`], then call [`ClientHello::to_record`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHello {
    /// `client_version` (TLS 1.3: `legacy_version`): 0x0300, 0x0301, 0x0302 or 0x0303.
    pub version: u16,
    /// The suites in preference order; the renegotiation SCSV (and the fallback SCSV if
    /// asked for) is appended on encoding.
    pub suites: Vec<u16>,
    /// Append TLS_FALLBACK_SCSV after the suites.
    pub fallback_scsv: bool,
    /// Compression methods offered, in order; always ends with null.
    pub compression: Vec<u8>,
    /// `Random`.
    pub random: [u8; 32],
    /// Extensions in wire order; empty for SSLv3 (see [`ClientHello::tls`]).
    pub extensions: Vec<Extension>,
    /// The groups listed in supported_groups, for the evidence.
    pub offered_groups: Vec<u16>,
    /// The versions listed in supported_versions, for the evidence.
    pub offered_versions: Vec<u16>,
}

impl ClientHello {
    /// The plain kensa hello for `version`, offering `suites`: SNI, the default groups and
    /// signature algorithms, nothing else. Used where only "does the server accept this
    /// version?" matters.
    pub fn legacy(version: u16, suites: &[u16], server_name: Option<&str>) -> Result<ClientHello, BuildError> {
        ClientHello::tls(version, suites, &HelloOptions { server_name, ..HelloOptions::default() })
    }

    /// A hello for SSLv3 to TLS 1.2 (`version` 0x0300 to 0x0303) offering `suites`.
    ///
    /// SSLv3 hellos carry no extensions: SSLv3 servers predate them and some choke on the
    /// trailing bytes.
    pub fn tls(version: u16, suites: &[u16], options: &HelloOptions<'_>) -> Result<ClientHello, BuildError> {
        if !(0x0300..=0x0303).contains(&version) {
            return Err(BuildError::UnsupportedVersion(version));
        }
        let groups = options.groups.unwrap_or(OFFERED_GROUPS);
        let mut hello = ClientHello::bare(version, suites, options);
        if options.ask_features {
            hello.compression = vec![COMPRESSION_DEFLATE, COMPRESSION_NULL];
        }
        if version >= 0x0301 {
            hello.push_common(options, groups)?;
            hello.extensions.push(Extension::ec_point_formats_uncompressed());
            if options.ask_features {
                hello.extensions.push(Extension { typ: EXT_EXTENDED_MASTER_SECRET, body: Vec::new() });
                hello.extensions.push(Extension { typ: EXT_SESSION_TICKET, body: Vec::new() });
            }
        }
        if version >= 0x0303 {
            hello.extensions.push(Extension::signature_algorithms(OFFERED_SIGNATURE_SCHEMES));
        }
        Ok(hello)
    }

    /// A TLS 1.3 hello offering `suites` and `options.groups`, with an empty key_share: the
    /// server answers with a HelloRetryRequest naming its suite and group (or refuses).
    pub fn tls13(suites: &[u16], options: &HelloOptions<'_>) -> Result<ClientHello, BuildError> {
        let groups = options.groups.unwrap_or(OFFERED_GROUPS);
        let mut hello = ClientHello::bare(0x0303, suites, options);
        hello.push_common(options, groups)?;
        hello.extensions.push(Extension::signature_algorithms(OFFERED_SIGNATURE_SCHEMES));
        hello.extensions.push(Extension { typ: EXT_SUPPORTED_VERSIONS, body: vec![2, 0x03, 0x04] });
        hello.offered_versions = vec![0x0304];
        hello.extensions.push(Extension { typ: EXT_KEY_SHARE, body: vec![0, 0] });
        Ok(hello)
    }

    fn bare(version: u16, suites: &[u16], options: &HelloOptions<'_>) -> ClientHello {
        ClientHello {
            version,
            suites: suites.to_vec(),
            fallback_scsv: options.fallback_scsv,
            compression: vec![COMPRESSION_NULL],
            random: fresh_random(),
            extensions: Vec::new(),
            offered_groups: Vec::new(),
            offered_versions: Vec::new(),
        }
    }

    /// SNI, supported_groups, and (if asked) status_request, signed_certificate_timestamp and
    /// ALPN.
    fn push_common(&mut self, options: &HelloOptions<'_>, groups: &[u16]) -> Result<(), BuildError> {
        if let Some(host) = options.server_name.and_then(sni_host).transpose()? {
            self.extensions.push(Extension::server_name(&host));
        }
        self.extensions.push(Extension::supported_groups(groups));
        self.offered_groups = groups.to_vec();
        if options.ask_features {
            // status_request: ocsp, no responder ids, no request extensions.
            self.extensions.push(Extension { typ: EXT_STATUS_REQUEST, body: vec![1, 0, 0, 0, 0] });
            // An empty signed_certificate_timestamp: a server holding SCTs for its certificate
            // answers with the list in its ServerHello up to TLS 1.2. TLS 1.3 puts them in the
            // encrypted Certificate message, which a hand-built hello never reads; asking
            // there costs nothing, as with status_request.
            self.extensions.push(Extension { typ: EXT_SIGNED_CERTIFICATE_TIMESTAMP, body: Vec::new() });
        }
        if !options.alpn.is_empty() {
            self.extensions.push(Extension::alpn(options.alpn));
        }
        Ok(())
    }

    /// The record-layer version: SSLv3 hellos go in SSLv3 records; everything newer in
    /// TLS 1.0 records, which is what every intolerance-aware client does (RFC 5246 App. E.1).
    pub fn record_version(&self) -> u16 {
        if self.version <= 0x0300 {
            0x0300
        } else {
            0x0301
        }
    }

    /// The handshake message (type, length, body), without the record header.
    pub fn to_handshake(&self) -> Result<Vec<u8>, BuildError> {
        let mut extensions = self.extensions.clone();
        if !extensions.is_empty() {
            // Some middleboxes hang on hellos of 256..=511 bytes (the F5 bug that RFC 7685
            // padding was made for); pad those up to 512.
            let unpadded = self.encode(&extensions)?.len();
            if (256..512).contains(&unpadded) {
                let header = 4; // type + length of the padding extension itself
                let fill = (512 - unpadded).saturating_sub(header).max(1);
                extensions.push(Extension { typ: EXT_PADDING, body: vec![0; fill] });
            }
        }
        self.encode(&extensions)
    }

    /// The complete record (content type 22) carrying this hello.
    pub fn to_record(&self) -> Result<Vec<u8>, BuildError> {
        let handshake = self.to_handshake()?;
        if handshake.len() > MAX_PLAINTEXT {
            return Err(BuildError::TooLarge(handshake.len()));
        }
        let mut w = Writer::new();
        w.u8(CONTENT_HANDSHAKE).u16(self.record_version()).vec_u16(|w| {
            w.bytes(&handshake);
        });
        w.finish().map_err(|_| BuildError::TooLarge(handshake.len()))
    }

    fn encode(&self, extensions: &[Extension]) -> Result<Vec<u8>, BuildError> {
        let mut w = Writer::new();
        w.u8(HANDSHAKE_CLIENT_HELLO).vec_u24(|w| {
            w.u16(self.version)
                .bytes(&self.random)
                .vec_u8(|_| {}) // empty session id: no resumption, nothing to fingerprint
                .vec_u16(|w| {
                    for &s in &self.suites {
                        w.u16(s);
                    }
                    w.u16(EMPTY_RENEGOTIATION_INFO_SCSV);
                    if self.fallback_scsv {
                        w.u16(FALLBACK_SCSV);
                    }
                })
                .vec_u8(|w| {
                    w.bytes(&self.compression);
                });
            if !extensions.is_empty() {
                w.vec_u16(|w| {
                    for e in extensions {
                        w.u16(e.typ).vec_u16(|w| {
                            w.bytes(&e.body);
                        });
                    }
                });
            }
        });
        let len = w.len();
        w.finish().map_err(|_| BuildError::TooLarge(len))
    }
}

/// The SNI form of `name`: `None` for IP literals, lower-case without a trailing dot.
fn sni_host(name: &str) -> Option<Result<String, BuildError>> {
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    let unbracketed = trimmed.trim_start_matches('[').trim_end_matches(']');
    if unbracketed.parse::<IpAddr>().is_ok() {
        return None;
    }
    let valid = !trimmed.is_empty()
        && trimmed.len() <= 253
        && trimmed.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
    if !valid {
        return Some(Err(BuildError::BadServerName(name.to_string())));
    }
    Some(Ok(trimmed.to_ascii_lowercase()))
}

/// 32 bytes that differ from call to call and run to run. Not secret: a probe never
/// completes a key exchange, so this only has to look like a random to the server.
pub fn fresh_random() -> [u8; 32] {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
    let mut state = nanos ^ COUNTER.fetch_add(1, Ordering::Relaxed).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let mut out = [0u8; 32];
    for chunk in out.chunks_mut(8) {
        let word = splitmix64(&mut state).to_be_bytes();
        chunk.copy_from_slice(word.get(..chunk.len()).unwrap_or(&word));
    }
    out
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tls_parser::{parse_tls_extensions, parse_tls_plaintext, TlsExtension, TlsMessage, TlsMessageHandshake};

    fn parse_back(record: &[u8]) -> (u16, u16, Vec<u16>, Vec<TlsExtension<'_>>) {
        parse_back_with_compression(record, &[0])
    }

    fn parse_back_with_compression<'a>(
        record: &'a [u8],
        compression: &[u8],
    ) -> (u16, u16, Vec<u16>, Vec<TlsExtension<'a>>) {
        let (rest, plain) = parse_tls_plaintext(record).expect("record parses");
        assert!(rest.is_empty());
        assert_eq!(plain.hdr.record_type.0, 22);
        let [TlsMessage::Handshake(TlsMessageHandshake::ClientHello(ch))] = plain.msg.as_slice() else {
            panic!("expected one ClientHello, got {:?}", plain.msg);
        };
        assert_eq!(ch.comp.iter().map(|c| c.0).collect::<Vec<_>>(), compression);
        assert!(ch.session_id.is_none());
        let exts = match ch.ext {
            Some(raw) => {
                let (rest, exts) = parse_tls_extensions(raw).expect("extensions parse");
                assert!(rest.is_empty());
                exts
            }
            None => Vec::new(),
        };
        (plain.hdr.version.0, ch.version.0, ch.ciphers.iter().map(|c| c.0).collect(), exts)
    }

    #[test]
    fn tls10_hello_parses_back_with_sni_and_scsv() {
        let suites = [0x002f, 0x000a, 0xc013];
        let hello = ClientHello::legacy(0x0301, &suites, Some("Example.JP.")).unwrap();
        let record = hello.to_record().unwrap();
        let (record_version, version, offered, exts) = parse_back(&record);
        assert_eq!((record_version, version), (0x0301, 0x0301));
        assert_eq!(offered, vec![0x002f, 0x000a, 0xc013, 0x00ff]);
        assert!(!offered.contains(&0x5600));
        let sni = exts.iter().find_map(|e| match e {
            TlsExtension::SNI(names) => Some(names.clone()),
            _ => None,
        });
        assert_eq!(sni.unwrap()[0].1, b"example.jp");
        assert!(exts.iter().any(|e| matches!(e, TlsExtension::EllipticCurves(g) if g.len() == 6)));
        assert!(exts.iter().any(|e| matches!(e, TlsExtension::EcPointFormats(&[0]))));
    }

    #[test]
    fn ip_literals_get_no_sni() {
        for ip in ["192.0.2.1", "2001:db8::1", "[2001:db8::1]"] {
            let record = ClientHello::legacy(0x0302, &[0x002f], Some(ip)).unwrap().to_record().unwrap();
            let (_, version, _, exts) = parse_back(&record);
            assert_eq!(version, 0x0302);
            assert!(!exts.iter().any(|e| matches!(e, TlsExtension::SNI(_))), "{ip}");
        }
        assert!(matches!(ClientHello::legacy(0x0301, &[0x002f], Some("bad name")), Err(BuildError::BadServerName(_))));
    }

    #[test]
    fn sslv3_hello_has_no_extensions_and_ssl3_record() {
        let record = ClientHello::legacy(0x0300, &[0x000a], Some("example.jp")).unwrap().to_record().unwrap();
        let (record_version, version, offered, exts) = parse_back(&record);
        assert_eq!((record_version, version), (0x0300, 0x0300));
        assert_eq!(offered, vec![0x000a, 0x00ff]);
        assert!(exts.is_empty());
    }

    #[test]
    fn full_bundle_fits_and_avoids_the_256_to_511_range() {
        let suites = crate::wire::suites::suites_for(crate::evidence::TlsVersion::Tls10);
        for n in [1, 40, 80, 100, 128] {
            let bundle = &suites[..n.min(suites.len())];
            let hello = ClientHello::legacy(0x0301, bundle, Some("example.jp")).unwrap();
            let hs = hello.to_handshake().unwrap();
            assert!(!(256..512).contains(&hs.len()), "{n} suites: {} bytes", hs.len());
            let record = hello.to_record().unwrap();
            assert!(record.len() <= MAX_PLAINTEXT + 5);
            let (_, _, offered, _) = parse_back(&record);
            assert_eq!(offered.len(), bundle.len() + 1);
        }
    }

    #[test]
    fn tls12_version_is_accepted_and_sslv2_is_not() {
        assert!(ClientHello::legacy(0x0303, &[0xc02f], None).is_ok());
        assert_eq!(ClientHello::legacy(0x0002, &[], None), Err(BuildError::UnsupportedVersion(2)));
    }

    #[test]
    fn enumeration_hello_asks_for_every_feature() {
        let groups = [0x0017, 0x001d];
        let options = HelloOptions {
            server_name: Some("example.jp"),
            groups: Some(&groups),
            alpn: &["h2", "http/1.1"],
            fallback_scsv: true,
            ask_features: true,
        };
        let hello = ClientHello::tls(0x0303, &[0xc02f], &options).unwrap();
        assert_eq!(hello.offered_groups, groups);
        let record = hello.to_record().unwrap();
        let (_, version, offered, exts) = parse_back_with_compression(&record, &[1, 0]);
        assert_eq!(version, 0x0303);
        assert_eq!(offered, vec![0xc02f, 0x00ff, 0x5600]);
        let types: Vec<u16> = exts.iter().map(|e| u16::from(tls_parser::TlsExtensionType::from(e))).collect();
        for wanted in [
            EXT_STATUS_REQUEST,
            EXT_SIGNED_CERTIFICATE_TIMESTAMP,
            EXT_ALPN,
            EXT_EXTENDED_MASTER_SECRET,
            EXT_SESSION_TICKET,
            EXT_SUPPORTED_GROUPS,
        ] {
            assert!(types.contains(&wanted), "extension {wanted} missing from {types:?}");
        }
        let sct = hello.extensions.iter().find(|e| e.typ == EXT_SIGNED_CERTIFICATE_TIMESTAMP);
        assert_eq!(sct.map(|e| e.body.len()), Some(0), "the SCT request is empty");
        let status_at = types.iter().position(|t| *t == EXT_STATUS_REQUEST);
        assert_eq!(types.get(status_at.unwrap() + 1), Some(&EXT_SIGNED_CERTIFICATE_TIMESTAMP));
        assert!(exts.iter().any(|e| matches!(e, TlsExtension::EllipticCurves(g) if g.len() == 2 && g[0].0 == 0x0017)));
        assert!(exts.iter().any(|e| matches!(e, TlsExtension::ALPN(p) if p.len() == 2 && p[0] == b"h2")));
    }

    #[test]
    fn tls13_hello_has_supported_versions_and_an_empty_key_share() {
        let options = HelloOptions { server_name: Some("example.jp"), ..HelloOptions::default() };
        let hello = ClientHello::tls13(&[0x1301, 0x1302], &options).unwrap();
        assert_eq!(hello.offered_versions, vec![0x0304]);
        let record = hello.to_record().unwrap();
        let (record_version, version, offered, exts) = parse_back(&record);
        assert_eq!((record_version, version), (0x0301, 0x0303));
        assert_eq!(offered, vec![0x1301, 0x1302, 0x00ff]);
        assert!(exts
            .iter()
            .any(|e| matches!(e, TlsExtension::SupportedVersions(v) if v.len() == 1 && v[0].0 == 0x0304)));
        assert!(exts.iter().any(|e| matches!(e, TlsExtension::KeyShare(share) if *share == [0u8, 0])));
        assert!(exts.iter().any(|e| matches!(e, TlsExtension::SignatureAlgorithms(_))));
    }

    #[test]
    fn randoms_differ() {
        assert_ne!(fresh_random(), fresh_random());
    }
}
