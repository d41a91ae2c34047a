//! Reports written as targets finish, so that a bulk run holds no finished report in memory
//! and what was written stays valid if the run is stopped.
//!
//! Each sink takes one report at a time and is closed once, telling whether the run was
//! interrupted. Formats that need every report before writing (a full table, Markdown, HTML)
//! collect them; they are for a handful of targets, and a bulk table keeps one summary row each.

use std::io::{self, Write};

use super::{SummaryRow, TargetReport, json, table};

/// Where finished reports go.
pub trait ReportSink {
    /// Takes one finished report.
    fn report(&mut self, out: &mut dyn Write, report: TargetReport) -> io::Result<()>;
    /// Closes the output (e.g. the JSON array), whether or not every target finished.
    fn finish(&mut self, out: &mut dyn Write) -> io::Result<()>;
}

/// `--format jsonl`: one line a report, flushed as it is written.
pub struct JsonLines;

impl ReportSink for JsonLines {
    fn report(&mut self, out: &mut dyn Write, report: TargetReport) -> io::Result<()> {
        json::write_jsonl_line(out, &report)
    }

    fn finish(&mut self, out: &mut dyn Write) -> io::Result<()> {
        out.flush()
    }
}

/// `--format json`: one object for one target; for several, an array written element by
/// element and closed by `finish`, even after an interruption.
pub struct JsonDocument {
    single: bool,
    written: usize,
}

impl JsonDocument {
    /// A document for `targets` targets (`None`: not known yet, several).
    pub fn new(targets: Option<usize>) -> JsonDocument {
        JsonDocument {
            single: targets == Some(1),
            written: 0,
        }
    }
}

impl ReportSink for JsonDocument {
    fn report(&mut self, out: &mut dyn Write, report: TargetReport) -> io::Result<()> {
        if self.single {
            return json::write_json(out, std::slice::from_ref(&report));
        }
        out.write_all(if self.written == 0 { b"[\n" } else { b",\n" })?;
        serde_json::to_writer_pretty(&mut *out, &report)?;
        self.written += 1;
        out.flush()
    }

    fn finish(&mut self, out: &mut dyn Write) -> io::Result<()> {
        if !self.single {
            out.write_all(if self.written == 0 { b"[]\n" } else { b"\n]\n" })?;
        }
        out.flush()
    }
}

/// Collects every report and renders them together when the run ends.
pub struct Collected<F: FnMut(&mut dyn Write, &[TargetReport]) -> io::Result<()>> {
    reports: Vec<TargetReport>,
    render: F,
}

impl<F: FnMut(&mut dyn Write, &[TargetReport]) -> io::Result<()>> Collected<F> {
    /// Renders with `render` at the end.
    pub fn new(render: F) -> Self {
        Collected {
            reports: Vec::new(),
            render,
        }
    }
}

impl<F: FnMut(&mut dyn Write, &[TargetReport]) -> io::Result<()>> ReportSink for Collected<F> {
    fn report(&mut self, _out: &mut dyn Write, report: TargetReport) -> io::Result<()> {
        self.reports.push(report);
        Ok(())
    }

    fn finish(&mut self, out: &mut dyn Write) -> io::Result<()> {
        (self.render)(out, &self.reports)
    }
}

/// A bulk table: one summary row a target, the table and the count by grade at the end.
pub struct BulkTable {
    rows: Vec<SummaryRow>,
    color: bool,
    /// When the run began: the summary says how many queries a second it made.
    started: std::time::Instant,
}

impl BulkTable {
    /// An empty summary.
    pub fn new(color: bool) -> BulkTable {
        BulkTable {
            rows: Vec::new(),
            color,
            started: std::time::Instant::now(),
        }
    }
}

impl ReportSink for BulkTable {
    fn report(&mut self, _out: &mut dyn Write, report: TargetReport) -> io::Result<()> {
        self.rows.push(SummaryRow::of(&report));
        Ok(())
    }

    fn finish(&mut self, out: &mut dyn Write) -> io::Result<()> {
        table::write_bulk_summary(out, &self.rows, self.color, Some(self.started.elapsed()))?;
        writeln!(out, "Details: --format json or jsonl.")
    }
}
