//! The arenas: what a seed's run looks like, one file each. An arena says how a run is shaped
//! (its defaults over [`RunConfig::base`]), which fault classes its plans draw, how its workload
//! mixes operations and which checks it adds at the end. It never says what a run tolerates:
//! that follows from the events its plan injected ([`Excuses`]), so a shrunk plan with no
//! faults left excuses nothing, whichever arena it came from.
//!
//! A new arena is one file here and one line in the registry below.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use stemedb::Engine;
use stemedb_faults::{FaultClass, FaultPlan};

pub use crate::excuses::Excuses;

use crate::config::RunConfig;
use crate::env::Env;
use crate::outcome::Failure;

/// A check an arena adds once its run has converged (after the common ones).
pub type EndCheck =
    for<'a> fn(&'a Env, &'a Rc<Engine>) -> Pin<Box<dyn Future<Output = Result<(), Failure>> + 'a>>;

/// Which fault classes a plan may draw, and which it must.
pub struct FaultClasses {
    pub allowed: Vec<FaultClass>,
    pub forced: Vec<FaultClass>,
}

/// How the workload chooses its next operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mix {
    /// Assertions, votes, evidence, hostile and edge records and queries, by the config's rates.
    Mixed,
    /// Contested topics: each topic's honest and troll claims first, then every vote, shuffled.
    Topics,
}

/// One arena.
pub trait Arena: Sync {
    /// Sets this arena's defaults on a config that holds the common ones.
    fn shape(&self, config: &mut RunConfig);
    /// The fault classes its plans draw.
    fn fault_classes(&self) -> FaultClasses;
    /// Adjusts a plan the swarm generated for it (an explicit plan is run as given).
    fn tune_plan(&self, _plan: &mut FaultPlan) {}
    /// How its workload picks operations.
    fn mix(&self) -> Mix {
        Mix::Mixed
    }
    /// Checks of its own once a run has converged.
    fn end_checks(&self) -> &'static [EndCheck] {
        &[]
    }
}

/// The registry: `Variant = "name" => module::Type`, with the arena's one-line description as
/// a doc comment (it is the CLI's help). Declares the module, the `ArenaKind` variant that
/// configs, artifacts and the CLI name it by, and the lookup.
macro_rules! registry {
    ($( $(#[doc = $doc:literal])* $variant:ident = $name:literal => $module:ident :: $ty:ident, )*) => {
        $( mod $module; )*

        /// An arena by name: what configs, artifacts and the CLI carry.
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash,
            serde::Serialize, serde::Deserialize, clap::ValueEnum,
        )]
        pub enum ArenaKind {
            $(
                $(#[doc = $doc])*
                #[serde(rename = $name)]
                #[value(name = $name)]
                $variant,
            )*
        }

        impl ArenaKind {
            pub const ALL: [ArenaKind; [$($name),*].len()] = [$(ArenaKind::$variant),*];

            pub fn name(self) -> &'static str {
                match self {
                    $(ArenaKind::$variant => $name,)*
                }
            }

            pub fn arena(self) -> &'static dyn Arena {
                match self {
                    $(ArenaKind::$variant => &$module::$ty,)*
                }
            }
        }
    };
}

registry! {
    /// Concurrent writers -> WAL (group commit) -> ingest -> KV.
    Spine = "spine" => spine::Spine,
    /// Queries while ingestion runs, with clock skew.
    Cortex = "cortex" => cortex::Cortex,
    /// Honest and troll voters, repeats, concurrent votes.
    Voting = "voting" => voting::Voting,
    /// All of the above under the full fault model with crashes and restarts.
    Chaos = "chaos" => chaos::Chaos,
    /// Bursty writers on a slow device: ingest falls far behind, segments rotate and go while it lags.
    IngestLag = "ingest-lag" => ingest_lag::IngestLag,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_serde_and_the_cli() {
        use clap::ValueEnum;
        for kind in ArenaKind::ALL {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.name()));
            assert_eq!(serde_json::from_str::<ArenaKind>(&json).unwrap(), kind);
            assert_eq!(ArenaKind::from_str(kind.name(), false).unwrap(), kind);
        }
    }

    #[test]
    fn excuses_follow_the_plan_not_the_arena() {
        let chaos = RunConfig::new(ArenaKind::Chaos, 7, 200);
        assert!(Excuses::of(&chaos.plan()).failed_calls());
        let mut shrunk = chaos.plan();
        shrunk.disk.clear();
        shrunk.kv.clear();
        shrunk.crashes.clear();
        shrunk.drain.clear();
        assert!(
            !Excuses::of(&shrunk).any(),
            "a chaos plan with no faults left"
        );
        let cortex = RunConfig::new(ArenaKind::Cortex, 7, 200);
        assert!(
            !Excuses::of(&cortex.plan()).any(),
            "clock faults excuse nothing"
        );
    }
}
