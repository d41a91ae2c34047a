//! SPF end to end: each fixture domain of `fixtures/zones/spf.test.zone` audited by the built
//! binary, its JSON report read back. One test per finding code, asserting the code (and what a
//! user would check in the evidence and the `spf` tree); the good domain asserts its absence.

use serde_json::Value;

use crate::support::{FindingOut, Report, audit, audit_with};

/// The SPF findings, by code.
fn spf_codes(report: &Report) -> Vec<String> {
    report
        .codes()
        .into_iter()
        .filter(|code| code.starts_with("spf."))
        .collect()
}

/// The one finding with `code`, failing the test when there is none or several.
fn one<'r>(report: &'r Report, code: &str) -> &'r FindingOut {
    let found = report.with_code(code);
    assert_eq!(found.len(), 1, "{code} in {:?}", report.codes());
    found[0]
}

fn child<'v>(node: &'v Value, domain: &str) -> &'v Value {
    node["children"]
        .as_array()
        .and_then(|children| children.iter().find(|c| c["domain"] == domain))
        .unwrap_or_else(|| panic!("no child {domain} in {node:#}"))
}

#[test]
fn good_record_has_no_spf_finding_above_info() {
    let report = audit("good.spf.test");
    let serious: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.code.starts_with("spf.") && f.severity != "info")
        .map(|f| &f.code)
        .collect();
    assert!(serious.is_empty(), "{serious:?}");
    let spf = &report.spf;
    assert_eq!(spf["verdict"], "ok");
    assert_eq!(
        spf["record"],
        "v=spf1 mx include:_spf.provider.spf.test -all"
    );
    assert_eq!(spf["txt"].as_array().map(Vec::len), Some(2), "{spf:#}");
    assert_eq!(spf["total_lookups"], 2);
    assert_eq!(spf["void_lookups"], 0);
    let tree = &spf["tree"];
    assert_eq!(tree["domain"], "good.spf.test");
    assert_eq!(tree["lookups"], 2);
    let mx = &tree["terms"][0];
    assert_eq!(mx["mechanism"], "mx");
    assert_eq!(mx["mx_hosts"][0]["exchange"], "mail.good.spf.test");
    let provider = child(tree, "_spf.provider.spf.test");
    assert_eq!(provider["via"], "include");
    assert_eq!(provider["status"], "ok");
    assert_eq!(provider["lookups"], 0);
}

#[test]
fn no_v_spf1_among_the_txt_records_is_spf_missing() {
    let report = audit("missing.spf.test");
    let finding = one(&report, "spf.missing");
    assert_eq!(finding.severity, "error");
    assert!(finding.fix.as_deref().unwrap_or("").contains("v=spf1"));
    assert_eq!(finding.evidence["name"], "missing.spf.test");
    assert_eq!(
        finding.evidence["txt"][0],
        "google-site-verification=fixture-not-spf"
    );
    assert_eq!(report.spf["verdict"], "fail");
}

#[test]
fn two_spf_records_are_spf_multiple_records() {
    let report = audit("multiple.spf.test");
    let finding = one(&report, "spf.multiple-records");
    assert_eq!(
        finding.evidence["records"].as_array().map(Vec::len),
        Some(2)
    );
    let fix = finding.fix.as_deref().unwrap_or("");
    assert!(
        fix.contains("v=spf1 ip4:192.0.2.0/24 include:_spf.provider.spf.test -all"),
        "{fix}"
    );
    assert!(!report.has("spf.missing"));
}

#[test]
fn a_bad_octet_is_spf_syntax_naming_the_term_and_offset() {
    let report = audit("syntax.spf.test");
    let finding = one(&report, "spf.syntax");
    assert!(
        finding.message.contains("ip4:192.0.2.300"),
        "{}",
        finding.message
    );
    assert_eq!(finding.evidence["errors"][0]["offset"], 7);
    assert_eq!(report.spf["diagnostics"][0]["term"], "ip4:192.0.2.300");
    let fix = finding.fix.as_deref().unwrap_or("");
    assert!(
        fix.contains("v=spf1 include:_spf.provider.spf.test -all"),
        "{fix}"
    );
}

#[test]
fn a_syntax_error_in_an_included_record_names_the_included_domain() {
    let report = audit("include-syntax.spf.test");
    let finding = one(&report, "spf.syntax");
    assert_eq!(finding.evidence["name"], "_spf.broken.spf.test");
    assert!(finding.message.contains("/33"), "{}", finding.message);
    let broken = child(&report.spf["tree"], "_spf.broken.spf.test");
    assert_eq!(broken["status"], "syntax-error");
}

#[test]
fn twelve_lookups_through_provider_includes_is_spf_lookup_limit() {
    let report = audit("lookup-limit.spf.test");
    let finding = one(&report, "spf.lookup-limit");
    assert_eq!(finding.evidence["lookups"], 12);
    assert!(!report.has("spf.lookup-near-limit"));
    let tree = &report.spf["tree"];
    assert_eq!(report.spf["total_lookups"], 12);
    assert_eq!(tree["lookups"], 4);
    assert_eq!(child(tree, "_spf.bigmail.spf.test")["subtree_lookups"], 3);
    assert_eq!(child(tree, "mail.crm.spf.test")["subtree_lookups"], 2);
    let helpdesk = child(tree, "spf.helpdesk.spf.test");
    assert_eq!(helpdesk["lookups"], 3);
    assert_eq!(helpdesk["cumulative_lookups"], 12);
    assert_eq!(
        child(
            child(tree, "_spf.bigmail.spf.test"),
            "_netblocks3.bigmail.spf.test"
        )["status"],
        "ok"
    );
}

#[test]
fn nine_lookups_is_spf_lookup_near_limit() {
    let report = audit("near-limit.spf.test");
    let finding = one(&report, "spf.lookup-near-limit");
    assert_eq!(finding.severity, "warning");
    assert_eq!(finding.evidence["lookups"], 9);
    assert!(!report.has("spf.lookup-limit"));
}

#[test]
fn three_terms_naming_gone_hosts_is_spf_void_lookup_limit() {
    let report = audit("void.spf.test");
    let finding = one(&report, "spf.void-lookup-limit");
    assert_eq!(finding.evidence["void_lookups"], 3);
    assert_eq!(report.spf["void_lookups"], 3);
    let terms = &report.spf["tree"]["terms"];
    assert_eq!(terms[0]["target"], "relay1.void.spf.test");
    assert_eq!(terms[0]["dns"], "nxdomain");
    assert_eq!(terms[0]["void"], true);
}

#[test]
fn an_include_of_a_gone_domain_is_spf_include_missing() {
    let report = audit("include-missing.spf.test");
    let finding = one(&report, "spf.include-missing");
    assert_eq!(finding.evidence["name"], "_spf.retired-esp.spf.test");
    assert_eq!(finding.evidence["answer"], "nxdomain");
    assert!(!report.has("spf.missing"));
    let gone = child(&report.spf["tree"], "_spf.retired-esp.spf.test");
    assert_eq!(gone["status"], "missing");
}

#[test]
fn a_redirect_to_a_name_without_spf_is_spf_include_missing() {
    let report = audit("redirect-missing.spf.test");
    let finding = one(&report, "spf.include-missing");
    assert_eq!(finding.evidence["name"], "_spf.nospf.spf.test");
    assert_eq!(finding.evidence["answer"], "records");
    assert!(!report.has("spf.no-all"));
}

#[test]
fn an_include_back_to_the_domain_is_spf_loop() {
    let report = audit("loop.spf.test");
    let finding = one(&report, "spf.loop");
    assert_eq!(
        finding.evidence["chain"],
        serde_json::json!(["loop.spf.test", "_spf.loop.spf.test", "loop.spf.test"])
    );
    let back = child(
        child(&report.spf["tree"], "_spf.loop.spf.test"),
        "loop.spf.test",
    );
    assert_eq!(back["status"], "loop");
}

#[test]
fn eleven_mx_records_is_spf_mx_limit() {
    let report = audit("mx-limit.spf.test");
    let finding = one(&report, "spf.mx-limit");
    assert_eq!(finding.evidence["mx_count"], 11);
    let mx = &report.spf["tree"]["terms"][0];
    assert_eq!(mx["mx_count"], 11);
    assert_eq!(mx["mx_hosts"].as_array().map(Vec::len), Some(10));
}

#[test]
fn the_ptr_mechanism_is_spf_ptr() {
    let report = audit("ptr.spf.test");
    let finding = one(&report, "spf.ptr");
    assert_eq!(finding.severity, "warning");
    assert!(
        finding
            .fix
            .as_deref()
            .unwrap_or("")
            .contains("v=spf1 ip4:192.0.2.0/24 -all"),
        "{:?}",
        finding.fix
    );
}

#[test]
fn plus_all_is_spf_pass_all_and_critical() {
    let report = audit("pass-all.spf.test");
    let finding = one(&report, "spf.pass-all");
    assert_eq!(finding.severity, "critical");
    assert!(
        finding
            .fix
            .as_deref()
            .unwrap_or("")
            .contains("v=spf1 ip4:192.0.2.0/24 ~all"),
        "{:?}",
        finding.fix
    );
}

#[test]
fn an_include_that_passes_everyone_is_spf_pass_all() {
    let report = audit("include-pass-all.spf.test");
    let finding = one(&report, "spf.pass-all");
    assert_eq!(finding.evidence["included"], "_spf.open.spf.test");
    assert_eq!(finding.evidence["all"], "all");
}

#[test]
fn question_all_is_spf_neutral_all() {
    let report = audit("neutral-all.spf.test");
    let finding = one(&report, "spf.neutral-all");
    assert_eq!(finding.severity, "warning");
    assert!(!report.has("spf.pass-all"));
}

#[test]
fn neither_all_nor_redirect_is_spf_no_all() {
    let report = audit("no-all.spf.test");
    let finding = one(&report, "spf.no-all");
    assert!(
        finding
            .fix
            .as_deref()
            .unwrap_or("")
            .contains("include:_spf.provider.spf.test ~all"),
        "{:?}",
        finding.fix
    );
}

#[test]
fn a_redirect_to_a_record_with_all_is_not_spf_no_all() {
    let report = audit("redirect.spf.test");
    assert_eq!(spf_codes(&report), Vec::<String>::new());
    let target = child(&report.spf["tree"], "_spf.provider.spf.test");
    assert_eq!(target["via"], "redirect");
    assert_eq!(report.spf["total_lookups"], 1);
}

#[test]
fn a_record_over_450_bytes_is_spf_too_long() {
    let report = audit("too-long.spf.test");
    let finding = one(&report, "spf.too-long");
    assert_eq!(finding.evidence["record_bytes"], 483);
    // Joined from several character-strings without spaces (§3.3).
    assert!(
        report.spf["record"]
            .as_str()
            .unwrap_or("")
            .ends_with(" -all")
    );
    assert!(report.spf["txt"][0].as_array().map_or(0, Vec::len) > 1);
}

#[test]
fn a_txt_reply_over_512_bytes_is_spf_too_long() {
    let report = audit("too-big-reply.spf.test");
    let finding = one(&report, "spf.too-long");
    assert!(finding.evidence["record_bytes"].as_u64().unwrap_or(0) <= 450);
    assert!(finding.evidence["reply_bytes"].as_u64().unwrap_or(0) > 512);
}

#[test]
fn the_domain_macro_is_expanded_and_sender_macros_are_not_guessed() {
    let report = audit("macro.spf.test");
    assert_eq!(spf_codes(&report), Vec::<String>::new());
    let tree = &report.spf["tree"];
    assert_eq!(child(tree, "_spf.macro.spf.test")["status"], "ok");
    let exists = &tree["terms"][1];
    assert_eq!(exists["mechanism"], "exists");
    assert_eq!(exists["resolution"], "depends-on-sender");
    assert_eq!(report.spf["total_lookups"], 2);
}

#[test]
fn an_include_on_a_dead_server_is_spf_lookup_failed_not_missing() {
    let report = audit("include-dead.spf.test");
    let finding = one(&report, "spf.lookup-failed");
    assert_eq!(finding.evidence["name"], "_spf.esp.dead.test");
    assert_eq!(finding.evidence["answer"], "timeout");
    assert!(!report.has("spf.include-missing"));
    assert!(!report.has("spf.missing"));
    assert_eq!(report.spf["verdict"], "unknown");
}

#[test]
fn an_include_answered_servfail_is_spf_lookup_failed_not_missing() {
    let report = audit("include-servfail.spf.test");
    let finding = one(&report, "spf.lookup-failed");
    assert_eq!(finding.evidence["answer"], "SERVFAIL");
    assert!(!report.has("spf.include-missing"));
    assert_eq!(report.spf["verdict"], "unknown");
}

#[test]
fn an_a_term_answered_servfail_is_spf_lookup_failed_not_void() {
    let report = audit("a-servfail.spf.test");
    let finding = one(&report, "spf.lookup-failed");
    assert_eq!(finding.evidence["name"], "relay.servfail.test");
    assert_eq!(report.spf["void_lookups"], 0);
}

#[test]
fn a_domain_whose_txt_lookup_fails_is_spf_lookup_failed_not_missing() {
    let report = audit("spf.txtfail.test");
    let finding = one(&report, "spf.lookup-failed");
    assert_eq!(finding.evidence["name"], "spf.txtfail.test");
    assert!(!report.has("spf.missing"));
    assert_eq!(report.spf["verdict"], "unknown");
}

#[test]
fn an_aaaa_failure_beside_a_records_is_noted_not_spf_lookup_failed() {
    let report = audit("half-v6.spf.test");
    assert!(!report.has("spf.lookup-failed"), "{:?}", report.codes());
    assert_eq!(report.spf["verdict"], "ok", "{}", report.spf);
    let term = &report.spf["tree"]["terms"][0];
    assert_eq!(term["term"], "a:host.v6fail.test");
    assert_eq!(term["failed"], false);
    assert_eq!(term["addresses"], serde_json::json!(["192.0.2.5"]));
    assert_eq!(
        term["note"],
        "the AAAA lookup failed (SERVFAIL): unknown for IPv6 senders only"
    );
}

#[test]
fn an_include_of_a_single_label_is_not_asked_and_not_void_as_in_check_host() {
    // check_host stops at the include with permerror after two void lookups: the name `test`
    // is a single label it never asks about (§4.3). The audit's tree walks the same way.
    let report = audit("single-label.spf.test");
    assert_eq!(report.spf["void_lookups"], 2, "{}", report.spf);
    assert!(!report.has("spf.void-lookup-limit"), "{:?}", report.codes());
    let target = child(&report.spf["tree"], "test");
    assert_eq!(target["status"], "missing");
    assert_eq!(target["dns"], "invalid-name");
    let finding = one(&report, "spf.include-missing");
    assert_eq!(finding.evidence["name"], "test");

    let checked = audit_with("single-label.spf.test", &["--ip", "192.0.2.10"]);
    let evaluation = &checked.ips[0]["spf"];
    assert_eq!(evaluation["result"], "permerror", "{evaluation}");
    assert_eq!(evaluation["reason"]["kind"], "include-none");
    assert_eq!(evaluation["void_lookups"], 2);
}

// --- Who is sending: --mail-from and --helo with --ip -------------------------------------

#[test]
fn mail_from_gives_check_host_the_local_part() {
    // by-local allows the local parts that have an A record under _senders (%{l}).
    let report = audit_with(
        "by-local.spf.test",
        &[
            "--ip",
            "192.0.2.10",
            "--mail-from",
            "bounce@by-local.spf.test",
        ],
    );
    let evaluation = &report.ips[0]["spf"];
    assert_eq!(evaluation["result"], "pass", "{evaluation}");
    assert_eq!(evaluation["sender"], "bounce@by-local.spf.test");
    assert_eq!(
        evaluation["trace"]["terms"][0]["target"],
        "bounce._senders.by-local.spf.test"
    );
    assert!(!report.has("spf.ip-not-authorized"), "{:?}", report.codes());
    // The audit's own tree cannot know the sender: counted, not looked up.
    assert_eq!(
        report.spf["tree"]["terms"][0]["resolution"],
        "depends-on-sender"
    );

    // Without it, the sender is the domain's postmaster, which is not allowed.
    let postmaster = audit_with("by-local.spf.test", &["--ip", "192.0.2.10"]);
    assert_eq!(postmaster.ips[0]["spf"]["result"], "fail");
    assert_eq!(
        postmaster.ips[0]["spf"]["sender"],
        "postmaster@by-local.spf.test"
    );
    assert!(postmaster.has("spf.ip-not-authorized"));
}

#[test]
fn helo_gives_check_host_the_helo_name_and_is_checked_on_its_own() {
    // by-helo allows the HELO names that have an A record under _helo (%{h}); the HELO name
    // out.helo.spf.test publishes "v=spf1 a -all" for 192.0.2.10.
    let report = audit_with(
        "by-helo.spf.test",
        &["--ip", "198.51.100.7", "--helo", "out.helo.spf.test"],
    );
    let ip = &report.ips[0];
    assert_eq!(ip["spf"]["result"], "pass", "{}", ip["spf"]);
    assert_eq!(ip["spf"]["helo"], "out.helo.spf.test");
    assert_eq!(ip["spf_helo"]["domain"], "out.helo.spf.test");
    assert_eq!(ip["spf_helo"]["sender"], "postmaster@out.helo.spf.test");
    assert_eq!(ip["spf_helo"]["result"], "fail", "{}", ip["spf_helo"]);
    assert!(!report.has("spf.ip-not-authorized"), "{:?}", report.codes());
    let finding = one(&report, "spf.helo-not-authorized");
    assert_eq!(finding.severity, "error");
    assert_eq!(finding.evidence["identity"], "helo");
    assert_eq!(finding.evidence["domain"], "out.helo.spf.test");
    assert!(
        finding
            .fix
            .as_deref()
            .unwrap_or("")
            .contains("\"v=spf1 a ip4:198.51.100.7 -all\""),
        "{:?}",
        finding.fix
    );

    let sending = audit_with(
        "by-helo.spf.test",
        &["--ip", "192.0.2.10", "--helo", "out.helo.spf.test"],
    );
    assert_eq!(sending.ips[0]["spf_helo"]["result"], "pass");
    assert!(spf_codes(&sending).is_empty(), "{:?}", sending.codes());

    // Without --helo, %{h} is "unknown" and no HELO check is made.
    let unknown = audit_with("by-helo.spf.test", &["--ip", "192.0.2.10"]);
    assert_eq!(unknown.ips[0]["spf"]["result"], "fail");
    assert!(unknown.ips[0].get("spf_helo").is_none());
}
