//! Is the resolver itself working? A question every working resolver answers — the root zone's
//! SOA (RFC 1035 §3.3.13; a recursive resolver must reach the root to answer it) — asked before
//! the first audit of a run and again whenever an audit meets DNS failures.
//!
//! Without it, a resolver that does not answer turns every record into "unknown", every list
//! into "could not be asked", and a run that could not look at anything would still print
//! grades. With it, such a run stops with one line naming the resolver, and a failure seen
//! during an audit is told apart: the resolver died (the audit is incomplete, the run stops), or
//! the domain's own name servers fail (a problem receivers see too).

use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::{Answer, Failure, classify};

/// How many times the probe asks again after a time-out (hickory's `attempts` counts the resends):
/// the question is asked twice, as the message says.
pub(super) const ATTEMPTS: usize = 1;

/// How long a liveness result is reused: audits that fail together share one probe.
const REUSE: Duration = Duration::from_secs(2);

/// A resolver that does not work: the run cannot judge anything through it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the resolver {server} does not work: it {problem}. Nothing was judged; check --resolver")]
pub struct ResolverDown {
    pub server: SocketAddr,
    /// What happened, as a verb phrase: "did not answer within 5 s (asked twice)".
    pub problem: String,
}

/// Asks `resolver` for the root zone's SOA; `Err` says what went wrong.
pub(super) async fn check(resolver: &TokioResolver) -> Result<(), String> {
    let answer = match resolver.lookup(Name::root(), RecordType::SOA).await {
        Ok(lookup) => {
            let has_soa = lookup
                .answers()
                .iter()
                .any(|record| matches!(record.data, RData::SOA(_)));
            if has_soa {
                return Ok(());
            }
            Answer::no_data()
        }
        Err(error) => classify(&error),
    };
    Err(match answer {
        Answer::Records { .. } | Answer::NoData { .. } => {
            "answered without the root zone's SOA record".to_owned()
        }
        Answer::NxDomain { .. } => {
            "answered that the root zone does not exist (NXDOMAIN)".to_owned()
        }
        Answer::Failed(failure) => describe(&failure),
    })
}

fn describe(failure: &Failure) -> String {
    match failure {
        Failure::Timeout => "did not answer (timeout, asked twice)".to_owned(),
        Failure::Refused => {
            "refused the question (REFUSED): it does not resolve names for this client".to_owned()
        }
        Failure::ServFail => "answered SERVFAIL: it cannot resolve names".to_owned(),
        Failure::Truncated => "sent a truncated answer that TCP did not complete".to_owned(),
        Failure::Other(text) | Failure::InvalidName(text) | Failure::CnameChain(text) => {
            format!("failed: {text}")
        }
    }
}

/// The last liveness probe of a run's resolver.
#[derive(Default)]
pub(super) struct Liveness {
    last: Mutex<Option<(Instant, bool)>>,
}

impl Liveness {
    /// Whether `resolver` answers now; one probe at a time, its result reused for [`REUSE`].
    pub(super) async fn answers(&self, resolver: &TokioResolver) -> bool {
        let mut last = self.last.lock().await;
        if let Some((at, answered)) = *last
            && at.elapsed() < REUSE
        {
            return answered;
        }
        let answered = check(resolver).await.is_ok();
        *last = Some((Instant::now(), answered));
        answered
    }
}
