//! BIMI's DMARC prerequisite (draft-brand-indicators-for-message-identification, "Authentication
//! Requirements"): receivers show no logo unless the DMARC policy of the Author Domain and of its
//! Organizational Domain is enforced — not `p=none`, no `sp=none`, and `pct=100` under
//! `p=quarantine`. Judged from the DMARC report the audit already has: no query of its own.

use serde::Serialize;

use crate::dmarc::parse::parse_policy;
use crate::dmarc::record::{Policy, TagStatus};
use crate::dmarc::{DmarcReport, RecordPolicy};
use crate::finding::Verdict;

/// Whether the DMARC policy is one BIMI accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Enforcement {
    Enforced,
    NotEnforced,
    /// A DNS failure left the policy, or the Organizational Domain, unknown.
    Unknown,
}

/// The prerequisite as judged, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Prerequisite {
    pub status: Enforcement,
    /// The Organizational Domain judged beside the domain, when the DMARC walk found it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organizational_domain: Option<String>,
    /// Each reason receivers skip BIMI for; for `unknown`, what could not be seen.
    pub reasons: Vec<String>,
}

/// Judges `domain`'s DMARC report.
pub fn judge(domain: &str, dmarc: &DmarcReport) -> Prerequisite {
    let mut reasons = Vec::new();
    let mut unknown = Vec::new();
    let at = dmarc.found_at.as_deref().unwrap_or("the record");
    match &dmarc.effective_policy {
        None if dmarc.verdict == Verdict::Unknown => {
            unknown.push(format!(
                "the DMARC policy of {domain} is unknown (a DNS failure)"
            ));
        }
        None => reasons.push(format!("no DMARC policy applies to {domain}")),
        Some(policy) => {
            match policy.applied {
                None => reasons.push(format!(
                    "receivers apply no DMARC to {domain} ({})",
                    policy.why
                )),
                Some(Policy::None) => {
                    let testing = if policy.testing && policy.requested != Some(Policy::None) {
                        " (t=y makes receivers apply one level weaker)"
                    } else {
                        ""
                    };
                    reasons.push(format!(
                        "the DMARC policy receivers apply to {domain} is none{testing} ({})",
                        policy.why
                    ));
                }
                Some(_) => {}
            }
            if policy.requested == Some(Policy::Quarantine)
                && let Some(pct) = policy.legacy_pct.filter(|pct| *pct < 100)
            {
                reasons.push(format!(
                    "pct={pct} with p=quarantine at {at}: BIMI requires pct=100"
                ));
            }
            if record_sp(dmarc) == Some(Policy::None) {
                reasons.push(format!(
                    "sp=none at {at}: BIMI refuses a subdomain policy of none"
                ));
            }
        }
    }
    let organizational = dmarc.organizational_domain.as_ref();
    match organizational {
        Some(org) if org.domain == domain => {}
        Some(org) => {
            let at = format!("_dmarc.{}", org.domain);
            let same_record = dmarc.found_at.as_deref() == Some(at.as_str());
            match &org.policy {
                None => reasons.push(format!(
                    "the organisational domain {} publishes no DMARC policy",
                    org.domain
                )),
                Some(policy) => reasons.extend(organizational_reasons(
                    &org.domain,
                    &at,
                    *policy,
                    same_record,
                )),
            }
        }
        None if dmarc.effective_policy.is_some() || dmarc.verdict != Verdict::Unknown => unknown
            .push(format!(
                "the organisational domain of {domain} is unknown (a DNS failure on the DMARC \
                 tree walk)"
            )),
        None => {}
    }
    let status = if !reasons.is_empty() {
        Enforcement::NotEnforced
    } else if !unknown.is_empty() {
        reasons = unknown;
        Enforcement::Unknown
    } else {
        Enforcement::Enforced
    };
    Prerequisite {
        status,
        organizational_domain: organizational.map(|org| org.domain.clone()),
        reasons,
    }
}

/// The reasons the Organizational Domain's own record fails BIMI; `sp` and `pct` are skipped when
/// it is the record that applies to the domain (already judged).
fn organizational_reasons(
    org: &str,
    at: &str,
    policy: RecordPolicy,
    same_record: bool,
) -> Vec<String> {
    let mut reasons = Vec::new();
    let applied = policy.p.map(|p| {
        if policy.testing {
            p.one_level_weaker()
        } else {
            p
        }
    });
    match applied {
        None => reasons.push(format!(
            "the organisational domain {org} has no valid p= at {at}"
        )),
        Some(Policy::None) => reasons.push(format!(
            "the DMARC policy of the organisational domain {org} is none ({at})"
        )),
        Some(_) => {}
    }
    if !same_record {
        if policy.sp == Some(Policy::None) {
            reasons.push(format!(
                "sp=none at {at}: BIMI refuses a subdomain policy of none"
            ));
        }
        if policy.p == Some(Policy::Quarantine)
            && let Some(pct) = policy.pct.filter(|pct| *pct < 100)
        {
            reasons.push(format!(
                "pct={pct} with p=quarantine at {at}: BIMI requires pct=100"
            ));
        }
    }
    reasons
}

/// The valid `sp` of the record that applies to the domain.
fn record_sp(dmarc: &DmarcReport) -> Option<Policy> {
    dmarc
        .tags
        .iter()
        .find(|tag| tag.key() == "sp" && tag.status == TagStatus::Valid)
        .and_then(|tag| parse_policy(&tag.value).ok())
}
