//! Which providers a domain uses today, each with the records that show it: inbound from its MX
//! hosts (RFC 5321 §5.1), outbound from its SPF includes (RFC 7208 §5.2), its DKIM keys and
//! the CNAMEs that delegate them (RFC 6376 §3.6.2.1).

use serde::Serialize;

use super::State;
use super::profile::Profiles;
use crate::dkim::SelectorStatus;

/// One provider in use, and why it is thought so.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Detected {
    pub provider: String,
    /// Its `id` (what `--from` and `--to` take), when it has one.
    pub id: Option<String>,
    /// The records that name it, each as read from DNS.
    pub evidence: Vec<String>,
}

/// The providers the domain receives and sends with.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Detection {
    pub inbound: Vec<Detected>,
    pub outbound: Vec<Detected>,
    /// MX hosts no profile knows (an own server, or a provider without a profile).
    pub unknown_mx: Vec<String>,
    /// SPF includes no profile knows.
    pub unknown_includes: Vec<String>,
}

/// Names the providers `state` shows.
pub fn detect(state: &State, profiles: &Profiles) -> Detection {
    let mut detection = Detection::default();
    for host in &state.mx.hosts {
        match profiles.by_mx(&host.exchange) {
            Some(p) => add(
                &mut detection.inbound,
                p,
                format!("MX {} {}", host.preferences[0], host.exchange),
            ),
            None => detection.unknown_mx.push(host.exchange.clone()),
        }
    }
    for include in state.spf_includes() {
        match profiles.by_spf(&include) {
            Some(p) => add(&mut detection.outbound, p, format!("SPF include:{include}")),
            None => detection.unknown_includes.push(include),
        }
    }
    for selector in &state.dkim.selectors {
        let target = selector.aliases.last().filter(|t| **t != selector.name);
        let by_target = target.and_then(|t| profiles.by_dkim_cname(t));
        let by_name = selector
            .provider
            .as_deref()
            .and_then(|name| profiles.all().iter().find(|p| p.name == name));
        let has_key = selector.status == SelectorStatus::Key;
        let evidence = match (target, has_key) {
            (Some(target), true) => {
                format!("DKIM {} CNAME {target} (key published)", selector.name)
            }
            (Some(target), false) => format!(
                "DKIM {} CNAME {target} ({}: no key there)",
                selector.name, selector.answer
            ),
            (None, true) => format!("DKIM key at {}", selector.name),
            (None, false) => continue,
        };
        if let Some(p) = by_target.or(by_name) {
            add(&mut detection.outbound, p, evidence);
        }
    }
    detection
}

fn add(list: &mut Vec<Detected>, provider: &crate::dkim::selectors::Provider, evidence: String) {
    match list.iter_mut().find(|d| d.provider == provider.name) {
        Some(found) => found.evidence.push(evidence),
        None => list.push(Detected {
            provider: provider.name.clone(),
            id: provider.id.clone(),
            evidence: vec![evidence],
        }),
    }
}
