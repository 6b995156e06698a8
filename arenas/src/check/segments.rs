//! Invariant: the log keeps its shape.
//!
//! - Bounded: no segment holds more than `segment_bytes_max` bytes, except one that holds a
//!   single record larger than a segment (unless media damage hides its first header), or one a
//!   misdirected write grew past its end (the bytes beyond the bound are ones it landed on, or the
//!   hole before them). Checked at every recovery and as the run
//!   ends.
//! - Reclaimed: once ingest has flushed a cursor to the KV, no segment the flush saw lying wholly
//!   below it remains for longer than the flush's own step (the worker removes them right after
//!   the flush, and a removal that failed is retried by the next flush). Checked once the log has drained with
//!   faults stopped, before any restart could hide a leak by listing the directory afresh.
//!
//! Neither property changes an answer, so no other oracle sees a WAL that never rotates (one file
//! grows without bound) or never removes what ingest applied (the disk fills).

use std::path::Path;
use std::time::Duration;

use stemedb::wal::record::Header;
use stemedb::wal::{segment_files, SegmentName};
use stemedb_faults::{DamageCause, MediaDamage};

use crate::env::Env;
use crate::oracle::ingest;
use crate::oracle::spec;
use crate::outcome::Failure;

/// How long after a flush the worker may take to remove what lies below it: the removals and
/// their directory sync are a few simulated calls, each a few ms at most.
const RECLAIM_SETTLE_SIM_MS_MAX: u64 = 5_000;
/// The damage cause of the bytes a misdirected write landed on (the simulated disk's name).
pub(crate) async fn segments(env: &Env) -> Result<Vec<SegmentName>, Failure> {
    let observer = env.disk.observer();
    Ok(segment_files(&observer, env.data_dir())
        .await
        .map_err(|e| Failure::Harness(format!("the oracle cannot list the log's segments: {e}")))?
        .into_iter()
        .map(|(name, _)| name)
        .collect())
}

/// Every segment fits `segment_bytes_max`, or holds one record alone.
pub async fn bounded(env: &Env) -> Result<(), Failure> {
    let max = env.shared.borrow().config.segment_bytes_max;
    let damage = env.disk.media_damage();
    for segment in segments(env).await? {
        let path = segment.path(env.data_dir());
        let Some(bytes) = env.disk.live_file(&path) else {
            continue;
        };
        let len = bytes.len() as u64;
        if len <= max {
            continue;
        }
        let single = Header::decode(&bytes).is_some_and(|h| h.framed_bytes() == len);
        // A first header the medium damaged cannot say whether its record fills the segment.
        let unreadable = damage
            .iter()
            .any(|d| d.path == path && d.start < stemedb::wal::RECORD_HEADER_BYTES as u64);
        if !single && !unreadable && !misdirected_past(&damage, &path, max, &bytes) {
            return Err(Failure::Safety(format!(
                "WAL segment at base {} holds {len} bytes, past segment_bytes_max {max}, and more \
                 than one record: the log did not rotate",
                segment.base
            )));
        }
    }
    Ok(())
}

/// Whether the bytes of `path` past `max` are the disk's doing: each one lies where a misdirected
/// write landed, or is zero (the hole a write landed beyond the end leaves). A write shifted past
/// a segment's end grows the file by itself, where the engine never wrote; every frame the engine
/// writes starts with a non-zero length and magic, so no run of its bytes reads as a hole.
fn misdirected_past(damage: &[MediaDamage], path: &Path, max: u64, bytes: &[u8]) -> bool {
    let landed: Vec<(u64, u64)> = damage
        .iter()
        .filter(|d| d.path == path && d.cause == DamageCause::MisdirectedWriteLanded)
        .map(|d| (d.start, d.start + d.len))
        .collect();
    if landed.iter().all(|&(_, end)| end <= max) {
        return false;
    }
    bytes
        .iter()
        .enumerate()
        .skip(max as usize)
        .all(|(at, byte)| {
            let at = at as u64;
            *byte == 0
                || landed
                    .iter()
                    .any(|&(start, end)| (start..end).contains(&at))
        })
}

/// The KV's durable cursor, and the segments that lie wholly below it and that the flush of that
/// cursor saw so: every one whose successor starts strictly below it. The worker read past the
/// successor's base before it flushed, so the successor existed at the flush. One whose
/// successor starts exactly at the cursor may have been the active segment then (a rotation
/// after the last flush, with nothing ingested since), and stays until the next flush.
async fn below_flushed(env: &Env) -> Result<(u64, Vec<u64>), Failure> {
    let cursor = env
        .kv
        .durable_snapshot()
        .get(spec::INGEST_CURSOR_KEY)
        .map_or(0, |v| ingest::be_u64(v));
    let list = segments(env).await?;
    let below = list
        .windows(2)
        .take_while(|pair| pair[1].base < cursor)
        .map(|pair| pair[0].base)
        .collect();
    Ok((cursor, below))
}

/// Waits, bounded, until no segment lies wholly below the cursor the KV holds durably.
pub async fn reclaimed(env: &Env, when: &str) -> Result<(), Failure> {
    for _ in 0..RECLAIM_SETTLE_SIM_MS_MAX {
        if below_flushed(env).await?.1.is_empty() {
            return Ok(());
        }
        stemedb_faults::time::sleep(Duration::from_millis(1)).await;
    }
    let (cursor, below) = below_flushed(env).await?;
    if below.is_empty() {
        return Ok(());
    }
    Err(Failure::Liveness(format!(
        "{when}, {} WAL segment(s) (bases {below:?}) still lie wholly below the ingest cursor the \
         KV holds durably ({cursor}) {RECLAIM_SETTLE_SIM_MS_MAX} simulated ms on: ingest applied \
         them and the log never removed them",
        below.len()
    )))
}
