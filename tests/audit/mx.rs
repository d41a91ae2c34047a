//! MX end to end: the fixtures of `fixtures/zones/mx.test.zone`, one domain per code.

use crate::support::{Report, audit};

/// The MX findings of a report.
fn mx_codes(report: &Report) -> Vec<String> {
    report
        .codes()
        .into_iter()
        .filter(|c| c.starts_with("mx."))
        .collect()
}

/// The report entry of one MX host.
fn host<'a>(report: &'a Report, exchange: &str) -> &'a serde_json::Value {
    report.mx["hosts"]
        .as_array()
        .expect("mx.hosts is a list")
        .iter()
        .find(|h| h["exchange"] == exchange)
        .unwrap_or_else(|| panic!("host {exchange} not in {}", report.mx))
}

#[test]
fn public_hosts_give_no_finding_and_every_address_is_listed() {
    let report = audit("good.mx.test");
    assert_eq!(mx_codes(&report), Vec::<String>::new());
    assert_eq!(report.mx["verdict"], "ok");
    assert_eq!(
        report.mx["records"],
        serde_json::json!([
            {"preference": 10, "exchange": "mx1.good.mx.test"},
            {"preference": 20, "exchange": "mx2.good.mx.test"}
        ])
    );
    let mx1 = host(&report, "mx1.good.mx.test");
    assert_eq!(mx1["status"], "resolved");
    let ips: Vec<_> = mx1["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["ip"].clone())
        .collect();
    assert_eq!(
        ips,
        [
            serde_json::json!("192.0.2.25"),
            serde_json::json!("2001:db8::25")
        ]
    );
    let first = &mx1["addresses"][0];
    assert_eq!(first["range"]["kind"], "documentation");
    assert_eq!(first["unreachable"], false);
    assert_eq!(first["ptr_answer"], "nxdomain", "the PTR was asked");
    assert_eq!(
        host(&report, "mx2.good.mx.test")["addresses"][0]["ip"],
        "198.51.100.25"
    );
}

#[test]
fn no_mx_is_missing_and_says_the_domain_has_an_a_record() {
    let report = audit("missing.mx.test");
    assert_eq!(mx_codes(&report), ["mx.missing"]);
    let finding = &report.with_code("mx.missing")[0];
    assert_eq!(finding.severity, "warning");
    assert_eq!(finding.evidence["has_a"], true);
    assert_eq!(finding.evidence["has_aaaa"], false);
    assert_eq!(report.mx["fallback"]["addresses"][0]["ip"], "192.0.2.26");
}

#[test]
fn the_null_mx_is_reported_as_a_fact() {
    let report = audit("null.mx.test");
    assert_eq!(mx_codes(&report), ["mx.null"]);
    assert_eq!(report.with_code("mx.null")[0].severity, "info");
    assert_eq!(report.mx["null_mx"], true);
    assert_eq!(report.mx["verdict"], "ok");
}

/// RFC 7505 §3: the null MX is preference 0; `10 .` is not one, and the fix is the record that is.
#[test]
fn a_dot_at_a_preference_other_than_0_is_not_a_null_mx() {
    let report = audit("null-nonzero.mx.test");
    assert_eq!(mx_codes(&report), ["mx.null-nonzero"]);
    let finding = &report.with_code("mx.null-nonzero")[0];
    assert_eq!(finding.severity, "error");
    assert!(
        finding
            .message
            .contains("null-nonzero.mx.test. MX 10 . is not a null MX")
            && finding.message.contains("RFC 7505 §3"),
        "{}",
        finding.message
    );
    let fix = finding.fix.as_deref().unwrap();
    assert!(fix.contains("null-nonzero.mx.test. MX 0 ."), "{fix}");
    assert!(fix.contains("@ IN MX 0 ."), "{fix}");
    assert_eq!(report.mx["null_mx"], false);
    assert_eq!(
        report.mx["hosts"],
        serde_json::json!([]),
        "\".\" is no host to resolve"
    );
    assert_eq!(report.mx["verdict"], "fail");
}

#[test]
fn a_null_mx_beside_another_is_an_error() {
    let report = audit("null-mixed.mx.test");
    assert_eq!(mx_codes(&report), ["mx.null-mixed"]);
    assert_eq!(report.with_code("mx.null-mixed")[0].severity, "error");
    assert_eq!(report.mx["verdict"], "fail");
}

#[test]
fn an_alias_target_is_flagged_with_its_chain() {
    let report = audit("cname.mx.test");
    assert_eq!(mx_codes(&report), ["mx.cname"]);
    assert_eq!(
        host(&report, "mail.cname.mx.test")["aliases"],
        serde_json::json!(["mail.cname.mx.test", "real.cname.mx.test"])
    );
    let fix = report.with_code("mx.cname")[0].fix.clone().unwrap();
    assert!(
        fix.contains("cname.mx.test. MX 10 real.cname.mx.test."),
        "{fix}"
    );
}

/// An MX target that is an alias of a name that does not exist: both facts, the chain shown
/// (the negative answer carries it).
#[test]
fn an_alias_target_to_nothing_is_flagged_with_its_chain() {
    let report = audit("cname-gone.mx.test");
    assert_eq!(mx_codes(&report), ["mx.cname", "mx.host-unresolvable"]);
    let target = host(&report, "mail.cname-gone.mx.test");
    assert_eq!(
        target["aliases"],
        serde_json::json!(["mail.cname-gone.mx.test", "retired-host.dns.test"])
    );
    assert_eq!(target["a"], "nxdomain");
}

#[test]
fn an_address_written_as_a_name_is_an_ip_literal() {
    let report = audit("ip-literal.mx.test");
    assert_eq!(mx_codes(&report), ["mx.ip-literal"]);
    assert_eq!(host(&report, "192.0.2.25")["status"], "ip-literal");
}

#[test]
fn a_target_without_addresses_is_unresolvable() {
    let report = audit("unresolvable.mx.test");
    assert_eq!(mx_codes(&report), ["mx.host-unresolvable"]);
    let target = host(&report, "nohost.unresolvable.mx.test");
    assert_eq!(target["a"], "nxdomain");
    assert_eq!(target["aaaa"], "nxdomain");
}

#[test]
fn private_addresses_are_flagged_with_their_ranges() {
    let report = audit("private.mx.test");
    assert_eq!(mx_codes(&report), ["mx.private-address"]);
    let finding = &report.with_code("mx.private-address")[0];
    assert!(finding.message.contains("10.0.0.5"), "{}", finding.message);
    assert!(finding.message.contains("fd00::1"), "{}", finding.message);
    let addresses = host(&report, "mx.private.mx.test")["addresses"]
        .as_array()
        .unwrap()
        .clone();
    assert!(
        addresses
            .iter()
            .all(|a| a["unreachable"] == true && a["range"]["kind"] == "private")
    );
}

#[test]
fn a_host_whose_server_never_answers_is_unknown_not_unresolvable() {
    let report = audit("dead.mx.test");
    assert_eq!(mx_codes(&report), ["mx.lookup-failed"]);
    assert_eq!(report.mx["verdict"], "unknown");
    assert_eq!(host(&report, "mx.x.dead.test")["status"], "lookup-failed");
}

#[test]
fn a_host_in_a_servfail_zone_is_unknown_not_unresolvable() {
    let report = audit("servfail.mx.test");
    assert_eq!(mx_codes(&report), ["mx.lookup-failed"]);
    assert_eq!(report.mx["verdict"], "unknown");
    assert_eq!(host(&report, "mx.servfail.test")["a"], "SERVFAIL");
}

#[test]
fn a_failed_mx_query_is_lookup_failed_not_missing() {
    let report = audit("x.mxfail.test");
    assert_eq!(mx_codes(&report), ["mx.lookup-failed"]);
    assert_eq!(report.mx["answer"], "SERVFAIL");
}

#[test]
fn a_huge_mx_set_costs_bounded_work_and_says_what_was_not_resolved() {
    let report = audit("many.mx.test");
    assert_eq!(report.mx["records"].as_array().unwrap().len(), 40);
    assert_eq!(report.mx["hosts"].as_array().unwrap().len(), 32);
    assert_eq!(report.mx["hosts_not_resolved"], 8);
    let asked = crate::support::dns_server::server().queries_for("h39.many.mx.test");
    assert!(
        asked.is_empty(),
        "a host past the bound was asked: {asked:?}"
    );
}
