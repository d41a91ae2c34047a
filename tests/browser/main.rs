//! The HTML report in a real browser (headless Chromium, `scripts/test` installs it): a domain
//! whose TXT records hold `<script>`, `<img onerror=...>`, `<b>` and terminal escape bytes must
//! show them as text, run nothing and fetch nothing. "Fetch nothing" is judged from what the page
//! holds, not from a list of the browser's own hosts (see [`traffic`]): `hostile.test`'s records
//! carry canaries, markup that fetches a `canary-*.invalid` host if it runs or loads, and any
//! request for a canary or for a host the report names fails the test.
//!
//! Controls prove the checks can fail in the browser at hand: a page whose script runs is seen,
//! the same canary records written as markup make every canary reach the trap (a browser that
//! never fetched them would make their absence prove nothing, so that fails too), and a request
//! for a host a page names is judged.
//!
//! The pages of `mailaudit reports --format html` ([`reports`]) and `mailaudit migrate --format
//! html` ([`migrate`]) are checked the same way.
//!
//! The rendered pages and screenshots are kept under `target/tmp/browser/` for a person to look
//! at.

#[path = "../support/mod.rs"]
mod support;

mod chromium;
mod dom;
mod migrate;
mod reports;
mod traffic;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use dom::Dom;
use traffic::Watched;

/// The elements the report templates write. Any other element in the DOM was not written by a
/// template (if a template gains an element, add it here). The last line is the inline-SVG
/// chart of the `reports` page: shapes and text only (no `image`, `use`, `foreignObject` or
/// `a`, which could load or link).
const TEMPLATE_ELEMENTS: &[&str] = &[
    "html", "head", "meta", "title", "style", "body", "header", "main", "footer", "section", "div",
    "h1", "h2", "h3", "h4", "p", "span", "strong", "code", "pre", "a", "br", "table", "thead",
    "tbody", "tr", "th", "td", "ul", "ol", "li", "dl", "dt", "dd", "details", "summary", "svg",
    "rect", "line", "polyline", "circle", "text",
];

/// The attributes the template writes.
const TEMPLATE_ATTRIBUTES: &[&str] = &[
    "lang",
    "charset",
    "http-equiv",
    "content",
    "name",
    "class",
    "id",
    "href",
    "rel",
    // The SVG chart: geometry (numbers mailaudit computes) and its accessible name. No `href`
    // other than the one above, no `style`.
    "viewbox",
    "role",
    "aria-label",
    "x",
    "y",
    "width",
    "height",
    "x1",
    "y1",
    "x2",
    "y2",
    "points",
    "cx",
    "cy",
    "r",
];

/// The one `rel` of a link that leaves the page: no referrer sent, no handle on this page.
const LINK_REL: &str = "noreferrer noopener";

/// The strings of `hostile.test`'s records that a browser must show as text.
const HOSTILE_TEXT: &[&str] = &[
    "include:<script>alert(1)</script>.hostile.test",
    "mailto:<img src=x onerror=alert(1)>@hostile.test",
    "p=<b>not-base64</b>",
    // ESC [ 2 J, the terminal's clear screen, made visible.
    "\\u{1b}[2J",
];

/// The canary records of `hostile.test` (`fixtures/zones/hostile.test.zone`, at built-in DKIM
/// selectors): each canary host, and the markup after `p=` that fetches it if a page runs or
/// loads it: as an element, a script, a stylesheet, a frame, a CSS `url()`, an event handler,
/// and after a quote that would end an attribute value. The report must show each as text and
/// the browser must never ask for the host.
const CANARIES: &[(&str, &str)] = &[
    (
        "canary-img.invalid",
        "<img src=http://canary-img.invalid/x.png>",
    ),
    (
        "canary-script.invalid",
        "<script src=http://canary-script.invalid/x.js></script>",
    ),
    (
        "canary-fetch.invalid",
        "<script>fetch('http://canary-fetch.invalid/')</script>",
    ),
    (
        "canary-link.invalid",
        "<link rel=stylesheet href=http://canary-link.invalid/x.css>",
    ),
    (
        "canary-iframe.invalid",
        "<iframe src=http://canary-iframe.invalid/></iframe>",
    ),
    (
        "canary-import.invalid",
        "<style>@import url(http://canary-import.invalid/x.css);</style>",
    ),
    (
        "canary-css.invalid",
        "<div style=background-image:url(http://canary-css.invalid/x.png)>css</div>",
    ),
    (
        "canary-onerror.invalid",
        "<img src=x onerror=fetch('http://canary-onerror.invalid/')>",
    ),
    (
        "canary-quote.invalid",
        "\"><img src=http://canary-quote.invalid/x.png>",
    ),
    (
        "canary-apos.invalid",
        "'><img src=http://canary-apos.invalid/x.png>",
    ),
];

/// Where pages and screenshots are kept for inspection.
fn keep_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser");
    fs::create_dir_all(&dir).expect("create target/tmp/browser");
    dir
}

/// Runs `mailaudit audit DOMAINS... --format html --output PATH` against the test DNS server.
fn render_report(domains: &[&str], path: &Path) -> String {
    let mut args = vec!["audit"];
    args.extend_from_slice(domains);
    let path_arg = path.to_str().expect("UTF-8 path");
    args.extend_from_slice(&[
        "--format",
        "html",
        "--fail-on",
        "never",
        "--output",
        path_arg,
    ]);
    let output = support::run(&args);
    assert_eq!(
        output.status.code(),
        Some(0),
        "mailaudit {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.stdout.is_empty(),
        "with --output nothing goes to standard output"
    );
    fs::read_to_string(path).expect("the report was written")
}

/// What in a document could run or load something, or was not written by the template.
fn problems(dom: &Dom) -> Vec<String> {
    let mut found = Vec::new();
    for element in &dom.elements {
        if !TEMPLATE_ELEMENTS.contains(&element.name.as_str()) {
            found.push(format!(
                "element <{}> {:?}",
                element.name, element.attributes
            ));
        }
        for (name, value) in &element.attributes {
            if name.starts_with("on") {
                found.push(format!(
                    "event handler {name}={value:?} on <{}>",
                    element.name
                ));
            } else if !TEMPLATE_ATTRIBUTES.contains(&name.as_str()) {
                found.push(format!("attribute {name}={value:?} on <{}>", element.name));
            } else if name == "href" && !value.starts_with('#') && !is_web_link(element, value) {
                found.push(format!("link to {value:?} on <{}>", element.name));
            }
        }
    }
    for style in &dom.styles {
        for loads in ["url(", "@import", "image-set(", "://"] {
            if style.contains(loads) {
                found.push(format!("the stylesheet loads something: {loads}"));
            }
        }
    }
    found
}

/// A link out of the page as the template writes it: an `<a>` to an `http://` or `https://`
/// address, with [`LINK_REL`]. Any other scheme (`javascript:`, `data:`) is a problem.
fn is_web_link(element: &dom::Element, href: &str) -> bool {
    let lower = href.to_ascii_lowercase();
    element.name == "a"
        && (lower.starts_with("https://") || lower.starts_with("http://"))
        && element.attribute("rel") == Some(LINK_REL)
}

/// The report file: self-contained, with a strict CSP, nothing that runs or loads.
fn assert_self_contained(html: &str) {
    let file = Dom::parse(html);
    assert_eq!(problems(&file), Vec::<String>::new(), "in the report file");
    let csp = file
        .named("meta")
        .find(|m| m.attribute("http-equiv") == Some("Content-Security-Policy"))
        .and_then(|m| m.attribute("content"))
        .expect("a Content-Security-Policy meta element");
    assert!(csp.starts_with("default-src 'none'; "), "CSP: {csp}");
    assert!(
        !csp.contains("script-src"),
        "no script may be allowed: {csp}"
    );
    let controls = html
        .chars()
        .filter(|c| c.is_control() && !matches!(c, '\n' | '\t'))
        .count();
    assert_eq!(controls, 0, "raw control characters in the report");
}

/// Checks the page in the browser: the DOM after load holds only the template's markup, and
/// neither loading nor drawing it sent a request the page could have caused (a canary, or a
/// host `watched` found in the report). The browser's own traffic is printed, not judged.
/// Returns the DOM.
fn open_in_browser(page: &Path, name: &str, watched: &Watched) -> Dom {
    chromium::chromium();
    let rendered = chromium::dump_dom(page);
    assert!(
        rendered.dom.contains("</html>"),
        "no DOM dumped: {}",
        rendered.dom
    );
    let dom = Dom::parse(&rendered.dom);
    assert_eq!(problems(&dom), Vec::<String>::new(), "in the DOM of {name}");
    assert_eq!(
        watched.judge(&rendered.requests, name),
        Vec::<String>::new(),
        "{name} sent requests for canaries or hosts it names"
    );

    let png = keep_dir().join(format!("{name}.png"));
    let _ = fs::remove_file(&png);
    let requests = chromium::screenshot(page, &png);
    assert_eq!(
        watched.judge(&requests, &format!("{name} (drawn)")),
        Vec::<String>::new(),
        "{name} sent requests for canaries or hosts it names while drawn"
    );
    let bytes = fs::read(&png).expect("the screenshot was written");
    assert_eq!(
        chromium::png_size(&bytes),
        Some((1280, 2000)),
        "not a 1280×2000 PNG"
    );
    // A blank page compresses to a few kilobytes; the report's text and colours do not.
    assert!(
        bytes.len() > 30_000,
        "the screenshot is nearly empty ({} bytes)",
        bytes.len()
    );
    dom
}

/// The report without its Content-Security-Policy: what escaping alone does. The policy would
/// stop an injected `<img>` from loading, so with it in place a failure of escaping could go
/// unseen by the trap; without it, any record that became markup fetches its canary.
fn without_csp(html: &str) -> String {
    let start = html
        .find("<meta http-equiv=\"Content-Security-Policy\"")
        .expect("the report has a CSP meta element");
    let end = start + html[start..].find('>').expect("the meta element ends") + 1;
    let bare = format!("{}{}", &html[..start], &html[end..]);
    assert!(!bare.contains("Content-Security-Policy"), "one policy only");
    bare
}

/// `html` with `markup` written just before `</body>`.
fn with_markup(html: &str, markup: &str) -> String {
    let at = html.rfind("</body>").expect("the page has a body");
    format!("{}{markup}{}", &html[..at], &html[at..])
}

#[test]
fn hostile_records_are_shown_as_text_and_run_nothing() {
    let page = keep_dir().join("hostile.test.html");
    let html = render_report(&["hostile.test"], &page);
    assert_self_contained(&html);
    let watched = Watched::from_page(&html);
    let dom = open_in_browser(&page, "hostile.test", &watched);
    assert_eq!(
        dom.title, "mailaudit report: hostile.test",
        "a script changed the title"
    );
    let canary_text = CANARIES.iter().map(|(_, payload)| payload);
    for text in HOSTILE_TEXT.iter().chain(canary_text) {
        assert!(dom.text.contains(text), "{text:?} is not shown as text");
    }
    assert!(
        dom.text.contains("spf.include-missing") && dom.text.contains("dkim.syntax"),
        "the findings are shown"
    );
    // Escaping alone, without the policy's second line of defence, keeps every canary quiet.
    let bare = keep_dir().join("hostile.test-without-csp.html");
    fs::write(&bare, without_csp(&html)).expect("write the page");
    let bare_dom = open_in_browser(&bare, "hostile.test-without-csp", &watched);
    assert_eq!(bare_dom.title, "mailaudit report: hostile.test");
}

#[test]
fn a_good_domain_shows_its_grade_records_tree_keys_and_hosts() {
    let page = keep_dir().join("good.test.html");
    let html = render_report(&["good.test"], &page);
    assert_self_contained(&html);
    let dom = open_in_browser(&page, "good.test", &Watched::from_page(&html));
    let grade = dom
        .named("span")
        .any(|s| s.attribute("class") == Some("grade grade-A"));
    assert!(grade, "grade A badge");
    for text in [
        "100/100",
        // Its one finding, an info: no MTA-STS record.
        "mtasts.missing",
        // SPF: the record and the tree with its running total.
        "v=spf1 mx ip4:192.0.2.0/24 -all",
        "DNS lookups: 1 of 10",
        // DMARC: where it was found and its tags.
        "Found at _dmarc.good.test;",
        "adkim",
        // DKIM: the selector, key type and size.
        "selector1",
        "rsa 2048 bits",
        // MX: hosts, addresses, PTR.
        "mx1.good.test",
        "192.0.2.25",
        "2001:db8::25",
        "mx2.good.test",
    ] {
        assert!(dom.text.contains(text), "{text:?} is not shown");
    }
}

#[test]
fn several_targets_get_a_summary_linking_to_a_section_each() {
    let dir = chromium::workdir();
    let page = dir.path().join("two.html");
    let html = render_report(&["good.test", "hostile.test"], &page);
    assert_self_contained(&html);
    let file = Dom::parse(&html);
    let sections: Vec<&str> = file
        .named("section")
        .filter(|s| s.attribute("class") == Some("target"))
        .filter_map(|s| s.attribute("id"))
        .collect();
    assert_eq!(sections, ["target-1", "target-2"]);
    let links: Vec<&str> = file
        .named("a")
        .filter_map(|a| a.attribute("href"))
        .filter(|href| href.starts_with('#'))
        .collect();
    // The summary ranks worst first: hostile.test (the second target) before good.test.
    assert_eq!(links, ["#target-2", "#target-1"]);
    assert_eq!(file.title, "mailaudit report: 2 targets");
}

#[test]
fn without_output_the_report_goes_to_a_dated_file_under_reports() {
    let dir = chromium::workdir();
    let server = support::dns_server::server();
    let output = Command::new(env!("CARGO_BIN_EXE_mailaudit"))
        .current_dir(dir.path())
        .args(["audit", "good.test", "--format", "html"])
        .args(["--dnsbl", &support::working_catalog()])
        .args(["--resolver", &server.resolver_arg(), "--timeout", "1"])
        .output()
        .expect("run mailaudit");
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8(output.stdout).expect("UTF-8");
    let path = stdout
        .strip_prefix("report written to ")
        .and_then(|rest| rest.strip_suffix('\n'))
        .unwrap_or_else(|| panic!("one line naming the file: {stdout:?}"));
    let name = path
        .strip_prefix("reports/good.test-")
        .and_then(|rest| rest.strip_suffix(".html"))
        .unwrap_or_else(|| panic!("not reports/good.test-<date>.html: {path}"));
    let (date, time) = name.split_once('-').expect("YYYYMMDD-HHMMSS");
    assert!(
        date.len() == 8 && time.len() == 6,
        "not YYYYMMDD-HHMMSS: {name}"
    );
    assert!(name.bytes().all(|b| b.is_ascii_digit() || b == b'-'));
    let html = fs::read_to_string(dir.path().join(path)).expect("the dated report exists");
    assert!(html.contains("<title>mailaudit report: good.test</title>"));
}

/// The visible text of `html` outside its raw-JSON `<details>` (there is at most one per target).
fn text_outside_raw_json(html: &str) -> String {
    let mut rest = html;
    let mut kept = String::new();
    while let Some(start) = rest.find("<details class=\"raw\">") {
        kept.push_str(&rest[..start]);
        let after = &rest[start..];
        let end = after.find("</details>").expect("the raw JSON details end");
        rest = &after[end..];
    }
    kept.push_str(rest);
    Dom::parse(&kept).text
}

/// No JSON text (`{"`, `":`) in what a person reads: evidence is words and lists, and JSON is
/// only in the raw-JSON details, which the page has.
fn assert_no_json_outside_raw(html: &str, name: &str) {
    let raw = Dom::parse(html)
        .named("details")
        .filter(|d| d.attribute("class") == Some("raw"))
        .count();
    assert_eq!(raw, 1, "{name}: one raw-JSON details element");
    assert!(
        Dom::parse(html).text.contains("\"schema_version\":"),
        "{name}: the raw JSON is in the page, so the check below can see JSON"
    );
    let text = text_outside_raw_json(html);
    for json in ["{\"", "\":"] {
        if let Some(at) = text.find(json) {
            let from = text[..at]
                .char_indices()
                .rev()
                .nth(60)
                .map_or(0, |(i, _)| i);
            panic!(
                "{name}: JSON text {json:?} shown: …{}…",
                &text[from..(at + 40).min(text.len())]
            );
        }
    }
}

/// Prints `page` (whose HTML is `html`, kept as `name`) to PDF as the browser's "Save as PDF"
/// does, and checks that it is A4 and sent no request the page could have caused. Returns its
/// pages, and, the control, the pages of the same page without its print style (more, or the
/// count is not of the page's print style but of an empty document).
fn printed_pages(page: &Path, html: &str, name: &str) -> (usize, usize) {
    let dir = keep_dir();
    let pdf = dir.join(format!("{name}.pdf"));
    let _ = fs::remove_file(&pdf);
    let requests = chromium::print_pdf(page, &pdf);
    assert_eq!(
        Watched::from_page(html).judge(&requests, &format!("{name} (printed)")),
        Vec::<String>::new(),
        "printing sent requests the page could have caused"
    );
    let (pages, size) = chromium::pdf_pages(&pdf);
    assert!(size.contains("(A4)"), "not printed on A4: {size}");
    let unstyled = dir.join(format!("{name}-print-unstyled.html"));
    fs::write(&unstyled, html.replace("@media print", "@media never")).expect("write");
    let unstyled_pdf = dir.join(format!("{name}-unstyled.pdf"));
    chromium::print_pdf(&unstyled, &unstyled_pdf);
    let (unstyled_pages, _) = chromium::pdf_pages(&unstyled_pdf);
    (pages, unstyled_pages)
}

/// The content of a page's Content-Security-Policy meta element.
fn csp(html: &str) -> Option<String> {
    Dom::parse(html)
        .named("meta")
        .find(|m| m.attribute("http-equiv") == Some("Content-Security-Policy"))
        .and_then(|m| m.attribute("content").map(str::to_owned))
}

#[test]
fn a_good_domain_prints_on_at_most_two_a4_pages() {
    let page = keep_dir().join("good.test-print.html");
    let html = render_report(&["good.test"], &page);
    let (pages, unstyled_pages) = printed_pages(&page, &html, "good.test");
    assert!(pages <= 2, "good.test prints on {pages} A4 pages");
    assert!(
        unstyled_pages > pages,
        "without the print style it takes {unstyled_pages} pages, with it {pages}"
    );
}

#[test]
fn a_listed_domain_links_to_its_removal_page() {
    let page = keep_dir().join("spammy.dnsbl.test.html");
    let html = render_report(&["spammy.dnsbl.test"], &page);
    assert_self_contained(&html);
    let dom = open_in_browser(&page, "spammy.dnsbl.test", &Watched::from_page(&html));
    // fixtures/dnsbl/working.toml: DBL's removal page.
    let removal: Vec<&dom::Element> = dom
        .named("a")
        .filter(|a| a.attribute("href") == Some("https://dbl.test/remove"))
        .collect();
    assert!(!removal.is_empty(), "the removal page is not a link");
    for link in removal {
        assert_eq!(link.attribute("rel"), Some(LINK_REL));
    }
    assert!(dom.text.contains("LISTED"), "the matrix shows the listing");
    let listed_cell = dom
        .named("td")
        .any(|td| td.attribute("class") == Some("listed"));
    assert!(listed_cell, "the listed cell is coloured as listed");
}

#[test]
fn evidence_is_written_for_people_not_as_json() {
    let dir = keep_dir();
    for domain in ["good.test", "spammy.dnsbl.test", "fixes.test"] {
        let html = render_report(&[domain], &dir.join(format!("{domain}-text.html")));
        assert_no_json_outside_raw(&html, domain);
    }
}

#[test]
fn a_hostile_record_never_becomes_a_link_of_another_scheme() {
    let page = keep_dir().join("hostile.test-links.html");
    let html = render_report(&["hostile.test"], &page);
    let dom = Dom::parse(&html);
    // fixtures/zones/hostile.test.zone: its BIMI record names javascript: and data: addresses.
    for text in [
        "l=javascript:alert(document.domain)",
        "a=data:text/html,<script>",
    ] {
        assert!(dom.text.contains(text), "{text:?} is not shown as text");
    }
    let hrefs: Vec<&str> = dom.named("a").filter_map(|a| a.attribute("href")).collect();
    assert!(
        hrefs.iter().any(|h| h.starts_with("https://")),
        "the page has links out (the check below sees them): {hrefs:?}"
    );
    for element in &dom.elements {
        if let Some(href) = element.attribute("href") {
            assert!(
                href.starts_with('#') || is_web_link(element, href),
                "<{}> links to {href:?}",
                element.name
            );
        }
    }
    assert_eq!(problems(&dom), Vec::<String>::new());
}

#[test]
fn a_bulk_report_opens_with_a_summary_worst_first_linking_to_each_section() {
    let dir = chromium::workdir();
    let page = dir.path().join("bulk.html");
    let html = render_report(&["good.test", "spammy.dnsbl.test", "fixes.test"], &page);
    assert_self_contained(&html);
    let summary_at = html.find("<section id=\"summary\">").expect("a summary");
    let first_target = html
        .find("<section class=\"target\"")
        .expect("target sections");
    assert!(summary_at < first_target, "the summary comes first");
    let file = Dom::parse(&html);
    let ids: Vec<&str> = file
        .named("section")
        .filter(|s| s.attribute("class") == Some("target"))
        .filter_map(|s| s.attribute("id"))
        .collect();
    assert_eq!(ids, ["target-1", "target-2", "target-3"], "input order");
    let summary = Dom::parse(&html[summary_at..first_target]);
    let links: Vec<&str> = summary
        .named("a")
        .filter_map(|a| a.attribute("href"))
        .collect();
    // spammy.dnsbl.test (F) before fixes.test (D) before good.test (A).
    assert_eq!(links, ["#target-2", "#target-3", "#target-1"]);
    let grades: Vec<&str> = summary
        .named("span")
        .filter_map(|s| s.attribute("class")?.strip_prefix("grade small grade-"))
        .collect();
    assert_eq!(grades, ["F", "D", "A"], "{}", summary.text);
    for id in ids {
        assert!(
            id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'),
            "an id is only letters, digits and -: {id}"
        );
    }
}

/// The page of the controls: a script and an `onerror` handler that change the title.
fn active_page(head_extra: &str, body_extra: &str) -> String {
    format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\">{head_extra}<title>inert</title>\
         </head><body><p>control</p><script>document.title = 'ran';</script>\
         <img src=\"missing.png\" onerror=\"document.title += ' onerror'\">{body_extra}\
         </body></html>"
    )
}

/// Every canary's markup, as a page that failed to escape the records would hold it.
fn canary_markup() -> String {
    CANARIES.iter().map(|(_, payload)| *payload).collect()
}

/// The hosts of the requests in `requests`.
fn requested_hosts(requests: &[String]) -> Vec<String> {
    requests
        .iter()
        .filter_map(|line| traffic::request_host(line))
        .collect()
}

#[test]
fn control_a_script_that_runs_is_seen() {
    chromium::chromium();
    let dir = chromium::workdir();
    let page = chromium::write_page(dir.path(), "active.html", &active_page("", ""));
    let dom = Dom::parse(&chromium::dump_dom(&page).dom);
    assert_eq!(
        dom.title, "ran onerror",
        "the dumped DOM does not show what scripts did"
    );
    let found = problems(&dom);
    assert!(
        found.iter().any(|p| p.starts_with("element <script>")),
        "{found:?}"
    );
    assert!(
        found.iter().any(|p| p.starts_with("event handler onerror")),
        "{found:?}"
    );
}

#[test]
fn control_every_canary_fires_when_its_record_is_markup() {
    let browser = chromium::chromium();
    let dir = chromium::workdir();
    let html = render_report(&["hostile.test"], &dir.path().join("hostile.html"));
    let watched = Watched::from_page(&html);
    // The report as it would be had escaping failed for the canary records: their text written
    // as markup into the page, and no policy in the way.
    let page = chromium::write_page(
        dir.path(),
        "unescaped.html",
        &with_markup(&without_csp(&html), &canary_markup()),
    );
    let rendered = chromium::dump_dom(&page);
    let hosts = requested_hosts(&rendered.requests);
    for (canary, payload) in CANARIES {
        assert!(
            payload.contains(canary),
            "{payload:?} does not fetch {canary}"
        );
        assert!(
            hosts.iter().any(|h| h == canary),
            "{} never asked for {canary} when the page held {payload:?}, so its absence from \
             the report's requests proves nothing: {:?}",
            browser.display(),
            rendered.requests
        );
    }
    let judged = requested_hosts(&watched.judge(&rendered.requests, "unescaped canaries"));
    for (canary, _) in CANARIES {
        assert!(
            judged.iter().any(|h| h == canary),
            "a request for {canary} is not judged"
        );
    }
    assert!(!problems(&Dom::parse(&rendered.dom)).is_empty());
}

#[test]
fn control_a_request_for_a_host_the_page_names_is_caught() {
    chromium::chromium();
    let dir = chromium::workdir();
    // Hosts outside the names reserved for testing, so only their being named can make the
    // requests judged. Nothing leaves the machine: no name resolves and the proxy answers 403.
    let html = "<!DOCTYPE html><html><head><title>names</title>\
        <link rel=\"stylesheet\" href=\"https://198.51.100.7/style.css\"></head>\
        <body><p>mx.named-host.example.com</p>\
        <img src=\"http://mx.named-host.example.com/pixel.png\"></body></html>";
    let page = chromium::write_page(dir.path(), "names.html", html);
    let rendered = chromium::dump_dom(&page);
    let judged = requested_hosts(&Watched::from_page(html).judge(&rendered.requests, "names"));
    for host in ["198.51.100.7", "mx.named-host.example.com"] {
        assert!(
            judged.iter().any(|h| h == host),
            "the request for {host} is not judged: {:?}",
            rendered.requests
        );
    }
    let unnamed = Watched::from_page("<html><body>nothing</body></html>");
    assert!(
        requested_hosts(&unnamed.judge(
            &rendered.requests,
            "names, judged against a page that names nothing"
        ))
        .is_empty(),
        "a host the page does not name is judged"
    );
}

#[test]
fn control_the_reports_policy_stops_injected_script_and_loads() {
    chromium::chromium();
    let dir = chromium::workdir();
    let report = render_report(&["good.test"], &dir.path().join("good.html"));
    let csp = Dom::parse(&report)
        .named("meta")
        .find(|m| m.attribute("http-equiv") == Some("Content-Security-Policy"))
        .and_then(|m| m.attribute("content"))
        .map(str::to_owned)
        .expect("CSP meta");
    let meta = format!("<meta http-equiv=\"Content-Security-Policy\" content=\"{csp}\">");
    let html = active_page(&meta, &canary_markup());
    let page = chromium::write_page(dir.path(), "guarded.html", &html);
    let rendered = chromium::dump_dom(&page);
    assert_eq!(
        Dom::parse(&rendered.dom).title,
        "inert",
        "the report's CSP lets injected script run"
    );
    assert_eq!(
        Watched::from_page(&html).judge(&rendered.requests, "guarded"),
        Vec::<String>::new(),
        "the report's CSP lets injected markup load"
    );
}
