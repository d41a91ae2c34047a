//! Sending-IP reputation and blocklists against a real DNS server over real sockets (in
//! process, on 127.0.0.1): fake blocklist zones (`fixtures/zones/rbl-*.test.zone`,
//! `dbl.test.zone`), PTR zones for 192.0.2.0/24 and `2001:db8::/32`, and the test catalog
//! `fixtures/dnsbl/test.toml`. No test asks a real list.

#[path = "../support/mod.rs"]
#[allow(unused_imports)]
mod support;

use support::dns_server;

mod sender;
mod verdicts;

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use mailaudit::dns::{Dns, DnsConfig};
use mailaudit::dnsbl::{
    self, Catalog, HealthStatus, ListAnswer, ListHealth, ListStatus, ReturnKind, health_check,
};
use mailaudit::finding::{Code, Finding, Severity, Verdict};
use mailaudit::ip::{self, IpReport};

fn client() -> Dns {
    Dns::new(&DnsConfig {
        servers: vec![dns_server::server().addr],
        // Short, so that the list under dead.test times out quickly.
        timeout: Duration::from_millis(400),
        concurrency: 32,
    })
    .expect("client")
}

fn test_catalog() -> Catalog {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/dnsbl/test.toml");
    Catalog::from_file(&path).expect("fixtures/dnsbl/test.toml")
}

/// The test catalog without the lists that fail their health check on purpose.
fn working_catalog() -> Catalog {
    let mut catalog = test_catalog();
    catalog
        .lists
        .retain(|l| ["RBL Major", "RBL Minor", "RBL Info", "DBL"].contains(&l.name.as_str()));
    catalog
}

/// Checks `ip` the way an audit does: health check first, then the address.
async fn check_ip(catalog: &Catalog, ip: &str) -> (IpReport, Vec<Finding>) {
    let dns = client();
    let health = health_check(&dns, catalog).await;
    let checked = ip::check(&dns, ip.parse().unwrap(), catalog, &health).await;
    (checked.report, checked.findings)
}

fn codes(findings: &[Finding]) -> Vec<Code> {
    findings.iter().map(|f| f.code).collect()
}

fn answer<'a>(report: &'a IpReport, list: &str) -> &'a ListAnswer {
    report
        .lists
        .iter()
        .find(|a| a.list == list)
        .unwrap_or_else(|| panic!("{list} missing from {:#?}", report.lists))
}

fn finding_for<'a>(findings: &'a [Finding], code: Code, list: &str) -> &'a Finding {
    findings
        .iter()
        .find(|f| f.code == code && f.evidence.get("list").and_then(|v| v.as_str()) == Some(list))
        .unwrap_or_else(|| panic!("no {code} for {list} in {findings:#?}"))
}

fn health_of<'a>(health: &'a [ListHealth], list: &str) -> &'a ListHealth {
    health.iter().find(|h| h.list == list).unwrap()
}

#[tokio::test]
async fn health_check_tells_each_failure_mode_apart() {
    let dns = client();
    let health = health_check(&dns, &test_catalog()).await;
    let status = |list: &str| health_of(&health, list).health;
    assert_eq!(status("RBL Major"), HealthStatus::Works);
    assert_eq!(status("RBL Minor"), HealthStatus::Works);
    assert_eq!(status("DBL"), HealthStatus::Works);
    assert_eq!(status("RBL All"), HealthStatus::ListsEverything);
    assert_eq!(status("RBL Refuse"), HealthStatus::RefusesThisResolver);
    assert_eq!(status("RBL Dead"), HealthStatus::Unavailable);
    assert_eq!(status("RBL Empty"), HealthStatus::NotAnsweringTest);
    // A disabled list is not asked, not even for its test entries.
    assert!(health.iter().all(|h| h.list != "RBL Keyed"));

    let all = health_of(&health, "RBL All");
    assert_eq!(all.verdict, Verdict::Fail);
    assert_eq!(all.not_listed_probe.query, "1.0.0.127.rbl-all.test");
    assert!(
        all.reason.contains("127.0.0.1 must not be listed"),
        "{}",
        all.reason
    );
    let refuse = health_of(&health, "RBL Refuse");
    assert_eq!(refuse.verdict, Verdict::Unknown);
    assert!(
        refuse.reason.contains("127.255.255.254"),
        "{}",
        refuse.reason
    );
    let dbl = health_of(&health, "DBL");
    assert_eq!(dbl.listed_probe.query, "test.dbl.test");
    assert_eq!(dbl.not_listed_probe.query, "invalid.dbl.test");
}

#[tokio::test]
async fn a_clean_address_with_forward_confirmed_ptr_has_no_finding() {
    let (report, findings) = check_ip(&working_catalog(), "192.0.2.10").await;
    assert!(findings.is_empty(), "{findings:#?}");
    assert_eq!(report.verdict, Verdict::Ok);
    assert_eq!(report.reverse_dns.fcrdns, Some(true));
    assert_eq!(report.reverse_dns.names[0].name, "mail.dnsbl.test");
    assert!(report.listed_on.is_empty());
    for list in ["RBL Major", "RBL Minor", "RBL Info"] {
        let answer = answer(&report, list);
        assert_eq!(answer.status, ListStatus::NotListed, "{answer:?}");
        assert_eq!(answer.query, format!("10.2.0.192.{}", answer.zone));
    }
}

#[tokio::test]
async fn an_address_on_two_lists_is_listed_twice_with_reason_and_removal_page() {
    let (report, findings) = check_ip(&working_catalog(), "192.0.2.20").await;
    assert_eq!(report.listed_on, ["RBL Major", "RBL Minor"]);
    assert_eq!(report.verdict, Verdict::Fail);
    let major = finding_for(&findings, Code::IpListed, "RBL Major");
    assert_eq!(major.severity, Severity::Critical);
    assert!(
        major.message.contains("SBL-style: direct spam source"),
        "{}",
        major.message
    );
    assert!(
        major
            .fix
            .as_deref()
            .unwrap()
            .contains("https://rbl-major.test/remove")
    );
    assert_eq!(
        major.evidence["txt"][0],
        "Listed by RBL Major: see https://rbl-major.test/lookup?ip=192.0.2.20"
    );
    assert_eq!(major.evidence["query"], "20.2.0.192.rbl-major.test");
    assert_eq!(major.evidence["codes"][0]["address"], "127.0.0.2");
    let minor = finding_for(&findings, Code::IpListed, "RBL Minor");
    assert_eq!(minor.severity, Severity::Error);
    assert_eq!(
        codes(&findings)
            .iter()
            .filter(|c| **c == Code::IpListed)
            .count(),
        2
    );
}

#[tokio::test]
async fn a_policy_listing_is_reported_as_such() {
    let (report, findings) = check_ip(&working_catalog(), "192.0.2.60").await;
    let listed = finding_for(&findings, Code::IpListed, "RBL Major");
    assert!(listed.message.contains("policy list"), "{}", listed.message);
    assert!(listed.message.contains("127.0.0.10"), "{}", listed.message);
    assert_eq!(
        answer(&report, "RBL Major").codes[0].kind,
        ReturnKind::Policy
    );
}

#[tokio::test]
async fn every_code_of_a_multi_code_answer_is_read() {
    let (report, findings) = check_ip(&working_catalog(), "192.0.2.70").await;
    let major = answer(&report, "RBL Major");
    assert_eq!(major.status, ListStatus::Listed);
    let mut returned: Vec<String> = major.codes.iter().map(|c| c.address.to_string()).collect();
    returned.sort();
    assert_eq!(returned, ["127.0.0.10", "127.0.0.2", "127.0.0.4"]);
    let listed = finding_for(&findings, Code::IpListed, "RBL Major");
    for meaning in ["direct spam source", "exploited host", "end-user range"] {
        assert!(
            listed.message.contains(meaning),
            "{meaning}: {}",
            listed.message
        );
    }
    // Not policy-only: the spam listing is what the message leads with.
    assert!(
        !listed.message.contains("policy list"),
        "{}",
        listed.message
    );
}

#[tokio::test]
async fn a_refusal_code_is_never_a_listing() {
    let (report, findings) = check_ip(&working_catalog(), "192.0.2.80").await;
    let major = answer(&report, "RBL Major");
    assert_eq!(major.status, ListStatus::Refused);
    assert_eq!(major.codes[0].kind, ReturnKind::Error);
    let refused = finding_for(&findings, Code::IpDnsblRefused, "RBL Major");
    assert_eq!(refused.severity, Severity::Warning);
    assert!(
        refused.message.contains("127.255.255.254"),
        "{}",
        refused.message
    );
    assert!(!codes(&findings).contains(&Code::IpListed), "{findings:#?}");
    assert!(report.listed_on.is_empty());
}

#[tokio::test]
async fn an_answer_outside_loopback_is_invalid_not_listed() {
    let (report, findings) = check_ip(&working_catalog(), "192.0.2.90").await;
    let major = answer(&report, "RBL Major");
    assert_eq!(major.status, ListStatus::InvalidAnswer);
    assert_eq!(major.codes[0].address.to_string(), "198.51.100.1");
    assert!(!codes(&findings).contains(&Code::IpListed), "{findings:#?}");
    let unknown = finding_for(&findings, Code::IpDnsblUnavailable, "RBL Major");
    assert!(
        unknown.message.contains("outside 127.0.0.0/8"),
        "{}",
        unknown.message
    );
}

#[tokio::test]
async fn a_listing_on_an_informational_list_is_an_error_that_says_so() {
    let (_, findings) = check_ip(&working_catalog(), "192.0.2.21").await;
    let info = finding_for(&findings, Code::IpListed, "RBL Info");
    assert_eq!(info.severity, Severity::Error);
    assert!(info.message.contains("few receivers"), "{}", info.message);
}

#[tokio::test]
async fn an_ipv6_address_is_asked_as_nibbles_of_lists_that_take_ipv6() {
    let (report, findings) = check_ip(&working_catalog(), "2001:db8::66").await;
    let major = answer(&report, "RBL Major");
    assert_eq!(major.status, ListStatus::Listed);
    assert_eq!(
        major.query,
        "6.6.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.rbl-major.test"
    );
    finding_for(&findings, Code::IpListed, "RBL Major");
    // IPv4-only lists are shown as skipped, not as clean.
    let minor = answer(&report, "RBL Minor");
    assert_eq!(minor.status, ListStatus::Skipped);
    assert!(
        minor.detail.as_deref().unwrap().contains("IPv6"),
        "{minor:?}"
    );
    // Forward-confirmed through AAAA.
    assert_eq!(report.reverse_dns.fcrdns, Some(true));
    assert_eq!(report.reverse_dns.names[0].forward_type, "AAAA");
}

#[tokio::test]
async fn a_clean_ipv6_address_has_no_finding() {
    let (report, findings) = check_ip(&working_catalog(), "2001:db8::10").await;
    assert!(findings.is_empty(), "{findings:#?}");
    assert_eq!(answer(&report, "RBL Major").status, ListStatus::NotListed);
}

#[tokio::test]
async fn an_ipv4_mapped_address_is_checked_as_ipv4() {
    let (report, findings) = check_ip(&working_catalog(), "::ffff:192.0.2.20").await;
    assert_eq!(report.ip, "192.0.2.20".parse::<IpAddr>().unwrap());
    assert_eq!(
        answer(&report, "RBL Minor").query,
        "20.2.0.192.rbl-minor.test"
    );
    finding_for(&findings, Code::IpListed, "RBL Minor");
}

#[tokio::test]
async fn lists_that_fail_the_health_check_are_ignored_and_say_why() {
    let (report, findings) = check_ip(&test_catalog(), "192.0.2.10").await;
    // RBL All answers "listed" for this address, but it lists everything: never a listing.
    assert!(!codes(&findings).contains(&Code::IpListed), "{findings:#?}");
    let all = answer(&report, "RBL All");
    assert_eq!(all.status, ListStatus::Skipped);
    assert_eq!(all.health, Some(HealthStatus::ListsEverything));
    assert!(
        all.detail.as_deref().unwrap().contains("health check"),
        "{all:?}"
    );
    // The refusing list is skipped too, and the user is told the result is unknown.
    let refuse = answer(&report, "RBL Refuse");
    assert_eq!(refuse.status, ListStatus::Skipped);
    finding_for(&findings, Code::IpDnsblRefused, "RBL Refuse");
    finding_for(&findings, Code::IpDnsblUnavailable, "RBL Dead");
    finding_for(&findings, Code::IpDnsblUnavailable, "RBL Empty");
    // The working lists were still asked.
    assert_eq!(answer(&report, "RBL Major").status, ListStatus::NotListed);
    assert!(report.lists.iter().all(|a| a.list != "RBL Keyed"));
}

#[tokio::test]
async fn a_list_that_times_out_is_unavailable_not_clean() {
    let mut catalog = test_catalog();
    catalog.lists.retain(|l| l.name == "RBL Dead");
    let dns = client();
    // No health check: the list is asked and times out.
    let checked = ip::check(&dns, "192.0.2.10".parse().unwrap(), &catalog, &[]).await;
    let dead = answer(&checked.report, "RBL Dead");
    assert_eq!(dead.status, ListStatus::Unavailable);
    assert_eq!(dead.detail.as_deref(), Some("timeout"));
    let unavailable = finding_for(&checked.findings, Code::IpDnsblUnavailable, "RBL Dead");
    assert_eq!(unavailable.severity, Severity::Info);
    // Nothing answered: the blocklist result is unknown, not "ok".
    assert_eq!(checked.report.verdict, Verdict::Unknown);
}

#[tokio::test]
async fn an_address_without_ptr_gets_no_ptr() {
    let (report, findings) = check_ip(&working_catalog(), "192.0.2.40").await;
    assert_eq!(codes(&findings), [Code::IpNoPtr]);
    assert_eq!(report.reverse_dns.answer, "nxdomain");
    let fix = findings[0].fix.as_deref().unwrap();
    assert!(fix.contains("40.2.0.192.in-addr.arpa"), "{fix}");
}

#[tokio::test]
async fn a_ptr_name_that_does_not_resolve_back_is_a_mismatch() {
    let (report, findings) = check_ip(&working_catalog(), "192.0.2.30").await;
    assert_eq!(codes(&findings), [Code::IpFcrdnsMismatch]);
    assert_eq!(report.reverse_dns.fcrdns, Some(false));
    assert!(
        findings[0].message.contains("other.dnsbl.test"),
        "{}",
        findings[0].message
    );
    assert!(
        findings[0].message.contains("192.0.2.99"),
        "{}",
        findings[0].message
    );
}

#[tokio::test]
async fn a_generic_ptr_name_is_a_warning() {
    let (report, findings) = check_ip(&working_catalog(), "192.0.2.50").await;
    assert_eq!(codes(&findings), [Code::IpGenericPtr]);
    assert_eq!(findings[0].severity, Severity::Warning);
    assert_eq!(report.verdict, Verdict::Weak);
    assert!(report.reverse_dns.names[0].generic.is_some());
    assert_eq!(report.reverse_dns.fcrdns, Some(true));
}

#[tokio::test]
async fn a_listed_domain_is_critical_and_a_clean_one_is_not() {
    let catalog = working_catalog();
    let dns = client();
    let health = health_check(&dns, &catalog).await;
    let listed = dnsbl::check_domain(&dns, "spammy.dnsbl.test", &catalog, &health).await;
    let finding = finding_for(&listed.findings, Code::DomainListed, "DBL");
    assert_eq!(finding.severity, Severity::Critical);
    assert_eq!(finding.evidence["query"], "spammy.dnsbl.test.dbl.test");
    assert_eq!(
        finding.evidence["txt"][0],
        "DBL: spammy.dnsbl.test is a low-reputation domain"
    );
    assert!(
        finding
            .fix
            .as_deref()
            .unwrap()
            .contains("https://dbl.test/remove")
    );
    assert_eq!(listed.report.verdict, Verdict::Fail);
    assert_eq!(listed.report.listed_on, ["DBL"]);
    // Domain lists only: IP lists are not asked about domains.
    assert!(listed.report.lists.iter().all(|a| a.list == "DBL"));

    let clean = dnsbl::check_domain(&dns, "mail.dnsbl.test", &catalog, &health).await;
    assert!(clean.findings.is_empty(), "{:#?}", clean.findings);
    assert_eq!(clean.report.verdict, Verdict::Ok);
}

/// RFC 5782 §2.1: only a listed entry has a TXT record (its reason), so a list is asked the TXT
/// record only when the A record says listed: a clean address costs one question a list.
#[tokio::test]
async fn a_list_is_asked_the_txt_record_only_for_a_listed_entry() {
    let (_, _) = check_ip(&working_catalog(), "192.0.2.70").await;
    let asked = dns_server::server().queries_for("70.2.0.192.rbl-minor.test");
    let types: Vec<String> = asked.iter().map(|q| q.record_type.to_string()).collect();
    assert!(
        !types.is_empty() && types.iter().all(|t| t == "A"),
        "{types:?}"
    );

    let (report, _) = check_ip(&working_catalog(), "192.0.2.20").await;
    assert_eq!(
        answer(&report, "RBL Minor").txt,
        ["RBL Minor: spam trap hit"]
    );
    let asked = dns_server::server().queries_for("20.2.0.192.rbl-minor.test");
    assert!(asked.iter().any(|q| q.record_type.to_string() == "TXT"));
}

#[test]
fn a_broken_catalog_file_names_the_file_and_the_list() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/dnsbl/bad.toml");
    let error = Catalog::from_file(&path).unwrap_err().to_string();
    assert!(error.contains("bad.toml"), "{error}");
    assert!(error.contains("\"Broken\""), "{error}");
    assert!(error.contains("outside 127.0.0.0/8"), "{error}");
}
