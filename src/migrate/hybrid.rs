//! `--hybrid HOST`: an on-premises server that stays beside the new provider and relays its
//! outbound mail through it (the provider's smart host). Through the move two things must hold:
//! the server's public address stays authorised by the domain's SPF record (RFC 7208 §5.6
//! `ip4`/`ip6`), and the server reaches the smart host on port 25 with STARTTLS (RFC 3207).

use std::fmt::Write as _;
use std::net::IpAddr;

use futures::future::join_all;
use serde::Serialize;

use super::plan::{Status, Step, StepId, step};
use crate::dkim::selectors::{Provider, fill};
use crate::dns::Dns;
use crate::mx::address::special_range;
use crate::smtp::{self, AddressLookup, MAX_ADDRESSES, PortProbe, ProbeOptions, Role, TlsMode};
use crate::spf::eval::{Evaluation, check_host};
use crate::spf::record::{Mechanism, Qualifier, parse_lenient};
use crate::spf::{SpfResult, in_network};

/// What DNS (and, with `--smtp`, the smart host) shows of the on-premises server.
#[derive(Clone, Debug, Serialize)]
pub struct Hybrid {
    /// The server as given: a host name or an address.
    pub host: String,
    /// Its public addresses (the A and AAAA records of a name).
    pub addresses: Vec<IpAddr>,
    /// How the addresses were looked up; absent for an address given as such.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lookup: Option<AddressLookup>,
    /// SPF's `check_host()` for each public address against the domain (RFC 7208 §4).
    pub spf: Vec<AddressSpf>,
    /// Addresses in a special-purpose range (private, loopback ...): not what the server sends
    /// from on the internet, so not for the SPF record.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_public: Vec<NotPublic>,
    /// Addresses past the first [`MAX_ADDRESSES`], not checked.
    #[serde(skip_serializing_if = "is_zero")]
    pub addresses_not_checked: usize,
    /// Where the new provider takes its relayed mail; absent when its profile names none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smart_host: Option<SmartHost>,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// An address of the server that is not a public one, and its range.
#[derive(Clone, Debug, Serialize)]
pub struct NotPublic {
    pub ip: IpAddr,
    /// e.g. `private 10.0.0.0/8 (RFC 1918)`.
    pub range: String,
}

/// One address of the server and what the domain's SPF record says of it.
#[derive(Clone, Debug, Serialize)]
pub struct AddressSpf {
    pub ip: IpAddr,
    pub result: SpfResult,
    /// The term that decided it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matched: Option<String>,
    /// It passes only through the domain's own `mx` term, and no `ip4`/`ip6` term of the
    /// record covers it: once MX points at the new provider, that term names the provider's
    /// hosts and no longer this server.
    pub only_through_mx: bool,
}

impl AddressSpf {
    /// Whether the record authorises the address now and after the MX switch.
    fn stays_authorised(&self) -> bool {
        self.result == SpfResult::Pass && !self.only_through_mx
    }

    /// Whether the record is known not to authorise it after the switch (a temperror says
    /// nothing either way).
    fn known_missing(&self) -> bool {
        !self.stays_authorised() && self.result != SpfResult::TempError
    }
}

/// The new provider's smart host, and the probe of it.
#[derive(Clone, Debug, Serialize)]
pub struct SmartHost {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    /// With `--smtp`: the session with it, from the machine mailaudit runs on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe: Option<PortProbe>,
}

/// A profile's `host:port mode` (`smart_host`) for `domain`, the mode `starttls`, `tls` or
/// `none`; `None` when it is not of that form ([`super::Profiles::load`] refuses such a
/// profile).
pub fn endpoint(template: &str, domain: &str) -> Option<(String, u16, TlsMode)> {
    let filled = fill(template, domain);
    let (address, mode) = filled.split_once(' ')?;
    let (host, port) = address.rsplit_once(':')?;
    let port: u16 = port.parse().ok().filter(|&p| p > 0)?;
    let tls = match mode.trim() {
        "tls" | "implicit" => TlsMode::Implicit,
        "none" => TlsMode::None,
        "starttls" => TlsMode::Starttls,
        _ => return None,
    };
    (!host.is_empty()).then(|| (host.to_owned(), port, tls))
}

/// Reads what the server needs: its addresses, SPF's result for each against `domain`, and,
/// with `probe`, a session with `to`'s smart host.
pub async fn read(
    dns: &Dns,
    host: &str,
    domain: &str,
    to: &Provider,
    probe: Option<&ProbeOptions>,
) -> Hybrid {
    let (found, lookup) = smtp::host_addresses(dns, host).await;
    // An IPv4-mapped IPv6 address is the IPv4 address to SPF (RFC 7208 §5): one address.
    let mut addresses: Vec<IpAddr> = Vec::new();
    for ip in found.into_iter().map(|ip| ip.to_canonical()) {
        if !addresses.contains(&ip) {
            addresses.push(ip);
        }
    }
    let addresses_not_checked = addresses.len().saturating_sub(MAX_ADDRESSES);
    addresses.truncate(MAX_ADDRESSES);
    let (public, not_public): (Vec<IpAddr>, Vec<IpAddr>) = addresses
        .iter()
        .partition(|&&ip| special_range(ip).is_none_or(|range| !range.is_unreachable()));
    let sender = format!("postmaster@{domain}");
    let spf = join_all(public.iter().map(|&ip| {
        let sender = &sender;
        async move {
            let evaluation = check_host(dns, ip, domain, sender, None).await;
            AddressSpf {
                ip,
                result: evaluation.result,
                matched: evaluation.matched.as_ref().map(|m| m.term.clone()),
                only_through_mx: only_through_own_mx(&evaluation, domain),
            }
        }
    }))
    .await;
    let not_public = not_public
        .into_iter()
        .filter_map(|ip| {
            special_range(ip).map(|range| NotPublic {
                ip,
                range: range.describe(),
            })
        })
        .collect();
    let smart_host = match to.smart_host.as_deref().and_then(|t| endpoint(t, domain)) {
        Some((host, port, tls)) => {
            let probe = match probe {
                Some(options) => Some(
                    smtp::probe(&dns.scoped(None), &host, port, tls, Role::Mx, options)
                        .await
                        .report,
                ),
                None => None,
            };
            Some(SmartHost {
                host,
                port,
                tls,
                probe,
            })
        }
        None => None,
    };
    Hybrid {
        host: host.to_owned(),
        addresses,
        lookup,
        spf,
        not_public,
        addresses_not_checked,
        smart_host,
    }
}

/// Whether an evaluation passed only through the domain's own MX hosts: the deciding term (in
/// the domain's record, a record it redirects to, or through includes the innermost one) is an
/// `mx` of `domain` (RFC 7208 §5.4), and no `ip4`/`ip6` term of the record evaluated lets the
/// address pass (§5.6) once that term names other hosts.
fn only_through_own_mx(evaluation: &Evaluation, domain: &str) -> bool {
    let Some(matched) = evaluation.matched.as_ref() else {
        return false;
    };
    // The domain's own record's `mx`, or `mx:<domain>` in a record it redirects to or
    // includes (the innermost term that matched).
    let own_mx = (matched.domain.eq_ignore_ascii_case(domain)
        && names_own_mx(&matched.term, domain))
        || names_own_mx_explicitly(&matched.term, domain)
        || matched
            .inner
            .last()
            .is_some_and(|inner| names_own_mx_explicitly(&inner.term, domain));
    if evaluation.result != SpfResult::Pass || !own_mx {
        return false;
    }
    // An ip4/ip6 term beside it, in the domain's record or in the one that matched.
    let records = [
        evaluation.record().unwrap_or_default(),
        matched.record.as_str(),
    ];
    !records.iter().any(|text| covers(text, evaluation.ip))
}

/// Whether a `+ip4`/`+ip6` term of the SPF record `text` covers `ip` (RFC 7208 §5.6).
fn covers(text: &str, ip: IpAddr) -> bool {
    let (record, _) = parse_lenient(text);
    record.directives().any(|(_, directive)| {
        directive.qualifier == Qualifier::Pass
            && match directive.mechanism {
                Mechanism::Ip4 { network, prefix } => in_network(ip, IpAddr::V4(network), prefix),
                Mechanism::Ip6 { network, prefix } => in_network(ip, IpAddr::V6(network), prefix),
                _ => false,
            }
    })
}

/// Whether an SPF term of the domain's own record is `mx` of the domain itself (`mx`,
/// `mx/24`, `mx:<domain>`, RFC 7208 §5.4), whatever its qualifier.
fn names_own_mx(term: &str, domain: &str) -> bool {
    mx_target(term).is_some_and(|target| target.is_empty() || same_name(&target, domain))
}

/// Whether a term of another record (an included one) is `mx:<domain>`.
fn names_own_mx_explicitly(term: &str, domain: &str) -> bool {
    mx_target(term).is_some_and(|target| same_name(&target, domain))
}

/// The domain an `mx` term names (empty for the record's own), or `None` for another term: the
/// term read by the project's SPF parser (RFC 7208 §5.4 `mx [ ":" domain-spec ] [ cidr ]`).
fn mx_target(term: &str) -> Option<String> {
    let (record, _) = parse_lenient(&format!("v=spf1 {term}"));
    let (_, directive) = record.directives().next()?;
    match &directive.mechanism {
        Mechanism::Mx { domain, .. } => Some(
            domain
                .as_ref()
                .map_or(String::new(), |d| d.as_str().to_owned()),
        ),
        _ => None,
    }
}

fn same_name(a: &str, b: &str) -> bool {
    a.trim_end_matches('.')
        .eq_ignore_ascii_case(b.trim_end_matches('.'))
}

impl Hybrid {
    /// The `ip4:`/`ip6:` terms the SPF record needs so that every public address of the
    /// server stays authorised after the move (one for an address whose result is unknown too:
    /// it costs no lookup, RFC 7208 §4.6.4, and changes nothing if the record covers it).
    pub fn terms_to_add(&self) -> Vec<String> {
        self.spf
            .iter()
            .filter(|a| !a.stays_authorised())
            .map(|a| crate::spf::eval::ip_term(a.ip))
            .collect()
    }

    fn addresses_text(&self) -> String {
        let list: Vec<String> = self.addresses.iter().map(ToString::to_string).collect();
        if list.is_empty() || self.host.parse::<IpAddr>().is_ok() {
            self.host.clone()
        } else {
            format!("{} ({})", self.host, list.join(", "))
        }
    }

    /// The step that keeps the server in the SPF record: `add`/`remove` are the record after
    /// and before it (filled by the caller, which owns the record's edits).
    pub fn spf_step(&self, domain: &str, to: &Provider) -> Step {
        let mut s = step(
            StepId::KeepHybridInSpf,
            format!(
                "Keep the on-premises server {} in {domain}'s SPF record",
                self.addresses_text()
            ),
            format!(
                "It stays beside {} and relays through it: its public address stays authorised (an ip4:/ip6: term, first in the record, not a, mx or ptr, which change or cost lookups) so that mail it still sends directly passes SPF before, during and after the move.",
                to.name
            ),
            true,
        );
        if self.smart_host.is_none() {
            let _ = write!(
                s.detail,
                " {}'s profile names no smart host: set the server's relay as its documentation says.",
                to.name
            );
        }
        let lookup_failed = self.lookup.as_ref().is_some_and(smtp::lookup_failed);
        if self.addresses.is_empty() {
            s.status = Some(if lookup_failed {
                Status::Unknown
            } else {
                Status::NotDone
            });
            s.evidence
                .push(no_address(&self.host, self.lookup.as_ref()));
            return s;
        }
        for address in &self.spf {
            let through = address
                .matched
                .as_deref()
                .map_or_else(String::new, |t| format!(" ({t})"));
            s.evidence.push(if address.only_through_mx {
                format!(
                    "{}: pass only through the record's mx term, which names {}'s hosts instead of this server once MX points there",
                    address.ip, to.name
                )
            } else {
                format!("{}: {}{through}", address.ip, address.result.as_str())
            });
        }
        for address in &self.not_public {
            s.evidence.push(format!(
                "{}: {}, not an address the server sends from on the internet: give its public (NAT) address with --hybrid",
                address.ip, address.range
            ));
        }
        if self.addresses_not_checked > 0 {
            s.evidence.push(format!(
                "{} more addresses not checked (the first {MAX_ADDRESSES} are)",
                self.addresses_not_checked
            ));
        }
        let unknown = lookup_failed || self.spf.iter().any(|a| a.result == SpfResult::TempError);
        s.status = Some(if self.spf.iter().any(AddressSpf::known_missing) {
            Status::NotDone
        } else if unknown {
            Status::Unknown
        } else if self.spf.is_empty() {
            // Only private addresses: nothing the record could authorise.
            Status::NotDone
        } else {
            Status::Done
        });
        s
    }

    /// The step that routes the server's outbound mail through the smart host; `None` when
    /// the new provider's profile names none.
    pub fn route_step(&self, to: &Provider) -> Option<Step> {
        let smart = self.smart_host.as_ref()?;
        let mut s = step(
            StepId::HybridRoute,
            format!(
                "Relay {}'s outbound mail through {} port {} ({})",
                self.host,
                smart.host,
                smart.port,
                smart.tls.as_str()
            ),
            format!(
                "Once {}'s include is published: relayed mail then leaves from its servers. --smtp checks the route from the machine mailaudit runs on: run it on {} or in its network, whose firewall must let port {} out.",
                to.name, self.host, smart.port
            ),
            true,
        );
        s.action.clone_from(&to.relay_setup);
        let Some(probe) = &smart.probe else {
            s.status = Some(Status::Unknown);
            s.evidence.push(format!(
                "not probed: add --smtp to connect to {}:{} as {} would",
                smart.host, smart.port, self.host
            ));
            return Some(s);
        };
        let (status, evidence) = route_status(probe);
        s.status = Some(status);
        s.evidence = evidence;
        Some(s)
    }
}

/// Whether the smart host took a session with TLS and a valid certificate, from here.
fn route_status(probe: &PortProbe) -> (Status, Vec<String>) {
    let mut evidence: Vec<String> = probe
        .sessions
        .iter()
        .map(|session| {
            format!(
                "{}:{} at {}: {}",
                probe.host,
                probe.port,
                session.ip,
                route_diagnosis(probe, session)
            )
        })
        .collect();
    let works = probe.sessions.iter().any(|session| {
        session.outcome == smtp::Outcome::Completed
            && (probe.tls == TlsMode::None
                || session
                    .tls
                    .as_ref()
                    .and_then(|tls| tls.certificate.as_ref())
                    .is_some_and(|c| c.problems.is_empty()))
    });
    if works {
        evidence.push(
            "reachable with STARTTLS from here; the connector at the provider and the server's smart-host setting cannot be seen from outside: check them by hand"
                .to_owned(),
        );
        return (Status::Done, evidence);
    }
    let lookup_failed = probe.dns.as_ref().is_some_and(smtp::lookup_failed);
    if probe.sessions.is_empty() {
        evidence.push(no_address(&probe.host, probe.dns.as_ref()));
    }
    let status = if probe.sessions.is_empty() && lookup_failed {
        Status::Unknown
    } else {
        Status::NotDone
    };
    (status, evidence)
}

/// "`host` has no address", with the A and AAAA answers when they were asked.
fn no_address(host: &str, lookup: Option<&AddressLookup>) -> String {
    let answer = lookup.map_or_else(String::new, |l| format!(" (A: {}, AAAA: {})", l.a, l.aaaa));
    format!("{host} has no address{answer}")
}

/// What one session says of the relay route: a connection that did not open is a server's
/// route problem (a firewall, a network blocking outbound port 25), not a mail client's;
/// otherwise the probe's own diagnosis.
fn route_diagnosis(probe: &PortProbe, session: &smtp::Session) -> String {
    let port = probe.port;
    let error = session.error.as_deref().unwrap_or_default();
    match session.outcome {
        smtp::Outcome::Refused => format!(
            "connection refused: nothing takes mail on port {port} there, or a firewall on the way rejects it. Check the smart host's name, and the firewall rules for outbound port {port}."
        ),
        smtp::Outcome::ConnectTimeout => format!(
            "no answer ({error}): a firewall drops the connection, or the network blocks outbound port {port} (most ISPs do on consumer lines). Open outbound port {port} to the smart host, or ask the ISP to."
        ),
        smtp::Outcome::Unreachable => {
            format!("cannot be reached from here ({error}): no route to it.")
        }
        _ => smtp::diagnosis(probe, session),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_smart_host_is_filled_and_split() {
        assert_eq!(
            endpoint(
                "{domain_dashed}.mail.protection.outlook.com:25 starttls",
                "example.org"
            ),
            Some((
                "example-org.mail.protection.outlook.com".to_owned(),
                25,
                TlsMode::Starttls
            ))
        );
        assert_eq!(
            endpoint("relay.example.net:465 tls", "x.test"),
            Some(("relay.example.net".to_owned(), 465, TlsMode::Implicit))
        );
        for bad in [
            "relay.example.net",
            "relay.example.net:25",
            "relay.example.net:25 startls",
            ":25 starttls",
            "relay.example.net:0 starttls",
        ] {
            assert_eq!(endpoint(bad, "x.test"), None, "{bad}");
        }
    }

    #[test]
    fn only_the_domains_own_mx_term_follows_the_mx_switch() {
        for term in ["mx", "+mx", "~mx/24", "mx:example.org", "MX:Example.org."] {
            assert!(names_own_mx(term, "example.org"), "{term}");
        }
        for term in [
            "mx:other.example",
            "mxfoo",
            "ip4:192.0.2.1",
            "a",
            "include:mx.example",
        ] {
            assert!(!names_own_mx(term, "example.org"), "{term}");
        }
    }
}
