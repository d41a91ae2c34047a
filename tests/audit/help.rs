//! The command line matches what each command does: its help offers only the flags it uses,
//! `--output -` is standard output, the built-in blocklist catalog can be printed and used as a
//! `--dnsbl` file, and `COLUMNS` sets the table width when the output is not a terminal.

use std::process::{Command, Output};

use crate::support::{self, IpTargetReport};

/// The binary with `args` only: no resolver, no catalog.
fn bare(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mailaudit"))
        .args(args)
        .env_remove("COLUMNS")
        .output()
        .expect("run mailaudit")
}

fn help(command: &str) -> String {
    let output = bare(&[command, "--help"]);
    assert_eq!(output.status.code(), Some(0));
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn monitor_and_history_offer_only_what_they_write_and_use() {
    for command in ["monitor", "history"] {
        let text = help(command);
        for absent in ["html", "markdown", "src/"] {
            assert!(
                !text.contains(absent),
                "{command} --help offers {absent}:\n{text}"
            );
        }
        assert!(text.contains("--format"), "{text}");
        assert!(text.contains("'-' is standard output"), "{text}");
    }
    let history = help("history");
    for unused in [
        "--resolver",
        "--timeout",
        "--dnsbl",
        "--concurrency",
        "--rate",
        "--fail-on",
    ] {
        assert!(!history.contains(unused), "history offers {unused}");
    }
    // What they do not take is refused, not ignored.
    let output = bare(&["history", "example.com", "--format", "html"]);
    assert_eq!(output.status.code(), Some(2));
    let output = bare(&["history", "example.com", "--resolver", "127.0.0.1"]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn the_common_flags_are_grouped_where_they_apply() {
    let audit = help("audit");
    for heading in ["Report:", "DNS:", "Blocklists:"] {
        assert!(audit.contains(heading), "audit --help lacks {heading}");
    }
    let smtp = help("smtp");
    assert!(smtp.contains("DNS:") && smtp.contains("Report:"), "{smtp}");
    assert!(!smtp.contains("--dnsbl"), "smtp asks no blocklist:\n{smtp}");
    assert!(
        audit.contains("--list-catalog") && !audit.contains("src/dnsbl"),
        "--dnsbl says how to get the catalog, not where its source is:\n{audit}"
    );
}

#[test]
fn output_dash_writes_to_standard_output_not_a_file_named_dash() {
    let dir = tempfile::tempdir().unwrap();
    let output = support::command(&[
        "audit",
        "good.test",
        "--format",
        "json",
        "--fail-on",
        "never",
        "--output",
        "-",
    ])
    .current_dir(dir.path())
    .output()
    .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: support::Report = serde_json::from_slice(&output.stdout).expect("a report");
    assert_eq!(report.target, "good.test");
    assert!(!dir.path().join("-").exists(), "no file named '-'");
    // HTML too: the page, not a dated file under reports/.
    let output = support::command(&[
        "audit",
        "good.test",
        "--format",
        "html",
        "--fail-on",
        "never",
        "--output",
        "-",
    ])
    .current_dir(dir.path())
    .output()
    .unwrap();
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("<!DOCTYPE html>"));
    assert!(!dir.path().join("reports").exists());
    assert!(!dir.path().join("-").exists());
}

#[test]
fn the_printed_catalog_is_a_working_dnsbl_file() {
    let output = bare(&["ip", "--list-catalog"]);
    assert_eq!(output.status.code(), Some(0));
    let printed = String::from_utf8(output.stdout).unwrap();
    assert!(printed.contains("zen.spamhaus.org"), "{printed}");
    // A user's catalog started from it: the printout and one list of their own, a loopback
    // zone the test server serves.
    let own = std::fs::read_to_string(support::working_catalog()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("lists.toml");
    std::fs::write(&catalog, format!("{printed}\n{own}")).unwrap();
    let output = support::run(&[
        "ip",
        "192.0.2.20",
        "--dnsbl",
        catalog.to_str().unwrap(),
        "--format",
        "json",
        "--fail-on",
        "never",
    ]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: IpTargetReport = serde_json::from_slice(&output.stdout).expect("an IP report");
    assert!(report.has("ip.listed"), "{:?}", report.findings);
    let lists: Vec<&str> = report.ip["lists"]
        .as_array()
        .expect("lists")
        .iter()
        .filter_map(|l| l["list"].as_str())
        .collect();
    assert!(lists.contains(&"RBL Major"), "{lists:?}");
    assert!(
        lists.contains(&"Spamhaus ZEN"),
        "the printed lists are used: {lists:?}"
    );
}

#[test]
fn columns_sets_the_table_width_when_piped() {
    let width = |columns: Option<&str>| {
        let mut command = support::command(&["audit", "none.dmarc.test", "--fail-on", "never"]);
        match columns {
            Some(columns) => command.env("COLUMNS", columns),
            None => command.env_remove("COLUMNS"),
        };
        let output = command.output().unwrap();
        let text = String::from_utf8(output.stdout).unwrap();
        text.lines()
            .filter(|l| l.starts_with(['┌', '│', '└', '├']))
            .map(|l| l.chars().count())
            .max()
            .unwrap()
    };
    let default = width(None);
    assert!(default > 80, "the default is wider than 80: {default}");
    assert!(width(Some("80")) <= 80, "COLUMNS=80");
    assert!(width(Some("160")) > default, "COLUMNS=160");
}
