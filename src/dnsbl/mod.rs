//! DNS blocklists (RFC 5782): the catalog of lists, query names, reading answers, the list
//! health check, and the domain blocklist check. The reputation of one sending IP (PTR,
//! forward-confirmed reverse DNS, its blocklist answers) is in [`crate::ip`].
//!
//! Why not a library: mail-auth 0.13 has no DNSBL support, and the DNSBL crates read any A
//! record as "listed". An auditor must tell a listing from a refusal (Spamhaus answers
//! 127.255.255.254 to public resolvers for every query, URIBL 127.0.0.1), from a rewritten
//! answer outside 127.0.0.0/8, and from a list that has died and now lists everything: each of
//! those mistakes would tell a user their clean address is blocked, or a blocked one clean.

pub mod answer;
pub mod catalog;
pub mod health;
pub mod query;

use std::fmt::Write as _;
use std::net::IpAddr;

use futures::future::join_all;
use serde::Serialize;

pub use answer::{ListStatus, ReturnCode, ReturnKind};
pub use catalog::{Access, Catalog, CatalogError, CodeKind, List, Takes, Weight};
pub use health::{HealthStatus, ListHealth, health_check};

use crate::dns::{Answer, Dns};
use crate::finding::{Checked, Code, Finding, Severity, Verdict};

/// What one list said about one item: the raw answer and its reading, so that a report can
/// show an item × list matrix and why each cell says what it says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ListAnswer {
    pub list: String,
    pub zone: String,
    pub weight: Weight,
    /// The name asked (A and TXT, at once). Keys are shown as `<key>`.
    pub query: String,
    pub status: ListStatus,
    /// Every A record returned, each with its meaning.
    pub codes: Vec<ReturnCode>,
    /// The list's TXT reason at the same name (RFC 5782 §2.1).
    pub txt: Vec<String>,
    pub removal: Option<String>,
    /// Why the list was skipped, or how it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The list's health-check result, when it was skipped for failing it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthStatus>,
}

/// A domain on every domain blocklist.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DomainListingReport {
    pub domain: String,
    pub verdict: Verdict,
    pub lists: Vec<ListAnswer>,
    /// The names of the lists that list the domain.
    pub listed_on: Vec<String>,
}

/// What a list is asked about.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Subject<'a> {
    /// A sending address, IPv4-mapped addresses already turned into IPv4.
    Ip(IpAddr),
    /// A normalised domain name.
    Domain(&'a str),
}

impl Subject<'_> {
    fn text(&self) -> String {
        match self {
            Subject::Ip(ip) => ip.to_string(),
            Subject::Domain(domain) => (*domain).to_owned(),
        }
    }

    fn item(&self) -> String {
        match self {
            Subject::Ip(ip) => query::ip_item(*ip),
            Subject::Domain(domain) => (*domain).to_owned(),
        }
    }

    fn family(&self) -> Takes {
        match self {
            Subject::Ip(IpAddr::V4(_)) => Takes::Ipv4,
            Subject::Ip(IpAddr::V6(_)) => Takes::Ipv6,
            Subject::Domain(_) => Takes::Domain,
        }
    }
}

/// Checks `domain` on every enabled domain list that passed the health check (lists absent
/// from `health` were not checked and are asked). Raises `domain.listed`, and
/// `ip.dnsbl-refused` / `ip.dnsbl-unavailable` where a list could not say.
pub async fn check_domain(
    dns: &Dns,
    domain: &str,
    catalog: &Catalog,
    health: &[ListHealth],
) -> Checked<DomainListingReport> {
    let normalized = catalog::normalize_name(domain);
    let (name, lists) = match &normalized {
        Ok(name) => (
            name.clone(),
            ask_lists(dns, Subject::Domain(name), catalog, health).await,
        ),
        Err(problem) => {
            let lists = catalog
                .enabled()
                .filter(|list| list.takes(Takes::Domain))
                .map(|list| skipped(list, domain, format!("{CANNOT_BE_ASKED}: {problem}"), None))
                .collect();
            (domain.to_owned(), lists)
        }
    };
    let subject = Subject::Domain(&name);
    let findings: Vec<Finding> = lists
        .iter()
        .filter_map(|a| list_finding(a, subject))
        .collect();
    let verdict = if normalized.is_err() {
        Verdict::Unknown
    } else {
        lists_verdict(&findings, &lists).unwrap_or_else(|| Verdict::from_findings(&findings, true))
    };
    let listed_on = listed_on(&lists);
    Checked {
        report: DomainListingReport {
            domain: name,
            verdict,
            lists,
            listed_on,
        },
        findings,
    }
}

/// The names of the lists whose answer is a listing.
pub(crate) fn listed_on(lists: &[ListAnswer]) -> Vec<String> {
    lists
        .iter()
        .filter(|a| a.status == ListStatus::Listed)
        .map(|a| a.list.clone())
        .collect()
}

/// `Some(Unknown)` when the answers leave the subject's standing unknown ([`lists_unknown`])
/// and nothing was found: unknown rather than clean. `None` to let the findings decide.
pub(crate) fn lists_verdict(findings: &[Finding], lists: &[ListAnswer]) -> Option<Verdict> {
    let failing = Verdict::from_findings(findings, true) == Verdict::Fail;
    (lists_unknown(lists).is_some() && !failing).then_some(Verdict::Unknown)
}

/// What is said of an item no enabled list of the catalog takes: nothing was asked, so it is
/// neither clean nor unknown, and not graded.
pub const NOT_CHECKED: &str =
    "not checked: no enabled blocklist of the catalog (--dnsbl) takes this kind of item";

/// How a list that takes an item but could not ask about it (a name that cannot be a query)
/// says why.
const CANNOT_BE_ASKED: &str = "cannot be asked";

/// Whether an answer is of a list that takes the item: asked, failed, skipped for its health
/// check, or unable to ask it; not a list of another kind of item.
fn takes_item(answer: &ListAnswer) -> bool {
    answer.status != ListStatus::Skipped
        || answer.health.is_some()
        || answer
            .detail
            .as_deref()
            .is_some_and(|d| d.starts_with(CANNOT_BE_ASKED))
}

/// Whether any enabled list of the catalog takes the item of these answers.
pub fn any_list_takes(lists: &[ListAnswer]) -> bool {
    lists.iter().any(takes_item)
}

/// Why a set of list answers leaves the subject's standing unknown: no list that takes it could
/// answer, or a major list (the ones receivers reject on) could not. `None` when the answers
/// decide, and when no list takes it ([`NOT_CHECKED`]: nothing was asked).
pub fn lists_unknown(lists: &[ListAnswer]) -> Option<String> {
    // Lists that do not take this kind of item were never going to answer.
    let relevant: Vec<&ListAnswer> = lists.iter().filter(|l| takes_item(l)).collect();
    let unanswered: Vec<&ListAnswer> = relevant
        .iter()
        .copied()
        .filter(|l| !matches!(l.status, ListStatus::Listed | ListStatus::NotListed))
        .collect();
    if unanswered.is_empty() {
        return None;
    }
    let describe = |l: &&ListAnswer| format!("{} ({})", l.list, unanswered_word(l));
    if unanswered.len() == relevant.len() {
        return Some(format!(
            "no blocklist could answer: {}",
            unanswered
                .iter()
                .map(describe)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let major: Vec<String> = unanswered
        .iter()
        .filter(|l| l.weight == Weight::Major)
        .map(describe)
        .collect();
    (!major.is_empty()).then(|| format!("major blocklists could not answer: {}", major.join(", ")))
}

fn unanswered_word(answer: &ListAnswer) -> &'static str {
    match answer.status {
        ListStatus::Refused => "refused this resolver",
        ListStatus::InvalidAnswer => "an invalid answer",
        ListStatus::Unavailable => "no answer",
        ListStatus::Skipped => "failed its health check",
        ListStatus::Listed | ListStatus::NotListed => "answered",
    }
}

/// Asks every enabled list that takes the subject, concurrently. IP lists that do not take the
/// address's family are reported as skipped, as are lists that failed the health check.
pub(crate) async fn ask_lists(
    dns: &Dns,
    subject: Subject<'_>,
    catalog: &Catalog,
    health: &[ListHealth],
) -> Vec<ListAnswer> {
    let family = subject.family();
    let item = subject.item();
    let relevant = catalog.enabled().filter(|list| match family {
        Takes::Domain => list.takes(Takes::Domain),
        Takes::Ipv4 | Takes::Ipv6 => list.takes_ips(),
    });
    join_all(relevant.map(|list| {
        let item = item.clone();
        async move {
            if !list.takes(family) {
                let reason = format!("the list does not take {} addresses", family_word(family));
                return skipped(list, &item, reason, None);
            }
            if let Some(checked) = health::health_of(health, list).filter(|h| !h.works()) {
                let reason = format!(
                    "ignored: failed its RFC 5782 health check ({}): {}",
                    checked.health.as_str(),
                    checked.reason
                );
                return skipped(list, &item, reason, Some(checked.health));
            }
            ask(dns, list, &item).await
        }
    }))
    .await
}

fn family_word(family: Takes) -> &'static str {
    match family {
        Takes::Ipv4 => "IPv4",
        Takes::Ipv6 => "IPv6",
        Takes::Domain => "domain",
    }
}

/// The query name as shown to users: a list's key is a credential and never printed.
fn shown_query(list: &List, item: &str) -> String {
    if list.key.is_some() {
        format!("{item}.<key>.{}", list.zone)
    } else {
        query::query_name(item, list)
    }
}

fn skipped(list: &List, item: &str, reason: String, health: Option<HealthStatus>) -> ListAnswer {
    ListAnswer {
        list: list.name.clone(),
        zone: list.zone.clone(),
        weight: list.weight,
        query: shown_query(list, item),
        status: ListStatus::Skipped,
        codes: Vec::new(),
        txt: Vec::new(),
        removal: list.removal.clone(),
        detail: Some(reason),
        health,
    }
}

/// Asks one list: the A record, then the TXT record (the reason, RFC 5782 §2.1) only at a name
/// that has A records: an item a list does not hold costs one question, not two.
async fn ask(dns: &Dns, list: &List, item: &str) -> ListAnswer {
    let name = query::query_name(item, list);
    let a = dns.a(&name).await;
    let txt = if a.records().is_empty() {
        Answer::no_data()
    } else {
        dns.txt(&name).await
    };
    let reading = answer::read_answer(list, &a);
    ListAnswer {
        list: list.name.clone(),
        zone: list.zone.clone(),
        weight: list.weight,
        query: shown_query(list, item),
        status: reading.status,
        codes: reading.codes,
        txt: answer::txt_reasons(&txt),
        removal: list.removal.clone(),
        detail: reading.failure,
        health: None,
    }
}

fn codes_summary(answer: &ListAnswer, kinds: &[ReturnKind]) -> String {
    let mut out = String::new();
    for code in answer.codes.iter().filter(|c| kinds.contains(&c.kind)) {
        if !out.is_empty() {
            out.push_str("; ");
        }
        let _ = write!(out, "{}: {}", code.address, code.meaning);
    }
    out
}

fn removal_text(answer: &ListAnswer) -> String {
    answer.removal.as_ref().map_or_else(
        || format!("from the operator of {}", answer.zone),
        |url| format!("at {url}"),
    )
}

/// The finding a list's answer raises about `subject`, if any.
pub(crate) fn list_finding(answer: &ListAnswer, subject: Subject<'_>) -> Option<Finding> {
    let item = subject.text();
    let finding = match answer.status {
        ListStatus::NotListed => return None,
        ListStatus::Listed => listed_finding(answer, subject),
        ListStatus::Refused => Finding::new(
            Code::IpDnsblRefused,
            format!(
                "{} refused to answer about {item} ({}): result unknown",
                answer.list,
                codes_summary(answer, &[ReturnKind::Error])
            ),
        )
        .fix(own_resolver_fix(&answer.zone)),
        ListStatus::InvalidAnswer => Finding::new(
            Code::IpDnsblUnavailable,
            format!(
                "{} answered {} about {item}: outside 127.0.0.0/8, not a blocklist answer; result unknown",
                answer.list,
                codes_summary(answer, &[ReturnKind::Invalid])
            ),
        )
        .fix(format!(
            "Use a resolver that does not rewrite answers; if {} itself now answers everything, \
             remove it from the blocklist catalog (--dnsbl)",
            answer.zone
        )),
        ListStatus::Unavailable => Finding::new(
            Code::IpDnsblUnavailable,
            format!(
                "{} did not answer about {item} ({}): result unknown",
                answer.list,
                answer.detail.as_deref().unwrap_or("no answer")
            ),
        )
        .fix(format!(
            "Check again later; if it keeps failing, check that the resolver can reach {}",
            answer.zone
        )),
        ListStatus::Skipped => skipped_finding(answer, &item)?,
    };
    Some(
        finding
            .evidence("list", &answer.list)
            .evidence("zone", &answer.zone)
            .evidence("query", &answer.query)
            .evidence("status", answer.status.as_str())
            .evidence("codes", &answer.codes)
            .evidence("txt", &answer.txt)
            .evidence("removal", &answer.removal)
            .evidence("weight", answer.weight),
    )
}

fn skipped_finding(answer: &ListAnswer, item: &str) -> Option<Finding> {
    let detail = answer.detail.as_deref().unwrap_or("");
    let finding = match answer.health? {
        HealthStatus::Works => return None,
        HealthStatus::RefusesThisResolver => Finding::new(
            Code::IpDnsblRefused,
            format!(
                "{} refuses this resolver (error code for its test entry): {item} was not checked on it",
                answer.list
            ),
        )
        .fix(own_resolver_fix(&answer.zone)),
        HealthStatus::Unavailable => Finding::new(
            Code::IpDnsblUnavailable,
            format!(
                "{} did not answer its health check: {item} was not checked on it, result unknown",
                answer.list
            ),
        )
        .fix(format!(
            "Check again later; if it keeps failing, check that the resolver can reach {}",
            answer.zone
        )),
        status @ (HealthStatus::ListsEverything | HealthStatus::NotAnsweringTest) => Finding::new(
            Code::IpDnsblUnavailable,
            format!(
                "{} failed its RFC 5782 health check ({}) and was ignored: {item} was not checked on it",
                answer.list,
                status.as_str()
            ),
        )
        .fix(format!(
            "Remove {} from the blocklist catalog (--dnsbl) if it keeps failing its test entries",
            answer.zone
        )),
    };
    Some(finding.evidence("health", detail))
}

fn listed_finding(answer: &ListAnswer, subject: Subject<'_>) -> Finding {
    let listing = codes_summary(answer, &[ReturnKind::Listed, ReturnKind::Policy]);
    let policy_only = answer
        .codes
        .iter()
        .filter(|c| matches!(c.kind, ReturnKind::Listed | ReturnKind::Policy))
        .all(|c| c.kind == ReturnKind::Policy);
    let removal = removal_text(answer);
    match subject {
        Subject::Domain(domain) => Finding::new(
            Code::DomainListed,
            format!("{domain} is listed on {} ({listing})", answer.list),
        )
        .fix(format!(
            "Find why {domain} appears in unwanted mail (a compromised site or account, links \
             in abused forms, a bought list), stop it, then request removal {removal}"
        )),
        Subject::Ip(ip) => {
            // findings.md: critical on the major lists, error on the others. Informational
            // lists stay at error (the documented range) and say how little they are used.
            let severity = match answer.weight {
                Weight::Major => Severity::Critical,
                Weight::Minor | Weight::Informational => Severity::Error,
            };
            let note = match answer.weight {
                Weight::Informational => ": few receivers reject mail on this list",
                Weight::Major | Weight::Minor => "",
            };
            let (message, fix) = if policy_only {
                (
                    format!(
                        "{ip} is on {}'s policy list ({listing}): receivers that use it refuse mail sent directly from this address{note}",
                        answer.list
                    ),
                    format!(
                        "Send mail through a server whose address is meant to send mail (your \
                         provider's relay); if {ip} is a mail server on a static address, \
                         publish a PTR record naming it and request removal {removal}"
                    ),
                )
            } else {
                (
                    format!("{ip} is listed on {} ({listing}){note}", answer.list),
                    format!(
                        "Find and stop what got {ip} listed (a compromised account or host, \
                         an open relay, a bought list), then request removal {removal}"
                    ),
                )
            };
            Finding::new(Code::IpListed, message)
                .severity(severity)
                .fix(fix)
        }
    }
}

/// The fix for a list that refused this resolver or answered nonsense to it: ask it directly.
fn own_resolver_fix(zone: &str) -> String {
    format!(
        "Ask {zone} through a resolver of your own, not a public or shared one (or with the \
         list's access key, e.g. Spamhaus DQS), then check again"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn answer(weight: Weight, status: ListStatus, codes: &[(u8, ReturnKind)]) -> ListAnswer {
        ListAnswer {
            list: "Test List".to_owned(),
            zone: "rbl.example".to_owned(),
            weight,
            query: "10.2.0.192.rbl.example".to_owned(),
            status,
            codes: codes
                .iter()
                .map(|&(last, kind)| ReturnCode {
                    address: Ipv4Addr::new(127, 0, 0, last),
                    kind,
                    meaning: format!("meaning {last}"),
                })
                .collect(),
            txt: vec!["see https://rbl.example/lookup".to_owned()],
            removal: Some("https://rbl.example/remove".to_owned()),
            detail: None,
            health: None,
        }
    }

    const IP: Subject<'static> = Subject::Ip(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)));

    #[test]
    fn listing_severity_follows_the_list_weight() {
        let codes = [(2, ReturnKind::Listed)];
        let major = list_finding(&answer(Weight::Major, ListStatus::Listed, &codes), IP).unwrap();
        assert_eq!(
            (major.code, major.severity),
            (Code::IpListed, Severity::Critical)
        );
        assert!(
            major
                .fix
                .as_deref()
                .unwrap()
                .contains("https://rbl.example/remove")
        );
        assert_eq!(major.evidence["txt"][0], "see https://rbl.example/lookup");
        let minor = list_finding(&answer(Weight::Minor, ListStatus::Listed, &codes), IP).unwrap();
        assert_eq!(minor.severity, Severity::Error);
        let info = list_finding(
            &answer(Weight::Informational, ListStatus::Listed, &codes),
            IP,
        )
        .unwrap();
        assert_eq!(info.severity, Severity::Error);
        assert!(info.message.contains("few receivers"), "{}", info.message);
    }

    #[test]
    fn policy_listings_say_so() {
        let policy = answer(
            Weight::Major,
            ListStatus::Listed,
            &[(10, ReturnKind::Policy)],
        );
        let finding = list_finding(&policy, IP).unwrap();
        assert!(
            finding.message.contains("policy list"),
            "{}",
            finding.message
        );
        assert!(finding.fix.unwrap().contains("relay"));
    }

    #[test]
    fn refusals_and_failures_are_unknown_not_listed() {
        let refused = list_finding(
            &answer(
                Weight::Major,
                ListStatus::Refused,
                &[(1, ReturnKind::Error)],
            ),
            IP,
        )
        .unwrap();
        assert_eq!(refused.code, Code::IpDnsblRefused);
        assert_eq!(refused.severity, Severity::Warning);
        let mut timeout = answer(Weight::Major, ListStatus::Unavailable, &[]);
        timeout.detail = Some("timeout".to_owned());
        let unavailable = list_finding(&timeout, IP).unwrap();
        assert_eq!(
            (unavailable.code, unavailable.severity),
            (Code::IpDnsblUnavailable, Severity::Info)
        );
        assert!(unavailable.message.contains("timeout"));
        assert!(list_finding(&answer(Weight::Major, ListStatus::NotListed, &[]), IP).is_none());
    }

    #[test]
    fn a_domain_listing_is_critical() {
        let finding = list_finding(
            &answer(
                Weight::Minor,
                ListStatus::Listed,
                &[(2, ReturnKind::Listed)],
            ),
            Subject::Domain("example.com"),
        )
        .unwrap();
        assert_eq!(
            (finding.code, finding.severity),
            (Code::DomainListed, Severity::Critical)
        );
        assert!(
            finding
                .message
                .starts_with("example.com is listed on Test List")
        );
    }
}
