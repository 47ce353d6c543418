//! The HTML report in a real browser: Debian's headless Chromium (installed by `.ci/run`)
//! renders the report of the fixed scan (`report_common`, which has a 不適合 item), takes an
//! A4-sized screenshot, prints it to PDF, and — on a test-only copy with an injected script —
//! reports whether the item table and a 不適合 row are laid out visible. The screenshot and
//! the PDF stay under `target/test-artifacts/report_browser/` for a person to look at.
//!
//! Fails (never skips) when Chromium is missing.

mod report_common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use kensa::i18n::Lang;
use kensa::report::Format;
use report_common::{artifacts_dir, Scan};

const CHROMIUM: &str = "/usr/bin/chromium";
const LIMIT: Duration = Duration::from_secs(90);

fn chromium(profile: &Path, args: &[String]) -> Output {
    assert!(
        Path::new(CHROMIUM).is_file(),
        "{CHROMIUM} is missing: install Debian's chromium (`apt-get install -y --no-install-recommends chromium`, as .ci/run does) — this test does not skip"
    );
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("chromium starts");
    let started = Instant::now();
    loop {
        if child.try_wait().expect("wait on chromium").is_some() {
            return child.wait_with_output().expect("chromium output");
        }
        if started.elapsed() > LIMIT {
            let _ = child.kill();
            let out = child.wait_with_output().expect("chromium output");
            panic!("chromium did not finish in {LIMIT:?}: {}", String::from_utf8_lossy(&out.stderr));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn url(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// A fresh directory for one Chromium profile or one test's files.
fn fresh(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kensa-browser-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// What the injected script checks: the item table and the first 不適合 row have a box and
/// are neither `display: none` nor hidden.
const PROBE: &str = r#"<script>
window.addEventListener('load', function () {
  function shown(el) {
    if (!el) return false;
    var r = el.getBoundingClientRect();
    for (var e = el; e; e = e.parentElement) {
      var s = getComputedStyle(e);
      if (s.display === 'none' || s.visibility === 'hidden' || s.opacity === '0') return false;
    }
    return r.width > 0 && r.height > 0;
  }
  var table = document.getElementById('item-table');
  var row = document.querySelector('#item-table tr.non_compliant');
  var text = row ? row.innerText : '';
  var out = document.createElement('pre');
  out.id = 'kensa-probe';
  out.textContent = 'KENSA-PROBE table=' + shown(table) + ' row=' + shown(row) +
    ' label=' + (text.indexOf('不適合') >= 0) + ' rows=' + document.querySelectorAll('#item-table tr.item-row').length + ' END';
  document.body.appendChild(out);
});
</script>"#;

#[test]
fn chromium_renders_prints_and_shows_the_non_compliant_row() {
    let scan = Scan::load();
    let html = scan.report(Lang::Ja).render(Format::Html);
    assert!(!html.contains("<script"), "the report itself has no script");
    let artifacts = artifacts_dir("report_browser");
    let page = artifacts.join("kensa-report.html");
    std::fs::write(&page, &html).unwrap();

    // (a) A screenshot the size of an A4 page at 150 dpi.
    let png = artifacts.join("kensa-report.png");
    let _ = std::fs::remove_file(&png);
    let out = chromium(
        &fresh("shot"),
        &[format!("--screenshot={}", png.display()), "--window-size=1240,1754".to_string(), url(&page)],
    );
    let bytes = std::fs::read(&png)
        .unwrap_or_else(|e| panic!("no screenshot ({e}); chromium said: {}", String::from_utf8_lossy(&out.stderr)));
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(bytes.len() > 20_000, "screenshot suspiciously small: {} bytes", bytes.len());

    // (b) Printed to PDF (A4 from the page's @page rule).
    let pdf = artifacts.join("kensa-report.pdf");
    let _ = std::fs::remove_file(&pdf);
    let out = chromium(
        &fresh("pdf"),
        &[format!("--print-to-pdf={}", pdf.display()), "--no-pdf-header-footer".to_string(), url(&page)],
    );
    let bytes = std::fs::read(&pdf)
        .unwrap_or_else(|e| panic!("no PDF ({e}); chromium said: {}", String::from_utf8_lossy(&out.stderr)));
    assert!(bytes.starts_with(b"%PDF-"), "not a PDF");
    assert!(bytes.len() > 10_000, "PDF suspiciously small: {} bytes", bytes.len());

    // (c) Visibility, judged by the browser's own layout on a test-only copy.
    let probe_page = fresh("probe").join("probe.html");
    std::fs::write(&probe_page, html.replacen("</body>", &format!("{PROBE}\n</body>"), 1)).unwrap();
    let out = chromium(
        &fresh("dom"),
        &["--dump-dom".to_string(), "--virtual-time-budget=5000".to_string(), url(&probe_page)],
    );
    let dom = String::from_utf8_lossy(&out.stdout);
    let line = dom
        .split("<pre id=\"kensa-probe\">")
        .nth(1)
        .map(|rest| rest.split("</pre>").next().unwrap_or_default().to_string())
        .unwrap_or_else(|| panic!("the probe did not run; chromium said: {}", String::from_utf8_lossy(&out.stderr)));
    let want_rows = format!("rows={}", scan.profile.items.len());
    assert!(
        line.contains("table=true")
            && line.contains("row=true")
            && line.contains("label=true")
            && line.contains(&want_rows),
        "{line}"
    );

    println!("screenshot: {}", png.display());
    println!("pdf:        {}", pdf.display());
}
