//! `mailaudit message` end to end: the built binary analyses messages with the keys and
//! policies served by a real DNS server on loopback (in process) from `fixtures/zones/` and
//! `fixtures/message/zones/`. The mail-auth sample messages (`fixtures/message/samples/`) must
//! verify as mail-auth's own tests expect; other messages are signed here, at test time, with
//! the key of `fixtures/message/keys/test-rsa2048.pem` whose public half those zones publish.

#[path = "../support/mod.rs"]
#[allow(unused_imports)]
mod support;

mod hostile;
mod signed;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use serde::Deserialize;
use support::dns_server::{self, TestDns};

/// The report's JSON, as far as the tests read it.
#[derive(Debug, Deserialize)]
pub struct Report {
    pub dkim: Vec<Signature>,
    pub arc: Arc,
    pub spf: Spf,
    pub dmarc: Dmarc,
    pub comparison: Vec<Comparison>,
    pub requirements: Vec<Requirement>,
    pub findings: Vec<Finding>,
    pub score: Score,
    pub hops: Vec<Hop>,
    pub summary: Summary,
}

#[derive(Debug, Deserialize)]
pub struct Summary {
    pub from_domain: Option<String>,
    pub line_ends_converted: bool,
}

#[allow(clippy::struct_excessive_bools)] // the report's own fields
#[derive(Debug, Deserialize)]
pub struct Signature {
    pub domain: String,
    pub selector: String,
    pub algorithm: String,
    pub canonicalization: String,
    pub result: String,
    pub reason: Option<String>,
    pub key_bits: Option<u32>,
    pub body_length: Option<u64>,
    pub expired: bool,
    pub result_ignoring_expiry: Option<String>,
    pub from_signed: bool,
    pub from_oversigned: bool,
    pub unsigned_headers: Vec<String>,
    pub aligned: bool,
}

#[derive(Debug, Deserialize)]
pub struct Arc {
    pub result: String,
    pub instances: Vec<ArcInstance>,
}

#[derive(Debug, Deserialize)]
pub struct ArcInstance {
    pub instance: u32,
    pub domain: String,
    pub selector: String,
}

#[derive(Debug, Deserialize)]
pub struct Spf {
    pub ip: Option<String>,
    pub domain: Option<String>,
    pub result: Option<String>,
    pub aligned: bool,
    pub source: String,
}

#[derive(Debug, Deserialize)]
pub struct Dmarc {
    pub from_domain: Option<String>,
    pub result: String,
    pub disposition: String,
    pub spf_aligned: bool,
    pub dkim_aligned: bool,
    pub adkim: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Comparison {
    pub method: String,
    pub receiver_result: String,
    pub mailaudit_result: String,
    pub agree: bool,
    pub explanation: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Requirement {
    pub provider: String,
    pub requirement: String,
    pub status: String,
}

#[derive(Debug, Deserialize)]
pub struct Finding {
    pub code: String,
    pub severity: String,
    pub message: String,
}

#[derive(Debug, Deserialize)]
pub struct Score {
    pub score: u8,
}

#[derive(Debug, Deserialize)]
pub struct Hop {
    pub ip: Option<String>,
    pub tls: Option<bool>,
}

impl Report {
    pub fn codes(&self) -> Vec<&str> {
        self.findings.iter().map(|f| f.code.as_str()).collect()
    }

    pub fn finding(&self, code: &str) -> &Finding {
        self.findings
            .iter()
            .find(|f| f.code == code)
            .unwrap_or_else(|| panic!("no {code} in {:?}", self.codes()))
    }

    pub fn signature(&self, domain: &str) -> &Signature {
        self.dkim
            .iter()
            .find(|s| s.domain == domain)
            .unwrap_or_else(|| panic!("no signature of {domain} in {:?}", self.dkim))
    }

    pub fn requirement(&self, text: &str) -> &Requirement {
        self.requirements
            .iter()
            .find(|r| r.provider == "Gmail and Yahoo" && r.requirement.contains(text))
            .unwrap_or_else(|| panic!("no requirement {text}"))
    }
}

/// The DNS server of these tests: the fixture zones and the message zones.
pub fn server() -> &'static TestDns {
    static SERVER: OnceLock<TestDns> = OnceLock::new();
    SERVER.get_or_init(|| {
        dns_server::start_with_zones(
            "127.0.0.1:0".parse().expect("loopback"),
            &fixtures().join("zones"),
        )
    })
}

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/message")
}

/// Runs `mailaudit message FILE ARGS... --resolver <server>`.
pub fn run_file(file: &Path, args: &[&str]) -> Output {
    let file = file.to_str().expect("UTF-8 path");
    let mut all = vec!["message", file];
    all.extend_from_slice(args);
    support::command_with_resolvers(&all, &[server().resolver_arg()], "2")
        .output()
        .expect("run mailaudit")
}

/// Writes `message` to a temporary file and analyses it; the JSON report and the exit status.
pub fn analyse(message: &[u8], args: &[&str]) -> (Report, Output) {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(message).expect("write message");
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    let output = run_file(file.path(), &all);
    let report = parse(&output);
    (report, output)
}

pub fn parse(output: &Output) -> Report {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "not a report ({e}): stdout {} stderr {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn sample(name: &str) -> PathBuf {
    fixtures().join("samples").join(name)
}

fn analyse_sample(name: &str) -> Report {
    let output = run_file(&sample(name), &["--format", "json"]);
    parse(&output)
}

/// mail-auth's `dkim_verify`: the last signature of every sample passes (at the time its test
/// fixes; sample 005's `x=` has passed since, so there it must be reported expired and valid
/// before).
#[test]
fn every_dkim_sample_verifies_as_mail_auth_expects() {
    for n in 1..=6 {
        let name = format!("dkim-00{n}.eml");
        let report = analyse_sample(&name);
        let last = report
            .dkim
            .last()
            .unwrap_or_else(|| panic!("{name}: no signature"));
        if last.expired {
            assert_eq!(
                last.result_ignoring_expiry.as_deref(),
                Some("pass"),
                "{name}: {last:?}"
            );
            assert!(report.codes().contains(&"message.dkim-expired"), "{name}");
        } else {
            assert_eq!(last.result, "pass", "{name}: {last:?}");
        }
        // Saved with LF line ends: read as CRLF, as mail-auth's test does.
        assert!(report.summary.line_ends_converted, "{name}");
    }
}

/// The RFC 8463 sample: both signatures (Ed25519 and RSA) pass, with their details.
#[test]
fn rfc8463_sample_details() {
    let report = analyse_sample("dkim-001.eml");
    let ed = &report.dkim[0];
    assert_eq!(ed.algorithm, "ed25519-sha256");
    assert_eq!(ed.key_bits, Some(256));
    assert_eq!(ed.canonicalization, "relaxed/relaxed");
    assert!(ed.from_signed);
    // h= lists from twice over one From field: oversigned.
    assert!(ed.from_oversigned);
    let rsa = &report.dkim[1];
    assert_eq!((rsa.result.as_str(), rsa.key_bits), ("pass", Some(1024)));
    assert_eq!(rsa.selector, "test");
    assert_eq!(report.finding("message.dkim-weak-key").severity, "warning");
}

/// mail-auth's `arc_verify`: the chain passes and at least one DKIM signature passes.
#[test]
fn every_arc_sample_verifies_as_mail_auth_expects() {
    for name in ["arc-001.eml", "arc-002.eml"] {
        let report = analyse_sample(name);
        assert_eq!(report.arc.result, "pass", "{name}: {:?}", report.arc);
        assert!(!report.arc.instances.is_empty(), "{name}");
        assert!(
            report.dkim.iter().any(|s| s.result == "pass"),
            "{name}: {:?}",
            report.dkim
        );
    }
}

/// A sample whose body is changed after signing fails, and says why.
#[test]
fn a_changed_body_fails_with_the_reason() {
    let mut message = std::fs::read(sample("dkim-001.eml")).expect("sample");
    message.extend_from_slice(b"\nP.S. added later\n");
    let (report, output) = analyse(&message, &[]);
    for signature in &report.dkim {
        assert_ne!(signature.result, "pass", "{signature:?}");
        let reason = signature.reason.as_deref().unwrap_or_default();
        assert!(reason.contains("body hash"), "{reason}");
        assert!(reason.contains("changed after signing"), "{reason}");
    }
    assert!(report.finding("message.dkim-fail").message.contains("body"));
    // An error: exit status 1 at the default --fail-on.
    assert_eq!(output.status.code(), Some(1));
}

/// The table names the verdict and the reason for a user reading a terminal.
#[test]
fn table_output_reads_as_a_report() {
    let output = run_file(&sample("dkim-002.eml"), &[]);
    let text = String::from_utf8_lossy(&output.stdout);
    for part in [
        "DMARC",
        "DKIM",
        "d=example.com s=newengland: pass",
        "Sender requirements",
        "Findings",
    ] {
        assert!(text.contains(part), "{part} missing in:\n{text}");
    }
}

/// Hops inside one network (loopback, a relay without a client address) are the operator's
/// business: only a hop between internet hosts without TLS is named.
#[test]
fn only_internet_hops_are_judged_for_tls() {
    // arc-001: ietf.org's loopback hops (127.0.0.1, ::1) and Google's internal one say ESMTP or
    // SMTP; mail.ietf.org [50.223.129.194] handed it over without TLS too.
    let report = analyse_sample("arc-001.eml");
    let no_tls: Vec<&str> = report
        .findings
        .iter()
        .filter(|f| f.code == "message.no-tls")
        .map(|f| f.message.as_str())
        .collect();
    assert_eq!(no_tls.len(), 1, "{no_tls:?}");
    assert!(no_tls[0].starts_with("hop 4 (mail.ietf.org"), "{no_tls:?}");
    let tls = report.requirement("TLS on every hop");
    assert_eq!(tls.status, "not-met");
}
