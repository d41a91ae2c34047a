//! The mailbox providers' sender requirements, for a Microsoft 365 domain set up as Microsoft
//! documents it and for the same set-up missing each piece.

use crate::support::{Report, audit, audit_with};

/// The status of the requirement whose text starts with `requirement`, for `provider`.
fn status(report: &Report, provider: &str, requirement: &str) -> String {
    let value = serde_json::to_value(&report.requirements).unwrap();
    let found = value
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["provider"] == provider && r["requirement"].as_str().unwrap().starts_with(requirement)
        })
        .unwrap_or_else(|| panic!("no requirement '{requirement}' for {provider}: {value}"));
    found["status"].as_str().unwrap().to_owned()
}

const GMAIL: &str = "Gmail and Yahoo";
const OUTLOOK: &str = "Outlook.com";

#[test]
fn a_microsoft_365_domain_set_up_as_documented_publishes_everything_dns_can_show() {
    let report = audit("m365.test");
    assert!(
        report.findings.iter().all(|f| f.severity == "info"),
        "{:?}",
        report.codes()
    );
    // What DNS holds is met from DNS.
    for (provider, requirement) in [
        (GMAIL, "DKIM keys of at least 1024"),
        (GMAIL, "a DMARC record"),
    ] {
        assert_eq!(
            status(&report, provider, requirement),
            "met",
            "{provider}: {requirement}"
        );
    }
    // What needs mail to pass a check is never met from DNS alone: nothing was sent.
    for (provider, requirement) in [
        (GMAIL, "SPF or DKIM"),
        (GMAIL, "both SPF and DKIM"),
        (GMAIL, "From domain aligned"),
        (OUTLOOK, "SPF passing"),
        (OUTLOOK, "DKIM passing"),
        (OUTLOOK, "DMARC at least p=none"),
    ] {
        assert_eq!(
            status(&report, provider, requirement),
            "published",
            "{provider}: {requirement}"
        );
    }
    // What DNS cannot show is never "met".
    assert_eq!(
        status(&report, GMAIL, "one-click unsubscribe"),
        "not-checkable"
    );
    assert_eq!(status(&report, GMAIL, "TLS"), "not-checked");
    assert_eq!(
        status(&report, GMAIL, "forward-confirmed reverse DNS"),
        "not-checked"
    );
}

#[test]
fn without_sending_ips_no_requirement_that_needs_sending_is_met() {
    for domain in [
        "m365.test",
        "good.test",
        "m365-nodkim.test",
        "m365-nospf.test",
    ] {
        let report = audit(domain);
        for requirement in &report.requirements {
            let needs_sending = ["passing", "SPF or DKIM", "both SPF and DKIM", "aligned"]
                .iter()
                .any(|words| requirement.requirement.contains(words));
            if needs_sending {
                assert_ne!(requirement.status, "met", "{domain}: {requirement:?}");
            }
        }
    }
}

#[test]
fn without_dkim_bulk_and_outlook_requirements_are_not_met() {
    let report = audit("m365-nodkim.test");
    assert_eq!(status(&report, GMAIL, "SPF or DKIM"), "published");
    assert_eq!(status(&report, GMAIL, "both SPF and DKIM"), "not-met");
    assert_eq!(status(&report, OUTLOOK, "DKIM passing"), "not-met");
    assert_eq!(status(&report, OUTLOOK, "SPF passing"), "published");
    // Aligned through SPF only once SPF is seen to pass for a sending IP.
    assert_eq!(status(&report, GMAIL, "From domain aligned"), "published");
}

#[test]
fn without_dmarc_the_dmarc_requirements_are_not_met() {
    let report = audit("m365-nodmarc.test");
    assert_eq!(status(&report, GMAIL, "a DMARC record"), "not-met");
    assert_eq!(status(&report, OUTLOOK, "DMARC at least p=none"), "not-met");
    assert_eq!(status(&report, GMAIL, "both SPF and DKIM"), "published");
}

#[test]
fn without_spf_spf_requirements_are_not_met_but_dkim_still_authenticates() {
    let report = audit("m365-nospf.test");
    assert_eq!(status(&report, OUTLOOK, "SPF passing"), "not-met");
    assert_eq!(status(&report, GMAIL, "both SPF and DKIM"), "not-met");
    assert_eq!(status(&report, GMAIL, "SPF or DKIM"), "published");
}

#[test]
fn a_dns_failure_leaves_requirements_unknown_not_unmet() {
    let report = audit("x.dead.test");
    assert_eq!(status(&report, OUTLOOK, "SPF passing"), "unknown");
    assert_eq!(status(&report, GMAIL, "a DMARC record"), "unknown");
}

#[test]
fn reverse_dns_of_sending_ips_is_checked_when_they_are_given() {
    let confirmed = audit_with("m365.test", &["--ip", "192.0.2.10"]);
    assert_eq!(
        status(&confirmed, GMAIL, "forward-confirmed reverse DNS"),
        "met"
    );
    let no_ptr = audit_with("m365.test", &["--ip", "192.0.2.40"]);
    assert_eq!(
        status(&no_ptr, GMAIL, "forward-confirmed reverse DNS"),
        "not-met"
    );
}

#[test]
fn spf_passing_follows_check_host_for_the_sending_ips_given() {
    // 192.0.2.10 is not in Microsoft's ranges: SPF fails for it although the record is valid.
    let outside = audit_with("m365.test", &["--ip", "192.0.2.10"]);
    assert_eq!(status(&outside, OUTLOOK, "SPF passing"), "not-met");
    assert!(
        outside
            .requirements
            .iter()
            .any(|r| r.codes.iter().any(|c| c == "spf.ip-not-authorized"))
    );
    // good.test authorises 192.0.2.0/24: SPF passes, and with the domain's own envelope
    // sender it is aligned.
    let inside = audit_with("good.test", &["--ip", "192.0.2.10"]);
    assert_eq!(status(&inside, OUTLOOK, "SPF passing"), "met");
    assert_eq!(status(&inside, GMAIL, "SPF or DKIM"), "met");
    assert_eq!(status(&inside, GMAIL, "From domain aligned"), "met");
    // DKIM passing is seen only in a signed message.
    assert_eq!(status(&inside, OUTLOOK, "DKIM passing"), "published");
}

#[test]
fn selector_cnames_to_keys_that_do_not_exist_say_dkim_is_not_turned_on() {
    let report = audit("m365-dkimoff.test");
    let finding = &report.with_code("dkim.not-found")[0];
    assert!(finding.message.contains("alias (CNAME)"), "{finding:?}");
    assert!(
        finding
            .fix
            .as_deref()
            .unwrap()
            .contains("Turn DKIM signing on"),
        "{finding:?}"
    );
    let selector1 = report.dkim["selectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["selector"] == "selector1")
        .unwrap();
    assert_eq!(
        selector1["aliases"],
        serde_json::json!([
            "selector1._domainkey.m365-dkimoff.test",
            "selector1-m365-dkimoff-test._domainkey.contoso.onmicrosoft.com"
        ])
    );
    assert_eq!(status(&report, OUTLOOK, "DKIM passing"), "not-met");
    // Without the CNAMEs, the plain message.
    let plain = audit("m365-nodkim.test");
    assert!(
        !plain.with_code("dkim.not-found")[0]
            .message
            .contains("alias")
    );
}
