//! Invariant: a clean stop is prompt, loses nothing, and the open after it finds nothing to
//! repair.
//!
//! Once a fault-free process has converged, the host writes a backlog (`backlog_records`, all
//! submitted at once so group commit syncs them together, acknowledged before the worker can ingest it) and at once stops the
//! engine with `Engine::shutdown`. The worker must stop after the batch in flight (at most the
//! run's `ingest_batch_records_max` records, and no record it reads after the stop) and leave the
//! rest for the next open: a shutdown that first drains its
//! backlog takes as long as the backlog, which in production is the time a supervisor allows
//! before it kills the process, and a stop request that the worker reads only when it is idle
//! never stops a busy one. Then the KV is flushed; the host cuts the power (every
//! unsynced write and every unflushed KV batch is lost), and opens the engine again in the same
//! process. Whatever the engine acknowledged or committed, the audit records of its queries
//! included, must have been made durable by the stop: the KV after the open equals the KV before
//! it, and WAL recovery finds the log ending where it ended, with no torn tail, no new damage and
//! no loss. A stop that leaves a batch in a cache, a WAL that syncs nothing on close, a worker
//! that outlives its engine: each shows here and nowhere else, because every other restart of
//! the simulator is a crash, after which losing such things is allowed.

use std::collections::BTreeMap;
use std::rc::Rc;

use stemedb::model::Agent;
use stemedb::Engine;

use crate::env::Env;
use crate::oracle::spec;
use crate::outcome::Failure;

/// Records of the backlog written just before the stop, at least: never fewer than two ingest
/// batches' worth (`backlog_records`), so a worker that drains the backlog before it stops cannot
/// hide inside the batch it may finish.
const STOP_BACKLOG_RECORDS: u64 = 32;

/// The backlog for this run: `STOP_BACKLOG_RECORDS`, or two full ingest batches if more.
fn backlog_records(env: &Env) -> u64 {
    let batch = env.shared.borrow().config.ingest_batch_records_max.max(1) as u64;
    STOP_BACKLOG_RECORDS.max(2 * batch)
}

/// Writes the backlog, every record at once (they share one group-commit sync), and returns
/// their offsets once all are acknowledged.
pub async fn write_backlog(env: &Env, engine: &Rc<Engine>) -> Result<Vec<u64>, Failure> {
    let (seed, boots) = {
        let s = env.shared.borrow();
        (s.config.seed, s.boots)
    };
    let agent = Agent::derived(seed, super::STOP_BACKLOG_AGENT);
    let mut tasks = Vec::new();
    for i in 0..backlog_records(env) {
        let (record, payload) = super::harness_assertion(
            env,
            &agent,
            format!("stop-backlog-{boots}-{i}"),
            "written_before",
            "a clean stop",
        )?;
        let engine = Rc::clone(engine);
        tasks.push(tokio::task::spawn_local(async move {
            (engine.submit(&record).await, payload)
        }));
    }
    let mut offsets = Vec::new();
    for task in tasks {
        let (result, payload) = task
            .await
            .map_err(|e| Failure::Safety(format!("a backlog submit panicked: {e}")))?;
        let offset = result.map_err(|e| {
            Failure::Safety(format!(
                "a fault-free engine refused the backlog before a clean stop: {e}"
            ))
        })?;
        env.shared.borrow_mut().oracle.acked(offset, &payload)?;
        offsets.push(offset);
    }
    Ok(offsets)
}

/// What the engine had made visible when it was asked to stop, and what it did after.
pub struct BeforeStop {
    kv: BTreeMap<Vec<u8>, Vec<u8>>,
    durable_end: u64,
}

/// Shuts `engine` down with `backlog` (its offsets) not yet ingested, and checks that the
/// worker stopped promptly. Returns what the stop left, for `after_reopen`.
pub async fn shutdown(env: &Env, engine: Engine, backlog: &[u64]) -> Result<BeforeStop, Failure> {
    let durable_end = engine.durable_end();
    // Read in the same poll as the stop request that `shutdown` sends before its first await.
    let cursor_at_stop = engine.ingest_cursor();
    if let Err(e) = engine.shutdown().await {
        return Err(Failure::Safety(format!(
            "a clean shutdown of a converged engine that met no fault failed: {e}"
        )));
    }
    let kv = env.kv.live_snapshot();
    let cursor_after = kv
        .get(spec::INGEST_CURSOR_KEY)
        .and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok())
        .map_or(0, u64::from_be_bytes);
    let pending = backlog.iter().filter(|&&o| o >= cursor_at_stop).count();
    let ingested = backlog
        .iter()
        .filter(|&&o| o >= cursor_at_stop && o < cursor_after)
        .count();
    {
        let mut s = env.shared.borrow_mut();
        s.metrics
            .counts
            .add_event("stop_backlog_records", pending as u64);
    }
    // Records the worker may still ingest once asked to stop: the batch in flight.
    let in_flight_max = env.shared.borrow().config.ingest_batch_records_max.max(1);
    if ingested > in_flight_max {
        return Err(Failure::Safety(format!(
            "asked to stop with {pending} acknowledged records not yet ingested, the worker went on to ingest {ingested} of them (cursor {cursor_at_stop} -> {cursor_after}) before it stopped; it may finish only the batch in flight (at most {in_flight_max} records)"
        )));
    }
    Ok(BeforeStop { kv, durable_end })
}

/// Checked right after the reopen, before its first await (the new worker has not run).
pub fn after_reopen(env: &Env, engine: &Engine, before: &BeforeStop) -> Result<(), Failure> {
    let report = engine.recovery_report();
    let mut wrong = Vec::new();
    if report.end_offset != before.durable_end {
        wrong.push(format!(
            "the log now ends at {} (it ended at {})",
            report.end_offset, before.durable_end
        ));
    }
    if let Some(torn) = &report.torn_tail {
        wrong.push(format!("a torn tail at {torn:?}"));
    }
    if !report.quarantined_new.is_empty() {
        wrong.push(format!(
            "{} newly quarantined range(s)",
            report.quarantined_new.len()
        ));
    }
    if let Some(lost) = report.tail_lost {
        wrong.push(format!("log lost over [{}, {})", lost.from, lost.to));
    }
    let kv = env.kv.live_snapshot();
    if kv != before.kv {
        let lost = before.kv.keys().filter(|k| !kv.contains_key(*k)).count();
        let changed = before
            .kv
            .iter()
            .filter(|(k, v)| kv.get(*k).is_some_and(|now| now != *v))
            .count();
        let added = kv.keys().filter(|k| !before.kv.contains_key(*k)).count();
        wrong.push(format!(
            "the KV lost {lost} key(s), changed {changed} and gained {added}"
        ));
    }
    if wrong.is_empty() {
        return Ok(());
    }
    Err(Failure::Safety(format!(
        "after a clean shutdown and a power loss, the reopened engine found: {}",
        wrong.join("; ")
    )))
}
