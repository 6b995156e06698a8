//! `KvStore` on sled 0.34: the production store, embedded, under the engine's data directory.
//!
//! Blocking: `get`, `scan_prefix` and `apply_batch` call sled directly on the calling task. They
//! work on sled's in-memory page cache (at worst a `pread` on a cache miss or a buffered `write`
//! when a log buffer fills), so a hop to a blocking pool would cost more than the call, the same
//! trade-off `RealVfs` makes. `flush` is an fsync and can take milliseconds: it goes through
//! `flush_async`, which runs the flush on sled's own thread pool and awaits it, so a slow disk does
//! not stall the runtime's worker and no particular tokio runtime flavour is required.
//!
//! Durability: sled also flushes in the background (every 500 ms by default), so after a crash
//! more than the last `flush` may survive, but always a prefix of whole batches; `SimKv` in the
//! faults crate models exactly that, and `engine/tests/kv_sled_kill.rs` checks it on real sled by
//! killing a child process.
//!
//! sled runs its own threads and calls std::fs directly, so it cannot run inside the deterministic
//! simulator: simulated runs use `SimKv` instead.

use std::fmt;
use std::path::{Path, PathBuf};

use async_trait::async_trait;

use super::kv::{BatchOp, KvError, KvStore, PrefixVisitor, WriteBatch};

/// A sled database used as the engine's KV store. Cloning gives another handle to the same
/// database (sled handles are reference-counted; the files close when the last one drops).
#[derive(Clone)]
pub struct SledKv {
    db: sled::Db,
    path: PathBuf,
}

impl fmt::Debug for SledKv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SledKv")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SledKv {
    /// Opens (or creates) the database in the directory `path`, recovering whatever a previous
    /// process made durable. Fails if another process (or handle in this process) holds it.
    #[tracing::instrument(skip_all, fields(path = %path.display()))]
    pub fn open(path: &Path) -> Result<SledKv, KvError> {
        let db = sled::Config::new()
            .path(path)
            .open()
            .map_err(|e| map_err("open", e))?;
        Ok(SledKv {
            db,
            path: path.to_path_buf(),
        })
    }

    /// The directory the database lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes sled reports the database occupies on disk.
    pub fn size_on_disk(&self) -> Result<u64, KvError> {
        self.db
            .size_on_disk()
            .map_err(|e| map_err("size_on_disk", e))
    }
}

/// Maps a sled error to the seam's error, keeping the `io::Error` (and so its kind and errno).
fn map_err(op: &'static str, err: sled::Error) -> KvError {
    match err {
        sled::Error::Io(source) => KvError::Io { op, source },
        sled::Error::Corruption { at, .. } => KvError::Corrupt(match at {
            Some(ptr) => format!("during {op}, at {ptr:?}"),
            None => format!("during {op}"),
        }),
        other => KvError::Backend {
            op,
            message: other.to_string(),
        },
    }
}

#[async_trait]
impl KvStore for SledKv {
    #[tracing::instrument(skip_all, fields(key_len = key.len()))]
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, KvError> {
        let value = self.db.get(key).map_err(|e| map_err("get", e))?;
        Ok(value.map(|v| v.to_vec()))
    }

    #[tracing::instrument(skip_all, fields(key_len = prefix.len(), entries = tracing::field::Empty))]
    async fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>, KvError> {
        // sled's iterator is ascending by key (bytewise), which is the seam's contract.
        let mut out = Vec::new();
        for entry in self.db.scan_prefix(prefix) {
            let (k, v) = entry.map_err(|e| map_err("scan_prefix", e))?;
            out.push((k.to_vec(), v.to_vec()));
        }
        tracing::Span::current().record("entries", out.len());
        Ok(out)
    }

    #[tracing::instrument(skip_all, fields(key_len = prefix.len(), entries = tracing::field::Empty))]
    async fn visit_prefix(
        &self,
        prefix: &[u8],
        visit: &mut PrefixVisitor<'_>,
    ) -> Result<(), KvError> {
        let mut entries = 0usize;
        for entry in self.db.scan_prefix(prefix) {
            let (k, v) = entry.map_err(|e| map_err("scan_prefix", e))?;
            entries += 1;
            if visit(&k, &v).is_break() {
                break;
            }
        }
        tracing::Span::current().record("entries", entries);
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(batch_len = batch.len()))]
    async fn apply_batch(&self, batch: WriteBatch) -> Result<(), KvError> {
        // sled::Batch keeps only the last op per key, which is exactly "a later op on the same
        // key wins"; sled applies the whole batch atomically (also across crashes).
        let mut sled_batch = sled::Batch::default();
        for op in batch.ops {
            match op {
                BatchOp::Put { key, value } => sled_batch.insert(key, value),
                BatchOp::Delete { key } => sled_batch.remove(key),
            }
        }
        self.db
            .apply_batch(sled_batch)
            .map_err(|e| map_err("apply_batch", e))
    }

    #[tracing::instrument(skip_all, fields(bytes = tracing::field::Empty))]
    async fn flush(&self) -> Result<(), KvError> {
        let bytes = self
            .db
            .flush_async()
            .await
            .map_err(|e| map_err("flush", e))?;
        tracing::Span::current().record("bytes", bytes);
        Ok(())
    }
}
