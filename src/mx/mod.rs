//! MX (RFC 5321 §5.1, RFC 7505): where mail for the domain goes, and whether it can get there.
//!
//! One MX query, then the A and AAAA of every host at once, then the PTR of every address at
//! once: three round trips whatever the number of hosts.

pub mod address;

use std::net::IpAddr;

use futures::future::join_all;
use serde::Serialize;

use crate::dns::{Answer, Dns, Mx};
use crate::finding::{Checked, Code, Finding, Verdict};

pub use address::{RangeKind, SpecialRange, special_range};

/// The MX area of the report.
#[derive(Clone, Debug, Serialize)]
pub struct MxReport {
    pub verdict: Verdict,
    /// The name queried.
    pub name: String,
    /// The DNS outcome of the MX query: `records`, `nodata`, `nxdomain`, or the failure.
    pub answer: String,
    /// The CNAME chain from the domain to its MX records, if the domain is an alias.
    pub aliases: Vec<String>,
    /// The MX records as fetched, by preference.
    pub records: Vec<Mx>,
    /// The set is the null MX of RFC 7505 (`0 .`) or contains it.
    pub null_mx: bool,
    /// Without MX records, mail goes to the domain's own address (RFC 5321 §5.1): what it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<HostReport>,
    /// Each distinct exchange, in preference order.
    pub hosts: Vec<HostReport>,
    /// Hosts past the first [`MAX_HOSTS`] (by preference), listed in `records` but not
    /// resolved: a hostile MX set must not cost unbounded work.
    #[serde(skip_serializing_if = "is_zero")]
    pub hosts_not_resolved: usize,
}

/// What a host name resolved to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HostStatus {
    /// It has addresses (see `addresses` for their classification).
    Resolved,
    /// The name is an IP address: not looked up.
    IpLiteral,
    /// Neither A nor AAAA: mail cannot be delivered to it.
    Unresolvable,
    /// An address lookup failed and no address was found: unknown.
    LookupFailed,
}

/// One MX target (or the domain itself, for the implicit MX).
#[derive(Clone, Debug, Serialize)]
pub struct HostReport {
    pub exchange: String,
    /// The preferences it is listed with.
    pub preferences: Vec<u16>,
    pub status: HostStatus,
    /// The DNS outcome of the A and AAAA queries.
    pub a: String,
    pub aaaa: String,
    /// The CNAME chain from `exchange` to its addresses, if it is an alias (RFC 2181 §10.3).
    pub aliases: Vec<String>,
    pub addresses: Vec<AddressReport>,
}

/// One address of a host.
#[derive(Clone, Debug, Serialize)]
pub struct AddressReport {
    pub ip: IpAddr,
    /// The special-purpose range it is in, if any.
    pub range: Option<SpecialRange>,
    /// Whether the range is unreachable from the internet (documentation ranges are not).
    pub unreachable: bool,
    /// Its PTR names (for the reverse-DNS checks and the HTML report; no finding yet).
    pub ptr: Vec<String>,
    /// The DNS outcome of the PTR query.
    pub ptr_answer: String,
}

/// Checks the domain's MX set and the hosts in it.
pub async fn check(dns: &Dns, domain: &str) -> Checked<MxReport> {
    let answer = dns.mx(domain).await;
    let mut report = MxReport {
        verdict: Verdict::Unknown,
        name: domain.to_owned(),
        answer: answer.status(),
        aliases: answer.aliases().to_vec(),
        records: answer.records().to_vec(),
        null_mx: answer.records().iter().any(is_null),
        fallback: None,
        hosts: Vec::new(),
        hosts_not_resolved: 0,
    };
    match &answer {
        Answer::Failed(_) => {}
        Answer::NoData { .. } | Answer::NxDomain { .. } => {
            report.fallback = resolve_hosts(dns, vec![(domain.to_owned(), Vec::new())])
                .await
                .pop();
        }
        Answer::Records { records, .. } => {
            let mut hosts = distinct_hosts(records);
            report.hosts_not_resolved = hosts.len().saturating_sub(MAX_HOSTS);
            hosts.truncate(MAX_HOSTS);
            report.hosts = resolve_hosts(dns, hosts).await;
        }
    }
    let (findings, answered) = evaluate(&report);
    report.verdict = Verdict::from_findings(&findings, answered);
    Checked { report, findings }
}

/// At most this many MX hosts are resolved (receivers try only the first few anyway).
pub const MAX_HOSTS: usize = 32;
/// At most this many addresses of a host get their PTR name looked up.
const MAX_PTR_PER_HOST: usize = 8;

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// RFC 7505 §3: the null MX is preference 0 with exchange "." (the zero-length name).
fn is_null(mx: &Mx) -> bool {
    mx.preference == 0 && names_no_host(mx)
}

/// The exchange is ".", which names no host (RFC 7505 §3), whatever the preference.
fn names_no_host(mx: &Mx) -> bool {
    mx.exchange == "."
}

/// The distinct exchanges other than ".", in preference order, with their preferences.
fn distinct_hosts(records: &[Mx]) -> Vec<(String, Vec<u16>)> {
    let mut hosts: Vec<(String, Vec<u16>)> = Vec::new();
    for mx in records.iter().filter(|mx| !names_no_host(mx)) {
        match hosts.iter_mut().find(|(name, _)| *name == mx.exchange) {
            Some((_, preferences)) => preferences.push(mx.preference),
            None => hosts.push((mx.exchange.clone(), vec![mx.preference])),
        }
    }
    hosts
}

/// The address `name` spells, if it is an IP address written as a host name (`192.0.2.25`,
/// `[192.0.2.25]`, `[IPv6:2001:db8::1]`) rather than a name to look up.
pub fn ip_literal(name: &str) -> Option<IpAddr> {
    let inner = name
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .unwrap_or(name);
    let inner = inner
        .get(..5)
        .filter(|prefix| prefix.eq_ignore_ascii_case("ipv6:"))
        .map_or(inner, |_| &inner[5..]);
    inner.parse().ok()
}

/// Looks up every host's A and AAAA at once, then every address's PTR at once.
async fn resolve_hosts(dns: &Dns, hosts: Vec<(String, Vec<u16>)>) -> Vec<HostReport> {
    let answers = join_all(hosts.iter().map(|(name, _)| async move {
        if ip_literal(name).is_some() {
            None
        } else {
            Some(dns.addresses(name).await)
        }
    }))
    .await;
    let mut reports: Vec<HostReport> = hosts
        .into_iter()
        .zip(answers)
        .map(|((exchange, preferences), answers)| host_report(exchange, preferences, answers))
        .collect();
    // The PTR names are shown, not judged: a few per host are enough, and a hostile answer
    // with hundreds of addresses must not cost hundreds of queries.
    let ptrs = join_all(reports.iter().flat_map(|host| {
        host.addresses
            .iter()
            .take(MAX_PTR_PER_HOST)
            .map(|address| dns.ptr(address.ip))
    }))
    .await;
    let mut ptrs = ptrs.into_iter();
    for address in reports
        .iter_mut()
        .flat_map(|host| host.addresses.iter_mut().take(MAX_PTR_PER_HOST))
    {
        if let Some(answer) = ptrs.next() {
            address.ptr_answer = answer.status();
            address.ptr = answer.records().to_vec();
        }
    }
    reports
}

type AddressAnswers = (Answer<std::net::Ipv4Addr>, Answer<std::net::Ipv6Addr>);

/// Reads one host's address answers (`None`: an IP literal, not looked up).
fn host_report(
    exchange: String,
    preferences: Vec<u16>,
    answers: Option<AddressAnswers>,
) -> HostReport {
    let Some((a, aaaa)) = answers else {
        return HostReport {
            exchange,
            preferences,
            status: HostStatus::IpLiteral,
            a: "not asked".to_owned(),
            aaaa: "not asked".to_owned(),
            aliases: Vec::new(),
            addresses: Vec::new(),
        };
    };
    let ips: Vec<IpAddr> = a
        .records()
        .iter()
        .map(|ip| IpAddr::V4(*ip))
        .chain(aaaa.records().iter().map(|ip| IpAddr::V6(*ip)))
        .collect();
    let aliases = if a.aliases().is_empty() {
        aaaa.aliases()
    } else {
        a.aliases()
    }
    .to_vec();
    let status = if !ips.is_empty() {
        HostStatus::Resolved
    } else if a.failure().is_some() || aaaa.failure().is_some() {
        HostStatus::LookupFailed
    } else {
        HostStatus::Unresolvable
    };
    HostReport {
        exchange,
        preferences,
        status,
        a: a.status(),
        aaaa: aaaa.status(),
        aliases,
        addresses: ips
            .into_iter()
            .map(|ip| {
                let range = special_range(ip);
                AddressReport {
                    ip,
                    range,
                    unreachable: range.is_some_and(|r| r.is_unreachable()),
                    ptr: Vec::new(),
                    ptr_answer: "not asked".to_owned(),
                }
            })
            .collect(),
    }
}

/// Whether an [`Answer::status`] word is an answer (records or a negative answer), not a
/// failure.
fn is_answer(status: &str) -> bool {
    matches!(status, "records" | "nodata" | "nxdomain")
}

/// Whether an address lookup of the host failed (an A or AAAA answer that is a failure).
fn lookup_failed(host: &HostReport) -> bool {
    host.status != HostStatus::IpLiteral && !(is_answer(&host.a) && is_answer(&host.aaaa))
}

/// Raises the findings for a fetched report: pure, so that it is tested without DNS. Returns
/// the findings and whether every lookup answered.
fn evaluate(report: &MxReport) -> (Vec<Finding>, bool) {
    let domain = &report.name;
    let mut findings = Vec::new();
    let mut answered = true;
    if !is_answer(&report.answer) {
        findings.push(
            Finding::new(
                Code::MxLookupFailed,
                format!(
                    "The MX lookup for {domain} failed ({}): where its mail goes is unknown",
                    report.answer
                ),
            )
            .fix(format!(
                "Make the name servers for {domain} answer MX queries, then rerun the audit"
            ))
            .evidence("name", domain)
            .evidence("query", "MX")
            .evidence("answer", &report.answer),
        );
        return (findings, false);
    }

    if let Some(fallback) = &report.fallback {
        // The MX answer itself is certain; a failed A/AAAA lookup of the domain only leaves the
        // evidence incomplete, and the evidence says so.
        findings.push(missing(report, fallback));
        return (findings, answered);
    }

    if report.null_mx {
        findings.push(null_mx(report));
    }
    findings.extend(null_nonzero(report));

    for host in &report.hosts {
        host_findings(domain, host, &mut findings, &mut answered);
    }
    (findings, answered)
}

/// `mx.missing`, with what the implicit MX (RFC 5321 §5.1) falls back to.
fn missing(report: &MxReport, fallback: &HostReport) -> Finding {
    let domain = &report.name;
    let has = |v4: bool| fallback.addresses.iter().any(|a| a.ip.is_ipv4() == v4);
    let fallback_text = if fallback.addresses.is_empty() && lookup_failed(fallback) {
        "whether it has an A or AAAA record to fall back to is unknown (lookup failed)".to_owned()
    } else if fallback.addresses.is_empty() {
        "it has no A or AAAA either, so it receives no mail".to_owned()
    } else {
        let ips: Vec<String> = fallback
            .addresses
            .iter()
            .map(|a| a.ip.to_string())
            .collect();
        format!("mail goes to its own address ({})", ips.join(", "))
    };
    Finding::new(
        Code::MxMissing,
        format!("{domain} has no MX record: {fallback_text} (RFC 5321 §5.1)"),
    )
    .fix(format!(
        "Publish the mail servers: {domain}. MX 10 <mail server name>. ; if {domain} receives no \
         mail, publish the null MX {domain}. MX 0 . (RFC 7505)"
    ))
    .evidence("name", domain)
    .evidence("answer", &report.answer)
    .evidence("has_a", has(true))
    .evidence("has_aaaa", has(false))
    .evidence("a", &fallback.a)
    .evidence("aaaa", &fallback.aaaa)
    .evidence(
        "addresses",
        fallback.addresses.iter().map(|a| a.ip).collect::<Vec<_>>(),
    )
}

/// `mx.null` for a lone null MX, `mx.null-mixed` for one beside others (RFC 7505 §3).
fn null_mx(report: &MxReport) -> Finding {
    let domain = &report.name;
    let records: Vec<String> = report
        .records
        .iter()
        .map(|mx| format!("{domain}. MX {} {}", mx.preference, dotted(&mx.exchange)))
        .collect();
    let finding = if report.records.len() == 1 {
        Finding::new(
            Code::MxNull,
            format!("{domain} publishes the null MX (RFC 7505): it accepts no mail"),
        )
        .fix(format!(
            "Nothing to do if {domain} should receive no mail; otherwise replace it with \
             {domain}. MX 10 <mail server name>."
        ))
    } else {
        Finding::new(
            Code::MxNullMixed,
            format!(
                "{domain} publishes the null MX beside {} other MX record(s): RFC 7505 §3 says a \
                 null MX must be the only one",
                report.records.len() - 1
            ),
        )
        .fix(format!(
            "If {domain} receives mail, remove {domain}. MX 0 . ; if it does not, remove every \
             other MX record and keep only {domain}. MX 0 ."
        ))
    };
    finding
        .evidence("name", domain)
        .evidence("records", records)
}

/// `mx.null-nonzero` for "." records whose preference is not 0: RFC 7505 §3 defines the null
/// MX as preference 0 only, so senders that follow it need not take `10 .` for "no mail" and
/// may look "." up as a host instead, deferring the mail rather than bouncing it at once.
fn null_nonzero(report: &MxReport) -> Option<Finding> {
    let domain = &report.name;
    let nonzero: Vec<String> = report
        .records
        .iter()
        .filter(|mx| names_no_host(mx) && !is_null(mx))
        .map(|mx| format!("{domain}. MX {} .", mx.preference))
        .collect();
    let first = nonzero.first()?;
    let others = report.records.iter().any(|mx| !names_no_host(mx));
    let fix = if others {
        format!(
            "Remove {}: a null MX cannot stand beside mail servers (RFC 7505 §3); if {domain} \
             receives no mail, publish only {domain}. MX 0 . instead",
            nonzero.join(" and ")
        )
    } else {
        format!(
            "If {domain} receives no mail, publish the null MX in its place: {domain}. MX 0 . \
             (@ IN MX 0 . in its zone); otherwise publish its mail servers: {domain}. MX 10 \
             <mail server name>."
        )
    };
    Some(
        Finding::new(
            Code::MxNullNonzero,
            format!(
                "{first} is not a null MX: RFC 7505 §3 defines the null MX as preference 0 with \
                 exchange \".\", so senders need not read it as \"no mail\" and may try to \
                 deliver to \".\", deferring instead of bouncing at once"
            ),
        )
        .evidence("name", domain)
        .evidence("records", &nonzero)
        .fix(fix),
    )
}

/// `mx.private-address` for the host's addresses that no one on the internet can reach.
fn unreachable_addresses(domain: &str, host: &HostReport) -> Option<Finding> {
    let unreachable: Vec<&AddressReport> =
        host.addresses.iter().filter(|a| a.unreachable).collect();
    if unreachable.is_empty() {
        return None;
    }
    let exchange = &host.exchange;
    let described: Vec<String> = unreachable
        .iter()
        .map(|a| {
            format!(
                "{} in {}",
                a.ip,
                a.range.map(|r| r.describe()).unwrap_or_default()
            )
        })
        .collect();
    let ips: Vec<String> = unreachable.iter().map(|a| a.ip.to_string()).collect();
    Some(
        Finding::new(
            Code::MxPrivateAddress,
            format!(
                "MX host {exchange} of {domain} resolves to an address no one on the internet can \
                 reach: {}",
                described.join(", ")
            ),
        )
        .evidence(
            "addresses",
            unreachable.iter().map(|a| a.ip).collect::<Vec<_>>(),
        )
        .evidence(
            "ranges",
            unreachable
                .iter()
                .filter_map(|a| a.range)
                .collect::<Vec<_>>(),
        )
        .fix(format!(
            "Replace {} in {exchange}'s A/AAAA records with the server's public address \
             (internal addresses belong in an internal view of the zone only)",
            ips.join(", ")
        )),
    )
}

fn dotted(name: &str) -> String {
    if name.ends_with('.') {
        name.to_owned()
    } else {
        format!("{name}.")
    }
}

fn host_findings(
    domain: &str,
    host: &HostReport,
    findings: &mut Vec<Finding>,
    answered: &mut bool,
) {
    let exchange = &host.exchange;
    let preference = host.preferences.first().copied().unwrap_or(10);
    let record = format!("{domain}. MX {preference} {}", dotted(exchange));
    let with = |finding: Finding| {
        finding
            .evidence("record", &record)
            .evidence("exchange", exchange)
            .evidence("a", &host.a)
            .evidence("aaaa", &host.aaaa)
    };

    if host.status == HostStatus::IpLiteral {
        let ip = ip_literal(exchange).map_or_else(|| exchange.clone(), |ip| ip.to_string());
        let rr = if ip.contains(':') { "AAAA" } else { "A" };
        findings.push(
            with(Finding::new(
                Code::MxIpLiteral,
                format!(
                    "MX target {exchange} of {domain} is an IP address, not a host name: senders \
                     look it up as a name and find nothing (RFC 5321 §5.1, RFC 7505 §3)"
                ),
            ))
            .fix(format!(
                "Give the server a name and point the MX at it: mail.{domain}. {rr} {ip} and \
                 {domain}. MX {preference} mail.{domain}."
            )),
        );
        return;
    }

    if lookup_failed(host) {
        *answered = false;
        let known = if host.addresses.is_empty() {
            "whether it can receive mail is unknown".to_owned()
        } else {
            "its address list is incomplete".to_owned()
        };
        findings.push(
            with(Finding::new(
                Code::MxLookupFailed,
                format!(
                    "The address lookup of MX host {exchange} failed (A: {}, AAAA: {}): {known}",
                    host.a, host.aaaa
                ),
            ))
            .fix(format!(
                "Make the name servers for {exchange} answer A and AAAA queries, then rerun the audit"
            )),
        );
    }

    if host.status == HostStatus::Unresolvable {
        findings.push(
            with(Finding::new(
                Code::MxHostUnresolvable,
                format!("MX host {exchange} of {domain} has no A or AAAA record: mail to it cannot be delivered"),
            ))
            .fix(format!(
                "Publish the server's address ({exchange}. A <IPv4 address>, and/or AAAA) or point \
                 the MX at a host that has one: {domain}. MX {preference} <mail server name>."
            )),
        );
    }

    if !host.aliases.is_empty() {
        let canonical = host
            .aliases
            .last()
            .map_or(exchange.as_str(), String::as_str);
        findings.push(
            with(Finding::new(
                Code::MxCname,
                format!(
                    "MX target {exchange} of {domain} is an alias (CNAME to {canonical}): RFC 2181 \
                     §10.3 requires the MX to name the host itself"
                ),
            ))
            .evidence("aliases", &host.aliases)
            .fix(format!(
                "Point the MX at the canonical name: {domain}. MX {preference} {}",
                dotted(canonical)
            )),
        );
    }

    if let Some(finding) = unreachable_addresses(domain, host) {
        findings.push(with(finding));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    use crate::dns::Failure;

    fn records<T>(records: Vec<T>) -> Answer<T> {
        Answer::Records {
            records,
            aliases: Vec::new(),
        }
    }

    fn mx(preference: u16, exchange: &str) -> Mx {
        Mx {
            preference,
            exchange: exchange.to_owned(),
        }
    }

    fn report(
        answer: &Answer<Mx>,
        hosts: Vec<HostReport>,
        fallback: Option<HostReport>,
    ) -> MxReport {
        MxReport {
            verdict: Verdict::Unknown,
            name: "example.com".to_owned(),
            answer: answer.status(),
            aliases: Vec::new(),
            records: answer.records().to_vec(),
            null_mx: answer.records().iter().any(is_null),
            fallback,
            hosts,
            hosts_not_resolved: 0,
        }
    }

    fn host(name: &str, a: Answer<Ipv4Addr>, aaaa: Answer<Ipv6Addr>) -> HostReport {
        let literal = ip_literal(name).is_some();
        host_report(name.to_owned(), vec![10], (!literal).then_some((a, aaaa)))
    }

    fn codes(report: &MxReport) -> (Vec<&'static str>, bool) {
        let (findings, answered) = evaluate(report);
        (findings.iter().map(|f| f.code.as_str()).collect(), answered)
    }

    #[test]
    fn public_hosts_give_no_finding() {
        let answer = records(vec![mx(10, "mx1.example.com")]);
        let hosts = vec![host(
            "mx1.example.com",
            records(vec![Ipv4Addr::new(192, 0, 2, 25)]),
            Answer::no_data(),
        )];
        assert_eq!(codes(&report(&answer, hosts, None)), (vec![], true));
    }

    #[test]
    fn a_failed_mx_lookup_is_unknown_never_missing() {
        let answer: Answer<Mx> = Answer::Failed(Failure::ServFail);
        assert_eq!(
            codes(&report(&answer, vec![], None)),
            (vec!["mx.lookup-failed"], false)
        );
    }

    #[test]
    fn no_mx_says_whether_the_domain_has_an_address() {
        let fallback = host(
            "example.com",
            records(vec![Ipv4Addr::new(192, 0, 2, 80)]),
            Answer::no_data(),
        );
        let rep = report(&Answer::no_data(), vec![], Some(fallback));
        let (findings, answered) = evaluate(&rep);
        assert!(answered);
        assert_eq!(findings[0].code, Code::MxMissing);
        assert_eq!(findings[0].evidence["has_a"], true);
        assert_eq!(findings[0].evidence["has_aaaa"], false);
    }

    #[test]
    fn null_mx_alone_is_info_and_mixed_is_an_error() {
        let alone = records(vec![mx(0, ".")]);
        assert_eq!(
            codes(&report(&alone, vec![], None)),
            (vec!["mx.null"], true)
        );
        let mixed = records(vec![mx(0, "."), mx(10, "mx.example.com")]);
        let hosts = vec![host(
            "mx.example.com",
            records(vec![Ipv4Addr::new(192, 0, 2, 25)]),
            Answer::no_data(),
        )];
        assert_eq!(
            codes(&report(&mixed, hosts, None)),
            (vec!["mx.null-mixed"], true)
        );
    }

    /// RFC 7505 §3: only preference 0 makes "." the null MX.
    #[test]
    fn a_dot_at_another_preference_is_not_a_null_mx() {
        let nonzero = records(vec![mx(10, ".")]);
        let rep = report(&nonzero, vec![], None);
        assert!(!rep.null_mx);
        assert_eq!(codes(&rep), (vec!["mx.null-nonzero"], true));
        let (findings, _) = evaluate(&rep);
        assert_eq!(findings[0].evidence["records"][0], "example.com. MX 10 .");
        assert!(
            findings[0]
                .fix
                .as_deref()
                .unwrap()
                .contains("example.com. MX 0 .")
        );
        assert!(distinct_hosts(&[mx(10, "."), mx(20, "mx.example.com")]).len() == 1);

        let beside = records(vec![mx(5, "."), mx(10, "mx.example.com")]);
        let hosts = vec![host(
            "mx.example.com",
            records(vec![Ipv4Addr::new(192, 0, 2, 25)]),
            Answer::no_data(),
        )];
        let (findings, _) = evaluate(&report(&beside, hosts, None));
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].code, Code::MxNullNonzero);
        assert!(
            findings[0]
                .fix
                .as_deref()
                .unwrap()
                .starts_with("Remove example.com. MX 5 .")
        );
    }

    #[test]
    fn an_ip_literal_target_is_flagged_and_not_looked_up() {
        let answer = records(vec![mx(10, "192.0.2.25")]);
        let hosts = vec![host("192.0.2.25", Answer::nx_domain(), Answer::nx_domain())];
        assert_eq!(hosts[0].status, HostStatus::IpLiteral);
        let (findings, _) = evaluate(&report(&answer, hosts, None));
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].code, Code::MxIpLiteral);
        assert!(
            findings[0]
                .fix
                .as_deref()
                .unwrap()
                .contains("mail.example.com. A 192.0.2.25")
        );
    }

    #[test]
    fn ip_literals_in_their_forms() {
        assert_eq!(
            ip_literal("192.0.2.25"),
            Some("192.0.2.25".parse().unwrap())
        );
        assert_eq!(
            ip_literal("[192.0.2.25]"),
            Some("192.0.2.25".parse().unwrap())
        );
        assert_eq!(
            ip_literal("[IPv6:2001:db8::1]"),
            Some("2001:db8::1".parse().unwrap())
        );
        assert_eq!(ip_literal("mail.example.com"), None);
        assert_eq!(ip_literal("999.0.2.25"), None);
        assert_eq!(ip_literal("[é"), None);
    }

    #[test]
    fn a_host_without_addresses_is_unresolvable_but_a_failed_one_is_unknown() {
        let answer = records(vec![mx(10, "a.example.com")]);
        let gone = vec![host(
            "a.example.com",
            Answer::nx_domain(),
            Answer::nx_domain(),
        )];
        assert_eq!(
            codes(&report(&answer, gone, None)),
            (vec!["mx.host-unresolvable"], true)
        );
        let failed = vec![host(
            "a.example.com",
            Answer::Failed(Failure::Timeout),
            Answer::no_data(),
        )];
        assert_eq!(failed[0].status, HostStatus::LookupFailed);
        assert_eq!(
            codes(&report(&answer, failed, None)),
            (vec!["mx.lookup-failed"], false)
        );
    }

    #[test]
    fn an_alias_target_is_flagged_with_its_canonical_name() {
        let answer = records(vec![mx(10, "mail.example.com")]);
        let a = Answer::Records {
            records: vec![Ipv4Addr::new(192, 0, 2, 27)],
            aliases: vec!["mail.example.com".to_owned(), "real.example.com".to_owned()],
        };
        let hosts = vec![host("mail.example.com", a, Answer::no_data())];
        let (findings, _) = evaluate(&report(&answer, hosts, None));
        assert_eq!(findings[0].code, Code::MxCname);
        assert!(
            findings[0]
                .fix
                .as_deref()
                .unwrap()
                .ends_with("MX 10 real.example.com.")
        );
    }

    #[test]
    fn private_addresses_are_flagged_with_their_range() {
        let answer = records(vec![mx(10, "mx.example.com")]);
        let hosts = vec![host(
            "mx.example.com",
            records(vec![
                Ipv4Addr::new(10, 0, 0, 5),
                Ipv4Addr::new(192, 0, 2, 25),
            ]),
            records(vec!["fd00::1".parse().unwrap()]),
        )];
        let (findings, _) = evaluate(&report(&answer, hosts, None));
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].code, Code::MxPrivateAddress);
        assert!(
            findings[0].message.contains("10.0.0.0/8"),
            "{}",
            findings[0].message
        );
        assert!(
            findings[0].message.contains("fc00::/7"),
            "{}",
            findings[0].message
        );
        assert!(
            !findings[0].message.contains("192.0.2.25"),
            "{}",
            findings[0].message
        );
    }

    #[test]
    fn repeated_exchanges_are_resolved_once() {
        let hosts = distinct_hosts(&[mx(10, "a.example.com"), mx(20, "a.example.com"), mx(0, ".")]);
        assert_eq!(hosts, vec![("a.example.com".to_owned(), vec![10, 20])]);
    }
}
