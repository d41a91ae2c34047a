//! Reading a list's answer: every A record, what each means, and what the answer as a whole
//! says about the item. Pure functions over [`Answer`] values.
//!
//! RFC 5782 §2.1: a listed item has an A record, by convention in 127.0.0.0/8, and a list may
//! return several (one per reason); an unlisted item gets NXDOMAIN. Lists also use codes in that
//! range for errors (Spamhaus 127.255.255.0/24, URIBL 127.0.0.1). An address outside
//! 127.0.0.0/8 is never a listing: it comes from a resolver that rewrites NXDOMAIN or from a
//! lapsed, parked zone that answers everything.

use std::net::Ipv4Addr;

use serde::Serialize;

use super::catalog::{CodeKind, List};
use crate::dns::{Answer, Txt};

/// A hostile list could answer with thousands of records; a report shows this many.
const MAX_CODES: usize = 32;
/// TXT reasons kept per answer, and characters per reason.
const MAX_REASONS: usize = 8;
const MAX_REASON_CHARS: usize = 300;

/// What one returned address means.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReturnKind {
    /// A listing for what the item did.
    Listed,
    /// A listing for what the item is (end-user range, no reverse DNS).
    Policy,
    /// An error code: the list refused to answer.
    Error,
    /// A documented code that is not a listing.
    NotListed,
    /// Outside 127.0.0.0/8: not a blocklist answer at all.
    Invalid,
}

impl From<CodeKind> for ReturnKind {
    fn from(kind: CodeKind) -> Self {
        match kind {
            CodeKind::Listed => ReturnKind::Listed,
            CodeKind::Policy => ReturnKind::Policy,
            CodeKind::Error => ReturnKind::Error,
            CodeKind::NotListed => ReturnKind::NotListed,
        }
    }
}

/// One A record of an answer and its reading.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReturnCode {
    pub address: Ipv4Addr,
    pub kind: ReturnKind,
    pub meaning: String,
}

/// What a list said about an item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ListStatus {
    /// At least one listing code (and no error code).
    Listed,
    /// NXDOMAIN or no A record, or only codes documented as not listings.
    NotListed,
    /// An error code: result unknown.
    Refused,
    /// An address outside 127.0.0.0/8: result unknown.
    InvalidAnswer,
    /// Timeout, SERVFAIL or another DNS failure: result unknown.
    Unavailable,
    /// Not asked (failed its health check, or does not take this kind of item).
    Skipped,
}

impl ListStatus {
    /// The word used in JSON and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            ListStatus::Listed => "listed",
            ListStatus::NotListed => "not-listed",
            ListStatus::Refused => "refused",
            ListStatus::InvalidAnswer => "invalid-answer",
            ListStatus::Unavailable => "unavailable",
            ListStatus::Skipped => "skipped",
        }
    }
}

/// An answer read against a list's documented codes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reading {
    pub status: ListStatus,
    pub codes: Vec<ReturnCode>,
    /// The DNS failure, for [`ListStatus::Unavailable`].
    pub failure: Option<String>,
}

/// Reads one returned address: outside 127.0.0.0/8 is invalid; else the most specific
/// documented code or range; else, on a bitmask list, each flag of the last octet; else an
/// undocumented listing (RFC 5782 §2.1: any A record means listed).
pub fn read_code(list: &List, address: Ipv4Addr) -> ReturnCode {
    if address.octets()[0] != 127 {
        return ReturnCode {
            address,
            kind: ReturnKind::Invalid,
            meaning: "outside 127.0.0.0/8: not a blocklist answer (a resolver that rewrites \
                      answers, or a parked zone)"
                .to_owned(),
        };
    }
    if let Some(rule) = list
        .codes
        .iter()
        .filter(|rule| rule.contains(address))
        .max_by_key(|rule| rule.prefix)
    {
        return ReturnCode {
            address,
            kind: rule.kind.into(),
            meaning: rule.meaning.clone(),
        };
    }
    if list.bitmask {
        return read_flags(list, address);
    }
    ReturnCode {
        address,
        kind: ReturnKind::Listed,
        meaning: "undocumented return code: listed (RFC 5782 §2.1)".to_owned(),
    }
}

/// A bitmask answer: the last octet is the sum of the flags of every sublist the item is on
/// (the other octets are reserved and ignored, as SURBL documents).
fn read_flags(list: &List, address: Ipv4Addr) -> ReturnCode {
    let flags = address.octets()[3];
    if flags == 0 {
        return ReturnCode {
            address,
            kind: ReturnKind::Error,
            meaning: "no flag set: not a documented answer".to_owned(),
        };
    }
    let mut flag_kinds = Vec::new();
    let mut meanings = Vec::new();
    for bit in (0..8)
        .map(|shift| 1u8 << shift)
        .filter(|bit| flags & bit != 0)
    {
        let rule = list
            .codes
            .iter()
            .find(|rule| rule.prefix == 32 && rule.code.octets()[3] == bit);
        if let Some(rule) = rule {
            flag_kinds.push(ReturnKind::from(rule.kind));
            meanings.push(rule.meaning.clone());
        } else {
            flag_kinds.push(ReturnKind::Listed);
            meanings.push(format!("undocumented flag {bit}: listed"));
        }
    }
    let kind = [ReturnKind::Error, ReturnKind::Listed, ReturnKind::Policy]
        .into_iter()
        .find(|k| flag_kinds.contains(k))
        .unwrap_or(ReturnKind::NotListed);
    ReturnCode {
        address,
        kind,
        meaning: meanings.join("; "),
    }
}

/// Reads a whole answer. An invalid address makes the whole answer untrustworthy; an error code
/// makes it a refusal even beside listing codes (a list that refuses does not know).
pub fn read_answer(list: &List, answer: &Answer<Ipv4Addr>) -> Reading {
    match answer {
        Answer::Records { records, .. } => {
            // Every record decides the status (an error code or a non-127 answer anywhere
            // makes the whole answer a refusal or invalid); only the first few are shown.
            let mut codes: Vec<ReturnCode> = records
                .iter()
                .map(|address| read_code(list, *address))
                .collect();
            let status = status_of(&codes);
            codes.truncate(MAX_CODES);
            Reading {
                status,
                codes,
                failure: None,
            }
        }
        Answer::NoData { .. } | Answer::NxDomain { .. } => Reading {
            status: ListStatus::NotListed,
            codes: Vec::new(),
            failure: None,
        },
        Answer::Failed(failure) => Reading {
            status: ListStatus::Unavailable,
            codes: Vec::new(),
            failure: Some(failure.label().to_owned()),
        },
    }
}

fn status_of(codes: &[ReturnCode]) -> ListStatus {
    let has = |kind: ReturnKind| codes.iter().any(|c| c.kind == kind);
    if has(ReturnKind::Invalid) {
        ListStatus::InvalidAnswer
    } else if has(ReturnKind::Error) {
        ListStatus::Refused
    } else if has(ReturnKind::Listed) || has(ReturnKind::Policy) {
        ListStatus::Listed
    } else {
        ListStatus::NotListed
    }
}

/// The TXT reasons at the query name (RFC 5782 §2.1: "a TXT record … with a description of
/// the reason for listing"), each on one line and shortened: TXT records are written by
/// strangers.
pub fn txt_reasons(answer: &Answer<Txt>) -> Vec<String> {
    answer
        .records()
        .iter()
        .take(MAX_REASONS)
        .map(|txt| {
            let text: String = txt
                .joined()
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            let text = text.trim();
            if text.chars().count() > MAX_REASON_CHARS {
                let cut: String = text.chars().take(MAX_REASON_CHARS).collect();
                format!("{cut}…")
            } else {
                text.to_owned()
            }
        })
        .filter(|text| !text.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::Failure;
    use crate::dnsbl::Catalog;

    fn list(zone: &str) -> List {
        Catalog::builtin()
            .lists
            .into_iter()
            .find(|l| l.zone == zone)
            .unwrap()
    }

    fn records(addresses: &[[u8; 4]]) -> Answer<Ipv4Addr> {
        Answer::Records {
            records: addresses.iter().map(|a| Ipv4Addr::from(*a)).collect(),
            aliases: Vec::new(),
        }
    }

    #[test]
    fn every_code_of_a_multi_code_answer_is_read() {
        let zen = list("zen.spamhaus.org");
        let reading = read_answer(
            &zen,
            &records(&[[127, 0, 0, 2], [127, 0, 0, 4], [127, 0, 0, 10]]),
        );
        assert_eq!(reading.status, ListStatus::Listed);
        let kinds: Vec<_> = reading.codes.iter().map(|c| c.kind).collect();
        assert_eq!(
            kinds,
            [ReturnKind::Listed, ReturnKind::Listed, ReturnKind::Policy]
        );
        assert!(reading.codes[0].meaning.starts_with("SBL"));
        assert!(reading.codes[1].meaning.starts_with("XBL"));
        assert!(reading.codes[2].meaning.starts_with("PBL"));
    }

    #[test]
    fn spamhaus_error_codes_are_refusals_never_listings() {
        let zen = list("zen.spamhaus.org");
        for last in [252, 254, 255, 1, 100] {
            let reading = read_answer(&zen, &records(&[[127, 255, 255, last]]));
            assert_eq!(reading.status, ListStatus::Refused, "127.255.255.{last}");
        }
        let public = read_answer(&zen, &records(&[[127, 255, 255, 254]]));
        assert!(public.codes[0].meaning.contains("public or open resolver"));
        let dbl = list("dbl.spamhaus.org");
        assert_eq!(
            read_answer(&dbl, &records(&[[127, 0, 1, 255]])).status,
            ListStatus::Refused
        );
        assert_eq!(
            read_answer(&dbl, &records(&[[127, 0, 1, 2]])).status,
            ListStatus::Listed
        );
    }

    #[test]
    fn uribl_127_0_0_1_is_a_refusal_and_flags_add_up() {
        let uribl = list("multi.uribl.com");
        assert_eq!(
            read_answer(&uribl, &records(&[[127, 0, 0, 1]])).status,
            ListStatus::Refused
        );
        let all = read_code(&uribl, Ipv4Addr::new(127, 0, 0, 14));
        assert_eq!(all.kind, ReturnKind::Listed);
        assert!(
            all.meaning.contains("black")
                && all.meaning.contains("grey")
                && all.meaning.contains("red")
        );
        // SURBL's click-tracker flag alone is not a listing; with ABUSE it is.
        let surbl = list("multi.surbl.org");
        assert_eq!(
            read_code(&surbl, Ipv4Addr::new(127, 0, 0, 32)).kind,
            ReturnKind::NotListed
        );
        assert_eq!(
            read_code(&surbl, Ipv4Addr::new(127, 0, 0, 96)).kind,
            ReturnKind::Listed
        );
        assert_eq!(
            read_answer(&surbl, &records(&[[127, 0, 0, 32]])).status,
            ListStatus::NotListed
        );
    }

    #[test]
    fn answers_outside_loopback_are_invalid_not_listed() {
        let zen = list("zen.spamhaus.org");
        let reading = read_answer(&zen, &records(&[[198, 51, 100, 7]]));
        assert_eq!(reading.status, ListStatus::InvalidAnswer);
        assert_eq!(reading.codes[0].kind, ReturnKind::Invalid);
        // Even beside a loopback listing code, a rewritten answer cannot be trusted.
        let mixed = read_answer(&zen, &records(&[[127, 0, 0, 2], [192, 0, 2, 1]]));
        assert_eq!(mixed.status, ListStatus::InvalidAnswer);
    }

    #[test]
    fn undocumented_loopback_codes_are_listings_and_absence_is_not() {
        let spamcop = list("bl.spamcop.net");
        let reading = read_answer(&spamcop, &records(&[[127, 0, 0, 77]]));
        assert_eq!(reading.status, ListStatus::Listed);
        assert!(reading.codes[0].meaning.contains("undocumented"));
        assert_eq!(
            read_answer(&spamcop, &Answer::nx_domain()).status,
            ListStatus::NotListed
        );
        assert_eq!(
            read_answer(&spamcop, &Answer::no_data()).status,
            ListStatus::NotListed
        );
        let failed = read_answer(&spamcop, &Answer::Failed(Failure::Timeout));
        assert_eq!(failed.status, ListStatus::Unavailable);
        assert_eq!(failed.failure.as_deref(), Some("timeout"));
    }

    #[test]
    fn txt_reasons_are_joined_flattened_and_bounded() {
        let answer = Answer::Records {
            records: vec![
                Txt {
                    strings: vec![b"Listed: see ".to_vec(), b"https://example/".to_vec()],
                },
                Txt {
                    strings: vec![b"line\nbreak\x00".to_vec()],
                },
                Txt {
                    strings: vec![vec![b'x'; 1000]],
                },
                Txt {
                    strings: vec![vec![0xff, 0xfe]],
                },
            ],
            aliases: Vec::new(),
        };
        let reasons = txt_reasons(&answer);
        assert_eq!(reasons[0], "Listed: see https://example/");
        assert_eq!(reasons[1], "line break");
        assert_eq!(reasons[2].chars().count(), MAX_REASON_CHARS + 1);
        assert_eq!(reasons[3], "\u{fffd}\u{fffd}");
    }
}
