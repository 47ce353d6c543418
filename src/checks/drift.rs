//! Drift checks: what changed since the `--baseline` scan. A registrar change or a
//! re-registration is how a lost domain looks from outside, so both fail 2-1.xv; other
//! changes are reported with before and after for someone to confirm.

use serde_json::json;

use super::certificate::result;
use super::{CheckContext, CheckResult, CheckStatus};
use crate::certificate::format_time;
use crate::drift::{DomainSnapshot, EndpointSnapshot, Snapshot};
use crate::evidence::domain::DomainEvidence;
use crate::evidence::{EndpointEvidence, TlsVersion, UnixSeconds};

/// The baseline and the domain's facts in it and now, or the result that says why the two
/// cannot be compared.
fn domain_pair<'a>(
    domain: &DomainEvidence,
    context: &CheckContext<'a>,
) -> Result<(&'a Snapshot, &'a DomainSnapshot, DomainSnapshot), CheckResult> {
    let Some(baseline) = context.baseline else {
        return Err(result(CheckStatus::NotRun, "no baseline", "ベースラインなし", json!(null)));
    };
    let since = date(baseline.taken_at);
    if !baseline.surveyed {
        return Err(result(
            CheckStatus::Info,
            format!("the baseline of {since} has no domain survey to compare with"),
            format!("{since}のベースラインにはドメイン調査がなく比較できない"),
            json!({"baseline": baseline.source}),
        ));
    }
    match baseline.domain(&domain.name) {
        Some(before) => Ok((baseline, before, DomainSnapshot::of(domain))),
        None => Err(result(
            CheckStatus::Info,
            format!("{} is new since the baseline of {since}", domain.name),
            format!("{}は{since}のベースライン以降に追加された", domain.name),
            json!({"baseline": baseline.source}),
        )),
    }
}

fn date(seconds: UnixSeconds) -> String {
    format_time(i64::try_from(seconds).unwrap_or(i64::MAX))
}

fn shown<T: std::fmt::Display>(value: &Option<T>) -> String {
    value.as_ref().map(ToString::to_string).unwrap_or_else(|| "(unknown)".to_string())
}

/// Compares one fact of a domain; `changed` says how a change counts.
fn compare_fact<T: PartialEq + std::fmt::Display + serde::Serialize>(
    domain: &DomainEvidence,
    context: &CheckContext<'_>,
    what: (&str, &str),
    fact: impl Fn(&DomainSnapshot) -> Option<T>,
    changed: (CheckStatus, &str, &str),
) -> CheckResult {
    let (baseline, before, now) = match domain_pair(domain, context) {
        Ok(pair) => pair,
        Err(result) => return result,
    };
    let since = date(baseline.taken_at);
    let (was, is) = (fact(before), fact(&now));
    let evidence = json!({"baseline": baseline.source, "baseline_at": since, "before": was, "after": is});
    let (en_what, ja_what) = what;
    match (&was, &is) {
        (Some(a), Some(b)) if a != b => {
            let (status, en_why, ja_why) = changed;
            result(
                status,
                format!("{en_what} of {} changed since {since}: {a} → {b}{en_why}", domain.name),
                format!("{}の{ja_what}が{since}以降に変化: {a} → {b}{ja_why}", domain.name),
                evidence,
            )
        }
        (Some(_), None) => result(
            CheckStatus::Indeterminate,
            format!("{en_what} of {} is not known in this scan (was {})", domain.name, shown(&was)),
            format!("この検査では{}の{ja_what}が不明（以前は{}）", domain.name, shown(&was)),
            evidence,
        ),
        (None, _) => result(
            CheckStatus::Info,
            format!("the baseline of {since} does not show {en_what} of {}; now {}", domain.name, shown(&is)),
            format!("{since}のベースラインに{}の{ja_what}がない（現在は{}）", domain.name, shown(&is)),
            evidence,
        ),
        _ => result(
            CheckStatus::Pass,
            format!("{en_what} of {} unchanged since {since}: {}", domain.name, shown(&is)),
            format!("{}の{ja_what}は{since}から変化なし: {}", domain.name, shown(&is)),
            evidence,
        ),
    }
}

/// `drift.registrar`: the sponsoring registrar is the one of the baseline. The IANA ID
/// decides where both sides have one (it survives a renamed registrar); otherwise the
/// names are compared, ignoring case.
pub(super) fn registrar(domain: &DomainEvidence, context: &CheckContext<'_>) -> CheckResult {
    let (baseline, before, now) = match domain_pair(domain, context) {
        Ok(pair) => pair,
        Err(result) => return result,
    };
    let label = |s: &DomainSnapshot| match (&s.registrar_iana_id, &s.registrar) {
        (Some(id), Some(name)) => Some(format!("{name} (IANA {id})")),
        (None, Some(name)) => Some(name.clone()),
        (Some(id), None) => Some(format!("IANA {id}")),
        (None, None) => None,
    };
    let changed = match (&before.registrar_iana_id, &now.registrar_iana_id, &before.registrar, &now.registrar) {
        (Some(was), Some(is), _, _) => Some(was.trim() != is.trim()),
        (_, _, Some(was), Some(is)) => Some(!was.trim().eq_ignore_ascii_case(is.trim())),
        _ => None,
    };
    let since = date(baseline.taken_at);
    let (was, is) = (label(before), label(&now));
    let evidence = json!({"baseline": baseline.source, "baseline_at": since, "before": was, "after": is});
    match (changed, &was, &is) {
        (Some(true), Some(a), Some(b)) => result(
            CheckStatus::Fail,
            format!(
                "the registrar of {} changed since {since}: {a} → {b} — a transfer to another registrar; confirm it was intended",
                domain.name
            ),
            format!(
                "{}のレジストラが{since}以降に変化: {a} → {b}。別レジストラへの移管であり、意図したものか確認すること",
                domain.name
            ),
            evidence,
        ),
        (Some(false), _, _) => result(
            CheckStatus::Pass,
            format!("the registrar of {} is unchanged since {since}: {}", domain.name, shown(&is)),
            format!("{}のレジストラは{since}から変化なし: {}", domain.name, shown(&is)),
            evidence,
        ),
        (_, Some(a), None) => result(
            CheckStatus::Indeterminate,
            format!("the registrar of {} is not known in this scan (was {a})", domain.name),
            format!("この検査では{}のレジストラが不明（以前は{a}）", domain.name),
            evidence,
        ),
        _ => result(
            CheckStatus::Info,
            format!(
                "the registrar of {} cannot be compared with the baseline of {since} (then {}, now {})",
                domain.name,
                shown(&was),
                shown(&is)
            ),
            format!(
                "{}のレジストラを{since}のベースラインと比較できない（当時 {}、現在 {}）",
                domain.name,
                shown(&was),
                shown(&is)
            ),
            evidence,
        ),
    }
}

/// `drift.reregistration`: the creation date is the one of the baseline; a new one means the
/// domain was deleted and registered again, possibly by someone else.
pub(super) fn reregistration(domain: &DomainEvidence, context: &CheckContext<'_>) -> CheckResult {
    compare_fact(
        domain,
        context,
        ("the registration date", "登録日"),
        |s| s.created.map(|created| crate::evidence::domain::registry_day(created, &s.name)),
        (
            CheckStatus::Fail,
            " — the domain was deleted and registered again (re-registration)",
            "。ドメインが削除され再登録された（再登録）",
        ),
    )
}

/// `drift.registrant`: the registrant organisation is the one of the baseline.
pub(super) fn registrant(domain: &DomainEvidence, context: &CheckContext<'_>) -> CheckResult {
    compare_fact(
        domain,
        context,
        ("the registrant organisation", "登録者（組織）"),
        |s| s.registrant_organization.clone(),
        (CheckStatus::Warn, " — confirm the holder of the domain", "。ドメインの保有者を確認すること"),
    )
}

/// `drift.nameservers`: the delegation is the one of the baseline.
pub(super) fn nameservers(domain: &DomainEvidence, context: &CheckContext<'_>) -> CheckResult {
    compare_fact(
        domain,
        context,
        ("the name servers", "ネームサーバー"),
        |s| (!s.nameservers.is_empty()).then(|| s.nameservers.join(", ")),
        (
            CheckStatus::Warn,
            " — whoever runs the name servers controls where patients' traffic goes",
            "。ネームサーバーの管理者が通信の行き先を決められるため確認すること",
        ),
    )
}

/// `drift.dnssec`: the DNSSEC state is the one of the baseline.
pub(super) fn dnssec(domain: &DomainEvidence, context: &CheckContext<'_>) -> CheckResult {
    compare_fact(
        domain,
        context,
        ("the DNSSEC state", "DNSSECの状態"),
        |s| {
            s.dnssec
                .map(|d| serde_json::to_value(d).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default())
        },
        (CheckStatus::Warn, "", ""),
    )
}

/// The baseline's facts of an endpoint and its facts now, or why they cannot be compared.
fn endpoint_pair<'a>(
    endpoint: &EndpointEvidence,
    context: &CheckContext<'a>,
) -> Result<(&'a Snapshot, &'a EndpointSnapshot, EndpointSnapshot), CheckResult> {
    let Some(baseline) = context.baseline else {
        return Err(result(CheckStatus::NotRun, "no baseline", "ベースラインなし", json!(null)));
    };
    let label = endpoint.label();
    match baseline.endpoint(&label) {
        Some(before) => Ok((baseline, before, EndpointSnapshot::of(endpoint))),
        None => Err(result(
            CheckStatus::Info,
            format!("this endpoint is new since the baseline of {}", date(baseline.taken_at)),
            format!("このエンドポイントは{}のベースライン以降に追加された", date(baseline.taken_at)),
            json!({"baseline": baseline.source}),
        )),
    }
}

/// `drift.certificate`: the certificate's issuer, key and serial against the baseline. A new
/// issuer needs a look; a new key or serial alone is a renewal.
pub(super) fn certificate(endpoint: &EndpointEvidence, context: &CheckContext<'_>) -> CheckResult {
    let (baseline, before, now) = match endpoint_pair(endpoint, context) {
        Ok(pair) => pair,
        Err(result) => return result,
    };
    let since = date(baseline.taken_at);
    let evidence = json!({"baseline": baseline.source, "baseline_at": since, "before": before.certificate, "after": now.certificate});
    let (Some(was), Some(is)) = (&before.certificate, &now.certificate) else {
        return result(
            CheckStatus::Info,
            format!("no certificate to compare with the baseline of {since}"),
            format!("{since}のベースラインと比較できる証明書がない"),
            evidence,
        );
    };
    if was.issuer != is.issuer {
        return result(
            CheckStatus::Warn,
            format!("the certificate issuer changed since {since}: {} → {}", was.issuer, is.issuer),
            format!("{since}以降に証明書の発行者が変化: {} → {}", was.issuer, is.issuer),
            evidence,
        );
    }
    let mut changes = Vec::new();
    if was.key_sha256 != is.key_sha256 {
        changes.push(("key", "鍵"));
    }
    if was.serial != is.serial {
        changes.push(("serial", "シリアル番号"));
    }
    if changes.is_empty() {
        return result(
            CheckStatus::Pass,
            format!("same certificate as in the baseline of {since}"),
            format!("{since}のベースラインと同じ証明書"),
            evidence,
        );
    }
    let en: Vec<&str> = changes.iter().map(|c| c.0).collect();
    let ja: Vec<&str> = changes.iter().map(|c| c.1).collect();
    result(
        CheckStatus::Info,
        format!("the certificate was renewed since {since} (same issuer; new {})", en.join(" and ")),
        format!("{since}以降に証明書が更新された（発行者は同じ、{}が変化）", ja.join("と")),
        evidence,
    )
}

/// `drift.protocols`: the versions accepted against the baseline. A legacy version accepted
/// again is a regression to look at (tls.no-tls10 and friends judge it on its own).
pub(super) fn protocols(endpoint: &EndpointEvidence, context: &CheckContext<'_>) -> CheckResult {
    let (baseline, before, now) = match endpoint_pair(endpoint, context) {
        Ok(pair) => pair,
        Err(result) => return result,
    };
    let since = date(baseline.taken_at);
    // Only a version known on both sides can have changed.
    let newly_accepted: Vec<TlsVersion> =
        now.accepted_versions.iter().copied().filter(|v| before.refused_versions.contains(v)).collect();
    let newly_refused: Vec<TlsVersion> =
        now.refused_versions.iter().copied().filter(|v| before.accepted_versions.contains(v)).collect();
    let names = |versions: &[TlsVersion]| versions.iter().map(|v| v.name()).collect::<Vec<_>>().join(", ");
    let evidence = json!({
        "baseline": baseline.source,
        "baseline_at": since,
        "before": {"accepted": before.accepted_versions, "refused": before.refused_versions},
        "after": {"accepted": now.accepted_versions, "refused": now.refused_versions},
    });
    let legacy: Vec<TlsVersion> = newly_accepted.iter().copied().filter(|v| *v < TlsVersion::Tls12).collect();
    if !legacy.is_empty() {
        return result(
            CheckStatus::Warn,
            format!("{} accepted again since {since} (refused in the baseline)", names(&legacy)),
            format!("{since}以降に{}が再び有効になった（ベースラインでは拒否）", names(&legacy)),
            evidence,
        );
    }
    if newly_accepted.is_empty() && newly_refused.is_empty() {
        return result(
            CheckStatus::Pass,
            format!("protocol versions unchanged since {since}"),
            format!("{since}からプロトコルバージョンに変化なし"),
            evidence,
        );
    }
    result(
        CheckStatus::Info,
        format!(
            "protocol versions changed since {since}: now accepted {}; now refused {}",
            if newly_accepted.is_empty() { "none".to_string() } else { names(&newly_accepted) },
            if newly_refused.is_empty() { "none".to_string() } else { names(&newly_refused) }
        ),
        format!(
            "{since}以降にプロトコルバージョンが変化: 新たに受け付け {}、新たに拒否 {}",
            if newly_accepted.is_empty() { "なし".to_string() } else { names(&newly_accepted) },
            if newly_refused.is_empty() { "なし".to_string() } else { names(&newly_refused) }
        ),
        evidence,
    )
}
