//! The mailbox providers' published sender requirements, checked against what the audit found.
//!
//! - Gmail and Yahoo, from February 2024: all senders must authenticate with SPF or DKIM, use
//!   DKIM keys of at least 1024 bits, have forward-confirmed reverse DNS on sending IPs and send
//!   over TLS; bulk senders (about 5,000 messages a day to Gmail) must have both SPF and DKIM,
//!   a DMARC record (`p=none` is enough), a From domain aligned with SPF or DKIM, and one-click
//!   unsubscribe (RFC 8058).
//! - Outlook.com consumer mailboxes, from May 2025, for senders of more than 5,000 messages a
//!   day: SPF passing, DKIM passing, DMARC at least `p=none` and aligned with SPF or DKIM.
//!
//! Each requirement is met, not met, or unknown (a DNS failure), or says plainly that DNS cannot
//! show it (one-click unsubscribe) or that it was not checked (TLS without an SMTP probe, reverse
//! DNS without `--ip`). Never "met" for what was not seen.

use serde::{Deserialize, Serialize};

use crate::dkim::{DkimReport, SelectorStatus};
use crate::finding::{Code, Finding};
use crate::report::DomainAreas;

/// Where a requirement stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RequirementStatus {
    Met,
    NotMet,
    /// A DNS failure kept it from being decided.
    Unknown,
    /// Could be checked, but this run did not (give `--ip`, or an SMTP probe).
    NotChecked,
    /// Cannot be seen in DNS at all (e.g. headers of the mail itself).
    NotCheckable,
}

impl RequirementStatus {
    /// The words shown in tables.
    pub fn as_str(self) -> &'static str {
        match self {
            RequirementStatus::Met => "met",
            RequirementStatus::NotMet => "not met",
            RequirementStatus::Unknown => "unknown",
            RequirementStatus::NotChecked => "not checked",
            RequirementStatus::NotCheckable => "not checkable here",
        }
    }
}

/// One published requirement and where the domain stands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Requirement {
    /// "Gmail and Yahoo" or "Outlook.com".
    pub provider: String,
    /// "all senders", "bulk senders" or "high-volume senders".
    pub audience: String,
    pub requirement: String,
    pub status: RequirementStatus,
    /// The findings that decided it.
    pub codes: Vec<Code>,
    /// Why, in one line.
    pub detail: String,
}

/// Met when either is met; not met when both are not; unknown otherwise.
fn either(a: &Standing, b: &Standing) -> Standing {
    combine(a, b, true)
}

/// Met when both are met; not met when either is not; unknown otherwise.
fn both(a: &Standing, b: &Standing) -> Standing {
    combine(a, b, false)
}

/// What the checks need to know, worked out once from the audit.
struct Facts<'a> {
    findings: &'a [Finding],
    spf: Standing,
    dkim: Standing,
    dkim_strong_enough: Standing,
    dmarc: Standing,
    aligned: Standing,
    fcrdns: Standing,
}

/// Whether something holds, with the codes that say so.
#[derive(Clone, Debug)]
struct Standing {
    status: RequirementStatus,
    codes: Vec<Code>,
    detail: String,
}

impl Standing {
    fn new(status: RequirementStatus, codes: Vec<Code>, detail: impl Into<String>) -> Standing {
        Standing {
            status,
            codes,
            detail: detail.into(),
        }
    }
}

/// SPF findings that make receivers return permerror or none: SPF does not pass.
const SPF_BROKEN: &[Code] = &[
    Code::SpfMissing,
    Code::SpfMultipleRecords,
    Code::SpfSyntax,
    Code::SpfLookupLimit,
    Code::SpfVoidLookupLimit,
    Code::SpfIncludeMissing,
    Code::SpfLoop,
    Code::SpfMxLimit,
];

/// DMARC findings that leave the domain without a usable record.
const DMARC_BROKEN: &[Code] = &[Code::DmarcMissing, Code::DmarcMultipleRecords];

/// Checks the domain (and its `--ip`s) against every provider's requirements.
pub fn evaluate(areas: &DomainAreas, findings: &[Finding]) -> Vec<Requirement> {
    let facts = Facts::gather(areas, findings);
    let spf_and_dkim = both(&facts.spf, &facts.dkim);
    let spf_or_dkim = either(&facts.spf, &facts.dkim);
    let dmarc_aligned = both(&facts.dmarc, &facts.aligned);
    let gmail = "Gmail and Yahoo";
    let outlook = "Outlook.com";
    let rule =
        |provider: &str, audience: &str, requirement: &str, standing: &Standing| Requirement {
            provider: provider.to_owned(),
            audience: audience.to_owned(),
            requirement: requirement.to_owned(),
            status: standing.status,
            codes: standing.codes.clone(),
            detail: standing.detail.clone(),
        };
    let tls = Standing::new(
        RequirementStatus::NotChecked,
        Vec::new(),
        "TLS is seen only by connecting to the mail servers (an SMTP probe); this audit asked DNS only",
    );
    let unsubscribe = Standing::new(
        RequirementStatus::NotCheckable,
        Vec::new(),
        "one-click unsubscribe (RFC 8058 List-Unsubscribe-Post) is a header of each message: DNS cannot show it",
    );
    vec![
        rule(
            gmail,
            "all senders",
            "SPF or DKIM authentication",
            &spf_or_dkim,
        ),
        rule(
            gmail,
            "all senders",
            "DKIM keys of at least 1024 bits",
            &facts.dkim_strong_enough,
        ),
        rule(
            gmail,
            "all senders",
            "forward-confirmed reverse DNS for sending IPs",
            &facts.fcrdns,
        ),
        rule(gmail, "all senders", "TLS for transmission", &tls),
        rule(gmail, "bulk senders", "both SPF and DKIM", &spf_and_dkim),
        rule(
            gmail,
            "bulk senders",
            "a DMARC record (p=none is enough)",
            &facts.dmarc,
        ),
        rule(
            gmail,
            "bulk senders",
            "From domain aligned with SPF or DKIM",
            &facts.aligned,
        ),
        rule(gmail, "bulk senders", "one-click unsubscribe", &unsubscribe),
        rule(outlook, "high-volume senders", "SPF passing", &facts.spf),
        rule(outlook, "high-volume senders", "DKIM passing", &facts.dkim),
        rule(
            outlook,
            "high-volume senders",
            "DMARC at least p=none, aligned",
            &dmarc_aligned,
        ),
    ]
}

impl<'a> Facts<'a> {
    fn gather(areas: &DomainAreas, findings: &'a [Finding]) -> Facts<'a> {
        let mut facts = Facts {
            findings,
            spf: Standing::new(RequirementStatus::Met, Vec::new(), ""),
            dkim: dkim_standing(&areas.dkim, findings),
            dkim_strong_enough: Standing::new(RequirementStatus::Met, Vec::new(), ""),
            dmarc: Standing::new(RequirementStatus::Met, Vec::new(), ""),
            aligned: Standing::new(RequirementStatus::Met, Vec::new(), ""),
            fcrdns: fcrdns_standing(areas, findings),
        };
        facts.spf = facts.standing(
            SPF_BROKEN,
            Code::SpfLookupFailed,
            "the domain publishes a valid SPF record",
            "SPF does not pass",
        );
        facts.dmarc = facts.standing(
            DMARC_BROKEN,
            Code::DmarcLookupFailed,
            "a DMARC record applies to the domain",
            "no usable DMARC record",
        );
        // A record whose policy does not parse asks receivers for nothing (RFC 9989 §4.7).
        let policy_applies = areas
            .dmarc
            .effective_policy
            .as_ref()
            .is_some_and(|p| p.requested.is_some());
        if facts.dmarc.status == RequirementStatus::Met && !policy_applies {
            facts.dmarc = Standing::new(
                RequirementStatus::NotMet,
                vec![Code::DmarcSyntax],
                "the DMARC record requests no valid policy (p=)",
            );
        }
        // With sending IPs given, "SPF passing" is what check_host says for them, not only
        // that a record parses.
        if facts.spf.status == RequirementStatus::Met
            && let Some(ips) = spf_for_ips(areas)
        {
            facts.spf = ips;
        }
        facts.dkim_strong_enough = if facts.has(Code::DkimInsecureKey) {
            Standing::new(
                RequirementStatus::NotMet,
                vec![Code::DkimInsecureKey],
                "a DKIM key is shorter than 1024 bits",
            )
        } else if facts.dkim.status == RequirementStatus::Met {
            Standing::new(
                RequirementStatus::Met,
                Vec::new(),
                "every DKIM key found has at least 1024 bits",
            )
        } else {
            Standing::new(
                facts.dkim.status,
                facts.dkim.codes.clone(),
                "no usable DKIM key to measure",
            )
        };
        // SPF aligns when the domain authorises its own envelope senders; DKIM when it signs
        // with its own d= (a key under its _domainkey). Either lets DMARC pass (RFC 7489 §3.1).
        facts.aligned = either(&facts.spf, &facts.dkim);
        facts
    }

    fn has(&self, code: Code) -> bool {
        self.findings.iter().any(|f| f.code == code)
    }

    /// Not met when any `broken` code was raised, unknown when `failed` was, met otherwise.
    fn standing(&self, broken: &[Code], failed: Code, met: &str, not_met: &str) -> Standing {
        let raised: Vec<Code> = broken.iter().copied().filter(|&c| self.has(c)).collect();
        if !raised.is_empty() {
            Standing::new(RequirementStatus::NotMet, raised, not_met)
        } else if self.has(failed) {
            Standing::new(
                RequirementStatus::Unknown,
                vec![failed],
                "a DNS failure: unknown",
            )
        } else {
            Standing::new(RequirementStatus::Met, Vec::new(), met)
        }
    }
}

fn combine(a: &Standing, b: &Standing, any: bool) -> Standing {
    use RequirementStatus::{Met, NotMet, Unknown};
    let met = |s: &Standing| s.status == Met;
    let not_met = |s: &Standing| s.status == NotMet;
    let status = match (any, met(a), met(b)) {
        (true, true, _) | (true, _, true) | (false, true, true) => Met,
        (true, false, false) if not_met(a) && not_met(b) => NotMet,
        (false, _, _) if not_met(a) || not_met(b) => NotMet,
        _ => Unknown,
    };
    let mut codes = Vec::new();
    if status != Met {
        for code in a.codes.iter().chain(&b.codes) {
            if !codes.contains(code) {
                codes.push(*code);
            }
        }
    }
    Standing::new(status, codes, format!("{}; {}", a.detail, b.detail))
}

/// SPF for the `--ip`s: met when every one passes `check_host()` (RFC 7208 §2.6.3), unknown on a
/// temperror, not met otherwise; `None` when no IP was evaluated.
fn spf_for_ips(areas: &DomainAreas) -> Option<Standing> {
    use crate::spf::SpfResult;
    let evaluations: Vec<_> = areas.ips.iter().filter_map(|ip| ip.spf.as_ref()).collect();
    if evaluations.is_empty() {
        return None;
    }
    let failing: Vec<String> = evaluations
        .iter()
        .filter(|e| !matches!(e.result, SpfResult::Pass | SpfResult::TempError))
        .map(|e| format!("{} ({})", e.ip, e.result.as_str()))
        .collect();
    Some(if !failing.is_empty() {
        Standing::new(
            RequirementStatus::NotMet,
            vec![Code::SpfIpNotAuthorized],
            format!("SPF does not pass for {}", failing.join(", ")),
        )
    } else if evaluations.iter().any(|e| e.result == SpfResult::TempError) {
        Standing::new(
            RequirementStatus::Unknown,
            vec![Code::SpfLookupFailed],
            "a DNS failure while evaluating SPF for a sending IP",
        )
    } else {
        Standing::new(
            RequirementStatus::Met,
            Vec::new(),
            "SPF passes for every sending IP given",
        )
    })
}

/// DKIM passes when at least one selector holds a usable key (parsed, not revoked).
fn dkim_standing(report: &DkimReport, findings: &[Finding]) -> Standing {
    let usable: Vec<&str> = report
        .selectors
        .iter()
        .filter(|s| s.status == SelectorStatus::Key)
        .filter(|s| s.keys.iter().any(|k| k.key.is_some() && !k.is_revoked()))
        .map(|s| s.selector.as_str())
        .collect();
    if !usable.is_empty() {
        return Standing::new(
            RequirementStatus::Met,
            Vec::new(),
            format!("a DKIM key is published at {}", usable.join(", ")),
        );
    }
    let raised: Vec<Code> = [
        Code::DkimNotFound,
        Code::DkimSyntax,
        Code::DkimRevoked,
        Code::DkimLookupFailed,
    ]
    .into_iter()
    .filter(|&c| findings.iter().any(|f| f.code == c))
    .collect();
    if raised.contains(&Code::DkimLookupFailed) {
        Standing::new(
            RequirementStatus::Unknown,
            raised,
            "a DKIM lookup failed and no key was found",
        )
    } else {
        Standing::new(
            RequirementStatus::NotMet,
            raised,
            "no usable DKIM key at any selector tried",
        )
    }
}

/// Forward-confirmed reverse DNS of every `--ip`; not checked without one.
fn fcrdns_standing(areas: &DomainAreas, findings: &[Finding]) -> Standing {
    if areas.ips.is_empty() {
        return Standing::new(
            RequirementStatus::NotChecked,
            Vec::new(),
            "give the sending IPs with --ip to check their reverse DNS",
        );
    }
    let mut failing = Vec::new();
    let mut unknown = Vec::new();
    for ip in &areas.ips {
        match ip.reverse_dns.fcrdns {
            Some(true) => {}
            Some(false) => failing.push(ip.ip.to_string()),
            None if matches!(ip.reverse_dns.answer.as_str(), "nxdomain" | "nodata") => {
                failing.push(ip.ip.to_string());
            }
            None => unknown.push(ip.ip.to_string()),
        }
    }
    if !failing.is_empty() {
        let raised = [Code::IpNoPtr, Code::IpFcrdnsMismatch]
            .into_iter()
            .filter(|&c| findings.iter().any(|f| f.code == c))
            .collect();
        Standing::new(
            RequirementStatus::NotMet,
            raised,
            format!("no forward-confirmed PTR for {}", failing.join(", ")),
        )
    } else if !unknown.is_empty() {
        Standing::new(
            RequirementStatus::Unknown,
            Vec::new(),
            format!("reverse DNS unknown for {}", unknown.join(", ")),
        )
    } else {
        Standing::new(
            RequirementStatus::Met,
            Vec::new(),
            "every sending IP has forward-confirmed reverse DNS",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RequirementStatus::{Met, NotMet, Unknown};

    fn standing(status: RequirementStatus, code: Code) -> Standing {
        Standing::new(status, vec![code], format!("{code}"))
    }

    #[test]
    fn either_is_met_by_one_and_unknown_only_when_nothing_decides() {
        let spf_ok = standing(Met, Code::SpfMissing);
        let spf_bad = standing(NotMet, Code::SpfMissing);
        let dkim_bad = standing(NotMet, Code::DkimNotFound);
        let dkim_unknown = standing(Unknown, Code::DkimLookupFailed);
        assert_eq!(either(&spf_ok, &dkim_bad).status, Met);
        assert!(
            either(&spf_ok, &dkim_bad).codes.is_empty(),
            "a met requirement names no problem"
        );
        assert_eq!(either(&spf_bad, &dkim_bad).status, NotMet);
        assert_eq!(either(&spf_bad, &dkim_unknown).status, Unknown);
    }

    #[test]
    fn both_fails_on_one_and_names_the_codes_behind_it() {
        let spf_ok = standing(Met, Code::SpfMissing);
        let dkim_bad = standing(NotMet, Code::DkimNotFound);
        let dkim_unknown = standing(Unknown, Code::DkimLookupFailed);
        let combined = both(&spf_ok, &dkim_bad);
        assert_eq!(combined.status, NotMet);
        assert!(combined.codes.contains(&Code::DkimNotFound));
        assert_eq!(both(&spf_ok, &dkim_unknown).status, Unknown);
        assert_eq!(both(&spf_ok, &spf_ok).status, Met);
    }
}
