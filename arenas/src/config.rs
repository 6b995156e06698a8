//! Everything that shapes one seed's run. A run is a pure function of its `RunConfig` (and the
//! code), so the config, printed in full, is what reproduces it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use stemedb_faults::{FaultClass, FaultPlan};

pub use crate::arena::kind::ArenaKind;

/// One seed's run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    pub arena: ArenaKind,
    pub seed: u64,
    /// Workload operations (records submitted plus queries).
    pub ops: u64,
    /// Concurrent writer tasks.
    pub writers: u32,
    /// Distinct subjects the workload writes about (fewer means more conflicts).
    pub subjects: u32,
    /// Honest and troll voters (voting and chaos).
    pub honest_voters: u32,
    pub troll_voters: u32,
    /// Percent of operations that are queries (cortex and chaos).
    pub query_pct: u8,
    /// Per mille of records that are hostile bytes (chaos): must be quarantined, never ingested.
    pub hostile_per_mille: u16,
    /// Per mille of records that are valid but exactly at a validation bound (see `adversary`).
    #[serde(default)]
    pub edge_per_mille: u16,
    /// Per mille of records that smuggle well-formed WAL frames of another signed record in
    /// their content (see `adversary::smuggler`); 0 in old artifacts.
    #[serde(default)]
    pub smuggle_per_mille: u16,
    /// Per mille of records stamped by a clock other than the engine's (see
    /// `workload::ForeignClock`): behind, ahead within and past the future tolerance, exactly at
    /// it, reset to the epoch. 0 in old artifacts, so they replay the same records.
    #[serde(default)]
    pub foreign_clock_per_mille: u16,
    /// WAL segment size: small, so rotation and truncation happen in every run.
    pub segment_bytes_max: u64,
    /// The engine's `flush_every_records` (KV flushes, and the WAL truncations after them),
    /// drawn per seed from [`FLUSH_EVERY_RECORDS_CHOICES`]: with the production default alone,
    /// a flush (and so a truncation) nearly always finds ingest caught up at the end of the log,
    /// and truncation below a cursor in the middle of the log, with later segments present, is
    /// never exercised. The production default in old artifacts.
    #[serde(default = "flush_every_records_default")]
    pub flush_every_records: u64,
    /// The engine's `ingest_batch_records_max`, drawn per seed from
    /// [`INGEST_BATCH_RECORDS_CHOICES`]: one record per KV batch and many both stay covered. 1 in
    /// old artifacts, which were recorded before ingest batched.
    #[serde(default = "ingest_batch_records_max_old")]
    pub ingest_batch_records_max: usize,
    /// Crash-restarts (chaos).
    pub crashes_min: u32,
    pub crashes_max: u32,
    /// Virtual time the liveness phase may take before the run is a liveness failure.
    pub liveness_budget_ms: u64,
    /// Traffic comes in bursts of about this many operations (all writers back to back), each
    /// followed by a quiet gap (see `gap_ms_mean`). Real clients pause; a run that never does
    /// covers only a second or two of virtual time, too little for clock faults, staleness
    /// windows and ingest catch-up to matter. 0 disables bursts (the default of old artifacts).
    #[serde(default)]
    pub burst_ops_mean: u64,
    /// Mean quiet gap between bursts, in virtual ms (drawn uniformly from 0 to twice this).
    #[serde(default)]
    pub gap_ms_mean: u64,
    /// Fault classes this run never draws, whatever its arena allows (a scenario's `faults_off`,
    /// `--faults-off`): to starve a fault-handling path on purpose, or to isolate one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults_off: Vec<FaultClass>,
    /// The fault plan; generated from the seed unless given (replay of an artifact, shrinking).
    pub plan: Option<FaultPlan>,
    /// A synthetic failure for testing the harness's own tools (shrink, replay): never set by a
    /// scenario, only by tests and hand-written artifacts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tripwire: Option<Tripwire>,
}

/// A planted failure that depends on both the workload and the fault plan, so shrinking has
/// operations and fault events to remove and a known minimum to reach: the run fails (a safety
/// verdict) at the first recovery after a power-loss crash that finds at least `acked_min`
/// acknowledged records in the log: the minimal failing run keeps one crash and about
/// `acked_min` operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tripwire {
    pub acked_min: u64,
}

/// The engine knob `flush_every_records` a seed may get: from a flush per record to the
/// production default (`stemedb::ingest::FLUSH_EVERY_RECORDS_DEFAULT`), drawn uniformly.
pub const FLUSH_EVERY_RECORDS_CHOICES: [u64; 4] = [1, 7, 32, 256];

fn flush_every_records_default() -> u64 {
    stemedb::ingest::FLUSH_EVERY_RECORDS_DEFAULT
}

/// The engine knob `ingest_batch_records_max` a seed may get: one record per batch (the shape
/// of every artifact recorded before batching), a few, and the production default.
pub const INGEST_BATCH_RECORDS_CHOICES: [usize; 3] =
    [1, 5, stemedb::ingest::BATCH_RECORDS_MAX_DEFAULT];

fn ingest_batch_records_max_old() -> usize {
    1
}

/// Records stamped by a foreign clock, per mille (about 100 in a 2000-operation run): enough
/// that every kind of foreign clock stamps some records of every kind in most runs.
pub const FOREIGN_CLOCK_PER_MILLE_DEFAULT: u16 = 50;

/// Records at a validation bound, per mille (about 20 in a 2000-operation run).
pub const EDGE_PER_MILLE_DEFAULT: u16 = 10;

/// Default traffic shape: bursts of ~64 operations, ~8 s apart, so a 2000-operation run covers
/// a few virtual minutes (ingest catches up between bursts; views age; clocks drift).
pub const BURST_OPS_MEAN_DEFAULT: u64 = 64;
pub const GAP_MS_MEAN_DEFAULT: u64 = 8_000;

/// Disk calls per workload operation, roughly: sizes the plan's horizon so crashes and faults
/// land inside the run rather than after it.
pub const DISK_OPS_PER_WORKLOAD_OP: u64 = 3;

/// Crashes land in the first 90% of the run so every one is followed by more work.
pub fn crashes_before_the_end(plan: &mut FaultPlan) {
    for c in &mut plan.crashes {
        c.at_op = c.at_op * 9 / 10;
    }
}

impl RunConfig {
    /// The defaults every arena starts from (an arena's `shape` changes some).
    pub fn base(arena: ArenaKind, seed: u64, ops: u64) -> Self {
        RunConfig {
            arena,
            seed,
            ops,
            writers: 4,
            subjects: 12,
            honest_voters: 0,
            troll_voters: 0,
            query_pct: 0,
            hostile_per_mille: 0,
            edge_per_mille: EDGE_PER_MILLE_DEFAULT,
            smuggle_per_mille: 0,
            foreign_clock_per_mille: FOREIGN_CLOCK_PER_MILLE_DEFAULT,
            segment_bytes_max: 64 * 1024,
            flush_every_records: {
                use rand::Rng;
                let mut knobs = stemedb_faults::rng::stream(seed, "engine-knobs");
                FLUSH_EVERY_RECORDS_CHOICES
                    [knobs.random_range(0..FLUSH_EVERY_RECORDS_CHOICES.len())]
            },
            ingest_batch_records_max: {
                use rand::Rng;
                let mut knobs = stemedb_faults::rng::stream(seed, "engine-knobs-ingest-batch");
                INGEST_BATCH_RECORDS_CHOICES
                    [knobs.random_range(0..INGEST_BATCH_RECORDS_CHOICES.len())]
            },
            crashes_min: 0,
            crashes_max: 0,
            liveness_budget_ms: 120_000,
            burst_ops_mean: BURST_OPS_MEAN_DEFAULT,
            gap_ms_mean: GAP_MS_MEAN_DEFAULT,
            plan: None,
            tripwire: None,
            faults_off: Vec::new(),
        }
    }

    /// Roughly how much virtual time the workload takes: its quiet gaps plus a couple of ms an
    /// operation. Sizes the window clock jumps fall in.
    pub fn expected_duration_ms(&self) -> u64 {
        const BUSY_MS_PER_OP: u64 = 2;
        let gaps = self
            .ops
            .checked_div(self.burst_ops_mean)
            .map_or(0, |bursts| bursts * self.gap_ms_mean);
        (gaps + self.ops * BUSY_MS_PER_OP).max(1)
    }

    /// Every option that shaped the run, for reports and the reproduce line.
    pub fn options(&self) -> BTreeMap<String, String> {
        let mut o = BTreeMap::new();
        o.insert("arena".into(), self.arena.name().into());
        o.insert("seed".into(), self.seed.to_string());
        o.insert("ops".into(), self.ops.to_string());
        o.insert("writers".into(), self.writers.to_string());
        o.insert("subjects".into(), self.subjects.to_string());
        o.insert("honest_voters".into(), self.honest_voters.to_string());
        o.insert("troll_voters".into(), self.troll_voters.to_string());
        o.insert("query_pct".into(), self.query_pct.to_string());
        o.insert(
            "hostile_per_mille".into(),
            self.hostile_per_mille.to_string(),
        );
        o.insert("edge_per_mille".into(), self.edge_per_mille.to_string());
        o.insert(
            "smuggle_per_mille".into(),
            self.smuggle_per_mille.to_string(),
        );
        o.insert(
            "foreign_clock_per_mille".into(),
            self.foreign_clock_per_mille.to_string(),
        );
        o.insert(
            "segment_bytes_max".into(),
            self.segment_bytes_max.to_string(),
        );
        o.insert(
            "flush_every_records".into(),
            self.flush_every_records.to_string(),
        );
        o.insert(
            "ingest_batch_records_max".into(),
            self.ingest_batch_records_max.to_string(),
        );
        o.insert(
            "crashes".into(),
            format!("{}..={}", self.crashes_min, self.crashes_max),
        );
        o.insert(
            "liveness_budget_ms".into(),
            self.liveness_budget_ms.to_string(),
        );
        o.insert("burst_ops_mean".into(), self.burst_ops_mean.to_string());
        o.insert("gap_ms_mean".into(), self.gap_ms_mean.to_string());
        if let Some(t) = self.tripwire {
            o.insert("tripwire_acked_min".into(), t.acked_min.to_string());
        }
        if !self.faults_off.is_empty() {
            // `+`, not `,`: merged reports join differing option values with commas.
            let off: Vec<&str> = self.faults_off.iter().map(|c| c.name()).collect();
            o.insert("faults_off".into(), off.join("+"));
        }
        o.insert(
            "plan".into(),
            if self.plan.is_some() {
                "explicit".into()
            } else {
                "generated".into()
            },
        );
        o
    }
}
