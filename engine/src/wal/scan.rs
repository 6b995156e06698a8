//! Finding and verifying records in a segment whose bytes may be torn, rotted, missing, misplaced
//! or, for one read, misread.
//!
//! Fault model: a segment's bytes are untrusted. A header may claim any length, the file may end
//! mid-record (a torn tail or a write still in progress), a range may be garbage with valid records
//! after it (bit rot of synced data, or a crash that kept later sectors of a write but not earlier
//! ones), and a well-formed frame may sit where it was never written (see `record.rs`: every
//! probe checks the frame's offset against the position and the segment's salt). Every probe
//! checks the claimed length before reading the payload, so no allocation is larger than one
//! maximal record plus the scan window.
//!
//! A read may also return bytes that are wrong once and right the next time (a transient bad
//! read). Noise can hide a valid frame but never forge one, so before anything destructive or
//! final is decided on bytes that did not verify (cutting a tail, quarantining a range, reporting
//! corruption), [`SegmentView::judge_damage`] reads them again: the verdict "damaged" stands only
//! if every read agrees that nothing verifies at the position, the last two reads returned the same
//! bytes, and the look-ahead keeps the earliest frame any read verified. Agreeing that nothing
//! verifies is not enough: a run of bad reads (several in a row on a flaky path) makes every read
//! fail its checksum, each with different bytes, and cutting the tail on that verdict destroys
//! acknowledged records. Reads that keep disagreeing end in [`WalError::UnstableReads`], which
//! changes nothing: the caller retries later.

use std::path::Path;

use super::error::{RecordDefect, WalError};
use super::record::{Header, RECORD_ALIGN_BYTES, RECORD_HEADER_BYTES};
use super::segment::SegmentName;
use crate::io::VfsFile;

/// How much of a segment one read pulls in while scanning (recovery and look-ahead).
pub const SCAN_WINDOW_BYTES: usize = 256 * 1024;
/// How many times bytes that did not verify are read again before a verdict on them.
pub const REREADS_BEFORE_VERDICT: u32 = 2;
/// How many times at most they are read again while reads keep returning different bytes.
pub const REREADS_MAX: u32 = 8;

/// What lies at a position in a segment.
#[derive(Debug, PartialEq, Eq)]
pub enum Probe {
    /// A whole record whose checksums and position verify.
    Valid { framed_bytes: u64 },
    /// Fewer bytes than a whole record before the end of the file: a torn tail, or a write not yet
    /// finished.
    Incomplete,
    /// Bytes that are not a valid record.
    Invalid(RecordDefect),
}

/// The verdict on a position whose first probe did not verify, after every re-read.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A re-read verified: the first read was noise.
    Valid { framed_bytes: u64 },
    /// Every read agrees nothing verifies here. `defect` is the first defect seen (`None`: the
    /// bytes were only incomplete); `next_valid` the earliest later aligned position (segment-
    /// local) where any read verified a frame.
    Damaged {
        defect: Option<RecordDefect>,
        next_valid: Option<u64>,
    },
}

/// A windowed view of one segment, for scanning many positions with few reads.
pub struct SegmentView<'a> {
    file: &'a dyn VfsFile,
    path: &'a Path,
    segment: SegmentName,
    /// Bytes of the segment that are present: the file length, capped at `room_bytes`.
    end: u64,
    /// How far the segment may extend (the next segment's base), if it is not the last.
    room_bytes: Option<u64>,
    window_start: u64,
    window: Vec<u8>,
    /// While judging damage: a digest of every read of the current pass, to tell a stable read
    /// of damaged bytes from noise.
    digest: Option<blake3::Hasher>,
}

impl<'a> SegmentView<'a> {
    /// `room_bytes` is `None` for the last segment (it may still grow).
    pub async fn new(
        file: &'a dyn VfsFile,
        path: &'a Path,
        segment: SegmentName,
        room_bytes: Option<u64>,
    ) -> Result<SegmentView<'a>, WalError> {
        let len = file.len().await.map_err(|e| WalError::io("len", path, e))?;
        Ok(SegmentView {
            file,
            path,
            segment,
            end: room_bytes.map_or(len, |room| len.min(room)),
            room_bytes,
            window_start: 0,
            window: Vec::new(),
            digest: None,
        })
    }

    /// The end of the bytes present in this segment (segment-local).
    pub fn end(&self) -> u64 {
        self.end
    }

    /// Drops the cached window, so the next probe reads the disk again.
    fn forget(&mut self) {
        self.window.clear();
        self.window_start = 0;
    }

    /// Up to `want` bytes at segment-local `local`, fewer only at the end of the segment.
    async fn bytes(&mut self, local: u64, want: usize) -> Result<&[u8], WalError> {
        let avail = usize::try_from(self.end.saturating_sub(local)).unwrap_or(usize::MAX);
        let want = want.min(avail);
        let window_end = self.window_start + self.window.len() as u64;
        if local < self.window_start || local + want as u64 > window_end {
            let fill = want.max(SCAN_WINDOW_BYTES).min(avail);
            self.window.clear();
            self.window.resize(fill, 0);
            let got = self
                .file
                .read_at(local, &mut self.window)
                .await
                .map_err(|e| WalError::io("read", self.path, e))?;
            self.window.truncate(got);
            self.window_start = local;
            if let Some(digest) = &mut self.digest {
                digest.update(&local.to_le_bytes());
                digest.update(&self.window);
            }
        }
        let from = usize::try_from(local - self.window_start).unwrap_or(usize::MAX);
        let to = (from + want).min(self.window.len());
        Ok(self.window.get(from..to).unwrap_or(&[]))
    }

    /// What lies at segment-local `local`.
    pub async fn probe(&mut self, local: u64) -> Result<Probe, WalError> {
        let segment = self.segment;
        let room_left = self
            .room_bytes
            .map_or(u64::MAX, |room| room.saturating_sub(local));
        let head = self.bytes(local, RECORD_HEADER_BYTES).await?;
        let Some(header) = Header::decode(head) else {
            return Ok(Probe::Incomplete);
        };
        if let Err(defect) = header.check_len(room_left) {
            return Ok(Probe::Invalid(defect));
        }
        let framed = header.framed_bytes();
        // check_len bounds `framed` by one maximal record, so this cannot overflow usize.
        let framed_usize = usize::try_from(framed).unwrap_or(usize::MAX);
        let whole = self.bytes(local, framed_usize).await?;
        if whole.len() < framed_usize {
            return Ok(Probe::Incomplete);
        }
        let payload = &whole[RECORD_HEADER_BYTES..RECORD_HEADER_BYTES + header.len as usize];
        Ok(
            match header.verify(payload, segment.base + local, segment.salt) {
                Ok(()) => Probe::Valid {
                    framed_bytes: framed,
                },
                Err(defect) => Probe::Invalid(defect),
            },
        )
    }

    /// The first aligned position at or after `from`, and below `before` if given, holding a
    /// valid record.
    async fn next_valid(
        &mut self,
        from: u64,
        before: Option<u64>,
    ) -> Result<Option<u64>, WalError> {
        let mut pos = from.div_ceil(RECORD_ALIGN_BYTES) * RECORD_ALIGN_BYTES;
        while pos + RECORD_HEADER_BYTES as u64 <= self.end && before.is_none_or(|b| pos < b) {
            if let Probe::Valid { .. } = self.probe(pos).await? {
                return Ok(Some(pos));
            }
            pos += RECORD_ALIGN_BYTES;
        }
        Ok(None)
    }

    /// Judges segment-local `local`, whose first probe gave `first`: looks ahead for the next
    /// valid frame, then reads the position and the look-ahead again, at least
    /// [`REREADS_BEFORE_VERDICT`] times and until two passes in a row read the same bytes, at
    /// most [`REREADS_MAX`] times (see the module comment). A `first` of `Valid` means the frame
    /// verifies but is refused for another reason (a reader's durable-end bound): only what
    /// follows it is judged.
    pub async fn judge_damage(&mut self, local: u64, first: Probe) -> Result<Verdict, WalError> {
        let recheck_position = !matches!(first, Probe::Valid { .. });
        let mut defect = match first {
            Probe::Invalid(defect) => Some(defect),
            Probe::Valid { .. } | Probe::Incomplete => None,
        };
        let after = local + RECORD_ALIGN_BYTES;
        // Noise can hide a frame but never forge one: any frame a pass verified is real.
        let mut next_valid = self.next_valid(after, None).await?;
        let mut previous: Option<blake3::Hash> = None;
        for pass in 1..=REREADS_MAX {
            self.forget();
            self.digest = Some(blake3::Hasher::new());
            if recheck_position {
                match self.probe(local).await? {
                    Probe::Valid { framed_bytes } => {
                        self.digest = None;
                        crate::probe::hit(crate::probe::Probe::WalTransientBadRead);
                        tracing::warn!(path = %self.path.display(), local, pass, "a re-read verified bytes a first read did not: transient bad read");
                        return Ok(Verdict::Valid { framed_bytes });
                    }
                    Probe::Incomplete => {}
                    Probe::Invalid(again) => {
                        defect.get_or_insert(again);
                    }
                }
            }
            // Unbounded, so that every pass over the same bytes makes the same reads.
            let found = self.next_valid(after, None).await?;
            next_valid = match (next_valid, found) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let digest = self
                .digest
                .take()
                .map(|hasher| hasher.finalize())
                .expect("set at the start of the pass");
            if pass >= REREADS_BEFORE_VERDICT && previous == Some(digest) {
                self.forget();
                return Ok(Verdict::Damaged { defect, next_valid });
            }
            if previous.is_some_and(|p| p != digest) {
                tracing::warn!(path = %self.path.display(), local, pass, "two reads of the same bytes disagree: transient bad reads");
            }
            previous = Some(digest);
        }
        self.forget();
        Err(WalError::UnstableReads {
            path: self.path.to_path_buf(),
            offset: self.segment.base + local,
            reads: REREADS_MAX + 1,
        })
    }
}

/// A record read directly (no window): what a reader does on the fast path.
#[derive(Debug)]
pub enum Fetched {
    Valid { payload: Vec<u8>, framed_bytes: u64 },
    Incomplete,
    Invalid(RecordDefect),
}

impl Fetched {
    /// The same judgement as a [`Probe`] (for [`SegmentView::judge_damage`]).
    pub fn as_probe(&self) -> Probe {
        match self {
            Fetched::Valid { framed_bytes, .. } => Probe::Valid {
                framed_bytes: *framed_bytes,
            },
            Fetched::Incomplete => Probe::Incomplete,
            Fetched::Invalid(defect) => Probe::Invalid(*defect),
        }
    }
}

/// Reads and verifies the record at segment-local `local` of `segment`. `room_bytes` as for
/// [`SegmentView`].
pub async fn fetch_record(
    file: &dyn VfsFile,
    path: &Path,
    segment: SegmentName,
    local: u64,
    room_bytes: Option<u64>,
) -> Result<Fetched, WalError> {
    let mut head = [0u8; RECORD_HEADER_BYTES];
    let got = file
        .read_at(local, &mut head)
        .await
        .map_err(|e| WalError::io("read", path, e))?;
    let room_left = room_bytes.map_or(u64::MAX, |room| room.saturating_sub(local));
    // Bytes missing inside a segment that has a successor are damage, not a tail.
    let short = if room_bytes.is_some() {
        Fetched::Invalid(RecordDefect::Missing)
    } else {
        Fetched::Incomplete
    };
    if got < RECORD_HEADER_BYTES {
        return Ok(short);
    }
    let Some(header) = Header::decode(&head) else {
        return Ok(Fetched::Incomplete);
    };
    if let Err(defect) = header.check_len(room_left) {
        return Ok(Fetched::Invalid(defect));
    }
    let framed = header.framed_bytes();
    // Bounded by check_len: at most one maximal record is allocated.
    let mut body = vec![0u8; (framed as usize) - RECORD_HEADER_BYTES];
    let got = file
        .read_at(local + RECORD_HEADER_BYTES as u64, &mut body)
        .await
        .map_err(|e| WalError::io("read", path, e))?;
    if got < body.len() {
        return Ok(short);
    }
    body.truncate(header.len as usize);
    Ok(
        match header.verify(&body, segment.base + local, segment.salt) {
            Ok(()) => Fetched::Valid {
                payload: body,
                framed_bytes: framed,
            },
            Err(defect) => Fetched::Invalid(defect),
        },
    )
}
