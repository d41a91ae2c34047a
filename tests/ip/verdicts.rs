//! Verdicts a user can trust, for sending IPs, through the built binary: a resolver that does
//! not work stops `ip` before anything is judged, one that dies mid-run stops it with what was
//! written marked incomplete; an address no blocklist could be asked about is unknown, never
//! "not listed"; and the score of a listed address is explained in every format.

use std::path::Path;

use crate::support::fake_resolver::assert_every_broken_resolver_stops;
use crate::support::report::{IpTargetReport, assert_adds_up, resolver_part};
use crate::support::{self, dns_server};

fn catalog(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/dnsbl")
        .join(name)
        .to_str()
        .unwrap()
        .to_owned()
}

/// `mailaudit ip IP --format json` (with `extra`) against the fixture server with a short
/// timeout (lists under dead.test time out), its exit status and report.
fn ip_report(ip: &str, extra: &[&str]) -> (Option<i32>, IpTargetReport) {
    let mut args = vec!["ip", ip, "--format", "json"];
    args.extend_from_slice(extra);
    let server = dns_server::server().resolver_arg();
    let output = support::command_with_resolvers(&args, &[server], "0.5")
        .output()
        .expect("run mailaudit");
    let report = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{args:?}: {e}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.code(), report)
}

// --- The resolver is checked before anything is asked ------------------------------------

#[test]
fn a_resolver_that_does_not_work_stops_an_ip_check_before_anything_is_judged() {
    assert_every_broken_resolver_stops(
        &["ip", "192.0.2.10", "--format", "json"],
        &["10.2.0.192.in-addr.arpa", "2.0.0.127.rbl-major.test"],
    );
}

#[test]
fn a_resolver_that_does_not_work_stops_the_list_health_check() {
    // Otherwise every list would be reported broken, when the resolver is.
    assert_every_broken_resolver_stops(
        &["ip", "--check-lists", "--format", "json"],
        &["2.0.0.127.rbl-major.test", "1.0.0.127.rbl-major.test"],
    );
}

// --- The resolver dies in the middle of a run --------------------------------------------

#[test]
fn a_resolver_that_dies_mid_run_stops_the_ip_checks_and_what_was_written_says_so() {
    let server = dns_server::start_switchable();
    // A quick address, then addresses whose PTR names never resolve (fixtures: PTR records
    // under dead.test): the run is still going when the first report is out.
    let ips = [
        "192.0.2.10",
        "192.0.2.201",
        "192.0.2.202",
        "192.0.2.203",
        "192.0.2.204",
        "192.0.2.205",
        "192.0.2.206",
    ];
    let mut args = vec!["ip"];
    args.extend_from_slice(&ips);
    args.extend_from_slice(&["--concurrency", "4", "--fail-on", "never"]);
    let run = support::silence_after_first_report(&args, &server, "0.5");
    let stderr = String::from_utf8_lossy(&run.output.stderr);
    assert_eq!(run.output.status.code(), Some(2), "stderr: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains(&server.resolver_arg()), "{stderr}");
    assert!(stderr.contains("stopped"), "{stderr}");

    let reports: Vec<IpTargetReport> = run
        .lines
        .iter()
        .map(|line| serde_json::from_str(line).expect("every written line is a whole report"))
        .collect();
    assert_eq!(run.before, 1, "{:?}", run.lines);
    let (before, after) = reports.split_at(run.before);
    assert_eq!(before[0].target, "192.0.2.10");
    assert!(!before[0].incomplete, "{:?}", before[0].unknown);
    assert!(!after.is_empty(), "no report of the address it stopped on");
    for report in after {
        assert!(report.incomplete, "{}: not incomplete", report.target);
        let resolver = resolver_part(&report.target, &report.unknown);
        assert!(
            resolver.reason.contains(&server.resolver_arg()),
            "{resolver:?}"
        );
        assert_ne!(report.grade, "A");
        assert!(stderr.contains(&report.target), "{stderr}");
    }
    assert!(
        reports.len() < ips.len(),
        "every address was written: the run did not stop"
    );
}

// --- No list could be asked: unknown, never "not listed" ----------------------------------

#[test]
fn an_address_no_blocklist_could_be_asked_about_is_unknown_not_clean() {
    let all_down = catalog("all-down.toml");
    let (status, report) = ip_report("192.0.2.10", &["--dnsbl", &all_down]);
    // Not a pass: the default --fail-on error fails an incomplete check.
    assert_eq!(status, Some(1));
    assert!(report.incomplete);
    let lists = report
        .unknown
        .iter()
        .find(|u| u.area == "blocklists")
        .unwrap_or_else(|| panic!("no blocklists part in {:?}", report.unknown));
    assert_eq!(lists.subject.as_deref(), Some("192.0.2.10"));
    for list in ["Dead Major", "RBL All", "RBL Refuse", "RBL Empty"] {
        assert!(lists.reason.contains(list), "{list} not named: {lists:?}");
    }
    assert_ne!(report.grade, "A");
    assert_ne!(report.ip["verdict"], "ok", "{}", report.ip);
    assert!(report.ip["listed_on"].as_array().unwrap().is_empty());
    // Every list shows why it was not asked; none shows an answer.
    for answer in report.ip["lists"].as_array().unwrap() {
        assert!(
            !["not-listed", "listed"].contains(&answer["status"].as_str().unwrap()),
            "{answer}"
        );
    }
    assert_adds_up(
        &report.target,
        report.score,
        &report.grade,
        &report.scoring,
        &report.findings,
    );

    let table = support::render(&["ip", "192.0.2.10", "--dnsbl", &all_down], "table");
    let lower = table.to_lowercase();
    for clean in ["not listed", "clean"] {
        assert!(!lower.contains(clean), "the table says {clean:?}:\n{table}");
    }
    assert!(lower.contains("incomplete"), "{table}");
}

#[test]
fn a_minor_list_that_cannot_answer_leaves_the_major_lists_verdict() {
    let (status, report) = ip_report("192.0.2.10", &["--dnsbl", &catalog("minor-down.toml")]);
    assert_eq!(status, Some(0));
    assert!(!report.incomplete, "{:?}", report.unknown);
    assert!(report.unknown.is_empty(), "{:?}", report.unknown);
    assert_eq!(report.ip["verdict"], "ok", "{}", report.ip);
    assert_eq!(report.grade, "A");
    // The list that could not be asked is still shown as such.
    assert!(report.has("ip.dnsbl-unavailable"), "{:?}", report.findings);
}

#[test]
fn a_major_list_that_cannot_answer_leaves_the_address_unknown() {
    let (status, report) = ip_report("192.0.2.10", &["--dnsbl", &catalog("major-down.toml")]);
    assert_eq!(status, Some(1));
    assert!(report.incomplete);
    let lists = report
        .unknown
        .iter()
        .find(|u| u.area == "blocklists")
        .unwrap_or_else(|| panic!("no blocklists part in {:?}", report.unknown));
    assert!(lists.reason.contains("Dead Major"), "{lists:?}");
    assert!(!lists.reason.contains("RBL Minor"), "{lists:?}");
    assert_ne!(report.grade, "A");
}

#[test]
fn a_major_list_that_cannot_answer_is_not_an_ok_blocklist_verdict() {
    let (_, report) = ip_report("192.0.2.10", &["--dnsbl", &catalog("major-down.toml")]);
    assert!(report.incomplete);
    assert_ne!(report.ip["verdict"], "ok", "{}", report.ip);
}

// --- The score of a listed address is explained ------------------------------------------

#[test]
fn a_listed_address_s_score_is_explained_in_every_format() {
    let (_, report) = ip_report("192.0.2.20", &["--fail-on", "never"]);
    assert!(report.has("ip.listed"), "{:?}", report.findings);
    assert_adds_up(
        &report.target,
        report.score,
        &report.grade,
        &report.scoring,
        &report.findings,
    );
    let cap = report
        .scoring
        .caps
        .iter()
        .find(|c| c.reason == "major-listing")
        .unwrap_or_else(|| panic!("no major-listing cap: {:?}", report.scoring.caps));
    assert_eq!(cap.max, 40);
    assert!(report.score <= 40, "{}", report.score);
    assert_eq!(report.grade, "F");
    for format in ["table", "markdown", "html"] {
        let text = support::render(&["ip", "192.0.2.20"], format);
        assert!(
            text.contains(&report.scoring.explanation),
            "the {format} report does not show {:?}",
            report.scoring.explanation
        );
    }
}
