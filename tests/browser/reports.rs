//! The page of `mailaudit reports --format html` in the browser: the readiness verdict with its
//! fixes comes first, the inline-SVG chart draws one bar and one pass-rate dot per day at the
//! height the counts give, a reporter name holding markup is shown as text, and nothing runs or
//! is fetched (the same allow-lists, canaries and trap as the domain report).

use std::fs;
use std::path::Path;
use std::process::Command;

use crate::dom::{Dom, Element};
use crate::traffic::Watched;
use crate::{
    CANARIES, assert_self_contained, csp, keep_dir, open_in_browser, render_report, support,
};

/// A DMARC aggregate report of one day from `reporter` on example.com: `pass` messages from
/// 198.51.100.1 passing aligned DKIM and SPF, `fail` from the forger 203.0.113.66.
fn day_report(reporter: &str, id: &str, begin: u64, pass: u32, fail: u32) -> String {
    let reporter = reporter
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    format!(
        "<?xml version=\"1.0\"?><feedback><report_metadata><org_name>{reporter}</org_name>\
         <email>dmarc@receiver.example</email><report_id>{id}</report_id><date_range>\
         <begin>{begin}</begin><end>{}</end></date_range></report_metadata><policy_published>\
         <domain>example.com</domain><p>none</p></policy_published>\
         <record><row><source_ip>198.51.100.1</source_ip><count>{pass}</count><policy_evaluated>\
         <disposition>none</disposition><dkim>pass</dkim><spf>pass</spf></policy_evaluated></row>\
         <identifiers><header_from>example.com</header_from></identifiers><auth_results><dkim>\
         <domain>example.com</domain><result>pass</result></dkim><spf><domain>example.com</domain>\
         <result>pass</result></spf></auth_results></record>\
         <record><row><source_ip>203.0.113.66</source_ip><count>{fail}</count><policy_evaluated>\
         <disposition>none</disposition><dkim>fail</dkim><spf>fail</spf></policy_evaluated></row>\
         <identifiers><header_from>example.com</header_from></identifiers><auth_results><spf>\
         <domain>forger.example</domain><result>fail</result></spf></auth_results></record>\
         </feedback>",
        begin + 86_399
    )
}

fn number(element: &Element, name: &str) -> f64 {
    element
        .attribute(name)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("<{}> without a numeric {name}", element.name))
}

fn with_class<'a>(dom: &'a Dom, name: &'a str, class: &'a str) -> Vec<&'a Element> {
    dom.named(name)
        .filter(|e| e.attribute("class") == Some(class))
        .collect()
}

#[test]
fn the_reports_page_shows_the_verdict_first_and_a_chart_and_fetches_nothing() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/reports");
    // 2024-06-01: 172 messages, 110 passing, SendGrid and Microsoft 365 not set up.
    let readiness = "receiver.example!example.com!1717200000!1717286399.xml";
    fs::copy(
        fixtures.join("readiness").join(readiness),
        dir.path().join(readiness),
    )
    .expect("copy the readiness report");
    // 2024-06-02: 40, half passing; 06-03: 344, all passing (the busiest day); 06-04: 10 from a
    // reporter whose name is markup that fetches a canary if it ever became markup.
    let hostile = CANARIES[0].1;
    let days = [
        ("receiver.example", 1_717_286_400, 20, 20),
        ("receiver.example", 1_717_372_800, 344, 0),
        (hostile, 1_717_459_200, 0, 10),
    ];
    for (i, (reporter, begin, pass, fail)) in days.into_iter().enumerate() {
        fs::write(
            dir.path().join(format!("day-{i}.xml")),
            day_report(reporter, &format!("day-{i}"), begin, pass, fail),
        )
        .expect("write a report");
    }
    fs::copy(
        fixtures.join("parsedmarc/smtp_tls/rfc8460.json"),
        dir.path().join("tls.json"),
    )
    .expect("copy a TLS-RPT report");

    let page = keep_dir().join("dmarc-reports.html");
    // PTR names from the test DNS server: 192.0.2.111 is Microsoft 365.
    support::run_ok(
        Command::new(env!("CARGO_BIN_EXE_mailaudit"))
            .arg("reports")
            .arg(dir.path())
            .args(["--format", "html", "--output"])
            .arg(&page)
            .args(["--resolver", &support::dns_server::server().resolver_arg()])
            .args(["--timeout", "1"]),
    );
    let html = fs::read_to_string(&page).expect("the page was written");
    assert_self_contained(&html);
    // The same policy as the domain report's, not a second one that could drift.
    let domain_page = render_report(&["good.test"], &keep_dir().join("good.test-csp.html"));
    assert_eq!(csp(&html), csp(&domain_page));

    let dom = open_in_browser(&page, "dmarc-reports", &Watched::from_page(&html));
    assert!(
        dom.text.contains(hostile),
        "the reporter's name is not shown as text"
    );

    // The verdict, with the fixes, before the chart and the inventory.
    for text in [
        "not ready for p=reject",
        "SendGrid",
        "include:sendgrid.net",
        "s1._domainkey.example.com. CNAME s1.domainkey.",
        "Microsoft 365",
        "include:spf.protection.outlook.com",
    ] {
        assert!(dom.text.contains(text), "{text:?} is not shown");
    }
    let sections: Vec<&str> = dom
        .named("section")
        .filter_map(|s| s.attribute("id"))
        .collect();
    assert_eq!(sections, ["readiness", "chart", "inventory", "tls"]);

    // The chart: one bar and one dot a day, oldest first.
    let svg = dom.named("svg").next().expect("an inline SVG chart");
    assert_eq!(svg.attribute("class"), Some("chart"));
    let bars = with_class(&dom, "rect", "bar");
    let dots = with_class(&dom, "circle", "dot");
    assert_eq!((bars.len(), dots.len()), (4, 4), "one bar and dot a day");
    let rate = with_class(&dom, "polyline", "rate");
    assert_eq!(
        rate[0].attribute("points").map(|p| p.split(' ').count()),
        Some(4)
    );
    // Bars in proportion to the messages: 172, 40, 344 (the full height), 10.
    let heights: Vec<f64> = bars.iter().map(|b| number(b, "height")).collect();
    let full = heights[2];
    for (height, messages) in heights.iter().zip([172.0, 40.0, 344.0, 10.0]) {
        assert!(
            (height / full - messages / 344.0).abs() < 0.01,
            "bar heights {heights:?}"
        );
    }
    // Dots at the pass rate between the 0 % and 100 % grid lines: 110/172, 50 %, 100 %, 0 %.
    let grid: Vec<f64> = with_class(&dom, "line", "grid")
        .iter()
        .map(|l| number(l, "y1"))
        .collect();
    let (zero, hundred) = (grid[0], grid[grid.len() - 1]);
    for (dot, rate) in dots.iter().zip([110.0 / 172.0, 0.5, 1.0, 0.0]) {
        let shown = (zero - number(dot, "cy")) / (zero - hundred);
        assert!((shown - rate).abs() < 0.01, "a dot at {shown}, not {rate}");
    }
    assert!(dom.text.contains("2024-06-01") && dom.text.contains("2024-06-04"));
}
