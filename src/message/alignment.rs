//! DMARC for one message (RFC 7489 §3.1, §6.6; RFC 9989 §4.4): the policy the project's own
//! discovery finds for the RFC5322.From domain, identifier alignment of the SPF and DKIM
//! domains (relaxed: same Organizational Domain, strict: same name), the result and the
//! disposition a receiver would apply.

use serde::Serialize;

use crate::dmarc::discovery::organizational_domain_of;
use crate::dmarc::record::{Alignment, Policy};
use crate::dns::Dns;
use crate::finding::Code;
use crate::spf::SpfResult;

use super::sender::SpfCheck;
use super::verify::{AuthResult, DkimSignature};

/// The DMARC result (RFC 8601 words).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DmarcResult {
    Pass,
    Fail,
    /// No policy applies to the From domain.
    None,
    /// A DNS failure left the policy or an Organizational Domain unknown.
    TempError,
    /// The message has no usable From domain.
    PermError,
}

impl DmarcResult {
    pub fn as_str(self) -> &'static str {
        match self {
            DmarcResult::Pass => "pass",
            DmarcResult::Fail => "fail",
            DmarcResult::None => "none",
            DmarcResult::TempError => "temperror",
            DmarcResult::PermError => "permerror",
        }
    }
}

/// DMARC for the message.
#[derive(Clone, Debug, Serialize)]
pub struct DmarcCheck {
    /// The RFC5322.From domain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_domain: Option<String>,
    /// Its Organizational Domain (RFC 9989 §4.10.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organizational_domain: Option<String>,
    /// The record that applies (`_dmarc.<domain or parent>`) and its text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub found_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    /// The policy requested for the From domain (`p`, or `sp`/`np` for a parent's record).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<Policy>,
    /// What receivers apply after `t=y`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applied: Option<Policy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adkim: Option<Alignment>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aspf: Option<Alignment>,
    /// SPF passed for an aligned domain.
    pub spf_aligned: bool,
    /// A DKIM signature passed for an aligned domain.
    pub dkim_aligned: bool,
    pub result: DmarcResult,
    /// What a receiver does with the message: `none` (deliver), `quarantine`, `reject`.
    pub disposition: Policy,
    /// Why, in one line.
    pub why: String,
}

/// Whether `domain` is aligned with the From domain in `mode`, given both Organizational
/// Domains (RFC 7489 §3.1.1, §3.1.2).
fn aligned(
    domain: &str,
    org: Option<&str>,
    from: &str,
    from_org: Option<&str>,
    mode: Alignment,
) -> bool {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    match mode {
        Alignment::Strict => domain == from,
        Alignment::Relaxed => domain == from || (org.is_some() && org == from_org),
    }
}

/// Evaluates DMARC and marks which SPF and DKIM results are aligned.
pub async fn evaluate(
    dns: &Dns,
    from_domain: Option<&str>,
    spf: &SpfCheck,
    signatures: &mut [DkimSignature],
) -> DmarcCheck {
    let mut check = DmarcCheck {
        from_domain: from_domain.map(str::to_owned),
        organizational_domain: None,
        found_at: None,
        record: None,
        policy: None,
        applied: None,
        adkim: None,
        aspf: None,
        spf_aligned: false,
        dkim_aligned: false,
        result: DmarcResult::PermError,
        disposition: Policy::None,
        why: "the message has no From address, so DMARC cannot be evaluated (RFC 7489 §6.6.1)"
            .to_owned(),
    };
    let Some(from) = from_domain else {
        return check;
    };
    let policy = crate::dmarc::check(dns, from).await;
    let lookup_failed = policy
        .findings
        .iter()
        .any(|f| f.code == Code::DmarcLookupFailed);
    let effective = policy.report.effective_policy.clone();
    check.found_at.clone_from(&policy.report.found_at);
    check.record.clone_from(&policy.report.record);
    let (adkim, aspf) = effective
        .as_ref()
        .map_or((Alignment::Relaxed, Alignment::Relaxed), |e| {
            (e.adkim, e.aspf)
        });
    check.adkim = effective.as_ref().map(|e| e.adkim);
    check.aspf = effective.as_ref().map(|e| e.aspf);
    check.policy = effective.as_ref().and_then(|e| e.requested);
    check.applied = effective.as_ref().and_then(|e| e.applied);

    // Organizational Domains: the From domain's and each candidate identifier's.
    let from_org = organizational_domain_of(dns, from).await.ok();
    check.organizational_domain.clone_from(&from_org);
    let mut org_failed = from_org.is_none();
    let spf_domain = spf
        .domain
        .as_deref()
        .filter(|_| spf.result == Some(SpfResult::Pass));
    if let Some(domain) = spf_domain {
        let org = organizational_domain_of(dns, domain).await.ok();
        org_failed |= org.is_none();
        check.spf_aligned = aligned(domain, org.as_deref(), from, from_org.as_deref(), aspf);
    }
    for signature in signatures.iter_mut() {
        let org = organizational_domain_of(dns, &signature.domain).await.ok();
        signature.aligned = aligned(
            &signature.domain,
            org.as_deref(),
            from,
            from_org.as_deref(),
            adkim,
        );
        if signature.result == AuthResult::Pass && signature.aligned {
            check.dkim_aligned = true;
        } else if signature.result == AuthResult::Pass {
            org_failed |= org.is_none();
        }
    }

    (check.result, check.disposition, check.why) = verdict(
        &check,
        from,
        lookup_failed || (org_failed && effective.is_some()),
        (aspf, adkim),
    );
    check
}

/// The result, the disposition and why, once alignment is known (RFC 7489 §6.6.2): `unknown`
/// when a DNS failure left the policy or an Organizational Domain open.
fn verdict(
    check: &DmarcCheck,
    from: &str,
    unknown: bool,
    (aspf, adkim): (Alignment, Alignment),
) -> (DmarcResult, Policy, String) {
    if check.spf_aligned || check.dkim_aligned {
        let by = match (check.spf_aligned, check.dkim_aligned) {
            (true, true) => "SPF and DKIM",
            (true, false) => "SPF",
            _ => "DKIM",
        };
        (
            DmarcResult::Pass,
            Policy::None,
            format!("{by} passed for a domain aligned with {from}"),
        )
    } else if unknown {
        (
            DmarcResult::TempError,
            Policy::None,
            "a DNS failure left the policy or an Organizational Domain unknown".to_owned(),
        )
    } else if let Some(applied) = check.applied {
        (
            DmarcResult::Fail,
            applied,
            format!(
                "neither SPF nor DKIM passed for a domain aligned with {from} ({} alignment \
                 for SPF, {} for DKIM); the policy asks receivers to {}",
                mode_word(aspf),
                mode_word(adkim),
                match applied {
                    Policy::None => "deliver it anyway (p=none: monitoring only)",
                    Policy::Quarantine => "put it in spam (quarantine)",
                    Policy::Reject => "reject it",
                }
            ),
        )
    } else {
        (
            DmarcResult::None,
            Policy::None,
            format!("{from} publishes no DMARC policy (nor does its Organizational Domain)"),
        )
    }
}

fn mode_word(mode: Alignment) -> &'static str {
    match mode {
        Alignment::Relaxed => "relaxed",
        Alignment::Strict => "strict",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relaxed_alignment_is_by_organizational_domain_strict_by_name() {
        let from_org = Some("example.com");
        assert!(aligned(
            "mail.example.com",
            Some("example.com"),
            "example.com",
            from_org,
            Alignment::Relaxed
        ));
        assert!(!aligned(
            "mail.example.com",
            Some("example.com"),
            "example.com",
            from_org,
            Alignment::Strict
        ));
        assert!(aligned(
            "EXAMPLE.com.",
            Some("example.com"),
            "example.com",
            from_org,
            Alignment::Strict
        ));
        assert!(!aligned(
            "esp.test",
            Some("esp.test"),
            "example.com",
            from_org,
            Alignment::Relaxed
        ));
        // An unknown Organizational Domain never aligns by it.
        assert!(!aligned(
            "a.example.com",
            None,
            "example.com",
            None,
            Alignment::Relaxed
        ));
    }
}
