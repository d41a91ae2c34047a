//! The report model (one `Serialize` type for every format) and one module per output format.
//! Reporters write to any `io::Write` and decide nothing: every verdict is made before.

pub mod html;
pub mod json;
mod link;
pub mod markdown;
pub mod message;
pub mod migrate_html;
pub mod ranking;
mod readable;
pub mod reports_csv;
pub mod reports_html;
pub mod reports_table;
pub mod stream;
pub mod summary;
pub mod table;
pub mod visible;

use serde::Serialize;

use crate::completeness::{self, Unknown};
use crate::dns::Stats;
use crate::dnsbl::DomainListingReport;
use crate::finding::{self, Code, Finding, Severity, Verdict};
use crate::ip::IpReport;
use crate::publish::{self, RecordToPublish};
use crate::requirements::{self, Requirement};
use crate::score::{self, Grade, Score};
use crate::{bimi, dane, dkim, dmarc, dnssec, mta_sts, mx, smtp, spf, tlsrpt};

/// Longest record a text format shows: a record to publish is shown whole up to here (a line to
/// paste is never cut mid-token below it).
pub const MAX_RECORD_CHARS: usize = 4800;

/// The version of the JSON report's shape; raised only on an incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// What was audited.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    Domain,
    Ip,
    /// A mail server probed with `mailaudit smtp`.
    Smtp,
}

/// The areas of a domain audit, each with its records as fetched and what was derived.
#[derive(Clone, Debug, Serialize)]
pub struct DomainAreas {
    pub spf: spf::SpfReport,
    pub dmarc: dmarc::DmarcReport,
    pub dkim: dkim::DkimReport,
    pub mx: mx::MxReport,
    /// MTA-STS (RFC 8461): the `_mta-sts` record and the policy fetched over HTTPS.
    #[serde(rename = "mta_sts")]
    pub mta_sts: mta_sts::MtaStsReport,
    /// TLS-RPT (RFC 8460): the `_smtp._tls` record.
    #[serde(rename = "tls_rpt")]
    pub tls_rpt: tlsrpt::TlsRptReport,
    /// The sending IPs given with `--ip`: reverse DNS and blocklists.
    pub ips: Vec<IpReport>,
    /// The domain and its MX hosts' domains on the domain blocklists.
    pub blocklists: Vec<DomainListingReport>,
    /// `--smtp`: each MX host probed on port 25.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub smtp: Vec<smtp::PortProbe>,
    /// The BIMI record, the DMARC prerequisite, and with `--fetch-bimi` the logo and the mark
    /// certificate.
    pub bimi: bimi::BimiReport,
    /// Whether the domain's zone is DNSSEC-signed and validates.
    pub dnssec: dnssec::DnssecReport,
    /// The MX hosts' TLSA records (DANE, RFC 7672).
    pub dane: dane::DaneReport,
}

/// The areas of a sending-IP report.
#[derive(Clone, Debug, Serialize)]
pub struct IpAreas {
    /// Reverse DNS and every blocklist's answer.
    pub ip: IpReport,
}

/// The areas of a mail server's report.
#[derive(Clone, Debug, Serialize)]
pub struct SmtpAreas {
    /// The host and every port probed.
    pub smtp: smtp::SmtpReport,
}

/// The areas of a report, by kind of target; flattened into the report's JSON object.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum Areas {
    Domain(Box<DomainAreas>),
    Ip(Box<IpAreas>),
    Smtp(Box<SmtpAreas>),
}

/// The report of one target, as `cli.md` specifies its JSON.
#[derive(Clone, Debug, Serialize)]
pub struct TargetReport {
    pub schema_version: u32,
    pub target: String,
    pub kind: TargetKind,
    pub score: u8,
    pub grade: Grade,
    /// Something could not be determined (see `unknown`): the score is of what was seen.
    pub incomplete: bool,
    /// What could not be determined, and why.
    pub unknown: Vec<Unknown>,
    /// The DNS servers asked (`ADDR:PORT`).
    pub resolvers: Vec<String>,
    /// What the audit asked the resolver: questions, resends, time-outs (not stored by the
    /// monitor: it is the cost of one run, not a fact about the target).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<Stats>,
    /// Why the score is what it is, and the fixes that would raise it most.
    pub scoring: Score,
    /// Every finding, most severe first.
    pub findings: Vec<Finding>,
    /// The mailbox providers' sender requirements: domains only (none for a parked domain,
    /// which sends no mail); absent for other targets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requirements: Option<Vec<Requirement>>,
    /// The records to publish: per DNS name, one complete record applying every fix to it
    /// (absent when no fix changes a record).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub records_to_publish: Vec<RecordToPublish>,
    /// The domain sends and receives no mail (`v=spf1 -all` and the null MX): advice only
    /// senders need was left out.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub parked: bool,
    #[serde(flatten)]
    pub areas: Areas,
    /// The monitor's `migrate` of this domain: the plan with each step verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub migration: Option<crate::migrate::Plan>,
    /// The resolver stopped answering during this audit: the run stops after it.
    #[serde(skip)]
    pub resolver_stopped: bool,
}

impl TargetReport {
    /// The sender requirements judged (none for a target that is no domain).
    pub fn requirements(&self) -> &[Requirement] {
        self.requirements.as_deref().unwrap_or_default()
    }

    /// Assembles a report: findings of one code beyond a few counted in one, ordered most
    /// severe first, what could not be seen gathered, then scored.
    pub fn new(
        target: &str,
        kind: TargetKind,
        findings: Vec<Finding>,
        areas: Areas,
        resolvers: Vec<String>,
    ) -> Self {
        let mut areas = areas;
        let (parked, findings) = match &mut areas {
            Areas::Domain(domain) => leave_out_sender_advice(domain, findings),
            Areas::Ip(_) | Areas::Smtp(_) => (false, findings),
        };
        let mut findings = finding::limit_per_code(findings);
        findings.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then_with(|| a.code.cmp(&b.code))
        });
        let unknown = completeness::unknown_parts(&areas, &findings);
        let scoring = score::score(&findings, conditions(&areas, !unknown.is_empty()));
        let requirements = match &areas {
            Areas::Domain(domain) if !parked => Some(requirements::evaluate(domain, &findings)),
            Areas::Domain(_) => Some(Vec::new()),
            Areas::Ip(_) | Areas::Smtp(_) => None,
        };
        let records_to_publish = publish::records(&findings);
        TargetReport {
            schema_version: SCHEMA_VERSION,
            target: target.to_owned(),
            kind,
            score: scoring.score,
            grade: scoring.grade,
            incomplete: !unknown.is_empty(),
            unknown,
            resolvers,
            stats: None,
            scoring,
            findings,
            requirements,
            records_to_publish,
            parked,
            areas,
            migration: None,
            resolver_stopped: false,
        }
    }

    /// Marks the report as made while the resolver stopped answering: what is unknown in it
    /// may be the resolver's failure.
    pub fn mark_resolver_stopped(&mut self) {
        let servers = self.resolvers.join(", ");
        self.unknown.insert(0, Unknown::resolver_stopped(&servers));
        if !self.incomplete {
            self.incomplete = true;
            self.scoring = score::score(&self.findings, conditions(&self.areas, true));
            self.score = self.scoring.score;
            self.grade = self.scoring.grade;
        }
        self.resolver_stopped = true;
    }

    /// The record to publish that fixes the findings of `code`, if one does.
    pub fn record_fixing(&self, code: &str) -> Option<&RecordToPublish> {
        self.records_to_publish
            .iter()
            .find(|r| r.fixes.iter().any(|c| c.as_str() == code))
    }

    /// Where a text report has already shown `finding`'s fix, so that it is printed once: in a
    /// record to publish, or as one of the fixes to make first.
    pub fn fix_shown_above(&self, finding: &Finding) -> Option<FixAbove<'_>> {
        if let Some(change) = &finding.change
            && let Some(record) = self
                .records_to_publish
                .iter()
                .find(|r| r.name == change.name)
        {
            return Some(FixAbove::Record(&record.name));
        }
        let fix = finding.fix.as_deref()?;
        self.scoring
            .top_fixes
            .iter()
            .position(|top| top.code == finding.code.as_str() && top.fix == fix)
            .map(|index| FixAbove::First(index + 1))
    }

    /// The most severe finding, if any.
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }

    /// How severe the report is for `--fail-on`: its most severe finding, and at least an
    /// error when it is incomplete (a check that could not be made is not passed).
    pub fn fail_level(&self) -> Option<Severity> {
        let incomplete = self.incomplete.then_some(Severity::Error);
        self.worst().max(incomplete)
    }
}

/// Findings only a sender needs to act on: a parked domain ([`publish::parked`]) gets none.
const SENDER_ONLY: &[Code] = &[Code::DkimNotFound, Code::DmarcNoRua];

/// Whether the domain is parked, and its findings without [`SENDER_ONLY`] ones when it is (the
/// DKIM verdict judged again without them).
fn leave_out_sender_advice(
    domain: &mut DomainAreas,
    findings: Vec<Finding>,
) -> (bool, Vec<Finding>) {
    if !publish::parked(&domain.spf, &domain.mx) {
        return (false, findings);
    }
    let findings: Vec<Finding> = findings
        .into_iter()
        .filter(|f| !SENDER_ONLY.contains(&f.code))
        .collect();
    if domain.dkim.verdict != Verdict::Unknown {
        let dkim: Vec<Finding> = findings
            .iter()
            .filter(|f| f.code.area() == "dkim")
            .cloned()
            .collect();
        domain.dkim.verdict = Verdict::from_findings(&dkim, true);
    }
    (true, findings)
}

/// Where a finding's fix was already shown (see [`TargetReport::fix_shown_above`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FixAbove<'a> {
    /// The n-th fix to make first (from 1).
    First(usize),
    /// The record to publish at this name.
    Record(&'a str),
}

/// What caps a report's score besides its findings.
fn conditions(areas: &Areas, incomplete: bool) -> score::Conditions {
    score::Conditions {
        incomplete,
        unreachable: matches!(areas, Areas::Smtp(smtp) if smtp::unreachable(&smtp.smtp)),
    }
}

/// What every format says above the parts of an incomplete audit.
pub const INCOMPLETE_NOTE: &str = "these could not be determined (each says why), so they are \
    unknown and not graded; the score is of what was seen and cannot reach A";

/// One thing that could not be determined, as the text formats show it:
/// `blocklists of 192.0.2.1: no blocklist could answer: ...`.
pub fn unknown_line(unknown: &Unknown) -> String {
    match &unknown.subject {
        Some(subject) => format!("{} of {subject}: {}", unknown.area, unknown.reason),
        None => format!("{}: {}", unknown.area, unknown.reason),
    }
}

/// What a bulk run keeps of a finished report: one summary row, so memory stays flat however
/// many targets stream through.
#[derive(Clone, Debug)]
pub struct SummaryRow {
    pub target: String,
    pub kind: TargetKind,
    pub grade: Grade,
    pub score: u8,
    pub incomplete: bool,
    /// The most severe finding (findings are ordered most severe first).
    pub worst: Option<(Severity, Code)>,
    /// Each code found, once, at its most severe: what the bulk summary counts per code.
    pub codes: Vec<(Code, Severity)>,
    /// The questions its audit sent to the resolver.
    pub queries: usize,
}

impl SummaryRow {
    /// The row of `report`.
    pub fn of(report: &TargetReport) -> SummaryRow {
        SummaryRow {
            target: report.target.clone(),
            kind: report.kind,
            grade: report.grade,
            score: report.score,
            incomplete: report.incomplete,
            worst: report.findings.first().map(|f| (f.severity, f.code)),
            codes: distinct_codes(&report.findings),
            queries: report.stats.map_or(0, |stats| stats.queries),
        }
    }
}

/// Each code of `findings` once, at the severity of its first (most severe) finding.
fn distinct_codes(findings: &[Finding]) -> Vec<(Code, Severity)> {
    let mut codes: Vec<(Code, Severity)> = Vec::new();
    for finding in findings {
        if !codes.iter().any(|(code, _)| *code == finding.code) {
            codes.push((finding.code, finding.severity));
        }
    }
    codes
}

/// `n` and its noun, singular for one ("1 message", "3 messages").
pub(crate) fn counted(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
