//! The terminal report: endpoints with their protocol and certificate facts, then every
//! item with its status and a one-line reason, then a summary.

use std::fmt::Write;

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::{
    chain_end, handshake_line, ipa_label, off_path_lines, status_mark, suite_notes, suites_head, trust_label,
    ChainFacts, EndpointFacts, Report,
};
pub(super) use super::{check_mark, tr};
use crate::certificate::format_time;
use crate::chain::Origin;
use crate::checks::{CheckStatus, Support};
use crate::i18n::{pad, Lang};
use crate::verdict::ItemStatus;

/// Renders the report for a terminal.
pub fn render(report: &Report<'_>) -> String {
    let lang = report.lang;
    let mut out = String::new();
    let profile = report.profile;
    let title = match lang {
        Lang::En => &profile.meta.title_en,
        Lang::Ja => &profile.meta.title_ja,
    };
    let _ = writeln!(out, "kensa {} — {}", env!("CARGO_PKG_VERSION"), title);
    let _ = writeln!(
        out,
        "{}: {} ({}, {} {})",
        tr(lang, "Profile", "プロファイル"),
        profile.meta.id,
        profile.meta.revision,
        tr(lang, "data version", "データ版"),
        profile.meta.data_version
    );
    if let Some(service) = &report.evidence.service {
        let _ = writeln!(
            out,
            "{}: {} — {} ({} {})",
            tr(lang, "Service", "サービス"),
            service.name,
            service.vendor,
            tr(lang, "manifest", "マニフェスト"),
            service.manifest
        );
    }
    let endpoints = report.endpoint_facts();
    let _ = writeln!(
        out,
        "{}: {} → {}  ({} {}, {} {})",
        tr(lang, "Scan", "検査"),
        format_time(i64::try_from(report.evidence.started_at).unwrap_or(0)),
        format_time(i64::try_from(report.evidence.finished_at).unwrap_or(0)),
        report.evidence.targets.len(),
        tr(lang, "targets", "対象"),
        endpoints.len(),
        tr(lang, "endpoints", "エンドポイント"),
    );

    let _ = writeln!(out, "\n== {} ==", tr(lang, "Endpoints", "エンドポイント"));
    for target in report.evidence.targets.iter().filter(|t| t.endpoints.is_empty()) {
        let why = target.resolution.error.as_deref().unwrap_or("no address");
        let _ = writeln!(out, "\n{}\n  ! {}: {why}", target.input, tr(lang, "not probed", "検査できず"));
    }
    for facts in &endpoints {
        render_endpoint(&mut out, report, facts);
    }
    if let Some(service) = report.evidence.service.as_ref().filter(|s| !s.coverage_gaps.is_empty()) {
        let _ = writeln!(out, "\n== {} ==", tr(lang, "Coverage gaps", "検査範囲の欠落"));
        for gap in &service.coverage_gaps {
            let role = if lang == Lang::Ja { gap.role.label_ja() } else { gap.role.label_en() };
            let _ = writeln!(out, "  ! {} ({role}): {}", gap.endpoint, gap.reason);
        }
    }
    super::domains::render_text(&mut out, report);

    let _ = writeln!(out, "\n== {} ==", tr(lang, "Guideline items", "指針の項目"));
    let mut section = "";
    for item in &profile.items {
        let Some(verdict) = report.assessment.item(&item.id) else { continue };
        if item.section != section {
            section = &item.section;
            if let Some(s) = profile.sections.iter().find(|s| s.id == item.section) {
                let _ = writeln!(out, "\n{}", if lang == Lang::Ja { &s.title_ja } else { &s.title_en });
            }
        }
        let obligation = match lang {
            Lang::En => item.obligation.label_en(),
            Lang::Ja => item.obligation.label_ja(),
        };
        let star = if item.starred { "(＊)" } else { "    " };
        let summary = match lang {
            Lang::En => item.gloss_en.as_str(),
            Lang::Ja => item.quote_ja.as_str(),
        };
        let head = format!(
            "  {} {} {star} {} {}",
            pad(&item.id, 9),
            pad(obligation, 11),
            status_mark(verdict.status),
            pad(verdict.status.label(lang), 18)
        );
        if item.checks.is_empty() && verdict.declaration.is_none() {
            // Nothing was measured or declared for this item: one line is all there is to say.
            let _ = writeln!(out, "{head} {}", shorten(summary, 64));
            continue;
        }
        let _ = writeln!(out, "{head}");
        let _ = writeln!(out, "            {}", shorten(summary, 96));
        let _ = writeln!(out, "            → {}", verdict.reason.get(lang));
        if let Some(declaration) = &verdict.declaration {
            let state = if lang == Lang::Ja { declaration.state.label_ja() } else { declaration.state.label_en() };
            let reference = if declaration.reference.is_empty() {
                String::new()
            } else {
                format!(" — {}", declaration.reference)
            };
            let _ = writeln!(
                out,
                "            {}: {state}{reference} ({}, {})",
                tr(lang, "Declared", "申告"),
                declaration.declared_by,
                declaration.declared_on
            );
        }
        if matches!(verdict.status, ItemStatus::NonCompliant | ItemStatus::NeedsReview) {
            let remediation = match lang {
                Lang::En => item.remediation_en.as_deref(),
                Lang::Ja => item.remediation_ja.as_deref(),
            };
            if let Some(remediation) = remediation {
                let _ = writeln!(out, "            {}: {}", tr(lang, "Remedy", "対処"), remediation);
            }
        }
    }

    let _ = writeln!(out, "\n== {} ==", tr(lang, "Summary", "まとめ"));
    let counts: Vec<String> =
        report.assessment.counts().into_iter().map(|(status, n)| format!("{} {n}", status.label(lang))).collect();
    let _ = writeln!(out, "{}", counts.join(" · "));
    let code = report.assessment.exit_code();
    let meaning = super::exit_meaning(lang, code);
    let _ = writeln!(out, "{}: {code} ({meaning})", tr(lang, "Exit code", "終了コード"));
    out
}

fn render_endpoint(out: &mut String, report: &Report<'_>, facts: &EndpointFacts) {
    let lang = report.lang;
    let _ = writeln!(out, "\n{}", facts.endpoint);
    let protocols: Vec<String> = facts
        .protocols
        .iter()
        .map(|p| {
            let word = match p.support {
                Support::Accepted => tr(lang, "yes", "可"),
                Support::Refused(_) => tr(lang, "no", "不可"),
                Support::Unknown(_) => "?",
            };
            format!("{} {word}", p.version.name())
        })
        .collect();
    let _ = writeln!(out, "  {} {}", pad(tr(lang, "Protocols", "プロトコル"), 16), protocols.join(" · "));
    for n in &facts.negotiated {
        let mut line = format!("{} {}", n.version.name(), n.cipher_suite);
        if let Some(group) = &n.key_exchange_group {
            let _ = write!(line, " {group}");
        }
        if let Some(alpn) = &n.alpn {
            let _ = write!(line, ", ALPN {alpn}");
        }
        let _ = writeln!(out, "  {} {line}", pad(tr(lang, "Negotiated", "ネゴシエーション"), 16));
    }
    if facts.chains.is_empty() {
        let _ = writeln!(
            out,
            "  {} {}",
            pad(tr(lang, "Certificate", "証明書"), 16),
            tr(lang, "none captured", "取得できず")
        );
    }
    for chain in &facts.chains {
        render_chain(out, lang, chain);
    }
    render_suites(out, lang, facts);
    let judged_here = |item: &crate::profile::Item| {
        report.assessment.findings.iter().any(|f| f.item_id == item.id && f.endpoint == facts.endpoint)
    };
    for item in report.profile.items.iter().filter(|i| !i.checks.is_empty() && judged_here(i)) {
        if let Some(status) = report.assessment.item_status_for_endpoint(&item.id, &facts.endpoint, report.profile) {
            let _ = writeln!(out, "  {} {} {}", pad(&item.id, 16), status_mark(status), status.label(lang));
        }
    }
    for finding in report.assessment.findings.iter().filter(|f| f.endpoint == facts.endpoint) {
        if matches!(finding.status, CheckStatus::Pass) {
            continue;
        }
        let _ =
            writeln!(out, "  {} {:<20} {}", check_mark(finding.status), finding.check_id, finding.message.get(lang));
    }
}

/// The suites of every accepted version, then the handshake facts.
fn render_suites(out: &mut String, lang: Lang, facts: &EndpointFacts) {
    for version in &facts.suites {
        let label = format!("{} {}", tr(lang, "Suites", "スイート"), version.version.name());
        let _ = writeln!(out, "  {} {}", pad(&label, 16), suites_head(lang, version));
        for suite in &version.suites {
            let notes = suite_notes(suite);
            let ipa = ipa_label(lang, &suite.class.ipa);
            let _ = writeln!(out, "    {} {}{}", pad(&suite.class.name, 46), notes.join(" "), ipa);
        }
    }
    let line = handshake_line(lang, &facts.handshake);
    if !line.is_empty() {
        let _ = writeln!(out, "  {} {line}", pad(tr(lang, "Handshake", "ハンドシェイク"), 16));
    }
    for exchange in &facts.http {
        let kind = match exchange.kind {
            "plain" => tr(lang, "HTTP plain", "HTTP 平文"),
            "entry" => tr(lang, "HTTPS page", "HTTPS ページ"),
            _ => tr(lang, "WS cleartext", "WS 平文"),
        };
        let _ = writeln!(out, "  {} {} → {}", pad(kind, 16), exchange.url, exchange.outcome);
        for (name, value) in &exchange.headers {
            let _ = writeln!(out, "    {name}: {value}");
        }
    }
    let _ = writeln!(out, "  {} {}", pad(tr(lang, "Connections", "接続数"), 16), facts.connections);
}

/// One chain as a tree: the leaf, then each issuer indented below it, each with a mark for
/// its own verdict and the reasons when it is not a pass.
fn render_chain(out: &mut String, lang: Lang, chain: &ChainFacts) {
    let served = match lang {
        Lang::En => format!("{} served", chain.served_count),
        Lang::Ja => format!("{}枚を提示", chain.served_count),
    };
    let _ = writeln!(
        out,
        "  {} {} · {served} · {}",
        pad(tr(lang, "Certificate", "証明書"), 16),
        chain.captured_with,
        trust_label(lang, chain)
    );
    if let Some(leaf) = &chain.leaf {
        let names: Vec<String> =
            leaf.dns_names.iter().cloned().chain(leaf.ip_addresses.iter().map(|ip| ip.to_string())).collect();
        let names = if names.is_empty() {
            tr(lang, "(no subjectAltName)", "（subjectAltNameなし）").to_string()
        } else {
            names.join(", ")
        };
        let _ = writeln!(out, "  {} {names}", pad(tr(lang, "Names", "名前"), 16));
        let _ = writeln!(
            out,
            "  {} {} → {} · {} {}",
            pad(tr(lang, "Validity", "有効期間"), 16),
            format_time(leaf.not_before),
            format_time(leaf.not_after),
            tr(lang, "validation level", "認証レベル"),
            leaf.validation.label()
        );
    }
    for (depth, entry) in chain.path.iter().enumerate() {
        let indent = tree_indent(depth);
        let origin = match entry.origin {
            Origin::Served { .. } => String::new(),
            Origin::Fetched => tr(lang, " (fetched through AIA)", "（AIAで取得）").to_string(),
        };
        let days = match lang {
            Lang::En => format!("{} days", entry.days_remaining),
            Lang::Ja => format!("残り{}日", entry.days_remaining),
        };
        let _ = writeln!(
            out,
            "    {indent}{} {}{origin} [{}, {}, {} {days}]",
            check_mark(entry.status),
            entry.subject,
            entry.key,
            entry.signature_algorithm,
            entry.not_after.get(..10).unwrap_or(&entry.not_after),
        );
        for finding in &entry.findings {
            let _ = writeln!(
                out,
                "    {}   {} {}",
                " ".repeat(indent.chars().count()),
                check_mark(finding.status),
                finding.message.get(lang)
            );
        }
    }
    let indent = tree_indent(chain.path.len());
    if let Some((mark, line)) = chain_end(lang, chain) {
        let _ = writeln!(out, "    {indent}{mark} {line}");
    }
    for line in off_path_lines(lang, chain) {
        let _ = writeln!(out, "    △ {line}");
    }
}

fn tree_indent(depth: usize) -> String {
    if depth == 0 {
        String::new()
    } else {
        format!("{}└─ ", "   ".repeat(depth - 1))
    }
}

/// Cuts `text` to at most `columns` terminal columns (CJK characters take two).
fn shorten(text: &str, columns: usize) -> String {
    if text.width() <= columns {
        return text.to_string();
    }
    let mut cut = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > columns {
            break;
        }
        cut.push(c);
        used += w;
    }
    cut.push('…');
    cut
}
