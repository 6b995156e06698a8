//! The run driver meets a corrupt KV report as the plan schedules it: the worker of the living
//! engine ends on it, the engine says why (`Engine::ingest_failure`), the writers stop, the
//! supervisor shuts the engine down (its shutdown must report the failure) and restarts it, and
//! the run still passes every end check. A KV EIO during ingest is retried and ends nothing.

use stemedb_arenas::config::{ArenaKind, RunConfig};
use stemedb_arenas::sim::{run_seed, SeedResult};
use stemedb_faults::{FaultClass, FaultPlan, KvFault, ScheduledKvFault};

const OPS: u64 = 300;
/// Past the first boot's open and some ingest: the fault lands while the writers run, on the
/// first `apply_batch` from this call on. That must be an ingest commit, not a query's audit
/// write (which fails the query instead), so the value depends on how many KV calls each part
/// makes: 150 served until queries stopped reading every candidate's assertion and counters.
const AT_CALL: u64 = 200;

fn run(classes: Vec<FaultClass>, fault: KvFault) -> SeedResult {
    let mut config = RunConfig::new(ArenaKind::Chaos, 13, OPS);
    // No queries, so no audit writes: the first batch applied after `AT_CALL` is ingest's,
    // however many records ingest puts in a batch.
    config.query_pct = 0;
    config.plan = Some(FaultPlan {
        classes,
        kv: vec![ScheduledKvFault {
            at_call: AT_CALL,
            fault,
        }],
        ..FaultPlan::none()
    });
    run_seed(&config)
}

#[test]
fn a_corrupt_report_during_ingest_is_a_supervised_stop_and_a_restart() {
    let result = run(vec![FaultClass::KvCorrupt], KvFault::ApplyCorrupt);
    assert_eq!(result.failure, None);
    let counts = &result.metrics.counts;
    assert_eq!(
        counts.faults.get("kv_corrupt"),
        Some(&1),
        "{:?}",
        counts.faults
    );
    assert_eq!(
        counts.event("supervised_stops"),
        1,
        "the engine whose ingest stopped was shut down once"
    );
}

#[test]
fn a_kv_eio_during_ingest_is_retried_and_stops_nothing() {
    let result = run(vec![FaultClass::KvEio], KvFault::ApplyEio);
    assert_eq!(result.failure, None);
    let counts = &result.metrics.counts;
    assert_eq!(counts.faults.get("kv_eio"), Some(&1), "{:?}", counts.faults);
    assert_eq!(counts.event("supervised_stops"), 0);
}
