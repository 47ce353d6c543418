//! Every report format over one fixed scan (`report_common`): golden files under
//! `fixtures/report/` (rewrite them with `KENSA_BLESS=1 cargo test --test report_formats`),
//! JUnit validated against `fixtures/schemas/junit-10.xsd` with `xmllint`, SARIF against the
//! SARIF 2.1.0 JSON schema, CSV read back, and the HTML checked for self-containment.

mod report_common;

use std::path::PathBuf;
use std::process::Command;

use kensa::i18n::Lang;
use kensa::report::Format;
use kensa::verdict::ItemStatus;
use report_common::{root, Scan};

fn golden_path(format: Format, lang: Lang) -> PathBuf {
    let lang = if lang == Lang::Ja { "ja" } else { "en" };
    root().join("fixtures/report").join(format!("{lang}.{}", format.file_name()))
}

#[test]
fn every_format_matches_its_golden_file() {
    let scan = Scan::load();
    let bless = std::env::var_os("KENSA_BLESS").is_some_and(|v| v == "1");
    let mut stale = Vec::new();
    for lang in [Lang::Ja, Lang::En] {
        for format in Format::ALL {
            let rendered = scan.report(lang).render(format);
            // Rendering is a pure function of its inputs.
            assert_eq!(rendered, scan.report(lang).render(format), "{format:?} is not deterministic");
            let path = golden_path(format, lang);
            if bless {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, &rendered).unwrap();
                continue;
            }
            let want = std::fs::read_to_string(&path).unwrap_or_default();
            if want != rendered {
                let got = path.with_extension("actual");
                let _ = std::fs::write(&got, &rendered);
                stale.push(format!("{} differs (see {})", path.display(), got.display()));
            }
        }
    }
    assert!(stale.is_empty(), "{}\nrun KENSA_BLESS=1 cargo test --test report_formats to accept", stale.join("\n"));
}

/// `xmllint` from Debian's libxml2-utils (installed by `.ci/run`).
const XMLLINT: &str = "/usr/bin/xmllint";

#[test]
fn junit_validates_against_the_surefire_schema() {
    assert!(
        std::path::Path::new(XMLLINT).is_file(),
        "{XMLLINT} is missing: install Debian's libxml2-utils (.ci/run does) — this test does not skip"
    );
    let scan = Scan::load();
    let dir = tempdir("junit");
    for lang in [Lang::Ja, Lang::En] {
        let xml = scan.report(lang).render(Format::Junit);
        let file = dir.join(format!("{lang:?}.xml"));
        std::fs::write(&file, &xml).unwrap();
        let out = Command::new(XMLLINT)
            .arg("--noout")
            .arg("--schema")
            .arg(root().join("fixtures/schemas/junit-10.xsd"))
            .arg(&file)
            .output()
            .expect("xmllint runs");
        assert!(out.status.success(), "{lang:?}: {}", String::from_utf8_lossy(&out.stderr));
        // One case per item × subject; 2-1.xii fails on the TLS 1.0 endpoint, the unresolved
        // target is an error, declared items wait (skipped).
        assert!(xml.contains("<failure type=\"non_compliant\""), "{xml}");
        assert!(xml.contains("<error type=\"indeterminate\""), "{xml}");
        assert!(xml.contains("<skipped message="), "{xml}");
        let suites = xml.matches("<testsuite ").count();
        assert_eq!(suites, scan.profile.items.len());
    }
    // A negative control: the validator does reject a document outside the schema.
    let bad = dir.join("bad.xml");
    std::fs::write(&bad, "<testsuites><testcase name=\"x\"/></testsuites>").unwrap();
    let out = Command::new(XMLLINT)
        .arg("--noout")
        .arg("--schema")
        .arg(root().join("fixtures/schemas/junit-10.xsd"))
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn sarif_validates_against_the_sarif_2_1_0_schema() {
    let mut schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("fixtures/schemas/sarif-schema-2.1.0.json")).unwrap(),
    )
    .unwrap();
    // The published schema's pattern for `language` (on `run` and `toolComponent`) has a stray
    // `]` (`^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$`), which ECMA-262 reads as a literal but
    // Rust's regex engines refuse; use the pattern it means (a two-letter language, optionally a
    // region). kensa writes `ja` or `en`, which both forms accept.
    assert_eq!(fix_language_pattern(&mut schema), 2, "the schema file changed");
    let validator =
        jsonschema::options().should_validate_formats(true).build(&schema).expect("the SARIF schema compiles");
    let scan = Scan::load();
    for lang in [Lang::Ja, Lang::En] {
        let text = scan.report(lang).render(Format::Sarif);
        let sarif: serde_json::Value = serde_json::from_str(&text).unwrap();
        let errors: Vec<String> =
            validator.iter_errors(&sarif).map(|e| format!("{} at {}", e, e.instance_path())).collect();
        assert!(errors.is_empty(), "{lang:?}:\n{}", errors.join("\n"));
        let run = &sarif["runs"][0];
        let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
        let results = run["results"].as_array().unwrap();
        let not_passing = scan
            .assessment
            .findings
            .iter()
            .filter(|f| matches!(f.status.as_str(), "fail" | "warn" | "indeterminate"))
            .count();
        assert_eq!(results.len(), not_passing);
        for result in results {
            let index = result["ruleIndex"].as_u64().unwrap() as usize;
            assert_eq!(rules[index]["id"], result["ruleId"]);
            let uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].as_str().unwrap();
            assert!(uri.starts_with("https://") || uri.starts_with("dns:"), "{uri}");
        }
        assert!(results.iter().any(|r| r["level"] == "error"));
    }
    // A negative control.
    assert!(!validator.is_valid(&serde_json::json!({ "version": "2.1.0", "runs": [{ "results": [] }] })));
}

#[test]
fn csv_reads_back_one_row_per_finding() {
    let scan = Scan::load();
    for lang in [Lang::Ja, Lang::En] {
        let text = scan.report(lang).render(Format::Csv);
        assert!(text.ends_with("\r\n"));
        let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(text.as_bytes());
        let headers = reader.headers().unwrap().clone();
        assert_eq!(headers.iter().collect::<Vec<_>>(), kensa::report::csv::COLUMNS);
        let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("well-formed row")).collect();
        assert_eq!(rows.len(), scan.assessment.findings.len());
        for (row, finding) in rows.iter().zip(&scan.assessment.findings) {
            assert_eq!(&row[0], finding.item_id);
            assert_eq!(&row[4], finding.check_id);
            assert_eq!(&row[7], finding.status.as_str());
            for cell in row.iter() {
                assert!(!cell.starts_with(['=', '+', '-', '@']), "formula-like cell {cell:?}");
            }
        }
    }
}

#[test]
fn html_is_self_contained_and_lists_every_item() {
    let scan = Scan::load();
    let html = scan.report(Lang::Ja).render(Format::Html);
    let lower = html.to_ascii_lowercase();
    assert!(!lower.contains("<script"), "no scripts");
    for pattern in ["<link", "src=\"http", "src='http", "url(http", "@import", "href=\"http"] {
        assert!(!lower.contains(pattern), "external reference {pattern:?}");
    }
    assert!(!lower.contains("http://") || !lower.contains("src=\"http://"), "no http assets");
    assert!(lower.contains("@page") && lower.contains("size: a4"));
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("<html lang=\"ja\">"));
    // Every item of the profile is a row of the summary table.
    let table = &html[html.find("id=\"item-table\"").unwrap()..];
    let table = &table[..table.find("</table>").unwrap()];
    for item in &scan.profile.items {
        assert!(table.contains(&format!("data-item=\"{}\"", item.id)), "{} missing from the item table", item.id);
    }
    assert!(table.contains("class=\"item-row non_compliant\""));
    assert!(table.contains("不適合") && table.contains("申告待ち") && table.contains("対象外"));
    // Declarations with their references, coverage gaps, metadata, the bundle digest.
    assert!(html.contains("情報セキュリティ基本方針 第4章 4.2, &quot;暗号化&quot;"));
    assert!(html.contains("&lt;script&gt;alert(1)"), "declared_by is escaped");
    assert!(html.contains("turn.clinic.example:5349"));
    assert!(html.contains(&"ab".repeat(32)));
    assert!(html.contains(env!("CARGO_PKG_VERSION")));
    assert!(html.contains(">検査<") && html.contains("申告"), "basis shown");
    // English on request.
    let en = scan.report(Lang::En).render(Format::Html);
    assert!(en.contains("<html lang=\"en\">"));
    assert!(en.contains("Guideline items") && en.contains("non-compliant") && en.contains("Coverage gaps"));
    assert!(!en.contains("指針の項目"));
}

#[test]
fn markdown_has_the_item_table() {
    let scan = Scan::load();
    let md = scan.report(Lang::En).render(Format::Md);
    for item in &scan.profile.items {
        assert!(md.contains(&format!("| {} |", item.id)), "{}", item.id);
    }
    assert!(md.contains("non-compliant") && md.contains("## Declarations") && md.contains("## Coverage gaps"));
}

#[test]
fn every_format_has_a_distinct_file_name() {
    let mut names: Vec<&str> = Format::ALL.iter().map(|f| f.file_name()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), Format::ALL.len());
    let scan = Scan::load();
    assert_eq!(scan.assessment.item("2-1.xii").unwrap().status, ItemStatus::NonCompliant);
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kensa-report-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Replaces the SARIF schema's malformed `language` pattern; returns how many it replaced.
fn fix_language_pattern(value: &mut serde_json::Value) -> usize {
    const BAD: &str = "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$";
    match value {
        serde_json::Value::Object(map) => {
            let mut fixed = 0;
            for (key, child) in map.iter_mut() {
                if key == "pattern" && child == BAD {
                    *child = serde_json::json!("^[a-zA-Z]{2}(-[a-zA-Z]{2})?$");
                    fixed += 1;
                } else {
                    fixed += fix_language_pattern(child);
                }
            }
            fixed
        }
        serde_json::Value::Array(items) => items.iter_mut().map(fix_language_pattern).sum(),
        _ => 0,
    }
}
