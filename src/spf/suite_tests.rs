//! The syntax cases of the `OpenSPF` RFC 7208 test suite (`fixtures/rfc7208/`, release 2014.04
//! with the 2019.08 additions) against the strict parser.
//!
//! The suite describes whole `check_host` runs; here each case whose result is permerror
//! *because a record does not parse* must be rejected by [`parse`], and each case whose result
//! is not permerror must have a record that parses. Every other permerror case is listed in
//! [`NOT_SYNTAX`] with the reason, so that a case added to the suite cannot go unclassified.
//!
//! Deliberately not checked here:
//! - `invalid-domain-long-via-macro` (suite accepts fail or permerror): the bad label comes from
//!   expanding `%{H}` with the sender's HELO, so the record parses; the audit cannot know it.
//! - The cases of the non-permerror results are checked on the record at the domain first
//!   evaluated only, not on records reached through include/redirect (those may be never
//!   evaluated because an earlier mechanism matched).

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize as _;
use serde_yaml::Value;

use super::record::{is_spf_record, parse};

const SUITE: &str = include_str!("../../fixtures/rfc7208/rfc7208-tests.yml");

/// permerror because a record does not parse: (test name, the domain whose record is broken).
const SYNTAX_ERRORS: &[(&str, &str)] = &[
    ("non-ascii-policy", "hosed.example.com"),
    ("non-ascii-mech", "hosed2.example.com"),
    ("non-ascii-result", "hosed3.example.com"),
    ("control-char-policy", "ctrl.example.com"),
    ("badip4", "badip.example.com"),
    ("detect-errors-anywhere", "t1.example.com"),
    ("modifier-charset-bad1", "t3.example.com"),
    ("modifier-charset-bad2", "t4.example.com"),
    ("redirect-is-modifier", "t8.example.com"),
    ("invalid-domain", "t9.example.com"),
    ("all-dot", "e1.example.com"),
    ("all-arg", "e2.example.com"),
    ("all-cidr", "e3.example.com"),
    ("ptr-cidr", "e1.example.com"),
    ("ptr-empty-domain", "e5.example.com"),
    ("a-bad-cidr4", "e6a.example.com"),
    ("a-bad-cidr6", "e7.example.com"),
    ("a-dual-cidr-ip4-err", "e8e.example.com"),
    ("a-bad-domain", "e9.example.com"),
    ("a-null", "e3.example.com"),
    ("a-numeric", "e4.example.com"),
    ("a-numeric-toplabel", "e5.example.com"),
    ("a-bad-toplabel", "e12.example.com"),
    ("a-only-toplabel", "e5a.example.com"),
    ("a-only-toplabel-trailing-dot", "e5b.example.com"),
    ("a-empty-domain", "e13.example.com"),
    // The included record is the broken one.
    ("include-permerror", "e6.example.com"),
    ("include-syntax-error", "e6.example.com"),
    ("include-cidr", "e9.example.com"),
    ("include-empty-domain", "e8.example.com"),
    ("mx-bad-cidr4", "e6a.example.com"),
    ("mx-bad-cidr6", "e7.example.com"),
    ("mx-bad-domain", "e9.example.com"),
    ("mx-null", "e3.example.com"),
    ("mx-numeric-top-label", "e5.example.com"),
    ("mx-bad-toplab", "e12.example.com"),
    ("mx-empty-domain", "e13.example.com"),
    ("exists-empty-domain", "e1.example.com"),
    ("exists-implicit", "e2.example.com"),
    ("exists-cidr", "e3.example.com"),
    ("cidr4-33", "e3.example.com"),
    ("cidr4-032", "e4.example.com"),
    ("bare-ip4", "e5.example.com"),
    ("bad-ip4-port", "e8.example.com"),
    ("bad-ip4-short", "e9.example.com"),
    ("ip4-dual-cidr", "e6.example.com"),
    ("bare-ip6", "e1.example.com"),
    ("cidr6-129", "e3.example.com"),
    ("cidr6-bad", "e4.example.com"),
    ("ip6-bad1", "e6.example.com"),
    ("redirect-syntax-error", "e17.example.com"),
    ("invalid-modifier", "e5.example.com"),
    ("empty-modifier-name", "e6.example.com"),
    ("exp-empty-domain", "e12.example.com"),
    ("exp-syntax-error", "e16.example.com"),
    ("exp-twice", "e14.example.com"),
    ("redirect-empty-domain", "e18.example.com"),
    ("redirect-twice", "e15.example.com"),
    ("unknown-modifier-syntax", "e9.example.com"),
    ("exp-only-macro-char", "e2.example.com"),
    ("invalid-macro-char", "e1.example.com"),
    ("invalid-embedded-macro-char", "e1e.example.com"),
    ("invalid-trailing-macro-char", "e1t.example.com"),
    ("undef-macro", "e5.example.com"),
];

/// The suite allows fail or permerror (RFC 7208 leaves these undefined); the strict parser
/// rejects a literal label that no DNS query can carry.
const EITHER_REJECTED: &[(&str, &str)] = &[
    ("invalid-domain-empty-label", "t10.example.com"),
    ("invalid-domain-long", "t11.example.com"),
];

/// permerror for another reason than syntax; the audit raises these from the walk.
const NOT_SYNTAX: &[(&str, &str)] = &[
    (
        "multitxt1",
        "two v=spf1 TXT records (§4.5): spf.multiple-records",
    ),
    (
        "multitxt2",
        "two v=spf1 records (§4.5): spf.multiple-records",
    ),
    (
        "multispf1",
        "two identical v=spf1 records (§4.5): spf.multiple-records",
    ),
    (
        "include-none",
        "the include target has no SPF record (§5.2): spf.include-missing",
    ),
    (
        "redirect-none",
        "the redirect target has no SPF record (§6.1): spf.include-missing",
    ),
    ("redirect-loop", "redirect back to itself: spf.loop"),
    ("include-loop", "includes that come back: spf.loop"),
    ("mx-limit", "11 MX records (§4.6.4): spf.mx-limit"),
    (
        "mech-over-limit",
        "11 DNS-querying terms (§4.6.4): spf.lookup-limit",
    ),
    (
        "include-over-limit",
        "11 DNS-querying terms through an include: spf.lookup-limit",
    ),
    (
        "void-over-limit",
        "3 void lookups (§4.6.4): spf.void-lookup-limit",
    ),
    (
        "invalid-domain-long-via-macro",
        "the long label comes from %{H}, known only to check_host",
    ),
];

struct Case {
    name: String,
    results: Vec<String>,
    /// The domain `check_host` starts at: the MAIL FROM domain, or the HELO name.
    start: String,
    /// The v=spf1 records of each domain of the case's scenario.
    zone: BTreeMap<String, Vec<String>>,
}

fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        // Several character-strings, joined without spaces (§3.3).
        Value::Sequence(strings) => Some(strings.iter().filter_map(Value::as_str).collect()),
        _ => None,
    }
}

fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for document in serde_yaml::Deserializer::from_str(SUITE) {
        let scenario = Value::deserialize(document).expect("suite document is YAML");
        let mut zone: BTreeMap<String, Vec<String>> = BTreeMap::new();
        if let Some(zonedata) = scenario.get("zonedata").and_then(Value::as_mapping) {
            for (domain, records) in zonedata {
                let domain = domain.as_str().expect("domain").to_ascii_lowercase();
                let entry = zone.entry(domain).or_default();
                for record in records.as_sequence().into_iter().flatten() {
                    let Some(record) = record.as_mapping() else {
                        continue;
                    };
                    for (kind, value) in record {
                        if matches!(kind.as_str(), Some("SPF" | "TXT"))
                            && let Some(text) = text_of(value)
                            && is_spf_record(&text)
                        {
                            entry.push(text);
                        }
                    }
                }
            }
        }
        let tests = scenario
            .get("tests")
            .and_then(Value::as_mapping)
            .expect("tests");
        for (name, test) in tests {
            let results = match &test["result"] {
                Value::String(one) => vec![one.clone()],
                Value::Sequence(many) => many
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
                other => panic!("result {other:?}"),
            };
            let mailfrom = test.get("mailfrom").and_then(Value::as_str).unwrap_or("");
            let start = match mailfrom.rsplit_once('@') {
                Some((_, domain)) => domain.to_owned(),
                None => test["helo"].as_str().expect("helo").to_owned(),
            };
            cases.push(Case {
                name: name.as_str().expect("test name").to_owned(),
                results,
                start: start.to_ascii_lowercase(),
                zone: zone.clone(),
            });
        }
    }
    cases
}

fn records_at<'a>(case: &'a Case, domain: &str) -> &'a [String] {
    case.zone.get(domain).map_or(&[], Vec::as_slice)
}

#[test]
fn the_suite_is_read_whole() {
    let cases = cases();
    assert_eq!(cases.len(), 203, "the suite's README counts 203 tests");
    let names: BTreeSet<_> = cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names.len(),
        cases.len(),
        "test names are unique across scenarios"
    );
    for (name, _) in SYNTAX_ERRORS
        .iter()
        .chain(EITHER_REJECTED)
        .chain(NOT_SYNTAX)
    {
        assert!(names.contains(name), "{name} is not in the suite");
    }
}

#[test]
fn every_record_the_suite_calls_a_syntax_error_is_rejected() {
    let cases = cases();
    for (name, domain) in SYNTAX_ERRORS.iter().chain(EITHER_REJECTED) {
        let case = cases.iter().find(|c| c.name == *name).expect(name);
        assert!(case.results.iter().any(|r| r == "permerror"), "{name}");
        let records = records_at(case, domain);
        assert_eq!(records.len(), 1, "{name}: records at {domain}: {records:?}");
        let errors = parse(&records[0]).expect_err(&format!(
            "{name}: `{}` was accepted",
            records[0].escape_debug()
        ));
        assert!(errors.iter().all(|e| !e.reason.is_empty()), "{name}");
    }
}

#[test]
fn every_permerror_case_is_classified() {
    let classified: BTreeSet<&str> = SYNTAX_ERRORS
        .iter()
        .chain(EITHER_REJECTED)
        .chain(NOT_SYNTAX)
        .map(|(name, _)| *name)
        .collect();
    for case in cases() {
        if case.results.iter().any(|r| r == "permerror") {
            assert!(
                classified.contains(case.name.as_str()),
                "{} is unclassified",
                case.name
            );
        }
    }
}

#[test]
fn records_the_suite_evaluates_without_permerror_parse() {
    let mut checked = 0;
    for case in cases() {
        if case.results.iter().any(|r| r == "permerror") {
            continue;
        }
        for record in records_at(&case, &case.start) {
            if let Err(errors) = parse(record) {
                panic!(
                    "{}: `{}` rejected: {errors:?}",
                    case.name,
                    record.escape_debug()
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} records checked");
}

#[test]
fn the_non_syntax_permerrors_parse_so_the_walk_must_catch_them() {
    let cases = cases();
    for (name, _) in NOT_SYNTAX {
        let case = cases.iter().find(|c| c.name == *name).expect(name);
        for record in records_at(case, &case.start) {
            assert!(parse(record).is_ok(), "{name}: `{record}` does not parse");
        }
    }
}
