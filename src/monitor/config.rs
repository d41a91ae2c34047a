//! `monitor.toml`: what to watch. Read and checked before a single query is sent, so that a
//! typo fails the run with the file and the problem named, instead of silently watching less.
//!
//! ```toml
//! domains = ["example.com", { name = "example.org", migrate = { to = "microsoft365" } }]
//! ips = ["192.0.2.1", "2001:db8::25"]
//! ranges = ["192.0.2.0/28"]        # CIDR, expanded to every address
//! selectors = ["s2024"]            # DKIM selectors beside the built-in ones
//! smtp = ["mail.example.com:587", "mx.example.com:25", "[2001:db8::25]:25"]  # HOST[:PORT]
//! ca_file = "/etc/mailaudit/private-ca.pem"     # for `smtp`, MTA-STS policy hosts and `fetch_bimi`
//! fetch_bimi = true                # fetch each domain's BIMI logo and mark certificate
//! webhook = "https://hooks.example/mailaudit"
//! metrics = "/var/lib/node_exporter/textfile/mailaudit.prom"
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write as _};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::input;

/// The widest IPv4 range accepted: a /16 is 65 536 addresses, each asked of every list.
pub const MAX_V4_PREFIX_BITS: u8 = 16;
/// The widest IPv6 range accepted: a /112, the same 65 536 addresses.
pub const MAX_V6_PREFIX_BITS: u8 = 112;

/// The most targets a config may name in all: domains, IPs, every address of every range
/// (overlaps counted once) and SMTP servers. Each is audited at every run and its report kept in memory until
/// the run is stored, so the total is bounded, not only each range: a /16 alone fills it.
pub const MAX_TARGETS: u64 = 65_536;

/// A config that cannot be used; the message names the file and the problem on one line.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {problem}")]
pub struct ConfigError {
    pub file: String,
    pub problem: String,
}

/// The file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    domains: Vec<RawDomain>,
    #[serde(default)]
    ips: Vec<String>,
    #[serde(default)]
    ranges: Vec<String>,
    #[serde(default)]
    selectors: Vec<String>,
    #[serde(default)]
    smtp: Vec<String>,
    ca_file: Option<PathBuf>,
    #[serde(default)]
    fetch_bimi: bool,
    webhook: Option<String>,
    metrics: Option<PathBuf>,
}

/// A `domains` entry: a name, or a table naming the domain and the migration to watch.
#[derive(Debug, Deserialize)]
#[serde(
    untagged,
    expecting = "a domain name, or { name = \"DOMAIN\", migrate = { to = \"PROVIDER\", from = \"PROVIDER\", tenant = \"NAME\", hybrid = \"HOST\" } } (`from`, `tenant` and `hybrid` optional)"
)]
enum RawDomain {
    Name(String),
    Entry(RawDomainEntry),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDomainEntry {
    name: String,
    migrate: Option<Migration>,
}

/// A provider move to watch (`mailaudit migrate DOMAIN --to TO --verify` at every run): a step
/// DNS showed done that is not done any more is a worse change.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Migration {
    pub to: String,
    pub from: Option<String>,
    pub tenant: Option<String>,
    /// The on-premises server that stays and relays through `to` (`migrate --hybrid`):
    /// normalised at start.
    pub hybrid: Option<String>,
}

/// What to watch, checked: normalised domains, every address once (ranges expanded), each SMTP
/// server once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub domains: Vec<String>,
    /// The migrations watched, by (normalised) domain.
    pub migrations: BTreeMap<String, Migration>,
    pub ips: Vec<IpAddr>,
    pub selectors: Vec<String>,
    /// Mail servers probed as a client would (no AUTH), in the config's order.
    pub smtp: Vec<SmtpTarget>,
    /// CA certificates (PEM) trusted beside the web PKI roots by the `smtp` probes, the
    /// domains' MTA-STS policy fetches and the BIMI fetches: an input, read at start.
    pub ca_file: Option<PathBuf>,
    /// Fetch each domain's BIMI logo and mark certificate (`audit --fetch-bimi`), so that an
    /// expiring or replaced certificate is a change.
    pub fetch_bimi: bool,
    pub webhook: Option<String>,
    pub metrics: Option<PathBuf>,
}

impl Config {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let fail = |problem: String| ConfigError {
            file: path.display().to_string(),
            problem,
        };
        let bytes = crate::files::read_small(path, crate::files::SMALL_INPUT_LIMIT)
            .map_err(|e| fail(format!("cannot read: {e}")))?;
        let text =
            String::from_utf8(bytes).map_err(|_| fail("cannot read: not UTF-8 text".to_owned()))?;
        Config::parse(&text).map_err(|problem| ConfigError {
            file: path.display().to_string(),
            problem,
        })
    }

    /// Checks the TOML text of a config; the error is one line.
    pub fn parse(text: &str) -> Result<Config, String> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let mut problem = String::new();
            if let Some(span) = e.span() {
                let line = text
                    .get(..span.start)
                    .map_or(1, |before| before.matches('\n').count() + 1);
                let _ = write!(problem, "line {line}: ");
            }
            problem.push_str(&e.message().replace('\n', " "));
            problem
        })?;
        let mut names = Vec::new();
        let mut migrations = BTreeMap::new();
        for entry in raw.domains {
            let (name, migrate) = match entry {
                RawDomain::Name(name) => (name, None),
                RawDomain::Entry(RawDomainEntry { name, migrate }) => (name, migrate),
            };
            let domain = input::normalize_domain(&name).map_err(|e| format!("domains: {e}"))?;
            let migrate = migrate
                .map(|mut migrate| {
                    migrate.hybrid = migrate
                        .hybrid
                        .as_deref()
                        .map(input::normalize_host)
                        .transpose()
                        .map_err(|e| format!("domains: '{domain}' migrate.hybrid: {e}"))?;
                    Ok::<_, String>(migrate)
                })
                .transpose()?;
            if let Some(migrate) = migrate
                && migrations
                    .insert(domain.clone(), migrate.clone())
                    .is_some_and(|before| before != migrate)
            {
                return Err(format!(
                    "domains: '{domain}' is given two different `migrate`"
                ));
            }
            names.push(domain);
        }
        let domains = unique(names);
        let mut ips = BTreeSet::new();
        for ip in &raw.ips {
            let parsed = input::parse_ip(ip).map_err(|e| format!("ips: {e}"))?;
            ips.insert(parsed.to_canonical());
        }
        let ranges = raw
            .ranges
            .iter()
            .map(|range| Cidr::parse(range).map_err(|e| format!("ranges: '{range}': {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        let mut smtp = Vec::new();
        for entry in &raw.smtp {
            let target = SmtpTarget::parse(entry)
                .map_err(|e| format!("smtp: '{}': {e}", printable(entry)))?;
            if !smtp.contains(&target) {
                smtp.push(target);
            }
        }
        // Counted before a single address is expanded.
        let total = count_targets(domains.len() + smtp.len(), &ips, &ranges);
        if total > MAX_TARGETS {
            return Err(format!(
                "{total} targets (domains, IPs, every address of the ranges and SMTP servers): \
                 a config monitors at most {MAX_TARGETS}; split it into several configs"
            ));
        }
        for cidr in ranges {
            ips.extend(cidr.addresses());
        }
        if domains.is_empty() && ips.is_empty() && smtp.is_empty() {
            return Err("nothing to monitor: give `domains`, `ips`, `ranges` or `smtp`".to_owned());
        }
        if let Some(webhook) = &raw.webhook {
            check_webhook(webhook).map_err(|e| format!("webhook: {e}"))?;
        }
        Ok(Config {
            domains,
            migrations,
            ips: ips.into_iter().collect(),
            selectors: unique(raw.selectors),
            smtp,
            ca_file: raw.ca_file,
            fetch_bimi: raw.fetch_bimi,
            webhook: raw.webhook,
            metrics: raw.metrics,
        })
    }

    /// How many targets a run audits.
    pub fn target_count(&self) -> usize {
        self.domains.len() + self.ips.len() + self.smtp.len()
    }
}

/// A mail server to probe: a host and a port, written `HOST[:PORT]` in the config
/// (`mail.example.com:587`, `192.0.2.25:25`, `[2001:db8::25]:25`; a bare host is port 587,
/// submission). TLS is the port's default ([`crate::smtp::TlsMode::default_for`]: implicit on
/// 465, STARTTLS elsewhere) and so is the role (MX on 25, submission elsewhere).
///
/// Its name as a target (in the history, the changes, the metrics' `target` label) is
/// `HOST:PORT` as [`fmt::Display`] writes it: one target per server and port, never the same
/// name as a domain or an IP target of the same config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmtpTarget {
    /// A normalised domain, or an IP address as reports spell it.
    pub host: String,
    pub port: u16,
}

impl SmtpTarget {
    /// The port of a bare host: submission with STARTTLS (RFC 6409), what mail clients use.
    pub const DEFAULT_PORT: u16 = 587;

    /// Parses `HOST[:PORT]`: a domain (normalised as the audit does), an IPv4 address, or an
    /// IPv6 address in brackets; the port 1-65535.
    pub fn parse(text: &str) -> Result<SmtpTarget, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("empty: expected HOST or HOST:PORT, e.g. mail.example.com:587".to_owned());
        }
        let (host, port) = if let Some(rest) = text.strip_prefix('[') {
            let (inside, after) = rest
                .split_once(']')
                .ok_or("an IPv6 address opened with '[' is not closed with ']'")?;
            let ip: Ipv6Addr = inside
                .parse()
                .map_err(|_| format!("'{inside}' is not an IPv6 address"))?;
            let port = match after {
                "" => None,
                _ => Some(
                    after
                        .strip_prefix(':')
                        .ok_or("expected ':PORT' after the ']' of an IPv6 address")?,
                ),
            };
            (IpAddr::V6(ip).to_canonical().to_string(), port)
        } else if text.parse::<Ipv6Addr>().is_ok() {
            return Err(format!(
                "an IPv6 address goes in brackets, with or without its port: [{text}]:{}",
                SmtpTarget::DEFAULT_PORT
            ));
        } else {
            let (host, port) = match text.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (text, None),
            };
            let host = match host.parse::<IpAddr>() {
                Ok(ip) => ip.to_canonical().to_string(),
                Err(_) => input::normalize_domain(host).map_err(|e| e.to_string())?,
            };
            (host, port)
        };
        let port = match port {
            None => SmtpTarget::DEFAULT_PORT,
            Some(digits) => match digits.parse::<u16>() {
                Ok(port) if port > 0 && digits.bytes().all(|b| b.is_ascii_digit()) => port,
                _ => return Err("the port must be a number from 1 to 65535".to_owned()),
            },
        };
        Ok(SmtpTarget { host, port })
    }
}

impl fmt::Display for SmtpTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.parse::<Ipv6Addr>().is_ok() {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// A config entry as an error message repeats it: control characters escaped, so that the
/// message stays one line, and cut short.
fn printable(text: &str) -> String {
    let mut shown = String::new();
    for c in text.chars() {
        if c.is_control() {
            shown.extend(c.escape_default());
        } else {
            shown.push(c);
        }
    }
    if shown.chars().count() > 80 {
        let cut: String = shown.chars().take(77).collect();
        format!("{cut}...")
    } else {
        shown
    }
}

/// How many targets the named targets (domains, SMTP servers), the IPs and the ranges make,
/// each address counted once.
/// CIDR ranges are either nested or disjoint: sorted by first address, widest first, a range
/// inside the last one kept adds nothing.
fn count_targets(named: usize, ips: &BTreeSet<IpAddr>, ranges: &[Cidr]) -> u64 {
    let mut sorted: Vec<Cidr> = ranges.to_vec();
    sorted.sort_by_key(|cidr| (cidr.first(), cidr.prefix));
    let mut kept: Vec<Cidr> = Vec::with_capacity(sorted.len());
    for cidr in sorted {
        if !kept
            .last()
            .is_some_and(|outer| outer.contains(cidr.first()))
        {
            kept.push(cidr);
        }
    }
    let in_ranges: u64 = kept.iter().map(|cidr| u64::from(cidr.size())).sum();
    let outside = ips
        .iter()
        .filter(|&&ip| {
            // The last kept range starting at or before `ip` is the only one that may hold it.
            let index = kept.partition_point(|cidr| cidr.first() <= ip);
            !index.checked_sub(1).is_some_and(|i| kept[i].contains(ip))
        })
        .count();
    let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
    count(named)
        .saturating_add(count(outside))
        .saturating_add(in_ranges)
}

/// Keeps the first of each repeated entry, in order.
fn unique(items: Vec<String>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    items
        .into_iter()
        .filter(|item| seen.insert(item.clone()))
        .collect()
}

/// A webhook must be an absolute `http` or `https` URL. The message never repeats the URL
/// whole: its user, password and path may be secrets (see [`crate::errors::redact_url`]).
pub fn check_webhook(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("not a URL ({e})"))?;
    match parsed.scheme() {
        "http" | "https" => Ok(()),
        other => Err(format!(
            "{}: the scheme must be http or https, not {other}",
            crate::errors::redact_url(&parsed)
        )),
    }
}

/// An address range in CIDR notation (RFC 4632 §3.1 for IPv4, RFC 4291 §2.3 for IPv6):
///
/// ```text
/// cidr   = address "/" prefix-length
/// prefix-length = 1*3DIGIT   ; 0-32 for IPv4, 0-128 for IPv6
/// ```
///
/// Written by hand rather than with `ipnet`: the auditor refuses a range whose host bits are
/// set (`192.0.2.5/24`) instead of silently widening it, and says which range was meant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    pub network: IpAddr,
    pub prefix: u8,
}

impl Cidr {
    /// Parses and checks a range: prefix in bounds, host bits zero, not wider than
    /// [`MAX_V4_PREFIX_BITS`] / [`MAX_V6_PREFIX_BITS`].
    pub fn parse(text: &str) -> Result<Cidr, String> {
        let text = text.trim();
        let (address, prefix) = text
            .split_once('/')
            .ok_or("expected ADDRESS/PREFIX, e.g. 192.0.2.0/28")?;
        let network: IpAddr = address
            .parse()
            .map_err(|_| format!("'{address}' is not an IP address"))?;
        let (max_bits, widest) = match network {
            IpAddr::V4(_) => (32u8, MAX_V4_PREFIX_BITS),
            IpAddr::V6(_) => (128u8, MAX_V6_PREFIX_BITS),
        };
        let prefix: u8 = match prefix.parse() {
            Ok(bits) if bits <= max_bits && !prefix.starts_with('+') => bits,
            _ => {
                return Err(format!(
                    "the prefix length must be a number from 0 to {max_bits}"
                ));
            }
        };
        if prefix < widest {
            return Err(format!(
                "a /{prefix} is {} addresses; the widest range monitored is /{widest} ({} \
                 addresses): split it into smaller ranges",
                describe_count(max_bits - prefix),
                1u32 << (max_bits - widest)
            ));
        }
        let cidr = Cidr { network, prefix };
        let masked = cidr.first();
        if masked != network {
            return Err(format!(
                "host bits are set: did you mean {masked}/{prefix}?"
            ));
        }
        Ok(cidr)
    }

    /// The number of addresses, at most 65 536 for a checked range.
    pub fn size(self) -> u32 {
        let host_bits = match self.network {
            IpAddr::V4(_) => 32 - self.prefix,
            IpAddr::V6(_) => 128 - self.prefix,
        };
        1u32 << host_bits.min(16)
    }

    /// The first address of the range (the network address).
    fn first(self) -> IpAddr {
        match self.network {
            IpAddr::V4(v4) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                IpAddr::V4(Ipv4Addr::from(u32::from(v4) & mask))
            }
            IpAddr::V6(v6) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
            }
        }
    }

    /// Whether `ip` is in the range.
    fn contains(self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        match (self.network, ip) {
            (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => {
                Cidr {
                    network: ip,
                    prefix: self.prefix,
                }
                .first()
                    == self.first()
            }
            _ => false,
        }
    }

    /// Every address of the range, network and broadcast addresses included: a sending IP
    /// can be any of them when the range is part of a larger allocation.
    pub fn addresses(self) -> impl Iterator<Item = IpAddr> {
        let first = self.first();
        (0..self.size()).map(move |offset| match first {
            IpAddr::V4(v4) => IpAddr::V4(Ipv4Addr::from(u32::from(v4) + offset)),
            IpAddr::V6(v6) => {
                IpAddr::V6(Ipv6Addr::from(u128::from(v6) + u128::from(offset))).to_canonical()
            }
        })
    }
}

/// `2^bits` in words a person reads: "65536" or "2^64".
fn describe_count(bits: u8) -> String {
    if bits < 64 {
        (1u64 << bits).to_string()
    } else {
        format!("2^{bits}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn a_slash_24_is_256_addresses_from_network_to_broadcast() {
        let cidr = Cidr::parse("192.0.2.0/24").unwrap();
        let all: Vec<IpAddr> = cidr.addresses().collect();
        assert_eq!(all.len(), 256);
        assert_eq!(all[0], ip("192.0.2.0"));
        assert_eq!(all[255], ip("192.0.2.255"));
    }

    #[test]
    fn single_addresses_and_ipv6_ranges() {
        assert_eq!(
            Cidr::parse("192.0.2.7/32")
                .unwrap()
                .addresses()
                .collect::<Vec<_>>(),
            vec![ip("192.0.2.7")]
        );
        let v6: Vec<IpAddr> = Cidr::parse("2001:db8::/126").unwrap().addresses().collect();
        assert_eq!(
            v6,
            vec![
                ip("2001:db8::"),
                ip("2001:db8::1"),
                ip("2001:db8::2"),
                ip("2001:db8::3")
            ]
        );
        assert_eq!(Cidr::parse("2001:db8::/112").unwrap().size(), 65_536);
        assert_eq!(Cidr::parse("10.0.0.0/16").unwrap().size(), 65_536);
    }

    #[test]
    fn ranges_wider_than_the_limit_are_refused_with_their_size() {
        let error = Cidr::parse("10.0.0.0/15").unwrap_err();
        assert!(error.contains("131072 addresses"), "{error}");
        assert!(error.contains("/16"), "{error}");
        let error = Cidr::parse("2001:db8::/64").unwrap_err();
        assert!(error.contains("2^64"), "{error}");
        assert!(error.contains("/112"), "{error}");
        assert!(Cidr::parse("0.0.0.0/0").is_err());
    }

    #[test]
    fn host_bits_set_names_the_range_meant() {
        let error = Cidr::parse("192.0.2.5/24").unwrap_err();
        assert!(error.contains("did you mean 192.0.2.0/24"), "{error}");
    }

    #[test]
    fn malformed_ranges_are_refused() {
        for bad in [
            "192.0.2.0",
            "192.0.2.0/",
            "192.0.2.0/33",
            "192.0.2.0/+24",
            "192.0.2.0/-1",
            "300.0.2.0/24",
            "2001:db8::/129",
            "/24",
            "192.0.2.0/24/1",
            "é/24",
        ] {
            assert!(Cidr::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn a_config_is_normalised_and_deduplicated() {
        let config = Config::parse(
            r#"
            domains = ["Example.COM.", "example.com", "bücher.example"]
            ips = ["192.0.2.3", "::ffff:192.0.2.1"]
            ranges = ["192.0.2.0/30"]
            selectors = ["s1", "s1"]
            webhook = "http://127.0.0.1:9/hook"
            metrics = "/tmp/m.prom"
            "#,
        )
        .unwrap();
        assert_eq!(config.domains, vec!["example.com", "xn--bcher-kva.example"]);
        assert_eq!(
            config.ips,
            vec![
                ip("192.0.2.0"),
                ip("192.0.2.1"),
                ip("192.0.2.2"),
                ip("192.0.2.3")
            ]
        );
        assert_eq!(config.selectors, vec!["s1"]);
        assert_eq!(config.metrics, Some(PathBuf::from("/tmp/m.prom")));
        assert_eq!(config.target_count(), 6);
    }

    #[test]
    fn a_domain_may_name_the_migration_to_watch() {
        let config = Config::parse(
            r#"domains = ["a.example", { name = "B.example.", migrate = { to = "microsoft365", from = "google-workspace", tenant = "contoso", hybrid = "Mail.B.example" } }, { name = "c.example" }]"#,
        )
        .unwrap();
        assert_eq!(config.domains, vec!["a.example", "b.example", "c.example"]);
        assert_eq!(
            config.migrations.get("b.example"),
            Some(&Migration {
                to: "microsoft365".to_owned(),
                from: Some("google-workspace".to_owned()),
                tenant: Some("contoso".to_owned()),
                hybrid: Some("mail.b.example".to_owned()),
            })
        );
        let error = Config::parse(
            r#"domains = [{ name = "a.example", migrate = { to = "x", hybrid = "not a host" } }]"#,
        )
        .unwrap_err();
        assert!(
            error.contains("'a.example' migrate.hybrid") && error.contains("not a host"),
            "{error}"
        );
        assert_eq!(config.migrations.len(), 1);
        for typo in [
            r#"domains = [{ name = "a.example", migrate = { too = "x" } }]"#,
            r#"domains = [{ name = "a.example", migrat = { to = "x" } }]"#,
        ] {
            let error = Config::parse(typo).unwrap_err();
            assert!(
                error.contains("line 1") && error.contains("migrate = {"),
                "{error}"
            );
        }
    }

    #[test]
    fn the_total_of_targets_is_bounded_not_only_each_range() {
        // Two /16s and a domain: each range is allowed, together they are not.
        let error =
            Config::parse("domains = [\"a.example\"]\nranges = [\"10.0.0.0/16\", \"10.1.0.0/16\"]")
                .unwrap_err();
        assert!(error.contains("131073 targets"), "{error}");
        assert!(error.contains("at most 65536"), "{error}");
        // 256 /16s: refused at once, without expanding 16.7 million addresses.
        let ranges: Vec<String> = (0..256).map(|i| format!("\"10.{i}.0.0/16\"")).collect();
        let error = Config::parse(&format!("ranges = [{}]", ranges.join(", "))).unwrap_err();
        assert!(error.contains("16777216 targets"), "{error}");
        // A /16 alone is the limit; one more target is over it.
        assert_eq!(
            Config::parse("ranges = [\"10.0.0.0/16\"]")
                .unwrap()
                .target_count(),
            65_536
        );
        let error = Config::parse("ips = [\"192.0.2.1\"]\nranges = [\"10.0.0.0/16\"]").unwrap_err();
        assert!(error.contains("65537 targets"), "{error}");
        // Addresses named twice (nested ranges, an IP inside a range) count once.
        let config = Config::parse(
            "ips = [\"10.0.0.1\", \"10.0.255.255\"]\n\
             ranges = [\"10.0.5.0/24\", \"10.0.0.0/16\", \"10.0.5.0/28\"]",
        )
        .unwrap();
        assert_eq!(config.target_count(), 65_536);
        let ranges = [
            Cidr::parse("2001:db8::/112").unwrap(),
            Cidr::parse("2001:db8::/120").unwrap(),
            Cidr::parse("192.0.2.0/24").unwrap(),
        ];
        let ips: BTreeSet<IpAddr> = [ip("2001:db8::1"), ip("2001:db8:1::1"), ip("192.0.2.9")]
            .into_iter()
            .collect();
        assert_eq!(count_targets(2, &ips, &ranges), 2 + 1 + 65_536 + 256);
    }

    #[test]
    fn smtp_servers_are_host_and_port_the_port_587_by_default() {
        let config = Config::parse(
            r#"
            smtp = ["Mail.Example.COM.:587", "mx.example.com:25", "[2001:DB8::25]:25",
                    "192.0.2.25", "[::ffff:192.0.2.26]:465", "mail.example.com", "[2001:db8::1]"]
            ca_file = "/etc/mailaudit/ca.pem"
            "#,
        )
        .unwrap();
        let names: Vec<String> = config.smtp.iter().map(ToString::to_string).collect();
        assert_eq!(
            names,
            [
                "mail.example.com:587",
                "mx.example.com:25",
                "[2001:db8::25]:25",
                "192.0.2.25:587",
                "192.0.2.26:465",
                "[2001:db8::1]:587"
            ],
            "normalised, a bare host on 587, repeats dropped"
        );
        assert_eq!(config.smtp[2].host, "2001:db8::25");
        assert_eq!(config.ca_file, Some(PathBuf::from("/etc/mailaudit/ca.pem")));
        assert_eq!(config.target_count(), 6);
        // SMTP servers alone are something to monitor.
        assert!(Config::parse("smtp = [\"mail.example.com\"]").is_ok());
        // A name parsed back is the same target (as `history HOST:PORT` reads it).
        for name in &names {
            assert_eq!(&SmtpTarget::parse(name).unwrap().to_string(), name);
        }
    }

    #[test]
    fn bad_smtp_servers_are_refused_with_the_entry_named() {
        let cases = [
            ("mail.example.com:0", "from 1 to 65535"),
            ("mail.example.com:65536", "from 1 to 65535"),
            ("mail.example.com:+25", "from 1 to 65535"),
            ("mail.example.com:", "from 1 to 65535"),
            ("mail.example.com:smtp", "from 1 to 65535"),
            ("not a host:25", "invalid domain"),
            ("localhost:25", "one label"),
            ("2001:db8::25", "[2001:db8::25]:587"),
            ("[2001:db8::25:25", "not closed"),
            ("[192.0.2.1]:25", "not an IPv6 address"),
            ("[2001:db8::25]25", "':PORT'"),
            ("", "empty"),
            ("bad\nname:25", "bad\\nname"),
        ];
        for (entry, expected) in cases {
            let text = format!("smtp = [{}]", toml_string(entry));
            let error = Config::parse(&text).unwrap_err();
            assert!(error.starts_with("smtp: '"), "{entry:?}: {error}");
            assert!(error.contains(expected), "{entry:?}: {error}");
            assert!(!error.contains('\n'), "{entry:?}: {error}");
        }
        let error = Config::parse("smtp = [\"mail.example.com\"]\ncafile = \"x\"").unwrap_err();
        assert!(error.contains("unknown field `cafile`"), "{error}");
    }

    fn toml_string(text: &str) -> String {
        format!("\"{}\"", text.replace('\\', "\\\\").replace('\n', "\\n"))
    }

    #[test]
    fn smtp_servers_count_toward_the_limit_of_targets() {
        let error = Config::parse("ranges = [\"10.0.0.0/16\"]\nsmtp = [\"mail.example.com:25\"]")
            .unwrap_err();
        assert!(error.contains("65537 targets"), "{error}");
        assert!(error.contains("SMTP servers"), "{error}");
        // The same server twice is one target.
        let config = Config::parse(
            "ranges = [\"10.0.0.0/17\"]\nsmtp = [\"mail.example.com\", \"mail.example.com:587\"]",
        )
        .unwrap();
        assert_eq!(config.target_count(), 32_769);
    }

    #[test]
    fn config_errors_are_one_line_and_name_the_problem() {
        let cases = [
            ("domain = [\"x.example\"]", "unknown field `domain`"),
            ("domains = \"x.example\"", "line 1"),
            (
                "domains = [\"not a domain\"]",
                "invalid domain 'not a domain'",
            ),
            (
                "ips = [\"192.0.2.300\"]",
                "invalid IP address '192.0.2.300'",
            ),
            ("ranges = [\"10.0.0.0/8\"]", "widest range"),
            ("", "nothing to monitor"),
            ("ca_file = \"ca.pem\"", "`smtp`"),
            (
                "domains = [\"a.example\"]\nwebhook = \"ftp://x\"",
                "http or https",
            ),
            (
                "domains = [\"a.example\"]\nwebhook = \"not a url\"",
                "not a URL",
            ),
            ("\n\ndomains = [", "line 3"),
        ];
        for (text, expected) in cases {
            let error = Config::parse(text).unwrap_err();
            assert!(error.contains(expected), "{text:?}: {error}");
            assert!(!error.contains('\n'), "{text:?}: {error}");
        }
    }
}
