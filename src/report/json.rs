//! `--format json` and `--format jsonl` (cli.md): one object for one target, an array for
//! several; or one object a line, written as each target finishes.

use std::io::{self, Write};

use super::TargetReport;

/// Writes the reports as one JSON value: an object for one target, an array for several.
pub fn write_json(out: &mut dyn Write, reports: &[TargetReport]) -> io::Result<()> {
    if let [single] = reports {
        serde_json::to_writer_pretty(&mut *out, single)?;
    } else {
        serde_json::to_writer_pretty(&mut *out, reports)?;
    }
    writeln!(out)
}

/// Writes one report as one line of JSON and flushes it, so that what was written stays valid
/// if the run is stopped.
pub fn write_jsonl_line(out: &mut dyn Write, report: &TargetReport) -> io::Result<()> {
    serde_json::to_writer(&mut *out, report)?;
    writeln!(out)?;
    out.flush()
}
