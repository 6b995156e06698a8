//! The spin watchdog: the simulated devices count their calls between two steps of the world,
//! and a run whose engine makes more than [`CALLS_PER_STEP_MAX`] of them in one step is a verdict.
//!
//! Why: without a latency model a simulated call never awaits, so a retry loop that never waits
//! (a back-off of zero, a "cannot happen" branch that loops) never yields either. The world's step
//! then never returns, simulated time stops and the run hangs until something outside kills it,
//! with no verdict and no reproduce line. In production the same loop burns a core and starves
//! every task on its thread. The counter is deterministic (calls, not wall time), so the verdict
//! replays like any other.
//!
//! Off until the world hands the devices a [`SpinWatch`]: benches and unit tests drive them
//! without steps.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The most calls the devices take, together, within one step of the world. The CI sweep's
/// largest is 2,461 (chaos seed 30; recoveries, catch-ups and query bursts), so 100,000 leaves
/// room for runs forty times larger, and a loop that spins reaches it within a fraction of a
/// second of wall time.
pub const CALLS_PER_STEP_MAX: u64 = 100_000;

/// One world's count, shared by its disk and its KV (clones count together).
#[derive(Clone, Debug, Default)]
pub struct SpinWatch(Arc<Counts>);

#[derive(Debug, Default)]
struct Counts {
    calls: AtomicU64,
    peak: AtomicU64,
}

impl SpinWatch {
    /// The world took a step: the count starts again.
    pub fn step(&self) {
        self.0.calls.store(0, Ordering::Relaxed);
    }

    /// The most calls made within one step so far.
    pub fn peak(&self) -> u64 {
        self.0.peak.load(Ordering::Relaxed)
    }

    /// Counts a call. `Some(calls)` once the devices pass the limit within one step.
    pub(crate) fn call(&self) -> Option<u64> {
        let calls = self.0.calls.fetch_add(1, Ordering::Relaxed) + 1;
        self.0.peak.fetch_max(calls, Ordering::Relaxed);
        (calls > CALLS_PER_STEP_MAX).then_some(calls)
    }
}

/// The verdict: called with no lock held, so the device stays usable for the report.
#[track_caller]
pub(crate) fn spun(device: &str, calls: u64) -> ! {
    panic!(
        "the engine spins: {calls} device calls within one simulated step, the last of the \
         {device} (limit CALLS_PER_STEP_MAX = {CALLS_PER_STEP_MAX}): a loop that retries \
         without ever waiting"
    )
}
