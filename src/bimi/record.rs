//! The BIMI Assertion Record (draft-brand-indicators-for-message-identification, an Internet-Draft
//! cited here by section title since its numbering moves between revisions: "Assertion Record
//! Definition"), read strictly: "Mail receivers MUST NOT attempt to fix syntactical or
//! capitalization errors".
//!
//! ```text
//! bimi-record   = bimi-version (bimi-sep bimi-location)
//!                 [bimi-sep bimi-evidence-location] [bimi-sep]
//!                 ; components other than bimi-version may appear in any order
//! bimi-version  = %x76 *WSP "=" *WSP %x42.49.4d.49 1DIGIT   ; "v=BIMI1", case-sensitive
//! bimi-location = %x6c *WSP "=" bimi-uri                     ; l=, empty: declination
//! bimi-evidence-location = %x61 *WSP "=" bimi-uri            ; a=, absent is empty
//! bimi-uri      = [FWS] URI [FWS]   ; HTTPS only, one URI, commas percent-encoded
//! bimi-sep      = *WSP %x3b *WSP
//! ```
//!
//! The record is a DKIM tag-list (RFC 6376 §3.2): a tag named twice makes the whole list
//! invalid, unknown tags are ignored. mail-auth has no BIMI parser, hence this one.

use serde::Serialize;

/// The version the record must start with.
const VERSION: &str = "BIMI1";

/// Image suffixes other than SVG: an `l=` URL ending with one is a permanent error ("Supported
/// Image Formats": only SVG and SVGZ are acceptable).
const OTHER_IMAGE_SUFFIXES: [&str; 8] = [
    ".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".ico", ".tiff",
];

/// How serious a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// The record violates the grammar: receivers ignore it (`bimi.invalid`).
    Error,
    /// Worth knowing, no receiver is misled by it (an unknown tag, which is ignored).
    Note,
}

/// A statement about one part of the record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub level: Level,
    /// The tag concerned, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    pub message: String,
}

/// One `name=value` of the record, as written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Tag {
    pub name: String,
    pub value: String,
}

/// A parsed Assertion Record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Record {
    /// Every tag after `v`, in order.
    pub tags: Vec<Tag>,
    /// `l=`: the logo's HTTPS URL, when present, valid and not empty.
    pub logo: Option<String>,
    /// `a=`: the evidence document's (mark certificate's) HTTPS URL, when present, valid and
    /// not empty.
    pub authority: Option<String>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Record {
    /// The diagnostics that make receivers ignore the record.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.level == Level::Error)
    }

    /// Whether the record parses: receivers use it.
    pub fn is_valid(&self) -> bool {
        self.errors().next().is_none()
    }

    /// `l=` and `a=` both empty: an explicit refusal to take part in BIMI ("Declination to
    /// Publish"), distinct from publishing nothing.
    pub fn is_declination(&self) -> bool {
        self.is_valid() && self.logo.is_none() && self.authority.is_none()
    }
}

/// What a TXT record at a BIMI name is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Candidate {
    /// It starts with `v=BIMI1`: an Assertion Record (perhaps with errors).
    Bimi(Record),
    /// It is meant as one but receivers discard it ("Assertion Record Discovery": records that
    /// do not start with `v=BIMI1` are discarded): why.
    Ignored(String),
    /// Some other TXT record.
    Other,
}

/// Classifies and parses one TXT record (its character-strings joined).
pub fn classify(text: &str) -> Candidate {
    let parts: Vec<&str> = text.split(';').collect();
    let first = split_tag(parts[0]);
    match first {
        Some((name, value)) if name == "v" && value == VERSION => {
            Candidate::Bimi(parse_tags(&parts[1..]))
        }
        Some((name, value))
            if name.eq_ignore_ascii_case("v") && value.to_ascii_uppercase().starts_with("BIMI") =>
        {
            Candidate::Ignored(format!(
                "the version is \"{name}={value}\", and receivers accept exactly v={VERSION} \
                 (case-sensitive): they ignore the record"
            ))
        }
        _ if parts[1..].iter().any(|part| {
            split_tag(part).is_some_and(|(name, value)| name == "v" && value == VERSION)
        }) =>
        {
            Candidate::Ignored(format!(
                "v={VERSION} is not the first tag, and it must be: receivers ignore the record"
            ))
        }
        _ => Candidate::Other,
    }
}

/// `name=value` with the whitespace around each trimmed; `None` without `=`.
fn split_tag(part: &str) -> Option<(&str, &str)> {
    let (name, value) = part.split_once('=')?;
    Some((trim_wsp(name), trim_wsp(value)))
}

/// Trims WSP (space and tab) and the line breaks of FWS.
fn trim_wsp(text: &str) -> &str {
    text.trim_matches([' ', '\t', '\r', '\n'])
}

/// The tags after `v=BIMI1`.
fn parse_tags(parts: &[&str]) -> Record {
    let mut record = Record {
        tags: Vec::new(),
        logo: None,
        authority: None,
        diagnostics: Vec::new(),
    };
    let mut seen_l = false;
    for (index, part) in parts.iter().enumerate() {
        if trim_wsp(part).is_empty() {
            // A trailing separator is allowed; an empty tag between two is not.
            if index + 1 < parts.len() {
                record
                    .diagnostics
                    .push(error(None, "an empty tag (\";;\")".to_owned()));
            }
            continue;
        }
        let Some((name, value)) = split_tag(part) else {
            record.diagnostics.push(error(
                None,
                format!("\"{}\" is not a tag=value pair", trim_wsp(part)),
            ));
            continue;
        };
        if record.tags.iter().any(|t| t.name == name) || name == "v" {
            record.diagnostics.push(error(
                Some(name),
                format!(
                    "{name}= appears more than once, and a tag-list with a repeated tag is \
                     invalid (RFC 6376 §3.2)"
                ),
            ));
        }
        record.tags.push(Tag {
            name: name.to_owned(),
            value: value.to_owned(),
        });
        match name {
            "l" => {
                seen_l = true;
                match location(value, "l") {
                    Ok(url) => record.logo = url,
                    Err(message) => record.diagnostics.push(error(Some("l"), message)),
                }
            }
            "a" => match location(value, "a") {
                Ok(url) => record.authority = url,
                Err(message) => record.diagnostics.push(error(Some("a"), message)),
            },
            "v" => {}
            other => {
                let hint = if other.eq_ignore_ascii_case("l") || other.eq_ignore_ascii_case("a") {
                    format!(
                        " (tag names are case-sensitive: {other}= is not {}=)",
                        other.to_ascii_lowercase()
                    )
                } else {
                    String::new()
                };
                record.diagnostics.push(Diagnostic {
                    level: Level::Note,
                    tag: Some(other.to_owned()),
                    message: format!("{other}= is not a BIMI tag: receivers ignore it{hint}"),
                });
            }
        }
    }
    if !seen_l {
        record.diagnostics.push(error(
            Some("l"),
            "no l= tag, which is required (empty to decline, or the logo's HTTPS URL)".to_owned(),
        ));
    }
    record
}

fn error(tag: Option<&str>, message: String) -> Diagnostic {
    Diagnostic {
        level: Level::Error,
        tag: tag.map(str::to_owned),
        message,
    }
}

/// The URL of `l=` or `a=`: `None` when empty; an error unless one HTTPS URL with a fully
/// qualified host name (and for `l=`, not another image format).
fn location(value: &str, tag: &str) -> Result<Option<String>, String> {
    if value.is_empty() {
        return Ok(None);
    }
    if value.contains(',') {
        return Err(format!(
            "{tag}= must hold one URL (a comma inside a URL must be written %2C): \"{value}\""
        ));
    }
    let url = reqwest::Url::parse(value)
        .map_err(|e| format!("{tag}= is not a URL ({e}): \"{value}\""))?;
    if url.scheme() != "https" {
        return Err(format!(
            "{tag}= must be an https: URL, receivers fetch nothing else: \"{value}\""
        ));
    }
    if !url
        .domain()
        .is_some_and(|host| host.trim_end_matches('.').contains('.'))
    {
        return Err(format!(
            "{tag}= must name its host by a fully qualified domain name: \"{value}\""
        ));
    }
    if tag == "l" {
        let path = url.path().to_ascii_lowercase();
        if let Some(suffix) = OTHER_IMAGE_SUFFIXES.iter().find(|s| path.ends_with(*s)) {
            return Err(format!(
                "l= points at a {} image: BIMI logos must be SVG (SVG Tiny PS), and receivers \
                 treat any other format as a permanent error: \"{value}\"",
                &suffix[1..]
            ));
        }
    }
    Ok(Some(value.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(text: &str) -> Record {
        match classify(text) {
            Candidate::Bimi(record) => record,
            other => panic!("{text}: {other:?}"),
        }
    }

    fn errors(text: &str) -> Vec<String> {
        record(text).errors().map(|d| d.message.clone()).collect()
    }

    #[test]
    fn a_record_with_logo_and_certificate_parses() {
        let r = record("v=BIMI1; l=https://example.com/logo.svg; a=https://example.com/vmc.pem;");
        assert!(r.is_valid(), "{:?}", r.diagnostics);
        assert_eq!(r.logo.as_deref(), Some("https://example.com/logo.svg"));
        assert_eq!(r.authority.as_deref(), Some("https://example.com/vmc.pem"));
        assert!(!r.is_declination());
        // a= absent is a= empty; whitespace around = and ; is allowed.
        let r = record("v = BIMI1 ;l = https://example.com/logo.svg");
        assert!(r.is_valid(), "{:?}", r.diagnostics);
        assert_eq!(r.authority, None);
    }

    #[test]
    fn empty_l_and_a_decline() {
        assert!(record("v=BIMI1; l=; a=;").is_declination());
        assert!(record("v=BIMI1; l=").is_declination());
        // A logo from the certificate only is not a declination.
        assert!(!record("v=BIMI1; l=; a=https://example.com/vmc.pem").is_declination());
    }

    #[test]
    fn the_version_must_be_first_and_exact() {
        assert_eq!(classify("v=spf1 -all"), Candidate::Other);
        assert!(
            matches!(classify("v=bimi1; l="), Candidate::Ignored(why) if why.contains("exactly v=BIMI1"))
        );
        assert!(matches!(classify("v=BIMI2; l="), Candidate::Ignored(_)));
        assert!(matches!(
            classify("l=https://example.com/a.svg; v=BIMI1"),
            Candidate::Ignored(why) if why.contains("not the first tag")
        ));
    }

    #[test]
    fn broken_values_are_errors() {
        assert!(
            errors("v=BIMI1; a=")
                .iter()
                .any(|e| e.contains("no l= tag"))
        );
        assert!(errors("v=BIMI1; l=http://example.com/logo.svg")[0].contains("https:"));
        assert!(errors("v=BIMI1; l=https://example.com/logo.png")[0].contains("png image"));
        assert!(errors("v=BIMI1; l=https://localhost/logo.svg")[0].contains("fully qualified"));
        assert!(errors("v=BIMI1; l=https://192.0.2.1/logo.svg")[0].contains("fully qualified"));
        assert!(
            errors("v=BIMI1; l=https://a.example/1.svg,https://b.example/2.svg")[0]
                .contains("one URL")
        );
        assert!(errors("v=BIMI1; l=not a url")[0].contains("not a URL"));
        assert!(errors("v=BIMI1; l=; l=")[0].contains("more than once"));
        assert!(errors("v=BIMI1; l=;; a=")[0].contains("empty tag"));
        assert!(errors("v=BIMI1; l=; junk")[0].contains("not a tag=value"));
        assert!(errors("v=BIMI1; l=; a=ftp://example.com/vmc.pem")[0].contains("a= must be"));
    }

    #[test]
    fn unknown_tags_are_ignored_with_a_note() {
        let r = record("v=BIMI1; l=; x=1; L=https://example.com/a.svg");
        assert!(r.is_valid());
        let notes: Vec<&str> = r.diagnostics.iter().map(|d| d.message.as_str()).collect();
        assert!(notes[0].starts_with("x= is not a BIMI tag"));
        assert!(notes[1].contains("case-sensitive"), "{notes:?}");
    }
}
