//! What the message shows against the standards and the mailbox providers' sender requirements
//! (Gmail and Yahoo from February 2024, Outlook.com from May 2025; see [`crate::requirements`]):
//! the `message.*` findings and the requirements a message can show *met*.

use serde::Serialize;

use crate::dmarc::record::Policy;
use crate::finding::{Code, Finding, Severity};
use crate::requirements::{Requirement, RequirementStatus};
use crate::spf::SpfResult;

use super::Summary;
use super::alignment::{DmarcCheck, DmarcResult};
use super::compare::Comparison;
use super::headers::{self, Field, Hop, SpamVerdict};
use super::sender::SpfCheck;
use super::verify::{ArcReport, AuthResult, DkimSignature, MalformedSignature};

/// The smallest RSA key the providers accept (Gmail and Yahoo: 1024 bits).
const MIN_KEY_BITS: u32 = 1024;
/// The RSA key size recommended (RFC 8301 §3.2 allows 1024; 2048 is what providers advise).
const GOOD_KEY_BITS: u32 = 2048;

/// One-click unsubscribe (RFC 8058) as the message shows it.
#[derive(Clone, Debug, Serialize)]
pub struct Unsubscribe {
    /// The `List-Unsubscribe` URIs (RFC 2369).
    pub uris: Vec<String>,
    /// One of them is HTTPS (RFC 8058 §3.1).
    pub https: bool,
    /// `List-Unsubscribe-Post: List-Unsubscribe=One-Click` is present.
    pub one_click: bool,
    /// Both fields are covered by a passing DKIM signature aligned with From (RFC 8058 §4).
    pub signed: bool,
}

/// Reads the unsubscribe fields and whether a passing aligned signature covers them.
pub fn unsubscribe(fields: &[Field], signatures: &[DkimSignature]) -> Unsubscribe {
    let uris: Vec<String> = headers::values(fields, "list-unsubscribe")
        .flat_map(headers::list_uris)
        .collect();
    let https = uris.iter().any(|u| {
        u.get(..8)
            .is_some_and(|p| p.eq_ignore_ascii_case("https://"))
    });
    let one_click = headers::values(fields, "list-unsubscribe-post").any(|v| {
        v.replace(' ', "")
            .eq_ignore_ascii_case("List-Unsubscribe=One-Click")
    });
    let signed = signatures.iter().any(|s| {
        s.result == AuthResult::Pass
            && s.aligned
            && s.signed_headers.iter().any(|h| h == "list-unsubscribe")
            && s.signed_headers
                .iter()
                .any(|h| h == "list-unsubscribe-post")
    });
    Unsubscribe {
        uris,
        https,
        one_click,
        signed,
    }
}

/// Everything the checks read.
pub struct Facts<'a> {
    pub summary: &'a Summary,
    pub signatures: &'a [DkimSignature],
    pub malformed: &'a [MalformedSignature],
    pub arc: &'a ArcReport,
    pub spf: &'a SpfCheck,
    pub dmarc: &'a DmarcCheck,
    pub hops: &'a [Hop],
    pub unsubscribe: &'a Unsubscribe,
    pub spam_verdicts: &'a [SpamVerdict],
    pub comparison: &'a [Comparison],
}

impl Facts<'_> {
    fn dkim_passes(&self) -> bool {
        self.signatures.iter().any(|s| s.result == AuthResult::Pass)
    }

    fn dkim_unknown(&self) -> bool {
        !self.dkim_passes()
            && self
                .signatures
                .iter()
                .any(|s| s.result == AuthResult::TempError)
    }

    fn spf_passes(&self) -> bool {
        self.spf.result == Some(SpfResult::Pass)
    }

    /// Hops between two hosts on the internet: the client's address is known and not internal
    /// (a loopback, private or link-local hop stays inside one network, where TLS is the
    /// operator's choice; a hop without a client address is the receiver's own relay).
    fn internet_hops(&self) -> impl Iterator<Item = &Hop> {
        self.hops
            .iter()
            .filter(|h| h.ip.is_some_and(|ip| !headers::is_internal(ip)))
    }

    /// Internet hops that say they did not use TLS.
    fn hops_without_tls(&self) -> Vec<&Hop> {
        self.internet_hops()
            .filter(|h| h.tls == Some(false))
            .collect()
    }
}

/// The `message.*` findings.
pub fn findings(facts: &Facts<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    dkim_findings(facts, &mut out);
    spf_dmarc_findings(facts, &mut out);
    format_findings(facts, &mut out);
    out
}

fn dkim_findings(facts: &Facts<'_>, out: &mut Vec<Finding>) {
    if facts.signatures.is_empty() && facts.malformed.is_empty() {
        out.push(
            Finding::new(Code::MessageDkimMissing, "the message has no DKIM signature")
                .fix("sign outgoing mail with DKIM for the From domain (your provider's DKIM setting, or the MTA's signer)"),
        );
    }
    for bad in facts.malformed {
        out.push(
            Finding::new(
                Code::MessageDkimMalformed,
                format!("a DKIM-Signature cannot be read: {}", bad.reason),
            )
            .evidence("header", &bad.header),
        );
    }
    for s in facts.signatures {
        signature_findings(s, out);
    }
    if facts.dkim_passes()
        && !facts
            .signatures
            .iter()
            .any(|s| s.result == AuthResult::Pass && s.aligned)
        && facts.summary.from_domain.is_some()
    {
        out.push(
            Finding::new(
                Code::MessageDkimUnaligned,
                format!(
                    "no passing DKIM signature is aligned with the From domain {}: DMARC cannot pass by DKIM",
                    facts.summary.from_domain.as_deref().unwrap_or_default()
                ),
            )
            .fix("have your sending service sign with d= your own domain (its custom-domain DKIM setup)"),
        );
    }
    if matches!(facts.arc.result, AuthResult::Fail | AuthResult::PermError) {
        out.push(Finding::new(
            Code::MessageArcFail,
            format!(
                "the ARC chain does not verify: {}",
                facts.arc.reason.as_deref().unwrap_or("no reason given")
            ),
        ));
    }
}

/// The findings of one signature.
fn signature_findings(s: &DkimSignature, out: &mut Vec<Finding>) {
    let who = format!("d={} s={}", s.domain, s.selector);
    match s.result {
        AuthResult::Pass | AuthResult::None => {}
        AuthResult::TempError => out.push(
            Finding::new(
                Code::MessageDkimLookupFailed,
                format!("the key of the signature {who} could not be fetched ({}): its result is unknown", s.key_lookup),
            )
            .evidence("selector", &s.selector)
            .evidence("domain", &s.domain),
        ),
        _ if s.expired => {}
        _ => out.push(
            Finding::new(
                Code::MessageDkimFail,
                format!(
                    "the DKIM signature {who} does not verify ({}): {}",
                    s.result.as_str(),
                    s.reason.as_deref().unwrap_or("no reason given")
                ),
            )
            .evidence("domain", &s.domain)
            .evidence("selector", &s.selector)
            .evidence("result", s.result.as_str()),
        ),
    }
    if s.expired {
        let before = s
            .result_ignoring_expiry
            .map_or("unknown", AuthResult::as_str);
        out.push(
            Finding::new(
                Code::MessageDkimExpired,
                format!(
                    "the DKIM signature {who} has expired (x={}); before that it was: {before}",
                    s.expires.unwrap_or_default()
                ),
            )
            .fix("give signatures an expiry of days, not hours, so that forwarded and delayed mail still verifies")
            .evidence("result_ignoring_expiry", before),
        );
    }
    if let Some(length) = s.body_length {
        out.push(
            Finding::new(
                Code::MessageDkimLength,
                format!(
                    "the DKIM signature {who} covers only the first {length} bytes of the body (l=): \
                     anyone can append content below them and the signature still passes"
                ),
            )
            .fix("sign without l= (the whole body)")
            .evidence("l", length),
        );
    }
    if s.from_signed && !s.from_oversigned {
        out.push(
            Finding::new(
                Code::MessageDkimFromNotOversigned,
                format!(
                    "the DKIM signature {who} signs From but does not oversign it: a second From \
                     field added in transit would not break it (RFC 6376 §8.15)"
                ),
            )
            .fix("list From in h= once more than the message has From fields (h=from:from:...)"),
        );
    }
    if !s.unsigned_headers.is_empty() {
        out.push(
            Finding::new(
                Code::MessageDkimHeadersUnsigned,
                format!(
                    "the DKIM signature {who} does not cover {}: they can be changed without breaking it",
                    s.unsigned_headers.join(", ")
                ),
            )
            .fix("add these fields to the signer's list of signed headers")
            .evidence("unsigned", &s.unsigned_headers),
        );
    }
    if let Some(bits) = s
        .key_bits
        .filter(|b| *b < GOOD_KEY_BITS && s.algorithm.starts_with("rsa"))
    {
        let finding = Finding::new(
            Code::MessageDkimWeakKey,
            format!("the DKIM key of {who} is {bits}-bit RSA"),
        )
        .fix("publish a 2048-bit key at a new selector and sign with it")
        .evidence("bits", bits);
        out.push(if bits < MIN_KEY_BITS {
            finding.severity(Severity::Error)
        } else {
            finding
        });
    }
}

fn spf_dmarc_findings(facts: &Facts<'_>, out: &mut Vec<Finding>) {
    let spf = facts.spf;
    match (spf.ip, spf.result) {
        (None, _) | (Some(_), None) => out.push(Finding::new(
            Code::MessageSpfNotChecked,
            format!(
                "SPF was not evaluated: {}",
                spf.reason.as_deref().unwrap_or(&spf.source)
            ),
        )),
        (Some(ip), Some(result)) => {
            let domain = spf.domain.as_deref().unwrap_or_default();
            match result {
                SpfResult::Pass | SpfResult::None | SpfResult::Neutral => {}
                SpfResult::TempError => out.push(Finding::new(
                    Code::MessageSpfLookupFailed,
                    format!(
                        "SPF for {ip} at {domain} could not be evaluated (a DNS failure): unknown"
                    ),
                )),
                SpfResult::Fail | SpfResult::SoftFail | SpfResult::PermError => {
                    let finding = Finding::new(
                        Code::MessageSpfFail,
                        format!(
                            "SPF {} for {ip} at {domain}{}",
                            result.as_str(),
                            spf.reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default()
                        ),
                    )
                    .fix(format!("authorise {ip} in the SPF record of {domain} (its provider's include, or ip4:/ip6:)"))
                    .evidence("ip", ip)
                    .evidence("domain", domain);
                    out.push(if result == SpfResult::SoftFail {
                        finding.severity(Severity::Warning)
                    } else {
                        finding
                    });
                }
            }
        }
    }
    let dmarc = facts.dmarc;
    let from = dmarc.from_domain.as_deref().unwrap_or_default();
    match dmarc.result {
        DmarcResult::Pass | DmarcResult::PermError => {}
        DmarcResult::TempError => out.push(Finding::new(
            Code::MessageDmarcLookupFailed,
            format!("DMARC for {from} could not be evaluated: {}", dmarc.why),
        )),
        DmarcResult::None => out.push(
            Finding::new(Code::MessageDmarcMissing, dmarc.why.clone())
                .fix(format!("publish a DMARC record at _dmarc.{from}, e.g. v=DMARC1; p=none; rua=mailto:dmarc@{from}")),
        ),
        DmarcResult::Fail => {
            let finding = Finding::new(
                Code::MessageDmarcFail,
                format!("DMARC fails for {from}: {}", dmarc.why),
            )
            .fix("make SPF pass for a MAIL FROM in your domain, or DKIM pass with d= your domain")
            .evidence("disposition", dmarc.disposition.as_str());
            out.push(if dmarc.disposition == Policy::None {
                finding
            } else {
                finding.severity(Severity::Critical)
            });
        }
    }
    for differ in facts.comparison.iter().filter(|c| !c.agree) {
        out.push(
            Finding::new(
                Code::MessageResultsDiffer,
                format!(
                    "{} says {}={}, mailaudit says {}: {}",
                    differ.receiver,
                    differ.method,
                    differ.receiver_result,
                    differ.mailaudit_result,
                    differ.explanation.as_deref().unwrap_or_default()
                ),
            )
            .evidence("method", &differ.method),
        );
    }
}

fn format_findings(facts: &Facts<'_>, out: &mut Vec<Finding>) {
    let summary = facts.summary;
    if summary.from_fields != 1 || summary.from.len() != 1 {
        out.push(Finding::new(
            Code::MessageFromCount,
            format!(
                "the message has {} From field(s) with {} address(es): exactly one address is \
                 required (RFC 5322 §3.6.2; Gmail rejects others)",
                summary.from_fields,
                summary.from.len()
            ),
        ));
    }
    if summary.message_id.is_none() {
        out.push(Finding::new(
            Code::MessageNoMessageId,
            "the message has no Message-ID (RFC 5322 §3.6.4 SHOULD; Gmail requires it)",
        ));
    }
    if summary.date.is_none() {
        out.push(Finding::new(
            Code::MessageNoDate,
            "the message has no Date field (RFC 5322 §3.6.1 requires one)",
        ));
    }
    let u = facts.unsubscribe;
    if !(u.https && u.one_click) {
        let missing = match (u.uris.is_empty(), u.https, u.one_click) {
            (true, ..) => "no List-Unsubscribe field",
            (false, false, _) => "no HTTPS List-Unsubscribe URI",
            _ => "no List-Unsubscribe-Post: List-Unsubscribe=One-Click",
        };
        out.push(
            Finding::new(
                Code::MessageNoUnsubscribe,
                format!("no one-click unsubscribe (RFC 8058): {missing}; bulk senders must offer it"),
            )
            .fix("add List-Unsubscribe: <https://...> and List-Unsubscribe-Post: List-Unsubscribe=One-Click to marketing mail"),
        );
    } else if !u.signed {
        out.push(
            Finding::new(
                Code::MessageUnsubscribeUnsigned,
                "List-Unsubscribe and List-Unsubscribe-Post are not both covered by a passing DKIM signature aligned with From (RFC 8058 §4)",
            )
            .fix("sign both fields (add them to h=) with a d= aligned with the From domain"),
        );
    }
    for hop in facts.hops_without_tls() {
        out.push(
            Finding::new(
                Code::MessageNoTls,
                format!(
                    "hop {} ({} to {}) used {} without TLS",
                    hop.index,
                    hop.helo.as_deref().unwrap_or("?"),
                    hop.by.as_deref().unwrap_or("?"),
                    hop.with.as_deref().unwrap_or("SMTP")
                ),
            )
            .evidence("received", &hop.text),
        );
    }
    for verdict in facts.spam_verdicts.iter().filter(|v| headers::is_junk(v)) {
        out.push(Finding::new(
            Code::MessageSpamVerdict,
            format!("{}: {}", verdict.header, verdict.meaning),
        ));
    }
}

fn requirement(
    audience: &str,
    text: &str,
    status: RequirementStatus,
    codes: Vec<Code>,
    detail: String,
) -> Requirement {
    Requirement {
        provider: "Gmail and Yahoo".to_owned(),
        audience: audience.to_owned(),
        requirement: text.to_owned(),
        status,
        codes,
        detail,
    }
}

fn yes(met: bool) -> RequirementStatus {
    if met {
        RequirementStatus::Met
    } else {
        RequirementStatus::NotMet
    }
}

/// The status of each requirement, worked out once from the facts.
struct Statuses {
    spf: RequirementStatus,
    dkim: RequirementStatus,
    /// SPF or DKIM passes.
    either: RequirementStatus,
    /// SPF and DKIM both pass.
    both: RequirementStatus,
    /// The smallest key of a passing signature, in bits.
    smallest_key: Option<u32>,
    key: RequirementStatus,
    tls: RequirementStatus,
    /// Received fields of internet hops that say whether TLS was used.
    tls_known: usize,
    dmarc_record: RequirementStatus,
    aligned: RequirementStatus,
    format_ok: bool,
}

fn statuses(facts: &Facts<'_>) -> Statuses {
    let spf = match facts.spf.result {
        Some(SpfResult::Pass) => RequirementStatus::Met,
        Some(SpfResult::TempError) => RequirementStatus::Unknown,
        Some(_) => RequirementStatus::NotMet,
        None => RequirementStatus::NotChecked,
    };
    let dkim = if facts.dkim_passes() {
        RequirementStatus::Met
    } else if facts.dkim_unknown() {
        RequirementStatus::Unknown
    } else {
        RequirementStatus::NotMet
    };
    let either = if facts.spf_passes() || facts.dkim_passes() {
        RequirementStatus::Met
    } else if spf == RequirementStatus::Unknown || dkim == RequirementStatus::Unknown {
        RequirementStatus::Unknown
    } else {
        RequirementStatus::NotMet
    };
    let both = match (spf, dkim) {
        (RequirementStatus::Met, RequirementStatus::Met) => RequirementStatus::Met,
        (RequirementStatus::NotMet, _) | (_, RequirementStatus::NotMet) => {
            RequirementStatus::NotMet
        }
        (RequirementStatus::NotChecked, _) => RequirementStatus::NotChecked,
        _ => RequirementStatus::Unknown,
    };
    let smallest_key = facts
        .signatures
        .iter()
        .filter(|s| s.result == AuthResult::Pass)
        .filter_map(|s| s.key_bits)
        .min();
    let key = match smallest_key {
        Some(bits) => yes(bits >= MIN_KEY_BITS),
        None if facts.dkim_passes() => RequirementStatus::Unknown,
        None => RequirementStatus::NotMet,
    };
    let tls_known = facts.internet_hops().filter(|h| h.tls.is_some()).count();
    let tls = if tls_known == 0 {
        RequirementStatus::NotChecked
    } else {
        yes(facts.hops_without_tls().is_empty())
    };
    let dmarc = facts.dmarc;
    let dmarc_record = match dmarc.result {
        DmarcResult::TempError => RequirementStatus::Unknown,
        DmarcResult::PermError => RequirementStatus::NotChecked,
        _ => yes(dmarc.applied.is_some()),
    };
    let aligned = match dmarc.result {
        DmarcResult::Pass => RequirementStatus::Met,
        DmarcResult::TempError => RequirementStatus::Unknown,
        _ => yes(dmarc.spf_aligned || dmarc.dkim_aligned),
    };
    let summary = facts.summary;
    let format_ok = summary.from_fields == 1
        && summary.from.len() == 1
        && summary.message_id.is_some()
        && summary.date.is_some();
    Statuses {
        spf,
        dkim,
        either,
        both,
        smallest_key,
        key,
        tls,
        tls_known,
        dmarc_record,
        aligned,
        format_ok,
    }
}

/// The providers' requirements as this message shows them: one row each, a table of data.
pub fn requirements(facts: &Facts<'_>) -> Vec<Requirement> {
    let statuses = statuses(facts);
    let mut rows = all_senders(facts, &statuses);
    rows.extend(bulk_senders(facts, &statuses));
    rows.extend(outlook(&statuses));
    rows
}

fn present(field: Option<&impl Sized>) -> &'static str {
    if field.is_some() {
        "present"
    } else {
        "missing"
    }
}

/// Gmail's and Yahoo's requirements of every sender.
fn all_senders(facts: &Facts<'_>, s: &Statuses) -> Vec<Requirement> {
    let summary = facts.summary;
    vec![
        requirement(
            "all senders",
            "SPF or DKIM passes",
            s.either,
            vec![Code::MessageSpfFail, Code::MessageDkimFail],
            format!("SPF {}, DKIM {}", s.spf.as_str(), s.dkim.as_str()),
        ),
        requirement(
            "all senders",
            "DKIM key of at least 1024 bits",
            s.key,
            vec![Code::MessageDkimWeakKey],
            s.smallest_key.map_or_else(
                || "no passing signature with a key read".to_owned(),
                |b| format!("smallest passing key: {b} bits"),
            ),
        ),
        requirement(
            "all senders",
            "TLS on every hop between internet hosts",
            s.tls,
            vec![Code::MessageNoTls],
            format!(
                "{} of {} hops between internet hosts say whether TLS was used; {} did not use it",
                s.tls_known,
                facts.internet_hops().count(),
                facts.hops_without_tls().len()
            ),
        ),
        requirement(
            "all senders",
            "RFC 5322 format: one From address, Message-ID, Date",
            yes(s.format_ok),
            vec![
                Code::MessageFromCount,
                Code::MessageNoMessageId,
                Code::MessageNoDate,
            ],
            format!(
                "{} From address(es), Message-ID {}, Date {}",
                summary.from.len(),
                present(summary.message_id.as_ref()),
                present(summary.date.as_ref())
            ),
        ),
    ]
}

/// Gmail's and Yahoo's further requirements of bulk senders.
fn bulk_senders(facts: &Facts<'_>, s: &Statuses) -> Vec<Requirement> {
    let dmarc = facts.dmarc;
    let u = facts.unsubscribe;
    vec![
        requirement(
            "bulk senders",
            "SPF and DKIM both pass",
            s.both,
            vec![Code::MessageSpfFail, Code::MessageDkimFail],
            format!("SPF {}, DKIM {}", s.spf.as_str(), s.dkim.as_str()),
        ),
        requirement(
            "bulk senders",
            "a DMARC policy for the From domain (p=none is enough)",
            s.dmarc_record,
            vec![Code::MessageDmarcMissing],
            dmarc
                .found_at
                .clone()
                .unwrap_or_else(|| "no record found".to_owned()),
        ),
        requirement(
            "bulk senders",
            "From domain aligned with SPF or DKIM",
            s.aligned,
            vec![Code::MessageDmarcFail],
            format!(
                "SPF aligned: {}, DKIM aligned: {}",
                dmarc.spf_aligned, dmarc.dkim_aligned
            ),
        ),
        requirement(
            "bulk senders",
            "one-click unsubscribe (RFC 8058) under an aligned valid DKIM signature",
            yes(u.https && u.one_click && u.signed),
            vec![Code::MessageNoUnsubscribe, Code::MessageUnsubscribeUnsigned],
            format!(
                "HTTPS URI: {}, One-Click: {}, signed by an aligned passing signature: {}",
                u.https, u.one_click, u.signed
            ),
        ),
    ]
}

/// Outlook.com's requirements of high-volume senders.
fn outlook(s: &Statuses) -> Vec<Requirement> {
    [
        ("SPF passes", s.spf, vec![Code::MessageSpfFail]),
        ("DKIM passes", s.dkim, vec![Code::MessageDkimFail]),
        (
            "DMARC at least p=none, aligned with SPF or DKIM",
            if s.dmarc_record == RequirementStatus::Met {
                s.aligned
            } else {
                s.dmarc_record
            },
            vec![Code::MessageDmarcFail, Code::MessageDmarcMissing],
        ),
    ]
    .into_iter()
    .map(|(text, status, codes)| Requirement {
        provider: "Outlook.com".to_owned(),
        audience: "high-volume senders".to_owned(),
        requirement: text.to_owned(),
        status,
        codes,
        detail: String::new(),
    })
    .collect()
}
