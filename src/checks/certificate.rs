//! Certificate checks for 2-1.xii: 「信頼性の高い機関によって発行されたサーバー証明書」.
//!
//! Every distinct chain the endpoint served (per protocol version, per signature algorithm,
//! with and without SNI) is judged, and the worst result counts: a bad certificate shown to
//! some clients is not hidden by a good one shown to others.

use serde_json::json;

use super::chain_review::{CertRule, ChainView};
use super::{CheckContext, CheckResult, CheckStatus};
use crate::certificate::format_time;
use crate::chain::PathEnd;
use crate::evidence::{EndpointEvidence, FetchOutcome, FetchPurpose, KeyPossession, VariantRequest};
use crate::i18n::Text;
use crate::trust::{name_matches, TrustVerdict};

/// Runs `judge` on every distinct chain and keeps the worst result.
pub(super) fn each_chain(
    endpoint: &EndpointEvidence,
    context: &CheckContext<'_>,
    judge: impl Fn(&ChainView<'_>) -> CheckResult,
) -> CheckResult {
    let views: Vec<ChainView<'_>> =
        endpoint.served_chains().into_iter().map(|chain| ChainView::new(endpoint, chain, context)).collect();
    let mut results: Vec<(&ChainView<'_>, CheckResult)> = views.iter().map(|view| (view, judge(view))).collect();
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
        results.iter().map(|(view, r)| json!({"captured_with": capture_label(view), "evidence": r.evidence})).collect(),
    );
    let count = results.len();
    let worst = results.iter().map(|(_, r)| r.status).max().unwrap_or(CheckStatus::Indeterminate);
    let index = results.iter().position(|(_, r)| r.status == worst).unwrap_or(0);
    let (view, result) = results.swap_remove(index);
    // Several chains: name the failing one by its key too (RSA and ECDSA certificates are
    // often captured over the same version).
    let label = match view.leaf() {
        Some(leaf) => format!("{} ({} leaf)", capture_label(view), leaf.facts.key.label()),
        None => capture_label(view),
    };
    let message = Text::new(
        format!("{} [chain served over {label}; {count} different chains]", result.message.en),
        format!("{}［{label}で提示されたチェーン、チェーンは{count}種類］", result.message.ja),
    );
    CheckResult::new(worst, message, evidence)
}

/// `TLS 1.3`, or `TLS 1.2, RSA signatures only` for a variant.
fn capture_label(view: &ChainView<'_>) -> String {
    match view.chain.variant {
        Some(variant) => format!("{}, {}", view.chain.version.name(), variant.label_en()),
        None => view.chain.version.name().to_string(),
    }
}

pub(super) fn result(
    status: CheckStatus,
    en: impl Into<String>,
    ja: impl Into<String>,
    evidence: serde_json::Value,
) -> CheckResult {
    CheckResult::new(status, Text::new(en, ja), evidence)
}

/// The leaf's identity in evidence.
pub(super) fn leaf_summary(view: &ChainView<'_>) -> serde_json::Value {
    match view.leaf() {
        Some(leaf) => json!({
            "subject": leaf.facts.subject,
            "issuer": leaf.facts.issuer,
            "sha256": leaf.facts.sha256_fingerprint,
        }),
        None => serde_json::Value::Null,
    }
}

/// The leaf could not be read: every certificate check is indeterminate.
pub(super) fn unreadable(view: &ChainView<'_>) -> Option<CheckResult> {
    match &view.analysis.end {
        PathEnd::Unreadable { position, reason } if view.analysis.path.is_empty() => Some(result(
            CheckStatus::Indeterminate,
            format!("the server certificate (#{position}) cannot be read: {reason}"),
            format!("サーバー証明書（#{position}）を解析できない: {reason}"),
            serde_json::Value::Null,
        )),
        _ => None,
    }
}

pub(super) fn trusted(endpoint: &EndpointEvidence, context: &CheckContext<'_>) -> CheckResult {
    each_chain(endpoint, context, |view| trusted_chain(endpoint, view, context))
}

fn trusted_chain(endpoint: &EndpointEvidence, view: &ChainView<'_>, context: &CheckContext<'_>) -> CheckResult {
    let evidence = json!({
        "chain_length": view.chain.certificates.len(),
        "captured_with": capture_label(view),
        "judged_at": format_time(i64::try_from(endpoint.probed_at).unwrap_or(i64::MAX)),
        "verdict": view.trust.verdict,
        "stores": view.trust.stores,
        "path_end": view.analysis.end,
        "completed_through_aia": view.analysis.completed_through_aia,
        "patient_facing": endpoint.patient_facing,
        "key_possession": match view.chain.possession {
            KeyPossession::Proven => json!("proven"),
            KeyPossession::Failed(error) => json!({"failed": error}),
            KeyPossession::NotTested => json!("not_tested"),
        },
    });
    if let KeyPossession::Failed(error) = view.chain.possession {
        // A valid chain is worthless if the server cannot sign with its key: someone else's
        // certificate, or a key too weak to verify.
        return result(
            CheckStatus::Fail,
            format!("the server did not prove it holds the certificate's key (handshake signature: {error})"),
            format!("サーバーが証明書の秘密鍵を保持していることを証明できない（ハンドシェイク署名: {error}）"),
            evidence,
        );
    }
    let trusted_by = view.trust.trusted_by();
    let through_aia = if view.analysis.completed_through_aia { " (after fetching a missing intermediate)" } else { "" };
    let through_aia_ja =
        if view.analysis.completed_through_aia { "（欠けた中間証明書を取得した上で）" } else { "" };
    if trusted_by.iter().any(|s| s.is_public()) {
        let names: Vec<&str> = trusted_by.iter().map(|s| s.name_en()).collect();
        return result(
            CheckStatus::Pass,
            format!("chain trusted by a public root program ({}){through_aia}", names.join(", ")),
            format!("公的なルート認証局プログラム（{}）で信頼されるチェーン{through_aia_ja}", names.join("、")),
            evidence,
        );
    }
    if !trusted_by.is_empty() {
        // Only --ca-file trusts it: fine for an internal API, not for patients' browsers.
        return if endpoint.patient_facing {
            result(
                CheckStatus::Warn,
                "chain trusted only through a private root (--ca-file) on a patient-facing endpoint: \
                 patients' browsers will not trust it",
                "患者向けエンドポイントの証明書が私的なルート（--ca-file）でのみ信頼される: \
                 患者のブラウザーでは信頼されない",
                evidence,
            )
        } else {
            result(
                CheckStatus::Pass,
                "chain trusted through a root given with --ca-file (not a public root program; \
                 mark patient-facing hosts with --patient-facing)",
                "--ca-fileで指定したルートで信頼されるチェーン（公的ルートではない。\
                 患者向けホストは--patient-facingで指定）",
                evidence,
            )
        };
    }
    if let Some(result) = unreadable(view) {
        return result;
    }
    if let PathEnd::IssuerMissing { ca_issuers, .. } = &view.analysis.end {
        if !context.fetch && !ca_issuers.is_empty() {
            return result(
                CheckStatus::Indeterminate,
                "the chain is incomplete and the missing intermediate was not fetched (--no-fetch): \
                 trust cannot be judged",
                "チェーンが不完全で、欠けた中間証明書を取得していない（--no-fetch）ため信頼性を判定できない",
                evidence,
            );
        }
    }
    match &view.trust.verdict {
        TrustVerdict::NotTrusted { reason, .. } => result(
            CheckStatus::Fail,
            format!("chain not trusted: {}", reason.describe_en()),
            format!("証明書チェーンが信頼できない: {}", reason.describe_ja()),
            evidence,
        ),
        TrustVerdict::Trusted { .. } => unreachable_trust(evidence),
    }
}

/// Trusted with no trusting store cannot happen; kept as a value rather than a panic.
fn unreachable_trust(evidence: serde_json::Value) -> CheckResult {
    result(CheckStatus::Indeterminate, "inconsistent trust verdict", "信頼性の判定が矛盾している", evidence)
}

pub(super) fn chain_complete(endpoint: &EndpointEvidence, context: &CheckContext<'_>) -> CheckResult {
    each_chain(endpoint, context, |view| chain_complete_chain(endpoint, view, context))
}

fn chain_complete_chain(endpoint: &EndpointEvidence, view: &ChainView<'_>, context: &CheckContext<'_>) -> CheckResult {
    let aia_fetches: Vec<_> = endpoint.fetches.iter().filter(|f| f.purpose == FetchPurpose::CaIssuers).collect();
    let evidence = json!({
        "served": view.analysis.served,
        "path_end": view.analysis.end,
        "completed_through_aia": view.analysis.completed_through_aia,
        "aia_fetches": aia_fetches.iter().map(|f| json!({
            "url": f.url,
            "outcome": match &f.outcome {
                FetchOutcome::Response { status, content_type, body } =>
                    json!({"status": status, "content_type": content_type, "bytes": body.0.len()}),
                FetchOutcome::Failed { reason } => json!({"failed": reason}),
            },
        })).collect::<Vec<_>>(),
    });
    if let Some(result) = unreadable(view) {
        return result;
    }
    match &view.analysis.end {
        PathEnd::Anchor { .. } | PathEnd::UntrustedRoot if view.analysis.completed_through_aia => result(
            CheckStatus::Warn,
            "incomplete chain, completed through AIA: browsers that fetch intermediates cope, \
             many apps and API clients fail",
            "チェーンが不完全（AIAで補完できた）: 中間証明書を取得するブラウザーは接続できるが、\
             多くのアプリやAPIクライアントは失敗する",
            evidence,
        ),
        PathEnd::Anchor { store, .. } => result(
            CheckStatus::Pass,
            format!("complete as served, up to a root of {}", store.name_en()),
            format!("提示されたチェーンは完全（{}のルートまで）", store.name_ja()),
            evidence,
        ),
        PathEnd::UntrustedRoot => result(
            CheckStatus::Pass,
            "complete as served, up to a self-signed root no trust store holds (see cert.trusted)",
            "提示されたチェーンは自己署名ルートまで完全（ルートの信頼性はcert.trustedを参照）",
            evidence,
        ),
        PathEnd::IssuerMissing { issuer, ca_issuers } => {
            if ca_issuers.is_empty() {
                result(
                    CheckStatus::Fail,
                    format!("incomplete chain that cannot be completed: the issuer {issuer} was not served and no AIA URL names it"),
                    format!("チェーンが不完全で補完できない: 発行者 {issuer} が提示されず、AIAのURLもない"),
                    evidence,
                )
            } else if !context.fetch {
                result(
                    CheckStatus::Indeterminate,
                    format!("incomplete chain: the issuer {issuer} was not served; completion through AIA not tried (--no-fetch)"),
                    format!("チェーンが不完全: 発行者 {issuer} が提示されていない。AIAによる補完は未実施（--no-fetch）"),
                    evidence,
                )
            } else {
                let failures: Vec<String> = aia_fetches
                    .iter()
                    .filter(|f| ca_issuers.contains(&f.url))
                    .map(|f| match &f.outcome {
                        FetchOutcome::Failed { reason } => format!("{}: {reason}", f.url),
                        FetchOutcome::Response { status, .. } => format!("{}: HTTP {status}, no usable issuer", f.url),
                    })
                    .collect();
                let why = if failures.is_empty() { ca_issuers.join(", ") } else { failures.join("; ") };
                result(
                    CheckStatus::Fail,
                    format!("incomplete chain that cannot be completed through AIA ({why})"),
                    format!("チェーンが不完全で、AIAでも補完できない（{why}）"),
                    evidence,
                )
            }
        }
        PathEnd::Unreadable { position, reason } => result(
            CheckStatus::Indeterminate,
            format!("certificate #{position} cannot be read: {reason}"),
            format!("証明書#{position}を解析できない: {reason}"),
            evidence,
        ),
        PathEnd::TooLong => result(
            CheckStatus::Fail,
            format!("the path exceeds {} certificates", crate::chain::MAX_PATH_LENGTH),
            format!("証明書パスが{}枚を超える", crate::chain::MAX_PATH_LENGTH),
            evidence,
        ),
    }
}

pub(super) fn chain_order(endpoint: &EndpointEvidence, context: &CheckContext<'_>) -> CheckResult {
    each_chain(endpoint, context, chain_order_chain)
}

fn chain_order_chain(view: &ChainView<'_>) -> CheckResult {
    let analysis = &view.analysis;
    let evidence = json!({
        "served": analysis.served,
        "in_order": analysis.in_order,
        "root_served": analysis.root_served,
        "path_length": analysis.path.len(),
    });
    if let Some(result) = unreadable(view) {
        return result;
    }
    let mut problems_en = Vec::new();
    let mut problems_ja = Vec::new();
    if !analysis.in_order {
        problems_en.push("certificates out of order (each must be followed by its issuer)".to_string());
        problems_ja.push("証明書の順序が不正（各証明書の次にその発行者が必要）".to_string());
    }
    for duplicate in analysis.duplicates() {
        let first = duplicate.duplicate_of.unwrap_or_default();
        problems_en.push(format!("#{} repeats #{first}", duplicate.position));
        problems_ja.push(format!("#{}は#{first}の重複", duplicate.position));
    }
    for extra in analysis.unrelated() {
        let name = if extra.subject.is_empty() { "an unreadable certificate" } else { extra.subject.as_str() };
        problems_en.push(format!("#{} ({name}) is not part of the path", extra.position));
        problems_ja.push(format!("#{}（{name}）は証明書パスに含まれない", extra.position));
    }
    if !problems_en.is_empty() {
        return result(
            CheckStatus::Warn,
            format!("served chain is untidy: {}", problems_en.join("; ")),
            format!("提示されたチェーンに問題: {}", problems_ja.join("、")),
            evidence,
        );
    }
    let count = analysis.served.len();
    if analysis.root_served {
        return result(
            CheckStatus::Pass,
            format!("{count} certificates in order; the root is sent too (unneeded, harmless)"),
            format!("{count}枚の証明書が正しい順序（ルートも送信されているが無害）"),
            evidence,
        );
    }
    result(
        CheckStatus::Pass,
        format!("{count} certificates in order, leaf first, no duplicates or extras"),
        format!("{count}枚の証明書が正しい順序で、重複や余分な証明書はない"),
        evidence,
    )
}

pub(super) fn hostname(endpoint: &EndpointEvidence, context: &CheckContext<'_>) -> CheckResult {
    each_chain(endpoint, context, |view| hostname_chain(endpoint, view))
}

fn hostname_chain(endpoint: &EndpointEvidence, view: &ChainView<'_>) -> CheckResult {
    let name = endpoint.server_name.clone().unwrap_or_else(|| endpoint.address.ip().to_string());
    let Some(leaf) = view.leaf() else {
        return unreadable(view).unwrap_or_else(|| {
            result(CheckStatus::Indeterminate, "the captured chain is empty", "取得したチェーンが空", json!(null))
        });
    };
    let facts = &leaf.facts;
    let evidence = json!({
        "expected": name,
        "certificate": {
            "dns_names": facts.dns_names,
            "ip_addresses": facts.ip_addresses,
            "common_names": facts.common_names,
            "subject": facts.subject,
        },
    });
    let matched = match name_matches(&leaf.der, &name) {
        Ok(matched) => matched,
        Err(reason) => {
            return result(
                CheckStatus::Indeterminate,
                format!("name could not be checked: {reason}"),
                format!("名前を照合できない: {reason}"),
                evidence,
            );
        }
    };
    let over_broad: Vec<&String> = facts.dns_names.iter().filter(|n| is_over_broad_wildcard(n)).collect();
    if matched {
        if !over_broad.is_empty() {
            let list = over_broad.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
            return result(
                CheckStatus::Warn,
                format!("certificate is valid for {name}, but carries a wildcard over a whole public suffix ({list})"),
                format!("証明書は{name}に有効だが、公開サフィックス全体へのワイルドカード（{list}）を含む"),
                evidence,
            );
        }
        return result(
            CheckStatus::Pass,
            format!("certificate is valid for {name}"),
            format!("証明書は{name}に有効"),
            evidence,
        );
    }
    if view.chain.variant == Some(VariantRequest::NoServerName) {
        return result(
            CheckStatus::Info,
            format!("the certificate served without SNI is not valid for {name}; only clients that send no SNI see it"),
            format!("SNIなしで提示される証明書は{name}に一致しない（SNIを送らないクライアントのみが受け取る）"),
            evidence,
        );
    }
    let cn_matches = !facts.has_san
        && facts.common_names.iter().any(|cn| cn.eq_ignore_ascii_case(&name) || wildcard_covers(cn, &name));
    if cn_matches {
        return result(
            CheckStatus::Warn,
            format!(
                "{name} appears only in the subject CN and the certificate has no subjectAltName: \
                 browsers ignore the CN (RFC 6125, CA/Browser Forum) and will reject it"
            ),
            format!("{name}はサブジェクトのCNにのみ記載され、subjectAltNameがない: ブラウザーはCNを無視するため接続を拒否する"),
            evidence,
        );
    }
    result(
        CheckStatus::Fail,
        format!("certificate is not valid for {name} (name mismatch)"),
        format!("証明書が{name}と一致しない（名前の不一致）"),
        evidence,
    )
}

/// `*.jp`, `*.co.jp`, `*.github.io`: a wildcard over a public suffix (bundled Public Suffix
/// List, both sections), which would cover names that belong to others.
fn is_over_broad_wildcard(name: &str) -> bool {
    name.strip_prefix("*.").is_some_and(|rest| {
        let rest = rest.trim_end_matches('.');
        !rest.contains('.') || crate::domain::psl::PublicSuffixList::embedded().is_public_suffix(rest)
    })
}

/// RFC 6125 §6.4.3 as browsers apply it: `*` only as the whole left-most label, matching
/// exactly one label.
pub(super) fn wildcard_covers(pattern: &str, name: &str) -> bool {
    let Some(rest) = pattern.strip_prefix("*.") else {
        return false;
    };
    match name.split_once('.') {
        Some((first, remainder)) => !first.is_empty() && remainder.eq_ignore_ascii_case(rest),
        None => false,
    }
}

/// A check over one rule of the per-certificate reviews.
fn rule_check(
    endpoint: &EndpointEvidence,
    context: &CheckContext<'_>,
    rule: CertRule,
    pass: fn(&ChainView<'_>) -> Text,
) -> CheckResult {
    each_chain(endpoint, context, |view| {
        if let Some(result) = unreadable(view) {
            return result;
        }
        let (status, findings) = view.rule(rule);
        let evidence = json!({
            "leaf": leaf_summary(view),
            "path": view.reviews.iter().zip(&view.analysis.path).map(|(review, cert)| json!({
                "index": review.index,
                "role": review.role,
                "origin": review.origin,
                "subject": review.subject,
                "not_before": format_time(cert.facts.not_before),
                "not_after": format_time(cert.facts.not_after),
                "days_remaining": review.days_remaining,
                "key": cert.facts.key,
                "signature_algorithm": cert.facts.signature_algorithm,
                "basic_constraints": cert.facts.basic_constraints,
                "key_usage": cert.facts.key_usage,
                "extended_key_usage": cert.facts.extended_key_usage,
                "findings": review.of(rule).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        });
        if findings.is_empty() {
            return CheckResult::new(CheckStatus::Pass, pass(view), evidence);
        }
        let listed: Vec<_> = findings.iter().filter(|(_, f)| f.status == status).collect();
        let en: Vec<String> = listed
            .iter()
            .map(|(r, f)| format!("#{} {}: {}", r.index, short_subject(&r.subject), f.message.en))
            .collect();
        let ja: Vec<String> = listed
            .iter()
            .map(|(r, f)| format!("#{} {}: {}", r.index, short_subject(&r.subject), f.message.ja))
            .collect();
        CheckResult::new(status, Text::new(en.join("; "), ja.join("、")), evidence)
    })
}

/// `CN=example.jp` out of a full subject, for messages.
fn short_subject(subject: &str) -> &str {
    subject.split(", ").find(|part| part.starts_with("CN=")).unwrap_or(subject)
}

pub(super) fn validity(endpoint: &EndpointEvidence, context: &CheckContext<'_>) -> CheckResult {
    rule_check(endpoint, context, CertRule::Validity, |view| {
        let (until, days) = view
            .leaf()
            .zip(view.reviews.first())
            .map(|(leaf, review)| (format_time(leaf.facts.not_after), review.days_remaining))
            .unwrap_or_default();
        Text::new(
            format!("valid until {until} ({days} days left); every certificate in the path is within its validity"),
            format!("{until}まで有効（残り{days}日）。パス内のすべての証明書が有効期間内"),
        )
    })
}

pub(super) fn lifetime(endpoint: &EndpointEvidence, context: &CheckContext<'_>) -> CheckResult {
    rule_check(endpoint, context, CertRule::Lifetime, |view| {
        let days = view.leaf().map(|l| l.facts.not_after.saturating_sub(l.facts.not_before).div_euclid(86_400));
        let days = days.unwrap_or_default();
        Text::new(format!("lifetime {days} days (at most 398)"), format!("有効期間{days}日（398日以内）"))
    })
}

pub(super) fn key_strength(endpoint: &EndpointEvidence, context: &CheckContext<'_>) -> CheckResult {
    rule_check(endpoint, context, CertRule::Key, |view| {
        let keys: Vec<String> = view.analysis.path.iter().map(|c| c.facts.key.label()).collect();
        Text::new(format!("keys: {}", keys.join(" ← ")), format!("鍵: {}", keys.join(" ← ")))
    })
}

pub(super) fn signature_hash(endpoint: &EndpointEvidence, context: &CheckContext<'_>) -> CheckResult {
    rule_check(endpoint, context, CertRule::SignatureHash, |_| {
        Text::new("no SHA-1 or MD5 signatures in the path", "証明書パスにSHA-1・MD5署名はない")
    })
}

pub(super) fn usage(endpoint: &EndpointEvidence, context: &CheckContext<'_>) -> CheckResult {
    rule_check(endpoint, context, CertRule::Usage, |_| {
        Text::new(
            "basicConstraints, keyUsage and extendedKeyUsage (serverAuth) fit every certificate's place in the path",
            "basicConstraints・keyUsage・extendedKeyUsage（serverAuth）がパス内の各証明書の役割に合っている",
        )
    })
}

pub(super) fn validation_type(endpoint: &EndpointEvidence, context: &CheckContext<'_>) -> CheckResult {
    each_chain(endpoint, context, |view| {
        if let Some(result) = unreadable(view) {
            return result;
        }
        let Some(leaf) = view.leaf() else {
            return result(CheckStatus::Indeterminate, "no leaf", "サーバー証明書がない", json!(null));
        };
        let level = leaf.facts.validation;
        let evidence = json!({"leaf": leaf_summary(view), "policies": leaf.facts.policies, "validation": level});
        let (en, ja) = match level {
            crate::certificate::ValidationLevel::Unknown => (
                "no CA/Browser Forum validation policy in the certificate (private CA or non-public profile)"
                    .to_string(),
                "証明書にCA/Browser Forumの検証ポリシーがない（私的CAまたは非公開プロファイル）".to_string(),
            ),
            other => (
                format!("{} certificate (policy OIDs of the CA/Browser Forum)", other.label()),
                format!("{}証明書（CA/Browser ForumのポリシーOID）", other.label()),
            ),
        };
        result(CheckStatus::Info, en, ja, evidence)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_follow_rfc_6125() {
        assert!(wildcard_covers("*.example.jp", "www.example.jp"));
        assert!(!wildcard_covers("*.example.jp", "a.b.example.jp"));
        assert!(!wildcard_covers("*.example.jp", "example.jp"));
        assert!(!wildcard_covers("w*.example.jp", "www.example.jp"));
        assert!(is_over_broad_wildcard("*.jp"));
        assert!(is_over_broad_wildcard("*.co.jp"));
        assert!(is_over_broad_wildcard("*.lg.jp"));
        assert!(is_over_broad_wildcard("*.github.io"));
        assert!(!is_over_broad_wildcard("*.example.co.jp"));
        assert!(!is_over_broad_wildcard("*.example.jp"));
        assert!(!is_over_broad_wildcard("www.jp"));
    }
}
