//! The policy readiness verdict: what `p=reject` would do to a domain's mail (RFC 7489 §6.3,
//! §10.5). Mail failing DMARC either comes from a service the domain uses and has not set up
//! (a known provider, or a source whose mail is partly aligned) — it must be fixed first, and
//! the fix is named — or it is forged, and rejecting it is the point of the policy.

use std::collections::BTreeMap;
use std::net::IpAddr;

use mail_auth::report::{Disposition, Report};
use serde::Serialize;

use super::inventory::{Counts, Inventory, Service, percent};

/// The verdict on one policy domain.
#[derive(Debug, Serialize)]
pub struct Readiness {
    pub domain: String,
    /// The `p=` of the most recent report (`none`, `quarantine`, `reject`).
    pub policy: &'static str,
    pub messages: u64,
    pub failing: u64,
    /// The share of messages failing DMARC, in percent.
    pub failing_percent: f64,
    pub verdict: Verdict,
    /// One sentence for a person.
    pub summary: String,
    /// Failing sources that look like the domain's own senders, most failing mail first.
    pub legitimate: Vec<LegitimateSource>,
    /// Failing sources that look forged, most failing mail first.
    pub forged: Vec<ForgedSource>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// No mail failed DMARC.
    Ready,
    /// Only forged-looking mail failed: the policy would stop it and nothing else.
    ReadyForgeryOnly,
    /// Legitimate-looking senders fail: fix them before raising the policy.
    NotReady,
}

#[derive(Debug, Serialize)]
pub struct LegitimateSource {
    pub service: String,
    /// Why it looks legitimate.
    pub why: String,
    pub ips: Vec<IpAddr>,
    pub messages: u64,
    pub failing: u64,
    /// What to publish or change, each a line.
    pub fixes: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct ForgedSource {
    pub ip: IpAddr,
    pub service: String,
    pub failing: u64,
}

/// The verdict for each policy domain of `reports`.
pub fn assess(reports: &[Report], inventory: &Inventory) -> Vec<Readiness> {
    let services: BTreeMap<IpAddr, &Service> = inventory
        .sources
        .iter()
        .map(|row| (row.ip, &row.service))
        .collect();
    let mut by_domain: BTreeMap<String, (u64, Disposition, BTreeMap<IpAddr, Counts>)> =
        BTreeMap::new();
    let mut totals: BTreeMap<String, Counts> = BTreeMap::new();
    for report in reports {
        let domain = report.policy_published.domain.trim().to_ascii_lowercase();
        let entry = by_domain.entry(domain.clone()).or_insert((
            0,
            Disposition::Unspecified,
            BTreeMap::new(),
        ));
        if report.report_metadata.date_range.begin >= entry.0 {
            entry.0 = report.report_metadata.date_range.begin;
            entry.1 = report.policy_published.p;
        }
        for record in &report.record {
            totals.entry(domain.clone()).or_default().add(record);
            if let Some(ip) = record.row.source_ip {
                entry.2.entry(ip).or_default().add(record);
            }
        }
    }
    by_domain
        .into_iter()
        .map(|(domain, (_, policy, sources))| {
            let total = totals.remove(&domain).unwrap_or_default();
            judge(&domain, policy, &total, &sources, &services)
        })
        .collect()
}

fn judge(
    domain: &str,
    policy: Disposition,
    total: &Counts,
    sources: &BTreeMap<IpAddr, Counts>,
    services: &BTreeMap<IpAddr, &Service>,
) -> Readiness {
    let mut legitimate: BTreeMap<String, LegitimateSource> = BTreeMap::new();
    let mut forged = Vec::new();
    for (ip, counts) in sources.iter().filter(|(_, c)| c.dmarc_fail > 0) {
        let service = services.get(ip).copied();
        let name = service.map_or_else(|| "unidentified".to_owned(), |s| s.name.clone());
        let Some(why) = why_legitimate(service, counts) else {
            forged.push(ForgedSource {
                ip: *ip,
                service: name,
                failing: counts.dmarc_fail,
            });
            continue;
        };
        let entry = legitimate
            .entry(name.clone())
            .or_insert_with(|| LegitimateSource {
                service: name,
                why,
                ips: Vec::new(),
                messages: 0,
                failing: 0,
                fixes: Vec::new(),
            });
        entry.ips.push(*ip);
        entry.messages += counts.messages;
        entry.failing += counts.dmarc_fail;
        for fix in fixes(domain, *ip, service, counts) {
            if !entry.fixes.contains(&fix) {
                entry.fixes.push(fix);
            }
        }
    }
    let mut legitimate: Vec<LegitimateSource> = legitimate.into_values().collect();
    legitimate.sort_by_key(|source| std::cmp::Reverse(source.failing));
    forged.sort_by(|a, b| b.failing.cmp(&a.failing).then(a.ip.cmp(&b.ip)));
    let failing_percent = percent(total.dmarc_fail, total.messages);
    let (verdict, summary) = if total.dmarc_fail == 0 {
        (
            Verdict::Ready,
            format!(
                "{} passed DMARC: {domain} can move to p=reject (through p=quarantine first if you prefer)",
                if total.messages == 1 {
                    "the 1 message".to_owned()
                } else {
                    format!("all {} messages", total.messages)
                }
            ),
        )
    } else if legitimate.is_empty() {
        (
            Verdict::ReadyForgeryOnly,
            format!(
                "{failing_percent}% of the mail failed DMARC and none of it comes from a sender that looks legitimate: p=reject would stop forged mail only"
            ),
        )
    } else {
        let names: Vec<&str> = legitimate.iter().map(|l| l.service.as_str()).collect();
        (
            Verdict::NotReady,
            format!(
                "not ready for p=reject: {failing_percent}% of the mail failed DMARC, including mail from {} that looks legitimate; publish the fixes below first",
                names.join(", ")
            ),
        )
    };
    Readiness {
        domain: domain.to_owned(),
        policy: policy_name(policy),
        messages: total.messages,
        failing: total.dmarc_fail,
        failing_percent,
        verdict,
        summary,
        legitimate,
        forged,
    }
}

/// Why a failing source looks like one of the domain's own senders, or `None` if it looks
/// forged: a known provider, or some of its mail aligned (a forger cannot sign with the
/// domain's key, RFC 7489 §3.1.1).
fn why_legitimate(service: Option<&Service>, counts: &Counts) -> Option<String> {
    if counts.dkim_aligned > 0 {
        return Some(format!(
            "{} of its {} messages carried a valid DKIM signature of the domain",
            counts.dkim_aligned, counts.messages
        ));
    }
    if counts.spf_aligned > 0 {
        return Some(format!(
            "{} of its {} messages passed SPF for the domain",
            counts.spf_aligned, counts.messages
        ));
    }
    let service = service?;
    let provider = service.provider?;
    let by = match service.recognised_by {
        Some("ptr") => "its PTR name",
        Some("spf") => "the SPF domain its mail passed for",
        _ => "its DKIM signatures",
    };
    Some(format!(
        "a known provider ({}), recognised by {by}",
        provider.name()
    ))
}

/// The fixes for one failing source of `domain`: the provider's SPF include and DKIM records
/// (from the built-in provider list, `src/dkim/selectors.toml`), or for an unknown sender the
/// IP to authorise and the signing to complete.
fn fixes(domain: &str, ip: IpAddr, service: Option<&Service>, counts: &Counts) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(provider) = service.and_then(|s| s.provider) {
        if counts.dkim_aligned < counts.messages {
            let records = provider.dkim_records(domain);
            if records.is_empty() {
                if let Some(note) = provider.dkim_note(domain) {
                    out.push(format!("DKIM: {note}"));
                }
            } else {
                out.push(format!(
                    "DKIM: have {} sign as {domain}, publishing:",
                    provider.name()
                ));
                out.extend(records.into_iter().map(|line| format!("  {line}")));
            }
        }
        if counts.spf_aligned < counts.messages
            && let Some(include) = provider.spf_include()
        {
            out.push(format!(
                "SPF: add {include} to the SPF record of {domain} (aligned only when {} uses a MAIL FROM at {domain})",
                provider.name()
            ));
        }
        return out;
    }
    if counts.dkim_aligned > 0 {
        out.push(format!(
            "DKIM: {} of {} messages from {ip} were signed as {domain}: make this sender sign all its mail",
            counts.dkim_aligned, counts.messages
        ));
    } else if counts.spf_aligned > 0 {
        out.push(format!(
            "SPF: {} of {} messages from {ip} passed SPF for {domain}: add {} to the SPF record of {domain} for the others, or have them sign with DKIM as {domain}",
            counts.spf_aligned,
            counts.messages,
            crate::spf::eval::ip_term(ip)
        ));
    }
    out
}

fn policy_name(policy: Disposition) -> &'static str {
    match policy {
        Disposition::None => "none",
        Disposition::Quarantine => "quarantine",
        Disposition::Reject => "reject",
        Disposition::Unspecified => "unknown",
    }
}
