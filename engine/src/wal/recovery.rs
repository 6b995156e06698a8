//! Recovery on open: scan, tell a torn tail from mid-log corruption, quarantine, truncate.
//!
//! Fault model and the reasoning that decides each case:
//! - Only the last segment can have a torn tail. A segment gets a successor only after every
//!   record in it was synced, so an invalid range in a non-last segment is damage to synced data
//!   (bit rot, a misdirected write): it is quarantined up to the next valid record in that
//!   segment, or to the segment's end.
//! - In the last segment, at the first invalid position we look ahead at every 8-byte aligned
//!   position for a record whose length, crc32c and blake3 all verify. If one exists, the bytes
//!   before it are mid-log damage (bit rot, or a crash that kept later sectors of an unsynced
//!   write but not earlier ones): quarantined, and every valid record after it stays readable. If
//!   none exists, the bytes are a torn tail: cut off and synced, and new appends go there.
//! - What recovery read may itself be only in the page cache (after a process crash, not a power
//!   loss), so the last segment and the directory are synced before anything is acknowledged or
//!   handed to readers on top of it.
//! - A crash during recovery is harmless: every step is idempotent, and the quarantine list is
//!   replaced atomically. A second recovery of the same bytes finds nothing new.

use std::path::Path;
use std::sync::Arc;

use super::active::ActiveLog;
use super::error::{RecordDefect, WalError};
use super::quarantine::{self, skip_quarantined, QuarantinedRange};
use super::record::RECORD_ALIGN_BYTES;
use super::scan::{Probe, SegmentView};
use super::segment::{list_segments, locate, segment_path, segment_room_bytes};
use crate::io::{OpenMode, Vfs, VfsFile};

/// A torn tail that recovery cut off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// Global offset where the log now ends (new appends start here).
    pub offset: u64,
    pub bytes_truncated: u64,
    /// What was wrong with the first bytes cut; `None` if they were simply incomplete.
    pub defect: Option<RecordDefect>,
}

/// A damaged range that this recovery found and quarantined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarantined {
    pub range: QuarantinedRange,
    /// What was wrong with the first record in the range.
    pub defect: RecordDefect,
}

/// What recovery found and did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RecoveryReport {
    /// Where the scan started (the checkpoint, or the first segment's base).
    pub scanned_from: u64,
    /// The end of the valid log: the offset of the next append.
    pub end_offset: u64,
    /// Valid records seen from `scanned_from` to `end_offset`.
    pub records_valid: u64,
    /// Segment files in the WAL after recovery.
    pub segments: usize,
    /// The first segment was created (the WAL was empty).
    pub created: bool,
    /// The torn tail cut off by this recovery, if any.
    pub torn_tail: Option<TornTail>,
    /// Damage found by this recovery (new entries in the quarantine list).
    pub quarantined_new: Vec<Quarantined>,
    /// Every quarantined range on record after recovery, old and new, ascending.
    pub quarantined: Vec<QuarantinedRange>,
}

/// Runs recovery. `start` is the checkpoint to scan from (`None`: from the first segment).
pub async fn recover(
    vfs: &Arc<dyn Vfs>,
    dir: &Path,
    segment_bytes_max: u64,
    start: Option<u64>,
) -> Result<(ActiveLog, RecoveryReport), WalError> {
    let bases = list_segments(vfs.as_ref(), dir).await?;
    // The list is derivable from the log: if the medium damaged the list itself, forget it and
    // rescan the whole log, which finds every damaged range again. Refusing to open would turn
    // one flipped bit in metadata into a database that never starts again.
    let (mut quarantined, rebuild) = match quarantine::load(vfs.as_ref(), dir).await {
        Ok(ranges) => (ranges, false),
        Err(WalError::QuarantineCorrupt { path, reason }) => {
            tracing::warn!(path = %path.display(), reason, "quarantine list is damaged; rebuilding it from a full scan");
            (Vec::new(), true)
        }
        Err(e) => return Err(e),
    };
    let mut report = RecoveryReport::default();
    let Some(&first_base) = bases.first() else {
        if let Some(checkpoint) = start.filter(|&c| c > 0) {
            return Err(WalError::CheckpointBeyondEnd { checkpoint, end: 0 });
        }
        let active = create_first_segment(vfs, dir, segment_bytes_max).await?;
        report.created = true;
        report.segments = 1;
        report.quarantined = quarantined;
        return Ok((active, report));
    };
    let mut pos = if rebuild {
        first_base
    } else {
        start.unwrap_or(0).max(first_base)
    };
    report.scanned_from = pos;
    let first_index = locate(&bases, pos).unwrap_or(0);
    let last_index = bases.len() - 1;
    let mut active_file: Option<Box<dyn VfsFile>> = None;
    let mut active_len = 0;

    for (index, &base) in bases.iter().enumerate().skip(first_index) {
        let is_last = index == last_index;
        let path = segment_path(dir, base);
        let mode = if is_last {
            OpenMode::Write
        } else {
            OpenMode::Read
        };
        let file = vfs
            .open(&path, mode)
            .await
            .map_err(|e| WalError::io("open", &path, e))?;
        let room = segment_room_bytes(&bases, index);
        pos = pos.max(base);
        let mut view = SegmentView::new(file.as_ref(), &path, room).await?;
        let file_len = view.end();
        loop {
            pos = skip_quarantined(&quarantined, pos);
            let local = pos - base;
            if room.is_some_and(|room| local >= room) {
                break;
            }
            if is_last && local >= file_len {
                if local > file_len {
                    return Err(beyond_end(start, pos, base + file_len, dir));
                }
                break;
            }
            let defect = match view.probe(local).await? {
                Probe::Valid { framed_bytes } => {
                    report.records_valid += 1;
                    pos += framed_bytes;
                    continue;
                }
                Probe::Incomplete => None,
                Probe::Invalid(defect) => Some(defect),
            };
            let next = view.next_valid(local + RECORD_ALIGN_BYTES).await?;
            let resume = match (next, room) {
                (Some(next), _) => next,
                (None, Some(room)) => room,
                (None, None) => {
                    // Nothing valid follows in the last segment: a torn tail.
                    report.torn_tail = Some(TornTail {
                        offset: pos,
                        bytes_truncated: file_len - local,
                        defect,
                    });
                    active_len = local;
                    break;
                }
            };
            let range = QuarantinedRange {
                start: pos,
                end: base + resume,
            };
            tracing::warn!(
                start = range.start,
                end = range.end,
                ?defect,
                "quarantining damaged log range"
            );
            report.quarantined_new.push(Quarantined {
                range,
                defect: defect.unwrap_or(RecordDefect::Missing),
            });
            quarantined.push(range);
            quarantined.sort_unstable();
            pos = range.end;
        }
        drop(view);
        if is_last {
            if report.torn_tail.is_none() {
                active_len = pos - base;
            }
            active_file = Some(file);
        }
    }

    if rebuild || !report.quarantined_new.is_empty() {
        // Ranges below the first segment refer to bytes that no longer exist.
        quarantined.retain(|r| r.end > first_base);
        quarantine::store(vfs.as_ref(), dir, &quarantined).await?;
    }
    let last_base = bases[last_index];
    let last_path = segment_path(dir, last_base);
    let Some(file) = active_file else {
        return Err(WalError::io(
            "recover",
            &last_path,
            std::io::Error::other("the last segment was not opened"),
        ));
    };
    if let Some(torn) = &report.torn_tail {
        tracing::warn!(
            offset = torn.offset,
            bytes = torn.bytes_truncated,
            "truncating torn tail"
        );
        file.set_len(active_len)
            .await
            .map_err(|e| WalError::io("set_len", &last_path, e))?;
    }
    // Make what we just read durable before building on it (see the module comment).
    file.sync_data()
        .await
        .map_err(|e| WalError::io("sync_data", &last_path, e))?;
    vfs.sync_dir(dir)
        .await
        .map_err(|e| WalError::io("sync_dir", dir, e))?;
    report.end_offset = last_base + active_len;
    report.segments = bases.len();
    report.quarantined = quarantined;
    let active = ActiveLog::new(
        Arc::clone(vfs),
        dir.to_owned(),
        segment_bytes_max,
        bases,
        file,
        active_len,
    );
    Ok((active, report))
}

fn beyond_end(start: Option<u64>, pos: u64, end: u64, dir: &Path) -> WalError {
    match start {
        Some(checkpoint) if checkpoint == pos => WalError::CheckpointBeyondEnd { checkpoint, end },
        _ => WalError::QuarantineCorrupt {
            path: dir.join(quarantine::QUARANTINE_FILE_NAME),
            reason: "a range extends past the end of the log",
        },
    }
}

async fn create_first_segment(
    vfs: &Arc<dyn Vfs>,
    dir: &Path,
    segment_bytes_max: u64,
) -> Result<ActiveLog, WalError> {
    let path = segment_path(dir, 0);
    let file = vfs
        .open(&path, OpenMode::Create)
        .await
        .map_err(|e| WalError::io("open", &path, e))?;
    // The entry must be durable before any record in it is acknowledged.
    vfs.sync_dir(dir)
        .await
        .map_err(|e| WalError::io("sync_dir", dir, e))?;
    Ok(ActiveLog::new(
        Arc::clone(vfs),
        dir.to_owned(),
        segment_bytes_max,
        vec![0],
        file,
        0,
    ))
}
