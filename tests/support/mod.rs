//! What the end-to-end tests share: the in-process DNS server and a way to run the built
//! binary against it and read its JSON into typed structs.
#![allow(dead_code)]

pub mod dns_server;
pub mod report;

use std::process::{Command, Output};

#[allow(unused_imports)] // not every test binary reads reports
pub use report::{FindingOut, IpTargetReport, Report};

/// The blocklist catalog of the end-to-end tests: fixture lists that pass the health check.
pub fn working_catalog() -> String {
    format!("{}/fixtures/dnsbl/working.toml", env!("CARGO_MANIFEST_DIR"))
}

/// Runs `mailaudit ARGS... --resolver <test server> --timeout 1` and returns its output. Unless
/// the arguments name a catalog, the fixture lists of [`working_catalog`] are used: no test ever
/// asks a real blocklist.
pub fn run(args: &[&str]) -> Output {
    let server = dns_server::server();
    let mut command = Command::new(env!("CARGO_BIN_EXE_mailaudit"));
    command.args(args);
    if !args.contains(&"--dnsbl") {
        command.args(["--dnsbl", &working_catalog()]);
    }
    command
        .args(["--resolver", &server.resolver_arg(), "--timeout", "1"])
        .env("NO_COLOR", "1")
        .output()
        .expect("run mailaudit")
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
