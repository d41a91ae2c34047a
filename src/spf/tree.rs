//! The audit's include/redirect tree: the walk of [`super::walk`] without a client, every term
//! of every record at once, seen as a tree with the counts of RFC 7208 §4.6.4 kept per node.
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
//! when the record has `all`, since `all` always matches first (§6.1). The walk stops at a
//! domain already on the chain from the root (a loop), at depth [`MAX_DEPTH`] and after
//! [`MAX_NODES`] records and [`MAX_RESOLVED`] term lookups, so hostile records cannot make it
//! run forever.

use std::net::IpAddr;

use serde::Serialize;

use super::record::{Qualifier, Record, SyntaxError};
use super::walk::{AUDIT, Found, Mode, Skipped, Walked, Walker};
use crate::dns::{Dns, Txt};

pub use super::walk::{
    LOOKUP_LIMIT, MAX_DEPTH, MAX_NODES, MAX_RESOLVED, MX_LIMIT, VOID_LIMIT, Via,
};

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
    let walked = Walker::new(dns, None, Mode::Every(AUDIT))
        .walk(domain)
        .await;
    let mut root = node(walked);
    let mut running = 0;
    accumulate(&mut root, &mut running);
    root
}

/// The node of a walked record, and of every record below it.
fn node(walked: Walked) -> Node {
    let mut node = Node::new(walked.domain.to_ascii_lowercase(), walked.via, walked.term);
    node.status = match walked.found {
        Found::Record => NodeStatus::Ok,
        Found::SyntaxError => NodeStatus::SyntaxError,
        Found::NoRecord | Found::InvalidName => NodeStatus::Missing,
        Found::MultipleRecords => NodeStatus::MultipleRecords,
        Found::Failed => NodeStatus::Failed,
        Found::Loop => NodeStatus::Loop,
        Found::NotWalked => NodeStatus::NotWalked,
    };
    node.dns = walked.dns;
    node.records = walked.records;
    node.record = walked.record;
    node.diagnostics = walked.diagnostics;
    node.parsed = walked.parsed;
    for step in walked.steps {
        let resolution = match (step.skipped, &step.child) {
            (_, Some(_)) => Resolution::Child,
            (Some(Skipped::Unresolved), None) => Resolution::DependsOnSender,
            (Some(Skipped::InvalidName), None) => Resolution::InvalidName,
            (Some(Skipped::NeedsClient), None) => Resolution::DependsOnClientIp,
            (Some(Skipped::Ignored), None) => Resolution::Ignored,
            (Some(Skipped::NotWalked), None) => Resolution::NotWalked,
            (None, None) if step.dns.as_deref() == Some("invalid-name") => Resolution::InvalidName,
            (None, None) => Resolution::Resolved,
        };
        let child = step.child.map(|child| {
            node.children.push(self::node(*child));
            node.children.len() - 1
        });
        node.terms.push(TermTrace {
            term: step.term.text,
            offset: step.term.offset,
            mechanism: step.mechanism,
            lookups: usize::from(step.counted),
            target: step.target.map(|t| t.to_ascii_lowercase()),
            resolution,
            dns: step.dns,
            void: step.void,
            failed: step.failed,
            note: step.note,
            addresses: step.addresses,
            mx_count: step.mx_count,
            mx_hosts: step
                .hosts
                .into_iter()
                .map(|host| MxHost {
                    preference: host.preference.unwrap_or_default(),
                    exchange: host.name,
                    dns: host.dns,
                    addresses: host.addresses,
                })
                .collect(),
            child,
            qualifier: step.qualifier,
        });
    }
    node.lookups = node.terms.iter().map(|t| t.lookups).sum();
    node.subtree_lookups = node.lookups
        + node
            .children
            .iter()
            .map(|c| c.subtree_lookups)
            .sum::<usize>();
    node.void_lookups = usize::from(walked.void) + node.terms.iter().filter(|t| t.void).count();
    node
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
}
