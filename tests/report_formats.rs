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
