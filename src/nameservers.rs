//! The domain's own name servers: when they fail, one finding names that root cause.
//!
//! A zone whose servers answer SERVFAIL (a broken delegation, a DNSSEC-bogus zone) or never
//! answer fails every question about it, so without this each area would raise its own
//! `*.lookup-failed` for what is one problem. Receivers see the same failure: they cannot read
//! the domain's SPF, DMARC or MX, so they defer or reject its mail, and mail to it waits in
//! queues. The resolver is known to answer the root zone when this is asked
//! ([`crate::dns::Dns::resolver_answers`]); the zone is then asked for its SOA (RFC 1035
//! §3.3.13), which every working zone answers, and the zone above it (its public suffix) too,
//! so that a resolver that answers only the root is not taken for the domain's servers.

use serde_json::Value;

use crate::dns::{Answer, Dns, Failure};
use crate::finding::{Code, Finding};

/// The area lookup failures the root cause can explain.
const AREA_FAILURES: &[Code] = &[
    Code::SpfLookupFailed,
    Code::DmarcLookupFailed,
    Code::DkimLookupFailed,
    Code::MxLookupFailed,
    Code::MtastsLookupFailed,
    Code::TlsrptLookupFailed,
    Code::BimiLookupFailed,
    Code::DnssecLookupFailed,
    Code::DaneLookupFailed,
];

/// The resolver answers the root zone but not the zone above the domain (its public suffix,
/// e.g. `com`): it fails every question, not the domain's servers.
#[derive(Debug, PartialEq, Eq)]
pub struct ResolverFails;

/// When the name servers of `domain` fail (its SOA question fails while the resolver answers
/// for the zone above it), replaces the area lookup failures of names at or under `domain`
/// with one `dns.nameservers-failed` naming the areas it left unknown. Other failures (an
/// include's provider, a parent's DMARC record) are kept: they have other servers.
pub async fn explain_failures(
    dns: &Dns,
    domain: &str,
    findings: &mut Vec<Finding>,
) -> Result<(), ResolverFails> {
    // Only an area's failed lookup can be the zone's: a list that could not answer is not.
    if !findings.iter().any(|f| AREA_FAILURES.contains(&f.code)) {
        return Ok(());
    }
    let failure = match dns.soa(domain).await {
        // An alias that loops is the records' fault, not the servers': each area says so.
        Answer::Failed(Failure::CnameChain(_)) => return Ok(()),
        Answer::Failed(failure) => failure,
        _ => return Ok(()),
    };
    let suffix = psl::suffix_str(domain).unwrap_or(domain);
    if suffix != domain && dns.soa(suffix).await.failure().is_some() {
        return Err(ResolverFails);
    }
    let (explained, kept): (Vec<Finding>, Vec<Finding>) = std::mem::take(findings)
        .into_iter()
        .partition(|f| AREA_FAILURES.contains(&f.code) && within(f, domain));
    *findings = kept;
    let areas: Vec<&str> = AREA_FAILURES
        .iter()
        .filter(|code| explained.iter().any(|f| f.code == **code))
        .map(|code| code.area())
        .collect();
    let label = failure.label();
    let left_unknown = if areas.is_empty() {
        String::new()
    } else {
        format!(": {} left unknown", areas.join(", "))
    };
    findings.push(
        Finding::new(
            Code::DnsNameserversFailed,
            format!(
                "The name servers of {domain} fail ({label}) while the resolver answers other \
                 names: receivers cannot read its SPF, DMARC or MX either, so they defer or \
                 reject its mail{left_unknown}"
            ),
        )
        .fix(format!(
            "Check the NS records of {domain} at its parent zone and that every listed server \
             answers for it (`dig +norec SOA {domain} @<each server>`); if the zone is DNSSEC-signed, \
             check that its DS record matches a published DNSKEY and that the signatures have not \
             expired"
        ))
        .evidence("name", domain)
        .evidence("query", "SOA")
        .evidence("answer", label)
        .evidence("areas_unknown", &areas),
    );
    Ok(())
}

/// Whether every name a lookup-failed finding names is `domain` or below it.
fn within(finding: &Finding, domain: &str) -> bool {
    let names = failed_names(finding);
    !names.is_empty()
        && names.iter().all(|name| {
            let name = name.to_ascii_lowercase();
            name == domain || name.ends_with(&format!(".{domain}"))
        })
}

/// The names a lookup-failed finding's evidence says failed: `name`, an MX host's `exchange`,
/// or each `failed[].name` (DKIM selectors).
fn failed_names(finding: &Finding) -> Vec<String> {
    let mut names: Vec<String> = ["name", "exchange"]
        .iter()
        .filter_map(|key| finding.evidence.get(*key).and_then(Value::as_str))
        .map(str::to_owned)
        .collect();
    if let Some(Value::Array(failed)) = finding.evidence.get("failed") {
        names.extend(
            failed
                .iter()
                .filter_map(|f| f.get("name").and_then(Value::as_str))
                .map(str::to_owned),
        );
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_failures_at_or_under_the_domain_are_explained() {
        let at = Finding::new(Code::SpfLookupFailed, "x").evidence("name", "example.com");
        let under = Finding::new(Code::DkimLookupFailed, "x").evidence(
            "failed",
            serde_json::json!([{ "name": "s1._domainkey.example.com" }]),
        );
        let elsewhere =
            Finding::new(Code::SpfLookupFailed, "x").evidence("name", "spf.provider.example");
        let lookalike =
            Finding::new(Code::MxLookupFailed, "x").evidence("exchange", "badexample.com");
        let nameless = Finding::new(Code::SpfLookupFailed, "x");
        assert!(within(&at, "example.com"));
        assert!(within(&under, "example.com"));
        assert!(!within(&elsewhere, "example.com"));
        assert!(!within(&lookalike, "example.com"));
        assert!(!within(&nameless, "example.com"));
    }
}
