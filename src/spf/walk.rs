//! The one walk through an SPF record and the records its `include` and `redirect=` terms lead
//! to (RFC 7208 §4.6-§6.1): the terms in evaluation order, their targets expanded (§7, §4.8),
//! the DNS questions they ask, the recursion, and the limits of §4.6.4 (10 DNS-querying terms,
//! 2 void lookups, 10 MX records per `mx`, 10 PTR names). A fix to any of them lands here once.
//!
//! It runs in two modes, read by two thin views:
//!
//! - [`Mode::CheckHost`], for `check_host()` ([`super::eval`]): with a client (IP, sender,
//!   HELO), one term at a time as §4.6 demands, stopping at the first match, at a limit, at a
//!   syntax error or a DNS failure, and saying the result (§2.6).
//! - [`Mode::Every`], for the audit's include tree ([`super::tree`]): every term of every record,
//!   asked all at once so that the walk takes as many round trips as its deepest chain, nothing
//!   decided and no limit stopping it (an audit has no sender, so it counts the worst case). A
//!   target that needs the sender, IP or HELO is counted and not asked, never guessed; `ptr` is
//!   not asked without a client. The walk stops at a domain already on the chain from the root
//!   (a loop) and at [`Bounds`], so hostile records cannot make it run forever. `check_host`
//!   sends its questions ahead in this mode too, with its client, to warm the DNS cache.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::future::{BoxFuture, join_all};
use serde::Serialize;
use tokio::sync::OnceCell;

use super::eval::{Matched, Outcome, Reason, ReasonKind, SpfResult, TermAt};
use super::macros::{MacroContext, MacroLetter, MacroString, Unresolved, truncate_domain};
use super::record::{
    Directive, DualCidr, Mechanism, Qualifier, Record, SyntaxError, Term, is_spf_record,
    parse_lenient,
};
use crate::dns::{Answer, Dns, Failure, QueryName, Syntax, Txt};

/// DNS-querying terms allowed over the whole evaluation (§4.6.4).
pub const LOOKUP_LIMIT: usize = 10;
/// Void lookups allowed (§4.6.4).
pub const VOID_LIMIT: usize = 2;
/// MX records one `mx` term may yield (§4.6.4).
pub const MX_LIMIT: usize = 10;
/// PTR names looked at for `ptr` and `%{p}` (§4.6.4: the rest MUST be ignored).
pub const PTR_LIMIT: usize = 10;
/// Include/redirect depth the audit walks: each level costs a lookup, so deeper is over the
/// limit anyway.
pub const MAX_DEPTH: usize = 12;
/// Records the audit fetches.
pub const MAX_NODES: usize = 100;
/// `a`/`mx`/`exists` terms the audit resolves.
pub const MAX_RESOLVED: usize = 200;
/// What `%{h}` expands to when no HELO name was given, and `%{r}` always: the word §7.3 asks
/// for when the name is not known.
pub(super) const UNKNOWN: &str = "unknown";

/// How a record was reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    Root,
    Include,
    Redirect,
}

/// What `check_host` knows of the message (§4.1): fixed for a whole evaluation.
pub(super) struct Client<'a> {
    /// The client IP, an IPv4-mapped IPv6 address as IPv4 (§5).
    pub ip: IpAddr,
    /// `<sender>`, with `postmaster` for a missing local-part (§4.3).
    pub sender: &'a str,
    /// The HELO name, or [`UNKNOWN`].
    pub helo: &'a str,
    /// Seconds since the epoch (`%{t}`).
    pub timestamp: u64,
}

impl Client<'_> {
    /// The macro values of §7.2 at `domain`, with `%{p}` when it was looked up.
    pub(super) fn macros<'m>(
        &'m self,
        domain: &'m str,
        validated: Option<&'m str>,
    ) -> MacroContext<'m> {
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
}

/// How the walk goes.
#[derive(Clone, Copy, Debug)]
pub(super) enum Mode {
    /// `check_host()`: in order, one term at a time, stopping where the result is known.
    CheckHost,
    /// Every term of every record at once, within the bounds; nothing decided.
    Every(Bounds),
}

/// How far a [`Mode::Every`] walk goes.
#[derive(Clone, Copy, Debug)]
pub(super) struct Bounds {
    /// Include/redirect depth.
    pub depth: usize,
    /// Records fetched.
    pub records: usize,
    /// `a`, `mx` and `exists` terms looked up.
    pub resolved: usize,
}

/// The audit's bounds.
pub(super) const AUDIT: Bounds = Bounds {
    depth: MAX_DEPTH,
    records: MAX_NODES,
    resolved: MAX_RESOLVED,
};

/// What was found at a record's domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Found {
    /// One `v=spf1` record, and it parses.
    Record,
    /// One record with terms that do not parse (permerror, §4.6).
    SyntaxError,
    /// No `v=spf1` record: NXDOMAIN, NODATA or only other TXT records (§4.5).
    NoRecord,
    /// Not a domain that can be checked (§4.3), or one the DNS layer cannot ask.
    InvalidName,
    /// More than one `v=spf1` record (permerror, §4.5).
    MultipleRecords,
    /// The TXT question failed: the result is unknown.
    Failed,
    /// Already on the chain from the root: not fetched again ([`Mode::Every`]).
    Loop,
    /// Past the bounds: not fetched ([`Mode::Every`]).
    NotWalked,
}

/// Why a DNS-querying term asked nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Skipped {
    /// Its target needs a macro the walk has no value for (the sender, IP or HELO).
    Unresolved,
    /// Its expanded target is not a name DNS can be asked about.
    InvalidName,
    /// `ptr` without a client: what it matches depends on the client IP's PTR names.
    NeedsClient,
    /// A `redirect=` beside `all`: never used (§6.1), not counted.
    Ignored,
    /// Past the bounds ([`Mode::Every`]).
    NotWalked,
}

/// A host an `mx` term (an MX exchange) or `ptr` (a PTR name) looked at, with its addresses.
#[derive(Clone, Debug)]
pub(super) struct Host {
    pub name: String,
    pub preference: Option<u16>,
    /// What its address question(s) got: `records`, `nodata`, `nxdomain`, `invalid-name` or the
    /// failure.
    pub dns: String,
    pub addresses: Vec<IpAddr>,
    /// For `mx`: an address is the client's. For `ptr`: the name is validated (§5.5) and, once
    /// the term is evaluated, within its target.
    pub matched: bool,
}

/// One term walked, what it asked, and how it came out.
#[derive(Clone, Debug)]
pub(super) struct Step {
    pub term: Term,
    /// The mechanism's name, or `redirect`.
    pub mechanism: &'static str,
    /// `+` for `redirect=`.
    pub qualifier: Qualifier,
    /// Counted against [`LOOKUP_LIMIT`].
    pub counted: bool,
    /// [`Mode::CheckHost`]: DNS-querying terms evaluated so far, this one included.
    pub lookups: usize,
    /// The name asked, after macro expansion.
    pub target: Option<String>,
    pub skipped: Option<Skipped>,
    /// What the question got; `None` for terms that lead to a record (see `child`).
    pub dns: Option<String>,
    /// The answer was NXDOMAIN or NODATA: counted against [`VOID_LIMIT`].
    pub void: bool,
    /// [`Mode::Every`]: a DNS failure left the term unknown.
    pub failed: bool,
    /// Addresses of an `a` or `exists` answer.
    pub addresses: Vec<IpAddr>,
    /// How many MX records the target has.
    pub mx_count: Option<usize>,
    /// MX exchanges of `mx`, PTR names of `ptr`.
    pub hosts: Vec<Host>,
    pub note: Option<String>,
    /// The record an `include` or `redirect=` leads to.
    pub child: Option<Box<Walked>>,
    /// [`Mode::CheckHost`]: how the term came out.
    pub outcome: Option<Outcome>,
}

impl Step {
    fn new(term: &Term, mechanism: &'static str, qualifier: Qualifier, lookups: usize) -> Step {
        Step {
            term: term.clone(),
            mechanism,
            qualifier,
            counted: false,
            lookups,
            target: None,
            skipped: None,
            dns: None,
            void: false,
            failed: false,
            addresses: Vec::new(),
            mx_count: None,
            hosts: Vec::new(),
            note: None,
            child: None,
            outcome: None,
        }
    }
}

/// One record reached by the walk: where, what was found, each term walked.
#[derive(Clone, Debug)]
pub(super) struct Walked {
    pub domain: String,
    pub via: Via,
    /// The include/redirect term of the parent that led here.
    pub term: Option<String>,
    pub found: Found,
    /// What the TXT question got: `records`, `nodata`, `nxdomain`, `invalid-name` or the
    /// failure; `None` when it was not asked (loop, bounds).
    pub dns: Option<String>,
    /// The `v=spf1` records found, each joined from its character-strings (§3.3).
    pub records: Vec<String>,
    /// The record evaluated, when there is exactly one.
    pub record: Option<String>,
    /// Its terms that parsed.
    pub parsed: Option<Record>,
    pub diagnostics: Vec<SyntaxError>,
    /// The TXT question of an include or redirect target was void: counted (§4.6.4).
    pub void: bool,
    /// The terms walked, in evaluation order: `redirect=` last. [`Mode::CheckHost`] walks every
    /// term up to the one that decided; [`Mode::Every`] every DNS-querying term.
    pub steps: Vec<Step>,
    /// [`Mode::CheckHost`]: what the record decided.
    pub decision: Option<Decision>,
}

impl Walked {
    fn new(domain: String, via: Via, term: Option<String>) -> Walked {
        Walked {
            domain,
            via,
            term,
            found: Found::NotWalked,
            dns: None,
            records: Vec::new(),
            record: None,
            parsed: None,
            diagnostics: Vec::new(),
            void: false,
            steps: Vec::new(),
            decision: None,
        }
    }
}

/// What a record's evaluation decided (§4.6-§4.7), with what the topmost `check_host` needs.
#[derive(Clone, Debug)]
pub(super) struct Decision {
    pub result: SpfResult,
    pub matched: Option<Matched>,
    /// The `exp=` of the record whose directive gave a fail (§6.2): its domain, its term.
    pub exp: Option<(String, String, MacroString)>,
    pub reason: Option<Reason>,
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

/// What a term gave the evaluation.
enum TermResult {
    Match(Vec<TermAt>),
    NoMatch,
    Stop(SpfResult, Reason),
    /// [`Mode::Every`] without a client: it depends on the sender.
    Unknown,
}

/// Why a target-name cannot be asked.
pub(super) enum Unusable {
    /// A macro without a value here.
    Unresolved(Unresolved),
    /// The expansion is not a name DNS can be asked about.
    Invalid { expanded: String, problem: String },
}

impl Unusable {
    /// Why, in one clause.
    pub(super) fn why(&self) -> String {
        match self {
            Unusable::Unresolved(unresolved) => format!("{unresolved} has no value"),
            Unusable::Invalid { expanded, problem } => {
                format!("`{expanded}` is not a name DNS can be asked about: {problem}")
            }
        }
    }
}

/// The PTR names of the client, each validated (§5.5): asked once per evaluation.
struct PtrNames {
    dns: String,
    failed: bool,
    void: bool,
    hosts: Vec<Host>,
}

/// What the address question(s) of a name got: the client's family for `check_host` (§5.3,
/// §5.4), both families without a client.
struct AddressAnswer {
    dns: String,
    addresses: Vec<IpAddr>,
    void: bool,
    /// The DNS layer cannot send the name.
    invalid: Option<String>,
    /// A failure that leaves the answer unknown: the record type and the failure.
    failure: Option<(&'static str, Failure)>,
    /// A failure of one family beside addresses of the other (without a client).
    note: Option<String>,
}

/// The walk; see the module documentation.
pub(super) struct Walker<'a> {
    dns: &'a Dns,
    client: Option<&'a Client<'a>>,
    mode: Mode,
    lookups: AtomicUsize,
    voids: AtomicUsize,
    records: AtomicUsize,
    resolved: AtomicUsize,
    ptr: OnceCell<PtrNames>,
}

impl<'a> Walker<'a> {
    pub(super) fn new(dns: &'a Dns, client: Option<&'a Client<'a>>, mode: Mode) -> Walker<'a> {
        Walker {
            dns,
            client,
            mode,
            lookups: AtomicUsize::new(0),
            voids: AtomicUsize::new(0),
            records: AtomicUsize::new(0),
            resolved: AtomicUsize::new(0),
            ptr: OnceCell::new(),
        }
    }

    /// The DNS client the walk asks.
    pub(super) fn dns(&self) -> &'a Dns {
        self.dns
    }

    /// DNS-querying terms counted so far.
    pub(super) fn lookups(&self) -> usize {
        self.lookups.load(Ordering::Relaxed)
    }

    /// Void lookups counted so far.
    pub(super) fn void_lookups(&self) -> usize {
        self.voids.load(Ordering::Relaxed)
    }

    fn checks_host(&self) -> bool {
        matches!(self.mode, Mode::CheckHost)
    }

    /// Walks the record of `domain` (no trailing dot) and every record it leads to.
    pub(super) fn walk<'w>(&'w self, domain: &str) -> BoxFuture<'w, Walked> {
        self.record(domain.to_owned(), Via::Root, None, Vec::new())
    }

    /// One record: fetched, then its terms walked. `chain` holds the domains from the root.
    fn record(
        &self,
        domain: String,
        via: Via,
        term: Option<String>,
        chain: Vec<String>,
    ) -> BoxFuture<'_, Walked> {
        Box::pin(async move {
            let mut walked = Walked::new(domain, via, term);
            let Some(record) = self.fetch(&mut walked, &chain).await else {
                if !self.checks_host() {
                    walked.decision = None;
                }
                return walked;
            };
            let mut chain = chain;
            chain.push(walked.domain.clone());
            match self.mode {
                Mode::CheckHost => {
                    let decision = self.decide(&mut walked, &record).await;
                    walked.decision = Some(decision);
                }
                Mode::Every(_) => walked.steps = self.every_term(&walked, &record, &chain).await,
            }
            walked.parsed = Some(record);
            walked
        })
    }

    /// §4.3-§4.6: checks the name, asks for its TXT records, selects the one `v=spf1` record
    /// and parses it. Returns the record to walk: in [`Mode::Every`] the terms that parsed of a
    /// record with errors too; otherwise sets why not (and, for `check_host`, the decision).
    async fn fetch(&self, walked: &mut Walked, chain: &[String]) -> Option<Record> {
        let domain = walked.domain.clone();
        let bounds = match self.mode {
            Mode::Every(bounds) => Some(bounds),
            Mode::CheckHost => None,
        };
        // check_host needs no loop check: every include and redirect is counted first, and the
        // eleventh is a permerror.
        if bounds.is_some() && chain.iter().any(|d| d.eq_ignore_ascii_case(&domain)) {
            walked.found = Found::Loop;
            return None;
        }
        if let Some(problem) = domain_problem(&domain) {
            walked.found = Found::InvalidName;
            walked.dns = Some("invalid-name".to_owned());
            walked.decision = Some(Decision::stop(
                SpfResult::None,
                Reason::new(
                    ReasonKind::InvalidDomain,
                    &domain,
                    None,
                    format!(
                        "`{domain}` is not a valid domain name ({problem}): check_host returns none (§4.3)"
                    ),
                ),
            ));
            return None;
        }
        if let Some(bounds) = bounds
            && (chain.len() >= bounds.depth || !take(&self.records, bounds.records))
        {
            return None;
        }
        let answer = self.dns.txt(&domain).await;
        walked.dns = Some(answer.status());
        let records = match classify(&answer) {
            TxtAnswer::InvalidName(why) => {
                walked.found = Found::InvalidName;
                walked.dns = Some("invalid-name".to_owned());
                walked.decision = Some(Decision::stop(
                    SpfResult::None,
                    Reason::new(
                        ReasonKind::InvalidDomain,
                        &domain,
                        None,
                        format!(
                            "`{domain}` cannot be asked about ({why}): check_host returns none (§4.3)"
                        ),
                    ),
                ));
                return None;
            }
            TxtAnswer::Failed(failure) => {
                walked.found = Found::Failed;
                walked.decision = Some(Decision::stop(
                    SpfResult::TempError,
                    Reason::new(
                        ReasonKind::DnsFailure,
                        &domain,
                        None,
                        format!(
                            "the TXT query for {domain} failed ({}): the result is unknown, \
                             receivers return temperror (§4.4)",
                            failure.label()
                        ),
                    )
                    .name(&domain),
                ));
                return None;
            }
            TxtAnswer::Void => {
                if walked.via != Via::Root {
                    walked.void = true;
                    if let Some(reason) = self.count_void(&domain, None, &domain) {
                        walked.found = Found::NoRecord;
                        walked.decision = Some(Decision::stop(SpfResult::PermError, reason));
                        return None;
                    }
                }
                Vec::new()
            }
            TxtAnswer::Records(records) => records,
        };
        walked.records.clone_from(&records);
        self.select(walked, &answer)
    }

    /// §4.5, §4.6: the one `v=spf1` record among `walked.records`, parsed.
    fn select(&self, walked: &mut Walked, answer: &Answer<Txt>) -> Option<Record> {
        let domain = walked.domain.clone();
        let records = walked.records.clone();
        let text = match records.as_slice() {
            [] => {
                let found = match answer {
                    Answer::NxDomain { .. } => "the name does not exist (NXDOMAIN)",
                    Answer::Records { .. } => "it has TXT records, none of them `v=spf1`",
                    _ => "it has no TXT record (NODATA)",
                };
                walked.found = Found::NoRecord;
                walked.decision = Some(Decision::stop(
                    SpfResult::None,
                    Reason::new(
                        ReasonKind::NoRecord,
                        &domain,
                        None,
                        format!("no SPF record at {domain}: {found} (§4.4, §4.5)"),
                    )
                    .name(&domain),
                ));
                return None;
            }
            [one] => one.clone(),
            many => {
                walked.found = Found::MultipleRecords;
                walked.decision = Some(Decision::stop(
                    SpfResult::PermError,
                    Reason::new(
                        ReasonKind::MultipleRecords,
                        &domain,
                        None,
                        format!(
                            "{domain} has {} `v=spf1` records: there must be exactly one (§4.5)",
                            many.len()
                        ),
                    )
                    .name(&domain),
                ));
                return None;
            }
        };
        walked.record = Some(text.clone());
        let (record, errors) = parse_lenient(&text);
        if errors.is_empty() {
            walked.found = Found::Record;
            return Some(record);
        }
        walked.found = Found::SyntaxError;
        walked.diagnostics.clone_from(&errors);
        if !self.checks_host() {
            return Some(record);
        }
        let listed: Vec<String> = errors.iter().map(ToString::to_string).collect();
        let mut reason = Reason::new(
            ReasonKind::Syntax,
            &domain,
            None,
            format!(
                "the SPF record of {domain} does not parse: {} (§4.6)",
                listed.join("; ")
            ),
        );
        reason.term = errors.first().map(|e| e.term.clone());
        reason.errors = errors;
        walked.decision = Some(Decision::stop(SpfResult::PermError, reason));
        None
    }

    /// §4.6.2, §4.7, §6.1: the directives in order until one matches, then `redirect=`, then
    /// neutral.
    async fn decide(&self, walked: &mut Walked, record: &Record) -> Decision {
        let domain = walked.domain.clone();
        for (term, directive) in record.directives() {
            let (step, result) = self.directive(&domain, term, directive, &[]).await;
            walked.steps.push(step);
            match result {
                TermResult::NoMatch | TermResult::Unknown => {}
                TermResult::Stop(result, reason) => return Decision::stop(result, reason),
                TermResult::Match(inner) => {
                    let result = SpfResult::of(directive.qualifier);
                    let exp = (result == SpfResult::Fail)
                        .then(|| record.exp())
                        .flatten()
                        .map(|(term, spec)| (domain.clone(), term.text.clone(), spec.clone()));
                    return Decision {
                        result,
                        matched: Some(Matched {
                            term: term.text.clone(),
                            domain,
                            record: walked.record.clone().unwrap_or_default(),
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
            let (step, decision) = self.redirect(&domain, term, spec, &[]).await;
            walked.steps.push(step);
            return decision.unwrap_or_else(neutral);
        }
        neutral()
    }

    /// Every DNS-querying term of `record`, and its `redirect=`, all at once.
    async fn every_term(&self, walked: &Walked, record: &Record, chain: &[String]) -> Vec<Step> {
        let domain = walked.domain.as_str();
        let mut steps: Vec<BoxFuture<'_, Step>> = Vec::new();
        for (term, directive) in record.directives() {
            if directive.mechanism.queries_dns() {
                steps.push(Box::pin(async move {
                    self.directive(domain, term, directive, chain).await.0
                }));
            }
        }
        // redirect is evaluated after every mechanism, and only when none matched (§6.1): never
        // when the record has `all`, which always matches.
        if let Some((term, spec)) = record.redirect() {
            if let Some((all, _)) = record.all() {
                let mut step = Step::new(term, "redirect", Qualifier::Pass, 0);
                step.skipped = Some(Skipped::Ignored);
                step.note = Some(format!(
                    "never used: `{}` always matches first (§6.1)",
                    all.text
                ));
                steps.push(Box::pin(async move { step }));
            } else {
                steps.push(Box::pin(async move {
                    self.redirect(domain, term, spec, chain).await.0
                }));
            }
        }
        join_all(steps).await
    }

    /// One directive (§4.6.2, §5).
    async fn directive(
        &self,
        domain: &str,
        term: &Term,
        directive: &Directive,
        chain: &[String],
    ) -> (Step, TermResult) {
        let mechanism = &directive.mechanism;
        let mut step = Step::new(term, mechanism.name(), directive.qualifier, self.lookups());
        let result = match mechanism {
            Mechanism::All => TermResult::Match(Vec::new()),
            Mechanism::Ip4 { network, prefix } => {
                self.matches(|ip| in_network(ip, IpAddr::V4(*network), *prefix))
            }
            Mechanism::Ip6 { network, prefix } => {
                self.matches(|ip| in_network(ip, IpAddr::V6(*network), *prefix))
            }
            mechanism => {
                step.counted = true;
                if let Some(reason) = self.count_lookup(domain, term) {
                    step.lookups = self.lookups();
                    step.outcome = Some(Outcome::Error);
                    return (step, TermResult::Stop(SpfResult::PermError, reason));
                }
                step.lookups = self.lookups();
                match mechanism {
                    Mechanism::Include { domain: spec } => {
                        self.include(domain, term, spec, &mut step, chain).await
                    }
                    Mechanism::A { domain: spec, cidr } => {
                        self.a(domain, term, spec.as_ref(), *cidr, &mut step).await
                    }
                    Mechanism::Mx { domain: spec, cidr } => {
                        self.mx(domain, term, spec.as_ref(), *cidr, &mut step).await
                    }
                    Mechanism::Ptr { domain: spec } => {
                        self.ptr(domain, term, spec.as_ref(), &mut step).await
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
        if self.checks_host() {
            step.outcome = Some(match &result {
                TermResult::Match(_) => Outcome::Match,
                TermResult::NoMatch | TermResult::Unknown => Outcome::NoMatch,
                TermResult::Stop(..) => Outcome::Error,
            });
        }
        (step, result)
    }

    /// Whether the client matches, for `check_host`; unknown without one.
    fn matches(&self, test: impl FnOnce(IpAddr) -> bool) -> TermResult {
        match self.client {
            Some(client) if self.checks_host() => matches(test(client.ip)),
            _ => TermResult::Unknown,
        }
    }

    /// Counts a DNS-querying term; for `check_host` the eleventh is a permerror (§4.6.4).
    fn count_lookup(&self, domain: &str, term: &Term) -> Option<Reason> {
        let count = self.lookups.fetch_add(1, Ordering::Relaxed) + 1;
        (self.checks_host() && count > LOOKUP_LIMIT).then(|| {
            Reason::new(
                ReasonKind::LookupLimit,
                domain,
                Some(term),
                format!(
                    "`{}` in the record of {domain} is DNS-querying term number {count}: \
                     check_host allows {LOOKUP_LIMIT} (include, a, mx, ptr, exists, redirect) and \
                     returns permerror (§4.6.4)",
                    term.text
                ),
            )
        })
    }

    /// Counts a void lookup; for `check_host` the third is a permerror (§4.6.4).
    fn count_void(&self, domain: &str, term: Option<&Term>, name: &str) -> Option<Reason> {
        let count = self.voids.fetch_add(1, Ordering::Relaxed) + 1;
        (self.checks_host() && count > VOID_LIMIT).then(|| {
            let what = term.map_or_else(
                || format!("the SPF record of {domain}"),
                |t| format!("`{}` in the record of {domain}", t.text),
            );
            Reason::new(
                ReasonKind::VoidLookupLimit,
                domain,
                term,
                format!(
                    "{what} asked for {name}, which does not exist or has no such record: void \
                     lookup number {count}, check_host allows {VOID_LIMIT} and returns permerror \
                     (§4.6.4)"
                ),
            )
            .name(name)
        })
    }

    /// Records a void answer of a term: no match, or permerror past the limit.
    fn void_term(&self, domain: &str, term: &Term, name: &str, step: &mut Step) -> TermResult {
        step.void = true;
        match self.count_void(domain, Some(term), name) {
            None if self.checks_host() => TermResult::NoMatch,
            None => TermResult::Unknown,
            Some(reason) => TermResult::Stop(SpfResult::PermError, reason),
        }
    }

    /// A term whose target cannot be asked: no match for `check_host`; counted, not looked up,
    /// for the audit.
    fn unusable(&self, step: &mut Step, unusable: &Unusable) -> TermResult {
        if self.checks_host() {
            return no_match(step, &unusable.why());
        }
        match unusable {
            Unusable::Unresolved(unresolved) => {
                step.skipped = Some(Skipped::Unresolved);
                step.note = Some(format!(
                    "uses {unresolved}, known only when a message arrives: counted, not looked up"
                ));
            }
            Unusable::Invalid { expanded, .. } => {
                step.skipped = Some(Skipped::InvalidName);
                step.note = Some(format!("`{expanded}` is not a name DNS can be asked about"));
            }
        }
        TermResult::Unknown
    }

    /// Whether a term may still be looked up within the bounds.
    fn within_bounds(&self, step: &mut Step) -> bool {
        let Mode::Every(bounds) = self.mode else {
            return true;
        };
        if take(&self.resolved, bounds.resolved) {
            return true;
        }
        step.skipped = Some(Skipped::NotWalked);
        step.note = Some("not looked up: the audit's work bound was reached".to_owned());
        false
    }

    /// The target-name of a term (§4.8): its domain-spec expanded (§7.3) and cut to 253
    /// octets, or `<domain>`. `%{p}` is looked up only by `check_host`.
    pub(super) async fn target(
        &self,
        spec: Option<&MacroString>,
        domain: &str,
    ) -> Result<String, Unusable> {
        let Some(spec) = spec else {
            return Ok(domain.to_owned());
        };
        let validated =
            if self.checks_host() && spec.letters().any(|l| l == MacroLetter::ValidatedDomain) {
                Some(self.validated_domain(domain).await)
            } else {
                None
            };
        let ctx = match self.client {
            Some(client) => client.macros(domain, validated.as_deref()),
            None => MacroContext::domain_only(domain),
        };
        let expanded = spec.expand(&ctx).map_err(Unusable::Unresolved)?;
        let name = truncate_domain(&expanded);
        match name_problem(name) {
            Some(problem) => Err(Unusable::Invalid {
                expanded: expanded.clone(),
                problem,
            }),
            None => Ok(name.to_owned()),
        }
    }

    /// A or AAAA of `name`: the client's family for `check_host` (§5.3, §5.4), both without a
    /// client.
    async fn addresses(&self, name: &str) -> AddressAnswer {
        match self.client.map(|c| c.ip) {
            Some(IpAddr::V4(_)) => one_family(&self.dns.a(name).await.map(IpAddr::V4), "A"),
            Some(IpAddr::V6(_)) => one_family(&self.dns.aaaa(name).await.map(IpAddr::V6), "AAAA"),
            None => {
                let (a, aaaa) = self.dns.addresses(name).await;
                both_families(&a, &aaaa)
            }
        }
    }

    /// §5.3: `a` matches when an address of the target is within the CIDR of the client.
    async fn a(
        &self,
        domain: &str,
        term: &Term,
        spec: Option<&MacroString>,
        cidr: DualCidr,
        step: &mut Step,
    ) -> TermResult {
        let target = match self.target(spec, domain).await {
            Ok(target) => target,
            Err(unusable) => return self.unusable(step, &unusable),
        };
        step.target = Some(target.clone());
        if !self.within_bounds(step) {
            return TermResult::Unknown;
        }
        let lookup = self.addresses(&target).await;
        step.dns = Some(lookup.dns.clone());
        step.note.clone_from(&lookup.note);
        if let Some(why) = &lookup.invalid {
            return self.not_asked(step, why);
        }
        if let Some((record_type, failure)) = &lookup.failure {
            return self.failed(step, domain, term, record_type, &target, failure);
        }
        if lookup.void {
            return self.void_term(domain, term, &target, step);
        }
        step.addresses = lookup.addresses;
        let addresses = &step.addresses;
        self.matches(|ip| {
            let prefix = prefix_for(ip, cidr);
            addresses.iter().any(|a| in_network(ip, *a, prefix))
        })
    }

    /// §5.4: `mx` matches when an address of one of the target's MX hosts is within the CIDR.
    async fn mx(
        &self,
        domain: &str,
        term: &Term,
        spec: Option<&MacroString>,
        cidr: DualCidr,
        step: &mut Step,
    ) -> TermResult {
        let target = match self.target(spec, domain).await {
            Ok(target) => target,
            Err(unusable) => return self.unusable(step, &unusable),
        };
        step.target = Some(target.clone());
        if !self.within_bounds(step) {
            return TermResult::Unknown;
        }
        let answer = self.dns.mx(&target).await;
        step.dns = Some(status_of(&answer));
        match &answer {
            Answer::Failed(Failure::InvalidName(why)) => return self.not_asked(step, why),
            Answer::Failed(failure) => {
                return self.failed(step, domain, term, "MX", &target, failure);
            }
            _ if answer.is_void() => return self.void_term(domain, term, &target, step),
            _ => {}
        }
        let records = answer.records();
        step.mx_count = Some(records.len());
        if records.len() > MX_LIMIT {
            if self.checks_host() {
                step.note = Some(format!("{} MX records", records.len()));
                return TermResult::Stop(
                    SpfResult::PermError,
                    Reason::new(
                        ReasonKind::MxLimit,
                        domain,
                        Some(term),
                        format!(
                            "{target} has {} MX records: `{}` may look at {MX_LIMIT} at most, \
                             and check_host returns permerror (§4.6.4)",
                            records.len(),
                            term.text
                        ),
                    )
                    .name(&target),
                );
            }
            step.note = Some(format!(
                "{} MX records: check_host evaluates at most {MX_LIMIT} and then returns \
                 permerror (§4.6.4)",
                records.len()
            ));
        }
        // A null MX (RFC 7505) names no host.
        let hosts: Vec<_> = records
            .iter()
            .filter(|mx| mx.exchange != "." && !mx.exchange.is_empty())
            .take(MX_LIMIT)
            .collect();
        let lookups = join_all(hosts.iter().map(|mx| self.addresses(&mx.exchange))).await;
        let mut result = if self.checks_host() {
            TermResult::NoMatch
        } else {
            TermResult::Unknown
        };
        // In preference order, as a sequential evaluation would meet them.
        for (mx, lookup) in hosts.iter().zip(lookups) {
            let matched = self.client.is_some_and(|client| {
                let prefix = prefix_for(client.ip, cidr);
                lookup
                    .addresses
                    .iter()
                    .any(|a| in_network(client.ip, *a, prefix))
            });
            if !self.checks_host() {
                step.failed |= lookup.failure.is_some();
                if step.note.is_none() {
                    step.note.clone_from(&lookup.note);
                }
            } else if matches!(result, TermResult::NoMatch) {
                if let Some((record_type, failure)) = &lookup.failure {
                    result = failure_result(domain, term, record_type, &mx.exchange, failure);
                } else if matched {
                    result = TermResult::Match(Vec::new());
                }
            }
            step.hosts.push(Host {
                name: mx.exchange.clone(),
                preference: Some(mx.preference),
                dns: lookup.dns,
                addresses: lookup.addresses,
                matched,
            });
        }
        result
    }

    /// The client's PTR names (at most [`PTR_LIMIT`]), each validated by a forward lookup
    /// (§5.5): asked once, shared by `ptr` terms and `%{p}`.
    async fn ptr_names(&self, client: &Client<'_>) -> &PtrNames {
        self.ptr
            .get_or_init(|| async {
                let answer = self.dns.ptr(client.ip).await;
                let names: Vec<String> = answer.records().iter().take(PTR_LIMIT).cloned().collect();
                let forward = join_all(names.iter().map(|name| self.addresses(name))).await;
                let hosts = names
                    .into_iter()
                    .zip(forward)
                    .map(|(name, lookup)| Host {
                        // A name whose forward lookup fails is skipped (§5.5), not an error.
                        matched: lookup.addresses.contains(&client.ip),
                        dns: lookup.dns,
                        addresses: lookup.addresses,
                        name,
                        preference: None,
                    })
                    .collect();
                PtrNames {
                    dns: answer.status(),
                    failed: answer.failure().is_some(),
                    void: answer.is_void(),
                    hosts,
                }
            })
            .await
    }

    /// `%{p}` (§7.3): the validated name of the client preferred for `domain`.
    pub(super) async fn validated_domain(&self, domain: &str) -> String {
        let Some(client) = self.client else {
            return UNKNOWN.to_owned();
        };
        let names = self.ptr_names(client).await;
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
    async fn ptr(
        &self,
        domain: &str,
        term: &Term,
        spec: Option<&MacroString>,
        step: &mut Step,
    ) -> TermResult {
        let Some(client) = self.client.filter(|_| self.checks_host()) else {
            step.skipped = Some(Skipped::NeedsClient);
            step.note = Some(
                "matches by the client IP's PTR names: cannot be checked without a message"
                    .to_owned(),
            );
            return TermResult::Unknown;
        };
        let target = match self.target(spec, domain).await {
            Ok(target) => target,
            Err(unusable) => return self.unusable(step, &unusable),
        };
        step.target = Some(target.clone());
        let names = self.ptr_names(client).await;
        step.dns = Some(names.dns.clone());
        if names.failed {
            return no_match(step, "the PTR query failed: `ptr` does not match (§5.5)");
        }
        if names.void {
            return self.void_term(domain, term, &reverse_name(client.ip), step);
        }
        step.hosts = names
            .hosts
            .iter()
            .cloned()
            .map(|mut host| {
                host.matched = host.matched && is_within(&host.name, &target);
                host
            })
            .collect();
        matches(step.hosts.iter().any(|h| h.matched))
    }

    /// §5.7: `exists` matches when the target has an A record, whatever the client's family.
    async fn exists(
        &self,
        domain: &str,
        term: &Term,
        spec: &MacroString,
        step: &mut Step,
    ) -> TermResult {
        let target = match self.target(Some(spec), domain).await {
            Ok(target) => target,
            Err(unusable) => return self.unusable(step, &unusable),
        };
        step.target = Some(target.clone());
        if !self.within_bounds(step) {
            return TermResult::Unknown;
        }
        let answer = self.dns.a(&target).await;
        step.dns = Some(status_of(&answer));
        match &answer {
            Answer::Failed(Failure::InvalidName(why)) => self.not_asked(step, why),
            Answer::Failed(failure) => self.failed(step, domain, term, "A", &target, failure),
            _ if answer.is_void() => self.void_term(domain, term, &target, step),
            _ => {
                step.addresses = answer.records().iter().copied().map(IpAddr::V4).collect();
                self.matches(|_| true)
            }
        }
    }

    /// §5.2: `include` evaluates the target's record and maps its result by the table.
    async fn include(
        &self,
        domain: &str,
        term: &Term,
        spec: &MacroString,
        step: &mut Step,
        chain: &[String],
    ) -> TermResult {
        let target = match self.target(Some(spec), domain).await {
            Ok(target) => target,
            Err(unusable) if self.checks_host() => {
                let why = unusable.why();
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
            Err(unusable) => return self.unusable(step, &unusable),
        };
        step.target = Some(target.clone());
        let child = self
            .record(
                target.clone(),
                Via::Include,
                Some(term.text.clone()),
                chain.to_vec(),
            )
            .await;
        let decision = child.decision.clone();
        step.child = Some(Box::new(child));
        let Some(decision) = decision else {
            return TermResult::Unknown;
        };
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
    /// without one is a permerror. The decision is `None` in [`Mode::Every`].
    async fn redirect(
        &self,
        domain: &str,
        term: &Term,
        spec: &MacroString,
        chain: &[String],
    ) -> (Step, Option<Decision>) {
        let mut step = Step::new(term, "redirect", Qualifier::Pass, self.lookups());
        step.counted = true;
        let error = |mut step: Step, reason: Reason| {
            step.outcome = Some(Outcome::Error);
            (step, Some(Decision::stop(SpfResult::PermError, reason)))
        };
        if let Some(reason) = self.count_lookup(domain, term) {
            step.lookups = self.lookups();
            return error(step, reason);
        }
        step.lookups = self.lookups();
        let target = match self.target(Some(spec), domain).await {
            Ok(target) => target,
            Err(unusable) if self.checks_host() => {
                let why = unusable.why();
                let message = format!(
                    "`{}` in the record of {domain}: {why}; check_host returns permerror (§6.1)",
                    term.text
                );
                step.note = Some(why);
                let reason = Reason::new(ReasonKind::RedirectNone, domain, Some(term), message);
                return error(step, reason);
            }
            Err(unusable) => {
                self.unusable(&mut step, &unusable);
                return (step, None);
            }
        };
        step.target = Some(target.clone());
        let child = self
            .record(
                target.clone(),
                Via::Redirect,
                Some(term.text.clone()),
                chain.to_vec(),
            )
            .await;
        let decision = child.decision.clone();
        step.child = Some(Box::new(child));
        let Some(decision) = decision else {
            return (step, None);
        };
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
        step.outcome = Some(if decision.reason.is_some() {
            Outcome::Error
        } else {
            Outcome::Redirected
        });
        (step, Some(decision))
    }

    /// A name the DNS layer cannot send: no match (it cannot exist).
    fn not_asked(&self, step: &mut Step, why: &str) -> TermResult {
        if self.checks_host() {
            no_match(
                step,
                &format!("not asked: the DNS layer cannot send this name ({why})"),
            )
        } else {
            TermResult::Unknown
        }
    }

    /// A failed query of a term: temperror for `check_host` (§5); unknown for the audit.
    fn failed(
        &self,
        step: &mut Step,
        domain: &str,
        term: &Term,
        record_type: &str,
        name: &str,
        failure: &Failure,
    ) -> TermResult {
        if self.checks_host() {
            failure_result(domain, term, record_type, name, failure)
        } else {
            step.failed = true;
            TermResult::Unknown
        }
    }
}

fn neutral() -> Decision {
    Decision {
        result: SpfResult::Neutral,
        matched: None,
        exp: None,
        reason: None,
    }
}

fn take(counter: &AtomicUsize, max: usize) -> bool {
    counter.fetch_add(1, Ordering::Relaxed) < max
}

/// What a TXT answer holds for SPF.
enum TxtAnswer<'a> {
    /// The DNS layer cannot send the name.
    InvalidName(&'a str),
    Failed(&'a Failure),
    /// NXDOMAIN or NODATA.
    Void,
    /// The `v=spf1` records among the TXT records, each joined from its strings (§3.3, §4.5).
    Records(Vec<String>),
}

fn classify(answer: &Answer<Txt>) -> TxtAnswer<'_> {
    match answer {
        Answer::Failed(Failure::InvalidName(why)) => TxtAnswer::InvalidName(why),
        Answer::Failed(failure) => TxtAnswer::Failed(failure),
        Answer::NoData { .. } | Answer::NxDomain { .. } => TxtAnswer::Void,
        Answer::Records { records, .. } => TxtAnswer::Records(
            records
                .iter()
                .map(Txt::joined)
                .filter(|text| is_spf_record(text))
                .collect(),
        ),
    }
}

/// The status word of an answer, with `invalid-name` for a name the DNS layer cannot send.
fn status_of<T>(answer: &Answer<T>) -> String {
    match answer {
        Answer::Failed(Failure::InvalidName(_)) => "invalid-name".to_owned(),
        other => other.status(),
    }
}

/// The answer of the client's family.
fn one_family(answer: &Answer<IpAddr>, record_type: &'static str) -> AddressAnswer {
    AddressAnswer {
        dns: status_of(answer),
        addresses: answer.records().to_vec(),
        void: answer.is_void(),
        invalid: match answer {
            Answer::Failed(Failure::InvalidName(why)) => Some(why.clone()),
            _ => None,
        },
        failure: real_failure(answer).map(|failure| (record_type, failure.clone())),
        note: None,
    }
}

/// The answers of both families, without a client. A sender has one family and `check_host`
/// asks only that one (§5.3, §5.4): when one family answered with addresses and the other
/// failed, the name is unknown only for senders of the failed family, which is noted, not a
/// failure of the term.
fn both_families(a: &Answer<Ipv4Addr>, aaaa: &Answer<Ipv6Addr>) -> AddressAnswer {
    let addresses: Vec<IpAddr> = a
        .records()
        .iter()
        .copied()
        .map(IpAddr::V4)
        .chain(aaaa.records().iter().copied().map(IpAddr::V6))
        .collect();
    let (a_failure, aaaa_failure) = (real_failure(a), real_failure(aaaa));
    let dns = if let Some(failed) = a_failure
        .map(|_| status_of(a))
        .or_else(|| aaaa_failure.map(|_| status_of(aaaa)))
    {
        failed
    } else if !addresses.is_empty() {
        "records".to_owned()
    } else if matches!(a, Answer::Failed(Failure::InvalidName(_))) {
        "invalid-name".to_owned()
    } else if matches!(a, Answer::NxDomain { .. }) || matches!(aaaa, Answer::NxDomain { .. }) {
        "nxdomain".to_owned()
    } else {
        "nodata".to_owned()
    };
    let (failed, note) = match (a_failure, aaaa_failure) {
        (None, None) => (None, None),
        (None, Some(_)) if !a.records().is_empty() => (
            None,
            Some(format!(
                "the AAAA lookup failed ({}): unknown for IPv6 senders only",
                aaaa.status()
            )),
        ),
        (Some(_), None) if !aaaa.records().is_empty() => (
            None,
            Some(format!(
                "the A lookup failed ({}): unknown for IPv4 senders only",
                a.status()
            )),
        ),
        (Some(failure), other) | (other, Some(failure)) => {
            let unknown = addresses.is_empty() || other.is_some();
            (unknown.then(|| ("A", failure.clone())), None)
        }
    };
    let invalid = (dns == "invalid-name").then(|| "invalid name".to_owned());
    AddressAnswer {
        void: addresses.is_empty() && failed.is_none() && invalid.is_none(),
        dns,
        addresses,
        invalid,
        failure: failed,
        note,
    }
}

/// A failure that makes an answer unknown. A name the DNS layer refuses to ask is no failure
/// of DNS: it cannot exist.
fn real_failure<T>(answer: &Answer<T>) -> Option<&Failure> {
    match answer {
        Answer::Failed(Failure::InvalidName(_)) => None,
        Answer::Failed(failure) => Some(failure),
        _ => None,
    }
}

/// A failed query of a term: temperror (§5).
fn failure_result(
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

fn matches(yes: bool) -> TermResult {
    if yes {
        TermResult::Match(Vec::new())
    } else {
        TermResult::NoMatch
    }
}

fn no_match(step: &mut Step, why: &str) -> TermResult {
    step.note = Some(format!("{why}: no match"));
    TermResult::NoMatch
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

/// Why `domain` cannot be checked (§4.3): `None` when it is a usable multi-label name.
///
/// Malformed means: empty, an empty label other than the trailing one, a label over 63 octets,
/// over 253 octets in all, a single label, a domain literal (`[192.0.2.1]`), or an all-numeric
/// last label (an IP address is not a domain).
pub fn domain_problem(domain: &str) -> Option<String> {
    if domain.starts_with('[') {
        return Some("it is an address literal, not a domain name".to_owned());
    }
    QueryName::domain(domain, Syntax::Printable)
        .err()
        .map(|problem| problem.to_string())
}

/// Why `name` cannot be sent in a DNS query (RFC 1035 §2.3.4): empty labels, labels over 63
/// octets, over 253 octets in all, or bytes that are not printable ASCII.
fn name_problem(name: &str) -> Option<String> {
    QueryName::parse(name, Syntax::Printable)
        .err()
        .map(|problem| problem.to_string())
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

    #[tokio::test]
    async fn targets_expand_the_domain_and_defer_sender_macros() {
        use super::super::macros::parse_domain_spec;
        // Nothing is asked: no target here needs %{p}.
        let dns = Dns::new(&crate::dns::DnsConfig {
            servers: vec!["127.0.0.1:9".parse().unwrap()],
            timeout: std::time::Duration::from_millis(50),
            concurrency: 1,
        })
        .unwrap();
        let walker = Walker::new(&dns, None, Mode::Every(AUDIT));
        let spec = parse_domain_spec("_spf.%{d2}").unwrap();
        assert_eq!(
            walker.target(Some(&spec), "mail.example.com").await.ok(),
            Some("_spf.example.com".to_owned())
        );
        assert_eq!(
            walker.target(None, "example.com").await.ok(),
            Some("example.com".to_owned())
        );
        let spec = parse_domain_spec("%{i}.bl.example.org").unwrap();
        let Err(Unusable::Unresolved(unresolved)) = walker.target(Some(&spec), "example.com").await
        else {
            panic!("%{{i}} expanded without a client")
        };
        assert_eq!(unresolved.to_string(), "%{i}");
        let spec = parse_domain_spec("%{d}.EXAMPLE.net.").unwrap();
        assert_eq!(
            walker.target(Some(&spec), "a.org").await.ok(),
            Some("a.org.EXAMPLE.net".to_owned())
        );
        let client = Client {
            ip: v4("192.0.2.9"),
            sender: "joe@example.com",
            helo: "mail.example.org",
            timestamp: 0,
        };
        let walker = Walker::new(&dns, Some(&client), Mode::Every(AUDIT));
        let spec = parse_domain_spec("%{l}.%{h}.%{i}.bl.example").unwrap();
        assert_eq!(
            walker.target(Some(&spec), "example.com").await.ok(),
            Some("joe.mail.example.org.192.0.2.9.bl.example".to_owned())
        );
    }

    #[test]
    fn query_names_are_checked_before_asking() {
        assert_eq!(name_problem("_spf.example.com"), None);
        assert!(name_problem("").is_some());
        assert!(name_problem("a..example.com").is_some());
        assert!(name_problem(&format!("{}.com", "a".repeat(64))).is_some());
        assert!(name_problem(&format!("{}com", "abcdefghi.".repeat(26))).is_some());
        assert!(name_problem("tab\texample.com").is_some());
        // A space can come only from a sender's macro; the DNS layer refuses the name.
        assert_eq!(name_problem("with space.example.com"), None);
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
    fn reverse_names_are_the_ptr_query_names() {
        assert_eq!(reverse_name(v4("192.0.2.4")), "4.2.0.192.in-addr.arpa");
        assert!(reverse_name(v6("2001:db8::1")).starts_with("1.0.0.0."));
        assert!(reverse_name(v6("2001:db8::1")).ends_with("8.b.d.0.1.0.0.2.ip6.arpa"));
    }

    #[test]
    fn only_v_spf1_records_are_selected_and_strings_are_joined() {
        let answer = Answer::Records {
            records: vec![
                Txt {
                    strings: vec![b"v=spf1 ip4:".to_vec(), b"192.0.2.5 -all".to_vec()],
                },
                Txt {
                    strings: vec![b"v=spf10 +all".to_vec()],
                },
                Txt {
                    strings: vec![b"google-site-verification=x".to_vec()],
                },
                Txt {
                    strings: vec![vec![0x96, 0xff]],
                },
            ],
            aliases: Vec::new(),
        };
        let TxtAnswer::Records(records) = classify(&answer) else {
            panic!("not records")
        };
        assert_eq!(records, vec!["v=spf1 ip4:192.0.2.5 -all".to_owned()]);
        assert!(matches!(
            classify(&Answer::<Txt>::nx_domain()),
            TxtAnswer::Void
        ));
        assert!(matches!(
            classify(&Answer::<Txt>::Failed(Failure::Timeout)),
            TxtAnswer::Failed(_)
        ));
        assert!(matches!(
            classify(&Answer::<Txt>::Failed(Failure::InvalidName("x".to_owned()))),
            TxtAnswer::InvalidName(_)
        ));
    }

    #[test]
    fn a_failure_of_one_family_beside_addresses_of_the_other_is_a_note() {
        let v4_only = both_families(
            &Answer::Records {
                records: vec!["192.0.2.5".parse().unwrap()],
                aliases: Vec::new(),
            },
            &Answer::Failed(Failure::ServFail),
        );
        assert!(v4_only.failure.is_none());
        assert_eq!(
            v4_only.note.as_deref(),
            Some("the AAAA lookup failed (SERVFAIL): unknown for IPv6 senders only")
        );
        let none = both_families(&Answer::Failed(Failure::Timeout), &Answer::no_data());
        assert!(none.failure.is_some());
        assert_eq!(none.dns, "timeout");
        assert!(!none.void);
        let gone = both_families(&Answer::nx_domain(), &Answer::nx_domain());
        assert!(gone.void);
        assert_eq!(gone.dns, "nxdomain");
    }
}
