//! The system clock: the one place outside the simulator where real time enters the engine.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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
}
