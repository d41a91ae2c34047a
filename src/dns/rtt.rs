//! How long to wait for an answer before asking again: a retransmission time-out derived from the
//! round trips observed, as RFC 1035 §4.2.1 asks of a DNS client ("the retransmission interval
//! should be based on prior statistics if possible") and as RFC 6298 §2 computes it for TCP.
//!
//! Pure arithmetic on durations, so that it is tested on numbers.

use std::time::Duration;

/// RFC 6298 §2.3: the gains of the smoothed round trip (alpha) and of its variation (beta).
const ALPHA: f64 = 1.0 / 8.0;
const BETA: f64 = 1.0 / 4.0;
/// RFC 6298 §2.2: the time-out is the smoothed round trip plus K variations.
const K: f64 = 4.0;
/// RFC 6298 §2.1: the time-out before any round trip was measured.
const INITIAL: Duration = Duration::from_secs(1);

/// The smoothed round trip time and its variation (RFC 6298 §2), in seconds.
#[derive(Clone, Debug, Default)]
pub struct RttEstimate {
    /// SRTT and RTTVAR, once a round trip was measured.
    smoothed: Option<(f64, f64)>,
}

impl RttEstimate {
    /// Takes one measured round trip (RFC 6298 §2.2 for the first, §2.3 after).
    pub fn sample(&mut self, rtt: Duration) {
        let r = rtt.as_secs_f64();
        self.smoothed = Some(match self.smoothed {
            None => (r, r / 2.0),
            Some((srtt, rttvar)) => (
                (1.0 - ALPHA) * srtt + ALPHA * r,
                (1.0 - BETA) * rttvar + BETA * (srtt - r).abs(),
            ),
        });
    }

    /// The retransmission time-out: SRTT + 4 × RTTVAR (RFC 6298 §2.3), one second before any
    /// measurement (§2.1), kept between `floor` and `ceiling`. RFC 6298 §2.4 rounds it up to one
    /// second for TCP; a DNS question is one datagram whose loss costs only its own resend, so
    /// the floor is the caller's (a resolver on the same machine answers in well under 1 ms).
    pub fn timeout(&self, floor: Duration, ceiling: Duration) -> Duration {
        let rto = match self.smoothed {
            None => INITIAL,
            Some((srtt, rttvar)) => Duration::from_secs_f64(srtt + K * rttvar),
        };
        rto.max(floor).min(ceiling)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLOOR: Duration = Duration::from_millis(50);
    const CEILING: Duration = Duration::from_secs(5);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn before_any_round_trip_the_time_out_is_one_second() {
        let estimate = RttEstimate::default();
        assert_eq!(estimate.timeout(FLOOR, CEILING), ms(1000));
        // ... but never past the user's --timeout.
        assert_eq!(estimate.timeout(FLOOR, ms(300)), ms(300));
    }

    #[test]
    fn the_first_round_trip_gives_three_times_itself() {
        // SRTT = R, RTTVAR = R/2: RTO = R + 4 R/2 = 3R (RFC 6298 §2.2).
        let mut estimate = RttEstimate::default();
        estimate.sample(ms(100));
        assert_eq!(estimate.timeout(FLOOR, CEILING), ms(300));
    }

    #[test]
    fn steady_round_trips_bring_the_time_out_down_to_them() {
        let mut estimate = RttEstimate::default();
        for _ in 0..200 {
            estimate.sample(ms(100));
        }
        // RTTVAR decays to nothing: the time-out approaches the round trip itself.
        let rto = estimate.timeout(FLOOR, CEILING);
        assert!(rto >= ms(100) && rto < ms(101), "{rto:?}");
    }

    #[test]
    fn the_second_round_trip_follows_rfc_6298_2_3() {
        let mut estimate = RttEstimate::default();
        estimate.sample(ms(100));
        estimate.sample(ms(200));
        // RTTVAR = 3/4 × 50 + 1/4 × |100 - 200| = 62.5; SRTT = 7/8 × 100 + 1/8 × 200 = 112.5.
        let rto = estimate.timeout(FLOOR, CEILING).as_secs_f64();
        assert!((rto - (0.1125 + 4.0 * 0.0625)).abs() < 1e-9, "{rto}");
    }

    #[test]
    fn varying_round_trips_widen_the_time_out() {
        let mut steady = RttEstimate::default();
        let mut varying = RttEstimate::default();
        for n in 0..100 {
            steady.sample(ms(50));
            varying.sample(if n % 2 == 0 { ms(10) } else { ms(90) });
        }
        assert!(varying.timeout(FLOOR, CEILING) > steady.timeout(FLOOR, CEILING) + ms(100));
    }

    #[test]
    fn the_floor_and_the_ceiling_bound_it() {
        let mut fast = RttEstimate::default();
        fast.sample(Duration::from_micros(200));
        assert_eq!(fast.timeout(FLOOR, CEILING), FLOOR);
        let mut slow = RttEstimate::default();
        slow.sample(ms(4000));
        assert_eq!(slow.timeout(FLOOR, CEILING), CEILING);
    }
}
