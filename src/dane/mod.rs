//! DANE for SMTP (RFC 7672): the TLSA records at `_25._tcp.<mx host>` of each MX host (§2.2),
//! asked with DNSSEC's DO bit set as soon as the MX hosts are known, all at once.
//!
//! The records count only when they validated (the AD bit, RFC 7672 §2.2: a sending server
//! uses TLSA records only from a signed zone): from a validating resolver, records without it
//! are `dane.unsigned`; from a resolver that does not validate, whether they count is unknown.
//! Only DANE-TA(2) and DANE-EE(3) records are usable for SMTP (§3.1.3); any other, or one whose
//! fields are undefined or whose digest has the wrong length, is `dane.invalid`. With `--smtp`,
//! the chain each address of the host presented is matched against the usable records
//! (§3.1.1, §3.1.2): none matching is `dane.mismatch`, since sending servers that use DANE
//! then do not deliver (§2.2).

pub mod record;

use aws_lc_rs::digest;
use futures::future::join_all;
use serde::Serialize;

use crate::dns::{Answer, Dns, ResolverValidation, Tlsa, Validated};
use crate::finding::{Checked, Code, Finding, Verdict};
use crate::mx::{HostStatus, MxReport};
use crate::smtp::{PortProbe, Presented};

pub use record::{TlsaParseError, TlsaRecord};

/// The DANE area of the report.
#[derive(Clone, Debug, Serialize)]
pub struct DaneReport {
    pub verdict: Verdict,
    /// Each MX host asked, in preference order.
    pub hosts: Vec<DaneHost>,
}

/// Where DANE stands for one MX host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DaneStatus {
    /// No TLSA records: DANE is not used for the host.
    None,
    /// Validated TLSA records, at least one of them usable for SMTP.
    Usable,
    /// Validated TLSA records, none usable for SMTP.
    Unusable,
    /// TLSA records that did not validate, from a resolver that validates: ignored.
    Unsigned,
    /// The lookup failed, or the resolver does not validate.
    Unknown,
}

/// One MX host's TLSA records.
#[derive(Clone, Debug, Serialize)]
pub struct DaneHost {
    pub host: String,
    /// The name asked: `_25._tcp.<host>`.
    pub name: String,
    /// The DNS outcome: `records`, `nodata`, `nxdomain`, or the failure.
    pub answer: String,
    /// The AD bit of the answer: the records validated.
    pub authenticated: bool,
    pub status: DaneStatus,
    pub records: Vec<TlsaView>,
    /// With `--smtp`, whether a usable record matched the certificate chain every address of
    /// the host presented (`null`: not probed, or nothing to match).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matched: Option<bool>,
    /// Why the host's DANE status is unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unknown: Option<String>,
}

/// One TLSA record, read.
#[derive(Clone, Debug, Serialize)]
pub struct TlsaView {
    /// The presentation form: `3 1 1 <hex>`.
    pub record: String,
    pub usage: u8,
    pub selector: u8,
    pub matching: u8,
    /// DANE for SMTP can use it.
    pub usable: bool,
    /// Why it cannot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// The TLSA answers of the MX hosts, asked before the SMTP probe ends.
pub struct Lookups {
    hosts: Vec<(String, Validated<Tlsa>)>,
    validation: ResolverValidation,
}

/// Asks the TLSA records of every MX host (the domain itself when it has no MX) at once.
pub async fn lookup(dns: &Dns, mx: &MxReport) -> Lookups {
    let hosts: Vec<String> = mx
        .hosts
        .iter()
        .chain(mx.fallback.iter())
        .filter(|host| host.status != HostStatus::IpLiteral)
        .map(|host| host.exchange.clone())
        .collect();
    let names: Vec<String> = hosts.iter().map(|host| tlsa_name(host)).collect();
    let answers = join_all(names.iter().map(|name| dns.tlsa(name)));
    let (answers, validation) = tokio::join!(answers, dns.resolver_validation());
    Lookups {
        hosts: hosts.into_iter().zip(answers).collect(),
        validation,
    }
}

/// The TLSA name of an MX host on port 25 (RFC 7672 §2.2, RFC 6698 §3).
pub fn tlsa_name(host: &str) -> String {
    format!("_25._tcp.{host}")
}

/// Judges the records, and with `probes` (`--smtp`) matches them against what each host
/// presented on port 25.
pub fn judge(lookups: Lookups, probes: &[PortProbe]) -> Checked<DaneReport> {
    let mut findings = Vec::new();
    let mut hosts = Vec::new();
    for (host, validated) in lookups.hosts {
        let probe = probes.iter().find(|p| p.host == host && p.port == 25);
        hosts.push(judge_host(
            &host,
            &validated,
            &lookups.validation,
            probe,
            &mut findings,
        ));
    }
    let answered = hosts.iter().all(|h| h.status != DaneStatus::Unknown);
    let verdict = Verdict::from_findings(&findings, answered);
    Checked {
        report: DaneReport { verdict, hosts },
        findings,
    }
}

fn judge_host(
    host: &str,
    validated: &Validated<Tlsa>,
    validation: &ResolverValidation,
    probe: Option<&PortProbe>,
    findings: &mut Vec<Finding>,
) -> DaneHost {
    let name = tlsa_name(host);
    let records: Vec<TlsaRecord> = validated
        .answer
        .records()
        .iter()
        .map(TlsaRecord::from_dns)
        .collect();
    let views: Vec<TlsaView> = records
        .iter()
        .map(|record| {
            let problem = record.unusable();
            TlsaView {
                record: record.to_text(),
                usage: record.usage,
                selector: record.selector,
                matching: record.matching,
                usable: problem.is_none(),
                problem,
            }
        })
        .collect();
    let resolver = validated.server.or(validation.server).map_or_else(
        || "the resolver".to_owned(),
        |s| format!("the resolver {s}"),
    );
    let mut report = DaneHost {
        host: host.to_owned(),
        name: name.clone(),
        answer: validated.answer.status(),
        authenticated: validated.authentic,
        status: DaneStatus::None,
        records: views,
        matched: None,
        unknown: None,
    };
    if let Answer::Failed(failure) = &validated.answer {
        let reason = format!("the TLSA lookup of {name} failed ({})", failure.label());
        findings.push(
            Finding::new(
                Code::DaneLookupFailed,
                format!("DANE status of {host} unknown: {reason}"),
            )
            .fix(format!(
                "Check that the name servers of {host} answer TLSA questions (a signed zone \
                 whose TLSA lookups fail makes DANE senders defer mail, RFC 7672 §2.2), then \
                 audit again"
            ))
            .evidence("name", &name)
            .evidence("exchange", host)
            .evidence("answer", failure.label()),
        );
        report.status = DaneStatus::Unknown;
        report.unknown = Some(reason);
        return report;
    }
    if records.is_empty() {
        return report;
    }
    let texts: Vec<String> = records.iter().map(TlsaRecord::to_text).collect();
    if !validated.authentic {
        not_validated(&mut report, &texts, &resolver, validation, findings);
        return report;
    }
    for (record, text) in records.iter().zip(&texts) {
        if let Some(problem) = record.unusable() {
            findings.push(
                Finding::new(
                    Code::DaneInvalid,
                    format!("TLSA record {name} \"{text}\" cannot be used for SMTP: {problem}"),
                )
                .fix(format!(
                    "Publish {name}. IN TLSA 3 1 1 <SHA-256 of the server's public key> (DANE-EE, \
                     RFC 7672 §3.1.1) and remove this record"
                ))
                .evidence("name", &name)
                .evidence("record", text),
            );
        }
    }
    let usable: Vec<&TlsaRecord> = records.iter().filter(|r| r.unusable().is_none()).collect();
    report.status = if usable.is_empty() {
        DaneStatus::Unusable
    } else {
        DaneStatus::Usable
    };
    if let Some(probe) = probe.filter(|_| !usable.is_empty()) {
        report.matched = match_probe(host, &name, &usable, probe, findings);
    }
    report
}

/// TLSA records the resolver did not validate: ignored by senders when the resolver validates
/// (`dane.unsigned`), unknown when it does not.
fn not_validated(
    report: &mut DaneHost,
    texts: &[String],
    resolver: &str,
    validation: &ResolverValidation,
    findings: &mut Vec<Finding>,
) {
    let (host, name) = (&report.host, &report.name);
    if validation.validates == Some(true) {
        findings.push(
            Finding::new(
                Code::DaneUnsigned,
                format!(
                    "{host} publishes TLSA records but they are not DNSSEC-validated \
                     ({resolver} validates, and did not set the AD bit): sending servers \
                     ignore them (RFC 7672 §2.2), so DANE does not protect mail to {host}"
                ),
            )
            .fix(format!(
                "Sign the zone of {host} and publish its DS at the parent, or remove the TLSA \
                 records at {name}"
            ))
            .evidence("name", name)
            .evidence("records", texts),
        );
        report.status = DaneStatus::Unsigned;
    } else {
        report.unknown = Some(format!(
            "{host} publishes TLSA records, but {resolver} does not validate DNSSEC: whether \
             they are signed (and so whether DANE applies) is unknown"
        ));
        report.status = DaneStatus::Unknown;
    }
}

/// Matches the usable records against the chain each address of `probe` presented: a
/// `dane.mismatch` for each address none matches. `None` when no address presented one.
fn match_probe(
    host: &str,
    name: &str,
    usable: &[&TlsaRecord],
    probe: &PortProbe,
    findings: &mut Vec<Finding>,
) -> Option<bool> {
    let mut matched = None;
    for session in &probe.sessions {
        let Some(certificate) = session.tls.as_ref().and_then(|t| t.certificate.as_ref()) else {
            continue;
        };
        let chain = &certificate.presented;
        if chain.is_empty() {
            continue;
        }
        let ok = usable.iter().any(|record| record.matches_chain(chain));
        matched = Some(matched.unwrap_or(true) && ok);
        if ok {
            continue;
        }
        let spki = spki_sha256(&chain[0]);
        let records: Vec<String> = usable.iter().map(|r| r.to_text()).collect();
        findings.push(
            Finding::new(
                Code::DaneMismatch,
                format!(
                    "{host} ({}) presented a certificate that none of its TLSA records matches: \
                     sending servers that use DANE will not deliver mail to it (RFC 7672 §2.2)",
                    session.ip
                ),
            )
            .fix(format!(
                "Publish {name}. IN TLSA 3 1 1 {spki} (the key the server presents now) beside \
                 the records, or have the server present the certificate they name"
            ))
            .evidence("name", name)
            .evidence("exchange", host)
            .evidence("ip", session.ip.to_string())
            .evidence("records", &records)
            .evidence("presented_spki_sha256", &spki)
            .evidence("subject", &certificate.subject),
        );
    }
    matched
}

/// The SHA-256 of a certificate's `SubjectPublicKeyInfo`, hex: the data of a `3 1 1` record.
fn spki_sha256(certificate: &Presented) -> String {
    record::to_hex(digest::digest(&digest::SHA256, &certificate.spki).as_ref())
}
