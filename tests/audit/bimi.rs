//! BIMI end to end: the fixture domains of `fixtures/zones/bimi.test.zone` for what needs no
//! fetch; for `--fetch-bimi`, an HTTPS server on loopback (a certificate from a CA made for the
//! run) serving logos and mark certificates, reached through a zone written at run time with
//! the server's port, the test DNS server and `--ca-file`: the production code path.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Deserialize;

use crate::support::https_server::{HttpsServer, Serve};
use crate::support::marks::mark;
use crate::support::smtp_server::{Ca, Leaf};
use crate::support::{self, FindingOut, Report, dns_server};

/// The report's `bimi` object, read independently of the program's types.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BimiOut {
    verdict: String,
    selector: String,
    queries: Vec<QueryOut>,
    found_at: Option<String>,
    record: Option<String>,
    tags: Vec<serde_json::Value>,
    notes: Vec<serde_json::Value>,
    declined: bool,
    #[serde(default)]
    dmarc: Option<PrerequisiteOut>,
    #[serde(default)]
    logo: Option<LogoOut>,
    #[serde(default)]
    certificate: Option<CertificateOut>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct QueryOut {
    name: String,
    status: String,
    records: Vec<String>,
    txt_records: usize,
    bimi_records: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PrerequisiteOut {
    status: String,
    #[serde(default)]
    organizational_domain: Option<String>,
    reasons: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogoOut {
    url: String,
    status: String,
    #[serde(default)]
    http: Option<HttpOut>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    svg: Option<serde_json::Value>,
    problems: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CertificateOut {
    url: String,
    status: String,
    #[serde(default)]
    http: Option<HttpOut>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    certificate: Option<MarkOut>,
    problems: Vec<String>,
    expiring: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpOut {
    addresses: Vec<String>,
    #[serde(default)]
    status: Option<u16>,
    #[serde(default)]
    content_type: Option<String>,
    #[serde(default)]
    bytes: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MarkOut {
    subject: String,
    issuer: String,
    names: Vec<String>,
    not_before: String,
    not_after: String,
    days_left: i64,
    logotype: bool,
    bimi_usage: bool,
    chain_length: usize,
}

#[derive(Deserialize)]
struct WithBimi {
    bimi: BimiOut,
}

/// Reads a `--format json` report and its `bimi` object.
fn read(stdout: &[u8]) -> (Report, BimiOut) {
    let report: Report = serde_json::from_slice(stdout).expect("the report");
    let with: WithBimi = serde_json::from_slice(stdout).unwrap_or_else(|e| {
        panic!(
            "bimi does not match: {e}\n{}",
            String::from_utf8_lossy(stdout)
        )
    });
    (report, with.bimi)
}

/// Audits `domain` against the shared test DNS server.
fn audit(domain: &str, extra: &[&str]) -> (Report, BimiOut) {
    let mut args = vec!["audit", domain, "--format", "json", "--fail-on", "never"];
    args.extend_from_slice(extra);
    let output = support::run_ok(&mut support::command(&args));
    read(&output.stdout)
}

fn bimi_codes(report: &Report) -> Vec<String> {
    report
        .codes()
        .into_iter()
        .filter(|c| c.starts_with("bimi."))
        .collect()
}

fn only<'a>(report: &'a Report, code: &str) -> &'a FindingOut {
    let found = report.with_code(code);
    assert_eq!(found.len(), 1, "{code} once in {:?}", bimi_codes(report));
    found[0]
}

#[test]
fn a_record_under_an_enforced_policy_raises_only_the_certificate_note() {
    let (report, bimi) = audit("good.bimi.test", &[]);
    assert_eq!(bimi_codes(&report), ["bimi.no-certificate"]);
    assert_eq!(only(&report, "bimi.no-certificate").severity, "info");
    assert_eq!(bimi.verdict, "ok");
    assert_eq!(bimi.selector, "default");
    assert_eq!(
        bimi.found_at.as_deref(),
        Some("default._bimi.good.bimi.test")
    );
    assert_eq!(
        bimi.record.as_deref(),
        Some("v=BIMI1; l=https://logo.bimi.test/good.svg; a=")
    );
    assert_eq!(bimi.tags.len(), 2);
    assert!(bimi.notes.is_empty());
    assert_eq!(bimi.queries.len(), 1);
    assert_eq!(bimi.queries[0].status, "records");
    assert_eq!(bimi.queries[0].bimi_records, 1);
    assert_eq!(bimi.queries[0].txt_records, 1);
    assert_eq!(Some(&bimi.queries[0].records[0]), bimi.record.as_ref());
    let dmarc = bimi.dmarc.expect("the prerequisite judged");
    assert_eq!(dmarc.status, "enforced");
    assert_eq!(
        dmarc.organizational_domain.as_deref(),
        Some("good.bimi.test")
    );
    // Nothing is fetched without --fetch-bimi, and the report says so.
    let logo = bimi.logo.expect("the logo");
    assert_eq!(logo.status, "not-fetched");
    assert!(logo.http.is_none() && logo.svg.is_none());
    assert!(bimi.certificate.is_none());
    let table = support::render(&["audit", "good.bimi.test"], "table");
    assert!(
        table.contains(
            "Logo: https://logo.bimi.test/good.svg not fetched (--fetch-bimi fetches it)"
        ),
        "{table}"
    );
    assert!(table.contains("DMARC: enforced"), "{table}");
}

#[test]
fn no_record_is_missing_at_info() {
    let (report, bimi) = audit("missing.bimi.test", &[]);
    let finding = only(&report, "bimi.missing");
    assert_eq!(finding.severity, "info");
    assert!(
        finding
            .fix
            .as_deref()
            .unwrap()
            .contains("default._bimi.missing.bimi.test TXT \"v=BIMI1; l=https://"),
        "{:?}",
        finding.fix
    );
    assert_eq!(bimi.verdict, "ok");
    assert!(bimi.record.is_none() && bimi.dmarc.is_none());
    assert_eq!(bimi.queries[0].status, "nxdomain");
    // Info costs nothing: the score is that of the other areas.
    assert!(report.scoring.deductions.iter().all(|d| d.area != "bimi"));
}

/// Each way DMARC falls short of BIMI's prerequisite is a bimi.dmarc-not-enforced warning that
/// names it.
#[test]
fn a_record_under_a_weak_policy_is_not_enforced() {
    let cases = [
        (
            "none.bimi.test",
            "the DMARC policy receivers apply to none.bimi.test is none",
        ),
        (
            "pct.bimi.test",
            "pct=50 with p=quarantine at _dmarc.pct.bimi.test",
        ),
        ("sp-none.bimi.test", "sp=none at _dmarc.sp-none.bimi.test"),
        (
            "testing.bimi.test",
            "t=y makes receivers apply one level weaker",
        ),
        (
            "nodmarc.bimi.test",
            "no DMARC policy applies to nodmarc.bimi.test",
        ),
        (
            "mail.weakorg.bimi.test",
            "the DMARC policy of the organisational domain weakorg.bimi.test is none",
        ),
    ];
    for (domain, reason) in cases {
        let (report, bimi) = audit(domain, &[]);
        let finding = only(&report, "bimi.dmarc-not-enforced");
        assert_eq!(finding.severity, "warning", "{domain}");
        assert!(
            finding.message.contains(reason),
            "{domain}: {}",
            finding.message
        );
        let dmarc = bimi.dmarc.expect("judged");
        assert_eq!(dmarc.status, "not-enforced", "{domain}");
        assert!(
            dmarc.reasons.iter().any(|r| r.contains(reason)),
            "{domain}: {:?}",
            dmarc.reasons
        );
        assert_eq!(bimi.verdict, "weak", "{domain}");
        // It costs BIMI's warning weight (README: 18, 8, 3).
        let deduction = report
            .scoring
            .deductions
            .iter()
            .find(|d| d.code == "bimi.dmarc-not-enforced")
            .expect("a deduction");
        assert_eq!(deduction.points, 3, "{domain}");
    }
}

#[test]
fn a_subdomain_without_a_record_uses_its_organisational_domains() {
    let (report, bimi) = audit("shop.brand.bimi.test", &[]);
    assert!(!report.has("bimi.missing"), "{:?}", bimi_codes(&report));
    assert!(
        !report.has("bimi.dmarc-not-enforced"),
        "{:?}",
        bimi_codes(&report)
    );
    let asked: Vec<&str> = bimi.queries.iter().map(|q| q.name.as_str()).collect();
    assert_eq!(
        asked,
        [
            "default._bimi.shop.brand.bimi.test",
            "default._bimi.brand.bimi.test"
        ]
    );
    assert_eq!(
        bimi.found_at.as_deref(),
        Some("default._bimi.brand.bimi.test")
    );
    assert_eq!(bimi.dmarc.expect("judged").status, "enforced");
}

#[test]
fn broken_records_are_invalid() {
    let (report, bimi) = audit("invalid.bimi.test", &[]);
    let finding = only(&report, "bimi.invalid");
    assert_eq!(finding.severity, "error");
    assert!(
        finding.message.contains("https: URL"),
        "{}",
        finding.message
    );
    assert!(
        finding.fix.as_deref().unwrap().contains(
            "default._bimi.invalid.bimi.test TXT \"v=BIMI1; l=https://invalid.bimi.test/bimi/logo.svg; a=\""
        ),
        "{:?}",
        finding.fix
    );
    assert_eq!(bimi.verdict, "fail");
    // A record receivers ignore: neither the prerequisite nor the logo is judged.
    assert!(bimi.dmarc.is_none() && bimi.logo.is_none());

    let (report, bimi) = audit("misplaced.bimi.test", &[]);
    let finding = only(&report, "bimi.invalid");
    assert!(
        finding.message.contains("not the first tag"),
        "{}",
        finding.message
    );
    assert!(
        finding
            .fix
            .as_deref()
            .unwrap()
            .contains("TXT \"v=BIMI1; l=https://logo.bimi.test/misplaced.svg; a=\""),
        "{:?}",
        finding.fix
    );
    assert!(!report.has("bimi.missing"));
    assert_eq!(bimi.queries[0].bimi_records, 0);

    let (report, bimi) = audit("multiple.bimi.test", &[]);
    assert!(
        only(&report, "bimi.invalid")
            .message
            .starts_with("2 BIMI records at")
    );
    assert_eq!(bimi.queries[0].bimi_records, 2);
    assert!(bimi.record.is_none());
}

#[test]
fn a_declination_is_no_finding_even_under_p_none() {
    let (report, bimi) = audit("declined.bimi.test", &[]);
    assert!(bimi_codes(&report).is_empty(), "{:?}", bimi_codes(&report));
    assert!(bimi.declined);
    assert!(bimi.dmarc.is_none());
}

#[test]
fn the_selector_can_be_chosen_and_is_checked_like_a_dkim_selector() {
    let (report, bimi) = audit("selector.bimi.test", &["--bimi-selector", "Spring"]);
    assert_eq!(bimi.selector, "spring");
    assert_eq!(
        bimi.found_at.as_deref(),
        Some("spring._bimi.selector.bimi.test")
    );
    assert!(!report.has("bimi.missing"));
    let (report, _) = audit("selector.bimi.test", &[]);
    assert!(report.has("bimi.missing"));
    let output = support::run(&[
        "audit",
        "selector.bimi.test",
        "--bimi-selector",
        "bad selector",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("bad selector"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn a_dns_failure_is_unknown_never_missing() {
    let (report, bimi) = audit("lookupfail.bimi.test", &[]);
    let finding = only(&report, "bimi.lookup-failed");
    assert!(finding.message.contains("SERVFAIL"), "{}", finding.message);
    assert!(!report.has("bimi.missing"));
    assert_eq!(bimi.verdict, "unknown");
    assert!(report.incomplete);
    assert!(
        report.unknown.iter().any(|u| u.area == "bimi"),
        "{:?}",
        report.unknown
    );
    assert!(report.scoring.deductions.iter().all(|d| d.area != "bimi"));
}

#[test]
fn every_format_has_a_bimi_section() {
    for format in ["table", "markdown", "html"] {
        // Markdown escapes `_`: compared as it reads once rendered.
        let text = support::render(&["audit", "none.bimi.test"], format).replace("\\_", "_");
        assert!(text.contains("BIMI"), "{format}");
        assert!(
            text.contains(
                "default._bimi.none.bimi.test: v=BIMI1; l=https://logo.bimi.test/none.svg"
            ),
            "{format}: {text}"
        );
        assert!(text.contains("not enforced"), "{format}");
        assert!(text.contains("bimi.dmarc-not-enforced"), "{format}");
    }
}

// ---------------------------------------------------------------------------------------------
// --fetch-bimi: an HTTPS server on loopback.

/// The host serving logos and certificates.
const HOST: &str = "bimi.fetch-bimi.test";

/// A host with ten addresses (127.0.0.1, where the server listens, and nine more).
const MANY_HOST: &str = "many-addresses.fetch-bimi.test";

const LOGO: &str = r##"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" version="1.2" baseProfile="tiny-ps" viewBox="0 0 64 64">
<title>Fetch Test</title>
<rect width="64" height="64" fill="#036"/>
</svg>
"##;

/// The fetch world: the HTTPS server with every logo and certificate, a DNS server serving a
/// zone with one domain per case, and the CA file.
struct World {
    _server: HttpsServer,
    dns: dns_server::TestDns,
    ca_file: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

fn world() -> &'static World {
    static WORLD: std::sync::OnceLock<World> = std::sync::OnceLock::new();
    WORLD.get_or_init(|| {
        let ca = Ca::new("mailaudit BIMI test CA");
        let server = ca.issue(&Leaf::valid_for(&[HOST, MANY_HOST]));
        let svg = "image/svg+xml";
        let pem = "application/x-pem-file";
        let mut routes = BTreeMap::new();
        routes.insert("/good.svg".to_owned(), Serve::ok(svg, LOGO));
        routes.insert(
            "/script.svg".to_owned(),
            Serve::ok(svg, LOGO.replace("<rect", "<script>alert(1)</script><rect")),
        );
        routes.insert(
            "/wide.svg".to_owned(),
            Serve::ok(svg, LOGO.replace("0 0 64 64", "0 0 128 64")),
        );
        // 40 KB of valid SVG, sent without Content-Length: cut off at 32 KB while reading.
        let padding = format!("<!-- {} -->", "x".repeat(40 * 1024));
        routes.insert(
            "/big.svg".to_owned(),
            Serve::Unsized {
                content_type: svg.to_owned(),
                body: LOGO
                    .replace("<rect", &format!("{padding}<rect"))
                    .into_bytes(),
            },
        );
        routes.insert(
            "/moved.svg".to_owned(),
            Serve::Redirect(format!("https://{HOST}/good.svg")),
        );
        // The logo one byte every 0.5 s: a whole fetch never ends in time.
        routes.insert(
            "/slow.svg".to_owned(),
            Serve::Slow {
                body: LOGO.as_bytes().to_vec(),
                every: std::time::Duration::from_millis(500),
            },
        );
        let domains = [
            "good", "script", "wide", "big", "moved", "gone", "expired", "wrongsan", "noext",
            "expiring", "slow", "many",
        ];
        let full = |d: &str| format!("{d}.fetch-bimi.test");
        routes.insert(
            "/good.pem".to_owned(),
            Serve::ok(pem, mark(&ca, &[&full("good")], -30, 300, true)),
        );
        routes.insert(
            "/expired.pem".to_owned(),
            Serve::ok(pem, mark(&ca, &[&full("expired")], -400, -2, true)),
        );
        routes.insert(
            "/wrongsan.pem".to_owned(),
            Serve::ok(pem, mark(&ca, &["other.example"], -30, 300, true)),
        );
        routes.insert(
            "/noext.pem".to_owned(),
            Serve::ok(pem, mark(&ca, &[&full("noext")], -30, 300, false)),
        );
        routes.insert(
            "/expiring.pem".to_owned(),
            Serve::ok(pem, mark(&ca, &[&full("expiring")], -300, 10, true)),
        );
        let server = HttpsServer::start_any_port(server.server_config(), Serve::Paths(routes));
        let port = server.addr.port();
        let base = format!("https://{HOST}:{port}");
        let logo_of = |d: &str| match d {
            "script" | "wide" | "big" | "moved" | "gone" | "slow" => format!("{base}/{d}.svg"),
            "many" => format!("https://{MANY_HOST}:{port}/good.svg"),
            _ => format!("{base}/good.svg"),
        };
        let certificate_of = |d: &str| match d {
            "expired" | "wrongsan" | "noext" | "expiring" => format!("{base}/{d}.pem"),
            _ => format!("{base}/good.pem"),
        };
        let mut records = "bimi IN A 127.0.0.1\n".to_owned();
        for last in 1..=10 {
            let _ = writeln!(records, "many-addresses IN A 127.0.0.{last}");
        }
        for d in domains {
            let _ = write!(
                records,
                "{d} IN TXT \"v=spf1 -all\"\n\
                 _dmarc.{d} IN TXT \"v=DMARC1; p=reject; rua=mailto:d@{d}.fetch-bimi.test\"\n\
                 default._bimi.{d} IN TXT \"v=BIMI1; l={}; a={}\"\n",
                logo_of(d),
                certificate_of(d)
            );
        }
        let dir = tempfile::tempdir().expect("zone directory");
        write_zone(dir.path(), "fetch-bimi.test", &records);
        let ca_file = ca.write(dir.path(), "ca.pem");
        let dns = dns_server::start_with_zones("127.0.0.1:0".parse().unwrap(), dir.path());
        World {
            _server: server,
            dns,
            ca_file,
            _dir: dir,
        }
    })
}

fn write_zone(dir: &Path, name: &str, records: &str) {
    let zone = format!(
        "$TTL 300\n@ IN SOA ns.test. hostmaster.test. 1 3600 600 86400 300\n@ IN NS ns.test.\n{records}"
    );
    std::fs::write(dir.join(format!("{name}.zone")), zone).expect("write the zone");
}

/// `audit DOMAIN.fetch-bimi.test --fetch-bimi` (with `--ca-file` unless `trusting` is false).
fn fetch(label: &str, trusting: bool) -> (Report, BimiOut) {
    fetch_within(label, trusting, "2")
}

/// [`fetch`] with `--timeout SECS`.
fn fetch_within(label: &str, trusting: bool, timeout: &str) -> (Report, BimiOut) {
    let world = world();
    let domain = format!("{label}.fetch-bimi.test");
    let mut args = vec![
        "audit".to_owned(),
        domain,
        "--fetch-bimi".to_owned(),
        "--format".to_owned(),
        "json".to_owned(),
        "--fail-on".to_owned(),
        "never".to_owned(),
    ];
    if trusting {
        args.push("--ca-file".to_owned());
        args.push(world.ca_file.display().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = support::run_ok(&mut support::command_with_resolvers(
        &args,
        &[world.dns.resolver_arg()],
        timeout,
    ));
    read(&output.stdout)
}

#[test]
fn a_tiny_ps_logo_and_a_mark_certificate_are_valid() {
    let (report, bimi) = fetch("good", true);
    assert!(bimi_codes(&report).is_empty(), "{:?}", report.findings);
    let logo = bimi.logo.expect("the logo");
    assert_eq!(logo.status, "valid", "{logo:?}");
    assert!(logo.url.ends_with("/good.svg") && logo.problems.is_empty() && logo.error.is_none());
    let http = logo.http.expect("the exchange");
    assert_eq!(http.status, Some(200));
    assert_eq!(http.addresses, ["127.0.0.1"]);
    assert_eq!(http.content_type.as_deref(), Some("image/svg+xml"));
    assert_eq!(logo.svg.expect("facts")["title"], "Fetch Test");
    let certificate = bimi.certificate.expect("the certificate");
    assert_eq!(certificate.status, "valid", "{certificate:?}");
    assert!(certificate.url.ends_with("/good.pem") && certificate.error.is_none());
    assert_eq!(certificate.http.expect("the exchange").status, Some(200));
    let mark = certificate.certificate.expect("its facts");
    assert!(
        mark.subject.contains("good.fetch-bimi.test"),
        "{}",
        mark.subject
    );
    assert!(
        mark.issuer.contains("mailaudit BIMI test CA"),
        "{}",
        mark.issuer
    );
    assert!(mark.not_before < mark.not_after);
    assert!(mark.logotype && mark.bimi_usage);
    assert_eq!(mark.names, ["good.fetch-bimi.test"]);
    assert_eq!(mark.chain_length, 2);
    assert!(!certificate.expiring);
    assert_eq!(bimi.verdict, "ok");
}

#[test]
fn a_logo_outside_tiny_ps_is_invalid() {
    let (report, bimi) = fetch("script", true);
    let finding = only(&report, "bimi.logo-invalid");
    assert_eq!(finding.severity, "error");
    assert!(finding.message.contains("<script>"), "{}", finding.message);
    assert_eq!(bimi.logo.expect("logo").status, "invalid");

    let (report, _) = fetch("wide", true);
    assert!(
        only(&report, "bimi.logo-invalid")
            .message
            .contains("not square (viewBox=\"0 0 128 64\")")
    );
}

#[test]
fn an_oversized_logo_is_cut_off() {
    let (report, bimi) = fetch("big", true);
    let finding = only(&report, "bimi.logo-invalid");
    assert!(
        finding.message.contains("larger than 32 KB"),
        "{}",
        finding.message
    );
    let logo = bimi.logo.expect("logo");
    let read = logo.http.expect("exchange").bytes.expect("bytes read");
    assert!(read <= 32 * 1024, "{read} bytes read");
}

#[test]
fn a_redirect_is_not_followed_and_a_missing_logo_is_unreachable() {
    let (report, bimi) = fetch("moved", true);
    let finding = only(&report, "bimi.logo-unreachable");
    assert!(finding.message.contains("301"), "{}", finding.message);
    assert!(
        finding.message.contains("not followed"),
        "{}",
        finding.message
    );
    assert_eq!(bimi.logo.expect("logo").status, "unreachable");

    let (report, _) = fetch("gone", true);
    assert!(
        only(&report, "bimi.logo-unreachable")
            .message
            .contains("HTTP 404")
    );
}

#[test]
fn a_server_certificate_outside_the_trusted_roots_fails_the_fetch() {
    let (report, bimi) = fetch("good", false);
    assert!(
        report.has("bimi.logo-unreachable"),
        "{:?}",
        bimi_codes(&report)
    );
    assert!(report.has("bimi.certificate-unreachable"));
    let logo = bimi.logo.expect("logo");
    // Said as for an MTA-STS policy host: which certificate, and why it is refused.
    let error = logo.error.unwrap_or_default();
    assert!(
        error.contains("the server's certificate is refused: issued by a CA that is not trusted")
            && error.contains("--ca-file"),
        "{error}"
    );
}

/// The fetch is MTA-STS's: connecting within --timeout, the whole fetch within 4 × --timeout,
/// what the server answered before it stalled kept.
#[test]
fn a_logo_that_drips_times_out_after_four_timeouts() {
    let started = std::time::Instant::now();
    let (report, bimi) = fetch_within("slow", true, "0.5");
    let finding = only(&report, "bimi.logo-unreachable");
    assert!(
        finding.message.contains("no answer within 2 s"),
        "{}",
        finding.message
    );
    assert!(started.elapsed() >= std::time::Duration::from_secs(2));
    let logo = bimi.logo.expect("logo");
    assert_eq!(logo.status, "unreachable");
    let http = logo.http.expect("the exchange");
    assert_eq!(http.status, Some(200));
    assert!(http.bytes.is_none());
}

/// A hostile zone may list hundreds of addresses: at most 8 are tried, as for MTA-STS.
#[test]
fn at_most_eight_addresses_of_a_host_are_tried() {
    let (report, bimi) = fetch("many", true);
    assert!(
        !report.has("bimi.logo-unreachable"),
        "{:?}",
        report.findings
    );
    let logo = bimi.logo.expect("logo");
    assert_eq!(logo.status, "valid", "{logo:?}");
    let http = logo.http.expect("the exchange");
    assert_eq!(http.addresses.len(), 8, "{:?}", http.addresses);
    assert!(world().dns.queries_for(MANY_HOST).len() >= 2);
}

#[test]
fn mark_certificates_are_checked() {
    let cases = [
        ("expired", "has expired"),
        ("wrongsan", "not for wrongsan.fetch-bimi.test"),
        ("noext", "no logotype extension"),
    ];
    for (label, problem) in cases {
        let (report, bimi) = fetch(label, true);
        let finding = only(&report, "bimi.certificate-invalid");
        assert!(
            finding.message.contains(problem),
            "{label}: {}",
            finding.message
        );
        let certificate = bimi.certificate.expect("certificate");
        assert_eq!(certificate.status, "invalid", "{label}");
        assert_eq!(
            certificate.problems.len(),
            1,
            "{label}: {:?}",
            certificate.problems
        );
    }
    let (report, bimi) = fetch("expiring", true);
    let finding = only(&report, "bimi.certificate-expiring");
    assert_eq!(finding.severity, "warning");
    assert!(!report.has("bimi.certificate-invalid"));
    let certificate = bimi.certificate.expect("certificate");
    assert!(certificate.expiring);
    assert!((9..=11).contains(&certificate.certificate.expect("facts").days_left));
}

#[test]
fn the_fetches_ask_the_test_resolver_for_the_host() {
    fetch("good", true);
    assert!(!world().dns.queries_for(HOST).is_empty());
}
