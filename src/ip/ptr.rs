//! Generic and dynamic-looking PTR names: pure functions on the name and the address.
//!
//! Receivers (and lists such as `SpamRATS` Dyna and Spamhaus PBL) treat a host name that spells
//! its own address (`192-0-2-10.dsl.example.net`) or names an access technology (`dynamic`,
//! `pool`, `dhcp`, `cable` ...) as an end-user connection that should not send mail directly.
//! RFC 1912 §2.1 asks for PTR records to exist; M3AAWG's rDNS best practice asks mail servers
//! to have names that identify them as mail servers, not generic ones.
//!
//! Only the labels left of the registrable domain are read (public suffix list), so that a
//! company called "Dynamic Solutions" is not flagged for its own domain.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Whole words (between separators or at a letter/digit boundary) that name an access network.
/// Broad words that mail servers also use ("mail", "static", "host", "ip") are not here: they
/// count only through the address digits beside them.
const GENERIC_WORDS: &[&str] = &[
    "dynamic",
    "dyn",
    "dynip",
    "dip",
    "dsl",
    "adsl",
    "vdsl",
    "xdsl",
    "sdsl",
    "pool",
    "dhcp",
    "cable",
    "dial",
    "dialup",
    "dialin",
    "ppp",
    "pppoe",
    "broadband",
    "cust",
    "customer",
    "residential",
    "cpe",
    "fios",
    "ftth",
    "fttx",
    "fttb",
    "mobile",
    "wireless",
    "unassigned",
    "cgnat",
    "clients",
];

/// Why `name` (a PTR name of `ip`) looks generic or dynamic, or `None`.
pub fn generic_reason(name: &str, ip: IpAddr) -> Option<String> {
    let host = host_part(name);
    if host.is_empty() {
        return None;
    }
    if let Some(reason) = address_in_name(&host, ip) {
        return Some(reason);
    }
    words(&host)
        .into_iter()
        .find(|word| GENERIC_WORDS.contains(&word.as_str()))
        .map(|word| format!("the word \"{word}\" names an access network"))
}

/// The labels left of the registrable domain (`a.b` of `a.b.example.co.uk`), lowercase.
fn host_part(name: &str) -> String {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let registrable = psl::domain_str(&name).map(str::to_owned);
    match registrable {
        Some(domain) => name
            .strip_suffix(domain.as_str())
            .map(|rest| rest.trim_end_matches('.').to_owned())
            .unwrap_or_default(),
        // Not under a public suffix: everything but the last label.
        None => name
            .rsplit_once('.')
            .map(|(rest, _)| rest.to_owned())
            .unwrap_or_default(),
    }
}

/// Lowercase alphabetic words: split at every character that is not a letter.
fn words(host: &str) -> Vec<String> {
    host.split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

fn address_in_name(host: &str, ip: IpAddr) -> Option<String> {
    match ip {
        IpAddr::V4(v4) => ipv4_in_name(host, v4),
        IpAddr::V6(v6) => ipv6_in_name(host, v6),
    }
}

/// The four octets in order or reversed as separate numbers (`192-0-2-10`, `10.2.0.192`,
/// `ip192.0.2.10`), zero-padded and run together (`192000002010`), or as eight hex digits
/// (`c000020a`).
fn ipv4_in_name(host: &str, ip: Ipv4Addr) -> Option<String> {
    let octets = ip.octets().map(u32::from);
    let numbers: Vec<u32> = host
        .split(|c: char| !c.is_ascii_digit())
        .filter(|run| !run.is_empty() && run.len() <= 3)
        .filter_map(|run| run.parse().ok())
        .collect();
    let mut reversed = octets;
    reversed.reverse();
    if numbers
        .windows(4)
        .any(|w| w == octets.as_slice() || w == reversed.as_slice())
    {
        return Some(format!("the name spells the address {ip}"));
    }
    let [a, b, c, d] = ip.octets();
    let padded = format!("{a:03}{b:03}{c:03}{d:03}");
    let hex = format!("{:08x}", u32::from(ip));
    if host.contains(&padded) || host.contains(&hex) {
        return Some(format!("the name spells the address {ip}"));
    }
    None
}

/// All 32 hex digits of the address run together, or its last four groups as separate
/// hex numbers (`2001-db8-0-0-0-0-0-25` ends in `0-0-0-25`).
fn ipv6_in_name(host: &str, ip: Ipv6Addr) -> Option<String> {
    let full = format!("{:032x}", u128::from(ip));
    let joined: String = host.chars().filter(char::is_ascii_hexdigit).collect();
    if joined.contains(&full) {
        return Some(format!("the name spells the address {ip}"));
    }
    let groups = ip.segments();
    let tail = &groups[4..];
    let numbers: Vec<Option<u16>> = host
        .split(['.', '-', '_'])
        .filter(|t| !t.is_empty())
        .map(|t| {
            (t.len() <= 4)
                .then(|| u16::from_str_radix(t, 16).ok())
                .flatten()
        })
        .collect();
    if numbers
        .windows(4)
        .any(|w| w.iter().zip(tail).all(|(n, g)| *n == Some(*g)))
    {
        return Some(format!("the name spells the address {ip}"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn names_that_spell_the_address_are_generic() {
        let ip = v4("192.0.2.10");
        for name in [
            "192-0-2-10.dsl.example.net",
            "10.2.0.192.broadband.example.net",
            "static.10.2.0.192.clients.your-server.de",
            "ip192-0-2-10.example.com",
            "host-192-000-002-010.example.org",
            "c000020a.cust.example.net",
            "h192000002010.example.net",
        ] {
            assert!(generic_reason(name, ip).is_some(), "{name}");
        }
    }

    #[test]
    fn access_network_words_are_generic() {
        let ip = v4("198.51.100.7");
        for name in [
            "pool-7.example.net",
            "dynamic.example.net",
            "customer7.dhcp.example.net",
            "abc.cable.example.co.uk",
            "p5b3a.dip0.t-ipconnect.de",
        ] {
            let reason = generic_reason(name, ip);
            assert!(
                reason
                    .as_deref()
                    .is_some_and(|r| r.contains("access network")),
                "{name}: {reason:?}"
            );
        }
    }

    #[test]
    fn mail_server_names_are_not_generic() {
        let ip = v4("192.0.2.10");
        for name in [
            "mail.example.com",
            "mx1.example.com",
            "smtp-out-2.mail.example.net",
            "mail.dynamic-solutions.com",
            "outbound.pool-party.co.uk",
            "o10.email.example.com",
            "example.com",
            "mail",
        ] {
            assert_eq!(generic_reason(name, ip), None, "{name}");
        }
    }

    #[test]
    fn ipv6_names_that_spell_the_address_are_generic() {
        let ip: IpAddr = "2001:db8::25".parse().unwrap();
        assert!(generic_reason("20010db8000000000000000000000025.ipv6.example.net", ip).is_some());
        assert!(generic_reason("2001-db8-0-0-0-0-0-25.dyn.example.net", ip).is_some());
        assert_eq!(generic_reason("mail6.example.net", ip), None);
    }

    #[test]
    fn hostile_names_do_not_panic() {
        let ip = v4("192.0.2.10");
        for name in [
            "",
            ".",
            "..",
            "é.ü.example",
            "\\000.\\255.example.com",
            &"a.".repeat(200),
        ] {
            let _ = generic_reason(name, ip);
        }
    }
}
