//! The history database's schema, as numbered migrations.
//!
//! `PRAGMA user_version` holds the number of migrations applied. Each step runs in its own
//! `BEGIN IMMEDIATE` transaction together with the version bump, so a process killed during
//! a migration leaves the database at the previous version, never between two. Steps are
//! only ever appended: a released step is never edited, because databases in the field
//! already ran it.

use rusqlite::{Connection, TransactionBehavior};

/// `PRAGMA application_id` of a kensa history database ("kens" in ASCII), so a SQLite file
/// made by another program is refused instead of being written into.
pub const APPLICATION_ID: i32 = 0x6b65_6e73;

/// The migrations, in order: step `i` takes the database from version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    // 1: runs with their evidence, verdicts, findings and events.
    "
    CREATE TABLE runs (
        id                INTEGER PRIMARY KEY,
        monitor_key       TEXT    NOT NULL,
        started_at        INTEGER NOT NULL,
        finished_at       INTEGER NOT NULL,
        kensa_version     TEXT    NOT NULL,
        profile_id        TEXT    NOT NULL,
        profile_sha256    TEXT    NOT NULL,
        exit_code         INTEGER NOT NULL,
        evidence          TEXT    NOT NULL,
        assessment        TEXT    NOT NULL,
        profile_text      TEXT    NOT NULL,
        declarations_text TEXT,
        created_at        INTEGER NOT NULL
    );
    CREATE INDEX runs_by_key ON runs (monitor_key, finished_at);
    CREATE INDEX runs_by_finish ON runs (finished_at);

    CREATE TABLE item_verdicts (
        id        INTEGER PRIMARY KEY,
        run_id    INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        item_id   TEXT    NOT NULL,
        status    TEXT    NOT NULL,
        basis     TEXT    NOT NULL,
        reason_en TEXT    NOT NULL,
        reason_ja TEXT    NOT NULL
    );
    -- Every child table is indexed on run_id: cascading deletes would scan the table otherwise.
    CREATE INDEX item_verdicts_by_run ON item_verdicts (run_id);

    CREATE TABLE findings (
        id          INTEGER PRIMARY KEY,
        run_id      INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        item_id     TEXT    NOT NULL,
        check_id    TEXT    NOT NULL,
        endpoint    TEXT    NOT NULL,
        status      TEXT    NOT NULL,
        raised_from TEXT,
        message_en  TEXT    NOT NULL,
        message_ja  TEXT    NOT NULL
    );
    CREATE INDEX findings_by_run ON findings (run_id);

    CREATE TABLE events (
        id         INTEGER PRIMARY KEY,
        run_id     INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        kind       TEXT    NOT NULL,
        severity   TEXT    NOT NULL,
        subject    TEXT    NOT NULL,
        item_id    TEXT,
        check_id   TEXT,
        before     TEXT,
        after      TEXT,
        message_en TEXT    NOT NULL,
        message_ja TEXT    NOT NULL,
        at         INTEGER NOT NULL,
        json       TEXT    NOT NULL
    );
    CREATE INDEX events_by_run ON events (run_id);
    ",
];

/// The schema version this kensa writes.
pub fn current_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// Why a database cannot be brought to the current schema.
#[derive(Debug)]
pub enum MigrationError {
    /// SQLite failed.
    Sqlite(rusqlite::Error),
    /// The database is at a version this kensa does not know.
    TooNew { found: i64 },
    /// The file is a SQLite database of another program.
    Foreign(String),
}

impl From<rusqlite::Error> for MigrationError {
    fn from(e: rusqlite::Error) -> Self {
        MigrationError::Sqlite(e)
    }
}

/// Brings `conn` to [`current_version`], one transaction per step.
pub fn migrate(conn: &mut Connection) -> Result<(), MigrationError> {
    // Checked before any write so that a newer or foreign database is never touched.
    check_ownership(conn)?;
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Read again under the write lock: another process may have migrated meanwhile.
        check_ownership(&tx)?;
        let version: i64 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
        let Some(step) = usize::try_from(version).ok().and_then(|v| MIGRATIONS.get(v)) else {
            // Already current (a newer version was refused by check_ownership).
            return Ok(());
        };
        tx.execute_batch(step)?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.pragma_update(None, "application_id", APPLICATION_ID)?;
        tx.commit()?;
    }
}

/// Refuses a database made by a newer kensa or by another program. Only reads.
pub fn check_ownership(conn: &Connection) -> Result<(), MigrationError> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if version > current_version() || version < 0 {
        return Err(MigrationError::TooNew { found: version });
    }
    let application_id: i32 = conn.pragma_query_value(None, "application_id", |row| row.get(0))?;
    if application_id != APPLICATION_ID && application_id != 0 {
        return Err(MigrationError::Foreign(format!("its application id is {application_id:#x}")));
    }
    if application_id == 0 && version == 0 {
        // A version-0 database is only ours to set up if it is empty: tables there belong to
        // someone else, and creating ours beside them would mix two programs' data.
        let tables: i64 =
            conn.query_row("SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table'", [], |row| row.get(0))?;
        if tables > 0 {
            return Err(MigrationError::Foreign(format!("it already holds {tables} table(s) of another program")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_step_is_applied_once_and_bumps_the_version() {
        let mut conn = Connection::open_in_memory().expect("open");
        migrate(&mut conn).expect("migrate");
        let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0)).expect("version");
        assert_eq!(version, current_version());
        // A second pass is a no-op: no step runs twice (CREATE TABLE would fail if it did).
        migrate(&mut conn).expect("migrate again");
        let id: i32 = conn.pragma_query_value(None, "application_id", |row| row.get(0)).expect("id");
        assert_eq!(id, APPLICATION_ID);
    }

    #[test]
    fn refuses_newer_and_foreign_databases() {
        let mut newer = Connection::open_in_memory().expect("open");
        newer.pragma_update(None, "user_version", current_version() + 1).expect("set");
        assert!(matches!(migrate(&mut newer), Err(MigrationError::TooNew { .. })));

        let mut foreign = Connection::open_in_memory().expect("open");
        foreign.execute_batch("CREATE TABLE notes (body TEXT)").expect("create");
        assert!(matches!(migrate(&mut foreign), Err(MigrationError::Foreign(_))));

        let mut other_app = Connection::open_in_memory().expect("open");
        other_app.pragma_update(None, "application_id", 42).expect("set");
        assert!(matches!(migrate(&mut other_app), Err(MigrationError::Foreign(_))));
    }
}
