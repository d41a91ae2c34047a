//! Failures and hostile data: a DNS failure is "unknown", never "missing", and records written by
//! strangers neither crash the audit nor corrupt its output.

use crate::support::{self, audit};

const LOOKUP_FAILED: [&str; 7] = [
    "spf.lookup-failed",
    "dmarc.lookup-failed",
    "dkim.lookup-failed",
    "mx.lookup-failed",
    "mtasts.lookup-failed",
    "tlsrpt.lookup-failed",
    "bimi.lookup-failed",
];
const ABSENT: [&str; 7] = [
    "spf.missing",
    "dmarc.missing",
    "dkim.not-found",
    "mx.missing",
    "mtasts.missing",
    "tlsrpt.missing",
    "bimi.missing",
];

/// A domain whose own name servers fail (the whole zone, SOA included, while the resolver
/// answers everything else): one finding names that root cause and the areas it left unknown;
/// no area says "missing", none raises its own lookup failure, and the audit says it is
/// incomplete.
fn assert_one_root_cause_never_missing(domain: &str, answer: &str) {
    let report = audit(domain);
    let root = report.with_code("dns.nameservers-failed");
    assert_eq!(root.len(), 1, "{domain}: {:?}", report.codes());
    assert_eq!(root[0].severity, "critical");
    assert_eq!(root[0].evidence["answer"], answer);
    assert_eq!(
        root[0].evidence["areas_unknown"],
        serde_json::json!([
            "spf", "dmarc", "dkim", "mx", "mtasts", "tlsrpt", "bimi", "dnssec"
        ])
    );
    for code in LOOKUP_FAILED.iter().chain(&ABSENT) {
        assert!(!report.has(code), "{domain}: {code} beside the root cause");
    }
    for area in [&report.spf, &report.dmarc, &report.dkim, &report.mx] {
        assert_eq!(area["verdict"], "unknown", "{domain}: {area}");
    }
    assert!(report.incomplete);
    let unknown: Vec<&str> = report.unknown.iter().map(|u| u.area.as_str()).collect();
    assert_eq!(
        unknown,
        [
            "spf", "dmarc", "dkim", "mx", "mtasts", "tlsrpt", "bimi", "dnssec"
        ],
        "{domain}"
    );
    let dnssec = &report.unknown[7].reason;
    assert!(
        dnssec.contains("name servers") && dnssec.contains(answer),
        "{dnssec}"
    );
    assert!(
        report.unknown[0].reason.contains(answer),
        "{:?}",
        report.unknown
    );
    // One root cause, one fix.
    let fixes: Vec<&str> = report
        .scoring
        .top_fixes
        .iter()
        .map(|f| f.code.as_str())
        .collect();
    assert_eq!(fixes, ["dns.nameservers-failed"], "{domain}");
    assert_ne!(report.grade, "A");
}

#[test]
fn a_zone_whose_server_never_answers_is_one_root_cause_not_missing() {
    assert_one_root_cause_never_missing("x.dead.test", "timeout");
}

/// A dead domain costs a few full time-outs, not one per question: its questions go one at a
/// time until one is answered, so once the first timed out the others (SPF, DMARC, MX, the DKIM
/// selectors, the SOA that names the root cause) are not sent; the report counts both.
#[test]
fn a_dead_domain_waits_out_few_full_time_outs() {
    let report = audit("y.dead.test");
    let stats = &report.stats;
    // The first question, and the DMARC record of the organisational domain (dead.test: not the
    // audited domain) wait out the time-out.
    assert!(stats.timeouts <= 3, "{stats:?}");
    let questions = stats.queries + stats.skipped;
    assert!(questions >= 30, "{stats:?}");
    assert!(stats.skipped >= questions - 10, "{stats:?}");
    assert!(stats.timeouts * 10 < questions, "{stats:?}");
    // Cut short is unknown, never missing.
    assert_eq!(report.dkim["verdict"], "unknown");
    assert!(report.has("dns.nameservers-failed"), "{:?}", report.codes());
    for code in ABSENT {
        assert!(!report.has(code), "{code}: {:?}", report.codes());
    }
}

#[test]
fn a_servfail_zone_is_one_root_cause_not_missing() {
    assert_one_root_cause_never_missing("x.servfail.test", "SERVFAIL");
}

#[test]
fn no_format_calls_what_the_failing_name_servers_hid_missing() {
    let dir = tempfile::tempdir().unwrap();
    for format in ["table", "markdown", "html", "json"] {
        let path = dir.path().join(format);
        let output = support::run(&[
            "audit",
            "x.servfail.test",
            "--format",
            format,
            "--fail-on",
            "never",
            "--output",
            path.to_str().unwrap(),
        ]);
        assert!(output.status.success(), "{format}: {output:?}");
        let text = std::fs::read_to_string(&path).unwrap().to_lowercase();
        for absent in [
            "missing",
            "no record",
            "no-record",
            "no v=spf1",
            "no mx",
            "no dmarc",
        ] {
            assert!(!text.contains(absent), "{format} says {absent:?}");
        }
        assert!(
            text.contains("incomplete"),
            "{format} does not say incomplete"
        );
    }
}

#[test]
fn a_server_failing_one_type_is_that_area_s_lookup_failure() {
    // The zone answers its SOA: not a root cause, but the TXT-based areas are unknown.
    let report = audit("x.txtfail.test");
    assert!(
        !report.has("dns.nameservers-failed"),
        "{:?}",
        report.codes()
    );
    for code in [
        "spf.lookup-failed",
        "dmarc.lookup-failed",
        "dkim.lookup-failed",
    ] {
        assert!(report.has(code), "{code} not raised: {:?}", report.codes());
    }
    // (It has no MX record at all: mx.missing is right.)
    for code in ["spf.missing", "dmarc.missing", "dkim.not-found"] {
        assert!(!report.has(code), "a DNS failure was reported as {code}");
    }
    assert!(report.incomplete);
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
