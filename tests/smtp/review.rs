//! The review fixes of the SMTP probe (commit a6da1e6), each from what a user sees: the JSON
//! read into the contract's types, the table, the exit status, and what the scripted servers
//! (`tests/support/smtp_server.rs`) received. Each test here fails on the code before its fix.
//!
//! Host names: `mail.smtp.test` is 127.0.0.1 and `dual.smtp.test` both 127.0.0.1 and `::1`
//! (`fixtures/zones/smtp.test.zone`); `smtp.v6fail.test` is 127.0.0.1 and its AAAA question
//! gets SERVFAIL (`fixtures/zones/v6fail.test.zone`, `tests/support/dns_server.rs`).

use std::net::Ipv4Addr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::postfix_probe::write_zone;
use crate::scripted::{
    DroppingPort, PASSWORD, PASSWORD_VARIABLE, Pki, USER, fact, mailaudit, port, probe_json,
    probe_with, run_as_user, secret_forms, starttls_script, starttls_server, table, with_format,
};
use crate::support::report::{CertificateProblemOut, OutcomeOut, SmtpTargetReport, UnknownOut};
use crate::support::smtp_server::{
    Ca, Identity, Leaf, NAME, Received, Script, Server, Smtp, Starttls, closed_port,
};
use crate::support::{self, Report, dns_server};

/// The command lines of an AUTH exchange the server received: `AUTH ...` and the lines that
/// answered its prompts (anything that is not a command the probe otherwise sends).
fn auth_lines(received: &[Received]) -> Vec<&Received> {
    received
        .iter()
        .filter(|r| {
            let verb = r.line.split_whitespace().next().unwrap_or_default();
            !matches!(
                verb.to_ascii_uppercase().as_str(),
                "EHLO" | "STARTTLS" | "QUIT"
            )
        })
        .collect()
}

/// `mailaudit smtp HOST --port P --ca-file <pki> --user USER` in `format` (the password in the
/// environment, and absent from every output: [`run_as_user`] checks).
fn as_user(host: &str, server: &Server, pki: &Pki, format: &str) -> std::process::Output {
    let ca_file = pki.ca_file();
    run_as_user(
        &[host, "--port", &port(server), "--ca-file", &ca_file],
        format,
    )
}

fn report_of(output: &std::process::Output) -> SmtpTargetReport {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "the JSON does not match the contract: {e}\n{}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// The parts of `unknown` about SMTP.
fn smtp_unknown(unknown: &[UnknownOut]) -> Vec<&UnknownOut> {
    unknown.iter().filter(|u| u.area == "smtp").collect()
}

// --- 1. AUTH only over TLS with a certificate valid for the host, at one address ------------

/// A host with two addresses gets the password once: a login tried at each address looks like
/// guessing to lockout rules (fail2ban, providers). The other address is still probed.
#[test]
fn the_password_goes_to_the_first_address_of_a_host_only() {
    let pki = Pki::new();
    let identity = pki.ca.issue(&Leaf::valid_for(&["dual.smtp.test"]));
    let server = match Server::start_dual_stack(starttls_script(identity.server_config())) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("SKIPPED the_password_goes_to_the_first_address_of_a_host_only: {e}");
            return;
        }
    };
    let output = as_user("dual.smtp.test", &server, &pki, "json");
    let report = report_of(&output);
    let probe = report.probe();
    let ips: Vec<String> = probe.sessions.iter().map(|s| s.ip.to_string()).collect();
    assert_eq!(ips, ["127.0.0.1", "::1"], "{probe:#?}");
    assert!(
        probe
            .sessions
            .iter()
            .all(|s| s.outcome == OutcomeOut::Completed && s.tls.is_some()),
        "{probe:#?}"
    );
    let first = probe.sessions[0].auth.as_ref().expect("AUTH at the first");
    assert!(first.accepted && first.skipped.is_none(), "{first:?}");
    assert!(probe.sessions[1].auth.is_none(), "{:?}", probe.sessions[1]);
    assert!(report.findings.is_empty(), "{:#?}", report.findings);

    let received = server.received();
    let auth = auth_lines(&received);
    assert_eq!(auth.len(), 1, "one AUTH PLAIN line: {received:#?}");
    assert_eq!(auth[0].local, server.addrs[0], "at 127.0.0.1: {auth:?}");
    assert!(auth[0].tls);
    assert!(
        received
            .iter()
            .any(|r| r.local == server.addrs[1] && r.tls && r.line.starts_with("EHLO")),
        "::1 was probed past STARTTLS, without AUTH: {received:#?}"
    );
}

/// Over TLS, but with a certificate that does not prove the server is the host asked for (a
/// CA nobody vouches for, other names, expired): no password is sent to it at all.
#[test]
fn no_password_goes_to_a_server_whose_certificate_is_not_valid_for_it() {
    let pki = Pki::new();
    let stranger = Ca::new("a CA nobody was told about");
    for (what, identity, problem) in [
        (
            "untrusted",
            stranger.issue(&Leaf::valid_for(&["mail.smtp.test"])),
            CertificateProblemOut::Untrusted,
        ),
        (
            "wrong name",
            pki.ca.issue(&Leaf::valid_for(&["other.smtp.test"])),
            CertificateProblemOut::WrongName,
        ),
        (
            "expired",
            pki.ca
                .issue(&Leaf::valid_for(&["mail.smtp.test"]).between(-100, -10)),
            CertificateProblemOut::Expired,
        ),
    ] {
        let server = starttls_server(identity.server_config());
        let output = as_user("mail.smtp.test", &server, &pki, "json");
        let report = report_of(&output);
        let session = report.session();
        assert_eq!(session.outcome, OutcomeOut::Completed, "{what}");
        assert_eq!(session.certificate().problems, [problem], "{what}");
        let auth = session.auth.as_ref().expect("AUTH asked for");
        assert!(
            !auth.accepted && auth.mechanism.is_none() && auth.reply.is_none(),
            "{what}: {auth:?}"
        );
        let skipped = auth.skipped.as_deref().unwrap_or_default();
        assert!(skipped.contains("certificate"), "{what}: {skipped}");
        assert_eq!(report.codes(), ["smtp.cert-invalid"], "{what}");

        let table = String::from_utf8(as_user("mail.smtp.test", &server, &pki, "table").stdout)
            .expect("UTF-8");
        let said = fact(&table, "AUTH");
        assert!(said.starts_with("not tried:"), "{what}: {said}");
        let received = server.received();
        assert!(
            auth_lines(&received).is_empty(),
            "{what}: the server got {received:#?}"
        );
    }
}

// --- 2. Nothing of the password shown, whatever the server sends back ---------------------

/// Every run of at least 12 characters of the password or of its encodings: a quote cut in the
/// middle of the token would still give most of it away.
fn assert_no_part_of_secret(what: &str, text: &[u8]) {
    let text = String::from_utf8_lossy(text);
    for secret in secret_forms() {
        let chars: Vec<char> = secret.chars().collect();
        for part in chars.windows(12) {
            let part: String = part.iter().collect();
            assert!(
                !text.contains(&part),
                "{what} shows {part:?} of {secret:?}:\n{text}"
            );
        }
    }
}

/// A server that answers AUTH with a line that is no reply, quoting what it got: the session's
/// error quotes that line, and must not carry the credentials, in any format, even when the
/// quote is cut in the middle of them.
#[test]
fn credentials_echoed_in_a_line_that_is_no_reply_are_not_shown() {
    let pki = Pki::new();
    let identity = pki.ca.issue(&Leaf::valid_for(&["mail.smtp.test"]));
    let token = BASE64.encode(format!("\0{USER}\0{PASSWORD}"));
    let encoded_password = BASE64.encode(PASSWORD);
    for (what, mechanism, echo, sent) in [
        (
            "the PLAIN token",
            "AUTH PLAIN",
            format!("AUTH PLAIN {token} ?"),
            format!("AUTH PLAIN {token}"),
        ),
        (
            "the LOGIN password",
            "AUTH LOGIN",
            format!("{encoded_password} <- unknown command, and {PASSWORD} is wrong"),
            encoded_password.clone(),
        ),
        // 150 characters first: a quote of 200 would hold 50 of the token's 52.
        (
            "the PLAIN token, where a quote is cut",
            "AUTH PLAIN",
            format!("{}{token}", "x".repeat(150)),
            format!("AUTH PLAIN {token}"),
        ),
    ] {
        let server = Server::start(
            Smtp::new(NAME)
                .starttls(identity.server_config())
                .ehlo_tls(&[mechanism])
                .auth_reply(&echo)
                .script(),
        );
        let output = as_user("mail.smtp.test", &server, &pki, "json");
        assert_no_part_of_secret(&format!("{what}: JSON"), &output.stdout);
        assert_no_part_of_secret(&format!("{what}: standard error"), &output.stderr);
        let report = report_of(&output);
        let session = report.session();
        assert_eq!(
            session.outcome,
            OutcomeOut::ProtocolError,
            "{what}: {session:#?}"
        );
        let error = session.error.as_deref().unwrap_or_default();
        assert!(
            error.contains("not an SMTP reply") && error.contains("<hidden>"),
            "{what}: {error}"
        );
        assert_eq!(report.codes(), ["smtp.protocol-error"], "{what}");

        let table = as_user("mail.smtp.test", &server, &pki, "table");
        assert_no_part_of_secret(&format!("{what}: table"), &table.stdout);
        assert_no_part_of_secret(&format!("{what}: table, stderr"), &table.stderr);
        let diagnosis = fact(
            &String::from_utf8(table.stdout).expect("UTF-8"),
            "Diagnosis",
        );
        assert!(diagnosis.contains("<hidden>"), "{what}: {diagnosis}");

        // The server did get the credentials (over TLS): their absence means something.
        let received = server.received();
        assert!(
            received.iter().any(|r| r.tls && r.line == sent),
            "{what}: {received:#?}"
        );
    }
}

// --- 3. and 4. The chain judged now; an altered or unreadable leaf is untrusted -------------

/// `mail.smtp.test` presenting `identity`, probed with the test CA in `--ca-file`.
fn certificate_report(pki: &Pki, identity: &Identity) -> SmtpTargetReport {
    let server = starttls_server(identity.server_config());
    let ca_file = pki.ca_file();
    probe_json(
        &[
            "mail.smtp.test",
            "--port",
            &port(&server),
            "--ca-file",
            &ca_file,
        ],
        "1",
    )
    .report
}

/// An intermediate that expired 5 days ago, under a leaf valid today: untrusted. The leaf's
/// validity (300 days ago to 60 days ahead) has its middle inside the intermediate's, where a
/// chain judged at that middle passes.
#[test]
fn an_expired_intermediate_makes_the_chain_untrusted() {
    let pki = Pki::new();
    let intermediate = pki
        .ca
        .intermediate_between("mailaudit expired intermediate", -400, -5);
    let leaf = Leaf::valid_for(&["mail.smtp.test"]).between(-300, 60);
    let report = certificate_report(&pki, &intermediate.issue(&leaf).with_chain(&intermediate));
    let session = report.session();
    assert_eq!(session.outcome, OutcomeOut::Completed, "{session:#?}");
    let certificate = session.certificate();
    assert_eq!(certificate.chain_length, 2);
    assert!(
        (59..=60).contains(&certificate.days_left),
        "{certificate:?}"
    );
    assert_eq!(
        certificate.problems,
        [CertificateProblemOut::Untrusted],
        "{certificate:#?}"
    );
    assert!(!certificate.trusted);
    let why = certificate.trust_error.as_deref().unwrap_or_default();
    assert!(
        why.contains("intermediate") && why.contains("expired"),
        "{why}"
    );
    assert_eq!(report.codes(), ["smtp.cert-invalid"]);
    let invalid = report.one("smtp.cert-invalid");
    assert_eq!(invalid.evidence["problem"], "untrusted");
    assert!(
        invalid.message.contains("intermediate"),
        "{}",
        invalid.message
    );
}

/// The other side of judging the chain now: an intermediate valid today is not untrusted
/// because it ends before the middle of the leaf's validity.
#[test]
fn an_intermediate_valid_now_is_trusted_even_if_it_ends_before_the_leaf() {
    let pki = Pki::new();
    let intermediate = pki
        .ca
        .intermediate_between("mailaudit short intermediate", -100, 20);
    let leaf = Leaf::valid_for(&["mail.smtp.test"]);
    let report = certificate_report(&pki, &intermediate.issue(&leaf).with_chain(&intermediate));
    let certificate = report.session().certificate();
    assert!(certificate.trusted, "{certificate:#?}");
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
}

/// Where the subject's common name `name` is in a certificate: the OID 2.5.4.3 (`06 03 55 04
/// 03`), the string's tag and length, then `name` (the issuer's name and the SAN come
/// elsewhere: the SAN's names have no OID before them).
fn subject_common_name(der: &[u8], name: &str) -> usize {
    let oid = [0x06, 0x03, 0x55, 0x04, 0x03];
    der.windows(oid.len() + 2 + name.len())
        .position(|w| w[..oid.len()] == oid && &w[oid.len() + 2..] == name.as_bytes())
        .expect("the subject's common name in the certificate")
}

/// A leaf changed after its CA signed it (its subject's name, which no name check reads): the
/// handshake still works (the key is the same), the signature does not. And no password goes
/// to it.
#[test]
fn a_leaf_altered_after_signing_is_untrusted_and_gets_no_password() {
    let pki = Pki::new();
    let identity = pki.ca.issue(&Leaf::valid_for(&["mail.smtp.test"]));
    let mut der = identity.chain[0].to_vec();
    let at = subject_common_name(&der, "mail.smtp.test") + 7;
    der[at] = b'n';
    let altered = identity.with_leaf(der);
    let report = certificate_report(&pki, &altered);
    let certificate = report.session().certificate();
    assert!(
        certificate.subject.contains("nail.smtp.test"),
        "{certificate:?}"
    );
    assert_eq!(certificate.problems, [CertificateProblemOut::Untrusted]);
    let why = certificate.trust_error.as_deref().unwrap_or_default();
    assert!(why.contains("signature"), "{why}");
    assert_eq!(report.codes(), ["smtp.cert-invalid"]);

    let server = starttls_server(altered.server_config());
    let report = report_of(&as_user("mail.smtp.test", &server, &pki, "json"));
    let auth = report.session().auth.as_ref().expect("AUTH asked for");
    assert!(auth.skipped.is_some(), "{auth:?}");
    assert!(auth_lines(&server.received()).is_empty());
}

/// A leaf that the TLS library reads (it takes the key from it, and keeps the validity as bytes
/// until it checks a chain) but that is not a valid X.509 certificate: its start date is not a
/// date. Nothing about it can be vouched for: untrusted, never "no certificate" and no finding.
#[test]
fn an_unreadable_leaf_is_untrusted_not_accepted() {
    let pki = Pki::new();
    let identity = pki.ca.issue(&Leaf::valid_for(&["mail.smtp.test"]));
    let mut der = identity.chain[0].to_vec();
    // The first UTCTime (17 0d YYMMDDHHMMSSZ) is notBefore: its month made "x".
    let at = der
        .windows(15)
        .position(|w| {
            w[..2] == [0x17, 0x0d] && w[2..14].iter().all(u8::is_ascii_digit) && w[14] == b'Z'
        })
        .expect("notBefore, a UTCTime");
    der[at + 4] = b'x';
    let unreadable = identity.with_leaf(der);
    let report = certificate_report(&pki, &unreadable);
    let session = report.session();
    assert_eq!(session.outcome, OutcomeOut::Completed, "{session:#?}");
    let certificate = session.certificate();
    assert_eq!(certificate.problems, [CertificateProblemOut::Untrusted]);
    assert!(
        !certificate.trusted && !certificate.name_matches,
        "{certificate:#?}"
    );
    let why = certificate.trust_error.as_deref().unwrap_or_default();
    assert!(why.contains("cannot be read"), "{why}");
    assert_eq!(report.codes(), ["smtp.cert-invalid"]);
    assert_eq!(report.probe().verdict, "fail");
}

// --- 5. A reply time-out is smtp.timeout ----------------------------------------------------

/// A server that greets, then never answers again: the time-out mail clients report
/// (0x80042109), not a broken protocol.
#[test]
fn a_server_that_stops_answering_after_its_greeting_is_a_timeout() {
    let server = Server::start(Script::Bytes(format!("220 {NAME} ESMTP\r\n").into_bytes()));
    let args = ["127.0.0.1", "--port", &port(&server)];
    let probe = probe_json(&args, "0.5");
    let session = probe.report.session();
    assert_eq!(session.outcome, OutcomeOut::ReplyTimeout, "{session:#?}");
    assert_eq!(session.greeting.as_ref().map(|g| g.code), Some(220));
    let error = session.error.as_deref().unwrap_or_default();
    assert!(error.contains("EHLO"), "{error}");
    assert_eq!(probe.report.codes(), ["smtp.timeout"]);
    let timeout = probe.report.one("smtp.timeout");
    assert!(
        timeout.message.contains("0x80042109"),
        "{}",
        timeout.message
    );
    let diagnosis = fact(&table(&args, "0.5"), "Diagnosis");
    assert!(diagnosis.contains("stopped answering"), "{diagnosis}");
}

// --- 6. audit --smtp: what cannot be seen from here is unknown ----------------------------

/// A loopback address (other than 127.0.0.1) whose port 25 drops every SYN, or why none can be
/// had (port 25 needs privileges).
fn silent_port_25() -> Result<DroppingPort, String> {
    let mut last = String::new();
    for host in 25..35 {
        match DroppingPort::bind(Ipv4Addr::new(127, 25, 0, host), 25) {
            Ok(port) => return Ok(port),
            Err(e) => last = e.to_string(),
        }
    }
    Err(last)
}

/// An MX host silent on port 25 (outbound port 25 is blocked on most client networks: the
/// silence may be the auditor's) and one unreachable from here (224.0.0.1: the kernel refuses a
/// TCP connection to a multicast address, no packet leaves) say nothing of the servers: they
/// are unknown, the audit incomplete, no `smtp.*` finding, the TLS requirement unknown.
#[test]
fn audit_smtp_counts_silence_on_port_25_and_unreachable_addresses_as_unknown() {
    let silent = match silent_port_25() {
        Ok(silent) => silent,
        Err(why) => {
            eprintln!("SKIPPED audit_smtp_counts_silence...: port 25 of 127.25.0.x: {why}");
            return;
        }
    };
    let zones = tempfile::tempdir().expect("temporary directory");
    write_zone(
        zones.path(),
        "mxprobe.test",
        &format!(
            "@ IN MX 10 silent.mxprobe.test.\n\
             @ IN MX 20 far.mxprobe.test.\n\
             @ IN TXT \"v=spf1 mx -all\"\n\
             _dmarc IN TXT \"v=DMARC1; p=reject; rua=mailto:d@mxprobe.test\"\n\
             silent IN A {}\n\
             far IN A 224.0.0.1\n",
            silent.address.ip()
        ),
    );
    let dns = dns_server::start_with_zones("127.0.0.1:0".parse().expect("address"), zones.path());
    let args = ["audit", "mxprobe.test", "--smtp", "--format", "json"];
    let output = support::command_with_resolvers(&args, &[dns.resolver_arg()], "1")
        .output()
        .expect("run mailaudit");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(1),
        "incomplete fails --fail-on error: {stderr}"
    );
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let report: Report = serde_json::from_value(value.clone()).expect("the contract");

    let probes = value["smtp"].as_array().expect("the MX hosts probed");
    let outcome = |host: &str| {
        let probe = probes
            .iter()
            .find(|p| p["host"] == host)
            .unwrap_or_else(|| panic!("{host} probed: {probes:#?}"));
        (
            probe["sessions"][0]["outcome"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            probe["verdict"].as_str().unwrap_or_default().to_owned(),
        )
    };
    assert_eq!(
        outcome("silent.mxprobe.test"),
        ("connect-timeout".to_owned(), "unknown".to_owned())
    );
    assert_eq!(
        outcome("far.mxprobe.test"),
        ("unreachable".to_owned(), "unknown".to_owned())
    );
    let smtp_codes: Vec<String> = report
        .codes()
        .into_iter()
        .filter(|c| c.starts_with("smtp."))
        .collect();
    assert!(smtp_codes.is_empty(), "{smtp_codes:?}");
    assert!(report.incomplete);
    let unknown = smtp_unknown(&report.unknown);
    let about = |subject: &str| {
        unknown
            .iter()
            .find(|u| u.subject.as_deref() == Some(subject))
            .unwrap_or_else(|| panic!("{subject} unknown: {unknown:#?}"))
            .reason
            .clone()
    };
    let silence = about("silent.mxprobe.test:25");
    assert!(
        silence.contains("port 25") && silence.contains("block"),
        "{silence}"
    );
    let far = about("far.mxprobe.test:25");
    assert!(
        far.contains("224.0.0.1") && far.contains("cannot be reached"),
        "{far}"
    );
    assert_eq!(unknown.len(), 2, "{unknown:#?}");
    let tls = report
        .requirements
        .iter()
        .find(|r| r.requirement == "TLS for transmission")
        .expect("the TLS requirement");
    assert_eq!(tls.status, "unknown", "{tls:?}");
}

// --- 7. A half-failed address lookup is incomplete ------------------------------------------

/// The A question answers, the AAAA question fails: the IPv4 address works, the IPv6 ones (if
/// any) were not probed. Unknown, never "fine".
#[test]
fn a_failed_aaaa_lookup_beside_a_working_address_is_incomplete() {
    let pki = Pki::new();
    let identity = pki.ca.issue(&Leaf::valid_for(&["smtp.v6fail.test"]));
    let server = starttls_server(identity.server_config());
    let ca_file = pki.ca_file();
    let args = [
        "smtp.v6fail.test",
        "--port",
        &port(&server),
        "--ca-file",
        &ca_file,
    ];
    let probe = probe_json(&args, "1");
    let report = &probe.report;
    assert_eq!(
        probe.output.status.code(),
        Some(1),
        "incomplete fails --fail-on error"
    );
    let session = report.session();
    assert_eq!(session.outcome, OutcomeOut::Completed, "{session:#?}");
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
    let dns = report.probe().dns.as_ref().expect("a name is looked up");
    assert_eq!(dns.a, "records");
    assert!(
        !matches!(dns.aaaa.as_str(), "records" | "nodata" | "nxdomain"),
        "{dns:?}"
    );
    assert!(report.incomplete);
    assert_ne!(report.grade, "A");
    assert_eq!(report.probe().verdict, "unknown");
    let unknown = smtp_unknown(&report.unknown);
    assert_eq!(unknown.len(), 1, "{unknown:#?}");
    let expected_subject = format!("smtp.v6fail.test:{}", port(&server));
    assert_eq!(
        unknown[0].subject.as_deref(),
        Some(expected_subject.as_str())
    );
    assert!(
        unknown[0].reason.contains("failed in part"),
        "{:?}",
        unknown[0]
    );

    let table = table(&args, "1");
    assert!(table.contains("failed in part"), "{table}");
}

// --- 8. Server text quoted at most 200 characters --------------------------------------------

/// The count of `c` in the longest run of it in `text`.
fn longest_run(text: &str, c: char) -> usize {
    text.split(|x| x != c).map(str::len).max().unwrap_or(0)
}

/// A 1000-character refusal in the greeting: the JSON keeps the reply as data, every sentence
/// that quotes it (the error, the finding, the diagnosis) quotes at most 200 characters.
#[test]
fn a_1000_character_greeting_is_quoted_cut_at_200() {
    let server = Server::start(
        Smtp::new(NAME)
            .greeting(format!("554 5.7.1 {}\r\n", "x".repeat(1000)))
            .script(),
    );
    let args = ["127.0.0.1", "--port", &port(&server)];
    let probe = probe_json(&args, "0.5");
    let session = probe.report.session();
    assert_eq!(session.outcome, OutcomeOut::Rejected);
    let greeting = session.greeting.as_ref().expect("the greeting, as data");
    assert_eq!(longest_run(&greeting.lines[0], 'x'), 1000);
    let error = session.error.as_deref().unwrap_or_default();
    assert!(
        error.contains("554 5.7.1 xxx") && error.ends_with('…'),
        "{error}"
    );
    assert_eq!(longest_run(error, 'x'), 190, "{error}");
    let refused = probe.report.one("smtp.connect-refused");
    assert_eq!(
        longest_run(&refused.message, 'x'),
        190,
        "{}",
        refused.message
    );
    let table = table(&args, "0.5");
    // The table wraps long text: the quote is counted, not measured as one run.
    let diagnosis = fact(&table, "Diagnosis");
    assert_eq!(diagnosis.matches('x').count(), 190, "{diagnosis}");
}

/// The other replies a sentence quotes: STARTTLS refused, AUTH rejected, and a long greeting
/// that is not a refusal (the table's Greeting row).
#[test]
fn every_quoted_reply_is_cut_at_200() {
    let long = "y".repeat(1000);
    let refused = Server::start(
        Smtp::new(NAME)
            .starttls_answer(Starttls::Refuse(format!("454 4.7.0 {long}")))
            .script(),
    );
    let args = ["127.0.0.1", "--port", &port(&refused)];
    let probe = probe_json(&args, "0.5");
    let error = probe.report.session().error.clone().unwrap_or_default();
    assert!(error.contains("454 4.7.0 yyy"), "{error}");
    assert!(longest_run(&error, 'y') <= 200, "{error}");
    let failed = probe.report.one("smtp.tls-failed");
    assert!(
        longest_run(&failed.message, 'y') <= 200,
        "{}",
        failed.message
    );

    let pki = Pki::new();
    let identity = pki.ca.issue(&Leaf::valid_for(&["mail.smtp.test"]));
    let server = Server::start(
        Smtp::new(NAME)
            .greeting(format!("220 {NAME} {long}\r\n"))
            .starttls(identity.server_config())
            .ehlo_tls(&["AUTH PLAIN"])
            .auth_reply(&format!("535 5.7.8 {long}"))
            .script(),
    );
    let output = as_user("mail.smtp.test", &server, &pki, "json");
    let report = report_of(&output);
    let rejected = report.one("smtp.auth-failed");
    assert!(
        rejected.message.contains("535 5.7.8 yyy"),
        "{}",
        rejected.message
    );
    assert!(
        longest_run(&rejected.message, 'y') <= 200,
        "{}",
        rejected.message
    );
    let table =
        String::from_utf8(as_user("mail.smtp.test", &server, &pki, "table").stdout).expect("UTF-8");
    for row in ["Greeting", "AUTH", "Diagnosis"] {
        let text = fact(&table, row);
        assert!(text.contains("yyy"), "{row}: {text}");
        // Wrapped: counted, not measured as one run (the row's own words have a few y's).
        assert!(text.matches('y').count() < 250, "{row}: {text}");
    }
}

// --- 9. An address literal on a submission port asks no DNS ---------------------------------

#[test]
fn an_address_literal_on_a_submission_port_needs_no_resolver() {
    let pki = Pki::new();
    let identity = pki.ca.issue(&Leaf::valid_for(&["127.0.0.1"]));
    let server = starttls_server(identity.server_config());
    let ca_file = pki.ca_file();
    let dead = format!("127.0.0.1:{}", closed_port());
    let server_port = port(&server);
    let run = |host: &str| {
        let args = with_format(
            &["smtp", host, "--port", &server_port, "--ca-file", &ca_file],
            "json",
        );
        support::command_with_resolvers(&args, std::slice::from_ref(&dead), "0.5")
    };

    let probe = probe_with(run("127.0.0.1"));
    assert_eq!(probe.output.status.code(), Some(0));
    assert_eq!(probe.report.session().outcome, OutcomeOut::Completed);
    assert!(
        probe.report.findings.is_empty(),
        "{:#?}",
        probe.report.findings
    );
    assert!(!probe.report.incomplete, "{:#?}", probe.report.unknown);
    assert!(probe.report.probe().dns.is_none());

    // The same resolver stops a run that needs it: it is dead indeed.
    let output = run("mail.smtp.test").output().expect("run mailaudit");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&dead), "{stderr}");
}

/// An address literal that cannot be reached on a submission port is unknown, the server's part: with
/// no DNS question asked, a dead resolver is not blamed and does not stop the run.
#[test]
fn an_unreachable_address_literal_does_not_blame_an_unused_resolver() {
    let dead = format!("127.0.0.1:{}", closed_port());
    let args = with_format(&["smtp", "224.0.0.1", "--port", "587"], "json");
    let probe = probe_with(support::command_with_resolvers(
        &args,
        std::slice::from_ref(&dead),
        "0.5",
    ));
    let stderr = String::from_utf8_lossy(&probe.output.stderr);
    assert_eq!(probe.output.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains(&dead), "{stderr}");
    assert!(probe.report.incomplete, "{:#?}", probe.report);
    assert!(
        probe.report.findings.is_empty(),
        "{:#?}",
        probe.report.findings
    );
}

// --- 10. The old AUTH= line ---------------------------------------------------------------

/// `AUTH=PLAIN LOGIN`, what servers wrote before RFC 4954 (and still write for old clients):
/// its mechanisms are offered, over TLS tried, and before TLS a plain-text AUTH offer.
#[test]
fn the_legacy_auth_equals_line_is_read_as_auth_mechanisms() {
    let pki = Pki::new();
    let identity = pki.ca.issue(&Leaf::valid_for(&["mail.smtp.test"]));
    let server = Server::start(
        Smtp::new(NAME)
            .starttls(identity.server_config())
            .ehlo_tls(&["PIPELINING", "AUTH=PLAIN LOGIN"])
            .script(),
    );
    let report = report_of(&as_user("mail.smtp.test", &server, &pki, "json"));
    let session = report.session();
    let over_tls = session.ehlo_tls.as_ref().expect("EHLO over TLS");
    assert_eq!(over_tls.auth, ["PLAIN", "LOGIN"]);
    assert!(over_tls.other.is_empty(), "{over_tls:?}");
    let auth = session.auth.as_ref().expect("AUTH");
    assert_eq!(auth.mechanism.as_deref(), Some("PLAIN"));
    assert!(auth.accepted, "{auth:?}");
    assert!(report.findings.is_empty(), "{:#?}", report.findings);

    let plain = Server::start(Smtp::new(NAME).ehlo(&["AUTH=LOGIN"]).script());
    let probe = probe_json(&["127.0.0.1", "--port", &port(&plain)], "0.5");
    let offered = probe.report.one("smtp.auth-plaintext");
    assert_eq!(offered.severity, "critical");
    assert!(
        offered.message.contains("AUTH LOGIN"),
        "{}",
        offered.message
    );
    assert_eq!(
        probe.report.session().ehlo.as_ref().map(|e| e.auth.clone()),
        Some(vec!["LOGIN".to_owned()])
    );
}

/// `--user` with a password that is no UTF-8 text: refused before anything runs (exit 2),
/// the variable named, the bytes not shown.
#[cfg(unix)]
#[test]
fn a_password_that_is_not_utf8_is_refused_by_name() {
    use std::os::unix::ffi::OsStrExt as _;
    let port = closed_port().to_string();
    let mut command = mailaudit(&["127.0.0.1", "--port", &port, "--user", USER], "0.5");
    command.env(
        PASSWORD_VARIABLE,
        std::ffi::OsStr::from_bytes(b"secret\xff\xfe"),
    );
    let output = command.output().expect("run mailaudit");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(PASSWORD_VARIABLE) && stderr.contains("UTF-8"),
        "{stderr}"
    );
    assert!(!stderr.contains("secret"), "{stderr}");
    assert!(output.stdout.is_empty());
}
