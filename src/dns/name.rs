//! What makes a string a name the DNS layer can ask: one set of rules, at the strictness each
//! source of names needs.
//!
//! Every name: labels of 1 to 63 octets, at most 253 characters of text without the root's
//! trailing dot (255 octets on the wire, RFC 1035 §2.3.4). Within a label, any octet may appear
//! (RFC 2181 §11), so a name an SPF record or a macro expansion produces is asked as it is; names
//! people type or lists publish are held to the host-name rules (RFC 1035 §2.3.1 with RFC 1123
//! §2.1), with `_` where DNS uses it for service labels (RFC 8552: `_dmarc`, DKIM selectors in
//! practice).

use std::fmt;

use hickory_resolver::proto::rr::Name;

/// The most characters a name may have as text, without the root's dot (RFC 1035 §2.3.4).
pub const MAX_NAME: usize = 253;

/// The most octets a label may have (RFC 1035 §2.3.4).
pub const MAX_LABEL: usize = 63;

/// Which octets a label may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syntax {
    /// Any octet but the dot (RFC 2181 §11): names that records and macro expansions produce.
    Any,
    /// Printable ASCII (space to `~`): names SPF terms produce (RFC 7208 §7.1 macro-literal),
    /// where a control character would hide what is asked.
    Printable,
    /// Letters, digits and `-` (not first or last in a label), and `_` (RFC 8552 service
    /// labels): DKIM selectors and blocklist zones.
    Service,
    /// Letters, digits and `-` (not first or last in a label): host names (RFC 1123 §2.1).
    Host,
}

/// Why a string is not a name that can be asked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("empty")]
    Empty,
    #[error("empty label")]
    EmptyLabel,
    #[error("a label is longer than {MAX_LABEL} characters")]
    LabelTooLong,
    #[error("longer than {MAX_NAME} characters")]
    TooLong,
    #[error("{0}")]
    BadLabel(&'static str),
    #[error("not a fully qualified domain (one label only)")]
    SingleLabel,
    #[error("the top-level label is all digits")]
    NumericTopLabel,
    #[error("this is an IP address, not a domain")]
    IpAddress,
    #[error("not a valid internationalised domain name (IDNA)")]
    Idna,
}

/// A name checked against [`Syntax`]: its text without the root's trailing dot, as given (DNS
/// compares names without regard to ASCII case; the caller lowercases where it shows or
/// compares).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct QueryName(String);

impl QueryName {
    /// Checks `name` (a trailing dot allowed) against `syntax`.
    pub fn parse(name: &str, syntax: Syntax) -> Result<QueryName, NameError> {
        let text = name.strip_suffix('.').unwrap_or(name);
        if text.is_empty() {
            return Err(NameError::Empty);
        }
        if text.len() > MAX_NAME {
            return Err(NameError::TooLong);
        }
        for label in text.split('.') {
            check_label(label, syntax)?;
        }
        Ok(QueryName(text.to_owned()))
    }

    /// A fully qualified domain checked against `syntax`: at least two labels, the last not all
    /// digits (an IP address is no domain; RFC 1123 §2.1, RFC 7208 §4.3).
    pub fn domain(name: &str, syntax: Syntax) -> Result<QueryName, NameError> {
        let name = QueryName::parse(name, syntax)?;
        let mut labels = name.0.rsplit('.');
        let top = labels.next().unwrap_or_default();
        if labels.next().is_none() {
            return Err(NameError::SingleLabel);
        }
        if top.bytes().all(|b| b.is_ascii_digit()) {
            return Err(NameError::NumericTopLabel);
        }
        Ok(name)
    }

    /// A domain as a user typed it (or a report address names it), normalised the way mail
    /// systems compare domains: IDNA A-labels (UTS #46, RFC 5891), lowercase, no trailing dot;
    /// a fully qualified host name (RFC 1123 §2.1), never an IP address.
    pub fn host(input: &str) -> Result<QueryName, NameError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(NameError::Empty);
        }
        if trimmed.parse::<std::net::IpAddr>().is_ok() {
            return Err(NameError::IpAddress);
        }
        let text = trimmed.strip_suffix('.').unwrap_or(trimmed);
        if text.is_empty() || text.ends_with('.') || text.starts_with('.') || text.contains("..") {
            return Err(NameError::EmptyLabel);
        }
        let ascii = idna::domain_to_ascii(text).map_err(|_| NameError::Idna)?;
        QueryName::domain(&ascii.to_ascii_lowercase(), Syntax::Host)
    }

    /// The text, without the root's dot.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The absolute name to put in a question, its labels as they are.
    pub fn to_fqdn(&self) -> Name {
        let mut fqdn = Name::from_labels(self.0.split('.').map(str::as_bytes))
            .expect("labels and length checked by parse");
        fqdn.set_fqdn(true);
        fqdn
    }
}

impl fmt::Display for QueryName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks one label against `syntax`.
fn check_label(label: &str, syntax: Syntax) -> Result<(), NameError> {
    if label.is_empty() {
        return Err(NameError::EmptyLabel);
    }
    if label.len() > MAX_LABEL {
        return Err(NameError::LabelTooLong);
    }
    let (allowed, complaint): (fn(u8) -> bool, _) = match syntax {
        Syntax::Any => return Ok(()),
        Syntax::Printable => (
            |b: u8| b == b' ' || b.is_ascii_graphic(),
            "only printable ASCII characters are allowed",
        ),
        Syntax::Service => (
            |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_',
            "only letters, digits, hyphens and underscores are allowed",
        ),
        Syntax::Host => (
            |b: u8| b.is_ascii_alphanumeric() || b == b'-',
            "only letters, digits and hyphens are allowed in a host name",
        ),
    };
    if !label.bytes().all(allowed) {
        return Err(NameError::BadLabel(complaint));
    }
    if matches!(syntax, Syntax::Service | Syntax::Host)
        && (label.starts_with('-') || label.ends_with('-'))
    {
        return Err(NameError::BadLabel("a label starts or ends with a hyphen"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_octet_but_the_dot_may_be_asked() {
        let name = QueryName::parse("foo:bar/baz.example.com.", Syntax::Any).unwrap();
        assert_eq!(name.as_str(), "foo:bar/baz.example.com");
        assert_eq!(name.to_fqdn().num_labels(), 3);
        assert!(QueryName::parse("a b.example", Syntax::Any).is_ok());
        assert!(QueryName::parse("a b.example", Syntax::Printable).is_ok());
        assert!(QueryName::parse("-a.example", Syntax::Printable).is_ok());
        assert_eq!(
            QueryName::parse("a\tb.example", Syntax::Printable),
            Err(NameError::BadLabel(
                "only printable ASCII characters are allowed"
            ))
        );
    }

    #[test]
    fn lengths_are_those_of_rfc_1035() {
        let label = "a".repeat(63);
        assert!(QueryName::parse(&format!("{label}.test"), Syntax::Host).is_ok());
        assert_eq!(
            QueryName::parse(&format!("{label}a.test"), Syntax::Any),
            Err(NameError::LabelTooLong)
        );
        let longest = format!("{label}.{label}.{label}.{}", "b".repeat(61));
        assert_eq!(longest.len(), MAX_NAME);
        assert!(QueryName::parse(&longest, Syntax::Any).is_ok());
        assert!(QueryName::parse(&format!("{longest}."), Syntax::Any).is_ok());
        assert_eq!(
            QueryName::parse(&format!("c{longest}"), Syntax::Any),
            Err(NameError::TooLong)
        );
        for empty in ["", ".", "a..b", ".a", "a.b.."] {
            assert!(QueryName::parse(empty, Syntax::Any).is_err(), "{empty:?}");
        }
    }

    #[test]
    fn service_labels_allow_underscores_host_names_do_not() {
        assert!(QueryName::parse("_dmarc.example.com", Syntax::Service).is_ok());
        assert!(QueryName::parse("_dmarc.example.com", Syntax::Host).is_err());
        assert!(QueryName::parse("-s1", Syntax::Service).is_err());
        assert!(QueryName::parse("s1-", Syntax::Host).is_err());
        assert!(QueryName::parse("sél", Syntax::Service).is_err());
    }

    #[test]
    fn a_typed_domain_is_normalised_or_refused_with_the_reason() {
        let host = |s: &str| QueryName::host(s).map(|n| n.as_str().to_owned());
        assert_eq!(host(" Example.COM. ").unwrap(), "example.com");
        assert_eq!(host("BÜCHER.com").unwrap(), "xn--bcher-kva.com");
        assert_eq!(host("localhost"), Err(NameError::SingleLabel));
        assert_eq!(host("example.123"), Err(NameError::NumericTopLabel));
        assert_eq!(host("192.0.2.1"), Err(NameError::IpAddress));
        assert_eq!(host("a..b.com"), Err(NameError::EmptyLabel));
        assert_eq!(host(""), Err(NameError::Empty));
        assert!(host("under_score.com").is_err());
    }
}
