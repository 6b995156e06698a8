//! The `Engine` facade: one WAL writer, one KV store, one clock, and the ingest worker between
//! them.
//!
//! Write path: `submit` validates (every rule, including the future-timestamp rule against the
//! engine's `Clock`), encodes and appends to the WAL; it returns the record's offset once the
//! record is durable. Ingest applies it to the KV asynchronously; `wait_ingested` awaits that.
//!
//! Fault model: a crash (the process, or the turmoil host, dropping the runtime) takes the worker
//! task with it; `open` over the same disk and KV recovers the WAL from the KV's durable cursor and
//! resumes ingest there. Nothing here keeps state that the WAL and the KV do not. Media damage
//! that took the log's tail below the cursor is the WAL's `TailLost`: the log continues at the
//! cursor (no offset at or below it is ever reused), and `open` records the lost range as a
//! dead letter before ingest starts (see `ingest`'s module header).

mod error;
mod options;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use error::EngineError;
pub use options::EngineOptions;

use crate::ingest::{
    read_cursor, record_tail_lost, IngestError, IngestHandle, IngestShared, IngestStats,
};
use crate::io::{Clock, Vfs};
use crate::metrics::{MeteredKv, MeteredVfs, Metrics};
use crate::model::{Limits, Record, SignatureVerifier, VerifierStats};
use crate::query::QueryEngine;
use crate::storage::{CommitFence, KvStore};
use crate::wal::{RecoveryReport, Wal, WalReader};

/// A running StemeDB engine. Share it (`Arc`) between submitting tasks.
///
/// Dropping it releases the WAL at once and aborts the ingest worker at its next await point (as
/// a crash would), so the same directory can be reopened right away; `shutdown` stops the worker
/// cleanly and flushes the KV.
#[derive(Debug)]
pub struct Engine {
    vfs: Arc<dyn Vfs>,
    kv: Arc<dyn KvStore>,
    clock: Arc<dyn Clock>,
    dir: PathBuf,
    wal: Arc<Wal>,
    limits: Limits,
    /// Shared by `submit` and the ingest worker (see `SignatureVerifier`).
    verifier: Arc<SignatureVerifier>,
    /// Shared by the ingest worker and this engine's query engines (see `CommitFence`).
    fence: Arc<CommitFence>,
    ingest: IngestHandle,
    metrics: Arc<Metrics>,
}

impl Engine {
    /// Opens the WAL under `dir` (locking it and running recovery from the KV's durable ingest
    /// cursor), then spawns the ingest worker with `tokio::spawn` on the current runtime.
    /// Its metrics go to a registry of its own (`metrics`).
    pub async fn open(
        vfs: Arc<dyn Vfs>,
        kv: Arc<dyn KvStore>,
        clock: Arc<dyn Clock>,
        dir: &Path,
        options: EngineOptions,
    ) -> Result<Engine, EngineError> {
        Self::open_with_metrics(vfs, kv, clock, dir, options, Metrics::shared()).await
    }

    /// `open`, counting into `metrics`: a registry that outlives this engine (a server that
    /// reopens its engine, a simulated host that restarts) keeps counting across opens, and
    /// `wal_recoveries_total` counts each.
    #[tracing::instrument(skip(vfs, kv, clock, options, metrics), fields(dir = %dir.display(), cursor = tracing::field::Empty))]
    pub async fn open_with_metrics(
        vfs: Arc<dyn Vfs>,
        kv: Arc<dyn KvStore>,
        clock: Arc<dyn Clock>,
        dir: &Path,
        options: EngineOptions,
        metrics: Arc<Metrics>,
    ) -> Result<Engine, EngineError> {
        let vfs = MeteredVfs::wrap(vfs, Arc::clone(&clock), Arc::clone(&metrics));
        let kv = MeteredKv::wrap(kv, Arc::clone(&clock), Arc::clone(&metrics));
        let cursor = read_cursor(kv.as_ref()).await?;
        // The cursor read is the store's live value, and a store that outlived an engine in this
        // process (reopened after the WAL failed closed) may not hold it durably yet. Recovery
        // and the new worker treat it as durable (the worker truncates the log below it before
        // its first flush), so make it so: a crash must not revert the store below segments
        // already removed.
        kv.flush().await?;
        tracing::Span::current().record("cursor", cursor);
        let mut wal_options = options.wal.clone();
        // Recovery need not re-check what the KV already holds: ingest never reads below it.
        wal_options.recovery_start_offset = (cursor > 0).then_some(cursor);
        let began = clock.monotonic();
        let wal = Wal::open(Arc::clone(&vfs), dir, wal_options).await?;
        metrics.wal_recoveries.inc();
        metrics
            .wal_recovery
            .observe(clock.monotonic().saturating_sub(began).as_secs_f64());
        let wal = Arc::new(wal.with_metrics(Arc::clone(&metrics)));
        if let Some(lost) = wal.recovery_report().tail_lost {
            record_tail_lost(kv.as_ref(), lost).await?;
            metrics.dead_letter("lost_below_cursor");
        }
        let reader = WalReader::open(Arc::clone(&vfs), dir)
            .await?
            .bounded_by(wal.subscribe());
        let verifier = Arc::new(SignatureVerifier::new());
        let fence = Arc::new(CommitFence::new());
        let ingest = IngestHandle::spawn(
            Arc::clone(&kv),
            &wal,
            reader,
            cursor,
            options.ingest(),
            IngestShared {
                verifier: Arc::clone(&verifier),
                fence: Arc::clone(&fence),
                clock: Arc::clone(&clock),
                metrics: Arc::clone(&metrics),
            },
        );
        Ok(Engine {
            vfs,
            kv,
            clock,
            dir: dir.to_owned(),
            wal,
            limits: options.limits,
            verifier,
            fence,
            ingest,
            metrics,
        })
    }

    /// What WAL recovery found when this engine opened.
    pub fn recovery_report(&self) -> &RecoveryReport {
        self.wal.recovery_report()
    }

    /// Validates `record` (every rule, the timestamp against `clock.wall_ms()`), appends it to
    /// the WAL and returns its offset once it is durable. An invalid record returns its typed
    /// error and nothing is written.
    #[tracing::instrument(skip_all, fields(kind = ?record.kind(), payload_len = tracing::field::Empty, offset = tracing::field::Empty))]
    pub async fn submit(&self, record: &Record) -> Result<u64, EngineError> {
        record.validate_with(self.clock.wall_ms(), &self.limits, Some(&self.verifier))?;
        let payload = record.encode()?;
        let span = tracing::Span::current();
        span.record("payload_len", payload.len());
        let offset = self.wal.append(&payload).await?;
        span.record("offset", offset);
        Ok(offset)
    }

    /// Appends `payload` unvalidated and returns its offset once durable. For tools, and for
    /// testing that ingest quarantines hostile records.
    #[tracing::instrument(skip_all, fields(payload_len = payload.len(), offset = tracing::field::Empty))]
    pub async fn submit_raw(&self, payload: &[u8]) -> Result<u64, EngineError> {
        let offset = self.wal.append(payload).await?;
        tracing::Span::current().record("offset", offset);
        Ok(offset)
    }

    /// The offset just past the last acknowledged (durable) record.
    pub fn durable_end(&self) -> u64 {
        self.wal.durable_end()
    }

    /// The next WAL offset to ingest, as committed in the KV.
    pub fn ingest_cursor(&self) -> u64 {
        self.ingest.cursor()
    }

    /// The committed ingest cursor as a watch: it changes exactly when a batch commits, so a
    /// monitor can check each new value without polling.
    pub fn subscribe_cursor(&self) -> tokio::sync::watch::Receiver<u64> {
        self.ingest.subscribe_cursor()
    }

    /// Waits until the record at `offset` is applied or quarantined (the cursor is past it).
    /// Returns `Stopped` if the worker ends first. Unbounded: wrap it in a timeout to bound it.
    #[tracing::instrument(skip(self))]
    pub async fn wait_ingested(&self, offset: u64) -> Result<(), EngineError> {
        self.wait_cursor(|cursor| cursor > offset).await
    }

    /// Waits until ingest has caught up with the durable end as of this call, and returns it.
    #[tracing::instrument(skip(self), fields(offset = tracing::field::Empty))]
    pub async fn wait_caught_up(&self) -> Result<u64, EngineError> {
        let end = self.durable_end();
        tracing::Span::current().record("offset", end);
        self.wait_cursor(|cursor| cursor >= end).await?;
        Ok(end)
    }

    /// A condition wait on the committed cursor (no polling).
    async fn wait_cursor(&self, done: impl Fn(u64) -> bool) -> Result<(), EngineError> {
        let mut cursor = self.ingest.subscribe_cursor();
        let reached = cursor.wait_for(|&c| done(c)).await.is_ok();
        if reached {
            Ok(())
        } else {
            Err(EngineError::Stopped)
        }
    }

    /// A query engine over this engine's store and clock, fenced with its ingest worker so a
    /// query can always get a consistent read (see `CommitFence`). Make one and share it: each
    /// query engine numbers its own audit records.
    pub fn query_engine(&self) -> QueryEngine {
        QueryEngine::new(Arc::clone(&self.kv), Arc::clone(&self.clock))
            .with_commit_fence(Arc::clone(&self.fence))
    }

    /// This engine's metrics registry.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The metrics in the Prometheus text format, with the gauges (ingest lag, live segments)
    /// read now.
    pub async fn metrics_text(&self) -> String {
        let lag = self.durable_end().saturating_sub(self.ingest_cursor());
        self.metrics
            .ingest_lag
            .set(i64::try_from(lag).unwrap_or(i64::MAX));
        let segments = self.wal.segments_count().await;
        self.metrics
            .wal_segments
            .set(i64::try_from(segments).unwrap_or(i64::MAX));
        self.metrics.encode()
    }

    /// How often signature verification was answered from the verifier's cache.
    pub fn verifier_stats(&self) -> VerifierStats {
        self.verifier.stats()
    }

    /// The ingest worker's counters.
    pub fn ingest_stats(&self) -> IngestStats {
        self.ingest.stats()
    }

    /// Whether the ingest worker is still running.
    pub fn ingest_running(&self) -> bool {
        !self.ingest.is_finished()
    }

    /// Why the ingest worker ended, if it ended on a fatal error (a corrupt KV, a log truncated
    /// below the cursor). `None` while it runs.
    pub fn ingest_failure(&self) -> Option<IngestError> {
        self.ingest.failure()
    }

    pub fn kv(&self) -> &Arc<dyn KvStore> {
        &self.kv
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The WAL writer (for its durable end subscription and failure state).
    pub fn wal(&self) -> &Arc<Wal> {
        &self.wal
    }

    /// The validation bounds in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// A new reader of this engine's WAL, bound to the durable end (it returns acknowledged
    /// records only). For oracles.
    #[tracing::instrument(skip(self))]
    pub async fn wal_reader(&self) -> Result<WalReader, EngineError> {
        Ok(WalReader::open(Arc::clone(&self.vfs), &self.dir)
            .await?
            .bounded_by(self.wal.subscribe()))
    }

    /// Stops the ingest worker after the batch in flight, then flushes the KV. Returns the
    /// worker's error if it had failed, the flush's if that failed, and both if both did.
    #[tracing::instrument(skip(self))]
    pub async fn shutdown(self) -> Result<(), EngineError> {
        let Engine {
            kv, ingest, wal, ..
        } = self;
        let stopped = ingest.stop().await;
        // The worker is gone: release the WAL (and its lock) before the last flush.
        drop(wal);
        // Both are reported: a failed flush must not hide that ingest had stopped.
        match (stopped, kv.flush().await) {
            (Ok(()), Ok(())) => Ok(()),
            (Err(ingest), Ok(())) => Err(EngineError::Ingest(ingest)),
            (Ok(()), Err(kv)) => Err(EngineError::Kv(kv)),
            (Err(ingest), Err(kv)) => Err(EngineError::IngestAndKv { ingest, kv }),
        }
    }
}
