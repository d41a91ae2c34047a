//! mail-auth's SPF tests (`fixtures/mail-auth-spf/*.yml`, stalwartlabs/mail-auth
//! `resources/spf/` at v0.11.2; Apache-2.0 OR MIT, licences beside them), read as mail-auth's
//! own driver (`src/spf/verify.rs`, test `spf_verify`) reads them: line by line, not as YAML
//! (their `records:` maps repeat keys).
//!
//! The driver's conventions, kept here:
//! - A file's documents are separated by `---`; its records accumulate over the whole file,
//!   each `TYPE: name value` replacing what that name had of that type (`spf:` and `exp:` are
//!   both the name's TXT record). `domain:` (HELO), `sender:` and `ip:` start afresh in each
//!   document (`ip` at 127.0.0.1), and each `expect: result [explanation]` runs a case with the
//!   records and values read so far.
//! - `mx: name ip, ip` gives the name one MX host per address, named `mx.<ip>.<n>` with
//!   preference `n + 1`, whose A or AAAA record is that address.
//! - `ptr: ip name, name` gives the address's reverse name those PTR records, in that order.
//! - A name whose first label is `_dns_error` fails (SERVFAIL here).
//! - The case is run as `SpfParameters::verify` runs it: HELO first, then MAIL FROM when HELO
//!   passes ([`Identity::HeloThenMailFrom`]); an explanation is compared only when given.
//!
//! Each state of the records a case runs against is one [`Scenario`], served by its own DNS
//! server. A name no DNS message can carry (a label over 63 octets, over 253 in all) is left
//! out of the zone: it cannot be asked about, and its cases expect `none`.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde_yaml::Value;

use crate::suite::{Case, Entry, Identity, Scenario};

/// The suite's files, each with its name.
pub const FILES: &[(&str, &str)] = &[
    ("a.yml", include_str!("../../fixtures/mail-auth-spf/a.yml")),
    (
        "all.yml",
        include_str!("../../fixtures/mail-auth-spf/all.yml"),
    ),
    (
        "basic.yml",
        include_str!("../../fixtures/mail-auth-spf/basic.yml"),
    ),
    (
        "examples.yml",
        include_str!("../../fixtures/mail-auth-spf/examples.yml"),
    ),
    (
        "exists.yml",
        include_str!("../../fixtures/mail-auth-spf/exists.yml"),
    ),
    (
        "exp.yml",
        include_str!("../../fixtures/mail-auth-spf/exp.yml"),
    ),
    (
        "include.yml",
        include_str!("../../fixtures/mail-auth-spf/include.yml"),
    ),
    (
        "ip.yml",
        include_str!("../../fixtures/mail-auth-spf/ip.yml"),
    ),
    (
        "macro.yml",
        include_str!("../../fixtures/mail-auth-spf/macro.yml"),
    ),
    (
        "mx.yml",
        include_str!("../../fixtures/mail-auth-spf/mx.yml"),
    ),
    (
        "ptr.yml",
        include_str!("../../fixtures/mail-auth-spf/ptr.yml"),
    ),
    (
        "redirect.yml",
        include_str!("../../fixtures/mail-auth-spf/redirect.yml"),
    ),
];

/// The records of a file so far: (name, type) → values, in the order first written.
#[derive(Clone, Default)]
struct Records {
    order: Vec<(String, &'static str)>,
    values: BTreeMap<(String, &'static str), Vec<Value>>,
}

impl Records {
    fn set(&mut self, name: &str, kind: &'static str, values: Vec<Value>) {
        let key = (name.to_owned(), kind);
        if !self.values.contains_key(&key) {
            self.order.push(key.clone());
        }
        self.values.insert(key, values);
    }

    /// The zone, names in the order first written, failing names added.
    fn zone(&self, failing: &[String]) -> Vec<(String, Vec<Entry>)> {
        let mut zone: Vec<(String, Vec<Entry>)> = Vec::new();
        for key in &self.order {
            let (name, kind) = key;
            if !servable(name) {
                continue;
            }
            let entries = self.values[key].iter().map(|value| Entry::Record {
                kind: (*kind).to_owned(),
                value: value.clone(),
            });
            match zone.iter_mut().find(|(n, _)| n == name) {
                Some((_, existing)) => existing.extend(entries),
                None => zone.push((name.clone(), entries.collect())),
            }
        }
        for name in failing {
            zone.push((name.clone(), vec![Entry::ServFail]));
        }
        zone
    }
}

/// Whether a DNS message can carry `name`: labels of 1 to 63 octets, at most 253 in all.
fn servable(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    name.len() <= 253 && name.split('.').all(|l| (1..=63).contains(&l.len()))
}

/// A TXT value as character-strings of at most 255 octets (joined without separator, §3.3).
fn txt_value(text: &str) -> Value {
    let strings = text
        .as_bytes()
        .chunks(255)
        .map(|chunk| Value::String(String::from_utf8_lossy(chunk).into_owned()))
        .collect();
    Value::Sequence(strings)
}

/// The reverse-lookup name of an address (RFC 1035 §3.5, RFC 3596 §2.5).
fn reverse_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            format!("{d}.{c}.{b}.{a}.in-addr.arpa")
        }
        IpAddr::V6(v6) => {
            let mut labels: Vec<String> = Vec::new();
            for byte in v6.octets().iter().rev() {
                labels.push(format!("{:x}", byte & 0x0f));
                labels.push(format!("{:x}", byte >> 4));
            }
            format!("{}.ip6.arpa", labels.join("."))
        }
    }
}

/// The names of the form `_dns_error.…` a file mentions: they fail.
fn failing_names(text: &str) -> Vec<String> {
    let mut names: Vec<String> = text
        .match_indices("_dns_error.")
        .map(|(at, _)| {
            text[at..]
                .split(|c: char| c.is_whitespace())
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

/// `name value` after a record type.
fn name_and_value(rest: &str) -> (&str, &str) {
    let (name, value) = rest
        .trim()
        .split_once(' ')
        .unwrap_or_else(|| panic!("a record line without a value: {rest:?}"));
    (name.trim(), value.trim())
}

fn addresses(list: &str) -> Vec<IpAddr> {
    list.split(',')
        .map(|item| {
            item.trim()
                .parse()
                .unwrap_or_else(|e| panic!("address {item:?}: {e}"))
        })
        .collect()
}

/// Every scenario of one file: a new one whenever the records changed before a case.
pub fn scenarios(file: &str, text: &str) -> Vec<Scenario> {
    let failing = failing_names(text);
    let mut records = Records::default();
    let mut scenarios: Vec<Scenario> = Vec::new();
    let mut changed = true;
    for document in text.split("---\n") {
        let mut test_name = String::new();
        let mut helo = String::new();
        let mut mail_from = String::new();
        let mut ip: IpAddr = "127.0.0.1".parse().expect("loopback");
        let mut number = 0;
        for line in document.split('\n') {
            let line = line.trim();
            let line = line.strip_prefix('-').map_or(line, str::trim);
            if let Some(name) = line.strip_prefix("name:") {
                name.trim().clone_into(&mut test_name);
            } else if let Some(rest) = line.strip_prefix("spf:") {
                let (name, record) = name_and_value(rest);
                records.set(name, "TXT", vec![txt_value(record)]);
                changed = true;
            } else if let Some(rest) = line.strip_prefix("exp:") {
                let (name, text) = name_and_value(rest);
                records.set(name, "TXT", vec![txt_value(text)]);
                changed = true;
            } else if let Some(rest) = line.strip_prefix("a:") {
                let (name, list) = name_and_value(rest);
                let values = addresses(list)
                    .iter()
                    .map(|a| Value::String(a.to_string()))
                    .collect();
                records.set(name, "A", values);
                changed = true;
            } else if let Some(rest) = line.strip_prefix("aaaa:") {
                let (name, list) = name_and_value(rest);
                let values = addresses(list)
                    .iter()
                    .map(|a| Value::String(a.to_string()))
                    .collect();
                records.set(name, "AAAA", values);
                changed = true;
            } else if let Some(rest) = line.strip_prefix("ptr:") {
                let (address, list) = name_and_value(rest);
                let address: IpAddr = address.parse().expect("a PTR line starts with an address");
                let values = list
                    .split(',')
                    .map(|name| Value::String(name.trim().to_owned()))
                    .collect();
                records.set(&reverse_name(address), "PTR", values);
                changed = true;
            } else if let Some(rest) = line.strip_prefix("mx:") {
                let (name, list) = name_and_value(rest);
                let mut hosts = Vec::new();
                for (position, address) in addresses(list).into_iter().enumerate() {
                    let host = format!("mx.{address}.{position}");
                    let kind = if address.is_ipv4() { "A" } else { "AAAA" };
                    records.set(&host, kind, vec![Value::String(address.to_string())]);
                    hosts.push(Value::Sequence(vec![
                        Value::Number((position + 1).into()),
                        Value::String(host),
                    ]));
                }
                records.set(name, "MX", hosts);
                changed = true;
            } else if let Some(value) = line.strip_prefix("domain:") {
                value.trim().clone_into(&mut helo);
            } else if let Some(value) = line.strip_prefix("sender:") {
                value.trim().clone_into(&mut mail_from);
            } else if let Some(value) = line.strip_prefix("ip:") {
                ip = value.trim().parse().expect("ip: an address");
            } else if let Some(value) = line.strip_prefix("expect:") {
                let value = value.trim();
                let (result, explanation) = match value.split_once(' ') {
                    Some((result, explanation)) => (result, Some(explanation.trim().to_owned())),
                    None => (value, None),
                };
                number += 1;
                if changed || scenarios.is_empty() {
                    scenarios.push(Scenario {
                        zone: records.zone(&failing),
                        cases: Vec::new(),
                    });
                    changed = false;
                }
                let scenario = scenarios.last_mut().expect("pushed above");
                scenario.cases.push(Case {
                    name: format!("{file}: {test_name} #{number}"),
                    scenario: test_name.clone(),
                    host: ip,
                    mailfrom: mail_from.clone(),
                    helo: helo.clone(),
                    identity: Identity::HeloThenMailFrom,
                    results: vec![result.to_owned()],
                    explanation,
                    upstream_skip: None,
                });
            }
        }
    }
    scenarios
}
