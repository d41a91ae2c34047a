//! Failures and hostile data: a DNS failure is "unknown", never "missing", and records written by
//! strangers neither crash the audit nor corrupt its output.

use crate::support::{self, audit};

const LOOKUP_FAILED: [&str; 4] = [
    "spf.lookup-failed",
    "dmarc.lookup-failed",
    "dkim.lookup-failed",
    "mx.lookup-failed",
];
const ABSENT: [&str; 4] = [
    "spf.missing",
    "dmarc.missing",
    "dkim.not-found",
    "mx.missing",
];

fn assert_unknown_never_missing(domain: &str) {
    let report = audit(domain);
    for code in LOOKUP_FAILED {
        assert!(
            report.has(code),
            "{domain}: {code} not raised: {:?}",
            report.codes()
        );
    }
    for code in ABSENT {
        assert!(
            !report.has(code),
            "{domain}: a DNS failure was reported as {code}"
        );
    }
    for area in [&report.spf, &report.dmarc, &report.dkim, &report.mx] {
        assert_eq!(area["verdict"], "unknown", "{domain}: {area}");
    }
}

#[test]
fn a_zone_whose_server_never_answers_is_unknown_not_missing() {
    assert_unknown_never_missing("x.dead.test");
}

#[test]
fn a_servfail_zone_is_unknown_not_missing() {
    assert_unknown_never_missing("x.servfail.test");
}

#[test]
fn hostile_records_give_valid_json_with_the_bytes_kept_as_text() {
    let report = audit("hostile.test");
    assert_eq!(report.target, "hostile.test");
    // The record as fetched: markup and escape bytes kept as characters of a JSON string,
    // bytes that are not UTF-8 as U+FFFD.
    assert_eq!(
        report.spf["record"],
        "v=spf1 include:<script>alert(1)</script>.hostile.test \u{1b}[2J\u{1b}[31m \0\u{1}\u{fffd}\u{fffd}\u{7} -all"
    );
    assert!(report.has("spf.syntax"), "{:?}", report.codes());
}

#[test]
fn hostile_records_do_not_corrupt_the_table() {
    for domain in ["hostile.test", "big.hostile.test"] {
        let output = support::run(&["audit", domain, "--fail-on", "never"]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let table = String::from_utf8(output.stdout).expect("the table is UTF-8");
        assert!(
            !table.contains('\u{1b}'),
            "an escape sequence reached the terminal:\n{table}"
        );
        assert!(!table.contains('\0'), "a NUL byte reached the terminal");
        assert!(table.starts_with(domain), "{table}");
        assert!(
            table.lines().all(|l| l.chars().count() <= 120),
            "a line overflows the table width:\n{table}"
        );
    }
}

#[test]
fn a_txt_answer_too_large_for_udp_is_fetched_over_tcp() {
    let report = audit("big.hostile.test");
    let record = report.spf["record"].as_str().expect("the record");
    assert_eq!(record.len(), 4007, "the 4 KB record was not fetched whole");
    assert!(report.has("spf.too-long"), "{:?}", report.codes());
    let queries = support::dns_server::server().queries_for("big.hostile.test");
    assert!(
        queries.iter().any(|q| q.over_tcp),
        "no TCP retry: {queries:?}"
    );
}
