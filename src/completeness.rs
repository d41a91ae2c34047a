//! What an audit could not see: the parts of a report whose verdict is *unknown* because a
//! lookup failed or a blocklist could not answer.
//!
//! An audit with any such part is *incomplete*: the report says so in every format (JSON:
//! `incomplete` and `unknown`), the score is of what was seen and cannot reach grade A
//! ([`crate::score`]), the run fails `--fail-on error` and below, and the monitor compares
//! those parts with the last run that saw them. The parts are read off the area verdicts and
//! the findings the areas raised: nothing here asks DNS.

use serde::{Deserialize, Serialize};

use crate::dnsbl::{DomainListingReport, lists_unknown};
use crate::dnssec::DnssecStatus;
use crate::finding::{Code, Finding, Verdict};
use crate::ip::IpReport;
use crate::report::{Areas, DomainAreas};
use crate::smtp::{self, PortProbe};
use crate::spf::SpfResult;

/// One part of a report that could not be determined.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unknown {
    /// `spf`, `dmarc`, `dkim`, `mx`, `mtasts`, `tlsrpt`, `bimi`, `dnssec`, `dane`,
    /// `domain-blocklists`, `reverse-dns`, `blocklists`, `spf-evaluation`, `smtp` or `resolver`.
    pub area: String,
    /// The name or address the part is about, where an area has several (a sending IP, an MX
    /// host's domain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Why, in one line.
    pub reason: String,
}

impl Unknown {
    fn new(area: &str, subject: Option<String>, reason: impl Into<String>) -> Unknown {
        Unknown {
            area: area.to_owned(),
            subject,
            reason: reason.into(),
        }
    }

    /// The resolver stopped answering while the target was audited: everything unknown in it
    /// may be the resolver's failure, not the target's.
    pub fn resolver_stopped(servers: &str) -> Unknown {
        Unknown::new(
            "resolver",
            None,
            format!(
                "the resolver ({servers}) stopped answering during this audit (or answers only \
                 the root zone)"
            ),
        )
    }
}

/// The parts of a report that could not be determined, in the order the report shows its
/// areas.
pub fn unknown_parts(areas: &Areas, findings: &[Finding]) -> Vec<Unknown> {
    let mut parts = Vec::new();
    match areas {
        Areas::Domain(domain) => domain_parts(domain, findings, &mut parts),
        Areas::Ip(ip) => ip_parts(&ip.ip, &mut parts),
        Areas::Smtp(smtp) => {
            for probe in &smtp.smtp.probes {
                smtp_part(probe, &mut parts);
            }
        }
    }
    parts
}

/// What a mail server's probe could not see: addresses that could not be looked up (all, or
/// those of one family), sessions that say nothing of the server (an address unreachable from
/// here, port 25 silent where outbound port 25 may be blocked).
fn smtp_part(probe: &PortProbe, parts: &mut Vec<Unknown>) {
    let subject = || Some(format!("{}:{}", probe.host, probe.port));
    if let Some(lookup) = probe.dns.as_ref().filter(|l| smtp::lookup_failed(l)) {
        let reason = if probe.sessions.is_empty() {
            format!(
                "the address lookup of {} failed (A: {}, AAAA: {}): nothing was probed",
                probe.host, lookup.a, lookup.aaaa
            )
        } else {
            format!(
                "the address lookup of {} failed in part (A: {}, AAAA: {}): the addresses of \
                 that family were not probed",
                probe.host, lookup.a, lookup.aaaa
            )
        };
        parts.push(Unknown::new("smtp", subject(), reason));
    }
    for session in &probe.sessions {
        if let Some(reason) = smtp::unknown_reason(probe, session) {
            parts.push(Unknown::new("smtp", subject(), reason));
        }
    }
}

fn domain_parts(areas: &DomainAreas, findings: &[Finding], parts: &mut Vec<Unknown>) {
    let root_cause = findings
        .iter()
        .find(|f| f.code == Code::DnsNameserversFailed);
    for (area, verdict, failed) in [
        ("spf", areas.spf.verdict, Code::SpfLookupFailed),
        ("dmarc", areas.dmarc.verdict, Code::DmarcLookupFailed),
        ("dkim", areas.dkim.verdict, Code::DkimLookupFailed),
        ("mx", areas.mx.verdict, Code::MxLookupFailed),
        ("mtasts", areas.mta_sts.verdict, Code::MtastsLookupFailed),
        ("tlsrpt", areas.tls_rpt.verdict, Code::TlsrptLookupFailed),
        ("bimi", areas.bimi.verdict, Code::BimiLookupFailed),
    ] {
        let raised = findings.iter().find(|f| f.code == failed);
        if verdict != Verdict::Unknown && raised.is_none() {
            continue;
        }
        let reason = match (raised, root_cause) {
            (Some(finding), _) => finding.message.clone(),
            (None, Some(cause)) => name_servers_fail(cause),
            (None, None) => "a DNS lookup failed".to_owned(),
        };
        parts.push(Unknown::new(area, None, reason));
    }
    if areas.dnssec.status == DnssecStatus::Unknown {
        // The failed lookup's message, the name servers' failure that replaced it, or why
        // the resolver could not tell (it does not validate).
        let reason = match (
            findings.iter().find(|f| f.code == Code::DnssecLookupFailed),
            root_cause,
        ) {
            (Some(finding), _) => finding.message.clone(),
            (None, Some(cause)) if !answered(&areas.dnssec.dnskey) => name_servers_fail(cause),
            (None, _) => areas.dnssec.detail.clone(),
        };
        parts.push(Unknown::new("dnssec", None, reason));
    }
    for host in &areas.dane.hosts {
        if let Some(reason) = &host.unknown {
            parts.push(Unknown::new(
                "dane",
                Some(host.host.clone()),
                reason.clone(),
            ));
        }
    }
    for report in &areas.blocklists {
        domain_list_part(report, parts);
    }
    for ip in &areas.ips {
        ip_parts(ip, parts);
    }
    for probe in &areas.smtp {
        smtp_part(probe, parts);
    }
}

/// The reason a part is unknown when the domain's own name servers fail.
fn name_servers_fail(cause: &Finding) -> String {
    format!(
        "the name servers of {} fail ({})",
        evidence_text(cause, "name"),
        evidence_text(cause, "answer")
    )
}

fn domain_list_part(report: &DomainListingReport, parts: &mut Vec<Unknown>) {
    if let Some(reason) = lists_unknown(&report.lists) {
        parts.push(Unknown::new(
            "domain-blocklists",
            Some(report.domain.clone()),
            reason,
        ));
    }
}

fn ip_parts(ip: &IpReport, parts: &mut Vec<Unknown>) {
    let subject = || Some(ip.ip.to_string());
    let reverse = &ip.reverse_dns;
    if !answered(&reverse.answer) {
        parts.push(Unknown::new(
            "reverse-dns",
            subject(),
            format!(
                "the PTR lookup for {} failed ({})",
                reverse.query, reverse.answer
            ),
        ));
    } else if reverse.fcrdns.is_none()
        && let Some(name) = reverse
            .names
            .iter()
            .find(|n| !answered(&n.forward_answer) && n.forward_answer != "invalid-name")
    {
        parts.push(Unknown::new(
            "reverse-dns",
            subject(),
            format!(
                "the {} lookup for the PTR name {} failed ({}): forward confirmation unknown",
                name.forward_type, name.name, name.forward_answer
            ),
        ));
    }
    if let Some(reason) = lists_unknown(&ip.lists) {
        parts.push(Unknown::new("blocklists", subject(), reason));
    }
    if let Some(evaluation) = &ip.spf
        && evaluation.result == SpfResult::TempError
    {
        parts.push(Unknown::new(
            "spf-evaluation",
            subject(),
            format!(
                "a DNS failure while evaluating the SPF policy of {} for it (temperror)",
                evaluation.domain
            ),
        ));
    }
    if let Some(evaluation) = &ip.spf_helo
        && evaluation.result == SpfResult::TempError
    {
        parts.push(Unknown::new(
            "spf-evaluation",
            subject(),
            format!(
                "a DNS failure while evaluating the SPF policy of its HELO name {} for it \
                 (temperror)",
                evaluation.domain
            ),
        ));
    }
}

fn evidence_text<'a>(finding: &'a Finding, key: &str) -> &'a str {
    finding
        .evidence
        .get(key)
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
}

/// A DNS outcome word of the area reports that means "asked and answered".
pub fn answered(status: &str) -> bool {
    matches!(status, "records" | "nodata" | "nxdomain")
}
