//! Query names: what is asked of a list about an IP address or a domain (RFC 5782 §2).

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::catalog::List;

/// The IPv4 address with its octets reversed, as in `in-addr.arpa` (RFC 5782 §2.1):
/// `192.0.2.99` becomes `99.2.0.192`.
pub fn reversed_ipv4(ip: Ipv4Addr) -> String {
    let [a, b, c, d] = ip.octets();
    format!("{d}.{c}.{b}.{a}")
}

/// The IPv6 address as 32 nibbles, least significant first, dot-separated, lowercase, as in
/// `ip6.arpa` (RFC 5782 §2.4): `2001:db8::1` becomes `1.0.0.0. … .8.b.d.0.1.0.0.2`.
pub fn reversed_ipv6(ip: Ipv6Addr) -> String {
    let mut out = String::with_capacity(63);
    for byte in ip.octets().iter().rev() {
        if !out.is_empty() {
            out.push('.');
        }
        // Low nibble first: the address reads backwards one hex digit at a time.
        let _ = write!(out, "{:x}.{:x}", byte & 0x0f, byte >> 4);
    }
    out
}

/// The item for an address, exactly as given: an IPv4-mapped IPv6 address stays IPv6 here
/// (the RFC 5782 §5 IPv6 test entries are such addresses). Callers that audit a real sending
/// address turn a mapped one into IPv4 first.
pub fn ip_item(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => reversed_ipv4(v4),
        IpAddr::V6(v6) => reversed_ipv6(v6),
    }
}

/// The full query name for `item` (a reversed address or a domain) on `list`:
/// `<item>.<zone>`, or `<item>.<key>.<zone>` for keyed lists.
pub fn query_name(item: &str, list: &List) -> String {
    format!("{item}.{}", list.query_suffix())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dnsbl::Catalog;

    #[test]
    fn ipv4_octets_are_reversed() {
        assert_eq!(reversed_ipv4(Ipv4Addr::new(192, 0, 2, 99)), "99.2.0.192");
        assert_eq!(reversed_ipv4(Ipv4Addr::new(127, 0, 0, 2)), "2.0.0.127");
    }

    #[test]
    fn ipv6_is_32_reversed_nibbles() {
        let ip: Ipv6Addr = "2001:db8:1:2::abcd".parse().unwrap();
        let item = reversed_ipv6(ip);
        assert_eq!(
            item,
            "d.c.b.a.0.0.0.0.0.0.0.0.0.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2"
        );
        assert_eq!(item.split('.').count(), 32);
        // The RFC 5782 §5 IPv6 test entry is an IPv4-mapped address and must stay IPv6.
        let test: IpAddr = "::FFFF:7F00:2".parse().unwrap();
        assert_eq!(
            ip_item(test),
            "2.0.0.0.0.0.f.7.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0"
        );
    }

    #[test]
    fn query_names_put_the_key_before_the_zone() {
        let catalog = Catalog::from_toml_str(
            r#"
            [[list]]
            name = "Free"
            zone = "rbl.example"
            takes = ["ipv4"]
            weight = "minor"

            [[list]]
            name = "Keyed"
            zone = "zen.dq.example"
            takes = ["ipv4"]
            weight = "major"
            access = "key"
            key_position = "before-zone"
            key = "k3y"
            "#,
        )
        .unwrap();
        let item = reversed_ipv4(Ipv4Addr::new(203, 0, 113, 79));
        assert_eq!(
            query_name(&item, &catalog.lists[0]),
            "79.113.0.203.rbl.example"
        );
        assert_eq!(
            query_name(&item, &catalog.lists[1]),
            "79.113.0.203.k3y.zen.dq.example"
        );
        assert_eq!(
            query_name("example.com", &catalog.lists[0]),
            "example.com.rbl.example"
        );
    }
}
