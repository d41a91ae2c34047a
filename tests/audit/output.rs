//! The command-line contract of cli.md: the JSON shape, formats, output file, exit status, and
//! input validation.

use crate::support::{self, Report, audit};

#[test]
fn a_well_configured_domain_gets_no_finding_above_info_and_grade_a() {
    let report = audit("good.test");
    assert_eq!(report.schema_version, 1);
    assert_eq!(report.kind, "domain");
    let above_info: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.severity != "info")
        .collect();
    assert!(above_info.is_empty(), "{above_info:#?}");
    assert!(report.score >= 90, "score {}", report.score);
    assert_eq!(report.grade, "A");
    for area in [&report.spf, &report.dmarc, &report.dkim, &report.mx] {
        assert_eq!(area["verdict"], "ok", "{area}");
    }
}

#[test]
fn every_finding_says_what_to_fix_and_why() {
    let report = audit("hostile.test");
    assert!(!report.findings.is_empty());
    for finding in &report.findings {
        assert!(
            !finding.message.is_empty() && !finding.message.contains('\n'),
            "{finding:?}"
        );
        if finding.severity != "info" {
            assert!(
                finding.fix.as_deref().is_some_and(|f| !f.is_empty()),
                "no fix: {finding:?}"
            );
        }
        assert!(finding.evidence.is_object(), "{finding:?}");
    }
}

#[test]
fn exit_status_follows_fail_on() {
    // good.test has no finding above info (mtasts.missing, and dnssec.unsigned: its zone is not
    // DNSSEC-signed); hostile.test has errors but no critical one is guaranteed, so it is
    // checked against error and never.
    let status = |args: &[&str]| support::run(args).status.code();
    assert_eq!(status(&["audit", "good.test", "--format", "json"]), Some(0));
    assert_eq!(
        status(&["audit", "hostile.test", "--format", "json"]),
        Some(1)
    );
    assert_eq!(
        status(&[
            "audit",
            "hostile.test",
            "--format",
            "json",
            "--fail-on",
            "never"
        ]),
        Some(0)
    );
    assert_eq!(
        status(&[
            "audit",
            "good.test",
            "--format",
            "json",
            "--fail-on",
            "warning"
        ]),
        Some(0)
    );
    assert_eq!(
        status(&[
            "audit",
            "good.test",
            "--format",
            "json",
            "--fail-on",
            "info"
        ]),
        Some(1)
    );
}

#[test]
fn invalid_input_exits_2_naming_it() {
    for (args, named) in [
        (vec!["audit", "exa mple.test"], "exa mple.test"),
        (vec!["audit", "good.test", "bad..test"], "bad..test"),
        (vec!["audit", "192.0.2.1"], "192.0.2.1"),
        (
            vec!["audit", "--file", "/nonexistent/domains.txt"],
            "/nonexistent/domains.txt",
        ),
        (
            vec!["audit", "good.test", "--resolver", "not-an-ip"],
            "not-an-ip",
        ),
        (vec!["audit"], "no domain"),
    ] {
        let output = support::run(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(named),
            "{args:?}: message does not name the input: {stderr}"
        );
        assert_eq!(
            stderr.trim().lines().count(),
            1,
            "{args:?}: not one line: {stderr}"
        );
        assert!(output.stdout.is_empty(), "{args:?} printed a report");
    }
}

#[test]
fn idn_case_and_trailing_dot_are_normalised() {
    let report = audit("BÜCHER.Good.TEST.");
    assert_eq!(report.target, "xn--bcher-kva.good.test");
}

#[test]
fn several_domains_give_an_array_in_input_order_and_jsonl_gives_a_line_each() {
    let output = support::run(&[
        "audit",
        "good.test",
        "hostile.test",
        "--format",
        "json",
        "--fail-on",
        "never",
    ]);
    let reports: Vec<Report> = serde_json::from_slice(&output.stdout).expect("an array of reports");
    let targets: Vec<_> = reports.iter().map(|r| r.target.as_str()).collect();
    assert_eq!(targets, ["good.test", "hostile.test"]);

    let output = support::run(&[
        "audit",
        "good.test",
        "hostile.test",
        "--format",
        "jsonl",
        "--fail-on",
        "never",
    ]);
    let text = String::from_utf8(output.stdout).unwrap();
    let mut targets: Vec<String> = text
        .lines()
        .map(|line| {
            serde_json::from_str::<Report>(line)
                .expect("one report a line")
                .target
        })
        .collect();
    targets.sort();
    assert_eq!(targets, ["good.test", "hostile.test"]);
}

#[test]
fn domains_can_come_from_a_file_with_comments() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("domains.txt");
    std::fs::write(
        &list,
        "# launch list\ngood.test   # the main one\n\nhostile.test\n",
    )
    .unwrap();
    let output = support::run(&[
        "audit",
        "--file",
        list.to_str().unwrap(),
        "--format",
        "json",
        "--fail-on",
        "never",
    ]);
    let reports: Vec<Report> = serde_json::from_slice(&output.stdout).expect("an array of reports");
    assert_eq!(reports.len(), 2);
}

#[test]
fn output_goes_to_the_file_named_and_not_to_standard_output() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.json");
    let output = support::run(&[
        "audit",
        "good.test",
        "--format",
        "json",
        "--output",
        path.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0));
    assert!(output.stdout.is_empty());
    let report: Report = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(report.target, "good.test");
}

#[test]
fn the_table_leads_with_grade_and_score_and_lists_each_finding_with_its_fix() {
    let output = support::run(&["audit", "hostile.test", "--fail-on", "never"]);
    let table = String::from_utf8(output.stdout).unwrap();
    let first = table.lines().next().unwrap();
    assert!(
        first.starts_with("hostile.test") && first.contains("grade ") && first.contains("/100"),
        "{first}"
    );
    let report = audit("hostile.test");
    for finding in &report.findings {
        assert!(
            table.contains(&finding.code),
            "{} missing from the table",
            finding.code
        );
    }
    assert!(table.contains("Fix"), "{table}");
}

#[test]
fn markdown_has_the_tables_and_keeps_hostile_records_as_text() {
    let output = support::run(&[
        "audit",
        "hostile.test",
        "--format",
        "markdown",
        "--fail-on",
        "never",
    ]);
    assert_eq!(output.status.code(), Some(0));
    let markdown = String::from_utf8(output.stdout).unwrap();
    assert!(
        markdown.starts_with("## hostile.test — grade "),
        "{markdown}"
    );
    assert!(markdown.contains("| Severity | Code | Problem | Fix |"));
    assert!(markdown.contains("| Provider | Applies to | Requirement | Status | Why |"));
    // Outside code blocks (the records to publish, which every Markdown renderer shows as
    // literal text, CommonMark §4.5), no markup from DNS.
    let mut in_code = false;
    let prose: Vec<&str> = markdown
        .lines()
        .filter(|line| {
            if line.starts_with("```") {
                in_code = !in_code;
                return false;
            }
            !in_code
        })
        .collect();
    let prose = prose.join("\n");
    assert!(
        !prose.contains("<script") && !prose.contains("<img"),
        "markup passed through:\n{markdown}"
    );
    assert!(
        markdown.contains("&lt;script&gt;"),
        "the record is shown as text"
    );
    // Every row of a table has as many cell separators as its header: a `|` from DNS never
    // splits a cell.
    let unescaped_pipes = |line: &str| {
        let bytes = line.as_bytes();
        (0..bytes.len())
            .filter(|&i| bytes[i] == b'|' && (i == 0 || bytes[i - 1] != b'\\'))
            .count()
    };
    let mut header: Option<usize> = None;
    for line in markdown.lines() {
        if !line.starts_with('|') {
            header = None;
            continue;
        }
        let pipes = unescaped_pipes(line);
        match header {
            None => header = Some(pipes),
            Some(expected) if !line.starts_with("|---") => assert_eq!(pipes, expected, "{line}"),
            Some(_) => {}
        }
    }
}

#[test]
fn breaking_one_record_lowers_the_score_and_the_first_fix_names_that_record() {
    let good = audit("good.test");
    for (domain, code, record) in [
        ("plusall-good.test", "spf.pass-all", "v=spf1"),
        ("nospf-good.test", "spf.missing", "v=spf1"),
        (
            "nodmarc-good.test",
            "dmarc.missing",
            "_dmarc.nodmarc-good.test",
        ),
        (
            "weakkey-good.test",
            "dkim.insecure-key",
            "selector1._domainkey.weakkey-good.test",
        ),
    ] {
        let report = audit(domain);
        assert!(
            report.score + 10 <= good.score,
            "{domain}: {} against {}",
            report.score,
            good.score
        );
        assert_ne!(report.grade, "A", "{domain}");
        let first = &report.scoring.top_fixes[0];
        assert_eq!(first.code, code, "{domain}: {:?}", report.scoring);
        let fix = &first.fix;
        assert!(
            fix.contains(record),
            "{domain}: the fix does not name the record: {fix}"
        );
    }
}

#[test]
fn shell_completions_cover_every_command() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_mailaudit"))
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let script = String::from_utf8(output.stdout).unwrap();
    for word in [
        "audit",
        "ip",
        "monitor",
        "history",
        "--resolver",
        "--fail-on",
    ] {
        assert!(script.contains(word), "{word} is not completed");
    }
}
