//! `kensa monitor`, `kensa history` and `kensa show`: the scheduled run around the library
//! pieces — scan, retry what did not answer, judge, compare with the stored runs, store the
//! run in one transaction, then tell the sinks and the metrics.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Args;

use crate::cli::{judge, perform_scan, prepare_scan, publish, InputError, OutputArgs, PreparedScan, ScanArgs};
use crate::evidence::ScanEvidence;
use crate::history::{History, MonitorLock, NewRun, Retention, RunId};
use crate::i18n::Lang;
use crate::metrics::{MetricsRun, MetricsServer};
use crate::monitor::diff::{changes, AlertSettings, RunView};
use crate::monitor::event::{Event, Severity};
use crate::monitor::sinks::{deliver_all, CommandHook, EventLog, RunContext, Sinks, Webhook};
use crate::profile::Profile;
use crate::report::Report;
use crate::verdict::Assessment;

/// How many earlier runs a run is compared with: enough to count an outage and to find the
/// last run in which an endpoint answered.
const COMPARED_RUNS: usize = 24;

#[derive(Args, Debug)]
pub struct MonitorArgs {
    #[command(flatten)]
    pub scan: ScanArgs,
    /// The history database (SQLite; created if missing).
    #[arg(long, value_name = "FILE", default_value = "kensa-history.sqlite")]
    pub db: PathBuf,
    /// The name runs are stored and compared under (default: the manifest's path).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Keep running, one run per DURATION (e.g. 30m, 6h, 1d), with jitter; without it, one
    /// run (for cron, systemd timers and Kubernetes CronJobs).
    #[arg(long, value_name = "DURATION")]
    pub every: Option<String>,
    /// Consecutive runs without a TLS answer before an endpoint is reported unreachable.
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub unreachable_after: u32,
    /// Seconds to wait before probing again the endpoints that did not answer (0: no retry).
    #[arg(long, value_name = "SECS", default_value_t = 5.0)]
    pub retry_delay: f64,
    /// Append every event to this JSON-lines file.
    #[arg(long, value_name = "FILE")]
    pub event_log: Option<PathBuf>,
    /// POST the events of each run to this URL (JSON with a Slack-compatible `text`).
    #[arg(long, value_name = "URL")]
    pub webhook: Option<String>,
    /// Run this shell command once per event, with the event in KENSA_EVENT_* variables.
    #[arg(long, value_name = "COMMAND")]
    pub on_event: Option<String>,
    /// Serve Prometheus metrics on ADDR (e.g. 127.0.0.1:9717) while monitoring.
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Write the metrics after each run to FILE (node-exporter textfile collector; *.prom).
    #[arg(long, value_name = "FILE")]
    pub metrics_file: Option<PathBuf>,
    /// Keep at most N runs of this monitor in the database.
    #[arg(long, value_name = "N")]
    pub keep: Option<usize>,
    /// Keep runs of the last DAYS days.
    #[arg(long, value_name = "DAYS")]
    pub keep_days: Option<u64>,
}

#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// The history database.
    #[arg(long, value_name = "FILE", default_value = "kensa-history.sqlite")]
    pub db: PathBuf,
    /// Only the runs of this monitor name.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// How many runs, newest first.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub limit: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct ShowArgs {
    /// The run number (see `kensa history`).
    #[arg(value_name = "RUN")]
    pub run: String,
    /// The history database.
    #[arg(long, value_name = "FILE", default_value = "kensa-history.sqlite")]
    pub db: PathBuf,
    #[command(flatten)]
    pub output: OutputArgs,
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Parses `90s`, `30m`, `6h`, `1d` (or plain seconds).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let value: u64 = number.parse().map_err(|_| format!("{text:?} is not a duration like 30m, 6h or 1d"))?;
    let seconds = match unit {
        "" | "s" => value,
        "m" => value.saturating_mul(60),
        "h" => value.saturating_mul(3600),
        "d" => value.saturating_mul(86_400),
        _ => return Err(format!("{text:?}: the unit must be s, m, h or d")),
    };
    if !(10..=30 * 86_400).contains(&seconds) {
        return Err(format!("{text:?}: between 10 seconds and 30 days"));
    }
    Ok(Duration::from_secs(seconds))
}

/// `period` give or take a tenth, so that many monitors started together spread out.
fn jittered(period: Duration) -> Duration {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let spread = period.as_secs_f64() * 0.1;
    let offset = (f64::from(nanos) / 1e9 * 2.0 - 1.0) * spread;
    Duration::from_secs_f64((period.as_secs_f64() + offset).max(1.0))
}

/// Runs `kensa monitor`; returns the exit code of the (last) run.
pub async fn run_monitor(args: MonitorArgs) -> Result<i32, InputError> {
    let Some(manifest_path) = args.scan.manifest.clone() else {
        return Err(InputError("kensa monitor needs --manifest kensa.toml".to_string()));
    };
    if args.unreachable_after == 0 {
        return Err(InputError("--unreachable-after must be at least 1".to_string()));
    }
    if !(args.retry_delay.is_finite() && (0.0..=600.0).contains(&args.retry_delay)) {
        return Err(InputError("--retry-delay must be between 0 and 600 seconds".to_string()));
    }
    let period =
        args.every.as_deref().map(parse_duration).transpose().map_err(|e| InputError(format!("--every {e}")))?;
    if let Some(path) = &args.metrics_file {
        if path.extension().and_then(|e| e.to_str()) != Some("prom") {
            return Err(InputError(format!(
                "--metrics-file {}: the textfile collector reads only *.prom",
                path.display()
            )));
        }
    }
    let key = args.name.clone().unwrap_or_else(|| {
        std::fs::canonicalize(&manifest_path).unwrap_or(manifest_path.clone()).display().to_string()
    });
    let prepared = prepare_scan(&args.scan).await?;
    let lang = args.scan.output.lang.unwrap_or_else(Lang::from_env);
    let _lock = MonitorLock::acquire(&args.db, &key).map_err(|e| InputError(e.to_string()))?;
    let mut history = History::open(&args.db).map_err(|e| InputError(e.to_string()))?;
    let sinks = Sinks {
        event_log: args
            .event_log
            .as_ref()
            .map(EventLog::open)
            .transpose()
            .map_err(|e| InputError(format!("--event-log: {e}")))?,
        webhook: args
            .webhook
            .as_deref()
            .map(|url| {
                Webhook::new(url, lang).map(|mut w| {
                    w.extra_roots = prepared.request.extra_roots.clone();
                    w
                })
            })
            .transpose()
            .map_err(|e| InputError(format!("--webhook: {e}")))?,
        hook: args.on_event.as_ref().map(|command| CommandHook::new(command.clone(), lang)),
    };
    let server = match args.metrics_listen {
        Some(addr) => {
            Some(MetricsServer::bind(addr).await.map_err(|e| InputError(format!("--metrics-listen {addr}: {e}")))?)
        }
        None => None,
    };
    if let Some(server) = &server {
        eprintln!("kensa: metrics on http://{}/metrics", server.local_addr());
    }
    let settings = AlertSettings { unreachable_after: args.unreachable_after, ..AlertSettings::default() };
    let mut events_total: Vec<(String, String, u64)> = Vec::new();
    loop {
        let outcome = monitor_once(&args, &prepared, &key, &mut history, &sinks, &settings).await?;
        for event in &outcome.events {
            let severity = serde_json::to_value(event.severity).ok().and_then(|v| v.as_str().map(str::to_string));
            let severity = severity.unwrap_or_default();
            match events_total.iter_mut().find(|(k, s, _)| *k == event.kind_word() && *s == severity) {
                Some(entry) => entry.2 += 1,
                None => events_total.push((event.kind_word(), severity, 1)),
            }
        }
        let text = crate::metrics::render(&[MetricsRun {
            key: &key,
            evidence: &outcome.evidence,
            assessment: &outcome.assessment,
            profile: &prepared.standards.profile,
            started_at: outcome.started_at,
            finished_at: outcome.finished_at,
            events_total: &events_total,
        }]);
        if let Some(server) = &server {
            server.update(text.clone());
        }
        if let Some(path) = &args.metrics_file {
            if let Err(e) = crate::metrics::write_textfile(path, &text) {
                eprintln!("kensa: --metrics-file {}: {e}", path.display());
            }
        }
        match period {
            None => return Ok(outcome.exit_code),
            Some(period) => tokio::time::sleep(jittered(period)).await,
        }
    }
}

/// What one monitoring run produced.
struct RunOutcome {
    evidence: ScanEvidence,
    assessment: Assessment,
    events: Vec<Event>,
    started_at: u64,
    finished_at: u64,
    exit_code: i32,
}

/// One run: scan (with a second chance for what did not answer), judge, compare, store,
/// deliver. The run is stored before anything is delivered, so a failing sink never loses it.
async fn monitor_once(
    args: &MonitorArgs,
    prepared: &PreparedScan,
    key: &str,
    history: &mut History,
    sinks: &Sinks,
    settings: &AlertSettings,
) -> Result<RunOutcome, InputError> {
    let started_at = now();
    let previous = history.recent(key, COMPARED_RUNS).map_err(|e| InputError(e.to_string()))?;
    let mut evidence = perform_scan(prepared, &prepared.request, false).await;
    if args.retry_delay > 0.0 {
        retry_silent_targets(prepared, &mut evidence, Duration::from_secs_f64(args.retry_delay)).await;
    }
    if let Some(last) = previous.first() {
        evidence.baseline = Some(crate::drift::Snapshot::of(&last.evidence, &format!("history run {}", last.info.id)));
    }
    let assessment = judge(&prepared.standards, &evidence, &args.scan.output)?;
    let views: Vec<RunView<'_>> =
        previous.iter().map(|r| RunView { evidence: &r.evidence, assessment: &r.assessment }).collect();
    let events = changes(RunView { evidence: &evidence, assessment: &assessment }, &views, settings);
    let exit_code = exit_code(&events);
    let standards = &prepared.standards;
    let run_id = history
        .record(&NewRun {
            key,
            evidence: &evidence,
            assessment: &assessment,
            profile_id: &standards.profile.meta.id,
            profile_sha256: &standards.profile.sha256,
            profile_text: &standards.profile_text,
            declarations_text: standards.declarations.as_ref().map(|d| d.text.as_str()),
            events: &events,
            exit_code,
        })
        .map_err(|e| InputError(format!("{}: the run could not be stored: {e}", args.db.display())))?;
    if args.keep.is_some() || args.keep_days.is_some() {
        let retention = Retention { keep_runs: args.keep, keep_days: args.keep_days, now: now() };
        if let Err(e) = history.prune(&retention) {
            eprintln!("kensa: pruning {}: {e}", args.db.display());
        }
    }
    let lang = args.scan.output.lang.unwrap_or_else(Lang::from_env);
    println!("{}", run_line(run_id, &events, lang));
    for event in &events {
        println!("  {} {}", severity_mark(event.severity), event.message.get(lang));
    }
    let context = RunContext {
        run_id: Some(run_id.0),
        monitor: key.to_string(),
        finished_at: evidence.finished_at,
        exit_code,
        report_hint: Some(format!("kensa show {} --db {}", run_id, args.db.display())),
    };
    let outcomes = deliver_all(sinks, &context, &events).await;
    for outcome in outcomes.iter().filter(|o| o.failed()) {
        eprintln!("kensa: {outcome}");
    }
    if let (Some(log), true) = (&sinks.event_log, outcomes.iter().any(|o| o.failed())) {
        if let Err(e) = log.append_failures(&context, &outcomes) {
            eprintln!("kensa: {}: {e}", log.path().display());
        }
    }
    if args.scan.output.out_dir.is_some() || args.scan.output.output.is_some() {
        publish(standards, &evidence, &assessment, &args.scan.output, None)?;
    }
    Ok(RunOutcome { evidence, assessment, events, started_at, finished_at: now(), exit_code })
}

/// Probes again, once, the targets none of whose addresses answered, and keeps the second
/// answer where it is better: a single lost connection is not an outage.
async fn retry_silent_targets(prepared: &PreparedScan, evidence: &mut ScanEvidence, delay: Duration) {
    let silent: Vec<usize> = evidence
        .targets
        .iter()
        .enumerate()
        .filter(|(_, t)| t.endpoints.is_empty() || t.endpoints.iter().any(|e| !e.answered_tls()))
        .map(|(i, _)| i)
        .collect();
    if silent.is_empty() {
        return;
    }
    tokio::time::sleep(delay).await;
    let mut request = prepared.request.clone();
    request.targets = silent.iter().filter_map(|i| prepared.request.targets.get(*i).cloned()).collect();
    // The registries and DNS were asked already; only the endpoints get a second chance.
    request.survey = None;
    let retried = crate::probe::scan(&request).await;
    for (index, again) in silent.into_iter().zip(retried.targets) {
        let Some(first) = evidence.targets.get_mut(index) else { continue };
        let answered = |t: &crate::evidence::TargetEvidence| t.endpoints.iter().filter(|e| e.answered_tls()).count();
        if answered(&again) > answered(first) {
            *first = again;
        }
    }
    let gaps = crate::manifest::coverage_gaps(evidence);
    if let Some(service) = &mut evidence.service {
        service.coverage_gaps = gaps;
    }
}

/// 1 when a run raised a warning or critical event, else 0: what cron and CronJobs alert on.
fn exit_code(events: &[Event]) -> i32 {
    if events.iter().any(|e| e.severity >= Severity::Warning) {
        1
    } else {
        0
    }
}

fn severity_mark(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "✘",
        Severity::Warning => "△",
        Severity::Info => "i",
    }
}

fn run_line(run: RunId, events: &[Event], lang: Lang) -> String {
    match (lang, events.len()) {
        (Lang::En, 0) => format!("run {run}: no change"),
        (Lang::En, n) => format!("run {run}: {n} change(s)"),
        (Lang::Ja, 0) => format!("実行 {run}: 変化なし"),
        (Lang::Ja, n) => format!("実行 {run}: {n}件の変化"),
    }
}

/// `kensa history`: the stored runs, newest first.
pub fn run_history(args: &HistoryArgs) -> Result<i32, InputError> {
    let history = open_existing(&args.db)?;
    let runs = history.runs(args.name.as_deref(), args.limit).map_err(|e| InputError(e.to_string()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&runs).unwrap_or_default());
        return Ok(0);
    }
    for run in &runs {
        let counts: Vec<String> =
            run.counts.iter().filter(|(_, n)| *n > 0).map(|(s, n)| format!("{} {n}", s.label_ja())).collect();
        println!(
            "{:>5}  {}  exit {}  events {:<3} {}  [{}]",
            run.id,
            crate::certificate::format_time(i64::try_from(run.finished_at).unwrap_or(0)),
            run.exit_code,
            run.events,
            counts.join(" · "),
            run.key
        );
    }
    if runs.is_empty() {
        eprintln!("kensa: no runs in {}", args.db.display());
    }
    Ok(0)
}

/// `kensa show RUN`: a stored run rendered again, in any report format.
pub fn run_show(args: &ShowArgs) -> Result<i32, InputError> {
    args.output.validate()?;
    let id: RunId = args.run.parse().map_err(InputError)?;
    let history = open_existing(&args.db)?;
    let run = history.load(id).map_err(|e| InputError(e.to_string()))?;
    let profile = Profile::parse(&run.profile_text, &format!("history run {id}"))
        .map_err(|e| InputError(format!("the profile stored with run {id} no longer loads: {e}")))?;
    let lang = args.output.lang.unwrap_or_else(Lang::from_env);
    let report =
        Report { profile: &profile, evidence: &run.evidence, assessment: &run.assessment, lang, bundle_sha256: None };
    crate::cli::write_reports(&report, &args.output, None)?;
    Ok(run.assessment.exit_code())
}

/// Opens a database that must exist already (reading never creates one).
fn open_existing(path: &Path) -> Result<History, InputError> {
    if !path.is_file() {
        return Err(InputError(format!(
            "{}: no such history database (kensa monitor --db creates one)",
            path.display()
        )));
    }
    History::open(path).map_err(|e| InputError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("6h"), Ok(Duration::from_secs(21_600)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        for bad in ["", "h", "5x", "1s", "31d", "-1h", "1.5h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn jitter_stays_within_a_tenth() {
        for _ in 0..100 {
            let d = jittered(Duration::from_secs(1000)).as_secs_f64();
            assert!((900.0..=1100.0).contains(&d), "{d}");
        }
    }
}
