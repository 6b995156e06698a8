//! Invariant: a loss that recovery finds is on record before the engine serves, and the log
//! never hands an offset below the ingest cursor out again.
//!
//! Media damage can take acknowledged records that ingest already applied: WAL recovery then
//! finds the log ending below the cursor (`TailLost`) and continues it at the cursor. The KV
//! still holds what those records applied, but the log no longer backs it, so the engine must
//! leave a dead letter naming the lost range, durable before `open` returns (a KV crash right
//! after the open must not erase the only trace of the loss). Checked at every open, before the
//! engine's first await: the KV then holds exactly what the engine read at open.

use stemedb::Engine;

use crate::env::Env;
use crate::oracle::coverage::reason_ranges;
use crate::oracle::ingest;
use crate::oracle::spec;
use crate::outcome::Failure;

pub fn check(env: &Env, engine: &Engine) -> Result<(), Failure> {
    let cursor = env
        .kv
        .live_snapshot()
        .get(spec::INGEST_CURSOR_KEY)
        .map_or(0, |v| ingest::be_u64(v));
    let next_append = engine.durable_end();
    if next_append < cursor {
        return Err(Failure::Safety(format!(
            "after recovery the log's next append goes to offset {next_append}, below the ingest \
             cursor ({cursor}): an offset ingest already stepped over would be handed out again"
        )));
    }
    let Some(lost) = engine.recovery_report().tail_lost else {
        return Ok(());
    };
    if lost.to != cursor || lost.from >= lost.to {
        return Err(Failure::Safety(format!(
            "recovery reports the log lost over [{}, {}), which is not a range ending at the \
             ingest cursor ({cursor})",
            lost.from, lost.to
        )));
    }
    let durable = env.kv.durable_snapshot();
    let recorded = durable.iter().any(|(key, reason)| {
        spec::quarantine_offset(key).is_some()
            && reason_ranges(&String::from_utf8_lossy(reason))
                .iter()
                .any(|&(start, end)| start <= lost.from && end >= lost.to)
    });
    if !recorded {
        return Err(Failure::Safety(format!(
            "recovery found the log lost over [{}, {}) below the ingest cursor, and the open \
             returned without a durable dead letter naming that range",
            lost.from, lost.to
        )));
    }
    Ok(())
}
