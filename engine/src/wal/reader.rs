//! Readers: read the record at an offset, telling a valid record, the end of the log, an I/O
//! error and corruption apart.
//!
//! Fault model: a reader runs beside a live writer (or a crashed one not yet recovered), so it
//! sees the log's tail in every state: not yet written, half written, torn by a crash, or rotated
//! into a segment created after the reader opened. Ingest tails the log with this, and must never
//! mistake an I/O error for the end of the log or a damaged record for a valid one:
//! - `Ok(ReadOutcome::EndOfLog)`: no complete valid record at that offset yet. Bound to the
//!   writer's [`DurableEnd`], this is exactly "offset >= durable end"; unbound, it also covers a
//!   torn or in-progress tail (invalid bytes in the last segment with nothing valid after them).
//! - `Err(WalError::Io { .. })`: the disk failed; retry later.
//! - `Err(WalError::Corrupt { .. })`: invalid bytes where a record must be (below the durable end,
//!   in a non-last segment, or followed by a valid record) and not quarantined by recovery.
//!
//! Quarantined ranges (damage recorded by recovery) are skipped: the record returned may start
//! after the requested offset, and says where.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::durable::DurableEnd;
use super::error::{RecordDefect, WalError};
use super::quarantine::{self, skip_quarantined, QuarantinedRange};
use super::record::RECORD_ALIGN_BYTES;
use super::scan::{fetch_record, Fetched, SegmentView};
use super::segment::{list_segments, locate, segment_path, segment_room_bytes};
use crate::io::{OpenMode, Vfs, VfsFile};

/// A valid record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalRecord {
    /// Where the record starts (after any quarantined range that was skipped).
    pub offset: u64,
    pub payload: Vec<u8>,
    /// Where the next record starts.
    pub next_offset: u64,
}

/// The result of a read that did not fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadOutcome {
    Record(WalRecord),
    /// No complete valid record at this offset yet.
    EndOfLog,
}

/// Reads records by offset. Opened independently of the writer; any number may exist.
#[derive(Debug)]
pub struct WalReader {
    vfs: Arc<dyn Vfs>,
    dir: PathBuf,
    bases: Vec<u64>,
    quarantined: Vec<QuarantinedRange>,
    open_segment: Option<(u64, Box<dyn VfsFile>)>,
    bound: Option<DurableEnd>,
}

impl WalReader {
    /// Opens a reader on the WAL in `dir`.
    #[tracing::instrument(skip(vfs), fields(dir = %dir.display()))]
    pub async fn open(vfs: Arc<dyn Vfs>, dir: &Path) -> Result<WalReader, WalError> {
        let mut reader = WalReader {
            vfs,
            dir: dir.to_owned(),
            bases: Vec::new(),
            quarantined: Vec::new(),
            open_segment: None,
            bound: None,
        };
        reader.refresh().await?;
        Ok(reader)
    }

    /// Never returns a record at or past the writer's durable end (records that a crash could
    /// still take away). Use this for anything that applies records to durable state.
    pub fn bounded_by(mut self, durable_end: DurableEnd) -> WalReader {
        self.bound = Some(durable_end);
        self
    }

    /// The offset of the first record still in the log (segments below may have been removed).
    pub async fn first_offset(&mut self) -> Result<u64, WalError> {
        self.refresh().await?;
        Ok(skip_quarantined(
            &self.quarantined,
            self.bases.first().copied().unwrap_or(0),
        ))
    }

    async fn refresh(&mut self) -> Result<(), WalError> {
        self.bases = list_segments(self.vfs.as_ref(), &self.dir).await?;
        self.quarantined = quarantine::load(self.vfs.as_ref(), &self.dir).await?;
        Ok(())
    }

    fn bound(&self) -> Option<u64> {
        self.bound.as_ref().map(DurableEnd::get)
    }

    async fn segment(&mut self, base: u64) -> Result<&dyn VfsFile, WalError> {
        let cached = matches!(&self.open_segment, Some((b, _)) if *b == base);
        if !cached {
            let path = segment_path(&self.dir, base);
            let file = self
                .vfs
                .open(&path, OpenMode::Read)
                .await
                .map_err(|e| WalError::io("open", path, e))?;
            self.open_segment = Some((base, file));
        }
        match &self.open_segment {
            Some((_, file)) => Ok(file.as_ref()),
            None => Err(WalError::io(
                "open",
                segment_path(&self.dir, base),
                std::io::Error::other("segment handle missing"),
            )),
        }
    }

    /// Reads the record at `offset` (a record boundary: 0, or a `next_offset` returned earlier).
    #[tracing::instrument(skip(self), fields(next_offset = tracing::field::Empty))]
    pub async fn read_at(&mut self, offset: u64) -> Result<ReadOutcome, WalError> {
        // One refresh per call: it picks up segments created and damage quarantined since the
        // last one, and a second look at the same bytes would tell nothing new.
        let mut refreshed = false;
        loop {
            let offset = skip_quarantined(&self.quarantined, offset);
            if self.bound().is_some_and(|end| offset >= end) {
                return Ok(ReadOutcome::EndOfLog);
            }
            let Some(index) = locate(&self.bases, offset) else {
                if !refreshed {
                    self.refresh().await?;
                    refreshed = true;
                    continue;
                }
                return match self.bases.first() {
                    None => Ok(ReadOutcome::EndOfLog),
                    Some(&first_offset) => Err(WalError::Truncated {
                        offset,
                        first_offset,
                    }),
                };
            };
            let base = self.bases[index];
            let room = segment_room_bytes(&self.bases, index);
            let path = segment_path(&self.dir, base);
            let file = match self.segment(base).await {
                Ok(file) => file,
                Err(WalError::Io { source, .. })
                    if source.kind() == ErrorKind::NotFound && !refreshed =>
                {
                    // Removed below a checkpoint since we listed: look again.
                    self.refresh().await?;
                    refreshed = true;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let defect = match fetch_record(file, &path, offset - base, room).await? {
                Fetched::Valid {
                    payload,
                    framed_bytes,
                } => {
                    let next_offset = offset + framed_bytes;
                    match self.bound() {
                        // Never hand out bytes past the durable end, however valid they look:
                        // applying them would put the ingest cursor where a crash can take the
                        // log away from under it.
                        Some(durable_end) if next_offset > durable_end => {
                            Some(RecordDefect::PastDurableEnd {
                                next_offset,
                                durable_end,
                            })
                        }
                        _ => {
                            tracing::Span::current().record("next_offset", next_offset);
                            return Ok(ReadOutcome::Record(WalRecord {
                                offset,
                                payload,
                                next_offset,
                            }));
                        }
                    }
                }
                Fetched::Incomplete => None,
                Fetched::Invalid(defect) => Some(defect),
            };
            if !refreshed {
                // A newer segment may start here, or recovery may have quarantined this range.
                self.refresh().await?;
                refreshed = true;
                continue;
            }
            return self.judge_invalid(offset, base, room, defect).await;
        }
    }

    /// Decides whether bytes that are not a valid record are the end of the log or corruption.
    async fn judge_invalid(
        &mut self,
        offset: u64,
        base: u64,
        room: Option<u64>,
        defect: Option<RecordDefect>,
    ) -> Result<ReadOutcome, WalError> {
        let below_durable_end = self.bound().is_some_and(|end| offset < end);
        // Even an incomplete record at the tail needs the look-ahead: a damaged header can claim
        // a length that runs past the end of the file while valid records follow it.
        let path = segment_path(&self.dir, base);
        let file = self.segment(base).await?;
        let mut view = SegmentView::new(file, &path, room).await?;
        let local = offset - base;
        let next_valid = view
            .next_valid(local + RECORD_ALIGN_BYTES)
            .await?
            .map(|next| base + next)
            .or(room.map(|room| base + room));
        if next_valid.is_none() && !below_durable_end {
            // Invalid bytes with nothing valid after them at the tail: torn, or still being
            // written. Recovery (or the writer) will cut or complete them.
            return Ok(ReadOutcome::EndOfLog);
        }
        Err(WalError::Corrupt {
            offset,
            defect: defect.unwrap_or(RecordDefect::Missing),
            next_valid,
        })
    }
}
