//! Voting: contested topics, a few honest voters against many trolls, repeated and concurrent
//! votes. Counted weights must equal the replay of the log, and where the honest side outweighs
//! the trolls the consensus query must name the honest claim (`check::topics`).

use stemedb_faults::FaultClass;

use super::{Arena, EndCheck, FaultClasses, Mix};
use crate::config::RunConfig;

pub struct Voting;

impl Arena for Voting {
    fn shape(&self, c: &mut RunConfig) {
        // Its oracle needs every topic claim accepted, and its votes are signed in one queue up
        // front; foreign clocks are judged in the other arenas.
        c.foreign_clock_per_mille = 0;
        c.honest_voters = 6;
        c.troll_voters = 24;
        c.subjects = 4;
    }

    fn fault_classes(&self) -> FaultClasses {
        FaultClasses {
            allowed: vec![FaultClass::SlowIo],
            forced: vec![FaultClass::SlowIo],
        }
    }

    fn mix(&self) -> Mix {
        Mix::Topics
    }

    fn end_checks(&self) -> &'static [EndCheck] {
        &[|env, engine| Box::pin(crate::check::topics::check(env, engine))]
    }
}
