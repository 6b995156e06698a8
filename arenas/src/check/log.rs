//! The log after every recovery and at the end: no acknowledged record lost, nothing invented,
//! duplicated or changed, nothing refused definitely ever present, segments removed only below
//! the cursor the KV holds.

use std::sync::Arc;

use stemedb::io::Clock;
use stemedb::wal::{ReadOutcome, WalReader};

use super::{frames, segments};
use crate::env::Env;
use crate::oracle::ingest::{self};
use crate::oracle::spec;
use crate::outcome::Failure;

/// The disk's media damage, as global log ranges (damage outside WAL segments is ignored here:
/// the KV and the quarantine list are checked by their own means).
pub(crate) fn refresh_damage(env: &Env) {
    let dir = env.data_dir();
    let global = |d: &stemedb_faults::MediaDamage| {
        if d.path.parent() != Some(dir) {
            return None;
        }
        let name = d.path.file_name()?.to_str()?;
        let base = stemedb::wal::parse_segment_name(name)?.base;
        Some(base + d.start)
    };
    let damage = env.disk.media_damage();
    let ranges: Vec<(u64, u64)> = damage
        .iter()
        .filter_map(|d| global(d).map(|start| (start, start + d.len)))
        .collect();
    // A misdirected write's bytes exist where they landed, but every v3 frame names its own
    // offset, so the records they carry must never be read (or applied) there: no allowance.
    let mut s = env.shared.borrow_mut();
    if s.trace && s.oracle.damage != ranges {
        eprintln!("media damage (global log ranges): {ranges:?}");
        for line in env.disk.fault_log() {
            eprintln!("  disk fault: {line}");
        }
    }
    s.oracle.damage = ranges;
}

/// Reads the whole log through an observer view of the disk (uncounted, fault-free).
pub(crate) async fn scan_log(env: &Env) -> Result<(Vec<(u64, Vec<u8>)>, u64), Failure> {
    let observer: Arc<dyn stemedb::io::Vfs> = Arc::new(env.disk.observer());
    let mut reader = WalReader::open(observer, env.data_dir())
        .await
        .map_err(|e| Failure::Harness(format!("the oracle cannot open the log: {e}")))?;
    let first = reader
        .first_offset()
        .await
        .map_err(|e| Failure::Harness(format!("the oracle cannot find the log's start: {e}")))?;
    let mut records = Vec::new();
    let mut offset = first;
    loop {
        match reader.read_at(offset).await {
            Ok(ReadOutcome::Record(r)) => {
                offset = r.next_offset;
                records.push((r.offset, r.payload));
            }
            Ok(ReadOutcome::EndOfLog) => break,
            Err(stemedb::wal::WalError::Corrupt {
                offset: at,
                next_valid,
                defect,
            }) => {
                // Damaged bytes the WAL's recovery did not scan (it starts at the ingest cursor)
                // are excused only where media damage struck; skip to the next record the WAL
                // found, else the next one the oracle knows.
                let s = env.shared.borrow();
                let next =
                    next_valid.or_else(|| s.oracle.known().range(at + 1..).next().map(|(o, _)| *o));
                // The damaged record's own frame may reach past `next` (a misdirected frame can
                // land inside it and look valid).
                let own_end = s
                    .oracle
                    .known()
                    .get(&at)
                    .map_or(at + 1, |p| at + crate::oracle::log::frame_bytes(p.len()));
                let end = next.map_or(own_end, |n| n.max(own_end));
                // Or `at` lies inside a record whose frame was damaged (a misplaced frame ended
                // in the middle of it).
                let containing_damaged = s.oracle.inside_damaged_frame(at);
                if !s.oracle.damaged(at, end) && !containing_damaged {
                    return Err(Failure::Safety(format!(
                        "after recovery the log is unreadable at offset {at} ({defect:?}, next valid {next_valid:?}), and no media fault touched it"
                    )));
                }
                drop(s);
                let now = env.clock.monotonic();
                env.shared.borrow_mut().event(
                    now,
                    &format!("oracle skips media damage at {at}: {defect:?}"),
                );
                match next {
                    Some(n) => offset = n,
                    None => break,
                }
            }
            Err(e) => {
                return Err(Failure::Safety(format!(
                    "after recovery the log is unreadable at offset {offset}: {e}"
                )))
            }
        }
    }
    Ok((records, first))
}

/// The whole log, read back, against the log oracle.
pub(crate) async fn check_log(env: &Env) -> Result<(), Failure> {
    refresh_damage(env);
    let (scan, first) = scan_log(env).await?;
    truncated_only_below_the_cursor(env).await?;
    segments::bounded(env).await?;
    {
        let mut s = env.shared.borrow_mut();
        s.oracle.check_recovered(&scan, first)?;
        s.metrics.check(scan.len() as u64 + 1);
    }
    frames::check(env)
}

/// The WAL may drop a segment only once it lies wholly below a cursor the KV holds durably
/// (ingest flushes, then truncates): whatever a crash reverts, the KV's cursor never falls below
/// the base of the log's first segment. A log that starts above the cursor lost records ingest
/// never applied, and the log oracle cannot see it alone: it takes the log's start as the
/// truncation point. The start is the first segment's base, not the reader's first offset, which
/// also skips a quarantined range at the front (damage, excused record by record elsewhere).
/// Checked at every recovery, when a removal too eager and a crash reverting the cursor meet.
pub(crate) async fn truncated_only_below_the_cursor(env: &Env) -> Result<(), Failure> {
    let observer = env.disk.observer();
    let segments = stemedb::wal::segment_files(&observer, env.data_dir())
        .await
        .map_err(|e| Failure::Harness(format!("the oracle cannot list the log's segments: {e}")))?;
    let Some(log_base) = segments.first().map(|(name, _)| name.base) else {
        return Ok(());
    };
    let cursor = env
        .kv
        .live_snapshot()
        .get(spec::INGEST_CURSOR_KEY)
        .map_or(0, |v| ingest::be_u64(v));
    if log_base > cursor {
        let s = env.shared.borrow();
        let lost = s.oracle.acked_in(cursor..log_base);
        return Err(Failure::Safety(format!(
            "the log's first segment now starts at offset {log_base}, above the ingest cursor \
             the KV holds ({cursor}): segments were removed before ingest applied them, taking \
             {lost} acknowledged record(s)"
        )));
    }
    Ok(())
}

pub async fn after_recovery(env: &Env) -> Result<(), Failure> {
    check_log(env).await?;
    let s = env.shared.borrow();
    if let Some(t) = s.config.tripwire {
        let acked = s.oracle.acked_count() as u64;
        let crashes = s
            .metrics
            .counts
            .event(stemedb_reports::names::EVENT_CRASHES);
        if crashes > 0 && acked >= t.acked_min {
            return Err(Failure::Safety(format!(
                "tripwire: a recovery after a crash found {acked} acknowledged records (at least {})",
                t.acked_min
            )));
        }
    }
    Ok(())
}
