//! The system clock: the one place outside the simulator where real time enters the engine.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::clock::Sleep;
use super::Clock;

/// Wall time from `SystemTime`, monotonic time from `Instant`.
#[derive(Debug, Clone)]
pub struct RealClock {
    origin: Instant,
}

impl RealClock {
    #[expect(
        clippy::disallowed_methods,
        reason = "RealClock is the sanctioned real-time seam"
    )]
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
        }
    }
}

impl Default for RealClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for RealClock {
    #[expect(
        clippy::disallowed_methods,
        reason = "RealClock is the sanctioned real-time seam"
    )]
    fn wall_ms(&self) -> u64 {
        // A clock set before 1970 reads as the epoch rather than panicking.
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    fn monotonic(&self) -> Duration {
        self.origin.elapsed()
    }

    // Under `--cfg madsim` tokio's sleep is madsim's, which no rule names.
    #[cfg_attr(
        not(madsim),
        expect(
            clippy::disallowed_methods,
            reason = "RealClock is the sanctioned real-time seam"
        )
    )]
    fn sleep(&self, duration: Duration) -> Sleep {
        Box::pin(tokio::time::sleep(duration))
    }
}
