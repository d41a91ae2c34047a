//! The typed outcome of one DNS question.
//!
//! Nothing above the DNS layer sees a resolver error: every answer is records, a negative
//! answer (NODATA or NXDOMAIN, RFC 2308), or a failure. The distinction is the whole point of an
//! auditor: a failure means "unknown", never "missing".

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

/// Why a question got no usable answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Failure {
    /// The server answered SERVFAIL (RFC 1035 §4.1.1 RCODE 2).
    ServFail,
    /// The server answered REFUSED (RCODE 5).
    Refused,
    /// No answer within the timeout, after retries.
    Timeout,
    /// The answer was truncated over UDP and TCP did not deliver it either.
    Truncated,
    /// Another response code, or a network or protocol error.
    Other(String),
    /// The name cannot be asked at all (empty label, label over 63 bytes, name over 255).
    InvalidName(String),
    /// The name is an alias whose CNAME chain loops, is longer than resolvers follow, or ends
    /// without the records asked while the answer shows only aliases: its records cannot be
    /// read (the text says which, with the chain).
    CnameChain(String),
}

impl Failure {
    /// A short label for tables and evidence.
    pub fn label(&self) -> &str {
        match self {
            Failure::ServFail => "SERVFAIL",
            Failure::Refused => "REFUSED",
            Failure::Timeout => "timeout",
            Failure::Truncated => "truncated",
            Failure::Other(text) | Failure::InvalidName(text) | Failure::CnameChain(text) => text,
        }
    }
}

/// What one question (name, type) got back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer<T> {
    /// The name has records of the asked type. `aliases` is the CNAME chain that led to them,
    /// starting with the name asked (empty when the name had the records itself).
    Records {
        records: Vec<T>,
        aliases: Vec<String>,
    },
    /// The name exists but has no record of this type (NOERROR, empty answer). `aliases`: when
    /// the name asked is an alias, its CNAME chain, starting with the name asked, and the answer
    /// is about the chain's last name (RFC 6604 §2); empty otherwise.
    NoData { aliases: Vec<String> },
    /// The name does not exist (NXDOMAIN); `aliases` as for [`Answer::NoData`]: an alias whose
    /// target does not exist (a DKIM selector delegated to a provider that holds no key yet).
    NxDomain { aliases: Vec<String> },
    /// No answer could be had: the result is unknown.
    Failed(Failure),
}

impl<T> Answer<T> {
    /// The records, or an empty slice for every other outcome.
    pub fn records(&self) -> &[T] {
        match self {
            Answer::Records { records, .. } => records,
            _ => &[],
        }
    }

    /// The CNAME chain the name asked led through, to its records or to the name a negative
    /// answer is about (empty when the name is no alias, or on a failure).
    pub fn aliases(&self) -> &[String] {
        match self {
            Answer::Records { aliases, .. }
            | Answer::NoData { aliases }
            | Answer::NxDomain { aliases } => aliases,
            Answer::Failed(_) => &[],
        }
    }

    /// NODATA for a name that is no alias.
    pub fn no_data() -> Answer<T> {
        Answer::NoData {
            aliases: Vec::new(),
        }
    }

    /// NXDOMAIN for a name that is no alias.
    pub fn nx_domain() -> Answer<T> {
        Answer::NxDomain {
            aliases: Vec::new(),
        }
    }

    /// The failure, if the question got no answer.
    pub fn failure(&self) -> Option<&Failure> {
        match self {
            Answer::Failed(failure) => Some(failure),
            _ => None,
        }
    }

    /// NXDOMAIN or NODATA: a "void lookup" in RFC 7208 §4.6.4 terms.
    pub fn is_void(&self) -> bool {
        matches!(self, Answer::NoData { .. } | Answer::NxDomain { .. })
            || matches!(self, Answer::Records { records, .. } if records.is_empty())
    }

    /// A short status word for evidence and JSON: `records`, `nodata`, `nxdomain` or the failure.
    pub fn status(&self) -> String {
        match self {
            Answer::Records { .. } => "records".to_owned(),
            Answer::NoData { .. } => "nodata".to_owned(),
            Answer::NxDomain { .. } => "nxdomain".to_owned(),
            Answer::Failed(failure) => failure.label().to_owned(),
        }
    }

    /// Transforms the records, keeping every other outcome.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Answer<U> {
        match self {
            Answer::Records { records, aliases } => Answer::Records {
                records: records.into_iter().map(f).collect(),
                aliases,
            },
            Answer::NoData { aliases } => Answer::NoData { aliases },
            Answer::NxDomain { aliases } => Answer::NxDomain { aliases },
            Answer::Failed(failure) => Answer::Failed(failure),
        }
    }
}

/// A TXT record: its character-strings as sent, which may hold any bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Txt {
    pub strings: Vec<Vec<u8>>,
}

impl Txt {
    /// The character-strings joined without spaces (RFC 7208 §3.3, RFC 6376 §3.6.2.2), as
    /// bytes.
    pub fn joined_bytes(&self) -> Vec<u8> {
        self.strings.concat()
    }

    /// The joined record as text; bytes that are not UTF-8 become U+FFFD, so that a hostile
    /// record can be shown but never passes for a valid one.
    pub fn joined(&self) -> String {
        String::from_utf8_lossy(&self.joined_bytes()).into_owned()
    }
}

/// An MX record (RFC 5321 §5.1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mx {
    pub preference: u16,
    /// The exchange, lowercase, without the trailing dot; `.` is the null MX of RFC 7505.
    pub exchange: String,
}

/// An answer to a question asked with DNSSEC's DO bit set, with what the resolver said of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validated<T> {
    pub answer: Answer<T>,
    /// The AD bit: the resolver validated every `RRset` of the answer (RFC 4035 §3.2.3). Only a
    /// validating resolver ever sets it; an unsigned zone's answers never have it.
    pub authentic: bool,
    /// The resolver that answered; `None` when none did.
    pub server: Option<SocketAddr>,
    /// The zone a negative answer comes from (the owner of its authority section's SOA record,
    /// RFC 2308 §3); `None` for an answer with records, or without an SOA.
    pub zone: Option<String>,
}

/// A TLSA record's fields as published (RFC 6698 §2.1), each as its number: what they mean,
/// and whether they are usable, is the DANE check's to say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tlsa {
    /// Certificate usage (§2.1.1).
    pub usage: u8,
    /// Selector (§2.1.2).
    pub selector: u8,
    /// Matching type (§2.1.3).
    pub matching: u8,
    /// Certificate association data (§2.1.4).
    pub data: Vec<u8>,
}

/// Whether the resolver validates DNSSEC: asked once a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolverValidation {
    /// The resolver that answered.
    pub server: Option<SocketAddr>,
    /// It set the AD bit on the root zone's signed SOA (every validating resolver trusts the
    /// root's key); `None` when the question got no answer.
    pub validates: Option<bool>,
}

impl<T> Validated<T> {
    /// Transforms the records, keeping what the resolver said of them.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Validated<U> {
        Validated {
            answer: self.answer.map(f),
            authentic: self.authentic,
            server: self.server,
            zone: self.zone,
        }
    }
}
