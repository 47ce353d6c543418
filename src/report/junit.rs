//! JUnit XML (`--format junit`) for CI dashboards: one `<testsuite>` per guideline item, one
//! `<testcase>` per item × subject the item was judged on (an endpoint, a domain or host, a
//! target that was not probed). An item judged on nothing — declared, clinic-side, or with no
//! signal gathered — is one case on the service (its manifest name) or `scan`.
//!
//! | item status on the subject | test case |
//! |---|---|
//! | 適合 | success |
//! | 要確認 | success, with `<system-out>` starting `要確認:` / `needs review:` and the findings |
//! | 不適合 | `<failure type="non_compliant">` |
//! | 判定不能 | `<error type="indeterminate">` |
//! | 申告待ち, 対象外 | `<skipped>` |
//!
//! 要確認 is a success because it does not fail the scan (exit code 0); the warning travels
//! in `system-out` so a person reading the CI log still sees it. The XML is written here
//! rather than with a JUnit crate so that it validates against the Surefire/Jenkins schema
//! (`junit-10.xsd`, which has no `skipped` attribute on `<testsuites>`).

use std::fmt::Write;

use super::{check_mark, Report};
use crate::certificate::format_time;
use crate::checks::CheckStatus;
use crate::verdict::ItemStatus;

/// What a test case becomes.
enum Outcome {
    Success,
    Failure,
    Error,
    Skipped,
}

fn outcome(status: ItemStatus) -> Outcome {
    match status {
        ItemStatus::Compliant | ItemStatus::NeedsReview => Outcome::Success,
        ItemStatus::NonCompliant => Outcome::Failure,
        ItemStatus::Indeterminate => Outcome::Error,
        ItemStatus::DeclarationNeeded | ItemStatus::NotApplicable => Outcome::Skipped,
    }
}

/// Renders the JUnit XML document.
pub fn render(report: &Report<'_>) -> String {
    let lang = report.lang;
    let cases = report.item_cases();
    let timestamp = format_time(i64::try_from(report.evidence.started_at).unwrap_or(0));
    let seconds = report.evidence.finished_at.saturating_sub(report.evidence.started_at);
    let count =
        |pick: fn(&Outcome) -> bool, status: &[ItemStatus]| status.iter().filter(|s| pick(&outcome(**s))).count();
    let all: Vec<ItemStatus> = cases.iter().map(|c| c.status).collect();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{seconds}\">",
        attr(&format!("kensa {}", report.profile.meta.id)),
        all.len(),
        count(|o| matches!(o, Outcome::Failure), &all),
        count(|o| matches!(o, Outcome::Error), &all),
    );
    for row in report.item_rows() {
        let own: Vec<_> = cases.iter().filter(|c| c.item.id == row.item.id).collect();
        let statuses: Vec<ItemStatus> = own.iter().map(|c| c.status).collect();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" timestamp=\"{timestamp}\" time=\"0\">",
            attr(&row.item.id),
            statuses.len(),
            count(|o| matches!(o, Outcome::Failure), &statuses),
            count(|o| matches!(o, Outcome::Error), &statuses),
            count(|o| matches!(o, Outcome::Skipped), &statuses),
        );
        out.push_str("    <properties>\n");
        let star = if row.item.starred { "(＊)" } else { "" };
        let properties = [
            ("obligation", format!("{}{star}", row.item.obligation.label_ja())),
            ("status", format!("{} ({})", row.verdict.status.label_ja(), row.verdict.status.label_en())),
            ("basis", crate::report::json_word(&row.verdict.basis)),
            ("reason", row.reason.to_string()),
            ("guideline", row.summary.to_string()),
        ];
        for (name, value) in properties {
            let _ = writeln!(out, "      <property name=\"{name}\" value=\"{}\"/>", attr(&value));
        }
        out.push_str("    </properties>\n");
        for case in own {
            let _ = write!(
                out,
                "    <testcase name=\"{}\" classname=\"{}\" time=\"0\"",
                attr(&case.subject),
                attr(&case.item.id)
            );
            let details: Vec<String> = case
                .findings
                .iter()
                .filter(|f| !matches!(f.status, CheckStatus::Pass | CheckStatus::NotRun))
                .map(|f| format!("{} {} {}: {}", check_mark(f.status), f.check_id, f.endpoint, f.message.get(lang)))
                .collect();
            let message = case
                .findings
                .iter()
                .filter(|f| f.status == worst(&case.findings))
                .map(|f| f.message.get(lang).to_string())
                .next()
                .unwrap_or_else(|| case.verdict.reason.get(lang).to_string());
            let label = case.status.label(lang);
            let body = text(&details.join("\n"));
            match outcome(case.status) {
                Outcome::Success if case.status == ItemStatus::NeedsReview => {
                    let _ = writeln!(
                        out,
                        ">\n      <system-out>{}: {}\n{body}</system-out>\n    </testcase>",
                        text(label),
                        text(&message)
                    );
                }
                Outcome::Success => out.push_str("/>\n"),
                Outcome::Failure => {
                    let _ = writeln!(
                        out,
                        ">\n      <failure type=\"non_compliant\" message=\"{}\">{body}</failure>\n    </testcase>",
                        attr(&format!("{label}: {message}"))
                    );
                }
                Outcome::Error => {
                    let _ = writeln!(
                        out,
                        ">\n      <error type=\"indeterminate\" message=\"{}\">{body}</error>\n    </testcase>",
                        attr(&format!("{label}: {message}"))
                    );
                }
                Outcome::Skipped => {
                    let _ = writeln!(
                        out,
                        ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                        attr(&format!("{label}: {}", case.verdict.reason.get(lang)))
                    );
                }
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

fn worst(findings: &[&crate::verdict::Finding]) -> CheckStatus {
    findings.iter().map(|f| f.status).max().unwrap_or(CheckStatus::Pass)
}

/// Characters XML 1.0 cannot carry at all (most C0 controls) are dropped.
fn allowed(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
}

/// Escaped character data.
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().filter(|c| allowed(*c)) {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(c),
        }
    }
    out
}

/// An escaped attribute value (line breaks kept as character references).
fn attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().filter(|c| allowed(*c)) {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn escaping() {
        assert_eq!(super::attr("a\"<&>\nb\u{1}"), "a&quot;&lt;&amp;&gt;&#10;b");
        assert_eq!(super::text("<x>&\u{0}"), "&lt;x&gt;&amp;");
    }
}
