//! Scenario files (TOML): named run shapes and seed sets, so CI and engineers run the same thing.
//! See `scenarios/README.md` for the format.

use std::ops::RangeInclusive;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::config::{ArenaKind, RunConfig};

/// A scenario file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// A name for reports.
    pub name: Option<String>,
    /// Arenas to run (default: all four).
    pub arenas: Option<Vec<ArenaKind>>,
    /// The seed of a single run (`run`).
    pub seed: Option<u64>,
    /// Seeds of a sweep, e.g. "1..=64".
    pub seeds: Option<String>,
    /// Seeds of a sweep for one arena, overriding `seeds` for it (a nightly sweep runs many
    /// more chaos seeds than seeds of the fault-free arenas).
    #[serde(default)]
    pub seeds_by_arena: std::collections::BTreeMap<ArenaKind, String>,
    /// Workload operations per run.
    pub ops: Option<u64>,
    /// Per-arena overrides.
    #[serde(default)]
    pub overrides: Overrides,
}

/// Knobs a scenario may override (any arena).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overrides {
    pub writers: Option<u32>,
    pub subjects: Option<u32>,
    pub honest_voters: Option<u32>,
    pub troll_voters: Option<u32>,
    pub query_pct: Option<u8>,
    pub hostile_per_mille: Option<u16>,
    pub edge_per_mille: Option<u16>,
    pub smuggle_per_mille: Option<u16>,
    pub foreign_clock_per_mille: Option<u16>,
    pub segment_bytes_max: Option<u64>,
    pub flush_every_records: Option<u64>,
    pub ingest_batch_records_max: Option<usize>,
    pub crashes_min: Option<u32>,
    pub crashes_max: Option<u32>,
    pub liveness_budget_ms: Option<u64>,
    pub burst_ops_mean: Option<u64>,
    pub gap_ms_mean: Option<u64>,
    /// Fault classes never drawn (snake_case names, e.g. `["enospc"]`).
    pub faults_off: Option<Vec<stemedb_faults::FaultClass>>,
}

/// A bad scenario file or seed range.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read scenario {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("scenario {path} is not valid: {source}")]
    Parse {
        path: String,
        source: Box<toml::de::Error>,
    },
    #[error("bad seeds {0:?}: expected comma-separated, non-overlapping N, A..B (exclusive) or A..=B (inclusive)")]
    Seeds(String),
}

/// The default run shape: the default scenario of `stemedb-sim run`.
pub const DEFAULT_OPS: u64 = 2_000;
pub const DEFAULT_SEED: u64 = 1;

impl Scenario {
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.display().to_string(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| ScenarioError::Parse {
            path: path.display().to_string(),
            source: Box::new(source),
        })
    }

    pub fn arenas(&self) -> Vec<ArenaKind> {
        self.arenas
            .clone()
            .unwrap_or_else(|| ArenaKind::ALL.to_vec())
    }

    /// The seeds a sweep runs for `arena`: its own set if the scenario names one, else `seeds`.
    pub fn seeds_for(&self, arena: ArenaKind) -> Option<&str> {
        self.seeds_by_arena
            .get(&arena)
            .or(self.seeds.as_ref())
            .map(String::as_str)
    }

    /// The run of `arena` at `seed` with this scenario's sizes and overrides.
    pub fn config(&self, arena: ArenaKind, seed: u64, ops: Option<u64>) -> RunConfig {
        let mut c = RunConfig::new(arena, seed, ops.or(self.ops).unwrap_or(DEFAULT_OPS));
        let o = &self.overrides;
        macro_rules! set {
            ($($field:ident),*) => { $( if let Some(v) = o.$field { c.$field = v; } )* };
        }
        set!(
            writers,
            subjects,
            honest_voters,
            troll_voters,
            query_pct,
            hostile_per_mille,
            edge_per_mille,
            smuggle_per_mille,
            foreign_clock_per_mille,
            segment_bytes_max,
            flush_every_records,
            ingest_batch_records_max,
            crashes_min,
            crashes_max,
            liveness_budget_ms,
            burst_ops_mean,
            gap_ms_mean
        );
        if let Some(off) = &o.faults_off {
            c.faults_off = off.clone();
        }
        c
    }
}

/// Seeds: comma-separated parts, each "7", "1..10" (exclusive) or "1..=10" (inclusive), run in
/// the order given (e.g. "1..=48, 1181": a range and one seed picked for what it reaches).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seeds(Vec<RangeInclusive<u64>>);

impl Seeds {
    /// The parts, in order; none empty, none overlapping another.
    pub fn ranges(&self) -> &[RangeInclusive<u64>] {
        &self.0
    }
}

impl IntoIterator for Seeds {
    type Item = u64;
    type IntoIter = std::iter::Flatten<std::vec::IntoIter<RangeInclusive<u64>>>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter().flatten()
    }
}

/// Parses [`Seeds`]. Overlapping parts are refused: a seed run twice would count twice.
pub fn parse_seeds(text: &str) -> Result<Seeds, ScenarioError> {
    let mut parts: Vec<RangeInclusive<u64>> = Vec::new();
    for part in text.split(',') {
        let range = parse_seed_range(part).map_err(|_| ScenarioError::Seeds(text.to_owned()))?;
        if parts
            .iter()
            .any(|p| p.start() <= range.end() && range.start() <= p.end())
        {
            return Err(ScenarioError::Seeds(text.to_owned()));
        }
        parts.push(range);
    }
    Ok(Seeds(parts))
}

/// Parses one part: "7", "1..10" (exclusive) or "1..=10" (inclusive).
fn parse_seed_range(text: &str) -> Result<RangeInclusive<u64>, ScenarioError> {
    let bad = || ScenarioError::Seeds(text.to_owned());
    let t = text.trim();
    if let Some((a, b)) = t.split_once("..=") {
        let (a, b) = (
            a.trim().parse().map_err(|_| bad())?,
            b.trim().parse().map_err(|_| bad())?,
        );
        return if a <= b { Ok(a..=b) } else { Err(bad()) };
    }
    if let Some((a, b)) = t.split_once("..") {
        let (a, b): (u64, u64) = (
            a.trim().parse().map_err(|_| bad())?,
            b.trim().parse().map_err(|_| bad())?,
        );
        return if a < b { Ok(a..=b - 1) } else { Err(bad()) };
    }
    let n = t.parse().map_err(|_| bad())?;
    Ok(n..=n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seeds(text: &str) -> Result<Vec<u64>, ScenarioError> {
        parse_seeds(text).map(|s| s.into_iter().collect())
    }

    #[test]
    fn seeds_are_ranges_and_single_seeds_in_the_order_given() {
        assert_eq!(seeds("3").unwrap(), vec![3]);
        assert_eq!(seeds("1..4").unwrap(), vec![1, 2, 3]);
        assert_eq!(seeds("1..=3, 1181").unwrap(), vec![1, 2, 3, 1181]);
        assert_eq!(seeds("9,2..=3").unwrap(), vec![9, 2, 3]);
    }

    #[test]
    fn bad_or_overlapping_seeds_are_typed_errors() {
        for bad in ["", "x", "5..5", "7..=3", "1..=10, 10", "1..=3,,4", "-1"] {
            assert!(
                matches!(parse_seeds(bad), Err(ScenarioError::Seeds(_))),
                "{bad:?}"
            );
        }
    }
}
