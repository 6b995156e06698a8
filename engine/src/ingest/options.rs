//! Ingest worker options, each a named bound with its unit last.

use std::time::Duration;

use crate::model::Limits;

/// Default number of applied batches between KV flushes. A flush is an fsync (milliseconds on
/// a real disk), so flushing per record would cap ingest at the disk's sync rate; a crash costs at
/// most this many records of re-ingest, which exactly-once batches make harmless.
pub const FLUSH_EVERY_RECORDS_DEFAULT: u64 = 256;
/// Default most WAL records committed in one KV batch. Each batch is one `apply_batch` (for sled,
/// a log write and a lock round) whatever its size, so batching is most of ingest's throughput on
/// a real store; past ~100 records the per-batch cost is already small beside the records' own.
pub const BATCH_RECORDS_MAX_DEFAULT: usize = 128;
/// Default most payload bytes in one KV batch: bounds the memory a batch holds (its payloads are
/// copied into the batch) whatever the record sizes.
pub const BATCH_BYTES_MAX_DEFAULT: usize = 1 << 20;
/// Default threads a batch's signatures are verified on: 0, every core the machine has
/// (`std::thread::available_parallelism`). Verification is most of ingest's work.
pub const VERIFY_THREADS_DEFAULT: usize = 0;
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
    /// Flush the KV after this many committed records (and whenever the worker catches up). Zero
    /// is treated as one. A batch never carries the count past it, so a crash re-ingests at
    /// most this many records whatever the batch bounds.
    pub flush_every_records: u64,
    /// Most records in one KV batch (zero is treated as one). The batch commits the records'
    /// writes and the cursor past the last of them atomically, so exactly-once holds per batch.
    pub batch_records_max: usize,
    /// Most payload bytes in one KV batch; a batch always takes at least one record.
    pub batch_bytes_max: usize,
    /// Threads a batch's records are decoded and verified on, this one included; 0 is every core.
    /// The verdicts do not depend on it (see `decode_run`).
    pub verify_threads: usize,
    /// First back-off after a failure; doubles per consecutive failure.
    pub backoff_min: Duration,
    /// Back-off ceiling.
    pub backoff_max: Duration,
    /// Remove WAL segments wholly below the flushed cursor after each successful flush.
    pub truncate_wal: bool,
}

impl IngestOptions {
    /// `verify_threads` with 0 resolved to the machine's cores.
    pub fn verify_threads_resolved(&self) -> usize {
        match self.verify_threads {
            0 => std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            n => n,
        }
    }
}

impl Default for IngestOptions {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            flush_every_records: FLUSH_EVERY_RECORDS_DEFAULT,
            batch_records_max: BATCH_RECORDS_MAX_DEFAULT,
            batch_bytes_max: BATCH_BYTES_MAX_DEFAULT,
            verify_threads: VERIFY_THREADS_DEFAULT,
            backoff_min: BACKOFF_MIN_DEFAULT,
            backoff_max: BACKOFF_MAX_DEFAULT,
            truncate_wal: true,
        }
    }
}
