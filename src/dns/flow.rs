//! Sending one question: at most the adaptive window's questions in flight ([`Window`]), each
//! sent again after a retransmission time-out derived from the round trips observed
//! ([`RttEstimate`], RFC 6298), and given up after seven of them (RTO + 2 RTO + 4 RTO: three
//! sends' worth of RFC 6298 §5.5's back-off), but never before [`MIN_WAIT`] nor after
//! `--timeout`.
//!
//! It is sent again once only, through a resolver of its own (a resolver shares an identical
//! question in flight, so a resend through the same one would send nothing); the first answer
//! of either is taken. More copies would not help: a resolver joins copies of a question it is
//! already resolving, and a local unbound (1.17) sent seven copies each of a hundred and fifty
//! questions it could not answer, from sockets closed at once, stopped taking questions from
//! anyone.
//!
//! A question holds its place in the window until it is answered or given up: a resolver that
//! answers late still has it in its queue (a dead domain's questions cannot fill the window:
//! [`super::scope`] sends them one at a time). An answer that came after the time-out is a sign
//! of congestion (a lost first send, or a queue): the window shrinks.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::lookup::Lookup;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RecordType};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::adaptive::Window;
use super::rate::RateLimit;
use super::raw::{Asked, Reply, Timing};
use super::rtt::RttEstimate;
use super::scope::{Alone, Outcome, Scope, Turn};

/// The shortest retransmission time-out: a resolver on the same machine answers in well under a
/// millisecond, but a question it must resolve takes it a few round trips to other servers.
const MIN_RTO: Duration = Duration::from_millis(100);

/// How many times a question is sent at most.
pub(super) const SENDS: usize = 2;

/// The shortest wait for an answer to a question, resends included (unless `--timeout` is
/// shorter): a resolver on a busy machine, or one that must ask slow servers, can take a second
/// or two though its usual answers take a millisecond.
const MIN_WAIT: Duration = Duration::from_secs(2);

/// Retransmission time-outs a question waits in all: those of three sends, each twice the last.
const WAIT_IN_RTOS: u32 = 1 + 2 + 4;

/// The questions in flight across a run, and what their round trips have shown.
pub(super) struct Flow {
    /// One resolver per send of a question.
    resolvers: Vec<TokioResolver>,
    gate: Semaphore,
    state: Mutex<State>,
    rate: OnceLock<RateLimit>,
    /// `--timeout`: the longest a question waits in all.
    timeout: Duration,
    sent: AtomicUsize,
}

struct State {
    window: Window,
    rtt: RttEstimate,
    in_flight: usize,
    /// The window the gate's permits stand for: free permits + `in_flight` - `debt`.
    granted: usize,
    /// Permits to take back as questions end, because the window shrank while they were out.
    debt: usize,
}

impl Flow {
    /// At most `ceiling` questions in flight, each waiting at most `timeout`, its `n`th send
    /// through `resolvers[n]` ([`SENDS`] of them).
    pub(super) fn new(resolvers: Vec<TokioResolver>, ceiling: usize, timeout: Duration) -> Flow {
        let window = Window::new(ceiling);
        let granted = window.limit();
        Flow {
            resolvers,
            gate: Semaphore::new(granted),
            state: Mutex::new(State {
                window,
                rtt: RttEstimate::default(),
                in_flight: 0,
                granted,
                debt: 0,
            }),
            rate: OnceLock::new(),
            timeout,
            sent: AtomicUsize::new(0),
        }
    }

    /// Caps the questions sent at `qps` a second (`--rate`).
    pub(super) fn limit_rate(&self, qps: u32) {
        let _ = self.rate.set(RateLimit::new(qps));
    }

    /// Questions sent so far.
    pub(super) fn sent(&self) -> usize {
        self.sent.load(Ordering::Relaxed)
    }

    /// How many questions may be in flight now.
    pub(super) fn limit(&self) -> usize {
        self.lock().window.limit()
    }

    /// Asks `fqdn` (`name` as given, for `scope`): the answer, or the error of the lookup, or
    /// [`NetError::Timeout`].
    pub(super) async fn exchange(
        &self,
        scope: Option<&Scope>,
        name: &str,
        fqdn: &Name,
        record_type: RecordType,
    ) -> Result<Lookup, NetError> {
        let Some((domain, _alone)) = domain_turn(scope, name).await else {
            return Err(NetError::Timeout);
        };
        let mut slot = self.slot().await;
        self.sent.fetch_add(1, Ordering::Relaxed);
        if let Some(scope) = scope {
            scope.sent();
        }
        let (rto, wait) = self.waits();
        let first_sent = Instant::now();
        // The resolver's own time-out (`--timeout`, as long as the longest wait) is this one's.
        // Boxed: two lookups' state would make every audit's future large.
        let answer = Box::pin(self.ask(scope, fqdn, record_type, rto, wait))
            .await
            .filter(|(result, _)| !matches!(result, Err(NetError::Timeout)));
        match answer {
            Some((result, sent_at)) if result.as_ref().map_or_else(is_answer, |_| true) => {
                slot.answered(sent_at.elapsed());
                if first_sent.elapsed() > rto {
                    // Later than the window allows: a lost send, or a queue.
                    self.lost();
                }
                if let Some(domain) = domain {
                    domain.record(outcome(&result));
                }
                result
            }
            // A send that failed at once (no route, refused): no answer, no time-out either.
            Some((failed, _)) => failed,
            None => {
                drop(slot);
                if let Some(scope) = scope {
                    scope.timed_out();
                }
                if let Some(domain) = domain {
                    domain.record(Outcome::Failed);
                    // Unanswered while the domain's other questions are answered: a drop.
                    if domain.answered() {
                        self.lost();
                    }
                }
                Err(NetError::Timeout)
            }
        }
    }

    /// The first answer to `fqdn` and when the send it answers went out: sent once, and once more
    /// if none came within `rto` (or half the wait); `None` when none came within `wait`.
    async fn ask(
        &self,
        scope: Option<&Scope>,
        fqdn: &Name,
        record_type: RecordType,
        rto: Duration,
        wait: Duration,
    ) -> Option<(Result<Lookup, NetError>, Instant)> {
        let first_sent = Instant::now();
        let deadline = first_sent + wait;
        let first = self.resolvers[0].lookup(fqdn.clone(), record_type);
        tokio::pin!(first);
        // At most half the wait: a second send at the deadline could not be answered.
        if let Ok(result) = tokio::time::timeout(rto.min(wait / 2), &mut first).await {
            return Some((result, first_sent));
        }
        let resolver = self.resolvers.get(1)?;
        if let Some(rate) = self.rate.get() {
            rate.wait().await;
        }
        if let Some(scope) = scope {
            scope.resent();
        }
        let second_sent = Instant::now();
        let second = resolver.lookup(fqdn.clone(), record_type);
        tokio::pin!(second);
        let either = async {
            tokio::select! {
                result = &mut first => (result, first_sent),
                result = &mut second => (result, second_sent),
            }
        };
        tokio::time::timeout_at(deadline, either).await.ok()
    }

    /// Sends a question the resolver library cannot ask or read (see [`super::raw`]) as any
    /// other is sent: through the audited domain's gate when `name` is at or below it (so a dead
    /// domain's DNSSEC questions cost no more than its others), in the window, at the `--rate`,
    /// counted for the run and for `scope`. Its datagram is sent again after the retransmission
    /// time-out and waited for as long as the others' ([`Flow::waits`]); no round trip is
    /// sampled.
    pub(super) async fn raw<F>(
        &self,
        scope: Option<&Scope>,
        name: &str,
        ask: impl FnOnce(Timing) -> F,
    ) -> Option<Reply>
    where
        F: Future<Output = Asked>,
    {
        let (domain, _alone) = domain_turn(scope, name).await?;
        let slot = self.slot().await;
        self.sent.fetch_add(1, Ordering::Relaxed);
        if let Some(scope) = scope {
            scope.sent();
        }
        let (resend_after, wait) = self.waits();
        // Boxed: the question's state would make every audit's future large.
        let Asked { reply, resent } = Box::pin(ask(Timing { resend_after, wait })).await;
        drop(slot);
        if resent && let Some(scope) = scope {
            scope.resent();
        }
        if reply.is_none()
            && let Some(scope) = scope
        {
            scope.timed_out();
        }
        if let Some(domain) = domain {
            domain.record(match &reply {
                Some(reply) if says_what_exists(reply.response_code) => Outcome::Answered,
                Some(_) => Outcome::Neither,
                None => Outcome::Failed,
            });
        }
        reply
    }

    /// A place in the window (waiting for one), then the `--rate` turn.
    async fn slot(&self) -> Slot<'_> {
        // The gate is never closed.
        if let Ok(permit) = self.gate.acquire().await {
            permit.forget();
        }
        self.lock().in_flight += 1;
        if let Some(rate) = self.rate.get() {
            rate.wait().await;
        }
        Slot {
            flow: self,
            done: false,
        }
    }

    /// The current retransmission time-out, at most `--timeout`.
    fn rto(&self) -> Duration {
        self.lock().rtt.timeout(MIN_RTO, self.timeout)
    }

    /// The retransmission time-out, and how long a question waits in all (seven of them, at
    /// least [`MIN_WAIT`], at most `--timeout`).
    fn waits(&self) -> (Duration, Duration) {
        let rto = self.rto();
        let wait = rto
            .saturating_mul(WAIT_IN_RTOS)
            .clamp(MIN_WAIT.min(self.timeout), self.timeout);
        (rto, wait)
    }

    fn lost(&self) {
        let mut state = self.lock();
        state.window.lost();
        self.apply(&mut state);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Gives the gate the permits of the window's new size.
    fn apply(&self, state: &mut State) {
        let target = state.window.limit();
        if target > state.granted {
            let more = target - state.granted;
            let repaid = more.min(state.debt);
            state.debt -= repaid;
            self.gate.add_permits(more - repaid);
        } else if target < state.granted {
            let fewer = state.granted - target;
            let taken = self.gate.forget_permits(fewer);
            state.debt += fewer - taken;
        }
        state.granted = target;
    }

    /// A send ended; with `rtt` when an answer came back.
    fn release(&self, rtt: Option<Duration>) {
        let mut state = self.lock();
        if let Some(rtt) = rtt {
            state.rtt.sample(rtt);
            let in_flight = state.in_flight;
            state.window.answered(rtt, in_flight);
        }
        state.in_flight -= 1;
        if state.debt > 0 {
            state.debt -= 1;
        } else {
            self.gate.add_permits(1);
        }
        self.apply(&mut state);
    }
}

/// One question's place in the window, given back when it ends.
struct Slot<'a> {
    flow: &'a Flow,
    done: bool,
}

impl Slot<'_> {
    /// An answer came back `rtt` after the send it answers.
    fn answered(&mut self, rtt: Duration) {
        self.done = true;
        self.flow.release(Some(rtt));
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.flow.release(None);
        }
    }
}

/// Whether an error is the server's answer (a response code, a negative answer, an answer that
/// cannot be read), not a send that failed.
fn is_answer(error: &NetError) -> bool {
    matches!(
        error,
        NetError::Dns(_) | NetError::Proto(_) | NetError::Truncated
    )
}

/// What an answer says of the name servers that gave it.
fn outcome(result: &Result<Lookup, NetError>) -> Outcome {
    match result {
        Ok(_) => Outcome::Answered,
        Err(NetError::Dns(DnsError::NoRecordsFound(no_records)))
            if says_what_exists(no_records.response_code) =>
        {
            Outcome::Answered
        }
        Err(_) => Outcome::Neither,
    }
}

/// Whether a response code is an answer about the name (records, NODATA or NXDOMAIN), which
/// shows the domain's name servers work; SERVFAIL, REFUSED and the like show nothing.
fn says_what_exists(code: ResponseCode) -> bool {
    matches!(code, ResponseCode::NoError | ResponseCode::NXDomain)
}

/// The audited domain's verdict on its name servers, for the names it covers: until one of its
/// questions is answered they go one at a time (the returned guard holds the turn while this one
/// is asked), and after a time-out none is sent (`None`: skip it). The scope, when it covers
/// `name`, is returned to record how the question ended.
async fn domain_turn<'s>(
    scope: Option<&'s Scope>,
    name: &str,
) -> Option<(Option<&'s Scope>, Alone<'s>)> {
    let domain = scope.filter(|s| s.covers(name));
    let (turn, alone) = match domain {
        Some(domain) => domain.turn().await,
        None => (Turn::Ask, None),
    };
    (turn != Turn::Skip).then_some((domain, alone))
}
