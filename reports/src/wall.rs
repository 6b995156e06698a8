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
    /// Wall time times the parallel workers: the CPU time the run had (0: not measured).
    worker_us: u64,
    /// The physical-limit twin: one core's time to sign and verify, once each, every record the
    /// run signed (0: not measured). The simulator cannot beat it without skipping the crypto
    /// the engine really does.
    twin_us: u64,
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
            worker_us: 0,
            twin_us: 0,
        }
    }

    /// Adds the physical-limit twin: the run used `workers` parallel workers, and signing and
    /// verifying its records once takes `twin` on one core.
    pub fn with_twin(mut self, workers: u64, twin: Duration) -> Self {
        self.worker_us = self.wall_us.saturating_mul(workers);
        self.twin_us = u64::try_from(twin.as_micros()).unwrap_or(u64::MAX);
        self
    }

    /// The twin's share of the workers' time (0 if not measured): 1.0 would mean the run did
    /// nothing but the crypto it cannot avoid.
    pub fn twin_share(&self) -> f64 {
        if self.worker_us == 0 {
            return 0.0;
        }
        self.twin_us as f64 / self.worker_us as f64
    }

    /// Seeds per wall-clock minute if the run did nothing but its crypto, on the same workers
    /// (0 if not measured).
    pub fn twin_seeds_per_wall_min(&self) -> f64 {
        if self.twin_us == 0 || self.wall_us == 0 {
            return 0.0;
        }
        let workers = self.worker_us as f64 / self.wall_us as f64;
        self.seeds as f64 * workers * US_PER_S / self.twin_us as f64 * S_PER_MIN
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
        self.worker_us = self.worker_us.saturating_add(other.worker_us);
        self.twin_us = self.twin_us.saturating_add(other.twin_us);
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
    worker_us: u64,
    twin_us: u64,
    twin_share: f64,
    twin_seeds_per_wall_min: f64,
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
            worker_us: w.worker_us,
            twin_us: w.twin_us,
            twin_share: w.twin_share(),
            twin_seeds_per_wall_min: w.twin_seeds_per_wall_min(),
        }
    }
}

#[derive(Deserialize)]
struct WallClockInput {
    wall_us: u64,
    sim_ops: u64,
    sim_duration_us: u64,
    seeds: u64,
    /// Absent in reports written before the twin existed.
    #[serde(default)]
    worker_us: u64,
    #[serde(default)]
    twin_us: u64,
}

impl From<WallClockInput> for WallClock {
    fn from(w: WallClockInput) -> Self {
        Self {
            wall_us: w.wall_us,
            sim_ops: w.sim_ops,
            sim_duration_us: w.sim_duration_us,
            seeds: w.seeds,
            worker_us: w.worker_us,
            twin_us: w.twin_us,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_twin_is_a_share_of_worker_time_and_a_ceiling_that_survive_merge_and_old_files() {
        // 4 seeds in 2 s on 2 workers; their crypto alone takes 1 s of one core.
        let w = WallClock::new(Duration::from_secs(2), 8_000, 600_000_000, 4)
            .with_twin(2, Duration::from_secs(1));
        assert!((w.twin_share() - 0.25).abs() < 1e-9);
        // Crypto only: 4 seeds per core-second over 2 workers = 8 seeds/s = 480 seeds/min.
        assert!((w.twin_seeds_per_wall_min() - 480.0).abs() < 1e-6);
        let mut merged = w;
        merged.add(w);
        assert!(
            (merged.twin_share() - 0.25).abs() < 1e-9,
            "merge keeps the ratio"
        );
        // Unmeasured: no share, no ceiling (never a division by zero).
        let bare = WallClock::new(Duration::from_secs(2), 1, 1, 1);
        assert_eq!(
            (bare.twin_share(), bare.twin_seeds_per_wall_min()),
            (0.0, 0.0)
        );
        // A report written before the twin existed still loads.
        let old = r#"{"wall_us":2000000,"sim_ops":1,"sim_duration_us":1,"seeds":1}"#;
        let loaded: WallClock = serde_json::from_str(old).unwrap();
        assert_eq!(loaded, bare);
    }
}
