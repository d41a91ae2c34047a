//! DMARC end to end: one fixture domain of `fixtures/zones/dmarc.test.zone` per finding code,
//! audited by the built binary; the report's `dmarc` object and findings read as JSON.

use crate::support::{FindingOut, Report, audit};

/// The DMARC findings of a report.
fn dmarc_codes(report: &Report) -> Vec<String> {
    report
        .codes()
        .into_iter()
        .filter(|c| c.starts_with("dmarc."))
        .collect()
}

/// The one finding with `code`, failing with the report's DMARC findings otherwise.
fn only<'a>(report: &'a Report, code: &str) -> &'a FindingOut {
    let found = report.with_code(code);
    assert_eq!(found.len(), 1, "{code} once in {:?}", dmarc_codes(report));
    found[0]
}

#[test]
fn good_has_no_dmarc_finding_above_info() {
    let report = audit("good.dmarc.test");
    let above_info: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.code.starts_with("dmarc.") && f.severity != "info")
        .map(|f| &f.code)
        .collect();
    assert!(above_info.is_empty(), "{above_info:?}");
    let dmarc = &report.dmarc;
    assert_eq!(dmarc["verdict"], "ok");
    assert_eq!(dmarc["found_at"], "_dmarc.good.dmarc.test");
    assert_eq!(dmarc["inherited"], false);
    assert_eq!(
        dmarc["record"],
        "v=DMARC1; p=reject; rua=mailto:dmarc-reports@good.dmarc.test"
    );
    assert_eq!(dmarc["effective_policy"]["requested"], "reject");
    assert_eq!(dmarc["effective_policy"]["tag"], "p");
    assert_eq!(
        dmarc["report_destinations"][0]["authorization"],
        "same-organization"
    );
    let p = dmarc["tags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "p")
        .expect("p tag");
    assert_eq!(
        (p["value"].as_str(), p["understood"].as_str()),
        (Some("reject"), Some("reject"))
    );
}

#[test]
fn missing_when_no_name_of_the_walk_has_a_record() {
    let report = audit("missing.dmarc.test");
    let finding = only(&report, "dmarc.missing");
    assert_eq!(finding.severity, "error");
    assert!(
        finding.fix.as_deref().unwrap().contains(
            "_dmarc.missing.dmarc.test TXT \"v=DMARC1; p=quarantine; rua=mailto:dmarc-reports@missing.dmarc.test\""
        ),
        "{:?}",
        finding.fix
    );
    let asked: Vec<_> = report.dmarc["queries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        asked,
        [
            "_dmarc.missing.dmarc.test",
            "_dmarc.dmarc.test",
            "_dmarc.test"
        ]
    );
    assert_eq!(report.dmarc["verdict"], "fail");
    assert!(report.dmarc["found_at"].is_null());
}

#[test]
fn a_txt_record_that_is_not_dmarc_is_ignored_so_dmarc_is_missing() {
    let report = audit("other-txt.dmarc.test");
    assert_eq!(dmarc_codes(&report), ["dmarc.missing"]);
    assert_eq!(report.dmarc["queries"][0]["records"][0], "v=spf1 -all");
}

#[test]
fn policy_none_is_a_warning_with_the_quarantine_record_as_fix() {
    let report = audit("none.dmarc.test");
    let finding = only(&report, "dmarc.policy-none");
    assert_eq!(finding.severity, "warning");
    assert!(finding.fix.as_deref().unwrap().contains(
        "_dmarc.none.dmarc.test TXT \"v=DMARC1; p=quarantine; rua=mailto:dmarc-reports@none.dmarc.test\""
    ));
    assert_eq!(finding.evidence["name"], "_dmarc.none.dmarc.test");
    assert_eq!(report.dmarc["verdict"], "weak");
}

#[test]
fn testing_mode_is_flagged_and_applied_one_level_weaker() {
    let report = audit("testing.dmarc.test");
    only(&report, "dmarc.testing");
    let policy = &report.dmarc["effective_policy"];
    assert_eq!(
        (policy["requested"].as_str(), policy["applied"].as_str()),
        (Some("reject"), Some("quarantine"))
    );
}

#[test]
fn pct_below_100_is_partial() {
    let report = audit("pct.dmarc.test");
    let finding = only(&report, "dmarc.pct-partial");
    assert!(finding.message.contains("pct=50"), "{}", finding.message);
    assert_eq!(report.dmarc["effective_policy"]["legacy_pct"], 50);
}

#[test]
fn no_rua_means_no_reports() {
    let report = audit("norua.dmarc.test");
    let finding = only(&report, "dmarc.no-rua");
    assert!(
        finding
            .fix
            .as_deref()
            .unwrap()
            .contains("rua=mailto:dmarc-reports@norua.dmarc.test")
    );
    assert!(!report.has("dmarc.policy-none"));
}

#[test]
fn sp_weaker_than_p() {
    let report = audit("sp-weaker.dmarc.test");
    let finding = only(&report, "dmarc.sp-weaker");
    assert!(finding.message.contains("sp=none"), "{}", finding.message);
    assert_eq!(
        report.dmarc["effective_policy"]["requested"], "reject",
        "p applies to the domain itself"
    );
}

#[test]
fn multiple_records_are_all_discarded() {
    let report = audit("multiple.dmarc.test");
    let finding = only(&report, "dmarc.multiple-records");
    assert_eq!(
        finding.evidence["records"].as_array().map(Vec::len),
        Some(2)
    );
    assert!(report.dmarc["found_at"].is_null(), "no record applies");
    assert!(
        !report.has("dmarc.policy-none"),
        "neither record's policy is in effect"
    );
    assert_eq!(report.dmarc["verdict"], "fail");
}

#[test]
fn syntax_names_the_tag_and_the_value() {
    let report = audit("syntax.dmarc.test");
    let finding = only(&report, "dmarc.syntax");
    assert_eq!(finding.evidence["tag"], "p");
    assert_eq!(finding.evidence["value"], "rejected");
    assert!(
        finding.message.contains("p=rejected"),
        "{}",
        finding.message
    );
    assert!(
        finding
            .fix
            .as_deref()
            .unwrap()
            .contains("\"v=DMARC1; p=reject; rua=mailto:dmarc-reports@syntax.dmarc.test\"")
    );
    // RFC 9989 §4.10.1: an invalid p with a valid rua counts as p=none.
    assert_eq!(report.dmarc["effective_policy"]["requested"], "none");
    let p = report.dmarc["tags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "p")
        .unwrap();
    assert_eq!(p["status"], "invalid");
}

#[test]
fn syntax_when_the_version_is_not_first() {
    let report = audit("misplaced.dmarc.test");
    let finding = only(&report, "dmarc.syntax");
    assert!(
        finding.message.contains("not the first tag"),
        "{}",
        finding.message
    );
    assert!(
        finding
            .fix
            .as_deref()
            .unwrap()
            .contains("\"v=DMARC1; p=reject; rua=mailto:dmarc-reports@misplaced.dmarc.test\"")
    );
    assert!(
        !report.has("dmarc.missing"),
        "the syntax finding already says why no policy applies"
    );
}

#[test]
fn syntax_when_a_report_uri_does_not_parse() {
    let report = audit("bad-uri.dmarc.test");
    let finding = only(&report, "dmarc.syntax");
    assert_eq!(finding.evidence["value"], "mailto:without-at");
    assert!(report.has("dmarc.no-rua"));
}

#[test]
fn inherited_from_the_organizational_domain_uses_sp() {
    let report = audit("child.parent.dmarc.test");
    let finding = only(&report, "dmarc.inherited");
    assert_eq!(finding.severity, "info");
    assert!(!report.has("dmarc.missing"));
    let dmarc = &report.dmarc;
    assert_eq!(dmarc["found_at"], "_dmarc.parent.dmarc.test");
    assert_eq!(dmarc["inherited"], true);
    assert_eq!(dmarc["effective_policy"]["tag"], "sp");
    assert_eq!(dmarc["effective_policy"]["requested"], "reject");
    assert_eq!(dmarc["effective_policy"]["domain_exists"], true);
    assert_eq!(dmarc["queries"][0]["status"], "nxdomain");
    assert_eq!(dmarc["verdict"], "ok");
}

#[test]
fn inherited_by_a_non_existent_subdomain_uses_np() {
    let report = audit("ghost.parent.dmarc.test");
    only(&report, "dmarc.inherited");
    let policy = &report.dmarc["effective_policy"];
    assert_eq!(
        (policy["tag"].as_str(), policy["requested"].as_str()),
        (Some("np"), Some("quarantine"))
    );
    assert_eq!(policy["domain_exists"], false);
}

#[test]
fn external_destination_without_authorisation_is_unauthorized() {
    let report = audit("ext-rua.dmarc.test");
    let finding = only(&report, "dmarc.rua-unauthorized");
    assert_eq!(finding.severity, "error");
    assert_eq!(
        finding.evidence["authorization_name"],
        "ext-rua.dmarc.test._report._dmarc.reports.test"
    );
    assert!(
        finding
            .fix
            .as_deref()
            .unwrap()
            .contains("ext-rua.dmarc.test._report._dmarc.reports.test TXT \"v=DMARC1;\"")
    );
    assert_eq!(
        report.dmarc["report_destinations"][0]["authorization"],
        "unauthorized"
    );
}

#[test]
fn external_destination_that_authorises_the_domain_is_fine() {
    let report = audit("ext-rua-ok.dmarc.test");
    assert!(
        !report.has("dmarc.rua-unauthorized"),
        "{:?}",
        dmarc_codes(&report)
    );
    let destinations = report.dmarc["report_destinations"].as_array().unwrap();
    assert_eq!(destinations.len(), 2, "rua and ruf");
    assert!(
        destinations
            .iter()
            .all(|d| d["authorization"] == "authorized"),
        "{destinations:?}"
    );
    assert_eq!(report.dmarc["verdict"], "ok");
}

#[test]
fn an_authorisation_question_that_times_out_is_unknown_not_unauthorized() {
    let report = audit("ext-rua-dead.dmarc.test");
    assert!(!report.has("dmarc.rua-unauthorized"));
    only(&report, "dmarc.lookup-failed");
    assert_eq!(
        report.dmarc["report_destinations"][0]["authorization"],
        "unknown"
    );
    assert_eq!(report.dmarc["verdict"], "unknown");
}

#[test]
fn lookup_failed_on_timeout_never_missing() {
    let report = audit("timeout.dmarc.test");
    let finding = only(&report, "dmarc.lookup-failed");
    assert_eq!(finding.evidence["answer"], "timeout");
    assert!(!report.has("dmarc.missing"));
    assert_eq!(report.dmarc["verdict"], "unknown");
}

#[test]
fn lookup_failed_on_servfail_never_missing() {
    let report = audit("servfail.dmarc.test");
    let finding = only(&report, "dmarc.lookup-failed");
    assert_eq!(finding.evidence["answer"], "SERVFAIL");
    assert!(!report.has("dmarc.missing"));
    assert_eq!(report.dmarc["verdict"], "unknown");
}

#[test]
fn lookup_failed_when_the_audited_domain_itself_gets_servfail() {
    let report = audit("x.txtfail.test");
    only(&report, "dmarc.lookup-failed");
    assert!(!report.has("dmarc.missing"));
    assert_eq!(report.dmarc["verdict"], "unknown");
}

#[test]
fn a_failure_up_the_tree_walk_is_unknown_not_missing() {
    let report = audit("child.broken.dmarc.test");
    let finding = only(&report, "dmarc.lookup-failed");
    assert_eq!(finding.evidence["name"], "_dmarc.broken.dmarc.test");
    assert!(!report.has("dmarc.missing"));
    assert_eq!(report.dmarc["verdict"], "unknown");
}

/// The status and codes of the Gmail and Yahoo requirement of a DMARC record.
fn dmarc_requirement(report: &Report) -> (String, Vec<String>) {
    let requirement = report
        .requirements
        .iter()
        .find(|r| r.requirement.starts_with("a DMARC record"))
        .expect("the DMARC record requirement");
    (requirement.status.clone(), requirement.codes.clone())
}

/// RFC 6376 §3.2 (the tag-list syntax RFC 9989 §4.7 and RFC 7489 §6.3 adopt): a repeated tag
/// makes the record invalid, so no policy applies, as for a missing record.
#[test]
fn a_record_with_a_repeated_tag_is_discarded_and_no_policy_applies() {
    let report = audit("repeated.dmarc.test");
    let finding = only(&report, "dmarc.syntax");
    assert_eq!(finding.severity, "error");
    assert_eq!(
        finding.evidence["repeated_tags"],
        serde_json::json!(["p", "rua"])
    );
    assert!(
        finding.message.contains("discard the record")
            && finding
                .message
                .contains("no DMARC policy applies to repeated.dmarc.test"),
        "{}",
        finding.message
    );
    let fix = finding.fix.as_deref().unwrap();
    assert!(
        fix.contains(
            "_dmarc.repeated.dmarc.test TXT \"v=DMARC1; p=reject; \
             rua=mailto:dmarc-reports@repeated.dmarc.test\""
        ),
        "{fix}"
    );
    assert!(!report.has("dmarc.missing"), "the syntax finding says why");
    let dmarc = &report.dmarc;
    assert_eq!(dmarc["effective_policy"], serde_json::Value::Null);
    assert_eq!(dmarc["found_at"], serde_json::Value::Null);
    assert_eq!(dmarc["verdict"], "fail");
    assert_eq!(
        dmarc_requirement(&report),
        ("not-met".to_owned(), vec!["dmarc.syntax".to_owned()])
    );
}

/// A discarded record is passed over like a missing one: the tree walk goes on to the parent.
#[test]
fn the_tree_walk_goes_on_past_a_discarded_record() {
    let report = audit("dup.parent.dmarc.test");
    let finding = only(&report, "dmarc.syntax");
    assert_eq!(finding.evidence["name"], "_dmarc.dup.parent.dmarc.test");
    assert!(
        finding
            .message
            .contains("the record at _dmarc.parent.dmarc.test applies"),
        "{}",
        finding.message
    );
    only(&report, "dmarc.inherited");
    let dmarc = &report.dmarc;
    assert_eq!(dmarc["found_at"], "_dmarc.parent.dmarc.test");
    assert_eq!(dmarc["effective_policy"]["tag"], "sp");
    assert_eq!(dmarc["effective_policy"]["requested"], "reject");
}

/// RFC 9989 §4.7: unknown tags MUST be ignored, so they are warnings, not errors; `ignore_me`
/// is a tag name (RFC 6376 §3.2: ALPHA *ALNUMPUNC), and a typo names the tag it meant.
#[test]
fn unknown_tags_are_warnings_and_a_typo_names_its_tag() {
    let report = audit("unknown-tag.dmarc.test");
    assert!(!report.has("dmarc.syntax"), "{:?}", dmarc_codes(&report));
    let unknown = report.with_code("dmarc.unknown-tag");
    assert_eq!(unknown.len(), 2, "{:?}", dmarc_codes(&report));
    assert!(unknown.iter().all(|f| f.severity == "warning"));
    let ignore_me = unknown
        .iter()
        .find(|f| f.evidence["tag"] == "ignore_me")
        .expect("ignore_me");
    assert_eq!(ignore_me.evidence["likely_meant"], serde_json::json!([]));
    assert!(
        ignore_me.fix.as_deref().unwrap().contains(
            "_dmarc.unknown-tag.dmarc.test TXT \"v=DMARC1; p=reject; \
             rua=mailto:dmarc-reports@unknown-tag.dmarc.test; adkm=s\""
        ),
        "{:?}",
        ignore_me.fix
    );
    let adkm = unknown
        .iter()
        .find(|f| f.evidence["tag"] == "adkm")
        .expect("adkm");
    assert!(
        adkm.message.contains("did you mean adkim?"),
        "{}",
        adkm.message
    );
    assert_eq!(adkm.evidence["likely_meant"], serde_json::json!(["adkim"]));
    assert!(
        adkm.fix
            .as_deref()
            .unwrap()
            .contains("ignore_me=true; adkim=s\""),
        "{:?}",
        adkm.fix
    );
    // Ignored, so adkm=s does not make DKIM alignment strict.
    assert_eq!(report.dmarc["effective_policy"]["adkim"], "relaxed");
    assert_eq!(report.dmarc["effective_policy"]["requested"], "reject");
    assert_eq!(report.dmarc["verdict"], "weak");
}

/// RFC 7489 §6.6.3 (SHOULD) and RFC 9989 §4.10.1 (MUST): a record without p but with a valid
/// rua is read as p=none, not ignored.
#[test]
fn a_record_without_p_but_with_rua_applies_p_none() {
    let report = audit("no-p.dmarc.test");
    let finding = only(&report, "dmarc.syntax");
    assert!(
        finding.message.contains("RFC 7489 §6.6.3")
            && finding.message.contains("as if it said p=none")
            && !finding.message.contains("ignore the record"),
        "{}",
        finding.message
    );
    let policy = &report.dmarc["effective_policy"];
    assert_eq!(policy["requested"], "none");
    assert_eq!(policy["tag"], "p");
    only(&report, "dmarc.policy-none");
    assert_eq!(dmarc_requirement(&report).0, "met");
}

/// RFC 9989 §4.10.2: a destination's organisational domain comes from the DNS tree walk, not
/// the public suffix list: ops.split.dmarc.test declares itself one (psd=n), so it must
/// authorise split.dmarc.test's reports (with the list, both are dmarc.test and nothing is
/// asked).
#[test]
fn report_destinations_are_judged_by_the_tree_walks_organisational_domains() {
    let report = audit("split.dmarc.test");
    let finding = only(&report, "dmarc.rua-unauthorized");
    assert_eq!(
        finding.evidence["authorization_name"],
        "split.dmarc.test._report._dmarc.ops.split.dmarc.test"
    );
    assert_eq!(
        finding.evidence["organizational_domain"],
        "ops.split.dmarc.test"
    );
    let destination = &report.dmarc["report_destinations"][0];
    assert_eq!(destination["authorization"], "unauthorized");
    assert_eq!(destination["organizational_domain"], "ops.split.dmarc.test");
    // The other way round, ops.split's own reports go to its own host: no question.
    let ops = audit("ops.split.dmarc.test");
    assert_eq!(
        ops.dmarc["report_destinations"][0]["authorization"],
        "same-organization"
    );
}
