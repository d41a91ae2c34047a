//! The DMARC policy record as data: one type per value rule of the grammar.
//!
//! RFC 9989 §4.8 (`DMARCbis`) defines the record; the legacy tags `pct`, `ri` and `rf` come from
//! RFC 7489 §6.3 and are still parsed because receivers that implement RFC 7489 apply them.
//!
//! ```text
//! dmarc-record  = dmarc-version *(dmarc-sep dmarc-tag) [dmarc-sep]
//! dmarc-version = "v" equals %s"DMARC1" ; case sensitive
//! dmarc-sep     = *WSP ";" *WSP
//! equals        = *WSP "=" *WSP
//! dmarc-tag     = 1*ALPHA equals 1*dmarc-value
//! dmarc-value   = %x20-3A / %x3C-7E      ; any printing characters but semicolon
//! ```

use std::fmt;

use serde::Serialize;

/// A Domain Owner Assessment Policy: the value of `p`, `sp` and `np`. Ordered from weakest to
/// strongest, so that `sp < p` reads "sp is weaker than p".
///
/// ```text
/// dmarc-request = "none" / "quarantine" / "reject"
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    None,
    Quarantine,
    Reject,
}

impl Policy {
    /// The value as written in a record.
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::None => "none",
            Policy::Quarantine => "quarantine",
            Policy::Reject => "reject",
        }
    }

    /// What a receiver applies under `t=y`: one level weaker (RFC 9989 §4.7, tag `t`).
    #[must_use]
    pub fn one_level_weaker(self) -> Policy {
        match self {
            Policy::None | Policy::Quarantine => Policy::None,
            Policy::Reject => Policy::Quarantine,
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Identifier alignment mode of `adkim` and `aspf` (RFC 9989 §4.4).
///
/// ```text
/// dmarc-rors = "r" / "s"
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Alignment {
    Relaxed,
    Strict,
}

/// The `psd` flag: whether the record is published by a Public Suffix Operator
/// (RFC 9989 §4.7). It stops the tree walk (§4.10 steps 2 and 6) when `y` or `n`.
///
/// ```text
/// dmarc-psd = "y" / "n" / "u"
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Psd {
    #[serde(rename = "y")]
    Yes,
    #[serde(rename = "n")]
    No,
    #[serde(rename = "u")]
    Unknown,
}

/// Failure reporting options of `fo` (RFC 9989 §4.7): which failures a receiver reports to the
/// `ruf` destinations. `0` and `1` are mutually exclusive; each option appears at most once.
///
/// ```text
/// dmarc-fo   = ("0" / "1") *(":" dmarc-afrf)
///            / dmarc-afrf [":" ("0" / "1")] [":" dmarc-afrf]
///            / *(dmarc-afrf ":") ("0" / "1")
/// dmarc-afrf = "d" / "s"   ; each may appear at most once in dmarc-fo
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FailureOptions {
    /// `0` or `1`: report when all (`0`) or any (`1`) mechanisms fail to produce an aligned
    /// pass; `None` when neither is given.
    pub dmarc: Option<DmarcFailure>,
    /// `d`: report every failed DKIM signature.
    pub dkim: bool,
    /// `s`: report every failed SPF evaluation.
    pub spf: bool,
}

/// The DMARC-level failure report options of `fo`, mutually exclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DmarcFailure {
    /// `0`: every underlying mechanism failed.
    AllFail,
    /// `1`: any underlying mechanism failed.
    AnyFail,
}

/// One report destination of `rua` or `ruf`, as written and as understood.
///
/// ```text
/// dmarc-urilist = (dmarc-uri / obs-dmarc-uri) *(*WSP "," *WSP (dmarc-uri / obs-dmarc-uri))
/// dmarc-uri     = URI   ; RFC 3986; commas and exclamation points MUST be encoded
/// obs-dmarc-uri = dmarc-uri obs-dmarc-report-size
/// obs-dmarc-report-size = "!" 1*DIGIT [ "k" / "m" / "g" / "t" ]
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReportUri {
    /// The URI as written, without the obsolete size suffix.
    pub uri: String,
    /// The scheme, lowercase (`mailto` is the one every receiver must support).
    pub scheme: String,
    /// For `mailto:`, the address after percent-decoding.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// For `mailto:`, the address's domain: lowercase A-label, no trailing dot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The obsolete `!size` suffix as written; RFC 9989 reporters ignore it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_limit: Option<String>,
}

/// How a tag of the record was understood.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TagStatus {
    /// A tag of RFC 9989 with a valid value.
    Valid,
    /// A tag RFC 9989 removed (`pct`, `ri`, `rf`) with a value valid under RFC 7489: legacy
    /// receivers still apply it.
    Legacy,
    /// A known tag whose value does not match its grammar; receivers discard it
    /// (RFC 9989 §4.8) and use the default.
    Invalid,
    /// A second occurrence of a tag: the tag-list is invalid (RFC 6376 §3.2), so receivers
    /// discard the whole record.
    Duplicate,
    /// A tag no RFC defines; receivers ignore it (RFC 9989 §4.7).
    Unknown,
}

/// One `name=value` of the record.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Tag {
    /// The name as written.
    pub name: String,
    /// The value as written, without surrounding whitespace.
    pub value: String,
    pub status: TagStatus,
    /// The value as a receiver understands it (absent when invalid or ignored).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub understood: Option<serde_json::Value>,
}

impl Tag {
    /// The tag name, lowercase (tag names are ABNF literals, hence case-insensitive).
    pub fn key(&self) -> String {
        self.name.to_ascii_lowercase()
    }

    /// What the tag asks receivers, in a few words, for a person reading the record (the tags
    /// of RFC 9989 §4.7; `pct`, `rf` and `ri` are RFC 7489's, §6.3); `None` for a tag no RFC
    /// defines.
    pub fn meaning(&self) -> Option<&'static str> {
        let meaning = match self.key().as_str() {
            "v" => "version: marks the record as DMARC",
            "p" => {
                "policy for mail that fails DMARC: none (monitor), quarantine (spam folder) or reject"
            }
            "sp" => "policy for subdomains (p when absent)",
            "np" => "policy for subdomains that do not exist (sp when absent)",
            "t" => "testing mode: y asks receivers to apply one policy step lower",
            "psd" => "whether the domain is a public suffix domain",
            "adkim" => {
                "DKIM alignment: s (strict) exact domain, r (relaxed) same organisational domain"
            }
            "aspf" => {
                "SPF alignment: s (strict) exact domain, r (relaxed) same organisational domain"
            }
            "fo" => "when to send failure reports (with ruf)",
            "rua" => "where receivers send daily aggregate reports",
            "ruf" => "where receivers send failure reports (few receivers do)",
            "pct" => "share of failing mail the policy applies to (legacy)",
            "ri" => "requested interval between aggregate reports, in seconds (legacy)",
            "rf" => "format of failure reports (legacy)",
            _ => return None,
        };
        Some(meaning)
    }
}

/// How serious a parse diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// The record violates the grammar: a `dmarc.syntax` finding.
    Error,
    /// Receivers ignore it, and what it meant to say is lost (an unknown tag, probably a typo):
    /// a `dmarc.unknown-tag` finding.
    Warning,
    /// Worth knowing, no receiver is misled by it (legacy tag, obsolete size suffix): shown in
    /// the report, no finding.
    Note,
}

/// A precise statement about one part of the record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub level: Level,
    /// The tag concerned (lowercase), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// The offending text as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub message: String,
}

/// Report URIs a record keeps per tag: receivers need send reports to only two (RFC 7489 §6.2),
/// and a record of 3,500 must not become 3,500 of everything.
pub const MAX_URIS_KEPT: usize = 32;

/// Diagnostics a record keeps; a last note says how many more there were.
pub const MAX_DIAGNOSTICS: usize = 50;

/// A parsed DMARC policy record: every tag as written, the values understood, and what is wrong.
///
/// A field is `None` when its tag is absent *or* invalid; [`Record::invalid`] tells which.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Record {
    /// Every tag after `v`, in order.
    pub tags: Vec<Tag>,
    pub p: Option<Policy>,
    pub sp: Option<Policy>,
    pub np: Option<Policy>,
    /// `t=y`: the Domain Owner is testing its policy.
    pub testing: bool,
    pub psd: Psd,
    pub adkim: Alignment,
    pub aspf: Alignment,
    pub fo: Option<FailureOptions>,
    /// The aggregate-report destinations that parse (invalid ones are in `diagnostics`): the
    /// first [`MAX_URIS_KEPT`] of them, `rua_listed` says how many there were.
    pub rua: Vec<ReportUri>,
    /// The failure-report destinations that parse: the first [`MAX_URIS_KEPT`].
    pub ruf: Vec<ReportUri>,
    /// How many `rua` destinations parse, kept or not.
    pub rua_listed: usize,
    /// How many `ruf` destinations parse, kept or not.
    pub ruf_listed: usize,
    /// RFC 7489 `pct` (0 to 100), removed by RFC 9989.
    pub pct: Option<u8>,
    /// RFC 7489 `ri` (seconds), removed by RFC 9989.
    pub ri: Option<u32>,
    /// RFC 7489 `rf` (report formats), removed by RFC 9989.
    pub rf: Option<Vec<String>>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Record {
    /// Whether a known tag was present with a value that does not parse. (A second occurrence
    /// is [`TagStatus::Duplicate`]; the first one is the one understood.)
    pub fn invalid(&self, key: &str) -> bool {
        self.tags
            .iter()
            .any(|t| t.key() == key && t.status == TagStatus::Invalid)
    }

    /// Whether the tag is present at all, valid or not.
    pub fn has(&self, key: &str) -> bool {
        self.tags.iter().any(|t| t.key() == key)
    }

    /// The tags that appear more than once (lowercase, each once), in order.
    pub fn repeated_tags(&self) -> Vec<String> {
        let mut repeated: Vec<String> = Vec::new();
        for tag in self
            .tags
            .iter()
            .filter(|t| t.status == TagStatus::Duplicate)
        {
            let key = tag.key();
            if !repeated.contains(&key) {
                repeated.push(key);
            }
        }
        repeated
    }

    /// A tag appears twice: the tag-list is invalid (RFC 6376 §3.2, the syntax RFC 9989 §4.7
    /// and RFC 7489 §6.3 adopt), so receivers discard the record as if there were none.
    pub fn is_discarded(&self) -> bool {
        self.tags.iter().any(|t| t.status == TagStatus::Duplicate)
    }

    /// The diagnostics of level [`Level::Error`].
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.level == Level::Error)
    }
}
