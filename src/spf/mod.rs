//! SPF (RFC 7208): the record at the domain, parsed strictly, and the include/redirect tree
//! behind it, walked with the lookup counts of §4.6.4.
//!
//! - [`record`]: record selection (§4.5) and the strict parser with positioned diagnostics.
//! - [`macros`]: macro strings (§7): parsing, and expansion over a [`macros::MacroContext`].
//! - `walk`: the one walk through a record's terms and the records they lead to, with the
//!   limits of §4.6.4; the two modules below are its views.
//! - [`tree`]: the audit's include tree, with per-node lookup and void-lookup counts.
//! - `checks`: the findings, a pure function of the tree.
//! - [`eval`]: `check_host()` (§4-§7) for a sending IP (`audit --ip`, `ip --domain`), with its
//!   trace and `spf.ip-not-authorized`; it passes the RFC 7208 test suite (`tests/spf_suite`).

mod checks;
pub mod edit;
pub mod eval;
pub mod macros;
pub mod record;
pub mod tree;
mod walk;

use serde::Serialize;

use crate::dns::{Dns, Txt};
use crate::finding::{Checked, Code, Verdict};

pub use checks::{NEAR_LIMIT, RECORD_SIZE_LIMIT, UDP_REPLY_LIMIT};
pub use eval::{
    Evaluation, SpfResult, check_host, helo_not_authorized_finding, not_authorized_finding,
};
pub use record::{Record, SyntaxError, Term, is_spf_record, parse};
pub use tree::{LOOKUP_LIMIT, MX_LIMIT, Node, NodeStatus, VOID_LIMIT};
pub use walk::in_network;

/// Findings after which receivers get none or permerror from the domain's SPF (§4.5, §4.6,
/// §4.6.4, §5.2): SPF does not pass, whoever sends.
pub const BROKEN: &[Code] = &[
    Code::SpfMissing,
    Code::SpfMultipleRecords,
    Code::SpfSyntax,
    Code::SpfLookupLimit,
    Code::SpfVoidLookupLimit,
    Code::SpfIncludeMissing,
    Code::SpfLoop,
    Code::SpfMxLimit,
];

/// The SPF area of a report: what was fetched at the domain, what was parsed from it, and the
/// walked tree, so that a user can see why each finding was raised.
#[derive(Clone, Debug, Serialize)]
pub struct SpfReport {
    pub verdict: Verdict,
    pub domain: String,
    /// What the TXT question at the domain got: `records`, `nodata`, `nxdomain` or the failure.
    pub dns: String,
    /// Every TXT record at the domain, as its character-strings (bytes that are not UTF-8
    /// shown as U+FFFD).
    pub txt: Vec<Vec<String>>,
    /// The `v=spf1` records among them, each joined without spaces (§3.3).
    pub records: Vec<String>,
    /// The record evaluated, when there is exactly one.
    pub record: Option<String>,
    /// Its terms that parsed.
    pub terms: Vec<Term>,
    /// Its terms that did not parse.
    pub diagnostics: Vec<SyntaxError>,
    /// DNS-querying terms over the whole tree (limit [`LOOKUP_LIMIT`]).
    pub total_lookups: usize,
    /// Void lookups over the whole tree (limit [`VOID_LIMIT`]).
    pub void_lookups: usize,
    /// The include/redirect tree, rooted at the domain.
    pub tree: Node,
}

/// Audits the SPF record of `domain` (a lowercase A-label name without trailing dot).
pub async fn check(dns: &Dns, domain: &str) -> Checked<SpfReport> {
    let tree = tree::walk(dns, domain).await;
    // Asked by the walk already: answered from the run's cache, the same answer.
    let answer = dns.txt(domain).await;
    // A hostile tree (100 includes, each with a broken record) gives a few findings per code.
    let findings = checks::findings(domain, &tree, &answer);
    let verdict = Verdict::from_findings(&findings, !tree.any_failure());
    let report = SpfReport {
        verdict,
        domain: domain.to_owned(),
        dns: tree.dns.clone().unwrap_or_else(|| answer.status()),
        txt: answer.records().iter().map(strings).collect(),
        records: tree.records.clone(),
        record: tree.record.clone(),
        terms: tree
            .parsed
            .as_ref()
            .map(|r| r.terms.clone())
            .unwrap_or_default(),
        diagnostics: tree.diagnostics.clone(),
        total_lookups: tree.subtree_lookups,
        void_lookups: tree.total_void_lookups(),
        tree,
    };
    Checked { report, findings }
}

fn strings(txt: &Txt) -> Vec<String> {
    txt.strings
        .iter()
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

#[cfg(test)]
mod suite_tests;
