//! `Report`: everything one run (or a merge of shard runs) produced, as plain data.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Deserialize;

use crate::capacity::Capacity;
use crate::counts::Counts;
use crate::error::ReportError;
use crate::fingerprint::Fingerprint;
use crate::histogram::LatencyHistogram;
use crate::outcome::{ArenaOutcome, Verdict};
use crate::seeds::SeedSet;
use crate::throughput::Throughput;
use crate::wall::WallClock;

/// A simulation report. Serialized with [`Report::to_json_pretty`] (schema-versioned) and read
/// back with [`Report::from_json`]; everything but `wall` is deterministic for a given seed set,
/// options and commit, and [`Report::deterministic_json`] is the form to compare bit for bit.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Report {
    /// Ties logs, artifacts and this report together. It is part of the deterministic form, so
    /// callers comparing two processes give both the same id (or derive it from seed and
    /// options).
    pub run_id: String,
    /// Version of the tool that produced the report.
    pub tool_version: String,
    /// Source commit of the build under test.
    pub commit: String,
    /// Cargo profile of that build (`dev`, `release`, ...).
    pub build_profile: String,
    /// Arenas exercised.
    #[serde(default)]
    pub arenas: BTreeSet<String>,
    /// Seeds covered.
    #[serde(default)]
    pub seeds: SeedSet,
    /// Every option that shaped the run, as given on the command line or resolved from defaults.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// Per-arena (or per-seed) outcomes, in the order they were reported (sorted by
    /// [`Report::canonicalize`], which [`Report::merge`] applies).
    #[serde(default)]
    pub outcomes: Vec<ArenaOutcome>,
    /// Latencies in simulated microseconds, by name (see `names::LATENCY_*`).
    #[serde(default)]
    pub latencies: BTreeMap<String, LatencyHistogram>,
    /// Operations over simulated time.
    #[serde(default)]
    pub throughput: Throughput,
    /// Closed-loop capacity by writer count: ops per simulated second and acknowledgement
    /// latency at each concurrency measured (absent before schema 1.2).
    #[serde(default)]
    pub capacity: BTreeMap<u32, Capacity>,
    /// Operations by kind, faults by class, and other events.
    #[serde(default)]
    pub counts: Counts,
    /// Fault-path probes (FoundationDB-style code probes): how often each declared
    /// fault-handling path ran. The caller inserts every declared probe, 0 for those that never
    /// fired, so a path no seed reached shows up (see [`Report::starved_probes`]). Absent before
    /// schema 1.2.
    #[serde(default)]
    pub probes: BTreeMap<String, u64>,
    /// Caller-supplied digests; one per seed or shard, gathered by merge (sorted by scope, then
    /// hex, by [`Report::canonicalize`]).
    #[serde(default)]
    pub fingerprints: Vec<Fingerprint>,
    /// Real-time speed. Not deterministic: excluded from [`Report::deterministic_json`].
    #[serde(default)]
    pub wall: Option<WallClock>,
}

impl Report {
    /// An empty report for one run of `commit` built with `build_profile`.
    pub fn new(
        run_id: impl Into<String>,
        tool_version: impl Into<String>,
        commit: impl Into<String>,
        build_profile: impl Into<String>,
    ) -> Self {
        Self {
            run_id: run_id.into(),
            tool_version: tool_version.into(),
            commit: commit.into(),
            build_profile: build_profile.into(),
            arenas: BTreeSet::new(),
            seeds: SeedSet::new(),
            options: BTreeMap::new(),
            outcomes: Vec::new(),
            latencies: BTreeMap::new(),
            throughput: Throughput::default(),
            capacity: BTreeMap::new(),
            counts: Counts::default(),
            probes: BTreeMap::new(),
            fingerprints: Vec::new(),
            wall: None,
        }
    }

    /// The histogram for latency `name`, created empty on first use.
    pub fn latency_mut(&mut self, name: &str) -> &mut LatencyHistogram {
        self.latencies.entry(name.to_owned()).or_default()
    }

    /// Records one latency of `name`, in simulated microseconds.
    pub fn record_latency(&mut self, name: &str, latency_us: u64) {
        self.latency_mut(name).record(latency_us);
    }

    /// The histogram for latency `name`, if any was recorded.
    pub fn latency(&self, name: &str) -> Option<&LatencyHistogram> {
        self.latencies.get(name)
    }

    /// Appends an outcome and notes its arena.
    pub fn add_outcome(&mut self, outcome: ArenaOutcome) {
        self.arenas.insert(outcome.arena.clone());
        self.outcomes.push(outcome);
    }

    /// Appends a fingerprint, checking its hex form.
    pub fn add_fingerprint(
        &mut self,
        scope: impl Into<String>,
        hex: impl Into<String>,
    ) -> Result<(), ReportError> {
        self.fingerprints.push(Fingerprint::new(scope, hex)?);
        Ok(())
    }

    /// Records the wall-clock time the run took, with the report's current throughput and seed
    /// count; call it once the simulated numbers are final.
    pub fn set_wall(&mut self, wall: Duration) {
        let seeds = u64::try_from(self.seeds.len()).unwrap_or(u64::MAX);
        self.wall = Some(WallClock::new(
            wall,
            self.throughput.ops(),
            self.throughput.sim_duration_us(),
            seeds,
        ));
    }

    /// Adds the physical-limit twin to the wall-clock section (see [`WallClock::with_twin`]);
    /// call it after [`Report::set_wall`].
    pub fn set_twin(&mut self, workers: u64, twin: Duration) {
        self.wall = self.wall.map(|w| w.with_twin(workers, twin));
    }

    /// The most severe verdict among the outcomes (see [`Verdict::severity`]); `Pass` when there
    /// are none.
    pub fn verdict(&self) -> Verdict {
        self.outcomes
            .iter()
            .map(|o| o.verdict)
            .max_by_key(|v| v.severity())
            .unwrap_or(Verdict::Pass)
    }

    /// The exit code for the whole report: that of [`Report::verdict`].
    pub fn exit_code(&self) -> i32 {
        self.verdict().exit_code()
    }

    /// Outcomes that did not pass, in report order.
    pub fn failures(&self) -> impl Iterator<Item = &ArenaOutcome> {
        self.outcomes.iter().filter(|o| o.verdict.is_failure())
    }

    /// How many outcomes have each verdict (only verdicts that occur).
    pub fn verdict_counts(&self) -> BTreeMap<&'static str, u64> {
        let mut counts = BTreeMap::new();
        for outcome in &self.outcomes {
            *counts.entry(outcome.verdict.as_str()).or_insert(0) += 1;
        }
        counts
    }

    /// Checks the invariants serde cannot: normalized seed ranges, well-formed fingerprints,
    /// capacity entries keyed by their own writer count.
    pub fn validate(&self) -> Result<(), ReportError> {
        if !self.seeds.is_normalized() {
            return Err(ReportError::InvalidField {
                field: "seeds",
                reason:
                    "ranges must be sorted, with first <= last, neither overlapping nor adjacent"
                        .to_owned(),
            });
        }
        for fingerprint in &self.fingerprints {
            fingerprint.validate()?;
        }
        for (&writers, capacity) in &self.capacity {
            if capacity.writers != writers {
                return Err(ReportError::InvalidField {
                    field: "capacity",
                    reason: format!(
                        "entry keyed {writers} writers says it measured {} writers",
                        capacity.writers
                    ),
                });
            }
        }
        Ok(())
    }
}
