//! Certificate checks for 2-1.xii: 「信頼性の高い機関によって発行されたサーバー証明書」.

use serde_json::json;

use super::{CheckContext, CheckResult, CheckStatus};
use crate::certificate::{days_remaining, format_time, read_certificate, CertificateFacts, PublicKeyFacts};
use crate::evidence::{EndpointEvidence, KeyPossession, ServedChain, TlsVersion};
use crate::i18n::Text;
use crate::trust::{judge_chain, name_matches, TrustStore, TrustVerdict};

/// Days before expiry from which a valid certificate is reported as a warning.
pub const EXPIRY_WARNING_DAYS: i64 = 30;

/// Runs `judge` on every distinct chain the endpoint served and keeps the worst result, so a
/// bad certificate shown to some clients is not hidden by a good one shown to others.
fn each_chain(endpoint: &EndpointEvidence, judge: impl Fn(&ServedChain<'_>) -> CheckResult) -> CheckResult {
    let chains = endpoint.served_chains();
    let mut results: Vec<(TlsVersion, CheckResult)> = chains.iter().map(|c| (c.version, judge(c))).collect();
    if results.len() <= 1 {
        return results.pop().map(|(_, result)| result).unwrap_or_else(|| {
            CheckResult::new(
                CheckStatus::Indeterminate,
                Text::new(
                    "no certificate was captured from this endpoint",
                    "このエンドポイントから証明書を取得できなかった",
                ),
                serde_json::Value::Null,
            )
        });
    }
    let evidence = serde_json::Value::Array(
        results.iter().map(|(version, r)| json!({"captured_with": version, "evidence": r.evidence})).collect(),
    );
    let count = results.len();
    let worst = results.iter().map(|(_, r)| r.status).max().unwrap_or(CheckStatus::Indeterminate);
    let (version, result) = results.swap_remove(results.iter().position(|(_, r)| r.status == worst).unwrap_or(0));
    let name = version.name();
    let message = Text::new(
        format!("{} [chain served over {name}; {count} different chains]", result.message.en),
        format!("{}［{name}で提示されたチェーン、チェーンは{count}種類］", result.message.ja),
    );
    CheckResult::new(worst, message, evidence)
}

/// The leaf's facts, or an indeterminate result if it cannot be read.
fn leaf_or_indeterminate(chain: &ServedChain<'_>) -> Result<CertificateFacts, CheckResult> {
    let leaf = chain.certificates.first().map(|c| read_certificate(&c.0));
    match leaf {
        Some(Ok(facts)) => Ok(facts),
        Some(Err(reason)) => Err(CheckResult::new(
            CheckStatus::Indeterminate,
            Text::new(
                format!("the server certificate cannot be read: {reason}"),
                format!("サーバー証明書を解析できない: {reason}"),
            ),
            serde_json::Value::Null,
        )),
        None => Err(CheckResult::new(
            CheckStatus::Indeterminate,
            Text::new("the captured chain is empty", "取得したチェーンが空"),
            serde_json::Value::Null,
        )),
    }
}

fn leaf_summary(facts: &CertificateFacts) -> serde_json::Value {
    json!({
        "subject": facts.subject,
        "issuer": facts.issuer,
        "sha256": facts.sha256_fingerprint,
    })
}

pub(super) fn trusted(endpoint: &EndpointEvidence, context: &CheckContext<'_>) -> CheckResult {
    each_chain(endpoint, |chain| trusted_chain(endpoint, chain, context))
}

fn trusted_chain(endpoint: &EndpointEvidence, chain: &ServedChain<'_>, context: &CheckContext<'_>) -> CheckResult {
    let verdict = judge_chain(chain.certificates, context.extra_roots, endpoint.probed_at);
    let evidence = json!({
        "chain_length": chain.certificates.len(),
        "captured_with": chain.version,
        "judged_at": format_time(i64::try_from(endpoint.probed_at).unwrap_or(i64::MAX)),
        "verdict": verdict,
        "key_possession": match chain.possession {
            KeyPossession::Proven => json!("proven"),
            KeyPossession::Failed(error) => json!({"failed": error}),
            KeyPossession::NotTested => json!("not_tested"),
        },
    });
    if let KeyPossession::Failed(error) = chain.possession {
        // A valid chain is worthless if the server cannot sign with its key: someone else's
        // certificate, or a key too weak to verify.
        return CheckResult::new(
            CheckStatus::Fail,
            Text::new(
                format!("the server did not prove it holds the certificate's key (handshake signature: {error})"),
                format!("サーバーが証明書の秘密鍵を保持していることを証明できない（ハンドシェイク署名: {error}）"),
            ),
            evidence,
        );
    }
    match verdict {
        TrustVerdict::Trusted { store: TrustStore::Mozilla } => CheckResult::new(
            CheckStatus::Pass,
            Text::new(
                "chain trusted by a public root program (Mozilla)",
                "公的なルート認証局プログラム（Mozilla）で信頼されるチェーン",
            ),
            evidence,
        ),
        TrustVerdict::Trusted { store: TrustStore::CaFile } => CheckResult::new(
            CheckStatus::Pass,
            Text::new(
                "chain trusted through a root given with --ca-file (not a public root program)",
                "--ca-fileで指定したルートで信頼されるチェーン（公的ルートではない）",
            ),
            evidence,
        ),
        TrustVerdict::NotTrusted { reason, .. } => CheckResult::new(
            CheckStatus::Fail,
            Text::new(
                format!("chain not trusted: {}", reason.describe_en()),
                format!("証明書チェーンが信頼できない: {}", reason.describe_ja()),
            ),
            evidence,
        ),
    }
}

pub(super) fn hostname(endpoint: &EndpointEvidence, _: &CheckContext<'_>) -> CheckResult {
    each_chain(endpoint, |chain| hostname_chain(endpoint, chain))
}

fn hostname_chain(endpoint: &EndpointEvidence, chain: &ServedChain<'_>) -> CheckResult {
    let name = endpoint.server_name.clone().unwrap_or_else(|| endpoint.address.ip().to_string());
    let names = chain
        .certificates
        .first()
        .and_then(|c| read_certificate(&c.0).ok())
        .map(|f| json!({"dns_names": f.dns_names, "ip_addresses": f.ip_addresses, "subject": f.subject}));
    let evidence = json!({"expected": name, "certificate": names});
    let Some(leaf) = chain.certificates.first() else {
        return CheckResult::new(
            CheckStatus::Indeterminate,
            Text::new("the captured chain is empty", "取得したチェーンが空"),
            evidence,
        );
    };
    match name_matches(leaf, &name) {
        Ok(true) => CheckResult::new(
            CheckStatus::Pass,
            Text::new(format!("certificate is valid for {name}"), format!("証明書は{name}に有効")),
            evidence,
        ),
        Ok(false) => CheckResult::new(
            CheckStatus::Fail,
            Text::new(
                format!("certificate is not valid for {name} (name mismatch)"),
                format!("証明書が{name}と一致しない（名前の不一致）"),
            ),
            evidence,
        ),
        Err(reason) => CheckResult::new(
            CheckStatus::Indeterminate,
            Text::new(format!("name could not be checked: {reason}"), format!("名前を照合できない: {reason}")),
            evidence,
        ),
    }
}

pub(super) fn validity(endpoint: &EndpointEvidence, _: &CheckContext<'_>) -> CheckResult {
    each_chain(endpoint, |chain| validity_chain(endpoint, chain))
}

fn validity_chain(endpoint: &EndpointEvidence, chain: &ServedChain<'_>) -> CheckResult {
    let facts = match leaf_or_indeterminate(chain) {
        Ok(facts) => facts,
        Err(result) => return result,
    };
    let at = i64::try_from(endpoint.probed_at).unwrap_or(i64::MAX);
    let days = days_remaining(&facts, endpoint.probed_at);
    let not_before = format_time(facts.not_before);
    let not_after = format_time(facts.not_after);
    let evidence = json!({
        "leaf": leaf_summary(&facts),
        "not_before": not_before,
        "not_after": not_after,
        "judged_at": format_time(at),
        "days_remaining": days,
    });
    if at < facts.not_before {
        return CheckResult::new(
            CheckStatus::Fail,
            Text::new(
                format!("certificate not valid before {not_before}"),
                format!("証明書の有効期間開始前（{not_before}から有効）"),
            ),
            evidence,
        );
    }
    if at > facts.not_after {
        return CheckResult::new(
            CheckStatus::Fail,
            Text::new(format!("certificate expired on {not_after}"), format!("証明書の有効期限切れ（{not_after}）")),
            evidence,
        );
    }
    if days < EXPIRY_WARNING_DAYS {
        return CheckResult::new(
            CheckStatus::Warn,
            Text::new(
                format!("certificate expires in {days} days ({not_after})"),
                format!("証明書の有効期限まで残り{days}日（{not_after}）"),
            ),
            evidence,
        );
    }
    CheckResult::new(
        CheckStatus::Pass,
        Text::new(
            format!("valid until {not_after} ({days} days left)"),
            format!("{not_after}まで有効（残り{days}日）"),
        ),
        evidence,
    )
}

pub(super) fn key_strength(endpoint: &EndpointEvidence, _: &CheckContext<'_>) -> CheckResult {
    each_chain(endpoint, key_strength_chain)
}

fn key_strength_chain(chain: &ServedChain<'_>) -> CheckResult {
    let facts = match leaf_or_indeterminate(chain) {
        Ok(facts) => facts,
        Err(result) => return result,
    };
    let label = facts.key.label();
    let evidence = json!({"leaf": leaf_summary(&facts), "key": facts.key});
    let strong = match &facts.key {
        PublicKeyFacts::Rsa { bits } => Some(*bits >= 2048),
        PublicKeyFacts::Ec { bits, .. } => Some(*bits >= 256),
        PublicKeyFacts::Ed25519 | PublicKeyFacts::Ed448 => Some(true),
        PublicKeyFacts::Dsa { .. } => Some(false),
        PublicKeyFacts::Other { .. } => None,
    };
    match strong {
        Some(true) => {
            CheckResult::new(CheckStatus::Pass, Text::new(format!("key {label}"), format!("鍵 {label}")), evidence)
        }
        Some(false) => CheckResult::new(
            CheckStatus::Fail,
            Text::new(
                format!("key {label} is too weak (RSA ≥ 2048 or EC ≥ 256 bits expected)"),
                format!("鍵 {label} は弱い（RSA 2048ビット以上またはEC 256ビット以上が必要）"),
            ),
            evidence,
        ),
        None => CheckResult::new(
            CheckStatus::Warn,
            Text::new(format!("key type not recognised: {label}"), format!("鍵の種類を識別できない: {label}")),
            evidence,
        ),
    }
}

pub(super) fn signature_hash(endpoint: &EndpointEvidence, _: &CheckContext<'_>) -> CheckResult {
    each_chain(endpoint, signature_hash_chain)
}

fn signature_hash_chain(chain: &ServedChain<'_>) -> CheckResult {
    let mut signatures = Vec::new();
    let mut weak = Vec::new();
    for (position, cert) in chain.certificates.iter().enumerate() {
        let facts = match read_certificate(&cert.0) {
            Ok(facts) => facts,
            Err(reason) => {
                return CheckResult::new(
                    CheckStatus::Indeterminate,
                    Text::new(
                        format!("certificate #{position} in the chain cannot be read: {reason}"),
                        format!("チェーン内の証明書#{position}を解析できない: {reason}"),
                    ),
                    json!({"signatures": signatures}),
                );
            }
        };
        // A self-issued certificate after the leaf is a root: its own signature is not
        // relied upon by anyone, so its hash does not matter.
        let is_served_root = position > 0 && facts.self_issued;
        signatures.push(json!({
            "position": position,
            "subject": facts.subject,
            "algorithm": facts.signature_algorithm,
            "root": is_served_root,
        }));
        if !is_served_root && facts.signature_hash.is_weak() {
            weak.push(format!("#{position} {} ({})", facts.subject, facts.signature_algorithm));
        }
    }
    let evidence = json!({"signatures": signatures});
    if weak.is_empty() {
        CheckResult::new(
            CheckStatus::Pass,
            Text::new("no SHA-1 or MD5 signatures in the chain", "チェーンにSHA-1・MD5署名はない"),
            evidence,
        )
    } else {
        let list = weak.join("; ");
        CheckResult::new(
            CheckStatus::Fail,
            Text::new(format!("weak signature hash: {list}"), format!("弱いハッシュによる署名: {list}")),
            evidence,
        )
    }
}
