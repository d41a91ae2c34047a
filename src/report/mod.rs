//! The report model (one `Serialize` type for every format) and one module per output format.
//! Reporters write to any `io::Write` and decide nothing: every verdict is made before.

pub mod html;
pub mod json;
pub mod markdown;
pub mod stream;
pub mod summary;
pub mod table;
pub mod visible;

use serde::Serialize;

use crate::dnsbl::DomainListingReport;
use crate::finding::{Code, Finding, Severity};
use crate::ip::IpReport;
use crate::requirements::{self, Requirement};
use crate::score::{self, Grade, Score};
use crate::{dkim, dmarc, mx, spf};

/// The version of the JSON report's shape; raised only on an incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// What was audited.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    Domain,
    Ip,
}

/// The areas of a domain audit, each with its records as fetched and what was derived.
#[derive(Clone, Debug, Serialize)]
pub struct DomainAreas {
    pub spf: spf::SpfReport,
    pub dmarc: dmarc::DmarcReport,
    pub dkim: dkim::DkimReport,
    pub mx: mx::MxReport,
    /// The sending IPs given with `--ip`: reverse DNS and blocklists.
    pub ips: Vec<IpReport>,
    /// The domain and its MX hosts' domains on the domain blocklists.
    pub blocklists: Vec<DomainListingReport>,
}

/// The areas of a sending-IP report.
#[derive(Clone, Debug, Serialize)]
pub struct IpAreas {
    /// Reverse DNS and every blocklist's answer.
    pub ip: IpReport,
}

/// The areas of a report, by kind of target; flattened into the report's JSON object.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum Areas {
    Domain(Box<DomainAreas>),
    Ip(Box<IpAreas>),
}

/// The report of one target, as `cli.md` specifies its JSON.
#[derive(Clone, Debug, Serialize)]
pub struct TargetReport {
    pub schema_version: u32,
    pub target: String,
    pub kind: TargetKind,
    pub score: u8,
    pub grade: Grade,
    /// Why the score is what it is, and the fixes that would raise it most.
    pub scoring: Score,
    /// Every finding, most severe first.
    pub findings: Vec<Finding>,
    /// The mailbox providers' sender requirements (domains only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub requirements: Vec<Requirement>,
    #[serde(flatten)]
    pub areas: Areas,
}

impl TargetReport {
    /// Assembles a report: findings ordered most severe first, then scored.
    pub fn new(target: &str, kind: TargetKind, mut findings: Vec<Finding>, areas: Areas) -> Self {
        findings.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then_with(|| a.code.cmp(&b.code))
        });
        let scoring = score::score(&findings);
        let requirements = match &areas {
            Areas::Domain(domain) => requirements::evaluate(domain, &findings),
            Areas::Ip(_) => Vec::new(),
        };
        TargetReport {
            schema_version: SCHEMA_VERSION,
            target: target.to_owned(),
            kind,
            score: scoring.score,
            grade: scoring.grade,
            scoring,
            findings,
            requirements,
            areas,
        }
    }

    /// The most severe finding, if any.
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
}

/// What a bulk run keeps of a finished report: one summary row, so memory stays flat however
/// many targets stream through.
#[derive(Clone, Debug)]
pub struct SummaryRow {
    pub target: String,
    pub grade: Grade,
    pub score: u8,
    /// The most severe finding (findings are ordered most severe first).
    pub worst: Option<(Severity, Code)>,
}

impl SummaryRow {
    /// The row of `report`.
    pub fn of(report: &TargetReport) -> SummaryRow {
        SummaryRow {
            target: report.target.clone(),
            grade: report.grade,
            score: report.score,
            worst: report.findings.first().map(|f| (f.severity, f.code)),
        }
    }
}
