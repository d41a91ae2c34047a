//! What changed for one target between two runs: pure functions over [`Snapshot`]s, the part of
//! a report a run keeps to compare with the next.
//!
//! Honest comparison: a record or a blocklist answer that could not be fetched this time
//! (timeout, SERVFAIL, a list that refused) is *unknown*, and unknown is never reported as
//! "removed" or "delisted"; nor is a finding reported resolved when its area could not be
//! checked this time, nor a grade compared when either run was incomplete. Each fact is compared
//! with the last run that knew it ([`Snapshot::known_after`]): a failed run between two good
//! ones produces no change at all, and a listing seen again after a run that could not ask is
//! not "new".
//!
//! An SMTP target keeps one record a port probed, `smtp:<port>`: whether it answers (a session
//! ran to QUIT), fails (it answered, the session broke) or does not answer, and what it showed
//! (TLS version, certificate subject and end of validity). A port that stops answering or
//! working is a worse change; a new certificate is a changed record. Certificate findings
//! (`smtp.cert-expiring`, `smtp.cert-invalid`) are worse whatever `--fail-on`, on a first run
//! too, as listings are: they are what a monitor is for. What a session did not reach (the
//! certificate of a port that does not answer) is not checked, so its findings are not
//! "resolved".

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::bimi::{BimiReport, FetchStatus};
use crate::completeness::answered;
use crate::dane::DaneHost;
use crate::dkim::{DkimReport, SelectorStatus};
use crate::dmarc::DmarcReport;
use crate::dnsbl::{ListAnswer, ListStatus};
use crate::dnssec::{DnssecReport, DnssecStatus};
use crate::finding::Severity;
use crate::finding::Verdict;
use crate::migrate::Status;
use crate::mta_sts::{FetchOutcome, MtaStsReport, TxtAnswer};
use crate::mx::MxReport;
use crate::report::{Areas, TargetReport};
use crate::score::Grade;
use crate::smtp::{self, Outcome, PortProbe, Session};
use crate::spf::SpfReport;

/// What a DNS answer said about one record (or, for `smtp:<port>`, what the port did).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum Observed {
    /// Published: its text, and for a DKIM key a short description (`rsa 2048 bits`); for an
    /// SMTP port `answers: TLSv1.3, certificate CN=…, not after …` and its state ([`PortHealth`]).
    Present {
        value: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        summary: Option<String>,
    },
    /// NXDOMAIN, NODATA, or no record of this kind among the answer's.
    Absent,
    /// The lookup failed: nothing is known.
    Unknown,
}

/// What one blocklist said about one name or address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ListingState {
    Listed,
    NotListed,
    /// Refused, failed, an invalid answer, or skipped after a failed health check.
    Unknown,
}

/// One list's answer about one subject (the target itself, or an MX host's domain).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listing {
    pub list: String,
    pub subject: String,
    pub state: ListingState,
}

/// One finding code as a run saw it (the most severe finding of that code).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    pub severity: Severity,
    pub message: String,
}

/// What a run keeps of one target to compare with the next run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub score: u8,
    pub grade: Grade,
    /// The score and grade come from a complete audit (snapshots stored before this field
    /// existed were taken as complete).
    #[serde(default = "complete_by_default")]
    pub graded: bool,
    /// Finding codes (`spf.no-all`) with their severity; never the codes that only say
    /// something could not be determined.
    pub findings: BTreeMap<String, Seen>,
    /// Areas (`spf`, `dkim`, `ip` ...) a DNS failure kept from being checked, and single codes
    /// a session did not get far enough to check (`smtp.cert-expiring` when no certificate was
    /// seen).
    #[serde(default)]
    pub unknown_areas: BTreeSet<String>,
    /// `spf`, `dmarc`, `mx`, `dkim:<selector>`, `bimi`, `bimi:certificate`; `smtp:<port>` for an
    /// SMTP target.
    pub records: BTreeMap<String, Observed>,
    /// Every blocklist answer.
    pub listings: Vec<Listing>,
    /// With `migrate` in the config: each step of the migration (`switch-mx`) as DNS showed it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub migration: BTreeMap<String, StepSeen>,
}

/// One step of a watched migration as a run saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepSeen {
    pub title: String,
    pub status: Status,
}

impl Snapshot {
    /// Takes what matters for comparison out of a report.
    pub fn of(report: &TargetReport) -> Snapshot {
        let mut findings = BTreeMap::new();
        // Findings come most severe first: the first of each code is kept.
        for finding in report.findings.iter().filter(|f| !f.code.means_unknown()) {
            findings
                .entry(finding.code.as_str().to_owned())
                .or_insert_with(|| Seen {
                    severity: finding.severity,
                    message: finding.message.clone(),
                });
        }
        let mut unknown_areas: BTreeSet<String> = report
            .unknown
            .iter()
            .flat_map(|unknown| finding_areas(&unknown.area))
            .map(|&area| area.to_owned())
            .collect();
        let mut records = BTreeMap::new();
        let mut listings = Vec::new();
        match &report.areas {
            Areas::Domain(areas) => {
                records.insert("spf".to_owned(), spf_record(&areas.spf));
                records.insert("dmarc".to_owned(), dmarc_record(&areas.dmarc));
                records.insert("mx".to_owned(), mx_set(&areas.mx));
                records.insert(
                    "mta-sts".to_owned(),
                    txt_record(&areas.mta_sts.dns, areas.mta_sts.record.as_deref()),
                );
                records.insert("mta-sts-policy".to_owned(), mta_sts_policy(&areas.mta_sts));
                records.insert(
                    "tls-rpt".to_owned(),
                    txt_record(&areas.tls_rpt.dns, areas.tls_rpt.record.as_deref()),
                );
                records.insert("dnssec".to_owned(), dnssec_status(&areas.dnssec));
                for host in &areas.dane.hosts {
                    records.insert(format!("tlsa:{}", host.host), tlsa_set(host));
                }
                dkim_records(&areas.dkim, &mut records);
                records.insert("bimi".to_owned(), bimi_record(&areas.bimi));
                if let Some(observed) = bimi_certificate(&areas.bimi) {
                    records.insert("bimi:certificate".to_owned(), observed);
                }
                unknown_areas.extend(bimi_unchecked(&areas.bimi).map(str::to_owned));
                for report in &areas.blocklists {
                    listings.extend(listings_of(&report.domain, &report.lists));
                }
            }
            Areas::Ip(areas) => {
                listings.extend(listings_of(&areas.ip.ip.to_string(), &areas.ip.lists));
            }
            Areas::Smtp(areas) => {
                for probe in &areas.smtp.probes {
                    records.insert(format!("smtp:{}", probe.port), port_record(probe));
                    unknown_areas.extend(unchecked_codes(probe).map(str::to_owned));
                }
            }
        }
        let migration = report
            .migration
            .iter()
            .flat_map(|plan| &plan.steps)
            .filter_map(|step| {
                let id = serde_json::to_value(step.id).ok()?.as_str()?.to_owned();
                let seen = StepSeen {
                    title: step.title.clone(),
                    status: step.status?,
                };
                Some((id, seen))
            })
            .collect();
        Snapshot {
            score: report.score,
            grade: report.grade,
            graded: !report.incomplete,
            findings,
            unknown_areas,
            records,
            listings,
            migration,
        }
    }

    /// What is known after this run, given what was known before it (`previous`, itself
    /// carried forward): every fact this run could not determine keeps its last known value —
    /// a record or listing that was unknown, the findings of an area that could not be checked,
    /// the grade of an incomplete audit. The next run is compared with this.
    #[must_use]
    pub fn known_after(&self, previous: &Snapshot) -> Snapshot {
        let mut known = self.clone();
        if !self.graded {
            known.score = previous.score;
            known.grade = previous.grade;
            known.graded = previous.graded;
        }
        for (name, observed) in &mut known.records {
            if *observed == Observed::Unknown
                && let Some(before) = previous.records.get(name)
            {
                observed.clone_from(before);
            }
        }
        for listing in &mut known.listings {
            if listing.state == ListingState::Unknown
                && let Some(before) = previous
                    .listings
                    .iter()
                    .find(|l| l.list == listing.list && l.subject == listing.subject)
            {
                listing.state = before.state;
            }
        }
        for (id, step) in &mut known.migration {
            if step.status == Status::Unknown
                && let Some(before) = previous.migration.get(id)
            {
                step.status = before.status;
            }
        }
        let listing_unknown = self.listing_unknown();
        for (code, seen) in &previous.findings {
            if self.not_checked(code, listing_unknown) {
                known
                    .findings
                    .entry(code.clone())
                    .or_insert_with(|| seen.clone());
            }
        }
        // What no run has seen yet stays unknown: the next run that sees it treats it as a
        // first run would.
        known.unknown_areas = self
            .unknown_areas
            .intersection(&previous.unknown_areas)
            .cloned()
            .collect();
        known
    }

    fn listing_unknown(&self) -> bool {
        self.listings
            .iter()
            .any(|l| l.state == ListingState::Unknown)
    }

    /// Whether a finding with `code` could not have been seen in this run: its area could not be
    /// checked, or (for a listing) a list could not answer.
    fn not_checked(&self, code: &str, listing_unknown: bool) -> bool {
        let area = code.split('.').next().unwrap_or_default();
        self.unknown_areas.contains(area)
            || self.unknown_areas.contains(code)
            || (listing_unknown && LISTING_CODES.contains(&code))
    }

    /// What a target's first run reports: a monitor deployed on a listed address, a domain
    /// with a critical problem or a mail server whose certificate expires within 14 days (or is
    /// invalid) alerts at once instead of storing it silently as its baseline.
    pub fn first_run(&self, target: &str) -> Vec<Change> {
        let mut changes = Changes {
            target,
            list: Vec::new(),
        };
        for listing in self.listed() {
            changes.push(
                What::Listed {
                    list: listing.list.clone(),
                    subject: listing.subject.clone(),
                },
                true,
                format!(
                    "{} is listed on {} (first run of this target)",
                    listing.subject, listing.list
                ),
            );
        }
        for (code, seen) in &self.findings {
            let alerting =
                seen.severity == Severity::Critical || ALERT_CODES.contains(&code.as_str());
            if alerting && !LISTING_CODES.contains(&code.as_str()) {
                changes.push(
                    What::FindingNew {
                        code: code.clone(),
                        severity: seen.severity,
                    },
                    true,
                    format!(
                        "{} finding {code} (first run of this target): {}",
                        seen.severity, seen.message
                    ),
                );
            }
        }
        changes.list
    }

    /// The lists that list the target or one of its subjects.
    pub fn listed(&self) -> impl Iterator<Item = &Listing> {
        self.listings
            .iter()
            .filter(|l| l.state == ListingState::Listed)
    }
}

fn complete_by_default() -> bool {
    true
}

/// The finding areas (the part of a code before the dot) that a part of a report the audit
/// could not determine ([`crate::completeness::Unknown::area`]) leaves unchecked.
fn finding_areas(unknown: &str) -> &'static [&'static str] {
    match unknown {
        "spf" | "spf-evaluation" => &["spf"],
        "dmarc" => &["dmarc"],
        "dkim" => &["dkim"],
        "mx" => &["mx"],
        "mtasts" => &["mtasts"],
        "tlsrpt" => &["tlsrpt"],
        "bimi" => &["bimi"],
        "dnssec" => &["dnssec"],
        "dane" => &["dane"],
        "domain-blocklists" => &["domain"],
        "reverse-dns" | "blocklists" => &["ip"],
        "smtp" => &["smtp"],
        // The resolver stopped answering: nothing of the report can be trusted to be seen.
        _ => &[
            "spf", "dmarc", "dkim", "mx", "mtasts", "tlsrpt", "bimi", "dnssec", "dane", "domain",
            "ip", "dns", "smtp",
        ],
    }
}

/// How an SMTP port fared at a run, worst last.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum PortHealth {
    /// A session ran to QUIT at one of its addresses at least.
    Answers,
    /// It answered (a greeting, a TLS handshake), but no session got through.
    Fails,
    /// No address greeted: refused, silent, unreachable, or the host has no address.
    Silent,
}

impl PortHealth {
    /// How an `smtp:<port>` record says it (the record's `summary`).
    fn as_str(self) -> &'static str {
        match self {
            PortHealth::Answers => "answers",
            PortHealth::Fails => "fails",
            PortHealth::Silent => "does not answer",
        }
    }

    fn from_summary(summary: Option<&str>) -> Option<PortHealth> {
        [PortHealth::Answers, PortHealth::Fails, PortHealth::Silent]
            .into_iter()
            .find(|health| summary == Some(health.as_str()))
    }

    /// How a probed port fared; `None` when its host's addresses could not be looked up
    /// (nothing was probed: unknown).
    pub fn of(probe: &PortProbe) -> Option<PortHealth> {
        if probe.sessions.is_empty() {
            return match &probe.dns {
                Some(lookup) if smtp::lookup_failed(lookup) => None,
                _ => Some(PortHealth::Silent),
            };
        }
        probe.sessions.iter().map(session_health).min()
    }
}

fn session_health(session: &Session) -> PortHealth {
    match session.outcome {
        Outcome::Completed => PortHealth::Answers,
        Outcome::TlsFailed => PortHealth::Fails,
        _ if session.greeting.is_some() => PortHealth::Fails,
        _ => PortHealth::Silent,
    }
}

/// The `smtp:<port>` record of a probe: its health and what it showed, e.g. `answers: TLSv1.3,
/// certificate CN=mail.example.com, not after 2027-01-01T00:00:00Z` or `does not answer:
/// connection refused`; unknown when the host's addresses could not be looked up.
fn port_record(probe: &PortProbe) -> Observed {
    let Some(health) = PortHealth::of(probe) else {
        return Observed::Unknown;
    };
    let mut details: Vec<String> = Vec::new();
    for session in &probe.sessions {
        if session_health(session) == health {
            let detail = match health {
                PortHealth::Answers => session_facts(session),
                PortHealth::Fails | PortHealth::Silent => outcome_words(session).to_owned(),
            };
            if !details.contains(&detail) {
                details.push(detail);
            }
        }
    }
    details.sort();
    let mut value = format!("{}: ", health.as_str());
    if details.is_empty() {
        let _ = write!(value, "{} has no address", probe.host);
    } else {
        value.push_str(&details.join("; "));
    }
    let at = probe
        .sessions
        .iter()
        .filter(|s| session_health(s) == PortHealth::Answers)
        .count();
    if health == PortHealth::Answers && at < probe.sessions.len() {
        let _ = write!(value, " (at {at} of {} addresses)", probe.sessions.len());
    }
    Observed::Present {
        value,
        summary: Some(health.as_str().to_owned()),
    }
}

/// What a session that ran to QUIT showed: TLS and the certificate.
fn session_facts(session: &Session) -> String {
    let Some(tls) = &session.tls else {
        return "no TLS".to_owned();
    };
    match &tls.certificate {
        Some(certificate) => {
            let subject = if certificate.subject.is_empty() {
                format!("for {}", certificate.names.join(", "))
            } else {
                certificate.subject.clone()
            };
            format!(
                "{}, certificate {subject}, not after {}",
                tls.version, certificate.not_after
            )
        }
        None => format!("{}, no certificate", tls.version),
    }
}

/// How a session that did not run to QUIT ended, in a few words.
fn outcome_words(session: &Session) -> &'static str {
    if session.tls_outdated {
        "TLS 1.0 or 1.1 only"
    } else {
        session.outcome.as_str()
    }
}

/// The finding codes a probe's sessions did not get far enough to check: the certificate's
/// when no certificate was seen, the EHLO's when no EHLO was answered, the greeting's when
/// none came.
fn unchecked_codes(probe: &PortProbe) -> impl Iterator<Item = &'static str> {
    let seen = |reached: fn(&Session) -> bool| probe.sessions.iter().any(reached);
    let certificate = seen(|s| s.tls.as_ref().is_some_and(|t| t.certificate.is_some()));
    let ehlo = seen(|s| s.ehlo.is_some() || s.ehlo_tls.is_some());
    let greeting = seen(|s| s.greeting.is_some());
    let auth = seen(|s| s.auth.is_some());
    [
        (certificate, "smtp.cert-expiring"),
        (certificate, "smtp.cert-invalid"),
        (ehlo, "smtp.no-starttls"),
        (ehlo, "smtp.auth-plaintext"),
        (greeting, "smtp.banner-mismatch"),
        (auth, "smtp.auth-failed"),
    ]
    .into_iter()
    .filter(|(checked, _)| !checked)
    .map(|(_, code)| code)
}

/// The BIMI record that applies (with where, when it is the organisational domain's).
fn bimi_record(bimi: &BimiReport) -> Observed {
    if let (Some(record), Some(at)) = (&bimi.record, &bimi.found_at) {
        let value = if bimi.queries.first().is_some_and(|q| q.name == *at) {
            record.clone()
        } else {
            format!("{record} (from {at})")
        };
        return Observed::Present {
            value,
            summary: None,
        };
    }
    if bimi.queries.iter().all(|q| answered(&q.status)) {
        Observed::Absent
    } else {
        Observed::Unknown
    }
}

/// The mark certificate as fetched (`--fetch-bimi`): its subject, names and end, so that a
/// renewal or a replacement is a change. `None` when it was not fetched; unknown when it could
/// not be.
fn bimi_certificate(bimi: &BimiReport) -> Option<Observed> {
    let check = bimi.certificate.as_ref()?;
    match check.status {
        FetchStatus::NotFetched => None,
        FetchStatus::Unreachable | FetchStatus::Unknown => Some(Observed::Unknown),
        FetchStatus::Valid | FetchStatus::Invalid => Some(match &check.certificate {
            Some(mark) => Observed::Present {
                value: format!(
                    "{}; names {}; not after {}",
                    mark.subject,
                    mark.names.join(", "),
                    mark.not_after
                ),
                summary: Some(format!("{}, not after {}", mark.subject, mark.not_after)),
            },
            None => Observed::Present {
                value: "not a readable certificate".to_owned(),
                summary: None,
            },
        }),
    }
}

/// The BIMI codes a run did not check: those of the logo and the certificate when they were not
/// fetched (no `--fetch-bimi`) or could not be.
fn bimi_unchecked(bimi: &BimiReport) -> impl Iterator<Item = &'static str> {
    let checked = |status: Option<FetchStatus>| {
        !matches!(
            status,
            Some(FetchStatus::NotFetched | FetchStatus::Unreachable | FetchStatus::Unknown)
        )
    };
    let reached = |status: Option<FetchStatus>| {
        !matches!(status, Some(FetchStatus::NotFetched | FetchStatus::Unknown))
    };
    let logo = bimi.logo.as_ref().map(|l| l.status);
    let certificate = bimi.certificate.as_ref().map(|c| c.status);
    [
        (checked(logo), "bimi.logo-invalid"),
        (reached(logo), "bimi.logo-unreachable"),
        (checked(certificate), "bimi.certificate-invalid"),
        (checked(certificate), "bimi.certificate-expiring"),
        (reached(certificate), "bimi.certificate-unreachable"),
    ]
    .into_iter()
    .filter(|(checked, _)| !checked)
    .map(|(_, code)| code)
}

fn spf_record(spf: &SpfReport) -> Observed {
    if !spf.records.is_empty() {
        return Observed::Present {
            value: spf.records.join(" | "),
            summary: None,
        };
    }
    if answered(&spf.dns) {
        Observed::Absent
    } else {
        Observed::Unknown
    }
}

fn dmarc_record(dmarc: &DmarcReport) -> Observed {
    if let Some(record) = &dmarc.record {
        let value = match &dmarc.found_at {
            Some(at) if dmarc.inherited => format!("{record} (inherited from {at})"),
            _ => record.clone(),
        };
        return Observed::Present {
            value,
            summary: None,
        };
    }
    if dmarc.queries.iter().all(|q| answered(&q.status)) {
        Observed::Absent
    } else {
        Observed::Unknown
    }
}

/// The `mta-sts` or `tls-rpt` record: the one senders use (a new MTA-STS policy id is a
/// changed record), else the TXT records at the name that they discard.
fn txt_record(dns: &TxtAnswer, used: Option<&str>) -> Observed {
    if let Some(record) = used {
        return Observed::Present {
            value: record.to_owned(),
            summary: None,
        };
    }
    if !answered(&dns.answer) {
        Observed::Unknown
    } else if dns.records.is_empty() {
        Observed::Absent
    } else {
        Observed::Present {
            value: dns.records.join(" | "),
            summary: None,
        }
    }
}

/// The `mta-sts-policy` record: what the fetched policy says (`mode: enforce; mx: …; max_age:
/// …`: a changed mode is a changed record), `not usable: <outcome>` when it could not be
/// fetched or read, absent without a valid record; unknown when a lookup failed.
fn mta_sts_policy(report: &MtaStsReport) -> Observed {
    let Some(fetch) = &report.policy else {
        return if report.verdict == Verdict::Unknown {
            Observed::Unknown
        } else {
            Observed::Absent
        };
    };
    let value = match (&fetch.parsed, fetch.outcome) {
        (_, FetchOutcome::LookupFailed) => return Observed::Unknown,
        (Some(policy), _) => format!(
            "mode: {}; mx: {}; max_age: {}",
            policy.mode.as_str(),
            policy.mx.join(", "),
            policy.max_age
        ),
        (None, outcome) => format!(
            "not usable: {}",
            serde_json::to_value(outcome)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        ),
    };
    Observed::Present {
        value,
        summary: None,
    }
}

fn mx_set(mx: &MxReport) -> Observed {
    if !mx.records.is_empty() {
        let mut set: Vec<(u16, &str)> = mx
            .records
            .iter()
            .map(|r| (r.preference, r.exchange.as_str()))
            .collect();
        set.sort_unstable();
        set.dedup();
        let value = set
            .iter()
            .map(|(preference, exchange)| format!("{preference} {exchange}"))
            .collect::<Vec<_>>()
            .join(", ");
        return Observed::Present {
            value,
            summary: None,
        };
    }
    if answered(&mx.answer) {
        Observed::Absent
    } else {
        Observed::Unknown
    }
}

/// The zone's DNSSEC status word (`signed`, `unsigned`, `bogus`), or unknown: a change of it
/// is a change of the domain.
fn dnssec_status(dnssec: &DnssecReport) -> Observed {
    match dnssec.status {
        DnssecStatus::Unknown => Observed::Unknown,
        status => Observed::Present {
            value: status.as_str().to_owned(),
            summary: None,
        },
    }
}

/// An MX host's TLSA records, sorted: a new certificate's record is a changed set.
fn tlsa_set(host: &DaneHost) -> Observed {
    if !host.records.is_empty() {
        let mut set: Vec<&str> = host.records.iter().map(|r| r.record.as_str()).collect();
        set.sort_unstable();
        set.dedup();
        return Observed::Present {
            value: set.join(" | "),
            summary: None,
        };
    }
    if answered(&host.answer) {
        Observed::Absent
    } else {
        Observed::Unknown
    }
}

/// Every selector asked: a key, no key, or unknown.
fn dkim_records(dkim: &DkimReport, records: &mut BTreeMap<String, Observed>) {
    for selector in &dkim.selectors {
        let observed = match selector.status {
            SelectorStatus::Key => {
                let value = selector
                    .keys
                    .iter()
                    .map(|k| k.record.as_str())
                    .collect::<Vec<_>>()
                    .join(" | ");
                let summary = selector
                    .keys
                    .iter()
                    .map(|key| {
                        if key.is_revoked() {
                            "revoked".to_owned()
                        } else if let Some(info) = &key.key {
                            let algorithm = serde_json::to_value(info.algorithm)
                                .ok()
                                .and_then(|v| v.as_str().map(str::to_owned))
                                .unwrap_or_default();
                            format!("{algorithm} {} bits", info.bits)
                        } else {
                            "unreadable key".to_owned()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                Observed::Present {
                    value,
                    summary: Some(summary),
                }
            }
            SelectorStatus::NotKeyRecord | SelectorStatus::NoRecord => Observed::Absent,
            SelectorStatus::LookupFailed => Observed::Unknown,
            SelectorStatus::InvalidName => continue,
        };
        records.insert(format!("dkim:{}", selector.selector), observed);
    }
}

fn listings_of(subject: &str, lists: &[ListAnswer]) -> Vec<Listing> {
    lists
        .iter()
        .filter_map(|answer| {
            let state = match answer.status {
                ListStatus::Listed => ListingState::Listed,
                ListStatus::NotListed => ListingState::NotListed,
                // A list that does not take this kind of item was never going to answer.
                ListStatus::Skipped if answer.health.is_none() => return None,
                ListStatus::Skipped
                | ListStatus::Refused
                | ListStatus::InvalidAnswer
                | ListStatus::Unavailable => ListingState::Unknown,
            };
            Some(Listing {
                list: answer.list.clone(),
                subject: subject.to_owned(),
                state,
            })
        })
        .collect()
}

/// One change between two runs of a target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub target: String,
    #[serde(flatten)]
    pub what: What,
    /// It makes things worse: a new listing, a lower grade, or a new finding at or above
    /// `--fail-on`. A worse change makes the run exit with status 1.
    pub worse: bool,
    /// One line for a person.
    pub message: String,
}

/// The kinds of change, tagged `type` in JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum What {
    /// `subject` (the target, or an MX host's domain) is now on `list`.
    Listed {
        list: String,
        subject: String,
    },
    /// `subject` was on `list` and is not any more.
    Delisted {
        list: String,
        subject: String,
    },
    /// `record` (`spf`, `dmarc`, `mx`, `dkim:<selector>`) was absent and is now published.
    RecordAdded {
        record: String,
        new: String,
    },
    RecordRemoved {
        record: String,
        old: String,
    },
    RecordChanged {
        record: String,
        old: String,
        new: String,
    },
    GradeChanged {
        old: Grade,
        new: Grade,
        old_score: u8,
        new_score: u8,
    },
    FindingNew {
        code: String,
        severity: Severity,
    },
    FindingResolved {
        code: String,
        severity: Severity,
    },
    /// A step of the watched migration that DNS showed done is not done any more (worse).
    MigrationStepUndone {
        step: String,
    },
    /// A step of the watched migration is done.
    MigrationStepDone {
        step: String,
    },
    /// A source IP fails DMARC in aggregate reports stored with `mailaudit reports --db` and
    /// failed in none stored before (RFC 7489 §7.2): a new sender to set up, or a new forger.
    FailingSourceNew {
        ip: String,
        messages: u64,
    },
}

/// Codes that say "listed": not resolved while a list could not answer.
const LISTING_CODES: [&str; 2] = ["ip.listed", "domain.listed"];

/// Codes whose new finding is worse whatever `--fail-on`, and which a first run reports, as a
/// listing is: a mail server's certificate that expires within 14 days or is invalid, a BIMI
/// mark certificate that expires within 30 days or is invalid.
pub const ALERT_CODES: [&str; 4] = [
    "smtp.cert-expiring",
    "smtp.cert-invalid",
    "bimi.certificate-expiring",
    "bimi.certificate-invalid",
];

/// What changed for `target` from `old` to `new`. A new finding is worse when it is at least
/// `fail_on` (`None`: never).
pub fn diff(
    target: &str,
    old: &Snapshot,
    new: &Snapshot,
    fail_on: Option<Severity>,
) -> Vec<Change> {
    let mut changes = Changes {
        target,
        list: Vec::new(),
    };
    listing_changes(&mut changes, old, new);
    record_changes(&mut changes, old, new);
    if old.graded && new.graded && old.grade != new.grade {
        changes.push(
            What::GradeChanged {
                old: old.grade,
                new: new.grade,
                old_score: old.score,
                new_score: new.score,
            },
            new.grade > old.grade,
            format!(
                "grade {} → {} (score {} → {})",
                old.grade, new.grade, old.score, new.score
            ),
        );
    }
    finding_changes(&mut changes, old, new, fail_on);
    migration_changes(&mut changes, old, new);
    changes.list
}

/// A step done that is not done any more is worse; a step newly done is better. A step DNS
/// could not show (`unknown`) is neither: a failed lookup says nothing about the step.
fn migration_changes(changes: &mut Changes, old: &Snapshot, new: &Snapshot) {
    for (id, now) in &new.migration {
        let Some(was) = old.migration.get(id) else {
            continue;
        };
        match (was.status, now.status) {
            (Status::Done, Status::NotDone) => changes.push(
                What::MigrationStepUndone { step: id.clone() },
                true,
                format!(
                    "migration step '{}' ({id}) was done and is not any more",
                    now.title
                ),
            ),
            (Status::NotDone, Status::Done) => changes.push(
                What::MigrationStepDone { step: id.clone() },
                false,
                format!("migration step '{}' ({id}) is done", now.title),
            ),
            _ => {}
        }
    }
}

/// The changes of one target, as they are found.
struct Changes<'a> {
    target: &'a str,
    list: Vec<Change>,
}

impl Changes<'_> {
    fn push(&mut self, what: What, worse: bool, message: String) {
        self.list.push(Change {
            target: self.target.to_owned(),
            what,
            worse,
            message,
        });
    }
}

fn listing_changes(changes: &mut Changes, old: &Snapshot, new: &Snapshot) {
    let before: BTreeMap<(&str, &str), ListingState> = old
        .listings
        .iter()
        .map(|l| ((l.list.as_str(), l.subject.as_str()), l.state))
        .collect();
    for listing in &new.listings {
        let was = before.get(&(listing.list.as_str(), listing.subject.as_str()));
        match (was, listing.state) {
            (Some(ListingState::Listed), ListingState::Listed)
            | (_, ListingState::Unknown)
            | (
                None | Some(ListingState::NotListed | ListingState::Unknown),
                ListingState::NotListed,
            ) => {}
            (_, ListingState::Listed) => {
                let message = if was == Some(&ListingState::Unknown) {
                    format!(
                        "{} is listed on {} (first answer: earlier runs could not ask this list)",
                        listing.subject, listing.list
                    )
                } else {
                    format!("{} is newly listed on {}", listing.subject, listing.list)
                };
                changes.push(
                    What::Listed {
                        list: listing.list.clone(),
                        subject: listing.subject.clone(),
                    },
                    true,
                    message,
                );
            }
            (Some(ListingState::Listed), ListingState::NotListed) => changes.push(
                What::Delisted {
                    list: listing.list.clone(),
                    subject: listing.subject.clone(),
                },
                false,
                format!(
                    "{} is no longer listed on {}",
                    listing.subject, listing.list
                ),
            ),
        }
    }
}

fn record_changes(changes: &mut Changes, old: &Snapshot, new: &Snapshot) {
    let mut names: Vec<&String> = new.records.keys().collect();
    names.sort_by_key(|name| (record_rank(name), name.as_str()));
    for name in names {
        let now = &new.records[name];
        let Some(was) = old.records.get(name) else {
            // Not asked last time (a selector added to the config): nothing to compare.
            continue;
        };
        let label = record_label(name);
        if let Some((what, worse, message)) = port_change(name, &label, was, now) {
            changes.push(what, worse, message);
            continue;
        }
        match (was, now) {
            (Observed::Absent, Observed::Present { value, summary }) => changes.push(
                What::RecordAdded {
                    record: name.clone(),
                    new: value.clone(),
                },
                false,
                format!("{label} published: {}", shown(value, summary.as_deref())),
            ),
            (Observed::Present { value, summary }, Observed::Absent) => changes.push(
                What::RecordRemoved {
                    record: name.clone(),
                    old: value.clone(),
                },
                false,
                format!(
                    "{label} removed (was: {})",
                    shown(value, summary.as_deref())
                ),
            ),
            (
                Observed::Present {
                    value: old_value,
                    summary: old_summary,
                },
                Observed::Present {
                    value: new_value,
                    summary: new_summary,
                },
            ) if old_value != new_value => {
                let mut message = format!("{label} changed: ");
                match (old_summary, new_summary) {
                    (Some(a), Some(b)) => {
                        let _ = write!(message, "{a} → {b}");
                    }
                    _ => {
                        let _ = write!(message, "\"{old_value}\" → \"{new_value}\"");
                    }
                }
                changes.push(
                    What::RecordChanged {
                        record: name.clone(),
                        old: old_value.clone(),
                        new: new_value.clone(),
                    },
                    false,
                    message,
                );
            }
            _ => {}
        }
    }
}

/// The change of an `smtp:<port>` record: stopped answering or working (worse), answers
/// again, or answers differently (a new certificate).
fn port_change(
    name: &str,
    label: &str,
    was: &Observed,
    now: &Observed,
) -> Option<(What, bool, String)> {
    let (
        Observed::Present {
            value: old,
            summary: old_summary,
        },
        Observed::Present {
            value: new,
            summary: new_summary,
        },
    ) = (was, now)
    else {
        return None;
    };
    let before = PortHealth::from_summary(old_summary.as_deref())?;
    let after = PortHealth::from_summary(new_summary.as_deref())?;
    if old == new {
        return None;
    }
    let detail = |value: &str, health: PortHealth| {
        value
            .strip_prefix(health.as_str())
            .and_then(|rest| rest.strip_prefix(": "))
            .unwrap_or(value)
            .to_owned()
    };
    let (old_detail, new_detail) = (detail(old, before), detail(new, after));
    let message = match (before, after) {
        (b, a) if b == a && a == PortHealth::Answers => {
            format!("{label} changed: {old_detail} → {new_detail}")
        }
        (b, a) if b == a => format!(
            "{label} still {}: {new_detail} (was: {old_detail})",
            a.as_str()
        ),
        (_, PortHealth::Silent) => format!("{label} stopped answering: {new_detail} (was: {old})"),
        (_, PortHealth::Fails) if before == PortHealth::Answers => {
            format!("{label} stopped working: {new_detail} (was: {old})")
        }
        (_, PortHealth::Fails) => {
            format!("{label} answers again, but fails: {new_detail} (was: {old})")
        }
        (_, PortHealth::Answers) => format!("{label} answers again: {new_detail} (was: {old})"),
    };
    Some((
        What::RecordChanged {
            record: name.to_owned(),
            old: old.clone(),
            new: new.clone(),
        },
        after > before,
        message,
    ))
}

fn finding_changes(
    changes: &mut Changes,
    old: &Snapshot,
    new: &Snapshot,
    fail_on: Option<Severity>,
) {
    let old_listing_unknown = old.listing_unknown();
    for (code, seen) in &new.findings {
        if old.findings.contains_key(code) {
            continue;
        }
        let alerting = ALERT_CODES.contains(&code.as_str());
        if old.not_checked(code, old_listing_unknown) {
            // Never seen before: not a change, but what a first run reports.
            if seen.severity == Severity::Critical || alerting {
                changes.push(
                    What::FindingNew {
                        code: code.clone(),
                        severity: seen.severity,
                    },
                    true,
                    format!(
                        "{} finding {code} (first time its area could be checked): {}",
                        seen.severity, seen.message
                    ),
                );
            }
            continue;
        }
        let worse = alerting || fail_on.is_some_and(|threshold| seen.severity >= threshold);
        changes.push(
            What::FindingNew {
                code: code.clone(),
                severity: seen.severity,
            },
            worse,
            format!("new {} finding {code}: {}", seen.severity, seen.message),
        );
    }
    let listing_unknown = new.listing_unknown();
    for (code, seen) in &old.findings {
        if new.findings.contains_key(code) {
            continue;
        }
        if !new.not_checked(code, listing_unknown) {
            changes.push(
                What::FindingResolved {
                    code: code.clone(),
                    severity: seen.severity,
                },
                false,
                format!("resolved {} finding {code}", seen.severity),
            );
        }
    }
}

/// A record's value for a message: the DKIM key's description when there is one.
fn shown(value: &str, summary: Option<&str>) -> String {
    match summary {
        Some(summary) => summary.to_owned(),
        None => format!("\"{value}\""),
    }
}

/// Changes are listed SPF, DMARC, MX, DNSSEC and TLSA, then the DKIM selectors, then the SMTP
/// ports.
fn record_rank(name: &str) -> u8 {
    match name {
        "spf" => 0,
        "dmarc" => 1,
        "mx" | "dnssec" => 2,
        _ if name.starts_with("tlsa:") => 2,
        _ if name.starts_with("smtp:") => 4,
        _ => 3,
    }
}

/// `dkim:s1` → `DKIM key at selector s1`, `smtp:587` → `SMTP port 587`.
fn record_label(name: &str) -> String {
    match name {
        "spf" => "SPF record".to_owned(),
        "dmarc" => "DMARC record".to_owned(),
        "mx" => "MX set".to_owned(),
        "mta-sts" => "MTA-STS record".to_owned(),
        "mta-sts-policy" => "MTA-STS policy".to_owned(),
        "tls-rpt" => "TLS-RPT record".to_owned(),
        "bimi" => "BIMI record".to_owned(),
        "bimi:certificate" => "BIMI mark certificate".to_owned(),
        "dnssec" => "DNSSEC status".to_owned(),
        other => {
            if let Some(host) = other.strip_prefix("tlsa:") {
                format!("TLSA records of {host} (_25._tcp)")
            } else if let Some(selector) = other.strip_prefix("dkim:") {
                format!("DKIM key at selector {selector}")
            } else if let Some(port) = other.strip_prefix("smtp:") {
                format!("SMTP port {port}")
            } else {
                other.to_owned()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot() -> Snapshot {
        let mut records = BTreeMap::new();
        records.insert(
            "spf".to_owned(),
            Observed::Present {
                value: "v=spf1 -all".to_owned(),
                summary: None,
            },
        );
        records.insert("dmarc".to_owned(), Observed::Absent);
        records.insert(
            "dkim:s1".to_owned(),
            Observed::Present {
                value: "v=DKIM1; p=AAA".to_owned(),
                summary: Some("rsa 1024 bits".to_owned()),
            },
        );
        let mut findings = BTreeMap::new();
        findings.insert(
            "dmarc.missing".to_owned(),
            Seen {
                severity: Severity::Error,
                message: "no DMARC record".to_owned(),
            },
        );
        Snapshot {
            score: 85,
            grade: Grade::B,
            graded: true,
            findings,
            unknown_areas: BTreeSet::new(),
            records,
            listings: vec![Listing {
                list: "RBL".to_owned(),
                subject: "192.0.2.1".to_owned(),
                state: ListingState::NotListed,
            }],
            migration: BTreeMap::new(),
        }
    }

    fn with_step(status: Status) -> Snapshot {
        let mut snapshot = snapshot();
        snapshot.migration.insert(
            "switch-mx".to_owned(),
            StepSeen {
                title: "Switch MX".to_owned(),
                status,
            },
        );
        snapshot
    }

    #[test]
    fn a_migration_step_undone_is_worse_and_an_unknown_one_is_no_change() {
        let changes = diff(
            "t",
            &with_step(Status::Done),
            &with_step(Status::NotDone),
            None,
        );
        assert_eq!(
            kinds(&changes),
            vec![&What::MigrationStepUndone {
                step: "switch-mx".to_owned()
            }]
        );
        assert!(changes[0].worse);
        let changes = diff(
            "t",
            &with_step(Status::NotDone),
            &with_step(Status::Done),
            None,
        );
        assert_eq!(
            kinds(&changes),
            vec![&What::MigrationStepDone {
                step: "switch-mx".to_owned()
            }]
        );
        assert!(!changes[0].worse);
        // A failed lookup: no change, and the step stays known done for the next run.
        let unknown = with_step(Status::Unknown);
        assert!(diff("t", &with_step(Status::Done), &unknown, None).is_empty());
        let known = unknown.known_after(&with_step(Status::Done));
        assert_eq!(known.migration["switch-mx"].status, Status::Done);
        assert!(diff("t", &known, &with_step(Status::NotDone), None)[0].worse);
    }

    fn kinds(changes: &[Change]) -> Vec<&What> {
        changes.iter().map(|c| &c.what).collect()
    }

    #[test]
    fn identical_runs_have_no_change() {
        assert!(diff("t", &snapshot(), &snapshot(), Some(Severity::Error)).is_empty());
    }

    #[test]
    fn a_new_listing_is_worse_and_a_delisting_is_not() {
        let old = snapshot();
        let mut new = snapshot();
        new.listings[0].state = ListingState::Listed;
        let changes = diff("192.0.2.1", &old, &new, None);
        assert_eq!(
            kinds(&changes),
            vec![&What::Listed {
                list: "RBL".to_owned(),
                subject: "192.0.2.1".to_owned()
            }]
        );
        assert!(changes[0].worse);
        assert_eq!(changes[0].message, "192.0.2.1 is newly listed on RBL");

        let back = diff("192.0.2.1", &new, &old, None);
        assert!(matches!(back[0].what, What::Delisted { .. }));
        assert!(!back[0].worse);
    }

    #[test]
    fn an_unknown_answer_is_neither_a_listing_nor_a_delisting() {
        let mut listed = snapshot();
        listed.listings[0].state = ListingState::Listed;
        let mut unknown = snapshot();
        unknown.listings[0].state = ListingState::Unknown;
        assert!(diff("t", &listed, &unknown, None).is_empty());
        assert!(diff("t", &snapshot(), &unknown, None).is_empty());
        // Listed after an unknown answer is reported, saying why.
        let changes = diff("t", &unknown, &listed, None);
        assert!(changes[0].message.contains("could not ask"), "{changes:?}");
    }

    /// Compares `runs` in order as the store does: each with what was known after the runs
    /// before it.
    fn changes_over(runs: &[Snapshot]) -> Vec<Vec<Change>> {
        let mut known = runs[0].clone();
        runs[1..]
            .iter()
            .map(|run| {
                let changes = diff("t", &known, run, Some(Severity::Error));
                known = run.known_after(&known);
                changes
            })
            .collect()
    }

    /// A run that could not see anything: every record and listing unknown, every area
    /// unchecked, the grade that of an incomplete audit.
    fn failed_run() -> Snapshot {
        let mut failed = snapshot();
        for observed in failed.records.values_mut() {
            *observed = Observed::Unknown;
        }
        for listing in &mut failed.listings {
            listing.state = ListingState::Unknown;
        }
        failed.findings.clear();
        failed.unknown_areas = ["spf", "dmarc", "dkim", "mx", "ip"]
            .into_iter()
            .map(str::to_owned)
            .collect();
        failed.graded = false;
        failed.grade = Grade::B;
        failed.score = 89;
        failed
    }

    #[test]
    fn a_failed_run_between_two_healthy_ones_changes_nothing() {
        let mut listed = snapshot();
        listed.listings[0].state = ListingState::Listed;
        listed.grade = Grade::F;
        listed.score = 40;
        for runs in [
            vec![snapshot(), failed_run(), snapshot()],
            vec![listed.clone(), failed_run(), failed_run(), listed],
        ] {
            for changes in changes_over(&runs) {
                assert!(changes.is_empty(), "{changes:?}");
            }
        }
    }

    #[test]
    fn a_change_across_a_failed_run_is_compared_with_the_last_run_that_knew() {
        let mut listed = snapshot();
        listed.listings[0].state = ListingState::Listed;
        let changes = changes_over(&[snapshot(), failed_run(), listed]);
        assert!(changes[0].is_empty(), "{:?}", changes[0]);
        assert_eq!(changes[1].len(), 1, "{:?}", changes[1]);
        assert_eq!(changes[1][0].message, "192.0.2.1 is newly listed on RBL");
        assert!(changes[1][0].worse);
    }

    #[test]
    fn a_finding_in_an_area_no_run_could_see_before_is_not_new() {
        // The first run could not read DMARC; the next one finds it missing: that is what a
        // first run would have said, not a change (an error alerts only on a first run when
        // critical).
        let mut blind = failed_run();
        blind.unknown_areas = ["dmarc".to_owned()].into_iter().collect();
        let mut seen = snapshot();
        seen.findings.insert(
            "spf.pass-all".to_owned(),
            Seen {
                severity: Severity::Critical,
                message: "+all".to_owned(),
            },
        );
        let known = blind.clone();
        let still_blind = failed_run().known_after(&known);
        assert!(
            still_blind.unknown_areas.contains("dmarc"),
            "never seen stays unknown"
        );
        let changes = diff("t", &still_blind, &seen, Some(Severity::Error));
        let codes: Vec<&What> = changes.iter().map(|c| &c.what).collect();
        assert!(
            !codes.contains(&&What::FindingNew {
                code: "dmarc.missing".to_owned(),
                severity: Severity::Error
            }),
            "{changes:?}"
        );
        // A critical finding first seen is reported, as on a first run.
        let critical = changes.iter().find(|c| {
            c.what
                == What::FindingNew {
                    code: "spf.pass-all".to_owned(),
                    severity: Severity::Critical,
                }
        });
        assert!(critical.is_some_and(|c| c.worse), "{changes:?}");
    }

    #[test]
    fn an_incomplete_grade_is_never_compared() {
        let mut incomplete = snapshot();
        incomplete.graded = false;
        incomplete.grade = Grade::D;
        assert!(diff("t", &snapshot(), &incomplete, None).is_empty());
        assert!(diff("t", &incomplete, &snapshot(), None).is_empty());
    }

    #[test]
    fn a_first_run_reports_listings_and_critical_findings_as_worse() {
        let mut first = snapshot();
        first.listings[0].state = ListingState::Listed;
        first.findings.insert(
            "spf.pass-all".to_owned(),
            Seen {
                severity: Severity::Critical,
                message: "+all".to_owned(),
            },
        );
        let changes = first.first_run("192.0.2.1");
        let kinds: Vec<&What> = changes.iter().map(|c| &c.what).collect();
        assert_eq!(
            kinds,
            [
                &What::Listed {
                    list: "RBL".to_owned(),
                    subject: "192.0.2.1".to_owned()
                },
                &What::FindingNew {
                    code: "spf.pass-all".to_owned(),
                    severity: Severity::Critical
                }
            ]
        );
        assert!(changes.iter().all(|c| c.worse));
        // A clean first run is a silent baseline.
        assert!(snapshot().first_run("t").is_empty());
    }

    #[test]
    fn record_added_removed_and_changed() {
        let old = snapshot();
        let mut new = snapshot();
        new.records.insert(
            "spf".to_owned(),
            Observed::Present {
                value: "v=spf1 ip4:192.0.2.0/24 -all".to_owned(),
                summary: None,
            },
        );
        new.records.insert(
            "dmarc".to_owned(),
            Observed::Present {
                value: "v=DMARC1; p=reject".to_owned(),
                summary: None,
            },
        );
        new.records.insert("dkim:s1".to_owned(), Observed::Absent);
        let changes = diff("d.example", &old, &new, None);
        assert_eq!(
            kinds(&changes),
            vec![
                &What::RecordChanged {
                    record: "spf".to_owned(),
                    old: "v=spf1 -all".to_owned(),
                    new: "v=spf1 ip4:192.0.2.0/24 -all".to_owned()
                },
                &What::RecordAdded {
                    record: "dmarc".to_owned(),
                    new: "v=DMARC1; p=reject".to_owned()
                },
                &What::RecordRemoved {
                    record: "dkim:s1".to_owned(),
                    old: "v=DKIM1; p=AAA".to_owned()
                },
            ]
        );
        assert_eq!(
            changes[0].message,
            "SPF record changed: \"v=spf1 -all\" → \"v=spf1 ip4:192.0.2.0/24 -all\""
        );
        assert_eq!(
            changes[2].message,
            "DKIM key at selector s1 removed (was: rsa 1024 bits)"
        );
        assert!(changes.iter().all(|c| !c.worse));
    }

    #[test]
    fn a_failed_lookup_is_not_a_removed_record() {
        let old = snapshot();
        let mut new = snapshot();
        new.records.insert("spf".to_owned(), Observed::Unknown);
        new.records.insert("dkim:s1".to_owned(), Observed::Unknown);
        assert!(diff("t", &old, &new, None).is_empty());
        // Nor is a selector that was not asked last time an added record.
        new.records.insert(
            "dkim:new".to_owned(),
            Observed::Present {
                value: "v=DKIM1; p=B".to_owned(),
                summary: None,
            },
        );
        assert!(diff("t", &old, &new, None).is_empty());
    }

    #[test]
    fn a_lower_grade_is_worse_and_a_higher_one_is_not() {
        let old = snapshot();
        let mut new = snapshot();
        new.grade = Grade::D;
        new.score = 62;
        let changes = diff("t", &old, &new, None);
        assert_eq!(changes[0].message, "grade B → D (score 85 → 62)");
        assert!(changes[0].worse);
        assert!(!diff("t", &new, &old, None)[0].worse);
    }

    #[test]
    fn new_findings_are_worse_from_the_fail_on_threshold() {
        let old = snapshot();
        let mut new = snapshot();
        new.findings.insert(
            "spf.no-all".to_owned(),
            Seen {
                severity: Severity::Warning,
                message: "no all".to_owned(),
            },
        );
        let at_error = diff("t", &old, &new, Some(Severity::Error));
        assert!(matches!(at_error[0].what, What::FindingNew { .. }));
        assert!(!at_error[0].worse);
        assert!(diff("t", &old, &new, Some(Severity::Warning))[0].worse);
        assert!(!diff("t", &old, &new, None)[0].worse);
    }

    #[test]
    fn findings_are_resolved_only_when_their_area_was_checked() {
        let old = snapshot();
        let mut new = snapshot();
        new.findings.clear();
        let changes = diff("t", &old, &new, None);
        assert_eq!(changes[0].message, "resolved error finding dmarc.missing");
        new.unknown_areas.insert("dmarc".to_owned());
        assert!(diff("t", &old, &new, None).is_empty());
    }

    mod smtp_ports {
        use super::*;
        use crate::finding::Verdict;
        use crate::report::{SmtpAreas, TargetKind};
        use crate::smtp::reply::{Extensions, Reply};
        use crate::smtp::{
            AddressLookup, CertificateFacts, CertificateProblem, Role, SmtpReport, TlsFacts,
            TlsMode,
        };

        const TARGET: &str = "mail.example.com:587";

        fn session(outcome: Outcome) -> Session {
            Session {
                ip: "192.0.2.25".parse().unwrap(),
                outcome,
                error: None,
                phases: Vec::new(),
                greeting: None,
                greeting_host: None,
                ehlo: None,
                ehlo_tls: None,
                starttls_reply: None,
                tls: None,
                tls_outdated: false,
                plain_text: false,
                implicit_tls_detected: false,
                auth: None,
            }
        }

        fn ehlo(lines: &[&str]) -> Extensions {
            Extensions::parse(&Reply {
                code: 250,
                lines: lines.iter().map(|l| (*l).to_owned()).collect(),
            })
        }

        /// A session that ran to QUIT over STARTTLS, its certificate ending at `not_after`,
        /// `days_left` from now.
        fn answering(not_after: &str, days_left: i64) -> Session {
            let mut session = session(Outcome::Completed);
            session.greeting = Some(Reply {
                code: 220,
                lines: vec!["mail.example.com ESMTP".to_owned()],
            });
            session.ehlo = Some(ehlo(&["mail.example.com", "STARTTLS"]));
            session.ehlo_tls = Some(ehlo(&["mail.example.com", "AUTH PLAIN"]));
            session.tls = Some(TlsFacts {
                version: "TLSv1.3".to_owned(),
                cipher: "TLS13_AES_256_GCM_SHA384".to_owned(),
                certificate: Some(CertificateFacts {
                    subject: "CN=mail.example.com".to_owned(),
                    issuer: "CN=Example CA".to_owned(),
                    names: vec!["mail.example.com".to_owned()],
                    not_before: "2026-01-01T00:00:00Z".to_owned(),
                    not_after: not_after.to_owned(),
                    days_left,
                    key: "EC P-256 (256 bits)".to_owned(),
                    chain_length: 1,
                    name_matches: true,
                    trusted: true,
                    problems: Vec::new(),
                    trust_error: None,
                    presented: Vec::new(),
                }),
            });
            session
        }

        fn report(sessions: Vec<Session>, dns: AddressLookup) -> TargetReport {
            let mut probe = PortProbe {
                host: "mail.example.com".to_owned(),
                port: 587,
                tls: TlsMode::Starttls,
                role: Role::Submission,
                verdict: Verdict::Unknown,
                dns: Some(dns),
                dns_ms: 0.0,
                sessions,
                ptr: Vec::new(),
                addresses_not_probed: 0,
            };
            let findings = smtp::findings(&probe);
            probe.verdict = Verdict::from_findings(&findings, true);
            TargetReport::new(
                TARGET,
                TargetKind::Smtp,
                findings,
                Areas::Smtp(Box::new(SmtpAreas {
                    smtp: SmtpReport {
                        host: "mail.example.com".to_owned(),
                        probes: vec![probe],
                    },
                })),
                Vec::new(),
            )
        }

        fn lookup(a: &str) -> AddressLookup {
            AddressLookup {
                a: a.to_owned(),
                aaaa: "nodata".to_owned(),
            }
        }

        fn healthy() -> Snapshot {
            Snapshot::of(&report(
                vec![answering("2027-01-01T00:00:00Z", 300)],
                lookup("records"),
            ))
        }

        fn expiring() -> Snapshot {
            Snapshot::of(&report(
                vec![answering("2026-06-06T00:00:00Z", 5)],
                lookup("records"),
            ))
        }

        fn refused() -> Snapshot {
            let mut session = session(Outcome::Refused);
            session.error = Some("connection refused".to_owned());
            Snapshot::of(&report(vec![session], lookup("records")))
        }

        fn port(snapshot: &Snapshot) -> &Observed {
            &snapshot.records["smtp:587"]
        }

        #[test]
        fn each_port_is_a_record_saying_whether_it_answers_and_its_certificate() {
            assert_eq!(
                port(&healthy()),
                &Observed::Present {
                    value: "answers: TLSv1.3, certificate CN=mail.example.com, not after \
                            2027-01-01T00:00:00Z"
                        .to_owned(),
                    summary: Some("answers".to_owned()),
                }
            );
            assert_eq!(
                port(&refused()),
                &Observed::Present {
                    value: "does not answer: connection refused".to_owned(),
                    summary: Some("does not answer".to_owned()),
                }
            );
            // Addresses that could not be looked up: nothing is known.
            let unknown = Snapshot::of(&report(Vec::new(), lookup("timeout")));
            assert_eq!(port(&unknown), &Observed::Unknown);
            assert!(unknown.unknown_areas.contains("smtp"), "{unknown:?}");
            // No address at all: it does not answer.
            let none = Snapshot::of(&report(Vec::new(), lookup("nxdomain")));
            assert_eq!(
                port(&none),
                &Observed::Present {
                    value: "does not answer: mail.example.com has no address".to_owned(),
                    summary: Some("does not answer".to_owned()),
                }
            );
            // One address of two answering still answers, and says so.
            let mut other = session(Outcome::ConnectTimeout);
            other.ip = "192.0.2.26".parse().unwrap();
            let half = Snapshot::of(&report(
                vec![answering("2027-01-01T00:00:00Z", 300), other],
                lookup("records"),
            ));
            let Observed::Present { value, .. } = port(&half) else {
                panic!("{half:?}");
            };
            assert!(value.ends_with("(at 1 of 2 addresses)"), "{value}");
        }

        #[test]
        fn a_certificate_expiring_soon_is_a_worse_change_whatever_fail_on() {
            for fail_on in [Some(Severity::Error), Some(Severity::Critical), None] {
                let changes = diff(TARGET, &healthy(), &expiring(), fail_on);
                assert_eq!(changes.len(), 2, "{changes:?}");
                assert_eq!(
                    changes[0].what,
                    What::RecordChanged {
                        record: "smtp:587".to_owned(),
                        old: "answers: TLSv1.3, certificate CN=mail.example.com, not after \
                              2027-01-01T00:00:00Z"
                            .to_owned(),
                        new: "answers: TLSv1.3, certificate CN=mail.example.com, not after \
                              2026-06-06T00:00:00Z"
                            .to_owned(),
                    }
                );
                assert!(!changes[0].worse, "a new certificate alone is not worse");
                assert_eq!(
                    changes[0].message,
                    "SMTP port 587 changed: TLSv1.3, certificate CN=mail.example.com, not after \
                     2027-01-01T00:00:00Z → TLSv1.3, certificate CN=mail.example.com, not after \
                     2026-06-06T00:00:00Z"
                );
                assert_eq!(
                    changes[1].what,
                    What::FindingNew {
                        code: "smtp.cert-expiring".to_owned(),
                        severity: Severity::Warning
                    }
                );
                assert!(changes[1].worse, "{fail_on:?}");
            }
            // An invalid certificate too.
            let mut invalid = expiring();
            invalid.findings.insert(
                "smtp.cert-invalid".to_owned(),
                Seen {
                    severity: Severity::Error,
                    message: "expired".to_owned(),
                },
            );
            let changes = diff(TARGET, &expiring(), &invalid, None);
            assert!(changes[0].worse, "{changes:?}");
            // Renewed: resolved, not worse.
            let changes = diff(TARGET, &expiring(), &healthy(), Some(Severity::Error));
            assert!(changes.iter().all(|c| !c.worse), "{changes:?}");
            assert!(
                changes
                    .iter()
                    .any(|c| c.message == "resolved warning finding smtp.cert-expiring"),
                "{changes:?}"
            );
        }

        #[test]
        fn a_port_that_stopped_answering_is_worse_and_its_certificate_not_resolved() {
            let changes = diff(TARGET, &expiring(), &refused(), Some(Severity::Error));
            let kinds: Vec<&What> = changes.iter().map(|c| &c.what).collect();
            assert!(matches!(kinds[0], What::RecordChanged { record, .. } if record == "smtp:587"));
            assert!(changes[0].worse);
            assert_eq!(
                changes[0].message,
                "SMTP port 587 stopped answering: connection refused (was: answers: TLSv1.3, \
                 certificate CN=mail.example.com, not after 2026-06-06T00:00:00Z)"
            );
            assert!(matches!(kinds[1], What::GradeChanged { .. }), "{changes:?}");
            assert_eq!(
                kinds[2],
                &What::FindingNew {
                    code: "smtp.connect-refused".to_owned(),
                    severity: Severity::Error
                }
            );
            assert!(
                changes[2].worse,
                "an error is worse at the default --fail-on error"
            );
            assert_eq!(changes.len(), 3, "nothing resolved: {changes:?}");
            // The certificate was not seen: its finding is neither resolved nor forgotten, and
            // the port answering again with it still expiring is no new finding.
            let over = changes_over_smtp(&[expiring(), refused(), expiring()]);
            let back = &over[1];
            assert!(
                back.iter()
                    .all(|c| !matches!(&c.what, What::FindingNew { code, .. } if code == "smtp.cert-expiring")),
                "{back:?}"
            );
            assert!(
                back.iter()
                    .any(|c| c.message.starts_with("SMTP port 587 answers again: ") && !c.worse),
                "{back:?}"
            );
            assert!(
                back.iter()
                    .any(|c| c.message == "resolved error finding smtp.connect-refused"),
                "{back:?}"
            );
        }

        fn changes_over_smtp(runs: &[Snapshot]) -> Vec<Vec<Change>> {
            let mut known = runs[0].clone();
            runs[1..]
                .iter()
                .map(|run| {
                    let changes = diff(TARGET, &known, run, Some(Severity::Error));
                    known = run.known_after(&known);
                    changes
                })
                .collect()
        }

        #[test]
        fn a_port_that_stopped_working_is_worse_and_a_failed_lookup_is_no_change() {
            let mut failed = session(Outcome::TlsFailed);
            failed.greeting = Some(Reply {
                code: 220,
                lines: vec!["mail.example.com ESMTP".to_owned()],
            });
            failed.ehlo = Some(ehlo(&["mail.example.com", "STARTTLS"]));
            failed.error = Some("handshake failure".to_owned());
            let failing = Snapshot::of(&report(vec![failed], lookup("records")));
            let changes = diff(TARGET, &healthy(), &failing, Some(Severity::Critical));
            assert!(
                changes[0]
                    .message
                    .starts_with("SMTP port 587 stopped working: TLS handshake failed"),
                "{changes:?}"
            );
            assert!(changes[0].worse);
            // Then refused: worse again (it no longer answers at all).
            assert!(diff(TARGET, &failing, &refused(), None)[0].worse);
            // Unknown between two healthy runs: nothing at all.
            let unknown = Snapshot::of(&report(Vec::new(), lookup("servfail")));
            for changes in changes_over_smtp(&[healthy(), unknown.clone(), healthy()]) {
                assert!(changes.is_empty(), "{changes:?}");
            }
            for changes in changes_over_smtp(&[refused(), unknown, refused()]) {
                assert!(changes.is_empty(), "{changes:?}");
            }
        }

        #[test]
        fn a_first_run_alerts_on_an_expiring_or_invalid_certificate() {
            let changes = expiring().first_run(TARGET);
            assert_eq!(changes.len(), 1, "{changes:?}");
            assert_eq!(
                changes[0].what,
                What::FindingNew {
                    code: "smtp.cert-expiring".to_owned(),
                    severity: Severity::Warning
                }
            );
            assert!(changes[0].worse);
            assert!(
                changes[0]
                    .message
                    .starts_with("warning finding smtp.cert-expiring (first run of this target)"),
                "{}",
                changes[0].message
            );
            let mut wrong_name = answering("2027-01-01T00:00:00Z", 300);
            if let Some(certificate) = wrong_name.tls.as_mut().and_then(|t| t.certificate.as_mut())
            {
                certificate.problems = vec![CertificateProblem::WrongName];
                certificate.name_matches = false;
            }
            let invalid = Snapshot::of(&report(vec![wrong_name], lookup("records")));
            assert!(
                invalid.first_run(TARGET).iter().any(|c| c.worse
                    && matches!(&c.what, What::FindingNew { code, .. } if code == "smtp.cert-invalid"))
            );
            // A healthy server, or one that does not answer, is a silent baseline.
            assert!(healthy().first_run(TARGET).is_empty());
            assert!(refused().first_run(TARGET).is_empty());
        }
    }

    /// The BIMI facts a run keeps: the record, the mark certificate (when fetched), and which
    /// codes were not checked.
    mod bimi {
        use super::*;
        use crate::bimi::certificate::MarkCertificate;
        use crate::bimi::{CertificateCheck, LogoCheck, Query};
        use crate::finding::Verdict;

        fn report(certificate: FetchStatus, not_after: &str, days_left: i64) -> BimiReport {
            let record = "v=BIMI1; l=https://example.com/l.svg; a=https://example.com/v.pem";
            BimiReport {
                verdict: Verdict::Ok,
                selector: "default".to_owned(),
                queries: vec![Query {
                    name: "default._bimi.example.com".to_owned(),
                    status: "records".to_owned(),
                    records: vec![record.to_owned()],
                    txt_records: 1,
                    bimi_records: 1,
                }],
                found_at: Some("default._bimi.example.com".to_owned()),
                record: Some(record.to_owned()),
                tags: Vec::new(),
                notes: Vec::new(),
                declined: false,
                dmarc: None,
                logo: Some(LogoCheck {
                    url: "https://example.com/l.svg".to_owned(),
                    status: certificate,
                    http: None,
                    error: None,
                    svg: None,
                    problems: Vec::new(),
                }),
                certificate: Some(CertificateCheck {
                    url: "https://example.com/v.pem".to_owned(),
                    status: certificate,
                    http: None,
                    error: None,
                    certificate: (certificate == FetchStatus::Valid).then(|| MarkCertificate {
                        subject: "CN=Example".to_owned(),
                        issuer: "CN=Mark CA".to_owned(),
                        names: vec!["example.com".to_owned()],
                        not_before: "2026-01-01T00:00:00Z".to_owned(),
                        not_after: not_after.to_owned(),
                        days_left,
                        logotype: true,
                        bimi_usage: true,
                        chain_length: 2,
                    }),
                    problems: Vec::new(),
                    expiring: days_left <= 30,
                }),
            }
        }

        #[test]
        fn a_renewed_certificate_and_a_changed_record_are_changes() {
            let before = bimi_certificate(&report(FetchStatus::Valid, "2027-01-01T00:00:00Z", 200));
            let after = bimi_certificate(&report(FetchStatus::Valid, "2028-01-01T00:00:00Z", 500));
            let mut old = snapshot();
            let mut new = snapshot();
            old.records
                .insert("bimi:certificate".to_owned(), before.unwrap());
            new.records
                .insert("bimi:certificate".to_owned(), after.unwrap());
            old.records.insert(
                "bimi".to_owned(),
                bimi_record(&report(FetchStatus::Valid, "x", 1)),
            );
            new.records.insert(
                "bimi".to_owned(),
                Observed::Present {
                    value: "v=BIMI1; l=https://example.com/new.svg".to_owned(),
                    summary: None,
                },
            );
            let changes = diff("example.com", &old, &new, Some(Severity::Error));
            let messages: Vec<&str> = changes.iter().map(|c| c.message.as_str()).collect();
            assert_eq!(messages.len(), 2, "{messages:?}");
            assert!(
                messages
                    .iter()
                    .any(|m| m.starts_with("BIMI record changed:"))
            );
            assert!(messages.contains(
                &"BIMI mark certificate changed: CN=Example, not after 2027-01-01T00:00:00Z → \
                  CN=Example, not after 2028-01-01T00:00:00Z"
            ));
        }

        #[test]
        fn an_expiring_certificate_alerts_whatever_fail_on_and_on_a_first_run() {
            let old = snapshot();
            let mut new = snapshot();
            new.findings.insert(
                "bimi.certificate-expiring".to_owned(),
                Seen {
                    severity: Severity::Warning,
                    message: "expires in 10 days".to_owned(),
                },
            );
            let changes = diff("example.com", &old, &new, None);
            assert!(changes.iter().any(|c| c.worse
                && matches!(&c.what, What::FindingNew { code, .. } if code == "bimi.certificate-expiring")));
            assert!(new.first_run("example.com").iter().any(|c| c.worse
                && matches!(&c.what, What::FindingNew { code, .. } if code == "bimi.certificate-expiring")));
        }

        #[test]
        fn what_was_not_fetched_is_not_resolved_nor_compared() {
            let not_fetched = report(FetchStatus::NotFetched, "", 0);
            assert_eq!(bimi_certificate(&not_fetched), None);
            let unchecked: Vec<&str> = bimi_unchecked(&not_fetched).collect();
            assert_eq!(
                unchecked,
                [
                    "bimi.logo-invalid",
                    "bimi.logo-unreachable",
                    "bimi.certificate-invalid",
                    "bimi.certificate-expiring",
                    "bimi.certificate-unreachable"
                ]
            );
            let mut old = snapshot();
            old.findings.insert(
                "bimi.certificate-expiring".to_owned(),
                Seen {
                    severity: Severity::Warning,
                    message: "expires in 10 days".to_owned(),
                },
            );
            let mut new = snapshot();
            new.unknown_areas
                .extend(unchecked.iter().map(|c| (*c).to_owned()));
            assert!(diff("example.com", &old, &new, None).is_empty());
            // A certificate that could not be fetched keeps its last known value.
            assert_eq!(
                bimi_certificate(&report(FetchStatus::Unreachable, "", 0)),
                Some(Observed::Unknown)
            );
            let fetched = report(FetchStatus::Valid, "2027-01-01T00:00:00Z", 200);
            assert_eq!(bimi_unchecked(&fetched).count(), 0);
        }
    }

    #[test]
    fn a_change_serialises_with_its_type_beside_the_target() {
        let change = Change {
            target: "192.0.2.1".to_owned(),
            what: What::Listed {
                list: "RBL".to_owned(),
                subject: "192.0.2.1".to_owned(),
            },
            worse: true,
            message: "m".to_owned(),
        };
        let json = serde_json::to_value(&change).unwrap();
        assert_eq!(json["type"], "listed");
        assert_eq!(json["list"], "RBL");
        assert_eq!(json["target"], "192.0.2.1");
        let back: Change = serde_json::from_value(json).unwrap();
        assert_eq!(back, change);
    }
}
