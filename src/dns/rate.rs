//! `--rate QPS`: a cap on the queries sent per second, for resolvers that throttle.
//!
//! Each query reserves the next free send time, spaced `1 / qps` apart, and waits for it: a
//! steady rate with no burst beyond one query, whatever the concurrency.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// Spaces queries at most `qps` a second.
pub struct RateLimit {
    interval: Duration,
    next: Mutex<Instant>,
}

impl RateLimit {
    /// A limit of `qps` queries a second (at least 1).
    pub fn new(qps: u32) -> Self {
        RateLimit {
            interval: Duration::from_secs(1) / qps.max(1),
            next: Mutex::new(Instant::now()),
        }
    }

    /// Waits for this query's turn.
    pub async fn wait(&self) {
        let slot = {
            let mut next = self.next.lock().unwrap_or_else(PoisonError::into_inner);
            let slot = (*next).max(Instant::now());
            *next = slot + self.interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn queries_are_spaced_by_the_rate() {
        let limit = RateLimit::new(10);
        let start = Instant::now();
        for _ in 0..21 {
            limit.wait().await;
        }
        // 21 queries at 10 a second: the last one waits two seconds after the first.
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }
}
