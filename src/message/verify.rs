//! DKIM (RFC 6376) and ARC (RFC 8617) verification of a message with mail-auth, the keys asked
//! through the project's own DNS layer (`--resolver`).
//!
//! mail-auth verifies signatures and body hashes; it would also ask DNS itself, through a
//! resolver that folds NXDOMAIN, NODATA and DNS failures into one error. So every key a
//! signature or seal names is asked first with [`Dns::txt`] and handed to mail-auth through its
//! resolver cache: a DNS failure stays a temperror ("unknown"), never a missing key, and the key
//! record is also read by [`crate::dkim::record`] for its size.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use mail_auth::common::parse::TxtRecordParser;
use mail_auth::common::verify::DomainKey;
use mail_auth::hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use mail_auth::{
    AuthenticatedMessage, DkimResult, DnsError, Error, MessageAuthenticator, Parameters,
    ResolverCache, Txt,
};
use serde::Serialize;

use crate::dkim::record::parse_key_record;
use crate::dns::{Answer, Dns};

use super::headers::Field;

/// Header fields a signature should cover when the message has them: what a forger would change
/// to turn a signed message into another one (RFC 6376 §5.4.1 lists them as recommended).
pub const IMPORTANT_HEADERS: &[&str] = &[
    "from",
    "sender",
    "reply-to",
    "subject",
    "date",
    "to",
    "cc",
    "message-id",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "list-unsubscribe",
    "list-unsubscribe-post",
];

/// A verification result (RFC 8601 §2.7.1 words).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthResult {
    Pass,
    Fail,
    Neutral,
    PermError,
    TempError,
    None,
}

impl AuthResult {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthResult::Pass => "pass",
            AuthResult::Fail => "fail",
            AuthResult::Neutral => "neutral",
            AuthResult::PermError => "permerror",
            AuthResult::TempError => "temperror",
            AuthResult::None => "none",
        }
    }

    /// mail-auth's result and the reason it gives.
    fn of(result: &DkimResult) -> (AuthResult, Option<String>) {
        match result {
            DkimResult::Pass => (AuthResult::Pass, None),
            DkimResult::Fail(e) => (AuthResult::Fail, Some(e.to_string())),
            DkimResult::Neutral(e) => (AuthResult::Neutral, Some(e.to_string())),
            DkimResult::PermError(e) => (AuthResult::PermError, Some(e.to_string())),
            DkimResult::TempError(e) => (AuthResult::TempError, Some(e.to_string())),
            DkimResult::None => (AuthResult::None, None),
        }
    }
}

/// One `DKIM-Signature` and its verification.
#[allow(clippy::struct_excessive_bools)] // independent facts of a signature, each reported
#[derive(Clone, Debug, Serialize)]
pub struct DkimSignature {
    /// `d=`, lowercase.
    pub domain: String,
    /// `s=`.
    pub selector: String,
    /// `a=`: rsa-sha256, ed25519-sha256, rsa-sha1.
    pub algorithm: String,
    /// `c=`: header/body canonicalization.
    pub canonicalization: String,
    pub result: AuthResult,
    /// Why it did not pass, in mail-auth's words, with what that means.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The key's size in bits (RSA modulus, 256 for Ed25519), when the key was read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_bits: Option<u32>,
    /// The key record's DNS answer: `records`, `nxdomain`, `nodata`, or the failure.
    pub key_lookup: String,
    /// `l=`: how many body bytes the signature covers; anything after them can be appended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_length: Option<u64>,
    /// The body's length after canonicalization is not known here; how many bytes of the body
    /// (as received) the signature does not cover, when `l=` is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_uncovered: Option<u64>,
    /// `t=`, seconds since 1970.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed_at: Option<u64>,
    /// `x=`, seconds since 1970.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<u64>,
    /// `x=` is past.
    pub expired: bool,
    /// For an expired signature: whether it verifies otherwise (the result it had before it
    /// expired).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_ignoring_expiry: Option<AuthResult>,
    /// `h=`, lowercase, in order.
    pub signed_headers: Vec<String>,
    /// `From` is in `h=` (RFC 6376 §5.4 requires it).
    pub from_signed: bool,
    /// `From` is listed more times than the message has From fields: a From field added later
    /// breaks the signature (RFC 6376 §5.4.2, "oversigning").
    pub from_oversigned: bool,
    /// Important fields ([`IMPORTANT_HEADERS`]) the message has that `h=` does not cover.
    pub unsigned_headers: Vec<String>,
    /// Whether `d=` is aligned with the From domain (filled in by the DMARC step).
    pub aligned: bool,
}

/// A `DKIM-Signature` field mail-auth could not read.
#[derive(Clone, Debug, Serialize)]
pub struct MalformedSignature {
    pub header: String,
    pub reason: String,
}

/// One ARC set (RFC 8617 §4.1): its instance and who sealed it.
#[derive(Clone, Debug, Serialize)]
pub struct ArcInstance {
    pub instance: u32,
    /// The sealer's `d=` and `s=` (ARC-Seal).
    pub domain: String,
    pub selector: String,
    /// `cv=` of the seal: none, pass or fail.
    pub cv: String,
    /// The sealer's ARC-Authentication-Results, as written.
    pub results: String,
}

/// The ARC chain.
#[derive(Clone, Debug, Serialize)]
pub struct ArcReport {
    /// pass, fail, none (no ARC fields) ...
    pub result: AuthResult,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub instances: Vec<ArcInstance>,
}

/// What DKIM and ARC verification found.
#[derive(Clone, Debug, Serialize)]
pub struct Verified {
    pub signatures: Vec<DkimSignature>,
    pub malformed: Vec<MalformedSignature>,
    pub arc: ArcReport,
}

/// mail-auth's TXT cache, filled with the keys this module asked: mail-auth asks no DNS itself.
#[derive(Default)]
struct Keys(Mutex<HashMap<Box<str>, Txt>>);

impl ResolverCache<Box<str>, Txt> for Keys {
    fn get<Q>(&self, name: &Q) -> Option<Txt>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.0.lock().ok()?.get(name).cloned()
    }

    fn remove<Q>(&self, name: &Q) -> Option<Txt>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.0.lock().ok()?.remove(name)
    }

    fn insert(&self, key: Box<str>, value: Txt, _valid_until: std::time::Instant) {
        if let Ok(mut map) = self.0.lock() {
            map.insert(key, value);
        }
    }
}

/// A fetched key: mail-auth's form and what the project's parser read of it.
struct FetchedKey {
    status: String,
    bits: Option<u32>,
}

/// Asks `<s>._domainkey.<d>` through the project's DNS and stores the answer in `keys` under the
/// name mail-auth will look up.
async fn fetch_key(dns: &Dns, keys: &Keys, selector: &str, domain: &str) -> FetchedKey {
    let name = format!("{selector}._domainkey.{domain}");
    let answer = dns.txt(&name).await;
    let (txt, bits) = match &answer {
        Answer::Records { records, .. } => {
            let texts: Vec<Vec<u8>> = records.iter().map(crate::dns::Txt::joined_bytes).collect();
            let parsed = texts.iter().find_map(|t| DomainKey::parse(t).ok());
            let bits = texts
                .iter()
                .map(|t| parse_key_record(&String::from_utf8_lossy(t)))
                .find_map(|record| record.key.map(|k| k.bits));
            match parsed {
                Some(key) => (Txt::DomainKey(Arc::new(key)), bits),
                None => (Txt::Error(Error::Dns(DnsError::InvalidRecordType)), bits),
            }
        }
        Answer::NoData { .. } | Answer::NxDomain { .. } => (
            Txt::Error(Error::Dns(DnsError::RecordNotFound(
                mail_auth::hickory_resolver::proto::op::ResponseCode::NXDomain,
            ))),
            None,
        ),
        Answer::Failed(failure) => (
            Txt::Error(Error::Dns(DnsError::Resolver(failure.label().to_owned()))),
            None,
        ),
    };
    keys.insert(
        format!("{name}.").into_boxed_str(),
        txt,
        std::time::Instant::now(),
    );
    FetchedKey {
        status: answer.status(),
        bits,
    }
}

/// A mail-auth authenticator whose resolver is the first `--resolver` (never the system's): it
/// is not expected to ask anything, every key being in the cache.
fn authenticator(dns: &Dns) -> Option<MessageAuthenticator> {
    let server = dns.servers().first()?;
    let mut name_server = NameServerConfig::udp_and_tcp(server.ip());
    for connection in &mut name_server.connections {
        connection.port = server.port();
    }
    MessageAuthenticator::new(
        ResolverConfig::from_name_servers(vec![name_server]),
        ResolverOpts::default(),
    )
    .ok()
}

/// Verifies every DKIM signature and the ARC chain of `message`.
pub async fn verify(
    dns: &Dns,
    message: &AuthenticatedMessage<'_>,
    fields: &[Field],
    now: u64,
) -> Verified {
    let keys = Keys::default();
    let mut wanted: Vec<(String, String)> = Vec::new();
    for h in &message.dkim_headers {
        wanted.push((h.header.s.clone(), h.header.d.clone()));
    }
    for h in &message.as_headers {
        wanted.push((h.header.s.clone(), h.header.d.clone()));
    }
    for h in &message.ams_headers {
        wanted.push((h.header.s.clone(), h.header.d.clone()));
    }
    wanted.sort();
    wanted.dedup();
    let fetched: Vec<FetchedKey> =
        futures::future::join_all(wanted.iter().map(|(s, d)| fetch_key(dns, &keys, s, d))).await;
    let key_of = |s: &str, d: &str| {
        wanted
            .iter()
            .position(|(ws, wd)| ws == s && wd == d)
            .map(|i| &fetched[i])
    };
    let Some(authenticator) = authenticator(dns) else {
        return Verified {
            signatures: Vec::new(),
            malformed: Vec::new(),
            arc: ArcReport {
                result: AuthResult::TempError,
                reason: Some("no resolver".to_owned()),
                instances: Vec::new(),
            },
        };
    };
    let outputs = authenticator
        .verify_dkim(Parameters::new(message).with_txt_cache(&keys))
        .await;
    let body_len = message
        .raw_message
        .len()
        .saturating_sub(message.body_offset as usize) as u64;
    let mut signatures = Vec::new();
    for output in &outputs {
        let Some(signature) = output.signature() else {
            continue;
        };
        let (result, reason) = AuthResult::of(output.result());
        let key = key_of(&signature.s, &signature.d);
        let expired = signature.x != 0 && signature.x <= now;
        let result_ignoring_expiry = if expired {
            Some(verify_ignoring_expiry(&authenticator, &keys, message, signature).await)
        } else {
            None
        };
        signatures.push(describe(
            signature,
            result,
            reason,
            key,
            fields,
            body_len,
            expired,
            result_ignoring_expiry,
        ));
    }
    let malformed = message
        .errors
        .iter()
        .filter(|h| String::from_utf8_lossy(h.name).eq_ignore_ascii_case("dkim-signature"))
        .map(|h| MalformedSignature {
            header: super::headers::unfold(&String::from_utf8_lossy(h.value)),
            reason: h.header.to_string(),
        })
        .collect();
    let arc = verify_arc(&authenticator, &keys, message).await;
    Verified {
        signatures,
        malformed,
        arc,
    }
}

/// The result an expired signature would have had before `x=`: the same signature with the
/// expiry removed from what mail-auth checks (the signed header value keeps its `x=`).
async fn verify_ignoring_expiry(
    authenticator: &MessageAuthenticator,
    keys: &Keys,
    message: &AuthenticatedMessage<'_>,
    signature: &mail_auth::dkim::Signature,
) -> AuthResult {
    let mut copy = message.clone();
    copy.dkim_headers.retain(|h| h.header == *signature);
    copy.dkim_headers.truncate(1);
    for header in &mut copy.dkim_headers {
        header.header.x = 0;
    }
    copy.errors.clear();
    let outputs = authenticator
        .verify_dkim(Parameters::new(&copy).with_txt_cache(keys))
        .await;
    outputs
        .first()
        .map_or(AuthResult::None, |o| AuthResult::of(o.result()).0)
}

#[allow(clippy::too_many_arguments)]
fn describe(
    signature: &mail_auth::dkim::Signature,
    result: AuthResult,
    reason: Option<String>,
    key: Option<&FetchedKey>,
    fields: &[Field],
    body_len: u64,
    expired: bool,
    result_ignoring_expiry: Option<AuthResult>,
) -> DkimSignature {
    let signed: Vec<String> = signature.h.iter().map(|h| h.to_ascii_lowercase()).collect();
    let from_fields = fields.iter().filter(|f| f.is("from")).count();
    let from_listed = signed.iter().filter(|h| *h == "from").count();
    let mut unsigned_headers: Vec<String> = Vec::new();
    for name in IMPORTANT_HEADERS {
        if fields.iter().any(|f| f.is(name))
            && !signed.iter().any(|h| h == name)
            && !unsigned_headers.iter().any(|u| u == name)
        {
            unsigned_headers.push((*name).to_owned());
        }
    }
    let canon = |c: mail_auth::dkim::Canonicalization| match c {
        mail_auth::dkim::Canonicalization::Relaxed => "relaxed",
        mail_auth::dkim::Canonicalization::Simple => "simple",
    };
    DkimSignature {
        domain: signature.d.to_ascii_lowercase(),
        selector: signature.s.clone(),
        algorithm: algorithm_name(signature.a).to_owned(),
        canonicalization: format!("{}/{}", canon(signature.ch), canon(signature.cb)),
        result,
        reason: reason.map(|r| explain_reason(&r)),
        key_bits: key.and_then(|k| k.bits),
        key_lookup: key.map_or_else(|| "not asked".to_owned(), |k| k.status.clone()),
        body_length: (signature.l != 0).then_some(signature.l),
        body_uncovered: (signature.l != 0).then(|| body_len.saturating_sub(signature.l)),
        signed_at: (signature.t != 0).then_some(signature.t),
        expires: (signature.x != 0).then_some(signature.x),
        expired,
        result_ignoring_expiry,
        from_signed: from_listed > 0,
        from_oversigned: from_listed > from_fields,
        signed_headers: signed,
        unsigned_headers,
        aligned: false,
    }
}

fn algorithm_name(algorithm: mail_auth::common::crypto::Algorithm) -> &'static str {
    match algorithm {
        mail_auth::common::crypto::Algorithm::RsaSha1 => "rsa-sha1",
        mail_auth::common::crypto::Algorithm::RsaSha256 => "rsa-sha256",
        mail_auth::common::crypto::Algorithm::Ed25519Sha256 => "ed25519-sha256",
    }
}

/// mail-auth's reason with what it means for the sender.
fn explain_reason(reason: &str) -> String {
    let why = if reason.contains("body hash") {
        "the body was changed after signing (a list footer, a security gateway rewriting links, \
         a re-encoding)"
    } else if reason.contains("Signature expired") {
        "x= is past"
    } else if reason.contains("not found") {
        "no key is published at the selector"
    } else if reason.contains("DNS resolution error") {
        "the key could not be fetched: unknown, not a failure of the sender"
    } else if reason.contains("revoked") {
        "the key record has an empty p="
    } else if reason.contains("Invalid record") {
        "the record at the selector is not a DKIM key"
    } else if reason.to_ascii_lowercase().contains("verification") || reason.contains("Crypto") {
        "the signed header fields were changed after signing, or the key does not match"
    } else {
        return reason.to_owned();
    };
    format!("{reason}: {why}")
}

async fn verify_arc(
    authenticator: &MessageAuthenticator,
    keys: &Keys,
    message: &AuthenticatedMessage<'_>,
) -> ArcReport {
    let output = authenticator
        .verify_arc(Parameters::new(message).with_txt_cache(keys))
        .await;
    let (result, reason) = AuthResult::of(output.result());
    let mut instances: Vec<ArcInstance> = output
        .sets()
        .iter()
        .map(|set| ArcInstance {
            instance: set.seal.header.i,
            domain: set.seal.header.d.to_ascii_lowercase(),
            selector: set.seal.header.s.clone(),
            cv: match set.seal.header.cv {
                mail_auth::arc::ChainValidation::None => "none",
                mail_auth::arc::ChainValidation::Fail => "fail",
                mail_auth::arc::ChainValidation::Pass => "pass",
            }
            .to_owned(),
            results: super::headers::unfold(&String::from_utf8_lossy(set.results.value)),
        })
        .collect();
    if instances.is_empty() {
        // A chain mail-auth refused before grouping it (broken, too long): its seals as written.
        instances = message
            .as_headers
            .iter()
            .map(|h| ArcInstance {
                instance: h.header.i,
                domain: h.header.d.to_ascii_lowercase(),
                selector: h.header.s.clone(),
                cv: format!("{:?}", h.header.cv).to_ascii_lowercase(),
                results: String::new(),
            })
            .collect();
    }
    ArcReport {
        result,
        reason,
        instances,
    }
}
