//! Metrics: the latest runs' facts in the Prometheus text exposition format (0.0.4), for
//! `--metrics-listen ADDR` ([`MetricsServer`]) and `--metrics-file` ([`write_textfile`], the
//! node-exporter textfile collector).
//!
//! [`render`] is pure: the same runs always give the same bytes, and every number comes from
//! the recorded evidence and assessment, never from the clock. Certificate days are the ones
//! the report and the checks show — counted from the endpoint's probe time — and domain days
//! are counted from the time the registry answered, as the domain expiry check counts them, so
//! a dashboard never disagrees with the report of the same run.
//!
//! The families (every sample also carries `monitor`, the run's key):
//!
//! | family | type | labels | value |
//! |---|---|---|---|
//! | `kensa_build_info` | gauge | `version` | 1 (no `monitor`) |
//! | `kensa_cert_days_remaining` | gauge | endpoint | whole days to the earliest notAfter on the served paths; negative once expired |
//! | `kensa_domain_days_remaining` | gauge | `domain` | whole days to the registry's expiry date |
//! | `kensa_domain_expiry_timestamp_seconds` | gauge | `domain` | the registry's expiry date |
//! | `kensa_endpoint_up` | gauge | endpoint | 1 when any hello got a TLS answer (a hello or an alert) |
//! | `kensa_events_total` | counter | `kind`, `severity` | monitor events over the process lifetime |
//! | `kensa_exit_code` | gauge | | the run's documented exit code (0, 1, 3) |
//! | `kensa_item_status` | gauge | `item`, `status` | 1 for the item's status, 0 for each other status |
//! | `kensa_last_run_duration_seconds` | gauge | | how long the run took |
//! | `kensa_last_run_timestamp_seconds` | gauge | | when the run finished |
//! | `kensa_probe_errors` | gauge | endpoint | attempts of this run that timed out or could not connect |
//! | `kensa_profile_info` | gauge | `profile`, `revision` | 1 |
//! | `kensa_ssl_earliest_cert_expiry_timestamp_seconds` | gauge | endpoint | the earliest notAfter on the served paths |
//! | `kensa_target_endpoints` | gauge | `target` | addresses probed for the target; 0 when it did not resolve |
//! | `kensa_tls_version_accepted` | gauge | endpoint, `version` | 1 accepted, 0 refused; absent when unknown |
//! | `kensa_tls_version_determined` | gauge | endpoint, `version` | 1 when the evidence decides the version, 0 when not |
//!
//! "endpoint" is the labels `endpoint` (`app.example.jp [192.0.2.1]:443`), `host` (the target's
//! host) and `address` (`192.0.2.1:443`).
//!
//! Naming. blackbox_exporter's `probe_ssl_earliest_cert_expiry` predates the unit-suffix
//! convention; its own later chain metric is `probe_ssl_last_chain_expiry_timestamp_seconds`.
//! kensa takes the blackbox name with the convention's suffix, so an alert rule ports by
//! renaming (`kensa_ssl_earliest_cert_expiry_timestamp_seconds - time() < 14 * 86400`) and every
//! timestamp family of kensa ends alike.
//!
//! Unknown protocol support. A version the evidence cannot decide (timeouts, garbage) has no
//! `kensa_tls_version_accepted` sample rather than a sentinel value: `== 1` and `== 0` alerts
//! stay exact, `max` and `sum` aggregations are not skewed by -1 or NaN, and the gap is visible
//! in `kensa_tls_version_determined == 0`.

mod server;

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::{self, Write as _};
use std::path::Path;

use crate::checks::chain_review::ChainView;
use crate::checks::{protocol_support, Support};
use crate::evidence::{EndpointEvidence, ModernAttempt, Outcome, ScanEvidence, TlsVersion, UnixSeconds};
use crate::profile::Profile;
use crate::verdict::{Assessment, ItemStatus, JudgingOptions};

pub use server::MetricsServer;

/// The content type of the text exposition format served by [`MetricsServer`].
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// One monitor's latest run, as the metrics show it.
#[derive(Clone, Copy, Debug)]
pub struct MetricsRun<'a> {
    /// The monitor's name; the `monitor` label of every sample, so that several monitors can
    /// share one exporter.
    pub key: &'a str,
    /// What the run measured.
    pub evidence: &'a ScanEvidence,
    /// How it was judged (declarations merged, if the monitor has any).
    pub assessment: &'a Assessment,
    /// The profile it was judged against.
    pub profile: &'a Profile,
    /// When the run began (it may begin before the scan does: loading, resolving).
    pub started_at: UnixSeconds,
    /// When the run ended, judging and storing included.
    pub finished_at: UnixSeconds,
    /// Events raised so far, per kind and severity, over the process lifetime.
    pub events_total: &'a [(String, String, u64)],
}

/// Prometheus metric types used here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Gauge,
    Counter,
}

impl Kind {
    fn word(self) -> &'static str {
        match self {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
        }
    }
}

/// Every family kensa exposes: name, type, help. Kept in one table so a name cannot gain a
/// second TYPE, and sorted by name, which is the order they are written in.
const FAMILIES: &[(&str, Kind, &str)] = &[
    ("kensa_build_info", Kind::Gauge, "The kensa version serving these metrics (always 1)."),
    (
        "kensa_cert_days_remaining",
        Kind::Gauge,
        "Whole days from the probe to the earliest notAfter on the endpoint's served certificate paths; negative once expired.",
    ),
    (
        "kensa_domain_days_remaining",
        Kind::Gauge,
        "Whole days from the registry's answer to the domain's registration expiry.",
    ),
    (
        "kensa_domain_expiry_timestamp_seconds",
        Kind::Gauge,
        "The domain's registration expiry as the registry gives it, in Unix seconds.",
    ),
    ("kensa_endpoint_up", Kind::Gauge, "1 when the endpoint answered any hello in TLS (a hello or an alert), else 0."),
    ("kensa_events_total", Kind::Counter, "Monitor events raised since the process started."),
    ("kensa_exit_code", Kind::Gauge, "The run's exit code: 0 compliant, 1 non-compliant item, 3 indeterminate item."),
    (
        "kensa_item_status",
        Kind::Gauge,
        "1 for the guideline item's current status, 0 for each other status.",
    ),
    ("kensa_last_run_duration_seconds", Kind::Gauge, "How long the last run took."),
    ("kensa_last_run_timestamp_seconds", Kind::Gauge, "When the last run finished, in Unix seconds."),
    (
        "kensa_probe_errors",
        Kind::Gauge,
        "Handshake attempts of the last run that timed out or could not connect.",
    ),
    ("kensa_profile_info", Kind::Gauge, "The profile the last run was judged against (always 1)."),
    (
        "kensa_ssl_earliest_cert_expiry_timestamp_seconds",
        Kind::Gauge,
        "The earliest notAfter on the endpoint's served certificate paths, in Unix seconds.",
    ),
    (
        "kensa_target_endpoints",
        Kind::Gauge,
        "Addresses probed for the target in the last run; 0 when it did not resolve.",
    ),
    (
        "kensa_tls_version_accepted",
        Kind::Gauge,
        "1 when the endpoint accepted the protocol version, 0 when it refused it; absent when unknown.",
    ),
    (
        "kensa_tls_version_determined",
        Kind::Gauge,
        "1 when the evidence decides whether the endpoint accepts the protocol version, 0 when it does not.",
    ),
];

/// One sample before rendering.
struct Sample {
    family: &'static str,
    labels: Vec<(&'static str, String)>,
    value: i64,
}

/// Samples in the order they were found, with the labels rendered for de-duplication.
#[derive(Default)]
struct Samples {
    list: Vec<Sample>,
    seen: HashSet<(&'static str, String)>,
}

impl Samples {
    /// Adds a sample unless the same series is already there: two targets may expand to one
    /// endpoint, and two runs may share a key; the first measurement stands.
    fn push(&mut self, family: &'static str, labels: Vec<(&'static str, String)>, value: i64) {
        debug_assert!(FAMILIES.iter().any(|(name, _, _)| *name == family), "unknown family {family}");
        if self.seen.insert((family, label_set(&labels))) {
            self.list.push(Sample { family, labels, value });
        }
    }
}

/// Renders the runs in the Prometheus text exposition format 0.0.4.
///
/// Families come in name order, each with one `# HELP` and one `# TYPE`; within a family,
/// samples follow the runs, targets, endpoints and items in the order given. A family with
/// no sample is left out.
pub fn render(runs: &[MetricsRun<'_>]) -> String {
    let mut samples = Samples::default();
    samples.push("kensa_build_info", vec![("version", env!("CARGO_PKG_VERSION").to_string())], 1);
    for run in runs {
        collect_run(run, &mut samples);
    }
    let mut out = String::new();
    for (name, kind, help) in FAMILIES {
        let mut own = samples.list.iter().filter(|s| s.family == *name).peekable();
        if own.peek().is_none() {
            continue;
        }
        let _ = writeln!(out, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(out, "# TYPE {name} {}", kind.word());
        for sample in own {
            let _ = writeln!(out, "{name}{} {}", label_set(&sample.labels), sample.value);
        }
    }
    out
}

fn collect_run(run: &MetricsRun<'_>, samples: &mut Samples) {
    let monitor = || ("monitor", run.key.to_string());
    let evidence = run.evidence;
    samples.push("kensa_last_run_timestamp_seconds", vec![monitor()], to_i64(run.finished_at));
    samples.push(
        "kensa_last_run_duration_seconds",
        vec![monitor()],
        to_i64(run.finished_at.saturating_sub(run.started_at)),
    );
    samples.push("kensa_exit_code", vec![monitor()], i64::from(run.assessment.exit_code()));
    samples.push(
        "kensa_profile_info",
        vec![monitor(), ("profile", run.profile.meta.id.clone()), ("revision", run.profile.meta.revision.clone())],
        1,
    );
    for verdict in &run.assessment.items {
        for status in ItemStatus::ALL {
            samples.push(
                "kensa_item_status",
                vec![monitor(), ("item", verdict.item_id.clone()), ("status", status_word(status))],
                i64::from(verdict.status == status),
            );
        }
    }
    for (kind, severity, count) in run.events_total {
        samples.push(
            "kensa_events_total",
            vec![monitor(), ("kind", kind.clone()), ("severity", severity.clone())],
            to_i64(*count),
        );
    }

    // Certificates are judged with the run's own options and recorded trust stores, exactly
    // as the report's chain tree is.
    let stores = JudgingOptions::stores(evidence);
    let context = run.assessment.options.context(evidence, &stores);
    for target in &evidence.targets {
        samples.push(
            "kensa_target_endpoints",
            vec![monitor(), ("target", target.input.clone())],
            to_i64(target.endpoints.len() as u64),
        );
        for endpoint in &target.endpoints {
            let labels = |extra: Option<(&'static str, String)>| {
                let mut labels = vec![
                    monitor(),
                    ("endpoint", endpoint.label()),
                    ("host", target.host.clone()),
                    ("address", endpoint.address.to_string()),
                ];
                labels.extend(extra);
                labels
            };
            samples.push("kensa_endpoint_up", labels(None), i64::from(answered_in_tls(endpoint)));
            samples.push("kensa_probe_errors", labels(None), probe_errors(endpoint));
            for version in TlsVersion::ALL {
                let version_label = || Some(("version", version.name().to_string()));
                let accepted = match protocol_support(endpoint, version) {
                    Support::Accepted => Some(1),
                    Support::Refused(_) => Some(0),
                    Support::Unknown(_) => None,
                };
                samples.push("kensa_tls_version_determined", labels(version_label()), i64::from(accepted.is_some()));
                if let Some(accepted) = accepted {
                    samples.push("kensa_tls_version_accepted", labels(version_label()), accepted);
                }
            }
            if let Some((not_after, days)) = earliest_expiry(endpoint, &context) {
                samples.push("kensa_ssl_earliest_cert_expiry_timestamp_seconds", labels(None), not_after);
                samples.push("kensa_cert_days_remaining", labels(None), days);
            }
        }
    }

    for domain in evidence.domains.iter().flat_map(|survey| &survey.domains) {
        let Some(expires) = domain.registration.record().and_then(|r| r.expires) else { continue };
        let Some(days) = domain.registration.days_to_expiry() else { continue };
        let labels = vec![monitor(), ("domain", domain.name.clone())];
        samples.push("kensa_domain_expiry_timestamp_seconds", labels.clone(), to_i64(expires));
        samples.push("kensa_domain_days_remaining", labels, days);
    }
}

/// The earliest notAfter over every served chain's path (served or fetched through AIA; a
/// trust anchor the server did not send is not the vendor's to renew), and the days left
/// until it as the report counts them.
fn earliest_expiry(endpoint: &EndpointEvidence, context: &crate::checks::CheckContext<'_>) -> Option<(i64, i64)> {
    endpoint
        .served_chains()
        .into_iter()
        .flat_map(|chain| {
            let view = ChainView::new(endpoint, chain, context);
            view.analysis
                .path
                .iter()
                .zip(&view.reviews)
                .map(|(cert, review)| (cert.facts.not_after, review.days_remaining))
                .collect::<Vec<_>>()
        })
        .min_by_key(|(not_after, _)| *not_after)
}

/// Every rustls handshake the endpoint saw: the per-version ones, the health check and the
/// certificate variants.
fn modern_attempts(endpoint: &EndpointEvidence) -> impl Iterator<Item = &ModernAttempt> {
    endpoint
        .modern
        .iter()
        .chain(endpoint.health_check.as_ref())
        .chain(endpoint.certificate_variants.iter().map(|v| &v.attempt))
}

fn outcomes(endpoint: &EndpointEvidence) -> impl Iterator<Item = &Outcome> {
    modern_attempts(endpoint).map(|a| &a.outcome).chain(endpoint.hand_built.iter().map(|a| &a.outcome))
}

fn answered_in_tls(endpoint: &EndpointEvidence) -> bool {
    outcomes(endpoint).any(Outcome::is_tls_answer)
}

/// Attempts where nothing came back: a timeout or a failed connection. Refusals, resets and
/// garbage are answers of a kind, and show in the protocol families instead.
fn probe_errors(endpoint: &EndpointEvidence) -> i64 {
    to_i64(outcomes(endpoint).filter(|o| o.is_unresponsive()).count() as u64)
}

/// The status as its JSON word (`compliant`, `non_compliant`…), the spelling of the JSON
/// report, so label values match what other machine formats say.
fn status_word(status: ItemStatus) -> String {
    serde_json::to_value(status).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// `{a="x",b="y"}`, or nothing for no labels.
fn label_set(labels: &[(&'static str, String)]) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let pairs: Vec<String> =
        labels.iter().map(|(name, value)| format!("{name}=\"{}\"", escape_label_value(value))).collect();
    format!("{{{}}}", pairs.join(","))
}

/// Escapes a label value for the text format: backslash, double quote and line feed.
pub fn escape_label_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes HELP text: backslash and line feed (a double quote is literal there).
fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

/// Writes `text` to `path` the way the node-exporter textfile collector needs: into a
/// temporary file in the same directory (so the rename cannot cross file systems), flushed
/// to disk, then renamed over `path`, so a scrape never reads half a file. The temporary
/// name does not end in `.prom`, so the collector never reads it either.
///
/// `path` must end in `.prom`: the collector ignores every other file, and a metrics file
/// that is silently never read is worse than an error.
pub fn write_textfile(path: &Path, text: &str) -> io::Result<()> {
    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    if !file_name.ends_with(".prom") || file_name.len() == ".prom".len() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{}: a node-exporter textfile must be named NAME.prom (the collector reads no other file)",
                path.display()
            ),
        ));
    }
    let temporary = path.with_file_name(format!(".{file_name}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written.map_err(|e| io::Error::new(e.kind(), format!("cannot write {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_escape_backslash_quote_and_newline() {
        assert_eq!(escape_label_value(r#"a\b"c"#), r#"a\\b\"c"#);
        assert_eq!(escape_label_value("line\nnext"), "line\\nnext");
        assert_eq!(escape_label_value("日本語 [::1]:443"), "日本語 [::1]:443");
        assert_eq!(label_set(&[("a", "x\"".into()), ("b", "\\".into())]), r#"{a="x\"",b="\\"}"#);
        assert_eq!(label_set(&[]), "");
    }

    #[test]
    fn help_escapes_backslash_and_newline_only() {
        assert_eq!(escape_help("a \"b\" \\ c\nd"), "a \"b\" \\\\ c\\nd");
    }

    #[test]
    fn families_are_sorted_unique_and_well_named() {
        let names: Vec<&str> = FAMILIES.iter().map(|(n, _, _)| *n).collect();
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(names, sorted);
        for (name, kind, help) in FAMILIES {
            assert!(name.starts_with("kensa_"), "{name}");
            assert!(name.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{name}");
            assert_eq!(*kind == Kind::Counter, name.ends_with("_total"), "{name}");
            assert!(!help.contains('\n'), "{name}");
        }
    }

    #[test]
    fn no_runs_still_say_which_kensa_serves() {
        let text = render(&[]);
        let expected = format!(
            "# HELP kensa_build_info The kensa version serving these metrics (always 1).\n\
             # TYPE kensa_build_info gauge\n\
             kensa_build_info{{version=\"{}\"}} 1\n",
            env!("CARGO_PKG_VERSION")
        );
        assert_eq!(text, expected);
    }

    #[test]
    fn a_series_is_written_once() {
        let mut samples = Samples::default();
        samples.push("kensa_exit_code", vec![("monitor", "a".into())], 1);
        samples.push("kensa_exit_code", vec![("monitor", "a".into())], 3);
        samples.push("kensa_exit_code", vec![("monitor", "b".into())], 0);
        let values: Vec<i64> = samples.list.iter().map(|s| s.value).collect();
        assert_eq!(values, [1, 0]);
    }

    #[test]
    fn textfiles_must_end_in_prom() {
        let dir = std::env::temp_dir().join(format!("kensa-metrics-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for bad in ["kensa.txt", "kensa.prom.tmp", ".prom"] {
            let error = write_textfile(&dir.join(bad), "x 1\n").unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::InvalidInput, "{bad}");
            assert!(error.to_string().contains(".prom"), "{error}");
            assert!(!dir.join(bad).exists());
        }
        let good = dir.join("kensa.prom");
        write_textfile(&good, "x 1\n").unwrap();
        write_textfile(&good, "x 2\n").unwrap();
        assert_eq!(std::fs::read_to_string(&good).unwrap(), "x 2\n");
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, [std::ffi::OsString::from("kensa.prom")]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
