//! The RFC 5782 §5 health check: before its answers are trusted, each list is asked about its
//! own test entries.
//!
//! §5: an IPv4 list MUST list 127.0.0.2 and MUST NOT list 127.0.0.1; an IPv6 list the same for
//! `::FFFF:7F00:2` and `::FFFF:7F00:1`; a domain list MUST list TEST and MUST NOT list INVALID.
//! A list that lists 127.0.0.1 lists everything (a lapsed zone that now wildcards, or a
//! resolver that rewrites NXDOMAIN): every address would look listed. A list that does not
//! list 127.0.0.2 is gone or misconfigured: every address would look clean. A list that
//! answers with an error code refuses this resolver (Spamhaus 127.255.255.254 for public
//! resolvers). None of these can be asked about a real address; an audit skips them and says
//! why.

use std::net::IpAddr;

use futures::future::join_all;
use serde::Serialize;

use super::answer::{ListStatus, Reading, ReturnCode, read_answer};
use super::catalog::{Catalog, List, Takes};
use super::query::{ip_item, query_name};
use crate::dns::Dns;
use crate::finding::Verdict;

/// What the health check concluded about a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HealthStatus {
    /// Lists its listed test entry and not the other one.
    Works,
    /// Answers its test entries with an error code.
    RefusesThisResolver,
    /// Lists the entry that must not be listed.
    ListsEverything,
    /// Timed out or failed (SERVFAIL ...).
    Unavailable,
    /// Does not list the entry that must be listed.
    NotAnsweringTest,
}

impl HealthStatus {
    /// The word used in JSON and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Works => "works",
            HealthStatus::RefusesThisResolver => "refuses-this-resolver",
            HealthStatus::ListsEverything => "lists-everything",
            HealthStatus::Unavailable => "unavailable",
            HealthStatus::NotAnsweringTest => "not-answering-test",
        }
    }
}

/// One test query and its answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Probe {
    /// The test entry (an address or a domain).
    pub entry: String,
    /// The name asked.
    pub query: String,
    /// Whether RFC 5782 §5 requires the entry to be listed.
    pub must_be_listed: bool,
    pub status: ListStatus,
    pub codes: Vec<ReturnCode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

/// The health of one list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ListHealth {
    pub list: String,
    pub zone: String,
    /// `ok` when the list works, `fail` when it lists everything or nothing, `unknown` when it
    /// refused or did not answer.
    pub verdict: Verdict,
    pub health: HealthStatus,
    /// One line: why, with the answers that show it.
    pub reason: String,
    pub listed_probe: Probe,
    pub not_listed_probe: Probe,
}

impl ListHealth {
    /// Whether the list's answers can be trusted.
    pub fn works(&self) -> bool {
        self.health == HealthStatus::Works
    }
}

/// The health entry of `list` in `health`, if it was checked.
pub fn health_of<'a>(health: &'a [ListHealth], list: &List) -> Option<&'a ListHealth> {
    health
        .iter()
        .find(|h| h.list == list.name && h.zone == list.zone)
}

/// Asks every enabled list about its two test entries, all lists and entries at once.
pub async fn health_check(dns: &Dns, catalog: &Catalog) -> Vec<ListHealth> {
    join_all(catalog.enabled().map(|list| check_list(dns, list))).await
}

async fn check_list(dns: &Dns, list: &List) -> ListHealth {
    let (listed, not_listed) = tokio::join!(
        probe(dns, list, &list.test_listed, true),
        probe(dns, list, &list.test_not_listed, false)
    );
    let (health, reason) = judge(&listed, &not_listed);
    let verdict = match health {
        HealthStatus::Works => Verdict::Ok,
        HealthStatus::RefusesThisResolver | HealthStatus::Unavailable => Verdict::Unknown,
        HealthStatus::ListsEverything | HealthStatus::NotAnsweringTest => Verdict::Fail,
    };
    ListHealth {
        list: list.name.clone(),
        zone: list.zone.clone(),
        verdict,
        health,
        reason,
        listed_probe: listed,
        not_listed_probe: not_listed,
    }
}

/// The query item of a test entry: addresses are reversed exactly as given (the IPv6 entries
/// are IPv4-mapped and must stay IPv6), domains are asked as they are.
fn test_item(list: &List, entry: &str) -> String {
    match (list.probe_family(), entry.parse::<IpAddr>()) {
        (Takes::Ipv4 | Takes::Ipv6, Ok(ip)) => ip_item(ip),
        _ => entry.to_owned(),
    }
}

async fn probe(dns: &Dns, list: &List, entry: &str, must_be_listed: bool) -> Probe {
    let query = query_name(&test_item(list, entry), list);
    let answer = dns.a(&query).await;
    let Reading {
        status,
        codes,
        failure,
    } = read_answer(list, &answer);
    Probe {
        entry: entry.to_owned(),
        query,
        must_be_listed,
        status,
        codes,
        failure,
    }
}

fn codes_text(probe: &Probe) -> String {
    if probe.codes.is_empty() {
        return match probe.status {
            ListStatus::Unavailable => probe
                .failure
                .clone()
                .unwrap_or_else(|| "no answer".to_owned()),
            _ => "no record".to_owned(),
        };
    }
    probe
        .codes
        .iter()
        .map(|c| format!("{} ({})", c.address, c.meaning))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The verdict from the two probes, and why. Pure: unit-tested on readings.
pub fn judge(listed: &Probe, not_listed: &Probe) -> (HealthStatus, String) {
    for probe in [listed, not_listed] {
        if probe.status == ListStatus::Unavailable {
            return (
                HealthStatus::Unavailable,
                format!("no answer for {}: {}", probe.query, codes_text(probe)),
            );
        }
    }
    for probe in [listed, not_listed] {
        if probe.status == ListStatus::Refused {
            return (
                HealthStatus::RefusesThisResolver,
                format!(
                    "the list answers its test entry {} with an error code: {}",
                    probe.entry,
                    codes_text(probe)
                ),
            );
        }
    }
    if matches!(
        not_listed.status,
        ListStatus::Listed | ListStatus::InvalidAnswer
    ) {
        return (
            HealthStatus::ListsEverything,
            format!(
                "{} must not be listed (RFC 5782 §5) but the answer is {}: the list, or the \
                 resolver, answers every query",
                not_listed.entry,
                codes_text(not_listed)
            ),
        );
    }
    if listed.status != ListStatus::Listed {
        return (
            HealthStatus::NotAnsweringTest,
            format!(
                "{} must be listed (RFC 5782 §5) but the answer is {}: the list is gone or \
                 misconfigured",
                listed.entry,
                codes_text(listed)
            ),
        );
    }
    (
        HealthStatus::Works,
        format!(
            "lists {} ({}) and not {}",
            listed.entry,
            codes_text(listed),
            not_listed.entry
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dnsbl::answer::ReturnKind;
    use std::net::Ipv4Addr;

    fn probe(entry: &str, must: bool, status: ListStatus, codes: &[(u8, u8, ReturnKind)]) -> Probe {
        Probe {
            entry: entry.to_owned(),
            query: format!("{entry}.rbl.example"),
            must_be_listed: must,
            status,
            codes: codes
                .iter()
                .map(|&(c, d, kind)| ReturnCode {
                    address: Ipv4Addr::new(127, 255, c, d),
                    kind,
                    meaning: "m".to_owned(),
                })
                .collect(),
            failure: (status == ListStatus::Unavailable).then(|| "timeout".to_owned()),
        }
    }

    #[test]
    fn each_failure_mode_is_told_apart() {
        let listed = probe(
            "127.0.0.2",
            true,
            ListStatus::Listed,
            &[(0, 2, ReturnKind::Listed)],
        );
        let absent = probe("127.0.0.1", false, ListStatus::NotListed, &[]);
        assert_eq!(judge(&listed, &absent).0, HealthStatus::Works);

        let everything = probe(
            "127.0.0.1",
            false,
            ListStatus::Listed,
            &[(0, 2, ReturnKind::Listed)],
        );
        assert_eq!(judge(&listed, &everything).0, HealthStatus::ListsEverything);

        let hijacked = probe(
            "127.0.0.1",
            false,
            ListStatus::InvalidAnswer,
            &[(0, 2, ReturnKind::Invalid)],
        );
        assert_eq!(judge(&listed, &hijacked).0, HealthStatus::ListsEverything);

        let refused = probe(
            "127.0.0.2",
            true,
            ListStatus::Refused,
            &[(255, 254, ReturnKind::Error)],
        );
        let (status, reason) = judge(&refused, &absent);
        assert_eq!(status, HealthStatus::RefusesThisResolver);
        assert!(reason.contains("127.255.255.254"), "{reason}");

        let gone = probe("127.0.0.2", true, ListStatus::NotListed, &[]);
        assert_eq!(judge(&gone, &absent).0, HealthStatus::NotAnsweringTest);

        let timeout = probe("127.0.0.2", true, ListStatus::Unavailable, &[]);
        let (status, reason) = judge(&timeout, &absent);
        assert_eq!(status, HealthStatus::Unavailable);
        assert!(reason.contains("timeout"), "{reason}");
    }
}
