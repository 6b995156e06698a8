//! Starting the ingest worker and talking to it: the cursor it has committed, its counters, and
//! a stop signal.

use std::sync::{Arc, OnceLock};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::error::IngestError;
use super::options::IngestOptions;
use super::stats::{IngestStats, StatsCell};
use super::worker::Worker;
use crate::io::Clock;
use crate::metrics::Metrics;
use crate::model::SignatureVerifier;
use crate::storage::{CommitFence, KvStore};
use crate::wal::{Wal, WalReader};

/// What the worker shares with the rest of the engine.
pub struct IngestShared {
    /// What `submit` verified is not verified again by the worker.
    pub verifier: Arc<SignatureVerifier>,
    /// Orders the worker's commits against queries (see `CommitFence`).
    pub fence: Arc<CommitFence>,
    /// The worker's timers (back-off) run on it, so they are simulated time in simulation.
    pub clock: Arc<dyn Clock>,
    /// The engine's metrics (dead letters by reason).
    pub metrics: Arc<Metrics>,
}

/// The running worker, seen from the engine. Dropping it aborts the worker (a crashed process
/// takes its tasks with it); [`IngestHandle::stop`] stops it cleanly instead.
#[derive(Debug)]
pub struct IngestHandle {
    stop_tx: watch::Sender<bool>,
    cursor_rx: watch::Receiver<u64>,
    stats: Arc<StatsCell>,
    /// Why the worker ended on its own, set once as it returns the error: a supervisor of a
    /// living engine must tell a fault that may stop ingest from a bug, and the join result is
    /// only read by `stop`.
    failure: Arc<OnceLock<IngestError>>,
    join: Option<JoinHandle<Result<(), IngestError>>>,
}

impl IngestHandle {
    /// Spawns the worker (`tokio::spawn`) ingesting from `cursor`, the next offset to ingest as
    /// read from the KV. `reader` must be bound to `wal`'s durable end.
    pub fn spawn(
        kv: Arc<dyn KvStore>,
        wal: &Arc<Wal>,
        reader: WalReader,
        cursor: u64,
        options: IngestOptions,
        shared: IngestShared,
    ) -> IngestHandle {
        let IngestShared {
            verifier,
            fence,
            clock,
            metrics,
        } = shared;
        let (stop_tx, stop) = watch::channel(false);
        let (cursor_tx, cursor_rx) = watch::channel(cursor);
        let stats = Arc::new(StatsCell::default());
        let durable = wal.subscribe();
        let verify_threads = options.verify_threads_resolved();
        let worker = Worker {
            kv,
            wal: Arc::downgrade(wal),
            reader,
            durable,
            options,
            verifier,
            fence,
            clock,
            metrics,
            stats: Arc::clone(&stats),
            cursor,
            cursor_tx,
            // What the KV held at start is durable: it survived (or never saw) a crash.
            flushed_cursor: cursor,
            unflushed: 0,
            lookahead: None,
            verify_threads,
            truncation_due: true,
            stop,
        };
        let failure = Arc::new(OnceLock::new());
        let failed = Arc::clone(&failure);
        let join = tokio::spawn(async move {
            let result = worker.run().await;
            if let Err(err) = &result {
                let first = failed.set(err.clone()).is_ok();
                assert!(first, "a worker returns once");
            }
            result
        });
        IngestHandle {
            stop_tx,
            cursor_rx,
            stats,
            failure,
            join: Some(join),
        }
    }

    /// The next offset to ingest, as committed in the KV.
    pub fn cursor(&self) -> u64 {
        *self.cursor_rx.borrow()
    }

    /// A subscription to the committed cursor. It closes when the worker stops.
    pub fn subscribe_cursor(&self) -> watch::Receiver<u64> {
        self.cursor_rx.clone()
    }

    pub fn stats(&self) -> IngestStats {
        self.stats.snapshot()
    }

    /// Whether the worker task has ended (stopped, failed, or panicked).
    pub fn is_finished(&self) -> bool {
        self.join.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// The fatal error the worker ended on, once it has (`None` while it runs, after a clean
    /// stop, or if it panicked).
    pub fn failure(&self) -> Option<IngestError> {
        self.failure.get().cloned()
    }

    /// Asks the worker to stop after the batch in flight, waits for it, and returns how it
    /// ended. The worker flushes what it committed before it returns.
    pub async fn stop(mut self) -> Result<(), IngestStopError> {
        self.stop_tx.send_replace(true);
        let Some(join) = self.join.take() else {
            return Ok(());
        };
        match join.await {
            Ok(result) => result.map_err(IngestStopError::Failed),
            Err(join_err) => Err(IngestStopError::Panicked {
                detail: join_err.to_string(),
            }),
        }
    }
}

impl Drop for IngestHandle {
    fn drop(&mut self) {
        if let Some(join) = self.join.take() {
            join.abort();
        }
    }
}

/// How a worker that was asked to stop had ended instead.
#[derive(Debug, Clone, thiserror::Error)]
pub enum IngestStopError {
    /// It had stopped on a fatal error.
    #[error("ingest worker failed: {0}")]
    Failed(#[source] IngestError),
    /// It panicked (a bug) or was cancelled.
    #[error("ingest worker panicked or was cancelled: {detail}")]
    Panicked { detail: String },
}
