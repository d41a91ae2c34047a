//! Sending-IP and domain reputation through the command line: `mailaudit ip`, `audit --ip`,
//! domain blocklists, `ip --check-lists`. The blocklists are fixture zones on the test server.

use crate::support::{self, IpTargetReport, audit, audit_with};

fn ip_reports(args: &[&str]) -> Vec<IpTargetReport> {
    let mut all = vec!["ip"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json", "--fail-on", "never"]);
    let output = support::run(&all);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    match value {
        serde_json::Value::Array(_) => serde_json::from_value(value).expect("IP reports"),
        _ => vec![serde_json::from_value(value).expect("an IP report")],
    }
}

#[test]
fn a_listed_ip_is_critical_with_the_list_and_removal_page_and_grades_f() {
    let reports = ip_reports(&["192.0.2.20", "192.0.2.10"]);
    let (listed, clean) = (&reports[0], &reports[1]);
    assert_eq!(listed.kind, "ip");
    assert_eq!(listed.target, "192.0.2.20");
    let finding = listed
        .findings
        .iter()
        .find(|f| f.code == "ip.listed")
        .expect("ip.listed");
    assert_eq!(finding.severity, "critical");
    assert!(finding.message.contains("RBL Major"), "{finding:?}");
    assert!(
        finding
            .fix
            .as_deref()
            .unwrap_or("")
            .contains("https://rbl-major.test/remove"),
        "{finding:?}"
    );
    assert_eq!(listed.grade, "F", "a major listing dominates the score");
    assert!(
        clean.findings.iter().all(|f| f.severity == "info"),
        "{:?}",
        clean.findings
    );
    assert!(clean.score >= 90);
}

#[test]
fn a_refusal_answer_is_never_reported_as_listed() {
    let reports = ip_reports(&["192.0.2.80"]);
    assert!(reports[0].has("ip.dnsbl-refused"));
    assert!(!reports[0].has("ip.listed"));
}

#[test]
fn the_table_shows_an_ip_by_list_matrix() {
    let output = support::run(&["ip", "192.0.2.20", "192.0.2.10", "--fail-on", "never"]);
    let table = String::from_utf8(output.stdout).unwrap();
    let row = table
        .lines()
        .find(|l| l.contains("RBL Major (rbl-major.test)"))
        .unwrap_or_else(|| panic!("no matrix row for RBL Major:\n{table}"));
    let listed = row.find("LISTED 127.0.0.2").expect("the listed cell");
    let clean = row.find("clean").expect("the clean cell");
    assert!(listed < clean, "columns follow the IPs given: {row}");
    assert!(table.contains("192.0.2.20") && table.contains("192.0.2.10"));
}

#[test]
fn audit_with_ip_checks_the_sending_ip_and_lets_a_listing_dominate() {
    let plain = audit("good.test");
    let report = audit_with("good.test", &["--ip", "192.0.2.20"]);
    assert_eq!(report.ips.len(), 1);
    assert_eq!(report.ips[0]["ip"], "192.0.2.20");
    assert!(
        report.ips[0]["listed_on"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l == "RBL Major")
    );
    assert!(report.has("ip.listed"));
    assert_eq!(plain.grade, "A");
    assert_eq!(report.grade, "F");
}

#[test]
fn a_listed_domain_and_a_listed_mx_host_domain_are_domain_listed() {
    let listed = audit("spammy.dnsbl.test");
    assert!(listed.has("domain.listed"), "{:?}", listed.codes());
    let via_mx = audit("uses-listed-mx.reputation.test");
    let finding = via_mx.with_code("domain.listed");
    assert_eq!(finding.len(), 1, "{:?}", via_mx.codes());
    assert!(
        finding[0].message.contains("listedhost.test"),
        "{:?}",
        finding[0]
    );
    let names: Vec<_> = via_mx
        .blocklists
        .iter()
        .map(|b| b["domain"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["uses-listed-mx.reputation.test", "listedhost.test"]);
    assert!(!audit("good.test").has("domain.listed"));
}

#[test]
fn check_lists_tells_working_lists_from_broken_ones_and_exits_1_on_a_broken_one() {
    let catalog = format!("{}/fixtures/dnsbl/test.toml", env!("CARGO_MANIFEST_DIR"));
    let output = support::run(&[
        "ip",
        "--check-lists",
        "--dnsbl",
        &catalog,
        "--format",
        "json",
    ]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["kind"], "blocklist-health");
    let health = |zone: &str| {
        report["lists"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["zone"] == zone)
            .unwrap_or_else(|| panic!("{zone} not checked"))["health"]
            .clone()
    };
    assert_eq!(health("rbl-major.test"), "works");
    assert_eq!(health("rbl-all.test"), "lists-everything");
    assert_eq!(health("x.dead.test"), "unavailable");

    let working = support::run(&["ip", "--check-lists"]);
    assert_eq!(
        working.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&working.stdout)
    );
}

#[test]
fn bad_ips_and_bad_catalogs_exit_2_naming_them() {
    for (args, named) in [
        (vec!["ip", "192.0.2.256"], "192.0.2.256".to_owned()),
        (
            vec!["audit", "good.test", "--ip", "mail.example"],
            "mail.example".to_owned(),
        ),
        (
            vec!["ip", "192.0.2.1", "--dnsbl", "/nonexistent/lists.toml"],
            "/nonexistent/lists.toml".to_owned(),
        ),
    ] {
        let output = support::run(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(&named), "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    }
    let bad = format!("{}/fixtures/dnsbl/bad.toml", env!("CARGO_MANIFEST_DIR"));
    let output = support::run(&["ip", "192.0.2.1", "--dnsbl", &bad]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("bad.toml"));
}

#[test]
fn an_ip_outside_the_spf_policy_is_not_authorized_with_the_record_to_publish() {
    let report = audit_with("good.test", &["--ip", "198.51.100.7"]);
    assert_eq!(
        report.ips[0]["spf"]["result"], "fail",
        "{}",
        report.ips[0]["spf"]
    );
    let finding = report.with_code("spf.ip-not-authorized");
    assert_eq!(finding.len(), 1, "{:?}", report.codes());
    assert!(
        finding[0].message.contains("198.51.100.7"),
        "{:?}",
        finding[0]
    );
    assert!(
        finding[0]
            .fix
            .as_deref()
            .unwrap_or("")
            .contains("ip4:198.51.100.7"),
        "{:?}",
        finding[0]
    );

    let authorized = audit_with("good.test", &["--ip", "192.0.2.10"]);
    assert_eq!(authorized.ips[0]["spf"]["result"], "pass");
    assert_eq!(
        authorized.ips[0]["spf"]["matched"]["term"],
        "ip4:192.0.2.0/24"
    );
    assert!(!authorized.has("spf.ip-not-authorized"));
}

#[test]
fn ip_with_domain_evaluates_the_domains_spf_for_each_ip() {
    let reports = ip_reports(&["198.51.100.7", "192.0.2.10", "--domain", "good.test"]);
    assert!(reports[0].has("spf.ip-not-authorized"));
    assert_eq!(reports[0].ip["spf"]["result"], "fail");
    assert!(!reports[1].has("spf.ip-not-authorized"));
    assert_eq!(reports[1].ip["spf"]["result"], "pass");
    let without = ip_reports(&["198.51.100.7"]);
    assert!(
        without[0].ip.get("spf").is_none(),
        "no domain, no SPF evaluation"
    );
}

#[test]
fn a_catalog_without_a_list_for_the_item_never_reports_it_clean() {
    // The working catalog's IP lists only: nothing takes a domain.
    let dir = tempfile::tempdir().unwrap();
    let working = std::fs::read_to_string(support::working_catalog()).unwrap();
    let ip_only = &working[..working
        .find("[[list]]\nname = \"DBL\"")
        .expect("the DBL entry")];
    let catalog = dir.path().join("ip-only.toml");
    std::fs::write(&catalog, ip_only).unwrap();
    // No domain list: none asked, the area left out (not "not listed"), nothing incomplete.
    let report = audit_with("good.test", &["--dnsbl", catalog.to_str().unwrap()]);
    assert!(report.blocklists.is_empty(), "{:?}", report.blocklists);
    assert!(!report.incomplete, "{:?}", report.unknown);
    let table = support::render(
        &["audit", "good.test", "--dnsbl", catalog.to_str().unwrap()],
        "table",
    );
    assert!(!table.contains("Blocklists"), "{table}");

    // An IPv6 address with a catalog whose IP lists take IPv4 only.
    let v4_only = ip_only.replace("takes = [\"ipv4\", \"ipv6\"]", "takes = [\"ipv4\"]");
    let catalog = dir.path().join("v4-only.toml");
    std::fs::write(&catalog, v4_only).unwrap();
    // Nothing asked: not "not listed", and not incomplete either (the catalog is the user's
    // choice), as for the domain above.
    let args = ["2001:db8::10", "--dnsbl", catalog.to_str().unwrap()];
    let reports = ip_reports(&args);
    assert!(!reports[0].incomplete, "{:?}", reports[0].unknown);
    let lists = reports[0].ip["lists"].as_array().unwrap();
    assert!(!lists.is_empty());
    assert!(lists.iter().all(|l| l["status"] == "skipped"), "{lists:?}");
    let mut all = vec!["ip"];
    all.extend_from_slice(&args);
    let table = support::render(&all, "table");
    assert!(!table.contains("│ Blocklists"), "{table}");
    assert!(
        table.contains("not asked (other address family)"),
        "{table}"
    );
}
