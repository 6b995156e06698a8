//! Simulated time on the scheduler's clock: one scheduler millisecond is one simulated
//! microsecond.
//!
//! Why a scale and not the scheduler's own units: tokio's timer wheel resolves whole
//! milliseconds (and madsim's `sleep_until` rounds up to one), while the latencies the fault
//! model draws (an SSD write, a sled get) are tens to hundreds of microseconds. Paid in whole
//! milliseconds, most calls took no simulated time and a few took a whole one, so every latency
//! but the drawn fsync was quantised, and an acknowledgement could be faster than the sync it
//! waited for. Scaled, each call advances simulated time by exactly its drawn microseconds.
//!
//! The cost is nothing per event: a paused runtime jumps from timer to timer whatever their
//! spacing, and the world's tick is scaled with everything else, so the number of steps per
//! simulated second is unchanged. Everything that sleeps, times out or reads elapsed time in the
//! simulation goes through here (clippy forbids `tokio::time::{sleep, timeout}` elsewhere); the
//! engine's timers go through its `Clock` seam, which `SimClock` answers from here.

use std::future::Future;
use std::time::Duration;

/// Scheduler time per unit of simulated time (1 ms per µs).
pub const SCHEDULER_PER_SIM: u32 = 1_000;

/// The scheduler duration that stands for `sim` of simulated time.
pub fn to_scheduler(sim: Duration) -> Duration {
    sim.saturating_mul(SCHEDULER_PER_SIM)
}

/// The simulated time that `scheduler` of scheduler time stands for.
pub fn from_scheduler(scheduler: Duration) -> Duration {
    scheduler / SCHEDULER_PER_SIM
}

/// Waits `sim` of simulated time (no yield when it is zero: a `yield_now` inside turmoil's
/// paused runtimes once made runs differ between processes).
// Under `--cfg madsim` tokio's timers are madsim's, which no rule names.
#[cfg_attr(
    not(madsim),
    expect(
        clippy::disallowed_methods,
        reason = "the one place simulated time becomes a scheduler sleep"
    )
)]
pub async fn sleep(sim: Duration) {
    if !sim.is_zero() {
        tokio::time::sleep(to_scheduler(sim)).await;
    }
}

/// Runs `fut` for at most `sim` of simulated time: `None` when the time ran out first.
#[cfg_attr(
    not(madsim),
    expect(
        clippy::disallowed_methods,
        reason = "the one place a simulated-time bound becomes a scheduler timeout"
    )
)]
pub async fn timeout<F: Future>(sim: Duration, fut: F) -> Option<F::Output> {
    tokio::time::timeout(to_scheduler(sim), fut).await.ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scale_round_trips_to_the_microsecond() {
        for us in [0, 1, 7, 999, 1_000, 123_456_789] {
            let sim = Duration::from_micros(us);
            assert_eq!(to_scheduler(sim), Duration::from_millis(us));
            assert_eq!(from_scheduler(to_scheduler(sim)), sim);
        }
    }

    #[tokio::test(start_paused = true)]
    #[expect(
        clippy::disallowed_methods,
        reason = "reads the scheduler to check the scale"
    )]
    async fn a_sleep_of_one_simulated_microsecond_is_one_scheduler_millisecond() {
        let start = tokio::time::Instant::now();
        sleep(Duration::from_micros(1)).await;
        assert_eq!(start.elapsed(), Duration::from_millis(1));
        sleep(Duration::ZERO).await;
        assert_eq!(
            start.elapsed(),
            Duration::from_millis(1),
            "zero costs nothing"
        );
        let late = timeout(Duration::from_micros(5), sleep(Duration::from_micros(6))).await;
        assert!(late.is_none(), "6 µs does not fit in 5 µs");
        assert_eq!(start.elapsed(), Duration::from_millis(6));
    }
}
