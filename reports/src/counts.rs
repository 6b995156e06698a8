//! `Counts`: named event tallies, kept in BTreeMaps so JSON output is ordered and deterministic.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Tallies of what happened in a run, keyed by name so new kinds need no schema change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Operations issued, by kind (`append`, `get`, `query`, ...).
    #[serde(default)]
    pub operations: BTreeMap<String, u64>,
    /// Faults injected, by class (`torn_write`, `fsync_lie`, `partition`, ...).
    #[serde(default)]
    pub faults: BTreeMap<String, u64>,
    /// Other events: see `names::EVENT_*` (crashes, recoveries, invariant checks).
    #[serde(default)]
    pub events: BTreeMap<String, u64>,
}

impl Counts {
    /// Adds `n` operations of `kind`.
    pub fn add_operation(&mut self, kind: &str, n: u64) {
        bump(&mut self.operations, kind, n);
    }

    /// Adds `n` faults of `class`.
    pub fn add_fault(&mut self, class: &str, n: u64) {
        bump(&mut self.faults, class, n);
    }

    /// Adds `n` to event `name`.
    pub fn add_event(&mut self, name: &str, n: u64) {
        bump(&mut self.events, name, n);
    }

    /// An event's count, 0 if never recorded.
    pub fn event(&self, name: &str) -> u64 {
        self.events.get(name).copied().unwrap_or(0)
    }

    /// Total operations of every kind.
    pub fn total_operations(&self) -> u64 {
        self.operations
            .values()
            .fold(0u64, |sum, n| sum.saturating_add(*n))
    }

    /// Total faults of every class.
    pub fn total_faults(&self) -> u64 {
        self.faults
            .values()
            .fold(0u64, |sum, n| sum.saturating_add(*n))
    }

    /// Adds every tally of `other` (the merge rule).
    pub fn add(&mut self, other: &Counts) {
        for (map, theirs) in [
            (&mut self.operations, &other.operations),
            (&mut self.faults, &other.faults),
            (&mut self.events, &other.events),
        ] {
            for (name, n) in theirs {
                bump(map, name, *n);
            }
        }
    }
}

/// Saturating, so a corrupt file with huge counts cannot make a merge panic.
fn bump(map: &mut BTreeMap<String, u64>, name: &str, n: u64) {
    match map.get_mut(name) {
        Some(count) => *count = count.saturating_add(n),
        None => {
            map.insert(name.to_owned(), n);
        }
    }
}
