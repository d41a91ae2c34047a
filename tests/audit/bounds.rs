//! Nothing lost, nothing overwritten, nothing unbounded: records written to make an audit explode
//! (`fixtures/zones/bloat.test.zone`: a 55 KB DMARC record with 3,500 report URIs, 1,500 key
//! records at the built-in DKIM selector `s1`), CNAME chains that lead nowhere
//! (`loop.test.zone`) and a DKIM key too large for verifiers. The audit asks, finds and writes a
//! bounded amount whatever the records hold, and a chain that leads nowhere is a lookup failure,
//! never a missing record. (Peak memory is measured by `benches/bulk.sh hostile`, never by a
//! timed test.)

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::support::{self, FindingOut, Report, audit, dns_server};

/// The report URIs of `_dmarc.bloat.test`: `mailto:a@N.t` for N in 1..=3490 (rua), then
/// `mailto:f@fN.t` for N in 1..=10 (ruf), each host its own organisational domain.
const RUA_LISTED: usize = 3490;
const RUF_LISTED: usize = 10;
/// The destinations of each tag whose authorisation is checked (RFC 7489 §6.2: receivers need
/// send reports to only two).
const CHECKED_PER_TAG: usize = 4;
/// Findings of one code in one area before the rest are summed up in one more finding.
const MAX_PER_CODE: usize = 10;
/// TXT records a report lists per name (the count says how many there were).
const MAX_TXT_SHOWN: usize = 32;

/// The DMARC area, as far as these tests read it.
#[derive(Debug, Deserialize)]
struct DmarcArea {
    verdict: String,
    record: Option<String>,
    queries: Vec<QueryOut>,
    report_destinations: Vec<DestinationOut>,
    destinations_listed: ListedOut,
}

#[derive(Debug, Deserialize)]
struct QueryOut {
    name: String,
    status: String,
    records: Vec<String>,
    txt_records: usize,
}

#[derive(Debug, Deserialize)]
struct DestinationOut {
    tag: String,
    address: Option<String>,
    authorization: String,
    query: Option<String>,
}

#[derive(Debug, Deserialize, PartialEq, Eq)]
struct ListedOut {
    rua: usize,
    ruf: usize,
}

/// The DKIM area, as far as these tests read it.
#[derive(Debug, Deserialize)]
struct DkimArea {
    verdict: String,
    selectors: Vec<SelectorOut>,
}

#[derive(Debug, Deserialize)]
struct SelectorOut {
    selector: String,
    status: String,
    records: Vec<String>,
    txt_records: usize,
    keys: Vec<serde_json::Value>,
    key_records: usize,
}

/// The summary a capped code ends with.
#[derive(Debug, Deserialize)]
struct SummaryOut {
    more: usize,
    total: usize,
    examples: Vec<String>,
}

/// `bloat.test` audited once for every test here: its JSON as written, and read.
fn bloat() -> &'static (Vec<u8>, Report) {
    static BLOAT: OnceLock<(Vec<u8>, Report)> = OnceLock::new();
    BLOAT.get_or_init(|| {
        let output = support::run(&[
            "audit",
            "bloat.test",
            "--format",
            "json",
            "--fail-on",
            "never",
        ]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let report: Report = serde_json::from_slice(&output.stdout).expect("the JSON contract");
        (output.stdout, report)
    })
}

fn dmarc_area(report: &Report) -> DmarcArea {
    serde_json::from_value(report.dmarc.clone()).expect("the dmarc area")
}

fn dkim_area(report: &Report) -> DkimArea {
    serde_json::from_value(report.dkim.clone()).expect("the dkim area")
}

/// How many findings each code has.
fn per_code(findings: &[FindingOut]) -> BTreeMap<&str, usize> {
    let mut counts = BTreeMap::new();
    for finding in findings {
        *counts.entry(finding.code.as_str()).or_default() += 1;
    }
    counts
}

/// The authorisation names of `_dmarc.bloat.test`'s destinations, rua then ruf, in order.
fn authorization_names() -> (Vec<String>, Vec<String>) {
    let rua = (1..=RUA_LISTED)
        .map(|n| format!("bloat.test._report._dmarc.{n}.t"))
        .collect();
    let ruf = (1..=RUF_LISTED)
        .map(|n| format!("bloat.test._report._dmarc.f{n}.t"))
        .collect();
    (rua, ruf)
}

#[test]
fn a_dmarc_record_with_3500_report_uris_has_four_of_each_tag_checked() {
    let (_, report) = bloat();
    let dmarc = dmarc_area(report);
    let record = dmarc
        .record
        .as_deref()
        .expect("the record, fetched over TCP");
    assert_eq!(record.len(), 54_902, "the 55 KB record was not read whole");
    assert_eq!(
        dmarc.destinations_listed,
        ListedOut {
            rua: RUA_LISTED,
            ruf: RUF_LISTED
        }
    );

    // Only the first four of each tag are asked for their authorisation, once each.
    let server = dns_server::server();
    let (rua, ruf) = authorization_names();
    let asked = |names: &[String]| -> Vec<usize> {
        names
            .iter()
            .enumerate()
            .filter(|(_, name)| !server.queries_for(name).is_empty())
            .map(|(index, _)| index)
            .collect()
    };
    let queries: usize = rua
        .iter()
        .chain(&ruf)
        .map(|name| server.queries_for(name).len())
        .sum();
    assert_eq!(asked(&rua), [0, 1, 2, 3], "rua authorisation names asked");
    assert_eq!(asked(&ruf), [0, 1, 2, 3], "ruf authorisation names asked");
    assert_eq!(queries, 2 * CHECKED_PER_TAG, "one query per name asked");

    let checked: Vec<(&str, &str)> = dmarc
        .report_destinations
        .iter()
        .map(|d| (d.tag.as_str(), d.authorization.as_str()))
        .collect();
    assert_eq!(
        checked,
        [
            ("rua", "unauthorized"),
            ("rua", "unauthorized"),
            ("rua", "unauthorized"),
            ("rua", "unauthorized"),
            ("ruf", "unauthorized"),
            ("ruf", "unauthorized"),
            ("ruf", "unauthorized"),
            ("ruf", "unauthorized"),
        ]
    );
    assert_eq!(
        dmarc.report_destinations[0].address.as_deref(),
        Some("a@1.t")
    );
    assert_eq!(
        dmarc.report_destinations[0].query.as_deref(),
        Some(rua[0].as_str())
    );
    assert_eq!(report.with_code("dmarc.rua-unauthorized").len(), 8);

    // The rest: one finding with the counts.
    let rest = report.with_code("dmarc.too-many-destinations");
    assert_eq!(rest.len(), 1, "{:?}", report.codes());
    assert_eq!(rest[0].severity, "warning");
    let evidence = &rest[0].evidence;
    assert_eq!(evidence["rua_listed"].as_u64(), Some(3490));
    assert_eq!(evidence["ruf_listed"].as_u64(), Some(10));
    assert_eq!(evidence["checked_per_tag"].as_u64(), Some(4));
    assert_eq!(evidence["not_checked"].as_u64(), Some(3490 + 10 - 8));
    assert_eq!(dmarc.verdict, "fail");
}

#[test]
fn the_record_is_kept_once_in_the_area_never_in_findings() {
    let (_, report) = bloat();
    let dmarc = dmarc_area(report);
    let record = dmarc.record.expect("the record");
    // In the area: the record, whole; the walk's log of what each name held (at most 32
    // records a name, and how many there were) shows its first kilobyte.
    let own = &dmarc.queries[0];
    assert_eq!(own.name, "_dmarc.bloat.test");
    assert_eq!(own.status, "records");
    assert_eq!((own.records.len(), own.txt_records), (1, 1));
    assert!(own.records[0].len() < 2048, "{}", own.records[0].len());
    assert!(own.records[0].starts_with(&record[..1000]));
    assert!(own.records[0].ends_with("… (54902 bytes in all)"));
    for finding in &report.findings {
        let evidence = serde_json::to_string(&finding.evidence).unwrap();
        let fix = finding.fix.as_deref().unwrap_or_default();
        assert!(
            evidence.len() < 4096 && fix.len() < 4096 && finding.message.len() < 4096,
            "{}: evidence {} bytes, fix {} bytes, message {} bytes",
            finding.code,
            evidence.len(),
            fix.len(),
            finding.message.len()
        );
        assert!(!evidence.contains(&record[..200]), "{}", finding.code);
    }
}

#[test]
fn a_selector_with_1500_txt_records_is_read_within_bounds() {
    let (_, report) = bloat();
    let dkim = dkim_area(report);
    let s1 = dkim
        .selectors
        .iter()
        .find(|s| s.selector == "s1")
        .expect("s1 probed");
    assert_eq!(s1.status, "key");
    assert_eq!(s1.txt_records, 1500);
    assert_eq!(s1.key_records, 1500);
    assert_eq!(s1.records.len(), MAX_TXT_SHOWN);
    assert_eq!(s1.keys.len(), MAX_TXT_SHOWN);
    assert_eq!(dkim.verdict, "fail");

    // One finding says the selector holds 1,500 key records.
    let multiple: Vec<&FindingOut> = report
        .with_code("dkim.syntax")
        .into_iter()
        .filter(|f| f.evidence["key_records"].as_u64() == Some(1500))
        .collect();
    assert_eq!(multiple.len(), 1, "{:?}", report.codes());
    assert!(multiple[0].message.contains("1500 key records"));
    let examples = multiple[0].evidence["records"]
        .as_array()
        .expect("examples");
    assert!(examples.len() <= 4, "{examples:?}");
}

#[test]
fn each_code_has_at_most_ten_findings_and_one_that_counts_the_rest() {
    let (_, report) = bloat();
    let counts = per_code(&report.findings);
    for (code, count) in &counts {
        assert!(*count <= MAX_PER_CODE + 1, "{code}: {count} findings");
    }
    assert!(report.findings.len() <= 60, "{counts:?}");
    // Each of the 32 keys parsed is in testing and does not parse: 32 dkim.testing, and 33
    // dkim.syntax with the one that says there are 1,500 key records; 10 of each listed and the
    // rest counted in an eleventh finding.
    for (code, total) in [("dkim.testing", 32), ("dkim.syntax", 33)] {
        let findings = report.with_code(code);
        assert_eq!(findings.len(), MAX_PER_CODE + 1, "{code}: {counts:?}");
        let summary = &findings[MAX_PER_CODE];
        let counted: SummaryOut = serde_json::from_value(summary.evidence.clone()).expect(code);
        assert_eq!(
            (counted.more, counted.total),
            (total - MAX_PER_CODE, total),
            "{code}"
        );
        assert_eq!(counted.examples.len(), 3, "{code}: {:?}", counted.examples);
        let more = format!("{} more {code} findings", total - MAX_PER_CODE);
        assert!(summary.message.starts_with(&more), "{}", summary.message);
        assert_eq!(summary.evidence["name"], "s1._domainkey.bloat.test");
    }
}

#[test]
fn the_json_report_of_a_hostile_domain_stays_small() {
    let (json, report) = bloat();
    // The 55 KB record is in the area, and its 55 KB rua tag as written; the rest is bounded by
    // the caps, whatever the records hold (before them: 200 MB).
    assert!(
        json.len() < 200 * 1024,
        "{} bytes of JSON for {}",
        json.len(),
        report.target
    );
}

#[test]
fn a_cname_loop_is_a_lookup_failure_never_a_missing_record() {
    let report = audit("records.loop.test");
    assert!(!report.has("dmarc.missing"), "{:?}", report.codes());
    let dmarc = report.with_code("dmarc.lookup-failed");
    assert_eq!(dmarc.len(), 1, "{:?}", report.codes());
    assert_eq!(dmarc[0].evidence["name"], "_dmarc.records.loop.test");
    let answer = dmarc[0].evidence["answer"].as_str().unwrap_or_default();
    assert!(
        answer.starts_with("CNAME loop: _dmarc.records.loop.test → dmarc-b.loop.test"),
        "{answer}"
    );
    assert_eq!(dmarc_area(&report).verdict, "unknown");

    // The SPF include is a loop of three aliases: unknown, not an include without a record.
    assert!(
        !report.has("spf.include-missing") && !report.has("spf.missing"),
        "{:?}",
        report.codes()
    );
    let spf = report.with_code("spf.lookup-failed");
    assert_eq!(spf.len(), 1, "{:?}", report.codes());
    assert_eq!(report.spf["verdict"], "unknown");
    assert!(report.incomplete);
}

#[test]
fn a_domain_that_is_a_cname_loop_is_unknown_never_missing() {
    let report = audit("whole.loop.test");
    for code in ["spf.missing", "mx.missing", "dns.nameservers-failed"] {
        assert!(!report.has(code), "{code} in {:?}", report.codes());
    }
    // The records' fault, said per area, not blamed on the name servers.
    for code in ["spf.lookup-failed", "mx.lookup-failed"] {
        assert!(report.has(code), "{code} not in {:?}", report.codes());
    }
    for area in [&report.spf, &report.mx] {
        assert_eq!(area["verdict"], "unknown", "{area}");
    }
    assert!(report.incomplete);
    let unknown: Vec<&str> = report.unknown.iter().map(|u| u.area.as_str()).collect();
    assert!(
        unknown.contains(&"spf") && unknown.contains(&"mx"),
        "{:?}",
        report.unknown
    );
    assert!(
        report
            .unknown
            .iter()
            .any(|u| u.reason.contains("CNAME loop")),
        "{:?}",
        report.unknown
    );
}

#[test]
fn an_rsa_key_over_4096_bits_is_oversize() {
    let report = audit("oversize.dkim.test");
    let oversize = report.with_code("dkim.oversize-key");
    assert_eq!(oversize.len(), 1, "{:?}", report.codes());
    assert_eq!(oversize[0].severity, "warning");
    assert_eq!(oversize[0].evidence["key_bits"].as_u64(), Some(65_536));
    assert_eq!(
        oversize[0].evidence["name"],
        "selector1._domainkey.oversize.dkim.test"
    );
    assert!(!report.has("dkim.weak-key") && !report.has("dkim.insecure-key"));
    let dkim = dkim_area(&report);
    assert_eq!(dkim.verdict, "weak");
}
