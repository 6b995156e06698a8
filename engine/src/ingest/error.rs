//! The ingest worker's fatal errors: states no retry can get out of. Everything else (bad
//! records, damaged log bytes, I/O failures) is handled inside the worker and never stops it.

use crate::wal::WalError;

/// Why the ingest worker stopped on its own.
#[derive(Debug, Clone, thiserror::Error)]
pub enum IngestError {
    /// The record at the cursor is gone from the WAL (its segment was removed). The KV and the
    /// WAL disagree: the KV was restored from elsewhere, or the WAL was truncated past a cursor
    /// that was not durable. Continuing would silently skip records.
    #[error("the WAL no longer holds the record at ingest cursor {cursor}: {source}")]
    LogTruncated {
        cursor: u64,
        #[source]
        source: WalError,
    },
    /// The KV store holds something this engine never writes (a counter of the wrong width, or
    /// the store reported corruption). Building on it would spread the damage.
    #[error("the KV store is corrupt: {detail}")]
    KvCorrupt { detail: String },
}
