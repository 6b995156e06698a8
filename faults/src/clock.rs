//! `SimClock`: virtual time for the engine's `Clock` seam.
//!
//! Monotonic time comes either from the simulated runtime (tokio's paused clock inside a turmoil
//! host, re-anchored at every host start so it keeps counting across crashes) or is advanced by
//! hand. Wall time is derived from it with the plan's clock faults: a constant skew, a drift rate
//! and jumps, which may go backwards, so the engine must never assume wall time is monotonic.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use stemedb::io::{Clock, Sleep};

use crate::plan::ClockPlan;

/// 2026-01-01T00:00:00Z: where simulated wall time starts, so timestamps look real.
pub const SIM_EPOCH_WALL_MS: u64 = 1_767_225_600_000;

#[derive(Debug)]
enum Source {
    Manual(Duration),
    /// Monotonic = `at` + time elapsed on the runtime since `anchor`.
    Runtime {
        anchor: tokio::time::Instant,
        at: Duration,
    },
}

#[derive(Debug)]
struct State {
    source: Source,
    plan: ClockPlan,
    base_wall_ms: u64,
    /// The largest monotonic value handed out: a re-anchor never goes below it.
    last_read: Duration,
}

/// A virtual clock. Clones share the same time.
#[derive(Clone, Debug)]
pub struct SimClock {
    inner: Arc<Mutex<State>>,
}

impl SimClock {
    /// A clock advanced only by [`SimClock::advance`].
    pub fn manual(plan: ClockPlan) -> Self {
        Self::with_source(Source::Manual(Duration::ZERO), plan)
    }

    /// A clock that follows the current tokio runtime's (virtual, when paused) time. Call it
    /// inside that runtime: outside one, tokio's `Instant` is the real clock. A simulator whose
    /// hosts restart on fresh runtimes should start `manual` and re-anchor with
    /// [`SimClock::follow_runtime_from`] at every boot instead.
    pub fn runtime(plan: ClockPlan) -> Self {
        Self::with_source(
            Source::Runtime {
                anchor: scheduler_now(),
                at: Duration::ZERO,
            },
            plan,
        )
    }

    fn with_source(source: Source, plan: ClockPlan) -> Self {
        Self {
            inner: Arc::new(Mutex::new(State {
                source,
                plan,
                base_wall_ms: SIM_EPOCH_WALL_MS,
                last_read: Duration::ZERO,
            })),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Advances a manual clock.
    pub fn advance(&self, by: Duration) {
        let mut s = self.state();
        match &mut s.source {
            Source::Manual(now) => *now += by,
            Source::Runtime { at, .. } => *at += by,
        }
    }

    /// Re-anchors on the current runtime (a host restarted on a fresh runtime), continuing from
    /// `at` (the simulation's elapsed time), never below a value already handed out.
    ///
    /// Instants of different runtimes are never compared: each paused runtime's clock starts
    /// from a different real instant, so mixing them would leak wall time into the simulation.
    pub fn follow_runtime_from(&self, at: Duration) {
        let mut s = self.state();
        let at = at.max(s.last_read);
        s.source = Source::Runtime {
            anchor: scheduler_now(),
            at,
        };
    }

    /// Adds a jump at the current monotonic time (for tests and the world's explicit faults).
    pub fn jump(&self, delta_ms: i64) {
        let mut s = self.state();
        let at_ms = s.monotonic().as_millis() as u64;
        s.plan
            .jumps
            .push(crate::plan::ClockJump { at_ms, delta_ms });
    }
}

impl State {
    fn monotonic(&self) -> Duration {
        match &self.source {
            Source::Manual(now) => *now,
            Source::Runtime { anchor, at } => *at + crate::time::from_scheduler(anchor.elapsed()),
        }
    }

    fn wall_ms_at(&self, mono: Duration) -> u64 {
        let mono_ms = mono.as_millis() as i64;
        let drift_ms = mono_ms.saturating_mul(self.plan.drift_ppm) / 1_000_000;
        let jumps_ms: i64 = self
            .plan
            .jumps
            .iter()
            .filter(|j| j.at_ms as i64 <= mono_ms)
            .map(|j| j.delta_ms)
            .sum();
        let wall = self.base_wall_ms as i64 + mono_ms + drift_ms + self.plan.skew_ms + jumps_ms;
        wall.max(0) as u64
    }
}

/// The scheduler's clock: tokio's paused virtual time under turmoil, madsim's virtual time under
/// `--cfg madsim` (where `tokio::time::Instant` is std's, which madsim answers from its timer
/// inside its runtime; hence the lint there, which the seam is the one place to allow).
#[expect(
    clippy::disallowed_methods,
    reason = "the seam that reads the scheduler's clock (std's Instant is madsim's virtual time \
              inside its runtime)"
)]
fn scheduler_now() -> tokio::time::Instant {
    tokio::time::Instant::now()
}

impl Clock for SimClock {
    fn wall_ms(&self) -> u64 {
        let mut s = self.state();
        let now = s.monotonic().max(s.last_read);
        s.last_read = now;
        s.wall_ms_at(now)
    }

    fn monotonic(&self) -> Duration {
        let mut s = self.state();
        let now = s.monotonic().max(s.last_read);
        s.last_read = now;
        now
    }

    fn sleep(&self, duration: Duration) -> Sleep {
        Box::pin(crate::time::sleep(duration))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::ClockJump;

    #[test]
    fn manual_clock_applies_skew_drift_and_jumps() {
        let plan = ClockPlan {
            skew_ms: -500,
            drift_ppm: 1_000,
            jumps: vec![ClockJump {
                at_ms: 2_000,
                delta_ms: -10_000,
            }],
        };
        let clock = SimClock::manual(plan);
        assert_eq!(clock.wall_ms(), SIM_EPOCH_WALL_MS - 500);
        clock.advance(Duration::from_millis(1_000));
        assert_eq!(clock.monotonic(), Duration::from_millis(1_000));
        assert_eq!(
            clock.wall_ms(),
            SIM_EPOCH_WALL_MS + 1_000 + 1 - 500,
            "1000 ppm drift"
        );
        clock.advance(Duration::from_millis(1_000));
        let after_jump = clock.wall_ms();
        assert_eq!(after_jump, SIM_EPOCH_WALL_MS + 2_000 + 2 - 500 - 10_000);
        assert!(
            after_jump < SIM_EPOCH_WALL_MS,
            "wall time went backwards; monotonic did not"
        );
        assert_eq!(clock.monotonic(), Duration::from_millis(2_000));
    }

    #[tokio::test(start_paused = true)]
    async fn runtime_clock_follows_virtual_time() {
        let clock = SimClock::runtime(ClockPlan::default());
        crate::time::sleep(Duration::from_secs(3600)).await;
        assert_eq!(clock.monotonic(), Duration::from_secs(3600));
        clock.follow_runtime_from(Duration::from_secs(10));
        assert!(
            clock.monotonic() >= Duration::from_secs(3600),
            "re-anchoring never goes back"
        );
    }
}
