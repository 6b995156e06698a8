//! Recovery on open: scan, tell a torn tail from mid-log corruption, quarantine, truncate, and
//! never let the log end below the ingest cursor.
//!
//! Fault model and the reasoning that decides each case:
//! - Only the last segment can have a torn tail. A segment gets a successor only after every
//!   record in it was synced, so an invalid range in a non-last segment is damage to synced data
//!   (bit rot, a misdirected write): it is quarantined up to the next valid record in that
//!   segment, or to the segment's end.
//! - In the last segment, at the first invalid position we look ahead at every 8-byte aligned
//!   position for a record whose length, checksums, salt and offset all verify. If one exists, the
//!   bytes before it are mid-log damage (bit rot, or a crash that kept later sectors of an
//!   unsynced write but not earlier ones): quarantined, and every valid record after it stays
//!   readable. If none exists, the bytes are a torn tail: cut off and synced, and new appends go
//!   there. Because a frame verifies only at the offset it was written for and under its
//!   segment's salt, a frame inside a damaged record's payload, a misdirected frame and a frame
//!   of another segment are never taken for "the next valid record".
//! - A read may be wrong once (a transient bad read): no cut and no quarantine is decided before
//!   the bytes were read again and every read agreed (`scan.rs`, `REREADS_BEFORE_VERDICT`).
//! - The tail lost below the cursor. `start` is the ingest cursor: every offset below it was
//!   handed out and ingested. Media damage can destroy that tail (the last segment's bytes end,
//!   or stop verifying, below the cursor). Recovery then never cuts below the cursor and never
//!   lets an append reuse an offset below it: the log continues at the cursor (the next append
//!   starts a new segment whose base is the cursor; cursors are record boundaries, so 8-aligned),
//!   and the report carries [`TailLost`]. Nothing below the cursor is cut; bytes above it are a
//!   torn tail (nothing valid follows the damage) and are cut at the cursor. Every open reports
//!   the loss again until the log moves past the cursor, so a crash before the engine recorded it
//!   finds it again: a file shorter than the cursor is simply found short again; bytes that reach
//!   the cursor but no longer verify (found by a full rescan) are remembered as a quarantined
//!   range ending at the cursor, since a scan from the cursor would not see them. Once the new
//!   segment exists, the damaged bytes are bounded by it and read as damage below the cursor,
//!   which ingest never reads again.
//! - What recovery read may itself be only in the page cache (after a process crash, not a power
//!   loss), so the last segment and the directory are synced before anything is acknowledged or
//!   handed to readers on top of it.
//! - What the page cache shows may never reach the disk at all: a failed fsync marks the pages it
//!   covered clean whether or not they were written, and they stay readable. The WAL cuts a
//!   failed batch back before failing closed, but a process that dies before that cut leaves the
//!   batch readable to the next one, and a sync cannot make clean pages durable. So the last
//!   segment is synced (what is dirty becomes durable) and its cache evicted before the scan:
//!   recovery reads what the medium holds, and builds on nothing a power loss can take away.
//! - A crash during recovery is harmless: every step is idempotent, and the quarantine list is
//!   replaced atomically. A second recovery of the same bytes finds nothing new.

use std::path::Path;
use std::sync::Arc;

use super::active::ActiveLog;
use super::error::{RecordDefect, WalError};
use super::quarantine::{self, skip_quarantined, QuarantinedRange};
use super::salt::SaltSource;
use super::scan::{Probe, SegmentView, Verdict};
use super::segment::{list_segments, locate, segment_room_bytes, SegmentName};
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

/// Acknowledged log below the recovery start (the ingest cursor) that is gone: the valid log ends
/// at `from`, below `to`, the recovery start. The log continues at `to`; no offset in
/// `[from, to)` is ever handed out again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TailLost {
    pub from: u64,
    pub to: u64,
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
    /// Where the scan started (the checkpoint, or a segment's base when the checkpoint lay past
    /// the log's bytes, or the first segment's base).
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
    /// The log ends below the recovery start (see [`TailLost`]); reported by every recovery
    /// until the next append starts the segment at `to`.
    pub tail_lost: Option<TailLost>,
    /// Damage found by this recovery (new entries in the quarantine list).
    pub quarantined_new: Vec<Quarantined>,
    /// Every quarantined range on record after recovery, old and new, ascending.
    pub quarantined: Vec<QuarantinedRange>,
}

/// Runs recovery. `start` is the checkpoint to scan from (`None`: from the first segment); no
/// append will ever get an offset below it.
pub async fn recover(
    vfs: &Arc<dyn Vfs>,
    dir: &Path,
    segment_bytes_max: u64,
    start: Option<u64>,
    salts: SaltSource,
) -> Result<(ActiveLog, RecoveryReport), WalError> {
    let mut segments = list_segments(vfs.as_ref(), dir).await?;
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
    let floor = start.unwrap_or(0);
    let mut report = RecoveryReport::default();
    if segments.is_empty() {
        segments.push(create_first_segment(vfs, dir, &salts).await?);
        report.created = true;
    }
    let first_base = segments[0].base;
    let mut pos = if rebuild {
        first_base
    } else {
        floor.max(first_base)
    };
    report.scanned_from = pos;
    let first_index = locate(&segments, pos).unwrap_or(0);
    let last_index = segments.len() - 1;
    let mut active_file: Option<Box<dyn VfsFile>> = None;
    let mut active_len = 0;
    // Where the valid log ends, if the last segment's scan stopped short of its bytes' end.
    let mut valid_end: Option<u64> = None;
    // A lost range below the cursor was added to the quarantine list.
    let mut marker_added = false;

    for (index, &segment) in segments.iter().enumerate().skip(first_index) {
        let is_last = index == last_index;
        let base = segment.base;
        let path = segment.path(dir);
        let mode = if is_last {
            OpenMode::Write
        } else {
            OpenMode::Read
        };
        let file = vfs
            .open(&path, mode)
            .await
            .map_err(|e| WalError::io("open", &path, e))?;
        if is_last {
            // Read the medium, not the page cache: see the module comment on failed fsyncs.
            file.sync_data()
                .await
                .map_err(|e| WalError::io("sync_data", &path, e))?;
            file.evict_cache()
                .await
                .map_err(|e| WalError::io("evict_cache", &path, e))?;
        }
        let room = segment_room_bytes(&segments, index);
        pos = pos.max(base);
        let mut view = SegmentView::new(file.as_ref(), &path, segment, room).await?;
        let file_len = view.end();
        let mut rescanned = false;
        let mut torn: Option<(u64, Option<RecordDefect>)> = None;
        loop {
            let unskipped = pos;
            pos = skip_quarantined(&quarantined, pos);
            let local = pos - base;
            if room.is_some_and(|room| local >= room) {
                break;
            }
            if is_last && local >= file_len {
                if local > file_len {
                    if !rescanned {
                        // The scan start lies past the log's bytes: find where the valid log
                        // really ends by scanning this segment from its base.
                        rescanned = true;
                        pos = base;
                        report.scanned_from = base;
                        continue;
                    }
                    // A quarantined range runs past the bytes: the log ends where it starts.
                    valid_end = Some(unskipped);
                }
                break;
            }
            let probe = view.probe(local).await?;
            let verdict = match probe {
                Probe::Valid { framed_bytes } => Verdict::Valid { framed_bytes },
                other => view.judge_damage(local, other).await?,
            };
            let (defect, next) = match verdict {
                Verdict::Valid { framed_bytes } => {
                    report.records_valid += 1;
                    pos += framed_bytes;
                    continue;
                }
                Verdict::Damaged { defect, next_valid } => (defect, next_valid),
            };
            let resume = match (next, room) {
                (Some(next), _) => next,
                (None, Some(room)) => room,
                (None, None) => {
                    // Nothing valid follows in the last segment: a torn tail.
                    torn = Some((pos, defect));
                    valid_end = Some(pos);
                    break;
                }
            };
            let range = QuarantinedRange {
                start: pos,
                end: base + resume,
            };
            crate::probe::hit(crate::probe::Probe::WalMidLogQuarantined);
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
            let end = valid_end.unwrap_or(pos);
            if end < floor {
                // Leave the damaged bytes where they are: they lie below the cursor, and the
                // next segment will start at the cursor (see the module comment).
                report.tail_lost = Some(TailLost {
                    from: end,
                    to: floor,
                });
                active_len = file_len;
                if base + file_len > floor {
                    // The look-ahead found no valid record after `end`, so the bytes at and above
                    // the cursor are a torn tail: cut them, so that the segment ends exactly at
                    // the cursor, as every later open (which scans from the cursor) finds it.
                    // Left in place, the next open would cut them itself and a second recovery
                    // of the same bytes would change them.
                    report.torn_tail = Some(TornTail {
                        offset: floor,
                        bytes_truncated: base + file_len - floor,
                        defect: torn.and_then(|(_, defect)| defect),
                    });
                    active_len = floor - base;
                }
                if base + file_len >= floor {
                    // The bytes up to the cursor exist but are no log any more. A later open
                    // scans from the cursor and would see nothing wrong: remember the range as
                    // damage, so that open still reports the loss until the log moves on.
                    let marker = QuarantinedRange {
                        start: end,
                        end: floor,
                    };
                    if !quarantined.contains(&marker) {
                        quarantined.push(marker);
                        quarantined.sort_unstable();
                        marker_added = true;
                    }
                }
            } else if let Some((offset, defect)) = torn {
                report.torn_tail = Some(TornTail {
                    offset,
                    bytes_truncated: file_len - (offset - base),
                    defect,
                });
                active_len = offset - base;
            } else if valid_end.is_some() {
                return Err(WalError::QuarantineCorrupt {
                    path: dir.join(quarantine::QUARANTINE_FILE_NAME),
                    reason: "a range extends past the end of the log",
                });
            } else {
                active_len = pos - base;
            }
            if report.tail_lost.is_none() && base + active_len == floor && floor > base {
                // The loss found by an earlier open, whose log has not moved on since.
                report.tail_lost = quarantined
                    .iter()
                    .find(|r| r.end == floor && r.start >= base)
                    .map(|r| TailLost {
                        from: r.start,
                        to: floor,
                    });
            }
            active_file = Some(file);
        }
    }

    if rebuild || marker_added || !report.quarantined_new.is_empty() {
        // Ranges below the first segment refer to bytes that no longer exist.
        quarantined.retain(|r| r.end > first_base);
        quarantine::store(vfs.as_ref(), dir, &quarantined).await?;
    }
    let last = segments[last_index];
    let last_path = last.path(dir);
    let Some(file) = active_file else {
        return Err(WalError::io(
            "recover",
            &last_path,
            std::io::Error::other("the last segment was not opened"),
        ));
    };
    if let Some(torn) = &report.torn_tail {
        crate::probe::hit(crate::probe::Probe::WalTornTailTruncated);
        tracing::warn!(
            offset = torn.offset,
            bytes = torn.bytes_truncated,
            "truncating torn tail"
        );
        file.set_len(active_len)
            .await
            .map_err(|e| WalError::io("set_len", &last_path, e))?;
    }
    if let Some(lost) = &report.tail_lost {
        crate::probe::hit(crate::probe::Probe::WalTailLostBelowCursor);
        tracing::error!(
            from = lost.from,
            to = lost.to,
            "acknowledged log below the ingest cursor is lost; the log continues at the cursor"
        );
    }
    // Make what we just read durable before building on it (see the module comment).
    file.sync_data()
        .await
        .map_err(|e| WalError::io("sync_data", &last_path, e))?;
    vfs.sync_dir(dir)
        .await
        .map_err(|e| WalError::io("sync_dir", dir, e))?;
    // Only a loss found now leaves the active segment's bytes short of the cursor; one found
    // again through its marker already ends exactly at the cursor.
    let continue_at = report
        .tail_lost
        .map(|lost| lost.to)
        .filter(|&to| to != last.base + active_len);
    report.end_offset = continue_at.unwrap_or(last.base + active_len);
    report.segments = segments.len();
    report.quarantined = quarantined;
    let active = ActiveLog::new(
        Arc::clone(vfs),
        dir.to_owned(),
        segment_bytes_max,
        salts,
        segments,
        file,
        active_len,
        continue_at,
    );
    Ok((active, report))
}

async fn create_first_segment(
    vfs: &Arc<dyn Vfs>,
    dir: &Path,
    salts: &SaltSource,
) -> Result<SegmentName, WalError> {
    let segment = SegmentName {
        base: 0,
        salt: salts.salt_for(0),
    };
    let path = segment.path(dir);
    vfs.open(&path, OpenMode::Create)
        .await
        .map_err(|e| WalError::io("open", &path, e))?;
    // The entry must be durable before any record in it is acknowledged.
    vfs.sync_dir(dir)
        .await
        .map_err(|e| WalError::io("sync_dir", dir, e))?;
    Ok(segment)
}
