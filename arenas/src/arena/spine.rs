//! Spine: concurrent writers through group commit, ingest and the KV, with realistic latency and
//! no failing calls. Everything acknowledged must be ingested exactly once and converge in the
//! same process, counters included.

use stemedb_faults::FaultClass;

use super::{Arena, FaultClasses};
use crate::config::RunConfig;

pub struct Spine;

impl Arena for Spine {
    fn shape(&self, c: &mut RunConfig) {
        c.writers = 8;
        c.honest_voters = 3;
        c.troll_voters = 3;
    }

    fn fault_classes(&self) -> FaultClasses {
        FaultClasses {
            allowed: vec![FaultClass::SlowIo],
            forced: vec![FaultClass::SlowIo],
        }
    }

    fn measures_capacity(&self) -> bool {
        true
    }
}
