//! Will receivers take the domain's mail at all? A judgment across areas that no single area
//! can make: DMARC passes only when SPF or DKIM passes aligned with the From domain (RFC 7489
//! §4.2, RFC 9989 §4.4), so when neither can pass, an enforcing policy makes receivers reject
//! or quarantine every message the domain sends — the worst state a sending domain can be in,
//! however right each record looks on its own.

use std::fmt::Write as _;

use crate::dmarc::record::Policy;
use crate::finding::{Code, Finding, Verdict};
use crate::report::DomainAreas;
use crate::spf::{self, SpfResult};

/// `dmarc.mail-rejected` when DMARC can pass for no message: the policy that applies is
/// quarantine or reject, SPF cannot pass (its record is broken or missing, or it fails for every
/// sending IP given), and no usable DKIM key was found while every selector probed answered.
/// Not raised for a domain that declares it takes no mail (null MX): a parked domain is meant
/// to fail DMARC.
pub fn rejection_finding(
    domain: &str,
    areas: &DomainAreas,
    findings: &[Finding],
) -> Option<Finding> {
    let policy = areas.dmarc.effective_policy.as_ref()?;
    let applied = policy.applied.filter(|p| *p != Policy::None)?;
    if areas.mx.null_mx
        || areas.dkim.verdict == Verdict::Unknown
        || !areas.dkim.usable_selectors().is_empty()
    {
        return None;
    }
    let spf_fails = spf_fails_for_everyone(areas, findings)?;
    let verb = match applied {
        Policy::Reject => "reject",
        _ => "quarantine (send to spam)",
    };
    let found_at = areas.dmarc.found_at.as_deref().unwrap_or_default();
    let mut message = format!(
        "Receivers will {verb} all mail from {domain}: DMARC cannot pass, because {spf_fails} \
         and no usable DKIM key was found at the {} selectors probed (p={} at {found_at})",
        areas.dkim.selectors.len(),
        applied.as_str()
    );
    // A fix that is a record to publish is pointed to, not repeated: the record is printed once.
    let spf_fix = findings
        .iter()
        .find(|f| spf::BROKEN.contains(&f.code) || f.code == Code::SpfIpNotAuthorized)
        .and_then(|f| match &f.change {
            Some(change) => Some(format!(
                "publish the SPF record for {} given in the records to publish",
                change.name
            )),
            None => f.fix.clone(),
        });
    let mut fix = String::new();
    if let Some(spf_fix) = spf_fix {
        let _ = write!(fix, "Fix SPF first: {spf_fix}. ");
    }
    fix.push_str(
        "Publish the DKIM key your mail is signed with (if its selector was not probed, \
         audit again with --selector NAME)",
    );
    if policy.testing {
        message.push_str(" (t=y already weakens it one level)");
    }
    Some(
        Finding::new(Code::DmarcMailRejected, message)
            .fix(fix)
            .evidence("policy", applied.as_str())
            .evidence("policy_record", found_at)
            .evidence("spf", spf_fails)
            .evidence("dkim_selectors_probed", areas.dkim.selectors.len()),
    )
}

/// Why SPF passes for no sender, or `None` when it may pass for some.
fn spf_fails_for_everyone(areas: &DomainAreas, findings: &[Finding]) -> Option<String> {
    if let Some(broken) = findings.iter().find(|f| spf::BROKEN.contains(&f.code)) {
        let result = if broken.code == Code::SpfMissing {
            "none"
        } else {
            "permerror"
        };
        return Some(format!("SPF gives {result} ({})", broken.code));
    }
    let evaluations: Vec<_> = areas.ips.iter().filter_map(|ip| ip.spf.as_ref()).collect();
    let all_fail = !evaluations.is_empty()
        && evaluations
            .iter()
            .all(|e| !matches!(e.result, SpfResult::Pass | SpfResult::TempError));
    all_fail.then(|| {
        let results: Vec<String> = evaluations
            .iter()
            .map(|e| format!("{} for {}", e.result.as_str(), e.ip))
            .collect();
        format!(
            "SPF does not pass for any sending IP given ({})",
            results.join(", ")
        )
    })
}
