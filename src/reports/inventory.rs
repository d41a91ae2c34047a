//! The sender inventory: every source IP of the DMARC aggregate reports (RFC 7489 appendix C,
//! `row/source_ip`) with the service it belongs to, its message count and how its mail fared,
//! and the same totals per service, per reporter and per day.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use mail_auth::report::{ActionDisposition, DkimResult, DmarcResult, Record, Report, SpfResult};
use serde::Serialize;

use crate::dkim::selectors::{self, Evidence, Provider};

/// Message counts of a group of rows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub messages: u64,
    /// Passed DMARC: SPF or DKIM passed and aligned (RFC 7489 §4.2).
    pub dmarc_pass: u64,
    pub dmarc_fail: u64,
    /// `policy_evaluated/spf` pass: SPF passed for a domain aligned with From.
    pub spf_aligned: u64,
    /// `policy_evaluated/dkim` pass: a DKIM signature passed with an aligned `d=`.
    pub dkim_aligned: u64,
    /// SPF passed (`auth_results/spf`), aligned or not.
    pub spf_pass: u64,
    /// At least one DKIM signature passed (`auth_results/dkim`), aligned or not.
    pub dkim_pass: u64,
    /// The disposition the receiver applied (`policy_evaluated/disposition`).
    pub delivered: u64,
    pub quarantined: u64,
    pub rejected: u64,
}

impl Counts {
    /// Counts one record's messages.
    pub fn add(&mut self, record: &Record) {
        let n = u64::from(record.row.count);
        let evaluated = &record.row.policy_evaluated;
        let spf_aligned = evaluated.spf == DmarcResult::Pass;
        let dkim_aligned = evaluated.dkim == DmarcResult::Pass;
        self.messages += n;
        if spf_aligned || dkim_aligned {
            self.dmarc_pass += n;
        } else {
            self.dmarc_fail += n;
        }
        self.spf_aligned += if spf_aligned { n } else { 0 };
        self.dkim_aligned += if dkim_aligned { n } else { 0 };
        let spf_pass = record
            .auth_results
            .spf
            .iter()
            .any(|spf| spf.result == SpfResult::Pass);
        let dkim_pass = record
            .auth_results
            .dkim
            .iter()
            .any(|dkim| dkim.result == DkimResult::Pass);
        self.spf_pass += if spf_pass { n } else { 0 };
        self.dkim_pass += if dkim_pass { n } else { 0 };
        match evaluated.disposition {
            ActionDisposition::Quarantine => self.quarantined += n,
            ActionDisposition::Reject => self.rejected += n,
            _ => self.delivered += n,
        }
    }

    fn merge(&mut self, other: &Counts) {
        self.messages += other.messages;
        self.dmarc_pass += other.dmarc_pass;
        self.dmarc_fail += other.dmarc_fail;
        self.spf_aligned += other.spf_aligned;
        self.dkim_aligned += other.dkim_aligned;
        self.spf_pass += other.spf_pass;
        self.dkim_pass += other.dkim_pass;
        self.delivered += other.delivered;
        self.quarantined += other.quarantined;
        self.rejected += other.rejected;
    }

    /// The share of messages that passed DMARC, in percent.
    pub fn pass_rate(&self) -> f64 {
        percent(self.dmarc_pass, self.messages)
    }
}

/// `part` of `whole` in percent, to one decimal; 0 of nothing is 0.
#[allow(clippy::cast_precision_loss)] // message counts far below 2^52
pub fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        return 0.0;
    }
    (part as f64 * 1000.0 / whole as f64).round() / 10.0
}

/// Who a source IP is: the provider recognised, or the best name the reports give.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Service {
    pub name: String,
    /// What recognised a known provider: `ptr`, `spf` or `dkim`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recognised_by: Option<&'static str>,
    #[serde(skip)]
    pub provider: Option<&'static Provider>,
}

/// One source IP.
#[derive(Debug, Serialize)]
pub struct SourceRow {
    pub ip: IpAddr,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ptr: Option<String>,
    pub service: Service,
    /// The policy domains (`policy_published/domain`) its mail was reported for.
    pub domains: Vec<String>,
    pub header_from: Vec<String>,
    /// The SPF-authenticated domains (`auth_results/spf/domain`).
    pub spf_domains: Vec<String>,
    /// The DKIM `d=` domains (`auth_results/dkim/domain`).
    pub dkim_domains: Vec<String>,
    pub reporters: Vec<String>,
    pub days: Vec<String>,
    #[serde(flatten)]
    pub counts: Counts,
}

/// A group of rows: a service, a reporter, a day.
#[derive(Debug, Serialize)]
pub struct GroupRow {
    pub name: String,
    pub reports: usize,
    #[serde(flatten)]
    pub counts: Counts,
}

/// One record of one report, as a line of the CSV.
#[derive(Debug, Serialize)]
pub struct RecordRow {
    pub day: String,
    pub reporter: String,
    pub report_id: String,
    pub policy_domain: String,
    pub source_ip: String,
    pub ptr: String,
    pub service: String,
    pub count: u32,
    pub header_from: String,
    pub disposition: &'static str,
    pub dmarc: &'static str,
    pub dkim_aligned: bool,
    pub spf_aligned: bool,
    /// `d=:result` of each signature, `;`-separated.
    pub dkim: String,
    /// `domain:result` of each SPF check, `;`-separated.
    pub spf: String,
}

/// The sender inventory of a set of DMARC aggregate reports.
#[derive(Debug, Default, Serialize)]
pub struct Inventory {
    pub reports: usize,
    /// The policy domains reported on.
    pub domains: Vec<String>,
    pub totals: Counts,
    /// Most messages first.
    pub sources: Vec<SourceRow>,
    pub services: Vec<GroupRow>,
    pub reporters: Vec<GroupRow>,
    /// Oldest first, by the start of each report's period (UTC).
    pub days: Vec<GroupRow>,
    /// Every record, for the CSV.
    #[serde(skip)]
    pub records: Vec<RecordRow>,
}

#[derive(Default)]
struct SourceAcc {
    domains: BTreeSet<String>,
    header_from: BTreeSet<String>,
    spf_domains: BTreeSet<String>,
    dkim_domains: BTreeSet<String>,
    passing_dkim: BTreeSet<String>,
    reporters: BTreeSet<String>,
    days: BTreeSet<String>,
    counts: Counts,
}

impl Inventory {
    #[allow(clippy::too_many_lines)] // one pass over the records filling each view
    pub fn build(reports: &[Report], ptr: &BTreeMap<IpAddr, String>) -> Inventory {
        let mut sources: BTreeMap<Option<IpAddr>, SourceAcc> = BTreeMap::new();
        let mut reporters: BTreeMap<String, (BTreeSet<usize>, Counts)> = BTreeMap::new();
        let mut days: BTreeMap<String, (BTreeSet<usize>, Counts)> = BTreeMap::new();
        let mut domains = BTreeSet::new();
        let mut totals = Counts::default();
        for (index, report) in reports.iter().enumerate() {
            let reporter = super::reporter_of(&report.report_metadata);
            let day = day_of(report.report_metadata.date_range.begin);
            let domain = report.policy_published.domain.trim().to_ascii_lowercase();
            domains.insert(domain.clone());
            reporters
                .entry(reporter.clone())
                .or_default()
                .0
                .insert(index);
            days.entry(day.clone()).or_default().0.insert(index);
            for record in &report.record {
                totals.add(record);
                reporters.entry(reporter.clone()).or_default().1.add(record);
                days.entry(day.clone()).or_default().1.add(record);
                let acc = sources.entry(record.row.source_ip).or_default();
                acc.counts.add(record);
                acc.domains.insert(domain.clone());
                acc.header_from
                    .insert(record.identifiers.header_from.trim().to_ascii_lowercase());
                for spf in &record.auth_results.spf {
                    acc.spf_domains
                        .insert(spf.domain.trim().to_ascii_lowercase());
                }
                for dkim in &record.auth_results.dkim {
                    let d = dkim.domain.trim().to_ascii_lowercase();
                    if dkim.result == DkimResult::Pass {
                        acc.passing_dkim.insert(d.clone());
                    }
                    acc.dkim_domains.insert(d);
                }
                acc.reporters.insert(reporter.clone());
                acc.days.insert(day.clone());
            }
        }
        let mut rows: Vec<(Option<IpAddr>, SourceAcc, Service)> = sources
            .into_iter()
            .map(|(ip, acc)| {
                let name = ip.and_then(|ip| ptr.get(&ip)).map(String::as_str);
                let service = identify(name, &acc);
                (ip, acc, service)
            })
            .collect();
        rows.sort_by(|a, b| {
            b.1.counts
                .messages
                .cmp(&a.1.counts.messages)
                .then(a.0.cmp(&b.0))
        });
        let mut services: BTreeMap<String, Counts> = BTreeMap::new();
        for (_, acc, service) in &rows {
            services
                .entry(service.name.clone())
                .or_default()
                .merge(&acc.counts);
        }
        let service_of: BTreeMap<Option<IpAddr>, Service> = rows
            .iter()
            .map(|(ip, _, service)| (*ip, service.clone()))
            .collect();
        let records = record_rows(reports, ptr, &service_of);
        let sources = rows
            .into_iter()
            .filter_map(|(ip, acc, service)| {
                // A row without a source IP is invalid (RFC 7489 appendix C requires it); its
                // messages stay in the totals.
                let ip = ip?;
                Some(SourceRow {
                    ip,
                    ptr: ptr.get(&ip).cloned(),
                    service,
                    domains: acc.domains.into_iter().collect(),
                    header_from: acc.header_from.into_iter().collect(),
                    spf_domains: acc.spf_domains.into_iter().collect(),
                    dkim_domains: acc.dkim_domains.into_iter().collect(),
                    reporters: acc.reporters.into_iter().collect(),
                    days: acc.days.into_iter().collect(),
                    counts: acc.counts,
                })
            })
            .collect();
        Inventory {
            reports: reports.len(),
            domains: domains.into_iter().collect(),
            totals,
            sources,
            services: most_first(
                services
                    .into_iter()
                    .map(|(name, counts)| GroupRow {
                        name,
                        reports: 0,
                        counts,
                    })
                    .collect(),
            ),
            reporters: most_first(groups(reporters)),
            days: groups(days),
            records,
        }
    }
}

fn groups(map: BTreeMap<String, (BTreeSet<usize>, Counts)>) -> Vec<GroupRow> {
    map.into_iter()
        .map(|(name, (reports, counts))| GroupRow {
            name,
            reports: reports.len(),
            counts,
        })
        .collect()
}

fn most_first(mut rows: Vec<GroupRow>) -> Vec<GroupRow> {
    rows.sort_by_key(|row| std::cmp::Reverse(row.counts.messages));
    rows
}

/// The service a source IP belongs to: a known provider by its PTR name, the SPF domain its mail
/// passed for, or a DKIM `d=`; else the domain that signed (or the PTR name) as a name.
fn identify(ptr: Option<&str>, acc: &SourceAcc) -> Service {
    let known = |evidence: Evidence, label: &'static str, names: &[&str]| {
        names.iter().find_map(|name| {
            selectors::provider_of(evidence, name).map(|provider| Service {
                name: provider.name().to_owned(),
                recognised_by: Some(label),
                provider: Some(provider),
            })
        })
    };
    let spf: Vec<&str> = acc.spf_domains.iter().map(String::as_str).collect();
    let dkim: Vec<&str> = acc.dkim_domains.iter().map(String::as_str).collect();
    if let Some(service) = known(Evidence::Ptr, "ptr", ptr.as_slice())
        .or_else(|| known(Evidence::Spf, "spf", &spf))
        .or_else(|| known(Evidence::Dkim, "dkim", &dkim))
    {
        return service;
    }
    let name = acc
        .passing_dkim
        .iter()
        .find(|d| !acc.header_from.contains(*d))
        .cloned()
        .or_else(|| ptr.map(|name| psl::domain_str(name).unwrap_or(name).to_owned()))
        .or_else(|| acc.passing_dkim.iter().next().cloned())
        .unwrap_or_else(|| "unidentified".to_owned());
    Service {
        name,
        recognised_by: None,
        provider: None,
    }
}

/// The UTC day a report period starts, `YYYY-MM-DD`.
pub fn day_of(unix: u64) -> String {
    i64::try_from(unix)
        .ok()
        .and_then(|secs| time::OffsetDateTime::from_unix_timestamp(secs).ok())
        .map_or_else(|| "unknown".to_owned(), |at| at.date().to_string())
}

fn record_rows(
    reports: &[Report],
    ptr: &BTreeMap<IpAddr, String>,
    service_of: &BTreeMap<Option<IpAddr>, Service>,
) -> Vec<RecordRow> {
    let mut rows = Vec::new();
    for report in reports {
        for record in &report.record {
            let ip = record.row.source_ip;
            let evaluated = &record.row.policy_evaluated;
            let dkim_aligned = evaluated.dkim == DmarcResult::Pass;
            let spf_aligned = evaluated.spf == DmarcResult::Pass;
            rows.push(RecordRow {
                day: day_of(report.report_metadata.date_range.begin),
                reporter: super::reporter_of(&report.report_metadata),
                report_id: report.report_metadata.report_id.clone(),
                policy_domain: report.policy_published.domain.clone(),
                source_ip: ip.map(|ip| ip.to_string()).unwrap_or_default(),
                ptr: ip.and_then(|ip| ptr.get(&ip)).cloned().unwrap_or_default(),
                service: service_of
                    .get(&ip)
                    .map(|s| s.name.clone())
                    .unwrap_or_default(),
                count: record.row.count,
                header_from: record.identifiers.header_from.clone(),
                disposition: disposition_name(evaluated.disposition),
                dmarc: if dkim_aligned || spf_aligned {
                    "pass"
                } else {
                    "fail"
                },
                dkim_aligned,
                spf_aligned,
                dkim: record
                    .auth_results
                    .dkim
                    .iter()
                    .map(|d| format!("{}:{}", d.domain, dkim_name(d.result)))
                    .collect::<Vec<_>>()
                    .join(";"),
                spf: record
                    .auth_results
                    .spf
                    .iter()
                    .map(|s| format!("{}:{}", s.domain, spf_name(s.result)))
                    .collect::<Vec<_>>()
                    .join(";"),
            });
        }
    }
    rows
}

fn disposition_name(disposition: ActionDisposition) -> &'static str {
    match disposition {
        ActionDisposition::None | ActionDisposition::Unspecified => "none",
        ActionDisposition::Pass => "pass",
        ActionDisposition::Quarantine => "quarantine",
        ActionDisposition::Reject => "reject",
    }
}

fn dkim_name(result: DkimResult) -> &'static str {
    match result {
        DkimResult::None => "none",
        DkimResult::Pass => "pass",
        DkimResult::Fail => "fail",
        DkimResult::Policy => "policy",
        DkimResult::Neutral => "neutral",
        DkimResult::TempError => "temperror",
        DkimResult::PermError => "permerror",
    }
}

fn spf_name(result: SpfResult) -> &'static str {
    match result {
        SpfResult::None => "none",
        SpfResult::Neutral => "neutral",
        SpfResult::Pass => "pass",
        SpfResult::Fail => "fail",
        SpfResult::SoftFail => "softfail",
        SpfResult::TempError => "temperror",
        SpfResult::PermError => "permerror",
    }
}
