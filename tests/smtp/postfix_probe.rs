//! `mailaudit smtp` and `audit --smtp` against the real MTA of `tests/support/postfix.rs`:
//! STARTTLS, the certificate, the AUTH mechanisms before and after TLS, a right and a wrong
//! password (the password absent from every output), implicit TLS, the port matrix of
//! `--all-ports`, and a domain whose MX host is the Postfix instance.

use std::path::Path;
use std::process::Output;

use crate::postfix::Postfix;
use crate::support::report::{OutcomeOut, SmtpTargetReport};
use crate::support::{self, Report, dns_server};

/// `mailaudit smtp ARGS... --ca-file <the instance's CA> --format json`, with `password` in
/// `MAILAUDIT_SMTP_PASSWORD` when given.
fn smtp(postfix: &Postfix, args: &[&str], password: Option<&str>) -> (Output, SmtpTargetReport) {
    let ca = postfix.ca_file.to_str().unwrap();
    let mut all = vec!["smtp"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--ca-file", ca, "--format", "json", "--fail-on", "never"]);
    let mut command = support::command(&all);
    command.env_remove("MAILAUDIT_SMTP_PASSWORD");
    if let Some(password) = password {
        command.env("MAILAUDIT_SMTP_PASSWORD", password);
    }
    let output = command.output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{all:?}: {}\n{}",
        String::from_utf8_lossy(&output.stderr),
        postfix.log()
    );
    let report = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stdout)));
    (output, report)
}

#[test]
fn submission_with_starttls_lists_auth_only_after_tls_and_takes_the_right_password() {
    let postfix = Postfix::shared();
    let port = postfix.submission_port.to_string();
    let (_, report) = smtp(
        postfix,
        &[
            "127.0.0.1",
            "--port",
            &port,
            "--tls",
            "starttls",
            "--user",
            postfix.user,
        ],
        Some(postfix.password),
    );
    assert_eq!(report.kind, "smtp");
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
    let session = report.session();
    assert_eq!(session.outcome, OutcomeOut::Completed);
    assert_eq!(
        session.phase_names(),
        [
            "connect", "greeting", "ehlo", "starttls", "ehlo-tls", "auth", "quit"
        ]
    );
    assert_eq!(session.greeting_host.as_deref(), Some(postfix.host));
    let before = session.ehlo.as_ref().unwrap();
    assert!(before.starttls);
    assert!(before.auth.is_empty(), "AUTH before TLS: {before:?}");
    let after = session.ehlo_tls.as_ref().unwrap();
    assert_eq!(after.auth, ["PLAIN", "LOGIN"]);
    let tls = session.tls.as_ref().unwrap();
    assert!(tls.version.starts_with("TLSv1."), "{tls:?}");
    let certificate = session.certificate();
    assert!(
        certificate.trusted && certificate.name_matches,
        "{certificate:?}"
    );
    assert!(certificate.names.iter().any(|n| n == postfix.host));
    assert!(certificate.problems.is_empty());
    let auth = session.auth.as_ref().unwrap();
    assert!(auth.accepted, "{auth:?}");
    assert_eq!(auth.mechanism.as_deref(), Some("PLAIN"));
    assert_eq!(auth.reply.as_ref().unwrap().code, 235);
}

#[test]
fn a_wrong_password_is_smtp_auth_failed_and_no_password_is_ever_shown() {
    let postfix = Postfix::shared();
    let port = postfix.submission_port.to_string();
    let wrong = "n0t-the-Passw0rd";
    let (_, report) = smtp(
        postfix,
        &["127.0.0.1", "--port", &port, "--user", postfix.user],
        Some(wrong),
    );
    let failed = report.one("smtp.auth-failed");
    assert_eq!(failed.evidence["reply_code"], 535);
    assert!(!report.session().auth.as_ref().unwrap().accepted);
    // Neither password, nor the AUTH PLAIN token or LOGIN answers that carry them, in any
    // format.
    let dir = tempfile::tempdir().unwrap();
    for (password, format) in [
        (wrong, "json"),
        (wrong, "table"),
        (wrong, "markdown"),
        (wrong, "html"),
        (postfix.password, "json"),
        (postfix.password, "html"),
    ] {
        let path = dir.path().join(format!("{format}-{}", password.len()));
        let mut command = support::command(&[
            "smtp",
            "127.0.0.1",
            "--port",
            &port,
            "--user",
            postfix.user,
            "--ca-file",
            postfix.ca_file.to_str().unwrap(),
            "--format",
            format,
            "--output",
            path.to_str().unwrap(),
        ]);
        let output = command
            .env("MAILAUDIT_SMTP_PASSWORD", password)
            .output()
            .unwrap();
        let written = std::fs::read(&path).unwrap_or_default();
        assert!(!written.is_empty(), "{format}: nothing written");
        for shown in [&written, &output.stdout, &output.stderr] {
            assert_no_secret(shown, postfix.user, password, format);
        }
    }
}

/// Fails when `bytes` hold the password, or the base64 of what AUTH PLAIN or LOGIN sends.
fn assert_no_secret(bytes: &[u8], user: &str, password: &str, format: &str) {
    use base64::Engine as _;
    let text = String::from_utf8_lossy(bytes);
    let engine = base64::engine::general_purpose::STANDARD;
    for secret in [
        password.to_owned(),
        engine.encode(password),
        engine.encode(format!("\0{user}\0{password}")),
    ] {
        assert!(!text.contains(&secret), "{format} shows {secret:?}");
    }
}

#[test]
fn implicit_tls_on_the_smtps_port_and_starttls_without_auth_on_the_relay_port() {
    let postfix = Postfix::shared();
    let smtps = postfix.smtps_port.to_string();
    let (_, report) = smtp(
        postfix,
        &[
            "127.0.0.1",
            "--port",
            &smtps,
            "--tls",
            "implicit",
            "--user",
            postfix.user,
        ],
        Some(postfix.password),
    );
    let session = report.session();
    assert_eq!(session.phase_names()[..3], ["connect", "tls", "greeting"]);
    assert!(session.ehlo.is_none(), "no plain-text EHLO on implicit TLS");
    assert!(session.auth.as_ref().unwrap().accepted);
    assert!(report.findings.is_empty(), "{:#?}", report.findings);

    let relay = postfix.smtp_port.to_string();
    let (_, report) = smtp(postfix, &["127.0.0.1", "--port", &relay], None);
    let session = report.session();
    assert!(session.ehlo.as_ref().unwrap().starttls);
    assert!(session.tls.is_some());
    assert!(session.ehlo_tls.as_ref().unwrap().auth.is_empty());
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
}

#[test]
fn all_ports_shows_the_matrix_of_a_server_on_the_standard_ports() {
    let postfix = Postfix::start_on_standard_ports();
    let ip = postfix.ip.to_string();
    let (_, report) = smtp(&postfix, &[&ip, "--all-ports"], None);
    let outcome = |port: u16| {
        let probe = report
            .smtp
            .probes
            .iter()
            .find(|p| p.port == port)
            .unwrap_or_else(|| panic!("port {port} not probed"));
        probe.sessions[0].outcome
    };
    assert_eq!(outcome(25), OutcomeOut::Completed);
    assert_eq!(outcome(465), OutcomeOut::Completed);
    assert_eq!(outcome(587), OutcomeOut::Completed);
    assert_eq!(outcome(2525), OutcomeOut::Refused);
    assert!(report.has("smtp.connect-refused"), "{:?}", report.codes());
    let refused = report.one("smtp.connect-refused");
    assert_eq!(refused.evidence["port"], 2525);
    // The table shows the matrix, one row a port.
    let table = support::command(&[
        "smtp",
        &ip,
        "--all-ports",
        "--ca-file",
        postfix.ca_file.to_str().unwrap(),
        "--fail-on",
        "never",
    ])
    .output()
    .unwrap();
    let table = String::from_utf8(table.stdout).unwrap();
    for row in [
        "25 (STARTTLS)",
        "465 (implicit TLS)",
        "587 (STARTTLS)",
        "2525 (STARTTLS)",
    ] {
        assert!(table.contains(row), "{row} missing:\n{table}");
    }
}

#[test]
fn audit_smtp_probes_the_mx_host_and_feeds_the_tls_requirement() {
    let postfix = Postfix::start_on_standard_ports();
    // A world where the MX host of smtp-mx.test is this instance's address.
    let zones = tempfile::tempdir().unwrap();
    write_zone(
        zones.path(),
        "smtp-mx.test",
        "@ IN MX 10 mail.postfix.test.\n\
         @ IN TXT \"v=spf1 mx -all\"\n\
         _dmarc IN TXT \"v=DMARC1; p=reject; rua=mailto:d@smtp-mx.test\"\n",
    );
    write_zone(
        zones.path(),
        "postfix.test",
        &format!("mail IN A {}\n", postfix.ip),
    );
    let dns = dns_server::start_with_zones("127.0.0.1:0".parse().unwrap(), zones.path());
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_mailaudit"))
        .args([
            "audit",
            "smtp-mx.test",
            "--smtp",
            "--format",
            "json",
            "--fail-on",
            "never",
        ])
        .args(["--ca-file", postfix.ca_file.to_str().unwrap()])
        .args(["--dnsbl", &support::working_catalog()])
        .args(["--resolver", &dns.resolver_arg(), "--timeout", "2"])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let report: Report = serde_json::from_value(value.clone()).unwrap();
    let probes = value["smtp"].as_array().expect("the MX host probed");
    assert_eq!(probes.len(), 1);
    assert_eq!(probes[0]["host"], "mail.postfix.test");
    assert_eq!(probes[0]["port"], 25);
    let session = &probes[0]["sessions"][0];
    assert_eq!(session["outcome"], "completed");
    assert!(session["ehlo"]["starttls"].as_bool().unwrap());
    assert_eq!(session["tls"]["certificate"]["name_matches"], true);
    // The PTR of a loopback address is `localhost` (RFC 6761 §6.3; the resolver answers it
    // itself), not the greeting's name: that mismatch is the only SMTP finding.
    let smtp_codes: Vec<String> = report
        .codes()
        .into_iter()
        .filter(|c| c.starts_with("smtp."))
        .collect();
    assert_eq!(
        smtp_codes,
        ["smtp.banner-mismatch"],
        "{}",
        value["findings"]
    );
    let tls = report
        .requirements
        .iter()
        .find(|r| r.requirement == "TLS for transmission")
        .unwrap();
    assert_eq!(tls.status, "published", "{tls:?}");
}

/// Writes `NAME.zone` in `dir`: an SOA and NS, then `records`.
pub(crate) fn write_zone(dir: &Path, name: &str, records: &str) {
    let zone = format!(
        "$TTL 300\n@ IN SOA ns.test. hostmaster.test. 1 3600 600 86400 300\n@ IN NS ns.test.\n{records}"
    );
    std::fs::write(dir.join(format!("{name}.zone")), zone).unwrap();
}
