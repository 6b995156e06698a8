//! What one run measured, in simulated time only (wall-clock speed is the CLI's business).

use std::collections::BTreeMap;

use stemedb_reports::{Counts, LatencyHistogram};

#[derive(Debug, Default)]
pub struct Metrics {
    pub latencies: BTreeMap<String, LatencyHistogram>,
    pub counts: Counts,
    /// Workload operations completed (acknowledged, refused or answered).
    pub ops: u64,
    pub sim_duration_us: u64,
}

impl Metrics {
    pub fn record(&mut self, name: &str, latency_us: u64) {
        self.latencies
            .entry(name.to_owned())
            .or_default()
            .record(latency_us);
    }

    pub fn op(&mut self, kind: &str) {
        self.ops += 1;
        self.counts.add_operation(kind, 1);
    }

    pub fn check(&mut self, n: u64) {
        self.counts
            .add_event(stemedb_reports::names::EVENT_INVARIANT_CHECKS, n);
    }
}
