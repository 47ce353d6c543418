//! Certificate revocation judged from bytes: OCSP responses ([`ocsp`]) and CRLs ([`crl`]).
//!
//! Nothing here touches the network; fetching happens elsewhere and hands over DER. Every
//! judgement parses its input completely first and only then looks at what it says, so a
//! truncated or hostile input becomes a review full of problems rather than a panic.
//! [`respond`] goes the other way and makes signed responses and CRLs for the demo and the
//! tests.

#![warn(missing_docs)]

pub mod crl;
pub mod ocsp;
pub mod respond;

#[cfg(test)]
mod interop_tests;

use serde::Serialize;
use x509_parser::asn1_rs::BitString;
use x509_parser::prelude::{FromDer, X509Certificate, X509Error};
use x509_parser::x509::{AlgorithmIdentifier, SubjectPublicKeyInfo};

use crate::evidence::UnixSeconds;

/// How far a responder's or CA's clock may run ahead of ours before a statement counts as
/// issued in the future.
pub const CLOCK_SKEW_SECONDS: i64 = 5 * 60;

/// How old a statement without a nextUpdate may be and still count as current; the CA/B
/// Forum Baseline Requirements cap OCSP validity at 10 days and expect refreshes well before.
pub const MAX_AGE_WITHOUT_NEXT_UPDATE_SECONDS: i64 = 7 * 24 * 60 * 60;

/// How current a revocation statement is at the moment of judging.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Freshness {
    /// Within its validity window.
    Fresh,
    /// Past its nextUpdate, or without one and older than a week.
    Stale,
    /// Issued in the future beyond the allowed clock skew.
    NotYetValid,
    /// No thisUpdate to judge by (nothing matched, or nothing parsed).
    Unknown,
}

/// Judges a statement's validity window `this_update`..`next_update` at `at`.
pub fn judge_freshness(this_update: Option<i64>, next_update: Option<i64>, at: UnixSeconds) -> Freshness {
    let at = unix_to_i64(at);
    let Some(this_update) = this_update else {
        return Freshness::Unknown;
    };
    if this_update > at.saturating_add(CLOCK_SKEW_SECONDS) {
        return Freshness::NotYetValid;
    }
    let expired = match next_update {
        Some(next_update) => at > next_update,
        None => at.saturating_sub(this_update) > MAX_AGE_WITHOUT_NEXT_UPDATE_SECONDS,
    };
    if expired {
        Freshness::Stale
    } else {
        Freshness::Fresh
    }
}

/// Why a certificate was revoked: RFC 5280 CRLReason.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RevocationReason {
    /// unspecified (0).
    Unspecified,
    /// keyCompromise (1): the private key leaked.
    KeyCompromise,
    /// cACompromise (2): the issuing CA's key leaked.
    CaCompromise,
    /// affiliationChanged (3).
    AffiliationChanged,
    /// superseded (4): replaced by a new certificate.
    Superseded,
    /// cessationOfOperation (5): no longer needed.
    CessationOfOperation,
    /// certificateHold (6): suspended, may come back.
    CertificateHold,
    /// removeFromCRL (8): a hold lifted (delta CRLs only).
    RemoveFromCrl,
    /// privilegeWithdrawn (9).
    PrivilegeWithdrawn,
    /// aACompromise (10): an attribute authority's key leaked.
    AaCompromise,
}

impl RevocationReason {
    /// The reason for a CRLReason code, if the code is defined (7 never was).
    pub fn from_code(code: u32) -> Option<RevocationReason> {
        Some(match code {
            0 => RevocationReason::Unspecified,
            1 => RevocationReason::KeyCompromise,
            2 => RevocationReason::CaCompromise,
            3 => RevocationReason::AffiliationChanged,
            4 => RevocationReason::Superseded,
            5 => RevocationReason::CessationOfOperation,
            6 => RevocationReason::CertificateHold,
            8 => RevocationReason::RemoveFromCrl,
            9 => RevocationReason::PrivilegeWithdrawn,
            10 => RevocationReason::AaCompromise,
            _ => return None,
        })
    }

    /// The CRLReason code.
    pub fn code(self) -> u32 {
        match self {
            RevocationReason::Unspecified => 0,
            RevocationReason::KeyCompromise => 1,
            RevocationReason::CaCompromise => 2,
            RevocationReason::AffiliationChanged => 3,
            RevocationReason::Superseded => 4,
            RevocationReason::CessationOfOperation => 5,
            RevocationReason::CertificateHold => 6,
            RevocationReason::RemoveFromCrl => 8,
            RevocationReason::PrivilegeWithdrawn => 9,
            RevocationReason::AaCompromise => 10,
        }
    }

    /// The RFC 5280 name (`keyCompromise`, ...), as tools like `openssl` print it.
    pub fn rfc_name(self) -> &'static str {
        match self {
            RevocationReason::Unspecified => "unspecified",
            RevocationReason::KeyCompromise => "keyCompromise",
            RevocationReason::CaCompromise => "cACompromise",
            RevocationReason::AffiliationChanged => "affiliationChanged",
            RevocationReason::Superseded => "superseded",
            RevocationReason::CessationOfOperation => "cessationOfOperation",
            RevocationReason::CertificateHold => "certificateHold",
            RevocationReason::RemoveFromCrl => "removeFromCRL",
            RevocationReason::PrivilegeWithdrawn => "privilegeWithdrawn",
            RevocationReason::AaCompromise => "aACompromise",
        }
    }
}

/// The outcome of checking a signature over a CRL (or other signed object).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum SignatureCheck {
    /// Verified with the issuer's key.
    Valid,
    /// Checked and wrong (or signed by someone who may not sign it).
    Invalid {
        /// Why, in English.
        reason: String,
    },
    /// Not checked: issuer unknown or algorithm unsupported.
    NotChecked {
        /// Why, in English.
        reason: String,
    },
}

/// A hash algorithm a CertID may name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertIdHash {
    /// SHA-1: what RFC 6960 requests use in practice; broken for signatures, harmless here.
    Sha1,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl CertIdHash {
    /// Every supported algorithm, the legacy default first.
    pub const ALL: [CertIdHash; 4] = [CertIdHash::Sha1, CertIdHash::Sha256, CertIdHash::Sha384, CertIdHash::Sha512];

    /// The algorithm's object identifier, dotted.
    pub fn oid(self) -> &'static str {
        match self {
            CertIdHash::Sha1 => "1.3.14.3.2.26",
            CertIdHash::Sha256 => "2.16.840.1.101.3.4.2.1",
            CertIdHash::Sha384 => "2.16.840.1.101.3.4.2.2",
            CertIdHash::Sha512 => "2.16.840.1.101.3.4.2.3",
        }
    }

    /// The algorithm named by a dotted object identifier, if supported.
    pub fn from_oid(dotted: &str) -> Option<CertIdHash> {
        CertIdHash::ALL.into_iter().find(|hash| hash.oid() == dotted)
    }

    /// The digest of `data`.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        let algorithm = match self {
            CertIdHash::Sha1 => &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
            CertIdHash::Sha256 => &ring::digest::SHA256,
            CertIdHash::Sha384 => &ring::digest::SHA384,
            CertIdHash::Sha512 => &ring::digest::SHA512,
        };
        ring::digest::digest(algorithm, data).as_ref().to_vec()
    }
}

/// What revocation checking needs from one certificate, read once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateFacts {
    /// The serial number's INTEGER content in minimal form (see [`minimal_integer`]).
    pub serial: Vec<u8>,
    /// The DER of the issuer Name.
    pub issuer_name_der: Vec<u8>,
    /// The DER of the subject Name.
    pub subject_name_der: Vec<u8>,
    /// The subject as text, RFC 4514 style.
    pub subject: String,
    /// The DER of the SubjectPublicKeyInfo.
    pub public_key_info_der: Vec<u8>,
    /// The subjectPublicKey BIT STRING content: what OCSP key hashes are taken over.
    pub public_key_bits: Vec<u8>,
    /// notBefore, seconds since the epoch.
    pub not_before: i64,
    /// notAfter, seconds since the epoch.
    pub not_after: i64,
    /// Whether the extended key usage includes id-kp-OCSPSigning.
    pub ocsp_signing_eku: bool,
    /// Whether a key usage extension is present and allows cRLSign (`None`: no extension).
    pub crl_sign_key_usage: Option<bool>,
}

/// Reads the facts of a DER certificate; trailing bytes are an error.
pub fn certificate_facts(cert_der: &[u8]) -> Result<CertificateFacts, String> {
    let cert = parse_certificate(cert_der)?;
    let ocsp_signing_eku = match cert.extended_key_usage() {
        Ok(Some(eku)) => eku.value.ocsp_signing,
        Ok(None) => false,
        Err(e) => return Err(format!("the extended key usage extension is malformed: {e}")),
    };
    let crl_sign_key_usage = match cert.key_usage() {
        Ok(Some(usage)) => Some(usage.value.crl_sign()),
        Ok(None) => None,
        Err(e) => return Err(format!("the key usage extension is malformed: {e}")),
    };
    let tbs = &cert.tbs_certificate;
    Ok(CertificateFacts {
        serial: minimal_integer(tbs.raw_serial()).to_vec(),
        issuer_name_der: tbs.issuer.as_raw().to_vec(),
        subject_name_der: tbs.subject.as_raw().to_vec(),
        subject: tbs.subject.to_string(),
        public_key_info_der: tbs.subject_pki.raw.to_vec(),
        public_key_bits: tbs.subject_pki.subject_public_key.data.to_vec(),
        not_before: tbs.validity.not_before.timestamp(),
        not_after: tbs.validity.not_after.timestamp(),
        ocsp_signing_eku,
        crl_sign_key_usage,
    })
}

/// The serial number of a DER certificate, as minimal INTEGER content bytes.
pub fn certificate_serial(cert_der: &[u8]) -> Result<Vec<u8>, String> {
    Ok(certificate_facts(cert_der)?.serial)
}

/// The CertID issuerNameHash for certificates issued by `issuer`: the hash of the issuer's
/// subject Name DER.
pub fn issuer_name_hash(hash: CertIdHash, issuer: &CertificateFacts) -> Vec<u8> {
    hash.digest(&issuer.subject_name_der)
}

/// The CertID issuerKeyHash for certificates issued by `issuer`: the hash of the issuer's
/// subjectPublicKey bits (without tag, length or unused-bits byte).
pub fn issuer_key_hash(hash: CertIdHash, issuer: &CertificateFacts) -> Vec<u8> {
    hash.digest(&issuer.public_key_bits)
}

/// Strips the redundant leading sign bytes of a two's-complement INTEGER's content, so two
/// encodings of one value compare equal (lenient parsers let non-minimal serials through).
pub fn minimal_integer(content: &[u8]) -> &[u8] {
    let mut rest = content;
    while let [first, second, ..] = rest {
        let redundant = (*first == 0x00 && *second < 0x80) || (*first == 0xff && *second >= 0x80);
        if !redundant {
            break;
        }
        rest = &rest[1..];
    }
    rest
}

/// A serial number (INTEGER content) as colon-separated hex, as certificate viewers print
/// it: without the zero byte that only keeps a high first bit from reading as a sign.
pub fn serial_text(serial: &[u8]) -> String {
    let digits = match serial {
        [0x00, next, ..] if *next >= 0x80 => &serial[1..],
        _ => serial,
    };
    digits.iter().map(|byte| format!("{byte:02X}")).collect::<Vec<_>>().join(":")
}

/// Verifies `signature` (BIT STRING content without the unused-bits byte) over `signed_data`
/// with the key in `signer_public_key_info_der`, using the algorithm in `algorithm_der` (a DER
/// AlgorithmIdentifier).
pub fn verify_signed_data(
    signer_public_key_info_der: &[u8],
    algorithm_der: &[u8],
    signature: &[u8],
    signed_data: &[u8],
) -> Result<(), SignatureFailure> {
    let algorithm = match AlgorithmIdentifier::from_der(algorithm_der) {
        Ok(([], algorithm)) => algorithm,
        _ => return Err(SignatureFailure::Malformed("the signature algorithm cannot be parsed".to_string())),
    };
    let signature_bits = BitString::new(0, signature);
    verify_with_key(
        signer_public_key_info_der,
        |key| x509_parser::verify::verify_signature(key, &algorithm, &signature_bits, signed_data),
        &algorithm,
    )
}

/// Why a signature did not verify.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignatureFailure {
    /// The signature is wrong for this key and data.
    Mismatch,
    /// The algorithm (or algorithm and key combination) is not one we can check.
    Unsupported(String),
    /// The key or algorithm identifier is not well formed.
    Malformed(String),
}

impl SignatureFailure {
    /// An English explanation.
    pub fn describe(&self) -> String {
        match self {
            SignatureFailure::Mismatch => "the signature does not verify".to_string(),
            SignatureFailure::Unsupported(detail) | SignatureFailure::Malformed(detail) => detail.clone(),
        }
    }
}

/// Whether `issuer` signed `cert_der`.
pub(crate) fn certificate_signed_by(cert_der: &[u8], issuer: &CertificateFacts) -> Result<(), SignatureFailure> {
    let cert = parse_certificate(cert_der).map_err(SignatureFailure::Malformed)?;
    verify_with_key(&issuer.public_key_info_der, |key| cert.verify_signature(Some(key)), &cert.signature_algorithm)
}

/// Runs one of x509-parser's `verify_signature` methods with the key in `public_key_info_der`,
/// sorting its errors into [`SignatureFailure`]s.
pub(crate) fn verify_with_key(
    public_key_info_der: &[u8],
    verify: impl FnOnce(&SubjectPublicKeyInfo<'_>) -> Result<(), X509Error>,
    algorithm: &AlgorithmIdentifier<'_>,
) -> Result<(), SignatureFailure> {
    let public_key = match SubjectPublicKeyInfo::from_der(public_key_info_der) {
        Ok(([], key)) => key,
        _ => return Err(SignatureFailure::Malformed("the signer's public key cannot be parsed".to_string())),
    };
    verify(&public_key).map_err(|e| match e {
        X509Error::SignatureUnsupportedAlgorithm => {
            SignatureFailure::Unsupported(format!("signature algorithm {} is not supported", algorithm.algorithm))
        }
        _ => SignatureFailure::Mismatch,
    })
}

fn parse_certificate(cert_der: &[u8]) -> Result<X509Certificate<'_>, String> {
    match X509Certificate::from_der(cert_der) {
        Ok((rest, _)) if !rest.is_empty() => Err(format!("{} bytes follow the certificate", rest.len())),
        Ok((_, cert)) => Ok(cert),
        Err(e) => Err(format!("the certificate cannot be parsed: {e}")),
    }
}

/// Seconds since the epoch as a signed number, saturating far in the future.
pub(crate) fn unix_to_i64(at: UnixSeconds) -> i64 {
    i64::try_from(at).unwrap_or(i64::MAX)
}

/// A Unix time as `YYYY-MM-DD HH:MM:SS UTC`, for problem texts.
pub(crate) fn time_text(unix: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| format!("{unix} (Unix time)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_integer_drops_only_redundant_sign_bytes() {
        assert_eq!(minimal_integer(&[0x00, 0x00, 0x7f]), &[0x7f]);
        assert_eq!(minimal_integer(&[0x00, 0x80]), &[0x00, 0x80]);
        assert_eq!(minimal_integer(&[0xff, 0xff, 0x80]), &[0x80]);
        assert_eq!(minimal_integer(&[0xff, 0x7f]), &[0xff, 0x7f]);
        assert_eq!(minimal_integer(&[0x00]), &[0x00]);
        assert_eq!(minimal_integer(&[]), &[] as &[u8]);
    }

    #[test]
    fn freshness_windows() {
        let at = 1_000_000u64;
        let now = 1_000_000i64;
        assert_eq!(judge_freshness(None, None, at), Freshness::Unknown);
        assert_eq!(judge_freshness(Some(now - 60), Some(now + 60), at), Freshness::Fresh);
        assert_eq!(judge_freshness(Some(now - 120), Some(now - 60), at), Freshness::Stale);
        assert_eq!(judge_freshness(Some(now + 60), Some(now + 3600), at), Freshness::Fresh, "within skew");
        assert_eq!(judge_freshness(Some(now + 3600), Some(now + 7200), at), Freshness::NotYetValid);
        assert_eq!(judge_freshness(Some(now - 86_400), None, at), Freshness::Fresh);
        assert_eq!(judge_freshness(Some(now - 8 * 86_400), None, at), Freshness::Stale);
    }

    #[test]
    fn reason_codes_round_trip() {
        for code in 0..=11 {
            if let Some(reason) = RevocationReason::from_code(code) {
                assert_eq!(reason.code(), code);
            } else {
                assert!(code == 7 || code == 11);
            }
        }
    }

    #[test]
    fn serial_text_hides_the_sign_padding() {
        assert_eq!(serial_text(&[0x00, 0x99]), "99");
        assert_eq!(serial_text(&[0x12, 0x34]), "12:34");
        assert_eq!(serial_text(&[0x00]), "00");
    }

    #[test]
    fn garbage_is_not_a_certificate() {
        assert!(certificate_facts(&[]).is_err());
        assert!(certificate_facts(&[0x30, 0x03, 0x02, 0x01, 0x01]).is_err());
    }
}
