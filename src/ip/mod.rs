//! The reputation of one sending IP: its reverse DNS (PTR), whether that name resolves back to
//! it (forward-confirmed reverse DNS), whether the name looks generic, and its answer on every
//! DNS blocklist that passed the health check.
//!
//! Receivers check all of these at connection time: RFC 1912 §2.1 asks every address to have a
//! PTR record, and large mailbox providers refuse or throttle mail from addresses without
//! forward-confirmed reverse DNS (the PTR name's A/AAAA records must contain the address).

pub mod ptr;

use std::net::IpAddr;

use futures::future::join_all;
use serde::Serialize;

use crate::dns::{Answer, Dns, Failure};
use crate::dnsbl::{self, Catalog, ListAnswer, ListHealth, Subject, Takes};
use crate::finding::{Checked, Code, Finding, Verdict};
use crate::spf::Evaluation;

/// PTR names looked at per address: a hostile zone could return hundreds.
const MAX_PTR_NAMES: usize = 8;

/// One PTR name and what its forward lookup returned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PtrName {
    pub name: String,
    /// `A` for an IPv4 address, `AAAA` for IPv6.
    pub forward_type: &'static str,
    /// `records`, `nxdomain`, `nodata` or the failure.
    pub forward_answer: String,
    pub addresses: Vec<IpAddr>,
    /// The forward answer contains the address.
    pub confirms: bool,
    /// Why the name looks generic or dynamic, if it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generic: Option<String>,
}

/// The reverse DNS of an address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReverseDns {
    /// The PTR query name (`10.2.0.192.in-addr.arpa`).
    pub query: String,
    /// `records`, `nxdomain`, `nodata` or the failure.
    pub answer: String,
    pub names: Vec<PtrName>,
    /// Forward-confirmed: `true`, `false`, or `null` when unknown (no PTR, or a lookup failed).
    pub fcrdns: Option<bool>,
}

/// The reputation of one sending IP.
#[derive(Clone, Debug, Serialize)]
pub struct IpReport {
    /// The address checked (an IPv4-mapped IPv6 address as IPv4).
    pub ip: IpAddr,
    pub family: Takes,
    pub verdict: Verdict,
    pub reverse_dns: ReverseDns,
    /// Every enabled IP list: its answer, or why it was skipped.
    pub lists: Vec<ListAnswer>,
    /// The names of the lists that list the address.
    pub listed_on: Vec<String>,
    /// The domain's SPF policy evaluated for this address (RFC 7208 `check_host()`), when a domain
    /// was given (`audit --ip`, `ip --domain`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spf: Option<Evaluation>,
    /// The HELO name's SPF policy evaluated for this address (RFC 7208 §2.3), when a HELO name
    /// was given (`--helo`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spf_helo: Option<Evaluation>,
}

/// Checks one sending IP: PTR, forward-confirmed reverse DNS, generic PTR, and every enabled IP list that takes its
/// family and passed the health check (lists absent from `health` were not checked and are
/// asked; lists that failed it are skipped, with the reason). IPv4-mapped IPv6 addresses
/// (`::ffff:192.0.2.1`) are checked as IPv4. Reverse DNS and all lists are asked at once.
pub async fn check(
    dns: &Dns,
    ip: IpAddr,
    catalog: &Catalog,
    health: &[ListHealth],
) -> Checked<IpReport> {
    let ip = ip.to_canonical();
    let (reverse_dns, lists) = tokio::join!(
        reverse_dns(dns, ip),
        dnsbl::ask_lists(dns, Subject::Ip(ip), catalog, health)
    );
    let mut findings = ptr_findings(ip, &reverse_dns);
    findings.extend(
        lists
            .iter()
            .filter_map(|answer| dnsbl::list_finding(answer, Subject::Ip(ip))),
    );
    let from_findings = Verdict::from_findings(&findings, true);
    // A PTR or forward lookup that failed leaves the reverse DNS unknown.
    let ptr_unknown = match reverse_dns.answer_kind() {
        PtrOutcome::Failed => true,
        PtrOutcome::Names => reverse_dns.fcrdns.is_none(),
        PtrOutcome::Absent => false,
    };
    let verdict = if from_findings == Verdict::Fail {
        Verdict::Fail
    } else if ptr_unknown {
        Verdict::Unknown
    } else {
        dnsbl::lists_verdict(&findings, &lists).unwrap_or(from_findings)
    };
    let listed_on = dnsbl::listed_on(&lists);
    Checked {
        report: IpReport {
            ip,
            family: match ip {
                IpAddr::V4(_) => Takes::Ipv4,
                IpAddr::V6(_) => Takes::Ipv6,
            },
            verdict,
            reverse_dns,
            lists,
            listed_on,
            spf: None,
            spf_helo: None,
        },
        findings,
    }
}

/// What the PTR lookup got, for the verdict.
enum PtrOutcome {
    Names,
    Absent,
    Failed,
}

impl ReverseDns {
    fn answer_kind(&self) -> PtrOutcome {
        match self.answer.as_str() {
            "records" => PtrOutcome::Names,
            "nxdomain" | "nodata" => PtrOutcome::Absent,
            _ => PtrOutcome::Failed,
        }
    }
}

/// The PTR query name of an address (RFC 1035 §3.5, RFC 3596 §2.5).
fn ptr_query(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(_) => format!("{}.in-addr.arpa", dnsbl::query::ip_item(ip)),
        IpAddr::V6(_) => format!("{}.ip6.arpa", dnsbl::query::ip_item(ip)),
    }
}

/// PTR, then the A or AAAA records of every PTR name at once.
async fn reverse_dns(dns: &Dns, ip: IpAddr) -> ReverseDns {
    let answer = dns.ptr(ip).await;
    let names: Vec<String> = answer
        .records()
        .iter()
        .take(MAX_PTR_NAMES)
        .cloned()
        .collect();
    let forward = join_all(names.iter().map(|name| forward(dns, name, ip))).await;
    let fcrdns = if forward.iter().any(|n| n.confirms) {
        Some(true)
    } else if forward.is_empty() || forward.iter().any(|n| forward_failed(&n.forward_answer)) {
        // No name to confirm, or a lookup that failed might have confirmed it: unknown.
        None
    } else {
        Some(false)
    };
    ReverseDns {
        query: ptr_query(ip),
        answer: answer.status(),
        names: forward,
        fcrdns,
    }
}

/// Whether a forward lookup status is a DNS failure (unknown), not an answer. A name that
/// cannot be asked at all (empty, over-long labels) is an answer: it can never resolve back.
fn forward_failed(status: &str) -> bool {
    !matches!(status, "records" | "nxdomain" | "nodata" | "invalid-name")
}

async fn forward(dns: &Dns, name: &str, ip: IpAddr) -> PtrName {
    let (forward_type, status, addresses): (&'static str, String, Vec<IpAddr>) = match ip {
        IpAddr::V4(_) => {
            let answer = dns.a(name).await;
            let addresses = answer.records().iter().copied().map(IpAddr::V4).collect();
            ("A", forward_status(&answer), addresses)
        }
        IpAddr::V6(_) => {
            let answer = dns.aaaa(name).await;
            let addresses = answer.records().iter().copied().map(IpAddr::V6).collect();
            ("AAAA", forward_status(&answer), addresses)
        }
    };
    PtrName {
        name: name.to_owned(),
        forward_type,
        confirms: addresses.contains(&ip),
        forward_answer: status,
        addresses,
        generic: ptr::generic_reason(name, ip),
    }
}

fn forward_status<T>(answer: &Answer<T>) -> String {
    match answer {
        Answer::Failed(Failure::InvalidName(_)) => "invalid-name".to_owned(),
        other => other.status(),
    }
}

fn ptr_findings(ip: IpAddr, reverse: &ReverseDns) -> Vec<Finding> {
    let record = match ip {
        IpAddr::V4(_) => "A",
        IpAddr::V6(_) => "AAAA",
    };
    let mut findings = Vec::new();
    match reverse.answer_kind() {
        // A failed PTR lookup is unknown, never "no PTR".
        PtrOutcome::Failed => return findings,
        PtrOutcome::Absent => {
            findings.push(
                Finding::new(
                    Code::IpNoPtr,
                    format!(
                        "{ip} has no PTR record (reverse DNS): many receivers refuse mail from it"
                    ),
                )
                .fix(format!(
                    "Ask the owner of {ip} (your hosting or network provider) to publish a PTR \
                     record at {} naming the mail server (e.g. mail.example.com), and publish \
                     an {record} record for that name pointing to {ip}",
                    reverse.query
                ))
                .evidence("ip", ip)
                .evidence("query", &reverse.query)
                .evidence("answer", &reverse.answer),
            );
            return findings;
        }
        PtrOutcome::Names => {}
    }
    if reverse.fcrdns == Some(false) {
        let first = &reverse.names[0];
        let resolved = if first.addresses.is_empty() {
            first.forward_answer.clone()
        } else {
            first
                .addresses
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        findings.push(
            Finding::new(
                Code::IpFcrdnsMismatch,
                format!(
                    "{ip}'s PTR name {} does not resolve back to {ip} ({record}: {resolved})",
                    first.name
                ),
            )
            .fix(format!(
                "Publish an {record} record for {} pointing to {ip}, or change the PTR record of \
                 {ip} to a name whose {record} record is {ip}",
                first.name
            ))
            .evidence("ip", ip)
            .evidence("query", &reverse.query)
            .evidence("names", &reverse.names),
        );
    }
    if let Some(generic) = reverse.names.iter().find(|n| n.generic.is_some()) {
        let reason = generic.generic.as_deref().unwrap_or_default();
        findings.push(
            Finding::new(
                Code::IpGenericPtr,
                format!(
                    "{ip}'s PTR name {} looks generic or dynamic ({reason}): receivers treat it as an end-user connection",
                    generic.name
                ),
            )
            .fix(format!(
                "Set the PTR record of {ip} to a name that identifies the mail server (e.g. \
                 mail.<your domain>), with an {record} record pointing back to {ip}"
            ))
            .evidence("ip", ip)
            .evidence("query", &reverse.query)
            .evidence("name", &generic.name)
            .evidence("reason", reason),
        );
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ptr_query_names_follow_rfc_1035_and_3596() {
        assert_eq!(
            ptr_query("192.0.2.10".parse().unwrap()),
            "10.2.0.192.in-addr.arpa"
        );
        let v6 = ptr_query("2001:db8::25".parse().unwrap());
        assert!(
            v6.starts_with("5.2.0.0.") && v6.ends_with(".8.b.d.0.1.0.0.2.ip6.arpa"),
            "{v6}"
        );
    }

    fn reverse(answer: &str, names: Vec<PtrName>, fcrdns: Option<bool>) -> ReverseDns {
        ReverseDns {
            query: "10.2.0.192.in-addr.arpa".to_owned(),
            answer: answer.to_owned(),
            names,
            fcrdns,
        }
    }

    fn name(name: &str, confirms: bool, generic: Option<&str>) -> PtrName {
        PtrName {
            name: name.to_owned(),
            forward_type: "A",
            forward_answer: "records".to_owned(),
            addresses: vec!["192.0.2.99".parse().unwrap()],
            confirms,
            generic: generic.map(str::to_owned),
        }
    }

    #[test]
    fn a_failed_ptr_lookup_is_unknown_not_missing() {
        let ip: IpAddr = "192.0.2.10".parse().unwrap();
        assert!(ptr_findings(ip, &reverse("timeout", vec![], None)).is_empty());
        let absent = ptr_findings(ip, &reverse("nxdomain", vec![], None));
        assert_eq!(absent[0].code, Code::IpNoPtr);
        assert!(
            absent[0]
                .fix
                .as_deref()
                .unwrap()
                .contains("10.2.0.192.in-addr.arpa")
        );
    }

    #[test]
    fn mismatch_and_generic_are_raised_from_the_names() {
        let ip: IpAddr = "192.0.2.10".parse().unwrap();
        let findings = ptr_findings(
            ip,
            &reverse(
                "records",
                vec![name("x.example", false, Some("the word \"pool\""))],
                Some(false),
            ),
        );
        let codes: Vec<Code> = findings.iter().map(|f| f.code).collect();
        assert_eq!(codes, [Code::IpFcrdnsMismatch, Code::IpGenericPtr]);
        assert!(
            findings[0].message.contains("192.0.2.99"),
            "{}",
            findings[0].message
        );
        let good = ptr_findings(
            ip,
            &reverse(
                "records",
                vec![name("mail.example", true, None)],
                Some(true),
            ),
        );
        assert!(good.is_empty());
    }
}
