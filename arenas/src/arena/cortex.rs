//! Cortex: queries (some through materialised views) while ingestion runs, on a node whose wall
//! clock is skewed, drifts and jumps. Every answer must equal the reference lens over what was
//! ingested when it was asked, within its staleness bound.

use stemedb_faults::FaultClass;

use super::{Arena, FaultClasses};
use crate::config::RunConfig;

/// Share of operations that are queries.
const QUERY_PCT: u8 = 35;

pub struct Cortex;

impl Arena for Cortex {
    fn shape(&self, c: &mut RunConfig) {
        c.query_pct = QUERY_PCT;
    }

    fn fault_classes(&self) -> FaultClasses {
        FaultClasses {
            allowed: vec![
                FaultClass::SlowIo,
                FaultClass::ClockSkew,
                FaultClass::ClockDrift,
                FaultClass::ClockJump,
            ],
            forced: vec![FaultClass::SlowIo],
        }
    }
}
