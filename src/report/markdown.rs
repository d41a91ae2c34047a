//! `--format markdown`: the content of the table format, as GitHub-flavoured Markdown tables to
//! paste into tickets and pull requests.
//!
//! Every string is passed through [`cell`]: DNS text may hold `|` (which would split a table
//! cell), Markdown emphasis and link syntax, and HTML, which many Markdown renderers pass through.

use std::io::{self, Write};

use super::ranking::{self, Tally};
use super::summary::{self, AreaLine};
use super::visible::visible;
use super::{Areas, INCOMPLETE_NOTE, SummaryRow, TargetKind, TargetReport, unknown_line};
use crate::dnsbl::ListAnswer;
use crate::ip::IpReport;
use crate::report::table::{clean, list_cell_text, verdict_word};

/// Writes every report, and a closing summary table when there are several.
pub fn write_markdown(out: &mut dyn Write, reports: &[TargetReport]) -> io::Result<()> {
    let shared_matrix = reports.len() > 1 && reports.iter().all(|r| r.kind == TargetKind::Ip);
    for report in reports {
        write_report(out, report, !shared_matrix)?;
    }
    if shared_matrix {
        let ips: Vec<&IpReport> = reports
            .iter()
            .flat_map(|r| summary::ip_reports(&r.areas))
            .collect();
        writeln!(out, "## Blocklists\n")?;
        write_matrix(out, &ips)?;
    }
    if reports.len() > 1 {
        let rows: Vec<SummaryRow> = reports.iter().map(SummaryRow::of).collect();
        write_summary(out, &rows)?;
    }
    Ok(())
}

/// The summary of several targets: one row a target, worst first ([`ranking`]), then how many
/// targets have each finding code and each grade.
fn write_summary(out: &mut dyn Write, rows: &[SummaryRow]) -> io::Result<()> {
    writeln!(out, "## Summary\n")?;
    writeln!(out, "| Target | Grade | Score | Worst finding |")?;
    writeln!(out, "|---|---|---|---|")?;
    for row in ranking::order(rows).into_iter().map(|i| &rows[i]) {
        let worst = row.worst.map_or_else(
            || "-".to_owned(),
            |(severity, code)| format!("{severity} `{code}`"),
        );
        let incomplete = if row.incomplete { " (incomplete)" } else { "" };
        writeln!(
            out,
            "| {} | {}{incomplete} | {} | {worst} |",
            cell(&row.target),
            row.grade,
            row.score
        )?;
    }
    writeln!(out)?;
    let tally = Tally::of(rows);
    if !tally.codes.is_empty() {
        writeln!(out, "Findings, by how many {} have them:\n", tally.noun)?;
        for count in &tally.codes {
            writeln!(out, "- {}", tally.code_line(count))?;
        }
        writeln!(out)?;
    }
    writeln!(out, "{}\n", tally.grade_line())
}

fn write_report(out: &mut dyn Write, report: &TargetReport, with_matrix: bool) -> io::Result<()> {
    write_headline(out, report)?;
    write_records(out, report)?;
    writeln!(out, "| Area | Verdict | What was found |")?;
    writeln!(out, "|---|---|---|")?;
    for AreaLine {
        area,
        verdict,
        found,
    } in summary::areas(&report.areas)
    {
        let found: Vec<String> = found.iter().map(|line| cell(line)).collect();
        writeln!(
            out,
            "| {area} | {} | {} |",
            verdict_word(verdict),
            found.join("<br>")
        )?;
    }
    writeln!(out)?;
    let ips = summary::ip_reports(&report.areas);
    if with_matrix && !ips.is_empty() {
        write_matrix(out, &ips)?;
    }
    write_transport(out, report)?;
    write_smtp(out, report)?;
    if !report.requirements().is_empty() {
        writeln!(
            out,
            "| Provider | Applies to | Requirement | Status | Why |"
        )?;
        writeln!(out, "|---|---|---|---|---|")?;
        for requirement in report.requirements() {
            let codes: Vec<String> = requirement.codes.iter().map(|c| format!("`{c}`")).collect();
            writeln!(
                out,
                "| {} | {} | {} | {} | {} {} |",
                cell(&requirement.provider),
                cell(&requirement.audience),
                cell(&requirement.requirement),
                requirement.status.as_str(),
                cell(&requirement.detail),
                codes.join(" ")
            )?;
        }
        writeln!(out)?;
    }
    if report.findings.is_empty() {
        writeln!(out, "No findings.\n")?;
        return Ok(());
    }
    writeln!(out, "| Severity | Code | Problem | Fix |")?;
    writeln!(out, "|---|---|---|---|")?;
    for finding in &report.findings {
        writeln!(
            out,
            "| {} | `{}` | {} | {} |",
            finding.severity,
            finding.code,
            cell(&finding.message),
            cell(finding.fix.as_deref().unwrap_or("-"))
        )?;
    }
    writeln!(out)?;
    if !report.scoring.top_fixes.is_empty() {
        writeln!(out, "**Fix first:**\n")?;
        for (i, fix) in report.scoring.top_fixes.iter().enumerate() {
            let gain = if fix.gain > 0 {
                format!(" (+{})", fix.gain)
            } else {
                String::new()
            };
            writeln!(
                out,
                "{}. {}{gain} `{}`: {}",
                i + 1,
                fix.severity,
                fix.code,
                cell(&fix.fix)
            )?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// The records to publish, as zone-file lines in one code block (ready to paste), then what each
/// fixes and replaces and the steps to watch.
fn write_records(out: &mut dyn Write, report: &TargetReport) -> io::Result<()> {
    if report.records_to_publish.is_empty() {
        return Ok(());
    }
    let lines: Vec<String> = report
        .records_to_publish
        .iter()
        .map(|r| visible(&r.zone_line(), super::MAX_RECORD_CHARS, false, ""))
        .collect();
    // A fence longer than any run of backticks in the records: a record cannot close it.
    let longest = lines
        .iter()
        .flat_map(|l| l.split(|c| c != '`'))
        .map(str::len)
        .max()
        .unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    writeln!(
        out,
        "**Records to publish** (one per name, every fix to it applied):\n"
    )?;
    writeln!(out, "{fence}")?;
    for line in &lines {
        writeln!(out, "{line}")?;
    }
    writeln!(out, "{fence}\n")?;
    for record in &report.records_to_publish {
        let codes: Vec<String> = record.fixes.iter().map(|c| format!("`{c}`")).collect();
        let replaces = record.replaces.as_deref().map_or_else(
            || "a new record".to_owned(),
            |old| format!("replaces \"{}\"", cell(old)),
        );
        writeln!(
            out,
            "- {}: fixes {}; {replaces}",
            cell(&record.name),
            codes.join(", ")
        )?;
        for step in &record.steps {
            writeln!(out, "  - {}", cell(step))?;
        }
    }
    writeln!(out)
}

/// The title, the score's arithmetic, the resolver, and what could not be determined.
fn write_headline(out: &mut dyn Write, report: &TargetReport) -> io::Result<()> {
    writeln!(
        out,
        "## {} — grade {}, score {}/100{}\n",
        cell(&report.target),
        report.grade,
        report.score,
        if report.incomplete {
            " (incomplete)"
        } else {
            ""
        }
    )?;
    writeln!(out, "Score: `{}`  ", report.scoring.explanation)?;
    writeln!(
        out,
        "DNS asked through {}\n",
        cell(&report.resolvers.join(", "))
    )?;
    if report.incomplete {
        writeln!(out, "**Incomplete:** {INCOMPLETE_NOTE}:\n")?;
        for unknown in &report.unknown {
            writeln!(out, "- {}", cell(&unknown_line(unknown)))?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// A domain's MTA-STS and TLS-RPT facts, one table each.
fn write_transport(out: &mut dyn Write, report: &TargetReport) -> io::Result<()> {
    let Areas::Domain(areas) = &report.areas else {
        return Ok(());
    };
    for (title, facts) in [
        ("MTA-STS", summary::mta_sts_facts(&areas.mta_sts)),
        ("TLS-RPT", summary::tls_rpt_facts(&areas.tls_rpt)),
    ] {
        writeln!(out, "### {title}\n")?;
        writeln!(out, "| Fact | Value |")?;
        writeln!(out, "|---|---|")?;
        for (label, value) in facts {
            writeln!(out, "| {label} | {} |", cell(&value))?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// Each SMTP session's facts, its diagnosis first.
fn write_smtp(out: &mut dyn Write, report: &TargetReport) -> io::Result<()> {
    for probe in summary::smtp_probes(&report.areas) {
        for session in &probe.sessions {
            writeln!(
                out,
                "### SMTP {}:{} — {}\n",
                cell(&probe.host),
                probe.port,
                session.ip
            )?;
            writeln!(out, "| Fact | Value |")?;
            writeln!(out, "|---|---|")?;
            for (label, value) in summary::smtp_facts(probe, session) {
                writeln!(out, "| {label} | {} |", cell(&value))?;
            }
            writeln!(out)?;
        }
    }
    Ok(())
}

fn write_matrix(out: &mut dyn Write, ips: &[&IpReport]) -> io::Result<()> {
    let header: Vec<String> = ips.iter().map(|r| r.ip.to_string()).collect();
    writeln!(out, "| Blocklist | {} |", header.join(" | "))?;
    writeln!(out, "|---|{}", "---|".repeat(ips.len()))?;
    for (list, zone) in summary::list_names(ips) {
        let cells: Vec<String> = ips
            .iter()
            .map(|report| {
                let answer: Option<&ListAnswer> = report
                    .lists
                    .iter()
                    .find(|a| a.list == list && a.zone == zone);
                answer.map_or_else(|| "-".to_owned(), |a| cell(&list_cell_text(a)))
            })
            .collect();
        writeln!(
            out,
            "| {} ({}) | {} |",
            cell(list),
            cell(zone),
            cells.join(" | ")
        )?;
    }
    writeln!(out)
}

/// Text made safe for one Markdown table cell: control characters escaped as in the table
/// format, Markdown and HTML syntax backslash-escaped or entity-encoded, lines joined by `<br>`.
pub fn cell(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in clean(text).chars() {
        match c {
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '&' => escaped.push_str("&amp;"),
            '\n' => escaped.push_str("<br>"),
            '|' | '\\' | '`' | '*' | '_' | '[' | ']' | '#' | '~' | '!' => {
                escaped.push('\\');
                escaped.push(c);
            }
            _ => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::cell;

    #[test]
    fn table_syntax_markup_and_html_in_dns_text_stay_text() {
        let hostile = "v=spf1 | include:<script>alert(1)</script> *x* [a](b) `c`\u{1b}[2J";
        let escaped = cell(hostile);
        assert!(!escaped.contains("<script"), "{escaped}");
        assert!(!escaped.contains(" | "), "{escaped}");
        assert!(escaped.contains("\\|"), "{escaped}");
        assert!(!escaped.contains('\u{1b}'), "{escaped}");
        assert!(escaped.contains("\\*x\\*"), "{escaped}");
    }
}
