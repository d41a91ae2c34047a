//! Hostile and broken input: a clear one-line error naming the file (exit status 2) or a
//! bounded result, never a panic or unbounded work.

use std::fmt::Write as _;
use std::io::Write;
use std::time::{Duration, Instant};

use crate::{analyse, run_file};

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn ten_thousand_header_fields_are_refused_by_name() {
    let mut message = String::from("From: a@msg.test\r\n");
    for n in 0..10_000 {
        let _ = write!(message, "X-Filler-{n}: value\r\n");
    }
    message.push_str("\r\nbody\r\n");
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(message.as_bytes()).unwrap();
    let output = run_file(file.path(), &[]);
    assert_eq!(output.status.code(), Some(2));
    let error = stderr(&output);
    assert!(
        error.contains(&file.path().display().to_string()),
        "{error}"
    );
    assert!(error.contains("10001 header fields"), "{error}");
    assert_eq!(error.lines().count(), 1, "{error}");
}

#[test]
fn a_message_over_the_size_cap_is_refused_unread() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(b"From: a@msg.test\r\nSubject: big\r\n\r\n")
        .unwrap();
    let line = [b'A'; 1000];
    for _ in 0..(70 * 1024) {
        file.write_all(&line).unwrap();
        file.write_all(b"\r\n").unwrap();
    }
    file.flush().unwrap();
    let output = run_file(file.path(), &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("larger than 64 MB"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn deeply_nested_mime_is_bounded_work() {
    let depth = 20_000;
    let mut message = String::from(
        "From: a@msg.test\r\nDate: Tue, 1 Jul 2025 10:00:00 +0000\r\nMessage-ID: <n@msg.test>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b0\"\r\n\r\n",
    );
    for n in 1..depth {
        let _ = write!(
            message,
            "--b{}\r\nContent-Type: multipart/mixed; boundary=\"b{n}\"\r\n\r\n",
            n - 1
        );
    }
    message.push_str("text\r\n");
    let started = Instant::now();
    let (report, _) = analyse(message.as_bytes(), &[]);
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(report.codes().contains(&"message.dkim-missing"));
}

#[test]
fn invalid_utf8_is_analysed_not_refused() {
    let mut message = b"From: \"Caf\xe9\xff\" <a@msg.test>\r\nSubject: \xc3\x28 broken\r\nDate: Tue, 1 Jul 2025 10:00:00 +0000\r\n\r\nbody \xfe\xff\r\n".to_vec();
    message.extend_from_slice(b"\x80\x81\r\n");
    let (report, _) = analyse(&message, &[]);
    assert_eq!(report.summary.from_domain.as_deref(), Some("msg.test"));
    assert_eq!(report.dmarc.from_domain.as_deref(), Some("msg.test"));
}

#[test]
fn text_that_is_not_a_message_is_refused_by_name() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(b"just some words\nwithout any header field\n")
        .unwrap();
    let output = run_file(file.path(), &[]);
    assert_eq!(output.status.code(), Some(2));
    let error = stderr(&output);
    assert!(error.contains("is not an RFC 5322 message"), "{error}");
    assert!(
        error.contains(&file.path().display().to_string()),
        "{error}"
    );
}

#[test]
fn a_missing_file_is_named() {
    let output = run_file(std::path::Path::new("/nonexistent/message.eml"), &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("cannot read '/nonexistent/message.eml'"),
        "{}",
        stderr(&output)
    );
}

/// Pasted headers on standard input with the delivering hop given on the command line.
#[test]
fn standard_input_with_hop_options() {
    let message = "From: a@msg.test\nReturn-Path: <bounces@msg.test>\nReceived: from x (x [198.51.100.7]) by mx with SMTP; Tue, 1 Jul 2025\nSubject: pasted\n\nbody\n";
    let mut child = crate::support::command_with_resolvers(
        &[
            "message",
            "-",
            "--format",
            "json",
            "--ip",
            "192.0.2.10",
            "--helo",
            "mail.msg.test",
        ],
        &[crate::server().resolver_arg()],
        "2",
    )
    .stdin(std::process::Stdio::piped())
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(message.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let report = crate::parse(&output);
    assert_eq!(report.spf.ip.as_deref(), Some("192.0.2.10"));
    assert_eq!(report.spf.source, "--ip");
    assert_eq!(report.spf.result.as_deref(), Some("pass"));
    // The hop without TLS is named.
    assert_eq!(report.hops[0].tls, Some(false));
    assert!(report.codes().contains(&"message.no-tls"));
}
