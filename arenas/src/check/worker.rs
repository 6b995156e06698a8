//! Invariant: what the engine says about its ingest worker is true, and an engine leaves no
//! worker behind it.
//!
//! The worker's cursor channel closes exactly when its task ends, so the channel is the
//! harness's own witness of whether the worker lives, independent of the handle's bookkeeping:
//! - at every cursor change and when the channel closes, `Engine::ingest_running` agrees with
//!   it (an engine that reports a dead worker alive hides a stopped ingest from its operator; one
//!   that reports a live worker dead invites a second one);
//! - an engine dropped without `shutdown` (a panic unwinding, a caller that forgot) stops its
//!   worker within `DROP_SETTLE_SIM_MS_MAX`: in a long-lived runtime a worker that outlives its
//!   engine keeps ingesting into a KV someone else may already have opened.
//!
//! A crash in the simulation drops the whole host runtime, tasks included, so only a drop inside
//! a living runtime (the clean stop's last step) shows the second.

use std::time::Duration;

use stemedb::Engine;
use tokio::sync::watch;

use crate::outcome::Failure;

/// How long a dropped engine's worker may take to end (it is cancelled at its next poll).
const DROP_SETTLE_SIM_MS_MAX: u64 = 1_000;

/// Whether the worker behind `cursor` still lives (its sender is not dropped).
pub fn alive(cursor: &watch::Receiver<u64>) -> bool {
    cursor.has_changed().is_ok()
}

/// The engine's report on its worker equals the channel's witness.
pub fn status(engine: &Engine, cursor: &watch::Receiver<u64>) -> Result<(), Failure> {
    let (said, alive) = (engine.ingest_running(), alive(cursor));
    if said != alive {
        return Err(Failure::Safety(format!(
            "the engine reports its ingest worker {} while the worker {}",
            if said { "running" } else { "finished" },
            if alive {
                "still runs (its cursor channel is open)"
            } else {
                "has ended (its cursor channel closed)"
            }
        )));
    }
    Ok(())
}

/// Drops `engine` without a shutdown and waits for its worker to end.
pub async fn dropped(engine: Engine) -> Result<(), Failure> {
    let mut cursor = engine.subscribe_cursor();
    drop(engine);
    // `changed` fails once the worker's sender is gone, that is once its task has ended.
    let ended = async { while cursor.changed().await.is_ok() {} };
    if stemedb_faults::time::timeout(Duration::from_millis(DROP_SETTLE_SIM_MS_MAX), ended)
        .await
        .is_some()
    {
        return Ok(());
    }
    Err(Failure::Liveness(format!(
        "an engine dropped without shutdown left its ingest worker running for \
         {DROP_SETTLE_SIM_MS_MAX} simulated ms"
    )))
}
