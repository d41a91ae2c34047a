//! One line of "what was found" per area, shared by the text formats (the table now; Markdown
//! later). It only restates the report: every verdict was made by the area's check.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::bimi::prerequisite::Enforcement;
use crate::bimi::{BimiReport, CertificateCheck, FetchStatus, LogoCheck};
use crate::completeness::answered;
use crate::dane::{DaneReport, DaneStatus};
use crate::dkim::{DkimReport, SelectorStatus};
use crate::dmarc::DmarcReport;
use crate::dnsbl::{DomainListingReport, ListAnswer, ListStatus};
use crate::dnssec::DnssecReport;
use crate::finding::Verdict;
use crate::ip::IpReport;
use crate::mta_sts::{MtaStsReport, TxtAnswer};
use crate::mx::{HostStatus, MxReport};
use crate::smtp::{self, Outcome, PortProbe, Session};
use crate::spf::{Evaluation, Node, NodeStatus, SpfReport, SpfResult};
use crate::tlsrpt::{Destination, TlsRptReport};

use super::{Areas, DomainAreas};

/// At most this many tree or host lines per area; the JSON has them all.
const MAX_LINES: usize = 12;

/// An area, its verdict, and what was found, one fact a line.
pub struct AreaLine {
    pub area: &'static str,
    pub verdict: Verdict,
    pub found: Vec<String>,
}

/// The areas of a report, in the order a reader checks them.
pub fn areas(areas: &Areas) -> Vec<AreaLine> {
    match areas {
        Areas::Domain(domain) => domain_areas(domain),
        Areas::Smtp(smtp) => smtp.smtp.probes.iter().map(smtp_line).collect(),
        Areas::Ip(ip) => {
            let mut lines = vec![reverse_dns(&ip.ip)];
            // No list of the catalog takes the address: nothing asked, nothing graded.
            if crate::dnsbl::any_list_takes(&ip.ip.lists) {
                lines.push(ip_lists(&ip.ip));
            }
            let found = spf_lines(&ip.ip);
            if !found.is_empty() {
                lines.push(AreaLine {
                    area: "SPF",
                    verdict: spf_verdict(&ip.ip),
                    found,
                });
            }
            lines
        }
    }
}

/// One port of a mail server: each address's outcome in a few words.
fn smtp_line(probe: &PortProbe) -> AreaLine {
    let mut found: Vec<String> = probe.sessions.iter().map(session_summary).collect();
    if let Some(lookup) = &probe.dns
        && probe.sessions.is_empty()
    {
        found.push(format!(
            "no address to probe (A: {}, AAAA: {})",
            lookup.a, lookup.aaaa
        ));
    }
    if probe.addresses_not_probed > 0 {
        found.push(format!(
            "{} more addresses not probed",
            probe.addresses_not_probed
        ));
    }
    AreaLine {
        area: smtp_area_name(probe.port),
        verdict: probe.verdict,
        found,
    }
}

/// `SMTP 587`, with the common ports named.
fn smtp_area_name(port: u16) -> &'static str {
    match port {
        25 => "SMTP 25 (MX)",
        465 => "SMTP 465 (submission, TLS)",
        587 => "SMTP 587 (submission)",
        2525 => "SMTP 2525",
        _ => "SMTP",
    }
}

/// `192.0.2.25: works, TLSv1.3, certificate valid (87 days), AUTH PLAIN LOGIN`.
pub fn session_summary(session: &Session) -> String {
    let word = if session.outcome == Outcome::NoGreeting && session.implicit_tls_detected {
        "no greeting: expects implicit TLS"
    } else {
        session.outcome.as_str()
    };
    let mut parts = vec![word.to_owned()];
    if let Some(tls) = &session.tls {
        parts.push(tls.version.clone());
        if let Some(certificate) = &tls.certificate {
            parts.push(if certificate.problems.is_empty() {
                format!("certificate valid ({} days left)", certificate.days_left)
            } else {
                let problems: Vec<&str> = certificate.problems.iter().map(|p| p.as_str()).collect();
                format!("certificate: {}", problems.join(", "))
            });
        }
    } else if session.ehlo.as_ref().is_some_and(|e| !e.starttls) {
        parts.push("no STARTTLS".to_owned());
    }
    if let Some(auth) = &session.auth {
        parts.push(match (&auth.skipped, auth.accepted) {
            (Some(_), _) => "AUTH not tried".to_owned(),
            (None, true) => "AUTH accepted".to_owned(),
            (None, false) => "AUTH rejected".to_owned(),
        });
    }
    format!("{}: {}", session.ip, parts.join(", "))
}

/// Everything one SMTP session showed, one fact a row, for every text format: the diagnosis
/// first, then the timeline, the greeting, the extensions, TLS and the certificate, AUTH.
pub fn smtp_facts(probe: &PortProbe, session: &Session) -> Vec<(&'static str, String)> {
    let mut facts = vec![
        (
            "Address",
            format!(
                "{} port {} ({})",
                session.ip,
                probe.port,
                probe.tls.as_str()
            ),
        ),
        ("Diagnosis", smtp::diagnosis(probe, session)),
    ];
    let mut timeline = Vec::new();
    if probe.dns.is_some() {
        timeline.push(format!("dns {} ms", probe.dns_ms));
    }
    timeline.extend(
        session
            .phases
            .iter()
            .map(|p| format!("{} {} ms", p.phase, p.ms)),
    );
    facts.push(("Timeline", timeline.join(" → ")));
    if let Some(greeting) = &session.greeting {
        facts.push(("Greeting", greeting.summary()));
    }
    if let Some(ehlo) = &session.ehlo {
        facts.push(("EHLO (plain text)", ehlo.keywords().join(", ")));
    }
    if let Some(ehlo) = &session.ehlo_tls {
        facts.push(("EHLO (over TLS)", ehlo.keywords().join(", ")));
    }
    if let Some(tls) = &session.tls {
        facts.push(("TLS", format!("{} {}", tls.version, tls.cipher)));
        if let Some(certificate) = &tls.certificate {
            facts.push(("Certificate", certificate.subject.clone()));
            facts.push(("Names", certificate.names.join(", ")));
            facts.push(("Issuer", certificate.issuer.clone()));
            facts.push((
                "Valid",
                format!(
                    "{} to {} ({} days left)",
                    certificate.not_before, certificate.not_after, certificate.days_left
                ),
            ));
            facts.push(("Key", certificate.key.clone()));
            let verdict = if certificate.problems.is_empty() {
                format!(
                    "trusted, valid for {} (chain of {})",
                    probe.host, certificate.chain_length
                )
            } else {
                let problems: Vec<&str> = certificate.problems.iter().map(|p| p.as_str()).collect();
                format!("problems: {}", problems.join(", "))
            };
            facts.push(("Verdict", verdict));
        }
    }
    if let Some(auth) = &session.auth {
        let result = match (&auth.skipped, auth.accepted, &auth.reply) {
            (Some(reason), _, _) => format!("not tried: {reason}"),
            (None, accepted, reply) => format!(
                "{} {} for {} ({})",
                auth.mechanism.as_deref().unwrap_or_default(),
                if accepted { "accepted" } else { "rejected" },
                auth.user,
                reply
                    .as_ref()
                    .map(crate::smtp::reply::Reply::summary)
                    .unwrap_or_default()
            ),
        };
        facts.push(("AUTH", result));
    }
    if let Some(ptr) = probe.ptr.iter().find(|p| p.ip == session.ip) {
        let names = if ptr.names.is_empty() {
            format!("none ({})", ptr.answer)
        } else {
            ptr.names.join(", ")
        };
        facts.push(("PTR", names));
    }
    facts
}

fn domain_areas(areas: &DomainAreas) -> Vec<AreaLine> {
    let mut lines = vec![
        spf(&areas.spf),
        dmarc(&areas.dmarc),
        dkim(&areas.dkim),
        mx(&areas.mx),
        mta_sts(&areas.mta_sts),
        tls_rpt(&areas.tls_rpt),
        bimi(&areas.bimi),
        dnssec(&areas.dnssec),
    ];
    if !areas.dane.hosts.is_empty() {
        lines.push(dane(&areas.dane));
    }
    if !areas.blocklists.is_empty() {
        lines.push(domain_lists(&areas.blocklists));
    }
    if !areas.ips.is_empty() {
        lines.push(sending_ips(&areas.ips));
    }
    if !areas.smtp.is_empty() {
        lines.push(mx_smtp(&areas.smtp));
    }
    lines
}

/// The TXT answer of a protocol's name when it holds no record senders use.
fn txt_outcome(dns: &TxtAnswer) -> String {
    if !answered(&dns.answer) {
        format!(
            "unknown: the lookup of {} failed ({})",
            dns.name, dns.answer
        )
    } else if dns.txt_records == 0 {
        format!("no record at {} ({})", dns.name, dns.answer)
    } else {
        format!(
            "{} TXT records at {}, none usable: {}",
            dns.txt_records,
            dns.name,
            dns.records.join(" | ")
        )
    }
}

/// The name asked and what it holds, one fact a row.
fn txt_facts(dns: &TxtAnswer, facts: &mut Vec<(&'static str, String)>) {
    let alias = if dns.aliases.is_empty() {
        String::new()
    } else {
        format!(" (alias: {})", dns.aliases.join(" → "))
    };
    facts.push(("Name asked", format!("{}: {}{alias}", dns.name, dns.answer)));
    if dns.txt_records > 0 {
        let mut records = dns.records.join(" | ");
        if dns.txt_records > dns.records.len() {
            let _ = write!(
                records,
                " (and {} more)",
                dns.txt_records - dns.records.len()
            );
        }
        facts.push(("TXT records", records));
    }
}

/// Everything the MTA-STS check saw, one fact a row, for the detailed formats (HTML,
/// Markdown); the policy's text is apart ([`MtaStsReport::policy`]).
pub fn mta_sts_facts(report: &MtaStsReport) -> Vec<(&'static str, String)> {
    let mut facts = Vec::new();
    txt_facts(&report.dns, &mut facts);
    if let Some(record) = &report.record {
        facts.push(("Record used", record.clone()));
    }
    if let Some(id) = &report.id {
        facts.push(("Policy id", id.clone()));
    }
    let Some(fetch) = &report.policy else {
        return facts;
    };
    facts.push(("Policy URL", fetch.url.clone()));
    let addresses: Vec<String> = fetch.addresses.iter().map(ToString::to_string).collect();
    facts.push((
        "Policy host",
        format!(
            "{} (A: {}, AAAA: {})",
            if addresses.is_empty() {
                "no address".to_owned()
            } else {
                addresses.join(", ")
            },
            fetch.a,
            fetch.aaaa
        ),
    ));
    if let Some(status) = fetch.status {
        let mut http = format!("status {status}");
        if let Some(content_type) = &fetch.content_type {
            let _ = write!(http, ", {content_type}");
        }
        if let Some(location) = &fetch.location {
            let _ = write!(http, ", redirect to {location} (not followed)");
        }
        facts.push(("HTTP", http));
    }
    let outcome = serde_json::to_value(fetch.outcome)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    facts.push((
        "Outcome",
        match &fetch.error {
            Some(error) => format!("{outcome}: {error}"),
            None => outcome,
        },
    ));
    if let Some(policy) = &fetch.parsed {
        facts.push(("Mode", policy.mode.as_str().to_owned()));
        facts.push(("MX patterns", policy.mx.join(", ")));
        facts.push((
            "max_age",
            format!("{} s ({} days)", policy.max_age, policy.max_age / 86_400),
        ));
        if !fetch.mx.is_empty() {
            let hosts: Vec<String> = fetch
                .mx
                .iter()
                .map(|m| match &m.pattern {
                    Some(pattern) => format!("{} matches {pattern}", m.host),
                    None => format!("{} matches no pattern", m.host),
                })
                .collect();
            facts.push(("MX hosts", hosts.join("; ")));
        }
    }
    facts
}

/// Everything the TLS-RPT check saw, one fact a row.
pub fn tls_rpt_facts(report: &TlsRptReport) -> Vec<(&'static str, String)> {
    let mut facts = Vec::new();
    txt_facts(&report.dns, &mut facts);
    if let Some(record) = &report.record {
        facts.push(("Record used", record.clone()));
    }
    for destination in &report.rua {
        facts.push(match destination {
            Destination::Mailto(address) => ("Reports mailed to", address.clone()),
            Destination::Https(url) => ("Reports posted to", url.clone()),
        });
    }
    facts
}

/// MTA-STS: the record, the policy fetched and what it says, each MX host against it.
fn mta_sts(report: &MtaStsReport) -> AreaLine {
    let mut found = Vec::new();
    match &report.record {
        Some(record) => found.push(format!("record: {record}")),
        None => found.push(txt_outcome(&report.dns)),
    }
    if let Some(fetch) = &report.policy {
        match &fetch.parsed {
            Some(policy) => {
                found.push(format!(
                    "policy ({}): mode {}, mx {}, max_age {}",
                    fetch.url,
                    policy.mode.as_str(),
                    if policy.mx.is_empty() {
                        "none".to_owned()
                    } else {
                        policy.mx.join(", ")
                    },
                    policy.max_age
                ));
                for matched in fetch.mx.iter().take(MAX_LINES) {
                    found.push(match &matched.pattern {
                        Some(pattern) => format!("MX {} matches {pattern}", matched.host),
                        None => format!("MX {} matches no pattern", matched.host),
                    });
                }
            }
            None => found.push(format!(
                "policy not usable: {}",
                fetch.error.as_deref().unwrap_or("not fetched")
            )),
        }
    }
    AreaLine {
        area: "MTA-STS",
        verdict: report.verdict,
        found,
    }
}

/// TLS-RPT: the record and where reports go.
fn tls_rpt(report: &TlsRptReport) -> AreaLine {
    let mut found = Vec::new();
    match &report.record {
        Some(record) => found.push(format!("record: {record}")),
        None => found.push(txt_outcome(&report.dns)),
    }
    if !report.rua.is_empty() {
        let destinations: Vec<String> = report
            .rua
            .iter()
            .map(|d| match d {
                Destination::Mailto(address) => format!("mailto:{address}"),
                Destination::Https(url) => url.clone(),
            })
            .collect();
        found.push(format!("reports to {}", destinations.join(", ")));
    }
    AreaLine {
        area: "TLS-RPT",
        verdict: report.verdict,
        found,
    }
}

/// BIMI: its facts, one a line.
fn bimi(report: &BimiReport) -> AreaLine {
    AreaLine {
        area: "BIMI",
        verdict: report.verdict,
        found: bimi_facts(report)
            .into_iter()
            .map(|(label, value)| format!("{label}: {value}"))
            .collect(),
    }
}

/// Everything the BIMI check saw, one fact a row, for every format: the record, the DMARC
/// prerequisite, the logo and the mark certificate ("not fetched" without `--fetch-bimi`).
pub fn bimi_facts(report: &BimiReport) -> Vec<(&'static str, String)> {
    let mut facts = Vec::new();
    match (&report.found_at, &report.record) {
        (Some(name), Some(record)) => facts.push(("Record", format!("{name}: {record}"))),
        (Some(name), None) => facts.push(("Record", format!("{name}: several records, none used"))),
        _ => {
            let asked: Vec<String> = report
                .queries
                .iter()
                .map(|q| format!("{} {}", q.name, q.status))
                .collect();
            let what = if report.queries.iter().all(|q| answered(&q.status)) {
                "none"
            } else {
                "unknown"
            };
            facts.push(("Record", format!("{what}: asked {}", asked.join(", "))));
        }
    }
    if report.declined {
        facts.push((
            "Declined",
            "l= and a= are empty: the domain shows no logo".to_owned(),
        ));
    }
    if let Some(prerequisite) = &report.dmarc {
        let value = match prerequisite.status {
            Enforcement::Enforced => match &prerequisite.organizational_domain {
                Some(org) => format!("enforced (with its organisational domain {org})"),
                None => "enforced".to_owned(),
            },
            Enforcement::NotEnforced => {
                format!("not enforced: {}", prerequisite.reasons.join("; "))
            }
            Enforcement::Unknown => format!("unknown: {}", prerequisite.reasons.join("; ")),
        };
        facts.push(("DMARC", value));
    }
    if let Some(logo) = &report.logo {
        facts.push(("Logo", logo_fact(logo)));
    }
    match &report.certificate {
        Some(check) => certificate_facts(check, &mut facts),
        None if report.logo.is_some() => {
            facts.push(("Certificate", "none (a= is empty)".to_owned()));
        }
        None => {}
    }
    facts
}

/// The logo's URL and what came of it.
fn logo_fact(logo: &LogoCheck) -> String {
    let detail = match logo.status {
        FetchStatus::NotFetched => "not fetched (--fetch-bimi fetches it)".to_owned(),
        FetchStatus::Valid => {
            let bytes = logo.http.as_ref().and_then(|h| h.bytes).unwrap_or_default();
            let title = logo
                .svg
                .as_ref()
                .and_then(|svg| svg.title.as_deref())
                .unwrap_or_default();
            format!("SVG Tiny PS, {bytes} bytes, titled \"{title}\"")
        }
        FetchStatus::Invalid => format!("invalid: {}", logo.problems.join("; ")),
        FetchStatus::Unreachable | FetchStatus::Unknown => format!(
            "{}: {}",
            logo.status.as_str(),
            logo.error.as_deref().unwrap_or_default()
        ),
    };
    format!("{} {detail}", logo.url)
}

/// The mark certificate's URL, what came of it, and what it says.
fn certificate_facts(check: &CertificateCheck, facts: &mut Vec<(&'static str, String)>) {
    let detail = match check.status {
        FetchStatus::NotFetched => "not fetched (--fetch-bimi fetches it)".to_owned(),
        FetchStatus::Valid => "valid (its issuer chain is not verified)".to_owned(),
        FetchStatus::Invalid => {
            let problems: Vec<String> = check
                .problems
                .iter()
                .map(|p| {
                    serde_json::to_value(p)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default()
                })
                .collect();
            format!("invalid: {}", problems.join(", "))
        }
        FetchStatus::Unreachable | FetchStatus::Unknown => format!(
            "{}: {}",
            check.status.as_str(),
            check.error.as_deref().unwrap_or_default()
        ),
    };
    facts.push(("Certificate", format!("{} {detail}", check.url)));
    if let Some(mark) = &check.certificate {
        facts.push(("Mark", format!("{} (issuer {})", mark.subject, mark.issuer)));
        facts.push(("Names", mark.names.join(", ")));
        facts.push((
            "Valid",
            format!(
                "{} to {} ({} days left)",
                mark.not_before, mark.not_after, mark.days_left
            ),
        ));
        facts.push((
            "Logotype",
            format!(
                "{}; BIMI key usage: {}",
                if mark.logotype { "present" } else { "absent" },
                if mark.bimi_usage { "yes" } else { "no" }
            ),
        ));
    }
}

/// `--smtp`: each MX host's sessions in a few words.
fn mx_smtp(probes: &[PortProbe]) -> AreaLine {
    let mut found = Vec::new();
    for probe in probes {
        for line in smtp_line(probe).found {
            found.push(format!("{}: {line}", probe.host));
        }
    }
    AreaLine {
        area: "SMTP (MX, port 25)",
        verdict: worst_verdict(probes.iter().map(|p| p.verdict)),
        found,
    }
}

/// The sending IPs of the report that have one (the IP itself, or the domain's `--ip`s).
pub fn ip_reports(areas: &Areas) -> Vec<&IpReport> {
    match areas {
        Areas::Domain(domain) => domain.ips.iter().collect(),
        Areas::Ip(ip) => vec![&ip.ip],
        Areas::Smtp(_) => Vec::new(),
    }
}

/// The SMTP probes of a report: a mail server's ports, or a domain's MX hosts (`--smtp`).
pub fn smtp_probes(areas: &Areas) -> Vec<&PortProbe> {
    match areas {
        Areas::Domain(domain) => domain.smtp.iter().collect(),
        Areas::Smtp(smtp) => smtp.smtp.probes.iter().collect(),
        Areas::Ip(_) => Vec::new(),
    }
}

/// Every list asked of any of `ips`, once, in the order first asked: the matrix's rows.
pub fn list_names<'a>(ips: &[&'a IpReport]) -> Vec<(&'a str, &'a str)> {
    let mut lists: Vec<(&str, &str)> = Vec::new();
    for report in ips {
        for answer in &report.lists {
            let key = (answer.list.as_str(), answer.zone.as_str());
            if !lists.contains(&key) {
                lists.push(key);
            }
        }
    }
    lists
}

fn domain_lists(reports: &[DomainListingReport]) -> AreaLine {
    let mut found = Vec::new();
    for report in reports {
        found.push(format!(
            "{}: {}",
            report.domain,
            lists_outcome(&report.lists)
        ));
    }
    AreaLine {
        area: "Blocklists",
        verdict: worst_verdict(reports.iter().map(|r| r.verdict)),
        found,
    }
}

fn sending_ips(reports: &[IpReport]) -> AreaLine {
    let mut found = Vec::new();
    for report in reports {
        found.push(format!("{}: {}", report.ip, ptr_summary(report)));
        found.push(format!("  {}", lists_outcome(&report.lists)));
        found.extend(
            spf_lines(report)
                .into_iter()
                .map(|line| format!("  {line}")),
        );
    }
    AreaLine {
        area: "Sending IPs",
        verdict: worst_verdict(reports.iter().map(|r| r.verdict)),
        found,
    }
}

/// The SPF results for the IP, each with the term that decided it: the MAIL FROM identity
/// (the domain's policy, with the sender used), then the HELO identity (RFC 7208 §2.3, §2.4).
fn spf_lines(report: &IpReport) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(evaluation) = &report.spf {
        lines.push(format!(
            "SPF of {} (MAIL FROM {}): {}",
            evaluation.domain,
            evaluation.sender,
            spf_outcome(evaluation)
        ));
    }
    if let Some(evaluation) = &report.spf_helo {
        lines.push(format!(
            "SPF of HELO {}: {}",
            evaluation.domain,
            spf_outcome(evaluation)
        ));
    }
    lines
}

/// "fail (-all in example.com)".
fn spf_outcome(evaluation: &Evaluation) -> String {
    let decided_by = evaluation.matched.as_ref().map_or_else(
        || "no term matched".to_owned(),
        |m| format!("{} in {}", m.term, m.domain),
    );
    format!("{} ({decided_by})", evaluation.result.as_str())
}

/// The verdict of the SPF results for an IP: a DNS failure is unknown; for the MAIL FROM
/// identity anything but pass fails, for the HELO identity only fail does (the others are
/// warnings).
fn spf_verdict(report: &IpReport) -> Verdict {
    let of = |evaluation: &Evaluation, helo: bool| match evaluation.result {
        SpfResult::Pass => Verdict::Ok,
        SpfResult::TempError => Verdict::Unknown,
        SpfResult::Fail => Verdict::Fail,
        _ if helo => Verdict::Weak,
        _ => Verdict::Fail,
    };
    worst_verdict(
        report
            .spf
            .iter()
            .map(|e| of(e, false))
            .chain(report.spf_helo.iter().map(|e| of(e, true))),
    )
}

fn reverse_dns(report: &IpReport) -> AreaLine {
    let reverse = &report.reverse_dns;
    let no_ptr =
        reverse.names.is_empty() && matches!(reverse.answer.as_str(), "nxdomain" | "nodata");
    let verdict = match reverse.fcrdns {
        None if no_ptr => Verdict::Fail,
        None => Verdict::Unknown,
        Some(false) => Verdict::Fail,
        Some(true) if reverse.names.iter().any(|n| n.generic.is_some()) => Verdict::Weak,
        Some(true) => Verdict::Ok,
    };
    AreaLine {
        area: "Reverse DNS",
        verdict,
        found: vec![ptr_summary(report)],
    }
}

fn ip_lists(report: &IpReport) -> AreaLine {
    AreaLine {
        area: "Blocklists",
        verdict: report.verdict,
        found: vec![lists_outcome(&report.lists)],
    }
}

/// PTR names and whether they are forward-confirmed.
fn ptr_summary(report: &IpReport) -> String {
    let reverse = &report.reverse_dns;
    if !answered(&reverse.answer) {
        return format!(
            "unknown: the PTR lookup for {} failed ({})",
            reverse.query, reverse.answer
        );
    }
    if reverse.names.is_empty() {
        return format!("no PTR ({} for {})", reverse.answer, reverse.query);
    }
    let names: Vec<String> = reverse
        .names
        .iter()
        .map(|ptr| {
            let confirmed = if ptr.confirms {
                "forward-confirmed"
            } else {
                "not forward-confirmed"
            };
            let generic = ptr
                .generic
                .as_ref()
                .map(|why| format!(", looks generic: {why}"))
                .unwrap_or_default();
            format!("PTR {} ({confirmed}{generic})", ptr.name)
        })
        .collect();
    names.join("; ")
}

/// "listed on X, Y; N lists clean; M unknown" for a set of list answers.
fn lists_outcome(lists: &[ListAnswer]) -> String {
    let count = |status: ListStatus| lists.iter().filter(|l| l.status == status).count();
    let listed: Vec<&str> = lists
        .iter()
        .filter(|l| l.status == ListStatus::Listed)
        .map(|l| l.list.as_str())
        .collect();
    let unknown = count(ListStatus::Refused)
        + count(ListStatus::InvalidAnswer)
        + count(ListStatus::Unavailable);
    let clean = count(ListStatus::NotListed);
    let mut parts = Vec::new();
    if !crate::dnsbl::any_list_takes(lists) {
        parts.push(crate::dnsbl::NOT_CHECKED.to_owned());
    } else if listed.is_empty() && clean == 0 {
        parts.push("unknown: no list could answer".to_owned());
    } else if listed.is_empty() {
        parts.push(if clean == 1 {
            "not listed on the 1 list that answered".to_owned()
        } else {
            format!("not listed on the {clean} lists that answered")
        });
    } else {
        parts.push(format!("LISTED on {}", listed.join(", ")));
        if clean > 0 {
            parts.push(format!(
                "not listed on {clean} other{}",
                if clean == 1 { "" } else { "s" }
            ));
        }
    }
    if unknown > 0 {
        parts.push(format!("{unknown} did not give a usable answer"));
    }
    let unhealthy = lists
        .iter()
        .filter(|l| l.status == ListStatus::Skipped && l.health.is_some())
        .count();
    if unhealthy > 0 {
        parts.push(format!("{unhealthy} failed their health check"));
    }
    let other_family = count(ListStatus::Skipped) - unhealthy;
    if other_family > 0 {
        parts.push(format!("{other_family} do not take this kind of address"));
    }
    parts.join("; ")
}

fn worst_verdict(verdicts: impl Iterator<Item = Verdict>) -> Verdict {
    let rank = |v: &Verdict| match v {
        Verdict::Ok => 0,
        Verdict::Weak => 1,
        Verdict::Unknown => 2,
        Verdict::Fail => 3,
    };
    verdicts.max_by_key(rank).unwrap_or(Verdict::Ok)
}

fn spf(report: &SpfReport) -> AreaLine {
    let mut found = Vec::new();
    match (&report.record, report.records.len()) {
        (Some(record), _) => found.push(record.clone()),
        (None, 0) if !answered(&report.dns) => found.push(format!(
            "unknown: the TXT lookup for {} failed ({})",
            report.domain, report.dns
        )),
        (None, 0) => found.push(format!("no v=spf1 record (TXT answer: {})", report.dns)),
        (None, n) => found.push(format!("{n} v=spf1 records")),
    }
    if report.record.is_some() {
        found.push(format!(
            "{} of 10 DNS lookups, {} of 2 void lookups",
            report.total_lookups, report.void_lookups
        ));
        let mut tree = Vec::new();
        tree_lines(&report.tree, 0, &mut tree);
        found.extend(capped(tree));
    }
    AreaLine {
        area: "SPF",
        verdict: report.verdict,
        found,
    }
}

/// The include/redirect tree below `node`, one indented line a node with its lookup counts.
fn tree_lines(node: &Node, depth: usize, lines: &mut Vec<String>) {
    for child in &node.children {
        let state = match child.status {
            NodeStatus::Ok => format!(
                "{} lookups, {} so far",
                child.subtree_lookups, child.cumulative_lookups
            ),
            NodeStatus::SyntaxError => "does not parse".to_owned(),
            NodeStatus::Missing => "no SPF record".to_owned(),
            NodeStatus::MultipleRecords => "several SPF records".to_owned(),
            NodeStatus::Failed => {
                format!("lookup failed ({})", child.dns.as_deref().unwrap_or("DNS"))
            }
            NodeStatus::Loop => "loop".to_owned(),
            NodeStatus::NotWalked => "not walked".to_owned(),
        };
        let term = child.term.clone().unwrap_or_else(|| child.domain.clone());
        lines.push(format!("{}└ {term}: {state}", "  ".repeat(depth)));
        tree_lines(child, depth + 1, lines);
    }
}

fn dmarc(report: &DmarcReport) -> AreaLine {
    let mut found = Vec::new();
    if let (Some(name), Some(record)) = (&report.found_at, &report.record) {
        let whose = if report.inherited {
            " (inherited from a parent)"
        } else {
            ""
        };
        found.push(format!("{name}{whose}"));
        found.push(record.clone());
    } else {
        let asked: Vec<String> = report
            .queries
            .iter()
            .map(|q| format!("{} {}", q.name, q.status))
            .collect();
        if report.queries.iter().all(|q| answered(&q.status)) {
            found.push(format!("no DMARC record; asked {}", asked.join(", ")));
        } else {
            found.push(format!("unknown: asked {}", asked.join(", ")));
        }
    }
    if let Some(policy) = &report.effective_policy {
        let requested = policy.requested.map_or("none applies", |p| p.as_str());
        found.push(format!("policy {requested} ({})", policy.why));
    }
    for destination in &report.report_destinations {
        found.push(format!(
            "{} {}: {}",
            destination.tag,
            destination.uri.uri,
            serde_json::to_value(destination.authorization)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        ));
    }
    AreaLine {
        area: "DMARC",
        verdict: report.verdict,
        found,
    }
}

fn dkim(report: &DkimReport) -> AreaLine {
    let mut found = Vec::new();
    let mut failed = Vec::new();
    for selector in &report.selectors {
        let alias = selector
            .aliases
            .last()
            .map(|target| format!(" → {target}"))
            .unwrap_or_default();
        match selector.status {
            SelectorStatus::Key => {
                for key in &selector.keys {
                    let described = match &key.key {
                        Some(info) => format!("{} {} bits", key.key_type, info.bits),
                        None if key.is_revoked() => "revoked (empty p=)".to_owned(),
                        None => format!("{} key that does not parse", key.key_type),
                    };
                    found.push(format!("{}{alias}: {described}", selector.selector));
                }
            }
            SelectorStatus::LookupFailed => failed.push(selector),
            SelectorStatus::NotKeyRecord
            | SelectorStatus::NoRecord
            | SelectorStatus::InvalidName => {}
        }
    }
    let asked = report
        .selectors
        .iter()
        .filter(|s| s.status != SelectorStatus::InvalidName)
        .count();
    if !failed.is_empty() && failed.len() == asked {
        let answers: BTreeSet<&str> = failed.iter().map(|s| s.answer.as_str()).collect();
        found.push(format!(
            "unknown: the lookups of all {asked} selectors failed ({})",
            answers.into_iter().collect::<Vec<_>>().join(", ")
        ));
    } else {
        for selector in failed {
            found.push(format!(
                "{}: unknown, lookup failed ({})",
                selector.selector, selector.answer
            ));
        }
    }
    let found_count = found.len();
    let mut found = capped(found);
    let denied = report.builtin_skipped;
    if found_count == 0 && !denied {
        found.push("no key at any selector tried".to_owned());
    }
    if denied {
        let tried = match report.selectors.len() {
            0 => "no selector guessed".to_owned(),
            n => format!("only the {n} given or named by the MX/SPF providers tried"),
        };
        found.push(format!(
            "no key: _domainkey does not exist (NXDOMAIN), so no selector exists below it \
             (RFC 8020); {tried}"
        ));
    } else {
        found.push(format!("{} selectors tried", report.selectors.len()));
    }
    AreaLine {
        area: "DKIM",
        verdict: report.verdict,
        found,
    }
}

fn mx(report: &MxReport) -> AreaLine {
    let mut found = Vec::new();
    if report.null_mx {
        found.push("null MX (0 .): accepts no mail".to_owned());
    }
    if report.records.is_empty() && !report.null_mx {
        if answered(&report.answer) {
            found.push(format!("no MX records (MX answer: {})", report.answer));
        } else {
            found.push(format!("unknown: the MX lookup failed ({})", report.answer));
        }
    }
    let hosts = report.hosts.iter().chain(report.fallback.iter());
    let mut lines = Vec::new();
    for host in hosts {
        let preferences: Vec<String> = host.preferences.iter().map(u16::to_string).collect();
        let addresses = match host.status {
            HostStatus::Resolved => host
                .addresses
                .iter()
                .map(|a| match a.ptr.first() {
                    Some(ptr) => format!("{} ({ptr})", a.ip),
                    None => a.ip.to_string(),
                })
                .collect::<Vec<_>>()
                .join(", "),
            HostStatus::IpLiteral => "an IP address written as a name".to_owned(),
            HostStatus::Unresolvable => "no A or AAAA record".to_owned(),
            HostStatus::LookupFailed => format!("lookup failed (A {}, AAAA {})", host.a, host.aaaa),
        };
        let label = if preferences.is_empty() {
            format!("{} (no MX: the domain's own address)", host.exchange)
        } else {
            format!("{} {}", preferences.join("/"), host.exchange)
        };
        lines.push(format!("{label} → {addresses}"));
    }
    found.extend(capped(lines));
    if report.hosts_not_resolved > 0 {
        found.push(format!(
            "{} more hosts not resolved (only the first {} are)",
            report.hosts_not_resolved,
            crate::mx::MAX_HOSTS
        ));
    }
    AreaLine {
        area: "MX",
        verdict: report.verdict,
        found,
    }
}

fn dnssec(report: &DnssecReport) -> AreaLine {
    let validates = match report.resolver_validates {
        Some(true) => "validates",
        Some(false) => "does not validate",
        None => "did not say whether it validates",
    };
    let resolver = report.resolver.as_deref().unwrap_or("the resolver");
    AreaLine {
        area: "DNSSEC",
        verdict: report.verdict,
        found: vec![
            report.detail.clone(),
            format!(
                "zone {}: DS {}, DNSKEY {}; resolver {resolver} {validates}",
                report.zone.as_deref().unwrap_or(&report.name),
                report.ds,
                report.dnskey
            ),
        ],
    }
}

fn dane(report: &DaneReport) -> AreaLine {
    let mut lines = Vec::new();
    for host in &report.hosts {
        let status = match host.status {
            DaneStatus::None => format!("no TLSA records ({})", host.answer),
            DaneStatus::Usable => "TLSA records validated (DNSSEC)".to_owned(),
            DaneStatus::Unusable => "TLSA records validated, none usable for SMTP".to_owned(),
            DaneStatus::Unsigned => "TLSA records not DNSSEC-validated: ignored".to_owned(),
            DaneStatus::Unknown => format!(
                "unknown: {}",
                host.unknown.as_deref().unwrap_or("lookup failed")
            ),
        };
        let matched = match host.matched {
            Some(true) => "; the certificate presented on port 25 matches",
            Some(false) => "; the certificate presented on port 25 matches NO record",
            None => "",
        };
        lines.push(format!("{}: {status}{matched}", host.name));
        for record in &host.records {
            let note = record
                .problem
                .as_deref()
                .map_or_else(|| " (usable)".to_owned(), |p| format!(" ({p})"));
            lines.push(format!("  TLSA {}{note}", record.record));
        }
    }
    AreaLine {
        area: "DANE",
        verdict: report.verdict,
        found: capped(lines),
    }
}

/// The first [`MAX_LINES`] lines, and how many more there were.
fn capped(mut lines: Vec<String>) -> Vec<String> {
    if lines.len() > MAX_LINES {
        let more = lines.len() - MAX_LINES;
        lines.truncate(MAX_LINES);
        lines.push(format!("... and {more} more (see --format json)"));
    }
    lines
}
