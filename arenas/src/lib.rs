//! StemeDB's deterministic simulator.
//!
//! A run ([`sim::run_seed`]) is a pure function of a [`config::RunConfig`]: the engine runs as a
//! turmoil host over a simulated disk, KV store and clock; the arena's workload runs as tasks
//! inside it; crashes and restarts come from the seed's fault plan; reference models
//! ([`oracle`]) and invariants ([`check`]) judge every step; a fault-free liveness phase ends it.
//! With the feature `fuzzing`, `fuzzing` holds the bodies of the cargo-fuzz targets in `fuzz/`.

pub mod adversary;
pub mod arena;
pub mod check;
pub mod cli;
pub mod config;
pub mod env;
pub mod excuses;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod host;
pub mod metrics;
pub mod observed;
pub mod oracle;
pub mod outcome;
pub mod scenario;
pub mod sim;
pub mod wall;
pub mod watchdog;
pub mod workload;
pub mod world;
