//! SPF macro strings (RFC 7208 §7): parsing and expansion, as pure functions on strings.
//!
//! ```text
//! domain-spec      = macro-string domain-end
//! domain-end       = ( "." toplabel [ "." ] ) / macro-expand
//! toplabel         = ( *alphanum ALPHA *alphanum ) /
//!                    ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
//! alphanum         = ALPHA / DIGIT
//! explain-string   = *( macro-string / SP )
//! macro-string     = *( macro-expand / macro-literal )
//! macro-expand     = ( "%{" macro-letter transformers *delimiter "}" )
//!                    / "%%" / "%_" / "%-"
//! macro-literal    = %x21-24 / %x26-7E
//!                    ; visible characters except "%"
//! macro-letter     = "s" / "l" / "o" / "d" / "i" / "p" / "h" /
//!                    "c" / "r" / "t" / "v"
//! transformers     = *DIGIT [ "r" ]
//! delimiter        = "." / "-" / "+" / "," / "/" / "_" / "="
//! ```
//!
//! Written here rather than taken from mail-auth: an auditor must reject what mail-auth
//! accepts or silently drops, and say which character is wrong and why.

use std::fmt::{self, Write as _};
use std::net::IpAddr;

use serde::{Serialize, Serializer};

/// A macro letter (§7.2). Uppercase in the record means "URL-escape the expansion" (§7.3);
/// that is kept in [`Macro::url_escape`], not here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MacroLetter {
    /// `s`: the sender, `local-part@domain`.
    Sender,
    /// `l`: the local-part of the sender.
    LocalPart,
    /// `o`: the domain of the sender.
    SenderDomain,
    /// `d`: the domain being checked (changes at each include and redirect).
    Domain,
    /// `i`: the client IP, dotted for IPv4, dot-separated nibbles for IPv6.
    Ip,
    /// `p`: the validated domain name of the client IP (§5.5; SHOULD NOT be used).
    ValidatedDomain,
    /// `v`: `in-addr` for IPv4, `ip6` for IPv6.
    IpVersion,
    /// `h`: the HELO/EHLO domain.
    Helo,
    /// `c`: the client IP in its readable form (`exp` text only).
    ClientIp,
    /// `r`: the domain of the host doing the check (`exp` text only).
    Receiver,
    /// `t`: the current time in seconds since the epoch (`exp` text only).
    Timestamp,
}

impl MacroLetter {
    fn from_char(c: char) -> Option<MacroLetter> {
        Some(match c.to_ascii_lowercase() {
            's' => MacroLetter::Sender,
            'l' => MacroLetter::LocalPart,
            'o' => MacroLetter::SenderDomain,
            'd' => MacroLetter::Domain,
            'i' => MacroLetter::Ip,
            'p' => MacroLetter::ValidatedDomain,
            'v' => MacroLetter::IpVersion,
            'h' => MacroLetter::Helo,
            'c' => MacroLetter::ClientIp,
            'r' => MacroLetter::Receiver,
            't' => MacroLetter::Timestamp,
            _ => return None,
        })
    }

    /// The lowercase letter as written in a record.
    pub fn as_char(self) -> char {
        match self {
            MacroLetter::Sender => 's',
            MacroLetter::LocalPart => 'l',
            MacroLetter::SenderDomain => 'o',
            MacroLetter::Domain => 'd',
            MacroLetter::Ip => 'i',
            MacroLetter::ValidatedDomain => 'p',
            MacroLetter::IpVersion => 'v',
            MacroLetter::Helo => 'h',
            MacroLetter::ClientIp => 'c',
            MacroLetter::Receiver => 'r',
            MacroLetter::Timestamp => 't',
        }
    }

    /// `c`, `r` and `t` are allowed only in the explanation text fetched for `exp=` (§7.3).
    fn explanation_only(self) -> bool {
        matches!(
            self,
            MacroLetter::ClientIp | MacroLetter::Receiver | MacroLetter::Timestamp
        )
    }
}

/// One `%{...}` expansion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Macro {
    pub letter: MacroLetter,
    /// Written in uppercase: the expansion is URL-escaped (§7.3).
    pub url_escape: bool,
    /// Keep only this many right-hand parts (§7.3; never zero).
    pub keep: Option<u32>,
    /// Reverse the parts before keeping (`r` transformer).
    pub reverse: bool,
    /// Characters that split the value into parts; empty means `.`.
    pub delimiters: String,
}

/// A piece of a macro string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MacroPart {
    /// Characters copied as they are.
    Literal(String),
    /// `%{...}`.
    Expand(Macro),
    /// `%%`: a percent sign.
    Percent,
    /// `%_`: a space.
    Space,
    /// `%-`: `%20`, a URL-encoded space.
    UrlSpace,
}

/// A parsed macro string; serialized as the text it was parsed from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MacroString {
    text: String,
    parts: Vec<MacroPart>,
}

impl MacroString {
    /// The text as written in the record.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The parsed pieces, in order.
    pub fn parts(&self) -> &[MacroPart] {
        &self.parts
    }

    /// The macro letters this string uses, in order of appearance.
    pub fn letters(&self) -> impl Iterator<Item = MacroLetter> + '_ {
        self.parts.iter().filter_map(|part| match part {
            MacroPart::Expand(m) => Some(m.letter),
            _ => None,
        })
    }

    /// Whether the string holds no `%{...}` expansion (only literals and escapes).
    pub fn is_literal(&self) -> bool {
        self.letters().next().is_none()
    }

    /// Expands the string (§7.3) with what `ctx` knows. A letter whose value the context
    /// lacks gives [`Unresolved`]: e.g. `%{s}` cannot be expanded without a sender.
    pub fn expand(&self, ctx: &MacroContext<'_>) -> Result<String, Unresolved> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                MacroPart::Literal(text) => out.push_str(text),
                MacroPart::Percent => out.push('%'),
                MacroPart::Space => out.push(' '),
                MacroPart::UrlSpace => out.push_str("%20"),
                MacroPart::Expand(m) => {
                    let value = ctx.value(m.letter).ok_or(Unresolved(m.letter))?;
                    let transformed = transform(&value, m);
                    if m.url_escape {
                        url_escape_into(&transformed, &mut out);
                    } else {
                        out.push_str(&transformed);
                    }
                }
            }
        }
        Ok(out)
    }
}

impl fmt::Display for MacroString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for MacroString {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

/// A macro letter whose value the expansion context does not have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unresolved(pub MacroLetter);

impl fmt::Display for Unresolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "%{{{}}}", self.0.as_char())
    }
}

/// What macros expand to (§7.2). `None` fields are unknown: a static audit knows only the
/// domain; `check_host` knows the sender, IP and HELO too.
#[derive(Clone, Debug, Default)]
pub struct MacroContext<'a> {
    /// `<sender>`: the MAIL FROM address, or `postmaster@<helo>` when it was empty (§4.3).
    pub sender: Option<&'a str>,
    /// `<ip>`: the SMTP client's address.
    pub ip: Option<IpAddr>,
    /// The HELO/EHLO domain.
    pub helo: Option<&'a str>,
    /// `<domain>`: the domain whose record is being evaluated.
    pub domain: &'a str,
    /// The validated domain name of `ip` (`%{p}`), when `check_host` has looked it up.
    pub validated_domain: Option<&'a str>,
    /// The checking host's own domain (`%{r}`).
    pub receiver: Option<&'a str>,
    /// Seconds since the epoch (`%{t}`).
    pub timestamp: Option<u64>,
}

impl<'a> MacroContext<'a> {
    /// A context that knows only `<domain>`: what an audit without a sender can expand.
    pub fn domain_only(domain: &'a str) -> MacroContext<'a> {
        MacroContext {
            domain,
            ..MacroContext::default()
        }
    }

    fn value(&self, letter: MacroLetter) -> Option<String> {
        match letter {
            MacroLetter::Sender => self.sender.map(str::to_owned),
            MacroLetter::LocalPart => self.sender.map(|s| match s.rsplit_once('@') {
                Some(("", _)) => "postmaster".to_owned(),
                Some((local, _)) => local.to_owned(),
                None => s.to_owned(),
            }),
            MacroLetter::SenderDomain => self.sender.map(|s| {
                s.rsplit_once('@')
                    .map_or(s, |(_, domain)| domain)
                    .to_owned()
            }),
            MacroLetter::Domain => Some(self.domain.to_owned()),
            MacroLetter::Ip => self.ip.map(dotted_ip),
            MacroLetter::ValidatedDomain => self.validated_domain.map(str::to_owned),
            MacroLetter::IpVersion => self.ip.map(|ip| match ip {
                IpAddr::V4(_) => "in-addr".to_owned(),
                IpAddr::V6(_) => "ip6".to_owned(),
            }),
            MacroLetter::Helo => self.helo.map(str::to_owned),
            MacroLetter::ClientIp => self.ip.map(|ip| ip.to_string()),
            MacroLetter::Receiver => self.receiver.map(str::to_owned),
            MacroLetter::Timestamp => self.timestamp.map(|t| t.to_string()),
        }
    }
}

/// `%{i}`: IPv4 as dotted quad; IPv6 as 32 dot-separated nibbles (§7.3), so that `%{ir}`
/// gives the reverse-lookup form.
fn dotted_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let mut out = String::with_capacity(63);
            for byte in v6.octets() {
                for nibble in [byte >> 4, byte & 0x0f] {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push(char::from_digit(u32::from(nibble), 16).unwrap_or('0'));
                }
            }
            out
        }
    }
}

/// Splits on the delimiters, reverses, keeps the right-hand parts, joins with dots (§7.3).
fn transform(value: &str, m: &Macro) -> String {
    let delimiters = if m.delimiters.is_empty() {
        "."
    } else {
        m.delimiters.as_str()
    };
    let mut parts: Vec<&str> = value.split(|c| delimiters.contains(c)).collect();
    if m.reverse {
        parts.reverse();
    }
    if let Some(keep) = m.keep {
        let keep = usize::try_from(keep).unwrap_or(usize::MAX);
        if keep < parts.len() {
            parts.drain(..parts.len() - keep);
        }
    }
    parts.join(".")
}

/// URL-escapes every character outside RFC 3986 "unreserved" (§7.3).
fn url_escape_into(text: &str, out: &mut String) {
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
}

/// An expanded name shortened for a DNS query (§7.3): labels are removed from the left until
/// it is no longer than 253 characters. A trailing dot is dropped first.
pub fn truncate_domain(name: &str) -> &str {
    let mut name = name.strip_suffix('.').unwrap_or(name);
    while name.len() > 253 {
        match name.split_once('.') {
            Some((_, rest)) => name = rest,
            None => return "",
        }
    }
    name
}

/// Where a macro string appears: `c`, `r` and `t` are allowed only in explanation text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MacroUse {
    /// A mechanism or `redirect=`/`exp=` target.
    DomainSpec,
    /// An unknown modifier's value, or explanation text: every letter is allowed.
    Any,
}

/// Parses a macro string (without checking `domain-end`). The error says what is wrong.
pub fn parse_macro_string(text: &str, usage: MacroUse) -> Result<MacroString, String> {
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        if c != '%' {
            if !('\x21'..='\x7e').contains(&c) {
                return Err(format!(
                    "character {} at byte {at} is not allowed: only visible ASCII may appear (§7.1)",
                    describe_char(c)
                ));
            }
            literal.push(c);
            continue;
        }
        let part = match chars.next() {
            Some((_, '%')) => MacroPart::Percent,
            Some((_, '_')) => MacroPart::Space,
            Some((_, '-')) => MacroPart::UrlSpace,
            Some((_, '{')) => MacroPart::Expand(parse_expand(text, at, &mut chars, usage)?),
            Some((_, other)) => {
                return Err(format!(
                    "`%{other}` at byte {at} is not a macro: after % comes {{, %, _ or - \
                     (write %% for a literal percent sign, §7.1)",
                ));
            }
            None => {
                return Err(format!(
                    "`%` at the end (byte {at}) is not a macro: write %% for a literal percent \
                     sign (§7.1)"
                ));
            }
        };
        if !literal.is_empty() {
            parts.push(MacroPart::Literal(std::mem::take(&mut literal)));
        }
        parts.push(part);
    }
    if !literal.is_empty() {
        parts.push(MacroPart::Literal(literal));
    }
    Ok(MacroString {
        text: text.to_owned(),
        parts,
    })
}

/// Parses what follows `%{` up to and including `}`.
fn parse_expand(
    text: &str,
    start: usize,
    chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
    usage: MacroUse,
) -> Result<Macro, String> {
    let shown = |end: Option<usize>| -> String {
        let end = end.unwrap_or(text.len());
        text.get(start..end).unwrap_or(text).to_owned()
    };
    let Some((_, letter_char)) = chars.next() else {
        return Err(format!("`{}` is not closed with }} (§7.1)", shown(None)));
    };
    let Some(letter) = MacroLetter::from_char(letter_char) else {
        return Err(format!(
            "`%{{{letter_char}` at byte {start}: {} is not a macro letter; the letters are \
             s l o d i p h v, and c r t in explanations (§7.2)",
            describe_char(letter_char)
        ));
    };
    if usage == MacroUse::DomainSpec && letter.explanation_only() {
        return Err(format!(
            "`%{{{letter_char}}}` at byte {start}: the {letter_char} macro is allowed only in \
             explanation text, not in a domain (§7.3)"
        ));
    }
    let mut digits = String::new();
    while let Some(&(_, c)) = chars.peek() {
        if !c.is_ascii_digit() {
            break;
        }
        digits.push(c);
        chars.next();
    }
    let keep = if digits.is_empty() {
        None
    } else {
        // Saturate rather than fail: more parts than exist means "all of them" (§7.3).
        let keep = digits.parse::<u32>().unwrap_or(u32::MAX);
        if keep == 0 {
            return Err(format!(
                "`{}`: keeping 0 parts is not allowed; the digit transformer must be nonzero (§7.3)",
                shown(chars.peek().map(|&(i, _)| i))
            ));
        }
        Some(keep)
    };
    let mut reverse = false;
    if let Some(&(_, 'r' | 'R')) = chars.peek() {
        reverse = true;
        chars.next();
    }
    let mut delimiters = String::new();
    loop {
        match chars.next() {
            Some((_, '}')) => break,
            Some((_, c @ ('.' | '-' | '+' | ',' | '/' | '_' | '='))) => delimiters.push(c),
            Some((at, c)) => {
                return Err(format!(
                    "`{}`: {} is not a delimiter; a macro is %{{letter, digits, r, delimiters \
                     among . - + , / _ =}} (§7.1)",
                    shown(Some(at + c.len_utf8())),
                    describe_char(c)
                ));
            }
            None => return Err(format!("`{}` is not closed with }} (§7.1)", shown(None))),
        }
    }
    Ok(Macro {
        letter,
        url_escape: letter_char.is_ascii_uppercase(),
        keep,
        reverse,
        delimiters,
    })
}

/// Parses a `domain-spec` (§7.1): a macro string that ends in a dot and a valid top-level label
/// or in a macro. Literal labels must also be usable in a DNS query: RFC 7208 leaves empty and
/// over-long labels undefined (the test suite accepts permerror), and an auditor reports them.
pub fn parse_domain_spec(text: &str) -> Result<MacroString, String> {
    if text.is_empty() {
        return Err("the domain is empty (§7.1)".to_owned());
    }
    let spec = parse_macro_string(text, MacroUse::DomainSpec)?;
    check_domain_end(&spec)?;
    check_literal_labels(&spec)?;
    Ok(spec)
}

fn check_domain_end(spec: &MacroString) -> Result<(), String> {
    let last = match spec.parts.last() {
        Some(MacroPart::Literal(last)) => last,
        // Ends in a macro-expand: its value is unknown until check_host.
        Some(_) => return Ok(()),
        None => return Err("the domain is empty (§7.1)".to_owned()),
    };
    let trimmed = last.strip_suffix('.').unwrap_or(last);
    let Some((_, toplabel)) = trimmed.rsplit_once('.') else {
        return Err(format!(
            "`{}` does not end in a dot and a top-level label: write a fully qualified domain \
             such as `{}.example.com` (§7.1)",
            spec.text, spec.text
        ));
    };
    if is_toplabel(toplabel) {
        Ok(())
    } else {
        Err(format!(
            "`{toplabel}` is not a valid top-level label: it must be letters and digits with at \
             least one letter, or hold an inner hyphen (§7.1)"
        ))
    }
}

/// `toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum )`
fn is_toplabel(label: &str) -> bool {
    let bytes = label.as_bytes();
    if bytes.is_empty()
        || !bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
    {
        return false;
    }
    if !bytes.contains(&b'-') {
        return bytes.iter().any(u8::is_ascii_alphabetic);
    }
    bytes[0].is_ascii_alphanumeric() && bytes[bytes.len() - 1].is_ascii_alphanumeric()
}

/// Rejects literal labels no DNS query can carry: empty (`a..b`, `.a`) or over 63 octets, and
/// literal names over 253 octets (RFC 1035 §2.3.4).
fn check_literal_labels(spec: &MacroString) -> Result<(), String> {
    let mut label_len = 0usize;
    let mut label_has_macro = false;
    let mut total = 0usize;
    for part in &spec.parts {
        let MacroPart::Literal(text) = part else {
            label_has_macro = true;
            continue;
        };
        for c in text.chars() {
            total += 1;
            if c == '.' {
                if label_len == 0 && !label_has_macro {
                    return Err(format!(
                        "`{}` has an empty label (two dots in a row, or a leading dot): no DNS \
                         query can be made for it (RFC 1035 §2.3.4)",
                        spec.text
                    ));
                }
                label_len = 0;
                label_has_macro = false;
            } else {
                label_len += 1;
                if label_len > 63 && !label_has_macro {
                    return Err(format!(
                        "`{}` has a label longer than 63 characters: no DNS query can be made \
                         for it (RFC 1035 §2.3.4)",
                        spec.text
                    ));
                }
            }
        }
    }
    let trailing_dot = usize::from(spec.text.ends_with('.'));
    if spec.is_literal() && total - trailing_dot > 253 {
        return Err(format!(
            "the domain is {} characters long: a domain name holds at most 253 (RFC 1035 §2.3.4)",
            total - trailing_dot
        ));
    }
    Ok(())
}

/// A character named for a diagnostic: printable ones as themselves, others by code point.
pub(crate) fn describe_char(c: char) -> String {
    if c.is_ascii_graphic() {
        format!("`{c}`")
    } else {
        format!("U+{:04X}", u32::from(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    /// The §7.4 context: sender strong-bad@email.example.com, IPv4 192.0.2.3.
    fn rfc_context(ip: IpAddr) -> MacroContext<'static> {
        MacroContext {
            sender: Some("strong-bad@email.example.com"),
            ip: Some(ip),
            helo: Some("mx.example.org"),
            domain: "email.example.com",
            ..MacroContext::default()
        }
    }

    fn expand(text: &str, ip: IpAddr) -> String {
        parse_macro_string(text, MacroUse::Any)
            .unwrap_or_else(|e| panic!("{text}: {e}"))
            .expand(&rfc_context(ip))
            .unwrap_or_else(|e| panic!("{text}: needs {e}"))
    }

    #[test]
    fn rfc_7208_section_7_4_examples_expand_as_published() {
        let v4 = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 3));
        let cases = [
            ("%{s}", "strong-bad@email.example.com"),
            ("%{o}", "email.example.com"),
            ("%{d}", "email.example.com"),
            ("%{d4}", "email.example.com"),
            ("%{d3}", "email.example.com"),
            ("%{d2}", "example.com"),
            ("%{d1}", "com"),
            ("%{dr}", "com.example.email"),
            ("%{d2r}", "example.email"),
            ("%{l}", "strong-bad"),
            ("%{l-}", "strong.bad"),
            ("%{lr}", "strong-bad"),
            ("%{lr-}", "bad.strong"),
            ("%{l1r-}", "strong"),
            (
                "%{ir}.%{v}._spf.%{d2}",
                "3.2.0.192.in-addr._spf.example.com",
            ),
            ("%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"),
            (
                "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}",
                "bad.strong.lp.3.2.0.192.in-addr._spf.example.com",
            ),
            (
                "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}",
                "3.2.0.192.in-addr.strong.lp._spf.example.com",
            ),
            (
                "%{d2}.trusted-domains.example.net",
                "example.com.trusted-domains.example.net",
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(expand(text, v4), expected, "{text}");
        }
        let v6 = IpAddr::V6("2001:db8::cb01".parse::<Ipv6Addr>().unwrap());
        assert_eq!(
            expand("%{ir}.%{v}._spf.%{d2}", v6),
            "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com"
        );
    }

    #[test]
    fn uppercase_letters_url_escape_and_escapes_expand() {
        let v4 = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 3));
        assert_eq!(expand("%{S}", v4), "strong-bad%40email.example.com");
        assert_eq!(expand("a%%b%_c%-d", v4), "a%b c%20d");
        assert_eq!(expand("%{C}", v4), "192.0.2.3");
    }

    #[test]
    fn a_missing_value_is_reported_not_guessed() {
        let spec = parse_domain_spec("%{i}._spf.%{d}").unwrap();
        let ctx = MacroContext::domain_only("example.com");
        assert_eq!(spec.expand(&ctx), Err(Unresolved(MacroLetter::Ip)));
        let spec = parse_domain_spec("_spf.%{d2}").unwrap();
        let ctx = MacroContext::domain_only("mail.example.com");
        assert_eq!(spec.expand(&ctx).as_deref(), Ok("_spf.example.com"));
    }

    #[test]
    fn empty_sender_local_part_is_postmaster() {
        let ctx = MacroContext {
            sender: Some("@example.net"),
            domain: "example.net",
            ..MacroContext::default()
        };
        let spec = parse_macro_string("%{l}", MacroUse::Any).unwrap();
        assert_eq!(spec.expand(&ctx).unwrap(), "postmaster");
    }

    #[test]
    fn bad_macros_are_rejected_with_the_reason() {
        let cases = [
            ("%{x}.example.com", "not a macro letter"),
            ("%(ir).sbl.example.com", "not a macro"),
            ("foo%.sbl.example.com", "not a macro"),
            ("foo.example.com%", "at the end"),
            ("%{d0}.example.com", "nonzero"),
            ("%{ir.example.com", "not a delimiter"),
            ("%{i", "not closed"),
            ("%{r}.example.com", "only in explanation"),
            ("a b.example.com", "only visible ASCII"),
        ];
        for (text, reason) in cases {
            let error = parse_domain_spec(text).expect_err(text);
            assert!(error.contains(reason), "{text}: {error}");
        }
    }

    #[test]
    fn explanation_letters_are_allowed_outside_domains() {
        assert!(parse_macro_string("%{c}.%{r}.%{t}", MacroUse::Any).is_ok());
        assert!(parse_macro_string("%{c}.%{r}.%{t}", MacroUse::DomainSpec).is_err());
    }

    #[test]
    fn domain_end_must_be_a_toplabel_or_a_macro() {
        for good in [
            "example.com",
            "example.com.",
            "foo.example.xn--zckzah",
            "_spf.%{d2}",
            "%{i}.%{l2r-}.user.%{d2}",
            "macro%%percent%_%_space%-url-space.example.com",
            "foo:bar/baz.example.com",
            "%{d}.d.spf.example.com.",
        ] {
            assert!(
                parse_domain_spec(good).is_ok(),
                "{good}: {:?}",
                parse_domain_spec(good)
            );
        }
        for bad in [
            "",
            "foo-bar",
            "museum",
            "museum.",
            "abc.123",
            "111.222.33.44",
            "example.-com",
            "example.com:8080",
            "ip5.example.com/24",
            "mail.example...com",
            ".example.com",
            "a123456789012345678901234567890123456789012345678901234567890123.example.com",
        ] {
            assert!(parse_domain_spec(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn expanded_names_are_truncated_from_the_left() {
        let long = format!("{}.example.com", ["abcdefghij"; 30].join("."));
        let truncated = truncate_domain(&long);
        assert!(truncated.len() <= 253);
        assert!(truncated.ends_with(".example.com"));
        assert!(long.ends_with(truncated));
        assert_eq!(truncate_domain("example.com."), "example.com");
    }

    #[test]
    fn hostile_input_never_panics() {
        for text in [
            "%{",
            "%{\u{e9}}",
            "\u{e9}%",
            "%",
            "%{d9999999999999}.x.com",
            "%{dr\u{0}}",
        ] {
            let _ = parse_domain_spec(text);
            let _ = parse_macro_string(text, MacroUse::Any);
        }
        let spec = parse_domain_spec("%{d9999999999999}.x.com").unwrap();
        assert_eq!(
            spec.expand(&MacroContext::domain_only("a.b")).unwrap(),
            "a.b.x.com"
        );
    }
}
