//! The page of `mailaudit migrate --format html` in the browser: a domain whose verification
//! TXT and DMARC record hold markup (each fetching its own canary host if it ran or loaded)
//! moving from Google Workspace to Microsoft 365, verified. The records are shown as text,
//! nothing runs or is fetched (the same allow-lists, policy and trap as the domain report), the
//! steps are in order with their status, and the page prints on A4.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use crate::traffic::Watched;
use crate::{
    assert_self_contained, csp, keep_dir, open_in_browser, printed_pages, render_report, support,
};
use support::dns_server::{self, TestDns};

/// The markup of `hostile.g2m.test`'s records (`fixtures/migrate/zones`) and the canary host
/// each fetches if it ever became markup.
const CANARIES: &[(&str, &str)] = &[
    (
        "canary-ms.invalid",
        "MS=ms\"'><script src=http://canary-ms.invalid/x.js></script>",
    ),
    (
        "canary-dmarc.invalid",
        "rua=mailto:<img src=http://canary-dmarc.invalid/x.png>@hostile.g2m.test",
    ),
];

fn server() -> &'static TestDns {
    static SERVER: OnceLock<TestDns> = OnceLock::new();
    SERVER.get_or_init(|| {
        dns_server::start_with_zones(
            "127.0.0.1:0".parse().expect("loopback address"),
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/migrate/zones"),
        )
    })
}

/// `migrate hostile.g2m.test --to microsoft365 --verify --format html --output PATH`.
fn render_migrate(path: &Path) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_mailaudit"))
        .args([
            "migrate",
            "hostile.g2m.test",
            "--to",
            "microsoft365",
            "--verify",
        ])
        .args(["--format", "html", "--output"])
        .arg(path)
        .args(["--resolver", &server().resolver_arg(), "--timeout", "2"])
        .output()
        .expect("run mailaudit");
    // The MX still at Google: delivery at risk, exit 1 as with every format.
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.stdout.is_empty(),
        "with --output nothing goes to standard output"
    );
    fs::read_to_string(path).expect("the page was written")
}

#[test]
fn the_migrate_page_shows_hostile_records_as_text_fetches_nothing_and_prints() {
    let page = keep_dir().join("migrate-hostile.g2m.test.html");
    let html = render_migrate(&page);
    assert_self_contained(&html);
    // The same policy as the domain report's, not a second one that could drift.
    let domain_page = render_report(
        &["good.test"],
        &keep_dir().join("good.test-csp-migrate.html"),
    );
    assert_eq!(csp(&html), csp(&domain_page));

    let watched = Watched::from_page(&html);
    for (host, _) in CANARIES {
        assert!(watched.watches(host), "{host} is not watched");
    }
    let dom = open_in_browser(&page, "migrate-hostile.g2m.test", &watched);
    for (_, markup) in CANARIES {
        assert!(dom.text.contains(markup), "{markup:?} is not shown as text");
    }

    // The status first, then the providers, the steps in order, and the set-up.
    assert!(dom.text.contains("Delivery at risk:"));
    let sections: Vec<&str> = dom
        .named("section")
        .filter_map(|s| s.attribute("id"))
        .collect();
    assert_eq!(sections, ["status", "providers", "steps", "setup"]);
    let steps: Vec<&str> = dom
        .named("li")
        .filter_map(|li| li.attribute("id"))
        .collect();
    assert_eq!(
        steps,
        [
            "step-verify-domain",
            "step-publish-dkim",
            "step-add-spf-include",
            "step-lower-mx-ttl",
            "step-switch-mx",
            "step-keep-old-include",
            "step-remove-old-include",
            "step-tighten-dmarc",
        ]
    );
    // The links out of the page are Microsoft 365's documentation (open_in_browser has checked
    // each is http(s) with rel="noreferrer noopener").
    let out: Vec<&str> = dom
        .named("a")
        .filter_map(|a| a.attribute("href"))
        .filter(|href| !href.starts_with('#'))
        .collect();
    assert!(!out.is_empty(), "the provider's documentation is linked");

    // Printed: A4, a handful of pages, fewer than without the print style.
    let (pages, unstyled_pages) = printed_pages(&page, &html, "migrate-hostile.g2m.test");
    assert!(pages <= 4, "the migrate page prints on {pages} A4 pages");
    assert!(
        unstyled_pages > pages,
        "without the print style it takes {unstyled_pages} pages, with it {pages}"
    );
}
