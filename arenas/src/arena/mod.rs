//! The arenas: what a seed's run looks like, one file each. An arena says how a run is shaped
//! (its defaults over [`RunConfig::base`]), which fault classes its plans draw, how its workload
//! mixes operations and which checks it adds at the end. It never says what a run tolerates:
//! that follows from the events its plan injected ([`Excuses`]), so a shrunk plan with no
//! faults left excuses nothing, whichever arena it came from.
//!
//! A new arena is one file here and one line in the registry (`kind.rs`).

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use stemedb::Engine;
use stemedb_faults::{FaultClass, FaultPlan, PlanConfig};

pub use crate::excuses::Excuses;
pub use kind::ArenaKind;

pub mod kind;

use crate::config::{crashes_before_the_end, RunConfig, DISK_OPS_PER_WORKLOAD_OP};
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
    /// Whether its liveness phase measures the engine's closed-loop capacity first
    /// (`check::capacity`): in a fault-free arena, where nothing but the engine sets the pace.
    fn measures_capacity(&self) -> bool {
        false
    }
}

/// Declares each arena's module and the lookup from its name, from the registry in `kind.rs`.
macro_rules! declare_arenas {
    ($( $(#[doc = $doc:literal])* $variant:ident = $name:literal => $module:ident :: $ty:ident, )*) => {
        $( mod $module; )*

        impl ArenaKind {
            pub fn arena(self) -> &'static dyn Arena {
                match self {
                    $(ArenaKind::$variant => &$module::$ty,)*
                }
            }
        }
    };
}

kind::registry!(declare_arenas);

/// What an arena makes of a run: the config's shape and its fault plan (the config itself is
/// plain data, `config.rs`).
impl RunConfig {
    /// The default shape of `arena` at `ops` operations.
    pub fn new(arena: ArenaKind, seed: u64, ops: u64) -> Self {
        let mut c = Self::base(arena, seed, ops);
        arena.arena().shape(&mut c);
        c
    }

    /// The plan this run executes.
    pub fn plan(&self) -> FaultPlan {
        if let Some(plan) = &self.plan {
            return plan.clone();
        }
        let mut plan = FaultPlan::generate(self.seed, &self.plan_config());
        crashes_before_the_end(&mut plan);
        self.arena.arena().tune_plan(&mut plan);
        plan
    }

    /// The shape of the plans this run's arena gets: which classes, over which horizon.
    pub fn plan_config(&self) -> PlanConfig {
        let horizon = self.ops * DISK_OPS_PER_WORKLOAD_OP;
        let mut classes = self.arena.arena().fault_classes();
        classes.allowed.retain(|c| !self.faults_off.contains(c));
        classes.forced.retain(|c| !self.faults_off.contains(c));
        PlanConfig {
            op_horizon: horizon.max(1),
            duration_ms: self.expected_duration_ms(),
            crashes_min: self.crashes_min,
            crashes_max: self.crashes_max.max(self.crashes_min),
            events_per_class_max: 3,
            allowed: classes.allowed,
            forced: classes.forced,
            target_paths: Vec::new(),
        }
    }
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
