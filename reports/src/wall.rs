//! `WallClock`: how fast the simulator ran on real hardware. Never fingerprinted or compared for
//! determinism: it varies with the machine and its load.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::throughput::US_PER_S;

/// Seconds per minute, for seeds per minute.
const S_PER_MIN: f64 = 60.0;

/// Wall-clock time spent and the simulated work done in it.
///
/// Carries its own copy of the simulated ops, simulated time and seed count so the rates stay
/// consistent under merge: all four inputs add, and the rates are recomputed from the sums. For
/// merged shards the wall time is the sum over shards, so rates are per worker, not per sweep.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "WallClockJson", from = "WallClockInput")]
pub struct WallClock {
    wall_us: u64,
    sim_ops: u64,
    sim_duration_us: u64,
    seeds: u64,
}

impl WallClock {
    /// `wall` real time spent running `seeds` seeds that did `sim_ops` operations over
    /// `sim_duration_us` simulated microseconds.
    pub fn new(wall: Duration, sim_ops: u64, sim_duration_us: u64, seeds: u64) -> Self {
        Self {
            wall_us: u64::try_from(wall.as_micros()).unwrap_or(u64::MAX),
            sim_ops,
            sim_duration_us,
            seeds,
        }
    }

    /// Wall-clock microseconds.
    pub fn wall_us(&self) -> u64 {
        self.wall_us
    }

    /// Wall-clock seconds.
    pub fn wall_s(&self) -> f64 {
        self.wall_us as f64 / US_PER_S
    }

    /// Simulated operations per wall-clock second; 0 if no wall time was measured.
    pub fn ops_per_wall_s(&self) -> f64 {
        per_wall_s(self.sim_ops as f64, self.wall_us)
    }

    /// Simulated seconds per wall-clock second (above 1: the simulator outruns real time).
    pub fn sim_to_wall_ratio(&self) -> f64 {
        per_wall_s(self.sim_duration_us as f64 / US_PER_S, self.wall_us)
    }

    /// Seeds completed per wall-clock minute.
    pub fn seeds_per_wall_min(&self) -> f64 {
        per_wall_s(self.seeds as f64, self.wall_us) * S_PER_MIN
    }

    /// Seeds this measurement covers.
    pub fn seeds(&self) -> u64 {
        self.seeds
    }

    /// Sums all inputs (the merge rule).
    pub fn add(&mut self, other: WallClock) {
        self.wall_us = self.wall_us.saturating_add(other.wall_us);
        self.sim_ops = self.sim_ops.saturating_add(other.sim_ops);
        self.sim_duration_us = self.sim_duration_us.saturating_add(other.sim_duration_us);
        self.seeds = self.seeds.saturating_add(other.seeds);
    }
}

fn per_wall_s(amount: f64, wall_us: u64) -> f64 {
    if wall_us == 0 {
        return 0.0;
    }
    amount * US_PER_S / wall_us as f64
}

#[derive(Serialize)]
struct WallClockJson {
    wall_us: u64,
    wall_s: f64,
    sim_ops: u64,
    sim_duration_us: u64,
    seeds: u64,
    ops_per_wall_s: f64,
    sim_to_wall_ratio: f64,
    seeds_per_wall_min: f64,
}

impl From<WallClock> for WallClockJson {
    fn from(w: WallClock) -> Self {
        Self {
            wall_us: w.wall_us,
            wall_s: w.wall_s(),
            sim_ops: w.sim_ops,
            sim_duration_us: w.sim_duration_us,
            seeds: w.seeds,
            ops_per_wall_s: w.ops_per_wall_s(),
            sim_to_wall_ratio: w.sim_to_wall_ratio(),
            seeds_per_wall_min: w.seeds_per_wall_min(),
        }
    }
}

#[derive(Deserialize)]
struct WallClockInput {
    wall_us: u64,
    sim_ops: u64,
    sim_duration_us: u64,
    seeds: u64,
}

impl From<WallClockInput> for WallClock {
    fn from(w: WallClockInput) -> Self {
        Self {
            wall_us: w.wall_us,
            sim_ops: w.sim_ops,
            sim_duration_us: w.sim_duration_us,
            seeds: w.seeds,
        }
    }
}
