//! One served chain, looked at whole: the path it leads to, what every trust store says of
//! it, and the rules every certificate on the path is held to. The certificate checks and
//! the report's chain tree both read this, so a certificate's verdict in the tree is the
//! verdict the checks gave.

use serde::Serialize;

use super::{CheckContext, CheckStatus, ExpiryThresholds};
use crate::certificate::{days_remaining, format_time, PublicKeyFacts};
use crate::chain::{analyse, is_self_signed, ChainAnalysis, Origin, PathCertificate};
use crate::evidence::{CertDer, EndpointEvidence, FetchOutcome, FetchPurpose, ServedChain, UnixSeconds};
use crate::i18n::Text;
use crate::trust::{judge_chain, ChainTrust};

/// Longest lifetime of a server certificate browsers accept (CA/Browser Forum, since 2020).
pub const MAX_LEAF_LIFETIME_DAYS: i64 = 398;

/// A served chain with its path, trust and per-certificate reviews.
#[derive(Clone, Debug, Serialize)]
pub struct ChainView<'a> {
    #[serde(skip)]
    pub chain: ServedChain<'a>,
    pub analysis: ChainAnalysis,
    pub trust: ChainTrust,
    /// One review per certificate on the path, in path order.
    pub reviews: Vec<CertificateReview>,
}

/// The rules a certificate on the path is held to.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CertRule {
    /// Inside its validity window, and not about to leave it.
    Validity,
    /// A leaf's total lifetime.
    Lifetime,
    /// Key type and size.
    Key,
    /// The hash of the signature on it.
    SignatureHash,
    /// basicConstraints, keyUsage and extendedKeyUsage fit its place in the path.
    Usage,
}

/// What a certificate's place in the path is.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Leaf,
    Intermediate,
    /// Self-signed top of the path.
    Root,
}

/// One rule's outcome on one certificate, when it is not a plain pass.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct CertFinding {
    pub rule: CertRule,
    pub status: CheckStatus,
    pub message: Text,
}

/// The review of one certificate on the path.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct CertificateReview {
    /// Position on the path (0 = leaf).
    pub index: usize,
    pub role: Role,
    pub origin: Origin,
    pub subject: String,
    /// Whole days until notAfter at the time of the probe.
    pub days_remaining: i64,
    pub findings: Vec<CertFinding>,
}

impl CertificateReview {
    /// The worst status among the findings, or pass.
    pub fn status(&self) -> CheckStatus {
        self.findings.iter().map(|f| f.status).max().unwrap_or(CheckStatus::Pass)
    }

    /// The findings of one rule.
    pub fn of(&self, rule: CertRule) -> impl Iterator<Item = &CertFinding> {
        self.findings.iter().filter(move |f| f.rule == rule)
    }
}

impl<'a> ChainView<'a> {
    /// Looks at `chain` of `endpoint`.
    pub fn new(endpoint: &EndpointEvidence, chain: ServedChain<'a>, context: &CheckContext<'_>) -> ChainView<'a> {
        let fetched = fetched_certificates(endpoint);
        let analysis = analyse(chain.certificates, &fetched, context.stores);
        let trust = judge_chain(chain.certificates, &fetched, context.stores, endpoint.probed_at);
        let reviews = review_path(&analysis.path, endpoint.probed_at, context.expiry);
        ChainView { chain, analysis, trust, reviews }
    }

    /// The worst status of a rule over the path, and the findings behind it.
    pub fn rule(&self, rule: CertRule) -> (CheckStatus, Vec<(&CertificateReview, &CertFinding)>) {
        let findings: Vec<(&CertificateReview, &CertFinding)> =
            self.reviews.iter().flat_map(|r| r.of(rule).map(move |f| (r, f))).collect();
        let status = findings.iter().map(|(_, f)| f.status).max().unwrap_or(CheckStatus::Pass);
        (status, findings)
    }

    /// The leaf on the path, if it could be read.
    pub fn leaf(&self) -> Option<&PathCertificate> {
        self.analysis.path.first()
    }

    /// The certificate that issued the leaf, if it is on the path.
    pub fn leaf_issuer(&self) -> Option<&PathCertificate> {
        self.analysis.path.get(1)
    }
}

/// Every certificate the endpoint's AIA fetches brought, readable or not (unreadable ones
/// simply never match as an issuer).
pub fn fetched_certificates(endpoint: &EndpointEvidence) -> Vec<CertDer> {
    endpoint
        .fetches
        .iter()
        .filter(|f| f.purpose == FetchPurpose::CaIssuers)
        .filter_map(|f| match &f.outcome {
            FetchOutcome::Response { status: 200, content_type, body } => {
                crate::issuer_bundle::certificates_from_aia(&body.0, content_type.as_deref()).ok()
            }
            _ => None,
        })
        .flatten()
        .collect()
}

/// Reviews every certificate on `path` at time `at`.
pub fn review_path(path: &[PathCertificate], at: UnixSeconds, expiry: ExpiryThresholds) -> Vec<CertificateReview> {
    let intermediates_below = |index: usize| index.saturating_sub(1);
    path.iter()
        .enumerate()
        .map(|(index, cert)| {
            let role = if index == 0 {
                Role::Leaf
            } else if is_self_signed(&cert.der, &cert.facts) {
                Role::Root
            } else {
                Role::Intermediate
            };
            let mut findings = Vec::new();
            validity(cert, role, at, expiry, &mut findings);
            if role == Role::Leaf {
                lifetime(cert, &mut findings);
            }
            key(cert, &mut findings);
            if role != Role::Root {
                signature_hash(cert, &mut findings);
            }
            usage(cert, role, intermediates_below(index), &mut findings);
            CertificateReview {
                index,
                role,
                origin: cert.origin,
                subject: cert.facts.subject.clone(),
                days_remaining: days_remaining(&cert.facts, at),
                findings,
            }
        })
        .collect()
}

fn finding(rule: CertRule, status: CheckStatus, en: String, ja: String) -> CertFinding {
    CertFinding { rule, status, message: Text::new(en, ja) }
}

fn validity(cert: &PathCertificate, role: Role, at: UnixSeconds, expiry: ExpiryThresholds, out: &mut Vec<CertFinding>) {
    // A root's own dates are not part of path validation: trust lives in the store.
    if role == Role::Root {
        return;
    }
    let facts = &cert.facts;
    let now = i64::try_from(at).unwrap_or(i64::MAX);
    let not_before = format_time(facts.not_before);
    let not_after = format_time(facts.not_after);
    let days = days_remaining(facts, at);
    let what_en = if role == Role::Leaf { "server certificate" } else { "intermediate certificate" };
    let what_ja = if role == Role::Leaf { "サーバー証明書" } else { "中間証明書" };
    let rule = CertRule::Validity;
    if now < facts.not_before {
        out.push(finding(
            rule,
            CheckStatus::Fail,
            format!("{what_en} not valid before {not_before}"),
            format!("{what_ja}の有効期間開始前（{not_before}から有効）"),
        ));
    } else if now > facts.not_after {
        out.push(finding(
            rule,
            CheckStatus::Fail,
            format!("{what_en} expired on {not_after}"),
            format!("{what_ja}の有効期限切れ（{not_after}）"),
        ));
    } else if days < expiry.fail_days {
        out.push(finding(
            rule,
            CheckStatus::Fail,
            format!("{what_en} expires in {days} days ({not_after}; failing below {} days)", expiry.fail_days),
            format!("{what_ja}の有効期限まで残り{days}日（{not_after}、{}日未満は不適合）", expiry.fail_days),
        ));
    } else if days < expiry.warn_days {
        out.push(finding(
            rule,
            CheckStatus::Warn,
            format!("{what_en} expires in {days} days ({not_after}; warning below {} days)", expiry.warn_days),
            format!("{what_ja}の有効期限まで残り{days}日（{not_after}、{}日未満で警告）", expiry.warn_days),
        ));
    }
}

fn lifetime(cert: &PathCertificate, out: &mut Vec<CertFinding>) {
    let days = cert.facts.not_after.saturating_sub(cert.facts.not_before).div_euclid(86_400);
    if days > MAX_LEAF_LIFETIME_DAYS {
        out.push(finding(
            CertRule::Lifetime,
            CheckStatus::Warn,
            format!("lifetime of {days} days exceeds the {MAX_LEAF_LIFETIME_DAYS} days browsers accept"),
            format!("有効期間{days}日は、ブラウザーが受け入れる{MAX_LEAF_LIFETIME_DAYS}日を超える"),
        ));
    }
}

fn key(cert: &PathCertificate, out: &mut Vec<CertFinding>) {
    let label = cert.facts.key.label();
    let strong = match &cert.facts.key {
        PublicKeyFacts::Rsa { bits } => Some(*bits >= 2048),
        PublicKeyFacts::Ec { bits, .. } => Some(*bits >= 256),
        PublicKeyFacts::Ed25519 | PublicKeyFacts::Ed448 => Some(true),
        PublicKeyFacts::Dsa { .. } => Some(false),
        PublicKeyFacts::Other { .. } => None,
    };
    match strong {
        Some(true) => {}
        Some(false) => out.push(finding(
            CertRule::Key,
            CheckStatus::Fail,
            format!("key {label} is too weak (RSA ≥ 2048 or EC ≥ 256 bits expected)"),
            format!("鍵 {label} は弱い（RSA 2048ビット以上またはEC 256ビット以上が必要）"),
        )),
        None => out.push(finding(
            CertRule::Key,
            CheckStatus::Warn,
            format!("key type not recognised: {label}"),
            format!("鍵の種類を識別できない: {label}"),
        )),
    }
}

fn signature_hash(cert: &PathCertificate, out: &mut Vec<CertFinding>) {
    if cert.facts.signature_hash.is_weak() {
        let algorithm = &cert.facts.signature_algorithm;
        out.push(finding(
            CertRule::SignatureHash,
            CheckStatus::Fail,
            format!("signed with a broken hash ({algorithm})"),
            format!("破られたハッシュで署名されている（{algorithm}）"),
        ));
    }
}

fn usage(cert: &PathCertificate, role: Role, intermediates_below: usize, out: &mut Vec<CertFinding>) {
    let facts = &cert.facts;
    let mut fail = |en: String, ja: String| out.push(finding(CertRule::Usage, CheckStatus::Fail, en, ja));
    let key_usage = facts.key_usage.as_deref();
    let eku = facts.extended_key_usage.as_ref();
    match role {
        Role::Leaf => {
            if facts.basic_constraints.is_some_and(|bc| bc.ca) {
                fail(
                    "a CA certificate (basicConstraints CA:TRUE) is served as the server certificate".into(),
                    "CA証明書（basicConstraints CA:TRUE）がサーバー証明書として使われている".into(),
                );
            }
            if let Some(bits) = key_usage {
                if !bits.contains(&"digital_signature") && !bits.contains(&"key_encipherment") {
                    fail(
                        format!("keyUsage ({}) allows neither digitalSignature nor keyEncipherment", bits.join(", ")),
                        format!("keyUsage（{}）にdigitalSignatureもkeyEnciphermentもない", bits.join(", ")),
                    );
                }
            }
            match eku {
                Some(eku) if !eku.server_auth && !eku.any => fail(
                    "extendedKeyUsage does not include serverAuth".into(),
                    "extendedKeyUsageにserverAuthが含まれない".into(),
                ),
                Some(_) => {}
                None => out.push(finding(
                    CertRule::Usage,
                    CheckStatus::Warn,
                    "no extendedKeyUsage extension (the CA/Browser Forum requires serverAuth)".into(),
                    "extendedKeyUsage拡張がない（CA/Browser ForumはserverAuthを要求）".into(),
                )),
            }
        }
        Role::Intermediate | Role::Root => {
            match facts.basic_constraints {
                Some(bc) if bc.ca => {
                    if let Some(limit) = bc.path_len {
                        if role == Role::Intermediate && usize::try_from(limit).is_ok_and(|l| intermediates_below > l) {
                            fail(
                                format!("pathLenConstraint {limit} allows fewer CAs below it than the path has ({intermediates_below})"),
                                format!("pathLenConstraint {limit} を超える数の中間CA（{intermediates_below}）が下にある"),
                            );
                        }
                    }
                }
                Some(_) => fail(
                    "issues certificates but is not a CA (basicConstraints CA:FALSE)".into(),
                    "CAではない証明書（basicConstraints CA:FALSE）が証明書を発行している".into(),
                ),
                None if role == Role::Intermediate => fail(
                    "issues certificates but has no basicConstraints extension".into(),
                    "basicConstraints拡張のない証明書が証明書を発行している".into(),
                ),
                None => {}
            }
            if let Some(bits) = key_usage {
                if !bits.contains(&"key_cert_sign") {
                    fail(
                        format!("keyUsage ({}) does not allow signing certificates", bits.join(", ")),
                        format!("keyUsage（{}）に証明書署名（keyCertSign）がない", bits.join(", ")),
                    );
                }
            }
            if let Some(eku) = eku {
                if !eku.server_auth && !eku.any {
                    fail(
                        "extendedKeyUsage restricts this CA to purposes other than serverAuth".into(),
                        "extendedKeyUsageによりこのCAはserverAuth以外の用途に限定されている".into(),
                    );
                }
            }
        }
    }
}
