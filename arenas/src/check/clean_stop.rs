//! Invariant: a clean stop loses nothing, and the open after it finds nothing to repair.
//!
//! Once a fault-free process has converged, the host stops the engine with `Engine::shutdown`
//! (the worker stops after its batch in flight, the KV is flushed), cuts the power (every
//! unsynced write and every unflushed KV batch is lost), and opens the engine again in the same
//! process. Whatever the engine acknowledged or committed, the audit records of its queries
//! included, must have been made durable by the stop: the KV after the open equals the KV before
//! it, and WAL recovery finds the log ending where it ended, with no torn tail, no new damage and
//! no loss. A stop that leaves a batch in a cache, a WAL that syncs nothing on close, a worker
//! that outlives its engine: each shows here and nowhere else, because every other restart of
//! the simulator is a crash, after which losing such things is allowed.

use std::collections::BTreeMap;

use stemedb::Engine;

use crate::outcome::Failure;
use crate::sim::Env;

/// What the engine had made visible when it was asked to stop.
pub struct BeforeStop {
    kv: BTreeMap<Vec<u8>, Vec<u8>>,
    durable_end: u64,
}

pub fn before_stop(env: &Env, engine: &Engine) -> BeforeStop {
    BeforeStop {
        kv: env.kv.live_snapshot(),
        durable_end: engine.durable_end(),
    }
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
