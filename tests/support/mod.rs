//! What the end-to-end tests share: the in-process DNS server and a way to run the built
//! binary against it and read its JSON into typed structs.
#![allow(dead_code)]

pub mod dns_server;
pub mod report;

use std::io::Write;
use std::process::{Command, Output, Stdio};

#[allow(unused_imports)] // not every test binary reads reports
pub use report::{FindingOut, IpTargetReport, Report};

/// The blocklist catalog of the end-to-end tests: fixture lists that pass the health check.
pub fn working_catalog() -> String {
    format!("{}/fixtures/dnsbl/working.toml", env!("CARGO_MANIFEST_DIR"))
}

/// `mailaudit ARGS... --resolver <test server> --timeout 1`, not started yet. Unless the
/// arguments name a catalog, the fixture lists of [`working_catalog`] are used: no test ever
/// asks a real blocklist.
pub fn command(args: &[&str]) -> Command {
    let server = dns_server::server();
    let mut command = Command::new(env!("CARGO_BIN_EXE_mailaudit"));
    command.args(args);
    if !args.contains(&"--dnsbl") {
        command.args(["--dnsbl", &working_catalog()]);
    }
    command
        .args(["--resolver", &server.resolver_arg(), "--timeout", "1"])
        .env("NO_COLOR", "1");
    command
}

/// Runs [`command`] and returns its output.
pub fn run(args: &[&str]) -> Output {
    command(args).output().expect("run mailaudit")
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
