//! `Throughput` in simulated time.

use serde::{Deserialize, Serialize};

/// Microseconds per second, for converting simulated durations.
pub(crate) const US_PER_S: f64 = 1_000_000.0;

/// Operations completed over a stretch of simulated time.
///
/// Stores only the two sums, which merge by addition; the rate is derived from them, written to
/// JSON for readers, and recomputed (not trusted) when read back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "ThroughputJson", from = "ThroughputInput")]
pub struct Throughput {
    ops: u64,
    sim_duration_us: u64,
}

impl Throughput {
    /// `ops` completed in `sim_duration_us` simulated microseconds.
    pub fn new(ops: u64, sim_duration_us: u64) -> Self {
        Self {
            ops,
            sim_duration_us,
        }
    }

    /// Operations completed.
    pub fn ops(&self) -> u64 {
        self.ops
    }

    /// Simulated time they took, in microseconds.
    pub fn sim_duration_us(&self) -> u64 {
        self.sim_duration_us
    }

    /// Operations per simulated second; 0 when no simulated time passed.
    pub fn ops_per_sim_s(&self) -> f64 {
        if self.sim_duration_us == 0 {
            return 0.0;
        }
        self.ops as f64 * US_PER_S / self.sim_duration_us as f64
    }

    /// Sums ops and simulated time (the merge rule: the rate is recomputed from the sums).
    pub fn add(&mut self, other: Throughput) {
        self.ops = self.ops.saturating_add(other.ops);
        self.sim_duration_us = self.sim_duration_us.saturating_add(other.sim_duration_us);
    }
}

#[derive(Serialize)]
struct ThroughputJson {
    ops: u64,
    sim_duration_us: u64,
    ops_per_sim_s: f64,
}

impl From<Throughput> for ThroughputJson {
    fn from(t: Throughput) -> Self {
        Self {
            ops: t.ops,
            sim_duration_us: t.sim_duration_us,
            ops_per_sim_s: t.ops_per_sim_s(),
        }
    }
}

#[derive(Deserialize)]
struct ThroughputInput {
    ops: u64,
    sim_duration_us: u64,
}

impl From<ThroughputInput> for Throughput {
    fn from(t: ThroughputInput) -> Self {
        Self::new(t.ops, t.sim_duration_us)
    }
}
