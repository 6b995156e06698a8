//! The KV seam: what the ingest worker and the query engine need from a store.
//!
//! Contract (what `SimKv` enforces adversarially and `SledKv` provides for real):
//! - `apply_batch` is atomic: after any crash either every operation of a batch is visible or
//!   none is. This is what makes ingest exactly-once: a record's value, its index entries, its
//!   counter updates and the new cursor go in one batch.
//! - A batch is durable only after a later `flush` returns `Ok`. A crash may revert the store to
//!   the state after any prefix of the batches applied since the last successful flush (sled
//!   flushes in the background, so more than the last flush may survive, but never a gap).
//! - `scan_prefix` returns entries in ascending key order; `visit_prefix` visits the same
//!   entries in the same order.

use std::fmt;
use std::ops::ControlFlow;

use async_trait::async_trait;

/// One write in a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BatchOp {
    Put { key: Vec<u8>, value: Vec<u8> },
    Delete { key: Vec<u8> },
}

/// Writes applied atomically, in order (a later op on the same key wins).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteBatch {
    pub ops: Vec<BatchOp>,
}

impl WriteBatch {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn put(&mut self, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> &mut Self {
        self.ops.push(BatchOp::Put {
            key: key.into(),
            value: value.into(),
        });
        self
    }

    pub fn delete(&mut self, key: impl Into<Vec<u8>>) -> &mut Self {
        self.ops.push(BatchOp::Delete { key: key.into() });
        self
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// A KV store failure.
#[derive(Debug, thiserror::Error)]
pub enum KvError {
    #[error("kv i/o error during {op}: {source}")]
    Io {
        op: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("kv store is corrupt: {0}")]
    Corrupt(String),
    #[error("kv store error during {op}: {message}")]
    Backend { op: &'static str, message: String },
}

/// What [`KvStore::visit_prefix`] calls with each entry's key and value; `Break` ends the scan.
/// (Spelled out for every lifetime: the entries are lent for one call only.)
pub type PrefixVisitor<'a> =
    dyn for<'k, 'v> FnMut(&'k [u8], &'v [u8]) -> ControlFlow<()> + Send + 'a;

/// A key-value store.
#[async_trait]
pub trait KvStore: Send + Sync + fmt::Debug + 'static {
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, KvError>;
    /// Every entry whose key starts with `prefix`, in ascending key order.
    async fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>, KvError>;
    /// Calls `visit` with every entry whose key starts with `prefix`, in ascending key order,
    /// until it returns `Break`: what `scan_prefix` returns, without copying it out.
    ///
    /// For a read that keeps only what it derives from each entry (a query ranking thousands of
    /// index entries), where copying and freeing every key and value costs more than the read
    /// itself. One call, with the same faults and latency as `scan_prefix`. The default copies
    /// through `scan_prefix`; stores that can lend their entries override it.
    async fn visit_prefix(
        &self,
        prefix: &[u8],
        visit: &mut PrefixVisitor<'_>,
    ) -> Result<(), KvError> {
        for (key, value) in self.scan_prefix(prefix).await? {
            if visit(&key, &value).is_break() {
                break;
            }
        }
        Ok(())
    }
    /// Applies every op of `batch` atomically.
    async fn apply_batch(&self, batch: WriteBatch) -> Result<(), KvError>;
    /// Makes every applied batch durable.
    async fn flush(&self) -> Result<(), KvError>;
}
