//! Run history: one small row per run or sweep, appended to a file that outlives the reports,
//! so a trend (seeds per minute, tail latency) can be read across commits.
//!
//! Stored as JSON lines, one row per line, rather than in SQLite:
//! - no C dependency: SQLite would bring a C library and its build into a crate that is plain
//!   data on purpose;
//! - appending is one `write` of one whole line to a file opened with `O_APPEND`, so the kernel
//!   places each line at the end as a unit; with one writer per line (one run appending its own
//!   row) that is atomic enough, and nothing ever rewrites earlier rows;
//! - a crash mid-write can only leave a torn last line: [`load`] detects it, skips it and says
//!   so (the next [`append`] starts a fresh line after it), instead of refusing the whole file;
//! - it is diffable and greppable, and `jq` reads it as is (`jq -s . history.jsonl`);
//! - new fields are added with serde defaults, so old lines keep loading.

mod store;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::outcome::Verdict;
use crate::report::Report;

pub use store::{append, load, HistoryLog, SkipReason, HISTORY_LINE_MAX_BYTES};

/// A latency's headline percentiles in one history row, in simulated microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatencyPercentiles {
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

/// One run in the history file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryRow {
    pub run_id: String,
    /// When the row was recorded (wall time, supplied by the caller: the crate reads no clock).
    pub recorded_at_unix_s: u64,
    /// The subcommand that produced the run: `run`, `sweep`, ...
    pub command: String,
    /// Source commit of the build under test.
    pub commit: String,
    /// The simulated world (scheduler and I/O model) the run used.
    #[serde(default)]
    pub world: String,
    /// The scenario the run used.
    #[serde(default)]
    pub scenario: String,
    /// Seeds covered.
    pub seeds: u64,
    /// The report's verdict (`pass`, `safety_violation`, ...).
    pub verdict: String,
    /// Outcomes that did not pass.
    pub failures: u64,
    /// Seeds per wall-clock minute, when the run measured wall time.
    #[serde(default)]
    pub seeds_per_wall_min: Option<f64>,
    /// Wall-clock seconds, when measured.
    #[serde(default)]
    pub wall_s: Option<f64>,
    /// Operations per busy simulated second (0 when the run measured no busy time).
    #[serde(default)]
    pub ops_per_busy_sim_s: f64,
    /// Headline percentiles by latency name (see `names::LATENCY_*`), non-empty ones only.
    #[serde(default)]
    pub latencies: BTreeMap<String, LatencyPercentiles>,
}

impl HistoryRow {
    /// The row for `report`, produced by `command` on `world` with `scenario`, recorded at
    /// `recorded_at_unix_s`.
    pub fn from_report(
        report: &Report,
        command: impl Into<String>,
        world: impl Into<String>,
        scenario: impl Into<String>,
        recorded_at_unix_s: u64,
    ) -> Self {
        let latencies = report
            .latencies
            .iter()
            .filter(|(_, hist)| !hist.is_empty())
            .map(|(name, hist)| {
                let s = hist.summary();
                let percentiles = LatencyPercentiles {
                    p50_us: s.p50_us,
                    p99_us: s.p99_us,
                    max_us: s.max_us,
                };
                (name.clone(), percentiles)
            })
            .collect();
        Self {
            run_id: report.run_id.clone(),
            recorded_at_unix_s,
            command: command.into(),
            commit: report.commit.clone(),
            world: world.into(),
            scenario: scenario.into(),
            seeds: u64::try_from(report.seeds.len()).unwrap_or(u64::MAX),
            verdict: report.verdict().as_str().to_owned(),
            failures: u64::try_from(report.failures().count()).unwrap_or(u64::MAX),
            seeds_per_wall_min: report.wall.map(|w| w.seeds_per_wall_min()),
            wall_s: report.wall.map(|w| w.wall_s()),
            ops_per_busy_sim_s: report.throughput.ops_per_busy_sim_s(),
            latencies,
        }
    }

    /// True if the run did not pass.
    pub fn failed(&self) -> bool {
        self.verdict != Verdict::Pass.as_str() || self.failures > 0
    }

    /// The p99 of latency `name`, if the run recorded it.
    pub fn p99_us(&self, name: &str) -> Option<u64> {
        self.latencies.get(name).map(|l| l.p99_us)
    }

    /// The first float field that is NaN or infinite: JSON cannot carry one (serde_json would
    /// write `null`, and the row would not read back).
    pub(crate) fn non_finite_field(&self) -> Option<&'static str> {
        let fields = [
            ("seeds_per_wall_min", self.seeds_per_wall_min),
            ("wall_s", self.wall_s),
            ("ops_per_busy_sim_s", Some(self.ops_per_busy_sim_s)),
        ];
        fields
            .into_iter()
            .find(|(_, v)| v.is_some_and(|v| !v.is_finite()))
            .map(|(name, _)| name)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::names::{LATENCY_APPEND_ACK, LATENCY_FSYNC};
    use crate::outcome::ArenaOutcome;
    use crate::seeds::SeedSet;
    use crate::throughput::Throughput;

    #[test]
    fn a_row_carries_the_report_headline_numbers() {
        let mut report = Report::new("sweep-9", "0.1.0", "0123456789abcdef", "release");
        report.seeds = SeedSet::range(0..=59);
        for us in 1..=100 {
            report.record_latency(LATENCY_APPEND_ACK, us * 10);
        }
        report.latency_mut(LATENCY_FSYNC); // declared, never recorded: left out
        report.throughput = Throughput::new(2_000, 10_000_000).with_busy(1_000_000);
        report.add_outcome(ArenaOutcome {
            arena: "wal".into(),
            seed: Some(3),
            verdict: Verdict::LivenessFailure,
            message: "stuck".into(),
            reproduce: String::new(),
        });
        report.set_wall(Duration::from_secs(30));
        let row = HistoryRow::from_report(&report, "sweep", "turmoil", "default", 1_700_000_000);
        assert_eq!(row.run_id, "sweep-9");
        assert_eq!(row.commit, "0123456789abcdef");
        assert_eq!((row.seeds, row.failures), (60, 1));
        assert_eq!(row.verdict, "liveness_failure");
        assert!(row.failed());
        assert_eq!(row.seeds_per_wall_min, Some(120.0));
        assert_eq!(row.wall_s, Some(30.0));
        assert_eq!(row.ops_per_busy_sim_s, 2_000.0);
        assert_eq!(
            row.latencies.keys().collect::<Vec<_>>(),
            [LATENCY_APPEND_ACK]
        );
        assert_eq!(row.p99_us(LATENCY_APPEND_ACK), Some(990));
        assert_eq!(row.p99_us(LATENCY_FSYNC), None);
        assert_eq!(row.non_finite_field(), None);
    }

    #[test]
    fn an_old_row_without_optional_fields_reads() {
        let line = r#"{"run_id":"r","recorded_at_unix_s":1,"command":"run","commit":"c","seeds":1,"verdict":"pass","failures":0}"#;
        let row: HistoryRow = serde_json::from_str(line).unwrap();
        assert_eq!((row.world.as_str(), row.wall_s), ("", None));
        assert!(row.latencies.is_empty());
        assert!(!row.failed());
    }
}
