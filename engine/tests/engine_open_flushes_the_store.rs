//! Regression: an engine reopened on a store that outlived its predecessor in the same process
//! trusted the store's live ingest cursor as durable, and lost acknowledged records.
//!
//! Found by held-out chaos seed 184720 (shrunk:
//! `scenarios/regressions/chaos-seed184720-reopen-trusts-an-unflushed-cursor.json`).
//! The WAL failed closed; the harness, as an operator would, opened a new engine on the same
//! directory and the same KV store, in the same process, without a crash. The old worker had
//! applied records up to 308,624 but flushed the store only to 277,344. `Engine::open` read the
//! cursor (the live value, 308,624), and the new worker, told that "what the KV held at start is
//! durable", truncated the log below it before its first flush: the segment holding
//! 277,344..308,624 went. A power cut then reverted the store to 277,344, and the 126
//! acknowledged records in between were in neither the store nor the log.
//!
//! `Engine::open` now flushes the store before it trusts the cursor it read. This test holds it
//! to that directly, on the production stack: a batch the store has applied but not flushed is
//! durable by the time `open` returns, before the new worker has run at all.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use stemedb::io::{Clock, RealClock, RealVfs, Vfs};
use stemedb::storage::{KvError, KvStore, SledKv, WriteBatch};
use stemedb::{Engine, EngineOptions};

/// A store that counts the batches applied since its last successful flush.
#[derive(Debug)]
struct Unflushed {
    inner: SledKv,
    batches: AtomicU64,
}

#[async_trait]
impl KvStore for Unflushed {
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, KvError> {
        self.inner.get(key).await
    }

    async fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>, KvError> {
        self.inner.scan_prefix(prefix).await
    }

    async fn apply_batch(&self, batch: WriteBatch) -> Result<(), KvError> {
        self.inner.apply_batch(batch).await?;
        self.batches.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    async fn flush(&self) -> Result<(), KvError> {
        let before = self.batches.load(Ordering::SeqCst);
        self.inner.flush().await?;
        self.batches.fetch_sub(before, Ordering::SeqCst);
        Ok(())
    }
}

#[tokio::test]
async fn open_makes_what_the_store_holds_durable_before_the_worker_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Arc::new(Unflushed {
        inner: SledKv::open(&tmp.path().join("kv")).unwrap(),
        batches: AtomicU64::new(0),
    });
    // What a predecessor in this process applied and never flushed (its flush failed, or it
    // was dropped first).
    let mut batch = WriteBatch::new();
    batch.put(
        b"test/left-by-a-predecessor".to_vec(),
        b"unflushed".to_vec(),
    );
    store.apply_batch(batch).await.unwrap();
    assert_eq!(store.batches.load(Ordering::SeqCst), 1);

    let kv: Arc<dyn KvStore> = store.clone();
    let vfs: Arc<dyn Vfs> = Arc::new(RealVfs);
    let clock: Arc<dyn Clock> = Arc::new(RealClock::default());
    let engine = Engine::open(
        vfs,
        kv,
        clock,
        &tmp.path().join("wal"),
        EngineOptions::default(),
    )
    .await
    .expect("open");
    // The current-thread runtime has not polled the new worker yet: only `open` can have
    // flushed.
    assert_eq!(
        store.batches.load(Ordering::SeqCst),
        0,
        "open returned with batches the store has not made durable: the cursor it read may \
         still revert in a crash, below segments the worker is about to remove"
    );
    engine.shutdown().await.unwrap();
}
