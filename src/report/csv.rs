//! The findings as CSV (`--format csv`): one row per finding, RFC 4180 (CRLF line ends,
//! fields with a comma, quote or line break quoted, quotes doubled), UTF-8 with no BOM.
//!
//! Columns: `item_id, obligation, starred, item_status, check_id, check_title, endpoint,
//! status, raised_from, message`; titles, obligation and message are in the report language.
//! A cell that a spreadsheet would read as a formula (starting with `=`, `+`, `-`, `@`, a tab
//! or a carriage return) is prefixed with `'` (CSV injection).

use super::{check_title, Report};
use crate::i18n::Lang;

/// The header row.
pub const COLUMNS: [&str; 10] = [
    "item_id",
    "obligation",
    "starred",
    "item_status",
    "check_id",
    "check_title",
    "endpoint",
    "status",
    "raised_from",
    "message",
];

/// Renders one row per finding, in the assessment's order, after a header row.
pub fn render(report: &Report<'_>) -> String {
    let lang = report.lang;
    let mut out = String::new();
    write_row(&mut out, COLUMNS.iter().map(|c| c.to_string()));
    for finding in &report.assessment.findings {
        let item = report.profile.item(&finding.item_id);
        let obligation = item.map(|i| match lang {
            Lang::En => i.obligation.label_en(),
            Lang::Ja => i.obligation.label_ja(),
        });
        let item_status = report.assessment.item(&finding.item_id).map(|v| v.status.label(lang)).unwrap_or_default();
        write_row(
            &mut out,
            [
                finding.item_id.clone(),
                obligation.unwrap_or_default().to_string(),
                item.map(|i| i.starred.to_string()).unwrap_or_default(),
                item_status.to_string(),
                finding.check_id.clone(),
                check_title(&finding.check_id, lang),
                finding.endpoint.clone(),
                finding.status.as_str().to_string(),
                finding.raised_from.map(|s| s.as_str().to_string()).unwrap_or_default(),
                finding.message.get(lang).to_string(),
            ],
        );
    }
    out
}

fn write_row(out: &mut String, cells: impl IntoIterator<Item = String>) {
    let cells: Vec<String> = cells.into_iter().map(|c| field(&c)).collect();
    out.push_str(&cells.join(","));
    out.push_str("\r\n");
}

/// One field: defused against formula injection, then quoted when RFC 4180 needs it.
pub fn field(cell: &str) -> String {
    let cell = if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{cell}") } else { cell.to_string() };
    if cell.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell
    }
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn fields_are_quoted_and_defused() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("two\nlines"), "\"two\nlines\"");
        assert_eq!(field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(field("+1"), "'+1");
        assert_eq!(field("-1"), "'-1");
        assert_eq!(field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(field("証明書"), "証明書");
    }
}
