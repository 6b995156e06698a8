//! The world seam: what the arenas need from a deterministic scheduler. Two implement it:
//! turmoil (`turmoil.rs`, the default build), whose hosts' tasks run in a fixed order, and madsim
//! (`madsim.rs`, a build with `--cfg madsim`), which polls a random ready task at every step, so
//! the same seeds explore other interleavings of writers, ingest, queries and recovery. Arenas
//! never name either.

#[cfg(madsim)]
mod madsim;
#[cfg(not(madsim))]
mod turmoil;

#[cfg(madsim)]
pub use self::madsim::{host_elapsed, on_fresh_thread, MadsimWorld as SimWorld, CARGO_RUN, NAME};
#[cfg(not(madsim))]
pub use self::turmoil::{host_elapsed, on_fresh_thread, TurmoilWorld as SimWorld, CARGO_RUN, NAME};

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// A host's software: called again on every (re)start, so start-up runs recovery each time.
pub type Software = Box<dyn Fn() -> Pin<Box<dyn Future<Output = ()>>>>;

/// What the driver wants after looking in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Stop,
}

/// What the driver may do to the world between ticks.
pub trait Control {
    /// Stops a host's software dead: nothing it was doing completes.
    fn crash(&mut self, name: &str);
    /// Restarts a host's software (after a crash, or as a clean process restart).
    fn bounce(&mut self, name: &str);
    /// Virtual time since the world started.
    fn elapsed(&self) -> Duration;
}

/// A simulated world of hosts on virtual time. The world owns its loop: a scheduler that steps
/// (turmoil) and one that runs everything inside a single future (madsim) both fit.
pub trait World {
    /// Adds a host running `software`.
    fn host(&mut self, name: &str, software: Software);
    /// Runs the world tick by tick ([`TICK_DURATION`] of virtual time each, every live host
    /// running) for at most `ticks_max` ticks. After each tick it calls `driver` with the
    /// control verbs and, if a host failed in that tick (a panic in its software, say), why;
    /// the run ends when the driver says [`Flow::Stop`]. Returns the virtual time elapsed.
    fn run(
        &mut self,
        ticks_max: u64,
        driver: &mut dyn FnMut(&mut dyn Control, Option<String>) -> Flow,
    ) -> Duration;
}

/// Simulated time per step (the scheduler's is `stemedb_faults::time::to_scheduler` of it): how often the driver looks in (planned crashes, restarts, deadlines).
/// Within a step each host's runtime still runs every timer at its own instant (tokio's paused
/// clock jumps from timer to timer), so the tick bounds only the driver's reaction time. It is
/// also the cost of idle virtual time: an idle step costs about 1.5 us of wall time, so at 1 ms
/// ticks a run with realistic pauses between bursts spends most of its time stepping through
/// silence.
pub const TICK_DURATION: Duration = Duration::from_millis(50);
/// Longest simulated time a world may run: a bound, never a target (liveness is judged earlier).
pub const SIMULATION_DURATION_MAX: Duration = Duration::from_secs(24 * 3600);
