//! The SPF record (RFC 7208 §4.5, §4.6, §5, §6): selection among TXT records and a strict
//! parser with positioned diagnostics, as pure functions on strings.
//!
//! Why not mail-auth's parser: it is lenient (it accepts `ip4:999.1.1.1` and `/33`, drops
//! unknown mechanisms) and reports only "Parse error". A receiver that is strict returns
//! permerror for those records, so an auditor must find every such term and say which one is
//! wrong, where, and why.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use serde::Serialize;

use super::macros::{MacroString, MacroUse, describe_char, parse_domain_spec, parse_macro_string};

/// Whether a TXT record (its strings joined, §3.3) is an SPF record: it begins with exactly
/// `v=spf1`, in any case, followed by a space or the end (§4.5). `v=spf10` is not one.
pub fn is_spf_record(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes
        .get(..6)
        .is_some_and(|version| version.eq_ignore_ascii_case(b"v=spf1"))
        && matches!(bytes.get(6), None | Some(b' '))
}

/// A result a directive gives when its mechanism matches (§4.6.2).
///
/// ```text
/// qualifier        = "+" / "-" / "?" / "~"
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Qualifier {
    #[serde(rename = "+")]
    Pass,
    #[serde(rename = "-")]
    Fail,
    #[serde(rename = "~")]
    SoftFail,
    #[serde(rename = "?")]
    Neutral,
}

impl Qualifier {
    fn from_byte(byte: u8) -> Option<Qualifier> {
        match byte {
            b'+' => Some(Qualifier::Pass),
            b'-' => Some(Qualifier::Fail),
            b'~' => Some(Qualifier::SoftFail),
            b'?' => Some(Qualifier::Neutral),
            _ => None,
        }
    }

    /// The character as written in a record.
    pub fn as_char(self) -> char {
        match self {
            Qualifier::Pass => '+',
            Qualifier::Fail => '-',
            Qualifier::SoftFail => '~',
            Qualifier::Neutral => '?',
        }
    }
}

/// The CIDR lengths of `a` and `mx` (§5.6); `None` means the default, 32 or 128.
///
/// ```text
/// dual-cidr-length = [ ip4-cidr-length ] [ "/" ip6-cidr-length ]
/// ip4-cidr-length  = "/" ("0" / %x31-39 0*1DIGIT) ; value range 0-32
/// ip6-cidr-length  = "/" ("0" / %x31-39 0*2DIGIT) ; value range 0-128
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DualCidr {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip4: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip6: Option<u8>,
}

impl DualCidr {
    /// Neither length written.
    pub fn is_default(&self) -> bool {
        self.ip4.is_none() && self.ip6.is_none()
    }

    /// The IPv4 prefix length to compare with (32 when not written).
    pub fn ip4_len(self) -> u8 {
        self.ip4.unwrap_or(32)
    }

    /// The IPv6 prefix length to compare with (128 when not written).
    pub fn ip6_len(self) -> u8 {
        self.ip6.unwrap_or(128)
    }
}

/// A mechanism (§5). A missing `domain` means the current `<domain>`.
///
/// ```text
/// mechanism        = ( all / include / a / mx / ptr / ip4 / ip6 / exists )
/// all              = "all"
/// include          = "include"  ":" domain-spec
/// a                = "a"      [ ":" domain-spec ] [ dual-cidr-length ]
/// mx               = "mx"     [ ":" domain-spec ] [ dual-cidr-length ]
/// ptr              = "ptr"    [ ":" domain-spec ]
/// ip4              = "ip4"      ":" ip4-network   [ ip4-cidr-length ]
/// ip6              = "ip6"      ":" ip6-network   [ ip6-cidr-length ]
/// exists           = "exists"   ":" domain-spec
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "mechanism", rename_all = "lowercase")]
pub enum Mechanism {
    All,
    Include {
        domain: MacroString,
    },
    A {
        #[serde(skip_serializing_if = "Option::is_none")]
        domain: Option<MacroString>,
        #[serde(skip_serializing_if = "DualCidr::is_default")]
        cidr: DualCidr,
    },
    Mx {
        #[serde(skip_serializing_if = "Option::is_none")]
        domain: Option<MacroString>,
        #[serde(skip_serializing_if = "DualCidr::is_default")]
        cidr: DualCidr,
    },
    Ptr {
        #[serde(skip_serializing_if = "Option::is_none")]
        domain: Option<MacroString>,
    },
    Ip4 {
        network: Ipv4Addr,
        prefix: u8,
    },
    Ip6 {
        network: Ipv6Addr,
        prefix: u8,
    },
    Exists {
        domain: MacroString,
    },
}

impl Mechanism {
    /// Whether evaluating it asks DNS, and so counts against the limit of 10 (§4.6.4).
    pub fn queries_dns(&self) -> bool {
        matches!(
            self,
            Mechanism::Include { .. }
                | Mechanism::A { .. }
                | Mechanism::Mx { .. }
                | Mechanism::Ptr { .. }
                | Mechanism::Exists { .. }
        )
    }

    /// The mechanism's name, lowercase.
    pub fn name(&self) -> &'static str {
        match self {
            Mechanism::All => "all",
            Mechanism::Include { .. } => "include",
            Mechanism::A { .. } => "a",
            Mechanism::Mx { .. } => "mx",
            Mechanism::Ptr { .. } => "ptr",
            Mechanism::Ip4 { .. } => "ip4",
            Mechanism::Ip6 { .. } => "ip6",
            Mechanism::Exists { .. } => "exists",
        }
    }
}

/// ```text
/// directive        = [ qualifier ] mechanism
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Directive {
    /// `+` when not written (§4.6.2).
    pub qualifier: Qualifier,
    #[serde(flatten)]
    pub mechanism: Mechanism,
}

/// A modifier (§6). `redirect` and `exp` may each appear once; other names are ignored by
/// `check_host` but must still parse (§6).
///
/// ```text
/// modifier         = redirect / explanation / unknown-modifier
/// redirect         = "redirect" "=" domain-spec
/// explanation      = "exp" "=" domain-spec
/// unknown-modifier = name "=" macro-string
/// name             = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "modifier", rename_all = "lowercase")]
pub enum Modifier {
    Redirect { domain: MacroString },
    Exp { domain: MacroString },
    Unknown { name: String, value: MacroString },
}

/// A directive or a modifier.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum TermKind {
    Directive(Directive),
    Modifier(Modifier),
}

/// One term of a record, with where it was written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Term {
    /// Byte offset of the term in the record text.
    pub offset: usize,
    /// The term as written.
    pub text: String,
    #[serde(flatten)]
    pub kind: TermKind,
}

/// A parsed `v=spf1` record.
///
/// ```text
/// record           = version terms *SP
/// version          = "v=spf1"
/// terms            = *( 1*SP ( directive / modifier ) )
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Record {
    pub terms: Vec<Term>,
}

impl Record {
    /// The directives, in evaluation order.
    pub fn directives(&self) -> impl Iterator<Item = (&Term, &Directive)> {
        self.terms.iter().filter_map(|term| match &term.kind {
            TermKind::Directive(directive) => Some((term, directive)),
            TermKind::Modifier(_) => None,
        })
    }

    /// The first `all` directive: it always matches, so nothing after it is ever evaluated.
    pub fn all(&self) -> Option<(&Term, Qualifier)> {
        self.directives()
            .find(|(_, d)| d.mechanism == Mechanism::All)
            .map(|(term, d)| (term, d.qualifier))
    }

    /// The `redirect=` modifier, if any.
    pub fn redirect(&self) -> Option<(&Term, &MacroString)> {
        self.terms.iter().find_map(|term| match &term.kind {
            TermKind::Modifier(Modifier::Redirect { domain }) => Some((term, domain)),
            _ => None,
        })
    }

    /// The domains whose records this one hands evaluation to: the `include:` targets
    /// (§5.2) and the `redirect=` target (§6.1), in record order and lowercased (DNS names
    /// compare case-insensitively, RFC 4343 §2), macros left unexpanded. They name the
    /// providers that send the domain's mail.
    pub fn named_domains(&self) -> Vec<String> {
        self.terms
            .iter()
            .filter_map(|term| match &term.kind {
                TermKind::Directive(Directive {
                    mechanism: Mechanism::Include { domain },
                    ..
                })
                | TermKind::Modifier(Modifier::Redirect { domain }) => {
                    Some(domain.as_str().to_ascii_lowercase())
                }
                _ => None,
            })
            .collect()
    }

    /// The `exp=` modifier, if any.
    pub fn exp(&self) -> Option<(&Term, &MacroString)> {
        self.terms.iter().find_map(|term| match &term.kind {
            TermKind::Modifier(Modifier::Exp { domain }) => Some((term, domain)),
            _ => None,
        })
    }
}

/// A term that does not parse: where, what, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("`{term}` at byte {offset}: {reason}")]
pub struct SyntaxError {
    /// Byte offset of the term in the record text.
    pub offset: usize,
    /// The term as written (or the record's start, for a bad version).
    pub term: String,
    /// Why it is wrong, citing RFC 7208.
    pub reason: String,
    /// What to write instead, when there is one obvious correction; otherwise the term is best
    /// removed or rewritten by hand.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<String>,
}

/// Parses a record strictly: every term must parse, or the record is a permerror (§4.6).
pub fn parse(text: &str) -> Result<Record, Vec<SyntaxError>> {
    let (record, errors) = parse_lenient(text);
    if errors.is_empty() {
        Ok(record)
    } else {
        Err(errors)
    }
}

/// Parses every term it can and collects an error for each one it cannot, so that an audit can
/// show all the problems at once and still walk what did parse.
pub fn parse_lenient(text: &str) -> (Record, Vec<SyntaxError>) {
    let mut record = Record::default();
    let mut errors = Vec::new();
    if !is_spf_record(text) {
        let first = text.split(' ').next().unwrap_or_default();
        errors.push(SyntaxError {
            offset: 0,
            term: first.to_owned(),
            reason: "an SPF record starts with `v=spf1` followed by a space or the end (§4.5)"
                .to_owned(),
            suggestion: None,
        });
        return (record, errors);
    }
    let mut seen_redirect = false;
    let mut seen_exp = false;
    for (offset, term_text) in split_terms(text) {
        match parse_term(term_text) {
            Ok(kind) => {
                let duplicate = match &kind {
                    TermKind::Modifier(Modifier::Redirect { .. }) => {
                        std::mem::replace(&mut seen_redirect, true).then_some("redirect")
                    }
                    TermKind::Modifier(Modifier::Exp { .. }) => {
                        std::mem::replace(&mut seen_exp, true).then_some("exp")
                    }
                    _ => None,
                };
                if let Some(name) = duplicate {
                    errors.push(SyntaxError {
                        offset,
                        term: term_text.to_owned(),
                        reason: format!(
                            "a second `{name}=`: a record may hold it at most once (§6)"
                        ),
                        suggestion: None,
                    });
                    continue;
                }
                record.terms.push(Term {
                    offset,
                    text: term_text.to_owned(),
                    kind,
                });
            }
            Err((reason, suggestion)) => errors.push(SyntaxError {
                offset,
                term: term_text.to_owned(),
                reason,
                suggestion,
            }),
        }
    }
    (record, errors)
}

/// The terms after the version, with their byte offsets. Terms are separated by spaces only
/// (§4.6.1): a tab or line break stays inside the term and makes it fail.
fn split_terms(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let body = text.get(6..).unwrap_or_default();
    let mut offset = 6;
    body.split(' ').filter_map(move |piece| {
        let at = offset;
        offset += piece.len() + 1;
        (!piece.is_empty()).then_some((at, piece))
    })
}

type TermError = (String, Option<String>);

fn error(reason: impl Into<String>) -> TermError {
    (reason.into(), None)
}

fn parse_term(term: &str) -> Result<TermKind, TermError> {
    if let Some((at, c)) = term
        .char_indices()
        .find(|&(_, c)| !c.is_ascii() || c.is_ascii_control())
    {
        return Err(error(if c.is_ascii() {
            format!(
                "control character {} at byte {at} of the term: terms are separated by single \
                 spaces only (§4.6.1)",
                describe_char(c)
            )
        } else {
            format!(
                "non-ASCII character {} at byte {at} of the term: SPF records are 7-bit ASCII \
                 (§4.6.1, §7.1)",
                describe_char(c)
            )
        }));
    }
    // ASCII from here on: byte offsets are char boundaries.
    let (qualifier, body) = match Qualifier::from_byte(term.as_bytes()[0]) {
        Some(q) => (Some(q), &term[1..]),
        None => (None, term),
    };
    let split = body.find([':', '/', '=']);
    if let Some(at) = split
        && body.as_bytes()[at] == b'='
    {
        if qualifier.is_some() {
            return Err(error(
                "a modifier takes no qualifier: only mechanisms start with + - ~ ? (§4.6.1)",
            ));
        }
        return parse_modifier(&body[..at], &body[at + 1..]).map(TermKind::Modifier);
    }
    let (name, rest) = split.map_or((body, ""), |at| body.split_at(at));
    let mechanism = parse_mechanism(name, rest).map_err(|(reason, suggestion)| {
        // A corrected mechanism keeps the qualifier that was written; a modifier takes none.
        let suggestion = suggestion.map(|s| match qualifier {
            Some(q) if !s.contains('=') => format!("{}{s}", q.as_char()),
            _ => s,
        });
        (reason, suggestion)
    })?;
    Ok(TermKind::Directive(Directive {
        qualifier: qualifier.unwrap_or(Qualifier::Pass),
        mechanism,
    }))
}

fn parse_modifier(name: &str, value: &str) -> Result<Modifier, TermError> {
    let valid_name = name.as_bytes().first().is_some_and(u8::is_ascii_alphabetic)
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !valid_name {
        return Err(error(format!(
            "`{name}` is not a modifier name: a name starts with a letter and holds letters, \
             digits, - _ or . (§4.6.1)"
        )));
    }
    if name.eq_ignore_ascii_case("redirect") || name.eq_ignore_ascii_case("exp") {
        let domain = parse_domain_spec(value)
            .map_err(|reason| error(format!("{name}= target: {reason}")))?;
        return Ok(if name.eq_ignore_ascii_case("redirect") {
            Modifier::Redirect { domain }
        } else {
            Modifier::Exp { domain }
        });
    }
    let value = parse_macro_string(value, MacroUse::Any)
        .map_err(|reason| error(format!("value of modifier `{name}`: {reason}")))?;
    Ok(Modifier::Unknown {
        name: name.to_owned(),
        value,
    })
}

fn parse_mechanism(name: &str, rest: &str) -> Result<Mechanism, TermError> {
    let lower = name.to_ascii_lowercase();
    match lower.as_str() {
        "all" => {
            if rest.is_empty() {
                Ok(Mechanism::All)
            } else {
                Err((
                    format!("`all` takes no argument, but `{rest}` follows it (§5.1)"),
                    Some("all".to_owned()),
                ))
            }
        }
        "include" | "exists" => {
            let Some(spec) = rest.strip_prefix(':') else {
                return Err(error(format!(
                    "`{lower}` needs a domain: {lower}:<domain> (§5.2, §5.7)"
                )));
            };
            if let Some((_, after)) = spec.rsplit_once('/')
                && !after.is_empty()
                && after.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(error(format!(
                    "`{lower}` takes no CIDR length (§5.2, §5.7)"
                )));
            }
            let domain = target(spec)?;
            Ok(if lower == "include" {
                Mechanism::Include { domain }
            } else {
                Mechanism::Exists { domain }
            })
        }
        "a" | "mx" => {
            let (spec, cidr) = match rest.strip_prefix(':') {
                Some(arg) => {
                    let (spec, cidr_text) = split_dual_cidr(arg);
                    (Some(spec), cidr_text)
                }
                None => (None, rest),
            };
            let domain = spec.map(target).transpose()?;
            let cidr = parse_dual_cidr(cidr)?;
            Ok(if lower == "a" {
                Mechanism::A { domain, cidr }
            } else {
                Mechanism::Mx { domain, cidr }
            })
        }
        "ptr" => {
            if rest.starts_with('/') {
                return Err(error("`ptr` takes no CIDR length (§5.5)"));
            }
            let domain = rest.strip_prefix(':').map(target).transpose()?;
            Ok(Mechanism::Ptr { domain })
        }
        "ip4" => parse_ip4_mechanism(rest),
        "ip6" => parse_ip6_mechanism(rest),
        "redirect" | "exp" => Err((
            format!("`{lower}` is a modifier, not a mechanism: write {lower}=<domain> (§6)"),
            rest.strip_prefix(':')
                .map(|target| format!("{lower}={target}")),
        )),
        _ if lower.starts_with("all") && name.len() > 3 => Err((
            format!("unknown mechanism `{name}`: did you mean `all`? (§5)"),
            Some("all".to_owned()),
        )),
        _ => Err(misspelt(name, rest)),
    }
}

/// The names a term before `:` or `/` may have been meant as: the mechanisms (§5), and the
/// modifiers people write as if they were mechanisms (§6).
const TERM_NAMES: &[&str] = &[
    "all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists", "redirect", "exp",
];

/// The error for an unknown mechanism: "did you mean" the name it is one typo away from, with
/// the term rewritten under that name when it then parses (`inlcude:_spf.example.com` →
/// `include:_spf.example.com`), so that the corrected record keeps what was meant.
fn misspelt(name: &str, rest: &str) -> TermError {
    let meant = crate::typo::closest(name, TERM_NAMES);
    if meant.is_empty() {
        return error(format!(
            "unknown mechanism `{name}`: the mechanisms are all, include, a, mx, ptr, ip4, ip6 \
             and exists; a modifier is written name=value (§4.6.1, §5)"
        ));
    }
    let suggestion = match meant.as_slice() {
        [modifier @ ("redirect" | "exp")] => rest
            .strip_prefix(':')
            .map(|target| format!("{modifier}={target}")),
        [mechanism] => Some(format!("{mechanism}{rest}")),
        _ => None,
    }
    .filter(|term| parse_term(term).is_ok());
    (
        format!(
            "unknown mechanism `{name}`: did you mean `{}`? (§5)",
            meant.join("` or `")
        ),
        suggestion,
    )
}

/// `ip4:<network>[/<length>]`
fn parse_ip4_mechanism(rest: &str) -> Result<Mechanism, TermError> {
    let Some(value) = rest.strip_prefix(':') else {
        return Err(error(
            "`ip4` needs an address: ip4:<address>[/<length>] (§5.6)",
        ));
    };
    let (network, length) = value
        .split_once('/')
        .map_or((value, None), |(n, l)| (n, Some(l)));
    let network = parse_ip4(network).map_err(error)?;
    let prefix = length
        .map_or(Ok(32), |l| parse_cidr_length(l, 32, "IPv4"))
        .map_err(error)?;
    Ok(Mechanism::Ip4 { network, prefix })
}

/// `ip6:<network>[/<length>]`
fn parse_ip6_mechanism(rest: &str) -> Result<Mechanism, TermError> {
    let Some(value) = rest.strip_prefix(':') else {
        return Err(error(
            "`ip6` needs an address: ip6:<address>[/<length>] (§5.6)",
        ));
    };
    let (network, length) = value
        .split_once('/')
        .map_or((value, None), |(n, l)| (n, Some(l)));
    let network = network.parse::<Ipv6Addr>().map_err(|_| {
        error(format!(
            "`{network}` is not an IPv6 address in RFC 4291 §2.2 text form (§5.6)"
        ))
    })?;
    let prefix = length
        .map_or(Ok(128), |l| parse_cidr_length(l, 128, "IPv6"))
        .map_err(error)?;
    Ok(Mechanism::Ip6 { network, prefix })
}

fn target(spec: &str) -> Result<MacroString, TermError> {
    parse_domain_spec(spec).map_err(error)
}

/// Splits `domain/24//64` into the domain and its CIDR suffix. Only a suffix made of `/digits`
/// and `//digits` is taken: `foo:bar/baz.example.com` is all domain (§5.6).
fn split_dual_cidr(arg: &str) -> (&str, &str) {
    let mut end = arg.len();
    if let Some(at) = arg.rfind("//")
        && is_digits(&arg[at + 2..])
    {
        end = at;
    }
    if let Some(at) = arg[..end].rfind('/')
        && is_digits(&arg[at + 1..end])
    {
        end = at;
    }
    arg.split_at(end)
}

fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// `/24`, `//64` or `/24//64` (§5.6).
fn parse_dual_cidr(text: &str) -> Result<DualCidr, TermError> {
    if text.is_empty() {
        return Ok(DualCidr::default());
    }
    let bad = || {
        error(format!(
            "`{text}` is not a CIDR length: write /<0-32> for IPv4 and //<0-128> for IPv6 (§5.6)"
        ))
    };
    let (ip4_text, ip6_text) = match text.find("//") {
        Some(at) => (&text[..at], Some(&text[at + 2..])),
        None => (text, None),
    };
    let ip4 = if ip4_text.is_empty() {
        None
    } else {
        let digits = ip4_text.strip_prefix('/').ok_or_else(bad)?;
        if !is_digits(digits) {
            return Err(bad());
        }
        Some(parse_cidr_length(digits, 32, "IPv4").map_err(error)?)
    };
    let ip6 = match ip6_text {
        Some(digits) if is_digits(digits) => {
            Some(parse_cidr_length(digits, 128, "IPv6").map_err(error)?)
        }
        Some(_) => return Err(bad()),
        None => None,
    };
    Ok(DualCidr { ip4, ip6 })
}

/// A prefix length: decimal, no leading zero, at most `max` (§5.6).
fn parse_cidr_length(digits: &str, max: u8, family: &str) -> Result<u8, String> {
    if !is_digits(digits) {
        return Err(format!(
            "`/{digits}` is not a {family} prefix length: write a number from 0 to {max} (§5.6)"
        ));
    }
    if digits.len() > 1 && digits.starts_with('0') {
        return Err(format!(
            "`/{digits}` has a leading zero: lengths are written without one (§5.6)"
        ));
    }
    match digits.parse::<u16>() {
        Ok(n) if n <= u16::from(max) => Ok(u8::try_from(n).unwrap_or(max)),
        _ => Err(format!(
            "`/{digits}` is longer than the {max} bits of an {family} address (§5.6)"
        )),
    }
}

/// `ip4-network = qnum "." qnum "." qnum "." qnum`, each 0-255 without leading zeros (§5.6).
fn parse_ip4(text: &str) -> Result<Ipv4Addr, String> {
    let bad = |why: String| format!("`{text}` is not an IPv4 address: {why} (§5.6)");
    let parts: Vec<&str> = text.split('.').collect();
    if parts.len() != 4 {
        return Err(bad(format!(
            "it has {} part(s), an address has four numbers separated by dots",
            parts.len()
        )));
    }
    let mut octets = [0u8; 4];
    for (octet, part) in octets.iter_mut().zip(&parts) {
        if !is_digits(part) {
            return Err(bad(format!("`{part}` is not a number")));
        }
        if part.len() > 1 && part.starts_with('0') {
            return Err(bad(format!("`{part}` has a leading zero")));
        }
        *octet = part
            .parse::<u8>()
            .map_err(|_| bad(format!("{part} is over 255")))?;
    }
    Ok(Ipv4Addr::from(octets))
}

impl fmt::Display for Record {
    /// The record text rebuilt from its terms, as `v=spf1 term term ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("v=spf1")?;
        for term in &self.terms {
            write!(f, " {}", term.text)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_error(text: &str) -> SyntaxError {
        let errors = parse(text).expect_err(text);
        assert_eq!(errors.len(), 1, "{text}: {errors:?}");
        errors.into_iter().next().unwrap()
    }

    #[test]
    fn record_selection_is_exact_and_case_insensitive() {
        assert!(is_spf_record("v=spf1"));
        assert!(is_spf_record("v=spf1 -all"));
        assert!(is_spf_record("V=SpF1 ~all"));
        assert!(!is_spf_record("v=spf10"));
        assert!(!is_spf_record("v=spf1-all"));
        assert!(!is_spf_record(" v=spf1 -all"));
        assert!(!is_spf_record("v=spf"));
        assert!(!is_spf_record("v=sp\u{e9}1 -all"));
        assert!(!is_spf_record("google-site-verification=abc"));
    }

    #[test]
    fn a_typical_record_parses_into_its_terms() {
        let text = "v=spf1 mx a:mail.example.com/24//64 include:_spf.google.com \
                    ip4:192.0.2.0/24 ip6:2001:db8::/32 -ptr ?exists:%{i}.bl.example.org \
                    redirect=_spf.example.com exp=exp.%{d} foo=bar ~all";
        let record = parse(text).unwrap();
        assert_eq!(record.terms.len(), 11);
        assert_eq!(record.terms[0].offset, 7);
        assert_eq!(record.terms[1].offset, 10);
        assert_eq!(
            record.terms[1].kind,
            TermKind::Directive(Directive {
                qualifier: Qualifier::Pass,
                mechanism: Mechanism::A {
                    domain: Some(parse_domain_spec("mail.example.com").unwrap()),
                    cidr: DualCidr {
                        ip4: Some(24),
                        ip6: Some(64)
                    },
                },
            })
        );
        assert_eq!(
            record.terms[3].kind,
            TermKind::Directive(Directive {
                qualifier: Qualifier::Pass,
                mechanism: Mechanism::Ip4 {
                    network: Ipv4Addr::new(192, 0, 2, 0),
                    prefix: 24
                },
            })
        );
        assert_eq!(record.all().map(|(_, q)| q), Some(Qualifier::SoftFail));
        assert_eq!(record.redirect().unwrap().1.as_str(), "_spf.example.com");
        assert_eq!(record.exp().unwrap().1.as_str(), "exp.%{d}");
        assert_eq!(
            record.to_string(),
            text.split_whitespace().collect::<Vec<_>>().join(" ")
        );
    }

    #[test]
    fn named_domains_are_the_include_and_redirect_targets_lowercased() {
        let record = parse(
            "v=spf1 mx include:_SPF.Google.com a:mail.example.com -include:%{d}.Spf.Example \
             exists:%{i}.bl.example.org exp=Exp.example.com redirect=_Spf.Example.NET",
        )
        .unwrap();
        assert_eq!(
            record.named_domains(),
            ["_spf.google.com", "%{d}.spf.example", "_spf.example.net"]
        );
        assert!(
            parse("v=spf1 mx a ip4:192.0.2.1 -all")
                .unwrap()
                .named_domains()
                .is_empty()
        );
        // What did parse still names its domains; a term that did not is not guessed at.
        let (record, errors) = parse_lenient("v=spf1 include:a.example include:b.example/24");
        assert_eq!(
            (record.named_domains(), errors.len()),
            (vec!["a.example".to_owned()], 1)
        );
    }

    #[test]
    fn terms_serialize_flat_for_the_report() {
        let record = parse("v=spf1 -include:_spf.example.com redirect=x.example.com").unwrap();
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(
            json["terms"][0],
            serde_json::json!({"offset": 7, "text": "-include:_spf.example.com",
                "qualifier": "-", "mechanism": "include", "domain": "_spf.example.com"})
        );
        assert_eq!(
            json["terms"][1],
            serde_json::json!({"offset": 33, "text": "redirect=x.example.com",
                "modifier": "redirect", "domain": "x.example.com"})
        );
    }

    #[test]
    fn spaces_separate_terms_and_may_trail() {
        assert_eq!(parse("v=spf1 a  -all ").unwrap().terms.len(), 2);
        assert_eq!(parse("v=spf1").unwrap().terms.len(), 0);
    }

    #[test]
    fn bad_addresses_and_lengths_are_named_with_their_offset() {
        let e = one_error("v=spf1 ip4:999.1.1.1 -all");
        assert_eq!((e.offset, e.term.as_str()), (7, "ip4:999.1.1.1"));
        assert!(e.reason.contains("999 is over 255"), "{e}");

        let e = one_error("v=spf1 -all ip4:192.0.2.0/33");
        assert_eq!(e.offset, 12);
        assert!(e.reason.contains("32 bits"), "{e}");

        assert!(
            one_error("v=spf1 ip6:2001:db8::/129")
                .reason
                .contains("128 bits")
        );
        assert!(
            one_error("v=spf1 ip4:1.2.3.4/032")
                .reason
                .contains("leading zero")
        );
        assert!(
            one_error("v=spf1 ip4:01.2.3.4")
                .reason
                .contains("leading zero")
        );
        assert!(
            one_error("v=spf1 ip4:1.2.3")
                .reason
                .contains("four numbers")
        );
        assert!(one_error("v=spf1 ip6::CAFE::BABE").reason.contains("IPv6"));
        assert!(one_error("v=spf1 a/33").reason.contains("32 bits"));
        assert!(one_error("v=spf1 mx//129").reason.contains("128 bits"));
        assert!(
            one_error("v=spf1 a/24/64")
                .reason
                .contains("not a CIDR length")
        );
        assert!(
            one_error("v=spf1 ip4:1.2.3.4//32")
                .reason
                .contains("prefix length")
        );
    }

    #[test]
    fn unknown_mechanisms_and_misused_modifiers_are_explained() {
        let e = one_error("v=spf1 ip4:192.0.2.1 moo -all");
        assert_eq!((e.offset, e.term.as_str()), (21, "moo"));
        assert!(e.reason.contains("unknown mechanism `moo`"), "{e}");
        assert_eq!(e.suggestion, None);

        // A typo of a mechanism: did you mean, and the term rewritten under the meant name.
        let e = one_error("v=spf1 inlcude:_spf.google.com ~all");
        assert!(e.reason.contains("did you mean `include`?"), "{e}");
        assert_eq!(e.suggestion.as_deref(), Some("include:_spf.google.com"));
        let e = one_error("v=spf1 -ipv4:192.0.2.1");
        assert_eq!(e.suggestion.as_deref(), Some("-ip4:192.0.2.1"));
        let e = one_error("v=spf1 redirct:_spf.example.com");
        assert_eq!(e.suggestion.as_deref(), Some("redirect=_spf.example.com"));
        // Meant as a mechanism whose argument is wrong anyway: no suggestion.
        let e = one_error("v=spf1 inlcude");
        assert!(e.reason.contains("did you mean `include`?"), "{e}");
        assert_eq!(e.suggestion, None);

        let e = one_error("v=spf1 ip4:192.0.2.1 redirect:_spf.example.com");
        assert!(e.reason.contains("is a modifier"), "{e}");
        assert_eq!(e.suggestion.as_deref(), Some("redirect=_spf.example.com"));

        let e = one_error("v=spf1 -all.");
        assert_eq!(e.suggestion.as_deref(), Some("-all"));
        assert_eq!(
            one_error("v=spf1 ~all:x").suggestion.as_deref(),
            Some("~all")
        );
        assert!(
            one_error("v=spf1 -all:foobar")
                .reason
                .contains("takes no argument")
        );
        assert!(
            one_error("v=spf1 1up=foo")
                .reason
                .contains("not a modifier name")
        );
        assert!(
            one_error("v=spf1 =all")
                .reason
                .contains("not a modifier name")
        );
        assert!(
            one_error("v=spf1 +redirect=x.example.com")
                .reason
                .contains("no qualifier")
        );
        assert!(
            one_error("v=spf1 include")
                .reason
                .contains("needs a domain")
        );
        assert!(one_error("v=spf1 include:").reason.contains("empty"));
        assert!(
            one_error("v=spf1 include:_spf.example.com/24")
                .reason
                .contains("no CIDR")
        );
        assert!(one_error("v=spf1 ptr/0").reason.contains("no CIDR"));
        assert!(one_error("v=spf1 exists").reason.contains("needs a domain"));
    }

    #[test]
    fn duplicate_redirect_and_exp_are_errors_but_unknown_modifiers_are_not() {
        let e = one_error("v=spf1 redirect=a.example.com redirect=b.example.com");
        assert!(e.reason.contains("second `redirect=`"), "{e}");
        assert_eq!(e.offset, 30);
        assert!(
            one_error("v=spf1 exp=a.example.com -all exp=b.example.com")
                .reason
                .contains("second `exp=`")
        );
        assert!(parse("v=spf1 moo.cow-far_out=man:dog/cat default=pass -all").is_ok());
        assert!(
            one_error("v=spf1 -all foo=%abc")
                .reason
                .contains("not a macro")
        );
    }

    #[test]
    fn domain_specs_are_checked_with_the_reason() {
        assert!(
            one_error("v=spf1 a:foo-bar -all")
                .reason
                .contains("top-level label")
        );
        assert!(
            one_error("v=spf1 a:abc.123")
                .reason
                .contains("not a valid top-level label")
        );
        assert!(
            one_error("v=spf1 exists:%{x}.example.com")
                .reason
                .contains("macro letter")
        );
        assert!(
            one_error("v=spf1 exp=%{r}.example.com")
                .reason
                .contains("explanation")
        );
        assert!(parse("v=spf1 a:foo:bar/baz.example.com mx:foo.example.com/24").is_ok());
        assert!(parse("v=spf1 -include:_spfh.%{d2} exists:%{i}.%{l2r-}.user.%{d2}").is_ok());
    }

    #[test]
    fn control_and_non_ascii_characters_are_errors_not_separators() {
        let e = one_error("v=spf1 ip4:192.0.2.5\n include:spf.example.com ~all");
        assert!(e.reason.contains("U+000A"), "{e}");
        let e = one_error("v=spf1 a:example.net \u{96}all");
        assert!(e.reason.contains("non-ASCII"), "{e}");
        assert!(parse("v=spf1 \u{fffd}\u{fffd} -all").is_err());
    }

    #[test]
    fn every_bad_term_is_reported_and_the_good_ones_kept() {
        let (record, errors) = parse_lenient("v=spf1 ip4:1.2.3.4/40 mx moo ~all");
        assert_eq!(
            errors.iter().map(|e| e.offset).collect::<Vec<_>>(),
            vec![7, 25]
        );
        assert_eq!(record.to_string(), "v=spf1 mx ~all");
    }

    #[test]
    fn not_an_spf_record_is_one_error_at_the_start() {
        let e = one_error("v=spf10 -all");
        assert_eq!(e.offset, 0);
        assert!(e.reason.contains("v=spf1"));
    }

    #[test]
    fn hostile_records_never_panic() {
        let long = format!("v=spf1 {}", "a:%{d}. ".repeat(5000));
        let _ = parse(&long);
        for text in [
            "v=spf1 \u{0}",
            "v=spf1 ip4:\u{e9}",
            "v=spf1 +",
            "v=spf1 ~",
            "v=spf1 a://",
            "v=spf1 a:/",
            "v=spf1 ip6:/",
            "v=spf1 mx:%",
            "v=spf1 ip4:1.2.3.4/99999999999999999999",
            "v=spf1 <html><body>",
            "v=spf1 \u{1F600}=x",
        ] {
            assert!(parse(text).is_err(), "{text:?} accepted");
        }
    }
}
