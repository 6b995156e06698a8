//! The world on turmoil: each host a current-thread tokio runtime in a `LocalSet`, stepped a
//! tick at a time; ready tasks are polled in a fixed order.

use std::time::Duration;

use stemedb_faults::time::{from_scheduler, to_scheduler};

use super::{Control, Flow, Software, World, SIMULATION_DURATION_MAX, TICK_DURATION};

/// The world's name in artifacts and reproduce lines.
pub const NAME: &str = "turmoil";
/// How a reproduce line runs this build.
pub const CARGO_RUN: &str = "cargo run --release --bin stemedb-sim -- ";

/// Runs `f` (one seed's run) here: a turmoil world keeps nothing on its thread between runs.
pub fn on_fresh_thread<R: Send>(_seed: u64, f: impl FnOnce() -> R + Send) -> R {
    f()
}

/// Virtual time since the world started, read from inside a host (exact within a step).
pub fn host_elapsed() -> Duration {
    from_scheduler(::turmoil::sim_elapsed().unwrap_or_default())
}

/// The world on turmoil.
pub struct TurmoilWorld<'a> {
    sim: ::turmoil::Sim<'a>,
}

impl TurmoilWorld<'_> {
    pub fn new(seed: u64) -> Self {
        let sim = ::turmoil::Builder::new()
            .rng_seed(seed)
            .tick_duration(to_scheduler(TICK_DURATION))
            .simulation_duration(to_scheduler(SIMULATION_DURATION_MAX))
            .build();
        Self { sim }
    }
}

impl World for TurmoilWorld<'_> {
    fn host(&mut self, name: &str, software: Software) {
        self.sim.host(name, move || {
            let run = software();
            async move {
                run.await;
                Ok(())
            }
        });
    }

    fn run(
        &mut self,
        ticks_max: u64,
        driver: &mut dyn FnMut(&mut dyn Control, Option<String>) -> Flow,
    ) -> Duration {
        for _ in 0..ticks_max {
            let host_failure = self.sim.step().err().map(|e| e.to_string());
            if driver(self, host_failure) == Flow::Stop {
                break;
            }
        }
        from_scheduler(self.sim.elapsed())
    }
}

impl Control for TurmoilWorld<'_> {
    fn crash(&mut self, name: &str) {
        self.sim.crash(name);
    }

    fn bounce(&mut self, name: &str) {
        self.sim.bounce(name);
    }

    fn elapsed(&self) -> Duration {
        from_scheduler(self.sim.elapsed())
    }
}
