//! The `_mta-sts.<domain>` TXT record (RFC 8461 §3.1), and the tag list it shares with the
//! TLS-RPT record (RFC 8460 §3), parsed strictly.
//!
//! ```text
//! sts-text-record = sts-version 1*(sts-sep sts-field) [sts-sep]
//! sts-field       = sts-id /                        ; Note that sts-id record
//!                   sts-extension                   ; MUST be included.
//! sts-version     = %s"v=STSv1"
//! sts-sep         = *WSP %x3B *WSP                  ; ; ";"
//! sts-id          = %s"id=" 1*32(ALPHA / DIGIT)     ; id=...
//! sts-extension   = sts-ext-name "=" sts-ext-value  ; name=value
//! sts-ext-name    = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
//! sts-ext-value   = 1*(%x21-3A / %x3C / %x3E-7E)    ; chars excluding "=", ";", SP, and
//!                                                   ; control chars
//! ```
//!
//! "If multiple TXT records for `_mta-sts` are returned by the resolver, records that do not
//! begin with `v=STSv1;` are discarded. If the number of resulting records is not one, or if the
//! resulting record is syntactically invalid, senders MUST assume the recipient domain does not
//! have an available MTA-STS Policy." (§3.1)

use serde::Serialize;

use crate::dns::{Answer, MAX_TXT_SHOWN, Txt};

/// The version tag of an MTA-STS record.
pub const VERSION: &str = "v=STSv1";

/// A valid `_mta-sts` record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StsRecord {
    /// The policy's id: a new id tells senders to fetch the policy again (§3.1).
    pub id: String,
    /// Extension fields (`name=value`), which senders ignore.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<(String, String)>,
}

/// Whether `text` is a record of the protocol whose version tag is `version`: it begins with the
/// tag, followed by the end, a separator or white space (the discard rule of RFC 8461 §3.1 and
/// RFC 8460 §3; the grammar's `*WSP` before `;` is allowed).
pub fn begins_with_version(text: &str, version: &str) -> bool {
    text.strip_prefix(version)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([';', ' ', '\t']))
}

/// The TXT answer at a protocol's name (`_mta-sts.<domain>`, `_smtp._tls.<domain>`), as the
/// report shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TxtAnswer {
    /// The name asked.
    pub name: String,
    /// `records`, `nodata`, `nxdomain`, or the failure.
    pub answer: String,
    /// The CNAME chain followed, if any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// The TXT records (character-strings joined): the first [`MAX_TXT_SHOWN`].
    pub records: Vec<String>,
    /// How many TXT records the name holds.
    pub txt_records: usize,
}

/// Which record of a TXT answer senders use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selected {
    /// The lookup failed: unknown.
    Failed,
    /// No TXT record at all.
    Nothing,
    /// TXT records, none beginning with the version tag: senders discard them all.
    Discarded(Vec<String>),
    /// More than one record begins with the version tag: senders use none.
    Several(Vec<String>),
    /// The one record senders use.
    One(String),
}

/// The TXT answer at `name` as the report shows it, and which record beginning with `version`
/// senders use (RFC 8461 §3.1, RFC 8460 §3: the others are discarded, and anything but exactly
/// one leaves the domain without the protocol).
pub fn select(name: &str, answer: &Answer<Txt>, version: &str) -> (TxtAnswer, Selected) {
    let texts: Vec<String> = answer.records().iter().map(Txt::joined).collect();
    let shown = TxtAnswer {
        name: name.to_owned(),
        answer: answer.status(),
        aliases: answer.aliases().to_vec(),
        records: texts
            .iter()
            .take(MAX_TXT_SHOWN)
            .map(|t| crate::dmarc::logged(t.clone()))
            .collect(),
        txt_records: texts.len(),
    };
    if answer.failure().is_some() {
        return (shown, Selected::Failed);
    }
    let mut candidates: Vec<String> = texts
        .iter()
        .filter(|t| begins_with_version(t, version))
        .cloned()
        .collect();
    // Evidence quotes what it names, bounded as the report's records are.
    let bounded = |texts: Vec<String>| -> Vec<String> {
        texts
            .into_iter()
            .take(MAX_TXT_SHOWN)
            .map(crate::dmarc::logged)
            .collect()
    };
    let selected = match candidates.len() {
        0 if texts.is_empty() => Selected::Nothing,
        0 => Selected::Discarded(bounded(texts)),
        1 => Selected::One(candidates.remove(0)),
        _ => Selected::Several(bounded(candidates)),
    };
    (shown, selected)
}

/// Parses an `_mta-sts` record.
pub fn parse(text: &str) -> Result<StsRecord, String> {
    let mut id = None;
    let mut extensions = Vec::new();
    for (name, value) in fields(text, VERSION)? {
        if name == "id" {
            if value.is_empty()
                || value.len() > 32
                || !value.bytes().all(|b| b.is_ascii_alphanumeric())
            {
                return Err(format!(
                    "id={} is not 1 to 32 letters and digits (RFC 8461 §3.1)",
                    shown(&value)
                ));
            }
            id = Some(value);
        } else {
            check_ext_value(&name, &value)?;
            extensions.push((name, value));
        }
    }
    let id = id.ok_or_else(|| "no id= field: the record must carry the policy's id".to_owned())?;
    Ok(StsRecord { id, extensions })
}

/// The fields of a `v=...; name=value; ...` record whose version tag is `version` (`sts-sep` /
/// `field-delim` = `*WSP ";" *WSP`), in order, each name at most once; at least one field. The
/// values are as written: each protocol checks its own.
pub fn fields(text: &str, version: &str) -> Result<Vec<(String, String)>, String> {
    let rest = text.strip_prefix(version).ok_or_else(|| {
        format!("the record does not begin with {version} (case matters): senders discard it")
    })?;
    let rest = rest.trim_start_matches(is_wsp);
    if rest.is_empty() {
        return Err(format!("nothing after {version}"));
    }
    let rest = rest
        .strip_prefix(';')
        .ok_or_else(|| format!("{version} must be followed by ';', not \"{}\"", shown(rest)))?;
    let mut segments: Vec<&str> = rest.split(';').map(|s| s.trim_matches(is_wsp)).collect();
    // One optional separator at the end.
    if segments.len() > 1 && segments.last().is_some_and(|s| s.is_empty()) {
        segments.pop();
    }
    let mut fields: Vec<(String, String)> = Vec::new();
    for segment in segments {
        if segment.is_empty() {
            return Err(
                "an empty field (two ';' in a row, or nothing after the version)".to_owned(),
            );
        }
        let Some((name, value)) = segment.split_once('=') else {
            return Err(format!("\"{}\" is not a name=value field", shown(segment)));
        };
        if !is_ext_name(name) {
            return Err(format!(
                "\"{}\" is not a field name (a letter or digit, then at most 31 letters, digits, \
                 '_', '-' or '.')",
                shown(name)
            ));
        }
        if name == "v" {
            return Err("v= appears twice".to_owned());
        }
        if fields.iter().any(|(seen, _)| seen == name) {
            return Err(format!("{name}= appears twice"));
        }
        fields.push((name.to_owned(), value.to_owned()));
    }
    Ok(fields)
}

/// `ext-name = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")` (RFC 8461 §3.1, RFC 8460
/// §3; the policy file's `sts-policy-ext-name` is the same, §3.2).
pub fn is_ext_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.len() <= 32
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// `ext-value = 1*(%x21-3A / %x3C / %x3E-7E)`: visible ASCII but `;` and `=`.
pub fn check_ext_value(name: &str, value: &str) -> Result<(), String> {
    let valid = !value.is_empty()
        && value
            .bytes()
            .all(|b| matches!(b, 0x21..=0x3A | 0x3C | 0x3E..=0x7E));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "{name}={} is not a valid value (visible ASCII without spaces, ';' or '=')",
            shown(value)
        ))
    }
}

/// `WSP = SP / HTAB`.
fn is_wsp(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Text from a record as a message quotes it: at most 80 characters.
pub fn shown(text: &str) -> String {
    crate::dmarc::parse::quote(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_needs_the_version_first_and_an_id() {
        let record = parse("v=STSv1; id=20160831085700Z;").unwrap();
        assert_eq!(record.id, "20160831085700Z");
        assert_eq!(parse("v=STSv1 ;id=abc").unwrap().id, "abc");
        assert_eq!(
            parse("v=STSv1; id=abc; ext=x.y").unwrap().extensions,
            vec![("ext".to_owned(), "x.y".to_owned())]
        );
        for (text, why) in [
            ("v=STSv1", "nothing after"),
            ("v=STSv1;", "empty field"),
            ("v=STSv1; ext=1", "no id="),
            ("v=STSv1; id=", "1 to 32"),
            ("v=STSv1; id=a-b", "1 to 32"),
            ("v=STSv1; id=123456789012345678901234567890123", "1 to 32"),
            ("v=STSv1; id=a;; x=1", "empty field"),
            ("v=STSv1; id=a; id=b", "twice"),
            ("v=STSv1; id=a; ext=a b", "not a valid value"),
            ("v=STSv1; id=a; _x=1", "not a field name"),
            ("v=STSv1 id=a", "followed by ';'"),
            ("v=stsv1; id=a", "case matters"),
            ("id=a; v=STSv1", "does not begin"),
        ] {
            let error = parse(text).unwrap_err();
            assert!(error.contains(why), "{text}: {error}");
        }
    }

    #[test]
    fn only_records_beginning_with_the_version_count() {
        assert!(begins_with_version("v=STSv1; id=1", VERSION));
        assert!(begins_with_version("v=STSv1", VERSION));
        assert!(begins_with_version("v=STSv1 ; id=1", VERSION));
        assert!(!begins_with_version("v=STSv12; id=1", VERSION));
        assert!(!begins_with_version("v=spf1 -all", VERSION));
    }
}
