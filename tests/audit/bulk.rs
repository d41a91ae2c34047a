//! Bulk runs: a list file, standard input, the summary table, streamed JSON, and Ctrl-C.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{self, Report};

fn list_file(dir: &tempfile::TempDir, domains: &[&str]) -> String {
    let path = dir.path().join("domains.txt");
    std::fs::write(&path, domains.join("\n")).unwrap();
    path.to_str().unwrap().to_owned()
}

const MIXED: [&str; 12] = [
    "good.test",
    "hostile.test",
    "m365.test",
    "m365-nodkim.test",
    "m365-nodmarc.test",
    "m365-nospf.test",
    "pass-all.spf.test",
    "none.dmarc.test",
    "weak.dkim.test",
    "null.mx.test",
    "missing.mx.test",
    "spammy.dnsbl.test",
];

#[test]
fn a_bulk_table_has_one_row_a_domain_and_a_count_by_grade() {
    let dir = tempfile::tempdir().unwrap();
    let list = list_file(&dir, &MIXED);
    let output = support::run(&["audit", "--file", &list, "--fail-on", "never"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let table = String::from_utf8(output.stdout).unwrap();
    for domain in MIXED {
        let row = table
            .lines()
            .find(|l| l.contains(&format!(" {domain} ")))
            .unwrap_or_else(|| panic!("no row for {domain}:\n{table}"));
        assert!(
            row.contains(" A ")
                || row.contains(" B ")
                || row.contains(" C ")
                || row.contains(" D ")
                || row.contains(" F "),
            "{row}"
        );
    }
    assert!(table.contains("12 targets."), "{table}");
    // The queries the audits sent, and how many a second.
    let summary = table.lines().find(|l| l.contains("12 targets.")).unwrap();
    let (count, rest) = summary
        .split_once(" DNS queries in ")
        .unwrap_or_else(|| panic!("{summary}"));
    let queries: usize = count.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(queries > 12 * 10, "{summary}");
    assert!(
        rest.contains(" s (") && rest.ends_with(" a second)."),
        "{summary}"
    );
    assert!(
        !table.contains("What was found"),
        "a bulk table shows no per-area tables:\n{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.contains("pass-all.spf.test") && l.contains("critical spf.pass-all")),
        "{table}"
    );
}

#[test]
fn jsonl_from_standard_input_gives_one_valid_report_a_line() {
    let output = audit_stdin(&MIXED.join("\n"), "jsonl");
    let text = String::from_utf8(output.stdout).unwrap();
    let mut targets: Vec<String> = text
        .lines()
        .map(|l| serde_json::from_str::<Report>(l).expect("a report").target)
        .collect();
    targets.sort();
    let mut expected: Vec<String> = MIXED.iter().map(|d| (*d).to_owned()).collect();
    expected.sort();
    assert_eq!(targets, expected);
}

#[test]
fn a_bad_line_in_the_list_stops_the_run_before_any_query_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let list = list_file(&dir, &["good.test", "# a comment", "bad domain.test"]);
    let output = support::run(&["audit", "--file", &list]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("domains.txt:3: invalid domain 'bad domain.test'"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
}

/// Ctrl-C in the middle of a run: what was written is complete and valid, and the exit status
/// says the run was interrupted.
fn interrupt_after_first_line(format: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    // Two quick domains, then domains whose server never answers: the run is still going when
    // the first report is out.
    let mut domains = vec!["good.test", "m365.test"];
    let slow: Vec<String> = (0..40).map(|i| format!("d{i}.dead.test")).collect();
    domains.extend(slow.iter().map(String::as_str));
    let list = list_file(&dir, &domains);
    let out_path = dir.path().join("out");
    let out = out_path.to_str().unwrap();
    let mut child = support::command(&[
        "audit",
        "--file",
        &list,
        "--format",
        format,
        "--fail-on",
        "never",
        "--concurrency",
        "16",
        "--output",
        out,
    ])
    .spawn()
    .unwrap();
    let start = Instant::now();
    while std::fs::read(&out_path).map_or(0, |b| b.len()) == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no report written"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap().code();
    (exit, std::fs::read_to_string(&out_path).unwrap())
}

#[test]
fn ctrl_c_leaves_valid_jsonl_and_exits_130() {
    let (exit, text) = interrupt_after_first_line("jsonl");
    assert_eq!(exit, Some(130));
    assert!(!text.is_empty());
    for line in text.lines() {
        serde_json::from_str::<Report>(line).expect("every written line is a whole report");
    }
    assert!(text.lines().count() < 42, "the run stopped early");
}

#[test]
fn ctrl_c_closes_the_json_array() {
    let (exit, text) = interrupt_after_first_line("json");
    assert_eq!(exit, Some(130));
    let reports: Vec<Report> = serde_json::from_str(&text).expect("a closed, valid array");
    assert!(!reports.is_empty() && reports.len() < 42);
    assert_eq!(reports[0].target, "good.test", "input order");
}

/// Runs `audit --file -` with `input` on standard input.
fn audit_stdin(input: &str, format: &str) -> std::process::Output {
    support::run_with_stdin(
        &[
            "audit",
            "--file",
            "-",
            "--format",
            format,
            "--fail-on",
            "never",
        ],
        input,
    )
}

#[test]
fn one_domain_on_standard_input_gives_one_json_object() {
    let output = audit_stdin("# one\ngood.test\n", "json");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Report = serde_json::from_slice(&output.stdout).expect("one object");
    assert_eq!(report.target, "good.test");
}

#[test]
fn a_bad_line_later_on_standard_input_exits_2_after_closing_what_was_written() {
    let output = audit_stdin(
        "good.test\nm365.test\nhostile.test\nnot a domain\nnull.mx.test\n",
        "json",
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("-:4: invalid domain 'not a domain'"),
        "{stderr}"
    );
    let reports: Vec<Report> = serde_json::from_slice(&output.stdout).expect("a closed array");
    let targets: Vec<_> = reports.iter().map(|r| r.target.as_str()).collect();
    assert_eq!(
        targets,
        ["good.test", "m365.test", "hostile.test"],
        "the lines before it, in order"
    );
}
