//! Chaos: every workload shape (hostile, edge, smuggling and foreign-clock records, votes and
//! queries) under the full fault model, with 3 to 5 crashes of either kind. What it may refuse
//! or lose follows from the plan's events (`Excuses`), like every arena's.

use stemedb_faults::FaultClass;

use super::{Arena, FaultClasses};
use crate::config::RunConfig;

/// Share of operations that are queries.
const QUERY_PCT: u8 = 10;
/// Hostile records, per mille: each must be quarantined, never ingested.
const HOSTILE_PER_MILLE: u16 = 20;
/// Records smuggling WAL frames, per mille (about 20 in a 2000-operation run): chaos is where
/// headers get damaged and recovery looks ahead.
const SMUGGLE_PER_MILLE: u16 = 10;
/// Crash-restarts per run, either kind.
const CRASHES_MIN: u32 = 3;
const CRASHES_MAX: u32 = 5;

pub struct Chaos;

impl Arena for Chaos {
    fn shape(&self, c: &mut RunConfig) {
        c.honest_voters = 4;
        c.troll_voters = 8;
        c.query_pct = QUERY_PCT;
        c.hostile_per_mille = HOSTILE_PER_MILLE;
        c.smuggle_per_mille = SMUGGLE_PER_MILLE;
        c.crashes_min = CRASHES_MIN;
        c.crashes_max = CRASHES_MAX;
    }

    fn fault_classes(&self) -> FaultClasses {
        FaultClasses {
            allowed: FaultClass::ALL.to_vec(),
            forced: vec![FaultClass::Crash, FaultClass::SlowIo],
        }
    }
}
