//! The JSON report (`--format json`), schema `kensa.report/2`, documented in
//! `docs/json-report.md`. Additive changes keep the version; anything else bumps it.

use serde::Serialize;
use serde_json::json;

use super::Report;
use crate::certificate::format_time;
use crate::profile::Item;
use crate::verdict::ItemVerdict;

/// Version tag of the JSON report.
pub const REPORT_SCHEMA: &str = "kensa.report/2";

#[derive(Serialize)]
struct ItemEntry<'a> {
    id: &'a str,
    section: &'a str,
    quote_ja: &'a str,
    gloss_en: &'a str,
    obligation: &'static str,
    starred: bool,
    evidence_kind: crate::profile::EvidenceKind,
    checks: &'a [String],
    status: crate::verdict::ItemStatus,
    status_ja: &'static str,
    reason: &'a str,
    /// What decided the status: the checks, a declaration, or the profile alone.
    basis: crate::verdict::Basis,
    #[serde(skip_serializing_if = "Option::is_none")]
    declaration: Option<&'a crate::declaration::Declaration>,
    remediation: Option<&'a str>,
}

fn item_entry<'a>(report: &Report<'_>, item: &'a Item, verdict: &'a ItemVerdict) -> ItemEntry<'a> {
    let lang = report.lang;
    let remediation = match lang {
        crate::i18n::Lang::En => item.remediation_en.as_deref(),
        crate::i18n::Lang::Ja => item.remediation_ja.as_deref(),
    };
    ItemEntry {
        id: &item.id,
        section: &item.section,
        quote_ja: &item.quote_ja,
        gloss_en: &item.gloss_en,
        obligation: item.obligation.label_ja(),
        starred: item.starred,
        evidence_kind: item.evidence,
        checks: &item.checks,
        status: verdict.status,
        status_ja: verdict.status.label_ja(),
        reason: verdict.reason.get(lang),
        basis: verdict.basis,
        declaration: verdict.declaration.as_ref(),
        remediation,
    }
}

/// Renders the JSON report, pretty-printed.
pub fn render(report: &Report<'_>) -> String {
    let lang = report.lang;
    let profile = report.profile;
    let items: Vec<ItemEntry<'_>> = profile
        .items
        .iter()
        .filter_map(|item| report.assessment.item(&item.id).map(|v| item_entry(report, item, v)))
        .collect();
    let findings: Vec<serde_json::Value> = report
        .assessment
        .findings
        .iter()
        .map(|f| {
            json!({
                "item_id": f.item_id,
                "check_id": f.check_id,
                "endpoint": f.endpoint,
                "status": f.status,
                "raised_from": f.raised_from,
                "message": f.message.get(lang),
                "evidence": f.evidence,
            })
        })
        .collect();
    let summary: serde_json::Map<String, serde_json::Value> =
        report.assessment.counts().into_iter().map(|(status, n)| (status_key(status), json!(n))).collect();
    let document = json!({
        "schema_version": REPORT_SCHEMA,
        "kensa_version": env!("CARGO_PKG_VERSION"),
        "language": lang,
        "profile": {
            "id": profile.meta.id,
            "title": match lang { crate::i18n::Lang::En => &profile.meta.title_en, crate::i18n::Lang::Ja => &profile.meta.title_ja },
            "guideline": profile.meta.guideline,
            "revision": profile.meta.revision,
            "data_version": profile.meta.data_version,
            "source": profile.source,
            "sha256": profile.sha256,
        },
        "scan": {
            "started_at": format_time(to_i64(report.evidence.started_at)),
            "finished_at": format_time(to_i64(report.evidence.finished_at)),
            "settings": report.evidence.settings,
            "judging": report.assessment.options,
        },
        "exit_code": report.assessment.exit_code(),
        "summary": summary,
        "items": items,
        "targets": report.evidence.targets.iter().map(|t| json!({
            "input": t.input,
            "host": t.host,
            "port": t.port,
            "server_name": t.server_name,
            "resolution": t.resolution,
        })).collect::<Vec<_>>(),
        "endpoints": report.endpoint_facts(),
        "findings": findings,
        "evidence": report.evidence,
    });
    let mut document = document;
    if let Some(digest) = &report.bundle_sha256 {
        document["evidence_bundle_sha256"] = json!(digest);
    }
    let mut text = serde_json::to_string_pretty(&document).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}

fn status_key(status: crate::verdict::ItemStatus) -> String {
    serde_json::to_value(status).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

fn to_i64(seconds: u64) -> i64 {
    i64::try_from(seconds).unwrap_or(i64::MAX)
}
