//! The monitoring history: every run with its evidence, findings, verdicts and events, in
//! one SQLite file (`--db FILE`).
//!
//! Safety against crashes rests on two things. A run is written in a single `BEGIN
//! IMMEDIATE … COMMIT` transaction, so it is either all there or not there at all — a
//! process killed halfway leaves only an uncommitted WAL tail that SQLite discards on the
//! next open. And the database runs in WAL mode with `synchronous=FULL`, so a committed run
//! survives a power cut too (a monitor writes once per scan, so the extra fsync costs
//! nothing that matters, while a run lost after its alert was sent would send it again).
//!
//! Several processes may share a database: writers wait for each other (`busy_timeout`)
//! instead of failing. Two *monitors* on one database would interleave their comparisons,
//! so a monitor also takes a [`MonitorLock`], which the OS releases when the process dies.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior};
use serde::{Deserialize, Serialize};

use crate::evidence::{ScanEvidence, UnixSeconds};
use crate::monitor::event::Event;
use crate::verdict::{Assessment, ItemStatus};

pub mod schema;

/// How long a connection waits for another process's write to finish before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Seconds in a day, for `--keep` in days.
const DAY: u64 = 86_400;

/// The identifier of a stored run (`kensa show RUN`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RunId(pub i64);

impl std::fmt::Display for RunId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::str::FromStr for RunId {
    type Err = String;

    /// Parses a run number as `kensa show` takes it.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim().parse::<i64>().ok().filter(|n| *n > 0).map(RunId).ok_or_else(|| format!("{s:?} is not a run number"))
    }
}

/// Who holds a [`MonitorLock`], as written in the lock file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockHolder {
    /// The holder's process id.
    pub pid: u32,
    /// The monitor key it runs for.
    pub key: String,
    /// When it took the lock.
    pub since: UnixSeconds,
}

impl std::fmt::Display for LockHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pid {} (monitoring {:?} since {})", self.pid, self.key, format_time(self.since))
    }
}

/// Everything that can go wrong with the history database or the monitor lock.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// The database's directory is missing; kensa creates the file, never directories.
    #[error("cannot create history database {}: directory {} does not exist", path.display(), dir.display())]
    NoDirectory {
        /// The database path.
        path: PathBuf,
        /// Its missing parent.
        dir: PathBuf,
    },
    /// The path exists but is not a regular file.
    #[error("history database {} is not a regular file", path.display())]
    NotAFile {
        /// The database path.
        path: PathBuf,
    },
    /// The file is not a SQLite database (or its header is damaged).
    #[error("{} is not a SQLite database (or its header is damaged); refusing to use it as history", path.display())]
    NotADatabase {
        /// The database path.
        path: PathBuf,
    },
    /// A SQLite database of another program.
    #[error("{} is not a kensa history database: {why}; refusing to write to it", path.display())]
    Foreign {
        /// The database path.
        path: PathBuf,
        /// What gave it away.
        why: String,
    },
    /// A schema version this kensa does not know.
    #[error(
        "{} was made by a newer kensa (schema version {found}, this kensa knows up to {known}); refusing to write to it",
        path.display()
    )]
    TooNew {
        /// The database path.
        path: PathBuf,
        /// Its `user_version`.
        found: i64,
        /// The newest version this kensa knows.
        known: i64,
    },
    /// Another process kept the database locked longer than [`BUSY_TIMEOUT`].
    #[error(
        "history database {} stayed locked by another process for more than {} s; try again later",
        path.display(),
        BUSY_TIMEOUT.as_secs()
    )]
    Busy {
        /// The database path.
        path: PathBuf,
    },
    /// Any other SQLite failure.
    #[error("history database {}: {source}", path.display())]
    Sqlite {
        /// The database path.
        path: PathBuf,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// `PRAGMA integrity_check` or `foreign_key_check` found problems.
    #[error("history database {} is damaged: {problems}", path.display())]
    Damaged {
        /// The database path.
        path: PathBuf,
        /// SQLite's findings, joined.
        problems: String,
    },
    /// `kensa show RUN` with a run that is not stored (or was pruned).
    #[error("no run {0} in the history database")]
    NoSuchRun(RunId),
    /// A stored value no longer reads (edited by hand, or written by an incompatible kensa).
    #[error("run {run}: the stored {what} does not read: {message}")]
    Corrupt {
        /// The run.
        run: RunId,
        /// Which part (evidence, assessment, an event…).
        what: &'static str,
        /// The parser's complaint.
        message: String,
    },
    /// A run could not be turned into JSON (never expected: the types are plain data).
    #[error("cannot serialise the run's {what}: {message}")]
    Encode {
        /// Which part.
        what: &'static str,
        /// The serialiser's complaint.
        message: String,
    },
    /// Another monitor holds the lock.
    #[error(
        "another kensa monitor is using this history database: {} is held by {}; stop it or wait for it to finish",
        lock.display(),
        holder.as_ref().map_or_else(|| "a process that has not written its pid yet".to_string(), |h| h.to_string())
    )]
    Locked {
        /// The lock file.
        lock: PathBuf,
        /// Its holder, when the lock file could be read.
        holder: Option<LockHolder>,
    },
    /// The lock file could not be created, read or written.
    #[error("monitor lock {}: {source}", path.display())]
    LockIo {
        /// The lock file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// One finished run to store.
#[derive(Clone, Copy, Debug)]
pub struct NewRun<'a> {
    /// Which monitored service the run belongs to (the manifest path, or a name); runs are
    /// compared and pruned per key.
    pub key: &'a str,
    /// What was measured.
    pub evidence: &'a ScanEvidence,
    /// The findings and item verdicts (declarations already merged).
    pub assessment: &'a Assessment,
    /// The profile's `[profile] id`.
    pub profile_id: &'a str,
    /// SHA-256 of the profile text.
    pub profile_sha256: &'a str,
    /// The exact profile text, so `kensa show` can judge and render with the same profile.
    pub profile_text: &'a str,
    /// The exact declarations text, when declarations were merged.
    pub declarations_text: Option<&'a str>,
    /// The changes found against earlier runs.
    pub events: &'a [Event],
    /// The exit code the run ended with.
    pub exit_code: i32,
}

/// A stored run's summary, as `kensa history` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RunInfo {
    /// The run's number.
    pub id: RunId,
    /// The monitor key.
    pub key: String,
    /// When the scan started (from the evidence).
    pub started_at: UnixSeconds,
    /// When the scan finished (from the evidence); runs are ordered by this.
    pub finished_at: UnixSeconds,
    /// When the run was written to the database.
    pub created_at: UnixSeconds,
    /// The kensa that measured it.
    pub kensa_version: String,
    /// The profile it was judged against.
    pub profile_id: String,
    /// SHA-256 of that profile's text.
    pub profile_sha256: String,
    /// The exit code the run ended with.
    pub exit_code: i32,
    /// How many items had each status, in [`ItemStatus::ALL`] order (as
    /// [`Assessment::counts`] gives them).
    pub counts: Vec<(ItemStatus, usize)>,
    /// How many events the run raised.
    pub events: usize,
}

/// A stored run, whole: enough to render any report again or to compare with.
#[derive(Clone, Debug)]
pub struct StoredRun {
    /// The summary.
    pub info: RunInfo,
    /// What was measured.
    pub evidence: ScanEvidence,
    /// The findings and verdicts as they were stored.
    pub assessment: Assessment,
    /// The exact profile text.
    pub profile_text: String,
    /// The exact declarations text, if any.
    pub declarations_text: Option<String>,
    /// The events, in the order they were recorded.
    pub events: Vec<Event>,
}

/// How many runs to keep, per monitor key. The newest run of a key is always kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Retention {
    /// Keep at most this many runs per key.
    pub keep_runs: Option<usize>,
    /// Keep runs that finished within this many days before `now`.
    pub keep_days: Option<u64>,
    /// The present, for `keep_days` (passed in so pruning is testable).
    pub now: UnixSeconds,
}

/// An open history database.
pub struct History {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for History {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("History").field("path", &self.path).finish_non_exhaustive()
    }
}

impl History {
    /// Opens the database at `path`, creating it if missing, and brings its schema up to date.
    pub fn open(path: &Path) -> Result<History, HistoryError> {
        let owned = path.to_path_buf();
        match std::fs::metadata(path) {
            Ok(metadata) if !metadata.is_file() => return Err(HistoryError::NotAFile { path: owned }),
            Ok(_) => {}
            Err(_) => {
                // SQLite's own message for a missing directory is "unable to open database
                // file", which does not say what to fix.
                let dir = match path.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                    _ => PathBuf::from("."),
                };
                if !dir.is_dir() {
                    return Err(HistoryError::NoDirectory { path: owned, dir });
                }
            }
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| sqlite_error(path, e))?;
        let mut history = History { conn, path: owned };
        history.configure()?;
        Ok(history)
    }

    fn configure(&mut self) -> Result<(), HistoryError> {
        let path = self.path.clone();
        let err = |e| sqlite_error(&path, e);
        // First, so that every later statement (including switching to WAL) waits for a
        // concurrent writer instead of failing with SQLITE_BUSY.
        self.conn.busy_timeout(BUSY_TIMEOUT).map_err(err)?;
        // Before anything writes (switching to WAL rewrites the header): a newer or foreign
        // database must be left exactly as it was. Also the first read, where a file that is
        // not SQLite at all fails.
        schema::check_ownership(&self.conn).map_err(|e| migration_error(&path, e))?;
        let mode: String =
            self.conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0)).map_err(err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(HistoryError::Sqlite {
                path: path.clone(),
                source: rusqlite::Error::InvalidParameterName(format!("journal_mode stayed {mode}, WAL is needed")),
            });
        }
        self.conn.pragma_update(None, "synchronous", "FULL").map_err(err)?;
        // Per connection and off by default in SQLite: without it the cascades do nothing.
        self.conn.pragma_update(None, "foreign_keys", true).map_err(err)?;
        schema::migrate(&mut self.conn).map_err(|e| migration_error(&path, e))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> HistoryError + '_ {
        move |e| sqlite_error(&self.path, e)
    }

    /// Stores a run in one transaction and returns its number.
    pub fn record(&mut self, run: &NewRun<'_>) -> Result<RunId, HistoryError> {
        // Serialised before the transaction so the write lock is held only for the inserts.
        let evidence = encode("evidence", run.evidence)?;
        let assessment = encode("assessment", run.assessment)?;
        let events = run
            .events
            .iter()
            .map(|event| Ok((event, encode("event", event)?, word(&event.severity))))
            .collect::<Result<Vec<_>, HistoryError>>()?;
        let created_at = now();
        let path = self.path.clone();
        let err = |e| sqlite_error(&path, e);

        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err)?;
        tx.execute(
            "INSERT INTO runs (monitor_key, started_at, finished_at, kensa_version, profile_id, profile_sha256,
                               exit_code, evidence, assessment, profile_text, declarations_text, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            params![
                run.key,
                to_db(run.evidence.started_at),
                to_db(run.evidence.finished_at),
                run.evidence.kensa_version,
                run.profile_id,
                run.profile_sha256,
                run.exit_code,
                evidence,
                assessment,
                run.profile_text,
                run.declarations_text,
                to_db(created_at),
            ],
        )
        .map_err(err)?;
        let id = tx.last_insert_rowid();
        {
            let mut insert = tx
                .prepare(
                    "INSERT INTO item_verdicts (run_id, item_id, status, basis, reason_en, reason_ja)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(err)?;
            for verdict in &run.assessment.items {
                insert
                    .execute(params![
                        id,
                        verdict.item_id,
                        word(&verdict.status),
                        word(&verdict.basis),
                        verdict.reason.en,
                        verdict.reason.ja,
                    ])
                    .map_err(err)?;
            }
            let mut insert = tx
                .prepare(
                    "INSERT INTO findings (run_id, item_id, check_id, endpoint, status, raised_from, message_en, message_ja)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )
                .map_err(err)?;
            for finding in &run.assessment.findings {
                insert
                    .execute(params![
                        id,
                        finding.item_id,
                        finding.check_id,
                        finding.endpoint,
                        finding.status.as_str(),
                        finding.raised_from.map(|s| s.as_str()),
                        finding.message.en,
                        finding.message.ja,
                    ])
                    .map_err(err)?;
            }
            let mut insert = tx
                .prepare(
                    "INSERT INTO events (run_id, kind, severity, subject, item_id, check_id, before, after,
                                         message_en, message_ja, at, json)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                )
                .map_err(err)?;
            for (event, json, severity) in &events {
                insert
                    .execute(params![
                        id,
                        event.kind_word(),
                        severity,
                        event.subject,
                        event.item_id,
                        event.check_id,
                        event.before,
                        event.after,
                        event.message.en,
                        event.message.ja,
                        to_db(event.at),
                        json,
                    ])
                    .map_err(err)?;
            }
        }
        tx.commit().map_err(err)?;
        Ok(RunId(id))
    }

    /// At most `limit` runs (`usize::MAX` for all), newest first, of `key` or of every key.
    pub fn runs(&self, key: Option<&str>, limit: usize) -> Result<Vec<RunInfo>, HistoryError> {
        // One read transaction, so the list and the counts come from the same snapshot.
        let tx = self.conn.unchecked_transaction().map_err(self.err())?;
        self.runs_in(&tx, key, limit)
    }

    /// The stored run `id`, whole.
    pub fn load(&self, id: RunId) -> Result<StoredRun, HistoryError> {
        let tx = self.conn.unchecked_transaction().map_err(self.err())?;
        self.load_in(&tx, id)
    }

    /// The `n` newest runs of `key`, newest first: what a new run is compared with.
    pub fn recent(&self, key: &str, n: usize) -> Result<Vec<StoredRun>, HistoryError> {
        // One snapshot for the list and the loads, so a prune by another process in between
        // cannot take away a run that was just listed.
        let tx = self.conn.unchecked_transaction().map_err(self.err())?;
        self.runs_in(&tx, Some(key), n)?.into_iter().map(|info| self.load_in(&tx, info.id)).collect()
    }

    fn runs_in(&self, conn: &Connection, key: Option<&str>, limit: usize) -> Result<Vec<RunInfo>, HistoryError> {
        let err = self.err();
        let mut statement = conn
            .prepare_cached(&format!(
                "{INFO_SELECT} WHERE ?1 IS NULL OR r.monitor_key = ?1 ORDER BY r.finished_at DESC, r.id DESC LIMIT ?2"
            ))
            .map_err(&err)?;
        let rows = statement
            .query_map(params![key, i64::try_from(limit).unwrap_or(i64::MAX)], info_row)
            .map_err(&err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(&err)?;
        rows.into_iter().map(|row| self.finish_info(conn, row)).collect()
    }

    fn load_in(&self, conn: &Connection, id: RunId) -> Result<StoredRun, HistoryError> {
        let err = self.err();
        let row =
            conn.query_row(&format!("{INFO_SELECT} WHERE r.id = ?1"), [id.0], info_row).optional().map_err(&err)?;
        let Some(row) = row else { return Err(HistoryError::NoSuchRun(id)) };
        let info = self.finish_info(conn, row)?;
        let (evidence, assessment, profile_text, declarations_text): (String, String, String, Option<String>) = conn
            .query_row(
                "SELECT evidence, assessment, profile_text, declarations_text FROM runs WHERE id = ?1",
                [id.0],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
            )
            .map_err(&err)?;
        let evidence: ScanEvidence = decode(id, "evidence", &evidence)?;
        let assessment: Assessment = decode(id, "assessment", &assessment)?;
        let mut statement =
            conn.prepare_cached("SELECT json FROM events WHERE run_id = ?1 ORDER BY id").map_err(&err)?;
        let events = statement
            .query_map([id.0], |row| row.get::<_, String>(0))
            .map_err(&err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(&err)?
            .iter()
            .map(|json| decode(id, "event", json))
            .collect::<Result<Vec<Event>, _>>()?;
        Ok(StoredRun { info, evidence, assessment, profile_text, declarations_text, events })
    }

    /// Deletes the runs `retention` does not keep (with their verdicts, findings and events),
    /// in one transaction, and returns how many runs went. The newest run of every key stays.
    pub fn prune(&mut self, retention: &Retention) -> Result<usize, HistoryError> {
        if retention.keep_runs.is_none() && retention.keep_days.is_none() {
            return Ok(0);
        }
        let keep_runs = retention.keep_runs.map(|n| i64::try_from(n.max(1)).unwrap_or(i64::MAX));
        let cutoff = retention.keep_days.map(|days| to_db(retention.now.saturating_sub(days.saturating_mul(DAY))));
        let path = self.path.clone();
        let err = |e| sqlite_error(&path, e);
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err)?;
        let deleted = tx
            .execute(
                "DELETE FROM runs WHERE id IN (
                     SELECT id FROM (
                         SELECT id, finished_at,
                                ROW_NUMBER() OVER (PARTITION BY monitor_key ORDER BY finished_at DESC, id DESC) AS rank
                         FROM runs)
                     WHERE rank > 1 AND ((?1 IS NOT NULL AND rank > ?1) OR (?2 IS NOT NULL AND finished_at < ?2)))",
                params![keep_runs, cutoff],
            )
            .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(deleted)
    }

    /// SQLite's `PRAGMA integrity_check` plus a foreign-key check; `Ok` when both are clean.
    pub fn check_integrity(&self) -> Result<(), HistoryError> {
        let err = self.err();
        let mut problems = Vec::new();
        let mut statement = self.conn.prepare("PRAGMA integrity_check").map_err(&err)?;
        for line in statement.query_map([], |row| row.get::<_, String>(0)).map_err(&err)? {
            let line = line.map_err(&err)?;
            if line != "ok" {
                problems.push(line);
            }
        }
        let mut statement = self.conn.prepare("PRAGMA foreign_key_check").map_err(&err)?;
        for row in statement.query_map([], |row| row.get::<_, String>(0)).map_err(&err)? {
            problems.push(format!("orphan row in {}", row.map_err(&err)?));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(HistoryError::Damaged { path: self.path.clone(), problems: problems.join("; ") })
        }
    }

    fn finish_info(&self, conn: &Connection, row: InfoRow) -> Result<RunInfo, HistoryError> {
        let err = self.err();
        let id = RunId(row.id);
        let mut statement = conn
            .prepare_cached("SELECT status, COUNT(*) FROM item_verdicts WHERE run_id = ?1 GROUP BY status")
            .map_err(&err)?;
        let stored = statement
            .query_map([row.id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .map_err(&err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(&err)?;
        let mut counts: Vec<(ItemStatus, usize)> = ItemStatus::ALL.iter().map(|s| (*s, 0)).collect();
        for (status, count) in stored {
            let status: ItemStatus =
                serde_json::from_value(serde_json::Value::String(status.clone())).map_err(|_| {
                    HistoryError::Corrupt {
                        run: id,
                        what: "item status",
                        message: format!("unknown status {status:?}"),
                    }
                })?;
            if let Some(slot) = counts.iter_mut().find(|(s, _)| *s == status) {
                slot.1 = from_db(id, "item count", count)? as usize;
            }
        }
        Ok(RunInfo {
            id,
            key: row.key,
            started_at: from_db(id, "start time", row.started_at)?,
            finished_at: from_db(id, "finish time", row.finished_at)?,
            created_at: from_db(id, "creation time", row.created_at)?,
            kensa_version: row.kensa_version,
            profile_id: row.profile_id,
            profile_sha256: row.profile_sha256,
            exit_code: row.exit_code,
            counts,
            events: from_db(id, "event count", row.events)? as usize,
        })
    }
}

const INFO_SELECT: &str = "SELECT r.id, r.monitor_key, r.started_at, r.finished_at, r.created_at, r.kensa_version,
        r.profile_id, r.profile_sha256, r.exit_code, (SELECT COUNT(*) FROM events e WHERE e.run_id = r.id)
    FROM runs r";

/// A `runs` row as read, before its numbers are checked.
struct InfoRow {
    id: i64,
    key: String,
    started_at: i64,
    finished_at: i64,
    created_at: i64,
    kensa_version: String,
    profile_id: String,
    profile_sha256: String,
    exit_code: i32,
    events: i64,
}

fn info_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<InfoRow> {
    Ok(InfoRow {
        id: row.get(0)?,
        key: row.get(1)?,
        started_at: row.get(2)?,
        finished_at: row.get(3)?,
        created_at: row.get(4)?,
        kensa_version: row.get(5)?,
        profile_id: row.get(6)?,
        profile_sha256: row.get(7)?,
        exit_code: row.get(8)?,
        events: row.get(9)?,
    })
}

fn sqlite_error(path: &Path, error: rusqlite::Error) -> HistoryError {
    let path = path.to_path_buf();
    match error.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => HistoryError::NotADatabase { path },
        Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => HistoryError::Busy { path },
        _ => HistoryError::Sqlite { path, source: error },
    }
}

fn migration_error(path: &Path, error: schema::MigrationError) -> HistoryError {
    match error {
        schema::MigrationError::Sqlite(e) => sqlite_error(path, e),
        schema::MigrationError::TooNew { found } => {
            HistoryError::TooNew { path: path.to_path_buf(), found, known: schema::current_version() }
        }
        schema::MigrationError::Foreign(why) => HistoryError::Foreign { path: path.to_path_buf(), why },
    }
}

fn encode<T: Serialize>(what: &'static str, value: &T) -> Result<String, HistoryError> {
    serde_json::to_string(value).map_err(|e| HistoryError::Encode { what, message: e.to_string() })
}

fn decode<T: for<'de> Deserialize<'de>>(run: RunId, what: &'static str, json: &str) -> Result<T, HistoryError> {
    serde_json::from_str(json).map_err(|e| HistoryError::Corrupt { run, what, message: e.to_string() })
}

/// A unit enum's serde spelling (`non_compliant`, `measured`…): the stored words are the
/// ones the JSON reports use, so the two never disagree.
fn word<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// SQLite integers are signed; times past 2^63 s do not occur, so saturate rather than fail.
fn to_db(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn from_db(run: RunId, what: &'static str, value: i64) -> Result<u64, HistoryError> {
    u64::try_from(value).map_err(|_| HistoryError::Corrupt { run, what, message: format!("negative value {value}") })
}

fn now() -> UnixSeconds {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn format_time(seconds: UnixSeconds) -> String {
    i64::try_from(seconds)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| format!("{seconds} s after the epoch"))
}

/// One monitor per history database: an OS file lock on `<db>.lock`.
///
/// The lock is the kernel's (`flock`), not the file's existence, so it goes away with the
/// process however it ends — `kill -9` included — and a stale lock file is harmless. The
/// file is never deleted: removing it while another process has it open would let two
/// processes each lock a different file of the same name.
#[derive(Debug)]
pub struct MonitorLock {
    file: File,
    path: PathBuf,
}

impl MonitorLock {
    /// Takes the lock beside `db_path` for the monitor `key`, or says who holds it.
    pub fn acquire(db_path: &Path, key: &str) -> Result<MonitorLock, HistoryError> {
        let path = lock_path(db_path);
        let io = |source| HistoryError::LockIo { path: path.clone(), source };
        // Not truncated on open: the holder's pid is in there, and we may not get the lock.
        let mut file =
            OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut text = String::new();
                let holder = file.read_to_string(&mut text).ok().and_then(|_| parse_holder(&text));
                return Err(HistoryError::Locked { lock: path, holder });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        let holder = format!("pid={}\nkey={}\nsince={}\n", std::process::id(), key.replace('\n', " "), now());
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        file.write_all(holder.as_bytes()).map_err(io)?;
        file.flush().map_err(io)?;
        Ok(MonitorLock { file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for MonitorLock {
    fn drop(&mut self) {
        // Cleared so a later reader never names a process that is gone; closing the file
        // releases the lock anyway, the explicit unlock only makes the order plain.
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

/// The lock file of the database at `db_path`: the same name with `.lock` appended.
pub fn lock_path(db_path: &Path) -> PathBuf {
    let mut name = db_path.as_os_str().to_os_string();
    name.push(".lock");
    PathBuf::from(name)
}

fn parse_holder(text: &str) -> Option<LockHolder> {
    let field =
        |name: &str| text.lines().find_map(|line| line.strip_prefix(name).and_then(|rest| rest.strip_prefix('=')));
    Some(LockHolder {
        pid: field("pid")?.trim().parse().ok()?,
        key: field("key").unwrap_or_default().to_string(),
        since: field("since").and_then(|s| s.trim().parse().ok()).unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_holder_reads_back_and_tolerates_junk() {
        let holder = parse_holder("pid=42\nkey=kensa.toml\nsince=1700000000\n").expect("holder");
        assert_eq!(holder, LockHolder { pid: 42, key: "kensa.toml".into(), since: 1_700_000_000 });
        assert!(holder.to_string().contains("pid 42"));
        assert_eq!(parse_holder(""), None);
        assert_eq!(parse_holder("pid=many\n"), None);
    }

    #[test]
    fn run_ids_parse_as_kensa_show_takes_them() {
        assert_eq!("12".parse::<RunId>(), Ok(RunId(12)));
        assert!("0".parse::<RunId>().is_err());
        assert!("x".parse::<RunId>().is_err());
    }

    #[test]
    fn lock_path_is_beside_the_database() {
        assert_eq!(lock_path(Path::new("/var/lib/kensa/history.db")), PathBuf::from("/var/lib/kensa/history.db.lock"));
    }
}
