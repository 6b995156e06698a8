//! `CommitFence`: lets a reader that needs one stable state of the store hold off ingest commits.
//!
//! The KV stores have no snapshots (sled 0.34 has none), so a query validates its many reads by
//! the ingest cursor and retries when a commit landed in between (`query/snapshot.rs`). Alone,
//! that can starve: under steady ingest a read with many candidates overlaps some commit every
//! time. The fence is the way out. Ingest takes a shared permit around each batch it applies; a
//! reader whose optimistic attempts all failed takes the exclusive side, waits for the commit in
//! flight, and reads while no commit can start. tokio's `RwLock` is fair (first come, first
//! served), so neither side can starve the other: the reader waits for one commit at most, and
//! ingest waits for one read at most.
//!
//! Only an engine's own ingest worker and query engine share a fence; a store written by anything
//! else (a second process) is not fenced, which the cursor validation still detects.

use tokio::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// The fence between ingest commits and readers that need a stable store (see the module docs).
#[derive(Debug, Default)]
pub struct CommitFence {
    lock: RwLock<()>,
}

impl CommitFence {
    pub fn new() -> Self {
        Self::default()
    }

    /// Held by ingest while it applies one batch.
    pub async fn committing(&self) -> RwLockReadGuard<'_, ()> {
        self.lock.read().await
    }

    /// Held by a reader while it reads: no commit starts until it is dropped.
    pub async fn hold(&self) -> RwLockWriteGuard<'_, ()> {
        self.lock.write().await
    }
}
