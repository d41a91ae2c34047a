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
//! The evaluation is the walk of [`super::walk`] with a client, one term at a time as §4.6
//! demands; this module is its view: the result, the trace, the explanation (§6.2) and the
//! findings. So that it still takes about as many round trips as the depth of the include
//! chain, the same walk runs ahead without stopping, every term at once, to warm the run's DNS
//! cache; it is dropped the moment the evaluation is done. It only warms the cache: the result
//! and the counts come from the evaluation alone.

use std::fmt;
use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use futures::future::{Either, select};
use serde::{Deserialize, Serialize};

use super::macros::{MacroContext, MacroLetter, MacroString, MacroUse, parse_macro_string};
use super::record::{Qualifier, SyntaxError, Term};
use super::walk::{Bounds, Client, Mode, UNKNOWN, Walked, Walker};
use crate::dns::Dns;
use crate::finding::{Code, Finding, Severity};
use crate::publish::{Change, Edit, Kind};

pub use super::walk::{LOOKUP_LIMIT, PTR_LIMIT, VOID_LIMIT, Via};

/// How far the walk that sends the questions ahead goes: about what one evaluation can ask
/// (11 records, 10 lookups), so that it never costs much more than the evaluation.
const PREFETCH: Bounds = Bounds {
    depth: 10,
    records: 16,
    resolved: 16,
};

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
    pub(super) fn new(
        kind: ReasonKind,
        domain: &str,
        term: Option<&Term>,
        message: String,
    ) -> Reason {
        Reason {
            kind,
            domain: domain.to_owned(),
            term: term.map(|t| t.text.clone()),
            message,
            name: None,
            errors: Vec::new(),
        }
    }

    pub(super) fn name(mut self, name: &str) -> Reason {
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
    let client = Client {
        ip,
        sender: &sender,
        helo: helo.unwrap_or(UNKNOWN),
        timestamp,
    };
    let checker = Walker::new(dns, Some(&client), Mode::CheckHost);
    let ahead = Walker::new(dns, Some(&client), Mode::Every(PREFETCH));
    let walked = match select(checker.walk(&domain), ahead.walk(&domain)).await {
        Either::Left((done, _)) => done,
        Either::Right((_, evaluation)) => evaluation.await,
    };
    let decision = walked
        .decision
        .clone()
        .expect("check_host decides every record it walks");
    let (explanation, exp) = match (&decision.result, &decision.exp) {
        (SpfResult::Fail, Some((exp_domain, term, spec))) => {
            let (text, trace) = explanation(&checker, &client, exp_domain, term, spec).await;
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
        lookups: checker.lookups(),
        void_lookups: checker.void_lookups(),
        reason: decision.reason,
        trace: record_trace(&walked),
    }
}

/// The trace of a walked record, and of every record below it.
fn record_trace(walked: &Walked) -> RecordTrace {
    let mut trace = RecordTrace::new(&walked.domain, walked.via);
    trace.dns = walked.dns.clone().unwrap_or_default();
    trace.records.clone_from(&walked.records);
    trace.record.clone_from(&walked.record);
    trace.diagnostics.clone_from(&walked.diagnostics);
    trace.result = walked
        .decision
        .as_ref()
        .map_or(SpfResult::None, |d| d.result);
    trace.terms = walked
        .steps
        .iter()
        .map(|step| {
            let record = step.child.as_deref().map(record_trace);
            TermStep {
                term: step.term.text.clone(),
                outcome: step.outcome.unwrap_or(Outcome::NoMatch),
                lookups: step.lookups,
                target: step.target.clone(),
                dns: record
                    .as_ref()
                    .map(|r| r.dns.clone())
                    .or_else(|| step.dns.clone()),
                void: step.void,
                addresses: step.addresses.clone(),
                hosts: step
                    .hosts
                    .iter()
                    .map(|host| HostStep {
                        name: host.name.clone(),
                        preference: host.preference,
                        dns: host.dns.clone(),
                        addresses: host.addresses.clone(),
                        matched: host.matched,
                    })
                    .collect(),
                note: step.note.clone(),
                record: record.map(Box::new),
            }
        })
        .collect();
    trace
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

/// §6.2: the explanation of a fail, from the TXT record `exp=` names. Any problem (DNS, not
/// exactly one record, a macro error, bytes that are not ASCII) means no explanation.
async fn explanation(
    walker: &Walker<'_>,
    client: &Client<'_>,
    domain: &str,
    modifier: &str,
    spec: &MacroString,
) -> (Option<String>, ExpTrace) {
    let mut trace = ExpTrace {
        modifier: modifier.to_owned(),
        domain: domain.to_owned(),
        ..ExpTrace::default()
    };
    let target = match walker.target(Some(spec), domain).await {
        Ok(target) => target,
        Err(unusable) => {
            trace.note = Some(unusable.why());
            return (None, trace);
        }
    };
    trace.target = Some(target.clone());
    let answer = walker.dns().txt(&target).await;
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
        Some(walker.validated_domain(domain).await)
    } else {
        None
    };
    let ctx = client.macros(domain, validated.as_deref());
    match expand_explanation(fetched, &ctx) {
        Ok(explanation) => (Some(explanation), trace),
        Err(why) => {
            trace.note = Some(format!("{why}: no explanation (§6.2)"));
            (None, trace)
        }
    }
}

/// Whether an explanation text uses `%{p}`, which needs PTR lookups before expansion.
fn needs_validated(text: &str) -> bool {
    text.split(' ').any(|piece| {
        parse_macro_string(piece, MacroUse::Any)
            .is_ok_and(|s| s.letters().any(|l| l == MacroLetter::ValidatedDomain))
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
    super::edit::apply(Some(record), &[term.to_owned()], &[], None)
}

/// The name whose lookup made an evaluation temperror (the domain evaluated when not known).
fn failed_name(evaluation: &Evaluation) -> &str {
    evaluation
        .reason
        .as_ref()
        .and_then(|r| r.name.as_deref())
        .unwrap_or(&evaluation.domain)
}

/// How the evidence of a finding names the identity an evaluation checked (RFC 7208 §2.4,
/// §2.3).
pub const MAIL_FROM: &str = "mail-from";
pub const HELO: &str = "helo";

/// The identity an evaluation checked, and how a finding speaks of it.
#[derive(Clone, Copy)]
enum Identity<'a> {
    /// The MAIL FROM identity of this domain (§2.4).
    MailFrom(&'a str),
    /// The HELO identity, this name (§2.3).
    Helo(&'a str),
}

impl Identity<'_> {
    /// "for example.com", "with the HELO name mail.example.com".
    fn phrase(self) -> String {
        match self {
            Identity::MailFrom(domain) => format!("for {domain}"),
            Identity::Helo(name) => format!("with the HELO name {name}"),
        }
    }

    fn evidence(self) -> &'static str {
        match self {
            Identity::MailFrom(_) => MAIL_FROM,
            Identity::Helo(_) => HELO,
        }
    }
}

/// The `spf.ip-not-authorized` finding for a sending IP whose evaluation is not pass; for a
/// temperror, `spf.lookup-failed` instead (the result is unknown, not a refusal). `None` for a
/// pass.
pub fn not_authorized_finding(
    domain: &str,
    ip: IpAddr,
    evaluation: &Evaluation,
) -> Option<Finding> {
    unauthorized(Identity::MailFrom(domain), ip, evaluation)
}

/// The `spf.helo-not-authorized` finding for a sending IP whose HELO name's evaluation (§2.3) is
/// not pass: an error for fail (receivers that check HELO may reject on it), a warning
/// otherwise; for a temperror, `spf.lookup-failed`. `None` for a pass.
pub fn helo_not_authorized_finding(ip: IpAddr, evaluation: &Evaluation) -> Option<Finding> {
    let finding = unauthorized(Identity::Helo(&evaluation.domain), ip, evaluation)?;
    Some(if evaluation.result == SpfResult::Fail {
        finding.severity(Severity::Error)
    } else {
        finding
    })
}

fn unauthorized(identity: Identity<'_>, ip: IpAddr, evaluation: &Evaluation) -> Option<Finding> {
    let ip = ip.to_canonical();
    let term = ip_term(ip);
    let result = evaluation.result;
    let at = &evaluation.domain;
    let whose = identity.phrase();
    let code = match identity {
        Identity::MailFrom(_) => Code::SpfIpNotAuthorized,
        Identity::Helo(_) => Code::SpfHeloNotAuthorized,
    };
    let reason = evaluation.reason.as_ref().map(|r| r.message.as_str());
    let finding = match result {
        SpfResult::Pass => return None,
        SpfResult::TempError => Finding::new(
            Code::SpfLookupFailed,
            format!(
                "The SPF result of {ip} {} is unknown (temperror): {}",
                match identity {
                    Identity::MailFrom(domain) => format!("for {domain}"),
                    Identity::Helo(name) => format!("for the HELO name {name}"),
                },
                reason.unwrap_or("a DNS query failed")
            ),
        )
        .fix(format!(
            "Make the name servers of {} answer, then check {ip} again",
            failed_name(evaluation)
        ))
        .evidence("name", failed_name(evaluation)),
        SpfResult::None => Finding::new(
            code,
            format!(
                "{ip} is not authorized to send {whose}: SPF result none ({})",
                reason.unwrap_or("no SPF record")
            ),
        )
        .fix(match identity {
            Identity::MailFrom(domain) => format!(
                "Publish one TXT record at {at}: \"v=spf1 {term} ~all\" (add the include: of each \
                 provider that sends for {domain}, and `-all` once every sender is listed)"
            ),
            Identity::Helo(_) => format!(
                "Publish one TXT record at {at}: \"v=spf1 {term} -all\" (a HELO name names one \
                 mail server; \"v=spf1 a -all\" when its A/AAAA records are that server's \
                 addresses)"
            ),
        })
        .change(publish_with(at, None, &term, identity)),
        SpfResult::PermError => Finding::new(
            code,
            format!(
                "{ip} is not authorized to send {whose}: SPF result permerror ({})",
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
            let instead = match identity {
                Identity::MailFrom(_) => {
                    format!("if a provider sends from {ip}, add the include: it documents instead")
                }
                Identity::Helo(_) => {
                    format!("send from {ip} with a HELO name whose SPF record lists it")
                }
            };
            let finding = Finding::new(
                code,
                format!("{ip} is not authorized to send {whose}: SPF result {result} ({decided})"),
            )
            .fix(format!(
                "Add `{term}` to the SPF record at {at}: \"{fixed}\"; or, {instead}"
            ));
            match evaluation.record() {
                Some(record) => finding.change(publish_with(at, Some(record), &term, identity)),
                None => finding,
            }
        }
    };
    Some(
        finding
            .evidence("ip", ip)
            .evidence("domain", at)
            .evidence("identity", identity.evidence())
            .evidence("sender", &evaluation.sender)
            .evidence("result", result)
            .evidence("matched", &evaluation.matched)
            .evidence("record", evaluation.record())
            .evidence("explanation", &evaluation.explanation)
            .evidence("reason", &evaluation.reason)
            .evidence("lookups", evaluation.lookups)
            .evidence("void_lookups", evaluation.void_lookups),
    )
}

/// The change that authorises `term` at `at`: added to its `record`, or, without one, a record
/// of its own ending in `~all` (`-all` for a HELO name, which names one server).
fn publish_with(at: &str, record: Option<&str>, term: &str, identity: Identity<'_>) -> Change {
    let all = match (record, identity) {
        (Some(_), _) => None,
        (None, Identity::Helo(_)) => Some("-all".to_owned()),
        (None, Identity::MailFrom(_)) => Some("~all".to_owned()),
    };
    Change::new(
        at,
        Kind::Spf,
        record,
        Edit {
            add: vec![term.to_owned()],
            all,
            ..Edit::default()
        },
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
    fn the_authorization_term_is_of_the_canonical_address() {
        assert_eq!(ip_term(v6("::ffff:192.0.2.9")), "ip4:192.0.2.9");
        assert_eq!(ip_term(v6("2001:db8::9")), "ip6:2001:db8::9");
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
