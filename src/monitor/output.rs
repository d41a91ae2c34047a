//! What `monitor` and `history` print: tables for a person, or one JSON object
//! (`kind: "monitor-run"`, `kind: "history"`).

use std::io::{self, Write};

use comfy_table::{Attribute, Cell, Color};
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::diff::{Change, Listing, Snapshot};
use super::store::{RunInfo, TimelineEntry};
use crate::report::table::{clean, new_table};
use crate::report::{SCHEMA_VERSION, TargetKind, TargetReport};

/// One target of a run, as the run's JSON and table show it.
#[derive(Debug, Serialize)]
pub struct TargetSummary<'a> {
    pub target: &'a str,
    pub kind: TargetKind,
    pub score: u8,
    pub grade: String,
    /// No previous run to compare with: this run is the baseline.
    pub baseline: bool,
    /// Something could not be determined this run (what is in the stored report's `unknown`).
    pub incomplete: bool,
    pub listed_on: Vec<&'a Listing>,
    pub changes: usize,
    /// Findings by severity.
    pub critical: usize,
    pub error: usize,
    pub warning: usize,
    pub info: usize,
}

impl<'a> TargetSummary<'a> {
    pub fn of(
        report: &'a TargetReport,
        snapshot: &'a Snapshot,
        baseline: bool,
        changes: &[Change],
    ) -> Self {
        let count = |s: &str| {
            report
                .findings
                .iter()
                .filter(|f| f.severity.as_str() == s)
                .count()
        };
        TargetSummary {
            target: &report.target,
            kind: report.kind,
            score: report.score,
            grade: report.grade.to_string(),
            baseline,
            incomplete: report.incomplete,
            listed_on: snapshot.listed().collect(),
            changes: changes.iter().filter(|c| c.target == report.target).count(),
            critical: count("critical"),
            error: count("error"),
            warning: count("warning"),
            info: count("info"),
        }
    }
}

/// A run, as stored and timed.
#[derive(Debug, Serialize)]
pub struct RunOut<'a> {
    pub id: i64,
    pub started_at: String,
    pub finished_at: String,
    pub config: &'a str,
    pub db: String,
}

impl<'a> RunOut<'a> {
    pub fn new(run: &RunInfo, config: &'a str, db: String) -> Self {
        RunOut {
            id: run.id,
            started_at: timestamp(run.started_ms),
            finished_at: timestamp(run.finished_ms),
            config,
            db,
        }
    }
}

/// `--format json` of a monitor run.
#[derive(Debug, Serialize)]
pub struct RunReport<'a> {
    pub schema_version: u32,
    /// Always `monitor-run`.
    pub kind: &'static str,
    pub run: RunOut<'a>,
    /// At least one change made things worse (exit status 1).
    pub worse: bool,
    pub changes: &'a [Change],
    pub targets: Vec<TargetSummary<'a>>,
}

/// Writes a run as one JSON object; `pretty` for `json`, one line for `jsonl`.
pub fn write_run_json(out: &mut dyn Write, run: &RunReport<'_>, pretty: bool) -> io::Result<()> {
    if pretty {
        serde_json::to_writer_pretty(&mut *out, run)?;
    } else {
        serde_json::to_writer(&mut *out, run)?;
    }
    writeln!(out)?;
    out.flush()
}

/// Writes a run as tables: the changes, then the targets (every domain and SMTP server; IPs
/// only when listed, changed or incomplete, the others counted, so that a /16 does not print
/// 65 536 rows).
pub fn write_run_table(out: &mut dyn Write, run: &RunReport<'_>, color: bool) -> io::Result<()> {
    let worse = run.changes.iter().filter(|c| c.worse).count();
    let baselines = run.targets.iter().filter(|t| t.baseline).count();
    writeln!(
        out,
        "Run {}  {}  {} target{}, {} change{} since the previous run ({} worse){}",
        run.run.id,
        run.run.finished_at,
        run.targets.len(),
        plural(run.targets.len()),
        run.changes.len(),
        plural(run.changes.len()),
        worse,
        if baselines > 0 {
            format!(", {baselines} baseline{} stored", plural(baselines))
        } else {
            String::new()
        }
    )?;
    if !run.changes.is_empty() {
        let mut table = new_table(color);
        table.set_header(vec!["", "Target", "Change"]);
        for change in run.changes {
            table.add_row(vec![
                worse_cell(change.worse, color),
                Cell::new(clean(&change.target)),
                Cell::new(clean(&change.message)),
            ]);
        }
        writeln!(out, "{table}")?;
    }
    let mut table = new_table(color);
    table.set_header(vec![
        "Target",
        "Grade",
        "Score",
        "Listed on",
        "Findings",
        "Since last run",
    ]);
    let mut quiet_ips = 0usize;
    for target in &run.targets {
        let quiet = target.listed_on.is_empty() && target.changes == 0 && !target.incomplete;
        if target.kind == TargetKind::Ip && quiet {
            quiet_ips += 1;
            continue;
        }
        let listed = target
            .listed_on
            .iter()
            .map(|l| {
                if l.subject == target.target {
                    clean(&l.list)
                } else {
                    format!("{} ({})", clean(&l.list), clean(&l.subject))
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        let since = if target.baseline {
            "baseline".to_owned()
        } else if target.changes == 0 {
            "unchanged".to_owned()
        } else {
            format!("{} change{}", target.changes, plural(target.changes))
        };
        let grade = if target.incomplete {
            format!("{} (incomplete)", target.grade)
        } else {
            target.grade.clone()
        };
        table.add_row(vec![
            Cell::new(clean(target.target)),
            Cell::new(grade),
            Cell::new(target.score),
            Cell::new(if listed.is_empty() {
                "-".to_owned()
            } else {
                listed
            }),
            Cell::new(format!(
                "{} critical, {} error, {} warning",
                target.critical, target.error, target.warning
            )),
            Cell::new(since),
        ]);
    }
    if table.row_count() > 0 {
        writeln!(out, "{table}")?;
    }
    if quiet_ips > 0 {
        writeln!(
            out,
            "{quiet_ips} other IP{} not listed on any list that answered, unchanged or baseline.",
            plural(quiet_ips)
        )?;
    }
    out.flush()
}

/// `--format json` of `history`.
#[derive(Debug, Serialize)]
pub struct HistoryReport<'a> {
    pub schema_version: u32,
    /// Always `history`.
    pub kind: &'static str,
    pub target: &'a str,
    pub db: String,
    pub runs: Vec<HistoryRun<'a>>,
}

/// One run of the timeline.
#[derive(Debug, Serialize)]
pub struct HistoryRun<'a> {
    pub run: i64,
    pub started_at: String,
    pub finished_at: String,
    pub kind: &'a str,
    pub grade: &'a str,
    pub score: i64,
    pub listed_on: &'a [Listing],
    pub baseline: bool,
    pub changes: &'a [Change],
}

impl<'a> HistoryReport<'a> {
    pub fn new(target: &'a str, db: String, entries: &'a [TimelineEntry]) -> Self {
        HistoryReport {
            schema_version: SCHEMA_VERSION,
            kind: "history",
            target,
            db,
            runs: entries
                .iter()
                .map(|e| HistoryRun {
                    run: e.run,
                    started_at: timestamp(e.started_ms),
                    finished_at: timestamp(e.finished_ms),
                    kind: &e.kind,
                    grade: &e.grade,
                    score: e.score,
                    listed_on: &e.listed_on,
                    baseline: e.baseline,
                    changes: &e.changes,
                })
                .collect(),
        }
    }
}

/// Writes the timeline as a table, oldest run first.
pub fn write_history_table(
    out: &mut dyn Write,
    history: &HistoryReport<'_>,
    color: bool,
) -> io::Result<()> {
    writeln!(
        out,
        "{}: {} run{} in {}",
        clean(history.target),
        history.runs.len(),
        plural(history.runs.len()),
        history.db
    )?;
    let mut table = new_table(color);
    table.set_header(vec![
        "Run",
        "Time",
        "Grade",
        "Score",
        "Listed on",
        "Changes",
    ]);
    for run in &history.runs {
        let listed = run
            .listed_on
            .iter()
            .map(|l| {
                if l.subject == history.target {
                    clean(&l.list)
                } else {
                    format!("{} ({})", clean(&l.list), clean(&l.subject))
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        let changes = if run.baseline {
            "baseline".to_owned()
        } else if run.changes.is_empty() {
            "-".to_owned()
        } else {
            run.changes
                .iter()
                .map(|c| {
                    let mark = if c.worse { "worse: " } else { "" };
                    format!("{mark}{}", clean(&c.message))
                })
                .collect::<Vec<_>>()
                .join("\n")
        };
        table.add_row(vec![
            Cell::new(run.run),
            Cell::new(&run.finished_at),
            Cell::new(run.grade),
            Cell::new(run.score),
            Cell::new(if listed.is_empty() {
                "-".to_owned()
            } else {
                listed
            }),
            Cell::new(changes),
        ]);
    }
    writeln!(out, "{table}")?;
    out.flush()
}

/// Unix milliseconds as RFC 3339 UTC, to the second.
pub fn timestamp(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| ms.to_string())
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn worse_cell(worse: bool, color: bool) -> Cell {
    let cell = Cell::new(if worse { "WORSE" } else { "changed" });
    if color && worse {
        cell.fg(Color::Red).add_attribute(Attribute::Bold)
    } else {
        cell
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(timestamp(1_700_000_000_999), "2023-11-14T22:13:20Z");
    }
}
