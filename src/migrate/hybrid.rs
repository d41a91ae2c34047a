//! `--hybrid HOST`: an on-premises server that stays beside the new provider and relays its
//! outbound mail through it (the provider's smart host). Through the move two things must hold:
//! the server's public address stays authorised by the domain's SPF record (RFC 7208 §5.6
//! `ip4`/`ip6`), and the server reaches the smart host on port 25 with STARTTLS (RFC 3207).

use std::net::IpAddr;

use futures::future::join_all;
use serde::Serialize;

use super::plan::{Status, Step, StepId, step};
use crate::dkim::selectors::{Provider, fill};
use crate::dns::Dns;
use crate::smtp::{self, AddressLookup, PortProbe, ProbeOptions, Role, TlsMode};
use crate::spf::SpfResult;
use crate::spf::eval::check_host;

/// Addresses of the on-premises host checked at most: a hostile zone could list hundreds.
const MAX_ADDRESSES: usize = 8;

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
    /// SPF's `check_host()` for each address against the domain (RFC 7208 §4).
    pub spf: Vec<AddressSpf>,
    /// Where the new provider takes its relayed mail; absent when its profile names none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smart_host: Option<SmartHost>,
}

/// One address of the server and what the domain's SPF record says of it.
#[derive(Clone, Debug, Serialize)]
pub struct AddressSpf {
    pub ip: IpAddr,
    pub result: SpfResult,
    /// The term that decided it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matched: Option<String>,
    /// It passes only through the domain's own `mx` term: once MX points at the new provider,
    /// that term names the provider's hosts and no longer this server.
    pub only_through_mx: bool,
}

impl AddressSpf {
    /// Whether the record authorises the address now and after the MX switch.
    fn stays_authorised(&self) -> bool {
        self.result == SpfResult::Pass && !self.only_through_mx
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

/// A profile's `host:port mode` (`smart_host`) for `domain`.
fn endpoint(template: &str, domain: &str) -> Option<(String, u16, TlsMode)> {
    let filled = fill(template, domain);
    let (address, mode) = filled.split_once(' ').unwrap_or((filled.as_str(), ""));
    let (host, port) = address.rsplit_once(':')?;
    let port: u16 = port.parse().ok()?;
    let tls = match mode.trim() {
        "tls" | "implicit" => TlsMode::Implicit,
        "none" => TlsMode::None,
        "starttls" => TlsMode::Starttls,
        _ => TlsMode::default_for(port),
    };
    Some((host.to_owned(), port, tls))
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
    let (addresses, lookup) = smtp::host_addresses(dns, host).await;
    let addresses: Vec<IpAddr> = addresses.into_iter().take(MAX_ADDRESSES).collect();
    let sender = format!("postmaster@{domain}");
    let spf = join_all(addresses.iter().map(|&ip| {
        let sender = &sender;
        async move {
            let evaluation = check_host(dns, ip, domain, sender, None).await;
            let matched = evaluation.matched.as_ref();
            let only_through_mx = evaluation.result == SpfResult::Pass
                && matched.is_some_and(|m| {
                    m.domain.eq_ignore_ascii_case(domain) && names_own_mx(&m.term, domain)
                });
            AddressSpf {
                ip,
                result: evaluation.result,
                matched: matched.map(|m| m.term.clone()),
                only_through_mx,
            }
        }
    }))
    .await;
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
        smart_host,
    }
}

/// Whether an SPF term is `mx` of the domain itself (`mx`, `mx/24`, `mx:<domain>`, RFC 7208
/// §5.4), whatever its qualifier.
fn names_own_mx(term: &str, domain: &str) -> bool {
    let term = term.trim_start_matches(['+', '-', '~', '?']);
    let Some(rest) = term
        .get(..2)
        .filter(|m| m.eq_ignore_ascii_case("mx"))
        .map(|_| &term[2..])
    else {
        return false;
    };
    let target = rest.split('/').next().unwrap_or_default();
    target.is_empty()
        || target
            .strip_prefix(':')
            .is_some_and(|t| t.trim_end_matches('.').eq_ignore_ascii_case(domain))
}

impl Hybrid {
    /// The `ip4:`/`ip6:` terms the SPF record needs so that every address of the server stays
    /// authorised after the move; none for an address whose result is unknown (temperror).
    pub fn terms_to_add(&self) -> Vec<String> {
        self.spf
            .iter()
            .filter(|a| !a.stays_authorised() && a.result != SpfResult::TempError)
            .map(|a| match a.ip {
                IpAddr::V4(ip) => format!("ip4:{ip}"),
                IpAddr::V6(ip) => format!("ip6:{ip}"),
            })
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
                "It stays beside {} and relays through it: its public address stays authorised (an ip4:/ip6: term, not a, mx or ptr, which change or cost lookups) so that mail it still sends directly passes SPF before, during and after the move.",
                to.name
            ),
            true,
        );
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
        let unknown = lookup_failed || self.spf.iter().any(|a| a.result == SpfResult::TempError);
        s.status = Some(if self.spf.iter().all(AddressSpf::stays_authorised) {
            if lookup_failed {
                Status::Unknown
            } else {
                Status::Done
            }
        } else if self.terms_to_add().is_empty() && unknown {
            Status::Unknown
        } else {
            Status::NotDone
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
            endpoint("relay.example.net:465", "x.test"),
            Some(("relay.example.net".to_owned(), 465, TlsMode::Implicit))
        );
        assert_eq!(endpoint("relay.example.net", "x.test"), None);
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
