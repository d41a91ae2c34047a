//! The blocklist catalog: which DNS blocklists to ask, what each takes, and what its answers
//! mean. The built-in catalog is `catalog.toml`, compiled in; `--dnsbl PATH` replaces it with a
//! file of the same shape.
//!
//! The file is read strictly (unknown keys, bad codes, a key-needing list without its key are
//! errors naming the file and the list): a catalog that silently drops what it does not
//! understand would make an audit report "not listed" for a list it never asked.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use crate::dns::{QueryName, Syntax};

/// What a list can be asked about: RFC 5782 §2.1 (IPv4), §2.4 (IPv6), §2.3 (domain names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Takes {
    Ipv4,
    Ipv6,
    Domain,
}

impl Takes {
    /// The word used in files and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Takes::Ipv4 => "ipv4",
            Takes::Ipv6 => "ipv6",
            Takes::Domain => "domain",
        }
    }
}

/// How much a listing matters to delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Weight {
    /// Widely used by receivers to reject mail at connection time.
    Major,
    /// Used by some receivers, mostly for scoring.
    Minor,
    /// Few receivers reject on it; worth knowing.
    Informational,
}

/// What it takes to query a list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
    /// Anyone may query it (within its volume limits).
    #[default]
    Free,
    /// A key is part of every query name (see [`KeyPosition`]).
    Key,
    /// The operator answers only resolvers registered with it.
    Registration,
}

/// Where a list's key goes in the query name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyPosition {
    /// `<item>.<key>.<zone>` (Spamhaus DQS, Abusix).
    BeforeZone,
}

/// What a documented return code means.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CodeKind {
    /// The item is listed for what it did.
    Listed,
    /// The item is listed for what it is (an end-user range, no reverse DNS): receivers that
    /// use the list reject it all the same.
    Policy,
    /// Not an answer about the item: the query was refused (public resolver, over quota,
    /// wrong zone). RFC 5782 §2.1 leaves such codes to each list.
    Error,
    /// A documented code that is not a listing (e.g. a SURBL click-tracker flag).
    NotListed,
}

/// One documented answer: an address or a range of 127.0.0.0/8 and what it means.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CodeRule {
    /// The first address of the range.
    pub code: Ipv4Addr,
    /// The range's prefix length (32 for a single code).
    pub prefix: u8,
    pub kind: CodeKind,
    pub meaning: String,
}

impl CodeRule {
    /// Whether `address` is in this rule's range.
    pub fn contains(&self, address: Ipv4Addr) -> bool {
        let mask = prefix_mask(self.prefix);
        u32::from(address) & mask == u32::from(self.code) & mask
    }
}

fn prefix_mask(prefix: u8) -> u32 {
    match prefix {
        0 => 0,
        p => u32::MAX << (32 - u32::from(p.min(32))),
    }
}

/// One DNS blocklist.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct List {
    pub name: String,
    /// The zone asked, lowercase, without the trailing dot.
    pub zone: String,
    pub takes: Vec<Takes>,
    pub weight: Weight,
    pub enabled: bool,
    pub access: Access,
    /// The key, for [`Access::Key`]; never serialized (it is a credential).
    #[serde(skip)]
    pub key: Option<String>,
    pub key_position: Option<KeyPosition>,
    /// Where a listed address or domain asks for removal.
    pub removal: Option<String>,
    /// What the list lists.
    pub about: Option<String>,
    /// The last octet of an answer is a sum of flags (SURBL, URIBL).
    pub bitmask: bool,
    pub codes: Vec<CodeRule>,
    /// The RFC 5782 §5 entry that must be listed (an address or a domain).
    pub test_listed: String,
    /// The RFC 5782 §5 entry that must not be listed.
    pub test_not_listed: String,
}

impl List {
    /// Whether the list is asked about `family`.
    pub fn takes(&self, family: Takes) -> bool {
        self.takes.contains(&family)
    }

    /// Whether the list is asked about IP addresses (as opposed to domain names).
    pub fn takes_ips(&self) -> bool {
        self.takes(Takes::Ipv4) || self.takes(Takes::Ipv6)
    }

    /// The family its health check probes: IPv4 when it takes it, else IPv6, else domains.
    pub fn probe_family(&self) -> Takes {
        if self.takes(Takes::Ipv4) {
            Takes::Ipv4
        } else if self.takes(Takes::Ipv6) {
            Takes::Ipv6
        } else {
            Takes::Domain
        }
    }

    /// The suffix a query name ends with: the zone, after the key for keyed lists.
    pub fn query_suffix(&self) -> String {
        match (&self.key, self.key_position) {
            (Some(key), Some(KeyPosition::BeforeZone)) => format!("{key}.{}", self.zone),
            _ => self.zone.clone(),
        }
    }
}

/// The set of lists an audit asks.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Catalog {
    pub lists: Vec<List>,
}

/// The catalog file could not be used: the program cannot run with it.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("{file}: cannot read the blocklist catalog: {reason}")]
    Read { file: String, reason: String },
    #[error("{file}: not a valid blocklist catalog: {reason}")]
    Syntax { file: String, reason: String },
    #[error("{file}: list {list:?}: {problem}")]
    List {
        file: String,
        list: String,
        problem: String,
    },
}

/// The built-in catalog as written, comments and all: what `ip --list-catalog` prints for a
/// user to start a catalog of their own.
pub const BUILTIN_TOML: &str = include_str!("catalog.toml");

static BUILT_IN: LazyLock<Catalog> = LazyLock::new(|| {
    // The file is part of the binary and a unit test parses it; an empty catalog is the only
    // sane fallback should it ever fail.
    parse(BUILTIN_TOML, "built-in catalog").unwrap_or_default()
});

impl Catalog {
    /// Whether an enabled list takes domains (`takes = ["domain"]`).
    pub fn takes_domains(&self) -> bool {
        self.enabled().any(|list| list.takes(Takes::Domain))
    }

    /// The compiled-in catalog (`src/dnsbl/catalog.toml`).
    pub fn builtin() -> Catalog {
        BUILT_IN.clone()
    }

    /// A catalog from TOML text (errors name the source as `<inline>`).
    pub fn from_toml_str(text: &str) -> Result<Catalog, CatalogError> {
        parse(text, "<inline>")
    }

    /// A catalog from a file (`--dnsbl PATH`).
    pub fn from_file(path: &Path) -> Result<Catalog, CatalogError> {
        let file = path.display().to_string();
        let read_error = |reason: String| CatalogError::Read {
            file: file.clone(),
            reason,
        };
        let bytes = crate::files::read_small(path, crate::files::SMALL_INPUT_LIMIT)
            .map_err(|e| read_error(e.to_string()))?;
        let text = String::from_utf8(bytes).map_err(|_| read_error("not UTF-8 text".to_owned()))?;
        parse(&text, &file)
    }

    /// The lists that are on.
    pub fn enabled(&self) -> impl Iterator<Item = &List> {
        self.lists.iter().filter(|list| list.enabled)
    }

    /// The list called `name`, if any.
    pub fn get(&self, name: &str) -> Option<&List> {
        self.lists.iter().find(|list| list.name == name)
    }
}

impl fmt::Display for Weight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Weight::Major => "major",
            Weight::Minor => "minor",
            Weight::Informational => "informational",
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalog {
    #[serde(default, rename = "list")]
    lists: Vec<RawList>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawList {
    name: String,
    zone: String,
    takes: Vec<Takes>,
    weight: Weight,
    #[serde(default = "enabled_by_default")]
    enabled: bool,
    #[serde(default)]
    access: Access,
    key: Option<String>,
    key_position: Option<KeyPosition>,
    removal: Option<String>,
    about: Option<String>,
    #[serde(default)]
    bitmask: bool,
    #[serde(default, rename = "code")]
    codes: Vec<RawCode>,
    test_listed: Option<String>,
    test_not_listed: Option<String>,
}

fn enabled_by_default() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCode {
    code: String,
    kind: CodeKind,
    meaning: String,
}

/// Parses and checks a catalog; `file` names the source in errors.
fn parse(text: &str, file: &str) -> Result<Catalog, CatalogError> {
    let raw: RawCatalog = toml::from_str(text).map_err(|e| CatalogError::Syntax {
        file: file.to_owned(),
        reason: toml_reason(text, &e),
    })?;
    let mut lists: Vec<List> = Vec::with_capacity(raw.lists.len());
    for (index, raw_list) in raw.lists.into_iter().enumerate() {
        let label = if raw_list.name.trim().is_empty() {
            format!("#{}", index + 1)
        } else {
            one_line(&raw_list.name, 80)
        };
        let list = check_list(raw_list).map_err(|problem| CatalogError::List {
            file: file.to_owned(),
            list: label.clone(),
            problem,
        })?;
        if lists
            .iter()
            .any(|l| l.name.eq_ignore_ascii_case(&list.name))
        {
            return Err(CatalogError::List {
                file: file.to_owned(),
                list: label,
                problem: "the name is used by another list".to_owned(),
            });
        }
        lists.push(list);
    }
    Ok(Catalog { lists })
}

/// A one-line reason from a TOML error, with its line number: the error's own text spans
/// several lines and quotes the file.
fn toml_reason(text: &str, error: &toml::de::Error) -> String {
    let message = one_line(error.message(), 200);
    match error.span() {
        Some(span) => {
            let end = span.start.min(text.len());
            let line = text.as_bytes()[..end].split(|&b| b == b'\n').count();
            format!("line {line}: {message}")
        }
        None => message,
    }
}

/// `text` on one line, at most `max` characters, for messages about hostile files.
fn one_line(text: &str, max: usize) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let flat = flat.trim();
    if flat.chars().count() > max {
        let cut: String = flat.chars().take(max).collect();
        format!("{cut}…")
    } else {
        flat.to_owned()
    }
}

fn check_list(raw: RawList) -> Result<List, String> {
    let name = raw.name.trim().to_owned();
    if name.is_empty() {
        return Err("`name` is empty".to_owned());
    }
    if name.chars().count() > 80 || name.chars().any(char::is_control) {
        return Err("`name` must be one line of at most 80 characters".to_owned());
    }
    let zone = normalize_name(&raw.zone).map_err(|e| format!("`zone`: {e}"))?;
    if raw.takes.is_empty() {
        return Err("`takes` is empty: give \"ipv4\", \"ipv6\" or \"domain\"".to_owned());
    }
    let mut takes: Vec<Takes> = Vec::new();
    for family in raw.takes {
        if !takes.contains(&family) {
            takes.push(family);
        }
    }
    let takes_ips = takes.contains(&Takes::Ipv4) || takes.contains(&Takes::Ipv6);
    if takes_ips && takes.contains(&Takes::Domain) {
        return Err(
            "`takes` mixes IP addresses and domains: describe the zone as two lists".to_owned(),
        );
    }
    let key = check_key(raw.access, raw.key, raw.key_position)?;
    if raw.enabled && raw.access == Access::Key && key.is_none() {
        return Err(
            "the list needs a key (`access = \"key\"`): set `key`, or `enabled = false`".to_owned(),
        );
    }
    let mut codes = Vec::with_capacity(raw.codes.len());
    for code in raw.codes {
        codes.push(check_code(&code)?);
    }
    let probe_family = if takes.contains(&Takes::Ipv4) {
        Takes::Ipv4
    } else if takes.contains(&Takes::Ipv6) {
        Takes::Ipv6
    } else {
        Takes::Domain
    };
    let (default_listed, default_not_listed) = match probe_family {
        Takes::Ipv4 => ("127.0.0.2", "127.0.0.1"),
        Takes::Ipv6 => ("::ffff:7f00:2", "::ffff:7f00:1"),
        Takes::Domain => ("test", "invalid"),
    };
    let test_listed = check_test_entry(
        raw.test_listed.as_deref().unwrap_or(default_listed),
        probe_family,
    )
    .map_err(|e| format!("`test_listed`: {e}"))?;
    let test_not_listed = check_test_entry(
        raw.test_not_listed.as_deref().unwrap_or(default_not_listed),
        probe_family,
    )
    .map_err(|e| format!("`test_not_listed`: {e}"))?;
    let removal = raw
        .removal
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    if let Some(url) = &removal
        && (!(url.starts_with("https://") || url.starts_with("http://"))
            || url.chars().any(char::is_whitespace))
    {
        return Err("`removal` must be an http(s) URL".to_owned());
    }
    Ok(List {
        name,
        zone,
        takes,
        weight: raw.weight,
        enabled: raw.enabled,
        access: raw.access,
        key,
        key_position: raw.key_position,
        removal,
        about: raw.about.map(|a| one_line(&a, 200)),
        bitmask: raw.bitmask,
        codes,
        test_listed,
        test_not_listed,
    })
}

fn check_key(
    access: Access,
    key: Option<String>,
    position: Option<KeyPosition>,
) -> Result<Option<String>, String> {
    let key = key
        .map(|k| k.trim().to_ascii_lowercase())
        .filter(|k| !k.is_empty());
    match access {
        Access::Key => {
            if position.is_none() {
                return Err("`access = \"key\"` needs `key_position = \"before-zone\"`".to_owned());
            }
            if let Some(key) = &key
                && (key.contains('.') || QueryName::parse(key, Syntax::Service).is_err())
            {
                return Err("`key` must be one DNS label (letters, digits, '-')".to_owned());
            }
            // Whether an enabled list has its key is checked by the caller.
            Ok(key)
        }
        Access::Free | Access::Registration => {
            if key.is_some() || position.is_some() {
                return Err("`key` and `key_position` need `access = \"key\"`".to_owned());
            }
            Ok(None)
        }
    }
}

fn check_code(raw: &RawCode) -> Result<CodeRule, String> {
    let text = raw.code.trim();
    let (address, prefix) = match text.split_once('/') {
        Some((address, prefix)) => {
            let prefix: u8 = prefix
                .parse()
                .ok()
                .filter(|p| *p <= 32)
                .ok_or_else(|| format!("code {text:?}: the prefix length must be 0 to 32"))?;
            (address, prefix)
        }
        None => (text, 32),
    };
    let code: Ipv4Addr = address
        .parse()
        .map_err(|_| format!("code {text:?} is not an IPv4 address or range"))?;
    if prefix < 8 || code.octets()[0] != 127 {
        return Err(format!(
            "code {text:?} is outside 127.0.0.0/8: RFC 5782 §2.1 answers are loopback addresses"
        ));
    }
    let meaning = one_line(&raw.meaning, 200);
    if meaning.is_empty() {
        return Err(format!("code {text:?} has no meaning"));
    }
    let masked = Ipv4Addr::from(u32::from(code) & prefix_mask(prefix));
    Ok(CodeRule {
        code: masked,
        prefix,
        kind: raw.kind,
        meaning,
    })
}

fn check_test_entry(text: &str, family: Takes) -> Result<String, String> {
    let text = text.trim();
    match family {
        Takes::Ipv4 => match text.parse::<IpAddr>() {
            Ok(IpAddr::V4(v4)) => Ok(v4.to_string()),
            _ => Err(format!("{text:?} is not an IPv4 address")),
        },
        Takes::Ipv6 => match text.parse::<IpAddr>() {
            Ok(IpAddr::V6(v6)) => Ok(v6.to_string()),
            _ => Err(format!("{text:?} is not an IPv6 address")),
        },
        Takes::Domain => normalize_name(text),
    }
}

/// A DNS name as the lists are asked it: lowercase ASCII, no trailing dot, 1 to 63 bytes a
/// label of letters, digits, '-' or '_' (RFC 1035 §2.3.1, with '_' as DNS allows), at most
/// 253 bytes in all (RFC 1035 §2.3.4).
pub fn normalize_name(name: &str) -> Result<String, String> {
    let trimmed = name.trim();
    let trimmed = trimmed.strip_suffix('.').unwrap_or(trimmed);
    if trimmed.is_empty() {
        return Err("empty name".to_owned());
    }
    if !trimmed.is_ascii() {
        return Err(format!(
            "{:?} is not ASCII: give the A-label (xn--) form",
            one_line(trimmed, 80)
        ));
    }
    let lower = trimmed.to_ascii_lowercase();
    if lower.len() > 253 {
        return Err("name longer than 253 bytes".to_owned());
    }
    if let Some(bad) = lower
        .split('.')
        .find(|label| QueryName::parse(label, Syntax::Service).is_err())
    {
        return Err(format!("bad label {:?} in {lower:?}", one_line(bad, 80)));
    }
    Ok(lower)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_catalog_parses_and_holds_the_default_lists() {
        let catalog = parse(include_str!("catalog.toml"), "built-in").expect("catalog.toml");
        assert_eq!(Catalog::builtin(), catalog);
        let enabled: Vec<&str> = catalog.enabled().map(|l| l.zone.as_str()).collect();
        for zone in [
            "zen.spamhaus.org",
            "bl.spamcop.net",
            "bl.mailspike.net",
            "psbl.surriel.com",
            "dnsbl.dronebl.org",
            "all.s5h.net",
            "truncate.gbudb.net",
            "spam.spamrats.com",
            "dyna.spamrats.com",
            "noptr.spamrats.com",
            "dnsbl-1.uceprotect.net",
            "ips.backscatterer.org",
            "bl.nordspam.com",
            "bl.0spam.org",
            "dbl.spamhaus.org",
            "multi.surbl.org",
            "multi.uribl.com",
            "dbl.nordspam.com",
        ] {
            assert!(enabled.contains(&zone), "{zone} is not enabled");
        }
        // Key or registration lists ship off; defunct lists never ship.
        for zone in [
            "zen.dq.spamhaus.net",
            "combined.mail.abusix.zone",
            "b.barracudacentral.org",
        ] {
            let list = catalog.lists.iter().find(|l| l.zone == zone).expect(zone);
            assert!(!list.enabled, "{zone} must be off until configured");
        }
        for list in &catalog.lists {
            for defunct in [
                "sorbs.net",
                "manitu.net",
                "njabl.org",
                "ahbl.org",
                "spamcannibal.org",
                "wpbl.info",
            ] {
                assert!(
                    !list.zone.ends_with(defunct),
                    "defunct list {} shipped",
                    list.zone
                );
            }
            assert!(list.removal.is_some(), "{} has no removal page", list.name);
            assert!(
                !list.codes.is_empty(),
                "{} documents no return code",
                list.name
            );
        }
        let weight = |zone: &str| {
            catalog
                .lists
                .iter()
                .find(|l| l.zone == zone)
                .unwrap()
                .weight
        };
        assert_eq!(weight("zen.spamhaus.org"), Weight::Major);
        assert_eq!(weight("dnsbl-1.uceprotect.net"), Weight::Informational);
        assert_eq!(weight("ips.backscatterer.org"), Weight::Informational);
    }

    #[test]
    fn spamhaus_error_codes_are_errors_and_ranges_match() {
        let catalog = Catalog::builtin();
        let zen = catalog
            .lists
            .iter()
            .find(|l| l.zone == "zen.spamhaus.org")
            .unwrap();
        let range = zen.codes.iter().find(|c| c.prefix == 24).unwrap();
        assert_eq!(range.code, Ipv4Addr::new(127, 255, 255, 0));
        assert_eq!(range.kind, CodeKind::Error);
        assert!(range.contains(Ipv4Addr::new(127, 255, 255, 1)));
        assert!(!range.contains(Ipv4Addr::new(127, 255, 254, 255)));
    }

    const MINIMAL: &str = r#"
        [[list]]
        name = "Test"
        zone = "RBL.Example.TEST."
        takes = ["ipv4", "ipv6", "ipv4"]
        weight = "minor"
    "#;

    #[test]
    fn defaults_follow_rfc_5782() {
        let catalog = Catalog::from_toml_str(MINIMAL).unwrap();
        let list = &catalog.lists[0];
        assert_eq!(list.zone, "rbl.example.test");
        assert_eq!(list.takes, vec![Takes::Ipv4, Takes::Ipv6]);
        assert!(list.enabled);
        assert_eq!(list.access, Access::Free);
        assert_eq!(list.test_listed, "127.0.0.2");
        assert_eq!(list.test_not_listed, "127.0.0.1");
        assert_eq!(list.query_suffix(), "rbl.example.test");

        let domains = Catalog::from_toml_str(
            "[[list]]\nname = \"D\"\nzone = \"dbl.example\"\ntakes = [\"domain\"]\nweight = \"major\"\n",
        )
        .unwrap();
        assert_eq!(domains.lists[0].test_listed, "test");
        assert_eq!(domains.lists[0].test_not_listed, "invalid");
    }

    #[test]
    fn a_key_goes_before_the_zone_and_is_never_serialized() {
        let text = r#"
            [[list]]
            name = "DQS"
            zone = "zen.dq.spamhaus.net"
            takes = ["ipv4"]
            weight = "major"
            access = "key"
            key_position = "before-zone"
            key = "AbCdEf123"
        "#;
        let catalog = Catalog::from_toml_str(text).unwrap();
        assert_eq!(
            catalog.lists[0].query_suffix(),
            "abcdef123.zen.dq.spamhaus.net"
        );
        let json = serde_json::to_string(&catalog).unwrap();
        assert!(!json.contains("abcdef123"), "{json}");
    }

    fn error_of(text: &str) -> String {
        Catalog::from_toml_str(text).unwrap_err().to_string()
    }

    #[test]
    fn problems_name_the_list_and_what_is_wrong() {
        let needs_key = error_of(
            "[[list]]\nname = \"DQS\"\nzone = \"dq.example\"\ntakes = [\"ipv4\"]\nweight = \"major\"\naccess = \"key\"\nkey_position = \"before-zone\"\n",
        );
        assert!(
            needs_key.contains("\"DQS\"") && needs_key.contains("needs a key"),
            "{needs_key}"
        );

        let bad_code = error_of(&format!(
            "{MINIMAL}\n[[list.code]]\ncode = \"10.0.0.2\"\nkind = \"listed\"\nmeaning = \"x\"\n"
        ));
        assert!(bad_code.contains("outside 127.0.0.0/8"), "{bad_code}");

        let unknown = error_of(&format!("{MINIMAL}\nlisted_everything = true\n"));
        assert!(
            unknown.starts_with("<inline>: not a valid blocklist catalog: line "),
            "{unknown}"
        );
        assert!(!unknown.contains('\n'), "one line: {unknown}");

        let duplicate = error_of(&format!("{MINIMAL}\n{MINIMAL}"));
        assert!(duplicate.contains("used by another list"), "{duplicate}");

        let mixed = error_of(
            "[[list]]\nname = \"M\"\nzone = \"m.example\"\ntakes = [\"ipv4\", \"domain\"]\nweight = \"minor\"\n",
        );
        assert!(mixed.contains("mixes IP addresses and domains"), "{mixed}");

        let zone = error_of(
            "[[list]]\nname = \"Z\"\nzone = \"bad zone.example\"\ntakes = [\"ipv4\"]\nweight = \"minor\"\n",
        );
        assert!(zone.contains("`zone`"), "{zone}");
    }

    #[test]
    fn hostile_files_give_one_line_errors_not_panics() {
        for text in [
            "\u{0}\u{1}\u{2}binary",
            "<html><body>not toml</body></html>",
            "[[list]]\nname = \"\u{202e}evil\nline\"\n",
            "[[list]]\nname = \"é\"\nzone = \"exämple.test\"\ntakes = [\"ipv4\"]\nweight = \"minor\"\n",
            &"[[list]]\n".repeat(10_000),
        ] {
            let error = error_of(text);
            assert!(!error.contains('\n'), "{error}");
        }
        let dir = tempfile::tempdir().unwrap();
        let binary = dir.path().join("bin.toml");
        std::fs::write(&binary, [0xff, 0xfe, 0x00, 0x80]).unwrap();
        let error = Catalog::from_file(&binary).unwrap_err().to_string();
        assert!(
            error.contains("bin.toml") && error.contains("not UTF-8"),
            "{error}"
        );
        let missing = Catalog::from_file(&dir.path().join("missing.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            missing.contains("missing.toml") && missing.contains("cannot read"),
            "{missing}"
        );
    }

    #[test]
    fn names_are_normalised_or_refused() {
        assert_eq!(normalize_name("Example.COM.").unwrap(), "example.com");
        assert!(normalize_name("").is_err());
        assert!(normalize_name("a..b").is_err());
        assert!(normalize_name(&"a".repeat(64)).is_err());
        assert!(normalize_name("exämple.com").is_err());
    }
}
