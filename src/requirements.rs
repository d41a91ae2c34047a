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
//! How each is judged is part of its status. A requirement about what DNS holds (a DMARC
//! record, DKIM key sizes) is *met* or *not met* from DNS. A requirement about mail passing a
//! check (SPF passing, DKIM passing, alignment) is *met* only when it was evaluated — SPF
//! `check_host()` for the sending IPs given with `--ip` — and otherwise at best *published*:
//! DNS holds what it needs, but nothing was sent or evaluated. *Unknown* is a DNS failure;
//! *not checked* could be checked by this tool with more input (`--ip`, an SMTP probe); *not
//! checkable here* cannot be seen in DNS at all (a header of each message).

use serde::{Deserialize, Serialize};

use crate::dkim::DkimReport;
use crate::finding::{Code, Finding, Verdict};
use crate::report::DomainAreas;
use crate::spf;

/// Where a requirement stands, and how that was judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RequirementStatus {
    /// Evaluated and holds: for a DNS requirement, DNS shows it; for a passing requirement,
    /// it was evaluated for the sending IPs given.
    Met,
    /// DNS holds what the requirement needs, but whether mail passes was not evaluated
    /// (nothing was sent): never "met" from DNS alone.
    Published,
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
            RequirementStatus::Published => "published, not evaluated",
            RequirementStatus::NotMet => "not met",
            RequirementStatus::Unknown => "unknown",
            RequirementStatus::NotChecked => "not checked",
            RequirementStatus::NotCheckable => "not checkable here",
        }
    }

    /// The colour it is shown in, as an area verdict: only "met" is ok.
    pub fn tone(self) -> Verdict {
        match self {
            RequirementStatus::Met => Verdict::Ok,
            RequirementStatus::NotMet => Verdict::Fail,
            RequirementStatus::Unknown => Verdict::Unknown,
            RequirementStatus::Published
            | RequirementStatus::NotChecked
            | RequirementStatus::NotCheckable => Verdict::Weak,
        }
    }

    /// How strongly it holds, for combining: not met, unknown, published, met. Not checked and
    /// not checkable never take part in a combination.
    fn rank(self) -> u8 {
        match self {
            RequirementStatus::NotMet => 0,
            RequirementStatus::Unknown
            | RequirementStatus::NotChecked
            | RequirementStatus::NotCheckable => 1,
            RequirementStatus::Published => 2,
            RequirementStatus::Met => 3,
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

/// One line per provider, in their order: how many of its requirements are not met, and how
/// the rest stand (`Gmail and Yahoo: 2 of 8 not met (3 met, 3 not checked)`), then `after`
/// (where the format shows every row). The text formats show these instead of the full table
/// unless asked.
pub fn summary_lines(requirements: &[Requirement], after: &str) -> Vec<String> {
    let mut providers: Vec<&str> = Vec::new();
    for requirement in requirements {
        if !providers.contains(&requirement.provider.as_str()) {
            providers.push(&requirement.provider);
        }
    }
    providers
        .into_iter()
        .map(|provider| {
            let of: Vec<&Requirement> = requirements
                .iter()
                .filter(|r| r.provider == provider)
                .collect();
            let count =
                |status: RequirementStatus| of.iter().filter(|r| r.status == status).count();
            let others: Vec<String> = [
                RequirementStatus::Met,
                RequirementStatus::Published,
                RequirementStatus::Unknown,
                RequirementStatus::NotChecked,
                RequirementStatus::NotCheckable,
            ]
            .into_iter()
            .filter(|s| count(*s) > 0)
            .map(|s| format!("{} {}", count(s), s.as_str()))
            .collect();
            let others = if others.is_empty() {
                String::new()
            } else {
                format!(" ({})", others.join(", "))
            };
            format!(
                "{provider}: {} of {} not met{others}{after}",
                count(RequirementStatus::NotMet),
                of.len(),
            )
        })
        .collect()
}

/// The stronger of two ways to meet a requirement: met when either is met, published when
/// either is published, not met when both are not, unknown otherwise.
fn either(a: &Standing, b: &Standing) -> Standing {
    let status = if a.status.rank() >= b.status.rank() {
        a.status
    } else {
        b.status
    };
    combined(status, a, b)
}

/// Both at once: not met when either is not, unknown when either is, published when either
/// is only published, met when both are met.
fn both(a: &Standing, b: &Standing) -> Standing {
    let status = if a.status.rank() <= b.status.rank() {
        a.status
    } else {
        b.status
    };
    combined(status, a, b)
}

/// A combined standing: the codes of both (unless met), both details.
fn combined(status: RequirementStatus, a: &Standing, b: &Standing) -> Standing {
    let mut codes = Vec::new();
    if status != RequirementStatus::Met {
        for code in a.codes.iter().chain(&b.codes) {
            if !codes.contains(code) {
                codes.push(*code);
            }
        }
    }
    Standing::new(status, codes, format!("{}; {}", a.detail, b.detail))
}

/// What the checks need to know, worked out once from the audit.
struct Facts {
    /// SPF passing: evaluated for the `--ip`s, else only whether a valid record is published.
    spf: Standing,
    /// DKIM passing: at best published (a signature is seen only in a message).
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
    let tls = tls_standing(areas, findings);
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

impl Facts {
    fn gather(areas: &DomainAreas, findings: &[Finding]) -> Facts {
        let has = |code: Code| findings.iter().any(|f| f.code == code);
        let raised =
            |codes: &[Code]| -> Vec<Code> { codes.iter().copied().filter(|&c| has(c)).collect() };
        let spf_broken = raised(spf::BROKEN);
        let spf_record = if !spf_broken.is_empty() {
            Standing::new(RequirementStatus::NotMet, spf_broken, "SPF does not pass")
        } else if areas.spf.verdict == Verdict::Unknown {
            unknown(findings, Code::SpfLookupFailed, "SPF")
        } else {
            Standing::new(
                RequirementStatus::Published,
                Vec::new(),
                "a valid SPF record is published; whether mail passes is seen only for its \
                 sending IPs (--ip)",
            )
        };
        // With sending IPs given, "SPF passing" is what check_host says for them.
        let spf = match spf_for_ips(areas) {
            Some(ips) if spf_record.status == RequirementStatus::Published => ips,
            _ => spf_record,
        };
        let dkim = dkim_standing(&areas.dkim, findings);
        let dkim_strong_enough = if has(Code::DkimInsecureKey) {
            Standing::new(
                RequirementStatus::NotMet,
                vec![Code::DkimInsecureKey],
                "a DKIM key is shorter than 1024 bits",
            )
        } else if dkim.status == RequirementStatus::Published || measured_dkim_key(&areas.dkim) {
            // Measured even when the key is unusable for another reason (h=sha1 only): the
            // size is what this requirement asks.
            Standing::new(
                RequirementStatus::Met,
                Vec::new(),
                "every DKIM key found has at least 1024 bits",
            )
        } else if dkim.status == RequirementStatus::Unknown {
            dkim.clone()
        } else {
            Standing::new(
                RequirementStatus::NotChecked,
                Vec::new(),
                "no DKIM key found to measure (give its selector with --selector)",
            )
        };
        let dmarc_broken = raised(DMARC_BROKEN);
        // A record whose policy does not parse asks receivers for nothing (RFC 9989 §4.7).
        let policy_applies = areas
            .dmarc
            .effective_policy
            .as_ref()
            .is_some_and(|p| p.requested.is_some());
        let dmarc = if !dmarc_broken.is_empty() {
            Standing::new(
                RequirementStatus::NotMet,
                dmarc_broken,
                "no usable DMARC record",
            )
        } else if areas.dmarc.verdict == Verdict::Unknown && !policy_applies {
            unknown(findings, Code::DmarcLookupFailed, "DMARC")
        } else if !policy_applies {
            Standing::new(
                RequirementStatus::NotMet,
                vec![Code::DmarcSyntax],
                "no DMARC policy applies: the record is discarded (a tag repeated) or requests no \
                 valid p= and has no valid rua",
            )
        } else {
            Standing::new(
                RequirementStatus::Met,
                Vec::new(),
                "a DMARC record applies to the domain",
            )
        };
        // SPF aligns when the domain authorises its own envelope senders (check_host() for
        // the --ips uses postmaster@<domain>); DKIM when it signs with its own d= (a key under
        // its _domainkey). Either lets DMARC pass (RFC 7489 §3.1).
        let aligned = either(&spf, &dkim);
        Facts {
            spf,
            dkim,
            dkim_strong_enough,
            dmarc,
            aligned,
            fcrdns: fcrdns_standing(areas, findings),
        }
    }
}

/// An area a DNS failure left undecided, with the finding that says why: the area's own
/// lookup failure, or the domain's name servers failing.
fn unknown(findings: &[Finding], failed: Code, area: &str) -> Standing {
    let codes = [failed, Code::DnsNameserversFailed]
        .into_iter()
        .filter(|&code| findings.iter().any(|f| f.code == code))
        .take(1)
        .collect();
    Standing::new(
        RequirementStatus::Unknown,
        codes,
        format!("a DNS failure left {area} unknown"),
    )
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

/// Whether a DKIM key was read at any selector, so that its size is known.
fn measured_dkim_key(report: &DkimReport) -> bool {
    report
        .selectors
        .iter()
        .any(|s| s.keys.iter().any(|k| k.key.is_some()))
}

/// What makes a DKIM key found unusable ([`crate::dkim::is_usable`]).
const DKIM_UNUSABLE: &[Code] = &[
    Code::DkimSha1,
    Code::DkimSyntax,
    Code::DkimInsecureKey,
    Code::DkimRevoked,
];

/// DKIM passing is seen only in a signed message: a usable key ([`crate::dkim::is_usable`])
/// makes it *published*, never *met*; keys that no verifier uses make it *not met*.
fn dkim_standing(report: &DkimReport, findings: &[Finding]) -> Standing {
    let usable = report.usable_selectors();
    if !usable.is_empty() {
        return Standing::new(
            RequirementStatus::Published,
            Vec::new(),
            format!(
                "a DKIM key is published at {}; whether mail is signed with it is seen only in a message",
                usable.join(", ")
            ),
        );
    }
    if report.verdict == Verdict::Unknown {
        return unknown(findings, Code::DkimLookupFailed, "DKIM");
    }
    if report.found.is_empty() {
        return Standing::new(
            RequirementStatus::NotMet,
            vec![Code::DkimNotFound],
            "no DKIM key at any selector tried",
        );
    }
    let codes = DKIM_UNUSABLE
        .iter()
        .copied()
        .filter(|&code| findings.iter().any(|f| f.code == code))
        .collect();
    Standing::new(
        RequirementStatus::NotMet,
        codes,
        format!(
            "no DKIM key found is usable by verifiers ({})",
            report.found.join(", ")
        ),
    )
}

/// TLS, as the MX hosts probed with `--smtp` show it: not met when one does not offer STARTTLS
/// or its handshake fails; published (in place, not evaluated for the mail the domain sends)
/// when every one that answered speaks TLS; not checked without `--smtp`.
fn tls_standing(areas: &DomainAreas, findings: &[Finding]) -> Standing {
    use crate::smtp::Outcome;
    if areas.smtp.is_empty() {
        return Standing::new(
            RequirementStatus::NotChecked,
            Vec::new(),
            "TLS is seen only by connecting to the mail servers: audit with --smtp",
        );
    }
    let sessions: Vec<(&str, &crate::smtp::Session)> = areas
        .smtp
        .iter()
        .flat_map(|probe| probe.sessions.iter().map(move |s| (probe.host.as_str(), s)))
        .collect();
    let without_tls: Vec<String> = sessions
        .iter()
        .filter(|(_, s)| {
            s.outcome == Outcome::TlsFailed || (s.outcome == Outcome::Completed && s.tls.is_none())
        })
        .map(|(host, s)| format!("{host} ({})", s.ip))
        .collect();
    let with_tls = sessions.iter().filter(|(_, s)| s.tls.is_some()).count();
    if !without_tls.is_empty() {
        let raised = [
            Code::SmtpNoStarttls,
            Code::SmtpTlsFailed,
            Code::SmtpTlsOutdated,
        ]
        .into_iter()
        .filter(|&c| findings.iter().any(|f| f.code == c))
        .collect();
        Standing::new(
            RequirementStatus::NotMet,
            raised,
            format!("no TLS with {}", without_tls.join(", ")),
        )
    } else if with_tls == 0 {
        Standing::new(
            RequirementStatus::Unknown,
            Vec::new(),
            "no MX host could be probed (see the SMTP findings)",
        )
    } else {
        Standing::new(
            RequirementStatus::Published,
            Vec::new(),
            "every MX host that answered speaks TLS (STARTTLS on port 25); whether the sending \
             servers use TLS is seen in the Received headers of mail",
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
    use RequirementStatus::{Met, NotMet, Published, Unknown};

    fn standing(status: RequirementStatus, code: Code) -> Standing {
        Standing::new(status, vec![code], format!("{code}"))
    }

    #[test]
    fn either_is_as_strong_as_the_stronger_and_unknown_only_when_nothing_decides() {
        let spf_ok = standing(Met, Code::SpfMissing);
        let spf_published = standing(Published, Code::SpfMissing);
        let spf_bad = standing(NotMet, Code::SpfMissing);
        let dkim_bad = standing(NotMet, Code::DkimNotFound);
        let dkim_unknown = standing(Unknown, Code::DkimLookupFailed);
        assert_eq!(either(&spf_ok, &dkim_bad).status, Met);
        assert!(
            either(&spf_ok, &dkim_bad).codes.is_empty(),
            "a met requirement names no problem"
        );
        assert_eq!(either(&spf_published, &dkim_unknown).status, Published);
        assert_eq!(either(&spf_bad, &dkim_bad).status, NotMet);
        assert_eq!(either(&spf_bad, &dkim_unknown).status, Unknown);
    }

    #[test]
    fn both_is_as_weak_as_the_weaker_and_names_the_codes_behind_it() {
        let spf_ok = standing(Met, Code::SpfMissing);
        let dkim_published = standing(Published, Code::DkimNotFound);
        let dkim_bad = standing(NotMet, Code::DkimNotFound);
        let dkim_unknown = standing(Unknown, Code::DkimLookupFailed);
        let combined = both(&spf_ok, &dkim_bad);
        assert_eq!(combined.status, NotMet);
        assert!(combined.codes.contains(&Code::DkimNotFound));
        assert_eq!(both(&spf_ok, &dkim_unknown).status, Unknown);
        assert_eq!(both(&spf_ok, &dkim_published).status, Published);
        assert_eq!(both(&spf_ok, &spf_ok).status, Met);
    }
}
