//! `migrate --hybrid HOST`: an on-premises server that stays and relays through Microsoft 365.
//! Its address must stay in SPF through the move (checked with SPF's own evaluation), and with
//! `--smtp` the route to the provider's smart host is probed on port 25 with STARTTLS (a test
//! listener on 127.84.70.25, named by fixtures/zones/outlook.com.zone).

use std::net::Ipv4Addr;

use serde::Deserialize;

use super::{json, run};
use crate::support::smtp_server::{Ca, Leaf, Script, Server, Smtp};

#[derive(Debug, Deserialize)]
pub struct Hybrid {
    host: String,
    addresses: Vec<String>,
    spf: Vec<AddressSpf>,
    smart_host: Option<SmartHost>,
}

#[derive(Debug, Deserialize)]
struct AddressSpf {
    ip: String,
    result: String,
    matched: Option<String>,
    only_through_mx: bool,
}

#[derive(Debug, Deserialize)]
struct SmartHost {
    host: String,
    port: u16,
    probe: Option<serde_json::Value>,
}

const HYBRID_ORDER: [&str; 8] = [
    "verify-domain",
    "publish-dkim",
    "keep-hybrid-in-spf",
    "add-spf-include",
    "hybrid-route",
    "lower-mx-ttl",
    "switch-mx",
    "tighten-dmarc",
];

#[test]
fn a_server_authorised_only_through_mx_gets_its_own_address_in_spf() {
    let (report, code) = json(&[
        "onprem.hybrid.test",
        "--to",
        "microsoft365",
        "--hybrid",
        "Mail.Onprem.Hybrid.Test.",
        "--verify",
    ]);
    // Delivery-breaking steps are not done (the server's address, the include, the MX switch)
    // and the relay is unknown: exit 1.
    assert_eq!(code, 1);
    let plan = report.plan.expect("a plan");
    // The on-premises MX belongs to no profile: nothing is "left", no old include to remove.
    assert_eq!(plan.from, None);
    let ids: Vec<&str> = plan.steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, HYBRID_ORDER);
    let hybrid = plan.hybrid.as_ref().expect("the on-premises server");
    assert_eq!(hybrid.host, "mail.onprem.hybrid.test");
    assert_eq!(hybrid.addresses, ["192.0.2.25"]);
    let spf = &hybrid.spf[0];
    assert_eq!(
        (spf.ip.as_str(), spf.result.as_str(), spf.matched.as_deref()),
        ("192.0.2.25", "pass", Some("mx"))
    );
    assert!(spf.only_through_mx);

    // `mx` passes today but names Microsoft's hosts after the switch: the address goes in as
    // its own term, first (no lookup before it), and the include step starts from that record.
    let keep = plan.step("keep-hybrid-in-spf");
    assert_eq!(keep.status.as_deref(), Some("not-done"));
    assert!(keep.breaks_delivery);
    assert_eq!(
        keep.add,
        ["onprem.hybrid.test. IN TXT \"v=spf1 ip4:192.0.2.25 mx -all\""]
    );
    assert_eq!(
        keep.remove,
        ["onprem.hybrid.test. IN TXT \"v=spf1 mx -all\""]
    );
    assert!(
        keep.evidence[0].contains("pass only through the record's mx term"),
        "{:?}",
        keep.evidence
    );
    let include = plan.step("add-spf-include");
    assert_eq!(include.remove, keep.add);
    assert_eq!(
        include.add,
        [
            "onprem.hybrid.test. IN TXT \"v=spf1 ip4:192.0.2.25 mx include:spf.protection.outlook.com -all\""
        ]
    );

    // Without --smtp the relay is not probed: unknown, never done.
    let route = plan.step("hybrid-route");
    assert_eq!(route.status.as_deref(), Some("unknown"));
    assert!(route.breaks_delivery);
    assert!(
        route.evidence[0].contains("add --smtp"),
        "{:?}",
        route.evidence
    );
    assert!(route.action.as_deref().unwrap().contains("Connectors"));
    let smart = hybrid.smart_host.as_ref().unwrap();
    assert_eq!(
        (smart.host.as_str(), smart.port),
        ("onprem-hybrid-test.mail.protection.outlook.com", 25)
    );
    assert!(smart.probe.is_none());
    assert_eq!(
        plan.with_status("not-done"),
        [
            "verify-domain",
            "publish-dkim",
            "keep-hybrid-in-spf",
            "add-spf-include",
            "switch-mx",
            "tighten-dmarc"
        ]
    );
}

#[test]
fn the_server_address_published_beside_mx_is_done_before_the_switch() {
    let (report, _) = json(&[
        "kept.hybrid.test",
        "--to",
        "microsoft365",
        "--hybrid",
        "mail.kept.hybrid.test",
        "--verify",
    ]);
    let plan = report.plan.unwrap();
    // check_host matches `mx` first, but the ip4 term keeps the server once MX moves.
    let keep = plan.step("keep-hybrid-in-spf");
    assert_eq!(keep.status.as_deref(), Some("done"), "{keep:?}");
    assert!(keep.add.is_empty() && keep.remove.is_empty());
    assert_eq!(keep.evidence, ["192.0.2.28: pass (mx)"]);
    let spf = &plan.hybrid.unwrap().spf[0];
    assert!(!spf.only_through_mx);
    assert_eq!(plan.next_step.as_deref(), Some("verify-domain"));
}

#[test]
fn a_mapped_address_is_ipv4_and_a_private_one_is_never_put_in_spf() {
    let plan = |host: &str| {
        json(&[
            "onprem.hybrid.test",
            "--to",
            "microsoft365",
            "--hybrid",
            host,
            "--verify",
        ])
        .0
        .plan
        .unwrap()
    };
    // RFC 7208 §5: ::ffff:192.0.2.40 is evaluated as 192.0.2.40, so the term is ip4.
    let mapped = plan("mapped.onprem.hybrid.test");
    assert_eq!(mapped.hybrid.as_ref().unwrap().addresses, ["192.0.2.40"]);
    assert_eq!(
        mapped.step("keep-hybrid-in-spf").add,
        ["onprem.hybrid.test. IN TXT \"v=spf1 ip4:192.0.2.40 mx -all\""]
    );
    // A private address, by name or given as such: nothing to publish, and said why.
    for host in ["private.onprem.hybrid.test", "10.0.0.5"] {
        let private = plan(host);
        let keep = private.step("keep-hybrid-in-spf");
        assert_eq!(keep.status.as_deref(), Some("not-done"), "{host}");
        assert!(keep.add.is_empty(), "{host}: {:?}", keep.add);
        assert!(
            keep.evidence[0].starts_with("10.0.0.5: private 10.0.0.0/8")
                && keep.evidence[0].contains("public (NAT) address"),
            "{host}: {:?}",
            keep.evidence
        );
        assert!(private.hybrid.as_ref().unwrap().spf.is_empty(), "{host}");
        assert_eq!(
            private.step("add-spf-include").add,
            ["onprem.hybrid.test. IN TXT \"v=spf1 mx include:spf.protection.outlook.com -all\""]
        );
    }
}

#[test]
fn a_server_missing_from_spf_and_a_smart_host_refusing_are_named() {
    let (report, code) = json(&[
        "norelay.hybrid.test",
        "--to",
        "microsoft365",
        "--hybrid",
        "mail.norelay.hybrid.test",
        "--verify",
        "--smtp",
    ]);
    assert_eq!(code, 1);
    let plan = report.plan.unwrap();
    let keep = plan.step("keep-hybrid-in-spf");
    assert_eq!(keep.status.as_deref(), Some("not-done"));
    assert_eq!(
        keep.evidence,
        ["192.0.2.27: fail (-all)"],
        "SPF's own verdict for the address"
    );
    assert_eq!(
        keep.add,
        [
            "norelay.hybrid.test. IN TXT \"v=spf1 ip4:192.0.2.27 include:spf.protection.outlook.com -all\""
        ]
    );
    // The include is there already: the include step has nothing to publish.
    let include = plan.step("add-spf-include");
    assert_eq!(include.status.as_deref(), Some("done"));
    assert!(include.add.is_empty());
    let route = plan.step("hybrid-route");
    assert_eq!(route.status.as_deref(), Some("not-done"));
    assert!(
        route.evidence[0].starts_with(
            "norelay-hybrid-test.mail.protection.outlook.com:25 at 127.84.70.26: connection refused"
        ) && !route.evidence[0].contains("mail client"),
        "{:?}",
        route.evidence
    );
    assert_eq!(plan.next_step.as_deref(), Some("keep-hybrid-in-spf"));
}

#[test]
fn a_finished_hybrid_set_up_verifies_done_with_the_smart_host_probed() {
    let name = "done-hybrid-test.mail.protection.outlook.com";
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("mailaudit hybrid test CA");
    let ca_file = ca.write(dir.path(), "ca.pem");
    let server = Server::start_at(
        Ipv4Addr::new(127, 84, 70, 25),
        &[25],
        Script::Smtp(Box::new(
            Smtp::new(name).starttls(ca.issue(&Leaf::valid_for(&[name])).server_config()),
        )),
    )
    .expect("listen on 127.84.70.25:25 (root)");
    let args = [
        "done.hybrid.test",
        "--to",
        "microsoft365",
        "--hybrid",
        "mail.done.hybrid.test",
        "--verify",
    ];
    let mut probed = args.to_vec();
    probed.extend(["--smtp", "--ca-file", ca_file.to_str().unwrap()]);
    let (report, code) = json(&probed);
    let plan = report.plan.unwrap();
    assert_eq!(plan.with_status("done"), HYBRID_ORDER);
    assert_eq!(code, 0);
    let route = plan.step("hybrid-route");
    assert!(
        route.evidence[0].contains("at 127.84.70.25: Works: STARTTLS"),
        "{:?}",
        route.evidence
    );
    // What a probe cannot see is said.
    assert!(
        route.evidence[1].contains("connector at the provider")
            && route.evidence[1].contains("check them by hand"),
        "{:?}",
        route.evidence
    );
    assert_eq!(server.connections(), 1);
    let probe = plan.hybrid.unwrap().smart_host.unwrap().probe.unwrap();
    assert_eq!(probe["sessions"][0]["outcome"], "completed");

    // Without --smtp no connection is opened, and the relay is unknown: exit 1.
    let (report, code) = json(&args);
    assert_eq!(code, 1);
    let plan = report.plan.unwrap();
    assert_eq!(plan.with_status("unknown"), ["hybrid-route"]);
    assert_eq!(server.connections(), 1);
}

#[test]
fn bad_hybrid_input_is_refused_before_any_question() {
    for (args, says) in [
        (
            &[
                "x.hybrid.test",
                "--to",
                "microsoft365",
                "--hybrid",
                "not a host",
            ][..],
            "not a host",
        ),
        (
            &[
                "x.hybrid.test",
                "--to",
                "microsoft365",
                "--hybrid",
                "h.test",
                "--smtp",
            ][..],
            "--verify",
        ),
        (&["x.hybrid.test", "--hybrid", "h.test"][..], "--to"),
        (
            &[
                "x.hybrid.test",
                "--to",
                "zoho",
                "--hybrid",
                "h.test",
                "--verify",
                "--smtp",
            ][..],
            "names no smart host",
        ),
    ] {
        let output = run(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

#[test]
fn mx_of_the_domain_reached_through_a_redirect_follows_the_switch_too() {
    let (report, _) = json(&[
        "redirect.hybrid.test",
        "--to",
        "microsoft365",
        "--hybrid",
        "mail.redirect.hybrid.test",
        "--verify",
    ]);
    let plan = report.plan.unwrap();
    let spf = &plan.hybrid.as_ref().unwrap().spf[0];
    assert_eq!(spf.matched.as_deref(), Some("mx:redirect.hybrid.test"));
    assert!(spf.only_through_mx);
    let keep = plan.step("keep-hybrid-in-spf");
    assert_eq!(keep.status.as_deref(), Some("not-done"));
    // The address goes in the domain's own record, before its redirect (RFC 7208 §6.1).
    assert_eq!(
        keep.add,
        [
            "redirect.hybrid.test. IN TXT \"v=spf1 ip4:192.0.2.29 redirect=_spf.redirect.hybrid.test\""
        ]
    );
}
