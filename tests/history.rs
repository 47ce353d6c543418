//! The monitoring history store: round trips, ordering, retention, migrations, refusals,
//! concurrent writers, the monitor lock, and a process killed with SIGKILL mid-write.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use kensa::evidence::ScanEvidence;
use kensa::history::{schema, History, HistoryError, MonitorLock, NewRun, Retention, RunId};
use kensa::i18n::Text;
use kensa::monitor::event::{Event, EventKind, Severity};
use kensa::profile::{Profile, DEFAULT_PROFILE_NAME};
use kensa::testkit::TempDir;
use kensa::verdict::Assessment;

/// Env var naming the database a child test process writes to.
const CHILD_DB: &str = "KENSA_HISTORY_CHILD_DB";
/// Printed by a child once it is under way.
const READY: &str = "KENSA-HISTORY-CHILD-READY";

struct Sample {
    evidence: ScanEvidence,
    assessment: Assessment,
    profile: Profile,
    profile_text: String,
    events: Vec<Event>,
}

fn sample(fixture: &str) -> Sample {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/evidence").join(fixture);
    let evidence: ScanEvidence =
        serde_json::from_str(&std::fs::read_to_string(path).expect("fixture readable")).expect("fixture parses");
    let profile = Profile::embedded();
    let assessment = Assessment::evaluate(&profile, &evidence);
    let profile_text = Profile::embedded_text("mhlw-online-2023").expect("embedded text").to_string();
    let at = evidence.finished_at;
    let events = vec![
        Event {
            kind: EventKind::NewFailure,
            severity: Severity::Critical,
            subject: "example.jp [192.0.2.1]:443".into(),
            item_id: Some("tls-version".into()),
            check_id: Some("protocol.tls10".into()),
            before: Some("pass".into()),
            after: Some("fail".into()),
            message: Text::new("TLS 1.0 is accepted again", "TLS 1.0 が再び受け入れられています"),
            at,
        },
        Event {
            kind: EventKind::SuitesAdded {
                version: "TLS 1.2".into(),
                suites: vec!["TLS_RSA_WITH_AES_128_CBC_SHA".into()],
            },
            severity: Severity::Warning,
            subject: "example.jp [192.0.2.1]:443".into(),
            item_id: None,
            check_id: None,
            before: None,
            after: None,
            message: Text::new("a suite was added", "暗号スイートが追加されました"),
            at,
        },
        Event {
            kind: EventKind::CertificateExpiry { threshold_days: 14 },
            severity: Severity::Warning,
            subject: "example.jp".into(),
            item_id: None,
            check_id: None,
            before: Some("31".into()),
            after: Some("13".into()),
            message: Text::new("certificate expires in 13 days", "証明書の期限まで13日"),
            at,
        },
    ];
    Sample { evidence, assessment, profile, profile_text, events }
}

impl Sample {
    fn run<'a>(&'a self, key: &'a str, evidence: &'a ScanEvidence) -> NewRun<'a> {
        NewRun {
            key,
            evidence,
            assessment: &self.assessment,
            profile_id: &self.profile.meta.id,
            profile_sha256: &self.profile.sha256,
            profile_text: &self.profile_text,
            declarations_text: Some("# no declarations\n"),
            events: &self.events,
            exit_code: self.assessment.exit_code(),
        }
    }

    /// The evidence with its finish time moved to `finished_at`.
    fn at(&self, finished_at: u64) -> ScanEvidence {
        let mut evidence = self.evidence.clone();
        evidence.finished_at = finished_at;
        evidence
    }

    /// Rows a complete run has in (item_verdicts, findings, events).
    fn rows(&self) -> (i64, i64, i64) {
        (self.assessment.items.len() as i64, self.assessment.findings.len() as i64, self.events.len() as i64)
    }
}

fn json<T: serde::Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).expect("serialise")
}

/// Rows per run in each child table, straight from SQLite.
fn child_rows(db: &Path) -> Vec<(i64, i64, i64, i64)> {
    let conn = rusqlite::Connection::open(db).expect("open raw");
    let mut statement = conn
        .prepare(
            "SELECT r.id,
                    (SELECT COUNT(*) FROM item_verdicts v WHERE v.run_id = r.id),
                    (SELECT COUNT(*) FROM findings f WHERE f.run_id = r.id),
                    (SELECT COUNT(*) FROM events e WHERE e.run_id = r.id)
             FROM runs r ORDER BY r.id",
        )
        .expect("prepare");
    let rows = statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)))
        .expect("query")
        .collect::<Result<Vec<_>, _>>()
        .expect("rows");
    rows
}

fn orphans(db: &Path) -> i64 {
    let conn = rusqlite::Connection::open(db).expect("open raw");
    conn.query_row(
        "SELECT (SELECT COUNT(*) FROM item_verdicts WHERE run_id NOT IN (SELECT id FROM runs))
              + (SELECT COUNT(*) FROM findings WHERE run_id NOT IN (SELECT id FROM runs))
              + (SELECT COUNT(*) FROM events WHERE run_id NOT IN (SELECT id FROM runs))",
        [],
        |row| row.get(0),
    )
    .expect("count")
}

#[test]
fn a_run_round_trips_whole() {
    let dir = TempDir::new("history-roundtrip").expect("dir");
    let db = dir.path().join("history.db");
    let s = sample("expired-certificate.json");
    let mut history = History::open(&db).expect("open");
    let id = history.record(&s.run("kensa.toml", &s.evidence)).expect("record");

    let stored = history.load(id).expect("load");
    assert_eq!(stored.evidence, s.evidence);
    assert_eq!(json(&stored.assessment), json(&s.assessment));
    assert_eq!(stored.events, s.events);
    assert_eq!(stored.profile_text, s.profile_text);
    assert_eq!(stored.declarations_text.as_deref(), Some("# no declarations\n"));
    assert_eq!(stored.info.id, id);
    assert_eq!(stored.info.key, "kensa.toml");
    assert_eq!(stored.info.counts, s.assessment.counts());
    assert_eq!(stored.info.events, s.events.len());
    assert_eq!(stored.info.exit_code, s.assessment.exit_code());
    assert_eq!(stored.info.finished_at, s.evidence.finished_at);
    assert_eq!(stored.info.profile_id, s.profile.meta.id);
    assert_eq!(stored.info.profile_sha256, s.profile.sha256);
    // A stored assessment renders the same as a fresh one: judging the stored evidence again
    // with the stored profile text gives the same verdicts.
    let profile = Profile::parse(&stored.profile_text, DEFAULT_PROFILE_NAME).expect("stored profile parses");
    assert_eq!(json(&Assessment::evaluate(&profile, &stored.evidence).items), json(&stored.assessment.items));

    let missing = history.load(RunId(id.0 + 100)).expect_err("no such run");
    assert!(matches!(missing, HistoryError::NoSuchRun(_)));
    assert!(missing.to_string().contains(&format!("no run {}", id.0 + 100)), "{missing}");
    history.check_integrity().expect("integrity");
}

#[test]
fn a_stored_value_that_no_longer_reads_names_its_run() {
    let dir = TempDir::new("history-corrupt").expect("dir");
    let db = dir.path().join("history.db");
    let s = sample("tls13-only.json");
    let mut history = History::open(&db).expect("open");
    let good = history.record(&s.run("a", &s.at(1))).expect("good");
    let bad_evidence = history.record(&s.run("a", &s.at(2))).expect("bad evidence");
    let bad_event = history.record(&s.run("a", &s.at(3))).expect("bad event");
    let bad_status = history.record(&s.run("b", &s.at(4))).expect("bad status");
    {
        let conn = rusqlite::Connection::open(&db).expect("raw");
        conn.execute("UPDATE runs SET evidence = '{\"schema\": 7' WHERE id = ?1", [bad_evidence.0]).expect("edit");
        conn.execute("UPDATE events SET json = 'null' WHERE run_id = ?1", [bad_event.0]).expect("edit");
        conn.execute("UPDATE item_verdicts SET status = 'splendid' WHERE run_id = ?1", [bad_status.0]).expect("edit");
    }
    history.load(good).expect("the untouched run still loads");
    for (id, what) in [(bad_evidence, "evidence"), (bad_event, "event"), (bad_status, "item status")] {
        let error = history.load(id).expect_err("corrupt");
        assert!(matches!(&error, HistoryError::Corrupt { run, .. } if *run == id), "{error:?}");
        let message = error.to_string();
        assert!(message.contains(&format!("run {id}")) && message.contains(what), "{message}");
    }
    // Listing reads no JSON, so runs with damaged evidence are still listed.
    assert_eq!(history.runs(Some("a"), usize::MAX).expect("list").len(), 3);
}

#[test]
fn runs_are_listed_newest_first_per_key() {
    let dir = TempDir::new("history-order").expect("dir");
    let db = dir.path().join("history.db");
    let s = sample("tls13-only.json");
    let mut history = History::open(&db).expect("open");
    // Recorded out of order on purpose: the list follows the scan's finish time.
    let a1 = history.record(&s.run("a", &s.at(1_000))).expect("a1");
    let a3 = history.record(&s.run("a", &s.at(3_000))).expect("a3");
    let b2 = history.record(&s.run("b", &s.at(2_000))).expect("b2");
    let a2 = history.record(&s.run("a", &s.at(2_500))).expect("a2");

    let all: Vec<RunId> = history.runs(None, usize::MAX).expect("all").iter().map(|r| r.id).collect();
    assert_eq!(all, vec![a3, a2, b2, a1]);
    let a: Vec<RunId> = history.runs(Some("a"), 2).expect("a").iter().map(|r| r.id).collect();
    assert_eq!(a, vec![a3, a2]);
    let b = history.runs(Some("b"), 10).expect("b");
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].key, "b");
    assert!(history.runs(Some("c"), 10).expect("c").is_empty());

    let recent = history.recent("a", 2).expect("recent");
    assert_eq!(recent.iter().map(|r| r.info.id).collect::<Vec<_>>(), vec![a3, a2]);
    assert_eq!(recent[0].evidence.finished_at, 3_000);
}

#[test]
fn prune_keeps_the_newest_runs_per_key_and_cascades() {
    let dir = TempDir::new("history-prune-runs").expect("dir");
    let db = dir.path().join("history.db");
    let s = sample("tls12-only.json");
    let mut history = History::open(&db).expect("open");
    let a: Vec<RunId> = (1..=5).map(|i| history.record(&s.run("a", &s.at(i * 100))).expect("a")).collect();
    let b: Vec<RunId> = (1..=2).map(|i| history.record(&s.run("b", &s.at(i * 100))).expect("b")).collect();

    let pruned = history.prune(&Retention { keep_runs: Some(2), keep_days: None, now: 0 }).expect("prune");
    assert_eq!(pruned, 3);
    let left: Vec<RunId> = history.runs(None, usize::MAX).expect("runs").iter().map(|r| r.id).collect();
    assert_eq!(left, vec![a[4], a[3], b[1], b[0]]);
    assert_eq!(orphans(&db), 0, "verdicts, findings and events of pruned runs go with them");
    let (items, findings, events) = s.rows();
    for row in child_rows(&db) {
        assert_eq!((row.1, row.2, row.3), (items, findings, events), "run {} is whole", row.0);
    }

    // Zero still keeps the newest run of every key.
    let pruned = history.prune(&Retention { keep_runs: Some(0), keep_days: None, now: 0 }).expect("prune");
    assert_eq!(pruned, 2);
    let left: Vec<RunId> = history.runs(None, usize::MAX).expect("runs").iter().map(|r| r.id).collect();
    assert_eq!(left, vec![a[4], b[1]]);
    assert_eq!(history.prune(&Retention::default()).expect("no retention"), 0);
}

#[test]
fn prune_by_days_never_empties_a_key() {
    let dir = TempDir::new("history-prune-days").expect("dir");
    let db = dir.path().join("history.db");
    let s = sample("tls12-only.json");
    let day = 86_400;
    let now = 1_800_000_000;
    let mut history = History::open(&db).expect("open");
    let _old = history.record(&s.run("a", &s.at(now - 10 * day))).expect("old");
    let _mid = history.record(&s.run("a", &s.at(now - 5 * day))).expect("mid");
    let recent = history.record(&s.run("a", &s.at(now - day))).expect("recent");
    let _stale1 = history.record(&s.run("b", &s.at(now - 40 * day))).expect("stale1");
    let stale2 = history.record(&s.run("b", &s.at(now - 30 * day))).expect("stale2");

    let pruned = history.prune(&Retention { keep_runs: None, keep_days: Some(3), now }).expect("prune");
    assert_eq!(pruned, 3);
    let left: Vec<RunId> = history.runs(None, usize::MAX).expect("runs").iter().map(|r| r.id).collect();
    assert_eq!(left, vec![recent, stale2], "b's newest run stays although it is older than 3 days");
    assert_eq!(orphans(&db), 0);
}

#[test]
fn an_old_empty_database_is_migrated() {
    let dir = TempDir::new("history-migrate").expect("dir");
    // A version-0 SQLite file with pages but no tables, and a zero-byte file.
    let v0 = dir.path().join("v0.db");
    {
        let conn = rusqlite::Connection::open(&v0).expect("create");
        conn.execute_batch("CREATE TABLE scratch (x); DROP TABLE scratch;").expect("touch");
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).expect("version");
        assert_eq!(version, 0);
    }
    let empty = dir.write("empty.db", b"").expect("empty");
    let s = sample("tls13-only.json");
    for db in [v0, empty] {
        let mut history = History::open(&db).expect("open migrates");
        history.record(&s.run("a", &s.evidence)).expect("record after migration");
        drop(history);
        let conn = rusqlite::Connection::open(&db).expect("raw");
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).expect("version");
        assert_eq!(version, schema::current_version());
        let mode: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0)).expect("mode");
        assert_eq!(mode, "wal");
        // Opening again applies nothing twice.
        History::open(&db).expect("reopen");
    }
}

#[test]
fn a_newer_database_is_refused_untouched() {
    let dir = TempDir::new("history-newer").expect("dir");
    let db = dir.path().join("history.db");
    drop(History::open(&db).expect("create"));
    let future = schema::current_version() + 5;
    {
        let conn = rusqlite::Connection::open(&db).expect("raw");
        conn.pragma_update(None, "user_version", future).expect("bump");
    }
    let error = History::open(&db).expect_err("refused");
    assert!(matches!(error, HistoryError::TooNew { found, .. } if found == future));
    let message = error.to_string();
    assert!(message.contains("newer kensa") && message.contains("refusing to write"), "{message}");
    let conn = rusqlite::Connection::open(&db).expect("raw");
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).expect("version");
    assert_eq!(version, future);
}

#[test]
fn files_that_are_not_history_databases_are_refused() {
    let dir = TempDir::new("history-refuse").expect("dir");
    let text = dir.write("notes.txt", "this is not a database\n".repeat(100)).expect("text");
    let error = History::open(&text).expect_err("text refused");
    assert!(matches!(error, HistoryError::NotADatabase { .. }), "{error:?}");
    assert!(error.to_string().contains("not a SQLite database"), "{error}");
    assert_eq!(std::fs::read_to_string(&text).expect("still there"), "this is not a database\n".repeat(100));

    let short = dir.write("short.bin", [0xffu8, 0, 1, 2]).expect("short");
    assert!(matches!(History::open(&short), Err(HistoryError::NotADatabase { .. })));

    let foreign = dir.path().join("other.db");
    rusqlite::Connection::open(&foreign).expect("raw").execute_batch("CREATE TABLE notes (body TEXT)").expect("create");
    let error = History::open(&foreign).expect_err("foreign refused");
    assert!(matches!(error, HistoryError::Foreign { .. }), "{error:?}");
    assert!(error.to_string().contains("not a kensa history database"), "{error}");

    let error = History::open(dir.path()).expect_err("directory refused");
    assert!(matches!(error, HistoryError::NotAFile { .. }), "{error:?}");

    let missing = dir.path().join("no/such/dir/history.db");
    let error = History::open(&missing).expect_err("missing directory");
    assert!(error.to_string().contains("does not exist"), "{error}");
    assert!(!dir.path().join("no").exists(), "kensa creates no directories");
}

#[test]
fn two_writers_on_one_database_wait_for_each_other() {
    let dir = TempDir::new("history-concurrent").expect("dir");
    let db = dir.path().join("history.db");
    drop(History::open(&db).expect("create"));
    let per_thread = 8;
    let handles: Vec<_> = ["left", "right"]
        .into_iter()
        .map(|key| {
            let db = db.clone();
            std::thread::spawn(move || -> Result<(), HistoryError> {
                let s = sample("tls13-only.json");
                let mut history = History::open(&db)?;
                for i in 0..per_thread {
                    history.record(&s.run(key, &s.at(1_000 + i)))?;
                    history.prune(&Retention { keep_runs: Some(100), keep_days: None, now: 0 })?;
                }
                Ok(())
            })
        })
        .collect();
    for handle in handles {
        handle.join().expect("thread").expect("no error: writers wait thanks to busy_timeout");
    }
    let history = History::open(&db).expect("open");
    assert_eq!(history.runs(Some("left"), usize::MAX).expect("left").len(), per_thread as usize);
    assert_eq!(history.runs(Some("right"), usize::MAX).expect("right").len(), per_thread as usize);
    history.check_integrity().expect("integrity");
}

#[test]
fn a_second_monitor_is_told_who_holds_the_lock() {
    let dir = TempDir::new("history-lock").expect("dir");
    let db = dir.path().join("history.db");
    let first = MonitorLock::acquire(&db, "kensa.toml").expect("first");
    assert_eq!(first.path(), dir.path().join("history.db.lock"));
    let error = MonitorLock::acquire(&db, "other.toml").expect_err("second refused");
    match &error {
        HistoryError::Locked { lock, holder } => {
            assert_eq!(lock, first.path());
            let holder = holder.as_ref().expect("holder read");
            assert_eq!(holder.pid, std::process::id());
            assert_eq!(holder.key, "kensa.toml");
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    let message = error.to_string();
    assert!(
        message.contains("history.db.lock") && message.contains(&format!("pid {}", std::process::id())),
        "{message}"
    );
    drop(first);
    MonitorLock::acquire(&db, "other.toml").expect("free after drop");
}

/// Starts this test binary running only the ignored child test `name` against `db`, and
/// waits until it says it is under way.
fn spawn_child(name: &str, db: &Path) -> Child {
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", name, "--ignored", "--nocapture", "--test-threads", "1"])
        .env(CHILD_DB, db)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line.contains(READY) {
                let _ = tx.send(());
            }
        }
    });
    if rx.recv_timeout(Duration::from_secs(60)).is_err() {
        let _ = child.kill();
        let _ = child.wait();
        panic!("child {name} never got under way");
    }
    child
}

/// Between 50 and 400 ms, different each iteration and each test run.
fn jittered_delay(iteration: u64) -> Duration {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    Duration::from_millis(50 + (iteration * 83 + u64::from(nanos) % 97) % 351)
}

#[test]
fn sigkill_mid_write_leaves_whole_runs_and_earlier_runs_intact() {
    let dir = TempDir::new("history-crash").expect("dir");
    let db = dir.path().join("history.db");
    let s = sample("compliant-tls12-tls13.json");
    let earlier: Vec<RunId> = {
        let mut history = History::open(&db).expect("open");
        (0..3).map(|i| history.record(&s.run("earlier", &s.at(500 + i))).expect("earlier")).collect()
    };
    let complete = s.rows();
    let child_sample = sample(CHILD_FIXTURE);
    let child_complete = child_sample.rows();
    let mut highest_child_run = 0;

    for iteration in 0..5 {
        let mut child = spawn_child("child_writes_runs_until_killed", &db);
        std::thread::sleep(jittered_delay(iteration));
        child.kill().expect("SIGKILL");
        let status = child.wait().expect("reaped");
        assert!(!status.success(), "the child was killed, not finished");

        let history = History::open(&db).expect("reopens after a kill");
        history.check_integrity().expect("integrity_check is ok");
        let runs = history.runs(None, usize::MAX).expect("runs");
        for row in child_rows(&db) {
            let key = runs.iter().find(|r| r.id.0 == row.0).map(|r| r.key.as_str());
            let expected = if key == Some("earlier") { complete } else { child_complete };
            assert_eq!((row.1, row.2, row.3), expected, "iteration {iteration}: run {} is whole", row.0);
        }
        assert_eq!(orphans(&db), 0);
        for id in &earlier {
            let stored = history.load(*id).expect("earlier run loads");
            assert_eq!(stored.evidence.targets, s.evidence.targets);
            assert_eq!(json(&stored.assessment), json(&s.assessment));
            assert_eq!(stored.events, s.events);
        }
        eprintln!(
            "iteration {iteration}: {} child runs visible, highest run id {}",
            runs.iter().filter(|r| r.key == "child").count(),
            runs.iter().map(|r| r.id.0).max().unwrap_or(0)
        );
        for info in runs.iter().filter(|r| r.key == "child") {
            history.load(info.id).expect("every child run that is visible loads");
            highest_child_run = highest_child_run.max(info.id.0);
        }
    }
    assert!(highest_child_run > 0, "the children wrote something before being killed");
}

/// The child's evidence: large, so a good share of its time is spent inside transactions.
const CHILD_FIXTURE: &str = "openssl-tls10-to-tls13.json";

#[test]
#[ignore = "run by sigkill_mid_write_leaves_whole_runs_and_earlier_runs_intact in a child process"]
fn child_writes_runs_until_killed() {
    let Some(db) = std::env::var_os(CHILD_DB).map(PathBuf::from) else { return };
    let s = sample(CHILD_FIXTURE);
    let mut history = History::open(&db).expect("child open");
    println!("{READY}");
    let started = Instant::now();
    // Bounded so a parent that failed to kill us does not leave us running for ever.
    for i in 0u64.. {
        if started.elapsed() > Duration::from_secs(60) {
            break;
        }
        history.record(&s.run("child", &s.at(10_000 + i))).expect("child record");
        if i % 5 == 4 {
            // Deletes are killed halfway too.
            history.prune(&Retention { keep_runs: Some(10), keep_days: None, now: 0 }).expect("child prune");
        }
    }
}

#[test]
fn a_killed_monitor_leaves_no_stale_lock() {
    let dir = TempDir::new("history-lock-kill").expect("dir");
    let db = dir.path().join("history.db");
    let mut child = spawn_child("child_holds_the_lock_until_killed", &db);
    let error = MonitorLock::acquire(&db, "parent").expect_err("the child holds it");
    match &error {
        HistoryError::Locked { holder: Some(holder), .. } => assert_eq!(holder.pid, child.id()),
        other => panic!("expected Locked naming the child, got {other:?}"),
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    let lock = MonitorLock::acquire(&db, "parent").expect("the OS released the dead child's lock");
    drop(lock);
}

#[test]
#[ignore = "run by a_killed_monitor_leaves_no_stale_lock in a child process"]
fn child_holds_the_lock_until_killed() {
    let Some(db) = std::env::var_os(CHILD_DB).map(PathBuf::from) else { return };
    let _lock = MonitorLock::acquire(&db, "child").expect("child lock");
    println!("{READY}");
    std::thread::sleep(Duration::from_secs(60));
}
