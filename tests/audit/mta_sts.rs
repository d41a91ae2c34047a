//! MTA-STS (RFC 8461) and TLS-RPT (RFC 8460) end to end: the fixture zone
//! `fixtures/zones/mtasts.test.zone` points each case's policy host at its own address of
//! 127.84.61.0/24, where the test starts an HTTPS server (port 443, a certificate from a CA made
//! here, trusted through `--ca-file`): mailaudit reaches it through the test DNS server, as it
//! reaches any policy host.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::support::https_server::{HttpsServer, Serve};
use crate::support::smtp_server::{self, Ca, Leaf, Script, Smtp};
use crate::support::{self, FindingOut, Report};

/// The MTA-STS part of the JSON report, as the contract has it.
#[derive(Debug, Deserialize)]
struct MtaStsOut {
    verdict: String,
    dns: TxtOut,
    #[serde(default)]
    record: Option<String>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    policy: Option<PolicyOut>,
}

#[derive(Debug, Deserialize)]
struct TxtOut {
    name: String,
    answer: String,
    records: Vec<String>,
    txt_records: usize,
}

#[derive(Debug, Deserialize)]
struct PolicyOut {
    url: String,
    outcome: String,
    addresses: Vec<String>,
    #[serde(default)]
    status: Option<u16>,
    #[serde(default)]
    content_type: Option<String>,
    #[serde(default)]
    location: Option<String>,
    #[serde(default)]
    parsed: Option<ParsedOut>,
    #[serde(default)]
    mx: Vec<MxMatchOut>,
}

#[derive(Debug, Deserialize)]
struct ParsedOut {
    version: String,
    mode: String,
    mx: Vec<String>,
    max_age: u32,
}

#[derive(Debug, Deserialize, PartialEq)]
struct MxMatchOut {
    host: String,
    pattern: Option<String>,
}

/// The TLS-RPT part of the JSON report.
#[derive(Debug, Deserialize)]
struct TlsRptOut {
    verdict: String,
    dns: TxtOut,
    #[serde(default)]
    record: Option<String>,
    #[serde(default)]
    rua: Vec<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct Areas {
    mta_sts: MtaStsOut,
    tls_rpt: TlsRptOut,
}

/// A policy that the fixture MX hosts of `domain` (`mx.<domain>`) match.
fn policy_for(domain: &str, mode: &str) -> String {
    format!("version: STSv1\r\nmode: {mode}\r\nmx: *.{domain}\r\nmax_age: 86400\r\n")
}

/// A test PKI: a CA written to a `--ca-file`, and a server configuration for `names`.
struct Pki {
    _dir: tempfile::TempDir,
    ca_file: PathBuf,
    ca: Ca,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().expect("temporary directory");
        let ca = Ca::new("mailaudit MTA-STS test CA");
        let ca_file = ca.write(dir.path(), "ca.pem");
        Pki {
            _dir: dir,
            ca_file,
            ca,
        }
    }

    fn server(&self, names: &[&str]) -> std::sync::Arc<tokio_rustls::rustls::ServerConfig> {
        self.ca.issue(&Leaf::valid_for(names)).server_config()
    }

    fn ca_arg(&self) -> &str {
        self.ca_file.to_str().expect("UTF-8 path")
    }
}

/// The policy host of `case.mtasts.test` on 127.84.61.`host`, serving `serve` with a
/// certificate valid for its name.
fn policy_host(pki: &Pki, case: &str, host: u8, serve: Serve) -> HttpsServer {
    let name = format!("mta-sts.{case}.mtasts.test");
    HttpsServer::start(
        Ipv4Addr::new(127, 84, 61, host),
        pki.server(&[name.as_str()]),
        serve,
    )
}

/// `audit DOMAIN --format json --fail-on never EXTRA...`: the report and its MTA-STS and TLS-RPT
/// parts.
fn audit(domain: &str, extra: &[&str]) -> (Report, MtaStsOut, TlsRptOut) {
    let mut args = vec!["audit", domain, "--format", "json", "--fail-on", "never"];
    args.extend_from_slice(extra);
    let output = support::run(&args);
    assert_eq!(
        output.status.code(),
        Some(0),
        "mailaudit {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Report = serde_json::from_slice(&output.stdout).expect("the report contract");
    let areas: Areas = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{domain}: MTA-STS and TLS-RPT parts: {e}\n{}",
            String::from_utf8_lossy(&output.stdout)
        )
    });
    (report, areas.mta_sts, areas.tls_rpt)
}

/// The one finding of `code`, failing the test without exactly one.
fn one<'a>(report: &'a Report, code: &str) -> &'a FindingOut {
    let found = report.with_code(code);
    assert_eq!(
        found.len(),
        1,
        "{}: {code} in {:?}",
        report.target,
        report.codes()
    );
    found[0]
}

/// The codes of the MTA-STS and TLS-RPT areas.
fn transport_codes(report: &Report) -> Vec<String> {
    report
        .codes()
        .into_iter()
        .filter(|c| c.starts_with("mtasts.") || c.starts_with("tlsrpt."))
        .collect()
}

#[test]
fn a_good_policy_is_fetched_through_the_test_dns_and_every_mx_host_matches() {
    let pki = Pki::new();
    let server = policy_host(
        &pki,
        "good",
        1,
        Serve::policy(&policy_for("good.mtasts.test", "enforce")),
    );
    let (report, sts, tls) = audit("good.mtasts.test", &["--ca-file", pki.ca_arg()]);
    assert!(transport_codes(&report).is_empty(), "{:?}", report.codes());
    assert_eq!(sts.verdict, "ok");
    assert_eq!(sts.record.as_deref(), Some("v=STSv1; id=20250101T000000"));
    assert_eq!(sts.id.as_deref(), Some("20250101T000000"));
    let policy = sts.policy.expect("the policy fetched");
    assert_eq!(
        policy.url,
        "https://mta-sts.good.mtasts.test/.well-known/mta-sts.txt"
    );
    assert_eq!(policy.outcome, "valid");
    assert_eq!(policy.addresses, ["127.84.61.1"]);
    assert_eq!(policy.status, Some(200));
    let parsed = policy.parsed.expect("parsed");
    assert_eq!(
        (
            parsed.version.as_str(),
            parsed.mode.as_str(),
            parsed.max_age
        ),
        ("STSv1", "enforce", 86400)
    );
    assert_eq!(parsed.mx, ["*.good.mtasts.test"]);
    assert_eq!(
        policy.mx,
        [MxMatchOut {
            host: "mx.good.mtasts.test".to_owned(),
            pattern: Some("*.good.mtasts.test".to_owned()),
        }]
    );
    // One GET of the policy's path, for the policy host's name.
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0].line, "GET /.well-known/mta-sts.txt HTTP/1.1");
    assert_eq!(
        requests[0].host.as_deref(),
        Some("mta-sts.good.mtasts.test")
    );
    // TLS-RPT: both destinations.
    assert_eq!(tls.verdict, "ok");
    assert_eq!(tls.rua.len(), 2, "{:?}", tls.rua);
    assert_eq!(tls.rua[0]["mailto"], "tlsrpt@good.mtasts.test");
    assert_eq!(tls.rua[1]["https"], "https://tlsrpt.good.mtasts.test/v1");
    assert!(tls.record.is_some_and(|r| r.starts_with("v=TLSRPTv1;")));

    // What a person reads: the area lines of the table.
    let table = support::run(&[
        "audit",
        "good.mtasts.test",
        "--ca-file",
        pki.ca_arg(),
        "--fail-on",
        "never",
    ]);
    let text = String::from_utf8_lossy(&table.stdout);
    for shown in [
        "MTA-STS    ┆ ok",
        "record: v=STSv1; id=20250101T000000",
        "mode enforce, mx",
        "MX mx.good.mtasts.test matches *.good.mtasts.test",
        "TLS-RPT    ┆ ok",
        "reports to mailto:tlsrpt@good.mtasts.test, https://tlsrpt.good.mtasts.test/v1",
    ] {
        assert!(text.contains(shown), "{shown:?} not in:\n{text}");
    }
    // Every detailed format shows the policy's facts.
    for format in ["markdown", "html"] {
        // As the page reads: Markdown's escapes (`\*`) taken off.
        let page = support::render(
            &["audit", "good.mtasts.test", "--ca-file", pki.ca_arg()],
            format,
        )
        .replace('\\', "");
        for shown in [
            "https://mta-sts.good.mtasts.test/.well-known/mta-sts.txt",
            "20250101T000000",
            "mx.good.mtasts.test matches *.good.mtasts.test",
            "tlsrpt@good.mtasts.test",
        ] {
            assert!(page.contains(shown), "{format}: {shown:?} not shown");
        }
    }
}

#[test]
fn a_policy_host_not_trusted_without_the_ca_file_is_unreachable() {
    let pki = Pki::new();
    let server = policy_host(
        &pki,
        "untrusted",
        16,
        Serve::policy(&policy_for("untrusted.mtasts.test", "enforce")),
    );
    // The same server, its CA not given: the web PKI roots alone do not trust it.
    let (report, sts, _) = audit("untrusted.mtasts.test", &[]);
    let finding = one(&report, "mtasts.policy-unreachable");
    assert!(
        finding.message.contains("certificate is refused")
            && finding.message.contains("not trusted"),
        "{}",
        finding.message
    );
    assert_eq!(sts.policy.expect("fetched").outcome, "certificate");
    assert_eq!(server.connections(), 1, "the handshake was tried");
    assert!(
        server.requests().is_empty(),
        "a request over an untrusted connection"
    );
    // With it, the policy is read.
    let (report, sts, _) = audit("untrusted.mtasts.test", &["--ca-file", pki.ca_arg()]);
    assert!(
        !report.has("mtasts.policy-unreachable"),
        "{:?}",
        report.codes()
    );
    assert_eq!(sts.policy.expect("fetched").outcome, "valid");
}

#[test]
fn an_mx_host_outside_the_patterns_is_a_mismatch() {
    let pki = Pki::new();
    let _server = policy_host(
        &pki,
        "wrongmx",
        2,
        Serve::policy("version: STSv1\nmode: enforce\nmx: mail.other.test\nmax_age: 604800\n"),
    );
    let (report, sts, _) = audit("wrongmx.mtasts.test", &["--ca-file", pki.ca_arg()]);
    let finding = one(&report, "mtasts.mx-mismatch");
    assert_eq!(finding.severity, "error");
    assert_eq!(finding.evidence["host"], "mx.wrongmx.mtasts.test");
    assert!(
        finding.message.contains("will not deliver"),
        "{}",
        finding.message
    );
    assert_eq!(sts.verdict, "fail");
    assert_eq!(
        sts.policy.expect("fetched").mx,
        [MxMatchOut {
            host: "mx.wrongmx.mtasts.test".to_owned(),
            pattern: None,
        }]
    );
}

#[test]
fn a_redirect_is_not_followed() {
    let pki = Pki::new();
    let target_url = "https://mta-sts.target.mtasts.test/.well-known/mta-sts.txt";
    let redirect = policy_host(&pki, "redirect", 3, Serve::Redirect(target_url.to_owned()));
    let target = policy_host(
        &pki,
        "target",
        4,
        Serve::policy(&policy_for("redirect.mtasts.test", "enforce")),
    );
    let (report, sts, _) = audit("redirect.mtasts.test", &["--ca-file", pki.ca_arg()]);
    let finding = one(&report, "mtasts.policy-unreachable");
    assert_eq!(finding.evidence["status"], 301);
    assert_eq!(finding.evidence["location"], target_url);
    assert!(
        finding.message.contains("must not follow"),
        "{}",
        finding.message
    );
    let policy = sts.policy.expect("fetched");
    assert_eq!(policy.outcome, "redirect");
    assert_eq!(policy.location.as_deref(), Some(target_url));
    assert!(policy.parsed.is_none());
    assert_eq!(redirect.requests().len(), 1);
    assert_eq!(
        target.connections(),
        0,
        "the redirect target got a connection"
    );
    assert!(target.requests().is_empty());
}

#[test]
fn a_body_past_64_kib_is_cut_off_with_or_without_a_length() {
    let pki = Pki::new();
    let _endless = policy_host(&pki, "endless", 5, Serve::Endless);
    let mut body = policy_for("large.mtasts.test", "enforce").into_bytes();
    body.resize(100 * 1024, b'#');
    let _large = policy_host(
        &pki,
        "large",
        6,
        Serve::Answer {
            status: 200,
            content_type: Some("text/plain".to_owned()),
            body,
        },
    );
    for domain in ["endless.mtasts.test", "large.mtasts.test"] {
        let started = std::time::Instant::now();
        let (report, sts, _) = audit(domain, &["--ca-file", pki.ca_arg()]);
        let finding = one(&report, "mtasts.policy-unreachable");
        assert!(
            finding.message.contains("larger than 64 KiB") && finding.message.contains("cut off"),
            "{domain}: {}",
            finding.message
        );
        let policy = sts.policy.expect("fetched");
        assert_eq!(policy.outcome, "too-large", "{domain}");
        assert!(policy.parsed.is_none());
        // Cut off, not timed out (4 s with --timeout 1).
        assert!(started.elapsed() < Duration::from_secs(4), "{domain}");
    }
}

#[test]
fn a_404_and_a_wrong_media_type_give_no_policy() {
    let pki = Pki::new();
    let _notfound = policy_host(
        &pki,
        "notfound",
        7,
        Serve::Answer {
            status: 404,
            content_type: Some("text/html".to_owned()),
            body: b"<h1>Not Found</h1>".to_vec(),
        },
    );
    let _html = policy_host(
        &pki,
        "html",
        8,
        Serve::Answer {
            status: 200,
            content_type: Some("text/html; charset=utf-8".to_owned()),
            body: policy_for("html.mtasts.test", "enforce").into_bytes(),
        },
    );
    let (report, sts, _) = audit("notfound.mtasts.test", &["--ca-file", pki.ca_arg()]);
    let finding = one(&report, "mtasts.policy-unreachable");
    assert_eq!(finding.evidence["status"], 404);
    assert!(finding.message.contains("HTTP 404"), "{}", finding.message);
    assert_eq!(sts.policy.expect("fetched").outcome, "http-status");

    let (report, sts, _) = audit("html.mtasts.test", &["--ca-file", pki.ca_arg()]);
    let finding = one(&report, "mtasts.invalid");
    assert!(
        finding.message.contains("text/html") && finding.message.contains("not text/plain"),
        "{}",
        finding.message
    );
    assert!(!report.has("mtasts.policy-unreachable"));
    let policy = sts.policy.expect("fetched");
    assert_eq!(policy.outcome, "invalid");
    assert_eq!(
        policy.content_type.as_deref(),
        Some("text/html; charset=utf-8")
    );
}

#[test]
fn a_body_that_drips_times_out() {
    let pki = Pki::new();
    let _slow = policy_host(
        &pki,
        "slow",
        9,
        Serve::Slow {
            body: policy_for("slow.mtasts.test", "enforce").into_bytes(),
            every: Duration::from_millis(500),
        },
    );
    let started = std::time::Instant::now();
    let (report, sts, _) = audit("slow.mtasts.test", &["--ca-file", pki.ca_arg()]);
    let finding = one(&report, "mtasts.policy-unreachable");
    assert!(
        finding.message.contains("within 4 s (time-out)"),
        "{}",
        finding.message
    );
    assert_eq!(sts.policy.expect("fetched").outcome, "timeout");
    // --timeout 1: four steps, not the 30 s the body would take.
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn mode_testing_is_said() {
    let pki = Pki::new();
    let _server = policy_host(
        &pki,
        "testing",
        10,
        Serve::policy(&policy_for("testing.mtasts.test", "testing")),
    );
    let (report, sts, _) = audit("testing.mtasts.test", &["--ca-file", pki.ca_arg()]);
    assert_eq!(
        transport_codes(&report),
        ["mtasts.testing", "tlsrpt.missing"]
    );
    assert_eq!(one(&report, "mtasts.testing").severity, "info");
    assert_eq!(
        sts.policy.expect("fetched").parsed.expect("valid").mode,
        "testing"
    );
}

#[test]
fn without_a_valid_record_nothing_is_fetched() {
    let pki = Pki::new();
    let norecord = policy_host(
        &pki,
        "norecord",
        11,
        Serve::policy(&policy_for("norecord.mtasts.test", "enforce")),
    );
    let badrecord = policy_host(
        &pki,
        "badrecord",
        12,
        Serve::policy(&policy_for("badrecord.mtasts.test", "enforce")),
    );
    let (report, sts, tls) = audit("norecord.mtasts.test", &["--ca-file", pki.ca_arg()]);
    assert_eq!(
        transport_codes(&report),
        ["mtasts.missing", "tlsrpt.missing"]
    );
    assert_eq!(one(&report, "mtasts.missing").severity, "info");
    assert_eq!(sts.dns.name, "_mta-sts.norecord.mtasts.test");
    assert_eq!(sts.dns.answer, "nxdomain");
    assert!(sts.policy.is_none());
    assert_eq!(tls.dns.name, "_smtp._tls.norecord.mtasts.test");
    assert_eq!(norecord.connections(), 0, "fetched without a record");

    let (report, sts, tls) = audit("badrecord.mtasts.test", &["--ca-file", pki.ca_arg()]);
    let finding = one(&report, "mtasts.invalid");
    assert!(
        finding.message.contains("id=not-an-id!"),
        "{}",
        finding.message
    );
    assert!(sts.policy.is_none());
    assert_eq!(badrecord.connections(), 0, "fetched with an invalid record");
    let finding = one(&report, "tlsrpt.invalid");
    assert!(
        finding.message.contains("ftp:") && finding.message.contains("mailto: or https:"),
        "{}",
        finding.message
    );
    assert_eq!(tls.verdict, "fail");
    assert!(tls.rua.is_empty());
}

#[test]
fn a_certificate_for_another_name_is_refused() {
    let pki = Pki::new();
    let server = HttpsServer::start(
        Ipv4Addr::new(127, 84, 61, 13),
        pki.server(&["www.wrongname.mtasts.test"]),
        Serve::policy(&policy_for("wrongname.mtasts.test", "enforce")),
    );
    let (report, sts, _) = audit("wrongname.mtasts.test", &["--ca-file", pki.ca_arg()]);
    let finding = one(&report, "mtasts.policy-unreachable");
    assert!(
        finding.message.contains("certificate is refused")
            && finding
                .message
                .contains("must be valid for mta-sts.wrongname.mtasts.test"),
        "{}",
        finding.message
    );
    assert_eq!(sts.policy.expect("fetched").outcome, "certificate");
    assert!(server.requests().is_empty());
}

#[test]
fn enforce_with_an_mx_host_whose_certificate_fails_is_undeliverable() {
    let pki = Pki::new();
    let _policy = policy_host(
        &pki,
        "enforce",
        14,
        Serve::policy(&policy_for("enforce.mtasts.test", "enforce")),
    );
    // The MX host presents a certificate for another name.
    let wrong = pki.server(&["other.enforce.mtasts.test"]);
    let _mx = smtp_server::Server::start_at(
        std::net::Ipv4Addr::new(127, 84, 61, 15),
        &[25],
        Script::Smtp(Box::new(
            Smtp::new("mx.enforce.mtasts.test").starttls(wrong),
        )),
    )
    .expect("listen on 127.84.61.15:25 (root)");
    // Without --smtp the certificate is not seen: no such finding.
    let (report, _, _) = audit("enforce.mtasts.test", &["--ca-file", pki.ca_arg()]);
    assert!(!report.has("mtasts.mx-tls-failed"), "{:?}", report.codes());

    let (report, _, _) = audit(
        "enforce.mtasts.test",
        &["--ca-file", pki.ca_arg(), "--smtp"],
    );
    assert!(report.has("smtp.cert-invalid"), "{:?}", report.codes());
    let finding = one(&report, "mtasts.mx-tls-failed");
    // The only MX host: no mail from senders honouring the policy is delivered.
    assert_eq!(finding.severity, "critical");
    assert_eq!(finding.evidence["host"], "mx.enforce.mtasts.test");
    assert!(
        finding.message.contains("wrong-name") && finding.message.contains("will not deliver"),
        "{}",
        finding.message
    );
}

#[test]
fn several_records_or_no_policy_host_address_are_named() {
    let (report, sts, _) = audit("multiple.mtasts.test", &[]);
    let finding = one(&report, "mtasts.invalid");
    assert!(finding.message.contains("2 records"), "{}", finding.message);
    assert!(sts.policy.is_none());
    assert_eq!(sts.dns.txt_records, 2);
    assert_eq!(sts.dns.records.len(), 2);

    let (report, sts, _) = audit("noaddress.mtasts.test", &[]);
    let finding = one(&report, "mtasts.policy-unreachable");
    assert!(
        finding
            .message
            .contains("mta-sts.noaddress.mtasts.test has no address"),
        "{}",
        finding.message
    );
    assert_eq!(sts.policy.expect("tried").outcome, "no-address");
}

#[test]
fn lookup_failures_are_unknown_never_missing() {
    // Every TXT question of txtfail.test fails: both records are unknown.
    let (report, sts, tls) = audit("x.txtfail.test", &[]);
    for code in ["mtasts.lookup-failed", "tlsrpt.lookup-failed"] {
        one(&report, code);
    }
    assert!(!report.has("mtasts.missing") && !report.has("tlsrpt.missing"));
    assert_eq!(
        (sts.verdict.as_str(), tls.verdict.as_str()),
        ("unknown", "unknown")
    );
    assert!(report.incomplete);
    let unknown: Vec<&str> = report.unknown.iter().map(|u| u.area.as_str()).collect();
    assert!(
        unknown.contains(&"mtasts") && unknown.contains(&"tlsrpt"),
        "{unknown:?}"
    );
    // The policy host's address lookup fails: unknown too, not unreachable.
    let (report, sts, _) = audit("hostfail.mtasts.test", &[]);
    let finding = one(&report, "mtasts.lookup-failed");
    assert_eq!(finding.evidence["name"], "mta-sts.hostfail.mtasts.test");
    assert!(!report.has("mtasts.policy-unreachable"));
    assert_eq!(sts.verdict, "unknown");
    assert_eq!(sts.policy.expect("tried").outcome, "lookup-failed");
    assert!(report.incomplete);
}
