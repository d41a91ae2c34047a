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
    let output = audit_stdin(&MIXED.join("\n"), "jsonl", &[]);
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
fn with_strict_a_bad_line_in_the_list_stops_the_run_before_any_query_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let list = list_file(&dir, &["good.test", "# a comment", "bad domain.test"]);
    let output = support::run(&["audit", "--file", &list, "--strict"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("domains.txt:3: invalid domain 'bad domain.test'"),
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("invalid domain").count(),
        1,
        "the error is printed once: {stderr}"
    );
    assert!(output.stdout.is_empty());
}

/// The list of the bulk tests below: mixed grades, two names that are one domain after
/// normalisation (and a third spelling of another), and a line that is not a domain (line 5).
const MESSY: [&str; 9] = [
    "# customers",
    "GOOD.TEST.",
    "pass-all.spf.test",
    "good.test",
    "bad domain.test",
    "none.dmarc.test",
    "M365.test",
    "missing.mx.test",
    "m365.test.",
];

/// The five distinct domains of [`MESSY`], in input order.
const MESSY_DOMAINS: [&str; 5] = [
    "good.test",
    "pass-all.spf.test",
    "none.dmarc.test",
    "m365.test",
    "missing.mx.test",
];

/// Runs `audit --file MESSY ARGS...` and returns its exit status, standard output and error.
fn audit_messy(args: &[&str]) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let list = list_file(&dir, &MESSY);
    let mut all = vec!["audit", "--file", &list, "--fail-on", "never"];
    all.extend_from_slice(args);
    let output = support::run(&all);
    (
        output.status.code(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

/// The bad line is named once, with its file and line number, then the run goes on.
fn assert_bad_line_named_once(stderr: &str) {
    assert_eq!(
        stderr
            .matches("domains.txt:5: invalid domain 'bad domain.test'")
            .count(),
        1,
        "{stderr}"
    );
    assert_eq!(stderr.matches("invalid domain").count(), 1, "{stderr}");
    assert!(
        stderr.contains("domains.txt: 1 line skipped, not a domain"),
        "{stderr}"
    );
}

#[test]
fn a_messy_list_audits_each_domain_once_skips_the_bad_line_and_exits_2_at_the_end() {
    let (status, jsonl, stderr) = audit_messy(&["--format", "jsonl"]);
    assert_eq!(status, Some(2), "{stderr}");
    assert_bad_line_named_once(&stderr);
    assert!(
        stderr.contains("domains.txt: 2 lines repeat a domain listed before"),
        "{stderr}"
    );
    let mut targets: Vec<String> = jsonl
        .lines()
        .map(|l| serde_json::from_str::<Report>(l).expect("a report").target)
        .collect();
    targets.sort();
    let mut expected = MESSY_DOMAINS.map(str::to_owned).to_vec();
    expected.sort();
    assert_eq!(targets, expected, "each domain once, the bad line skipped");
}

#[test]
fn the_bulk_table_ranks_worst_first_and_counts_domains_per_finding_code() {
    // What the reports say, to check the summary's counts against.
    let (_, jsonl, _) = audit_messy(&["--format", "jsonl"]);
    let reports: Vec<Report> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).expect("a report"))
        .collect();
    let mut per_code = std::collections::BTreeMap::<String, usize>::new();
    for report in &reports {
        let mut codes = report.codes();
        codes.sort();
        codes.dedup();
        for code in codes {
            *per_code.entry(code).or_default() += 1;
        }
    }
    assert!(per_code.contains_key("dmarc.missing"), "{per_code:?}");

    let (status, table, stderr) = audit_messy(&[]);
    assert_eq!(status, Some(2), "{stderr}");
    assert_bad_line_named_once(&stderr);
    let row_of = |domain: &str| {
        let rows: Vec<usize> = table
            .lines()
            .enumerate()
            .filter(|(_, l)| l.contains(&format!(" {domain} ")))
            .map(|(i, _)| i)
            .collect();
        assert_eq!(rows.len(), 1, "one row for {domain}:\n{table}");
        rows[0]
    };
    let failing = row_of("pass-all.spf.test");
    assert!(
        table.lines().nth(failing).unwrap().contains(" F "),
        "{table}"
    );
    for domain in MESSY_DOMAINS {
        assert!(row_of(domain) >= failing, "F first:\n{table}");
    }
    assert!(row_of("pass-all.spf.test") < row_of("good.test"), "{table}");
    let grades: Vec<&str> = MESSY_DOMAINS
        .iter()
        .map(|d| {
            let report = reports.iter().find(|r| r.target == *d).unwrap();
            report.grade.as_str()
        })
        .collect();
    assert!(grades.contains(&"A") && grades.contains(&"F"), "{grades:?}");
    for (code, count) in &per_code {
        let noun = if *count == 1 { "domain" } else { "domains" };
        assert!(
            table.contains(&format!("  {code}: {count} {noun} (")),
            "{code}: {count} {noun}\n{table}"
        );
    }
    assert!(table.contains("5 targets."), "{table}");
    assert!(table.contains("Complete audits by grade: F: "), "{table}");
}

#[test]
fn markdown_and_html_summaries_rank_the_same_way() {
    let dir = tempfile::tempdir().unwrap();
    let list = list_file(&dir, &MESSY);
    for format in ["markdown", "html"] {
        let out = dir.path().join(format!("report.{format}"));
        let output = support::run(&[
            "audit",
            "--file",
            &list,
            "--format",
            format,
            "--fail-on",
            "never",
            "--output",
            out.to_str().unwrap(),
        ]);
        assert_eq!(output.status.code(), Some(2), "the bad line");
        let text = std::fs::read_to_string(&out).unwrap();
        let summary = if format == "markdown" {
            &text[text.find("## Summary").expect("a summary")..]
        } else {
            let start = text.find("id=\"summary\"").expect("a summary");
            &text[start..start + text[start..].find("</section>").unwrap()]
        };
        let at = |domain: &str| summary.find(domain).expect(domain);
        assert!(
            at("pass-all.spf.test") < at("good.test"),
            "{format}: F before A:\n{summary}"
        );
        assert_eq!(summary.matches("good.test").count(), 1, "{summary}");
        if format == "markdown" {
            assert!(summary.contains("- dmarc.missing: "), "{summary}");
        }
    }
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

/// Runs `audit --file - --format FORMAT ARGS...` with `input` on standard input.
fn audit_stdin(input: &str, format: &str, args: &[&str]) -> std::process::Output {
    let mut all = vec![
        "audit",
        "--file",
        "-",
        "--format",
        format,
        "--fail-on",
        "never",
    ];
    all.extend_from_slice(args);
    support::run_with_stdin(&all, input)
}

/// `audit --file - --format json ARGS...` of `input`, whose line 4 is `not a domain`: the run
/// exits 2 and names that line once; the targets of the JSON array it wrote, in order.
fn targets_after_bad_line_4(input: &str, args: &[&str]) -> Vec<String> {
    let output = audit_stdin(input, "json", args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(
        stderr.matches("-:4: invalid domain 'not a domain'").count(),
        1,
        "{stderr}"
    );
    let reports: Vec<Report> = serde_json::from_slice(&output.stdout).expect("a closed array");
    reports.into_iter().map(|r| r.target).collect()
}

#[test]
fn one_domain_on_standard_input_gives_one_json_object() {
    let output = audit_stdin("# one\ngood.test\n", "json", &[]);
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
fn a_bad_line_later_on_standard_input_is_skipped_and_the_run_exits_2_at_the_end() {
    let targets = targets_after_bad_line_4(
        "good.test\nm365.test\nhostile.test\nnot a domain\nnull.mx.test\nGood.Test\n",
        &[],
    );
    assert_eq!(
        targets,
        ["good.test", "m365.test", "hostile.test", "null.mx.test"],
        "every domain once, in order, the bad line skipped"
    );
}

#[test]
fn with_strict_a_bad_line_later_on_standard_input_stops_the_run_after_closing_what_was_written() {
    let targets = targets_after_bad_line_4(
        "good.test\nm365.test\nhostile.test\nnot a domain\nnull.mx.test\n",
        &["--strict"],
    );
    assert_eq!(
        targets,
        ["good.test", "m365.test", "hostile.test"],
        "the lines before it, in order"
    );
}
