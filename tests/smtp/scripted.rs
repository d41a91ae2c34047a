//! `mailaudit smtp` end to end against scripted, hostile and broken servers
//! (`tests/support/smtp_server.rs`, on 127.0.0.1 in this process): every `smtp.*` code from the
//! failure that causes it, the binary run and its JSON read into the contract's types
//! (`SmtpTargetReport`), the text formats read where a user reads the diagnosis.
//!
//! Ports: scripted servers listen on free ports, which mailaudit treats as submission ports;
//! the tests of port 25 (MX: STARTTLS missing is a warning, the greeting is compared with the
//! address's PTR) take 127.0.0.1:25 one at a time and are skipped, saying so, when it cannot be
//! had. The PTR of 127.0.0.1 is always `localhost`: hickory's resolver answers the names of
//! 127.in-addr.arpa itself (its RFC 6761 handling of localhost) without asking `--resolver`,
//! so no fixture zone can give it another name. `--all-ports` is not tested here: 465, 587 and 2525 of 127.0.0.1 are not this
//! binary's (the Postfix tests cover the matrix).
//!
//! Host names: `mail.smtp.test` is 127.0.0.1 in `fixtures/zones/smtp.test.zone`.

use std::fmt::Write as _;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::support::report::{
    CertificateProblemOut, OutcomeOut, RoleOut, SmtpTargetReport, TlsModeOut,
};
use crate::support::smtp_server::{
    self, Ca, Leaf, NAME, Script, Server, Smtp, Starttls, closed_port, fixed_port_lock,
};
use crate::support::{self, dns_server};

/// The password of the AUTH tests: never to be seen in any output.
pub(crate) const PASSWORD: &str = "Tr0ub4dor&3-horse";
pub(crate) const USER: &str = "alice@scripted.test";
pub(crate) const PASSWORD_VARIABLE: &str = "MAILAUDIT_SMTP_PASSWORD";

/// What a run may take beyond the probe's own limit (8 × `--timeout` a session): starting the
/// binary, checking the resolver, two cores shared with the other tests.
const SLACK: Duration = Duration::from_secs(3);

/// The longest a probe with `--timeout STEP` may take, by the documented limit.
pub(crate) fn limit(step: f64) -> Duration {
    Duration::from_secs_f64(8.0 * step) + SLACK
}

/// `mailaudit smtp ARGS... --resolver <fixture DNS> --timeout STEP`, not started.
pub(crate) fn mailaudit(args: &[&str], step: &str) -> Command {
    let mut all = vec!["smtp"];
    all.extend_from_slice(args);
    let mut command =
        support::command_with_resolvers(&all, &[dns_server::server().resolver_arg()], step);
    command.env_remove(PASSWORD_VARIABLE);
    command
}

/// A finished run: its output, how long it took, and its report.
pub(crate) struct Probe {
    pub(crate) report: SmtpTargetReport,
    pub(crate) output: Output,
    pub(crate) elapsed: Duration,
}

/// Runs `command`, checks it ended as a finished audit does (0 or 1, never a panic's 101) and
/// returns what it wrote and how long it took.
pub(crate) fn finish(mut command: Command) -> (Output, Duration) {
    let started = Instant::now();
    let output = command.output().expect("run mailaudit");
    let elapsed = started.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "{command:?} ended {}: {stderr}",
        output.status
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    (output, elapsed)
}

/// `mailaudit smtp ARGS... --format json` with `--timeout STEP`, its report read.
pub(crate) fn probe_json(args: &[&str], step: &str) -> Probe {
    probe_with(mailaudit(&with_format(args, "json"), step))
}

pub(crate) fn probe_with(command: Command) -> Probe {
    let (output, elapsed) = finish(command);
    let report: SmtpTargetReport = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "the JSON does not match the contract: {e}\n{}",
            String::from_utf8_lossy(&output.stdout)
        )
    });
    assert_eq!(report.kind, "smtp");
    assert_eq!(report.schema_version, 1);
    assert_eq!(report.target, report.smtp.host);
    support::report::assert_adds_up(
        &report.target,
        report.score,
        &report.grade,
        &report.scoring,
        &report.findings,
    );
    let status = output.status.code();
    let fails = report
        .findings
        .iter()
        .any(|f| f.severity == "error" || f.severity == "critical");
    assert_eq!(
        status,
        Some(i32::from(fails || report.incomplete)),
        "exit status at --fail-on error: {:?}",
        report.findings
    );
    Probe {
        report,
        output,
        elapsed,
    }
}

pub(crate) fn with_format<'a>(args: &[&'a str], format: &'a str) -> Vec<&'a str> {
    let mut all = args.to_vec();
    all.extend_from_slice(&["--format", format]);
    all
}

/// `mailaudit smtp ARGS... --format table` (no colour): what a user reads on the terminal.
pub(crate) fn table(args: &[&str], step: &str) -> String {
    let (output, _) = finish(mailaudit(&with_format(args, "table"), step));
    String::from_utf8(output.stdout).expect("the table is UTF-8")
}

/// The text of the row `label` of a two-column facts table, its wrapped lines joined: the
/// sentence as the user reads it.
pub(crate) fn fact(table: &str, label: &str) -> String {
    let mut text = Vec::new();
    let mut inside = false;
    for line in table.lines() {
        let Some(row) = line.strip_prefix('│') else {
            inside = false;
            continue;
        };
        let mut cells = row.trim_end_matches('│').split('┆');
        let (Some(first), Some(second)) = (cells.next(), cells.next()) else {
            inside = false;
            continue;
        };
        if cells.next().is_some() {
            inside = false;
            continue;
        }
        let first = first.trim();
        if first == label {
            inside = true;
        } else if !first.is_empty() {
            inside = false;
        }
        if inside {
            text.push(second.trim().to_owned());
        }
    }
    assert!(!text.is_empty(), "no {label} row in\n{table}");
    text.join(" ")
}

pub(crate) fn port(server: &Server) -> String {
    server.port().to_string()
}

/// A CA of its own for a test, its certificate written for `--ca-file`.
pub(crate) struct Pki {
    pub(crate) ca: Ca,
    dir: tempfile::TempDir,
}

impl Pki {
    pub(crate) fn new() -> Pki {
        Pki {
            ca: Ca::new("mailaudit scripted test CA"),
            dir: tempfile::tempdir().expect("temporary directory"),
        }
    }

    /// The `--ca-file` path.
    pub(crate) fn ca_file(&self) -> String {
        self.ca
            .write(self.dir.path(), "ca.pem")
            .to_str()
            .expect("UTF-8 path")
            .to_owned()
    }
}

/// A STARTTLS server presenting `config`, AUTH offered over TLS only.
pub(crate) fn starttls_server(
    config: std::sync::Arc<tokio_rustls::rustls::ServerConfig>,
) -> Server {
    Server::start(starttls_script(config))
}

/// The script of [`starttls_server`].
pub(crate) fn starttls_script(
    config: std::sync::Arc<tokio_rustls::rustls::ServerConfig>,
) -> Script {
    Smtp::new(NAME)
        .starttls(config)
        .ehlo_tls(&["PIPELINING", "AUTH PLAIN LOGIN", "ENHANCEDSTATUSCODES"])
        .script()
}

/// Starts `script` on a free port and on 127.0.0.1:`fixed` (the caller holds
/// [`fixed_port_lock`]), or says why that port cannot be had.
fn start_with_fixed_port(fixed: u16, script: &Script) -> Result<Server, String> {
    let mut last = String::new();
    for _ in 0..10 {
        match Server::start_on(&[0, fixed], script.clone()) {
            Ok(server) => return Ok(server),
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Err(last)
}

fn skipped(test: &str, why: &str) {
    eprintln!("SKIPPED {test}: a fixed port of 127.0.0.1 cannot be had ({why})");
}

// --- Connecting: refused, silent, dropped --------------------------------------------------

#[test]
fn nothing_listening_is_refused_as_outlook_0x800ccc7e_with_another_port_to_try() {
    let port = closed_port().to_string();
    let args = ["127.0.0.1", "--port", &port];
    let probe = probe_json(&args, "0.5");
    let session = probe.report.session();
    assert_eq!(session.outcome, OutcomeOut::Refused);
    assert_eq!(session.error.as_deref(), Some("refused"));
    assert_eq!(session.phase_names(), ["connect"], "{session:?}");
    let report = &probe.report;
    assert_eq!(report.codes(), ["smtp.connect-refused"]);
    let refused = report.one("smtp.connect-refused");
    assert_eq!(refused.severity, "error");
    assert!(
        refused.message.contains("0x800CCC7E"),
        "{}",
        refused.message
    );
    assert_eq!(refused.evidence["port"], port.parse::<u16>().unwrap());
    assert_eq!(
        refused.evidence["addresses"],
        serde_json::json!(["127.0.0.1"])
    );
    assert_eq!(report.probe().verdict, "fail");
    assert_eq!(report.probe().role, RoleOut::Submission);

    let table = table(&args, "0.5");
    let diagnosis = fact(&table, "Diagnosis");
    assert!(diagnosis.contains("0x800CCC7E"), "{diagnosis}");
    assert!(
        diagnosis.contains("try port 587 with STARTTLS"),
        "another port to try: {diagnosis}"
    );
    // The fix is listed first, without a "+0": the cap of a server that never answered holds
    // the score whatever one finding does.
    assert!(
        table.contains("1. [error smtp.connect-refused] "),
        "{table}"
    );
}

#[test]
fn a_server_that_never_greets_is_a_timeout() {
    let server = Server::start(Script::Silent);
    let args = ["127.0.0.1", "--port", &port(&server)];
    let probe = probe_json(&args, "0.5");
    let session = probe.report.session();
    assert_eq!(session.outcome, OutcomeOut::NoGreeting);
    assert!(!session.implicit_tls_detected);
    assert_eq!(session.phase_names(), ["connect"]);
    let timeout = probe.report.one("smtp.timeout");
    assert_eq!(timeout.severity, "error");
    assert!(
        timeout.message.contains("0x80042109"),
        "{}",
        timeout.message
    );
    assert_eq!(probe.report.codes(), ["smtp.timeout"]);
    assert_eq!(
        server.connections(),
        2,
        "a second connection tries a TLS handshake"
    );
    assert!(probe.elapsed < limit(0.5), "{:?}", probe.elapsed);

    let diagnosis = fact(&table(&args, "0.5"), "Diagnosis");
    assert!(diagnosis.contains("sent no greeting"), "{diagnosis}");
}

#[test]
fn a_silent_port_that_answers_a_tls_handshake_is_detected_as_implicit_tls() {
    let pki = Pki::new();
    let identity = pki.ca.issue(&Leaf::valid_for(&["127.0.0.1"]));
    let server = Server::start(Script::TlsOnly(identity.server_config()));
    let args = ["127.0.0.1", "--port", &port(&server)];
    let probe = probe_json(&args, "0.5");
    let session = probe.report.session();
    assert_eq!(session.outcome, OutcomeOut::NoGreeting);
    assert!(session.implicit_tls_detected, "{session:#?}");
    let timeout = probe.report.one("smtp.timeout");
    assert!(
        timeout.message.contains("implicit TLS (SSL/TLS)"),
        "{}",
        timeout.message
    );
    assert!(
        timeout
            .fix
            .as_deref()
            .unwrap_or_default()
            .contains("SSL/TLS"),
        "{timeout:?}"
    );

    let table = table(&args, "0.5");
    let diagnosis = fact(&table, "Diagnosis");
    for words in ["implicit TLS", "SSL/TLS", "--tls implicit"] {
        assert!(diagnosis.contains(words), "{words}: {diagnosis}");
    }
    assert!(
        table.contains("no greeting: expects implicit TLS"),
        "{table}"
    );
}

/// A listening port that drops each new connection's SYN, as a firewall does: the client hears
/// nothing. Linux drops the SYN when the accept queue of a listener of backlog 0 holds one, so
/// the queue is filled first (and kept full while this lives).
pub(crate) struct DroppingPort {
    pub(crate) address: std::net::SocketAddr,
    _fillers: Vec<std::net::TcpStream>,
    _listener: tokio::net::TcpListener,
    _runtime: tokio::runtime::Runtime,
}

impl DroppingPort {
    /// On `ip`:`port` (`0`: a free port); an error when the address cannot be bound (a port
    /// below 1024 without privileges, or one taken).
    pub(crate) fn bind(ip: std::net::Ipv4Addr, port: u16) -> std::io::Result<DroppingPort> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let _entered = runtime.enter();
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind((ip, port).into())?;
        let address = socket.local_addr()?;
        let listener = socket.listen(0)?;
        // Fill the accept queue: connections complete until it is full, then hang.
        let mut fillers = Vec::new();
        for _ in 0..4 {
            match std::net::TcpStream::connect_timeout(&address, Duration::from_millis(300)) {
                Ok(stream) => fillers.push(stream),
                Err(_) => break,
            }
        }
        assert!(!fillers.is_empty() && fillers.len() < 4, "{fillers:?}");
        Ok(DroppingPort {
            address,
            _fillers: fillers,
            _listener: listener,
            _runtime: runtime,
        })
    }
}

#[test]
fn a_port_whose_packets_are_dropped_is_a_connect_timeout() {
    let dropping = DroppingPort::bind(smtp_server::IP, 0).expect("a free port of 127.0.0.1");
    let port = dropping.address.port().to_string();
    let probe = probe_json(&["127.0.0.1", "--port", &port], "0.5");
    let session = probe.report.session();
    assert_eq!(session.outcome, OutcomeOut::ConnectTimeout, "{session:#?}");
    let timeout = probe.report.one("smtp.timeout");
    assert!(
        timeout.message.contains("0x80042109"),
        "{}",
        timeout.message
    );
    assert!(probe.elapsed < limit(0.5), "{:?}", probe.elapsed);
}

// --- Bounded against slow and endless servers ----------------------------------------------

#[test]
fn a_greeting_line_that_never_ends_is_cut_at_the_line_limit_at_once() {
    let server = Server::start(Script::Endless {
        prefix: b"220 ".to_vec(),
        chunk: vec![b'x'; 1024],
    });
    // A long time-out: what ends the session is the line limit, not the clock.
    let probe = probe_json(&["127.0.0.1", "--port", &port(&server)], "5");
    let session = probe.report.session();
    assert_eq!(session.outcome, OutcomeOut::Oversized);
    let error = session.error.as_deref().unwrap_or_default();
    assert!(error.contains("longer than 4096 bytes"), "{error}");
    assert_eq!(probe.report.codes(), ["smtp.protocol-error"]);
    assert!(
        probe.elapsed < Duration::from_secs(3),
        "cut by the limit, not the 5 s time-out: {:?}",
        probe.elapsed
    );
}

#[test]
fn a_server_dripping_a_byte_every_200_ms_cannot_hold_the_probe() {
    let server = Server::start(Script::Drip {
        bytes: format!("220-{NAME} ESMTP, slowly\r\n").into_bytes(),
        every: Duration::from_millis(200),
    });
    let probe = probe_json(&["127.0.0.1", "--port", &port(&server)], "1");
    let session = probe.report.session();
    assert!(
        matches!(
            session.outcome,
            OutcomeOut::NoGreeting | OutcomeOut::ProbeTimeout
        ),
        "{session:#?}"
    );
    assert!(!session.implicit_tls_detected);
    assert_eq!(probe.report.codes(), ["smtp.timeout"]);
    assert!(probe.elapsed < limit(1.0), "{:?}", probe.elapsed);
}

/// Each reply, and the TLS handshake, comes just inside `--timeout`, so no step times out: the
/// session's own limit (8 × `--timeout`) is what bounds it (9 slow steps: greeting, EHLO,
/// STARTTLS, handshake, EHLO, three AUTH LOGIN replies, QUIT).
#[test]
fn replies_each_just_in_time_are_held_to_the_session_limit() {
    let pki = Pki::new();
    let identity = pki.ca.issue(&Leaf::valid_for(&["127.0.0.1"]));
    let server = Server::start(
        Smtp::new(NAME)
            .starttls(identity.server_config())
            .ehlo_tls(&["AUTH LOGIN"])
            .auth_reply("535 5.7.8 Authentication credentials invalid")
            .delay(Duration::from_millis(450))
            .script(),
    );
    let mut command = mailaudit(
        &with_format(
            &["127.0.0.1", "--port", &port(&server), "--user", USER],
            "json",
        ),
        "0.5",
    );
    command.env(PASSWORD_VARIABLE, PASSWORD);
    let probe = probe_with(command);
    assert!(probe.elapsed < limit(0.5), "{:?}", probe.elapsed);
    let session = probe.report.session();
    assert!(
        matches!(
            session.outcome,
            // ProtocolError: a step that timed out after all, on a loaded machine.
            OutcomeOut::ProbeTimeout | OutcomeOut::Completed | OutcomeOut::ProtocolError
        ),
        "{session:#?}"
    );
    // The session's work within 8 steps; QUIT, once the work is done, gets one step of its own.
    let work: f64 = session
        .phases
        .iter()
        .filter(|p| p.phase != "quit")
        .map(|p| p.ms)
        .sum();
    assert!(work <= 4_000.0, "{:?}", session.phases);
    let quit: f64 = session
        .phases
        .iter()
        .filter(|p| p.phase == "quit")
        .map(|p| p.ms)
        .sum();
    assert!(quit <= 600.0, "{:?}", session.phases);
    assert!(
        session
            .phase_names()
            .starts_with(&["connect", "greeting", "ehlo", "starttls"]),
        "the server answered each step in time: {session:#?}"
    );
    if session.outcome == OutcomeOut::ProbeTimeout {
        assert!(
            probe.report.has("smtp.timeout"),
            "{:?}",
            probe.report.findings
        );
    }
}

// --- STARTTLS and AUTH before TLS ----------------------------------------------------------

#[test]
fn starttls_missing_is_an_error_on_submission_and_a_warning_on_port_25() {
    let script = Smtp::new(NAME).script();
    let submission = Server::start(script.clone());
    let probe = probe_json(&["127.0.0.1", "--port", &port(&submission)], "0.5");
    assert_eq!(probe.report.session().outcome, OutcomeOut::Completed);
    assert_eq!(probe.report.probe().role, RoleOut::Submission);
    assert_eq!(probe.report.codes(), ["smtp.no-starttls"]);
    let missing = probe.report.one("smtp.no-starttls");
    assert_eq!(missing.severity, "error");
    assert!(missing.message.contains("password"), "{}", missing.message);
    let ehlo = probe.report.session().ehlo.as_ref().expect("EHLO");
    assert!(
        !ehlo.starttls && ehlo.pipelining && ehlo.eight_bit_mime,
        "{ehlo:?}"
    );
    assert!(probe.report.session().tls.is_none());

    let _port_25 = fixed_port_lock();
    let server = match start_with_fixed_port(25, &script) {
        Ok(server) => server,
        Err(why) => {
            return skipped(
                "starttls_missing_is_an_error_on_submission_and_a_warning_on_port_25",
                &why,
            );
        }
    };
    let probe = probe_json(&["127.0.0.1", "--port", "25"], "0.5");
    drop(server);
    let mx = probe.report.probe();
    assert_eq!((mx.port, mx.role), (25, RoleOut::Mx));
    assert_eq!(mx.sessions[0].outcome, OutcomeOut::Completed);
    let missing = probe.report.one("smtp.no-starttls");
    assert_eq!(missing.severity, "warning");
    assert!(
        missing.message.contains("plain text"),
        "{}",
        missing.message
    );
    let mut codes = probe.report.codes();
    codes.sort_unstable();
    // The greeting names mail.scripted.test; the PTR of 127.0.0.1 is localhost.
    assert_eq!(codes, ["smtp.banner-mismatch", "smtp.no-starttls"]);
}

#[test]
fn auth_offered_without_starttls_is_critical_and_no_password_is_sent() {
    let server = Server::start(
        Smtp::new(NAME)
            .ehlo(&["PIPELINING", "AUTH PLAIN LOGIN"])
            .script(),
    );
    let mut command = mailaudit(
        &with_format(
            &["127.0.0.1", "--port", &port(&server), "--user", USER],
            "json",
        ),
        "0.5",
    );
    command.env(PASSWORD_VARIABLE, PASSWORD);
    let probe = probe_with(command);
    let report = &probe.report;
    let plaintext = report.one("smtp.auth-plaintext");
    assert_eq!(plaintext.severity, "critical");
    assert!(
        plaintext.message.contains("AUTH PLAIN LOGIN"),
        "{plaintext:?}"
    );
    assert!(report.has("smtp.no-starttls"));
    assert!(report.scoring.capped_by_critical);
    let auth = report.session().auth.as_ref().expect("auth");
    assert!(!auth.accepted && auth.mechanism.is_none(), "{auth:?}");
    assert!(
        auth.skipped
            .as_deref()
            .is_some_and(|s| s.contains("not encrypted")),
        "{auth:?}"
    );
    let received = server.received();
    assert!(
        !received
            .iter()
            .any(|r| r.line.to_ascii_uppercase().starts_with("AUTH")),
        "no AUTH in plain text: {received:?}"
    );
}

#[test]
fn auth_offered_before_starttls_is_critical_even_when_tls_follows() {
    let pki = Pki::new();
    let identity = pki.ca.issue(&Leaf::valid_for(&["127.0.0.1"]));
    let server = Server::start(
        Smtp::new(NAME)
            .starttls(identity.server_config())
            .ehlo(&["AUTH PLAIN LOGIN"])
            .ehlo_tls(&["AUTH PLAIN LOGIN"])
            .script(),
    );
    let ca_file = pki.ca_file();
    let mut command = mailaudit(
        &with_format(
            &[
                "127.0.0.1",
                "--port",
                &port(&server),
                "--ca-file",
                &ca_file,
                "--user",
                USER,
            ],
            "json",
        ),
        "0.5",
    );
    command.env(PASSWORD_VARIABLE, PASSWORD);
    let probe = probe_with(command);
    let report = &probe.report;
    assert_eq!(report.codes(), ["smtp.auth-plaintext"]);
    assert_eq!(report.one("smtp.auth-plaintext").severity, "critical");
    let session = report.session();
    assert_eq!(session.outcome, OutcomeOut::Completed);
    assert!(session.ehlo.as_ref().is_some_and(|e| e.starttls));
    let auth = session.auth.as_ref().expect("auth");
    assert!(auth.accepted, "{auth:?}");
    let auth_lines: Vec<_> = server
        .received()
        .into_iter()
        .filter(|r| r.line.to_ascii_uppercase().starts_with("AUTH"))
        .collect();
    assert_eq!(auth_lines.len(), 1, "{auth_lines:?}");
    assert!(auth_lines[0].tls, "AUTH only over TLS: {auth_lines:?}");
}

#[test]
fn auth_offered_with_tls_none_is_critical() {
    let server = Server::start(Smtp::new(NAME).ehlo(&["AUTH LOGIN"]).script());
    let probe = probe_json(
        &["127.0.0.1", "--port", &port(&server), "--tls", "none"],
        "0.5",
    );
    assert_eq!(probe.report.probe().tls, TlsModeOut::None);
    assert_eq!(probe.report.codes(), ["smtp.auth-plaintext"]);
    assert_eq!(probe.report.one("smtp.auth-plaintext").severity, "critical");
}

// --- TLS failures --------------------------------------------------------------------------

/// A server whose STARTTLS is answered as `answer` says, probed; its one session.
fn broken_starttls(answer: Starttls) -> SmtpTargetReport {
    let server = Server::start(Smtp::new(NAME).starttls_answer(answer).script());
    probe_json(&["127.0.0.1", "--port", &port(&server)], "0.5").report
}

#[test]
fn garbage_after_starttls_220_is_tls_failed() {
    let report = broken_starttls(Starttls::Answer(
        b"this is not TLS, it is a broken proxy\r\n".to_vec(),
    ));
    let session = report.session();
    assert_eq!(session.outcome, OutcomeOut::TlsFailed);
    assert!(!session.tls_outdated);
    assert_eq!(session.starttls_reply.as_ref().map(|r| r.code), Some(220));
    assert_eq!(report.codes(), ["smtp.tls-failed"]);
    assert_eq!(report.one("smtp.tls-failed").severity, "error");
}

#[test]
fn a_handshake_failure_alert_is_tls_failed() {
    let report = broken_starttls(Starttls::Answer(smtp_server::tls_alert(40)));
    let session = report.session();
    assert_eq!(session.outcome, OutcomeOut::TlsFailed);
    assert!(!session.tls_outdated);
    assert_eq!(report.codes(), ["smtp.tls-failed"]);
    let message = &report.one("smtp.tls-failed").message;
    assert!(
        message.to_ascii_lowercase().contains("handshake"),
        "{message}"
    );
}

#[test]
fn starttls_refused_with_454_is_tls_failed() {
    let report = broken_starttls(Starttls::Refuse("454 4.7.0 TLS not available".to_owned()));
    let session = report.session();
    assert_eq!(session.outcome, OutcomeOut::TlsFailed);
    assert_eq!(session.starttls_reply.as_ref().map(|r| r.code), Some(454));
    let message = &report.one("smtp.tls-failed").message;
    assert!(message.contains("454 4.7.0 TLS not available"), "{message}");
}

/// RFC 3207 §5: what a server sends after its 220 to STARTTLS and before the handshake must
/// not be taken as protected (the STARTTLS command injection of CVE-2011-0411, server side).
#[test]
fn data_after_the_starttls_reply_is_refused_not_taken_as_protected() {
    let report = broken_starttls(Starttls::Refuse(
        "220 2.0.0 Ready to start TLS\r\n250-injected\r\n250 AUTH PLAIN".to_owned(),
    ));
    let session = report.session();
    assert_eq!(session.outcome, OutcomeOut::ProtocolError, "{session:#?}");
    assert!(session.tls.is_none() && session.ehlo_tls.is_none());
    assert_eq!(session.starttls_reply.as_ref().map(|r| r.code), Some(220));
    assert_eq!(report.codes(), ["smtp.protocol-error"]);
    let error = session.error.as_deref().unwrap_or_default();
    assert!(error.contains("after its STARTTLS reply"), "{error}");
}

#[test]
fn a_tls_1_0_only_server_is_tls_outdated() {
    for (what, answer) in [
        ("a TLS 1.0 ServerHello", smtp_server::tls10_server_hello()),
        ("a protocol_version alert", smtp_server::tls_alert(70)),
    ] {
        let report = broken_starttls(Starttls::Answer(answer));
        let session = report.session();
        assert_eq!(session.outcome, OutcomeOut::TlsFailed, "{what}");
        assert!(session.tls_outdated, "{what}: {session:#?}");
        assert_eq!(report.codes(), ["smtp.tls-outdated"], "{what}");
        let outdated = report.one("smtp.tls-outdated");
        assert_eq!(outdated.severity, "warning", "{what}");
        assert!(
            outdated.message.contains("TLS 1.0 or 1.1"),
            "{what}: {outdated:?}"
        );
    }
}

// --- Implicit TLS and STARTTLS mixed up ----------------------------------------------------

#[test]
fn implicit_tls_against_a_plain_text_port_says_it_uses_starttls() {
    let pki = Pki::new();
    let identity = pki.ca.issue(&Leaf::valid_for(&["127.0.0.1"]));
    let script = Smtp::new(NAME).starttls(identity.server_config()).script();
    let server = Server::start(script.clone());
    let args = ["127.0.0.1", "--port", &port(&server), "--tls", "implicit"];
    let probe = probe_json(&args, "0.5");
    assert_eq!(probe.report.probe().tls, TlsModeOut::Implicit);
    let session = probe.report.session();
    assert_eq!(session.outcome, OutcomeOut::TlsFailed);
    assert!(session.greeting.is_none());
    assert_eq!(probe.report.codes(), ["smtp.tls-failed"]);
    let failed = probe.report.one("smtp.tls-failed");
    assert!(
        failed
            .fix
            .as_deref()
            .unwrap_or_default()
            .contains("STARTTLS"),
        "{failed:?}"
    );
    let diagnosis = fact(&table(&args, "0.5"), "Diagnosis");
    assert!(
        diagnosis.contains("uses STARTTLS") && diagnosis.contains("--tls starttls"),
        "{diagnosis}"
    );

    // Port 465 means implicit TLS unless told otherwise.
    let _port_465 = fixed_port_lock();
    let server = match start_with_fixed_port(465, &script) {
        Ok(server) => server,
        Err(why) => {
            return skipped(
                "implicit_tls_against_a_plain_text_port_says_it_uses_starttls (465)",
                &why,
            );
        }
    };
    let probe = probe_json(&["127.0.0.1", "--port", "465"], "0.5");
    let table = table(&["127.0.0.1", "--port", "465"], "0.5");
    drop(server);
    let on_465 = probe.report.probe();
    assert_eq!((on_465.port, on_465.tls), (465, TlsModeOut::Implicit));
    assert_eq!(on_465.role, RoleOut::Submission);
    assert_eq!(probe.report.codes(), ["smtp.tls-failed"]);
    let diagnosis = fact(&table, "Diagnosis");
    assert!(
        diagnosis.contains("Port 465 answered in plain text") && diagnosis.contains("STARTTLS"),
        "{diagnosis}"
    );
}

#[test]
fn starttls_against_an_implicit_tls_server_is_detected_and_implicit_works() {
    let pki = Pki::new();
    let identity = pki.ca.issue(&Leaf::valid_for(&["127.0.0.1"]));
    let server = Server::start(
        Smtp::new(NAME)
            .implicit(identity.server_config())
            .ehlo_tls(&["AUTH PLAIN"])
            .script(),
    );
    let probe = probe_json(&["127.0.0.1", "--port", &port(&server)], "0.5");
    let session = probe.report.session();
    assert_eq!(session.outcome, OutcomeOut::NoGreeting);
    assert!(session.implicit_tls_detected);
    assert_eq!(probe.report.codes(), ["smtp.timeout"]);

    let ca_file = pki.ca_file();
    let probe = probe_json(
        &[
            "127.0.0.1",
            "--port",
            &port(&server),
            "--tls",
            "implicit",
            "--ca-file",
            &ca_file,
        ],
        "0.5",
    );
    assert!(
        probe.report.findings.is_empty(),
        "{:?}",
        probe.report.findings
    );
    let session = probe.report.session();
    assert_eq!(session.outcome, OutcomeOut::Completed);
    assert_eq!(session.phase_names()[..3], ["connect", "tls", "greeting"]);
    assert!(session.ehlo.is_none());
    assert_eq!(
        session.ehlo_tls.as_ref().map(|e| e.auth.clone()),
        Some(vec!["PLAIN".to_owned()])
    );
}

// --- Certificates ----------------------------------------------------------------------------

/// A STARTTLS server at `mail.smtp.test` (127.0.0.1 in the fixture zone) presenting a
/// certificate of `leaf` signed by the test CA, probed with the test CA in `--ca-file` (or by a
/// CA the probe is not given, when `trusted_ca` is false).
fn certificate_case(leaf: &Leaf, trusted_ca: bool) -> SmtpTargetReport {
    let pki = Pki::new();
    let stranger = Ca::new("a CA nobody was told about");
    let identity = if trusted_ca {
        pki.ca.issue(leaf)
    } else {
        stranger.issue(leaf)
    };
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

/// One `smtp.cert-invalid` whose evidence names `problem`, the session completed past it.
fn assert_one_problem(report: &SmtpTargetReport, problem: CertificateProblemOut, word: &str) {
    let session = report.session();
    assert_eq!(session.outcome, OutcomeOut::Completed, "{session:#?}");
    assert!(
        session.ehlo_tls.is_some(),
        "the session goes on past the certificate"
    );
    let certificate = session.certificate();
    assert_eq!(certificate.problems, [problem], "{certificate:#?}");
    assert_eq!(report.codes(), ["smtp.cert-invalid"]);
    let invalid = report.one("smtp.cert-invalid");
    assert_eq!(invalid.severity, "error");
    assert_eq!(invalid.evidence["problem"], word, "{invalid:?}");
    assert_eq!(
        invalid.evidence["names"],
        serde_json::json!(certificate.names)
    );
    assert_eq!(
        invalid.evidence["not_after"],
        certificate.not_after.as_str()
    );
}

#[test]
fn an_expired_certificate_is_cert_invalid_expired() {
    let report = certificate_case(
        &Leaf::valid_for(&["mail.smtp.test"]).between(-100, -10),
        true,
    );
    assert_one_problem(&report, CertificateProblemOut::Expired, "expired");
    let certificate = report.session().certificate();
    assert!(
        (-11..=-10).contains(&certificate.days_left),
        "{certificate:?}"
    );
    assert!(certificate.trusted, "judged apart from its dates");
    let message = &report.one("smtp.cert-invalid").message;
    assert!(message.contains("expired"), "{message}");
}

#[test]
fn a_certificate_not_valid_yet_is_cert_invalid_not_yet_valid() {
    let report = certificate_case(&Leaf::valid_for(&["mail.smtp.test"]).between(10, 100), true);
    assert_one_problem(&report, CertificateProblemOut::NotYetValid, "not-yet-valid");
    assert!(report.session().certificate().trusted);
}

#[test]
fn a_certificate_for_other_names_is_cert_invalid_wrong_name() {
    let report = certificate_case(
        &Leaf::valid_for(&["other.smtp.test", "*.elsewhere.test"]),
        true,
    );
    assert_one_problem(&report, CertificateProblemOut::WrongName, "wrong-name");
    let certificate = report.session().certificate();
    assert!(!certificate.name_matches && certificate.trusted);
    assert_eq!(certificate.names, ["other.smtp.test", "*.elsewhere.test"]);
    let message = &report.one("smtp.cert-invalid").message;
    assert!(
        message.contains("mail.smtp.test") && message.contains("other.smtp.test"),
        "{message}"
    );
}

#[test]
fn a_certificate_from_an_unknown_ca_is_cert_invalid_untrusted() {
    let report = certificate_case(&Leaf::valid_for(&["mail.smtp.test"]), false);
    assert_one_problem(&report, CertificateProblemOut::Untrusted, "untrusted");
    let certificate = report.session().certificate();
    assert!(!certificate.trusted && certificate.name_matches);
    assert!(certificate.trust_error.is_some(), "{certificate:?}");
    assert!(certificate.issuer.contains("a CA nobody was told about"));
}

#[test]
fn each_problem_of_a_certificate_is_its_own_finding() {
    let report = certificate_case(
        &Leaf::valid_for(&["other.smtp.test"]).between(-100, -10),
        false,
    );
    let problems: Vec<&serde_json::Value> = report
        .with_code("smtp.cert-invalid")
        .iter()
        .map(|f| &f.evidence["problem"])
        .collect();
    assert_eq!(
        problems,
        [
            &serde_json::json!("expired"),
            &serde_json::json!("wrong-name"),
            &serde_json::json!("untrusted")
        ]
    );
}

#[test]
fn a_valid_certificate_raises_nothing_and_its_facts_are_read() {
    let report = certificate_case(&Leaf::valid_for(&["mail.smtp.test"]), true);
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
    assert_eq!((report.score, report.grade.as_str()), (100, "A"));
    let probe = report.probe();
    assert_eq!(probe.verdict, "ok");
    assert_eq!(probe.tls, TlsModeOut::Starttls);
    let dns = probe.dns.as_ref().expect("a host name is looked up");
    assert_eq!((dns.a.as_str(), dns.aaaa.as_str()), ("records", "nodata"));
    let session = report.session();
    assert_eq!(session.ip.to_string(), "127.0.0.1");
    assert_eq!(session.outcome, OutcomeOut::Completed);
    assert_eq!(
        session.phase_names(),
        [
            "connect", "greeting", "ehlo", "starttls", "ehlo-tls", "quit"
        ]
    );
    assert_eq!(session.greeting_host.as_deref(), Some(NAME));
    assert_eq!(session.starttls_reply.as_ref().map(|r| r.code), Some(220));
    let tls = session.tls.as_ref().expect("TLS");
    assert_eq!(tls.version, "TLSv1.3");
    assert!(tls.cipher.starts_with("TLS13_"), "{tls:?}");
    let certificate = session.certificate();
    assert_eq!(certificate.names, ["mail.smtp.test"]);
    assert!(
        certificate.subject.contains("CN=mail.smtp.test"),
        "{certificate:?}"
    );
    assert!(
        certificate.issuer.contains("mailaudit scripted test CA"),
        "{certificate:?}"
    );
    assert!(certificate.key.starts_with("EC P-256"), "{certificate:?}");
    assert!(
        (88..=90).contains(&certificate.days_left),
        "{certificate:?}"
    );
    assert_eq!(certificate.chain_length, 1);
    assert!(certificate.trusted && certificate.name_matches);
    assert!(certificate.problems.is_empty() && certificate.trust_error.is_none());
    let over_tls = session.ehlo_tls.as_ref().expect("EHLO over TLS");
    assert_eq!(over_tls.auth, ["PLAIN", "LOGIN"]);
    assert!(over_tls.enhancedstatuscodes);
}

#[test]
fn a_certificate_expiring_in_5_days_is_cert_expiring() {
    let report = certificate_case(&Leaf::valid_for(&["mail.smtp.test"]).between(-85, 5), true);
    assert_eq!(report.codes(), ["smtp.cert-expiring"]);
    let expiring = report.one("smtp.cert-expiring");
    assert_eq!(expiring.severity, "warning");
    let certificate = report.session().certificate();
    assert!((4..=5).contains(&certificate.days_left), "{certificate:?}");
    assert!(certificate.problems.is_empty());
    assert_eq!(
        expiring.evidence["not_after"],
        certificate.not_after.as_str()
    );
}

#[test]
fn an_intermediate_the_server_does_not_send_leaves_the_chain_untrusted() {
    let pki = Pki::new();
    let intermediate = pki.ca.intermediate("mailaudit scripted intermediate");
    let leaf = Leaf::valid_for(&["mail.smtp.test"]).rsa();
    let ca_file = pki.ca_file();
    let run = |identity: smtp_server::Identity| {
        let server = starttls_server(identity.server_config());
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
    };

    let whole = run(intermediate.issue(&leaf).with_chain(&intermediate));
    assert!(whole.findings.is_empty(), "{:#?}", whole.findings);
    let certificate = whole.session().certificate();
    assert_eq!(certificate.chain_length, 2);
    assert_eq!(certificate.key, "RSA 2048");
    assert!(certificate.trusted);

    let leaf_only = run(intermediate.issue(&leaf));
    let certificate = leaf_only.session().certificate();
    assert_eq!(certificate.chain_length, 1);
    assert_eq!(certificate.problems, [CertificateProblemOut::Untrusted]);
    let why = certificate.trust_error.as_deref().unwrap_or_default();
    assert!(why.contains("intermediate"), "{why}");
    assert!(
        leaf_only
            .one("smtp.cert-invalid")
            .fix
            .as_deref()
            .is_some_and(|f| f.contains("intermediate"))
    );
}

// --- AUTH and the password ---------------------------------------------------------------------

const M365_REJECTION: &str = "535 5.7.139 Authentication unsuccessful, basic authentication is disabled. \
     [AM0PR02CA0001.eurprd02.prod.outlook.com 2024-01-01T00:00:00.000Z 08DC0000000000000]";

/// Every form the password could leak in: itself, base64, and the AUTH PLAIN token.
pub(crate) fn secret_forms() -> Vec<String> {
    vec![
        PASSWORD.to_owned(),
        BASE64.encode(PASSWORD),
        BASE64.encode(format!("\0{USER}\0{PASSWORD}")),
        BASE64.encode(format!("{USER}\0{PASSWORD}")),
    ]
}

pub(crate) fn assert_no_secret(what: &str, text: &[u8]) {
    let text = String::from_utf8_lossy(text);
    for secret in secret_forms() {
        assert!(!text.contains(&secret), "{what} shows {secret:?}:\n{text}");
    }
}

/// `mailaudit smtp` as `USER` with the password in the environment, in `format` (HTML through
/// `--output`): stdout, stderr and the file all checked for the password.
pub(crate) fn run_as_user(args: &[&str], format: &str) -> Output {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join(format!("report.{format}"));
    let mut all = args.to_vec();
    all.extend_from_slice(&["--user", USER, "--format", format]);
    if format == "html" {
        all.extend_from_slice(&["--output", path.to_str().expect("UTF-8 path")]);
    }
    let mut command = mailaudit(&all, "1");
    command.env(PASSWORD_VARIABLE, PASSWORD);
    let (output, _) = finish(command);
    assert_no_secret(&format!("{format}: standard output"), &output.stdout);
    assert_no_secret(&format!("{format}: standard error"), &output.stderr);
    if format == "html" {
        let page = std::fs::read(&path).expect("the HTML report");
        assert!(page.len() > 1000, "an HTML report was written");
        assert_no_secret("html: the report file", &page);
        assert_no_secret(
            "html: the report file, unescaped",
            support::unescape_html(&String::from_utf8_lossy(&page)).as_bytes(),
        );
    }
    output
}

#[test]
fn auth_rejected_by_microsoft_365_is_explained_and_the_password_never_shown() {
    let pki = Pki::new();
    let identity = pki.ca.issue(&Leaf::valid_for(&["127.0.0.1"]));
    let ca_file = pki.ca_file();
    for mechanism in ["PLAIN", "LOGIN"] {
        let server = Server::start(
            Smtp::new(NAME)
                .starttls(identity.server_config())
                .ehlo_tls(&["ENHANCEDSTATUSCODES", &format!("AUTH {mechanism}")])
                .auth_reply(M365_REJECTION)
                .script(),
        );
        let args = ["127.0.0.1", "--port", &port(&server), "--ca-file", &ca_file];
        let output = run_as_user(&args, "json");
        let report: SmtpTargetReport =
            serde_json::from_slice(&output.stdout).expect("the JSON report");
        assert_eq!(report.codes(), ["smtp.auth-failed"], "{mechanism}");
        let failed = report.one("smtp.auth-failed");
        assert_eq!(failed.severity, "error");
        for words in ["Microsoft 365", "SMTP AUTH", "5.7.139", USER] {
            assert!(
                failed.message.contains(words),
                "{words}: {}",
                failed.message
            );
        }
        assert_eq!(failed.evidence["enhanced_code"], "5.7.139");
        assert_eq!(failed.evidence["reply_code"], 535);
        let auth = report.session().auth.as_ref().expect("auth");
        assert_eq!(auth.user, USER);
        assert_eq!(auth.mechanism.as_deref(), Some(mechanism));
        assert!(!auth.accepted);
        assert_eq!(auth.enhanced_code.as_deref(), Some("5.7.139"));
        assert_eq!(auth.reply.as_ref().map(|r| r.code), Some(535));

        // The server did get the password, over TLS: its absence from the output means
        // something.
        let received = server.received();
        let sent = match mechanism {
            "PLAIN" => format!(
                "AUTH PLAIN {}",
                BASE64.encode(format!("\0{USER}\0{PASSWORD}"))
            ),
            _ => BASE64.encode(PASSWORD),
        };
        let line = received
            .iter()
            .find(|r| r.line == sent)
            .unwrap_or_else(|| panic!("{mechanism}: the password was not sent: {received:?}"));
        assert!(line.tls);

        for format in ["table", "markdown", "jsonl", "html"] {
            run_as_user(&args, format);
        }
    }
}

/// What to do about 5.7.139 (turn SMTP AUTH on for the mailbox: `Set-CASMailbox`) must reach
/// the user on the terminal and in a ticket, not only in JSON and HTML.
#[test]
fn the_microsoft_365_advice_reaches_the_terminal_and_markdown() {
    let pki = Pki::new();
    let identity = pki.ca.issue(&Leaf::valid_for(&["127.0.0.1"]));
    let ca_file = pki.ca_file();
    let server = Server::start(
        Smtp::new(NAME)
            .starttls(identity.server_config())
            .ehlo_tls(&["AUTH PLAIN"])
            .auth_reply(M365_REJECTION)
            .script(),
    );
    let args = ["127.0.0.1", "--port", &port(&server), "--ca-file", &ca_file];
    for format in ["table", "markdown"] {
        let output = run_as_user(&args, format);
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(
            text.contains("Set-CASMailbox"),
            "{format}: the advice for 5.7.139 is not shown:\n{text}"
        );
    }
}

/// A server that quotes the client's AUTH line back in its rejection (some do, in their
/// "invalid" or "unrecognized command" replies): the report must still not carry the password.
#[test]
fn a_server_echoing_the_credentials_does_not_put_them_in_the_report() {
    let pki = Pki::new();
    let identity = pki.ca.issue(&Leaf::valid_for(&["127.0.0.1"]));
    let ca_file = pki.ca_file();
    let token = BASE64.encode(format!("\0{USER}\0{PASSWORD}"));
    let server = Server::start(
        Smtp::new(NAME)
            .starttls(identity.server_config())
            .ehlo_tls(&["AUTH PLAIN"])
            .auth_reply(&format!(
                "535 5.7.8 AUTH PLAIN {token}: invalid credentials"
            ))
            .script(),
    );
    let args = ["127.0.0.1", "--port", &port(&server), "--ca-file", &ca_file];
    for format in ["json", "table"] {
        run_as_user(&args, format);
    }
}

#[test]
fn user_without_a_password_in_the_environment_is_refused_before_anything_runs() {
    let port = closed_port().to_string();
    let output = mailaudit(&["127.0.0.1", "--port", &port, "--user", USER], "0.5")
        .output()
        .expect("run mailaudit");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(PASSWORD_VARIABLE), "{stderr}");
    assert!(output.stdout.is_empty());
}

// --- Greetings: refusals, names ---------------------------------------------------------------

#[test]
fn a_554_greeting_is_a_refusal_with_the_reply_in_the_diagnosis() {
    let server = Server::start(
        Smtp::new(NAME)
            .greeting(format!(
                "554 5.7.1 {NAME} no SMTP service for 127.0.0.1\r\n"
            ))
            .script(),
    );
    let args = ["127.0.0.1", "--port", &port(&server)];
    let probe = probe_json(&args, "0.5");
    let session = probe.report.session();
    assert_eq!(session.outcome, OutcomeOut::Rejected);
    assert_eq!(session.greeting.as_ref().map(|g| g.code), Some(554));
    assert!(session.ehlo.is_none());
    assert_eq!(probe.report.codes(), ["smtp.connect-refused"]);
    let refused = probe.report.one("smtp.connect-refused");
    assert!(refused.message.contains("554 5.7.1"), "{}", refused.message);
    let diagnosis = fact(&table(&args, "0.5"), "Diagnosis");
    assert!(
        diagnosis.contains(&format!("554 5.7.1 {NAME} no SMTP service")),
        "{diagnosis}"
    );
    assert!(
        server.received().iter().all(|r| r.line == "QUIT"),
        "nothing but QUIT after a refusal: {:?}",
        server.received()
    );
}

#[test]
fn a_greeting_name_other_than_the_ptr_is_banner_mismatch_on_port_25_only() {
    let pki = Pki::new();
    let identity = pki.ca.issue(&Leaf::valid_for(&["127.0.0.1"]));
    let ca_file = pki.ca_file();
    let script = |greeting: &str| {
        Smtp::new(NAME)
            .greeting(format!("{greeting}\r\n"))
            .starttls(identity.server_config())
            .script()
    };
    let mismatched = "220 mail.elsewhere.test ESMTP";

    // On a submission port the greeting is not compared (and no PTR is asked).
    let submission = Server::start(script(mismatched));
    let probe = probe_json(
        &[
            "127.0.0.1",
            "--port",
            &port(&submission),
            "--ca-file",
            &ca_file,
        ],
        "0.5",
    );
    assert!(
        probe.report.findings.is_empty(),
        "{:?}",
        probe.report.findings
    );
    assert!(probe.report.probe().ptr.is_empty());

    let _port_25 = fixed_port_lock();
    // A greeting without a host name has nothing to compare.
    for (greeting, mismatch) in [(mismatched, true), ("220 ESMTP ready", false)] {
        let server = match start_with_fixed_port(25, &script(greeting)) {
            Ok(server) => server,
            Err(why) => {
                return skipped(
                    "a_greeting_name_other_than_the_ptr_is_banner_mismatch_on_port_25_only",
                    &why,
                );
            }
        };
        let probe = probe_json(&["127.0.0.1", "--port", "25", "--ca-file", &ca_file], "0.5");
        drop(server);
        let report = &probe.report;
        let session = report.session();
        assert_eq!(session.outcome, OutcomeOut::Completed, "{session:#?}");
        let ptr = &report.probe().ptr;
        assert_eq!(ptr.len(), 1);
        assert_eq!(ptr[0].ip.to_string(), "127.0.0.1");
        assert_eq!(ptr[0].names, ["localhost"]);
        if mismatch {
            assert_eq!(
                session.greeting_host.as_deref(),
                Some("mail.elsewhere.test")
            );
            assert_eq!(report.codes(), ["smtp.banner-mismatch"]);
            let finding = report.one("smtp.banner-mismatch");
            assert_eq!(finding.severity, "warning");
            assert_eq!(finding.evidence["greeting_host"], "mail.elsewhere.test");
            assert_eq!(finding.evidence["ptr"], serde_json::json!(["localhost"]));
        } else {
            assert_eq!(session.greeting_host, None);
            assert!(report.findings.is_empty(), "{:?}", report.findings);
        }
    }
}

// --- Names without addresses ------------------------------------------------------------------

#[test]
fn a_host_without_addresses_is_no_address() {
    for (host, a) in [
        ("none.smtp.test", "nxdomain"),
        ("noaddress.smtp.test", "nodata"),
    ] {
        let probe = probe_json(&[host], "0.5");
        let report = &probe.report;
        assert_eq!(report.codes(), ["smtp.no-address"], "{host}");
        assert!(report.probe().sessions.is_empty());
        assert_eq!(report.probe().dns.as_ref().map(|d| d.a.as_str()), Some(a));
        assert!(!report.incomplete);
    }
}

/// A DNS failure is unknown: never "no address".
#[test]
fn a_host_whose_lookup_fails_is_unknown_not_no_address() {
    let probe = probe_json(&["mail.servfail.test"], "0.5");
    let report = &probe.report;
    assert!(!report.has("smtp.no-address"), "{:?}", report.findings);
    let probe = report.probe();
    assert_eq!(probe.verdict, "unknown");
    assert!(probe.sessions.is_empty());
    assert!(report.incomplete, "{report:#?}");
}

// --- Hostile bytes ---------------------------------------------------------------------------

/// Bytes that look random (xorshift, fixed seed): the same every run.
fn noise(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect()
}

/// The outcomes a hostile server may leave: each an `smtp.*` finding, never a hang or a panic.
fn assert_bounded(probe: &Probe, step: f64) {
    assert!(probe.elapsed < limit(step), "{:?}", probe.elapsed);
    let session = probe.report.session();
    if let Some(error) = &session.error {
        assert!(
            error.len() < 1_000,
            "the error is bounded: {} bytes",
            error.len()
        );
    }
    let json = probe.output.stdout.len();
    assert!(json < 64 * 1024, "the report is bounded: {json} bytes");
}

#[test]
fn random_binary_is_a_protocol_error() {
    let server = Server::start(Script::Bytes(noise(64 * 1024)));
    let probe = probe_json(&["127.0.0.1", "--port", &port(&server)], "0.5");
    assert_bounded(&probe, 0.5);
    let session = probe.report.session();
    assert!(
        matches!(
            session.outcome,
            OutcomeOut::ProtocolError | OutcomeOut::Oversized
        ),
        "{session:#?}"
    );
    assert_eq!(probe.report.codes(), ["smtp.protocol-error"]);
}

#[test]
fn a_10_mb_reply_is_cut_at_the_session_limit() {
    let mut ehlo = format!("250-{NAME} Hello\r\n").into_bytes();
    let line = format!("250-X-{}\r\n", "A".repeat(4000));
    while ehlo.len() < 10 * 1024 * 1024 {
        ehlo.extend_from_slice(line.as_bytes());
    }
    ehlo.extend_from_slice(b"250 OK\r\n");
    let server = Server::start(Smtp::new(NAME).raw_ehlo(ehlo).script());
    let probe = probe_json(&["127.0.0.1", "--port", &port(&server)], "1");
    assert_bounded(&probe, 1.0);
    let session = probe.report.session();
    assert_eq!(session.outcome, OutcomeOut::Oversized, "{session:#?}");
    let error = session.error.as_deref().unwrap_or_default();
    assert!(error.contains("256 KiB"), "{error}");
    assert_eq!(probe.report.codes(), ["smtp.protocol-error"]);
}

#[test]
fn a_thousand_continuation_lines_are_cut_at_the_reply_limit() {
    let mut ehlo = format!("250-{NAME} Hello\r\n");
    for i in 0..1000 {
        let _ = write!(ehlo, "250-X-EXTENSION-{i}\r\n");
    }
    ehlo.push_str("250 OK\r\n");
    let server = Server::start(Smtp::new(NAME).raw_ehlo(ehlo).script());
    let probe = probe_json(&["127.0.0.1", "--port", &port(&server)], "0.5");
    assert_bounded(&probe, 0.5);
    let session = probe.report.session();
    assert_eq!(session.outcome, OutcomeOut::Oversized, "{session:#?}");
    let error = session.error.as_deref().unwrap_or_default();
    assert!(error.contains("200 lines"), "{error}");
}

#[test]
fn a_server_closing_mid_session_is_a_protocol_error() {
    let server = Server::start(Script::Close(format!("220 {NAME} ESMTP\r\n").into_bytes()));
    let probe = probe_json(&["127.0.0.1", "--port", &port(&server)], "0.5");
    assert_bounded(&probe, 0.5);
    let session = probe.report.session();
    assert_eq!(session.outcome, OutcomeOut::Closed, "{session:#?}");
    assert_eq!(probe.report.codes(), ["smtp.protocol-error"]);
}

/// NUL, bytes that are not UTF-8, terminal escape sequences, bidirectional controls, in the
/// greeting and the EHLO reply: the JSON holds them as data, and no text format sends them to
/// the terminal or the page.
#[test]
fn nul_invalid_utf8_and_escape_sequences_are_shown_not_sent() {
    let greeting =
        b"220 mail\0.scripted.test \x1b[2J\x1b]0;owned\x07 \xff\xfe\xc3( ESMTP \xe2\x80\xae\r\n";
    let ehlo = b"250-mail.scripted.test \x1b[31mHello\r\n250-X-\0NUL\r\n250-\xff\xfeBAD\r\n250 STARTTLS\x1b[0m\r\n";
    let server = Server::start(
        Smtp::new(NAME)
            .greeting(greeting.to_vec())
            .raw_ehlo(ehlo.to_vec())
            .script(),
    );
    let args = ["127.0.0.1", "--port", &port(&server)];
    let probe = probe_json(&args, "0.5");
    assert_bounded(&probe, 0.5);
    let session = probe.report.session();
    assert_eq!(session.outcome, OutcomeOut::Completed, "{session:#?}");
    assert_eq!(session.greeting_host, None, "a name with a NUL is no name");
    let greeting_text = &session.greeting.as_ref().expect("greeting").lines[0];
    assert!(greeting_text.contains('\0') && greeting_text.contains('\u{fffd}'));
    let ehlo = session.ehlo.as_ref().expect("EHLO");
    assert!(
        !ehlo.starttls,
        "STARTTLS followed by an escape is not STARTTLS"
    );
    assert!(probe.report.has("smtp.no-starttls"));

    for format in ["table", "markdown"] {
        let (output, _) = finish(mailaudit(&with_format(&args, format), "0.5"));
        let text = String::from_utf8(output.stdout).expect("UTF-8 output");
        let bad: Vec<char> = text
            .chars()
            .filter(|&c| {
                (c.is_control() && c != '\n')
                    || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
            })
            .collect();
        assert!(bad.is_empty(), "{format} sends {bad:?}:\n{text}");
    }
    let page = support::render(&["smtp", "127.0.0.1", "--port", &port(&server)], "html");
    assert!(!page.contains('\u{1b}') && !page.contains('\0'), "html");
}
