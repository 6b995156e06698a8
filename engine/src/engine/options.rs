//! Engine options, each a named bound with its unit last.

use std::time::Duration;

use crate::ingest::{
    IngestOptions, BACKOFF_MAX_DEFAULT, BACKOFF_MIN_DEFAULT, FLUSH_EVERY_RECORDS_DEFAULT,
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
    /// Flush the KV after this many applied batches, and whenever ingest catches up.
    pub flush_every_records: u64,
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
            backoff_min: self.backoff_min,
            backoff_max: self.backoff_max,
            truncate_wal: self.truncate_wal,
        }
    }
}
