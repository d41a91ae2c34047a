//! SPF `check_host()` (RFC 7208 §4-§6): the result for one client IP, sender and HELO, the term
//! that decided it, the explanation, the lookup counts of §4.6.4, and a trace of every record and
//! term evaluated with the DNS answer behind it.
//!
//! Written here rather than taken from mail-auth's `verify_spf`: that returns a result only (no
//! trace, no lookup counts, no reason for a permerror), parses records leniently, and its
//! resolver collapses NXDOMAIN, NODATA and DNS failures into one error. An auditor must say which
//! term matched, which limit or syntax error caused a permerror, and never report a DNS failure
//! as an absence.
//!
//! Evaluation is sequential, as §4.6 demands: terms left to right, stop at the first match, the
//! limits counted in that order. So that it still takes about as many round trips as the depth
//! of the include chain, the questions the records will ask are sent together as soon as each
//! record is known ([`prefetch`]); the run's DNS cache then answers the evaluation, and the
//! prefetch is dropped the moment the evaluation is done. It only warms the cache: the result
//! and the counts come from the evaluation alone.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use futures::future::{BoxFuture, Either, join_all, select};
use serde::{Deserialize, Serialize};

use super::macros::{
    MacroContext, MacroLetter, MacroString, MacroUse, parse_macro_string, truncate_domain,
};
use super::record::{Directive, DualCidr, Mechanism, Qualifier, Record, SyntaxError, Term};
use super::record::{is_spf_record, parse};
use super::tree::{LOOKUP_LIMIT, MX_LIMIT, VOID_LIMIT, Via};
use crate::dns::{Answer, Dns, Failure, Txt};
use crate::finding::{Code, Finding};

/// PTR names looked at for `ptr` and `%{p}` (§4.6.4: the rest MUST be ignored).
pub const PTR_LIMIT: usize = 10;
/// What `%{h}` expands to when no HELO name was given, and `%{r}` always: the word §7.3 asks
/// for when the name is not known.
const UNKNOWN: &str = "unknown";
/// Questions the prefetch may send per evaluation, and how deep it follows includes.
const PREFETCH_BUDGET: usize = 64;
const PREFETCH_DEPTH: usize = 10;

/// The result of `check_host()` (§2.6), serialized lowercase as RFC 7208 spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpfResult {
    /// The client is authorized (§2.6.3).
    Pass,
    /// The client is not authorized (§2.6.4).
    Fail,
    /// Probably not authorized (§2.6.5).
    SoftFail,
    /// No assertion either way (§2.6.2).
    Neutral,
    /// No SPF record, or the domain is not a valid name (§2.6.1).
    None,
    /// The record cannot be interpreted: syntax, limits, missing include target (§2.6.7).
    PermError,
    /// A DNS failure: the result is unknown, a retry may succeed (§2.6.6).
    TempError,
}

impl SpfResult {
    /// The lowercase name of §2.6.
    pub fn as_str(self) -> &'static str {
        match self {
            SpfResult::Pass => "pass",
            SpfResult::Fail => "fail",
            SpfResult::SoftFail => "softfail",
            SpfResult::Neutral => "neutral",
            SpfResult::None => "none",
            SpfResult::PermError => "permerror",
            SpfResult::TempError => "temperror",
        }
    }

    /// The result a matching directive gives (§4.6.2).
    pub fn of(qualifier: Qualifier) -> SpfResult {
        match qualifier {
            Qualifier::Pass => SpfResult::Pass,
            Qualifier::Fail => SpfResult::Fail,
            Qualifier::SoftFail => SpfResult::SoftFail,
            Qualifier::Neutral => SpfResult::Neutral,
        }
    }
}

impl fmt::Display for SpfResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What caused a none, permerror or temperror result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReasonKind {
    /// none: the domain is not a valid multi-label name (§4.3).
    InvalidDomain,
    /// none: no `v=spf1` record at the domain (§4.4, §4.5).
    NoRecord,
    /// permerror: more than one `v=spf1` record (§4.5).
    MultipleRecords,
    /// permerror: the record does not parse (§4.6).
    Syntax,
    /// permerror: more than 10 DNS-querying terms (§4.6.4).
    LookupLimit,
    /// permerror: more than 2 void lookups (§4.6.4).
    VoidLookupLimit,
    /// permerror: an `mx` target with more than 10 MX records (§4.6.4).
    MxLimit,
    /// permerror: an `include` target without an SPF record (§5.2).
    IncludeNone,
    /// permerror: a `redirect` target without an SPF record (§6.1).
    RedirectNone,
    /// temperror: a DNS query failed (timeout, SERVFAIL, ...) (§4.4, §5).
    DnsFailure,
}

/// Why the result is none, permerror or temperror: which limit, which syntax error, which DNS
/// failure, and in whose record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Reason {
    pub kind: ReasonKind,
    /// The domain whose record (or lookup) caused it.
    pub domain: String,
    /// The term that caused it, as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub term: Option<String>,
    /// One line, citing RFC 7208.
    pub message: String,
    /// The name whose query failed or was void.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The syntax errors of the record, for [`ReasonKind::Syntax`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<SyntaxError>,
}

impl Reason {
    fn new(kind: ReasonKind, domain: &str, term: Option<&Term>, message: String) -> Reason {
        Reason {
            kind,
            domain: domain.to_owned(),
            term: term.map(|t| t.text.clone()),
            message,
            name: None,
            errors: Vec::new(),
        }
    }

    fn name(mut self, name: &str) -> Reason {
        self.name = Some(name.to_owned());
        self
    }
}

/// How a tried term came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The mechanism matched: its qualifier is the result.
    Match,
    /// It did not match: evaluation goes on.
    NoMatch,
    /// It stopped the evaluation with a permerror or temperror.
    Error,
    /// `redirect=`: the result is that of the target's record.
    Redirected,
}

/// A host looked at by `mx` (an MX exchange) or `ptr` (a PTR name), with its addresses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HostStep {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preference: Option<u16>,
    /// What the A or AAAA question got: `records`, `nodata`, `nxdomain` or the failure.
    pub dns: String,
    pub addresses: Vec<IpAddr>,
    /// For `mx`: an address matched. For `ptr`: the name is validated (its addresses hold the
    /// client IP, §5.5) and within the target domain.
    pub matched: bool,
}

/// One term tried, what it asked, and how it came out.
#[derive(Clone, Debug, Serialize)]
pub struct TermStep {
    /// The term as written.
    pub term: String,
    pub outcome: Outcome,
    /// DNS-querying terms evaluated so far, this one included (§4.6.4).
    pub lookups: usize,
    /// The name asked, after macro expansion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// What the question got: `records`, `nodata`, `nxdomain` or the failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns: Option<String>,
    /// The answer was NXDOMAIN or NODATA: counted against the limit of 2.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub void: bool,
    /// Addresses of an `a` or `exists` answer.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<IpAddr>,
    /// MX exchanges of `mx`, PTR names of `ptr`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<HostStep>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The evaluation of the record an `include` or `redirect` leads to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<Box<RecordTrace>>,
}

impl TermStep {
    fn new(term: &Term, lookups: usize) -> TermStep {
        TermStep {
            term: term.text.clone(),
            outcome: Outcome::NoMatch,
            lookups,
            target: None,
            dns: None,
            void: false,
            addresses: Vec::new(),
            hosts: Vec::new(),
            note: None,
            record: None,
        }
    }
}

/// One record evaluated: where it was fetched, what it says, each term tried, its result.
#[derive(Clone, Debug, Serialize)]
pub struct RecordTrace {
    pub domain: String,
    pub via: Via,
    /// What the TXT question got: `records`, `nodata`, `nxdomain`, `invalid-name` or the failure.
    pub dns: String,
    /// The `v=spf1` records found there.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub records: Vec<String>,
    /// The record evaluated, when there is exactly one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub diagnostics: Vec<SyntaxError>,
    /// The terms tried, in order; terms after a match are not tried.
    pub terms: Vec<TermStep>,
    pub result: SpfResult,
}

impl RecordTrace {
    fn new(domain: &str, via: Via) -> RecordTrace {
        RecordTrace {
            domain: domain.to_owned(),
            via,
            dns: String::new(),
            records: Vec::new(),
            record: None,
            diagnostics: Vec::new(),
            terms: Vec::new(),
            result: SpfResult::None,
        }
    }
}

/// A term and the domain whose record holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TermAt {
    pub term: String,
    pub domain: String,
}

/// The term whose qualifier gave the result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Matched {
    /// The term as written.
    pub term: String,
    /// The domain whose record holds it: a `redirect=` target when the result came through one.
    pub domain: String,
    /// That record.
    pub record: String,
    /// When the term is an `include`: the term of the included record that matched the IP, then
    /// the one inside that record's include, and so on.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub inner: Vec<TermAt>,
}

/// How the explanation of a fail was looked for (§6.2).
#[derive(Clone, Debug, Default, Serialize)]
pub struct ExpTrace {
    /// The `exp=` modifier as written.
    pub modifier: String,
    /// The domain whose record holds it.
    pub domain: String,
    /// The name asked, after macro expansion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns: Option<String>,
    /// The TXT text fetched, before expansion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Why no explanation came of it, when none did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The outcome of `check_host()` for one client IP.
#[derive(Clone, Debug, Serialize)]
pub struct Evaluation {
    /// The client IP as evaluated (an IPv4-mapped IPv6 address as IPv4, §5).
    pub ip: IpAddr,
    /// The domain checked.
    pub domain: String,
    /// `<sender>` as used by the macros (`postmaster@` added where the local-part was missing,
    /// §4.3).
    pub sender: String,
    /// The HELO name given, if any (`%{h}` expands to `unknown` without one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub helo: Option<String>,
    pub result: SpfResult,
    /// The term that decided the result; absent for the default neutral (§4.7) and for errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matched: Option<Matched>,
    /// The `exp=` text, expanded, when the result is fail and the domain publishes one (§6.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<ExpTrace>,
    /// DNS-querying terms evaluated (`include`, `a`, `mx`, `ptr`, `exists`, `redirect`; limit
    /// [`LOOKUP_LIMIT`]).
    pub lookups: usize,
    /// Terms whose query got NXDOMAIN or NODATA (limit [`VOID_LIMIT`]).
    pub void_lookups: usize,
    /// Why the result is none, permerror or temperror.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    /// The record at the domain and, nested in its include and redirect terms, every record
    /// evaluated after it.
    pub trace: RecordTrace,
}

impl Evaluation {
    /// The record at the domain checked, when there was exactly one.
    pub fn record(&self) -> Option<&str> {
        self.trace.record.as_deref()
    }
}

/// `check_host(<ip>, <domain>, <sender>)` of RFC 7208 §4, with the HELO name for `%{h}`.
///
/// `domain` is the domain to check (the MAIL FROM domain, or the HELO name when MAIL FROM is
/// empty, §2.3, §2.4); `sender` the MAIL FROM address, or `postmaster@<domain>`. Without
/// `sender` local-part, `postmaster` is used (§4.3). Never fails: DNS failures are a temperror.
pub async fn check_host(
    dns: &Dns,
    ip: IpAddr,
    domain: &str,
    sender: &str,
    helo: Option<&str>,
) -> Evaluation {
    // §5: an IPv4-mapped IPv6 address MUST be treated as IPv4, by every mechanism and macro.
    let ip = ip.to_canonical();
    let domain = domain.strip_suffix('.').unwrap_or(domain).to_owned();
    let sender = normalize_sender(sender, &domain);
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let ctx = Context {
        dns,
        ip,
        sender: &sender,
        helo: helo.unwrap_or(UNKNOWN),
        timestamp,
    };
    let mut evaluator = Evaluator {
        ctx: &ctx,
        lookups: 0,
        void_lookups: 0,
        ptr: None,
    };
    let budget = AtomicUsize::new(0);
    let evaluation = evaluator.evaluate(domain.clone(), Via::Root);
    let warm = prefetch(&ctx, domain.clone(), 0, &budget);
    let (trace, decision) = match select(evaluation, warm).await {
        Either::Left((done, _)) => done,
        Either::Right(((), evaluation)) => evaluation.await,
    };
    let (explanation, exp) = match (&decision.result, &decision.exp) {
        (SpfResult::Fail, Some((exp_domain, term, spec))) => {
            let (text, trace) = evaluator.explanation(exp_domain, term, spec).await;
            (text, Some(trace))
        }
        _ => (None, None),
    };
    Evaluation {
        ip,
        domain,
        sender: sender.clone(),
        helo: helo.map(str::to_owned),
        result: decision.result,
        matched: decision.matched,
        explanation,
        exp,
        lookups: evaluator.lookups,
        void_lookups: evaluator.void_lookups,
        reason: decision.reason,
        trace,
    }
}

/// The identity `check_host` checks for a message (§2.3, §2.4): the MAIL FROM domain, or the
/// HELO name when MAIL FROM is empty (a bounce), and the `<sender>` to use, both as
/// `(domain, sender)`. Angle brackets around the address are dropped.
pub fn mail_from_identity(mail_from: &str, helo: &str) -> (String, String) {
    let mail_from = mail_from.trim();
    let mail_from = mail_from
        .strip_prefix('<')
        .and_then(|m| m.strip_suffix('>'))
        .unwrap_or(mail_from);
    if mail_from.is_empty() {
        return (helo.to_owned(), format!("postmaster@{helo}"));
    }
    match mail_from.rsplit_once('@') {
        Some((_, domain)) => (domain.to_owned(), normalize_sender(mail_from, domain)),
        None => (mail_from.to_owned(), format!("postmaster@{mail_from}")),
    }
}

/// `<sender>` with `postmaster` for a missing local-part (§4.3), and `postmaster@<domain>` for
/// an empty sender.
fn normalize_sender(sender: &str, domain: &str) -> String {
    match sender.rsplit_once('@') {
        Some(("", sender_domain)) => format!("postmaster@{sender_domain}"),
        Some(_) => sender.to_owned(),
        None if sender.is_empty() => format!("postmaster@{domain}"),
        None => format!("postmaster@{sender}"),
    }
}

/// Why `domain` cannot be checked (§4.3): `None` when it is a usable multi-label name.
///
/// Malformed means: empty, an empty label other than the trailing one, a label over 63 octets,
/// over 253 octets in all, a single label, a domain literal (`[192.0.2.1]`), or an all-numeric
/// last label (an IP address is not a domain).
pub fn domain_problem(domain: &str) -> Option<String> {
    let name = domain.strip_suffix('.').unwrap_or(domain);
    if name.is_empty() {
        return Some("the domain is empty".to_owned());
    }
    if name.starts_with('[') {
        return Some("it is an address literal, not a domain name".to_owned());
    }
    if let Some(problem) = name_problem(name) {
        return Some(problem);
    }
    let labels: Vec<&str> = name.split('.').collect();
    if labels.len() < 2 {
        return Some("it is a single label, not a fully qualified domain".to_owned());
    }
    if labels
        .last()
        .is_some_and(|top| top.bytes().all(|b| b.is_ascii_digit()))
    {
        return Some("its last label is all digits: it is not a domain name".to_owned());
    }
    None
}

/// Why `name` cannot be sent in a DNS query (RFC 1035 §2.3.4): empty labels, labels over 63
/// octets, over 253 octets in all, or bytes that are not visible ASCII.
fn name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("the name is empty".to_owned());
    }
    if name.len() > 253 {
        return Some(format!("it is {} octets long, over 253", name.len()));
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Some("it has an empty label".to_owned());
        }
        if label.len() > 63 {
            return Some(format!("a label is {} octets long, over 63", label.len()));
        }
    }
    if name.bytes().any(|b| !(b.is_ascii_graphic() || b == b' ')) {
        return Some("it holds bytes that are not visible ASCII".to_owned());
    }
    None
}

/// Whether `ip` is inside `network/prefix` (§5.6). Addresses of different families never match;
/// a prefix longer than the address is taken as the full length.
pub fn in_network(ip: IpAddr, network: IpAddr, prefix: u8) -> bool {
    match (ip, network) {
        (IpAddr::V4(ip), IpAddr::V4(network)) => in_network_v4(ip, network, prefix),
        (IpAddr::V6(ip), IpAddr::V6(network)) => in_network_v6(ip, network, prefix),
        _ => false,
    }
}

fn in_network_v4(ip: Ipv4Addr, network: Ipv4Addr, prefix: u8) -> bool {
    let mask = u32::MAX
        .checked_shl(32 - u32::from(prefix.min(32)))
        .unwrap_or(0);
    (u32::from(ip) ^ u32::from(network)) & mask == 0
}

fn in_network_v6(ip: Ipv6Addr, network: Ipv6Addr, prefix: u8) -> bool {
    let mask = u128::MAX
        .checked_shl(128 - u32::from(prefix.min(128)))
        .unwrap_or(0);
    (u128::from(ip) ^ u128::from(network)) & mask == 0
}

/// The prefix length a dual-cidr gives for the client's family (§5.6).
fn prefix_for(ip: IpAddr, cidr: DualCidr) -> u8 {
    match ip {
        IpAddr::V4(_) => cidr.ip4_len(),
        IpAddr::V6(_) => cidr.ip6_len(),
    }
}

/// What an `include` does with the result of the included record (§5.2):
///
/// ```text
/// | A recursive check_host() result of: | Causes the "include" mechanism to: |
/// | pass                                | match                              |
/// | fail                                | not match                          |
/// | softfail                            | not match                          |
/// | neutral                             | not match                          |
/// | temperror                           | return temperror                   |
/// | permerror                           | return permerror                   |
/// | none                                | return permerror                   |
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum IncludeMapping {
    Match,
    NoMatch,
    /// `check_host` stops with this result.
    Stop(SpfResult),
}

fn include_mapping(result: SpfResult) -> IncludeMapping {
    match result {
        SpfResult::Pass => IncludeMapping::Match,
        SpfResult::Fail | SpfResult::SoftFail | SpfResult::Neutral => IncludeMapping::NoMatch,
        SpfResult::TempError => IncludeMapping::Stop(SpfResult::TempError),
        // "none" becomes permerror: the include target publishes nothing to match against.
        SpfResult::PermError | SpfResult::None => IncludeMapping::Stop(SpfResult::PermError),
    }
}

/// The name §5.5 prefers for `%{p}`: `<domain>` itself, else a subdomain of it, else any
/// validated name, else `unknown`.
fn choose_validated<'n>(validated: &'n [String], domain: &str) -> &'n str {
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    validated
        .iter()
        .find(|name| name.eq_ignore_ascii_case(domain))
        .or_else(|| validated.iter().find(|name| is_subdomain(name, domain)))
        .or_else(|| validated.first())
        .map_or(UNKNOWN, String::as_str)
}

/// `name` is `domain` or below it, ignoring case and trailing dots.
fn is_within(name: &str, domain: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    name.eq_ignore_ascii_case(domain) || is_subdomain(name, domain)
}

fn is_subdomain(name: &str, domain: &str) -> bool {
    name.len() > domain.len() + 1
        && name.as_bytes()[name.len() - domain.len() - 1] == b'.'
        && name.as_bytes()[name.len() - domain.len()..].eq_ignore_ascii_case(domain.as_bytes())
}

/// Expands an explanation string (§6.2, §7.1): `explain-string = *( macro-string / SP )`.
/// Spaces are kept as written; a macro error, or a byte that is not visible ASCII, makes the
/// whole explanation unusable.
pub fn expand_explanation(text: &str, ctx: &MacroContext<'_>) -> Result<String, String> {
    let mut out = Vec::new();
    for piece in text.split(' ') {
        if piece.is_empty() {
            out.push(String::new());
            continue;
        }
        let parsed = parse_macro_string(piece, MacroUse::Any)?;
        out.push(
            parsed
                .expand(ctx)
                .map_err(|unresolved| format!("{unresolved} has no value"))?,
        );
    }
    Ok(out.join(" "))
}

/// What a term gave the evaluation.
enum TermResult {
    Match(Vec<TermAt>),
    NoMatch,
    Stop(SpfResult, Reason),
}

/// What a record's evaluation decided, with what the topmost `check_host` needs.
struct Decision {
    result: SpfResult,
    matched: Option<Matched>,
    /// The `exp=` of the record whose directive gave a fail (§6.2): its domain, its term.
    exp: Option<(String, String, MacroString)>,
    reason: Option<Reason>,
}

impl Decision {
    fn stop(result: SpfResult, reason: Reason) -> Decision {
        Decision {
            result,
            matched: None,
            exp: None,
            reason: Some(reason),
        }
    }
}

/// What `check_host` knows about the message: fixed for the whole evaluation.
struct Context<'a> {
    dns: &'a Dns,
    ip: IpAddr,
    sender: &'a str,
    helo: &'a str,
    timestamp: u64,
}

impl Context<'_> {
    fn macros<'m>(&'m self, domain: &'m str, validated: Option<&'m str>) -> MacroContext<'m> {
        MacroContext {
            sender: Some(self.sender),
            ip: Some(self.ip),
            helo: Some(self.helo),
            domain,
            validated_domain: validated,
            receiver: Some(UNKNOWN),
            timestamp: Some(self.timestamp),
        }
    }

    /// A or AAAA of `name`, whichever the client's family asks for (§5.3, §5.4).
    async fn addresses(&self, name: &str) -> Answer<IpAddr> {
        match self.ip {
            IpAddr::V4(_) => self.dns.a(name).await.map(IpAddr::V4),
            IpAddr::V6(_) => self.dns.aaaa(name).await.map(IpAddr::V6),
        }
    }

    fn address_type(&self) -> &'static str {
        match self.ip {
            IpAddr::V4(_) => "A",
            IpAddr::V6(_) => "AAAA",
        }
    }

    /// The target of a term expanded without `%{p}` (which needs PTR lookups): for the
    /// prefetch, which must not guess.
    fn prefetch_target(&self, spec: Option<&MacroString>, domain: &str) -> Option<String> {
        let Some(spec) = spec else {
            return Some(domain.to_owned());
        };
        let expanded = spec.expand(&self.macros(domain, None)).ok()?;
        let name = truncate_domain(&expanded);
        name_problem(name).is_none().then(|| name.to_owned())
    }
}

/// The PTR names of the client, each validated (§5.5): asked once per evaluation.
struct PtrNames {
    dns: String,
    failed: bool,
    void: bool,
    hosts: Vec<HostStep>,
}

struct Evaluator<'a> {
    ctx: &'a Context<'a>,
    lookups: usize,
    void_lookups: usize,
    ptr: Option<PtrNames>,
}

impl Evaluator<'_> {
    /// Evaluates the record of `domain` (§4.3-§4.7): `check_host` itself, and each include and
    /// redirect of it.
    fn evaluate(&mut self, domain: String, via: Via) -> BoxFuture<'_, (RecordTrace, Decision)> {
        Box::pin(async move {
            let mut trace = RecordTrace::new(&domain, via);
            let decision = match self.fetch(&domain, &mut trace).await {
                Err(decision) => decision,
                Ok((text, record)) => {
                    self.evaluate_record(&domain, &text, &record, &mut trace)
                        .await
                }
            };
            trace.result = decision.result;
            (trace, decision)
        })
    }

    /// §4.3-§4.6: checks the name, fetches the TXT records, selects the one `v=spf1` record and
    /// parses it strictly.
    async fn fetch(
        &mut self,
        domain: &str,
        trace: &mut RecordTrace,
    ) -> Result<(String, Record), Decision> {
        if let Some(problem) = domain_problem(domain) {
            "invalid-name".clone_into(&mut trace.dns);
            return Err(Decision::stop(
                SpfResult::None,
                Reason::new(
                    ReasonKind::InvalidDomain,
                    domain,
                    None,
                    format!(
                        "`{domain}` is not a valid domain name ({problem}): check_host returns none (§4.3)"
                    ),
                ),
            ));
        }
        let answer = self.ctx.dns.txt(domain).await;
        trace.dns = answer.status();
        let records: Vec<String> = match &answer {
            Answer::Failed(Failure::InvalidName(why)) => {
                "invalid-name".clone_into(&mut trace.dns);
                return Err(Decision::stop(
                    SpfResult::None,
                    Reason::new(
                        ReasonKind::InvalidDomain,
                        domain,
                        None,
                        format!(
                            "`{domain}` cannot be asked about ({why}): check_host returns none (§4.3)"
                        ),
                    ),
                ));
            }
            Answer::Failed(failure) => {
                return Err(Decision::stop(
                    SpfResult::TempError,
                    Reason::new(
                        ReasonKind::DnsFailure,
                        domain,
                        None,
                        format!(
                            "the TXT query for {domain} failed ({}): the result is unknown, \
                             receivers return temperror (§4.4)",
                            failure.label()
                        ),
                    )
                    .name(domain),
                ));
            }
            Answer::NoData { .. } | Answer::NxDomain { .. } => {
                if trace.via != Via::Root
                    && let Some(reason) = self.void(domain, None, domain)
                {
                    return Err(Decision::stop(SpfResult::PermError, reason));
                }
                Vec::new()
            }
            Answer::Records { records, .. } => records
                .iter()
                .map(Txt::joined)
                .filter(|text| is_spf_record(text))
                .collect(),
        };
        trace.records.clone_from(&records);
        select_and_parse(domain, &answer, &records, trace).map_err(|decision| *decision)
    }

    /// §4.6.2, §4.7, §6.1: the directives in order, then `redirect=`, then neutral.
    async fn evaluate_record(
        &mut self,
        domain: &str,
        text: &str,
        record: &Record,
        trace: &mut RecordTrace,
    ) -> Decision {
        for (term, directive) in record.directives() {
            let (step, result) = self.directive(domain, term, directive).await;
            trace.terms.push(step);
            match result {
                TermResult::NoMatch => {}
                TermResult::Stop(result, reason) => return Decision::stop(result, reason),
                TermResult::Match(inner) => {
                    let result = SpfResult::of(directive.qualifier);
                    let exp = (result == SpfResult::Fail)
                        .then(|| record.exp())
                        .flatten()
                        .map(|(term, spec)| (domain.to_owned(), term.text.clone(), spec.clone()));
                    return Decision {
                        result,
                        matched: Some(Matched {
                            term: term.text.clone(),
                            domain: domain.to_owned(),
                            record: text.to_owned(),
                            inner,
                        }),
                        exp,
                        reason: None,
                    };
                }
            }
        }
        // No mechanism matched, and there is no `all` (it always matches).
        if let Some((term, spec)) = record.redirect() {
            let (step, decision) = self.redirect(domain, term, spec).await;
            trace.terms.push(step);
            return decision;
        }
        Decision {
            result: SpfResult::Neutral,
            matched: None,
            exp: None,
            reason: None,
        }
    }

    /// Counts a DNS-querying term; the eleventh is a permerror (§4.6.4).
    fn count_lookup(&mut self, domain: &str, term: &Term) -> Option<Reason> {
        self.lookups += 1;
        if self.lookups > LOOKUP_LIMIT {
            return Some(Reason::new(
                ReasonKind::LookupLimit,
                domain,
                Some(term),
                format!(
                    "`{}` in the record of {domain} is DNS-querying term number {}: check_host \
                     allows {LOOKUP_LIMIT} (include, a, mx, ptr, exists, redirect) and returns \
                     permerror (§4.6.4)",
                    term.text, self.lookups
                ),
            ));
        }
        None
    }

    /// Counts a void lookup; the third is a permerror (§4.6.4).
    fn void(&mut self, domain: &str, term: Option<&Term>, name: &str) -> Option<Reason> {
        self.void_lookups += 1;
        if self.void_lookups > VOID_LIMIT {
            let what = term.map_or_else(
                || format!("the SPF record of {domain}"),
                |t| format!("`{}` in the record of {domain}", t.text),
            );
            return Some(
                Reason::new(
                    ReasonKind::VoidLookupLimit,
                    domain,
                    term,
                    format!(
                        "{what} asked for {name}, which does not exist or has no such record: void \
                     lookup number {}, check_host allows {VOID_LIMIT} and returns permerror \
                     (§4.6.4)",
                        self.void_lookups
                    ),
                )
                .name(name),
            );
        }
        None
    }

    /// The target-name of a term (§4.8): its domain-spec expanded (§7.3) and cut to 253
    /// octets, or `<domain>`. `Err` says why no DNS query can be made for it.
    async fn target(&mut self, spec: Option<&MacroString>, domain: &str) -> Result<String, String> {
        let Some(spec) = spec else {
            return Ok(domain.to_owned());
        };
        let validated = if spec.letters().any(|l| l == MacroLetter::ValidatedDomain) {
            Some(self.validated_domain(domain).await)
        } else {
            None
        };
        let ctx = self.ctx.macros(domain, validated.as_deref());
        let expanded = spec
            .expand(&ctx)
            .map_err(|unresolved| format!("{unresolved} has no value"))?;
        let name = truncate_domain(&expanded);
        match name_problem(name) {
            Some(problem) => Err(format!(
                "`{expanded}` is not a name DNS can be asked about: {problem}"
            )),
            None => Ok(name.to_owned()),
        }
    }

    async fn directive(
        &mut self,
        domain: &str,
        term: &Term,
        directive: &Directive,
    ) -> (TermStep, TermResult) {
        let ip = self.ctx.ip;
        let mut step = TermStep::new(term, self.lookups);
        let result = match &directive.mechanism {
            Mechanism::All => TermResult::Match(Vec::new()),
            Mechanism::Ip4 { network, prefix } => {
                matches(in_network(ip, IpAddr::V4(*network), *prefix))
            }
            Mechanism::Ip6 { network, prefix } => {
                matches(in_network(ip, IpAddr::V6(*network), *prefix))
            }
            mechanism => {
                if let Some(reason) = self.count_lookup(domain, term) {
                    step.lookups = self.lookups;
                    step.outcome = Outcome::Error;
                    return (step, TermResult::Stop(SpfResult::PermError, reason));
                }
                step.lookups = self.lookups;
                match mechanism {
                    Mechanism::Include { domain: spec } => {
                        self.include(domain, term, spec, &mut step).await
                    }
                    Mechanism::A { domain: spec, cidr } => {
                        self.a(domain, term, spec.as_ref(), *cidr, &mut step).await
                    }
                    Mechanism::Mx { domain: spec, cidr } => {
                        self.mx(domain, term, spec.as_ref(), *cidr, &mut step).await
                    }
                    Mechanism::Ptr { domain: spec } => {
                        self.ptr_mechanism(domain, term, spec.as_ref(), &mut step)
                            .await
                    }
                    Mechanism::Exists { domain: spec } => {
                        self.exists(domain, term, spec, &mut step).await
                    }
                    Mechanism::All | Mechanism::Ip4 { .. } | Mechanism::Ip6 { .. } => {
                        TermResult::NoMatch
                    }
                }
            }
        };
        step.outcome = match &result {
            TermResult::Match(_) => Outcome::Match,
            TermResult::NoMatch => Outcome::NoMatch,
            TermResult::Stop(..) => Outcome::Error,
        };
        (step, result)
    }

    /// Records a void answer of a term: no match, or permerror past the limit.
    fn void_term(
        &mut self,
        domain: &str,
        term: &Term,
        name: &str,
        step: &mut TermStep,
    ) -> TermResult {
        step.void = true;
        match self.void(domain, Some(term), name) {
            None => TermResult::NoMatch,
            Some(reason) => TermResult::Stop(SpfResult::PermError, reason),
        }
    }

    /// §5.3: `a` matches when an address of the target is within the CIDR of the client.
    async fn a(
        &mut self,
        domain: &str,
        term: &Term,
        spec: Option<&MacroString>,
        cidr: DualCidr,
        step: &mut TermStep,
    ) -> TermResult {
        let target = match self.target(spec, domain).await {
            Ok(target) => target,
            Err(why) => return no_match(step, &why),
        };
        step.target = Some(target.clone());
        let answer = self.ctx.addresses(&target).await;
        step.dns = Some(answer.status());
        match &answer {
            Answer::Failed(Failure::InvalidName(why)) => no_match(step, &not_asked(why)),
            Answer::Failed(failure) => {
                dns_failure(domain, term, self.ctx.address_type(), &target, failure)
            }
            _ if answer.is_void() => self.void_term(domain, term, &target, step),
            _ => {
                step.addresses = answer.records().to_vec();
                let prefix = prefix_for(self.ctx.ip, cidr);
                matches(
                    step.addresses
                        .iter()
                        .any(|address| in_network(self.ctx.ip, *address, prefix)),
                )
            }
        }
    }

    /// §5.4: `mx` matches when an address of one of the target's MX hosts is within the CIDR.
    async fn mx(
        &mut self,
        domain: &str,
        term: &Term,
        spec: Option<&MacroString>,
        cidr: DualCidr,
        step: &mut TermStep,
    ) -> TermResult {
        let target = match self.target(spec, domain).await {
            Ok(target) => target,
            Err(why) => return no_match(step, &why),
        };
        step.target = Some(target.clone());
        let answer = self.ctx.dns.mx(&target).await;
        step.dns = Some(answer.status());
        match &answer {
            Answer::Failed(Failure::InvalidName(why)) => return no_match(step, &not_asked(why)),
            Answer::Failed(failure) => {
                return dns_failure(domain, term, "MX", &target, failure);
            }
            _ if answer.is_void() => return self.void_term(domain, term, &target, step),
            _ => {}
        }
        let records = answer.records();
        if records.len() > MX_LIMIT {
            step.note = Some(format!("{} MX records", records.len()));
            return TermResult::Stop(
                SpfResult::PermError,
                Reason::new(
                    ReasonKind::MxLimit,
                    domain,
                    Some(term),
                    format!(
                        "{target} has {} MX records: `{}` may look at {MX_LIMIT} at most, and \
                         check_host returns permerror (§4.6.4)",
                        records.len(),
                        term.text
                    ),
                )
                .name(&target),
            );
        }
        // A null MX (RFC 7505) names no host.
        let hosts: Vec<_> = records
            .iter()
            .filter(|mx| mx.exchange != "." && !mx.exchange.is_empty())
            .collect();
        let ctx = self.ctx;
        let answers = join_all(hosts.iter().map(|mx| ctx.addresses(&mx.exchange))).await;
        let prefix = prefix_for(ctx.ip, cidr);
        let mut result = TermResult::NoMatch;
        // In preference order, as a sequential evaluation would meet them.
        for (mx, answer) in hosts.iter().zip(answers) {
            let addresses = answer.records().to_vec();
            let matched = addresses.iter().any(|a| in_network(ctx.ip, *a, prefix));
            step.hosts.push(HostStep {
                name: mx.exchange.clone(),
                preference: Some(mx.preference),
                dns: answer.status(),
                addresses,
                matched,
            });
            if !matches!(result, TermResult::NoMatch) {
                continue;
            }
            match &answer {
                Answer::Failed(Failure::InvalidName(_)) => {}
                Answer::Failed(failure) => {
                    result = dns_failure(domain, term, ctx.address_type(), &mx.exchange, failure);
                }
                _ if matched => result = TermResult::Match(Vec::new()),
                _ => {}
            }
        }
        result
    }

    /// The client's PTR names (at most [`PTR_LIMIT`]), each validated by a forward lookup
    /// (§5.5): asked once, shared by `ptr` terms and `%{p}`.
    async fn ptr_names(&mut self) -> &PtrNames {
        if self.ptr.is_none() {
            let ctx = self.ctx;
            let answer = ctx.dns.ptr(ctx.ip).await;
            let names: Vec<String> = answer.records().iter().take(PTR_LIMIT).cloned().collect();
            let forward = join_all(names.iter().map(|name| ctx.addresses(name))).await;
            let hosts = names
                .into_iter()
                .zip(forward)
                .map(|(name, answer)| HostStep {
                    // A name whose forward lookup fails is skipped (§5.5), not an error.
                    matched: answer.records().contains(&ctx.ip),
                    dns: answer.status(),
                    addresses: answer.records().to_vec(),
                    name,
                    preference: None,
                })
                .collect();
            self.ptr = Some(PtrNames {
                dns: answer.status(),
                failed: answer.failure().is_some(),
                void: answer.is_void(),
                hosts,
            });
        }
        self.ptr.as_ref().expect("set above")
    }

    /// `%{p}` (§7.3): the validated name of the client preferred for `domain`.
    async fn validated_domain(&mut self, domain: &str) -> String {
        let names = self.ptr_names().await;
        let validated: Vec<String> = names
            .hosts
            .iter()
            .filter(|h| h.matched)
            .map(|h| h.name.clone())
            .collect();
        choose_validated(&validated, domain).to_owned()
    }

    /// §5.5: `ptr` matches when a validated PTR name of the client is the target or below it.
    /// A failed PTR query is no match, not an error.
    async fn ptr_mechanism(
        &mut self,
        domain: &str,
        term: &Term,
        spec: Option<&MacroString>,
        step: &mut TermStep,
    ) -> TermResult {
        let target = match self.target(spec, domain).await {
            Ok(target) => target,
            Err(why) => return no_match(step, &why),
        };
        step.target = Some(target.clone());
        let (dns, failed, void, hosts) = {
            let names = self.ptr_names().await;
            (
                names.dns.clone(),
                names.failed,
                names.void,
                names.hosts.clone(),
            )
        };
        step.dns = Some(dns);
        if failed {
            return no_match(step, "the PTR query failed: `ptr` does not match (§5.5)");
        }
        if void {
            let reverse = reverse_name(self.ctx.ip);
            return self.void_term(domain, term, &reverse, step);
        }
        step.hosts = hosts
            .into_iter()
            .map(|mut host| {
                host.matched = host.matched && is_within(&host.name, &target);
                host
            })
            .collect();
        matches(step.hosts.iter().any(|h| h.matched))
    }

    /// §5.7: `exists` matches when the target has an A record, whatever the client's family.
    async fn exists(
        &mut self,
        domain: &str,
        term: &Term,
        spec: &MacroString,
        step: &mut TermStep,
    ) -> TermResult {
        let target = match self.target(Some(spec), domain).await {
            Ok(target) => target,
            Err(why) => return no_match(step, &why),
        };
        step.target = Some(target.clone());
        let answer = self.ctx.dns.a(&target).await;
        step.dns = Some(answer.status());
        match &answer {
            Answer::Failed(Failure::InvalidName(why)) => no_match(step, &not_asked(why)),
            Answer::Failed(failure) => dns_failure(domain, term, "A", &target, failure),
            _ if answer.is_void() => self.void_term(domain, term, &target, step),
            _ => {
                step.addresses = answer.records().iter().copied().map(IpAddr::V4).collect();
                TermResult::Match(Vec::new())
            }
        }
    }

    /// §5.2: `include` evaluates the target's record and maps its result by the table.
    async fn include(
        &mut self,
        domain: &str,
        term: &Term,
        spec: &MacroString,
        step: &mut TermStep,
    ) -> TermResult {
        let target = match self.target(Some(spec), domain).await {
            Ok(target) => target,
            Err(why) => {
                step.note = Some(why.clone());
                return TermResult::Stop(
                    SpfResult::PermError,
                    Reason::new(
                        ReasonKind::IncludeNone,
                        domain,
                        Some(term),
                        format!(
                            "`{}` in the record of {domain}: {why}; check_host returns permerror (§5.2)",
                            term.text
                        ),
                    ),
                );
            }
        };
        step.target = Some(target.clone());
        let (child, decision) = self.evaluate(target.clone(), Via::Include).await;
        step.dns = Some(child.dns.clone());
        step.record = Some(Box::new(child));
        match include_mapping(decision.result) {
            IncludeMapping::Match => TermResult::Match(inner_terms(decision.matched)),
            IncludeMapping::NoMatch => TermResult::NoMatch,
            IncludeMapping::Stop(result) => match (decision.result, decision.reason) {
                (SpfResult::None, reason) => {
                    let why = reason.map_or_else(|| "no SPF record".to_owned(), |r| r.message);
                    TermResult::Stop(
                        result,
                        Reason::new(
                            ReasonKind::IncludeNone,
                            domain,
                            Some(term),
                            format!(
                                "`{}` in the record of {domain} includes a domain without an SPF \
                                 record ({why}): check_host returns permerror (§5.2)",
                                term.text
                            ),
                        )
                        .name(&target),
                    )
                }
                (_, Some(reason)) => TermResult::Stop(result, reason),
                (_, None) => TermResult::Stop(
                    result,
                    Reason::new(
                        ReasonKind::IncludeNone,
                        domain,
                        Some(term),
                        format!("`{}` failed", term.text),
                    ),
                ),
            },
        }
    }

    /// §6.1: `redirect=` replaces the result with that of the target's record; a target
    /// without one is a permerror.
    async fn redirect(
        &mut self,
        domain: &str,
        term: &Term,
        spec: &MacroString,
    ) -> (TermStep, Decision) {
        let mut step = TermStep::new(term, self.lookups);
        let error = |mut step: TermStep, reason: Reason| {
            step.outcome = Outcome::Error;
            (step, Decision::stop(SpfResult::PermError, reason))
        };
        if let Some(reason) = self.count_lookup(domain, term) {
            step.lookups = self.lookups;
            return error(step, reason);
        }
        step.lookups = self.lookups;
        let target = match self.target(Some(spec), domain).await {
            Ok(target) => target,
            Err(why) => {
                let message = format!(
                    "`{}` in the record of {domain}: {why}; check_host returns permerror (§6.1)",
                    term.text
                );
                step.note = Some(why);
                let reason = Reason::new(ReasonKind::RedirectNone, domain, Some(term), message);
                return error(step, reason);
            }
        };
        step.target = Some(target.clone());
        let (child, decision) = self.evaluate(target.clone(), Via::Redirect).await;
        step.dns = Some(child.dns.clone());
        step.record = Some(Box::new(child));
        if decision.result == SpfResult::None {
            let why = decision
                .reason
                .map_or_else(|| "no SPF record".to_owned(), |r| r.message);
            let reason = Reason::new(
                ReasonKind::RedirectNone,
                domain,
                Some(term),
                format!(
                    "`{}` in the record of {domain} leads to a domain without an SPF record \
                     ({why}): check_host returns permerror (§6.1)",
                    term.text
                ),
            )
            .name(&target);
            return error(step, reason);
        }
        step.outcome = if decision.reason.is_some() {
            Outcome::Error
        } else {
            Outcome::Redirected
        };
        (step, decision)
    }

    /// §6.2: the explanation of a fail, from the TXT record `exp=` names. Any problem (DNS,
    /// not exactly one record, a macro error, bytes that are not ASCII) means no explanation.
    async fn explanation(
        &mut self,
        domain: &str,
        modifier: &str,
        spec: &MacroString,
    ) -> (Option<String>, ExpTrace) {
        let mut trace = ExpTrace {
            modifier: modifier.to_owned(),
            domain: domain.to_owned(),
            ..ExpTrace::default()
        };
        let target = match self.target(Some(spec), domain).await {
            Ok(target) => target,
            Err(why) => {
                trace.note = Some(why);
                return (None, trace);
            }
        };
        trace.target = Some(target.clone());
        let answer = self.ctx.dns.txt(&target).await;
        trace.dns = Some(answer.status());
        let [txt] = answer.records() else {
            trace.note = Some(match answer.records().len() {
                0 => "no TXT record there: no explanation (§6.2)".to_owned(),
                n => format!("{n} TXT records there, not one: no explanation (§6.2)"),
            });
            return (None, trace);
        };
        let bytes = txt.joined_bytes();
        trace.text = Some(String::from_utf8_lossy(&bytes).into_owned());
        let Ok(fetched) = std::str::from_utf8(&bytes) else {
            trace.note = Some("the text is not ASCII: no explanation (§6.2)".to_owned());
            return (None, trace);
        };
        let validated = if needs_validated(fetched) {
            Some(self.validated_domain(domain).await)
        } else {
            None
        };
        let ctx = self.ctx.macros(domain, validated.as_deref());
        match expand_explanation(fetched, &ctx) {
            Ok(explanation) => (Some(explanation), trace),
            Err(why) => {
                trace.note = Some(format!("{why}: no explanation (§6.2)"));
                (None, trace)
            }
        }
    }
}

/// §4.5, §4.6: the one `v=spf1` record among `records`, parsed strictly.
fn select_and_parse(
    domain: &str,
    answer: &Answer<Txt>,
    records: &[String],
    trace: &mut RecordTrace,
) -> Result<(String, Record), Box<Decision>> {
    let text = match records {
        [] => {
            let found = match answer {
                Answer::NxDomain { .. } => "the name does not exist (NXDOMAIN)",
                Answer::Records { .. } => "it has TXT records, none of them `v=spf1`",
                _ => "it has no TXT record (NODATA)",
            };
            return Err(Box::new(Decision::stop(
                SpfResult::None,
                Reason::new(
                    ReasonKind::NoRecord,
                    domain,
                    None,
                    format!("no SPF record at {domain}: {found} (§4.4, §4.5)"),
                )
                .name(domain),
            )));
        }
        [one] => one.clone(),
        many => {
            return Err(Box::new(Decision::stop(
                SpfResult::PermError,
                Reason::new(
                    ReasonKind::MultipleRecords,
                    domain,
                    None,
                    format!(
                        "{domain} has {} `v=spf1` records: there must be exactly one (§4.5)",
                        many.len()
                    ),
                )
                .name(domain),
            )));
        }
    };
    trace.record = Some(text.clone());
    match parse(&text) {
        Ok(record) => Ok((text, record)),
        Err(errors) => {
            trace.diagnostics.clone_from(&errors);
            let listed: Vec<String> = errors.iter().map(ToString::to_string).collect();
            let mut reason = Reason::new(
                ReasonKind::Syntax,
                domain,
                None,
                format!(
                    "the SPF record of {domain} does not parse: {} (§4.6)",
                    listed.join("; ")
                ),
            );
            reason.term = errors.first().map(|e| e.term.clone());
            reason.errors = errors;
            Err(Box::new(Decision::stop(SpfResult::PermError, reason)))
        }
    }
}

/// A failed query of a term: temperror (§5).
fn dns_failure(
    domain: &str,
    term: &Term,
    record_type: &str,
    name: &str,
    failure: &Failure,
) -> TermResult {
    TermResult::Stop(
        SpfResult::TempError,
        Reason::new(
            ReasonKind::DnsFailure,
            domain,
            Some(term),
            format!(
                "the {record_type} query for {name} (`{}` in the record of {domain}) failed \
                 ({}): the result is unknown, receivers return temperror (§5)",
                term.text,
                failure.label()
            ),
        )
        .name(name),
    )
}

/// Whether an explanation text uses `%{p}`, which needs PTR lookups before expansion.
fn needs_validated(text: &str) -> bool {
    text.split(' ').any(|piece| {
        parse_macro_string(piece, MacroUse::Any)
            .is_ok_and(|s| s.letters().any(|l| l == MacroLetter::ValidatedDomain))
    })
}

fn matches(yes: bool) -> TermResult {
    if yes {
        TermResult::Match(Vec::new())
    } else {
        TermResult::NoMatch
    }
}

fn no_match(step: &mut TermStep, why: &str) -> TermResult {
    step.note = Some(format!("{why}: no match"));
    TermResult::NoMatch
}

fn not_asked(why: &str) -> String {
    format!("not asked: the DNS layer cannot send this name ({why})")
}

/// The chain of matched terms inside an include, outermost first.
fn inner_terms(matched: Option<Matched>) -> Vec<TermAt> {
    matched.map_or_else(Vec::new, |m| {
        let mut inner = vec![TermAt {
            term: m.term,
            domain: m.domain,
        }];
        inner.extend(m.inner);
        inner
    })
}

/// The reverse-lookup name of an address, for evidence.
fn reverse_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            format!("{d}.{c}.{b}.{a}.in-addr.arpa")
        }
        IpAddr::V6(v6) => {
            let mut out = String::with_capacity(73);
            for byte in v6.octets().iter().rev() {
                for nibble in [byte & 0x0f, byte >> 4] {
                    out.push(char::from_digit(u32::from(nibble), 16).unwrap_or('0'));
                    out.push('.');
                }
            }
            out.push_str("ip6.arpa");
            out
        }
    }
}

fn take(budget: &AtomicUsize) -> bool {
    budget.fetch_add(1, Ordering::Relaxed) < PREFETCH_BUDGET
}

/// Sends the questions the record of `domain` and its includes will ask, all at once, so that
/// the sequential evaluation finds them answered (see the module comment). Follows only what
/// can be expanded without PTR lookups; bounded by [`PREFETCH_BUDGET`] questions.
fn prefetch<'a>(
    ctx: &'a Context<'a>,
    domain: String,
    depth: usize,
    budget: &'a AtomicUsize,
) -> BoxFuture<'a, ()> {
    Box::pin(async move {
        if depth > PREFETCH_DEPTH || domain_problem(&domain).is_some() || !take(budget) {
            return;
        }
        let answer = ctx.dns.txt(&domain).await;
        let texts: Vec<String> = answer
            .records()
            .iter()
            .map(Txt::joined)
            .filter(|text| is_spf_record(text))
            .collect();
        let [text] = texts.as_slice() else {
            return;
        };
        let Ok(record) = parse(text) else {
            return;
        };
        let mut work: Vec<BoxFuture<'a, ()>> = Vec::new();
        let terms = record
            .directives()
            .filter(|(_, d)| d.mechanism.queries_dns())
            .take(LOOKUP_LIMIT);
        for (_, directive) in terms {
            match &directive.mechanism {
                Mechanism::Include { domain: spec } => {
                    if let Some(target) = ctx.prefetch_target(Some(spec), &domain) {
                        work.push(prefetch(ctx, target, depth + 1, budget));
                    }
                }
                Mechanism::A { domain: spec, .. } => {
                    if let Some(target) = ctx.prefetch_target(spec.as_ref(), &domain)
                        && take(budget)
                    {
                        work.push(Box::pin(async move {
                            let _ = ctx.addresses(&target).await;
                        }));
                    }
                }
                Mechanism::Mx { domain: spec, .. } => {
                    if let Some(target) = ctx.prefetch_target(spec.as_ref(), &domain)
                        && take(budget)
                    {
                        work.push(Box::pin(async move {
                            let answer = ctx.dns.mx(&target).await;
                            let hosts: Vec<String> = answer
                                .records()
                                .iter()
                                .take(MX_LIMIT)
                                .filter(|mx| mx.exchange != "." && !mx.exchange.is_empty())
                                .map(|mx| mx.exchange.clone())
                                .filter(|_| take(budget))
                                .collect();
                            join_all(hosts.iter().map(|host| ctx.addresses(host))).await;
                        }));
                    }
                }
                Mechanism::Exists { domain: spec } => {
                    if let Some(target) = ctx.prefetch_target(Some(spec), &domain)
                        && take(budget)
                    {
                        work.push(Box::pin(async move {
                            let _ = ctx.dns.a(&target).await;
                        }));
                    }
                }
                _ => {}
            }
        }
        if record.all().is_none()
            && let Some((_, spec)) = record.redirect()
            && let Some(target) = ctx.prefetch_target(Some(spec), &domain)
        {
            work.push(prefetch(ctx, target, depth + 1, budget));
        }
        join_all(work).await;
    })
}

/// The authorization term for `ip`: `ip4:<ip>` or `ip6:<ip>`.
pub fn ip_term(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => format!("ip4:{v4}"),
        IpAddr::V6(v6) => format!("ip6:{v6}"),
    }
}

/// `record` with `term` added where it takes effect: before the first `all` (nothing after it
/// is evaluated), else before `redirect=` (for readability: mechanisms are always evaluated
/// first), else at the end.
pub fn add_term(record: &str, term: &str) -> String {
    let mut terms: Vec<&str> = record.split(' ').filter(|t| !t.is_empty()).collect();
    let is_all = |t: &&str| {
        t.trim_start_matches(['+', '-', '~', '?'])
            .eq_ignore_ascii_case("all")
    };
    let is_redirect = |t: &&str| {
        t.get(..9)
            .is_some_and(|name| name.eq_ignore_ascii_case("redirect="))
    };
    let at = terms
        .iter()
        .position(is_all)
        .or_else(|| terms.iter().position(is_redirect))
        .unwrap_or(terms.len())
        .max(1);
    terms.insert(at.min(terms.len()), term);
    terms.join(" ")
}

/// The name whose lookup made an evaluation temperror (the domain evaluated when not known).
fn failed_name(evaluation: &Evaluation) -> &str {
    evaluation
        .reason
        .as_ref()
        .and_then(|r| r.name.as_deref())
        .unwrap_or(&evaluation.domain)
}

/// The `spf.ip-not-authorized` finding for a sending IP whose evaluation is not pass; for a
/// temperror, `spf.lookup-failed` instead (the result is unknown, not a refusal). `None` for a
/// pass.
pub fn not_authorized_finding(
    domain: &str,
    ip: IpAddr,
    evaluation: &Evaluation,
) -> Option<Finding> {
    let ip = ip.to_canonical();
    let term = ip_term(ip);
    let result = evaluation.result;
    let at = &evaluation.domain;
    let reason = evaluation.reason.as_ref().map(|r| r.message.as_str());
    let finding = match result {
        SpfResult::Pass => return None,
        SpfResult::TempError => Finding::new(
            Code::SpfLookupFailed,
            format!(
                "The SPF result of {ip} for {domain} is unknown (temperror): {}",
                reason.unwrap_or("a DNS query failed")
            ),
        )
        .fix(format!(
            "Make the name servers of {} answer, then check {ip} again",
            failed_name(evaluation)
        ))
        .evidence("name", failed_name(evaluation)),
        SpfResult::None => Finding::new(
            Code::SpfIpNotAuthorized,
            format!(
                "{ip} is not authorized to send for {domain}: SPF result none ({})",
                reason.unwrap_or("no SPF record")
            ),
        )
        .fix(format!(
            "Publish one TXT record at {at}: \"v=spf1 {term} ~all\" (add the include: of each \
             provider that sends for {domain}, and `-all` once every sender is listed)"
        )),
        SpfResult::PermError => Finding::new(
            Code::SpfIpNotAuthorized,
            format!(
                "{ip} is not authorized to send for {domain}: SPF result permerror ({})",
                reason.unwrap_or("the record cannot be evaluated")
            ),
        )
        .fix(permerror_fix(evaluation, &term)),
        SpfResult::Fail | SpfResult::SoftFail | SpfResult::Neutral => {
            let decided = evaluation.matched.as_ref().map_or_else(
                || "no term matched, and the default result is neutral (§4.7)".to_owned(),
                |m| format!("`{}` in the record of {} matched", m.term, m.domain),
            );
            let fixed = evaluation.record().map_or_else(
                || format!("v=spf1 {term} ~all"),
                |record| add_term(record, &term),
            );
            Finding::new(
                Code::SpfIpNotAuthorized,
                format!(
                    "{ip} is not authorized to send for {domain}: SPF result {result} ({decided})"
                ),
            )
            .fix(format!(
                "Add `{term}` to the SPF record at {at}: \"{fixed}\"; or, if a provider sends \
                 from {ip}, add the include: it documents instead"
            ))
        }
    };
    Some(
        finding
            .evidence("ip", ip)
            .evidence("domain", at)
            .evidence("result", result)
            .evidence("matched", &evaluation.matched)
            .evidence("record", evaluation.record())
            .evidence("explanation", &evaluation.explanation)
            .evidence("reason", &evaluation.reason)
            .evidence("lookups", evaluation.lookups)
            .evidence("void_lookups", evaluation.void_lookups),
    )
}

/// What to change for a permerror, by its cause.
fn permerror_fix(evaluation: &Evaluation, term: &str) -> String {
    let at = &evaluation.domain;
    let Some(reason) = &evaluation.reason else {
        return format!("Correct the SPF record at {at} so that it evaluates, with `{term}` in it");
    };
    let owner = &reason.domain;
    match reason.kind {
        ReasonKind::Syntax => {
            let fixes: Vec<String> = reason
                .errors
                .iter()
                .map(|e| match &e.suggestion {
                    Some(s) => format!("write `{s}` instead of `{}`", e.term),
                    None => format!("remove or rewrite `{}` ({})", e.term, e.reason),
                })
                .collect();
            format!(
                "In the SPF record at {owner}: {}; then make sure `{term}` is in the record at {at}",
                fixes.join("; ")
            )
        }
        ReasonKind::MultipleRecords => format!(
            "Merge the `v=spf1` records at {owner} into one, with `{term}` in it, and delete the others"
        ),
        ReasonKind::LookupLimit => format!(
            "Cut the DNS-querying terms (include, a, mx, ptr, exists, redirect) of the SPF tree of \
             {at} to {LOOKUP_LIMIT} or fewer: replace `a`/`mx` with ip4:/ip6: ranges (such as \
             `{term}`) and remove includes of providers no longer used"
        ),
        ReasonKind::VoidLookupLimit => format!(
            "Remove the terms of the record at {owner} that name domains which do not exist{}",
            reason
                .name
                .as_ref()
                .map(|n| format!(" (such as {n})"))
                .unwrap_or_default()
        ),
        ReasonKind::MxLimit => format!(
            "Replace `{}` in the record at {owner} with the ip4:/ip6: ranges of the mail servers",
            reason.term.as_deref().unwrap_or("mx")
        ),
        ReasonKind::IncludeNone | ReasonKind::RedirectNone => format!(
            "Remove `{}` from the record at {owner}, or replace it with the SPF domain the \
             provider documents today",
            reason.term.as_deref().unwrap_or("the include")
        ),
        ReasonKind::InvalidDomain | ReasonKind::NoRecord | ReasonKind::DnsFailure => {
            format!("Correct the SPF record at {owner}: {}", reason.message)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(text: &str) -> IpAddr {
        IpAddr::V4(text.parse().unwrap())
    }

    fn v6(text: &str) -> IpAddr {
        IpAddr::V6(text.parse().unwrap())
    }

    #[test]
    fn cidr_matching_covers_the_edges() {
        assert!(in_network(v4("192.0.2.5"), v4("192.0.2.5"), 32));
        assert!(!in_network(v4("192.0.2.6"), v4("192.0.2.5"), 32));
        assert!(in_network(v4("192.0.2.200"), v4("192.0.2.0"), 24));
        assert!(!in_network(v4("192.0.3.1"), v4("192.0.2.0"), 24));
        assert!(in_network(v4("203.0.113.9"), v4("1.1.1.1"), 0));
        assert!(in_network(v6("2001:db8::1"), v6("2001:db8::"), 32));
        assert!(!in_network(v6("2001:db9::1"), v6("2001:db8::"), 32));
        assert!(in_network(
            v6("cafe:babe:8000::"),
            v6("cafe:babe:8000::"),
            33
        ));
        assert!(!in_network(v6("cafe:babe::1"), v6("cafe:babe:8000::"), 33));
        assert!(in_network(v6("1234::1"), v6("::1.1.1.1"), 0));
    }

    #[test]
    fn families_never_match_each_other() {
        assert!(!in_network(v4("1.2.3.4"), v6("::1.1.1.1"), 0));
        assert!(!in_network(v6("1234::1"), v4("1.1.1.1"), 0));
        // Unmapped here: check_host maps the client before any comparison.
        assert!(!in_network(v6("::ffff:1.2.3.4"), v4("1.2.3.4"), 32));
    }

    #[test]
    fn an_ipv4_mapped_client_is_compared_as_ipv4() {
        let mapped = v6("::ffff:1.2.3.4").to_canonical();
        assert_eq!(mapped, v4("1.2.3.4"));
        assert!(in_network(mapped, v4("1.2.3.0"), 24));
        assert_eq!(
            prefix_for(
                mapped,
                DualCidr {
                    ip4: Some(24),
                    ip6: Some(0)
                }
            ),
            24
        );
        assert_eq!(
            prefix_for(
                v6("1234::1"),
                DualCidr {
                    ip4: Some(24),
                    ip6: None
                }
            ),
            128
        );
        assert_eq!(ip_term(v6("::ffff:192.0.2.9")), "ip4:192.0.2.9");
        assert_eq!(ip_term(v6("2001:db8::9")), "ip6:2001:db8::9");
    }

    #[test]
    fn include_results_map_by_the_section_5_2_table() {
        assert_eq!(include_mapping(SpfResult::Pass), IncludeMapping::Match);
        for no in [SpfResult::Fail, SpfResult::SoftFail, SpfResult::Neutral] {
            assert_eq!(include_mapping(no), IncludeMapping::NoMatch, "{no}");
        }
        assert_eq!(
            include_mapping(SpfResult::TempError),
            IncludeMapping::Stop(SpfResult::TempError)
        );
        assert_eq!(
            include_mapping(SpfResult::PermError),
            IncludeMapping::Stop(SpfResult::PermError)
        );
        assert_eq!(
            include_mapping(SpfResult::None),
            IncludeMapping::Stop(SpfResult::PermError)
        );
    }

    #[test]
    fn results_serialize_as_rfc_7208_spells_them() {
        let all = [
            SpfResult::Pass,
            SpfResult::Fail,
            SpfResult::SoftFail,
            SpfResult::Neutral,
            SpfResult::None,
            SpfResult::PermError,
            SpfResult::TempError,
        ];
        for result in all {
            assert_eq!(
                serde_json::to_value(result).unwrap(),
                serde_json::Value::String(result.as_str().to_owned())
            );
        }
        assert_eq!(SpfResult::SoftFail.as_str(), "softfail");
        assert_eq!(SpfResult::of(Qualifier::Neutral), SpfResult::Neutral);
    }

    #[test]
    fn initial_domains_are_checked_as_section_4_3_says() {
        assert_eq!(domain_problem("example.com"), None);
        assert_eq!(domain_problem("_spf.example.com."), None);
        assert_eq!(
            domain_problem(&format!("{}.example.com", "a".repeat(63))),
            None
        );
        for bad in [
            "",
            "A2345678",
            "[1.2.3.5]",
            "1.2.3.5",
            "a...example.com",
            &format!("{}.example.com", "a".repeat(64)),
        ] {
            assert!(domain_problem(bad).is_some(), "{bad} accepted");
        }
    }

    #[test]
    fn the_sender_gets_postmaster_where_its_local_part_is_missing() {
        assert_eq!(
            normalize_sender("@example.net", "example.net"),
            "postmaster@example.net"
        );
        assert_eq!(
            normalize_sender("", "example.net"),
            "postmaster@example.net"
        );
        assert_eq!(
            normalize_sender("example.net", "example.net"),
            "postmaster@example.net"
        );
        assert_eq!(normalize_sender("a b@example.net", "x"), "a b@example.net");
        assert_eq!(
            mail_from_identity("", "mail.example.com"),
            (
                "mail.example.com".to_owned(),
                "postmaster@mail.example.com".to_owned()
            )
        );
        assert_eq!(
            mail_from_identity("<joe@example.com>", "h.example.org"),
            ("example.com".to_owned(), "joe@example.com".to_owned())
        );
        assert_eq!(
            mail_from_identity("@example.net", "h"),
            (
                "example.net".to_owned(),
                "postmaster@example.net".to_owned()
            )
        );
    }

    #[test]
    fn the_validated_name_prefers_the_domain_then_its_subdomains() {
        let names = vec!["mx.example.com".to_owned(), "mx.e7.example.com".to_owned()];
        assert_eq!(
            choose_validated(&names, "e7.example.com"),
            "mx.e7.example.com"
        );
        assert_eq!(choose_validated(&names, "example.org"), "mx.example.com");
        assert_eq!(choose_validated(&names, "mx.example.com"), "mx.example.com");
        assert_eq!(choose_validated(&[], "example.com"), "unknown");
        assert!(is_within("mail.Example.com", "example.COM"));
        assert!(is_within("example.com.", "example.com"));
        assert!(!is_within("badexample.com", "example.com"));
    }

    #[test]
    fn explanations_keep_spaces_and_expand_every_letter() {
        let ctx = MacroContext {
            sender: Some("~jack&jill=up-a_b3.c@e8.example.com"),
            ip: Some(v4("192.168.218.40")),
            helo: Some("msgbas2x.cos.example.com"),
            domain: "e8.example.com",
            validated_domain: None,
            receiver: Some("unknown"),
            timestamp: Some(0),
        };
        assert_eq!(
            expand_explanation("Connections from %{c} not  authorized.", &ctx).unwrap(),
            "Connections from 192.168.218.40 not  authorized."
        );
        assert_eq!(
            expand_explanation("http://example.com/why.html?l=%{L}", &ctx).unwrap(),
            "http://example.com/why.html?l=~jack%26jill%3Dup-a_b3.c"
        );
        assert!(expand_explanation("The %{x}-files.", &ctx).is_err());
        assert!(expand_explanation("\u{ef}\u{bb}\u{bf}Explanation", &ctx).is_err());
        assert!(needs_validated("connect from %{p}"));
        assert!(!needs_validated("connect from %{i}"));
    }

    #[test]
    fn the_authorizing_term_goes_before_all_or_redirect() {
        assert_eq!(
            add_term("v=spf1 mx -all", "ip4:192.0.2.9"),
            "v=spf1 mx ip4:192.0.2.9 -all"
        );
        assert_eq!(
            add_term("v=spf1  include:_spf.example.com ~ALL ", "ip6:2001:db8::9"),
            "v=spf1 include:_spf.example.com ip6:2001:db8::9 ~ALL"
        );
        assert_eq!(
            add_term("v=spf1 redirect=_spf.example.com", "ip4:192.0.2.9"),
            "v=spf1 ip4:192.0.2.9 redirect=_spf.example.com"
        );
        assert_eq!(
            add_term("v=spf1 a", "ip4:192.0.2.9"),
            "v=spf1 a ip4:192.0.2.9"
        );
        assert_eq!(add_term("v=spf1", "ip4:192.0.2.9"), "v=spf1 ip4:192.0.2.9");
    }

    #[test]
    fn reverse_names_are_the_ptr_query_names() {
        assert_eq!(reverse_name(v4("192.0.2.4")), "4.2.0.192.in-addr.arpa");
        assert!(reverse_name(v6("2001:db8::1")).starts_with("1.0.0.0."));
        assert!(reverse_name(v6("2001:db8::1")).ends_with("8.b.d.0.1.0.0.2.ip6.arpa"));
    }

    fn evaluation(result: SpfResult, record: &str, matched: Option<&str>) -> Evaluation {
        let mut trace = RecordTrace::new("example.com", Via::Root);
        trace.dns = "records".to_owned();
        trace.record = Some(record.to_owned());
        trace.result = result;
        Evaluation {
            ip: v4("192.0.2.9"),
            domain: "example.com".to_owned(),
            sender: "postmaster@example.com".to_owned(),
            helo: None,
            result,
            matched: matched.map(|term| Matched {
                term: term.to_owned(),
                domain: "example.com".to_owned(),
                record: record.to_owned(),
                inner: Vec::new(),
            }),
            explanation: None,
            exp: None,
            lookups: 1,
            void_lookups: 0,
            reason: None,
            trace,
        }
    }

    #[test]
    fn a_fail_names_the_ip_the_term_and_the_corrected_record() {
        let ip = v4("192.0.2.9");
        assert!(
            not_authorized_finding(
                "example.com",
                ip,
                &evaluation(SpfResult::Pass, "v=spf1 +all", Some("+all"))
            )
            .is_none()
        );
        let finding = not_authorized_finding(
            "example.com",
            ip,
            &evaluation(SpfResult::Fail, "v=spf1 mx -all", Some("-all")),
        )
        .expect("a finding for fail");
        assert_eq!(finding.code, Code::SpfIpNotAuthorized);
        assert_eq!(finding.severity, crate::finding::Severity::Error);
        assert!(finding.message.contains("192.0.2.9"), "{}", finding.message);
        assert!(finding.message.contains("fail"), "{}", finding.message);
        assert!(finding.message.contains("`-all`"), "{}", finding.message);
        let fix = finding.fix.as_deref().unwrap();
        assert!(fix.contains("\"v=spf1 mx ip4:192.0.2.9 -all\""), "{fix}");
        assert_eq!(finding.evidence["result"], "fail");
        assert_eq!(finding.evidence["record"], "v=spf1 mx -all");
        assert_eq!(finding.evidence["matched"]["term"], "-all");
    }

    #[test]
    fn neutral_none_and_permerror_are_not_authorized_but_temperror_is_unknown() {
        let ip = v6("::ffff:192.0.2.9");
        let neutral = not_authorized_finding(
            "example.com",
            ip,
            &evaluation(SpfResult::Neutral, "v=spf1 mx", None),
        )
        .unwrap();
        assert!(
            neutral.message.contains("default result is neutral"),
            "{}",
            neutral.message
        );
        assert!(neutral.fix.unwrap().contains("\"v=spf1 mx ip4:192.0.2.9\""));

        let mut none = evaluation(SpfResult::None, "", None);
        none.trace.record = None;
        let none = not_authorized_finding("example.com", ip, &none).unwrap();
        assert_eq!(none.code, Code::SpfIpNotAuthorized);
        assert!(none.fix.unwrap().contains("\"v=spf1 ip4:192.0.2.9 ~all\""));

        let mut perm = evaluation(SpfResult::PermError, "v=spf1 -all.", None);
        let mut reason = Reason::new(ReasonKind::Syntax, "example.com", None, "bad".to_owned());
        reason.errors = crate::spf::record::parse("v=spf1 -all.").unwrap_err();
        perm.reason = Some(reason);
        let perm = not_authorized_finding("example.com", ip, &perm).unwrap();
        assert_eq!(perm.code, Code::SpfIpNotAuthorized);
        assert!(
            perm.fix
                .unwrap()
                .contains("write `-all` instead of `-all.`")
        );

        let mut temp = evaluation(SpfResult::TempError, "v=spf1 a:x.example.com -all", None);
        temp.reason = Some(
            Reason::new(
                ReasonKind::DnsFailure,
                "example.com",
                None,
                "timeout".to_owned(),
            )
            .name("x.example.com"),
        );
        let temp = not_authorized_finding("example.com", ip, &temp).unwrap();
        assert_eq!(temp.code, Code::SpfLookupFailed);
        assert!(temp.message.contains("unknown"), "{}", temp.message);
        assert!(temp.fix.unwrap().contains("x.example.com"));
    }
}
