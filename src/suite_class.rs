//! What a cipher suite is made of, and how the IPA TLS guideline classes it.
//!
//! Properties come from the IANA registry as bundled by tls-parser; the IPA classes come
//! from `probes/ipa-tls-3.0.1.toml`, which records only what could be confirmed and says
//! "unknown" for the rest.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use tls_parser::{TlsCipherAu, TlsCipherEnc, TlsCipherEncMode, TlsCipherKx, TlsCipherMac, CIPHERS};

use crate::evidence::TlsVersion;

const IPA_TEXT: &str = include_str!("../probes/ipa-tls-3.0.1.toml");

/// A suite's make-up and the weaknesses kensa checks for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SuiteClass {
    pub id: u16,
    /// The IANA name, or `0xABCD` if the registry does not know it.
    pub name: String,
    /// Whether the registry knows the suite at all; the flags below are all false if not.
    pub known: bool,
    pub key_exchange: String,
    pub authentication: String,
    pub cipher: String,
    pub mode: String,
    pub key_bits: u16,
    pub mac: String,
    /// Ephemeral key exchange (ECDHE/DHE, anonymous variants included, and TLS 1.3).
    pub forward_secrecy: bool,
    pub aead: bool,
    /// No authentication of the server: anyone in the path can impersonate it.
    pub anonymous: bool,
    /// No encryption at all.
    pub null_cipher: bool,
    /// Export-grade (40/56-bit) cryptography.
    pub export: bool,
    pub rc4: bool,
    /// DES, 3DES, RC2, IDEA: 64-bit blocks (SWEET32) or short keys.
    pub triple_des: bool,
    /// Single DES, RC2, IDEA and other ciphers below 112-bit strength besides export.
    pub weak_cipher: bool,
    pub cbc: bool,
    /// RSA key transport: no forward secrecy, and the ROBOT family of attacks.
    pub static_rsa: bool,
    /// ECDHE (or anonymous ECDH): the group shows in the ServerKeyExchange.
    pub ephemeral_ec: bool,
    /// DHE (or anonymous DH): the prime shows in the ServerKeyExchange.
    pub ephemeral_dh: bool,
    pub ipa: IpaClasses,
}

/// Membership in each IPA 設定基準's setting example.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpaClasses {
    pub high: Listing,
    pub recommended: Listing,
    pub exception: Listing,
}

/// Whether a profile's list contains the suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Listing {
    Listed,
    Unknown,
}

const UNKNOWN_IPA: IpaClasses =
    IpaClasses { high: Listing::Unknown, recommended: Listing::Unknown, exception: Listing::Unknown };

/// Classifies one suite.
pub fn classify(id: u16) -> SuiteClass {
    let ipa = ipa_table().suites.get(&id).copied().unwrap_or(UNKNOWN_IPA);
    let Some(s) = CIPHERS.get(&id) else {
        return SuiteClass {
            id,
            name: format!("0x{id:04X}"),
            known: false,
            key_exchange: "unknown".into(),
            authentication: "unknown".into(),
            cipher: "unknown".into(),
            mode: "unknown".into(),
            key_bits: 0,
            mac: "unknown".into(),
            forward_secrecy: false,
            aead: false,
            anonymous: false,
            null_cipher: false,
            export: false,
            rc4: false,
            triple_des: false,
            weak_cipher: false,
            cbc: false,
            static_rsa: false,
            ephemeral_ec: false,
            ephemeral_dh: false,
            ipa,
        };
    };
    let anonymous = s.au == TlsCipherAu::Null && s.kx != TlsCipherKx::Tls13;
    let ephemeral_ec = matches!(s.kx, TlsCipherKx::Ecdhe | TlsCipherKx::Aecdh)
        || (s.kx == TlsCipherKx::Ecdh && s.au == TlsCipherAu::Null);
    let ephemeral_dh = s.kx == TlsCipherKx::Dhe || (s.kx == TlsCipherKx::Dh && s.au == TlsCipherAu::Null);
    let aead = matches!(s.enc_mode, TlsCipherEncMode::Gcm | TlsCipherEncMode::Ccm)
        || matches!(s.enc, TlsCipherEnc::Chacha20_Poly1305 | TlsCipherEnc::Aegis)
        || s.mac == TlsCipherMac::Aead;
    let export = s.name.contains("EXPORT");
    SuiteClass {
        id,
        name: s.name.to_string(),
        known: true,
        key_exchange: format!("{:?}", s.kx).to_uppercase(),
        authentication: format!("{:?}", s.au).to_uppercase(),
        cipher: format!("{:?}", s.enc).to_uppercase(),
        mode: format!("{:?}", s.enc_mode).to_uppercase(),
        key_bits: s.enc_size,
        mac: format!("{:?}", s.mac).to_uppercase(),
        forward_secrecy: ephemeral_ec || ephemeral_dh || s.kx == TlsCipherKx::Tls13,
        aead,
        anonymous,
        null_cipher: s.enc == TlsCipherEnc::Null,
        export,
        rc4: s.enc == TlsCipherEnc::Rc4,
        triple_des: s.enc == TlsCipherEnc::TripleDes,
        weak_cipher: !export && matches!(s.enc, TlsCipherEnc::Des | TlsCipherEnc::Rc2 | TlsCipherEnc::Idea),
        cbc: s.enc_mode == TlsCipherEncMode::Cbc,
        static_rsa: s.kx == TlsCipherKx::Rsa,
        ephemeral_ec,
        ephemeral_dh,
        ipa,
    }
}

/// What the IPA file says about protocol versions, per 設定基準.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct IpaVersions {
    pub high: BTreeMap<TlsVersion, String>,
    pub recommended: BTreeMap<TlsVersion, String>,
    pub exception: BTreeMap<TlsVersion, String>,
}

/// The IPA data: suite classes by id, version rules, and where they come from.
#[derive(Debug)]
pub struct IpaTable {
    pub title_ja: String,
    pub data_version: u32,
    pub suites: BTreeMap<u16, IpaClasses>,
    pub versions: IpaVersions,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IpaFile {
    source: IpaSource,
    versions: IpaVersions,
    suites: Vec<IpaSuite>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read for validation; shown to people in the file itself
struct IpaSource {
    title_ja: String,
    published: String,
    data_version: u32,
    suite_confidence: String,
    suite_source: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IpaSuite {
    id: u16,
    name: String,
    high: Listing,
    recommended: Listing,
    exception: Listing,
}

/// Parses IPA data text, checking that every name matches its code point.
pub fn parse_ipa(text: &str) -> Result<IpaTable, String> {
    let file: IpaFile = toml::from_str(text).map_err(|e| e.to_string())?;
    let mut suites = BTreeMap::new();
    for s in file.suites {
        let registry = CIPHERS.get(&s.id).map(|c| c.name);
        if registry != Some(s.name.as_str()) {
            return Err(format!("suite {:#06x} is {:?} in the registry, not {:?}", s.id, registry, s.name));
        }
        let classes = IpaClasses { high: s.high, recommended: s.recommended, exception: s.exception };
        if suites.insert(s.id, classes).is_some() {
            return Err(format!("suite {:#06x} listed twice", s.id));
        }
    }
    Ok(IpaTable {
        title_ja: file.source.title_ja,
        data_version: file.source.data_version,
        suites,
        versions: file.versions,
    })
}

/// The embedded IPA data.
pub fn ipa_table() -> &'static IpaTable {
    static TABLE: OnceLock<IpaTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        // The embedded file is checked by a unit test; an empty table is the safe fallback.
        parse_ipa(IPA_TEXT).unwrap_or_else(|_| IpaTable {
            title_ja: String::new(),
            data_version: 0,
            suites: BTreeMap::new(),
            versions: IpaVersions { high: BTreeMap::new(), recommended: BTreeMap::new(), exception: BTreeMap::new() },
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_ipa_data_is_valid() {
        let table = parse_ipa(IPA_TEXT).unwrap();
        assert_eq!(table.suites.len(), 14);
        assert_eq!(table.versions.high.get(&TlsVersion::Tls13).map(String::as_str), Some("required"));
        assert_eq!(table.versions.exception.get(&TlsVersion::Tls10).map(String::as_str), Some("allowed"));
        assert!(parse_ipa(&IPA_TEXT.replace("TLS_AES_128_CCM_8_SHA256", "TLS_BOGUS")).is_err());
    }

    #[test]
    fn weaknesses() {
        let rc4 = classify(0x0005); // TLS_RSA_WITH_RC4_128_SHA
        assert!(rc4.rc4 && rc4.static_rsa && !rc4.forward_secrecy && !rc4.cbc);
        let anon = classify(0x0034); // TLS_DH_anon_WITH_AES_128_CBC_SHA
        assert!(anon.anonymous && anon.ephemeral_dh && anon.cbc);
        let export = classify(0x0003); // TLS_RSA_EXPORT_WITH_RC4_40_MD5
        assert!(export.export && export.rc4);
        let null = classify(0x0002); // TLS_RSA_WITH_NULL_SHA
        assert!(null.null_cipher && !null.weak_cipher);
        let triple = classify(0x000a);
        assert!(triple.triple_des && triple.cbc);
        let modern = classify(0xc02f);
        assert!(modern.forward_secrecy && modern.aead && modern.ephemeral_ec && !modern.cbc);
        assert_eq!(modern.ipa.recommended, Listing::Listed);
        assert_eq!(modern.ipa.high, Listing::Unknown);
        let tls13 = classify(0x1301);
        assert!(tls13.forward_secrecy && tls13.aead && !tls13.anonymous);
        assert_eq!(tls13.ipa.high, Listing::Listed);
        let unknown = classify(0xfefe);
        assert!(!unknown.known && !unknown.forward_secrecy);
    }
}
