//! Parsing of DMARC policy records: pure functions on strings, with a diagnostic for every
//! deviation from RFC 9989 §4.8 (and RFC 7489 §6.4 for the legacy tags).
//!
//! Why not mail-auth's parser (`mail_auth::dmarc::Dmarc::parse`): a receiver must be lenient, an
//! auditor must not. mail-auth accepts and drops what it does not understand and reports only
//! "parse error"; it keeps neither the tags as written nor which value was discarded and why, and
//! it drops `pct`, `ri` and `rf`, which RFC 7489 receivers still apply. Here every tag is kept
//! as written, and each invalid value, malformed URI or misplaced version gets a diagnostic that
//! names the tag and the value.
//!
//! Tag names: RFC 9989 §4.7 (like RFC 7489 §6.3) says DMARC records use DKIM's tag-value syntax,
//! whose `tag-name = ALPHA *ALNUMPUNC` (RFC 6376 §3.2) allows digits and `_`; the ABNF of
//! RFC 9989 §4.8 writes `1*ALPHA`, which only the registered tags meet. Since receivers MUST
//! ignore unknown tags (§4.7), a name such as `ignore_me` is an unknown tag (a warning), and only
//! a name outside the tag-list grammar (`1x`, `p-x`) an error. A tag repeated makes the whole
//! tag-list invalid (RFC 6376 §3.2): receivers discard the record ([`Record::is_discarded`]).
//!
//! Never panics: records come from strangers. Slicing happens only at ASCII positions found by
//! searching for ASCII characters.

use std::collections::HashSet;

use crate::dkim::record::is_tag_name;
use crate::dns::QueryName;

use super::record::{
    Alignment, Diagnostic, DmarcFailure, FailureOptions, Level, MAX_DIAGNOSTICS, MAX_URIS_KEPT,
    Policy, Psd, Record, ReportUri, Tag, TagStatus,
};

/// `WSP = SP / HTAB` (RFC 5234 appendix B.1).
const WSP: [char; 2] = [' ', '\t'];

/// The longest piece of a record quoted in a message; records can be kilobytes.
const QUOTE_MAX: usize = 80;

/// What a TXT record found at a `_dmarc` name is.
#[derive(Clone, Debug, PartialEq)]
pub enum Candidate {
    /// It starts with `v=DMARC1`: a DMARC policy record.
    Dmarc(Record),
    /// It is meant as a DMARC record but receivers ignore it entirely (RFC 9989 §4.7, tag `v`):
    /// `v=DMARC1` is not first, or the version is not exactly `DMARC1`.
    Ignored(Diagnostic),
    /// Some other record (SPF, a verification token ...): not DMARC's business.
    Other,
}

/// Sorts one TXT record (its character-strings already joined, RFC 9989 §4.5) and parses it if
/// it is a DMARC record.
pub fn classify(text: &str) -> Candidate {
    let trimmed = text.trim_start_matches(WSP);
    let (first, rest) = trimmed.split_once(';').unwrap_or((trimmed, ""));
    if let Some((name, value)) = first.split_once('=') {
        let value = value.trim_matches(WSP);
        if name.trim_matches(WSP).eq_ignore_ascii_case("v") {
            if let Some(after) = value.strip_prefix("DMARC1") {
                let mut record = parse_tags(rest);
                if trimmed.len() != text.len() {
                    record.diagnostics.insert(
                        0,
                        error(
                            Some("v"),
                            None,
                            "the record starts with whitespace: the grammar (RFC 9989 §4.8) puts \
                             v=DMARC1 first, and strict receivers ignore the record",
                        ),
                    );
                }
                if !after.is_empty() {
                    record.diagnostics.insert(
                        0,
                        error(
                            Some("v"),
                            Some(after.trim_matches(WSP)),
                            format!(
                                "text after v=DMARC1 before the first ';' (\"{}\"): a ';' is \
                                 missing, so receivers discard it",
                                quote(after.trim_matches(WSP))
                            ),
                        ),
                    );
                }
                return Candidate::Dmarc(record);
            }
            if value
                .get(..5)
                .is_some_and(|v| v.eq_ignore_ascii_case("dmarc"))
            {
                return Candidate::Ignored(error(
                    Some("v"),
                    Some(value),
                    format!(
                        "the version is \"{}\", not DMARC1: the value is case-sensitive \
                         (RFC 9989 §4.7), so receivers ignore the whole record",
                        quote(value)
                    ),
                ));
            }
            return Candidate::Other;
        }
    }
    if mentions_version(text) {
        return Candidate::Ignored(error(
            Some("v"),
            None,
            "v=DMARC1 is not the first tag: RFC 9989 §4.7 requires it first, so receivers ignore \
             the whole record",
        ));
    }
    Candidate::Other
}

/// Whether any `;`-separated part of `text` is `v=DMARC1` (ignoring case, spaces and quotes):
/// the record is meant as DMARC even though it does not start so.
fn mentions_version(text: &str) -> bool {
    text.split(';').any(|part| {
        part.split_once('=').is_some_and(|(name, value)| {
            name.trim_matches(|c: char| WSP.contains(&c) || c == '"' || c == '\'')
                .eq_ignore_ascii_case("v")
                && value
                    .trim_matches(|c: char| WSP.contains(&c) || c == '"' || c == '\'')
                    .eq_ignore_ascii_case("DMARC1")
        })
    })
}

/// Parses the tags after `v=DMARC1;`.
fn parse_tags(rest: &str) -> Record {
    let mut record = Record {
        tags: Vec::new(),
        p: None,
        sp: None,
        np: None,
        testing: false,
        psd: Psd::Unknown,
        adkim: Alignment::Relaxed,
        aspf: Alignment::Relaxed,
        fo: None,
        rua: Vec::new(),
        ruf: Vec::new(),
        rua_listed: 0,
        ruf_listed: 0,
        pct: None,
        ri: None,
        rf: None,
        diagnostics: Vec::new(),
    };
    if rest.is_empty() {
        return record;
    }
    let parts: Vec<&str> = rest.split(';').collect();
    let last = parts.len() - 1;
    // The tag names seen so far: a record of thousands of tags is read in linear time.
    let mut seen: HashSet<String> = HashSet::new();
    for (index, part) in parts.into_iter().enumerate() {
        let part = part.trim_matches(WSP);
        if part.is_empty() {
            if index != last {
                record
                    .diagnostics
                    .push(note(None, None, "an empty tag between two ';' (ignored)"));
            }
            continue;
        }
        let Some((name, value)) = part.split_once('=') else {
            record.diagnostics.push(error(
                None,
                Some(part),
                format!(
                    "\"{}\" is not a tag=value pair: receivers discard it",
                    quote(part)
                ),
            ));
            continue;
        };
        let name = name.trim_matches(WSP);
        let value = value.trim_matches(WSP);
        if !is_tag_name(name) {
            record.diagnostics.push(error(
                None,
                Some(part),
                format!(
                    "\"{}\" is not a tag name (a letter, then letters, digits or '_': the \
                     tag-list syntax of RFC 6376 §3.2 that RFC 9989 §4.7 adopts): receivers \
                     discard it",
                    quote(name)
                ),
            ));
            continue;
        }
        apply_tag(&mut record, &mut seen, name, value);
    }
    if record.p.is_some() && record.tags.first().is_some_and(|t| t.key() != "p") {
        record.diagnostics.push(note(
            Some("p"),
            None,
            "p is not the tag right after v: RFC 7489 §6.4 required it there, RFC 9989 allows \
             any order",
        ));
    }
    if record.fo.is_some() && record.ruf.is_empty() {
        record.diagnostics.push(note(
            Some("fo"),
            None,
            "fo has no effect without a valid ruf (RFC 9989 §4.7)",
        ));
    }
    let dropped = record.diagnostics.len().saturating_sub(MAX_DIAGNOSTICS);
    if dropped > 0 {
        record.diagnostics.truncate(MAX_DIAGNOSTICS);
        record.diagnostics.push(note(
            None,
            None,
            format!("{dropped} more diagnostics like these are not listed"),
        ));
    }
    record
}

/// Checks one tag against its value rule (RFC 9989 §4.8 table 2, RFC 7489 §6.4 for the legacy
/// tags) and records it.
fn apply_tag(record: &mut Record, seen: &mut HashSet<String>, name: &str, value: &str) {
    let key = name.to_ascii_lowercase();
    let mut tag = Tag {
        name: name.to_owned(),
        value: value.to_owned(),
        status: TagStatus::Valid,
        understood: None,
    };
    if key == "v" || !seen.insert(key.clone()) {
        tag.status = TagStatus::Duplicate;
        record.diagnostics.push(error(
            Some(&key),
            Some(value),
            format!(
                "{key} appears more than once: a tag-list with a repeated tag is invalid \
                 (RFC 6376 §3.2, whose syntax RFC 9989 §4.7 and RFC 7489 §6.3 adopt), so \
                 receivers discard the whole record"
            ),
        ));
        record.tags.push(tag);
        return;
    }
    if !is_known(&key) {
        tag.status = TagStatus::Unknown;
        record.diagnostics.push(unknown_tag(&key, name, value));
        record.tags.push(tag);
        return;
    }
    if value.is_empty() {
        tag.status = TagStatus::Invalid;
        record.diagnostics.push(error(
            Some(&key),
            Some(""),
            format!("{key}= has no value (RFC 9989 §4.8 requires one)"),
        ));
        record.tags.push(tag);
        return;
    }
    let Some(outcome) = understand(record, &key, value) else {
        // Every known tag is understood; kept as unknown should the two lists ever differ.
        tag.status = TagStatus::Unknown;
        record.tags.push(tag);
        return;
    };
    match outcome {
        Ok(understood) => {
            if matches!(key.as_str(), "pct" | "ri" | "rf") {
                tag.status = TagStatus::Legacy;
                record.diagnostics.push(note(
                    Some(&key),
                    Some(value),
                    format!(
                        "{key} was removed in RFC 9989; receivers that implement RFC 7489 still \
                         apply it"
                    ),
                ));
            }
            tag.understood = Some(understood);
        }
        Err(reason) => {
            tag.status = TagStatus::Invalid;
            // rua/ruf already said which URI is wrong; the summary adds nothing.
            if !matches!(key.as_str(), "rua" | "ruf") {
                record.diagnostics.push(error(
                    Some(&key),
                    Some(value),
                    format!("invalid {key}={}: {reason}", quote(value)),
                ));
            }
        }
    }
    record.tags.push(tag);
}

/// The warning for a tag no RFC defines: receivers ignore it (RFC 9989 §4.7), so what it was
/// meant to say is lost; the known tag a typo probably meant is named.
fn unknown_tag(key: &str, name: &str, value: &str) -> Diagnostic {
    let meant = likely_meant(key);
    let guess = if meant.is_empty() {
        String::new()
    } else {
        format!("; did you mean {}?", meant.join(" or "))
    };
    Diagnostic {
        level: Level::Warning,
        tag: Some(key.to_owned()),
        value: Some(value.to_owned()),
        message: format!(
            "unknown tag {}: receivers ignore it (RFC 9989 §4.7: unknown tags MUST be \
             ignored){guess}",
            quote(name)
        ),
    }
}

/// The known tags closest to an unknown one, if it looks like a typo of them
/// ([`crate::typo::closest`]).
pub fn likely_meant(key: &str) -> Vec<&'static str> {
    crate::typo::closest(key, KNOWN_TAGS)
}

/// Reads a known tag's value into `record`: what it is understood as, or why it is invalid.
/// `None` for a tag no RFC defines.
fn understand(
    record: &mut Record,
    key: &str,
    value: &str,
) -> Option<Result<serde_json::Value, String>> {
    let outcome = match key {
        "p" | "sp" | "np" => parse_policy(value).map(|policy| {
            match key {
                "p" => record.p = Some(policy),
                "sp" => record.sp = Some(policy),
                _ => record.np = Some(policy),
            }
            serde_json::json!(policy)
        }),
        "t" => parse_keyword(value, &[("y", true), ("n", false)], "y or n").map(|testing| {
            record.testing = testing;
            serde_json::json!(testing)
        }),
        "psd" => parse_keyword(
            value,
            &[("y", Psd::Yes), ("n", Psd::No), ("u", Psd::Unknown)],
            "y, n or u",
        )
        .map(|psd| {
            record.psd = psd;
            serde_json::json!(psd)
        }),
        "adkim" | "aspf" => parse_keyword(
            value,
            &[("r", Alignment::Relaxed), ("s", Alignment::Strict)],
            "r or s",
        )
        .map(|mode| {
            if key == "adkim" {
                record.adkim = mode;
            } else {
                record.aspf = mode;
            }
            serde_json::json!(mode)
        }),
        "fo" => parse_fo(value).map(|fo| {
            record.fo = Some(fo);
            serde_json::json!(fo)
        }),
        "rua" | "ruf" => {
            let (uris, listed) = parse_uri_list(key, value, &mut record.diagnostics);
            let understood = serde_json::json!(uris);
            if uris.is_empty() {
                Err(format!("{key} has no valid report URI"))
            } else {
                if key == "rua" {
                    (record.rua, record.rua_listed) = (uris, listed);
                } else {
                    (record.ruf, record.ruf_listed) = (uris, listed);
                }
                Ok(understood)
            }
        }
        "pct" => parse_pct(value).map(|pct| {
            record.pct = Some(pct);
            serde_json::json!(pct)
        }),
        "ri" => parse_ri(value).map(|ri| {
            record.ri = Some(ri);
            serde_json::json!(ri)
        }),
        "rf" => parse_rf(value).map(|formats| {
            let understood = serde_json::json!(formats);
            record.rf = Some(formats);
            understood
        }),
        _ => return None,
    };
    Some(outcome)
}

/// The tags RFC 9989 and RFC 7489 define (other than `v`).
const KNOWN_TAGS: &[&str] = &[
    "p", "sp", "np", "t", "psd", "adkim", "aspf", "fo", "rua", "ruf", "pct", "ri", "rf",
];

fn is_known(key: &str) -> bool {
    KNOWN_TAGS.contains(&key)
}

/// `dmarc-request = "none" / "quarantine" / "reject"` (ABNF literals: case-insensitive).
pub fn parse_policy(value: &str) -> Result<Policy, String> {
    parse_keyword(
        value,
        &[
            ("none", Policy::None),
            ("quarantine", Policy::Quarantine),
            ("reject", Policy::Reject),
        ],
        "none, quarantine or reject",
    )
}

/// One of a few ABNF literals, compared without regard to case (RFC 5234 §2.3).
fn parse_keyword<T: Copy>(value: &str, choices: &[(&str, T)], expected: &str) -> Result<T, String> {
    choices
        .iter()
        .find(|(word, _)| value.eq_ignore_ascii_case(word))
        .map(|(_, meaning)| *meaning)
        .ok_or_else(|| format!("the value must be {expected}"))
}

/// `dmarc-fo`: options from `0 1 d s` separated by colons, each at most once, `0` and `1`
/// mutually exclusive (RFC 9989 §4.7, §4.8). Whitespace around the colons, which RFC 7489
/// allowed, is accepted.
pub fn parse_fo(value: &str) -> Result<FailureOptions, String> {
    let mut fo = FailureOptions::default();
    let mut seen: Vec<String> = Vec::new();
    for option in value
        .split(':')
        .map(|o| o.trim_matches(WSP).to_ascii_lowercase())
    {
        if !option.is_empty() && seen.contains(&option) {
            return Err(format!("option {option} appears twice"));
        }
        match option.as_str() {
            "0" | "1" => {
                if fo.dmarc.is_some() {
                    return Err("0 and 1 are mutually exclusive (RFC 9989 §4.7)".to_owned());
                }
                fo.dmarc = Some(if option == "0" {
                    DmarcFailure::AllFail
                } else {
                    DmarcFailure::AnyFail
                });
            }
            "d" => fo.dkim = true,
            "s" => fo.spf = true,
            "" => return Err("an empty option between colons".to_owned()),
            _ => {
                return Err(format!(
                    "\"{}\" is not a failure option (0, 1, d or s)",
                    quote(&option)
                ));
            }
        }
        seen.push(option);
    }
    Ok(fo)
}

/// RFC 7489 `dmarc-percent = "pct" *WSP "=" *WSP 1*3DIGIT`, an integer from 0 to 100.
pub fn parse_pct(value: &str) -> Result<u8, String> {
    let digits = value.len() <= 3 && !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
    match value.parse::<u8>() {
        Ok(pct) if digits && pct <= 100 => Ok(pct),
        _ => Err("the value must be an integer from 0 to 100 (RFC 7489 §6.3)".to_owned()),
    }
}

/// RFC 7489 `dmarc-ainterval = "ri" *WSP "=" *WSP 1*DIGIT`, a 32-bit unsigned integer.
pub fn parse_ri(value: &str) -> Result<u32, String> {
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err("the value must be a number of seconds (RFC 7489 §6.3)".to_owned());
    }
    value
        .parse::<u32>()
        .map_err(|_| "the value does not fit a 32-bit unsigned integer (RFC 7489 §6.3)".to_owned())
}

/// RFC 7489 `dmarc-rfmt = "rf" *WSP "=" *WSP Keyword *(*WSP ":" Keyword)`, registered formats
/// only: `afrf` is the one registered (RFC 7489 §11.5).
pub fn parse_rf(value: &str) -> Result<Vec<String>, String> {
    value
        .split(':')
        .map(|format| {
            let format = format.trim_matches(WSP);
            if format.eq_ignore_ascii_case("afrf") {
                Ok(format.to_ascii_lowercase())
            } else {
                Err(format!(
                    "\"{}\" is not a registered report format (only afrf is)",
                    quote(format)
                ))
            }
        })
        .collect()
}

/// `dmarc-urilist`: the first [`MAX_URIS_KEPT`] URIs that parse and how many parse in all; a
/// diagnostic for each that does not.
fn parse_uri_list(
    key: &str,
    value: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> (Vec<ReportUri>, usize) {
    let mut uris = Vec::new();
    let mut listed = 0;
    for item in value.split(',').map(|i| i.trim_matches(WSP)) {
        if item.is_empty() {
            // Not the whole list as the value: a list of thousands of stray commas would hold
            // it thousands of times.
            diagnostics.push(error(
                Some(key),
                None,
                format!("{key} has an empty URI (a stray comma)"),
            ));
            continue;
        }
        match parse_uri(item) {
            Ok(uri) => {
                if uri.size_limit.is_some() {
                    diagnostics.push(note(
                        Some(key),
                        Some(item),
                        "the !size suffix is obsolete: RFC 9989 reporters ignore it",
                    ));
                }
                if uri.scheme != "mailto" {
                    diagnostics.push(note(
                        Some(key),
                        Some(item),
                        format!(
                            "receivers need support only mailto: (RFC 9989 §4.7); most ignore {}:",
                            quote(&uri.scheme)
                        ),
                    ));
                }
                listed += 1;
                if uris.len() < MAX_URIS_KEPT {
                    uris.push(uri);
                }
            }
            Err(reason) => diagnostics.push(error(
                Some(key),
                Some(item),
                format!("invalid {key} URI \"{}\": {reason}", quote(item)),
            )),
        }
    }
    (uris, listed)
}

/// One `dmarc-uri` or `obs-dmarc-uri`: an RFC 3986 URI, and for `mailto:` (RFC 6068) an address
/// with a domain that can be authorised and mailed.
pub fn parse_uri(item: &str) -> Result<ReportUri, String> {
    let (uri, size_limit) = match item.split_once('!') {
        Some((uri, size)) => {
            let digits = size.trim_end_matches(['k', 'm', 'g', 't', 'K', 'M', 'G', 'T']);
            let unit_len = size.len() - digits.len();
            if digits.is_empty() || unit_len > 1 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!(
                    "\"!{}\" is not a size limit; a '!' inside a URI must be written %21",
                    quote(size)
                ));
            }
            (uri, Some(size.to_owned()))
        }
        None => (item, None),
    };
    let Some((scheme, rest)) = uri.split_once(':').filter(|(scheme, _)| is_scheme(scheme)) else {
        return Err(if uri.contains('@') {
            format!("not a URI: write mailto:{}", quote(uri))
        } else {
            "not a URI (no scheme such as mailto:)".to_owned()
        });
    };
    if let Some(problem) = uri_char_problem(rest) {
        return Err(problem);
    }
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "mailto" {
        if rest.is_empty() {
            return Err(format!("nothing after {scheme}:"));
        }
        return Ok(ReportUri {
            uri: uri.to_owned(),
            scheme,
            address: None,
            host: None,
            size_limit,
        });
    }
    let to = rest.split('?').next().unwrap_or_default();
    if to.starts_with("//") {
        return Err("mailto: is followed by an address, not by //".to_owned());
    }
    let decoded = String::from_utf8(percent_decode(to))
        .map_err(|_| "the percent-encoded address is not UTF-8".to_owned())?;
    if decoded.contains(',') {
        return Err(
            "one address per mailto: URI; list several destinations as mailto: URIs separated by commas"
                .to_owned(),
        );
    }
    let Some((local, domain)) = decoded.rsplit_once('@') else {
        return Err("the address has no @domain, so no report can be sent".to_owned());
    };
    if local.is_empty() {
        return Err("the address has nothing before the @".to_owned());
    }
    let host = normalize_host(domain)?;
    Ok(ReportUri {
        uri: uri.to_owned(),
        scheme,
        address: Some(format!("{local}@{host}")),
        host: Some(host),
        size_limit,
    })
}

/// `scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )` (RFC 3986 §3.1).
fn is_scheme(scheme: &str) -> bool {
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// The first character that RFC 3986 §2 does not allow in a URI (`unreserved`, `reserved`,
/// `pct-encoded`), if any.
fn uri_char_problem(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        if byte == b'%' {
            let hex = |j: usize| bytes.get(j).is_some_and(u8::is_ascii_hexdigit);
            if !(hex(i + 1) && hex(i + 2)) {
                return Some("a '%' not followed by two hex digits".to_owned());
            }
            i += 3;
        } else if byte.is_ascii_alphanumeric() || b"-._~:/?#[]@$&'()*+=".contains(&byte) {
            i += 1;
        } else {
            // Every byte before `i` is ASCII, so `i` is a character boundary.
            let shown = text.get(i..).and_then(|t| t.chars().next()).map_or_else(
                || format!("byte 0x{byte:02x}"),
                |c| {
                    if c.is_ascii_graphic() {
                        format!("'{c}'")
                    } else {
                        format!("U+{:04X}", u32::from(c))
                    }
                },
            );
            return Some(format!(
                "{shown} is not allowed in a URI (RFC 3986 §2: encode it as %XX)"
            ));
        }
    }
    None
}

/// Decodes `%XX` escapes (already checked by [`uri_char_problem`]).
fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        let high = bytes.get(i + 1).and_then(|b| char::from(*b).to_digit(16));
        let low = bytes.get(i + 2).and_then(|b| char::from(*b).to_digit(16));
        if let (b'%', Some(high), Some(low)) = (byte, high, low) {
            out.push(u8::try_from(high * 16 + low).unwrap_or(b'?'));
            i += 3;
        } else {
            out.push(byte);
            i += 1;
        }
    }
    out
}

/// A report address's domain as a lowercase A-label without trailing dot, if it is a host name
/// that can be mailed and authorised (RFC 1035 §2.3.1 letters, digits, hyphens; RFC 5890).
pub fn normalize_host(domain: &str) -> Result<String, String> {
    if domain.starts_with('[') {
        return Err("an address literal cannot be authorised; use a domain name".to_owned());
    }
    QueryName::host(domain)
        .map(|name| name.as_str().to_owned())
        .map_err(|problem| {
            format!(
                "\"{}\" is not a valid domain name: {problem}",
                quote(domain)
            )
        })
}

/// At most [`QUOTE_MAX`] characters of `text`, cut at a character boundary.
pub fn quote(text: &str) -> String {
    let mut chars = text.chars();
    let mut shown: String = chars.by_ref().take(QUOTE_MAX).collect();
    if chars.next().is_some() {
        shown.push('…');
    }
    shown
}

fn error(tag: Option<&str>, value: Option<&str>, message: impl Into<String>) -> Diagnostic {
    Diagnostic {
        level: Level::Error,
        tag: tag.map(str::to_owned),
        value: value.map(str::to_owned),
        message: message.into(),
    }
}

fn note(tag: Option<&str>, value: Option<&str>, message: impl Into<String>) -> Diagnostic {
    Diagnostic {
        level: Level::Note,
        tag: tag.map(str::to_owned),
        value: value.map(str::to_owned),
        message: message.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(text: &str) -> Record {
        match classify(text) {
            Candidate::Dmarc(record) => record,
            other => panic!("{text:?} is not read as DMARC: {other:?}"),
        }
    }

    /// The error diagnostics as (tag, message) for assertions.
    fn errors(text: &str) -> Vec<(Option<String>, String)> {
        record(text)
            .errors()
            .map(|d| (d.tag.clone(), d.message.clone()))
            .collect()
    }

    fn has_error(text: &str, tag: &str, needle: &str) -> bool {
        errors(text)
            .iter()
            .any(|(t, m)| t.as_deref() == Some(tag) && m.contains(needle))
    }

    #[test]
    fn a_complete_record_is_understood_tag_by_tag() {
        let r = record(
            "v=DMARC1; p=reject; sp=quarantine; np=none; t=n; psd=n; adkim=s; aspf=r; fo=0:d; \
             rua=mailto:agg@example.com; ruf=mailto:fail@example.com",
        );
        assert_eq!(r.p, Some(Policy::Reject));
        assert_eq!(r.sp, Some(Policy::Quarantine));
        assert_eq!(r.np, Some(Policy::None));
        assert!(!r.testing);
        assert_eq!(r.psd, Psd::No);
        assert_eq!(r.adkim, Alignment::Strict);
        assert_eq!(r.aspf, Alignment::Relaxed);
        assert_eq!(
            r.fo,
            Some(FailureOptions {
                dmarc: Some(DmarcFailure::AllFail),
                dkim: true,
                ..FailureOptions::default()
            })
        );
        assert_eq!(r.rua[0].host.as_deref(), Some("example.com"));
        assert_eq!(r.ruf[0].address.as_deref(), Some("fail@example.com"));
        assert_eq!(r.errors().count(), 0, "{:?}", r.diagnostics);
        assert!(r.tags.iter().all(|t| t.status == TagStatus::Valid));
    }

    #[test]
    fn defaults_apply_when_tags_are_absent() {
        let r = record("v=DMARC1; p=none");
        assert_eq!(
            (r.sp, r.np, r.testing, r.psd),
            (None, None, false, Psd::Unknown)
        );
        assert_eq!((r.adkim, r.aspf), (Alignment::Relaxed, Alignment::Relaxed));
        assert!(r.rua.is_empty() && r.pct.is_none());
    }

    /// checkdmarc `testDMARCMixedFormatting` (Apache-2.0): whitespace around `=` and `;`, tag
    /// and keyword case.
    #[test]
    fn whitespace_and_case_of_names_and_keywords_are_free() {
        for text in [
            "v=DMARC1;p=ReJect",
            "v = DMARC1;p=reject;",
            "v = DMARC1\t;\tp=reject\t;",
            "v = DMARC1\t;\tp\t\t\t=\t\t\treject\t;",
            "V=DMARC1;p=reject;",
            "v=DMARC1; P=REJECT",
        ] {
            let r = record(text);
            assert_eq!(r.p, Some(Policy::Reject), "{text}");
            assert_eq!(r.errors().count(), 0, "{text}: {:?}", r.diagnostics);
        }
    }

    #[test]
    fn records_that_do_not_start_with_the_version_are_sorted_out() {
        assert_eq!(classify("v=spf1 -all"), Candidate::Other);
        assert_eq!(classify("google-site-verification=abc"), Candidate::Other);
        assert_eq!(classify(""), Candidate::Other);
        for misplaced in [
            "p=reject; v=DMARC1",
            "\"v=DMARC1; p=reject\"",
            "p=none;v = dmarc1",
        ] {
            let Candidate::Ignored(why) = classify(misplaced) else {
                panic!("{misplaced:?} should be recognised as a misplaced DMARC record");
            };
            assert!(why.message.contains("not the first tag"), "{why:?}");
        }
        let Candidate::Ignored(why) = classify("v=dmarc1; p=reject") else {
            panic!("a lowercase version is not DMARC1");
        };
        assert!(why.message.contains("case-sensitive"), "{why:?}");
    }

    #[test]
    fn leading_space_and_missing_separator_after_the_version_are_errors() {
        assert!(has_error(
            " v=DMARC1; p=reject",
            "v",
            "starts with whitespace"
        ));
        let r = record("v=DMARC1 p=reject");
        assert!(
            r.p.is_none(),
            "p hidden in the version part must not be read"
        );
        assert!(has_error("v=DMARC1 p=reject", "v", "';' is"));
    }

    /// The invalid values the issue lists, each named with its tag and value.
    #[test]
    fn invalid_values_name_the_tag_and_the_value() {
        for (text, tag, needle) in [
            (
                "v=DMARC1; p=rejected",
                "p",
                "invalid p=rejected: the value must be none, quarantine or reject",
            ),
            ("v=DMARC1; p=none; pct=150", "pct", "invalid pct=150"),
            (
                "v=DMARC1; p=none; adkim=x",
                "adkim",
                "invalid adkim=x: the value must be r or s",
            ),
            (
                "v=DMARC1; p=none; fo=9",
                "fo",
                "\"9\" is not a failure option",
            ),
            ("v=DMARC1; p=none; ri=abc", "ri", "invalid ri=abc"),
            (
                "v=DMARC1; p=none; rua=not-a-uri",
                "rua",
                "invalid rua URI \"not-a-uri\": not a URI",
            ),
            (
                "v=DMARC1; p=none; rua=mailto:without-at",
                "rua",
                "has no @domain",
            ),
            ("v=DMARC1; p=none; sp=bob", "sp", "invalid sp=bob"),
            ("v=DMARC1; p=none; np=invalid", "np", "invalid np=invalid"),
            ("v=DMARC1; p=reject; t=x", "t", "must be y or n"),
            ("v=DMARC1; p=reject; psd=x", "psd", "must be y, n or u"),
            ("v=DMARC1; p=none; aspf=bob", "aspf", "invalid aspf=bob"),
            (
                "v=DMARC1; p=none; rf=bob",
                "rf",
                "not a registered report format",
            ),
            ("v=DMARC1; p=reject; fo=0:1", "fo", "mutually exclusive"),
            ("v=DMARC1; p=reject; fo=d:d", "fo", "appears twice"),
            ("v=DMARC1; p=none; pct=-1", "pct", "integer from 0 to 100"),
            ("v=DMARC1; p=none; pct=0100", "pct", "integer from 0 to 100"),
            ("v=DMARC1; p=none; ri=99999999999", "ri", "32-bit"),
            ("v=DMARC1; p=", "p", "has no value"),
        ] {
            assert!(has_error(text, tag, needle), "{text}: {:?}", errors(text));
            assert!(
                record(text).invalid(tag),
                "{text}: {tag} should be marked invalid"
            );
        }
    }

    #[test]
    fn an_invalid_tag_does_not_spoil_the_others() {
        let r = record("v=DMARC1; p=reject; adkim=x; rua=mailto:a@example.com");
        assert_eq!(r.p, Some(Policy::Reject));
        assert_eq!(
            r.adkim,
            Alignment::Relaxed,
            "the default applies (RFC 9989 §4.8)"
        );
        assert_eq!(r.rua.len(), 1);
    }

    /// `OpenDMARC` `test_dmarc_parse.c` (BSD-3-Clause) verdicts, read against RFC 9989: where
    /// `OpenDMARC` is lenient (`p=n`, `mailto://`) this parser is strict, as an auditor must be.
    #[test]
    fn opendmarc_parse_vectors() {
        let ok = [
            "v=DMARC1; p=none; rf=afrf; rua=mailto:dmarc-a@abuse.net; ruf=mailto:dmarc-f@abuse.net",
            "v=DMARC1; p=none;",
            "v=DMARC1; p=reject;",
            "v=DMARC1; p=quarantine;",
        ];
        for text in ok {
            assert_eq!(errors(text), vec![], "{text}");
        }
        assert_eq!(classify("V=BOB"), Candidate::Other);
        for (text, tag) in [
            ("v=DMARC1; p=bob;", "p"),
            ("v=DMARC1; p=none; sp=bob;", "sp"),
            ("v=DMARC1; p=none; adkim=bob;", "adkim"),
            ("v=DMARC1; p=none; aspf=bob;", "aspf"),
            ("v=DMARC1; p=none; rf=bob;", "rf"),
            ("v=DMARC1; p=none; ri=bob;", "ri"),
            ("v=DMARC1; p=none; pct=500;", "pct"),
            (
                "v=DMARC1; p=none; rf=000000000000000000000000000000000",
                "rf",
            ),
            // OpenDMARC accepts these two; they name no mailbox.
            ("v=DMARC1; p=n;", "p"),
            ("v=DMARC1; p=none; ruf=mailto://abuse.com", "ruf"),
        ] {
            assert!(record(text).invalid(tag), "{text}: {:?}", errors(text));
        }
        // ftp: is a valid URI; receivers are told to ignore schemes they do not support.
        let r = record("v=DMARC1; p=none; rua=ftp://abuse.com");
        assert_eq!(r.errors().count(), 0);
        assert_eq!(r.rua[0].scheme, "ftp");
        assert!(r.diagnostics.iter().any(|d| d.message.contains("mailto")));
    }

    /// mail-auth `parse_dmarc` (Apache-2.0 OR MIT): report URIs with the obsolete size suffix.
    #[test]
    fn size_suffixes_are_obsolete_but_parse() {
        let r = record(
            "v=DMARC1; p=quarantine; rua=mailto:dmarc-feedback@example.com,\
             mailto:tld-test@thirdparty.example.net!10m; pct=25; fo=d:s",
        );
        assert_eq!(r.errors().count(), 0, "{:?}", r.diagnostics);
        assert_eq!(r.rua.len(), 2);
        assert_eq!(r.rua[1].size_limit.as_deref(), Some("10m"));
        assert_eq!(r.rua[1].host.as_deref(), Some("thirdparty.example.net"));
        assert_eq!(r.pct, Some(25));
        assert!(r.diagnostics.iter().any(|d| d.message.contains("obsolete")));
        // A space inside the size, as mail-auth tolerates, is not the grammar.
        assert!(has_error(
            "v=DMARC1; p=reject; rua=mailto:a@example.com!10 K",
            "rua",
            "not a size limit"
        ));
    }

    #[test]
    fn report_uris_are_checked_strictly() {
        for (value, needle) in [
            ("reports@example.com", "write mailto:reports@example.com"),
            ("__mailto:reports@example.com", "not a URI"),
            ("mailto:a@example.com,", "stray comma"),
            ("mailto:<img src=x>@example.com", "'<' is not allowed"),
            ("mailto:a b@example.com", "U+0020 is not allowed"),
            ("mailto:a%2@example.com", "two hex digits"),
            ("mailto:a%2Cb@example.com", "one address per mailto"),
            ("mailto:a@[192.0.2.1]", "address literal"),
            ("mailto:a@localhost", "fully qualified"),
            ("mailto:a@-bad-.example", "not a valid domain"),
            ("mailto:@example.com", "nothing before the @"),
            ("mailto:a@exämple.com", "not allowed in a URI"),
        ] {
            let text = format!("v=DMARC1; p=reject; rua={value}");
            assert!(
                has_error(&text, "rua", needle),
                "{value}: {:?}",
                errors(&text)
            );
        }
        let r = record("v=DMARC1; p=reject; rua=MAILTO:Reports%2BDMARC@Example.COM.?subject=x");
        assert_eq!(r.rua[0].scheme, "mailto");
        assert_eq!(
            r.rua[0].address.as_deref(),
            Some("Reports+DMARC@example.com")
        );
        assert_eq!(r.rua[0].host.as_deref(), Some("example.com"));
        let idn = record("v=DMARC1; p=reject; rua=mailto:a@ex%C3%A4mple.com");
        assert_eq!(idn.rua[0].host.as_deref(), Some("xn--exmple-cua.com"));
    }

    #[test]
    fn one_bad_uri_leaves_the_good_ones() {
        let r = record("v=DMARC1; p=reject; rua=mailto:a@example.com, b@example.com");
        assert_eq!(r.rua.len(), 1);
        assert!(!r.invalid("rua"), "a list with one valid URI still reports");
        assert!(has_error(
            "v=DMARC1; p=reject; rua=mailto:a@example.com, b@example.com",
            "rua",
            "mailto:b@"
        ));
    }

    /// Records from strangers can be 64 KB: what the parser keeps is bounded, and it reads
    /// thousands of tags in linear time.
    #[test]
    fn a_huge_record_keeps_a_bounded_part() {
        let uris: Vec<String> = (1..=100).map(|n| format!("mailto:a@{n}.t")).collect();
        let text = format!(
            "v=DMARC1; p=reject; rua={}{}",
            ",".repeat(3000),
            uris.join(",")
        );
        let r = record(&text);
        assert_eq!((r.rua.len(), r.rua_listed), (MAX_URIS_KEPT, 100));
        assert_eq!(r.rua[0].address.as_deref(), Some("a@1.t"));
        assert_eq!(r.diagnostics.len(), MAX_DIAGNOSTICS + 1);
        // A stray comma's diagnostic does not hold the whole list.
        assert!(r.diagnostics.iter().all(|d| d.value.is_none()));
        assert!(
            r.diagnostics[MAX_DIAGNOSTICS]
                .message
                .starts_with("2950 more diagnostics"),
            "{:?}",
            r.diagnostics.last()
        );
        let text = format!("v=DMARC1; p=reject{}", "; a=1".repeat(10_000));
        let r = record(&text);
        assert_eq!(r.tags.len(), 10_001);
        assert_eq!(r.tags[2].status, TagStatus::Duplicate);
    }

    #[test]
    fn unknown_removed_and_repeated_tags() {
        let r = record("v=DMARC1; p=reject; xyz=foo; pct=100; ri=3600; rf=afrf");
        assert_eq!(
            r.errors().count(),
            0,
            "unknown and legacy tags are no errors"
        );
        let status = |key: &str| r.tags.iter().find(|t| t.key() == key).map(|t| t.status);
        assert_eq!(status("xyz"), Some(TagStatus::Unknown));
        assert_eq!(status("pct"), Some(TagStatus::Legacy));
        assert!(
            r.diagnostics
                .iter()
                .any(|d| d.message.contains("removed in RFC 9989"))
        );
        assert!(has_error(
            "v=DMARC1; p=reject; p=none",
            "p",
            "more than once"
        ));
        assert!(has_error(
            "v=DMARC1; p=reject; v=DMARC1",
            "v",
            "more than once"
        ));
    }

    /// RFC 6376 §3.2 (DMARC's tag-list syntax, RFC 9989 §4.7): a repeated tag makes the whole
    /// record invalid, not one of its values.
    #[test]
    fn a_repeated_tag_discards_the_record() {
        let r = record(
            "v=DMARC1; p=reject; p=none; rua=mailto:a@example.com; RUA=mailto:b@example.com",
        );
        assert!(r.is_discarded());
        assert_eq!(r.repeated_tags(), ["p", "rua"]);
        assert!(record("v=DMARC1; p=reject; v=DMARC1").is_discarded());
        assert!(!record("v=DMARC1; p=reject; sp=none; np=none").is_discarded());
        assert!(!record("v=DMARC1; p=reject; p-x=1; xyz=2").is_discarded());
    }

    /// RFC 9989 §4.7: unknown tags MUST be ignored, so they are warnings, never errors; a name
    /// of letters, digits and '_' is a tag name (RFC 6376 §3.2), and a typo names its tag.
    #[test]
    fn unknown_tags_are_warnings_naming_the_tag_meant() {
        let r = record("v=DMARC1; p=reject; ignore_me=true; adkm=s; x2=; aspf=r");
        assert_eq!(r.errors().count(), 0, "{:?}", r.diagnostics);
        let warnings: Vec<(&str, &str)> = r
            .diagnostics
            .iter()
            .filter(|d| d.level == Level::Warning)
            .map(|d| (d.tag.as_deref().unwrap(), d.message.as_str()))
            .collect();
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert_eq!(warnings[0].0, "ignore_me");
        assert!(!warnings[0].1.contains("did you mean"), "{}", warnings[0].1);
        assert_eq!(warnings[1].0, "adkm");
        assert!(
            warnings[1].1.ends_with("did you mean adkim?"),
            "{}",
            warnings[1].1
        );
        assert_eq!(r.adkim, Alignment::Relaxed, "adkm=s is not adkim=s");
        let status = |key: &str| r.tags.iter().find(|t| t.key() == key).map(|t| t.status);
        assert_eq!(status("ignore_me"), Some(TagStatus::Unknown));
        assert_eq!(status("x2"), Some(TagStatus::Unknown));
    }

    #[test]
    fn typos_are_matched_to_the_closest_known_tags() {
        assert_eq!(likely_meant("adkm"), ["adkim"]);
        assert_eq!(likely_meant("adkmi"), ["adkim"]);
        assert_eq!(likely_meant("apsf"), ["aspf"]);
        assert_eq!(likely_meant("RUA2"), ["rua"]);
        assert_eq!(likely_meant("rub"), ["rua", "ruf"]);
        assert_eq!(likely_meant("policy"), Vec::<&str>::new());
        assert_eq!(likely_meant("ignore_me"), Vec::<&str>::new());
        assert_eq!(likely_meant("x"), Vec::<&str>::new());
    }

    #[test]
    fn malformed_parts_are_errors_and_empty_parts_are_not() {
        assert!(
            errors("v=DMARC1; p=reject; garbage")
                .iter()
                .any(|(_, m)| m.contains("not a tag=value pair"))
        );
        for name in ["p-x", "1x", "_x", "p.x"] {
            let text = format!("v=DMARC1; p=reject; {name}=1");
            assert!(
                errors(&text)
                    .iter()
                    .any(|(_, m)| m.contains("not a tag name")),
                "{text}: {:?}",
                errors(&text)
            );
        }
        assert_eq!(errors("v=DMARC1;; p=reject;"), vec![]);
        let r = record("v=DMARC1; sp=none; p=reject");
        assert!(
            r.diagnostics
                .iter()
                .any(|d| d.message.contains("right after v"))
        );
    }

    #[test]
    fn hostile_records_do_not_panic_and_quotes_are_cut() {
        let huge = format!(
            "v=DMARC1; p=reject; rua=mailto:{}@example.com",
            "ä".repeat(5000)
        );
        let r = record(&huge);
        assert!(
            r.diagnostics
                .iter()
                .all(|d| d.message.chars().count() < 400)
        );
        for text in [
            "v=DMARC1; p=reject; rua=mailto:<img src=x onerror=alert(1)>@hostile.test; \"quoted\" \\ back",
            "v=DMARC1;\u{fffd}\u{0}=\u{1b}[2J",
            "v=DMARC1; rua=mailto:%",
            "v=DMARC1; rua=!",
            "v=DMARC1; fo=:",
            "v=DMARC1; =",
            "v=DMARC1",
            "v=DMARC1;",
            ";;;;",
            "v=",
            "v",
        ] {
            let _ = classify(text);
        }
        assert_eq!(quote(&"é".repeat(100)).chars().count(), QUOTE_MAX + 1);
    }
}
