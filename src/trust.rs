//! Whether a recorded chain leads to a trusted root, judged with rustls-webpki at the
//! moment the chain was captured.
//!
//! Mozilla's root program (webpki-roots, compiled in so verdicts don't depend on the host)
//! is the operational reading of the guideline's 「信頼性の高い機関」. `--trust system` adds
//! the operating system's roots (recorded with the evidence), and `--ca-file` private roots.
//! Every store judges every chain, so a report says exactly which stores trust it.

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
    /// The operating system's roots (`--trust system`).
    System,
    /// Roots the user supplied with `--ca-file`.
    CaFile,
}

impl TrustStore {
    /// A short English name.
    pub fn name_en(self) -> &'static str {
        match self {
            TrustStore::Mozilla => "Mozilla",
            TrustStore::System => "OS store",
            TrustStore::CaFile => "--ca-file",
        }
    }

    /// A short Japanese name.
    pub fn name_ja(self) -> &'static str {
        match self {
            TrustStore::Mozilla => "Mozilla",
            TrustStore::System => "OSのストア",
            TrustStore::CaFile => "--ca-file",
        }
    }

    /// Whether this store stands for the public root programs patients' browsers use.
    pub fn is_public(self) -> bool {
        matches!(self, TrustStore::Mozilla | TrustStore::System)
    }
}

/// The trust anchors a run judges with: Mozilla's always, the OS store and `--ca-file`
/// roots when given.
pub struct TrustStores {
    system: Vec<TrustAnchor<'static>>,
    ca_file: Vec<TrustAnchor<'static>>,
    system_requested: bool,
}

/// Mozilla's roots alone: the stores of a run without `--trust system` or `--ca-file`.
pub static MOZILLA_ONLY: TrustStores = TrustStores { system: Vec::new(), ca_file: Vec::new(), system_requested: false };

impl TrustStores {
    /// Stores from recorded roots. An empty `system_roots` means the OS store was not used.
    pub fn new(system_roots: &[CertDer], extra_roots: &[CertDer]) -> TrustStores {
        TrustStores {
            system: anchors(system_roots),
            ca_file: anchors(extra_roots),
            system_requested: !system_roots.is_empty(),
        }
    }

    /// The stores in the order they are tried, with their anchors.
    pub fn stores(&self) -> Vec<(TrustStore, &[TrustAnchor<'static>])> {
        let mut stores: Vec<(TrustStore, &[TrustAnchor<'static>])> =
            vec![(TrustStore::Mozilla, webpki_roots::TLS_SERVER_ROOTS)];
        if self.system_requested {
            stores.push((TrustStore::System, &self.system));
        }
        if !self.ca_file.is_empty() {
            stores.push((TrustStore::CaFile, &self.ca_file));
        }
        stores
    }
}

fn anchors(roots: &[CertDer]) -> Vec<TrustAnchor<'static>> {
    roots
        .iter()
        .filter_map(|c| {
            let der = CertificateDer::from(c.0.as_slice());
            webpki::anchor_from_trusted_cert(&der).ok().map(|anchor| anchor.to_owned())
        })
        .collect()
}

/// How one store judged a chain.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct StoreJudgement {
    pub store: TrustStore,
    pub trusted: bool,
    /// Why not, when not trusted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<TrustFailure>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Every store's judgement of one chain, and the overall verdict.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ChainTrust {
    /// Trusted by the first store that trusts it (public stores first); otherwise the most
    /// specific reason any store gave.
    pub verdict: TrustVerdict,
    pub stores: Vec<StoreJudgement>,
}

impl ChainTrust {
    /// The stores that trust the chain.
    pub fn trusted_by(&self) -> Vec<TrustStore> {
        self.stores.iter().filter(|s| s.trusted).map(|s| s.store).collect()
    }
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

/// Validates `served` (leaf first) with `fetched` intermediates (from AIA) at time `at`,
/// against every store. The host name is not part of this verdict; see [`name_matches`].
pub fn judge_chain(served: &[CertDer], fetched: &[CertDer], stores: &TrustStores, at: UnixSeconds) -> ChainTrust {
    let Some((leaf, rest)) = served.split_first() else {
        return untrusted_everywhere(stores, TrustFailure::Malformed, "empty chain".to_string());
    };
    let leaf_der = CertificateDer::from(leaf.0.as_slice());
    let end_entity = match EndEntityCert::try_from(&leaf_der) {
        Ok(cert) => cert,
        Err(e) => {
            let (reason, detail) = classify(&e);
            return untrusted_everywhere(stores, reason, detail);
        }
    };
    let intermediates: Vec<CertificateDer<'_>> =
        rest.iter().chain(fetched).map(|c| CertificateDer::from(c.0.as_slice())).collect();
    let algorithms = rustls::crypto::ring::default_provider().signature_verification_algorithms.all;
    let time = UnixTime::since_unix_epoch(std::time::Duration::from_secs(at));
    let judgements: Vec<StoreJudgement> = stores
        .stores()
        .into_iter()
        .map(|(store, anchors)| {
            match end_entity.verify_for_usage(
                algorithms,
                anchors,
                &intermediates,
                time,
                KeyUsage::server_auth(),
                None,
                None,
            ) {
                Ok(_) => StoreJudgement { store, trusted: true, reason: None, detail: None },
                Err(e) => {
                    let (reason, detail) = classify(&e);
                    StoreJudgement { store, trusted: false, reason: Some(reason), detail: Some(detail) }
                }
            }
        })
        .collect();
    let verdict = match judgements.iter().find(|j| j.trusted) {
        Some(j) => TrustVerdict::Trusted { store: j.store },
        None => {
            // An unknown issuer under one store says nothing new when another store found a
            // path and a specific fault on it; report the more specific reason.
            let specific = judgements
                .iter()
                .find(|j| j.reason.is_some_and(|r| r != TrustFailure::UnknownIssuer))
                .or(judgements.first());
            match specific {
                Some(j) => TrustVerdict::NotTrusted {
                    reason: j.reason.unwrap_or(TrustFailure::Other),
                    detail: j.detail.clone().unwrap_or_default(),
                },
                None => TrustVerdict::NotTrusted { reason: TrustFailure::Other, detail: "no trust store".to_string() },
            }
        }
    };
    ChainTrust { verdict, stores: judgements }
}

fn untrusted_everywhere(stores: &TrustStores, reason: TrustFailure, detail: String) -> ChainTrust {
    ChainTrust {
        stores: stores
            .stores()
            .into_iter()
            .map(|(store, _)| StoreJudgement {
                store,
                trusted: false,
                reason: Some(reason),
                detail: Some(detail.clone()),
            })
            .collect(),
        verdict: TrustVerdict::NotTrusted { reason, detail },
    }
}

// The deprecated context-free variants are still matched: older code paths may return them.
#[allow(deprecated)]
fn classify(e: &webpki::Error) -> (TrustFailure, String) {
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
    (reason, format!("{e:?}"))
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
