//! The RFC 7208 test suite (`fixtures/rfc7208/rfc7208-tests.yml`, openspf.org release 2014.04
//! with the 2019.08 additions; licence beside it), read into scenarios: each a zone and the
//! `check_host` runs to make against it.

use std::net::IpAddr;

use serde::Deserialize as _;
use serde_yaml::Value;

const SUITE: &str = include_str!("../../fixtures/rfc7208/rfc7208-tests.yml");

/// One YAML document: the zone data and the cases run against it.
pub struct Scenario {
    /// Each name of `zonedata`, with its entries as written.
    pub zone: Vec<(String, Vec<Entry>)>,
    pub cases: Vec<Case>,
}

/// An entry of a name's zone data.
#[derive(Clone, Debug)]
pub enum Entry {
    /// `TIMEOUT`: questions for this name get no answer, except for the types listed before it.
    Timeout,
    /// `TYPE: value`, e.g. `A: 192.0.2.1`, `MX: [10, mx.example.com]`, `SPF: "v=spf1 -all"`.
    Record { kind: String, value: Value },
}

/// One test case: a `check_host` run and the results the suite accepts.
#[derive(Clone, Debug)]
pub struct Case {
    pub name: String,
    pub scenario: String,
    pub host: IpAddr,
    pub mailfrom: String,
    pub helo: String,
    /// Acceptable results, the preferred one first.
    pub results: Vec<String>,
    /// The expected explanation; `DEFAULT` means "no `exp=` explanation".
    pub explanation: Option<String>,
}

/// Every scenario of the suite, in file order.
pub fn scenarios() -> Vec<Scenario> {
    serde_yaml::Deserializer::from_str(SUITE)
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
                .flat_map(read_entry)
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

fn read_entry(entry: &Value) -> Vec<Entry> {
    match entry {
        Value::String(word) if word == "TIMEOUT" => vec![Entry::Timeout],
        Value::Mapping(map) => map
            .iter()
            .map(|(kind, value)| Entry::Record {
                kind: kind.as_str().expect("record type").to_owned(),
                value: value.clone(),
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
        results,
        explanation: test.get("explanation").map(text),
    }
}
