//! Whether a recorded chain leads to a trusted root, judged with rustls-webpki at the
//! moment the chain was captured.
//!
//! Mozilla's root program (webpki-roots, compiled in so verdicts don't depend on the host)
//! is the operational reading of the guideline's 「信頼性の高い機関」. Roots given with
//! `--ca-file` are tried only after Mozilla's, so a verdict always says which store trusted
//! the chain.

use rustls::pki_types::{CertificateDer, ServerName, TrustAnchor, UnixTime};
use serde::Serialize;
use webpki::{EndEntityCert, KeyUsage};

use crate::evidence::{CertDer, UnixSeconds};

/// Which store a chain was trusted by.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum TrustStore {
    /// Mozilla's root program, as bundled by webpki-roots.
    Mozilla,
    /// Roots the user supplied with `--ca-file`.
    CaFile,
}

/// The outcome of path validation.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum TrustVerdict {
    Trusted { store: TrustStore },
    NotTrusted { reason: TrustFailure, detail: String },
}

/// Why a chain is not trusted, in the terms a report needs.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TrustFailure {
    /// No path to a known root (self-signed, private CA, missing intermediate).
    UnknownIssuer,
    Expired,
    NotYetValid,
    BadSignature,
    /// A signature algorithm or key that webpki refuses (SHA-1, small RSA…).
    UnsupportedAlgorithm,
    /// The certificate may not be used for TLS servers (EKU, CA used as end entity).
    WrongUsage,
    Malformed,
    Other,
}

impl TrustFailure {
    /// A short English explanation.
    pub fn describe_en(self) -> &'static str {
        match self {
            TrustFailure::UnknownIssuer => "issuer unknown: no path to a trusted root",
            TrustFailure::Expired => "a certificate in the chain has expired",
            TrustFailure::NotYetValid => "a certificate in the chain is not yet valid",
            TrustFailure::BadSignature => "a signature in the chain does not verify",
            TrustFailure::UnsupportedAlgorithm => "a signature algorithm or key in the chain is not acceptable",
            TrustFailure::WrongUsage => "the certificate is not valid for TLS server authentication",
            TrustFailure::Malformed => "a certificate in the chain is malformed",
            TrustFailure::Other => "the chain could not be validated",
        }
    }

    /// A short Japanese explanation.
    pub fn describe_ja(self) -> &'static str {
        match self {
            TrustFailure::UnknownIssuer => "発行者が不明（信頼されたルートに到達しない）",
            TrustFailure::Expired => "チェーン内の証明書が有効期限切れ",
            TrustFailure::NotYetValid => "チェーン内の証明書がまだ有効期間前",
            TrustFailure::BadSignature => "チェーン内の署名が検証できない",
            TrustFailure::UnsupportedAlgorithm => "チェーン内の署名アルゴリズムまたは鍵が許容されない",
            TrustFailure::WrongUsage => "TLSサーバー認証に使用できない証明書",
            TrustFailure::Malformed => "チェーン内の証明書の形式が不正",
            TrustFailure::Other => "チェーンを検証できない",
        }
    }
}

/// Validates `chain` (leaf first, as served) at time `at`, first against Mozilla's roots,
/// then against `extra_roots`. The host name is not part of this verdict; see
/// [`name_matches`].
pub fn judge_chain(chain: &[CertDer], extra_roots: &[CertDer], at: UnixSeconds) -> TrustVerdict {
    let Some((leaf, rest)) = chain.split_first() else {
        return TrustVerdict::NotTrusted { reason: TrustFailure::Malformed, detail: "empty chain".to_string() };
    };
    let leaf_der = CertificateDer::from(leaf.0.as_slice());
    let end_entity = match EndEntityCert::try_from(&leaf_der) {
        Ok(cert) => cert,
        Err(e) => return not_trusted(&e),
    };
    let intermediates: Vec<CertificateDer<'_>> = rest.iter().map(|c| CertificateDer::from(c.0.as_slice())).collect();
    let algorithms = rustls::crypto::ring::default_provider().signature_verification_algorithms.all;
    let time = UnixTime::since_unix_epoch(std::time::Duration::from_secs(at));
    let verify = |anchors: &[TrustAnchor<'_>]| {
        end_entity
            .verify_for_usage(algorithms, anchors, &intermediates, time, KeyUsage::server_auth(), None, None)
            .map(|_| ())
    };
    let mozilla_error = match verify(webpki_roots::TLS_SERVER_ROOTS) {
        Ok(()) => return TrustVerdict::Trusted { store: TrustStore::Mozilla },
        Err(e) => e,
    };
    let extra: Vec<CertificateDer<'_>> = extra_roots.iter().map(|c| CertificateDer::from(c.0.as_slice())).collect();
    let anchors: Vec<TrustAnchor<'_>> = extra.iter().filter_map(|c| webpki::anchor_from_trusted_cert(c).ok()).collect();
    if anchors.is_empty() {
        return not_trusted(&mozilla_error);
    }
    match verify(&anchors) {
        Ok(()) => TrustVerdict::Trusted { store: TrustStore::CaFile },
        // An unknown issuer under the private roots says nothing new; report the more
        // specific reason of the two.
        Err(webpki::Error::UnknownIssuer) => not_trusted(&mozilla_error),
        Err(e) => not_trusted(&e),
    }
}

// The deprecated context-free variants are still matched: older code paths may return them.
#[allow(deprecated)]
fn not_trusted(e: &webpki::Error) -> TrustVerdict {
    use webpki::Error as E;
    let reason = match e {
        E::UnknownIssuer => TrustFailure::UnknownIssuer,
        E::CertExpired { .. } => TrustFailure::Expired,
        E::CertNotValidYet { .. } => TrustFailure::NotYetValid,
        E::InvalidSignatureForPublicKey => TrustFailure::BadSignature,
        E::UnsupportedSignatureAlgorithm
        | E::UnsupportedSignatureAlgorithmContext(_)
        | E::UnsupportedSignatureAlgorithmForPublicKey
        | E::UnsupportedSignatureAlgorithmForPublicKeyContext(_)
        | E::SignatureAlgorithmMismatch => TrustFailure::UnsupportedAlgorithm,
        E::RequiredEkuNotFound | E::RequiredEkuNotFoundContext(_) | E::CaUsedAsEndEntity | E::EndEntityUsedAsCa => {
            TrustFailure::WrongUsage
        }
        E::BadDer | E::BadDerTime | E::TrailingData(_) | E::MalformedExtensions | E::UnsupportedCertVersion => {
            TrustFailure::Malformed
        }
        _ => TrustFailure::Other,
    };
    TrustVerdict::NotTrusted { reason, detail: format!("{e:?}") }
}

/// Whether the leaf certificate is valid for `name` (a DNS name or IP literal), by the
/// rules of RFC 6125 as webpki implements them.
pub fn name_matches(leaf: &CertDer, name: &str) -> Result<bool, String> {
    let der = CertificateDer::from(leaf.0.as_slice());
    let cert = EndEntityCert::try_from(&der).map_err(|e| format!("leaf certificate unreadable: {e:?}"))?;
    let server_name = ServerName::try_from(name).map_err(|e| format!("{name:?} is not a valid name: {e}"))?;
    match cert.verify_is_valid_for_subject_name(&server_name) {
        Ok(()) => Ok(true),
        Err(webpki::Error::CertNotValidForName(_)) => Ok(false),
        Err(e) => Err(format!("name check failed: {e:?}")),
    }
}
