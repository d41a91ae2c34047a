//! `reports --format table`: the readiness verdict first (what to do), then the sender
//! inventory per service and per source IP, the reporters, the days and TLS-RPT.

use std::io::{self, Write};

use crate::reports::Summary;
use crate::reports::inventory::GroupRow;

use super::table::{keep_words_whole, new_table};

/// The most source IPs listed; the JSON and the CSV have them all.
const MAX_SOURCES: usize = 50;

#[allow(clippy::too_many_lines)] // the sections in reading order
pub fn write(out: &mut dyn Write, summary: &Summary, color: bool) -> io::Result<()> {
    let dmarc = &summary.dmarc;
    writeln!(
        out,
        "{} files, {} DMARC aggregate reports ({} messages, {}% passed DMARC), {} TLS-RPT organisation/policy rows",
        summary.files,
        dmarc.reports,
        dmarc.totals.messages,
        dmarc.totals.pass_rate(),
        summary.tls.len()
    )?;
    for readiness in &summary.readiness {
        writeln!(out)?;
        writeln!(
            out,
            "{} (p={}): {}",
            readiness.domain, readiness.policy, readiness.summary
        )?;
        for source in &readiness.legitimate {
            writeln!(
                out,
                "  {}: {} of {} messages fail DMARC ({}); {}",
                source.service,
                source.failing,
                source.messages,
                source
                    .ips
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                source.why
            )?;
            for fix in &source.fixes {
                writeln!(out, "    {fix}")?;
            }
        }
        if !readiness.forged.is_empty() {
            let failing: u64 = readiness.forged.iter().map(|f| f.failing).sum();
            writeln!(
                out,
                "  looks forged: {} from {} (no aligned SPF or DKIM, no known provider)",
                super::counted(failing, "message"),
                super::counted(readiness.forged.len() as u64, "source")
            )?;
        }
    }
    if !dmarc.services.is_empty() {
        writeln!(out, "\nSenders by service")?;
        writeln!(out, "{}", groups(&dmarc.services, "Service", color))?;
        let shown = &dmarc.sources[..dmarc.sources.len().min(MAX_SOURCES)];
        // PTR names are asked only with --resolver: no empty column without it.
        let with_ptr = shown.iter().any(|row| row.ptr.is_some());
        let mut table = new_table(color);
        let mut header = vec!["Source IP"];
        if with_ptr {
            header.push("PTR");
        }
        header.extend([
            "Service",
            "Messages",
            "DMARC pass",
            "SPF aligned",
            "DKIM aligned",
            "Quar./ rej.",
            "Reporters",
        ]);
        table.set_header(header);
        for row in shown {
            let mut cells = vec![row.ip.to_string()];
            if with_ptr {
                cells.push(row.ptr.clone().unwrap_or_default());
            }
            cells.extend([
                row.service.name.clone(),
                row.counts.messages.to_string(),
                row.counts.dmarc_pass.to_string(),
                row.counts.spf_aligned.to_string(),
                row.counts.dkim_aligned.to_string(),
                format!("{}/{}", row.counts.quarantined, row.counts.rejected),
                row.reporters.join(", "),
            ]);
            table.add_row(cells);
        }
        keep_words_whole(&mut table);
        writeln!(out, "\nSenders by source IP")?;
        writeln!(out, "{table}")?;
        if dmarc.sources.len() > MAX_SOURCES {
            writeln!(
                out,
                "({} more source IPs: see --format json or csv)",
                dmarc.sources.len() - MAX_SOURCES
            )?;
        }
        writeln!(out, "\nReporters")?;
        writeln!(out, "{}", groups(&dmarc.reporters, "Reporter", color))?;
        writeln!(out, "\nDays (UTC)")?;
        writeln!(out, "{}", groups(&dmarc.days, "Day", color))?;
    }
    if !summary.tls.is_empty() {
        let mut table = new_table(color);
        table.set_header([
            "Organisation",
            "Policy",
            "Domain",
            "Succeeded",
            "Failed",
            "Failures",
        ]);
        for row in &summary.tls {
            table.add_row([
                row.organization.clone(),
                row.policy_type.to_owned(),
                row.policy_domain.clone(),
                row.successful.to_string(),
                row.failed.to_string(),
                row.failures
                    .iter()
                    .map(|(kind, n)| format!("{kind}: {n}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            ]);
        }
        writeln!(out, "\nTLS-RPT sessions")?;
        writeln!(out, "{table}")?;
    }
    if !summary.duplicates.is_empty() {
        writeln!(
            out,
            "\n{} duplicate reports counted once",
            summary.duplicates.len()
        )?;
    }
    for skipped in &summary.skipped {
        writeln!(out, "skipped {}: {}", skipped.file, skipped.error)?;
    }
    Ok(())
}

fn groups(rows: &[GroupRow], first: &str, color: bool) -> comfy_table::Table {
    let mut table = new_table(color);
    table.set_header([first, "Messages", "DMARC pass", "Pass rate", "Failed"]);
    for row in rows {
        table.add_row([
            row.name.clone(),
            row.counts.messages.to_string(),
            row.counts.dmarc_pass.to_string(),
            format!("{}%", row.counts.pass_rate()),
            row.counts.dmarc_fail.to_string(),
        ]);
    }
    table
}
