//! Which special-purpose range an address is in (RFC 6890 and the IANA special-purpose
//! address registries), and whether a mail server there can be reached from the internet.
//!
//! `std`'s `Ipv4Addr::is_global` and friends are unstable and do not name the range, and an
//! auditor must tell the user *which* range it is, so the table is written out here.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::Serialize;

/// What kind of special-purpose range an address belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RangeKind {
    /// RFC 1918 private IPv4, or IPv6 unique local addresses (RFC 4193).
    Private,
    Loopback,
    LinkLocal,
    /// Carrier-grade NAT space (RFC 6598).
    Shared,
    Unspecified,
    Multicast,
    Broadcast,
    /// Reserved for future use, protocol assignments, benchmarking, or not routable as an
    /// address of its own (IPv4-mapped, discard-only).
    Reserved,
    /// Documentation ranges: not reachable either, but not flagged, so that examples and test
    /// fixtures can use them.
    Documentation,
}

/// A special-purpose range, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct SpecialRange {
    /// The range in CIDR notation, e.g. `10.0.0.0/8`.
    pub cidr: &'static str,
    pub kind: RangeKind,
    /// Where it is defined.
    pub rfc: &'static str,
}

impl SpecialRange {
    /// Whether a mail server at this address is unreachable from the internet and should be
    /// flagged. Documentation ranges are deliberately not flagged.
    pub fn is_unreachable(&self) -> bool {
        self.kind != RangeKind::Documentation
    }

    /// A short human name, e.g. `private 10.0.0.0/8 (RFC 1918)`.
    pub fn describe(&self) -> String {
        let kind = match self.kind {
            RangeKind::Private => "private",
            RangeKind::Loopback => "loopback",
            RangeKind::LinkLocal => "link-local",
            RangeKind::Shared => "shared address space",
            RangeKind::Unspecified => "unspecified",
            RangeKind::Multicast => "multicast",
            RangeKind::Broadcast => "broadcast",
            RangeKind::Reserved => "reserved",
            RangeKind::Documentation => "documentation",
        };
        format!("{kind} {} ({})", self.cidr, self.rfc)
    }
}

const fn range(cidr: &'static str, kind: RangeKind, rfc: &'static str) -> SpecialRange {
    SpecialRange { cidr, kind, rfc }
}

/// IPv4 ranges, most specific first: (network, prefix length, range).
const V4: &[(Ipv4Addr, u8, SpecialRange)] = &[
    (
        Ipv4Addr::UNSPECIFIED,
        32,
        range("0.0.0.0/32", RangeKind::Unspecified, "RFC 1122"),
    ),
    (
        Ipv4Addr::BROADCAST,
        32,
        range("255.255.255.255/32", RangeKind::Broadcast, "RFC 919"),
    ),
    (
        Ipv4Addr::new(192, 0, 2, 0),
        24,
        range("192.0.2.0/24", RangeKind::Documentation, "RFC 5737"),
    ),
    (
        Ipv4Addr::new(198, 51, 100, 0),
        24,
        range("198.51.100.0/24", RangeKind::Documentation, "RFC 5737"),
    ),
    (
        Ipv4Addr::new(203, 0, 113, 0),
        24,
        range("203.0.113.0/24", RangeKind::Documentation, "RFC 5737"),
    ),
    (
        Ipv4Addr::new(192, 0, 0, 0),
        24,
        range("192.0.0.0/24", RangeKind::Reserved, "RFC 6890"),
    ),
    (
        Ipv4Addr::UNSPECIFIED,
        8,
        range("0.0.0.0/8", RangeKind::Unspecified, "RFC 1122"),
    ),
    (
        Ipv4Addr::new(10, 0, 0, 0),
        8,
        range("10.0.0.0/8", RangeKind::Private, "RFC 1918"),
    ),
    (
        Ipv4Addr::new(100, 64, 0, 0),
        10,
        range("100.64.0.0/10", RangeKind::Shared, "RFC 6598"),
    ),
    (
        Ipv4Addr::new(127, 0, 0, 0),
        8,
        range("127.0.0.0/8", RangeKind::Loopback, "RFC 1122"),
    ),
    (
        Ipv4Addr::new(169, 254, 0, 0),
        16,
        range("169.254.0.0/16", RangeKind::LinkLocal, "RFC 3927"),
    ),
    (
        Ipv4Addr::new(172, 16, 0, 0),
        12,
        range("172.16.0.0/12", RangeKind::Private, "RFC 1918"),
    ),
    (
        Ipv4Addr::new(192, 168, 0, 0),
        16,
        range("192.168.0.0/16", RangeKind::Private, "RFC 1918"),
    ),
    (
        Ipv4Addr::new(198, 18, 0, 0),
        15,
        range("198.18.0.0/15", RangeKind::Reserved, "RFC 2544"),
    ),
    (
        Ipv4Addr::new(224, 0, 0, 0),
        4,
        range("224.0.0.0/4", RangeKind::Multicast, "RFC 5771"),
    ),
    (
        Ipv4Addr::new(240, 0, 0, 0),
        4,
        range("240.0.0.0/4", RangeKind::Reserved, "RFC 1112"),
    ),
];

/// IPv6 ranges, most specific first.
const V6: &[(Ipv6Addr, u8, SpecialRange)] = &[
    (
        Ipv6Addr::UNSPECIFIED,
        128,
        range("::/128", RangeKind::Unspecified, "RFC 4291"),
    ),
    (
        Ipv6Addr::LOCALHOST,
        128,
        range("::1/128", RangeKind::Loopback, "RFC 4291"),
    ),
    (
        Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0),
        96,
        range(
            "::ffff:0:0/96",
            RangeKind::Reserved,
            "RFC 4291 (IPv4-mapped)",
        ),
    ),
    (
        Ipv6Addr::UNSPECIFIED,
        96,
        range(
            "::/96",
            RangeKind::Reserved,
            "RFC 4291 (IPv4-compatible, deprecated)",
        ),
    ),
    (
        Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0),
        64,
        range("100::/64", RangeKind::Reserved, "RFC 6666 (discard-only)"),
    ),
    (
        Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0),
        32,
        range("2001:db8::/32", RangeKind::Documentation, "RFC 3849"),
    ),
    (
        Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0),
        20,
        range("3fff::/20", RangeKind::Documentation, "RFC 9637"),
    ),
    (
        Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0),
        7,
        range("fc00::/7", RangeKind::Private, "RFC 4193"),
    ),
    (
        Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0),
        10,
        range("fe80::/10", RangeKind::LinkLocal, "RFC 4291"),
    ),
    (
        Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0),
        10,
        range(
            "fec0::/10",
            RangeKind::Reserved,
            "RFC 3879 (site-local, deprecated)",
        ),
    ),
    (
        Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0),
        8,
        range("ff00::/8", RangeKind::Multicast, "RFC 4291"),
    ),
];

/// The special-purpose range `ip` is in, or `None` for an ordinary global address.
pub fn special_range(ip: IpAddr) -> Option<SpecialRange> {
    match ip {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            V4.iter()
                .find(|(network, len, _)| prefix_matches32(bits, u32::from(*network), *len))
                .map(|(_, _, range)| *range)
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            V6.iter()
                .find(|(network, len, _)| prefix_matches128(bits, u128::from(*network), *len))
                .map(|(_, _, range)| *range)
        }
    }
}

fn prefix_matches32(address: u32, network: u32, len: u8) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
    address & mask == network & mask
}

fn prefix_matches128(address: u128, network: u128, len: u8) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
    address & mask == network & mask
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(text: &str) -> Option<RangeKind> {
        special_range(text.parse().unwrap()).map(|r| r.kind)
    }

    fn cidr(text: &str) -> Option<&'static str> {
        special_range(text.parse().unwrap()).map(|r| r.cidr)
    }

    #[test]
    fn rfc1918_and_unique_local_are_private() {
        assert_eq!(cidr("10.0.0.5"), Some("10.0.0.0/8"));
        assert_eq!(cidr("172.16.0.1"), Some("172.16.0.0/12"));
        assert_eq!(cidr("172.31.255.255"), Some("172.16.0.0/12"));
        assert_eq!(cidr("192.168.1.1"), Some("192.168.0.0/16"));
        assert_eq!(cidr("fd00::1"), Some("fc00::/7"));
        assert_eq!(cidr("fc00::1"), Some("fc00::/7"));
        assert_eq!(kind("fd00::1"), Some(RangeKind::Private));
    }

    #[test]
    fn range_edges_are_exact() {
        assert_eq!(kind("172.15.255.255"), None);
        assert_eq!(kind("172.32.0.0"), None);
        assert_eq!(kind("100.63.255.255"), None);
        assert_eq!(kind("100.64.0.0"), Some(RangeKind::Shared));
        assert_eq!(kind("100.127.255.255"), Some(RangeKind::Shared));
        assert_eq!(kind("100.128.0.0"), None);
        assert_eq!(kind("fbff::1"), None);
        assert_eq!(kind("fe00::1"), None);
    }

    #[test]
    fn loopback_link_local_unspecified_multicast_broadcast() {
        assert_eq!(kind("127.0.0.1"), Some(RangeKind::Loopback));
        assert_eq!(kind("::1"), Some(RangeKind::Loopback));
        assert_eq!(kind("169.254.10.1"), Some(RangeKind::LinkLocal));
        assert_eq!(kind("fe80::1"), Some(RangeKind::LinkLocal));
        assert_eq!(kind("0.0.0.0"), Some(RangeKind::Unspecified));
        assert_eq!(cidr("0.0.0.0"), Some("0.0.0.0/32"));
        assert_eq!(kind("0.1.2.3"), Some(RangeKind::Unspecified));
        assert_eq!(kind("::"), Some(RangeKind::Unspecified));
        assert_eq!(kind("224.0.0.1"), Some(RangeKind::Multicast));
        assert_eq!(kind("ff02::1"), Some(RangeKind::Multicast));
        assert_eq!(kind("255.255.255.255"), Some(RangeKind::Broadcast));
        assert_eq!(kind("240.0.0.1"), Some(RangeKind::Reserved));
        assert_eq!(kind("::ffff:192.0.2.1"), Some(RangeKind::Reserved));
    }

    #[test]
    fn documentation_ranges_are_named_but_not_unreachable() {
        for text in ["192.0.2.25", "198.51.100.1", "203.0.113.9", "2001:db8::25"] {
            let range = special_range(text.parse().unwrap()).unwrap();
            assert_eq!(range.kind, RangeKind::Documentation, "{text}");
            assert!(!range.is_unreachable(), "{text}");
        }
        assert!(
            special_range("10.0.0.5".parse().unwrap())
                .unwrap()
                .is_unreachable()
        );
    }

    #[test]
    fn global_addresses_are_in_no_range() {
        for text in [
            "8.8.8.8",
            "1.1.1.1",
            "192.0.3.1",
            "2a00:1450:4001::1",
            "2001:db9::1",
            "64:ff9b::1",
        ] {
            assert_eq!(kind(text), None, "{text}");
        }
    }

    #[test]
    fn describe_names_the_range_and_its_rfc() {
        let range = special_range("10.0.0.5".parse().unwrap()).unwrap();
        assert_eq!(range.describe(), "private 10.0.0.0/8 (RFC 1918)");
    }
}
