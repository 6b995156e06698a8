//! Ingest worker options, each a named bound with its unit last.

use std::time::Duration;

use crate::model::Limits;

/// Default number of applied batches between KV flushes. A flush is an fsync (milliseconds on
/// a real disk), so flushing per record would cap ingest at the disk's sync rate; a crash costs at
/// most this many records of re-ingest, which exactly-once batches make harmless.
pub const FLUSH_EVERY_RECORDS_DEFAULT: u64 = 256;
/// Default first back-off after a failure.
pub const BACKOFF_MIN_DEFAULT: Duration = Duration::from_millis(1);
/// Default longest back-off: a failing disk is retried at least this often, so recovery after the
/// fault clears is prompt, while a permanent fault costs only a few calls per second.
pub const BACKOFF_MAX_DEFAULT: Duration = Duration::from_millis(500);

/// How the ingest worker runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IngestOptions {
    /// The validation bounds (the future-timestamp rule is not applied at ingest; see
    /// `validate.rs`).
    pub limits: Limits,
    /// Flush the KV after this many applied batches (and whenever the worker catches up). Zero
    /// is treated as one.
    pub flush_every_records: u64,
    /// First back-off after a failure; doubles per consecutive failure.
    pub backoff_min: Duration,
    /// Back-off ceiling.
    pub backoff_max: Duration,
    /// Remove WAL segments wholly below the flushed cursor after each successful flush.
    pub truncate_wal: bool,
}

impl Default for IngestOptions {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            flush_every_records: FLUSH_EVERY_RECORDS_DEFAULT,
            backoff_min: BACKOFF_MIN_DEFAULT,
            backoff_max: BACKOFF_MAX_DEFAULT,
            truncate_wal: true,
        }
    }
}
