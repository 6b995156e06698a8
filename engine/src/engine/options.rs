//! Engine options, each a named bound with its unit last.

use std::time::Duration;

use crate::ingest::{
    IngestOptions, BACKOFF_MAX_DEFAULT, BACKOFF_MIN_DEFAULT, BATCH_BYTES_MAX_DEFAULT,
    BATCH_RECORDS_MAX_DEFAULT, FLUSH_EVERY_RECORDS_DEFAULT, VERIFY_THREADS_DEFAULT,
};
use crate::model::Limits;
use crate::wal::WalOptions;

/// How an [`Engine`](super::Engine) runs. `Default` is the production configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineOptions {
    /// WAL writer options. `recovery_start_offset` is ignored: the engine recovers from the
    /// ingest cursor held in the KV (what lies below it is applied and never read again).
    pub wal: WalOptions,
    /// Validation bounds, at submit (all rules) and at ingest (all but the clock rule).
    pub limits: Limits,
    /// Flush the KV after this many committed records, and whenever ingest catches up.
    pub flush_every_records: u64,
    /// Most WAL records ingest commits in one KV batch.
    pub ingest_batch_records_max: usize,
    /// Most payload bytes ingest commits in one KV batch.
    pub ingest_batch_bytes_max: usize,
    /// Threads ingest verifies a batch's signatures on; 0 is every core.
    pub ingest_verify_threads: usize,
    /// First back-off after a failed read or KV call; doubles per consecutive failure.
    pub backoff_min: Duration,
    /// Back-off ceiling.
    pub backoff_max: Duration,
    /// Remove WAL segments wholly below the flushed cursor after each KV flush. Turn off to keep
    /// the whole log (e.g. for oracles that replay it).
    pub truncate_wal: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            wal: WalOptions::default(),
            limits: Limits::default(),
            flush_every_records: FLUSH_EVERY_RECORDS_DEFAULT,
            ingest_batch_records_max: BATCH_RECORDS_MAX_DEFAULT,
            ingest_batch_bytes_max: BATCH_BYTES_MAX_DEFAULT,
            ingest_verify_threads: VERIFY_THREADS_DEFAULT,
            backoff_min: BACKOFF_MIN_DEFAULT,
            backoff_max: BACKOFF_MAX_DEFAULT,
            truncate_wal: true,
        }
    }
}

impl EngineOptions {
    pub(crate) fn ingest(&self) -> IngestOptions {
        IngestOptions {
            limits: self.limits,
            flush_every_records: self.flush_every_records,
            batch_records_max: self.ingest_batch_records_max,
            batch_bytes_max: self.ingest_batch_bytes_max,
            verify_threads: self.ingest_verify_threads,
            backoff_min: self.backoff_min,
            backoff_max: self.backoff_max,
            truncate_wal: self.truncate_wal,
        }
    }
}
