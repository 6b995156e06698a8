//! The spin watchdog: a simulated device counts its calls between two steps of the world, and a
//! run whose engine makes more than [`CALLS_PER_STEP_MAX`] of them in one step is a verdict.
//!
//! Why: without a latency model a simulated call never awaits, so a retry loop that never waits
//! (a back-off of zero, a "cannot happen" branch that loops) never yields either. The world's step
//! then never returns, simulated time stops and the run hangs until something outside kills it,
//! with no verdict and no reproduce line. In production the same loop burns a core and starves
//! every task on its thread. The counter is deterministic (calls, not wall time), so the verdict
//! replays like any other.
//!
//! Off until the world arms it: benches and unit tests drive the devices without steps.

/// The most calls one device takes within one step of the world. The CI sweep's largest is 431
/// disk calls and 2,378 KV calls in one step (measured at the commit that adds the watchdog:
/// recoveries, catch-ups and query bursts), so 100,000 leaves room for runs forty times larger,
/// and a loop that spins reaches it within a fraction of a second of wall time.
pub const CALLS_PER_STEP_MAX: u64 = 100_000;

/// Calls since the last step, and whether anyone watches.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SpinWatch {
    armed: bool,
    calls: u64,
    /// The most calls seen within one step so far.
    calls_per_step_peak: u64,
}

impl SpinWatch {
    pub(crate) fn arm(&mut self) {
        self.armed = true;
        self.calls = 0;
    }

    pub(crate) fn step(&mut self) {
        self.calls = 0;
    }

    /// Counts a call. `Some(calls)` once a watched device passes the limit within one step.
    pub(crate) fn call(&mut self) -> Option<u64> {
        self.calls += 1;
        self.calls_per_step_peak = self.calls_per_step_peak.max(self.calls);
        (self.armed && self.calls > CALLS_PER_STEP_MAX).then_some(self.calls)
    }

    pub(crate) fn peak(&self) -> u64 {
        self.calls_per_step_peak
    }
}

/// The verdict: called with no lock held, so the device stays usable for the report.
#[track_caller]
pub(crate) fn spun(device: &str, calls: u64) -> ! {
    panic!(
        "the engine spins: {calls} {device} calls within one simulated step (limit \
         CALLS_PER_STEP_MAX = {CALLS_PER_STEP_MAX}): a loop that retries without ever waiting"
    )
}
