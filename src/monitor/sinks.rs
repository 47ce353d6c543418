//! Where a monitoring run's events go: an append-only JSON-lines event log, a webhook
//! (Slack-compatible), and a command hook run once per event.
//!
//! Sinks are best effort by design. Every failure comes back as a value — a
//! [`SinkOutcome`] from [`deliver_all`], or the sink's own error type — so a webhook that
//! is down, hangs or redirects, or a hook that crashes, is reported and never loses the
//! run, nor stops the other sinks. Every network or process wait has a deadline.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use reqwest::header::{HeaderValue, CONTENT_TYPE, LOCATION, RETRY_AFTER};
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::evidence::{CertDer, UnixSeconds};
use crate::i18n::Lang;
use crate::monitor::event::{Event, Severity};
use crate::probe::fetch::{checked_url, describe_error, notification_client};

/// The `schema` of every event log line.
pub const EVENT_LOG_SCHEMA: &str = "kensa.event/1";

/// The `kensa.schema` of every webhook body.
pub const WEBHOOK_SCHEMA: &str = "kensa.webhook/1";

/// Longest webhook `text`, in characters: Slack truncates a message's text past 40,000
/// characters, cutting wherever it falls; kensa cuts between events and says how many it left
/// out instead.
pub const SLACK_TEXT_LIMIT: usize = 40_000;

/// Longest single line of the webhook text, so that one huge message cannot crowd out the
/// others.
const TEXT_LINE_LIMIT: usize = 2_000;

/// Longest `Retry-After` honoured. A receiver asking for more wants kensa gone for longer
/// than a run should wait; retrying sooner would be rude, so kensa gives up instead.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Bytes of a failing webhook answer kept for the error message.
const ANSWER_EXCERPT: usize = 512;

/// Bytes of a hook's stdout, and of its stderr, kept for logging; the rest is read and dropped
/// so that a chatty hook never blocks on a full pipe.
pub const HOOK_OUTPUT_CAP: usize = 16 * 1024;

/// How long a hook's pipes may stay open after the shell exits (a command it left running in
/// the background holds them) before kensa stops reading.
const PIPE_GRACE: Duration = Duration::from_millis(500);

/// How long a killed hook gets to be reaped.
const REAP_GRACE: Duration = Duration::from_secs(2);

/// What every delivery names: which run of which monitor produced the events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunContext {
    /// The run's id in the history database, if it was recorded.
    pub run_id: Option<i64>,
    /// The monitor's name (the manifest it watches).
    pub monitor: String,
    /// When the run finished.
    pub finished_at: UnixSeconds,
    /// The run's exit code.
    pub exit_code: i32,
    /// Where the run's report is (a path or URL), for people reading a notification.
    pub report_hint: Option<String>,
}

// ─── event log ───────────────────────────────────────────────────────────────────────────

/// An append-only JSON-lines file: one line per event, each the [`Event`] as serialised plus
/// `schema` ([`EVENT_LOG_SCHEMA`]), `run_id` and `monitor`.
///
/// Whole lines only, even with several kensa processes appending to one file: the file is
/// opened with `O_APPEND` and each batch of lines goes out in a single `write(2)` of the
/// complete buffer (the `File` is unbuffered). POSIX makes the seek-to-end and the write
/// of an `O_APPEND` write one step, and local Linux file systems (ext4, xfs, btrfs, tmpfs)
/// hold the inode lock for the whole write, so two batches land one after the other, never
/// inside each other. (`PIPE_BUF` is a guarantee for pipes, not files, and plays no part.)
/// What this does not cover: a short write, which for a regular file means the disk is
/// full or a resource limit hit — the error is returned and a partial last line may remain
/// — and NFS, where `O_APPEND` is emulated by the client and appenders on different hosts
/// can overwrite each other. Lines never contain a raw newline: JSON escapes them.
#[derive(Debug)]
pub struct EventLog {
    path: PathBuf,
    file: File,
}

#[derive(Serialize)]
struct LogLine<'a> {
    schema: &'static str,
    run_id: Option<i64>,
    monitor: &'a str,
    #[serde(flatten)]
    event: &'a Event,
}

impl EventLog {
    /// Opens (creating if needed) the event log at `path` for appending.
    pub fn open(path: impl AsRef<Path>) -> io::Result<EventLog> {
        let path = path.as_ref().to_path_buf();
        let file = OpenOptions::new().append(true).create(true).open(&path)?;
        Ok(EventLog { path, file })
    }

    /// The file's path, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one line per event in one write, then waits for the data to reach the disk
    /// (`fdatasync`), so that a run reported as logged survives a crash. Zero events write
    /// nothing. Blocking, but short: meant to be called once per run.
    pub fn append(&self, ctx: &RunContext, events: &[Event]) -> io::Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let mut batch = Vec::with_capacity(events.len() * 512);
        for event in events {
            let line = LogLine { schema: EVENT_LOG_SCHEMA, run_id: ctx.run_id, monitor: &ctx.monitor, event };
            serde_json::to_writer(&mut batch, &line).map_err(io::Error::other)?;
            batch.push(b'\n');
        }
        (&self.file).write_all(&batch)?;
        self.file.sync_data()
    }
}

/// The `schema` of the event log lines that record a sink's failure.
pub const DELIVERY_LOG_SCHEMA: &str = "kensa.delivery/1";

#[derive(Serialize)]
struct DeliveryLine<'a> {
    schema: &'static str,
    run_id: Option<i64>,
    monitor: &'a str,
    at: UnixSeconds,
    #[serde(flatten)]
    outcome: &'a SinkOutcome,
}

impl EventLog {
    /// Appends one line per failed outcome (schema [`DELIVERY_LOG_SCHEMA`]: `run_id`,
    /// `monitor`, `at` (the run's end), `sink`, `event` for a hook, `result: "failed"`,
    /// `detail`), with the same one-write guarantee as [`EventLog::append`], so that the log
    /// says which notifications were lost. Successes and an all-good run write nothing.
    pub fn append_failures(&self, ctx: &RunContext, outcomes: &[SinkOutcome]) -> io::Result<()> {
        let mut batch = Vec::new();
        for outcome in outcomes.iter().filter(|o| o.failed()) {
            let line = DeliveryLine {
                schema: DELIVERY_LOG_SCHEMA,
                run_id: ctx.run_id,
                monitor: &ctx.monitor,
                at: ctx.finished_at,
                outcome,
            };
            serde_json::to_writer(&mut batch, &line).map_err(io::Error::other)?;
            batch.push(b'\n');
        }
        if batch.is_empty() {
            return Ok(());
        }
        (&self.file).write_all(&batch)?;
        self.file.sync_data()
    }
}

// ─── webhook ─────────────────────────────────────────────────────────────────────────────

/// A webhook receiving one JSON POST per run that has events.
///
/// The body is `{"text": …, "kensa": {…}}`: `text` is a Slack-compatible summary (one line
/// per event; Slack, Mattermost, Rocket.Chat and most chat webhooks show it as is), and
/// `kensa` carries every event in full for machines (`schema` [`WEBHOOK_SCHEMA`], `monitor`,
/// `run_id`, `finished_at`, `exit_code`, `report` when known, `events`).
///
/// Delivery: a 2xx answer delivers. A 5xx, 408, 429, a timeout or a connection failure is
/// retried up to `attempts` in all, after `first_backoff` doubling each time (with jitter:
/// each wait is between half and all of its step), or after the answer's `Retry-After`
/// seconds when it says so and asks for at most [`MAX_RETRY_AFTER`]. Any other answer —
/// other 4xx, and every 3xx, since redirects are not followed — gives up at once: retrying
/// would get the same answer. The whole send is bounded by [`Webhook::max_duration`].
/// Delivery is at least once: a receiver that takes the POST and then hangs past the
/// timeout gets it again on the next attempt (receivers can tell by `kensa.run_id`).
#[derive(Clone)]
pub struct Webhook {
    /// `http://` or `https://` URL. Often a secret (Slack's are): kensa never prints more
    /// than its scheme and host.
    pub url: String,
    /// Most POSTs made, the first one included (at least one is).
    pub attempts: u32,
    /// Wait before the second attempt; doubles for each later one.
    pub first_backoff: Duration,
    /// Deadline of one attempt: connecting, sending, and reading the answer.
    pub timeout: Duration,
    /// Language of `text`.
    pub lang: Lang,
    /// Trust anchors besides the Mozilla roots, for a receiver on a private PKI.
    pub extra_roots: Vec<CertDer>,
}

impl fmt::Debug for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhook")
            .field("url", &redacted(&self.url))
            .field("attempts", &self.attempts)
            .field("first_backoff", &self.first_backoff)
            .field("timeout", &self.timeout)
            .field("lang", &self.lang)
            .field("extra_roots", &self.extra_roots.len())
            .finish()
    }
}

/// A webhook that did its job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// The receiver answered 2xx.
    Delivered {
        /// POSTs made, the successful one included.
        attempts: u32,
        /// The receiver's status.
        status: u16,
        /// From the first attempt to the answer.
        elapsed: Duration,
    },
    /// The run had no events: nothing was sent.
    NothingToSend,
}

/// Why a webhook was not delivered. Says how many attempts were made and what the last one
/// got; never contains the URL's path or query (where webhook secrets live).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// The URL is malformed or not `http`/`https`; nothing was sent.
    #[error("webhook URL not usable: {reason}")]
    InvalidUrl {
        /// What is wrong with it.
        reason: String,
    },
    /// The HTTP client could not be built (a bad extra trust anchor); nothing was sent.
    #[error("webhook: {0}")]
    Client(String),
    /// The events could not be serialised; nothing was sent.
    #[error("webhook payload: {0}")]
    Payload(String),
    /// The receiver refused the request in a way retrying would not change (4xx).
    #[error("webhook answered HTTP {status}{}; not retried (attempt {attempts})", excerpt_suffix(.body))]
    Rejected {
        /// The receiver's status.
        status: u16,
        /// The start of the receiver's answer, which usually says why (`invalid_payload`).
        body: String,
        /// POSTs made.
        attempts: u32,
    },
    /// The receiver answered with a redirect (any 3xx); it is not followed, because a POST
    /// carrying the run's findings should go only where it was configured to go.
    #[error("webhook answered HTTP {status}{}; redirects are not followed (attempt {attempts})", location_suffix(.location))]
    Redirected {
        /// The receiver's status.
        status: u16,
        /// Its `Location`, if any.
        location: Option<String>,
        /// POSTs made.
        attempts: u32,
    },
    /// The receiver asked to come back later than kensa waits.
    #[error(
        "webhook asked to retry after {seconds} s (kensa waits at most 60 s); given up after {attempts} attempt(s)"
    )]
    RetryAfterTooLong {
        /// What `Retry-After` said.
        seconds: u64,
        /// POSTs made.
        attempts: u32,
    },
    /// Every attempt failed with something worth retrying.
    #[error("webhook failed after {attempts} attempt(s) in {} ms; last: {last}", .elapsed.as_millis())]
    Exhausted {
        /// POSTs made.
        attempts: u32,
        /// What the last one got.
        last: String,
        /// From the first attempt to giving up.
        elapsed: Duration,
    },
}

impl WebhookError {
    /// POSTs made before the error (zero when nothing could be sent).
    pub fn attempts(&self) -> u32 {
        match self {
            WebhookError::InvalidUrl { .. } | WebhookError::Client(_) | WebhookError::Payload(_) => 0,
            WebhookError::Rejected { attempts, .. }
            | WebhookError::Redirected { attempts, .. }
            | WebhookError::RetryAfterTooLong { attempts, .. }
            | WebhookError::Exhausted { attempts, .. } => *attempts,
        }
    }
}

fn excerpt_suffix(body: &str) -> String {
    if body.is_empty() {
        String::new()
    } else {
        format!(" ({body})")
    }
}

fn location_suffix(location: &Option<String>) -> String {
    location.as_deref().map(|l| format!(" to {l}")).unwrap_or_default()
}

#[derive(Serialize)]
struct Payload<'a> {
    text: String,
    kensa: Envelope<'a>,
}

#[derive(Serialize)]
struct Envelope<'a> {
    schema: &'static str,
    monitor: &'a str,
    run_id: Option<i64>,
    finished_at: UnixSeconds,
    exit_code: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    report: Option<&'a str>,
    events: &'a [Event],
}

/// What one attempt got back.
struct Answer {
    status: u16,
    location: Option<String>,
    retry_after: Option<u64>,
    excerpt: String,
}

/// What to do after an attempt that did not deliver.
enum Next {
    Retry { reason: String, retry_after: Option<u64> },
    GiveUp(WebhookError),
}

impl Webhook {
    /// Default number of attempts.
    pub const DEFAULT_ATTEMPTS: u32 = 4;
    /// Default wait before the second attempt.
    pub const DEFAULT_FIRST_BACKOFF: Duration = Duration::from_secs(1);
    /// Default deadline of one attempt.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

    /// A webhook to `url` with the default attempts, backoff and timeout, after checking
    /// that the URL is `http` or `https` (so that a bad `--webhook` fails before the scan).
    pub fn new(url: &str, lang: Lang) -> Result<Webhook, WebhookError> {
        checked_url(url).map_err(|reason| WebhookError::InvalidUrl { reason })?;
        Ok(Webhook {
            url: url.to_string(),
            attempts: Webhook::DEFAULT_ATTEMPTS,
            first_backoff: Webhook::DEFAULT_FIRST_BACKOFF,
            timeout: Webhook::DEFAULT_TIMEOUT,
            lang,
            extra_roots: Vec::new(),
        })
    }

    /// The longest [`Webhook::send`] can take: every attempt running into its timeout, and
    /// between attempts the longer of the backoff step and [`MAX_RETRY_AFTER`] (a receiver's
    /// `Retry-After` may ask for that much). Defaults: 4 × 10 s + 3 × 60 s.
    pub fn max_duration(&self) -> Duration {
        let attempts = self.attempts.max(1);
        let waits: Duration = (1..attempts).map(|n| self.backoff_step(n).max(MAX_RETRY_AFTER)).sum();
        self.timeout.saturating_mul(attempts).saturating_add(waits)
    }

    /// The backoff step after attempt `n` (1-based): `first_backoff × 2^(n−1)`.
    fn backoff_step(&self, n: u32) -> Duration {
        self.first_backoff.saturating_mul(1u32.checked_shl(n.saturating_sub(1)).unwrap_or(u32::MAX))
    }

    /// The wait after attempt `n`: between half and all of its step, so that many kensa
    /// instances failing together do not come back together.
    fn backoff(&self, n: u32) -> Duration {
        let step = self.backoff_step(n);
        let half = step / 2;
        // RandomState is seeded from the OS: enough randomness for jitter without a
        // dependency.
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u32(n);
        let fraction = (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64;
        half + half.mul_f64(fraction)
    }

    /// POSTs the run's events; see [`Webhook`] for the retry rules. No events, no request.
    pub async fn send(&self, ctx: &RunContext, events: &[Event]) -> Result<Delivery, WebhookError> {
        if events.is_empty() {
            return Ok(Delivery::NothingToSend);
        }
        let url = checked_url(&self.url).map_err(|reason| WebhookError::InvalidUrl { reason })?;
        let body = webhook_body(ctx, events, self.lang)?;
        let client = notification_client(&self.extra_roots, self.timeout).map_err(WebhookError::Client)?;
        let attempts = self.attempts.max(1);
        let start = Instant::now();
        let mut last = String::new();
        for attempt in 1..=attempts {
            let exchange = post_once(&client, url.clone(), body.clone());
            let next = match tokio::time::timeout(self.timeout, exchange).await {
                Err(_) => Next::Retry {
                    reason: format!("no answer within {} ms", self.timeout.as_millis()),
                    retry_after: None,
                },
                Ok(Err(reason)) => Next::Retry { reason, retry_after: None },
                Ok(Ok(answer)) if (200..300).contains(&answer.status) => {
                    return Ok(Delivery::Delivered {
                        attempts: attempt,
                        status: answer.status,
                        elapsed: start.elapsed(),
                    });
                }
                Ok(Ok(answer)) => judge(answer, attempt),
            };
            match next {
                Next::GiveUp(error) => return Err(error),
                Next::Retry { reason, retry_after } => {
                    last = reason;
                    if attempt == attempts {
                        break;
                    }
                    let wait = match retry_after {
                        Some(seconds) if Duration::from_secs(seconds) > MAX_RETRY_AFTER => {
                            return Err(WebhookError::RetryAfterTooLong { seconds, attempts: attempt });
                        }
                        Some(seconds) => Duration::from_secs(seconds),
                        None => self.backoff(attempt),
                    };
                    tokio::time::sleep(wait).await;
                }
            }
        }
        Err(WebhookError::Exhausted { attempts, last, elapsed: start.elapsed() })
    }
}

/// Retry or give up after a non-2xx answer.
fn judge(answer: Answer, attempt: u32) -> Next {
    let status = answer.status;
    if (300..400).contains(&status) {
        return Next::GiveUp(WebhookError::Redirected { status, location: answer.location, attempts: attempt });
    }
    if status == 408 || status == 429 || status >= 500 {
        let reason = format!("HTTP {status}{}", excerpt_suffix(&answer.excerpt));
        return Next::Retry { reason, retry_after: answer.retry_after };
    }
    Next::GiveUp(WebhookError::Rejected { status, body: answer.excerpt, attempts: attempt })
}

/// One POST and the start of its answer. Errors are one-line reasons without the URL.
async fn post_once(client: &reqwest::Client, url: reqwest::Url, body: Vec<u8>) -> Result<Answer, String> {
    let mut response = client
        .post(url)
        .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
        .body(body)
        .send()
        .await
        .map_err(|e| describe_error(&e))?;
    let header =
        |name| response.headers().get(name).map(|v: &HeaderValue| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let location = header(LOCATION);
    // Only the delta-seconds form; an HTTP date is rare from webhooks and falls back to
    // the backoff.
    let retry_after = header(RETRY_AFTER).and_then(|v| v.trim().parse::<u64>().ok());
    let status = response.status().as_u16();
    if (200..300).contains(&status) {
        // Delivered: the body does not matter, and waiting for it could only turn a
        // delivery into a timeout and a duplicate.
        return Ok(Answer { status, location, retry_after, excerpt: String::new() });
    }
    // Read a little of the answer (it usually says why), never all of it: the receiver
    // decides its size.
    let mut excerpt = Vec::new();
    while excerpt.len() < ANSWER_EXCERPT {
        match response.chunk().await {
            Ok(Some(chunk)) => excerpt.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    excerpt.truncate(ANSWER_EXCERPT);
    let excerpt = String::from_utf8_lossy(&excerpt).split_whitespace().collect::<Vec<_>>().join(" ");
    Ok(Answer { status, location, retry_after, excerpt })
}

/// The JSON body of a webhook POST.
fn webhook_body(ctx: &RunContext, events: &[Event], lang: Lang) -> Result<Vec<u8>, WebhookError> {
    let payload = Payload {
        text: summary_text(ctx, events, lang, SLACK_TEXT_LIMIT),
        kensa: Envelope {
            schema: WEBHOOK_SCHEMA,
            monitor: &ctx.monitor,
            run_id: ctx.run_id,
            finished_at: ctx.finished_at,
            exit_code: ctx.exit_code,
            report: ctx.report_hint.as_deref(),
            events,
        },
    };
    serde_json::to_vec(&payload).map_err(|e| WebhookError::Payload(e.to_string()))
}

/// The webhook's Slack-compatible `text`: a header line (monitor, number of changes, run,
/// exit code), the report's location if known, then one line per event — a severity mark,
/// the subject in bold, the item, and the message in `lang`. At most `limit` characters:
/// events that do not fit are replaced by "… and N more" (they stay in `kensa.events`).
/// `&`, `<` and `>` are escaped as Slack requires, so that a subject or message taken from a
/// peer (a certificate's name) cannot become a link or an `@channel` mention.
pub fn summary_text(ctx: &RunContext, events: &[Event], lang: Lang, limit: usize) -> String {
    let monitor = slack_escape(&ctx.monitor);
    let count = events.len();
    let run = ctx.run_id.map(|id| match lang {
        Lang::En => format!(", run {id}"),
        Lang::Ja => format!("、実行 {id}"),
    });
    let run = run.unwrap_or_default();
    let mut header = match lang {
        Lang::En => format!(
            "kensa monitor “{monitor}”: {count} change{}{run}, exit code {}",
            if count == 1 { "" } else { "s" },
            ctx.exit_code
        ),
        Lang::Ja => format!("kensa 監視「{monitor}」: {count} 件の変化{run}、終了コード {}", ctx.exit_code),
    };
    header = clip(&header, TEXT_LINE_LIMIT);
    if let Some(hint) = &ctx.report_hint {
        let hint = slack_escape(hint);
        let line = match lang {
            Lang::En => format!("Report: {hint}"),
            Lang::Ja => format!("レポート: {hint}"),
        };
        header.push('\n');
        header.push_str(&clip(&line, TEXT_LINE_LIMIT));
    }
    let more = |n: usize| match lang {
        Lang::En => format!("… and {n} more"),
        Lang::Ja => format!("… ほか {n} 件"),
    };
    // Room kept for the "more" line: its longest form, with every event left out.
    let reserve = more(count).chars().count() + 1;
    let mut text = header;
    let mut used = text.chars().count();
    for (i, event) in events.iter().enumerate() {
        let line = clip(&event_line(event, lang), TEXT_LINE_LIMIT);
        let length = line.chars().count() + 1;
        let last = i + 1 == count;
        if used + length + if last { 0 } else { reserve } > limit {
            text.push('\n');
            text.push_str(&more(count - i));
            break;
        }
        text.push('\n');
        text.push_str(&line);
        used += length;
    }
    // Only a limit smaller than the header itself gets here with too much.
    clip(&text, limit)
}

fn event_line(event: &Event, lang: Lang) -> String {
    let item = event.item_id.as_deref().map(|item| format!(" [{}]", slack_escape(item))).unwrap_or_default();
    format!(
        "{} *{}*{item} {}",
        severity_mark(event.severity),
        slack_escape(&event.subject),
        slack_escape(event.message.get(lang))
    )
}

/// Marks that read the same in every chat client (Unicode, not `:emoji:` names that only
/// Slack expands).
fn severity_mark(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "🔴",
        Severity::Warning => "🟡",
        Severity::Info => "🟢",
    }
}

fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// `text` cut to at most `max` characters, ending with "…" when cut.
fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut clipped: String = text.chars().take(max.saturating_sub(1)).collect();
    if max > 0 {
        clipped.push('…');
    }
    clipped
}

/// `scheme://host[:port]/…`: enough to tell which webhook, without the secret in the path.
fn redacted(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(parsed) => {
            let port = parsed.port().map(|p| format!(":{p}")).unwrap_or_default();
            format!("{}://{}{port}/…", parsed.scheme(), parsed.host_str().unwrap_or(""))
        }
        Err(_) => "(malformed URL)".to_string(),
    }
}

// ─── command hook ────────────────────────────────────────────────────────────────────────

/// A command run once per event, as `/bin/sh -c COMMAND`: the string is shell text (pipes,
/// redirections, `$KENSA_…` expansions all work), so it must come from the operator, never
/// from a scanned peer.
///
/// The event is in the environment, on top of kensa's own (`PATH` and the rest are kept):
/// `KENSA_EVENT_KIND` (`new_failure`…), `KENSA_EVENT_SEVERITY` (`info`, `warning`,
/// `critical`), `KENSA_EVENT_SUBJECT`, `KENSA_EVENT_ITEM`, `KENSA_EVENT_CHECK`,
/// `KENSA_EVENT_BEFORE`, `KENSA_EVENT_AFTER`, `KENSA_EVENT_MESSAGE` (in `lang`),
/// `KENSA_EVENT_AT`, `KENSA_EVENT_JSON` (the whole event), `KENSA_MONITOR`, `KENSA_RUN_ID`,
/// `KENSA_EXIT_CODE`, `KENSA_FINISHED_AT` and `KENSA_REPORT`. Every one is set; an unknown
/// value is the empty string, so `set -u` scripts work. NUL bytes, which an environment
/// cannot hold, become U+FFFD.
///
/// stdin is `/dev/null`; stdout and stderr are captured up to [`HOOK_OUTPUT_CAP`] each. The
/// hook runs in a process group of its own, so that at its timeout the whole group —
/// the shell and whatever it started — is killed with `SIGKILL`; the same group means a
/// Ctrl-C at the terminal does not reach a running hook directly (kensa's exit kills it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandHook {
    /// Shell text given to `/bin/sh -c`.
    pub command: String,
    /// Longest a run may take before it is killed.
    pub timeout: Duration,
    /// Language of `KENSA_EVENT_MESSAGE`.
    pub lang: Lang,
}

/// A hook run that exited 0.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HookRun {
    /// Its exit status.
    pub status: ExitStatus,
    /// Its stdout, up to [`HOOK_OUTPUT_CAP`] bytes, lossily decoded.
    pub stdout: String,
    /// Its stderr, up to [`HOOK_OUTPUT_CAP`] bytes, lossily decoded.
    pub stderr: String,
    /// How long it ran.
    pub elapsed: Duration,
}

/// Why a hook run did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    /// `/bin/sh` could not be started.
    #[error("hook could not start: {0}")]
    Spawn(String),
    /// Waiting for the hook failed.
    #[error("hook: waiting for it failed: {0}")]
    Wait(String),
    /// The hook exited non-zero or was killed by a signal.
    #[error("hook {status}{}", excerpt_suffix(&first_line(.stderr)))]
    Failed {
        /// Its exit status.
        status: ExitStatus,
        /// Its stdout, capped.
        stdout: String,
        /// Its stderr, capped.
        stderr: String,
    },
    /// The hook ran past its timeout and was killed.
    #[error("hook killed after {} ms (its timeout)", .after.as_millis())]
    TimedOut {
        /// The timeout it ran into.
        after: Duration,
        /// Its stdout until then, capped.
        stdout: String,
        /// Its stderr until then, capped.
        stderr: String,
    },
}

fn first_line(text: &str) -> String {
    clip(text.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim(), 200)
}

impl CommandHook {
    /// Default timeout of one hook run.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

    /// A hook running `command` with the default timeout.
    pub fn new(command: impl Into<String>, lang: Lang) -> CommandHook {
        CommandHook { command: command.into(), timeout: CommandHook::DEFAULT_TIMEOUT, lang }
    }

    /// Runs the hook for `event` and waits for it, at most `timeout`.
    pub async fn run(&self, ctx: &RunContext, event: &Event) -> Result<HookRun, HookError> {
        let mut command = tokio::process::Command::new("/bin/sh");
        command
            .arg("-c")
            .arg(&self.command)
            .envs(hook_env(ctx, event, self.lang))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let start = Instant::now();
        let mut child = command.spawn().map_err(|e| HookError::Spawn(e.to_string()))?;
        let pid = child.id();
        let (out_pipe, err_pipe) = (child.stdout.take(), child.stderr.take());
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        let finished = {
            let reading = async {
                tokio::join!(drain(out_pipe, &mut stdout), drain(err_pipe, &mut stderr));
            };
            let mut reading = std::pin::pin!(reading);
            let child = &mut child;
            let run = async {
                let mut read_all = false;
                let status = tokio::select! {
                    status = child.wait() => status,
                    () = &mut reading => {
                        read_all = true;
                        child.wait().await
                    }
                };
                if !read_all {
                    // Something the hook left in the background may hold the pipes open.
                    let _ = tokio::time::timeout(PIPE_GRACE, &mut reading).await;
                }
                status
            };
            tokio::time::timeout(self.timeout, run).await
        };
        let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        match finished {
            Ok(Ok(status)) if status.success() => {
                Ok(HookRun { status, stdout: text(&stdout), stderr: text(&stderr), elapsed: start.elapsed() })
            }
            Ok(Ok(status)) => Err(HookError::Failed { status, stdout: text(&stdout), stderr: text(&stderr) }),
            Ok(Err(e)) => Err(HookError::Wait(e.to_string())),
            Err(_) => {
                // The child is not reaped yet, so its pid (the group's id) cannot have been
                // reused: killing the group hits only the hook and what it started.
                if let Some(pid) = pid {
                    kill_group(pid).await;
                }
                let _ = child.start_kill();
                let _ = tokio::time::timeout(REAP_GRACE, child.wait()).await;
                Err(HookError::TimedOut { after: self.timeout, stdout: text(&stdout), stderr: text(&stderr) })
            }
        }
    }
}

/// Sends SIGKILL to process group `pgid` through the shell's `kill`, which takes a negative
/// id: the standard library only kills single processes and kensa has no `unsafe` for
/// `kill(2)`.
async fn kill_group(pgid: u32) {
    let mut kill = tokio::process::Command::new("/bin/sh");
    kill.arg("-c")
        .arg("kill -s KILL -- \"-$1\"")
        .arg("kensa-hook-kill")
        .arg(pgid.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let _ = tokio::time::timeout(REAP_GRACE, kill.status()).await;
}

/// Reads `pipe` to its end, keeping the first [`HOOK_OUTPUT_CAP`] bytes.
async fn drain<R: AsyncRead + Unpin>(pipe: Option<R>, into: &mut Vec<u8>) {
    let Some(mut pipe) = pipe else { return };
    let mut chunk = [0u8; 4096];
    loop {
        match pipe.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                let room = HOOK_OUTPUT_CAP.saturating_sub(into.len());
                into.extend_from_slice(&chunk[..n.min(room)]);
            }
        }
    }
}

/// The hook's environment for `event`.
fn hook_env(ctx: &RunContext, event: &Event, lang: Lang) -> Vec<(&'static str, String)> {
    let severity = match event.severity {
        Severity::Info => "info",
        Severity::Warning => "warning",
        Severity::Critical => "critical",
    };
    let or_empty = |value: &Option<String>| value.clone().unwrap_or_default();
    let vars = [
        ("KENSA_EVENT_KIND", event.kind_word()),
        ("KENSA_EVENT_SEVERITY", severity.to_string()),
        ("KENSA_EVENT_SUBJECT", event.subject.clone()),
        ("KENSA_EVENT_ITEM", or_empty(&event.item_id)),
        ("KENSA_EVENT_CHECK", or_empty(&event.check_id)),
        ("KENSA_EVENT_BEFORE", or_empty(&event.before)),
        ("KENSA_EVENT_AFTER", or_empty(&event.after)),
        ("KENSA_EVENT_MESSAGE", event.message.get(lang).to_string()),
        ("KENSA_EVENT_AT", event.at.to_string()),
        ("KENSA_EVENT_JSON", serde_json::to_string(event).unwrap_or_default()),
        ("KENSA_MONITOR", ctx.monitor.clone()),
        ("KENSA_RUN_ID", ctx.run_id.map(|id| id.to_string()).unwrap_or_default()),
        ("KENSA_EXIT_CODE", ctx.exit_code.to_string()),
        ("KENSA_FINISHED_AT", ctx.finished_at.to_string()),
        ("KENSA_REPORT", or_empty(&ctx.report_hint)),
    ];
    vars.into_iter().map(|(name, value)| (name, value.replace('\0', "\u{FFFD}"))).collect()
}

// ─── all sinks ───────────────────────────────────────────────────────────────────────────

/// The sinks a monitor delivers to; any may be absent.
#[derive(Debug, Default)]
pub struct Sinks {
    /// The JSON-lines event log.
    pub event_log: Option<EventLog>,
    /// The webhook.
    pub webhook: Option<Webhook>,
    /// The command hook.
    pub hook: Option<CommandHook>,
}

/// Which sink an outcome is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "sink", rename_all = "snake_case")]
pub enum SinkName {
    /// The event log.
    EventLog,
    /// The webhook.
    Webhook,
    /// The command hook, for the event at this index of the run's events.
    Hook {
        /// Index into the events given to [`deliver_all`].
        event: usize,
    },
}

impl fmt::Display for SinkName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SinkName::EventLog => f.write_str("event log"),
            SinkName::Webhook => f.write_str("webhook"),
            SinkName::Hook { event } => write!(f, "hook (event {})", event + 1),
        }
    }
}

/// How one sink fared.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "result", content = "detail", rename_all = "snake_case")]
pub enum Outcome {
    /// Delivered; what happened, in a few words.
    Ok(String),
    /// Not delivered; why.
    Failed(String),
}

/// One sink's outcome for one run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SinkOutcome {
    /// The sink.
    #[serde(flatten)]
    pub sink: SinkName,
    /// What happened.
    #[serde(flatten)]
    pub outcome: Outcome,
}

impl SinkOutcome {
    /// Whether the sink failed.
    pub fn failed(&self) -> bool {
        matches!(self.outcome, Outcome::Failed(_))
    }
}

impl fmt::Display for SinkOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.outcome {
            Outcome::Ok(detail) => write!(f, "{}: {detail}", self.sink),
            Outcome::Failed(reason) => write!(f, "{}: failed: {reason}", self.sink),
        }
    }
}

/// Delivers the run's events to every configured sink and says how each fared. The event log
/// is written first, so the events are on disk whatever the network does; then the webhook
/// and the hooks (one run per event, in order) go on side by side. No failure stops another
/// sink. No events, no deliveries: the result is empty.
pub async fn deliver_all(sinks: &Sinks, ctx: &RunContext, events: &[Event]) -> Vec<SinkOutcome> {
    if events.is_empty() {
        return Vec::new();
    }
    let mut outcomes = Vec::new();
    if let Some(log) = &sinks.event_log {
        let outcome = match log.append(ctx, events) {
            Ok(()) => Outcome::Ok(format!("{} line(s) appended to {}", events.len(), log.path().display())),
            Err(e) => Outcome::Failed(format!("{}: {e}", log.path().display())),
        };
        outcomes.push(SinkOutcome { sink: SinkName::EventLog, outcome });
    }
    let webhook = async {
        let webhook = sinks.webhook.as_ref()?;
        let outcome = match webhook.send(ctx, events).await {
            Ok(Delivery::Delivered { attempts, status, elapsed }) => Outcome::Ok(format!(
                "HTTP {status} from {} after {attempts} attempt(s), {} ms",
                redacted(&webhook.url),
                elapsed.as_millis()
            )),
            Ok(Delivery::NothingToSend) => Outcome::Ok("nothing to send".to_string()),
            Err(e) => Outcome::Failed(format!("{} ({})", e, redacted(&webhook.url))),
        };
        Some(SinkOutcome { sink: SinkName::Webhook, outcome })
    };
    let hooks = async {
        let mut outcomes = Vec::new();
        let Some(hook) = &sinks.hook else { return outcomes };
        for (index, event) in events.iter().enumerate() {
            let outcome = match hook.run(ctx, event).await {
                Ok(run) => Outcome::Ok(format!("exited 0 after {} ms", run.elapsed.as_millis())),
                Err(e) => Outcome::Failed(e.to_string()),
            };
            outcomes.push(SinkOutcome { sink: SinkName::Hook { event: index }, outcome });
        }
        outcomes
    };
    let (webhook, hooks) = tokio::join!(webhook, hooks);
    outcomes.extend(webhook);
    outcomes.extend(hooks);
    outcomes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Text;
    use crate::monitor::event::EventKind;

    fn event(n: usize, severity: Severity) -> Event {
        Event {
            kind: EventKind::NewFailure,
            severity,
            subject: format!("host{n}.example.jp:443"),
            item_id: Some("2-1.iii".to_string()),
            check_id: None,
            before: None,
            after: None,
            message: Text::new(format!("finding {n} became fail"), format!("所見 {n} が不適合になりました")),
            at: 1_700_000_000,
        }
    }

    fn ctx() -> RunContext {
        RunContext {
            run_id: Some(7),
            monitor: "clinic".to_string(),
            finished_at: 1_700_000_000,
            exit_code: 1,
            report_hint: None,
        }
    }

    #[test]
    fn text_has_one_line_per_event_under_the_limit() {
        let events = vec![event(1, Severity::Critical), event(2, Severity::Info)];
        let text = summary_text(&ctx(), &events, Lang::En, SLACK_TEXT_LIMIT);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "kensa monitor “clinic”: 2 changes, run 7, exit code 1");
        assert_eq!(lines[1], "🔴 *host1.example.jp:443* [2-1.iii] finding 1 became fail");
        assert!(lines[2].starts_with("🟢 *host2"));
        let ja = summary_text(&ctx(), &events, Lang::Ja, SLACK_TEXT_LIMIT);
        assert!(ja.contains("所見 1 が不適合"), "{ja}");
    }

    #[test]
    fn text_is_truncated_between_events_with_a_count() {
        let events: Vec<Event> = (0..1000).map(|n| event(n, Severity::Warning)).collect();
        let text = summary_text(&ctx(), &events, Lang::En, SLACK_TEXT_LIMIT);
        assert!(text.chars().count() <= SLACK_TEXT_LIMIT);
        let last = text.lines().last().expect("lines");
        let shown = text.lines().filter(|l| l.starts_with('🟡')).count();
        assert!(shown > 100 && shown < 1000, "{shown}");
        assert_eq!(last, format!("… and {} more", 1000 - shown));

        // A small limit: every line is whole, and the count makes up the rest.
        let text = summary_text(&ctx(), &events[..5], Lang::Ja, 150);
        assert!(text.chars().count() <= 150, "{text}");
        let shown = text.lines().filter(|l| l.starts_with('🟡')).count();
        assert!(text.ends_with(&format!("… ほか {} 件", 5 - shown)), "{text}");
        assert!(text.lines().filter(|l| l.starts_with('🟡')).all(|l| l.ends_with("になりました")));
    }

    #[test]
    fn text_escapes_slack_control_characters_and_clips_long_lines() {
        let mut hostile = event(1, Severity::Critical);
        hostile.subject = "<!channel> & <https://evil.example|click>".to_string();
        hostile.message.en = "x".repeat(10_000);
        let text = summary_text(&ctx(), &[hostile], Lang::En, SLACK_TEXT_LIMIT);
        assert!(text.contains("&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;"), "{text}");
        assert!(!text.contains('<'));
        let line = text.lines().nth(1).expect("event line");
        assert_eq!(line.chars().count(), TEXT_LINE_LIMIT);
        assert!(line.ends_with('…'));
    }

    #[test]
    fn backoff_doubles_with_jitter_and_the_bound_holds() {
        let hook = Webhook::new("https://hooks.example/services/T000/B000/SECRET", Lang::En).expect("url");
        for n in 1..=3u32 {
            let step = Duration::from_secs(1 << (n - 1));
            let wait = hook.backoff(n);
            assert!(wait >= step / 2 && wait <= step, "{n}: {wait:?}");
        }
        assert_eq!(hook.max_duration(), Duration::from_secs(4 * 10 + 3 * 60));
        let debug = format!("{hook:?}");
        assert!(!debug.contains("SECRET") && debug.contains("https://hooks.example/…"), "{debug}");
        assert!(matches!(Webhook::new("ftp://x/y", Lang::En), Err(WebhookError::InvalidUrl { .. })));
    }

    #[test]
    fn hook_environment_is_complete_and_nul_free() {
        let mut e = event(1, Severity::Critical);
        e.before = Some("a\0b".to_string());
        let env = hook_env(&ctx(), &e, Lang::Ja);
        let get = |name: &str| env.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str());
        assert_eq!(get("KENSA_EVENT_KIND"), Some("new_failure"));
        assert_eq!(get("KENSA_EVENT_SEVERITY"), Some("critical"));
        assert_eq!(get("KENSA_EVENT_CHECK"), Some(""));
        assert_eq!(get("KENSA_EVENT_BEFORE"), Some("a\u{FFFD}b"));
        assert_eq!(get("KENSA_RUN_ID"), Some("7"));
        assert!(get("KENSA_EVENT_MESSAGE").is_some_and(|m| m.contains("不適合")));
        assert!(env.iter().all(|(_, v)| !v.contains('\0')));
    }
}
