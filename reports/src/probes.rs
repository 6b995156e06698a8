//! Fault-path probes and capacity phases on a [`Report`].
//!
//! A probe is a named point in a fault-handling path (a torn-tail repair, a retried fsync, a
//! recovery that found a gap). Counting them per run answers "did the faults we inject reach the
//! code meant to handle them?": a probe that stays at 0 across a sweep is a path the tests never
//! exercised, however green they are.

use crate::capacity::Capacity;
use crate::report::Report;

impl Report {
    /// Declares probes, each at 0 hits unless already counted, so that one that never fires is
    /// still listed (and reported by [`Report::starved_probes`]).
    pub fn declare_probes<'a, I>(&mut self, names: I)
    where
        I: IntoIterator<Item = &'a str>,
    {
        for name in names {
            self.probes.entry(name.to_owned()).or_insert(0);
        }
    }

    /// Adds `hits` to probe `name`, declaring it if needed.
    pub fn add_probe_hits(&mut self, name: &str, hits: u64) {
        let count = self.probes.entry(name.to_owned()).or_insert(0);
        *count = count.saturating_add(hits);
    }

    /// The declared probes that never fired, by name.
    pub fn starved_probes(&self) -> Vec<&str> {
        self.probes
            .iter()
            .filter(|(_, hits)| **hits == 0)
            .map(|(name, _)| name.as_str())
            .collect()
    }

    /// Adds a closed-loop capacity measurement, merging it into any earlier one at the same
    /// writer count.
    pub fn add_capacity(&mut self, capacity: &Capacity) {
        self.capacity
            .entry(capacity.writers)
            .and_modify(|ours| ours.add(capacity))
            .or_insert_with(|| capacity.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starved_probes_are_the_declared_ones_that_never_fired() {
        let mut report = Report::new("r", "0", "c", "dev");
        report.declare_probes(["wal.torn_tail_repaired", "wal.fsync_retried", "ingest.gap"]);
        report.add_probe_hits("wal.fsync_retried", 3);
        report.add_probe_hits("undeclared.but_fired", 1);
        report.declare_probes(["wal.fsync_retried"]);
        assert_eq!(
            report.probes["wal.fsync_retried"], 3,
            "declaring keeps counts"
        );
        assert_eq!(
            report.starved_probes(),
            ["ingest.gap", "wal.torn_tail_repaired"]
        );
        report.add_probe_hits("ingest.gap", u64::MAX);
        report.add_probe_hits("ingest.gap", 1);
        assert_eq!(
            report.probes["ingest.gap"],
            u64::MAX,
            "saturates, never panics"
        );
    }

    #[test]
    fn capacity_at_one_writer_count_accumulates() {
        let mut report = Report::new("r", "0", "c", "dev");
        let mut one = Capacity::new(2);
        one.add_ops(100, 1_000_000);
        one.record_ack(50);
        report.add_capacity(&one);
        report.add_capacity(&one);
        report.add_capacity(&Capacity::new(16));
        assert_eq!(report.capacity.keys().copied().collect::<Vec<_>>(), [2, 16]);
        assert_eq!(report.capacity[&2].ops, 200);
        assert_eq!(report.capacity[&2].ack_latency_us.count(), 2);
    }
}
