//! Invariant: an engine with nothing to do does nothing, and has made durable what it did.
//!
//! Once ingest has caught up and nothing is written or queried, the worker must have flushed
//! every batch it committed (an unflushed batch is work a crash throws away, and WAL segments
//! below it cannot be removed): the cursor the KV holds durably is the one it holds live. Query
//! audit records are not the worker's to flush, so pending batches alone prove nothing. The
//! engine must then make no call of the disk or the KV at all. A worker
//! that polls, or flushes in a loop when there is nothing new, gives every right answer while it
//! burns a production disk, so only this check sees it. Nor may the worker read the end of the
//! log again and again (`IngestStats::end_of_log_reads`): a wait that returns at once costs no
//! call of either, only a core.

use std::collections::BTreeMap;
use std::time::Duration;

use stemedb::Engine;

use crate::env::Env;
use crate::oracle::spec;
use crate::outcome::Failure;

/// How long the worker may take to finish the flush that catching up started.
const FLUSH_SETTLE_SIM_MS_MAX: u64 = 5_000;
/// A silence this long ends the worker's last step, if it is also longer than twice the longest
/// one call can take under the run's latency model (see `settled_silence_ms`): a call in flight
/// was counted as it began, so a silence shorter than the call says nothing (a slow device's
/// sync with a stall runs past half a second, and the worker's step goes on after it).
const SETTLED_SILENCE_SIM_MS: u64 = 50;
/// How long the engine must then stay silent: four times the worker's longest back-off
/// (`BACKOFF_MAX_DEFAULT`), so a retry loop shows.
const QUIET_SIM_MS: u64 = 2_000;

pub async fn check(env: &Env, engine: &Engine) -> Result<(), Failure> {
    let cursor = |map: BTreeMap<Vec<u8>, Vec<u8>>| map.get(spec::INGEST_CURSOR_KEY).cloned();
    let unflushed = || {
        let live = cursor(env.kv.live_snapshot());
        let durable = cursor(env.kv.durable_snapshot());
        (live != durable).then_some((live, durable))
    };
    for _ in 0..FLUSH_SETTLE_SIM_MS_MAX {
        if unflushed().is_none() {
            break;
        }
        stemedb_faults::time::sleep(Duration::from_millis(1)).await;
    }
    if let Some((live, durable)) = unflushed() {
        return Err(Failure::Liveness(format!(
            "ingest caught up and stayed idle for {FLUSH_SETTLE_SIM_MS_MAX} simulated ms, and the cursor it committed ({}) is still not flushed (durable: {})",
            show_cursor(live.as_deref()),
            show_cursor(durable.as_deref())
        )));
    }
    let calls = || {
        let kv = env.kv.stats();
        (
            env.disk.stats().ops,
            kv.gets + kv.scans + kv.batches + kv.flushes,
        )
    };
    // The flush that made the cursor durable is one step of the worker, and the step goes on
    // after it: segments wholly below the cursor are removed and their directory synced, calls
    // whose latency may run past the moment the KV became durable. Quiet is judged from the
    // first silence longer than any one call, never from inside that step.
    let settled_ms = settled_silence_ms(env);
    let mut last = calls();
    let mut silent_ms = 0;
    for _ in 0..FLUSH_SETTLE_SIM_MS_MAX {
        if silent_ms >= settled_ms {
            break;
        }
        stemedb_faults::time::sleep(Duration::from_millis(1)).await;
        let now = calls();
        silent_ms = if now == last { silent_ms + 1 } else { 0 };
        last = now;
    }
    if silent_ms < settled_ms {
        return Err(Failure::Liveness(format!(
            "ingest caught up and flushed, and in the {FLUSH_SETTLE_SIM_MS_MAX} simulated ms after it the engine never went {settled_ms} ms without a disk or KV call"
        )));
    }
    let before = calls();
    let polls_before = engine.ingest_stats().end_of_log_reads;
    stemedb_faults::time::sleep(Duration::from_millis(QUIET_SIM_MS)).await;
    let after = calls();
    let polls = engine.ingest_stats().end_of_log_reads - polls_before;
    if polls > 0 {
        return Err(Failure::Liveness(format!(
            "with nothing to do the ingest worker read the end of the log {polls} times in \
             {QUIET_SIM_MS} simulated ms (a worker polling instead of waiting for the log to grow)"
        )));
    }
    if after != before {
        return Err(Failure::Liveness(format!(
            "with nothing to do the engine made {} disk calls and {} KV calls in {QUIET_SIM_MS} simulated ms",
            after.0 - before.0,
            after.1 - before.1
        )));
    }
    Ok(())
}

/// How long a silence must last to end the worker's step (see `SETTLED_SILENCE_SIM_MS`).
fn settled_silence_ms(env: &Env) -> u64 {
    let call_ms_max = env
        .disk
        .latency_model()
        .map_or(0, |m| m.call_max().as_millis() as u64 + 1);
    SETTLED_SILENCE_SIM_MS.max(2 * call_ms_max)
}

fn show_cursor(value: Option<&[u8]>) -> String {
    match value.map(<[u8; 8]>::try_from) {
        Some(Ok(bytes)) => u64::from_be_bytes(bytes).to_string(),
        Some(Err(_)) => format!("{} malformed bytes", value.map_or(0, <[u8]>::len)),
        None => "none".to_string(),
    }
}
