//! Who is sending, through the built binary: `ip --mail-from` and `--helo` give `check_host`
//! the sender and HELO name (the macros `%{l}`, `%{s}`, `%{h}`), the HELO name's own policy is
//! evaluated too (RFC 7208 §2.3), both results are shown in every format, and a malformed
//! address or name stops the run before anything is asked. Zones: `fixtures/zones/spf.test.zone`.

use crate::support::report::IpTargetReport;
use crate::support::{self, dns_server};

/// `mailaudit ip ARGS... --format json --fail-on never`, its one report.
fn ip_report(args: &[&str]) -> IpTargetReport {
    let mut all = vec!["ip"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json", "--fail-on", "never"]);
    let output = support::command_with_resolvers(&all, &[dns_server::server().resolver_arg()], "1")
        .output()
        .expect("run mailaudit");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{all:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("an IP report")
}

fn codes(report: &IpTargetReport) -> Vec<&str> {
    report.findings.iter().map(|f| f.code.as_str()).collect()
}

#[test]
fn the_mail_from_address_names_the_domain_and_feeds_the_sender_macros() {
    // by-sender explains a fail with "%{s} may not send from %{i}".
    let report = ip_report(&["198.51.100.7", "--mail-from", "Alice@By-Sender.spf.test"]);
    let spf = &report.ip["spf"];
    assert_eq!(spf["domain"], "by-sender.spf.test", "{spf}");
    assert_eq!(spf["sender"], "Alice@by-sender.spf.test");
    assert_eq!(spf["result"], "fail");
    assert_eq!(
        spf["explanation"],
        "Alice@by-sender.spf.test may not send from 198.51.100.7"
    );
    let finding = report
        .findings
        .iter()
        .find(|f| f.code == "spf.ip-not-authorized")
        .unwrap_or_else(|| panic!("{:?}", codes(&report)));
    assert_eq!(finding.evidence["sender"], "Alice@by-sender.spf.test");
    assert_eq!(finding.evidence["identity"], "mail-from");

    // %{l}: by-local allows bounce@ only.
    let allowed = ip_report(&["192.0.2.10", "--mail-from", "bounce@by-local.spf.test"]);
    assert_eq!(allowed.ip["spf"]["result"], "pass", "{}", allowed.ip["spf"]);
    let other = ip_report(&[
        "192.0.2.10",
        "--domain",
        "by-local.spf.test",
        "--mail-from",
        "news@by-local.spf.test",
    ]);
    assert_eq!(other.ip["spf"]["result"], "fail");
}

#[test]
fn the_helo_name_is_expanded_and_its_own_policy_evaluated() {
    let report = ip_report(&[
        "198.51.100.7",
        "--domain",
        "by-helo.spf.test",
        "--helo",
        "OUT.helo.spf.test",
    ]);
    assert_eq!(report.ip["spf"]["result"], "pass", "{}", report.ip["spf"]);
    assert_eq!(
        report.ip["spf"]["trace"]["terms"][0]["target"],
        "out.helo.spf.test._helo.by-helo.spf.test"
    );
    let helo = &report.ip["spf_helo"];
    assert_eq!(helo["domain"], "out.helo.spf.test");
    assert_eq!(helo["result"], "fail", "{helo}");
    assert_eq!(helo["matched"]["term"], "-all");
    assert!(
        report.has("spf.helo-not-authorized"),
        "{:?}",
        codes(&report)
    );
    assert!(!report.has("spf.ip-not-authorized"), "{:?}", codes(&report));

    // --helo alone: the HELO identity only.
    let alone = ip_report(&["192.0.2.10", "--helo", "out.helo.spf.test"]);
    assert!(alone.ip.get("spf").is_none(), "{}", alone.ip);
    assert_eq!(alone.ip["spf_helo"]["result"], "pass");
    assert!(!alone.has("spf.helo-not-authorized"));
}

#[test]
fn both_spf_results_are_shown_in_every_format() {
    let args = [
        "ip",
        "198.51.100.7",
        "--mail-from",
        "bounce@by-local.spf.test",
        "--helo",
        "out.helo.spf.test",
    ];
    for format in ["table", "markdown", "html"] {
        let text = support::render(&args, format);
        for line in [
            "SPF of by-local.spf.test (MAIL FROM bounce@by-local.spf.test): pass",
            "SPF of HELO out.helo.spf.test: fail (-all in out.helo.spf.test)",
            "spf.helo-not-authorized",
        ] {
            assert!(
                text.contains(line),
                "the {format} report lacks {line:?}:\n{text}"
            );
        }
    }
}

#[test]
fn a_malformed_sender_or_helo_name_stops_the_run_naming_it() {
    for (args, named) in [
        (vec!["ip", "192.0.2.10", "--mail-from", "nobody"], "nobody"),
        (
            vec!["ip", "192.0.2.10", "--mail-from", "a b@by-local.spf.test"],
            "a b@by-local.spf.test",
        ),
        (vec!["ip", "192.0.2.10", "--mail-from", "<>"], "<>"),
        (
            vec!["ip", "192.0.2.10", "--helo", "[192.0.2.1]"],
            "[192.0.2.1]",
        ),
        (vec!["ip", "192.0.2.10", "--helo", "mail"], "mail"),
        (
            vec![
                "ip",
                "192.0.2.10",
                "--domain",
                "by-helo.spf.test",
                "--mail-from",
                "bounce@by-local.spf.test",
            ],
            "bounce@by-local.spf.test",
        ),
        (
            vec![
                "audit",
                "by-helo.spf.test",
                "--ip",
                "192.0.2.10",
                "--mail-from",
                "bounce@by-local.spf.test",
            ],
            "bounce@by-local.spf.test",
        ),
        (
            vec![
                "audit",
                "by-helo.spf.test",
                "--ip",
                "192.0.2.10",
                "--helo",
                "relay_1.test",
            ],
            "relay_1.test",
        ),
    ] {
        let output = support::run(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(&format!("'{named}'")), "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
        assert!(output.stdout.is_empty(), "{args:?}");
    }
}
