//! Typed WAL errors.
//!
//! Fault model: every failure the disk can produce (I/O errors, a full device, a failed fsync, bytes
//! that fail their checksums) surfaces as a value of these types, never as a panic. Errors are
//! `Clone` because one failed group-commit batch answers many waiting writers with the same cause.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use thiserror::Error;

/// Why a record's bytes are not a valid record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum RecordDefect {
    /// The header claims a payload longer than any writer may produce (a torn or rotted header).
    #[error("header claims a {len}-byte payload, above the {max_bytes}-byte maximum")]
    LengthTooLarge { len: u32, max_bytes: u32 },
    /// The record would run past the end of its segment.
    #[error("record of {framed_bytes} bytes runs past the end of its segment")]
    PastSegmentEnd { framed_bytes: u64 },
    /// The crc32c over length, digest and payload does not match.
    #[error("crc32c mismatch")]
    ChecksumMismatch,
    /// The crc32c matches but the salted blake3 digest does not.
    #[error("blake3 digest mismatch")]
    DigestMismatch,
    /// A frame that verifies under this segment's salt but was written for another position (a
    /// misdirected write, or a stale frame where the look-ahead probed).
    #[error("frame written for offset {claimed_offset}, found elsewhere")]
    Misplaced { claimed_offset: u64 },
    /// Bytes the durable end promises are missing (the file is shorter than the log claims).
    #[error("bytes below the durable end are missing")]
    Missing,
    /// A well-formed frame that starts below the durable end runs past it. Every batch ends
    /// exactly at the durable end it publishes, so only misplaced bytes (a misdirected write, or
    /// a stale frame at a look-ahead position) can look like this.
    #[error("a frame ending at {next_offset} runs past the durable end {durable_end}")]
    PastDurableEnd { next_offset: u64, durable_end: u64 },
}

/// Why the WAL failed closed. Reopening it (which runs recovery) is the only way out.
#[derive(Debug, Clone, Error)]
pub enum FailCause {
    /// fsync of a segment failed: the kernel may have dropped the dirty pages, so nothing written
    /// since the last successful sync can be assumed durable, and retrying would lie.
    #[error("sync_data of {path} failed: {source}")]
    SyncData {
        path: PathBuf,
        #[source]
        source: Arc<io::Error>,
    },
    /// fsync of the WAL directory failed after a new segment was created.
    #[error("sync_dir of {path} failed: {source}")]
    SyncDir {
        path: PathBuf,
        #[source]
        source: Arc<io::Error>,
    },
    /// A failed write could not be cut back to the last acknowledged record, so the segment's tail
    /// is in an unknown state.
    #[error("truncating {path} back after a failed write failed: {source}")]
    TruncateBack {
        path: PathBuf,
        #[source]
        source: Arc<io::Error>,
    },
}

/// Every error the WAL returns.
#[derive(Debug, Clone, Error)]
pub enum WalError {
    /// Another writer holds the WAL directory's lock.
    #[error("WAL directory {dir} is locked by another writer")]
    Locked { dir: PathBuf },
    /// The payload is larger than the record format allows.
    #[error("payload of {payload_len} bytes exceeds the {max_bytes}-byte record maximum")]
    RecordTooLarge { payload_len: usize, max_bytes: u32 },
    /// The device is full. The partial batch was cut back; nothing acknowledged was lost, and
    /// appends work again once space is freed.
    #[error("device full while appending (partial batch truncated back): {source}")]
    StorageFull {
        #[source]
        source: Arc<io::Error>,
    },
    /// The WAL refuses all appends until reopened.
    #[error("WAL failed closed, reopen to recover: {cause}")]
    FailedClosed {
        #[source]
        cause: FailCause,
    },
    /// The append's batch was abandoned because its leader was cancelled mid-flush. The record
    /// was not acknowledged; the next flush cuts its bytes back before writing.
    #[error("the group-commit flush carrying this record was cancelled")]
    FlushInterrupted,
    /// An I/O error that did not leave the WAL in an unknown state.
    #[error("WAL I/O error during {op} on {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: Arc<io::Error>,
    },
    /// The bytes at `offset` are not a valid record and lie where a valid record must be.
    /// `next_valid` is the offset of the next valid record found, if any.
    #[error("corrupt record at offset {offset}: {defect}")]
    Corrupt {
        offset: u64,
        defect: RecordDefect,
        next_valid: Option<u64>,
    },
    /// Reads of the same bytes kept returning different bytes and none verified (a flaky read
    /// path: cable, controller, drive cache), so no verdict on them is safe. Nothing was changed;
    /// retry later.
    #[error("{reads} reads of {path} at offset {offset} disagreed and none verified; no verdict on unstable bytes")]
    UnstableReads {
        path: PathBuf,
        offset: u64,
        reads: u32,
    },
    /// The offset lies below the first segment (removed by `truncate_below`).
    #[error("offset {offset} was truncated away; the log now starts at {first_offset}")]
    Truncated { offset: u64, first_offset: u64 },
    /// The quarantine file does not verify.
    #[error("quarantine file {path} is corrupt: {reason}")]
    QuarantineCorrupt { path: PathBuf, reason: &'static str },
    /// A file in the WAL directory is a segment of a format this build does not read (a v2
    /// segment has no salt in its name and no offset in its frames). Nothing was changed.
    #[error("WAL segment {path} is in an unsupported format: {reason}")]
    UnsupportedFormat { path: PathBuf, reason: &'static str },
    /// Two segment files claim the same base offset (this writer never creates a second one).
    #[error("WAL segments {first} and {second} claim the same base offset")]
    DuplicateSegment { first: PathBuf, second: PathBuf },
    /// A segment name claims a base offset above [`WAL_OFFSET_MAX`](super::WAL_OFFSET_MAX): no
    /// writer of this log created it. Nothing was changed.
    #[error("WAL segment {path} claims base offset {base}, above the {max} maximum")]
    SegmentBaseOutOfRange { path: PathBuf, base: u64, max: u64 },
    /// The OS could not supply randomness for segment salts.
    #[error("no OS randomness for segment salts: {source}")]
    Entropy {
        #[source]
        source: Arc<io::Error>,
    },
    /// Options that cannot work.
    #[error("invalid WAL options: {0}")]
    InvalidOptions(&'static str),
}

impl WalError {
    /// The error's kind in metrics (`wal_errors_total{kind}`): one per variant.
    pub fn kind_label(&self) -> &'static str {
        match self {
            WalError::Locked { .. } => "locked",
            WalError::RecordTooLarge { .. } => "record_too_large",
            WalError::StorageFull { .. } => "storage_full",
            WalError::FailedClosed { .. } => "failed_closed",
            WalError::FlushInterrupted => "flush_interrupted",
            WalError::Io { .. } => "io",
            WalError::Corrupt { .. } => "corrupt",
            WalError::UnstableReads { .. } => "unstable_reads",
            WalError::Truncated { .. } => "truncated",
            WalError::QuarantineCorrupt { .. } => "quarantine_corrupt",
            WalError::UnsupportedFormat { .. } => "unsupported_format",
            WalError::DuplicateSegment { .. } => "duplicate_segment",
            WalError::SegmentBaseOutOfRange { .. } => "segment_base_out_of_range",
            WalError::Entropy { .. } => "entropy",
            WalError::InvalidOptions(_) => "invalid_options",
        }
    }

    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        WalError::Io {
            op,
            path: path.into(),
            source: Arc::new(source),
        }
    }
}
