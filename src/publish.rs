//! The records a domain should publish: one complete record per DNS name.
//!
//! A finding that a changed record fixes carries that change as data ([`Change`]): the name, the
//! record it replaces, and what to set, add or remove. Each area builds its records in one place
//! (DMARC's tag rewrite, SPF's term edit); here the changes of every finding to one name are
//! merged and applied together, so that the record to publish keeps each fix (a DMARC record
//! gaining `rua` keeps it when `p` is raised) instead of each finding's record undoing another's.

use std::fmt::Write as _;

use serde::Serialize;

use crate::finding::{Code, Finding};
use crate::{dmarc, spf};

/// The kind of record a change is to, which decides how it is rebuilt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// `v=spf1` at the domain (RFC 7208 §3).
    Spf,
    /// `v=DMARC1` at `_dmarc.<domain>` (RFC 9989 §4.7).
    Dmarc,
}

impl Kind {
    /// `base` (the record being replaced, or the whole record a finding proposes) with `edit`
    /// applied, by the builder of the record's own area.
    fn apply(self, base: Option<&str>, edit: &Edit) -> String {
        match self {
            Kind::Dmarc => dmarc::apply(base, &edit.set, &edit.remove),
            Kind::Spf => spf::edit::apply(base, &edit.add, &edit.remove, edit.all.as_deref()),
        }
    }
}

/// What a fix changes in a record. Several edits to one name are merged by concatenation: the
/// first setter of a tag wins (findings come most severe first).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Edit {
    /// A whole record to start from instead of the current one (the name has none receivers
    /// use, or one that must be rebuilt).
    pub whole: Option<String>,
    /// DMARC: tags to set, as `(tag, value)`.
    pub set: Vec<(String, String)>,
    /// DMARC: tags to remove; SPF: mechanism names (`ptr`) or whole terms to remove.
    pub remove: Vec<String>,
    /// SPF: terms to add before the `all`.
    pub add: Vec<String>,
    /// SPF: the `all` the record ends with (`~all`).
    pub all: Option<String>,
}

impl Edit {
    /// An edit that publishes `record` whole.
    pub fn whole(record: impl Into<String>) -> Edit {
        Edit {
            whole: Some(record.into()),
            ..Edit::default()
        }
    }

    /// An edit that sets DMARC tags and removes others.
    pub fn tags(set: &[(&str, &str)], remove: &[&str]) -> Edit {
        Edit {
            set: set
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            remove: remove.iter().map(|t| (*t).to_owned()).collect(),
            ..Edit::default()
        }
    }

    fn merge(&mut self, other: &Edit) {
        if other.whole.is_some() && self.whole.is_none() {
            self.whole.clone_from(&other.whole);
        }
        for (key, value) in &other.set {
            if !self.set.iter().any(|(k, _)| k == key) {
                self.set.push((key.clone(), value.clone()));
            }
        }
        extend_unique(&mut self.remove, &other.remove);
        extend_unique(&mut self.add, &other.add);
        if self.all.is_none() {
            self.all.clone_from(&other.all);
        }
    }
}

fn extend_unique(into: &mut Vec<String>, from: &[String]) {
    for item in from {
        if !into.iter().any(|i| i.eq_ignore_ascii_case(item)) {
            into.push(item.clone());
        }
    }
}

/// One finding's change to one record: where, of what kind, what it replaces, what changes, and
/// what to watch before making it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// The DNS name, without the trailing dot (`_dmarc.example.com`).
    pub name: String,
    pub kind: Kind,
    /// The record now at the name, if one is used.
    pub current: Option<String>,
    pub edit: Edit,
    /// What to check before publishing it, and before each step after (a staged policy).
    pub watch: Vec<String>,
}

impl Change {
    /// A change of `kind` to the record `current` at `name`.
    pub fn new(name: &str, kind: Kind, current: Option<&str>, edit: Edit) -> Change {
        Change {
            name: name.to_owned(),
            kind,
            current: current.map(ToOwned::to_owned),
            edit,
            watch: Vec::new(),
        }
    }

    /// Says what to check before publishing it (or before a next step).
    #[must_use]
    pub fn watch(mut self, note: impl Into<String>) -> Change {
        self.watch.push(note.into());
        self
    }

    /// The record this change alone gives: what the finding's own fix shows.
    pub fn record(&self) -> String {
        let base = self.edit.whole.as_deref().or(self.current.as_deref());
        self.kind.apply(base, &self.edit)
    }
}

/// A record to publish: every recommended change to one name, applied together.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RecordToPublish {
    /// The DNS name, without the trailing dot.
    pub name: String,
    /// The record type (`TXT`).
    #[serde(rename = "type")]
    pub record_type: String,
    /// The record's text, complete.
    pub value: String,
    /// The record it replaces at the name; `None` when the name has none to replace.
    pub replaces: Option<String>,
    /// The finding codes it fixes.
    pub fixes: Vec<Code>,
    /// What to check before publishing it, and the steps after (a staged DMARC policy).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<String>,
}

impl RecordToPublish {
    /// The record as one zone-file line, ready to paste: the name absolute, the text split into
    /// character-strings of at most 255 bytes (RFC 1035 §3.3.14; RFC 7208 §3.3 joins them
    /// without spaces, as DMARC receivers do).
    pub fn zone_line(&self) -> String {
        let strings: Vec<String> = chunks(&self.value, 255)
            .into_iter()
            .map(|chunk| format!("\"{}\"", escape_character_string(chunk)))
            .collect();
        format!(
            "{}. IN {} {}",
            self.name,
            self.record_type,
            strings.join(" ")
        )
    }
}

/// One character-string as zone-file text (RFC 1035 §5.1): `"` and `\` escaped with `\`, and
/// every byte outside printable ASCII as `\DDD`, so that a control character or a line break of
/// a hostile record cannot split or end the line pasted into a zone.
pub(crate) fn escape_character_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(char::from(byte));
            }
            0x20..=0x7e => out.push(char::from(byte)),
            _ => {
                let _ = write!(out, "\\{byte:03}");
            }
        }
    }
    out
}

/// `text` cut into pieces of at most `max` bytes, at character boundaries.
fn chunks(text: &str, max: usize) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while rest.len() > max {
        let mut end = max;
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        let (piece, tail) = rest.split_at(end);
        pieces.push(piece);
        rest = tail;
    }
    pieces.push(rest);
    pieces
}

/// The records to publish: the changes of `findings` grouped by name (in the order of the first
/// finding to change each, so most severe first), each group applied as one.
pub fn records(findings: &[Finding]) -> Vec<RecordToPublish> {
    let mut groups: Vec<(&Change, Edit, Vec<Code>, Vec<String>)> = Vec::new();
    for finding in findings {
        let Some(change) = finding.change.as_deref() else {
            continue;
        };
        let index = groups
            .iter()
            .position(|(first, ..)| first.name == change.name && first.kind == change.kind)
            .unwrap_or_else(|| {
                groups.push((change, Edit::default(), Vec::new(), Vec::new()));
                groups.len() - 1
            });
        let (_, edit, codes, steps) = &mut groups[index];
        edit.merge(&change.edit);
        if !codes.contains(&finding.code) {
            codes.push(finding.code);
        }
        for note in &change.watch {
            if !steps.contains(note) {
                steps.push(note.clone());
            }
        }
    }
    groups
        .into_iter()
        .map(|(first, edit, fixes, steps)| {
            let base = edit.whole.as_deref().or(first.current.as_deref());
            RecordToPublish {
                name: first.name.clone(),
                record_type: "TXT".to_owned(),
                value: first.kind.apply(base, &edit),
                replaces: first.current.clone(),
                fixes,
                steps,
            }
        })
        .collect()
}

/// Whether the domain is parked: it sends no mail (its SPF record is `v=spf1 -all`, RFC 7208
/// §3.1) and receives none (the null MX alone, RFC 7505 §3). Advice only senders need (a DKIM
/// key, DMARC reports, the mailbox providers' sender requirements) does not apply to it.
pub fn parked(spf: &spf::SpfReport, mx: &crate::mx::MxReport) -> bool {
    let sends_none = spf.record.as_deref().is_some_and(|record| {
        let terms: Vec<String> = record
            .split(' ')
            .filter(|t| !t.is_empty())
            .map(str::to_ascii_lowercase)
            .collect();
        terms == ["v=spf1", "-all"]
    });
    sends_none && mx.null_mx && mx.records.len() == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dmarc_change(current: &str, set: &[(&str, &str)], remove: &[&str]) -> Change {
        Change::new(
            "_dmarc.example.com",
            Kind::Dmarc,
            Some(current),
            Edit::tags(set, remove),
        )
    }

    fn with(code: Code, change: Change) -> Finding {
        Finding::new(code, "test").change(change)
    }

    #[test]
    fn a_zone_line_escapes_what_would_break_it() {
        let record = RecordToPublish {
            name: "example.com".to_owned(),
            record_type: "TXT".to_owned(),
            value: "v=spf1 \"q\" \\ a\nb\u{7f} é".to_owned(),
            replaces: None,
            fixes: Vec::new(),
            steps: Vec::new(),
        };
        // RFC 1035 §5.1: \" and \\ for the quote and the backslash, \DDD for other bytes.
        assert_eq!(
            record.zone_line(),
            r#"example.com. IN TXT "v=spf1 \"q\" \\ a\010b\127 \195\169""#
        );
        assert_eq!(record.zone_line().lines().count(), 1);
    }

    #[test]
    fn changes_to_one_dmarc_record_merge_and_keep_each_other() {
        let current = "v=DMARC1; p=none";
        let findings = vec![
            with(
                Code::DmarcNoRua,
                dmarc_change(current, &[("rua", "mailto:d@example.com")], &[]),
            ),
            with(
                Code::DmarcPolicyNone,
                dmarc_change(current, &[("p", "quarantine")], &[]).watch("watch the reports first"),
            ),
            Finding::new(Code::MxNull, "no change"),
        ];
        let records = records(&findings);
        assert_eq!(records.len(), 1, "{records:?}");
        let record = &records[0];
        assert_eq!(record.name, "_dmarc.example.com");
        assert_eq!(
            record.value,
            "v=DMARC1; p=quarantine; rua=mailto:d@example.com"
        );
        assert_eq!(record.replaces.as_deref(), Some(current));
        assert_eq!(record.fixes, [Code::DmarcNoRua, Code::DmarcPolicyNone]);
        assert_eq!(record.steps, ["watch the reports first"]);
        // Each change alone gives the finding's own record.
        let alone = findings[1].change.as_ref().unwrap().record();
        assert_eq!(alone, "v=DMARC1; p=quarantine");
    }

    #[test]
    fn spf_changes_merge_on_the_corrected_record() {
        let name = "example.com";
        let current = "v=spf1 inlcude:_spf.google.com ptr ?all";
        let findings = vec![
            with(
                Code::SpfSyntax,
                Change::new(
                    name,
                    Kind::Spf,
                    Some(current),
                    Edit::whole("v=spf1 include:_spf.google.com ptr ?all"),
                ),
            ),
            with(
                Code::SpfPtr,
                Change::new(
                    name,
                    Kind::Spf,
                    Some(current),
                    Edit {
                        remove: vec!["ptr".to_owned()],
                        ..Edit::default()
                    },
                ),
            ),
            with(
                Code::SpfIpNotAuthorized,
                Change::new(
                    name,
                    Kind::Spf,
                    Some(current),
                    Edit {
                        add: vec!["ip4:192.0.2.1".to_owned()],
                        all: Some("~all".to_owned()),
                        ..Edit::default()
                    },
                ),
            ),
        ];
        let records = records(&findings);
        assert_eq!(records.len(), 1);
        assert_eq!(
            records[0].value,
            "v=spf1 include:_spf.google.com ip4:192.0.2.1 ~all"
        );
    }

    #[test]
    fn a_zone_line_splits_long_text_into_strings_and_keeps_one_line() {
        let record = RecordToPublish {
            name: "example.com".to_owned(),
            record_type: "TXT".to_owned(),
            value: format!("v=spf1 {}-all", "ip4:192.0.2.1 ".repeat(30)),
            replaces: None,
            fixes: Vec::new(),
            steps: Vec::new(),
        };
        let line = record.zone_line();
        assert!(!line.contains('\n'));
        assert!(
            line.starts_with("example.com. IN TXT \"v=spf1 ip4:"),
            "{line}"
        );
        let strings: Vec<&str> = line.split("\" \"").collect();
        assert_eq!(strings.len(), 2, "{line}");
        assert_eq!(
            strings.concat().len(),
            record.value.len() + "example.com. IN TXT \"\"".len()
        );
    }
}
