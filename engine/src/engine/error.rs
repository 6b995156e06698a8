//! Typed errors of the engine facade.

use crate::ingest::IngestStopError;
use crate::model::{EncodeError, ValidationError};
use crate::storage::KvError;
use crate::wal::WalError;

/// Every error the [`Engine`](super::Engine) returns.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The WAL failed: open/recovery, or an append (device full, failed closed, ...).
    #[error("WAL: {0}")]
    Wal(#[from] WalError),
    /// The KV store failed (reading the cursor at open, flushing at shutdown).
    #[error("KV store: {0}")]
    Kv(#[from] KvError),
    /// The record breaks a validation rule; nothing was stored.
    #[error("record rejected: {0}")]
    Validation(#[from] ValidationError),
    /// The record could not be encoded; nothing was stored.
    #[error("record could not be encoded: {0}")]
    Encode(#[from] EncodeError),
    /// The ingest worker is no longer running, so the wait can never end.
    #[error("the ingest worker has stopped")]
    Stopped,
    /// The ingest worker had ended on an error (reported at shutdown).
    #[error("ingest: {0}")]
    Ingest(#[from] IngestStopError),
    /// At shutdown, both: the ingest worker had ended on an error, and the last KV flush failed.
    #[error("ingest: {ingest}; and the last KV flush failed: {kv}")]
    IngestAndKv {
        ingest: IngestStopError,
        kv: KvError,
    },
}
