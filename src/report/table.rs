//! `--format table`: what a person reads on a terminal. A summary line with the grade, the
//! areas with what was found, then each finding with its fix.
//!
//! Everything shown that came from DNS is passed through [`clean`]: a TXT record is written by a
//! stranger and may hold escape sequences, binary bytes or kilobytes of text.

use std::io::{self, Write};

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Attribute, Cell, Color, ColumnConstraint, ContentArrangement, Table, Width};

use super::ranking::{self, Tally};
use super::summary::{self, AreaLine};
use super::visible::visible;
use super::{FixAbove, INCOMPLETE_NOTE, SummaryRow, TargetKind, TargetReport, unknown_line};
use crate::dnsbl::{ListAnswer, ListHealth, ListStatus};
use crate::finding::{Severity, Verdict};
use crate::ip::IpReport;
use crate::requirements::{self, Requirement};
use crate::smtp::PortProbe;
use std::net::IpAddr;

/// The width tables are laid out to when the output is not a terminal.
const DEFAULT_WIDTH: u16 = 120;
/// Narrower terminals are laid out as if they were [`DEFAULT_WIDTH`] wide.
const MIN_TERMINAL_WIDTH: u16 = 60;
/// The narrowest `COLUMNS` honoured: below it a table's columns would be a few characters.
const MIN_COLUMNS: u16 = 40;
/// Longest text shown in one cell; longer text is cut and says how long it was.
const MAX_CELL_CHARS: usize = 300;

/// How the tables are written.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Colours and the terminal's width (a terminal), or none and [`DEFAULT_WIDTH`].
    pub color: bool,
    /// `--verbose`: every requirement in full instead of one line per provider.
    pub verbose: bool,
}

/// Writes the tables of every report, and a closing summary when there are several.
pub fn write_tables(
    out: &mut dyn Write,
    reports: &[TargetReport],
    options: Options,
) -> io::Result<()> {
    let color = options.color;
    // Several sending IPs share one matrix (one column an IP), after their reports.
    let shared_matrix = reports.len() > 1 && reports.iter().all(|r| r.kind == TargetKind::Ip);
    for (i, report) in reports.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        write_report(out, report, options, !shared_matrix)?;
    }
    if shared_matrix {
        writeln!(out)?;
        let ips: Vec<&IpReport> = reports
            .iter()
            .flat_map(|r| summary::ip_reports(&r.areas))
            .collect();
        write_matrix(out, &ips, color)?;
    }
    if reports.len() > 1 {
        writeln!(out)?;
        let rows: Vec<SummaryRow> = reports.iter().map(SummaryRow::of).collect();
        write_bulk_summary(out, &rows, color, None)?;
    }
    Ok(())
}

fn write_report(
    out: &mut dyn Write,
    report: &TargetReport,
    options: Options,
    with_matrix: bool,
) -> io::Result<()> {
    let color = options.color;
    let width = usize::from(layout_width(color));
    let counts = |s: Severity| report.findings.iter().filter(|f| f.severity == s).count();
    writeln!(
        out,
        "{}  grade {}  score {}/100{}  ({} critical, {} error, {} warning, {} info)",
        clean(&report.target),
        report.grade,
        report.score,
        if report.incomplete {
            "  INCOMPLETE"
        } else {
            ""
        },
        counts(Severity::Critical),
        counts(Severity::Error),
        counts(Severity::Warning),
        counts(Severity::Info),
    )?;
    write_wrapped(out, "Score: ", &report.scoring.explanation, width)?;
    if report.parked {
        write_wrapped(out, "", PARKED_NOTE, width)?;
    }
    if report.incomplete {
        writeln!(out, "Incomplete: {INCOMPLETE_NOTE}:")?;
        for unknown in &report.unknown {
            write_wrapped(out, "  - ", &clean(&unknown_line(unknown)), width)?;
        }
    }
    // What to do first, and the records that do it, before any table: on the first screen.
    write_first_fixes(out, report, width)?;
    write_records(out, report, width)?;

    let mut areas = new_table(color);
    areas.set_header(vec!["Area", "Verdict", "What was found"]);
    for AreaLine {
        area,
        verdict,
        found,
    } in summary::areas(&report.areas)
    {
        areas.add_row(vec![
            Cell::new(area).add_attribute(Attribute::Bold),
            verdict_cell(verdict, color),
            Cell::new(
                found
                    .iter()
                    .map(|line| clean(line))
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
        ]);
    }
    writeln!(out, "{areas}")?;
    let ips = summary::ip_reports(&report.areas);
    if with_matrix && !ips.is_empty() {
        write_matrix(out, &ips, color)?;
    }

    let probes = summary::smtp_probes(&report.areas);
    if !probes.is_empty() {
        write_smtp(out, &probes, color)?;
    }
    if report.findings.is_empty() {
        writeln!(out, "No findings.")?;
    } else {
        write_findings(out, report, color, width)?;
    }
    if !report.requirements().is_empty() {
        if options.verbose {
            write_requirements(out, report.requirements(), color)?;
        } else {
            for line in
                requirements::summary_lines(report.requirements(), " — every row with --verbose")
            {
                write_wrapped(out, "", &line, width)?;
            }
        }
    }
    writeln!(out, "DNS asked through {}", report.resolvers.join(", "))?;
    Ok(())
}

/// The findings, most severe first, as a list rather than a table: a fix holds records and
/// URLs, which a table column would break inside a token. A fix already shown (a fix to make
/// first, a record to publish) is pointed to, not printed again.
fn write_findings(
    out: &mut dyn Write,
    report: &TargetReport,
    color: bool,
    width: usize,
) -> io::Result<()> {
    writeln!(out, "Findings:")?;
    for finding in &report.findings {
        let severity = finding.severity.as_str();
        let shown = format!(
            "{} {}: {}",
            severity_style(finding.severity, severity, color),
            finding.code,
            clean(&finding.message)
        );
        write_wrapped(out, "", &shown, width)?;
        let fix = match report.fix_shown_above(finding) {
            Some(FixAbove::First(n)) => format!("fix {n} above"),
            Some(FixAbove::Record(name)) => format!("the record for {} above", clean(name)),
            None => match &finding.fix {
                Some(fix) => clean_long(fix),
                None => continue,
            },
        };
        write_wrapped(out, "         fix: ", &fix, width)?;
    }
    Ok(())
}

/// `text` in the severity's colour on a terminal.
fn severity_style(severity: Severity, text: &str, color: bool) -> String {
    if !color {
        return text.to_owned();
    }
    let code = match severity {
        Severity::Critical => "1;31",
        Severity::Error => "31",
        Severity::Warning => "33",
        Severity::Info => "36",
    };
    format!("\u{1b}[{code}m{text}\u{1b}[0m")
}

/// What a parked domain's report says under its grade.
pub(crate) const PARKED_NOTE: &str = "Parked: this domain sends no mail (v=spf1 -all) and receives none \
    (null MX), so advice only senders need (a DKIM key, DMARC reports, the mailbox providers' \
    sender requirements) is left out.";

/// "Do this first": the top fixes, numbered; a fix that a record to publish makes points to it.
fn write_first_fixes(out: &mut dyn Write, report: &TargetReport, width: usize) -> io::Result<()> {
    if report.scoring.top_fixes.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(out, "Do this first:")?;
    for (i, fix) in report.scoring.top_fixes.iter().enumerate() {
        let what = match report.record_fixing(&fix.code) {
            Some(record) => format!("publish the record for {} below", clean(&record.name)),
            None => clean_long(&fix.fix),
        };
        let gain = if fix.gain > 0 {
            format!(", +{}", fix.gain)
        } else {
            String::new()
        };
        let text = format!("[{} {}{gain}] {what}", fix.severity, fix.code);
        write_wrapped(out, &format!("{}. ", i + 1), &text, width)?;
    }
    Ok(())
}

/// The records to publish, each on its own line as a zone-file line, never wrapped or cut inside
/// a token, so that it can be pasted; what it replaces and fixes, and the steps to watch, after.
fn write_records(out: &mut dyn Write, report: &TargetReport, width: usize) -> io::Result<()> {
    if report.records_to_publish.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(
        out,
        "Records to publish (one per name, every fix to it applied; each replaces the record there):"
    )?;
    for record in &report.records_to_publish {
        writeln!(
            out,
            "{}",
            visible(&record.zone_line(), super::MAX_RECORD_CHARS, false, "")
        )?;
        let codes: Vec<&str> = record.fixes.iter().map(|c| c.as_str()).collect();
        let replaces = record.replaces.as_deref().map_or_else(
            || "new record".to_owned(),
            |old| format!("replaces \"{}\"", clean(old)),
        );
        write_wrapped(
            out,
            "    ",
            &format!("fixes {}; {replaces}", codes.join(", ")),
            width,
        )?;
        for step in &record.steps {
            write_wrapped(out, "    - ", &clean(step), width)?;
        }
    }
    writeln!(out)
}

/// `word` in pieces of at most `max` characters (one piece when it fits).
fn split_long(word: &str, max: usize) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut rest = word;
    while rest.chars().count() > max {
        let end = rest.char_indices().nth(max).map_or(rest.len(), |(i, _)| i);
        let (piece, tail) = rest.split_at(end);
        pieces.push(piece);
        rest = tail;
    }
    pieces.push(rest);
    pieces
}

/// `text` after `head`, wrapped at spaces to `width` columns, the lines after the first indented
/// under it: prose never runs off a narrow terminal, and a word is split only when it is longer
/// than a whole line (a 4 KB term from DNS).
fn write_wrapped(out: &mut dyn Write, head: &str, text: &str, width: usize) -> io::Result<()> {
    let indent = " ".repeat(head.chars().count().clamp(3, 9));
    let room = width.saturating_sub(indent.len()).max(20);
    let mut line = head.to_owned();
    let mut has_word = false;
    let words = text
        .split(' ')
        .filter(|w| !w.is_empty())
        .flat_map(|word| split_long(word, room));
    for word in words {
        let fits = line.chars().count() + 1 + word.chars().count() <= width;
        if has_word && !fits {
            writeln!(out, "{line}")?;
            line.clone_from(&indent);
            has_word = false;
        }
        if has_word {
            line.push(' ');
        }
        line.push_str(word);
        has_word = true;
    }
    writeln!(out, "{line}")
}

/// A mail server probed: with several ports, a port matrix (one row a port, one column an
/// address); then each session's facts, its diagnosis first.
fn write_smtp(out: &mut dyn Write, probes: &[&PortProbe], color: bool) -> io::Result<()> {
    if probes.len() > 1 {
        let mut addresses: Vec<IpAddr> = Vec::new();
        for session in probes.iter().flat_map(|p| &p.sessions) {
            if !addresses.contains(&session.ip) {
                addresses.push(session.ip);
            }
        }
        let mut matrix = new_table(color);
        let mut header = vec!["Server".to_owned()];
        header.extend(addresses.iter().map(ToString::to_string));
        matrix.set_header(header);
        let one_host = probes.iter().all(|p| p.host == probes[0].host);
        for probe in probes {
            let label = if one_host {
                format!("{} ({})", probe.port, probe.tls.as_str())
            } else {
                format!("{}:{} ({})", probe.host, probe.port, probe.tls.as_str())
            };
            let mut row = vec![Cell::new(label)];
            for address in &addresses {
                let text = probe
                    .sessions
                    .iter()
                    .find(|s| s.ip == *address)
                    .map_or_else(
                        || "-".to_owned(),
                        |s| {
                            let summary = summary::session_summary(s);
                            summary
                                .split_once(": ")
                                .map_or(summary.clone(), |(_, rest)| rest.to_owned())
                        },
                    );
                row.push(verdict_text_cell(&text, probe.verdict, color));
            }
            matrix.add_row(row);
        }
        writeln!(out, "{matrix}")?;
    }
    for probe in probes {
        for session in &probe.sessions {
            let mut table = new_table(color);
            for (label, value) in summary::smtp_facts(probe, session) {
                table.add_row(vec![
                    Cell::new(label).add_attribute(Attribute::Bold),
                    Cell::new(clean_long(&value)),
                ]);
            }
            writeln!(out, "{table}")?;
        }
    }
    Ok(())
}

/// The mailbox providers' requirements: one row each, with where the domain stands and why.
fn write_requirements(
    out: &mut dyn Write,
    requirements: &[Requirement],
    color: bool,
) -> io::Result<()> {
    let mut table = new_table(color);
    table.set_header(vec![
        "Provider",
        "Applies to",
        "Requirement",
        "Status",
        "Why",
    ]);
    for requirement in requirements {
        let verdict = requirement.status.tone();
        let mut why = requirement.detail.clone();
        if !requirement.codes.is_empty() {
            let codes: Vec<&str> = requirement.codes.iter().map(|c| c.as_str()).collect();
            why = format!("{why} [{}]", codes.join(", "));
        }
        table.add_row(vec![
            Cell::new(&requirement.provider),
            Cell::new(&requirement.audience),
            Cell::new(&requirement.requirement),
            verdict_text_cell(requirement.status.as_str(), verdict, color),
            Cell::new(clean(&why)),
        ]);
    }
    writeln!(out, "{table}")
}

/// The IP × blocklist matrix: one row a list, one column an IP, the answer in each cell.
fn write_matrix(out: &mut dyn Write, ips: &[&IpReport], color: bool) -> io::Result<()> {
    if summary::list_names(ips).is_empty() {
        return Ok(());
    }
    let mut table = new_table(color);
    let mut header = vec!["Blocklist".to_owned()];
    header.extend(ips.iter().map(|r| r.ip.to_string()));
    table.set_header(header);
    for (list, zone) in summary::list_names(ips) {
        let mut row = vec![Cell::new(format!("{list} ({zone})"))];
        for report in ips {
            let answer = report
                .lists
                .iter()
                .find(|a| a.list == list && a.zone == zone);
            row.push(match answer {
                Some(answer) => list_cell(answer, color),
                None => Cell::new("-"),
            });
        }
        table.add_row(row);
    }
    writeln!(out, "{table}")
}

fn list_cell(answer: &ListAnswer, color: bool) -> Cell {
    let tint = match answer.status {
        ListStatus::Listed => Color::Red,
        ListStatus::NotListed => Color::Green,
        ListStatus::Refused | ListStatus::InvalidAnswer => Color::Yellow,
        ListStatus::Unavailable => Color::Magenta,
        ListStatus::Skipped => Color::DarkGrey,
    };
    let cell = Cell::new(list_cell_text(answer));
    if color { cell.fg(tint) } else { cell }
}

/// What one list said of one IP, in a few words: `LISTED 127.0.0.2`, `clean`, `refused` ...
pub(crate) fn list_cell_text(answer: &ListAnswer) -> String {
    let codes: Vec<String> = answer.codes.iter().map(|c| c.address.to_string()).collect();
    match answer.status {
        ListStatus::Listed => format!("LISTED {}", codes.join(" ")),
        ListStatus::NotListed => "clean".to_owned(),
        ListStatus::Refused => format!("refused {}", codes.join(" ")),
        ListStatus::InvalidAnswer => "invalid answer".to_owned(),
        ListStatus::Unavailable => "no answer".to_owned(),
        ListStatus::Skipped if answer.health.is_some() => {
            "unknown (list failed its health check)".to_owned()
        }
        ListStatus::Skipped => "not asked (other address family)".to_owned(),
    }
}

/// `ip --check-lists`: one row a list with its RFC 5782 §5 health and why.
pub fn write_health(out: &mut dyn Write, health: &[ListHealth], color: bool) -> io::Result<()> {
    let mut table = new_table(color);
    table.set_header(vec!["Blocklist", "Zone", "Health", "Why"]);
    for list in health {
        table.add_row(vec![
            Cell::new(clean(&list.list)),
            Cell::new(clean(&list.zone)),
            verdict_text_cell(list.health.as_str(), list.verdict, color),
            Cell::new(clean(&list.reason)),
        ]);
    }
    writeln!(out, "{table}")?;
    let working = health.iter().filter(|h| h.works()).count();
    writeln!(
        out,
        "{working} of {} lists work from this resolver.",
        health.len()
    )
}

/// The closing summary of a run of several targets: one row a target, worst first
/// ([`ranking`]), then how many targets have each finding code and each grade, and the queries
/// the audits sent (a second, over the run's `elapsed` time when known).
pub fn write_bulk_summary(
    out: &mut dyn Write,
    rows: &[SummaryRow],
    color: bool,
    elapsed: Option<std::time::Duration>,
) -> io::Result<()> {
    let mut table = new_table(color);
    table.set_header(vec!["Target", "Grade", "Score", "Worst finding"]);
    for row in ranking::order(rows).into_iter().map(|i| &rows[i]) {
        let worst = row.worst.map_or_else(
            || "-".to_owned(),
            |(severity, code)| format!("{severity} {code}"),
        );
        let grade = if row.incomplete {
            format!("{} (incomplete)", row.grade)
        } else {
            row.grade.to_string()
        };
        table.add_row(vec![
            Cell::new(clean(&row.target)),
            Cell::new(grade),
            Cell::new(row.score),
            Cell::new(worst),
        ]);
    }
    writeln!(out, "{table}")?;
    let tally = Tally::of(rows);
    if !tally.codes.is_empty() {
        writeln!(out, "Findings, by how many {} have them:", tally.noun)?;
        for count in &tally.codes {
            writeln!(out, "  {}", tally.code_line(count))?;
        }
    }
    let queries: usize = rows.iter().map(|r| r.queries).sum();
    let rate = match elapsed {
        Some(elapsed) if !elapsed.is_zero() => {
            #[allow(clippy::cast_precision_loss)] // a count of queries far below 2^52
            let per_second = queries as f64 / elapsed.as_secs_f64();
            format!(
                " in {:.1} s ({per_second:.0} a second)",
                elapsed.as_secs_f64()
            )
        }
        _ => String::new(),
    };
    writeln!(out, "{} {queries} DNS queries{rate}.", tally.grade_line())
}

/// A table laid out to the terminal, or elsewhere (a pipe, a file) to `COLUMNS` columns when
/// it is set, else to [`DEFAULT_WIDTH`], without colour.
pub(crate) fn new_table(color: bool) -> Table {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    if color {
        table.enforce_styling();
        // A terminal that reports no usable width (a pseudo-terminal of `script`, a serial
        // console) would squeeze every column to one character.
        if table.width().is_none_or(|width| width < MIN_TERMINAL_WIDTH) {
            table.set_width(layout_width(false));
        }
    } else {
        table.force_no_tty().set_width(layout_width(false));
    }
    table
}

/// Sets each column but the last to at least its longest word (header or cell, at most
/// [`MAX_WHOLE_WORD`] characters), so that numbers, addresses and header words are never cut
/// inside; the last column takes what is left and wraps.
pub(crate) fn keep_words_whole(table: &mut Table) {
    let count = table.column_count();
    let mut widest = vec![0_usize; count];
    let header = table
        .header()
        .map(|row| row.cell_iter().collect::<Vec<_>>());
    let rows = header.into_iter().chain(
        table
            .row_iter()
            .map(|row| row.cell_iter().collect::<Vec<_>>()),
    );
    for cells in rows {
        for (index, cell) in cells.iter().enumerate().take(count) {
            let longest = cell
                .content()
                .split_whitespace()
                .map(|word| word.chars().count())
                .max()
                .unwrap_or(0);
            widest[index] = widest[index].max(longest.min(MAX_WHOLE_WORD));
        }
    }
    for (index, width) in widest.into_iter().enumerate().take(count.saturating_sub(1)) {
        if let (Some(column), Ok(width)) = (table.column_mut(index), u16::try_from(width + 2)) {
            column.set_constraint(ColumnConstraint::LowerBoundary(Width::Fixed(width)));
        }
    }
}

/// The longest word [`keep_words_whole`] keeps whole: a full IPv6 address.
const MAX_WHOLE_WORD: usize = 39;

/// The width `COLUMNS` asks for (POSIX.1 XBD §8.3: the user's preferred width), at least
/// [`MIN_COLUMNS`] so that no column is squeezed to nothing; `None` when it is unset or not a
/// number.
fn columns(value: Option<&str>) -> Option<u16> {
    let columns: u16 = value?.trim().parse().ok().filter(|&n| n > 0)?;
    Some(columns.max(MIN_COLUMNS))
}

/// The width the output is laid out to: the terminal's; elsewhere `COLUMNS` when it is set
/// ([`columns`]), else [`DEFAULT_WIDTH`].
pub(crate) fn layout_width(color: bool) -> u16 {
    if color
        && let Some(width) = Table::new().width()
        && width >= MIN_TERMINAL_WIDTH
    {
        return width;
    }
    columns(std::env::var("COLUMNS").ok().as_deref()).unwrap_or(DEFAULT_WIDTH)
}

fn verdict_cell(verdict: Verdict, color: bool) -> Cell {
    verdict_text_cell(verdict_word(verdict), verdict, color)
}

/// The word shown for an area's verdict.
pub(crate) fn verdict_word(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Ok => "ok",
        Verdict::Weak => "weak",
        Verdict::Fail => "fail",
        Verdict::Unknown => "unknown",
    }
}

fn verdict_text_cell(text: &str, verdict: Verdict, color: bool) -> Cell {
    let cell = Cell::new(text);
    if !color {
        return cell;
    }
    match verdict {
        Verdict::Ok => cell.fg(Color::Green),
        Verdict::Weak => cell.fg(Color::Yellow),
        Verdict::Fail => cell.fg(Color::Red),
        Verdict::Unknown => cell.fg(Color::Magenta),
    }
}

/// Text from DNS made safe for a terminal cell: control characters (escape sequences included)
/// shown as `\u{..}` escapes, and long text cut with its full length said.
pub fn clean(text: &str) -> String {
    visible(text, MAX_CELL_CHARS, false, "")
}

/// Text of ours that must be read whole (a diagnosis), made visible but cut only far later.
fn clean_long(text: &str) -> String {
    visible(text, 4 * MAX_CELL_CHARS, false, "")
}

#[cfg(test)]
mod tests {
    use super::{MIN_COLUMNS, clean, columns};

    #[test]
    fn columns_is_a_positive_width_and_not_below_the_minimum() {
        assert_eq!(columns(Some("80")), Some(80));
        assert_eq!(columns(Some(" 200 ")), Some(200));
        assert_eq!(columns(Some("10")), Some(MIN_COLUMNS));
        for ignored in [
            None,
            Some(""),
            Some("wide"),
            Some("0"),
            Some("-5"),
            Some("99999"),
        ] {
            assert_eq!(columns(ignored), None, "{ignored:?}");
        }
    }

    #[test]
    fn escape_sequences_and_binary_are_shown_not_sent() {
        let cleaned = clean("v=spf1 \u{1b}[2J\u{7}\0 -all");
        assert!(!cleaned.chars().any(char::is_control), "{cleaned:?}");
        assert!(cleaned.contains("\\u{1b}[2J"));
        assert!(!clean("a\u{202e}b").contains('\u{202e}'));
    }

    #[test]
    fn long_text_is_cut_and_says_how_long_it_was() {
        let cleaned = clean(&"x".repeat(4000));
        assert!(cleaned.chars().count() < 400);
        assert!(cleaned.ends_with("(4000 characters in all)"));
    }
}
