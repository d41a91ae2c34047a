//! Verdicts a user can trust: a resolver that does not work stops the run before anything is
//! graded, and one that dies mid-run stops it with what was written still valid and marked
//! incomplete; every score's explanation adds up in every format; a domain whose mail every
//! receiver rejects is called so (and a parked domain is not); Fix first names the most severe
//! problem first.

use std::time::{Duration, Instant};

use crate::support::fake_resolver::{Silent, assert_every_broken_resolver_stops, run_against};
use crate::support::report::{assert_adds_up, resolver_part};
use crate::support::{self, Report, audit, audit_with, dns_server};

// --- The resolver is checked before anything is audited ---------------------------------

fn list_file(dir: &tempfile::TempDir, domains: &[&str]) -> String {
    let path = dir.path().join("domains.txt");
    std::fs::write(&path, domains.join("\n")).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn a_resolver_that_does_not_work_stops_an_audit_before_anything_is_judged() {
    assert_every_broken_resolver_stops(&["audit", "good.test", "--format", "json"], &["good.test"]);
}

#[test]
fn a_resolver_that_does_not_work_stops_a_bulk_audit_before_anything_is_judged() {
    let dir = tempfile::tempdir().unwrap();
    let domains = ["good.test", "m365.test", "hostile.test"];
    let list = list_file(&dir, &domains);
    assert_every_broken_resolver_stops(&["audit", "--file", &list, "--format", "jsonl"], &domains);
}

#[test]
fn a_run_stopped_by_its_resolver_leaves_the_previous_output_file_alone() {
    let silent = Silent::bind();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.json");
    std::fs::write(&path, "{\"previous\": \"report\"}").unwrap();
    let output = run_against(
        &[
            "audit",
            "good.test",
            "--format",
            "json",
            "--output",
            path.to_str().unwrap(),
        ],
        &[silent.addr()],
    );
    assert_eq!(output.status.code(), Some(2));
    // Nothing was judged: last run's report is still there, not an empty (invalid) file.
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "{\"previous\": \"report\"}"
    );
}

// --- The resolver dies in the middle of a run --------------------------------------------

#[test]
fn a_resolver_that_dies_mid_run_stops_it_and_what_was_written_says_so() {
    let server = dns_server::start_switchable();
    let dir = tempfile::tempdir().unwrap();
    // A quick domain, then domains whose servers never answer: the run is still going when
    // the first report is out, and the resolver is silenced then.
    let slow: Vec<String> = (0..30).map(|i| format!("d{i}.dead.test")).collect();
    let mut domains = vec!["good.test"];
    domains.extend(slow.iter().map(String::as_str));
    let list = list_file(&dir, &domains);
    let started = Instant::now();
    let run = support::silence_after_first_report(
        &[
            "audit",
            "--file",
            &list,
            // Enough queries in flight that the target in progress (some 40 questions, every
            // one timing out once the resolver is silent) ends soon.
            "--concurrency",
            "16",
            "--fail-on",
            "never",
        ],
        &server,
        "0.4",
    );
    let stderr = String::from_utf8_lossy(&run.output.stderr);
    assert_eq!(run.output.status.code(), Some(2), "stderr: {stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the run went on for {:?} after its resolver died",
        started.elapsed()
    );
    // One line naming the resolver and saying the run stopped.
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains(&server.resolver_arg()), "{stderr}");
    assert!(stderr.contains("stopped"), "{stderr}");

    let reports: Vec<Report> = run
        .lines
        .iter()
        .map(|line| serde_json::from_str(line).expect("every written line is a whole report"))
        .collect();
    assert_eq!(run.before, 1, "{:?}", run.lines);
    let (before, after) = reports.split_at(run.before);
    assert_eq!(before[0].target, "good.test");
    assert!(!before[0].incomplete, "{:?}", before[0].unknown);
    assert_eq!(before[0].grade, "A");
    assert!(!after.is_empty(), "no report of the target it stopped on");
    for report in after {
        assert!(report.target.ends_with(".dead.test"), "{}", report.target);
        assert!(report.incomplete, "{}: not incomplete", report.target);
        let resolver = resolver_part(&report.target, &report.unknown);
        assert!(
            resolver.reason.contains(&server.resolver_arg()),
            "{resolver:?}"
        );
        assert_eq!(report.resolvers, [server.resolver_arg()]);
        assert_ne!(report.grade, "A");
        assert!(report.score <= 89, "{}: {}", report.target, report.score);
        // A dead resolver is not blamed on the domain's name servers.
        assert!(
            !report.has("dns.nameservers-failed"),
            "{}: {:?}",
            report.target,
            report.codes()
        );
        assert!(stderr.contains(&report.target), "{stderr}");
    }
    assert!(
        reports.len() < domains.len(),
        "every target was written: the run did not stop"
    );
}

// --- The score explanation adds up, in every format ---------------------------------------

/// The report's numbers add up, and the table, Markdown and HTML show the same explanation.
fn assert_explained_everywhere(domain: &str) -> Report {
    let report = audit(domain);
    assert_adds_up(
        domain,
        report.score,
        &report.grade,
        &report.scoring,
        &report.findings,
    );
    for format in ["table", "markdown", "html"] {
        let text = support::render(&["audit", domain], format);
        assert!(
            text.contains(&report.scoring.explanation),
            "{domain}: the {format} report does not show {:?}",
            report.scoring.explanation
        );
    }
    report
}

#[test]
fn a_good_domain_s_score_is_explained() {
    let report = assert_explained_everywhere("good.test");
    assert_eq!(report.scoring.explanation, "100 = 100");
}

#[test]
fn a_hostile_domain_s_score_is_explained_with_its_area_caps() {
    let report = assert_explained_everywhere("hostile.test");
    assert!(
        report.scoring.areas.iter().any(|a| a.points > a.counted),
        "no area over 40: {:?}",
        report.scoring.areas
    );
}

#[test]
fn a_critical_finding_s_cap_is_explained() {
    let report = assert_explained_everywhere("plusall-good.test");
    assert!(report.scoring.capped_by_critical);
    assert!(report.score <= 65, "{}", report.score);
    assert!(report.has("spf.pass-all"));
}

#[test]
fn an_incomplete_audit_s_score_is_explained() {
    let report = assert_explained_everywhere("x.servfail.test");
    assert!(report.incomplete);
    assert!(
        report
            .scoring
            .caps
            .iter()
            .any(|c| c.reason == "incomplete" && c.max == 89),
        "{:?}",
        report.scoring.caps
    );
}

// --- Mail that receivers will reject -----------------------------------------------------

const MAIL_REJECTED: &str = "dmarc.mail-rejected";
const SEVERE: [&str; 2] = ["critical", "error"];

#[test]
fn spf_permerror_under_p_reject_without_dkim_means_all_mail_is_rejected() {
    let report = audit("permerror-reject.test");
    // The premises: SPF over the lookup limit, no DKIM key, p=reject.
    assert!(report.has("spf.lookup-limit"), "{:?}", report.codes());
    assert!(report.has("dkim.not-found"), "{:?}", report.codes());
    assert_eq!(report.dmarc["verdict"], "ok", "{}", report.dmarc);

    let rejected = report.with_code(MAIL_REJECTED);
    assert_eq!(rejected.len(), 1, "{:?}", report.codes());
    assert_eq!(rejected[0].severity, "critical");
    assert_eq!(rejected[0].evidence["policy"], "reject");
    assert!(
        rejected[0].evidence["spf"]
            .as_str()
            .is_some_and(|spf| spf.contains("permerror")),
        "{}",
        rejected[0].evidence
    );
    assert!(
        ["D", "F"].contains(&report.grade.as_str()),
        "grade {} for a domain whose mail is all rejected",
        report.grade
    );
    let first = &report.scoring.top_fixes[0];
    assert!(
        SEVERE.contains(&first.severity.as_str()),
        "Fix first starts with a {} fix: {:?}",
        first.severity,
        report.scoring.top_fixes
    );
    assert!(
        report
            .scoring
            .top_fixes
            .iter()
            .any(|f| f.code == MAIL_REJECTED),
        "{:?}",
        report.scoring.top_fixes
    );
    assert_adds_up(
        &report.target,
        report.score,
        &report.grade,
        &report.scoring,
        &report.findings,
    );
}

#[test]
fn a_parked_domain_is_meant_to_fail_dmarc_and_is_not_called_rejected() {
    for extra in [&[][..], &["--ip", "192.0.2.10"][..]] {
        let report = audit_with("parked.test", extra);
        assert!(report.has("mx.null"), "{extra:?}: {:?}", report.codes());
        assert!(
            !report.has(MAIL_REJECTED),
            "{extra:?}: a parked domain called rejected: {:?}",
            report.with_code(MAIL_REJECTED)
        );
    }
    // The control: the same records with a real MX, and an IP its SPF fails for.
    let report = audit_with("sendsnothing.test", &["--ip", "192.0.2.10"]);
    assert!(report.has(MAIL_REJECTED), "{:?}", report.codes());
    assert!(
        ["D", "F"].contains(&report.grade.as_str()),
        "{}",
        report.grade
    );
}

#[test]
fn a_good_domain_with_an_authorized_ip_is_not_called_rejected() {
    let report = audit_with("good.test", &["--ip", "192.0.2.10"]);
    assert!(!report.has(MAIL_REJECTED), "{:?}", report.codes());
    // No MTA-STS (its policy host would need an HTTPS server) and a zone not DNSSEC-signed:
    // two infos, the only findings.
    assert_eq!(report.codes(), ["mtasts.missing", "dnssec.unsigned"]);
    assert_eq!(report.worst(), "info", "{:?}", report.codes());
    assert_eq!(report.grade, "A");
}

// --- Fix first ranks by severity ---------------------------------------------------------

fn rank(severity: &str) -> u8 {
    match severity {
        "critical" => 3,
        "error" => 2,
        "warning" => 1,
        "info" => 0,
        other => panic!("unknown severity {other}"),
    }
}

/// Fix first is ordered most severe first; returns its codes.
fn assert_ranked_by_severity(report: &Report) -> Vec<String> {
    let fixes = &report.scoring.top_fixes;
    assert!(!fixes.is_empty(), "{}: no fix", report.target);
    for pair in fixes.windows(2) {
        assert!(
            rank(&pair[0].severity) >= rank(&pair[1].severity),
            "{}: {} ({}) before {} ({})",
            report.target,
            pair[0].code,
            pair[0].severity,
            pair[1].code,
            pair[1].severity
        );
    }
    // Each fix's severity is that of the findings it fixes.
    for fix in fixes {
        let worst = report
            .with_code(&fix.code)
            .iter()
            .map(|f| rank(&f.severity))
            .max();
        assert_eq!(worst, Some(rank(&fix.severity)), "{fix:?}");
    }
    fixes.iter().map(|f| f.code.clone()).collect()
}

#[test]
fn fix_first_puts_the_missing_ptr_error_first() {
    let report = audit_with("m365.test", &["--ip", "192.0.2.40"]);
    let codes = assert_ranked_by_severity(&report);
    assert!(codes.contains(&"ip.no-ptr".to_owned()), "{codes:?}");
    assert_eq!(report.scoring.top_fixes[0].severity, "error");
}

#[test]
fn fix_first_puts_an_error_before_a_costlier_warning() {
    let report = audit("weakkeys-mxalias.test");
    let codes = assert_ranked_by_severity(&report);
    assert_eq!(codes, ["mx.cname", "dkim.weak-key"]);
    // The warning costs and would gain more: only severity puts the error first.
    let fixes = &report.scoring.top_fixes;
    assert!(fixes[1].gain > fixes[0].gain, "{fixes:?}");
}

#[test]
fn fix_first_puts_the_critical_rejection_before_costlier_errors() {
    let report = audit("hostile.test");
    let codes = assert_ranked_by_severity(&report);
    assert_eq!(codes[0], MAIL_REJECTED, "{codes:?}");
    let points = |code: &str| -> u32 {
        report
            .scoring
            .deductions
            .iter()
            .filter(|d| d.code == code)
            .map(|d| d.points)
            .sum()
    };
    assert!(
        points("dkim.syntax") > points(MAIL_REJECTED),
        "the premise: the errors cost more than the critical finding"
    );
}
