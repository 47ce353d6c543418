//! The Markdown report (`--format md`): the item table, declarations, coverage gaps, each
//! endpoint in short and the scan's metadata — for pull requests, wikis and tickets.

use std::fmt::Write;

use super::{check_mark, status_mark, tr, trust_label, Report};
use crate::checks::{CheckStatus, Support};
use crate::i18n::Lang;

/// Renders the Markdown report.
pub fn render(report: &Report<'_>) -> String {
    let lang = report.lang;
    let meta = &report.profile.meta;
    let mut out = String::new();
    let title = if lang == Lang::Ja { &meta.title_ja } else { &meta.title_en };
    let _ = writeln!(out, "# kensa — {}\n", cell(title));
    if let Some(service) = &report.evidence.service {
        let _ = writeln!(
            out,
            "**{}**: {} ({})\n",
            tr(lang, "Service", "サービス"),
            cell(&service.name),
            cell(&service.vendor)
        );
    }
    let counts: Vec<String> =
        report.assessment.counts().into_iter().map(|(status, n)| format!("{} {n}", status.label(lang))).collect();
    let _ = writeln!(
        out,
        "**{}**: {} · {}: {}\n",
        tr(lang, "Summary", "まとめ"),
        counts.join(" · "),
        tr(lang, "exit code", "終了コード"),
        report.assessment.exit_code()
    );

    let _ = writeln!(out, "## {}\n", tr(lang, "Guideline items", "指針の項目"));
    let _ = writeln!(
        out,
        "| ID | {} | (＊) | {} | {} | {} |\n|---|---|---|---|---|---|",
        tr(lang, "Obligation", "遵守/推奨"),
        tr(lang, "Status", "判定"),
        tr(lang, "Basis", "根拠"),
        tr(lang, "Reason", "理由")
    );
    for row in report.item_rows() {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} {} | {} | {} |",
            cell(&row.item.id),
            row.obligation,
            if row.item.starred { "＊" } else { "" },
            status_mark(row.verdict.status),
            row.verdict.status.label(lang),
            super::basis_label(lang, row.verdict.basis),
            cell(row.reason)
        );
    }

    let declared: Vec<_> = report.item_rows().into_iter().filter_map(|r| r.verdict.declaration.clone()).collect();
    if !declared.is_empty() {
        let _ = writeln!(out, "\n## {}\n", tr(lang, "Declarations", "申告"));
        let _ = writeln!(
            out,
            "| ID | {} | {} | {} | {} |\n|---|---|---|---|---|",
            tr(lang, "State", "申告内容"),
            tr(lang, "Reference", "根拠文書"),
            tr(lang, "Declared by", "申告者"),
            tr(lang, "On", "申告日")
        );
        for d in declared {
            let state = if lang == Lang::Ja { d.state.label_ja() } else { d.state.label_en() };
            let _ = writeln!(
                out,
                "| {} | {state} | {} | {} | {} |",
                cell(&d.item),
                cell(&d.reference),
                cell(&d.declared_by),
                cell(&d.declared_on)
            );
        }
    }

    if let Some(service) = report.evidence.service.as_ref().filter(|s| !s.coverage_gaps.is_empty()) {
        let _ = writeln!(out, "\n## {}\n", tr(lang, "Coverage gaps", "検査できなかったエンドポイント"));
        for gap in &service.coverage_gaps {
            let role = if lang == Lang::Ja { gap.role.label_ja() } else { gap.role.label_en() };
            let _ = writeln!(out, "- {} ({role}): {}", cell(&gap.endpoint), cell(&gap.reason));
        }
    }

    let _ = writeln!(out, "\n## {}", tr(lang, "Endpoints", "エンドポイント"));
    for facts in report.endpoint_facts() {
        let _ = writeln!(out, "\n### {}\n", cell(&facts.endpoint));
        let accepted: Vec<&str> =
            facts.protocols.iter().filter(|p| p.support == Support::Accepted).map(|p| p.version.name()).collect();
        let _ = writeln!(out, "- {}: {}", tr(lang, "Protocols accepted", "受け付けるプロトコル"), accepted.join(", "));
        for chain in &facts.chains {
            let leaf = chain.path.first().map(|p| p.subject.as_str()).unwrap_or("-");
            let _ = writeln!(
                out,
                "- {} ({}): {} — {}",
                tr(lang, "Certificate", "証明書"),
                chain.captured_with,
                cell(leaf),
                cell(&trust_label(lang, chain))
            );
        }
        for finding in
            report.assessment.findings.iter().filter(|f| {
                f.endpoint == facts.endpoint && !matches!(f.status, CheckStatus::Pass | CheckStatus::NotRun)
            })
        {
            let _ = writeln!(
                out,
                "- {} `{}` {}",
                check_mark(finding.status),
                finding.check_id,
                cell(finding.message.get(lang))
            );
        }
    }

    let _ = writeln!(out, "\n## {}\n", tr(lang, "Scan", "検査情報"));
    let _ = writeln!(out, "| | |\n|---|---|");
    for (label, value) in report.scan_metadata() {
        let _ = writeln!(out, "| {} | {} |", cell(label), cell(&value));
    }
    out
}

/// Text safe inside a table cell: pipes escaped, line breaks as `<br>`, HTML-ish
/// characters escaped so no markup slips in.
fn cell(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('|', "\\|")
        .replace("\r\n", "<br>")
        .replace('\n', "<br>")
}
