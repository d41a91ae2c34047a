//! The history of monitor runs, in an embedded `SQLite` database.
//!
//! Safety against crashes and against a second monitor on the same file:
//! - every run is written in one transaction (`BEGIN IMMEDIATE`), after its audits finished:
//!   a run killed at any point is either stored whole or not at all;
//! - WAL journal mode, so that readers (`mailaudit history`) never block the writer and a crash
//!   leaves the database consistent;
//! - a busy timeout, so that a second monitor waits for the first one's transaction instead of
//!   failing with "database is locked"; the previous run each diff compares with is read inside
//!   the same transaction, so two monitors never both compare with the same older run.
//!
//! The schema has a version table and numbered migrations; a database written by a newer
//! mailaudit is refused rather than misread.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use rusqlite::{
    Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior, params,
};
use serde::Serialize;

use super::diff::{self, Change, Listing, Snapshot};
use crate::finding::Severity;
use crate::report::{TargetKind, TargetReport};

/// How long a writer waits for another one's transaction before giving up. A monitor's write
/// is short (the audits run before it), so this is generous.
const BUSY_TIMEOUT: Duration = Duration::from_mins(2);

/// The schema, one migration a version: migration `i` brings the database to version `i + 1`.
/// Shipped migrations are never edited; a change is a new migration.
const MIGRATIONS: &[&str] = &[
    // Version 1.
    "CREATE TABLE runs (
        id          INTEGER PRIMARY KEY,
        started_ms  INTEGER NOT NULL,   -- Unix time, milliseconds
        finished_ms INTEGER NOT NULL,
        config      TEXT NOT NULL,      -- the monitor.toml the run read
        targets     INTEGER NOT NULL,
        changes     INTEGER NOT NULL,
        worse       INTEGER NOT NULL    -- changes that made things worse
    );
    -- Full JSON reports, shared by consecutive runs whose report did not change.
    CREATE TABLE reports (
        id   INTEGER PRIMARY KEY,
        json TEXT NOT NULL
    );
    CREATE TABLE observations (
        run_id    INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        target    TEXT NOT NULL,
        kind      TEXT NOT NULL,        -- domain | ip
        score     INTEGER NOT NULL,
        grade     TEXT NOT NULL,
        snapshot  TEXT NOT NULL,        -- JSON: what the next run compares with
        report_id INTEGER NOT NULL REFERENCES reports(id),
        PRIMARY KEY (target, run_id)
    );
    CREATE TABLE changes (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        target TEXT NOT NULL,
        seq    INTEGER NOT NULL,
        worse  INTEGER NOT NULL,
        change TEXT NOT NULL,           -- JSON
        PRIMARY KEY (target, run_id, seq)
    );
    CREATE INDEX observations_by_run ON observations(run_id);
    CREATE INDEX changes_by_run ON changes(run_id);",
    // Version 2: what was known after each run, every fact this run could not determine
    // carried from the last run that knew it; the next run is compared with it. Rows from
    // version 1 have none and are compared through their snapshot.
    "ALTER TABLE observations ADD COLUMN known TEXT;",
    // Version 3: DMARC aggregate reports stored by `mailaudit reports --db`, each once by
    // (reporter, report ID), and every source IP seen failing DMARC per policy domain. A
    // source first seen failing after the domain's first stored reports is new: the next
    // monitor run of the domain reports it (`announced_run`) as a change.
    "CREATE TABLE dmarc_reports (
        id        INTEGER PRIMARY KEY,
        reporter  TEXT NOT NULL,
        report_id TEXT NOT NULL,
        domain    TEXT NOT NULL,
        begin_s   INTEGER NOT NULL,   -- the start of the report's period, Unix time
        stored_ms INTEGER NOT NULL,
        json      TEXT NOT NULL,      -- the parsed report (mail-auth's model)
        UNIQUE (reporter, report_id)
    );
    CREATE TABLE dmarc_failing_sources (
        domain        TEXT NOT NULL,
        ip            TEXT NOT NULL,
        messages      INTEGER NOT NULL, -- failing messages in the report that showed it first
        first_report  INTEGER NOT NULL REFERENCES dmarc_reports(id),
        new           INTEGER NOT NULL, -- 0: among the domain's first stored reports
        announced_run INTEGER REFERENCES runs(id) ON DELETE SET NULL,
        PRIMARY KEY (domain, ip)
    );",
];

/// The schema version this build writes.
#[allow(clippy::cast_possible_wrap)] // a handful of migrations
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// An open history database.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// Read as an immutable file (see [`Store::open_read_only`]): the size and modification
    /// time it had, which must not change until the reading is done.
    immutable: Option<(u64, SystemTime)>,
}

/// A run as stored.
#[derive(Clone, Debug, Serialize)]
pub struct RunInfo {
    pub id: i64,
    /// Unix time in milliseconds.
    pub started_ms: i64,
    pub finished_ms: i64,
}

/// What storing a run found.
#[derive(Clone, Debug)]
pub struct SavedRun {
    pub run: RunInfo,
    /// Every change since each target's previous run, targets in the order given.
    pub changes: Vec<Change>,
    /// Targets with no previous run: this run is their baseline.
    pub baselines: Vec<String>,
    /// Each target's snapshot, in the order given.
    pub snapshots: Vec<Snapshot>,
}

/// One run of one target, for `mailaudit history`.
#[derive(Clone, Debug, Serialize)]
pub struct TimelineEntry {
    pub run: i64,
    pub started_ms: i64,
    pub finished_ms: i64,
    pub kind: String,
    pub grade: String,
    pub score: i64,
    /// The lists that listed the target (or an MX host's domain) at this run.
    pub listed_on: Vec<Listing>,
    /// The first stored run of the target: nothing to compare with.
    pub baseline: bool,
    pub changes: Vec<Change>,
}

impl Store {
    /// Opens the database at `path` for `mailaudit monitor`, creating it (and its directory) if
    /// needed, and brings its schema up to date. Another program's database (tables, but not
    /// ours) is refused before anything is written to it.
    pub fn open(path: &Path) -> anyhow::Result<Store> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the directory '{}'", dir.display()))?;
        }
        let describe = || format!("cannot open the history database '{}'", path.display());
        let mut conn =
            Connection::open_with_flags(path, OpenFlags::default()).with_context(describe)?;
        conn.busy_timeout(BUSY_TIMEOUT).with_context(describe)?;
        match Layout::of(&conn, path)? {
            Layout::Empty | Layout::History => {}
            Layout::Foreign => bail!(not_ours(path, "it holds another program's tables")),
        }
        set_wal(&conn).with_context(describe)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .with_context(describe)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .with_context(describe)?;
        migrate(&mut conn).with_context(describe)?;
        Ok(Store {
            conn,
            path: path.to_owned(),
            immutable: None,
        })
    }

    /// Opens an existing history for `mailaudit history`, read-only: never created, migrated,
    /// switched to WAL or otherwise written, so the file is left byte for byte as it was, and a
    /// user who may only read it can. An empty file, another program's database and a history
    /// a newer mailaudit wrote are refused. An older schema is read as it is.
    ///
    /// A WAL database needs its shared-memory index (`PATH-shm`), which `SQLite` creates beside
    /// it when no monitor has it open. A user who may not create files there reads the file as
    /// immutable instead, which is exact while no WAL file exists (every committed run is in
    /// the main file); should a monitor write the main file meanwhile, the reading fails and
    /// says to try again.
    pub fn open_read_only(path: &Path) -> anyhow::Result<Store> {
        if !path.exists() {
            bail!(
                "no monitoring history at '{}': run `mailaudit monitor` first, or name the \
                 database with --db",
                path.display()
            );
        }
        let describe = || format!("cannot open the history database '{}'", path.display());
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut immutable = None;
        let mut conn = Connection::open_with_flags(path, flags).with_context(describe)?;
        if cannot_share_wal(&conn) && !sidecar(path, "-wal").exists() {
            let meta = std::fs::metadata(path).with_context(describe)?;
            immutable = Some((meta.len(), meta.modified().with_context(describe)?));
            conn =
                Connection::open_with_flags(immutable_uri(path), flags).with_context(describe)?;
        }
        // A connection setting, not a write: wait for a monitor's transaction.
        conn.busy_timeout(BUSY_TIMEOUT).with_context(describe)?;
        match Layout::of(&conn, path)? {
            Layout::History => {}
            Layout::Empty => bail!(not_ours(path, "it is empty")),
            Layout::Foreign => bail!(not_ours(path, "it holds another program's tables")),
        }
        let version: i64 = conn
            .query_row(
                "SELECT COALESCE(MAX(version), 0) FROM schema_version",
                [],
                |r| r.get(0),
            )
            .with_context(describe)?;
        if version > SCHEMA_VERSION {
            bail!(
                "'{}' was written by a newer mailaudit (schema version {version}; this one reads \
                 up to {SCHEMA_VERSION}): use that version to read it",
                path.display()
            );
        }
        if version < 1 {
            bail!(not_ours(path, "it records no schema version"));
        }
        Ok(Store {
            conn,
            path: path.to_owned(),
            immutable,
        })
    }

    /// For a history read as immutable: fails if the file changed since it was opened, as what
    /// was read may then be inconsistent.
    fn check_unchanged(&self) -> anyhow::Result<()> {
        let Some((len, modified)) = self.immutable else {
            return Ok(());
        };
        let now = std::fs::metadata(&self.path)
            .ok()
            .and_then(|meta| Some((meta.len(), meta.modified().ok()?)));
        if now != Some((len, modified)) {
            bail!(
                "'{}' was written by a monitor while it was read: run the command again",
                self.path.display()
            );
        }
        Ok(())
    }

    /// Where the database is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stores one run and returns what changed since each target's previous run. Everything is
    /// written in one transaction.
    pub fn save_run(
        &mut self,
        config: &str,
        started: SystemTime,
        finished: SystemTime,
        reports: &[TargetReport],
        fail_on: Option<Severity>,
    ) -> anyhow::Result<SavedRun> {
        let describe = || format!("cannot store the run in '{}'", self.path.display());
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .with_context(describe)?;
        let started_ms = unix_ms(started);
        let finished_ms = unix_ms(finished);
        tx.execute(
            "INSERT INTO runs (started_ms, finished_ms, config, targets, changes, worse)
             VALUES (?1, ?2, ?3, ?4, 0, 0)",
            params![started_ms, finished_ms, config, count(reports.len())],
        )
        .with_context(describe)?;
        let run_id = tx.last_insert_rowid();
        let mut saved = SavedRun {
            run: RunInfo {
                id: run_id,
                started_ms,
                finished_ms,
            },
            changes: Vec::new(),
            baselines: Vec::new(),
            snapshots: Vec::with_capacity(reports.len()),
        };
        for report in reports {
            save_target(&tx, run_id, report, fail_on, &mut saved).with_context(describe)?;
            if report.kind == TargetKind::Domain {
                announce_failing_sources(&tx, run_id, &report.target, &mut saved)
                    .with_context(describe)?;
            }
        }
        let worse = saved.changes.iter().filter(|c| c.worse).count();
        tx.execute(
            "UPDATE runs SET changes = ?1, worse = ?2 WHERE id = ?3",
            params![count(saved.changes.len()), count(worse), run_id],
        )
        .with_context(describe)?;
        tx.commit().with_context(describe)?;
        Ok(saved)
    }

    /// Stores DMARC aggregate reports for `mailaudit reports --db`, in one transaction: each
    /// once by (reporter, report ID), a report stored before being skipped. Every source IP
    /// failing DMARC is recorded per policy domain; one not failing in the domain's reports
    /// stored before is marked new, for the next monitor run to report. Returns how many
    /// reports were stored and how many failing sources are new.
    pub fn save_dmarc_reports(
        &mut self,
        reports: &[mail_auth::report::Report],
        now: SystemTime,
    ) -> anyhow::Result<(usize, usize)> {
        let describe = || format!("cannot store the reports in '{}'", self.path.display());
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .with_context(describe)?;
        let (stored, new) = save_dmarc(&tx, reports, unix_ms(now)).with_context(describe)?;
        tx.commit().with_context(describe)?;
        Ok((stored, new))
    }

    /// Every stored run of `target`, oldest first, with the changes found at each.
    pub fn timeline(&self, target: &str) -> anyhow::Result<Vec<TimelineEntry>> {
        let describe = || format!("cannot read '{}'", self.path.display());
        let mut runs = self
            .conn
            .prepare(
                "SELECT r.id, r.started_ms, r.finished_ms, o.kind, o.grade, o.score, o.snapshot
                 FROM observations o JOIN runs r ON r.id = o.run_id
                 WHERE o.target = ?1 ORDER BY r.id",
            )
            .with_context(describe)?;
        let mut entries = runs
            .query_map([target], |row| {
                let snapshot: String = row.get(6)?;
                let listed_on = serde_json::from_str::<Snapshot>(&snapshot)
                    .map(|s| s.listed().cloned().collect())
                    .unwrap_or_default();
                Ok(TimelineEntry {
                    run: row.get(0)?,
                    started_ms: row.get(1)?,
                    finished_ms: row.get(2)?,
                    kind: row.get(3)?,
                    grade: row.get(4)?,
                    score: row.get(5)?,
                    listed_on,
                    baseline: false,
                    changes: Vec::new(),
                })
            })
            .with_context(describe)?
            .collect::<Result<Vec<_>, _>>()
            .with_context(describe)?;
        if let Some(first) = entries.first_mut() {
            first.baseline = true;
        }
        let mut changes = self
            .conn
            .prepare("SELECT run_id, change FROM changes WHERE target = ?1 ORDER BY run_id, seq")
            .with_context(describe)?;
        let rows = changes
            .query_map([target], |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
            })
            .with_context(describe)?;
        for row in rows {
            let (run, text) = row.with_context(describe)?;
            let change: Change = serde_json::from_str(&text)
                .with_context(|| format!("{}: run {run} has an unreadable change", describe()))?;
            if let Some(entry) = entries.iter_mut().find(|e| e.run == run) {
                entry.changes.push(change);
            }
        }
        self.check_unchanged()?;
        Ok(entries)
    }

    /// The full JSON report of `target` stored at run `run`.
    pub fn report(&self, target: &str, run: i64) -> anyhow::Result<Option<String>> {
        let report = self
            .conn
            .query_row(
                "SELECT r.json FROM observations o JOIN reports r ON r.id = o.report_id
                 WHERE o.target = ?1 AND o.run_id = ?2",
                params![target, run],
                |row| row.get(0),
            )
            .optional()
            .with_context(|| format!("cannot read '{}'", self.path.display()))?;
        self.check_unchanged()?;
        Ok(report)
    }

    /// How many runs are stored.
    pub fn run_count(&self) -> anyhow::Result<i64> {
        self.conn
            .query_row("SELECT COUNT(*) FROM runs", [], |row| row.get(0))
            .with_context(|| format!("cannot read '{}'", self.path.display()))
    }
}

/// Stores one target of run `run_id` and adds what changed since its previous run to `saved`.
fn save_target(
    tx: &Transaction,
    run_id: i64,
    report: &TargetReport,
    fail_on: Option<Severity>,
    saved: &mut SavedRun,
) -> anyhow::Result<()> {
    let snapshot = Snapshot::of(report);
    // Without the run's costs (queries sent vary with what other targets had cached): an
    // unchanged target keeps sharing its stored report.
    let stored = TargetReport {
        stats: None,
        ..report.clone()
    };
    let json = serde_json::to_string(&stored).context("cannot serialise a report")?;
    let before: Option<(String, i64, String)> = tx
        .prepare_cached(
            "SELECT COALESCE(o.known, o.snapshot), o.report_id, r.json FROM observations o
             JOIN reports r ON r.id = o.report_id
             WHERE o.target = ?1 AND o.run_id < ?2
             ORDER BY o.run_id DESC LIMIT 1",
        )?
        .query_row(params![report.target, run_id], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })
        .optional()?;
    // A snapshot this build cannot read is treated as no previous run.
    let old_snapshot = before
        .as_ref()
        .and_then(|(text, _, _)| serde_json::from_str::<Snapshot>(text).ok());
    let known = old_snapshot
        .as_ref()
        .map_or_else(|| snapshot.clone(), |old| snapshot.known_after(old));
    let report_id = match &before {
        Some((_, id, old_json)) if *old_json == json => *id,
        _ => {
            tx.prepare_cached("INSERT INTO reports (json) VALUES (?1)")?
                .execute([&json])?;
            tx.last_insert_rowid()
        }
    };
    let to_json = |snapshot: &Snapshot| {
        serde_json::to_string(snapshot).context("cannot serialise a snapshot")
    };
    tx.prepare_cached(
        "INSERT INTO observations (run_id, target, kind, score, grade, snapshot, report_id, known)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        run_id,
        report.target,
        kind_name(report.kind),
        report.score,
        report.grade.to_string(),
        to_json(&snapshot)?,
        report_id,
        to_json(&known)?,
    ])?;
    let changes = if let Some(old) = &old_snapshot {
        diff::diff(&report.target, old, &snapshot, fail_on)
    } else {
        saved.baselines.push(report.target.clone());
        snapshot.first_run(&report.target)
    };
    let mut insert = tx.prepare_cached(
        "INSERT INTO changes (run_id, target, seq, worse, change)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for (seq, change) in changes.iter().enumerate() {
        insert.execute(params![
            run_id,
            report.target,
            count(seq),
            change.worse,
            serde_json::to_string(change).context("cannot serialise a change")?,
        ])?;
    }
    saved.changes.extend(changes);
    saved.snapshots.push(snapshot);
    Ok(())
}

fn save_dmarc(
    tx: &Transaction<'_>,
    reports: &[mail_auth::report::Report],
    stored_ms: i64,
) -> anyhow::Result<(usize, usize)> {
    let (mut stored, mut new) = (0, 0);
    for report in reports {
        let reporter = crate::reports::reporter_of(&report.report_metadata);
        let domain = report.policy_published.domain.trim().to_ascii_lowercase();
        // Whether the domain had reports before this one: without, every failing source is
        // the baseline, not news.
        let known_domain: bool = tx
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM dmarc_reports WHERE domain = ?1)")?
            .query_row([&domain], |r| r.get(0))?;
        let inserted = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO dmarc_reports
                 (reporter, report_id, domain, begin_s, stored_ms, json)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                reporter,
                report.report_metadata.report_id,
                domain,
                i64::try_from(report.report_metadata.date_range.begin).unwrap_or(i64::MAX),
                stored_ms,
                serde_json::to_string(report).context("cannot serialise a report")?,
            ])?;
        if inserted == 0 {
            continue;
        }
        stored += 1;
        let report_row = tx.last_insert_rowid();
        for (ip, messages) in crate::reports::failing_sources(report) {
            let added = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO dmarc_failing_sources
                     (domain, ip, messages, first_report, new) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![
                    domain,
                    ip.to_string(),
                    i64::try_from(messages).unwrap_or(i64::MAX),
                    report_row,
                    known_domain,
                ])?;
            if added > 0 && known_domain {
                new += 1;
            }
        }
    }
    Ok((stored, new))
}

/// The new failing sources of `domain` no run reported yet, as worse changes of this run
/// (stored with the target's other changes), marked reported.
fn announce_failing_sources(
    tx: &Transaction<'_>,
    run_id: i64,
    domain: &str,
    saved: &mut SavedRun,
) -> anyhow::Result<()> {
    let pending: Vec<(String, i64)> = tx
        .prepare_cached(
            "SELECT ip, messages FROM dmarc_failing_sources
             WHERE domain = ?1 AND new = 1 AND announced_run IS NULL ORDER BY ip",
        )?
        .query_map([domain], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    if pending.is_empty() {
        return Ok(());
    }
    let first_seq: i64 = tx
        .prepare_cached(
            "SELECT COALESCE(MAX(seq) + 1, 0) FROM changes WHERE run_id = ?1 AND target = ?2",
        )?
        .query_row(params![run_id, domain], |r| r.get(0))?;
    for (seq, (ip, messages)) in (first_seq..).zip(pending) {
        let messages = u64::try_from(messages).unwrap_or(0);
        let change = Change {
            target: domain.to_owned(),
            message: format!(
                "{ip} now fails DMARC for {domain} ({messages} messages in a stored aggregate \
                 report) and failed in none stored before: a sender to set up or a forger \
                 (`mailaudit reports` tells which)"
            ),
            what: diff::What::FailingSourceNew {
                ip: ip.clone(),
                messages,
            },
            worse: true,
        };
        tx.prepare_cached(
            "INSERT INTO changes (run_id, target, seq, worse, change) VALUES (?1, ?2, ?3, 1, ?4)",
        )?
        .execute(params![
            run_id,
            domain,
            seq,
            serde_json::to_string(&change).context("cannot serialise a change")?,
        ])?;
        tx.prepare_cached(
            "UPDATE dmarc_failing_sources SET announced_run = ?1 WHERE domain = ?2 AND ip = ?3",
        )?
        .execute(params![run_id, domain, ip])?;
        saved.changes.push(change);
    }
    Ok(())
}

/// Whether a read-only connection fails for want of the WAL index: `SQLite` could not create
/// `PATH-shm` (a directory the user may not write) and answers "readonly" or "cannot open".
fn cannot_share_wal(conn: &Connection) -> bool {
    match conn.query_row("SELECT COUNT(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    }) {
        Err(rusqlite::Error::SqliteFailure(e, _)) => matches!(
            e.code,
            rusqlite::ErrorCode::ReadOnly | rusqlite::ErrorCode::CannotOpen
        ),
        _ => false,
    }
}

/// `PATH` with `suffix` appended to its name (`-wal`, `-shm`).
fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The `file:` URI of `path` opened as immutable (no locks, no WAL index, no journal), every
/// byte outside the unreserved set and `/` percent-encoded (RFC 3986 §2.1).
fn immutable_uri(path: &Path) -> String {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    #[cfg(unix)]
    let bytes = {
        use std::os::unix::ffi::OsStrExt;
        absolute.as_os_str().as_bytes().to_vec()
    };
    #[cfg(not(unix))]
    let bytes = absolute.to_string_lossy().replace('\\', "/").into_bytes();
    let mut uri = String::from("file:");
    for byte in bytes {
        if byte.is_ascii_alphanumeric() || b"/-._~".contains(&byte) {
            uri.push(char::from(byte));
        } else {
            let _ = write!(uri, "%{byte:02X}");
        }
    }
    uri.push_str("?immutable=1");
    uri
}

/// What a database file holds, read before anything is written to it.
enum Layout {
    /// No table: a new (or empty) file.
    Empty,
    /// The tables of a mailaudit history.
    History,
    /// Tables, not (all) ours.
    Foreign,
}

/// The tables a history has since schema version 1.
const TABLES: [&str; 5] = [
    "schema_version",
    "runs",
    "reports",
    "observations",
    "changes",
];

impl Layout {
    fn of(conn: &Connection, path: &Path) -> anyhow::Result<Layout> {
        let tables = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
            .and_then(|mut statement| {
                statement
                    .query_map([], |row| row.get::<_, String>(0))?
                    .collect::<Result<Vec<String>, _>>()
            });
        let tables = match tables {
            Ok(tables) => tables,
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::NotADatabase =>
            {
                bail!(not_ours(path, "it is not an SQLite database"));
            }
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("cannot read the database '{}'", path.display()));
            }
        };
        Ok(if tables.is_empty() {
            Layout::Empty
        } else if TABLES.iter().all(|t| tables.iter().any(|name| name == t)) {
            Layout::History
        } else {
            Layout::Foreign
        })
    }
}

/// The one-line refusal of a file that is not a history.
fn not_ours(path: &Path, why: &str) -> String {
    format!(
        "'{}' is not a mailaudit history ({why}): name the history with --db",
        path.display()
    )
}

/// Switches to WAL. Changing the journal mode needs a moment of exclusive access: when another
/// monitor is opening the same new file, `SQLite` may answer "busy" at once without calling the
/// busy handler, so this retries for as long as the busy timeout.
fn set_wal(conn: &Connection) -> rusqlite::Result<()> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        match conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))
        {
            Ok(_) => return Ok(()),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Brings the schema to [`SCHEMA_VERSION`], each migration in the transaction that records it.
fn migrate(conn: &mut Connection) -> anyhow::Result<()> {
    let current = schema_version(conn)?;
    if current == SCHEMA_VERSION {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_version (
            version    INTEGER NOT NULL,
            applied_ms INTEGER NOT NULL
        )",
    )?;
    // Read again under the write lock: another monitor may have migrated meanwhile.
    let version = recorded_version(&tx)?;
    let applied_ms = unix_ms(SystemTime::now());
    for (index, sql) in MIGRATIONS.iter().enumerate() {
        let target = i64::try_from(index).unwrap_or(i64::MAX) + 1;
        if target <= version {
            continue;
        }
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO schema_version (version, applied_ms) VALUES (?1, ?2)",
            params![target, applied_ms],
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// The schema version of the database, 0 for a new file.
fn schema_version(conn: &Connection) -> anyhow::Result<i64> {
    let exists: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version')",
        [],
        |r| r.get(0),
    )?;
    if !exists {
        return Ok(0);
    }
    recorded_version(conn)
}

/// The version recorded in `schema_version`; an error for a database a newer mailaudit wrote.
fn recorded_version(conn: &Connection) -> anyhow::Result<i64> {
    let version: i64 = conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_version",
        [],
        |r| r.get(0),
    )?;
    if version > SCHEMA_VERSION {
        bail!(
            "it was written by a newer mailaudit (schema version {version}; this one knows up \
             to {SCHEMA_VERSION})"
        );
    }
    Ok(version)
}

/// A count as `SQLite` stores it.
fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn kind_name(kind: TargetKind) -> &'static str {
    match kind {
        TargetKind::Domain => "domain",
        TargetKind::Ip => "ip",
        TargetKind::Smtp => "smtp",
    }
}

/// Milliseconds since the Unix epoch (0 for a clock before it).
pub fn unix_ms(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{Code, Finding};
    use crate::ip::IpReport;
    use crate::report::{Areas, IpAreas};

    fn ip_report(listed: bool) -> TargetReport {
        let ip: IpReport = fake_ip_report(listed);
        let findings = if listed {
            vec![Finding::new(Code::IpListed, "listed on RBL")]
        } else {
            Vec::new()
        };
        TargetReport::new(
            "192.0.2.1",
            TargetKind::Ip,
            findings,
            Areas::Ip(Box::new(IpAreas { ip })),
            vec!["127.0.0.1:53".to_owned()],
        )
    }

    fn fake_ip_report(listed: bool) -> IpReport {
        use crate::dnsbl::{ListAnswer, ListStatus, Takes, Weight};
        use crate::finding::Verdict;
        use crate::ip::ReverseDns;
        IpReport {
            ip: "192.0.2.1".parse().unwrap(),
            family: Takes::Ipv4,
            verdict: if listed { Verdict::Fail } else { Verdict::Ok },
            reverse_dns: ReverseDns {
                query: "1.2.0.192.in-addr.arpa".to_owned(),
                answer: "nxdomain".to_owned(),
                names: Vec::new(),
                fcrdns: None,
            },
            lists: vec![ListAnswer {
                list: "RBL".to_owned(),
                zone: "rbl.example".to_owned(),
                weight: Weight::Major,
                query: "1.2.0.192.rbl.example".to_owned(),
                status: if listed {
                    ListStatus::Listed
                } else {
                    ListStatus::NotListed
                },
                codes: Vec::new(),
                txt: Vec::new(),
                removal: None,
                detail: None,
                health: None,
            }],
            listed_on: if listed {
                vec!["RBL".to_owned()]
            } else {
                Vec::new()
            },
            spf: None,
            spf_helo: None,
        }
    }

    fn temp_db() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("history.sqlite3");
        (dir, path)
    }

    #[test]
    fn the_first_run_is_a_baseline_and_the_second_sees_the_listing() {
        let (_dir, path) = temp_db();
        let mut store = Store::open(&path).unwrap();
        let now = SystemTime::now();
        let first = store
            .save_run(
                "m.toml",
                now,
                now,
                &[ip_report(false)],
                Some(Severity::Error),
            )
            .unwrap();
        assert_eq!(first.baselines, vec!["192.0.2.1"]);
        assert!(first.changes.is_empty());
        let second = store
            .save_run(
                "m.toml",
                now,
                now,
                &[ip_report(true)],
                Some(Severity::Error),
            )
            .unwrap();
        assert!(second.baselines.is_empty());
        assert!(
            second
                .changes
                .iter()
                .any(|c| matches!(&c.what, diff::What::Listed { list, .. } if list == "RBL")),
            "{:?}",
            second.changes
        );
        assert!(second.changes.iter().any(|c| c.worse));

        let timeline = store.timeline("192.0.2.1").unwrap();
        assert_eq!(timeline.len(), 2);
        assert!(timeline[0].baseline && !timeline[1].baseline);
        assert!(timeline[0].listed_on.is_empty());
        assert_eq!(timeline[1].listed_on[0].list, "RBL");
        assert_eq!(timeline[1].changes, second.changes);
        let stored = store.report("192.0.2.1", second.run.id).unwrap().unwrap();
        let value: serde_json::Value = serde_json::from_str(&stored).unwrap();
        assert_eq!(value["ip"]["listed_on"][0], "RBL");
    }

    #[test]
    fn an_unchanged_report_is_stored_once() {
        let (_dir, path) = temp_db();
        let mut store = Store::open(&path).unwrap();
        let now = SystemTime::now();
        for _ in 0..3 {
            store
                .save_run("m.toml", now, now, &[ip_report(false)], None)
                .unwrap();
        }
        let reports: i64 = store
            .conn
            .query_row("SELECT COUNT(*) FROM reports", [], |r| r.get(0))
            .unwrap();
        assert_eq!(reports, 1);
        assert_eq!(store.run_count().unwrap(), 3);
    }

    #[test]
    fn the_database_is_in_wal_mode_with_the_current_schema() {
        let (_dir, path) = temp_db();
        let store = Store::open(&path).unwrap();
        let mode: String = store
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        drop(store);
        // Opening again does not migrate twice.
        let store = Store::open_read_only(&path).unwrap();
        let versions: i64 = store
            .conn
            .query_row("SELECT COUNT(*) FROM schema_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(versions, SCHEMA_VERSION);
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let (_dir, path) = temp_db();
        let store = Store::open(&path).unwrap();
        store
            .conn
            .execute("INSERT INTO schema_version VALUES (99, 0)", [])
            .unwrap();
        drop(store);
        let error = format!("{:#}", Store::open(&path).err().unwrap());
        assert!(error.contains("newer mailaudit"), "{error}");
    }

    #[test]
    fn another_programs_database_is_refused_untouched() {
        let (dir, _) = temp_db();
        let path = dir.path().join("foreign.sqlite3");
        Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE runs (name TEXT)")
            .unwrap();
        let before = std::fs::read(&path).unwrap();
        for error in [
            Store::open(&path).err().unwrap(),
            Store::open_read_only(&path).err().unwrap(),
        ] {
            let error = format!("{error:#}");
            assert!(error.contains("is not a mailaudit history"), "{error}");
            assert!(!error.contains('\n'), "{error}");
        }
        assert_eq!(std::fs::read(&path).unwrap(), before);
        // An empty file is a new history for the monitor, but nothing to read for `history`.
        let empty = dir.path().join("empty.sqlite3");
        std::fs::write(&empty, "").unwrap();
        let error = format!("{:#}", Store::open_read_only(&empty).err().unwrap());
        assert!(
            error.contains("is not a mailaudit history (it is empty)"),
            "{error}"
        );
        assert_eq!(std::fs::read(&empty).unwrap(), b"");
        assert!(Store::open(&empty).is_ok());
    }

    #[test]
    fn an_older_schema_is_read_as_it_is() {
        let (_dir, path) = temp_db();
        let mut store = Store::open(&path).unwrap();
        let now = SystemTime::now();
        store
            .save_run("m.toml", now, now, &[ip_report(true)], None)
            .unwrap();
        // As version 1 left it: no `known` column, one version recorded.
        store
            .conn
            .execute_batch(
                "ALTER TABLE observations DROP COLUMN known;
                 DELETE FROM schema_version WHERE version > 1;",
            )
            .unwrap();
        drop(store);
        let before = std::fs::read(&path).unwrap();
        let store = Store::open_read_only(&path).unwrap();
        assert_eq!(store.timeline("192.0.2.1").unwrap().len(), 1);
        drop(store);
        assert_eq!(std::fs::read(&path).unwrap(), before, "not migrated");
    }

    #[test]
    fn immutable_uris_escape_the_path() {
        let uri = immutable_uri(Path::new("/var/lib/a b/h?#%.sqlite3"));
        assert_eq!(uri, "file:/var/lib/a%20b/h%3F%23%25.sqlite3?immutable=1");
    }

    #[test]
    fn history_does_not_create_a_database() {
        let (_dir, path) = temp_db();
        let error = Store::open_read_only(&path).err().unwrap().to_string();
        assert!(error.contains("no monitoring history"), "{error}");
        assert!(!path.exists());
    }

    #[test]
    fn an_unfinished_transaction_leaves_no_trace() {
        let (_dir, path) = temp_db();
        let mut store = Store::open(&path).unwrap();
        let now = SystemTime::now();
        store
            .save_run("m.toml", now, now, &[ip_report(false)], None)
            .unwrap();
        {
            // A run cut short: its transaction is dropped, never committed.
            let tx = store
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .unwrap();
            tx.execute(
                "INSERT INTO runs (started_ms, finished_ms, config, targets, changes, worse)
                 VALUES (0, 0, 'x', 1, 0, 0)",
                [],
            )
            .unwrap();
        }
        assert_eq!(store.run_count().unwrap(), 1);
    }

    #[test]
    fn two_writers_on_one_database_both_store_their_runs() {
        let (_dir, path) = temp_db();
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || {
                    let mut store = Store::open(&path).unwrap();
                    let now = SystemTime::now();
                    for _ in 0..5 {
                        store
                            .save_run("m.toml", now, now, &[ip_report(false)], None)
                            .unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.run_count().unwrap(), 20);
        assert_eq!(store.timeline("192.0.2.1").unwrap().len(), 20);
        let check: String = store
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
    }
}
