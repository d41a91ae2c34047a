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

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::completeness::answered;
use crate::dkim::{DkimReport, SelectorStatus};
use crate::dmarc::DmarcReport;
use crate::dnsbl::{ListAnswer, ListStatus};
use crate::finding::Severity;
use crate::mx::MxReport;
use crate::report::{Areas, TargetReport};
use crate::score::Grade;
use crate::spf::SpfReport;

/// What a DNS answer said about one record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum Observed {
    /// Published: its text, and for a DKIM key a short description (`rsa 2048 bits`).
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
    /// Areas (`spf`, `dkim`, `ip` ...) a DNS failure kept from being checked.
    #[serde(default)]
    pub unknown_areas: BTreeSet<String>,
    /// `spf`, `dmarc`, `mx`, `dkim:<selector>`.
    pub records: BTreeMap<String, Observed>,
    /// Every blocklist answer.
    pub listings: Vec<Listing>,
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
        let unknown_areas = report
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
                dkim_records(&areas.dkim, &mut records);
                for report in &areas.blocklists {
                    listings.extend(listings_of(&report.domain, &report.lists));
                }
            }
            Areas::Ip(areas) => {
                listings.extend(listings_of(&areas.ip.ip.to_string(), &areas.ip.lists));
            }
        }
        Snapshot {
            score: report.score,
            grade: report.grade,
            graded: !report.incomplete,
            findings,
            unknown_areas,
            records,
            listings,
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
        let listing_unknown = self.listing_unknown();
        for (code, seen) in &previous.findings {
            if self.not_checked(code, listing_unknown) {
                known
                    .findings
                    .entry(code.clone())
                    .or_insert_with(|| seen.clone());
            }
        }
        known.unknown_areas = BTreeSet::new();
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
        self.unknown_areas.contains(area) || (listing_unknown && LISTING_CODES.contains(&code))
    }

    /// What a target's first run reports: a monitor deployed on a listed address or a domain
    /// with a critical problem alerts at once instead of storing it silently as its baseline.
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
            if seen.severity == Severity::Critical && !LISTING_CODES.contains(&code.as_str()) {
                changes.push(
                    What::FindingNew {
                        code: code.clone(),
                        severity: seen.severity,
                    },
                    true,
                    format!(
                        "critical finding {code} (first run of this target): {}",
                        seen.message
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
        "domain-blocklists" => &["domain"],
        "reverse-dns" | "blocklists" => &["ip"],
        // The resolver stopped answering: nothing of the report can be trusted to be seen.
        _ => &["spf", "dmarc", "dkim", "mx", "domain", "ip", "dns"],
    }
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
}

/// Codes that say "listed": not resolved while a list could not answer.
const LISTING_CODES: [&str; 2] = ["ip.listed", "domain.listed"];

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
    changes.list
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

fn finding_changes(
    changes: &mut Changes,
    old: &Snapshot,
    new: &Snapshot,
    fail_on: Option<Severity>,
) {
    for (code, seen) in &new.findings {
        if !old.findings.contains_key(code) {
            let worse = fail_on.is_some_and(|threshold| seen.severity >= threshold);
            changes.push(
                What::FindingNew {
                    code: code.clone(),
                    severity: seen.severity,
                },
                worse,
                format!("new {} finding {code}: {}", seen.severity, seen.message),
            );
        }
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

/// Changes are listed SPF, DMARC, MX, then the DKIM selectors.
fn record_rank(name: &str) -> u8 {
    match name {
        "spf" => 0,
        "dmarc" => 1,
        "mx" => 2,
        _ => 3,
    }
}

/// `dkim:s1` → `DKIM key at selector s1`.
fn record_label(name: &str) -> String {
    match name {
        "spf" => "SPF record".to_owned(),
        "dmarc" => "DMARC record".to_owned(),
        "mx" => "MX set".to_owned(),
        other => match other.strip_prefix("dkim:") {
            Some(selector) => format!("DKIM key at selector {selector}"),
            None => other.to_owned(),
        },
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
        }
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
