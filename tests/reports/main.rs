//! `mailaudit reports`: the parsedmarc and mail-auth sample reports (fixtures/reports, with
//! their licences) read by the built binary, its JSON checked against counts this test computes
//! itself from the files; the readiness verdict on a written report; hostile input (a zip bomb,
//! a gzip bomb, a 100 MB report, invalid UTF-8, XML entities). PTR names come from the
//! in-process DNS server (fixtures/zones/2.0.192.in-addr.arpa.zone).

#[path = "../support/mod.rs"]
#[allow(unused_imports)]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Summary {
    files: usize,
    skipped: Vec<Skipped>,
    duplicates: Vec<Duplicate>,
    dmarc: Inventory,
    readiness: Vec<Readiness>,
    tls: Vec<TlsRow>,
}

#[derive(Debug, Deserialize)]
struct Skipped {
    file: String,
    error: String,
}

#[derive(Debug, Deserialize)]
struct Duplicate {
    report_id: String,
}

#[derive(Debug, Deserialize)]
struct Counts {
    messages: u64,
    dmarc_pass: u64,
    dmarc_fail: u64,
}

#[derive(Debug, Deserialize)]
struct Inventory {
    reports: usize,
    totals: Counts,
    sources: Vec<SourceRow>,
    days: Vec<Group>,
}

#[derive(Debug, Deserialize)]
struct Group {
    messages: u64,
}

#[derive(Debug, Deserialize)]
struct Service {
    name: String,
    recognised_by: Option<String>,
}

#[derive(Debug, Deserialize)]
struct SourceRow {
    ip: String,
    ptr: Option<String>,
    service: Service,
    header_from: Vec<String>,
    messages: u64,
}

#[derive(Debug, Deserialize)]
struct Readiness {
    domain: String,
    messages: u64,
    failing: u64,
    verdict: String,
    legitimate: Vec<Legitimate>,
    forged: Vec<Forged>,
}

#[derive(Debug, Deserialize)]
struct Legitimate {
    service: String,
    ips: Vec<String>,
    failing: u64,
    fixes: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Forged {
    ip: String,
    failing: u64,
}

#[derive(Debug, Deserialize)]
struct TlsRow {
    organization: String,
    policy_type: String,
    successful: u64,
    failed: u64,
    failures: BTreeMap<String, u64>,
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/reports")
}

/// `mailaudit reports ARGS... --format json`, asking no DNS.
fn run(args: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mailaudit"))
        .arg("reports")
        .args(args)
        .args(["--format", "json"])
        .env("NO_COLOR", "1")
        .output()
        .expect("run mailaudit")
}

fn summary(output: &Output) -> Summary {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "not the JSON summary ({e}): {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// One report's counts, computed here from the XML text with plain string search (not the XML
/// parser mailaudit uses): (reporter, report id) and per record (source IP, count, passed).
struct Independent {
    key: (String, String),
    records: Vec<(String, u64, bool)>,
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)? + open.len();
    let end = text[start..].find(close)? + start;
    Some(text[start..end].trim())
}

fn independent(xml: &str) -> Independent {
    let org = between(xml, "<org_name>", "</org_name>").unwrap_or_default();
    let org = if org.is_empty() {
        between(xml, "<email>", "</email>").unwrap_or_default()
    } else {
        org
    };
    let id = between(xml, "<report_id>", "</report_id>").expect("report_id");
    let records = xml
        .split("<record>")
        .skip(1)
        .map(|record| {
            let ip = between(record, "<source_ip>", "</source_ip>").expect("source_ip");
            let count: u64 = between(record, "<count>", "</count>")
                .expect("count")
                .parse()
                .expect("a number");
            let evaluated =
                between(record, "<policy_evaluated>", "</policy_evaluated>").expect("evaluated");
            let passed = between(evaluated, "<dkim>", "</dkim>") == Some("pass")
                || between(evaluated, "<spf>", "</spf>") == Some("pass");
            (ip.to_owned(), count, passed)
        })
        .collect();
    Independent {
        key: (org.to_owned(), id.to_owned()),
        records,
    }
}

/// The XML of each plain, gzip and zip sample, decompressed here.
fn sample_xml(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    let mut text = Vec::new();
    let name = path.to_string_lossy();
    if name.ends_with(".gz") {
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_end(&mut text)
            .unwrap();
    } else if name.ends_with(".zip") {
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        archive.by_index(0).unwrap().read_to_end(&mut text).unwrap();
    } else {
        text = bytes;
    }
    String::from_utf8_lossy(&text).into_owned()
}

#[test]
fn every_valid_parsedmarc_sample_parses_and_the_invalid_ones_are_named() {
    let dir = fixtures().join("parsedmarc");
    let output = run(&[&dir.join("aggregate"), &dir.join("aggregate_invalid")]);
    assert_eq!(output.status.code(), Some(2), "a skipped file exits 2");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let summary = summary(&output);
    let skipped: BTreeSet<&str> = summary
        .skipped
        .iter()
        .map(|s| s.file.rsplit('/').next().unwrap())
        .collect();
    // invalid_xml.xml has <bad-xml@bad-xml.net> inside <email>; the other, "Pass" (RFC 7489
    // appendix C: DMARCResultType is lowercase pass or fail).
    assert_eq!(
        skipped,
        BTreeSet::from(["invalid_xml.xml", "report_with_upper_cased_pass.xml"])
    );
    for skipped in &summary.skipped {
        assert!(stderr.contains(&skipped.file), "{stderr}");
        assert!(
            skipped
                .error
                .starts_with("not a valid DMARC aggregate report")
        );
    }
    let files = std::fs::read_dir(dir.join("aggregate")).unwrap().count() + 1;
    assert_eq!(summary.files, files);
    // Every other file is a report: 19 files, 2 skipped, none a duplicate of another.
    assert_eq!(summary.dmarc.reports + summary.duplicates.len(), files - 2);
}

#[test]
fn totals_match_counts_computed_from_the_xml() {
    let dir = fixtures().join("parsedmarc/aggregate");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.to_string_lossy();
            !name.ends_with(".eml") && !name.ends_with("invalid_xml.xml")
        })
        .collect();
    paths.sort();
    let mut seen = BTreeSet::new();
    let (mut messages, mut passed) = (0u64, 0u64);
    let mut per_ip: BTreeMap<String, u64> = BTreeMap::new();
    for path in &paths {
        let report = independent(&sample_xml(path));
        if !seen.insert(report.key.clone()) {
            continue;
        }
        for (ip, count, pass) in report.records {
            messages += count;
            passed += if pass { count } else { 0 };
            *per_ip.entry(ip).or_default() += count;
        }
    }
    let args: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    let output = run(&args);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary = summary(&output);
    assert_eq!(summary.dmarc.reports, seen.len());
    assert_eq!(summary.dmarc.totals.messages, messages);
    assert_eq!(summary.dmarc.totals.dmarc_pass, passed);
    assert_eq!(summary.dmarc.totals.dmarc_fail, messages - passed);
    let reported: BTreeMap<String, u64> = summary
        .dmarc
        .sources
        .iter()
        .map(|s| (s.ip.clone(), s.messages))
        .collect();
    assert_eq!(reported, per_ip);
    let by_day: u64 = summary.dmarc.days.iter().map(|d| d.messages).sum();
    assert_eq!(by_day, messages);
}

#[test]
fn reports_attached_to_email_and_in_an_mbox_are_read() {
    let dir = fixtures().join("parsedmarc/aggregate");
    let emails: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".eml"))
        .collect();
    assert_eq!(emails.len(), 3);
    let args: Vec<&Path> = emails.iter().map(PathBuf::as_path).collect();
    let output = run(&args);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(summary(&output).dmarc.reports, 3);

    let temp = tempfile::tempdir().unwrap();
    let mbox = temp.path().join("reports.mbox");
    let mut file = std::fs::File::create(&mbox).unwrap();
    for email in &emails {
        writeln!(file, "From dmarc@example Mon Jan  1 00:00:00 2024").unwrap();
        file.write_all(&std::fs::read(email).unwrap()).unwrap();
        writeln!(file).unwrap();
    }
    drop(file);
    let output = run(&[&mbox]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(summary(&output).dmarc.reports, 3);
}

#[test]
fn standard_input_is_read_and_a_report_seen_twice_counts_once() {
    let xml = fixtures().join("readiness/receiver.example!example.com!1717200000!1717286399.xml");
    let mut child = Command::new(env!("CARGO_BIN_EXE_mailaudit"))
        .args(["reports", "-", xml.to_str().unwrap(), "--format", "json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&std::fs::read(&xml).unwrap())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary = summary(&output);
    assert_eq!(summary.files, 2);
    assert_eq!(summary.dmarc.reports, 1);
    assert_eq!(summary.duplicates.len(), 1);
    assert_eq!(summary.duplicates[0].report_id, "readiness-1");
    assert_eq!(summary.dmarc.totals.messages, 172);
}

#[test]
fn the_verdict_names_legitimate_failing_sources_with_their_fixes() {
    let dir = fixtures().join("readiness");
    let output = Command::new(env!("CARGO_BIN_EXE_mailaudit"))
        .args(["reports", dir.to_str().unwrap(), "--format", "json"])
        .args(["--resolver", &support::dns_server::server().resolver_arg()])
        .args(["--timeout", "1"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary = summary(&output);
    let [readiness] = summary.readiness.as_slice() else {
        panic!("one domain: {:?}", summary.readiness)
    };
    assert_eq!(readiness.domain, "example.com");
    assert_eq!(readiness.verdict, "not-ready");
    assert_eq!((readiness.messages, readiness.failing), (172, 62));
    let legitimate: BTreeMap<&str, &Legitimate> = readiness
        .legitimate
        .iter()
        .map(|l| (l.service.as_str(), l))
        .collect();
    // SendGrid, recognised by the SPF domain of its bounces: its include and DKIM CNAMEs.
    let sendgrid = legitimate["SendGrid"];
    assert_eq!(sendgrid.failing, 30);
    assert!(
        sendgrid
            .fixes
            .iter()
            .any(|f| f.contains("include:sendgrid.net"))
    );
    assert!(sendgrid.fixes.iter().any(|f| {
        f.trim()
            .starts_with("s1._domainkey.example.com. CNAME s1.domainkey.")
    }));
    // Microsoft 365, recognised only by the PTR name the resolver gives 192.0.2.111.
    let microsoft = legitimate["Microsoft 365"];
    assert_eq!(microsoft.ips, ["192.0.2.111"]);
    assert!(microsoft.fixes.iter().any(|f| {
        f.trim().starts_with(
            "selector1._domainkey.example.com. CNAME selector1-example-com._domainkey.",
        )
    }));
    assert!(
        microsoft
            .fixes
            .iter()
            .any(|f| f.contains("include:spf.protection.outlook.com"))
    );
    // A server signing part of its mail as the domain: sign the rest.
    let own = legitimate["example.com"];
    assert_eq!(own.failing, 5);
    assert!(own.fixes[0].contains("10 of 15 messages from 198.51.100.20"));
    // The forger alone is forged.
    assert_eq!(readiness.forged.len(), 1);
    assert_eq!(
        (readiness.forged[0].ip.as_str(), readiness.forged[0].failing),
        ("203.0.113.66", 7)
    );
    let row = summary
        .dmarc
        .sources
        .iter()
        .find(|s| s.ip == "192.0.2.111")
        .unwrap();
    assert_eq!(
        row.ptr.as_deref(),
        Some("mail-o111.outbound.protection.outlook.com")
    );
    assert_eq!(row.service.recognised_by.as_deref(), Some("ptr"));
    assert_eq!(row.header_from, ["example.com"]);
}

#[test]
fn without_a_resolver_an_unnamed_source_is_not_taken_for_a_provider() {
    let dir = fixtures().join("readiness");
    let summary = summary(&run(&[&dir]));
    let readiness = &summary.readiness[0];
    assert!(
        readiness
            .legitimate
            .iter()
            .all(|l| l.service != "Microsoft 365")
    );
    assert!(readiness.forged.iter().any(|f| f.ip == "192.0.2.111"));
    let row = summary
        .dmarc
        .sources
        .iter()
        .find(|s| s.ip == "192.0.2.111")
        .unwrap();
    assert_eq!(row.service.name, "unidentified");
}

#[test]
fn tls_rpt_sessions_match_the_json() {
    let dir = fixtures().join("parsedmarc/smtp_tls");
    let output = run(&[&dir]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary = summary(&output);
    let text = std::fs::read_to_string(dir.join("rfc8460.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let policy = &json["policies"][0];
    let row = summary
        .tls
        .iter()
        .find(|r| r.organization == json["organization-name"].as_str().unwrap())
        .unwrap();
    assert_eq!(row.policy_type, "sts");
    assert_eq!(
        row.successful,
        policy["summary"]["total-successful-session-count"]
            .as_u64()
            .unwrap()
    );
    assert_eq!(
        row.failed,
        policy["summary"]["total-failure-session-count"]
            .as_u64()
            .unwrap()
    );
    let mut failures: BTreeMap<String, u64> = BTreeMap::new();
    for detail in policy["failure-details"].as_array().unwrap() {
        *failures
            .entry(detail["result-type"].as_str().unwrap().to_owned())
            .or_default() += detail["failed-session-count"].as_u64().unwrap();
    }
    assert_eq!(row.failures, failures);
    assert!(summary.tls.iter().any(|r| r.organization == "Google Inc."));
}

/// A skipped file's error, from a run on it alone (exit 2).
fn refused(path: &Path) -> String {
    let output = run(&[path]);
    assert_eq!(output.status.code(), Some(2));
    let summary = summary(&output);
    assert_eq!(summary.skipped.len(), 1);
    summary.skipped[0].error.clone()
}

#[test]
fn bombs_and_oversized_reports_are_refused_by_size() {
    let temp = tempfile::tempdir().unwrap();
    let zeros = vec![b' '; 40 * 1024 * 1024];
    // A gzip that inflates past the limit.
    let gz = temp.path().join("bomb.xml.gz");
    let mut encoder = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::best(),
    );
    encoder.write_all(b"<feedback>").unwrap();
    encoder.write_all(&zeros).unwrap();
    encoder.finish().unwrap();
    assert!(std::fs::metadata(&gz).unwrap().len() < 1024 * 1024);
    assert!(refused(&gz).contains("limit of 32 MB (decompressed)"));

    // A zip that declares it, and one that lies about it (declared 100 bytes).
    let honest = temp.path().join("bomb.zip");
    let mut writer = zip::ZipWriter::new(std::fs::File::create(&honest).unwrap());
    writer
        .start_file("report.xml", zip::write::SimpleFileOptions::default())
        .unwrap();
    writer.write_all(&zeros).unwrap();
    writer.finish().unwrap();
    assert!(refused(&honest).contains("declared by the zip archive"));
    let mut bytes = std::fs::read(&honest).unwrap();
    for (signature, offset) in [(b"PK\x03\x04", 22), (b"PK\x01\x02", 24)] {
        let at = bytes.windows(4).position(|w| w == signature).unwrap() + offset;
        bytes[at..at + 4].copy_from_slice(&100u32.to_le_bytes());
    }
    let liar = temp.path().join("liar.zip");
    std::fs::write(&liar, bytes).unwrap();
    let error = refused(&liar);
    assert!(
        error.contains("limit of 32 MB (decompressed)") || error.starts_with("not a valid zip"),
        "{error}"
    );

    // A 100 MB report file is not read into memory.
    let big = temp.path().join("big.xml");
    let mut file = std::fs::File::create(&big).unwrap();
    file.write_all(b"<feedback>").unwrap();
    for _ in 0..100 {
        file.write_all(&zeros[..1024 * 1024]).unwrap();
    }
    drop(file);
    assert!(refused(&big).contains("limit of 32 MB (the file)"));
}

#[test]
fn entities_are_not_expanded_and_invalid_utf8_is_a_bounded_result() {
    let temp = tempfile::tempdir().unwrap();
    let laughs = temp.path().join("laughs.xml");
    let mut xml = String::from(
        "<?xml version=\"1.0\"?>\n<!DOCTYPE feedback [\n<!ENTITY a \"lollollollollollollollollollol\">\n",
    );
    for level in 1..10 {
        let previous = char::from(b'a' + level - 1);
        let this = char::from(b'a' + level);
        let body = format!("&{previous};").repeat(10);
        writeln!(xml, "<!ENTITY {this} \"{body}\">").unwrap();
    }
    xml.push_str("<!ENTITY xxe SYSTEM \"file:///etc/passwd\">\n]>\n");
    xml.push_str(
        "<feedback><report_metadata><org_name>&j;&xxe;</org_name><report_id>x</report_id>\
         </report_metadata><policy_published><domain>example.com</domain></policy_published>\
         <record><row><source_ip>192.0.2.1</source_ip><count>1</count><policy_evaluated>\
         <disposition>none</disposition><dkim>pass</dkim><spf>pass</spf></policy_evaluated></row>\
         <identifiers><header_from>example.com</header_from></identifiers></record></feedback>",
    );
    std::fs::write(&laughs, xml).unwrap();
    let output = run(&[&laughs]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.len() < 100_000, "an entity was expanded");
    assert!(!stdout.contains("lollol") && !stdout.contains("root:"));

    let output = run(&[&fixtures().join("parsedmarc/aggregate/invalid_utf_8.xml")]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary = summary(&output);
    assert_eq!(summary.dmarc.sources[0].header_from, ["bad_byte\u{fffd}"]);
}

#[test]
fn a_file_that_is_not_a_report_is_named_and_the_rest_still_counted() {
    let temp = tempfile::tempdir().unwrap();
    std::fs::write(temp.path().join("notes.txt"), "my DMARC notes\n").unwrap();
    std::fs::copy(
        fixtures().join("parsedmarc/aggregate/old_draft_from_wiki.xml"),
        temp.path().join("old.xml"),
    )
    .unwrap();
    let output = run(&[temp.path()]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("notes.txt: neither a report"), "{stderr}");
    let summary = summary(&output);
    assert_eq!(summary.dmarc.totals.messages, 2);
    assert_eq!(summary.skipped.len(), 1);
}

#[test]
fn csv_has_one_line_per_record() {
    let dir = fixtures().join("readiness");
    let output = Command::new(env!("CARGO_BIN_EXE_mailaudit"))
        .args(["reports", dir.to_str().unwrap(), "--format", "csv"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1 + 6);
    assert!(lines[0].starts_with("day,reporter,report_id,policy_domain,source_ip"));
    let total: u64 = lines[1..]
        .iter()
        .map(|l| l.split(',').nth(7).unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(total, 172);
}

#[test]
fn the_source_table_keeps_numbers_and_header_words_whole_on_100_columns() {
    let output = Command::new(env!("CARGO_BIN_EXE_mailaudit"))
        .args(["reports", fixtures().to_str().unwrap()])
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .output()
        .unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    let table: Vec<&str> = text
        .lines()
        .skip_while(|l| *l != "Senders by source IP")
        .skip(1)
        .take_while(|l| !l.is_empty() && !l.starts_with('('))
        .collect();
    assert!(table.len() > 5, "{text}");
    assert!(table.iter().all(|l| l.chars().count() <= 100), "{table:#?}");
    // The header's words each on one line, whole; no PTR column without --resolver.
    let header: String = table[1..3].join("\n");
    for word in ["Source", "Service", "Messages", "aligned", "Reporters"] {
        assert!(header.contains(word), "{word}:\n{header}");
    }
    assert!(!header.contains("PTR"), "{header}");
    // Every source IP of the table is on one line.
    assert!(
        table.iter().any(|l| l.contains("│ 173.228.157.66 ┆")),
        "{table:#?}"
    );
}
