//! The HTML report (`--format html`): one self-contained file — inline CSS, no scripts, no
//! external assets — that prints on A4. Japanese by default (`--lang en` for English).
//!
//! Rust derives every string (in the report language) into a plain context; the template
//! (`templates/report.html.j2`, minijinja with HTML auto-escaping) only lays it out. Status
//! colours always come with the status word and a mark, so the page reads in grayscale.

use minijinja::{AutoEscape, Environment};
use serde::Serialize;
use serde_json::{json, Value};

use super::{
    basis_label, chain_end, check_mark, check_title, handshake_line, ipa_label, off_path_lines, status_class,
    status_mark, suite_notes, suites_head, tr, trust_label, ChainFacts, EndpointFacts, Report,
};
use crate::certificate::format_time;
use crate::chain::Origin;
use crate::checks::{CheckStatus, Support};
use crate::i18n::Lang;
use crate::verdict::ItemStatus;

const TEMPLATE: &str = include_str!("templates/report.html.j2");

/// Renders the HTML report.
pub fn render(report: &Report<'_>) -> String {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    let context = context(report);
    env.add_template("report.html", TEMPLATE)
        .and_then(|()| env.get_template("report.html"))
        .and_then(|t| t.render(minijinja::value::Serde(&context)))
        .unwrap_or_else(|e| format!("<!DOCTYPE html><title>kensa</title><p>template error: {e}</p>\n"))
}

#[derive(Serialize)]
struct Labels {
    lang: &'static str,
    summary: &'static str,
    items: &'static str,
    id: &'static str,
    obligation: &'static str,
    status: &'static str,
    reason: &'static str,
    basis: &'static str,
    guideline: &'static str,
    remedy: &'static str,
    declarations: &'static str,
    state: &'static str,
    reference: &'static str,
    declared_by: &'static str,
    declared_on: &'static str,
    note: &'static str,
    no_declarations: &'static str,
    service: &'static str,
    vendor: &'static str,
    manifest: &'static str,
    domains_declared: &'static str,
    coverage_gaps: &'static str,
    endpoint: &'static str,
    role: &'static str,
    endpoints: &'static str,
    not_probed: &'static str,
    protocols: &'static str,
    negotiated: &'static str,
    certificate: &'static str,
    none_captured: &'static str,
    names: &'static str,
    validity: &'static str,
    suites: &'static str,
    handshake: &'static str,
    http: &'static str,
    connections: &'static str,
    item_status: &'static str,
    findings: &'static str,
    check: &'static str,
    message: &'static str,
    domains: &'static str,
    scan: &'static str,
    bundle: &'static str,
    no_bundle: &'static str,
    exit_code: &'static str,
    address: &'static str,
    probed_at: &'static str,
    contents: &'static str,
}

fn labels(lang: Lang) -> Labels {
    let t = |en, ja| tr(lang, en, ja);
    Labels {
        lang: if lang == Lang::Ja { "ja" } else { "en" },
        summary: t("Summary", "まとめ"),
        items: t("Guideline items", "指針の項目"),
        id: "ID",
        obligation: t("Obligation", "遵守/推奨"),
        status: t("Status", "判定"),
        reason: t("Reason", "理由"),
        basis: t("Basis", "根拠"),
        guideline: t("Guideline", "指針"),
        remedy: t("Remedy", "対処"),
        declarations: t("Declarations", "申告"),
        state: t("Declared", "申告内容"),
        reference: t("Reference", "根拠文書"),
        declared_by: t("Declared by", "申告者"),
        declared_on: t("On", "申告日"),
        note: t("Note", "備考"),
        no_declarations: t(
            "No declarations were given (--declarations).",
            "申告ファイルは指定されていない（--declarations）。",
        ),
        service: t("Service", "サービス"),
        vendor: t("Vendor", "事業者"),
        manifest: t("Manifest", "マニフェスト"),
        domains_declared: t("Declared domains", "申告ドメイン"),
        coverage_gaps: t("Coverage gaps", "検査できなかったエンドポイント"),
        endpoint: t("Endpoint", "エンドポイント"),
        role: t("Role", "役割"),
        endpoints: t("Endpoints", "エンドポイント"),
        not_probed: t("not probed", "検査できず"),
        protocols: t("Protocols", "プロトコル"),
        negotiated: t("Negotiated", "ネゴシエーション"),
        certificate: t("Certificate chain", "証明書チェーン"),
        none_captured: t("no certificate captured", "証明書を取得できず"),
        names: t("Names", "名前"),
        validity: t("Validity", "有効期間"),
        suites: t("Cipher suites", "暗号スイート"),
        handshake: t("Handshake", "ハンドシェイク"),
        http: t("HTTP posture", "HTTPの設定"),
        connections: t("Connections", "接続数"),
        item_status: t("Items on this endpoint", "このエンドポイントでの項目判定"),
        findings: t("Findings", "検出事項"),
        check: t("Check", "チェック"),
        message: t("Message", "内容"),
        domains: t("Domains", "ドメイン"),
        scan: t("Scan", "検査情報"),
        bundle: t("Evidence bundle SHA-256", "証跡バンドルSHA-256"),
        no_bundle: t("(no bundle written)", "（バンドルなし）"),
        exit_code: t("Exit code", "終了コード"),
        address: t("Address", "アドレス"),
        probed_at: t("Probed at", "検査時刻"),
        contents: t("Contents", "目次"),
    }
}

fn context(report: &Report<'_>) -> Value {
    let lang = report.lang;
    let meta = &report.profile.meta;
    let rows = report.item_rows();
    let mut sections: Vec<Value> = Vec::new();
    let mut current: Option<String> = None;
    for row in &rows {
        if current.as_deref() != Some(row.item.section.as_str()) {
            current = Some(row.item.section.clone());
            sections.push(json!({ "title": row.section_title, "items": [] }));
        }
        let declaration = row.verdict.declaration.as_ref().map(|d| {
            json!({
                "state": if lang == Lang::Ja { d.state.label_ja() } else { d.state.label_en() },
                "reference": d.reference,
            })
        });
        let show_remedy = matches!(row.verdict.status, ItemStatus::NonCompliant | ItemStatus::NeedsReview);
        if let Some(Value::Array(items)) = sections.last_mut().and_then(|s| s.get_mut("items")) {
            items.push(json!({
                "id": row.item.id,
                "anchor": anchor(&row.item.id),
                "obligation": row.obligation,
                "starred": row.item.starred,
                "status": row.verdict.status.label(lang),
                "class": status_class(row.verdict.status),
                "mark": status_mark(row.verdict.status),
                "reason": row.reason,
                "basis": basis_label(lang, row.verdict.basis),
                "summary": row.summary,
                "remedy": if show_remedy { row.remediation } else { None },
                "declaration": declaration,
            }));
        }
    }
    let declarations: Vec<Value> = rows
        .iter()
        .filter_map(|r| r.verdict.declaration.as_ref().map(|d| (r, d)))
        .map(|(row, d)| {
            json!({
                "item": d.item,
                "state": if lang == Lang::Ja { d.state.label_ja() } else { d.state.label_en() },
                "status": row.verdict.status.label(lang),
                "class": status_class(row.verdict.status),
                "mark": status_mark(row.verdict.status),
                "reference": d.reference,
                "declared_by": d.declared_by,
                "declared_on": d.declared_on,
                "note": d.note,
            })
        })
        .collect();
    let service = report.evidence.service.as_ref().map(|s| {
        json!({
            "name": s.name,
            "vendor": s.vendor,
            "manifest": s.manifest,
            "manifest_sha256": s.manifest_sha256,
            "domains": s.domains.join(", "),
            "gaps": s.coverage_gaps.iter().map(|g| json!({
                "endpoint": g.endpoint,
                "role": if lang == Lang::Ja { g.role.label_ja() } else { g.role.label_en() },
                "reason": g.reason,
            })).collect::<Vec<_>>(),
        })
    });
    let counts: Vec<Value> = report
        .assessment
        .counts()
        .into_iter()
        .map(|(status, n)| {
            json!({ "label": status.label(lang), "n": n, "class": status_class(status), "mark": status_mark(status) })
        })
        .collect();
    let code = report.assessment.exit_code();
    let meaning = super::exit_meaning(lang, code);
    let unprobed: Vec<Value> = report
        .evidence
        .targets
        .iter()
        .filter(|t| t.endpoints.is_empty())
        .map(|t| json!({ "target": t.input, "why": t.resolution.error.as_deref().unwrap_or("no address") }))
        .collect();
    let endpoints: Vec<Value> = report.endpoint_facts().iter().map(|f| endpoint(report, f)).collect();
    let mut domains = String::new();
    super::domains::render_text(&mut domains, report);
    let domains = domains.trim_matches('\n').to_string();
    let title = if lang == Lang::Ja { &meta.title_ja } else { &meta.title_en };
    json!({
        "t": labels(lang),
        "title": title,
        "kensa_version": env!("CARGO_PKG_VERSION"),
        "profile": { "id": meta.id, "revision": meta.revision },
        "started": format_time(i64::try_from(report.evidence.started_at).unwrap_or(0)),
        "finished": format_time(i64::try_from(report.evidence.finished_at).unwrap_or(0)),
        "metadata": report.scan_metadata().into_iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
        "bundle_sha256": report.bundle_sha256,
        "service": service,
        "counts": counts,
        "exit": { "code": code, "meaning": meaning },
        "sections": sections,
        "declarations": declarations,
        "unprobed": unprobed,
        "endpoints": endpoints,
        "domains": domains,
    })
}

/// An `id` attribute value for an item or endpoint.
fn anchor(text: &str) -> String {
    text.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect()
}

fn endpoint(report: &Report<'_>, facts: &EndpointFacts) -> Value {
    let lang = report.lang;
    let protocols: Vec<Value> = facts
        .protocols
        .iter()
        .map(|p| {
            let (word, class, why) = match &p.support {
                Support::Accepted => (tr(lang, "accepted", "受け付ける"), "accepted", String::new()),
                Support::Refused(why) => (tr(lang, "refused", "受け付けない"), "refused", why.clone()),
                Support::Unknown(why) => (tr(lang, "unknown", "不明"), "unknown", why.clone()),
            };
            json!({ "name": p.version.name(), "word": word, "class": class, "why": why })
        })
        .collect();
    let negotiated: Vec<String> = facts
        .negotiated
        .iter()
        .map(|n| {
            let mut line = format!("{} {}", n.version.name(), n.cipher_suite);
            if let Some(group) = &n.key_exchange_group {
                line.push_str(&format!(" {group}"));
            }
            if let Some(alpn) = &n.alpn {
                line.push_str(&format!(", ALPN {alpn}"));
            }
            line
        })
        .collect();
    let suites: Vec<Value> = facts
        .suites
        .iter()
        .map(|v| {
            json!({
                "version": v.version.name(),
                "head": suites_head(lang, v),
                "suites": v.suites.iter().map(|s| json!({
                    "name": s.class.name,
                    "notes": suite_notes(s).join(" "),
                    "ipa": ipa_label(lang, &s.class.ipa).trim().to_string(),
                    "weak": !s.weaknesses.is_empty(),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let judged_here =
        |id: &str| report.assessment.findings.iter().any(|f| f.item_id == id && f.endpoint == facts.endpoint);
    let items: Vec<Value> = report
        .profile
        .items
        .iter()
        .filter(|i| !i.checks.is_empty() && judged_here(&i.id))
        .filter_map(|i| {
            let status = report.assessment.item_status_for_endpoint(&i.id, &facts.endpoint, report.profile)?;
            Some(json!({
                "id": i.id,
                "anchor": anchor(&i.id),
                "status": status.label(lang),
                "class": status_class(status),
                "mark": status_mark(status),
            }))
        })
        .collect();
    let findings: Vec<Value> = report
        .assessment
        .findings
        .iter()
        .filter(|f| f.endpoint == facts.endpoint && !matches!(f.status, CheckStatus::Pass | CheckStatus::NotRun))
        .map(|f| {
            json!({
                "mark": check_mark(f.status),
                "class": f.status.as_str(),
                "status": f.status.as_str(),
                "check": f.check_id,
                "title": check_title(&f.check_id, lang),
                "message": f.message.get(lang),
                "item": f.item_id,
            })
        })
        .collect();
    json!({
        "label": facts.endpoint,
        "anchor": anchor(&facts.endpoint),
        "target": facts.target,
        "address": facts.address.to_string(),
        "server_name": facts.server_name,
        "probed_at": facts.probed_at,
        "protocols": protocols,
        "negotiated": negotiated,
        "chains": facts.chains.iter().map(|c| chain(lang, c)).collect::<Vec<_>>(),
        "suites": suites,
        "handshake": handshake_line(lang, &facts.handshake),
        "connections": facts.connections,
        "http": facts.http.iter().map(|h| json!({
            "kind": match (h.kind, lang) {
                ("plain", Lang::En) => "plain HTTP",
                ("plain", Lang::Ja) => "平文HTTP",
                ("entry", Lang::En) => "HTTPS entry page",
                ("entry", Lang::Ja) => "HTTPS入口ページ",
                (_, Lang::En) => "cleartext WebSocket",
                (_, Lang::Ja) => "平文WebSocket",
            },
            "url": h.url,
            "outcome": h.outcome,
            "headers": h.headers.iter().map(|(n, v)| format!("{n}: {v}")).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "items": items,
        "findings": findings,
    })
}

fn chain(lang: Lang, chain: &ChainFacts) -> Value {
    let served = match lang {
        Lang::En => format!("{} served", chain.served_count),
        Lang::Ja => format!("{}枚を提示", chain.served_count),
    };
    let leaf = chain.leaf.as_ref().map(|leaf| {
        let names: Vec<String> =
            leaf.dns_names.iter().cloned().chain(leaf.ip_addresses.iter().map(|ip| ip.to_string())).collect();
        json!({
            "names": if names.is_empty() { tr(lang, "(no subjectAltName)", "（subjectAltNameなし）").to_string() } else { names.join(", ") },
            "validity": format!("{} → {} · {} {}", format_time(leaf.not_before), format_time(leaf.not_after), tr(lang, "validation level", "認証レベル"), leaf.validation.label()),
        })
    });
    // The path as nested levels: each certificate is the child of the one it issued.
    let path: Vec<Value> = chain
        .path
        .iter()
        .map(|entry| {
            let origin = match entry.origin {
                Origin::Served { .. } => "",
                Origin::Fetched => tr(lang, "fetched through AIA", "AIAで取得"),
            };
            let days = match lang {
                Lang::En => format!("{} days left", entry.days_remaining),
                Lang::Ja => format!("残り{}日", entry.days_remaining),
            };
            json!({
                "subject": entry.subject,
                "mark": check_mark(entry.status),
                "class": entry.status.as_str(),
                "role": crate::report::json_word(&entry.role),
                "details": format!("{}, {}, {} ({days})", entry.key, entry.signature_algorithm, entry.not_after.get(..10).unwrap_or(&entry.not_after)),
                "origin": origin,
                "findings": entry.findings.iter().map(|f| json!({
                    "mark": check_mark(f.status),
                    "class": f.status.as_str(),
                    "message": f.message.get(lang),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let end = chain_end(lang, chain).map(|(mark, text)| json!({ "mark": mark, "text": text, "bad": mark != "⚓" }));
    json!({
        "captured_with": chain.captured_with,
        "served": served,
        "trust": trust_label(lang, chain),
        "trusted": matches!(chain.trust, crate::trust::TrustVerdict::Trusted { .. }),
        "leaf": leaf,
        "path": path,
        "end": end,
        "off_path": off_path_lines(lang, chain),
    })
}
