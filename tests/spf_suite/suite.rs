//! The `OpenSPF` test suites, read into scenarios: each a zone and the `check_host` runs to make
//! against it. The format (multi-document YAML: `tests`, `zonedata`) is that of the RFC 7208 and
//! RFC 4408 suites of openspf.org (`fixtures/rfc7208/`, `fixtures/rfc4408/`) and of blitiri's
//! edition of them and its own tests (`fixtures/blitiri-spf/`), licences beside each.
//!
//! blitiri's edition writes `TIMEOUT` as `TIMEOUT: true`, adds `SERVFAIL: true` (the name's
//! questions get SERVFAIL) and `CNAMELOOP: true` (the name is an alias of itself), and marks
//! the cases its own implementation does not pass with `skip: <reason>`. Those marks are about
//! blitiri's code, not the suite: they are read ([`Case::upstream_skip`]) and the cases run.

use std::net::IpAddr;

use serde::Deserialize as _;
use serde_yaml::Value;

/// One YAML document (or one state of a mail-auth file's zone): the zone data and the cases
/// run against it.
pub struct Scenario {
    /// Each name of the zone, with its entries as written.
    pub zone: Vec<(String, Vec<Entry>)>,
    pub cases: Vec<Case>,
}

/// An entry of a name's zone data.
#[derive(Clone, Debug)]
pub enum Entry {
    /// `TIMEOUT`: questions for this name get no answer, except for the types listed before it.
    Timeout,
    /// `SERVFAIL`: every question for this name gets SERVFAIL.
    ServFail,
    /// `TYPE: value`, e.g. `A: 192.0.2.1`, `MX: [10, mx.example.com]`, `SPF: "v=spf1 -all"`.
    Record { kind: String, value: Value },
}

/// Which identities a case checks, as its suite's driver does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Identity {
    /// The MAIL FROM identity, or HELO when MAIL FROM is empty (RFC 7208 §2.4): the `OpenSPF`
    /// suites' reference driver.
    MailFrom,
    /// HELO first (`check_host(<ip>, <helo>, postmaster@<helo>)`); when it passes, the MAIL FROM
    /// identity, else the HELO result stands: mail-auth's `SpfParameters::verify`.
    HeloThenMailFrom,
}

/// One test case: a `check_host` run and the results the suite accepts.
#[derive(Clone, Debug)]
pub struct Case {
    pub name: String,
    pub scenario: String,
    pub host: IpAddr,
    pub mailfrom: String,
    pub helo: String,
    pub identity: Identity,
    /// Acceptable results, the preferred one first.
    pub results: Vec<String>,
    /// The expected explanation; `DEFAULT` means "no `exp=` explanation".
    pub explanation: Option<String>,
    /// blitiri's `skip:` note: why blitiri's own implementation does not pass the case.
    pub upstream_skip: Option<String>,
}

/// Every scenario of an OpenSPF-format suite, in file order.
pub fn scenarios(text: &str) -> Vec<Scenario> {
    serde_yaml::Deserializer::from_str(text)
        .map(|document| {
            let scenario = Value::deserialize(document).expect("suite document is YAML");
            read_scenario(&scenario)
        })
        .collect()
}

fn read_scenario(scenario: &Value) -> Scenario {
    let description = scenario
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let mut zone = Vec::new();
    if let Some(zonedata) = scenario.get("zonedata").and_then(Value::as_mapping) {
        for (name, entries) in zonedata {
            let name = name
                .as_str()
                .expect("zone data names are strings")
                .to_owned();
            let entries = entries
                .as_sequence()
                .into_iter()
                .flatten()
                .flat_map(|entry| read_entry(&name, entry))
                .collect();
            zone.push((name, entries));
        }
    }
    let tests = scenario
        .get("tests")
        .and_then(Value::as_mapping)
        .expect("every scenario has tests");
    let cases = tests
        .iter()
        .map(|(name, test)| read_case(name.as_str().expect("test name"), &description, test))
        .collect();
    Scenario { zone, cases }
}

fn read_entry(name: &str, entry: &Value) -> Vec<Entry> {
    match entry {
        Value::String(word) if word == "TIMEOUT" => vec![Entry::Timeout],
        Value::Mapping(map) => map
            .iter()
            .map(|(kind, value)| match kind.as_str().expect("record type") {
                // blitiri's spellings of the markers.
                "TIMEOUT" => Entry::Timeout,
                "SERVFAIL" => Entry::ServFail,
                "CNAMELOOP" => Entry::Record {
                    kind: "CNAME".to_owned(),
                    value: Value::String(name.to_owned()),
                },
                kind => Entry::Record {
                    kind: kind.to_owned(),
                    value: value.clone(),
                },
            })
            .collect(),
        other => panic!("unknown zone data entry {other:?}"),
    }
}

fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        Value::Null => String::new(),
        other => panic!("not a string: {other:?}"),
    }
}

fn read_case(name: &str, scenario: &str, test: &Value) -> Case {
    let results = match &test["result"] {
        Value::Sequence(many) => many.iter().map(text).collect(),
        one => vec![text(one)],
    };
    let host = text(&test["host"]);
    Case {
        name: name.to_owned(),
        scenario: scenario.to_owned(),
        host: host
            .parse()
            .unwrap_or_else(|e| panic!("{name}: host {host}: {e}")),
        mailfrom: test.get("mailfrom").map(text).unwrap_or_default(),
        helo: test.get("helo").map(text).unwrap_or_default(),
        identity: Identity::MailFrom,
        results,
        explanation: test.get("explanation").map(text),
        upstream_skip: test.get("skip").map(text),
    }
}
