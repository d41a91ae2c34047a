//! How many questions may be in flight: a window that starts modestly, grows while answers come
//! back fast, and shrinks by a factor on signs of congestion (AIMD, additive increase and
//! multiplicative decrease, as TCP's congestion control does, RFC 5681 §3.1, and as high-rate DNS
//! scanners do). `--concurrency` is its ceiling.
//!
//! Past a few hundred questions in flight a resolver's socket overflows and it drops questions;
//! before that, its queue grows and so do the round trips. So two signs shrink the window: a
//! question that was lost (answered only after a resend) and round trips rising well above
//! their usual level. Both shrink it at most once per window of answers (RFC 5681 §3.2 reduces
//! once per loss event too), so one burst of drops counts once.
//!
//! Pure arithmetic on numbers, so that it is tested without a network.

use std::time::Duration;

/// The window of a run's first questions (at most the ceiling): modest, then doubled every round
/// trip while nothing goes wrong (slow start, RFC 5681 §3.1).
const INITIAL: f64 = 32.0;
/// The smallest window: even a struggling resolver is asked a few questions at a time.
const FLOOR: f64 = 4.0;
/// The factor a sign of congestion applies (CUBIC's 0.7, RFC 9438 §4.6: gentler than halving,
/// since a resolver's queue drains within one round trip).
const DECREASE: f64 = 0.7;
/// The gains of the short and the long average of the round trips: the short one follows the
/// last few answers, the long one the last few hundred.
const SHORT_GAIN: f64 = 1.0 / 8.0;
const LONG_GAIN: f64 = 1.0 / 128.0;
/// The round trips are rising when the short average exceeds the long one this many times over,
/// plus [`LATENCY_SLACK`]: a resolver whose queue doubled the wait is past what it serves.
const LATENCY_RATIO: f64 = 2.0;
/// Microsecond noise on a resolver of the same machine is no sign of a queue.
const LATENCY_SLACK: Duration = Duration::from_millis(2);
/// Answers measured before the round trips are compared at all.
const WARM_UP: usize = 64;

/// The AIMD window and what it has seen.
#[derive(Clone, Debug)]
pub struct Window {
    size: f64,
    floor: f64,
    ceiling: f64,
    /// Below it the window doubles every round trip; above it, it grows by one (RFC 5681 §3.1's
    /// ssthresh). The ceiling until the first sign of congestion.
    threshold: f64,
    /// Answers since the window last shrank: it shrinks again only after a window of them.
    since_decrease: usize,
    /// The short and long averages of the round trips, in seconds.
    short: f64,
    long: f64,
    samples: usize,
}

impl Window {
    /// A window that never exceeds `ceiling` questions (at least 1).
    pub fn new(ceiling: usize) -> Window {
        #[allow(clippy::cast_precision_loss)] // a count of questions far below 2^52
        let ceiling = ceiling.max(1) as f64;
        Window {
            size: INITIAL.min(ceiling),
            floor: FLOOR.min(ceiling),
            ceiling,
            threshold: ceiling,
            since_decrease: usize::MAX,
            short: 0.0,
            long: 0.0,
            samples: 0,
        }
    }

    /// How many questions may be in flight now.
    pub fn limit(&self) -> usize {
        // Between 1 and the ceiling (a `usize`), so the conversion is exact.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let limit = self.size.floor() as usize;
        limit.max(1)
    }

    /// An answer came back after `rtt`, with `in_flight` questions out (this one included): the
    /// window grows if it was in use and the round trips are not rising, and shrinks if they
    /// are.
    pub fn answered(&mut self, rtt: Duration, in_flight: usize) {
        self.since_decrease = self.since_decrease.saturating_add(1);
        let rtt = rtt.as_secs_f64();
        if self.samples == 0 {
            (self.short, self.long) = (rtt, rtt);
        } else {
            self.short += SHORT_GAIN * (rtt - self.short);
            self.long += LONG_GAIN * (rtt - self.long);
        }
        self.samples += 1;
        if self.latency_rising() {
            self.shrink();
            return;
        }
        // Only a window in use says the resolver keeps up with it (RFC 7661's concern): a run
        // that asks few questions leaves it as it is.
        #[allow(clippy::cast_precision_loss)]
        let in_use = in_flight as f64 * 2.0 >= self.size;
        if in_use {
            self.size += if self.size < self.threshold {
                1.0
            } else {
                1.0 / self.size
            };
            self.size = self.size.min(self.ceiling);
        }
    }

    /// A question was lost: answered only after it was sent again, or never while the other
    /// questions about its domain were answered.
    pub fn lost(&mut self) {
        self.shrink();
    }

    /// Whether the last answers waited well beyond the usual.
    fn latency_rising(&self) -> bool {
        self.samples >= WARM_UP
            && self.short > LATENCY_RATIO * self.long + LATENCY_SLACK.as_secs_f64()
    }

    /// Multiplicative decrease, once per window of answers.
    fn shrink(&mut self) {
        #[allow(clippy::cast_precision_loss)]
        let recovered = self.since_decrease as f64 >= self.size;
        if recovered {
            self.size = (self.size * DECREASE).max(self.floor);
            self.threshold = self.size;
            self.since_decrease = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// `n` answers at `rtt` with the window full.
    fn answer(window: &mut Window, n: usize, rtt: Duration) {
        for _ in 0..n {
            let full = window.limit();
            window.answered(rtt, full);
        }
    }

    #[test]
    fn it_starts_modestly_and_never_above_the_ceiling() {
        assert_eq!(Window::new(256).limit(), 32);
        assert_eq!(Window::new(8).limit(), 8);
        assert_eq!(Window::new(0).limit(), 1);
    }

    #[test]
    fn fast_answers_double_it_each_round_trip_up_to_the_ceiling() {
        let mut window = Window::new(1024);
        // One window of answers: 32 answers, one more question each.
        answer(&mut window, 32, ms(20));
        assert_eq!(window.limit(), 64);
        answer(&mut window, 64, ms(20));
        assert_eq!(window.limit(), 128);
        answer(&mut window, 10_000, ms(20));
        assert_eq!(window.limit(), 1024);
    }

    #[test]
    fn a_window_not_in_use_does_not_grow() {
        let mut window = Window::new(1024);
        for _ in 0..1000 {
            window.answered(ms(20), 3);
        }
        assert_eq!(window.limit(), 32);
    }

    #[test]
    fn a_loss_shrinks_it_by_a_factor_once_per_window() {
        let mut window = Window::new(1024);
        answer(&mut window, 96, ms(20));
        assert_eq!(window.limit(), 128);
        window.lost();
        assert_eq!(window.limit(), 89); // 128 × 0.7 = 89.6
        // The same burst of drops: not again until a window of answers came back.
        window.lost();
        window.lost();
        assert_eq!(window.limit(), 89);
        // A window of answers later (it grew by about one meanwhile), a new loss counts.
        answer(&mut window, 92, ms(20));
        window.lost();
        assert_eq!(window.limit(), 63); // 90.6 × 0.7 = 63.4
    }

    #[test]
    fn after_a_loss_it_grows_by_one_a_window() {
        let mut window = Window::new(1024);
        answer(&mut window, 96, ms(20));
        window.lost();
        let after = window.limit();
        // Additive increase: one question more per window of answers.
        answer(&mut window, after, ms(20));
        assert_eq!(window.limit(), after + 1);
        answer(&mut window, 10 * (after + 5), ms(20));
        assert!(window.limit() <= after + 11, "{}", window.limit());
    }

    #[test]
    fn it_never_shrinks_below_the_floor() {
        let mut window = Window::new(1024);
        for _ in 0..100 {
            window.lost();
            answer(&mut window, 50, ms(20));
        }
        assert!(window.limit() >= 4, "{}", window.limit());
        assert!(window.limit() <= 20, "{}", window.limit());
    }

    #[test]
    fn rising_round_trips_shrink_it() {
        let mut window = Window::new(1024);
        answer(&mut window, 200, ms(20));
        let before = window.limit();
        // The resolver's queue grows: answers take 80 ms instead of 20.
        answer(&mut window, 20, ms(80));
        assert!(window.limit() < before, "{} → {}", before, window.limit());
    }

    #[test]
    fn steady_round_trips_of_any_length_do_not() {
        for rtt in [ms(1), ms(20), ms(300)] {
            let mut window = Window::new(512);
            answer(&mut window, 5000, rtt);
            assert_eq!(window.limit(), 512, "{rtt:?}");
        }
    }

    #[test]
    fn sub_millisecond_noise_is_no_queue() {
        let mut window = Window::new(512);
        for n in 0..5000u64 {
            let full = window.limit();
            window.answered(Duration::from_micros(100 + (n % 7) * 150), full);
        }
        assert_eq!(window.limit(), 512);
    }
}
