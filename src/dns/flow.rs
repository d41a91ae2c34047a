//! Sending one question: at most the adaptive window's questions in flight ([`Window`]), each
//! sent again after a time-out derived from the round trips observed ([`RttEstimate`]), and the
//! answer of whichever send comes back first taken.
//!
//! A send holds its place in the window until it is answered or its time-out passes: a question
//! lost to a full socket no longer counts as in flight, so lost and unanswered questions (a dead
//! domain's) do not starve the others; a late answer to an earlier send is still taken. A
//! question is sent at most [`ATTEMPTS`] times, each time-out twice the one before (RFC 6298
//! §5.5), and never waits more than `--timeout` in all.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use hickory_resolver::TokioResolver;
use hickory_resolver::lookup::Lookup;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RecordType};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::adaptive::Window;
use super::rate::RateLimit;
use super::rtt::{RttEstimate, backed_off};
use super::scope::{Outcome, Scope};

/// How many times one question is sent at most.
pub(super) const ATTEMPTS: usize = 3;

/// The shortest retransmission time-out: a resolver on the same machine answers in well under a
/// millisecond, but a question it must resolve takes it a few round trips to other servers.
const MIN_RTO: Duration = Duration::from_millis(100);

/// The questions in flight across a run, and what their round trips have shown.
pub(super) struct Flow {
    /// One resolver per send of a question (see [`super::Dns::new`]).
    senders: Vec<TokioResolver>,
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
    /// Permits to take back as sends end, because the window shrank while they were out.
    debt: usize,
}

impl Flow {
    /// At most `ceiling` questions in flight, each waiting at most `timeout` in all, its `n`th
    /// send through `senders[n]`.
    pub(super) fn new(senders: Vec<TokioResolver>, ceiling: usize, timeout: Duration) -> Flow {
        let window = Window::new(ceiling);
        let granted = window.limit();
        Flow {
            senders,
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

    /// Caps the sends at `qps` a second (`--rate`).
    pub(super) fn limit_rate(&self, qps: u32) {
        let _ = self.rate.set(RateLimit::new(qps));
    }

    /// Questions sent so far (each once, however many times it was sent again).
    pub(super) fn sent(&self) -> usize {
        self.sent.load(Ordering::Relaxed)
    }

    /// How many questions may be in flight now.
    pub(super) fn limit(&self) -> usize {
        self.lock().window.limit()
    }

    /// Asks `fqdn` (`name` as given, for `scope`): the first answer of any send, or the error of
    /// the last one, or [`NetError::Timeout`].
    pub(super) async fn exchange(
        &self,
        scope: Option<&Scope>,
        name: &str,
        fqdn: &Name,
        record_type: RecordType,
    ) -> Result<Lookup, NetError> {
        // The audited domain's verdict on its name servers, for the names it covers.
        let domain = scope.filter(|s| s.covers(name));
        let cut_short = domain.is_some_and(Scope::failing);
        let attempts = if cut_short { 1 } else { self.senders.len() };
        self.sent.fetch_add(1, Ordering::Relaxed);
        if let Some(scope) = scope {
            scope.sent();
        }
        let mut lookups = FuturesUnordered::new();
        let mut deadline = None;
        let mut last_error = None;
        for attempt in 0..attempts {
            let mut slot = self.slot().await;
            // The time-out runs from the first send, not from the wait for a place.
            let deadline = *deadline.get_or_insert_with(|| Instant::now() + self.timeout);
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            if attempt > 0
                && let Some(scope) = scope
            {
                scope.resent();
            }
            let wait = backed_off(self.rto(), u32::try_from(attempt).unwrap_or(u32::MAX), left);
            let sent_at = Instant::now();
            let resolver = &self.senders[attempt];
            lookups.push(async move {
                (
                    attempt,
                    sent_at,
                    resolver.lookup(fqdn.clone(), record_type).await,
                )
            });
            let timer = tokio::time::sleep(wait);
            tokio::pin!(timer);
            loop {
                tokio::select! {
                    Some((sent, sent_at, result)) = lookups.next() => {
                        let answered = result.as_ref().map_or_else(is_answer, |_| true);
                        if answered {
                            // Measured from the send it answers (each send is its own
                            // message, so there is no doubt which: RFC 6298 §3's is TCP's).
                            slot.answered(sent_at.elapsed());
                            if attempt > 0 {
                                // It took a resend: lost, or slower than the window allows.
                                self.lost();
                            }
                            if let Some(domain) = domain {
                                domain.record(outcome(&result));
                            }
                            return result;
                        }
                        last_error = result.err();
                        if sent == attempt {
                            // This send failed at once (no route, refused): send again now.
                            break;
                        }
                    }
                    () = &mut timer => break,
                }
            }
        }
        if lookups.is_empty()
            && let Some(error) = last_error
        {
            return Err(error);
        }
        if let Some(scope) = scope {
            scope.timed_out(cut_short);
        }
        if let Some(domain) = domain {
            domain.record(Outcome::Failed);
            // Unanswered while the domain's other questions are answered: a drop.
            if !cut_short && domain.answered() {
                self.lost();
            }
        }
        Err(NetError::Timeout)
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

/// One send's place in the window, given back when it ends.
struct Slot<'a> {
    flow: &'a Flow,
    done: bool,
}

impl Slot<'_> {
    /// An answer came back `rtt` after the send it answers (this one or an earlier one).
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
        Err(NetError::Dns(DnsError::NoRecordsFound(no_records))) => {
            match no_records.response_code {
                ResponseCode::NoError | ResponseCode::NXDomain => Outcome::Answered,
                ResponseCode::ServFail => Outcome::Failed,
                _ => Outcome::Neither,
            }
        }
        Err(NetError::Dns(DnsError::ResponseCode(ResponseCode::ServFail))) => Outcome::Failed,
        Err(_) => Outcome::Neither,
    }
}
