//! What one audit asked, and whether its domain's name servers answer at all.
//!
//! Every audit asks through a [`super::Dns`] scoped to its target ([`super::Dns::scoped`]): the
//! questions it sent are counted for its report ([`Stats`]), and the names at or below its
//! domain share one verdict on that domain's name servers.
//!
//! Until a question about the domain is answered, its questions go one at a time ([`Turn`]): a
//! resolver asked about a zone whose servers never answer keeps asking them for a long time (a
//! local unbound, half a minute), so a bulk run that asked a dead domain's forty questions at once
//! would fill the resolver with them (past a thousand or so waiting copies, a local unbound drops
//! new questions, live domains' too). Once one is answered (records, NODATA or NXDOMAIN) the rest
//! go at once. Once one timed out instead (sent up to three times, waited for as long as seven
//! retransmission time-outs), the servers are taken for dead and the rest are not sent: a dead
//! domain costs one question's wait, not one per question. What they could not learn
//! is a failure (unknown), never a missing record. A SERVFAIL says nothing either way: it comes at
//! once (a zone that fails as a whole costs no waiting) and the same servers may answer another
//! type.

use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, MutexGuard};

/// The questions one audit sent to the resolver (cache hits cost nothing and are not counted).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Questions sent (each once, however many times it was sent again).
    pub queries: usize,
    /// Those sent a second time, after a time-out derived from the round trips observed.
    pub retries: usize,
    /// Questions that got no answer in their whole time-out.
    pub timeouts: usize,
    /// Questions about a domain whose name servers had timed out and never answered, not sent:
    /// they count as timed out.
    pub skipped: usize,
}

/// One audit's counters and its domain's verdict.
#[derive(Debug, Default)]
pub struct Scope {
    /// The audited domain (lowercase, no trailing dot); `None` for a target that is no domain.
    domain: Option<String>,
    queries: AtomicUsize,
    retries: AtomicUsize,
    timeouts: AtomicUsize,
    skipped: AtomicUsize,
    /// Questions about the domain that were answered (records, NODATA or NXDOMAIN), and those
    /// that timed out.
    answered: AtomicUsize,
    failed: AtomicUsize,
    /// One question at a time while none was answered.
    turn: Mutex<()>,
}

/// How a question about the scope's domain ended, for its verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Records, NODATA or NXDOMAIN: the name servers work.
    Answered,
    /// No answer in time: they may be dead.
    Failed,
    /// SERVFAIL, REFUSED, an answer that cannot be read: says nothing either way.
    Neither,
}

/// What a question about the domain may do now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Turn {
    /// Be asked as usual: the domain has answered.
    Ask,
    /// Be asked as usual, alone: nothing is known of the domain yet.
    Open,
    /// Not be sent: a question about the domain timed out, none was answered.
    Skip,
}

/// The turn of a question that goes alone: the next waits until it is dropped.
pub type Alone<'a> = Option<MutexGuard<'a, ()>>;

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

    /// Whether a question about the domain was answered.
    pub fn answered(&self) -> bool {
        self.answered.load(Ordering::Relaxed) > 0
    }

    /// Waits for the turn of a question about the domain (see [`Turn`]); a question that goes
    /// alone holds the [`Alone`] guard while it is asked.
    pub async fn turn(&self) -> (Turn, Alone<'_>) {
        if self.answered() {
            return (Turn::Ask, None);
        }
        let guard = self.turn.lock().await;
        if self.answered() {
            return (Turn::Ask, None);
        }
        if self.failed.load(Ordering::Relaxed) == 0 {
            (Turn::Open, Some(guard))
        } else {
            self.skipped.fetch_add(1, Ordering::Relaxed);
            (Turn::Skip, None)
        }
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

    /// A question got no answer in its whole time-out.
    pub fn timed_out(&self) {
        self.timeouts.fetch_add(1, Ordering::Relaxed);
    }

    /// The counts so far.
    pub fn stats(&self) -> Stats {
        Stats {
            queries: self.queries.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            timeouts: self.timeouts.load(Ordering::Relaxed),
            skipped: self.skipped.load(Ordering::Relaxed),
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

    #[tokio::test]
    async fn until_the_domain_answers_its_questions_go_one_at_a_time() {
        let scope = Scope::new(Some("example.com"));
        let (turn, first) = scope.turn().await;
        assert_eq!(turn, Turn::Open);
        // A second question waits for the first.
        let second = scope.turn();
        tokio::pin!(second);
        assert!(futures::poll!(second.as_mut()).is_pending());
        // A SERVFAIL says nothing: the next one opens in its turn.
        scope.record(Outcome::Neither);
        drop(first);
        let (turn, opened) = second.await;
        assert_eq!(turn, Turn::Open);
        scope.record(Outcome::Answered);
        drop(opened);
        assert_eq!(scope.turn().await.0, Turn::Ask);
    }

    #[tokio::test]
    async fn a_time_out_stops_the_questions_that_wait_and_those_to_come() {
        let scope = Scope::new(Some("example.com"));
        let (turn, first) = scope.turn().await;
        assert_eq!(turn, Turn::Open);
        let waiting = scope.turn();
        tokio::pin!(waiting);
        assert!(futures::poll!(waiting.as_mut()).is_pending());
        scope.record(Outcome::Failed);
        drop(first);
        assert_eq!(waiting.await.0, Turn::Skip);
        assert_eq!(scope.turn().await.0, Turn::Skip);
        assert_eq!(scope.stats().skipped, 2);
        // An answer after all (a question asked before, through another audit's cache slot, or
        // a late one): asked as usual again.
        scope.record(Outcome::Answered);
        assert_eq!(scope.turn().await.0, Turn::Ask);
    }

    #[test]
    fn the_counts_are_kept_apart() {
        let scope = Scope::new(None);
        scope.sent();
        scope.sent();
        scope.resent();
        scope.timed_out();
        assert_eq!(
            scope.stats(),
            Stats {
                queries: 2,
                retries: 1,
                timeouts: 1,
                skipped: 0
            }
        );
    }
}
