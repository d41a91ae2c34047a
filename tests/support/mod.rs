//! What the end-to-end tests share: the in-process DNS server and a way to run the built
//! binary against it and read its JSON into typed structs.
#![allow(dead_code)]

pub mod dns_server;
pub mod dnssec;
pub mod fake_resolver;
pub mod https_server;
pub mod marks;
pub mod report;
pub mod smtp_server;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

#[allow(unused_imports)] // not every test binary reads reports
pub use report::{FindingOut, IpTargetReport, Report};

/// The blocklist catalog of the end-to-end tests: fixture lists that pass the health check.
pub fn working_catalog() -> String {
    format!("{}/fixtures/dnsbl/working.toml", env!("CARGO_MANIFEST_DIR"))
}

/// Whether the command of `args` asks blocklists and so takes `--dnsbl` (`smtp`, `message` and
/// `migrate` do not).
fn asks_blocklists(args: &[&str]) -> bool {
    !matches!(args.first(), Some(&"smtp" | &"message" | &"migrate"))
}

/// `mailaudit ARGS... --resolver <test server> --timeout 1`, not started yet. Unless the
/// arguments name a catalog, the fixture lists of [`working_catalog`] are used: no test ever
/// asks a real blocklist.
pub fn command(args: &[&str]) -> Command {
    let server = dns_server::server();
    let mut command = Command::new(env!("CARGO_BIN_EXE_mailaudit"));
    command.args(args);
    if asks_blocklists(args) && !args.contains(&"--dnsbl") {
        command.args(["--dnsbl", &working_catalog()]);
    }
    command
        .args(["--resolver", &server.resolver_arg(), "--timeout", "1"])
        .env("NO_COLOR", "1");
    command
}

/// `mailaudit ARGS... --resolver R...` asking `resolvers` (in that order) with `--timeout
/// TIMEOUT` (seconds, fractions allowed), not started yet; the fixture lists of
/// [`working_catalog`] unless the arguments name a catalog. For tests that bring their own
/// resolvers (one that dies, one that refuses) instead of the shared server.
pub fn command_with_resolvers(args: &[&str], resolvers: &[String], timeout: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mailaudit"));
    command.args(args);
    if asks_blocklists(args) && !args.contains(&"--dnsbl") {
        command.args(["--dnsbl", &working_catalog()]);
    }
    for resolver in resolvers {
        command.args(["--resolver", resolver]);
    }
    command.args(["--timeout", timeout]).env("NO_COLOR", "1");
    command
}

/// Runs [`command`] and returns its output.
pub fn run(args: &[&str]) -> Output {
    command(args).output().expect("run mailaudit")
}

/// Runs `command` and checks that it exits 0 (its standard error shown if not); its output.
pub fn run_ok(command: &mut Command) -> Output {
    let output = command.output().expect("run mailaudit");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The arguments of one `monitor --once` run of `config`, its history in `db`.
pub fn monitor_once<'a>(config: &'a Path, db: &'a Path) -> Vec<&'a str> {
    vec![
        "monitor",
        "--config",
        config.to_str().expect("UTF-8 path"),
        "--once",
        "--db",
        db.to_str().expect("UTF-8 path"),
    ]
}

/// [`monitor_once`] with `--format json`.
pub fn monitor_once_json<'a>(config: &'a Path, db: &'a Path) -> Vec<&'a str> {
    let mut args = monitor_once(config, db);
    args.extend(["--format", "json"]);
    args
}

/// Runs [`command`] with `input` on its standard input and returns its output.
pub fn run_with_stdin(args: &[&str], input: &str) -> Output {
    let mut child = command(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start mailaudit");
    child
        .stdin
        .take()
        .expect("piped standard input")
        .write_all(input.as_bytes())
        .expect("write standard input");
    child.wait_with_output().expect("run mailaudit")
}

/// Audits one domain with `--format json` (and any extra flags) and reads the report.
pub fn audit_with(domain: &str, extra: &[&str]) -> Report {
    let mut args = vec!["audit", domain, "--format", "json", "--fail-on", "never"];
    args.extend_from_slice(extra);
    let output = run(&args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(0),
        "mailaudit {args:?} failed: {stderr}"
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{domain}: JSON does not match the contract: {e}\n{}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// Audits one domain with `--format json`.
pub fn audit(domain: &str) -> Report {
    audit_with(domain, &[])
}

/// Runs [`command`] with `--format FORMAT --output FILE --fail-on never` and returns what was
/// written (HTML unescaped, so that it reads as the page shows it).
pub fn render(args: &[&str], format: &str) -> String {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join(format!("report.{format}"));
    let mut all = args.to_vec();
    all.extend_from_slice(&[
        "--format",
        format,
        "--fail-on",
        "never",
        "--output",
        path.to_str().expect("UTF-8 path"),
    ]);
    let output = run(&all);
    assert_eq!(
        output.status.code(),
        Some(0),
        "mailaudit {all:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = std::fs::read_to_string(&path).expect("the report file");
    if format == "html" {
        unescape_html(&text)
    } else {
        text
    }
}

/// Text as an HTML page shows it: the entities a template escapes replaced by their
/// characters.
pub fn unescape_html(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// A bulk run whose resolver dies in the middle.
pub struct DiedMidRun {
    pub output: Output,
    /// Every line written to the `--output` file.
    pub lines: Vec<String>,
    /// How many lines were written when the resolver went silent.
    pub before: usize,
}

/// Runs `mailaudit ARGS... --format jsonl --output FILE` against `server` alone (with
/// `--timeout TIMEOUT`), and silences the server ([`dns_server::TestDns::go_silent`]) as soon
/// as the first report line is written; then waits for the run to end.
pub fn silence_after_first_report(
    args: &[&str],
    server: &dns_server::TestDns,
    timeout: &str,
) -> DiedMidRun {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("out.jsonl");
    let mut all = args.to_vec();
    all.extend_from_slice(&[
        "--format",
        "jsonl",
        "--output",
        path.to_str().expect("UTF-8 path"),
    ]);
    let mut child = command_with_resolvers(&all, &[server.resolver_arg()], timeout)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start mailaudit");
    let complete_lines =
        || std::fs::read_to_string(&path).map_or(0, |text| text.matches('\n').count());
    let start = std::time::Instant::now();
    let mut before = complete_lines();
    while before == 0 {
        if let Some(status) = child.try_wait().expect("poll mailaudit") {
            let output = child.wait_with_output().expect("mailaudit output");
            panic!(
                "the run ended ({status}) before its first report: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "no report written in 20 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
        before = complete_lines();
    }
    server.go_silent();
    let output = child.wait_with_output().expect("mailaudit output");
    let lines = std::fs::read_to_string(&path)
        .expect("the jsonl file")
        .lines()
        .map(str::to_owned)
        .collect();
    DiedMidRun {
        output,
        lines,
        before,
    }
}
