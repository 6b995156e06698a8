//! `Throughput` in simulated time.

use serde::{Deserialize, Serialize};

/// Microseconds per second, for converting simulated durations.
pub(crate) const US_PER_S: f64 = 1_000_000.0;

/// Operations completed over a stretch of simulated time.
///
/// Stores only sums, which merge by addition; the rates are derived from them, written to JSON
/// for readers, and recomputed (not trusted) when read back.
///
/// `busy_sim_us` is the part of the simulated time spent inside bursts of work, as the caller
/// measured it. A workload with long quiet gaps (think time, crash-and-recover pauses) has an
/// ops/sim-s that measures its arrival rate, not what the engine can do; ops per busy sim-s is
/// the number that moves when the engine gets faster or slower (DESIGN.md section 8).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "ThroughputJson", from = "ThroughputInput")]
pub struct Throughput {
    ops: u64,
    sim_duration_us: u64,
    busy_sim_us: u64,
}

impl Throughput {
    /// `ops` completed in `sim_duration_us` simulated microseconds.
    pub fn new(ops: u64, sim_duration_us: u64) -> Self {
        Self {
            ops,
            sim_duration_us,
            busy_sim_us: 0,
        }
    }

    /// The same, with `busy_sim_us` of the simulated time spent inside bursts of work.
    pub fn with_busy(mut self, busy_sim_us: u64) -> Self {
        self.busy_sim_us = busy_sim_us;
        self
    }

    /// Operations completed.
    pub fn ops(&self) -> u64 {
        self.ops
    }

    /// Simulated time they took, in microseconds.
    pub fn sim_duration_us(&self) -> u64 {
        self.sim_duration_us
    }

    /// Simulated time spent inside bursts of work, in microseconds (0: not measured).
    pub fn busy_sim_us(&self) -> u64 {
        self.busy_sim_us
    }

    /// True if the caller measured busy time.
    pub fn has_busy(&self) -> bool {
        self.busy_sim_us > 0
    }

    /// Operations per simulated second; 0 when no simulated time passed.
    pub fn ops_per_sim_s(&self) -> f64 {
        per_sim_s(self.ops, self.sim_duration_us)
    }

    /// Operations per busy simulated second; 0 when no busy time was measured.
    pub fn ops_per_busy_sim_s(&self) -> f64 {
        per_sim_s(self.ops, self.busy_sim_us)
    }

    /// Sums ops, simulated and busy time (the merge rule: the rates are recomputed from the
    /// sums).
    pub fn add(&mut self, other: Throughput) {
        self.ops = self.ops.saturating_add(other.ops);
        self.sim_duration_us = self.sim_duration_us.saturating_add(other.sim_duration_us);
        self.busy_sim_us = self.busy_sim_us.saturating_add(other.busy_sim_us);
    }
}

/// `ops` per second of `sim_us` simulated microseconds; 0 when no time passed.
pub(crate) fn per_sim_s(ops: u64, sim_us: u64) -> f64 {
    if sim_us == 0 {
        return 0.0;
    }
    ops as f64 * US_PER_S / sim_us as f64
}

#[derive(Serialize)]
struct ThroughputJson {
    ops: u64,
    sim_duration_us: u64,
    ops_per_sim_s: f64,
    busy_sim_us: u64,
    ops_per_busy_sim_s: f64,
}

impl From<Throughput> for ThroughputJson {
    fn from(t: Throughput) -> Self {
        Self {
            ops: t.ops,
            sim_duration_us: t.sim_duration_us,
            ops_per_sim_s: t.ops_per_sim_s(),
            busy_sim_us: t.busy_sim_us,
            ops_per_busy_sim_s: t.ops_per_busy_sim_s(),
        }
    }
}

#[derive(Deserialize)]
struct ThroughputInput {
    ops: u64,
    sim_duration_us: u64,
    /// Absent in reports written before schema 1.2.
    #[serde(default)]
    busy_sim_us: u64,
}

impl From<ThroughputInput> for Throughput {
    fn from(t: ThroughputInput) -> Self {
        Self::new(t.ops, t.sim_duration_us).with_busy(t.busy_sim_us)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_time_gives_the_rate_quiet_gaps_would_dilute() {
        // 1,000 ops over 10 simulated seconds, of which 0.5 s was work.
        let t = Throughput::new(1_000, 10_000_000).with_busy(500_000);
        assert_eq!(t.ops_per_sim_s(), 100.0);
        assert_eq!(t.ops_per_busy_sim_s(), 2_000.0);
        assert!(t.has_busy());
        let unmeasured = Throughput::new(1_000, 10_000_000);
        assert_eq!(unmeasured.ops_per_busy_sim_s(), 0.0);
        assert!(!unmeasured.has_busy());
    }

    #[test]
    fn busy_time_adds_under_merge_and_the_rate_is_recomputed() {
        let mut a = Throughput::new(1_000, 10_000_000).with_busy(500_000);
        a.add(Throughput::new(3_000, 10_000_000).with_busy(1_500_000));
        assert_eq!(a.busy_sim_us(), 2_000_000);
        assert_eq!(a.ops_per_busy_sim_s(), 2_000.0);
        assert_eq!(a.ops_per_sim_s(), 200.0);
    }

    #[test]
    fn busy_time_round_trips_and_old_json_reads_as_unmeasured() {
        let t = Throughput::new(7, 3_000_000).with_busy(1_000_000);
        let text = serde_json::to_string(&t).unwrap();
        assert!(text.contains("\"busy_sim_us\":1000000"), "{text}");
        assert!(text.contains("\"ops_per_busy_sim_s\":7.0"), "{text}");
        assert_eq!(serde_json::from_str::<Throughput>(&text).unwrap(), t);
        let old: Throughput =
            serde_json::from_str(r#"{"ops":7,"sim_duration_us":3000000,"ops_per_sim_s":1e9}"#)
                .unwrap();
        assert_eq!(old, Throughput::new(7, 3_000_000));
    }
}
