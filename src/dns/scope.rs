//! What one audit asked, and whether its domain's name servers answer at all.
//!
//! Every audit asks through a [`super::Dns`] scoped to its target ([`super::Dns::scoped`]): the
//! questions it sent are counted for its report ([`Stats`]), and the names at or below its
//! domain share one verdict on that domain's name servers. Once questions about the domain
//! timed out or got SERVFAIL and none was answered, its name servers are taken for dead: the
//! rest of its questions get one short try instead of the whole time-out each, and what they
//! could not learn is a failure (unknown), never a missing record. One answer about the domain
//! and its questions get the whole time-out again.

use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};

/// The questions one audit sent to the resolver (cache hits cost nothing and are not counted).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Questions sent (each once, however many times it was sent again).
    pub queries: usize,
    /// Resends of those questions after a time-out derived from the round trips observed.
    pub retries: usize,
    /// Questions that got no answer in their whole time-out.
    pub timeouts: usize,
    /// Questions about a domain whose name servers had already failed, given one short try
    /// and no answer in it.
    pub cut_short: usize,
}

/// One audit's counters and its domain's verdict.
#[derive(Debug, Default)]
pub struct Scope {
    /// The audited domain (lowercase, no trailing dot); `None` for a target that is no domain.
    domain: Option<String>,
    queries: AtomicUsize,
    retries: AtomicUsize,
    timeouts: AtomicUsize,
    cut_short: AtomicUsize,
    /// Questions about the domain that were answered (records, NODATA or NXDOMAIN), and those
    /// that timed out or got SERVFAIL.
    answered: AtomicUsize,
    failed: AtomicUsize,
}

/// How a question about the scope's domain ended, for its verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Records, NODATA or NXDOMAIN: the name servers work.
    Answered,
    /// A time-out or SERVFAIL: they may not.
    Failed,
    /// Anything else (REFUSED, a malformed answer): says nothing either way.
    Neither,
}

impl Scope {
    /// The scope of an audit of `domain` (`None`: a target that is no domain, such as an IP).
    pub fn new(domain: Option<&str>) -> Scope {
        Scope {
            domain: domain.map(|d| d.trim_end_matches('.').to_ascii_lowercase()),
            ..Scope::default()
        }
    }

    /// Whether `name` is the audited domain or below it: served by its name servers (a zone
    /// cut below it is served by others, but found through them).
    pub fn covers(&self, name: &str) -> bool {
        let Some(domain) = &self.domain else {
            return false;
        };
        let name = name.trim_end_matches('.');
        name.len() >= domain.len()
            && name[name.len() - domain.len()..].eq_ignore_ascii_case(domain)
            && (name.len() == domain.len()
                || name.as_bytes()[name.len() - domain.len() - 1] == b'.')
    }

    /// Whether the domain's name servers look dead: its questions failed and none was
    /// answered.
    pub fn failing(&self) -> bool {
        self.failed.load(Ordering::Relaxed) > 0 && self.answered.load(Ordering::Relaxed) == 0
    }

    /// Whether a question about the domain was answered.
    pub fn answered(&self) -> bool {
        self.answered.load(Ordering::Relaxed) > 0
    }

    /// Records how a question about the domain ended.
    pub fn record(&self, outcome: Outcome) {
        match outcome {
            Outcome::Answered => self.answered.fetch_add(1, Ordering::Relaxed),
            Outcome::Failed => self.failed.fetch_add(1, Ordering::Relaxed),
            Outcome::Neither => 0,
        };
    }

    /// A question was sent.
    pub fn sent(&self) {
        self.queries.fetch_add(1, Ordering::Relaxed);
    }

    /// A question was sent again.
    pub fn resent(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    /// A question got no answer: in its whole time-out, or in the one short try of a domain
    /// whose name servers had failed.
    pub fn timed_out(&self, cut_short: bool) {
        let counter = if cut_short {
            &self.cut_short
        } else {
            &self.timeouts
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The counts so far.
    pub fn stats(&self) -> Stats {
        Stats {
            queries: self.queries.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            timeouts: self.timeouts.load(Ordering::Relaxed),
            cut_short: self.cut_short.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_covers_its_domain_and_the_names_below() {
        let scope = Scope::new(Some("Example.com."));
        assert!(scope.covers("example.com"));
        assert!(scope.covers("_dmarc.example.com"));
        assert!(scope.covers("Selector1._DOMAINKEY.example.COM."));
        assert!(!scope.covers("notexample.com"));
        assert!(!scope.covers("com"));
        assert!(!scope.covers("_dmarc.example.org"));
        assert!(!Scope::new(None).covers("example.com"));
    }

    #[test]
    fn a_domain_fails_when_its_questions_failed_and_none_was_answered() {
        let scope = Scope::new(Some("example.com"));
        assert!(!scope.failing());
        scope.record(Outcome::Neither);
        assert!(!scope.failing());
        scope.record(Outcome::Failed);
        assert!(scope.failing());
        // One answer: its name servers work after all.
        scope.record(Outcome::Answered);
        assert!(!scope.failing());
        assert!(scope.answered());
    }

    #[test]
    fn the_counts_are_kept_apart() {
        let scope = Scope::new(None);
        scope.sent();
        scope.sent();
        scope.resent();
        scope.timed_out(false);
        scope.timed_out(true);
        scope.timed_out(true);
        assert_eq!(
            scope.stats(),
            Stats {
                queries: 2,
                retries: 1,
                timeouts: 1,
                cut_short: 2
            }
        );
    }
}
