//! `--format json` and `--format jsonl` (cli.md): one object for one target, an array for
//! several; or one object a line, written as each target finishes.

use std::io::{self, Write};

use serde::Serialize;

use super::{SCHEMA_VERSION, TargetReport};
use crate::dnsbl::ListHealth;

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

/// The JSON of `ip --check-lists`: every list's RFC 5782 §5 health.
#[derive(Serialize)]
struct HealthReport<'a> {
    schema_version: u32,
    kind: &'static str,
    lists: &'a [ListHealth],
}

/// Writes the blocklist health check as one JSON object (`kind: "blocklist-health"`).
pub fn write_health(out: &mut dyn Write, health: &[ListHealth]) -> io::Result<()> {
    let report = HealthReport {
        schema_version: SCHEMA_VERSION,
        kind: "blocklist-health",
        lists: health,
    };
    serde_json::to_writer_pretty(&mut *out, &report)?;
    writeln!(out)
}
