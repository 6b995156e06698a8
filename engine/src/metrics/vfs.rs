//! A `Vfs` that times every `sync_data` on the engine's clock into `wal_fsync_seconds`.
//!
//! The engine's `Vfs` serves the WAL alone, so every sync timed here is a WAL sync: the group
//! commit's, recovery's cut-back of a torn tail, and rotation's. Everything else passes through
//! untouched (no call added, none reordered), so a simulated run is the same run with or without
//! it.

use std::io;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;

use super::Metrics;
use crate::io::{Clock, OpenMode, Vfs, VfsFile, VfsLock};

#[derive(Debug)]
pub(crate) struct MeteredVfs {
    inner: Arc<dyn Vfs>,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
}

impl MeteredVfs {
    pub(crate) fn wrap(
        inner: Arc<dyn Vfs>,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
    ) -> Arc<dyn Vfs> {
        Arc::new(MeteredVfs {
            inner,
            clock,
            metrics,
        })
    }
}

#[async_trait]
impl Vfs for MeteredVfs {
    async fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Box<dyn VfsFile>> {
        let inner = self.inner.open(path, mode).await?;
        Ok(Box::new(MeteredFile {
            inner,
            clock: Arc::clone(&self.clock),
            metrics: Arc::clone(&self.metrics),
        }))
    }

    async fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        self.inner.create_dir_all(path).await
    }

    async fn sync_dir(&self, path: &Path) -> io::Result<()> {
        self.inner.sync_dir(path).await
    }

    async fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.inner.rename(from, to).await
    }

    async fn remove(&self, path: &Path) -> io::Result<()> {
        self.inner.remove(path).await
    }

    async fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        self.inner.list(dir).await
    }

    async fn lock(&self, path: &Path) -> io::Result<Box<dyn VfsLock>> {
        self.inner.lock(path).await
    }
}

#[derive(Debug)]
struct MeteredFile {
    inner: Box<dyn VfsFile>,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
}

#[async_trait]
impl VfsFile for MeteredFile {
    async fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read_at(offset, buf).await
    }

    async fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.inner.write_at(offset, data).await
    }

    async fn append(&self, data: &[u8]) -> io::Result<u64> {
        self.inner.append(data).await
    }

    async fn sync_data(&self) -> io::Result<()> {
        let began = self.clock.monotonic();
        let result = self.inner.sync_data().await;
        let took = self.clock.monotonic().saturating_sub(began);
        self.metrics.wal_fsync.observe(took.as_secs_f64());
        result
    }

    async fn set_len(&self, len: u64) -> io::Result<()> {
        self.inner.set_len(len).await
    }

    async fn len(&self) -> io::Result<u64> {
        self.inner.len().await
    }

    async fn evict_cache(&self) -> io::Result<()> {
        self.inner.evict_cache().await
    }
}
