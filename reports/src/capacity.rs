//! `Capacity`: what a closed-loop phase with a fixed number of writers achieved.
//!
//! In a closed loop each writer issues its next operation as soon as the previous one is
//! acknowledged, so there are no quiet gaps: ops per simulated second is the engine's capacity
//! at that concurrency, and the acknowledgement latency is what that capacity costs.

use serde::{Deserialize, Serialize};

use crate::histogram::LatencyHistogram;
use crate::throughput::per_sim_s;

/// One closed-loop capacity measurement at `writers` concurrent writers.
///
/// Stores sums (ops, simulated time, the latency histogram), which merge by addition; the rate
/// is derived, written to JSON for readers, and recomputed when read back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "CapacityJson", from = "CapacityInput")]
pub struct Capacity {
    /// Concurrent writers in the closed loop.
    pub writers: u32,
    /// Operations acknowledged.
    pub ops: u64,
    /// Simulated time the phase ran, in microseconds.
    pub sim_us: u64,
    /// Append-to-acknowledgement latency of those operations, in simulated microseconds.
    pub ack_latency_us: LatencyHistogram,
}

impl Capacity {
    /// An empty measurement at `writers` writers.
    pub fn new(writers: u32) -> Self {
        Self {
            writers,
            ops: 0,
            sim_us: 0,
            ack_latency_us: LatencyHistogram::new(),
        }
    }

    /// Adds `ops` operations over `sim_us` simulated microseconds.
    pub fn add_ops(&mut self, ops: u64, sim_us: u64) {
        self.ops = self.ops.saturating_add(ops);
        self.sim_us = self.sim_us.saturating_add(sim_us);
    }

    /// Records one acknowledgement latency.
    pub fn record_ack(&mut self, latency_us: u64) {
        self.ack_latency_us.record(latency_us);
    }

    /// Operations per simulated second; 0 when no simulated time passed.
    pub fn ops_per_sim_s(&self) -> f64 {
        per_sim_s(self.ops, self.sim_us)
    }

    /// Adds `other`'s ops, time and latencies (the merge rule). The writer count is the key the
    /// caller matched on, so it is kept.
    pub fn add(&mut self, other: &Capacity) {
        self.add_ops(other.ops, other.sim_us);
        self.ack_latency_us.merge(&other.ack_latency_us);
    }
}

#[derive(Serialize)]
struct CapacityJson {
    writers: u32,
    ops: u64,
    sim_us: u64,
    ops_per_sim_s: f64,
    ack_latency_us: LatencyHistogram,
}

impl From<Capacity> for CapacityJson {
    fn from(c: Capacity) -> Self {
        Self {
            writers: c.writers,
            ops: c.ops,
            sim_us: c.sim_us,
            ops_per_sim_s: c.ops_per_sim_s(),
            ack_latency_us: c.ack_latency_us,
        }
    }
}

#[derive(Deserialize)]
struct CapacityInput {
    writers: u32,
    ops: u64,
    sim_us: u64,
    #[serde(default)]
    ack_latency_us: LatencyHistogram,
}

impl From<CapacityInput> for Capacity {
    fn from(c: CapacityInput) -> Self {
        Self {
            writers: c.writers,
            ops: c.ops,
            sim_us: c.sim_us,
            ack_latency_us: c.ack_latency_us,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phase(writers: u32, ops: u64, sim_us: u64, acks_us: &[u64]) -> Capacity {
        let mut c = Capacity::new(writers);
        c.add_ops(ops, sim_us);
        for &us in acks_us {
            c.record_ack(us);
        }
        c
    }

    #[test]
    fn merge_adds_ops_time_and_latencies_exactly() {
        let mut a = phase(4, 400, 1_000_000, &[100, 200]);
        let b = phase(4, 1_200, 2_000_000, &[300, 1_500]);
        a.add(&b);
        assert_eq!((a.writers, a.ops, a.sim_us), (4, 1_600, 3_000_000));
        assert!((a.ops_per_sim_s() - 533.333).abs() < 1e-3);
        let whole = phase(4, 1_600, 3_000_000, &[100, 200, 300, 1_500]);
        assert_eq!(a, whole);
        assert_eq!(a.ack_latency_us.summary().max_us, 1_500);
    }

    #[test]
    fn json_round_trips_and_the_rate_is_recomputed() {
        let c = phase(8, 800, 2_000_000, &[150, 250, 350]);
        let text = serde_json::to_string(&c).unwrap();
        assert!(text.contains("\"ops_per_sim_s\":400.0"), "{text}");
        assert_eq!(serde_json::from_str::<Capacity>(&text).unwrap(), c);
        let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
        value["ops_per_sim_s"] = 1e12.into();
        let back: Capacity = serde_json::from_value(value).unwrap();
        assert_eq!(back.ops_per_sim_s(), 400.0);
        assert_eq!(Capacity::new(1).ops_per_sim_s(), 0.0);
    }
}
