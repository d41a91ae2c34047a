//! What to fix, as a user reads it: the terminal report's first screen (grade, then what to do
//! first), each fix printed once, and one complete record to publish per DNS name, in JSON and
//! in every text format (`fixtures/zones/fixes.test.zone`).

use crate::support::report::RecordToPublishOut;
use crate::support::{self, Report, audit, audit_with};

/// The table report of `audit ARGS...` on a 100-column terminal (`COLUMNS=100`).
fn terminal(args: &[&str]) -> String {
    let mut all = vec!["audit"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--fail-on", "never"]);
    let output = support::run_ok(support::command(&all).env("COLUMNS", "100"));
    String::from_utf8(output.stdout).expect("UTF-8")
}

/// The text with every run of white space (line breaks and indents of wrapped prose included)
/// made one space: what a reader reads, however it was wrapped.
fn words(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn occurrences(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

/// The lines of the terminal report that are zone-file lines of records to publish.
fn record_lines<'t>(text: &'t str, name: &str) -> Vec<&'t str> {
    let start = format!("{name}. IN TXT ");
    text.lines().filter(|l| l.starts_with(&start)).collect()
}

#[test]
fn a_listed_domain_shows_its_grade_and_first_fix_on_the_first_screen_and_each_fix_once() {
    let args = ["listed.fixes.test", "--ip", "192.0.2.20"];
    let report = audit_with(args[0], &args[1..]);
    let text = terminal(&args);
    let first_screen: Vec<&str> = text.lines().take(25).collect();
    assert!(
        first_screen[0].contains(&format!("grade {}", report.grade)),
        "{text}"
    );
    let first = &report.scoring.top_fixes[0];
    assert_eq!(first.code, "ip.listed");
    let first_line = first_screen
        .iter()
        .position(|l| l.starts_with("1. "))
        .unwrap_or_else(|| panic!("no first fix in the first 25 lines:\n{text}"));
    assert!(first_screen[first_line].contains("ip.listed"), "{text}");
    // The first fix whole, within the first screen however it is wrapped.
    assert!(
        words(&first_screen.join("\n")).contains(&words(&first.fix)),
        "{text}"
    );

    // Each fix once: every finding's fix, and every top fix, at most once in the whole report.
    let all = words(&text);
    for finding in &report.findings {
        if let Some(fix) = &finding.fix {
            assert!(
                occurrences(&all, &words(fix)) <= 1,
                "{} printed twice: {fix}\n{text}",
                finding.code
            );
        }
    }
    for fix in &report.scoring.top_fixes {
        assert!(occurrences(&all, &words(&fix.fix)) <= 1, "{fix:?}\n{text}");
    }
    // The DMARC record once, paste-ready on its own line.
    let dmarc = record_lines(&text, "_dmarc.listed.fixes.test");
    assert_eq!(dmarc.len(), 1, "{text}");
    assert_eq!(occurrences(&text, "v=DMARC1; p=quarantine"), 1, "{text}");
    // One row per area: the domain's blocklists once, beside the sending IP's.
    let rows_naming = |area: &str| {
        text.lines()
            .filter(|l| l.trim_start_matches(['│', '|', ' ']).starts_with(area))
            .count()
    };
    assert_eq!(rows_naming("Blocklists"), 1, "{text}");
    assert_eq!(rows_naming("SPF"), 1, "{text}");
}

#[test]
fn no_fix_adds_a_listed_ip_to_spf() {
    let report = audit_with("listed.fixes.test", &["--ip", "192.0.2.20"]);
    assert!(report.has("ip.listed"), "{:?}", report.codes());
    let unauthorized = &report.with_code("spf.ip-not-authorized")[0];
    let fix = unauthorized.fix.as_deref().unwrap_or_default();
    assert!(!fix.contains("ip4:192.0.2.20"), "{fix}");
    assert!(fix.contains("listed on RBL Major"), "{fix}");
    for record in &report.records_to_publish {
        assert!(!record.value.contains("192.0.2.20"), "{record:?}");
    }
    for finding in &report.findings {
        assert!(
            !finding
                .fix
                .as_deref()
                .unwrap_or_default()
                .contains("ip4:192.0.2.20"),
            "{finding:?}"
        );
    }
    // Not listed: the same domain is told to add it, in its record to publish.
    let clean = audit_with("listed.fixes.test", &["--ip", "192.0.2.10"]);
    let spf = clean
        .records_to_publish
        .iter()
        .find(|r| r.name == "listed.fixes.test")
        .expect("an SPF record to publish");
    assert_eq!(spf.value, "v=spf1 ip4:198.51.100.0/24 ip4:192.0.2.10 -all");
    assert_eq!(spf.fixes, ["spf.ip-not-authorized"]);
}

/// The one record to publish at `name`, failing when there is none or more than one.
fn one_record<'r>(report: &'r Report, name: &str) -> &'r RecordToPublishOut {
    let records: Vec<_> = report
        .records_to_publish
        .iter()
        .filter(|r| r.name == name)
        .collect();
    assert_eq!(records.len(), 1, "{:#?}", report.records_to_publish);
    records[0]
}

#[test]
fn p_none_without_rua_gets_one_dmarc_record_with_rua_and_the_stronger_policy() {
    let report = audit("none-norua.fixes.test");
    assert!(report.has("dmarc.policy-none") && report.has("dmarc.no-rua"));
    let record = one_record(&report, "_dmarc.none-norua.fixes.test");
    assert_eq!(record.record_type, "TXT");
    assert_eq!(
        record.value,
        "v=DMARC1; p=quarantine; rua=mailto:dmarc-reports@none-norua.fixes.test"
    );
    assert_eq!(record.replaces.as_deref(), Some("v=DMARC1; p=none"));
    let mut fixes = record.fixes.clone();
    fixes.sort();
    assert_eq!(fixes, ["dmarc.no-rua", "dmarc.policy-none"]);
    // The staged path: what to watch before quarantine, then before reject.
    assert!(
        record.steps[0].starts_with("Before p=quarantine"),
        "{record:?}"
    );
    assert!(record.steps[1].starts_with("Then p=reject"), "{record:?}");

    let text = terminal(&["none-norua.fixes.test"]);
    let lines = record_lines(&text, "_dmarc.none-norua.fixes.test");
    assert_eq!(
        lines,
        [
            "_dmarc.none-norua.fixes.test. IN TXT \"v=DMARC1; p=quarantine; \
             rua=mailto:dmarc-reports@none-norua.fixes.test\""
        ],
        "{text}"
    );
    assert_eq!(occurrences(&text, "IN TXT \"v=DMARC1"), 1, "{text}");
    assert!(!text.contains("\"v=DMARC1; p=quarantine\""), "{text}");

    // Markdown and HTML show the same record.
    let markdown = support::render(&["audit", "none-norua.fixes.test"], "markdown");
    assert!(markdown.contains(lines[0]), "{markdown}");
    let html = support::render(&["audit", "none-norua.fixes.test"], "html");
    assert!(html.contains(lines[0]), "{html}");
}

#[test]
fn a_misspelt_include_is_corrected_and_the_spf_to_publish_keeps_the_sender() {
    let report = audit("typo.fixes.test");
    let syntax = &report.with_code("spf.syntax")[0];
    assert!(
        syntax.message.contains("did you mean `include`?"),
        "{}",
        syntax.message
    );
    let record = one_record(&report, "typo.fixes.test");
    assert_eq!(record.value, "v=spf1 include:_spf.google.com ~all");
    assert_eq!(
        record.replaces.as_deref(),
        Some("v=spf1 inlcude:_spf.google.com ~all")
    );
    let text = terminal(&["typo.fixes.test"]);
    assert_eq!(
        record_lines(&text, "typo.fixes.test"),
        ["typo.fixes.test. IN TXT \"v=spf1 include:_spf.google.com ~all\""],
        "{text}"
    );
    assert_eq!(
        occurrences(&text, "include:_spf.google.com ~all"),
        1,
        "the record once:\n{text}"
    );
}

#[test]
fn a_parked_domain_gets_no_advice_only_senders_need() {
    let report = audit("parked.fixes.test");
    assert!(report.parked);
    for code in ["dkim.not-found", "dmarc.no-rua"] {
        assert!(!report.has(code), "{code}: {:?}", report.codes());
    }
    assert!(report.requirements.is_empty(), "{:?}", report.requirements);
    assert_eq!(report.dkim["verdict"], "ok");
    assert!(report.records_to_publish.is_empty());
    assert_eq!(report.grade, "A");
    let text = terminal(&["parked.fixes.test"]);
    assert!(text.contains("Parked: this domain sends no mail"), "{text}");
    assert!(!text.contains("DKIM key your mail"), "{text}");
}

#[test]
fn requirements_are_one_line_per_provider_unless_verbose() {
    let text = terminal(&["none-norua.fixes.test"]);
    let gmail: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("Gmail and Yahoo: "))
        .collect();
    assert_eq!(gmail.len(), 1, "{text}");
    assert!(gmail[0].contains(" of 8 not met"), "{text}");
    assert!(!text.contains("Applies to"), "{text}");
    let verbose = terminal(&["none-norua.fixes.test", "--verbose"]);
    assert!(verbose.contains("Applies to"), "{verbose}");
}
