//! DKIM end to end: the fixtures of `fixtures/zones/dkim.test.zone`, one domain per code.

use crate::support::{Report, audit, audit_with};

/// The DKIM findings of a report.
fn dkim_codes(report: &Report) -> Vec<String> {
    report
        .codes()
        .into_iter()
        .filter(|c| c.starts_with("dkim."))
        .collect()
}

/// The report entry of one selector.
fn selector<'a>(report: &'a Report, name: &str) -> &'a serde_json::Value {
    report.dkim["selectors"]
        .as_array()
        .expect("dkim.selectors is a list")
        .iter()
        .find(|s| s["selector"] == name)
        .unwrap_or_else(|| panic!("selector {name} not in {}", report.dkim))
}

/// The parsed key of a selector's (only) key record.
fn key<'a>(report: &'a Report, name: &str) -> &'a serde_json::Value {
    &selector(report, name)["keys"][0]
}

#[test]
fn a_2048_bit_key_gives_no_finding_above_info() {
    let report = audit("good.dkim.test");
    let above_info: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.code.starts_with("dkim.") && f.severity != "info")
        .collect();
    assert!(above_info.is_empty(), "{above_info:#?}");
    assert_eq!(report.dkim["verdict"], "ok");
    assert_eq!(report.dkim["found"], serde_json::json!(["selector1"]));
    let selector1 = selector(&report, "selector1");
    assert_eq!(selector1["name"], "selector1._domainkey.good.dkim.test");
    assert_eq!(selector1["status"], "key");
    assert_eq!(selector1["provider"], "Microsoft 365");
    assert_eq!(key(&report, "selector1")["key"]["algorithm"], "rsa");
    assert_eq!(key(&report, "selector1")["key"]["bits"], 2048);
}

#[test]
fn every_selector_tried_is_listed_with_what_it_found() {
    let report = audit("good.dkim.test");
    let selectors = report.dkim["selectors"].as_array().unwrap();
    assert!(
        selectors.len() >= 27,
        "only {} selectors tried",
        selectors.len()
    );
    for name in [
        "selector2",
        "google",
        "k1",
        "s1",
        "pdk1",
        "mte1",
        "fm1",
        "protonmail",
        "zmail",
        "sig1",
    ] {
        assert_eq!(selector(&report, name)["status"], "no-record", "{name}");
        assert_eq!(selector(&report, name)["answer"], "nxdomain", "{name}");
    }
}

#[test]
fn a_1024_bit_key_is_weak() {
    let report = audit("weak.dkim.test");
    assert_eq!(dkim_codes(&report), ["dkim.weak-key"]);
    let finding = &report.with_code("dkim.weak-key")[0];
    assert_eq!(finding.severity, "warning");
    assert_eq!(finding.evidence["name"], "google._domainkey.weak.dkim.test");
    assert_eq!(finding.evidence["key_bits"], 1024);
    let fix = finding.fix.as_deref().unwrap();
    assert!(
        fix.contains("google._domainkey.weak.dkim.test TXT \"v=DKIM1; k=rsa; p="),
        "{fix}"
    );
    assert!(fix.contains("2048-bit"), "{fix}");
    assert_eq!(report.dkim["verdict"], "weak");
}

#[test]
fn a_512_bit_key_is_insecure() {
    let report = audit("insecure.dkim.test");
    assert_eq!(dkim_codes(&report), ["dkim.insecure-key"]);
    assert_eq!(
        report.with_code("dkim.insecure-key")[0].severity,
        "critical"
    );
    assert_eq!(key(&report, "s1")["key"]["bits"], 512);
    assert_eq!(report.dkim["verdict"], "fail");
}

#[test]
fn an_empty_p_is_a_revoked_key() {
    let report = audit("revoked.dkim.test");
    assert_eq!(dkim_codes(&report), ["dkim.revoked"]);
    assert_eq!(report.with_code("dkim.revoked")[0].severity, "info");
    assert_eq!(report.dkim["found"], serde_json::json!(["default"]));
}

#[test]
fn t_y_is_testing_and_the_fix_is_the_record_without_it() {
    let report = audit("testing.dkim.test");
    assert_eq!(dkim_codes(&report), ["dkim.testing"]);
    let fix = report.with_code("dkim.testing")[0].fix.clone().unwrap();
    assert!(
        fix.contains("k1._domainkey.testing.dkim.test TXT \"v=DKIM1; k=rsa; p=MIIB"),
        "{fix}"
    );
    assert!(!fix.contains("t=y"), "{fix}");
}

#[test]
fn a_key_that_is_not_base64_is_a_syntax_error() {
    let report = audit("syntax.dkim.test");
    assert_eq!(dkim_codes(&report), ["dkim.syntax"]);
    let finding = &report.with_code("dkim.syntax")[0];
    assert!(finding.message.contains("base64"), "{}", finding.message);
    assert_eq!(finding.evidence["name"], "mail._domainkey.syntax.dkim.test");
    assert!(
        !key(&report, "mail")["problems"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

/// RFC 8301 §3.1: rsa-sha1 MUST NOT be used to verify, so a key that allows only sha1 is
/// unusable, like one of unknown hashes: an error, "DKIM passing" not met, no grade A, although
/// everything else of the domain is in place.
#[test]
fn h_sha1_only_is_an_unusable_key() {
    let report = audit("sha1.dkim.test");
    assert_eq!(dkim_codes(&report), ["dkim.sha1"]);
    let finding = &report.with_code("dkim.sha1")[0];
    assert_eq!(finding.severity, "error");
    assert!(finding.message.contains("unusable"), "{}", finding.message);
    let fix = finding.fix.clone().unwrap();
    assert!(fix.contains("h=sha256"), "{fix}");
    assert_eq!(report.dkim["verdict"], "fail");
    assert_ne!(
        report.grade,
        "A",
        "score {}: {:?}",
        report.score,
        report.codes()
    );

    let requirement = |provider: &str, text: &str| {
        report
            .requirements
            .iter()
            .find(|r| r.provider == provider && r.requirement.starts_with(text))
            .unwrap_or_else(|| panic!("no requirement {text}"))
    };
    let dkim_passing = requirement("Outlook.com", "DKIM passing");
    assert_eq!(dkim_passing.status, "not-met", "{dkim_passing:?}");
    assert_eq!(dkim_passing.codes, ["dkim.sha1"]);
    // Its size (2048 bits) still meets the size requirement.
    assert_eq!(
        requirement("Gmail and Yahoo", "DKIM keys of at least 1024").status,
        "met"
    );
    // SPF alone still authenticates: either of them is enough.
    assert_eq!(
        requirement("Gmail and Yahoo", "SPF or DKIM").status,
        "published"
    );
    assert_eq!(
        requirement("Gmail and Yahoo", "both SPF and DKIM").status,
        "not-met"
    );
}

#[test]
fn an_ed25519_key_is_recognised() {
    let report = audit("ed25519.dkim.test");
    assert_eq!(dkim_codes(&report), Vec::<String>::new());
    let info = &key(&report, "dkim")["key"];
    assert_eq!(info["algorithm"], "ed25519");
    assert_eq!(info["encoding"], "raw");
    assert_eq!(report.dkim["verdict"], "ok");
}

#[test]
fn a_bare_pkcs1_key_is_read_and_noted() {
    let report = audit("pkcs1.dkim.test");
    assert_eq!(dkim_codes(&report), Vec::<String>::new());
    let record = key(&report, "s2048");
    assert_eq!(record["key"]["bits"], 2048);
    assert_eq!(record["key"]["encoding"], "pkcs1");
    assert_eq!(record["remarks"].as_array().unwrap().len(), 1);
}

#[test]
fn a_selector_delegated_by_cname_shows_the_chain() {
    let report = audit("cname.dkim.test");
    assert_eq!(dkim_codes(&report), Vec::<String>::new());
    assert_eq!(
        selector(&report, "selector1")["aliases"],
        serde_json::json!([
            "selector1._domainkey.cname.dkim.test",
            "selector1-cname-dkim-test._domainkey.tenant.provider.dkim.test"
        ])
    );
    assert_eq!(key(&report, "selector1")["key"]["bits"], 2048);
}

/// A selector delegated to any provider (not only Microsoft 365) whose key does not exist:
/// the negative answer carries the alias, and the finding says DKIM is published but not
/// turned on at the provider.
#[test]
fn a_selector_delegated_to_a_key_that_does_not_exist_shows_the_chain() {
    let report = audit("delegated.dkim.test");
    assert_eq!(
        selector(&report, "s1")["aliases"],
        serde_json::json!([
            "s1._domainkey.delegated.dkim.test",
            "s1.domainkey.u1234.wl.dns.test"
        ])
    );
    assert_eq!(selector(&report, "s1")["answer"], "nxdomain");
    let finding = &report.with_code("dkim.not-found")[0];
    assert_eq!(
        finding.evidence["dangling_aliases"],
        serde_json::json!([[
            "s1._domainkey.delegated.dkim.test",
            "s1.domainkey.u1234.wl.dns.test"
        ]])
    );
}

#[test]
fn no_key_at_any_selector_is_not_found_counting_those_tried_and_listing_them_in_evidence() {
    // `_domainkey.custom.dkim.test` exists (a selector no list knows is below it): every
    // built-in selector is asked.
    let report = audit("custom.dkim.test");
    assert_eq!(report.dkim["domainkey"], "nodata");
    assert_eq!(dkim_codes(&report), ["dkim.not-found"]);
    let finding = &report.with_code("dkim.not-found")[0];
    assert_eq!(finding.severity, "warning");
    let tried: Vec<&str> = finding.evidence["tried"]
        .as_array()
        .expect("tried")
        .iter()
        .filter_map(|s| s.as_str())
        .collect();
    for name in ["selector1", "google", "k1", "s1", "default"] {
        assert!(tried.contains(&name), "{name} not in {tried:?}");
    }
    // The message counts them, and names none: one line, not a list of dozens.
    assert!(
        finding
            .message
            .contains(&format!("any of the {} selectors tried", tried.len())),
        "{}",
        finding.message
    );
    assert!(
        !finding.message.contains("selector1"),
        "{}",
        finding.message
    );
    assert_eq!(report.dkim["verdict"], "weak");
}

#[test]
fn a_wildcard_spf_record_at_the_selectors_is_not_a_key_record() {
    let report = audit("wildcard.dkim.test");
    assert_eq!(dkim_codes(&report), ["dkim.not-found"]);
    let selector1 = selector(&report, "selector1");
    assert_eq!(selector1["status"], "not-key-record");
    assert_eq!(selector1["records"], serde_json::json!(["v=spf1 -all"]));
}

#[test]
fn a_selector_no_list_knows_is_found_with_selector() {
    let without = audit("custom.dkim.test");
    assert_eq!(dkim_codes(&without), ["dkim.not-found"]);

    let with = audit_with("custom.dkim.test", &["--selector", "custom"]);
    assert_eq!(dkim_codes(&with), Vec::<String>::new());
    assert_eq!(with.dkim["found"], serde_json::json!(["custom"]));
    assert_eq!(selector(&with, "custom")["source"], "given");
}

#[test]
fn a_selector_whose_server_never_answers_is_lookup_failed_not_not_found() {
    let report = audit("deadsel.dkim.test");
    assert_eq!(dkim_codes(&report), ["dkim.lookup-failed"]);
    assert_eq!(report.dkim["verdict"], "unknown");
    assert_eq!(selector(&report, "selector1")["status"], "lookup-failed");
    let finding = &report.with_code("dkim.lookup-failed")[0];
    assert_eq!(finding.evidence["failed"][0]["selector"], "selector1");
}

/// RFC 8020 §2: `_domainkey.none.dkim.test` is NXDOMAIN, so no selector exists below it: the
/// built-in selectors are not guessed, and the whole audit costs few questions.
#[test]
fn no_selector_is_guessed_below_a_domainkey_that_does_not_exist() {
    let report = audit("none.dkim.test");
    let server = crate::support::dns_server::server();
    for selector in ["selector1", "google", "k1", "s1", "default"] {
        let name = format!("{selector}._domainkey.none.dkim.test");
        assert!(server.queries_for(&name).is_empty(), "{name} was asked");
    }
    assert_eq!(report.dkim["domainkey"], "nxdomain");
    assert_eq!(report.dkim["builtin_skipped"], true);
    assert_eq!(report.dkim["selectors"], serde_json::json!([]));
    assert_eq!(dkim_codes(&report), ["dkim.not-found"]);
    let finding = &report.with_code("dkim.not-found")[0];
    assert_eq!(finding.evidence["domainkey"], "nxdomain");
    assert_eq!(report.dkim["verdict"], "weak");
    // One question for DKIM; the others: SPF, MX (none: the implicit MX's A, AAAA, PTR, and its
    // DANE TLSA), DMARC with its tree walk (3), MTA-STS, TLS-RPT, BIMI, DNSSEC (DNSKEY, DS) and
    // the domain on the fixture domain list.
    assert!(
        report.stats.queries <= 16,
        "{} queries: {:?}",
        report.stats.queries,
        report.stats
    );
    // Nothing failed: every question was answered at once.
    assert_eq!(
        (
            report.stats.retries,
            report.stats.timeouts,
            report.stats.skipped
        ),
        (0, 0, 0)
    );
}

/// The names given with --selector are asked exactly as given, whatever `_domainkey` says.
#[test]
fn a_given_selector_is_asked_below_a_domainkey_that_does_not_exist() {
    let report = audit_with("none.dkim.test", &["--selector", "mykey"]);
    let selectors = report.dkim["selectors"].as_array().unwrap();
    assert_eq!(selectors.len(), 1, "{selectors:?}");
    assert_eq!(selectors[0]["selector"], "mykey");
    assert_eq!(selectors[0]["source"], "given");
    assert_eq!(selectors[0]["answer"], "nxdomain");
}

/// A domain whose selectors exist still has every built-in selector asked and its keys found.
#[test]
fn selectors_below_an_existing_domainkey_are_all_asked() {
    for (domain, found) in [
        ("good.dkim.test", "selector1"),
        ("weak.dkim.test", "google"),
        ("revoked.dkim.test", "default"),
    ] {
        let report = audit(domain);
        assert_eq!(report.dkim["domainkey"], "nodata", "{domain}");
        assert_eq!(report.dkim["found"], serde_json::json!([found]), "{domain}");
        assert!(
            report.dkim["selectors"].as_array().unwrap().len() > 30,
            "{domain}: {}",
            report.dkim["selectors"]
        );
    }
}

/// The selectors of the provider the MX and SPF name are asked first, and even below a
/// `_domainkey` the server denies (RFC 8020 §1 warns of servers that deny names with names below
/// them): their key shows the denial wrong, and every other selector is asked too.
#[test]
fn the_senders_provider_is_asked_first_and_despite_a_wrong_nxdomain() {
    let report = audit("entlie.dkim.test");
    assert_eq!(report.dkim["domainkey"], "nxdomain");
    // A provider's key showed the NXDOMAIN wrong: the built-in selectors were asked too.
    assert_eq!(report.dkim["builtin_skipped"], false);
    assert_eq!(report.dkim["selectors"][0]["selector"], "google");
    assert_eq!(report.dkim["selectors"][0]["provider"], "Google Workspace");
    assert_eq!(
        report.dkim["found"],
        serde_json::json!(["google", "s1"]),
        "{}",
        report.dkim
    );
    assert!(report.dkim["selectors"].as_array().unwrap().len() > 30);
    assert!(!report.has("dkim.not-found"));
}

/// A key at a selector given with --selector shows a denied `_domainkey` wrong as well as a
/// provider's does: the built-in selectors are asked, and the key at s1 is found.
#[test]
fn a_given_selectors_key_also_shows_a_wrong_nxdomain() {
    let report = audit_with("entlie.dkim.test", &["--selector", "google"]);
    assert_eq!(report.dkim["builtin_skipped"], false, "{}", report.dkim);
    assert_eq!(
        report.dkim["found"],
        serde_json::json!(["google", "s1"]),
        "{}",
        report.dkim
    );
    assert!(!report.has("dkim.not-found"));
}
