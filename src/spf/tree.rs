//! The include/redirect tree, walked through the DNS layer as `check_host` would walk it, with
//! the counts of RFC 7208 §4.6.4 kept per node.
//!
//! Counted as `check_host` counts them, but for every term rather than up to the first match (an
//! audit has no sender, so it must assume the worst case):
//! - DNS-querying terms (`include`, `a`, `mx`, `ptr`, `exists`, and `redirect` when it is
//!   used): at most 10 over the whole tree.
//! - void lookups, terms whose query gets NXDOMAIN or NODATA: at most 2. An `a` term is void
//!   when its name has neither A nor AAAA records; an `include`/`redirect` target whose TXT
//!   question is void counts too. The addresses of MX hosts are not terms and are not counted.
//! - MX records of one `mx` term: at most 10 (their address lookups count against that limit,
//!   not the 10 above).
//!
//! Only `%{d}` can be expanded without a message; a target that needs the sender, IP or HELO
//! is counted and marked as depending on the sender, never guessed. `redirect` is not followed
//! when the record has `all`, since `all` always matches first (§6.1).
//!
//! Children of a node are fetched concurrently with the lookups of its own terms, so the walk
//! takes as many round trips as its deepest chain. The walk stops at a domain already on the
//! chain from the root (a loop), at depth [`MAX_DEPTH`] and after [`MAX_NODES`] records and
//! [`MAX_RESOLVED`] term lookups, so hostile records cannot make it run forever.

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::future::{BoxFuture, join, join_all};
use serde::Serialize;

use super::macros::{MacroContext, MacroString, truncate_domain};
use super::record::{Mechanism, Qualifier, Record, SyntaxError, TermKind, is_spf_record};
use crate::dns::{Answer, Dns, Failure, Txt};

/// DNS-querying terms allowed over the whole tree (§4.6.4).
pub const LOOKUP_LIMIT: usize = 10;
/// Void lookups allowed (§4.6.4).
pub const VOID_LIMIT: usize = 2;
/// MX records one `mx` term may yield (§4.6.4).
pub const MX_LIMIT: usize = 10;
/// Include/redirect depth walked: each level costs a lookup, so deeper is over the limit anyway.
pub const MAX_DEPTH: usize = 12;
/// Records fetched per audit.
pub const MAX_NODES: usize = 100;
/// `a`/`mx`/`exists` terms resolved per audit.
pub const MAX_RESOLVED: usize = 200;

/// How a node was reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    Root,
    Include,
    Redirect,
}

/// What was found at a node's domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodeStatus {
    /// One `v=spf1` record, and it parses.
    Ok,
    /// One record with terms that do not parse (permerror); the terms that parsed are walked.
    SyntaxError,
    /// No `v=spf1` record: NXDOMAIN, NODATA, only other TXT records, or not a valid name.
    Missing,
    /// More than one `v=spf1` record (permerror, §4.5); not walked.
    MultipleRecords,
    /// The TXT question failed: the result is unknown.
    Failed,
    /// The domain is already on the chain from the root; not fetched again.
    Loop,
    /// Past the depth or work bound; not fetched.
    NotWalked,
}

/// What became of a DNS-querying term.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Resolution {
    /// Looked up; see `dns`, `addresses`, `mx_hosts`.
    Resolved,
    /// An include or redirect: see the child node.
    Child,
    /// A `redirect` in a record that has `all`: never used (§6.1), not counted.
    Ignored,
    /// The target uses a macro only a message gives (sender, IP, HELO).
    DependsOnSender,
    /// `ptr`: what it matches depends on the client IP.
    DependsOnClientIp,
    /// The expanded target is not a name DNS can be asked about: no match (§4.3 by analogy).
    InvalidName,
    /// Past the work bound: not looked up.
    NotWalked,
}

/// One MX host of an `mx` term.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MxHost {
    pub preference: u16,
    pub exchange: String,
    /// `records`, `nodata`, `nxdomain` or the failure of its A/AAAA questions.
    pub dns: String,
    pub addresses: Vec<IpAddr>,
}

/// A DNS-querying term of a record, and what its lookup gave.
#[derive(Clone, Debug, Serialize)]
pub struct TermTrace {
    pub term: String,
    pub offset: usize,
    pub mechanism: &'static str,
    /// What it adds to the count of 10: 1, or 0 for an ignored redirect.
    pub lookups: usize,
    /// The name asked, after `%{d}` expansion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    pub resolution: Resolution,
    /// `records`, `nodata`, `nxdomain` or the failure, for resolved terms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns: Option<String>,
    /// NXDOMAIN or NODATA: counts against the limit of 2.
    pub void: bool,
    /// A DNS failure: `check_host` would return temperror.
    pub failed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<IpAddr>,
    /// How many MX records the target has.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mx_count: Option<usize>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mx_hosts: Vec<MxHost>,
    /// The index in `children` of the node this include/redirect leads to.
    #[serde(skip)]
    pub child: Option<usize>,
    /// The directive's qualifier (`+` for redirect).
    #[serde(skip)]
    pub qualifier: Qualifier,
}

impl TermTrace {
    fn new(term: &super::record::Term, mechanism: &'static str, qualifier: Qualifier) -> Self {
        TermTrace {
            term: term.text.clone(),
            offset: term.offset,
            mechanism,
            lookups: 1,
            target: None,
            resolution: Resolution::Resolved,
            dns: None,
            void: false,
            failed: false,
            note: None,
            addresses: Vec::new(),
            mx_count: None,
            mx_hosts: Vec::new(),
            child: None,
            qualifier,
        }
    }
}

/// One domain of the tree: its record, what it costs, and where it leads.
#[derive(Clone, Debug, Serialize)]
pub struct Node {
    pub domain: String,
    pub via: Via,
    /// The include/redirect term of the parent that led here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub term: Option<String>,
    pub status: NodeStatus,
    /// What the TXT question got: `records`, `nodata`, `nxdomain`, `invalid-name` or the
    /// failure; absent when the domain was not asked (loop, work bound).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns: Option<String>,
    /// The `v=spf1` records found, each joined from its character-strings.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub records: Vec<String>,
    /// The record evaluated, when there is exactly one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub diagnostics: Vec<SyntaxError>,
    /// DNS-querying terms of this record.
    pub lookups: usize,
    /// This record's lookups plus those of everything it includes or redirects to.
    pub subtree_lookups: usize,
    /// The running total in `check_host`'s order once this node is fully evaluated.
    pub cumulative_lookups: usize,
    /// Void lookups caused here: void terms, plus this domain's own TXT question if void.
    pub void_lookups: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub terms: Vec<TermTrace>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<Node>,
    /// The parsed record (the terms that parsed).
    #[serde(skip)]
    pub parsed: Option<Record>,
}

impl Node {
    fn new(domain: String, via: Via, term: Option<String>) -> Node {
        Node {
            domain,
            via,
            term,
            status: NodeStatus::NotWalked,
            dns: None,
            records: Vec::new(),
            record: None,
            diagnostics: Vec::new(),
            lookups: 0,
            subtree_lookups: 0,
            cumulative_lookups: 0,
            void_lookups: 0,
            terms: Vec::new(),
            children: Vec::new(),
            parsed: None,
        }
    }

    /// Every node, depth first in evaluation order, with its parent and the chain of domains
    /// from the root to it (itself included).
    pub fn nodes(&self) -> Vec<Visit<'_>> {
        fn walk<'n>(
            node: &'n Node,
            parent: Option<&'n Node>,
            chain: &mut Vec<&'n str>,
            out: &mut Vec<Visit<'n>>,
        ) {
            chain.push(&node.domain);
            out.push(Visit {
                chain: chain.clone(),
                parent,
                node,
            });
            for child in &node.children {
                walk(child, Some(node), chain, out);
            }
            chain.pop();
        }
        let mut out = Vec::new();
        walk(self, None, &mut Vec::new(), &mut out);
        out
    }

    /// Void lookups over the whole tree.
    pub fn total_void_lookups(&self) -> usize {
        self.void_lookups
            + self
                .children
                .iter()
                .map(Node::total_void_lookups)
                .sum::<usize>()
    }

    /// Whether any DNS question of the tree failed (the result is then unknown).
    pub fn any_failure(&self) -> bool {
        self.status == NodeStatus::Failed
            || self.terms.iter().any(|t| t.failed)
            || self.children.iter().any(Node::any_failure)
    }

    /// The child an include/redirect term leads to.
    pub fn child_of(&self, trace: &TermTrace) -> Option<&Node> {
        trace.child.and_then(|index| self.children.get(index))
    }
}

/// A node met in [`Node::nodes`].
pub struct Visit<'n> {
    /// The domains from the root to the node, both included.
    pub chain: Vec<&'n str>,
    /// The node whose include or redirect led here; `None` for the root.
    pub parent: Option<&'n Node>,
    pub node: &'n Node,
}

/// Walks the SPF tree of `domain` (lowercase, no trailing dot).
pub async fn walk(dns: &Dns, domain: &str) -> Node {
    let walker = Walker {
        dns,
        nodes: AtomicUsize::new(0),
        resolved: AtomicUsize::new(0),
    };
    let mut root = walker
        .visit(domain.to_owned(), Via::Root, None, Vec::new())
        .await;
    let mut running = 0;
    accumulate(&mut root, &mut running);
    root
}

/// Sets `cumulative_lookups` in `check_host`'s order: terms left to right, redirect last, an
/// include's subtree counted where the include is.
fn accumulate(node: &mut Node, running: &mut usize) {
    for index in 0..node.terms.len() {
        *running += node.terms[index].lookups;
        if let Some(child) = node.terms[index].child
            && let Some(child) = node.children.get_mut(child)
        {
            accumulate(child, running);
        }
    }
    node.cumulative_lookups = *running;
}

struct Walker<'a> {
    dns: &'a Dns,
    nodes: AtomicUsize,
    resolved: AtomicUsize,
}

/// What the lookups of one `a`, `mx` or `exists` term gave.
#[derive(Default)]
struct Lookup {
    dns: String,
    void: bool,
    failed: bool,
    addresses: Vec<IpAddr>,
    mx_count: Option<usize>,
    mx_hosts: Vec<MxHost>,
    note: Option<String>,
}

fn take(counter: &AtomicUsize, max: usize) -> bool {
    counter.fetch_add(1, Ordering::Relaxed) < max
}

impl<'a> Walker<'a> {
    fn visit(
        &'a self,
        domain: String,
        via: Via,
        term: Option<String>,
        chain: Vec<String>,
    ) -> BoxFuture<'a, Node> {
        Box::pin(async move {
            let mut node = Node::new(domain, via, term);
            let Some(text) = self.fetch(&mut node, &chain).await else {
                return node;
            };
            let (parsed, errors) = super::record::parse_lenient(&text);
            node.status = if errors.is_empty() {
                NodeStatus::Ok
            } else {
                NodeStatus::SyntaxError
            };
            node.record = Some(text);
            node.diagnostics = errors;

            let mut chain = chain;
            chain.push(node.domain.clone());
            let (children, lookups) = self.plan(&mut node, &parsed, &chain);
            node.parsed = Some(parsed);
            let (children, lookups) = join(join_all(children), join_all(lookups)).await;
            for (index, lookup) in lookups {
                apply(&mut node.terms[index], lookup);
            }
            node.children = children;
            node.lookups = node.terms.iter().map(|t| t.lookups).sum();
            node.subtree_lookups = node.lookups
                + node
                    .children
                    .iter()
                    .map(|c| c.subtree_lookups)
                    .sum::<usize>();
            node.void_lookups += node.terms.iter().filter(|t| t.void).count();
            node
        })
    }

    /// Asks for the node's TXT records and returns its one `v=spf1` record; otherwise sets the
    /// node's status and returns `None`.
    async fn fetch(&self, node: &mut Node, chain: &[String]) -> Option<String> {
        if chain.contains(&node.domain) {
            node.status = NodeStatus::Loop;
            return None;
        }
        if !is_query_name(&node.domain) {
            node.status = NodeStatus::Missing;
            node.dns = Some("invalid-name".to_owned());
            return None;
        }
        if chain.len() >= MAX_DEPTH || !take(&self.nodes, MAX_NODES) {
            return None;
        }
        let answer = self.dns.txt(&node.domain).await;
        node.dns = Some(answer.status());
        match select(&answer) {
            Selected::Failed => node.status = NodeStatus::Failed,
            Selected::Void => {
                node.status = NodeStatus::Missing;
                node.void_lookups = usize::from(node.via != Via::Root);
            }
            Selected::Records(records) => {
                node.records = records;
                match node.records.as_slice() {
                    [] => node.status = NodeStatus::Missing,
                    [one] => return Some(one.clone()),
                    _ => node.status = NodeStatus::MultipleRecords,
                }
            }
        }
        None
    }

    /// Traces each DNS-querying term of `parsed` into `node.terms`, and returns the walks of
    /// its includes and redirect (in evaluation order) and the lookups of its other terms.
    #[allow(clippy::type_complexity)]
    fn plan(
        &'a self,
        node: &mut Node,
        parsed: &Record,
        chain: &[String],
    ) -> (
        Vec<BoxFuture<'a, Node>>,
        Vec<BoxFuture<'a, (usize, Option<Lookup>)>>,
    ) {
        let mut children = Vec::new();
        let mut lookups: Vec<BoxFuture<'a, (usize, Option<Lookup>)>> = Vec::new();
        for term in &parsed.terms {
            let TermKind::Directive(directive) = &term.kind else {
                continue;
            };
            let mechanism = &directive.mechanism;
            if !mechanism.queries_dns() {
                continue;
            }
            let mut trace = TermTrace::new(term, mechanism.name(), directive.qualifier);
            let spec = match mechanism {
                Mechanism::Ptr { .. } => {
                    trace.resolution = Resolution::DependsOnClientIp;
                    trace.note = Some(
                        "matches by the client IP's PTR names: cannot be checked without a \
                         message"
                            .to_owned(),
                    );
                    node.terms.push(trace);
                    continue;
                }
                Mechanism::Include { domain } | Mechanism::Exists { domain } => Some(domain),
                Mechanism::A { domain, .. } | Mechanism::Mx { domain, .. } => domain.as_ref(),
                _ => None,
            };
            match target(spec, &node.domain) {
                Err((resolution, why)) => {
                    trace.resolution = resolution;
                    trace.note = Some(why);
                }
                Ok(name) if matches!(mechanism, Mechanism::Include { .. }) => {
                    trace.target = Some(name.clone());
                    trace.resolution = Resolution::Child;
                    trace.child = Some(children.len());
                    let walk =
                        self.visit(name, Via::Include, Some(term.text.clone()), chain.to_vec());
                    children.push(walk);
                }
                Ok(name) => {
                    trace.target = Some(name.clone());
                    let index = node.terms.len();
                    let name_of = mechanism.name();
                    lookups.push(Box::pin(async move {
                        (index, self.resolve(name_of, name).await)
                    }));
                }
            }
            node.terms.push(trace);
        }
        // redirect is evaluated after every mechanism, and only when none matched (§6.1).
        if let Some((term, spec)) = parsed.redirect() {
            let mut trace = TermTrace::new(term, "redirect", Qualifier::Pass);
            if let Some((all, _)) = parsed.all() {
                trace.lookups = 0;
                trace.resolution = Resolution::Ignored;
                trace.note = Some(format!(
                    "never used: `{}` always matches first (§6.1)",
                    all.text
                ));
            } else {
                match target(Some(spec), &node.domain) {
                    Err((resolution, why)) => {
                        trace.resolution = resolution;
                        trace.note = Some(why);
                    }
                    Ok(name) => {
                        trace.target = Some(name.clone());
                        trace.resolution = Resolution::Child;
                        trace.child = Some(children.len());
                        let walk = self.visit(
                            name,
                            Via::Redirect,
                            Some(term.text.clone()),
                            chain.to_vec(),
                        );
                        children.push(walk);
                    }
                }
            }
            node.terms.push(trace);
        }
        (children, lookups)
    }

    /// Looks up the target of an `a`, `mx` or `exists` term; `None` past the work bound.
    async fn resolve(&self, mechanism: &'static str, name: String) -> Option<Lookup> {
        if !take(&self.resolved, MAX_RESOLVED) {
            return None;
        }
        Some(match mechanism {
            "mx" => self.resolve_mx(&name).await,
            // exists asks A even for an IPv6 client (§5.7).
            "exists" => {
                let answer = self.dns.a(&name).await;
                Lookup {
                    dns: answer.status(),
                    void: answer.is_void(),
                    failed: is_failure(&answer),
                    addresses: answer.records().iter().copied().map(IpAddr::V4).collect(),
                    ..Lookup::default()
                }
            }
            _ => {
                let (a, aaaa) = self.dns.addresses(&name).await;
                let (dns, addresses) = addresses_status(&a, &aaaa);
                let (failed, note) = family_failure(&a, &aaaa, &addresses);
                let void = addresses.is_empty() && !failed && dns != "invalid-name";
                Lookup {
                    dns,
                    void,
                    failed,
                    addresses,
                    note,
                    ..Lookup::default()
                }
            }
        })
    }

    async fn resolve_mx(&self, name: &str) -> Lookup {
        let answer = self.dns.mx(name).await;
        let mut lookup = Lookup {
            dns: answer.status(),
            void: answer.is_void(),
            failed: is_failure(&answer),
            ..Lookup::default()
        };
        let records = answer.records();
        if records.is_empty() {
            return lookup;
        }
        lookup.mx_count = Some(records.len());
        if records.len() > MX_LIMIT {
            lookup.note = Some(format!(
                "{} MX records: check_host evaluates at most {MX_LIMIT} and then returns \
                 permerror (§4.6.4)",
                records.len()
            ));
        }
        // A null MX (RFC 7505) names no host to ask for addresses.
        let hosts: Vec<_> = records
            .iter()
            .filter(|mx| mx.exchange != "." && !mx.exchange.is_empty())
            .take(MX_LIMIT)
            .collect();
        let answers = join_all(hosts.iter().map(|mx| self.dns.addresses(&mx.exchange))).await;
        for (mx, (a, aaaa)) in hosts.into_iter().zip(answers) {
            let (dns, addresses) = addresses_status(&a, &aaaa);
            let (failed, note) = family_failure(&a, &aaaa, &addresses);
            lookup.failed |= failed;
            if lookup.note.is_none() {
                lookup.note = note;
            }
            lookup.mx_hosts.push(MxHost {
                preference: mx.preference,
                exchange: mx.exchange.clone(),
                dns,
                addresses,
            });
        }
        lookup
    }
}

/// Whether an address lookup failed as `check_host()` would see it. A sender has one address
/// family and `check_host()` asks only that one (§5.3, §5.4): when one family answered with
/// addresses and the other failed, the term is unknown only for senders of the failed family,
/// which is noted, not a failure of the whole record.
fn family_failure(
    a: &Answer<std::net::Ipv4Addr>,
    aaaa: &Answer<std::net::Ipv6Addr>,
    addresses: &[IpAddr],
) -> (bool, Option<String>) {
    let (a_failed, aaaa_failed) = (is_failure(a), is_failure(aaaa));
    if !(a_failed || aaaa_failed) {
        return (false, None);
    }
    let answered_a = !a.records().is_empty();
    let answered_aaaa = !aaaa.records().is_empty();
    match (a_failed, aaaa_failed) {
        (false, true) if answered_a => (
            false,
            Some(format!(
                "the AAAA lookup failed ({}): unknown for IPv6 senders only",
                aaaa.status()
            )),
        ),
        (true, false) if answered_aaaa => (
            false,
            Some(format!(
                "the A lookup failed ({}): unknown for IPv4 senders only",
                a.status()
            )),
        ),
        _ => (addresses.is_empty() || (a_failed && aaaa_failed), None),
    }
}

/// Records what a term's lookup gave in its trace.
fn apply(trace: &mut TermTrace, lookup: Option<Lookup>) {
    let Some(lookup) = lookup else {
        trace.resolution = Resolution::NotWalked;
        trace.note = Some("not looked up: the audit's work bound was reached".to_owned());
        return;
    };
    if lookup.dns == "invalid-name" {
        trace.resolution = Resolution::InvalidName;
    }
    trace.dns = Some(lookup.dns);
    trace.void = lookup.void;
    trace.failed = lookup.failed;
    trace.addresses = lookup.addresses;
    trace.mx_count = lookup.mx_count;
    trace.mx_hosts = lookup.mx_hosts;
    trace.note = lookup.note;
}

/// A failure that makes the result unknown. A name the DNS layer refuses to ask is no failure
/// of DNS: it cannot exist.
fn is_failure<T>(answer: &Answer<T>) -> bool {
    matches!(answer, Answer::Failed(failure) if !matches!(failure, Failure::InvalidName(_)))
}

fn status_of<T>(answer: &Answer<T>) -> String {
    match answer {
        Answer::Failed(Failure::InvalidName(_)) => "invalid-name".to_owned(),
        other => other.status(),
    }
}

/// The combined status of the A and AAAA questions, and the addresses they gave.
fn addresses_status(
    a: &Answer<std::net::Ipv4Addr>,
    aaaa: &Answer<std::net::Ipv6Addr>,
) -> (String, Vec<IpAddr>) {
    let addresses: Vec<IpAddr> = a
        .records()
        .iter()
        .copied()
        .map(IpAddr::V4)
        .chain(aaaa.records().iter().copied().map(IpAddr::V6))
        .collect();
    let status = if let Some(failed) = [status_of(a), status_of(aaaa)]
        .into_iter()
        .zip([is_failure(a), is_failure(aaaa)])
        .find_map(|(status, failed)| failed.then_some(status))
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
    (status, addresses)
}

enum Selected {
    Failed,
    Void,
    Records(Vec<String>),
}

/// The `v=spf1` records among a TXT answer, each joined from its strings (§3.3, §4.5).
fn select(answer: &Answer<Txt>) -> Selected {
    match answer {
        Answer::Failed(Failure::InvalidName(_))
        | Answer::NoData { .. }
        | Answer::NxDomain { .. } => Selected::Void,
        Answer::Failed(_) => Selected::Failed,
        Answer::Records { records, .. } => Selected::Records(
            records
                .iter()
                .map(Txt::joined)
                .filter(|text| is_spf_record(text))
                .collect(),
        ),
    }
}

/// The name a term asks about: its domain-spec expanded with `<domain>`, or `<domain>`.
fn target(spec: Option<&MacroString>, domain: &str) -> Result<String, (Resolution, String)> {
    let Some(spec) = spec else {
        return Ok(domain.to_owned());
    };
    match spec.expand(&MacroContext::domain_only(domain)) {
        Ok(expanded) => {
            let name = truncate_domain(&expanded).to_ascii_lowercase();
            if is_query_name(&name) {
                Ok(name)
            } else {
                Err((
                    Resolution::InvalidName,
                    format!("`{expanded}` is not a name DNS can be asked about"),
                ))
            }
        }
        Err(unresolved) => Err((
            Resolution::DependsOnSender,
            format!("uses {unresolved}, known only when a message arrives: counted, not looked up"),
        )),
    }
}

/// A name the DNS layer can ask: 1 to 63 visible ASCII characters per label, at most 253 in
/// all (RFC 1035 §2.3.4).
fn is_query_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len()) && label.bytes().all(|b| b.is_ascii_graphic())
        })
}

/// The size of the UDP reply to a TXT question for `name` (RFC 1035 §4.1, without EDNS): a
/// 12-byte header, the question, and each record with a compressed owner name, type, class,
/// TTL, length and its length-prefixed strings.
pub fn txt_reply_size(name: &str, records: &[Txt]) -> usize {
    let qname: usize = name
        .split('.')
        .filter(|l| !l.is_empty())
        .map(|l| l.len() + 1)
        .sum::<usize>()
        + 1;
    let answers: usize = records
        .iter()
        .map(|txt| 2 + 10 + txt.strings.iter().map(|s| 1 + s.len()).sum::<usize>())
        .sum();
    12 + qname + 4 + answers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_names_are_checked_before_asking() {
        assert!(is_query_name("_spf.example.com"));
        assert!(!is_query_name(""));
        assert!(!is_query_name("a..example.com"));
        assert!(!is_query_name(&format!("{}.com", "a".repeat(64))));
        assert!(!is_query_name("with space.example.com"));
    }

    #[test]
    fn targets_expand_the_domain_and_defer_sender_macros() {
        let spec = super::super::macros::parse_domain_spec("_spf.%{d2}").unwrap();
        assert_eq!(
            target(Some(&spec), "mail.example.com"),
            Ok("_spf.example.com".to_owned())
        );
        assert_eq!(target(None, "example.com"), Ok("example.com".to_owned()));
        let spec = super::super::macros::parse_domain_spec("%{i}.bl.example.org").unwrap();
        let (resolution, note) = target(Some(&spec), "example.com").unwrap_err();
        assert_eq!(resolution, Resolution::DependsOnSender);
        assert!(note.contains("%{i}"), "{note}");
        let spec = super::super::macros::parse_domain_spec("%{d}.EXAMPLE.net.").unwrap();
        assert_eq!(
            target(Some(&spec), "a.org"),
            Ok("a.org.example.net".to_owned())
        );
    }

    #[test]
    fn the_txt_reply_size_counts_every_record_at_the_name() {
        let spf = Txt {
            strings: vec![b"v=spf1 -all".to_vec()],
        };
        // header 12 + question (13 + 4) + record (12 + 12)
        assert_eq!(
            txt_reply_size("example.com", std::slice::from_ref(&spf)),
            12 + 13 + 4 + 24
        );
        let big = Txt {
            strings: vec![vec![b'x'; 255], vec![b'y'; 200]],
        };
        assert!(txt_reply_size("example.com", &[spf, big]) > 512);
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
        let Selected::Records(records) = select(&answer) else {
            panic!("not records")
        };
        assert_eq!(records, vec!["v=spf1 ip4:192.0.2.5 -all".to_owned()]);
        assert!(matches!(
            select(&Answer::<Txt>::nx_domain()),
            Selected::Void
        ));
        assert!(matches!(
            select(&Answer::<Txt>::Failed(Failure::Timeout)),
            Selected::Failed
        ));
    }
}
