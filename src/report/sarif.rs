//! SARIF 2.1.0 (`--format sarif`), built with serde_json (no SARIF crate: the typed one
//! brings a builder framework for a document this small).
//!
//! One run, tool `kensa`; one rule per check ID the profile names (plus `target.resolution`
//! when a target yielded nothing to probe), with the check's title as `shortDescription`
//! and the remediation of the items it feeds as `help`. One result per finding that is not
//! a pass:
//!
//! | check status | `level` |
//! |---|---|
//! | fail | `error` |
//! | warn | `warning` |
//! | indeterminate | `note`, with `properties.kensaStatus = "indeterminate"` |
//!
//! `pass`, `info` and `not_run` give no result. Indeterminate is a `note` rather than an
//! `error`: it means the evidence was missing, not that the vendor broke a rule; the exit
//! code (3) and the other reports still say 判定不能.
//!
//! Locations: code-scanning consumers need a `physicalLocation`; the endpoint has no file, so
//! `artifactLocation.uri` is its URL (`https://host:port/path`, or `dns:name` for a domain
//! or host of the survey) and `logicalLocations` names the exact endpoint (with its IP
//! address). `partialFingerprints` keep results of the same check on the same endpoint
//! stable across scans.

use serde_json::{json, Value};

use super::{check_title, Report};
use crate::certificate::{format_time, sha256_hex};
use crate::checks::CheckStatus;
use crate::i18n::Lang;

/// The schema URI written in `$schema`.
pub const SARIF_SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// Renders the SARIF log, pretty-printed.
pub fn render(report: &Report<'_>) -> String {
    let lang = report.lang;
    let mut rule_ids: Vec<String> = Vec::new();
    for item in &report.profile.items {
        for check in &item.checks {
            if !rule_ids.contains(check) {
                rule_ids.push(check.clone());
            }
        }
    }
    for finding in &report.assessment.findings {
        if !rule_ids.contains(&finding.check_id) {
            rule_ids.push(finding.check_id.clone());
        }
    }
    let rules: Vec<Value> = rule_ids
        .iter()
        .map(|id| {
            let items: Vec<&crate::profile::Item> =
                report.profile.items.iter().filter(|i| i.checks.iter().any(|c| c == id)).collect();
            let help: Vec<String> = items
                .iter()
                .filter_map(|i| {
                    let remedy = match lang {
                        Lang::En => i.remediation_en.as_deref(),
                        Lang::Ja => i.remediation_ja.as_deref(),
                    };
                    remedy.map(|r| format!("{}: {r}", i.id))
                })
                .collect();
            let help = if help.is_empty() { check_title(id, lang) } else { help.join("\n") };
            json!({
                "id": id,
                "name": id,
                "shortDescription": { "text": check_title(id, lang) },
                "help": { "text": help },
                "properties": {
                    "items": items.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(),
                    "tags": [report.profile.meta.id.as_str(), "tls"],
                },
            })
        })
        .collect();
    let results: Vec<Value> = report
        .assessment
        .findings
        .iter()
        .filter_map(|f| {
            let level = match f.status {
                CheckStatus::Fail => "error",
                CheckStatus::Warn => "warning",
                CheckStatus::Indeterminate => "note",
                CheckStatus::Pass | CheckStatus::Info | CheckStatus::NotRun => return None,
            };
            let rule_index = rule_ids.iter().position(|r| r == &f.check_id).unwrap_or(0);
            let item_status = report.assessment.item(&f.item_id).map(|v| v.status);
            Some(json!({
                "ruleId": f.check_id,
                "ruleIndex": rule_index,
                "level": level,
                "message": { "text": format!("{} — {}: {}", f.item_id, f.endpoint, f.message.get(lang)) },
                "locations": [{
                    "physicalLocation": { "artifactLocation": { "uri": report.subject_uri(&f.endpoint) } },
                    "logicalLocations": [{ "name": f.endpoint, "fullyQualifiedName": f.endpoint, "kind": "resource" }],
                }],
                "partialFingerprints": {
                    "kensaFinding/v1": sha256_hex(format!("{}\n{}\n{}", f.item_id, f.check_id, f.endpoint).as_bytes()),
                },
                "properties": {
                    "item": f.item_id,
                    "itemStatus": item_status,
                    "kensaStatus": f.status.as_str(),
                    "raisedFrom": f.raised_from.map(|s| s.as_str()),
                },
            }))
        })
        .collect();
    let meta = &report.profile.meta;
    let mut invocation = json!({
        "executionSuccessful": true,
        "startTimeUtc": format_time(i64::try_from(report.evidence.started_at).unwrap_or(0)),
        "endTimeUtc": format_time(i64::try_from(report.evidence.finished_at).unwrap_or(0)),
        "properties": {
            "settings": report.evidence.settings,
            "judging": report.assessment.options,
        },
    });
    if let Some(digest) = &report.bundle_sha256 {
        invocation["properties"]["evidenceBundleSha256"] = json!(digest);
    }
    let document = json!({
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "kensa",
                    "version": env!("CARGO_PKG_VERSION"),
                    "semanticVersion": env!("CARGO_PKG_VERSION"),
                    "rules": rules,
                    "properties": {
                        "profile": meta.id,
                        "profileRevision": meta.revision,
                        "profileSha256": report.profile.sha256,
                    },
                },
            },
            "invocations": [invocation],
            "language": match lang { Lang::En => "en", Lang::Ja => "ja" },
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    });
    let mut text = serde_json::to_string_pretty(&document).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}
