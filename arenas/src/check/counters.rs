//! Invariant: in a process that ingested the whole log and met no fault, the engine's ingest and
//! query counters equal what happened (the truths are in `oracle::counters`). Checked once that
//! process has converged, over the queries its workload made.

use std::collections::BTreeSet;

use stemedb::query::QueryEngine;
use stemedb::Engine;

use crate::env::Env;
use crate::oracle::counters::{self, IngestTruth, QueryTruth};
use crate::oracle::ingest;
use crate::outcome::Failure;

/// Whether this run is one process that met no fault of the disk or the KV: the only runs whose
/// counters have an exact truth. Decided from what happened, not from the arena's name.
fn fault_free_single_process(env: &Env) -> bool {
    let disk = env.disk.stats();
    let kv = env.kv.stats();
    env.shared.borrow().boots == 1
        && disk.faults.is_empty()
        && disk.crashes == 0
        && disk.process_kills == 0
        && kv.errors == 0
        && kv.crashes == 0
}

/// How the first `workload_queries` recorded queries were answered.
pub fn query_truth(env: &Env, workload_queries: usize) -> QueryTruth {
    let s = env.shared.borrow();
    let mut truth = QueryTruth::default();
    for q in s.queries.iter().take(workload_queries) {
        if q.materialized {
            truth.materializations += 1;
            truth.failed += u64::from(q.failed);
            continue;
        }
        truth.queries += 1;
        if q.failed {
            truth.failed += 1;
        } else if q.used_view {
            truth.view_answers += 1;
        }
    }
    truth
}

/// How long the worker may take to finish the flush (and the truncation after it) that catching
/// up started: the KV and the disk count a call when it begins, the worker when it succeeds.
const SETTLE_SIM_MS_MAX: u64 = 5_000;

/// KV flushes that are not the worker's in a single-process run: `Engine::open` flushes the store
/// once before its worker starts, so that the cursor it read is durable before anything trusts
/// it (chaos seed 184720).
const OPEN_FLUSHES: u64 = 1;

/// The KV's flushes that the worker made.
fn worker_flushes(env: &Env) -> u64 {
    env.kv.stats().flushes.saturating_sub(OPEN_FLUSHES)
}

/// `queries` is the query engine the workload used and `truth` how its queries were answered.
pub async fn check(
    env: &Env,
    engine: &Engine,
    queries: &QueryEngine,
    truth: &QueryTruth,
) -> Result<(), Failure> {
    if !fault_free_single_process(env) {
        return Ok(());
    }
    counters::check_queries(truth, &queries.stats()).map_err(Failure::Safety)?;
    let settled = || {
        let got = engine.ingest_stats();
        got.flushes == worker_flushes(env) && got.segments_truncated == env.disk.stats().removes
    };
    for _ in 0..SETTLE_SIM_MS_MAX {
        if settled() {
            break;
        }
        stemedb_faults::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    let entries = env.shared.borrow().oracle.entries();
    let s = env.shared.borrow();
    let replay = ingest::replay(&entries, &BTreeSet::new(), &|p| s.oracle.accept(p));
    let truth = IngestTruth::new(&replay, worker_flushes(env), env.disk.stats().removes);
    let got = engine.ingest_stats();
    counters::check_ingest(&truth, &got).map_err(Failure::Safety)?;
    let commits = replay.applied + replay.quarantined.len() as u64;
    counters::check_flush_cadence(commits, s.config.flush_every_records, &got)
        .map_err(Failure::Safety)?;
    Ok(())
}
