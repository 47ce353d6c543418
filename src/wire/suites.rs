//! Cipher suite lists offered by the legacy probes, and suite names for reports.
//!
//! The TLS lists are derived from tls-parser's copy of the IANA registry rather than typed
//! in, so that a legacy endpoint is offered everything it could possibly agree to. The
//! registry's own min/max version columns are not exposed by tls-parser (and say `0300..`
//! for nearly everything anyway), so "usable before TLS 1.2" is decided from the suite's
//! algorithms: AEAD modes and SHA-2 MACs/PRFs only exist from TLS 1.2 on.

use tls_parser::{TlsCipherEnc, TlsCipherEncMode, TlsCipherKx, TlsCipherMac, TlsPRF, CIPHERS};

use crate::evidence::TlsVersion;

/// TLS_EMPTY_RENEGOTIATION_INFO_SCSV, appended to every TLS hello (RFC 5746).
pub const EMPTY_RENEGOTIATION_INFO_SCSV: u16 = 0x00ff;

/// TLS_FALLBACK_SCSV (RFC 7507). Sent only by the one hello that tests whether the server
/// honours it; elsewhere a probe is not a fallback, and the
/// signal would make a modern server refuse an old version for the wrong reason.
pub const FALLBACK_SCSV: u16 = 0x5600;

/// The seven SSLv2 cipher kinds (RFC draft-hickman-netscape-ssl-00, appendix C).
pub const SSLV2_CIPHER_KINDS: &[[u8; 3]] = &[
    [0x01, 0x00, 0x80], // SSL_CK_RC4_128_WITH_MD5
    [0x02, 0x00, 0x80], // SSL_CK_RC4_128_EXPORT40_WITH_MD5
    [0x03, 0x00, 0x80], // SSL_CK_RC2_128_CBC_WITH_MD5
    [0x04, 0x00, 0x80], // SSL_CK_RC2_128_CBC_EXPORT40_WITH_MD5
    [0x05, 0x00, 0x80], // SSL_CK_IDEA_128_CBC_WITH_MD5
    [0x06, 0x00, 0x40], // SSL_CK_DES_64_CBC_WITH_MD5
    [0x07, 0x00, 0xc0], // SSL_CK_DES_192_EDE3_CBC_WITH_MD5
];

/// The name of an SSLv2 cipher kind, or its hex value if unknown.
pub fn sslv2_cipher_kind_name(kind: [u8; 3]) -> String {
    let name = match kind {
        [0x01, 0x00, 0x80] => "SSL_CK_RC4_128_WITH_MD5",
        [0x02, 0x00, 0x80] => "SSL_CK_RC4_128_EXPORT40_WITH_MD5",
        [0x03, 0x00, 0x80] => "SSL_CK_RC2_128_CBC_WITH_MD5",
        [0x04, 0x00, 0x80] => "SSL_CK_RC2_128_CBC_EXPORT40_WITH_MD5",
        [0x05, 0x00, 0x80] => "SSL_CK_IDEA_128_CBC_WITH_MD5",
        [0x06, 0x00, 0x40] => "SSL_CK_DES_64_CBC_WITH_MD5",
        [0x07, 0x00, 0xc0] => "SSL_CK_DES_192_EDE3_CBC_WITH_MD5",
        [a, b, c] => return format!("0x{a:02X}{b:02X}{c:02X}"),
    };
    name.to_string()
}

/// Every registered suite a server could pick in a hello of `version`, in the order a
/// browser would offer them: certificate-authenticated forward-secret suites first, then
/// other authenticated suites, then PSK/SRP/Kerberos, and anonymous, NULL and export suites
/// last (by id within each group). Many servers honour the client's order; this way their
/// pick carries a certificate whenever they have one, and the chain can be captured.
///
/// For SSLv3, TLS 1.0 and TLS 1.1 this excludes suites that only exist from TLS 1.2 on
/// (AEAD ciphers, SHA-256/384 MACs or PRFs), TLS 1.3 suites, signalling values and
/// TLS_NULL_WITH_NULL_NULL (the "no suite yet" state, never negotiable). For TLS 1.2 it
/// returns every non-TLS-1.3 suite; for TLS 1.3 the TLS 1.3 suites. SSLv2 has no 16-bit
/// suites (see [`SSLV2_CIPHER_KINDS`]), so its list is empty.
pub fn suites_for(version: TlsVersion) -> Vec<u16> {
    let mut ids: Vec<u16> = CIPHERS
        .values()
        .filter(|s| is_real_suite(s.id.0))
        .filter(|s| match version {
            TlsVersion::Ssl2 => false,
            TlsVersion::Ssl3 => s.kx != TlsCipherKx::Tls13 && !needs_tls12(s) && !needs_extensions(s),
            TlsVersion::Tls10 | TlsVersion::Tls11 => s.kx != TlsCipherKx::Tls13 && !needs_tls12(s),
            TlsVersion::Tls12 => s.kx != TlsCipherKx::Tls13,
            TlsVersion::Tls13 => s.kx == TlsCipherKx::Tls13,
        })
        .map(|s| s.id.0)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids.sort_by_key(|id| (CIPHERS.get(id).map(offer_rank).unwrap_or(u8::MAX), *id));
    ids
}

/// Lower ranks are offered first.
fn offer_rank(suite: &tls_parser::TlsCipherSuite) -> u8 {
    use tls_parser::TlsCipherAu;
    let certificate_authenticated = matches!(suite.au, TlsCipherAu::Rsa | TlsCipherAu::Ecdsa | TlsCipherAu::Dss);
    let weak_cipher = suite.enc == TlsCipherEnc::Null || suite.enc_size < 112;
    match (certificate_authenticated, weak_cipher) {
        (true, false) if matches!(suite.kx, TlsCipherKx::Ecdhe | TlsCipherKx::Dhe) => 0,
        (true, false) => 1,
        (false, false) if suite.au != TlsCipherAu::Null => 2,
        (true, true) => 3,
        _ => 4,
    }
}

/// The IANA name of a suite, or `0xABCD` if tls-parser does not know it.
pub fn suite_name(id: u16) -> String {
    match CIPHERS.get(&id) {
        Some(suite) => suite.name.to_string(),
        None => format!("0x{id:04X}"),
    }
}

fn is_real_suite(id: u16) -> bool {
    id != 0x0000 && id != EMPTY_RENEGOTIATION_INFO_SCSV && id != FALLBACK_SCSV
}

/// Whether a suite cannot be negotiated without hello extensions, which SSLv3 hellos do not
/// carry: the ECC suites (RFC 8422 §5.1 ties them to the supported_groups and
/// ec_point_formats extensions; without them a server has no curve to use).
fn needs_extensions(s: &tls_parser::TlsCipherSuite) -> bool {
    matches!(s.kx, TlsCipherKx::Ecdh | TlsCipherKx::Ecdhe | TlsCipherKx::Aecdh)
}

/// Whether a suite relies on something introduced by TLS 1.2 (RFC 5246, 5288, 5289, 6655,
/// 7905…): an AEAD construction, or a MAC or PRF other than the classic MD5/SHA-1 pair.
fn needs_tls12(s: &tls_parser::TlsCipherSuite) -> bool {
    let aead_mode = matches!(s.enc_mode, TlsCipherEncMode::Gcm | TlsCipherEncMode::Ccm);
    let aead_cipher = matches!(s.enc, TlsCipherEnc::Chacha20_Poly1305 | TlsCipherEnc::Aegis | TlsCipherEnc::Sm4);
    let modern_mac = !matches!(s.mac, TlsCipherMac::Null | TlsCipherMac::HmacMd5 | TlsCipherMac::HmacSha1);
    let modern_prf = !matches!(s.prf, TlsPRF::Default);
    aead_mode || aead_cipher || modern_mac || modern_prf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls10_list_has_classic_suites_only() {
        let list = suites_for(TlsVersion::Tls10);
        assert!(list.contains(&0x002f), "TLS_RSA_WITH_AES_128_CBC_SHA");
        assert!(list.contains(&0x000a), "TLS_RSA_WITH_3DES_EDE_CBC_SHA");
        assert!(list.contains(&0xc013), "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA");
        for banned in [0xc02f, 0x009c, 0x1301, 0xcca8, 0x003c, 0xc027, 0xc09c, 0x00ff, 0x5600, 0x0000] {
            assert!(!list.contains(&banned), "{banned:#06x} must not be offered");
        }
    }

    #[test]
    fn lists_are_unique_deterministic_and_shared_by_tls10_and_tls11() {
        let a = suites_for(TlsVersion::Tls11);
        let mut unique = a.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), a.len());
        assert_eq!(a, suites_for(TlsVersion::Tls11));
        assert_eq!(a, suites_for(TlsVersion::Tls10));
        // SSLv3 hellos carry no extensions, so no ECC suite, and the list fits one hello.
        let ssl3 = suites_for(TlsVersion::Ssl3);
        assert!(ssl3.iter().all(|s| a.contains(s)) && !ssl3.contains(&0xc013));
        assert!(ssl3.len() <= crate::probe::enumerate::MAX_SUITES_PER_HELLO, "{}", ssl3.len());
        assert!(a.len() > 100, "the full registry, not a curated subset: {}", a.len());
        assert!(suites_for(TlsVersion::Ssl2).is_empty());
    }

    #[test]
    fn authenticated_forward_secret_suites_come_first_and_anonymous_last() {
        let list = suites_for(TlsVersion::Tls10);
        let position = |id: u16| list.iter().position(|s| *s == id).unwrap_or(usize::MAX);
        // ECDHE-RSA-AES128-SHA before RSA-AES128-SHA before ADH-AES128-SHA and NULL-SHA.
        assert!(position(0xc013) < position(0x002f));
        assert!(position(0x002f) < position(0x0034));
        assert!(position(0x002f) < position(0x0002));
        assert!(position(0x0034) > list.len() / 2, "anonymous suites are at the end");
    }

    #[test]
    fn modern_lists_split_on_tls13() {
        let tls12 = suites_for(TlsVersion::Tls12);
        assert!(tls12.contains(&0xc02f) && tls12.contains(&0x002f) && !tls12.contains(&0x1301));
        assert!(suites_for(TlsVersion::Tls13).contains(&0x1301));
    }

    #[test]
    fn names() {
        assert_eq!(suite_name(0x002f), "TLS_RSA_WITH_AES_128_CBC_SHA");
        assert_eq!(suite_name(0xfefe), "0xFEFE");
        assert_eq!(sslv2_cipher_kind_name([7, 0, 0xc0]), "SSL_CK_DES_192_EDE3_CBC_WITH_MD5");
        assert_eq!(sslv2_cipher_kind_name([9, 0, 1]), "0x090001");
        assert_eq!(SSLV2_CIPHER_KINDS.len(), 7);
    }
}
