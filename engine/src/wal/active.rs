//! The active (last) segment: writing a batch, rotating, and cutting a failed write back.
//!
//! Fault model, and the rule each case follows:
//! - A write may fail part-way (ENOSPC, EIO): the bytes after the last acknowledged record are
//!   cut back (`set_len` + `sync_data`) before anything else is written, so no garbage is ever left
//!   between valid records. If the cut-back itself fails, the tail is in an unknown state and the
//!   WAL fails closed.
//! - `sync_data` may fail, possibly having dropped the dirty pages: never retried, never assumed
//!   durable. The WAL fails closed (after a best-effort cut-back of the unacknowledged bytes, so
//!   the page cache and the disk agree again); reopening recovers from what is really on disk.
//! - A new segment's directory entry is lost in a crash unless the directory is synced, so
//!   rotation syncs the directory before the new segment receives its first record. A failed
//!   directory sync fails the WAL closed.
//! - A flush may be cancelled mid-way (its future dropped): `dirty` stays set and the next flush
//!   cuts the tail back first. A rotation cancelled after it created the new segment's file
//!   leaves `rotating` set, and the next flush rotates first, at the same base (the same name):
//!   it adopts that file rather than writing on in the old segment past the new one's base,
//!   which would leave an empty segment inside the log that no truncation removes.
//! - Every new segment gets a fresh salt (`salt.rs`), so frames written into an earlier segment
//!   at the same base, or into any other segment, never verify in it.
//! - The tail was lost below the ingest cursor (`recovery.rs`): `continue_at` holds the cursor,
//!   and the next batch starts a new segment there, never reusing an offset below it.
//!
//! `len` is always the durable, acknowledged length of the active segment.

use std::path::PathBuf;
use std::sync::Arc;

use super::error::{FailCause, WalError};
use super::salt::SaltSource;
use super::segment::SegmentName;
use crate::io::{is_storage_full, OpenMode, Vfs, VfsFile};

/// How a flush step failed.
#[derive(Debug)]
pub enum FlushError {
    /// The WAL must fail closed.
    Closed(FailCause),
    /// This batch failed; the WAL is still consistent and usable.
    Failed(WalError),
}

#[derive(Debug)]
pub struct ActiveLog {
    vfs: Arc<dyn Vfs>,
    dir: PathBuf,
    segment_bytes_max: u64,
    salts: SaltSource,
    /// Every live segment, ascending; the last is the active one.
    segments: Vec<SegmentName>,
    file: Box<dyn VfsFile>,
    segment: SegmentName,
    len: u64,
    /// The log continues here, in a segment not yet created (the tail was lost below the ingest
    /// cursor): the next batch rotates to it.
    continue_at: Option<u64>,
    /// Bytes past `len` may exist (a flush was cancelled after it started writing).
    dirty: bool,
    /// A rotation began and did not finish: the next segment's file may exist, empty.
    rotating: bool,
}

impl ActiveLog {
    #[expect(
        clippy::too_many_arguments,
        reason = "recovery hands over everything it established, once"
    )]
    pub fn new(
        vfs: Arc<dyn Vfs>,
        dir: PathBuf,
        segment_bytes_max: u64,
        salts: SaltSource,
        segments: Vec<SegmentName>,
        file: Box<dyn VfsFile>,
        len: u64,
        continue_at: Option<u64>,
    ) -> Self {
        let segment = segments
            .last()
            .copied()
            .unwrap_or(SegmentName { base: 0, salt: 0 });
        Self {
            vfs,
            dir,
            segment_bytes_max,
            salts,
            segments,
            file,
            segment,
            len,
            continue_at,
            dirty: false,
            rotating: false,
        }
    }

    /// The live segments (the active one included).
    pub fn segments_count(&self) -> usize {
        self.segments.len()
    }

    /// The global offset just past the last acknowledged record (where the next record goes).
    pub fn end_offset(&self) -> u64 {
        self.continue_at.unwrap_or(self.segment.base + self.len)
    }

    /// The salt of the segment the next batch is written into (after `rotate`, if planned).
    pub fn salt(&self) -> u64 {
        self.segment.salt
    }

    /// Whether a batch starting with a `first_bytes` record needs a fresh segment, and how many
    /// bytes the batch may then use.
    pub fn plan(&self, first_bytes: u64) -> (bool, u64) {
        let rotate = self.continue_at.is_some()
            || self.rotating
            || (self.len > 0 && self.len + first_bytes > self.segment_bytes_max);
        let used = if rotate { 0 } else { self.len };
        (rotate, self.segment_bytes_max.saturating_sub(used))
    }

    /// Segments wholly below `offset`, removed from the live list (never the active one).
    pub fn detach_below(&mut self, offset: u64) -> Vec<SegmentName> {
        let keep_from = self
            .segments
            .windows(2)
            .take_while(|pair| pair[1].base <= offset)
            .count();
        self.segments.drain(..keep_from).collect()
    }

    /// Puts back, at the front of the live list, detached segments whose removal failed.
    pub fn reattach(&mut self, segments: &[SegmentName]) {
        let below = self.segments.first().map_or(u64::MAX, |first| first.base);
        assert!(
            segments.windows(2).all(|pair| pair[0].base < pair[1].base)
                && segments.last().is_none_or(|last| last.base < below),
            "reattached segments must precede the live ones, in order"
        );
        self.segments.splice(0..0, segments.iter().copied());
    }

    fn path(&self) -> PathBuf {
        self.segment.path(&self.dir)
    }

    /// Cuts off anything a cancelled flush may have left past the acknowledged end.
    pub async fn repair(&mut self) -> Result<(), FailCause> {
        if self.dirty {
            crate::probe::hit(crate::probe::Probe::WalCancelledFlushCutBack);
            self.truncate_back().await?;
        }
        Ok(())
    }

    async fn truncate_back(&mut self) -> Result<(), FailCause> {
        let result = match self.file.set_len(self.len).await {
            Ok(()) => self.file.sync_data().await,
            Err(e) => Err(e),
        };
        result.map_err(|e| FailCause::TruncateBack {
            path: self.path(),
            source: Arc::new(e),
        })?;
        self.dirty = false;
        Ok(())
    }

    /// Starts a new segment at the current end and makes its directory entry durable.
    pub async fn rotate(&mut self) -> Result<(), FlushError> {
        let base = self.end_offset();
        let segment = SegmentName {
            base,
            salt: self.salts.salt_for(base),
        };
        let path = segment.path(&self.dir);
        let failed = |op, e| FlushError::Failed(WalError::io(op, &path, e));
        // Until this returns, the file may exist: whatever ends this call (an error, or a
        // caller that gives up and drops it), the next batch rotates here again first.
        self.rotating = true;
        let file = self
            .vfs
            .open(&path, OpenMode::Create)
            .await
            .map_err(|e| failed("open", e))?;
        // Only a rotation that failed before writing anything can have left this file behind.
        let existing = file.len().await.map_err(|e| failed("len", e))?;
        if existing != 0 {
            return Err(failed(
                "rotate",
                std::io::Error::other("a segment that should be new already holds data"),
            ));
        }
        self.vfs.sync_dir(&self.dir).await.map_err(|e| {
            FlushError::Closed(FailCause::SyncDir {
                path: self.dir.clone(),
                source: Arc::new(e),
            })
        })?;
        self.segments.push(segment);
        self.file = file;
        self.segment = segment;
        self.len = 0;
        self.continue_at = None;
        self.dirty = false;
        self.rotating = false;
        crate::probe::hit(crate::probe::Probe::WalSegmentRotated);
        tracing::debug!(base, "rotated to a new segment");
        Ok(())
    }

    /// Writes `bytes` (whole records) after the acknowledged end in one write and one sync.
    /// Returns the global offset of the first byte.
    pub async fn write_durably(&mut self, bytes: &[u8]) -> Result<u64, FlushError> {
        // 4 EiB of log cannot be written; reaching the bound means an offset was corrupted.
        assert!(
            self.end_offset().saturating_add(bytes.len() as u64) <= super::WAL_OFFSET_MAX,
            "a batch would take the log past WAL_OFFSET_MAX"
        );
        // The segment a batch goes into has a durable directory entry at the log's end: never a
        // segment a rotation left half made, never an old one below a lost tail's continuation.
        assert!(
            self.continue_at.is_none() && !self.rotating,
            "a batch is written only once its segment's rotation completed"
        );
        self.dirty = true;
        if let Err(e) = self.file.write_at(self.len, bytes).await {
            self.truncate_back().await.map_err(FlushError::Closed)?;
            let err = if is_storage_full(&e) {
                crate::probe::hit(crate::probe::Probe::WalStorageFullCutBack);
                WalError::StorageFull {
                    source: Arc::new(e),
                }
            } else {
                crate::probe::hit(crate::probe::Probe::WalWriteErrorCutBack);
                WalError::io("write", self.path(), e)
            };
            return Err(FlushError::Failed(err));
        }
        if let Err(e) = self.file.sync_data().await {
            // Failing closed regardless. The cut-back is not a retry: it claims nothing about
            // the batch, it only stops a reopen without a crash from reading the batch back out
            // of a page cache that no longer matches the disk (and acknowledging records on
            // top of bytes that were never durable).
            let _ = self.truncate_back().await;
            crate::probe::hit(crate::probe::Probe::WalFailedClosedOnSync);
            return Err(FlushError::Closed(FailCause::SyncData {
                path: self.path(),
                source: Arc::new(e),
            }));
        }
        let start = self.end_offset();
        self.len += bytes.len() as u64;
        self.dirty = false;
        Ok(start)
    }
}
