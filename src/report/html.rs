//! `--format html`: one self-contained file a person reads in a browser, archives, or prints.
//!
//! The page is rendered by an askama template (`templates/report.html`) that HTML-escapes every
//! value by default: TXT records are written by strangers, and a record holding `<script>` must
//! show as text. The template never uses `|safe`. On top of that the page carries a strict
//! Content-Security-Policy (`default-src 'none'`), so that even markup that slipped through could
//! neither run nor load anything; it references no script, font, image or stylesheet.
//!
//! This module only restates the report: it turns the model of [`super`] into rows of display
//! text ([`Page`]) and decides nothing. Control characters and Unicode bidirectional controls in
//! text from DNS are shown as `\u{..}` escapes, like the table does, so that what is shown is
//! what was published.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use askama::Template;
use serde::Serialize;

use super::link::{self, Segment};
use super::ranking;
use super::readable;
use super::summary::{self, AreaLine};
use super::table::{list_cell_text, verdict_word};
use super::visible::visible;
use super::{Areas, DomainAreas, FixAbove, TargetReport, unknown_line};
use crate::dkim::{DkimReport, SelectorReport, SelectorStatus};
use crate::dmarc::DmarcReport;
use crate::dnsbl::{ListAnswer, ListStatus};
use crate::files;
use crate::finding::{Finding, Severity, Verdict};
use crate::ip::IpReport;
use crate::mx::{HostReport, MxReport};
use crate::publish::RecordToPublish;
use crate::requirements::{self, Requirement};
use crate::score::area_label;
use crate::spf::{LOOKUP_LIMIT, Node, SpfReport, VOID_LIMIT};

/// Longest text shown in one place; a hostile TXT record can hold tens of kilobytes, and the
/// JSON report has it all.
const MAX_TEXT_CHARS: usize = 8192;

/// The directory reports go to when `--output` is not given.
pub const REPORTS_DIR: &str = "reports";

/// Writes one HTML page holding every report; `generated` is the time printed on it.
pub fn write_html(
    out: &mut dyn Write,
    reports: &[TargetReport],
    generated: SystemTime,
) -> io::Result<()> {
    let page = Page::new(reports, generated);
    let html = page.render().map_err(io::Error::other)?;
    out.write_all(html.as_bytes())
}

/// Writes the page to a new dated file under [`REPORTS_DIR`] (created if needed), named after
/// the first target; returns its path. The file is always a new one (see
/// [`files::create_unique`]): two runs in the same second get two files, and nothing planted at
/// the name is opened.
pub fn write_dated(reports: &[TargetReport], now: SystemTime) -> io::Result<PathBuf> {
    let first = reports.first().map_or("report", |r| r.target.as_str());
    write_dated_file(first, now, |out| write_html(out, reports, now))
}

/// Creates a new dated file under [`REPORTS_DIR`] named after `name`, has `write` fill it, and
/// returns its path: the place of every HTML page written without `--output`.
pub(super) fn write_dated_file(
    name: &str,
    now: SystemTime,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<PathBuf> {
    std::fs::create_dir_all(REPORTS_DIR)?;
    let (file, path) =
        files::create_unique(Path::new(REPORTS_DIR), &dated_stem(name, now), "html")?;
    let mut file = io::BufWriter::new(file);
    write(&mut file)?;
    file.flush()?;
    Ok(path)
}

/// `<first target>-<YYYYMMDD-HHMMSS>` (UTC), the target made safe for a file name.
fn dated_stem(first_target: &str, now: SystemTime) -> String {
    let time = Timestamp::from(now);
    format!(
        "{}-{:04}{:02}{:02}-{:02}{:02}{:02}",
        file_name_part(first_target),
        time.year,
        time.month,
        time.day,
        time.hour,
        time.minute,
        time.second
    )
}

/// A target as a file name component: letters, digits, `.`, `-` and `_` kept, anything else
/// (`:` of an IPv6 address, `/`, `..` at the start) replaced, at most 100 characters.
fn file_name_part(target: &str) -> String {
    let mut part: String = target
        .chars()
        .take(100)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    // Never a hidden file, `.` or `..`.
    while part.starts_with('.') {
        part.replace_range(0..1, "_");
    }
    if part.is_empty() {
        part.push_str("report");
    }
    part
}

/// Text that came from DNS or a server, made visible (see [`visible`]); HTML escaping is the
/// template's job, not this function's. The migrate page ([`super::migrate_html`]) shows its text
/// the same way.
pub(super) fn shown(text: &str) -> String {
    visible(text, MAX_TEXT_CHARS, true, "; see --format json")
}

/// A text shown with its web addresses and RFC references as links ([`link::linked`]).
fn linked(text: &str) -> Vec<Segment> {
    link::linked(&shown(text))
}

/// The serialized name of an enum value (`syntax-error`, `not-listed`): the words of the JSON.
pub(super) fn word<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(text)) => text,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

/// The page: a section per target, and a summary table when there are several.
#[derive(Template)]
#[template(path = "report.html")]
struct Page {
    title: String,
    generated: String,
    version: &'static str,
    incomplete_note: &'static str,
    parked_note: &'static str,
    /// One row per target; shown when there is more than one.
    summary: Vec<SummaryRow>,
    targets: Vec<TargetView>,
}

impl Page {
    fn new(reports: &[TargetReport], generated: SystemTime) -> Page {
        let names: Vec<String> = reports.iter().map(|r| shown(&r.target)).collect();
        let title = match names.as_slice() {
            [one] => format!("mailaudit report: {one}"),
            _ => format!("mailaudit report: {} targets", names.len()),
        };
        let summary = if reports.len() > 1 {
            // Worst first, as every summary ([`ranking`]); the sections keep the input order.
            let rows: Vec<super::SummaryRow> = reports.iter().map(super::SummaryRow::of).collect();
            ranking::order(&rows)
                .into_iter()
                .map(|i| SummaryRow {
                    anchor: anchor(i),
                    target: shown(&rows[i].target),
                    grade: rows[i].grade.to_string(),
                    score: rows[i].score,
                    worst: rows[i].worst.map_or_else(
                        || "-".to_owned(),
                        |(severity, code)| format!("{severity} {code}"),
                    ),
                    incomplete: rows[i].incomplete,
                })
                .collect()
        } else {
            Vec::new()
        };
        Page {
            title,
            generated: Timestamp::from(generated).to_string(),
            version: env!("CARGO_PKG_VERSION"),
            incomplete_note: super::INCOMPLETE_NOTE,
            parked_note: super::table::PARKED_NOTE,
            summary,
            targets: reports
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let mut view = TargetView::new(i, r);
                    // The data of one target, for whoever wants it; a bulk page would double in
                    // size, and `--format json` has it all.
                    if reports.len() == 1 {
                        view.raw_json = serde_json::to_string_pretty(r)
                            .map(|json| visible(&json, json.len(), true, ""))
                            .ok();
                    }
                    view
                })
                .collect(),
        }
    }
}

fn anchor(index: usize) -> String {
    format!("target-{}", index + 1)
}

struct SummaryRow {
    anchor: String,
    target: String,
    grade: String,
    score: u8,
    worst: String,
    /// `incomplete` when something could not be determined.
    incomplete: bool,
}

/// Everything shown for one target.
#[derive(Default)]
struct TargetView {
    anchor: String,
    target: String,
    kind: String,
    grade: String,
    score: u8,
    /// Findings per severity, most severe first.
    counts: Vec<Count>,
    /// What could not be determined, one line each; empty for a complete audit.
    unknown: Vec<String>,
    /// A domain that sends and receives no mail: sender advice is left out.
    parked: bool,
    /// The DNS servers asked.
    resolvers: String,
    /// The arithmetic from 100 to the score.
    explanation: String,
    /// The caps that lowered the score, in words.
    caps: Vec<String>,
    /// What each area cost, and what counted after the per-area cap.
    area_costs: Vec<AreaCostView>,
    deductions: Vec<DeductionView>,
    /// The records to publish, one per name.
    records: Vec<RecordView>,
    top_fixes: Vec<TopFixView>,
    findings: Vec<FindingView>,
    requirements: Vec<RequirementView>,
    /// One line per mailbox provider: how many of its requirements are not met.
    requirement_lines: Vec<String>,
    areas: Vec<AreaView>,
    spf: Option<SpfView>,
    dmarc: Option<DmarcView>,
    dkim: Option<DkimView>,
    mx: Option<MxView>,
    /// Reverse DNS of each sending IP.
    ips: Vec<IpView>,
    /// One row a list, one column a sending IP.
    ip_matrix: Option<Matrix>,
    /// One row a list, one column a domain (the domain and its MX hosts' domains).
    domain_matrix: Option<Matrix>,
    /// Each SMTP session probed: a mail server's ports, or a domain's MX hosts (`--smtp`).
    smtp: Vec<SmtpSessionView>,
    /// MTA-STS and TLS-RPT: their facts.
    transport: Vec<FactsView>,
    /// The report as JSON (a page of one target only).
    raw_json: Option<String>,
}

/// An area shown as its facts, one a row, and a text shown as fetched (the MTA-STS policy).
struct FactsView {
    title: &'static str,
    /// The section's id within the target's.
    id: &'static str,
    verdict: &'static str,
    facts: Vec<LinkedPair>,
    text: Option<String>,
}

/// A label and a value whose web addresses are links.
struct LinkedPair {
    key: String,
    value: Vec<Segment>,
}

impl FactsView {
    fn new(
        title: &'static str,
        id: &'static str,
        verdict: Verdict,
        facts: Vec<(&'static str, String)>,
        text: Option<&str>,
    ) -> FactsView {
        FactsView {
            title,
            id,
            verdict: verdict_word(verdict),
            facts: facts
                .into_iter()
                .map(|(key, value)| LinkedPair {
                    key: key.to_owned(),
                    value: linked(&value),
                })
                .collect(),
            text: text.map(|t| shown(&t.replace("\r\n", "\n"))),
        }
    }
}

/// One SMTP session: a title and its facts, the diagnosis first.
struct SmtpSessionView {
    title: String,
    verdict: &'static str,
    facts: Vec<Pair>,
}

impl SmtpSessionView {
    /// Every session of a report's SMTP probes.
    fn all(areas: &Areas) -> Vec<SmtpSessionView> {
        summary::smtp_probes(areas)
            .into_iter()
            .flat_map(|probe| {
                probe.sessions.iter().map(move |session| SmtpSessionView {
                    title: shown(&format!("{}:{} — {}", probe.host, probe.port, session.ip)),
                    verdict: verdict_word(probe.verdict),
                    facts: summary::smtp_facts(probe, session)
                        .into_iter()
                        .map(|(key, value)| Pair {
                            key: key.to_owned(),
                            value: shown(&value),
                        })
                        .collect(),
                })
            })
            .collect()
    }
}

impl TargetView {
    fn new(index: usize, report: &TargetReport) -> TargetView {
        let severities = [
            Severity::Critical,
            Severity::Error,
            Severity::Warning,
            Severity::Info,
        ];
        let counts = severities
            .iter()
            .map(|&severity| Count {
                severity: severity.as_str(),
                count: report
                    .findings
                    .iter()
                    .filter(|f| f.severity == severity)
                    .count(),
            })
            .collect();
        let mut view = TargetView {
            anchor: anchor(index),
            target: shown(&report.target),
            kind: word(&report.kind),
            grade: report.grade.to_string(),
            score: report.score,
            counts,
            unknown: report
                .unknown
                .iter()
                .map(|u| shown(&unknown_line(u)))
                .collect(),
            parked: report.parked,
            resolvers: report.resolvers.join(", "),
            explanation: report.scoring.explanation.clone(),
            caps: report
                .scoring
                .caps
                .iter()
                .filter(|c| c.lowered)
                .map(|c| format!("at most {} because {}", c.max, c.reason.describe()))
                .collect(),
            area_costs: report
                .scoring
                .areas
                .iter()
                .map(|a| AreaCostView {
                    area: area_label(&a.area).to_owned(),
                    points: a.points,
                    counted: a.counted,
                })
                .collect(),
            deductions: report
                .scoring
                .deductions
                .iter()
                .map(|d| DeductionView {
                    code: d.code.clone(),
                    area: area_label(&d.area).to_owned(),
                    severity: d.severity.as_str(),
                    points: d.points,
                })
                .collect(),
            records: RecordView::all(report),
            top_fixes: TopFixView::all(report),
            findings: report
                .findings
                .iter()
                .map(|f| FindingView::new(f, report.fix_shown_above(f)))
                .collect(),
            requirements: report
                .requirements()
                .iter()
                .map(RequirementView::new)
                .collect(),
            requirement_lines: requirements::summary_lines(report.requirements(), ""),
            areas: summary::areas(&report.areas)
                .iter()
                .map(AreaView::new)
                .collect(),
            ..TargetView::default()
        };
        view.smtp = SmtpSessionView::all(&report.areas);
        let ips = summary::ip_reports(&report.areas);
        view.ips = ips.iter().map(|ip| IpView::new(ip)).collect();
        if !ips.is_empty() {
            view.ip_matrix = Some(Matrix::new(
                ips.iter()
                    .map(|ip| (ip.ip.to_string(), ip.lists.as_slice()))
                    .collect(),
            ));
        }
        if let Areas::Domain(domain) = &report.areas {
            view.add_domain_areas(domain);
        }
        view
    }

    fn add_domain_areas(&mut self, areas: &DomainAreas) {
        self.spf = Some(SpfView::new(&areas.spf));
        self.dmarc = Some(DmarcView::new(&areas.dmarc));
        self.dkim = Some(DkimView::new(&areas.dkim));
        self.mx = Some(MxView::new(&areas.mx));
        self.transport = vec![
            FactsView::new(
                "MTA-STS",
                "mta-sts",
                areas.mta_sts.verdict,
                summary::mta_sts_facts(&areas.mta_sts),
                areas
                    .mta_sts
                    .policy
                    .as_ref()
                    .and_then(|p| p.text.as_deref()),
            ),
            FactsView::new(
                "TLS-RPT",
                "tls-rpt",
                areas.tls_rpt.verdict,
                summary::tls_rpt_facts(&areas.tls_rpt),
                None,
            ),
            FactsView::new(
                "BIMI",
                "bimi",
                areas.bimi.verdict,
                summary::bimi_facts(&areas.bimi),
                None,
            ),
        ];
        if !areas.blocklists.is_empty() {
            self.domain_matrix = Some(Matrix::new(
                areas
                    .blocklists
                    .iter()
                    .map(|b| (shown(&b.domain), b.lists.as_slice()))
                    .collect(),
            ));
        }
    }
}

struct Count {
    severity: &'static str,
    count: usize,
}

struct AreaCostView {
    area: String,
    points: u32,
    counted: u32,
}

struct DeductionView {
    code: String,
    area: String,
    severity: &'static str,
    points: u32,
}

/// A record to publish: its zone-file line, and what it fixes and replaces.
struct RecordView {
    name: String,
    line: String,
    fixes: String,
    replaces: String,
    steps: Vec<String>,
}

impl RecordView {
    fn all(report: &TargetReport) -> Vec<RecordView> {
        report
            .records_to_publish
            .iter()
            .map(RecordView::new)
            .collect()
    }

    fn new(record: &RecordToPublish) -> RecordView {
        let codes: Vec<&str> = record.fixes.iter().map(|c| c.as_str()).collect();
        RecordView {
            name: shown(&record.name),
            line: visible(&record.zone_line(), super::MAX_RECORD_CHARS, false, ""),
            fixes: codes.join(", "),
            replaces: record.replaces.as_deref().map_or_else(
                || "a new record".to_owned(),
                |old| format!("replaces \"{}\"", shown(old)),
            ),
            steps: record.steps.iter().map(|s| shown(s)).collect(),
        }
    }
}

struct TopFixView {
    code: String,
    severity: &'static str,
    gain: u8,
    /// The name of the record to publish that makes this fix, shown instead of the fix.
    record: Option<String>,
    fix: Vec<Segment>,
}

impl TopFixView {
    /// The fixes to make first; one that a record to publish makes names the record.
    fn all(report: &TargetReport) -> Vec<TopFixView> {
        report
            .scoring
            .top_fixes
            .iter()
            .map(|f| TopFixView {
                code: f.code.clone(),
                severity: f.severity.as_str(),
                gain: f.gain,
                record: report.record_fixing(&f.code).map(|r| shown(&r.name)),
                fix: linked(&f.fix),
            })
            .collect()
    }
}

/// A label and a value, for evidence and key facts.
struct Pair {
    key: String,
    value: String,
}

struct FindingView {
    severity: &'static str,
    code: &'static str,
    message: Vec<Segment>,
    /// Where the fix is already shown (`fix 2 above`, `the record for _dmarc.example.com
    /// above`), instead of the fix.
    fix_above: Option<String>,
    fix: Option<Vec<Segment>>,
    evidence: Vec<EvidenceView>,
}

/// One piece of a finding's evidence, as lines for people ([`readable`]).
struct EvidenceView {
    key: String,
    lines: Vec<String>,
    /// Too many lines to show open: they go in a `<details>`.
    folded: bool,
}

/// More evidence lines than this are folded away.
const OPEN_LINES: usize = 6;

impl FindingView {
    fn new(finding: &Finding, above: Option<FixAbove<'_>>) -> FindingView {
        FindingView {
            severity: finding.severity.as_str(),
            code: finding.code.as_str(),
            message: linked(&finding.message),
            fix_above: above.map(|above| match above {
                FixAbove::First(n) => format!("fix {n} of \"Do this first\""),
                FixAbove::Record(name) => format!("the record for {} above", shown(name)),
            }),
            fix: finding.fix.as_deref().map(linked),
            evidence: finding
                .evidence
                .iter()
                .map(|(key, value)| {
                    let lines: Vec<String> =
                        readable::lines(value).iter().map(|l| shown(l)).collect();
                    EvidenceView {
                        key: shown(&key.replace('_', " ")),
                        folded: lines.len() > OPEN_LINES,
                        lines,
                    }
                })
                .collect(),
        }
    }
}

struct RequirementView {
    provider: String,
    audience: String,
    requirement: String,
    /// The CSS class of the status: `ok`, `fail`, `unknown`, `weak`.
    class: &'static str,
    status: &'static str,
    codes: String,
    detail: String,
}

impl RequirementView {
    fn new(requirement: &Requirement) -> RequirementView {
        let class = verdict_word(requirement.status.tone());
        RequirementView {
            provider: requirement.provider.clone(),
            audience: requirement.audience.clone(),
            requirement: requirement.requirement.clone(),
            class,
            status: requirement.status.as_str(),
            codes: requirement
                .codes
                .iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            detail: shown(&requirement.detail),
        }
    }
}

/// An area's tile in the overview: its verdict and the first line of what was found.
struct AreaView {
    area: &'static str,
    verdict: &'static str,
    /// The first lines of what was found.
    headline: Vec<String>,
    /// How many more lines the area's section holds.
    more: usize,
}

/// How many lines of an area a tile shows.
const TILE_LINES: usize = 2;

impl AreaView {
    fn new(line: &AreaLine) -> AreaView {
        AreaView {
            area: line.area,
            verdict: verdict_word(line.verdict),
            headline: line
                .found
                .iter()
                .take(TILE_LINES)
                .map(|f| shown(f))
                .collect(),
            more: line.found.len().saturating_sub(TILE_LINES),
        }
    }
}

struct SpfView {
    verdict: &'static str,
    domain: String,
    dns: String,
    /// Every TXT record at the domain, its character-strings quoted as in a zone file.
    txt: Vec<String>,
    record: Option<String>,
    diagnostics: Vec<String>,
    total_lookups: usize,
    lookup_limit: usize,
    over_limit: bool,
    void_lookups: usize,
    void_limit: usize,
    tree: Vec<TreeRow>,
}

impl SpfView {
    fn new(report: &SpfReport) -> SpfView {
        let mut tree = Vec::new();
        tree_rows(&report.tree, 0, &mut tree);
        nest(&mut tree);
        SpfView {
            verdict: verdict_word(report.verdict),
            domain: shown(&report.domain),
            dns: shown(&report.dns),
            txt: report.txt.iter().map(|s| shown(&quoted(s))).collect(),
            record: report.record.as_deref().map(shown),
            diagnostics: report
                .diagnostics
                .iter()
                .map(|d| {
                    let suggestion = d
                        .suggestion
                        .as_ref()
                        .map(|s| format!(" (write: {s})"))
                        .unwrap_or_default();
                    shown(&format!(
                        "at byte {}: {}: {}{suggestion}",
                        d.offset, d.term, d.reason
                    ))
                })
                .collect(),
            total_lookups: report.total_lookups,
            lookup_limit: LOOKUP_LIMIT,
            over_limit: report.total_lookups > LOOKUP_LIMIT,
            void_lookups: report.void_lookups,
            void_limit: VOID_LIMIT,
            tree,
        }
    }
}

/// Character-strings as a zone file writes them: `"v=spf1 " "-all"`.
fn quoted(strings: &[String]) -> String {
    strings
        .iter()
        .map(|s| format!("\"{}\"", crate::publish::escape_character_string(s)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// One node of the SPF include/redirect tree.
struct TreeRow {
    /// Indentation, in steps.
    depth: usize,
    /// The term that led here (`include:_spf.example.com`), or the domain for the root.
    label: String,
    domain: String,
    via: String,
    status: String,
    dns: String,
    record: Option<String>,
    lookups: usize,
    subtree_lookups: usize,
    cumulative_lookups: usize,
    /// The running total is past the limit at this node.
    over_limit: bool,
    void_lookups: usize,
    /// The node has children: a nested list opens after it.
    opens: bool,
    /// How many nested lists close after it (the levels back up to the next node's).
    closes: usize,
}

fn tree_rows(node: &Node, depth: usize, rows: &mut Vec<TreeRow>) {
    rows.push(TreeRow {
        depth,
        label: shown(node.term.as_deref().unwrap_or(&node.domain)),
        domain: shown(&node.domain),
        via: word(&node.via),
        status: word(&node.status),
        dns: node.dns.as_deref().map(shown).unwrap_or_default(),
        record: node
            .record
            .as_deref()
            .map(shown)
            .or_else(|| (node.records.len() > 1).then(|| shown(&node.records.join("  |  ")))),
        lookups: node.lookups,
        subtree_lookups: node.subtree_lookups,
        cumulative_lookups: node.cumulative_lookups,
        over_limit: node.cumulative_lookups > LOOKUP_LIMIT,
        void_lookups: node.void_lookups,
        opens: !node.children.is_empty(),
        closes: 0,
    });
    for child in &node.children {
        tree_rows(child, depth + 1, rows);
    }
}

/// How many nested lists close after each row of a depth-first tree: as many levels as the next
/// row is shallower (all of them after the last), so that the list markup is balanced.
fn nest(rows: &mut [TreeRow]) {
    let depths: Vec<usize> = rows.iter().map(|r| r.depth).collect();
    for (i, row) in rows.iter_mut().enumerate() {
        let next = depths.get(i + 1).copied().unwrap_or(0);
        row.closes = if row.opens {
            0
        } else {
            row.depth.saturating_sub(next)
        };
    }
}

struct DmarcView {
    verdict: &'static str,
    domain: String,
    found_at: Option<String>,
    inherited: bool,
    record: Option<String>,
    queries: Vec<QueryView>,
    tags: Vec<TagView>,
    notes: Vec<String>,
    policy: Option<String>,
    destinations: Vec<DestinationView>,
}

struct QueryView {
    name: String,
    status: String,
    aliases: String,
    records: Vec<String>,
    needed: bool,
}

struct TagView {
    name: String,
    value: String,
    status: String,
    /// What the tag asks receivers.
    meaning: &'static str,
    understood: String,
}

struct DestinationView {
    tag: String,
    uri: String,
    authorization: String,
    query: String,
    status: String,
}

impl DmarcView {
    fn new(report: &DmarcReport) -> DmarcView {
        DmarcView {
            verdict: verdict_word(report.verdict),
            domain: shown(&report.domain),
            found_at: report.found_at.as_deref().map(shown),
            inherited: report.inherited,
            record: report.record.as_deref().map(shown),
            queries: report
                .queries
                .iter()
                .map(|q| QueryView {
                    name: shown(&q.name),
                    status: shown(&q.status),
                    aliases: shown(&q.aliases.join(" → ")),
                    records: q.records.iter().map(|r| shown(r)).collect(),
                    needed: q.needed,
                })
                .collect(),
            tags: report
                .tags
                .iter()
                .map(|t| TagView {
                    name: shown(&t.name),
                    value: shown(&t.value),
                    status: word(&t.status),
                    meaning: t
                        .meaning()
                        .unwrap_or("not a DMARC tag: receivers ignore it"),
                    understood: t
                        .understood
                        .as_ref()
                        .map(|v| shown(&readable::inline(v)))
                        .unwrap_or_default(),
                })
                .collect(),
            notes: report
                .notes
                .iter()
                .map(|n| {
                    let tag = n.tag.as_ref().map(|t| format!("{t}: ")).unwrap_or_default();
                    shown(&format!("{}: {tag}{}", word(&n.level), n.message))
                })
                .collect(),
            policy: report.effective_policy.as_ref().map(|p| {
                let requested = p.requested.map_or("none applies", |p| p.as_str());
                shown(&format!("{requested} ({})", p.why))
            }),
            destinations: report
                .report_destinations
                .iter()
                .map(|d| DestinationView {
                    tag: shown(&d.tag),
                    uri: shown(&d.uri.uri),
                    authorization: word(&d.authorization),
                    query: d.query.as_deref().map(shown).unwrap_or_default(),
                    status: d.status.as_deref().map(shown).unwrap_or_default(),
                })
                .collect(),
        }
    }
}

struct DkimView {
    verdict: &'static str,
    found: String,
    /// How many selectors were tried.
    tried: usize,
    /// The selectors whose name held something (a key, another record) or whose lookup failed.
    selectors: Vec<SelectorView>,
    /// The selectors whose name held nothing, listed in one line.
    no_record: Vec<SelectorView>,
}

struct SelectorView {
    selector: String,
    source: String,
    provider: String,
    status: String,
    /// Whether a key record was found (the row is highlighted).
    has_key: bool,
    no_record: bool,
    answer: String,
    aliases: String,
    records: Vec<String>,
    keys: Vec<KeyView>,
}

struct KeyView {
    key_type: String,
    /// `rsa 2048 bits`, `revoked (empty p=)`, or why it does not parse.
    described: String,
}

impl DkimView {
    fn new(report: &DkimReport) -> DkimView {
        let (no_record, selectors): (Vec<SelectorView>, Vec<SelectorView>) = report
            .selectors
            .iter()
            .map(SelectorView::new)
            .partition(|s| s.no_record);
        DkimView {
            verdict: verdict_word(report.verdict),
            found: shown(&report.found.join(", ")),
            tried: report.selectors.len(),
            selectors,
            no_record,
        }
    }
}

impl SelectorView {
    fn new(s: &SelectorReport) -> SelectorView {
        SelectorView {
            selector: shown(&s.selector),
            source: word(&s.source),
            provider: s.provider.as_deref().map(shown).unwrap_or_default(),
            status: word(&s.status),
            has_key: s.status == SelectorStatus::Key,
            no_record: s.status == SelectorStatus::NoRecord,
            answer: shown(&s.answer),
            aliases: shown(&s.aliases.join(" → ")),
            records: s.records.iter().map(|r| shown(r)).collect(),
            keys: s
                .keys
                .iter()
                .map(|k| KeyView {
                    key_type: shown(&k.key_type),
                    described: shown(&match &k.key {
                        Some(info) => {
                            format!("{} {} bits", word(&info.algorithm), info.bits)
                        }
                        None if k.is_revoked() => "revoked (empty p=)".to_owned(),
                        None if k.problems.is_empty() => "no key".to_owned(),
                        None => k.problems.join("; "),
                    }),
                })
                .collect(),
        }
    }
}

struct MxView {
    verdict: &'static str,
    name: String,
    answer: String,
    aliases: String,
    null_mx: bool,
    hosts: Vec<HostView>,
}

struct HostView {
    exchange: String,
    /// `10`, `10/20`, or `implicit` for the domain's own address (no MX).
    preferences: String,
    status: String,
    a: String,
    aaaa: String,
    aliases: String,
    addresses: Vec<AddressView>,
}

struct AddressView {
    ip: String,
    range: String,
    ptr: String,
    ptr_answer: String,
}

impl MxView {
    fn new(report: &MxReport) -> MxView {
        MxView {
            verdict: verdict_word(report.verdict),
            name: shown(&report.name),
            answer: shown(&report.answer),
            aliases: shown(&report.aliases.join(" → ")),
            null_mx: report.null_mx,
            hosts: report
                .hosts
                .iter()
                .chain(report.fallback.iter())
                .map(HostView::new)
                .collect(),
        }
    }
}

impl HostView {
    fn new(host: &HostReport) -> HostView {
        let preferences: Vec<String> = host.preferences.iter().map(u16::to_string).collect();
        HostView {
            exchange: shown(&host.exchange),
            preferences: if preferences.is_empty() {
                "implicit (no MX)".to_owned()
            } else {
                preferences.join("/")
            },
            status: word(&host.status),
            a: shown(&host.a),
            aaaa: shown(&host.aaaa),
            aliases: shown(&host.aliases.join(" → ")),
            addresses: host
                .addresses
                .iter()
                .map(|a| AddressView {
                    ip: a.ip.to_string(),
                    range: a
                        .range
                        .as_ref()
                        .map(|r| format!("{} ({}, {})", r.cidr, word(&r.kind), r.rfc))
                        .unwrap_or_default(),
                    ptr: shown(&a.ptr.join(", ")),
                    ptr_answer: shown(&a.ptr_answer),
                })
                .collect(),
        }
    }
}

struct IpView {
    ip: String,
    verdict: &'static str,
    query: String,
    answer: String,
    fcrdns: &'static str,
    names: Vec<PtrView>,
}

struct PtrView {
    name: String,
    forward: String,
    confirms: bool,
    generic: String,
}

impl IpView {
    fn new(report: &IpReport) -> IpView {
        let reverse = &report.reverse_dns;
        IpView {
            ip: report.ip.to_string(),
            verdict: verdict_word(report.verdict),
            query: shown(&reverse.query),
            answer: shown(&reverse.answer),
            fcrdns: match reverse.fcrdns {
                Some(true) => "yes",
                Some(false) => "no",
                None => "unknown",
            },
            names: reverse
                .names
                .iter()
                .map(|n| PtrView {
                    name: shown(&n.name),
                    forward: shown(&format!(
                        "{} {}: {}",
                        n.forward_type,
                        n.forward_answer,
                        n.addresses
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                    confirms: n.confirms,
                    generic: n.generic.as_deref().map(shown).unwrap_or_default(),
                })
                .collect(),
        }
    }
}

/// A blocklist matrix: one row a list, one column an item (IP or domain).
struct Matrix {
    columns: Vec<String>,
    rows: Vec<MatrixRow>,
}

struct MatrixRow {
    list: String,
    zone: String,
    weight: String,
    cells: Vec<MatrixCell>,
}

struct MatrixCell {
    /// `listed`, `clean`, `unknown`, `skipped`, `absent`: the CSS class.
    class: &'static str,
    text: String,
    /// The list's TXT reason or why it gave no answer.
    detail: Vec<Segment>,
    /// The list's removal page, for a listed item (an http(s) address only).
    removal: Option<String>,
}

impl Matrix {
    fn new(columns: Vec<(String, &[ListAnswer])>) -> Matrix {
        let mut lists: Vec<&ListAnswer> = Vec::new();
        for (_, answers) in &columns {
            for answer in *answers {
                if !lists
                    .iter()
                    .any(|l| l.list == answer.list && l.zone == answer.zone)
                {
                    lists.push(answer);
                }
            }
        }
        let rows = lists
            .iter()
            .map(|list| MatrixRow {
                list: shown(&list.list),
                zone: shown(&list.zone),
                weight: word(&list.weight),
                cells: columns
                    .iter()
                    .map(|(_, answers)| {
                        answers
                            .iter()
                            .find(|a| a.list == list.list && a.zone == list.zone)
                            .map_or_else(
                                || MatrixCell {
                                    class: "absent",
                                    text: "-".to_owned(),
                                    detail: Vec::new(),
                                    removal: None,
                                },
                                matrix_cell,
                            )
                    })
                    .collect(),
            })
            .collect();
        Matrix {
            columns: columns.into_iter().map(|(name, _)| name).collect(),
            rows,
        }
    }
}

fn matrix_cell(answer: &ListAnswer) -> MatrixCell {
    let class = match answer.status {
        ListStatus::Listed => "listed",
        ListStatus::NotListed => "clean",
        ListStatus::Skipped if answer.health.is_none() => "skipped",
        ListStatus::Refused
        | ListStatus::InvalidAnswer
        | ListStatus::Unavailable
        | ListStatus::Skipped => "unknown",
    };
    let text = list_cell_text(answer);
    let mut detail: Vec<String> = answer
        .codes
        .iter()
        .filter(|c| !c.meaning.is_empty())
        .map(|c| c.meaning.clone())
        .collect();
    detail.extend(answer.txt.iter().cloned());
    detail.extend(answer.detail.iter().cloned());
    MatrixCell {
        class,
        text: text.trim_end().to_owned(),
        detail: linked(&detail.join("; ")),
        removal: (answer.status == ListStatus::Listed)
            .then(|| answer.removal.as_deref().and_then(link::web_url))
            .flatten(),
    }
}

/// A UTC calendar time, from a [`SystemTime`], without a date library.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Timestamp {
    year: u64,
    month: u64,
    day: u64,
    hour: u64,
    minute: u64,
    second: u64,
}

impl From<SystemTime> for Timestamp {
    fn from(time: SystemTime) -> Self {
        let secs = time
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let (year, month, day) = civil_from_days(secs / 86_400);
        let of_day = secs % 86_400;
        Timestamp {
            year,
            month,
            day,
            hour: of_day / 3600,
            minute: of_day % 3600 / 60,
            second: of_day % 60,
        }
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

/// Days since 1970-01-01 as (year, month, day) of the proleptic Gregorian calendar (Howard
/// Hinnant's `civil_from_days`, for days on or after the epoch).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::finding::Code;

    const HOSTILE: &str = "<script>alert(1)</script><img src=x onerror=alert(1)>\"'&\u{1b}[2J\0";

    /// A page of one target whose every DNS-sourced string is hostile.
    fn hostile_page() -> String {
        let finding = Finding::new(
            Code::SpfSyntax,
            format!("bad term {HOSTILE} javascript:alert(1) https://a.example/\"onclick=alert(1)"),
        )
        .fix(format!("v=spf1 {HOSTILE} -all"))
        .evidence("record", HOSTILE);
        let target = TargetView {
            anchor: anchor(0),
            target: shown("hostile.test"),
            findings: vec![FindingView::new(&finding, None)],
            spf: Some(SpfView {
                verdict: "fail",
                domain: shown("hostile.test"),
                dns: "records".to_owned(),
                txt: vec![shown(&quoted(&[HOSTILE.to_owned()]))],
                record: Some(shown(HOSTILE)),
                diagnostics: vec![shown(HOSTILE)],
                total_lookups: 1,
                lookup_limit: LOOKUP_LIMIT,
                over_limit: false,
                void_lookups: 0,
                void_limit: VOID_LIMIT,
                tree: Vec::new(),
            }),
            ..TargetView::default()
        };
        Page {
            title: "mailaudit report: hostile.test".to_owned(),
            generated: Timestamp::from(UNIX_EPOCH).to_string(),
            version: "test",
            incomplete_note: crate::report::INCOMPLETE_NOTE,
            parked_note: "",
            summary: Vec::new(),
            targets: vec![target],
        }
        .render()
        .expect("render")
    }

    /// The page's own markup: every tag, without its `<` and `>`. Text from DNS is escaped, so
    /// every `<` in the page starts a tag the template wrote.
    fn tags(html: &str) -> Vec<&str> {
        html.split('<')
            .skip(1)
            .map(|rest| rest.split('>').next().unwrap_or(rest))
            .collect()
    }

    #[test]
    fn markup_from_dns_is_escaped_as_text() {
        let html = hostile_page();
        for tag in tags(&html) {
            let name = tag.split([' ', '/']).next().unwrap_or_default();
            assert!(
                !["script", "img", "b", "i"].contains(&name),
                "a tag from DNS was written: <{tag}>"
            );
            assert!(!tag.contains("onerror"), "<{tag}>");
        }
        assert!(
            html.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
            "the record is not shown as text"
        );
        assert!(html.contains("&#60;img src=x onerror=alert(1)&#62;"));
        assert!(!html.contains('\u{1b}') && !html.contains('\0'));
        assert!(html.contains("\\u{1b}[2J"), "the escape byte is not shown");
    }

    #[test]
    fn the_page_loads_nothing_and_forbids_loading() {
        let html = hostile_page();
        assert!(html.contains(
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        ));
        for tag in tags(&html) {
            let name = tag.split([' ', '/']).next().unwrap_or_default();
            assert!(
                !["link", "img", "script", "iframe", "object", "embed", "base"].contains(&name),
                "<{tag}>"
            );
            assert!(!tag.contains("src="), "<{tag}> loads something");
            assert!(
                !tag.contains("://") || tag.starts_with("a href="),
                "<{tag}> names a URL"
            );
            if let Some(at) = tag.find("href=") {
                let web = tag.starts_with("a href=\"https://")
                    && tag.ends_with("\" rel=\"noreferrer noopener\"");
                assert!(
                    tag[at..].starts_with("href=\"#") || web,
                    "<{tag}> links out"
                );
            }
        }
        let style = html
            .split("<style>")
            .nth(1)
            .and_then(|s| s.split("</style>").next())
            .expect("inline style");
        assert!(!style.contains("url(") && !style.contains("@import"));
    }

    #[test]
    fn only_web_addresses_become_links_and_their_text_is_escaped() {
        let html = hostile_page();
        let links: Vec<&str> = tags(&html)
            .into_iter()
            .filter(|t| t.starts_with("a href=\"http"))
            .collect();
        assert_eq!(
            links,
            ["a href=\"https://a.example/\" rel=\"noreferrer noopener\""]
        );
        assert!(html.contains("javascript:alert(1)"), "shown as text");
        assert!(!html.contains("href=\"javascript"));
    }

    #[test]
    fn control_characters_are_shown_and_long_text_is_cut() {
        assert_eq!(shown("a\u{1b}b\u{202e}c"), "a\\u{1b}b\\u{202e}c");
        let long = shown(&"x".repeat(MAX_TEXT_CHARS + 10));
        assert!(long.ends_with(&format!(
            "({} characters in all; see --format json)",
            MAX_TEXT_CHARS + 10
        )));
    }

    #[test]
    fn dated_names_are_dated_and_safe() {
        let time = UNIX_EPOCH + Duration::from_secs(1_764_293_125); // 2025-11-28 01:25:25 UTC
        assert_eq!(
            dated_stem("example.com", time),
            "example.com-20251128-012525"
        );
        assert_eq!(
            dated_stem("2001:db8::1", time),
            "2001_db8__1-20251128-012525"
        );
        let part = file_name_part("../etc/passwd");
        assert!(!part.contains('/') && !part.starts_with('.'), "{part}");
    }

    #[test]
    fn calendar_dates_are_right_across_leap_years() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(19_783), (2024, 3, 1));
    }
}
