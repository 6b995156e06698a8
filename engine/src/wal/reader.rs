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
//! - `Err(WalError::Io { .. })`, `Err(WalError::UnstableReads { .. })`: the disk failed; retry
//!   later.
//! - `Err(WalError::Corrupt { .. })`: invalid bytes where a record must be (below the durable end,
//!   in a non-last segment, or followed by a valid record) and not quarantined by recovery.
//!
//! Quarantined ranges (damage recorded by recovery) are skipped: the record returned may start
//! after the requested offset, and says where.
//!
//! A frame is a record only at the offset it names and under its segment's salt (`record.rs`), so
//! a reader never returns a frame that a misdirected write, another segment or a damaged record's
//! payload put where the reader looked. And a read can be wrong once: bytes that did not verify
//! are read again before they are called corrupt (`scan.rs`); a re-read that verifies wins, and
//! reads that keep disagreeing are an I/O error (retried), never a verdict.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::durable::DurableEnd;
use super::error::{RecordDefect, WalError};
use super::quarantine::{self, skip_quarantined, QuarantinedRange};
use super::scan::{fetch_record, Fetched, SegmentView, Verdict, REREADS_BEFORE_VERDICT};
use super::segment::{list_segments, locate, segment_room_bytes, SegmentName};
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
    segments: Vec<SegmentName>,
    quarantined: Vec<QuarantinedRange>,
    open_segment: Option<(SegmentName, Box<dyn VfsFile>)>,
    bound: Option<DurableEnd>,
}

impl WalReader {
    /// Opens a reader on the WAL in `dir`.
    #[tracing::instrument(skip(vfs), fields(dir = %dir.display()))]
    pub async fn open(vfs: Arc<dyn Vfs>, dir: &Path) -> Result<WalReader, WalError> {
        let mut reader = WalReader {
            vfs,
            dir: dir.to_owned(),
            segments: Vec::new(),
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
    #[tracing::instrument(skip(self), fields(dir = %self.dir.display()))]
    pub async fn first_offset(&mut self) -> Result<u64, WalError> {
        self.refresh().await?;
        Ok(skip_quarantined(
            &self.quarantined,
            self.segments.first().map_or(0, |s| s.base),
        ))
    }

    async fn refresh(&mut self) -> Result<(), WalError> {
        self.segments = list_segments(self.vfs.as_ref(), &self.dir).await?;
        self.quarantined = quarantine::load(self.vfs.as_ref(), &self.dir).await?;
        Ok(())
    }

    fn bound(&self) -> Option<u64> {
        self.bound.as_ref().map(DurableEnd::get)
    }

    async fn segment(&mut self, segment: SegmentName) -> Result<&dyn VfsFile, WalError> {
        let cached = matches!(&self.open_segment, Some((s, _)) if *s == segment);
        if !cached {
            let path = segment.path(&self.dir);
            let file = self
                .vfs
                .open(&path, OpenMode::Read)
                .await
                .map_err(|e| WalError::io("open", path, e))?;
            self.open_segment = Some((segment, file));
        }
        match &self.open_segment {
            Some((_, file)) => Ok(file.as_ref()),
            None => Err(WalError::io(
                "open",
                segment.path(&self.dir),
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
        // Times a re-read verified what the read before it did not.
        let mut disagreements = 0;
        loop {
            let offset = skip_quarantined(&self.quarantined, offset);
            if self.bound().is_some_and(|end| offset >= end) {
                return Ok(ReadOutcome::EndOfLog);
            }
            let Some(index) = locate(&self.segments, offset) else {
                if !refreshed {
                    self.refresh().await?;
                    refreshed = true;
                    continue;
                }
                return match self.segments.first() {
                    None => Ok(ReadOutcome::EndOfLog),
                    Some(first) => Err(WalError::Truncated {
                        offset,
                        first_offset: first.base,
                    }),
                };
            };
            let segment = self.segments[index];
            let base = segment.base;
            let room = segment_room_bytes(&self.segments, index);
            let path = segment.path(&self.dir);
            let file = match self.segment(segment).await {
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
            let fetched = fetch_record(file, &path, segment, offset - base, room).await?;
            let first = fetched.as_probe();
            let defect = match fetched {
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
            match self
                .judge_invalid(offset, segment, room, defect, first)
                .await?
            {
                Judged::Final(outcome) => return outcome,
                Judged::VerifiedOnReread if disagreements < REREADS_BEFORE_VERDICT => {
                    disagreements += 1;
                }
                Judged::VerifiedOnReread => {
                    return Err(WalError::UnstableReads {
                        path,
                        offset,
                        reads: disagreements + 1,
                    })
                }
            }
        }
    }

    /// Decides whether bytes that are not a valid record are the end of the log or corruption,
    /// after reading them again (see the module comment).
    async fn judge_invalid(
        &mut self,
        offset: u64,
        segment: SegmentName,
        room: Option<u64>,
        defect: Option<RecordDefect>,
        first: super::scan::Probe,
    ) -> Result<Judged, WalError> {
        let below_durable_end = self.bound().is_some_and(|end| offset < end);
        // Even an incomplete record at the tail needs the look-ahead: a damaged header can claim
        // a length that runs past the end of the file while valid records follow it.
        let path = segment.path(&self.dir);
        let file = self.segment(segment).await?;
        let mut view = SegmentView::new(file, &path, segment, room).await?;
        let local = offset - segment.base;
        let (reread_defect, next_valid) = match view.judge_damage(local, first).await? {
            Verdict::Valid { .. } => return Ok(Judged::VerifiedOnReread),
            Verdict::Damaged { defect, next_valid } => (defect, next_valid),
        };
        let next_valid = next_valid
            .map(|next| segment.base + next)
            .or(room.map(|room| segment.base + room));
        if next_valid.is_none() && !below_durable_end {
            // Invalid bytes with nothing valid after them at the tail: torn, or still being
            // written. Recovery (or the writer) will cut or complete them.
            return Ok(Judged::Final(Ok(ReadOutcome::EndOfLog)));
        }
        Ok(Judged::Final(Err(WalError::Corrupt {
            offset,
            defect: defect.or(reread_defect).unwrap_or(RecordDefect::Missing),
            next_valid,
        })))
    }
}

/// What judging bytes that did not verify came to.
enum Judged {
    /// The answer to the read.
    Final(Result<ReadOutcome, WalError>),
    /// A re-read verified them: read the record again.
    VerifiedOnReread,
}
