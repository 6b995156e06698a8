//! The single writer: open (lock + recovery), append with group commit, truncate below a
//! checkpoint.
//!
//! Fault model: a second writer on the same directory would interleave records and truncate each
//! other's tails, so the directory lock is taken before recovery touches anything. An append is
//! acknowledged only after `sync_data` of its bytes returned `Ok`; a failed sync fails the WAL
//! closed (see `active.rs`), and ENOSPC fails only the batch. Concurrent appenders share one write
//! and one sync per batch through the leader/follower protocol in `commit.rs`, with no background
//! task, so it runs the same on a current-thread runtime, a `LocalSet` and a multi-thread runtime.
//! A directory the WAL creates (and every ancestor it had to create) is not durable until its
//! parent is synced, so `open` syncs the parent of every level it created before anything else.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::{watch, Mutex as AsyncMutex};

use super::active::{ActiveLog, FlushError};
use super::commit::{answer, CommitQueue, FollowerTicket, LeaderGuard, Role, Wake};
use super::durable::DurableEnd;
use super::error::{FailCause, WalError};
use super::record::{self, RECORD_ALIGN_BYTES, RECORD_HEADER_BYTES, RECORD_PAYLOAD_BYTES_MAX};
use super::recovery::{recover, RecoveryReport};
use super::salt::SaltSource;
use crate::io::{Vfs, VfsLock};
use crate::metrics::Metrics;

/// Name of the lock file in the WAL directory.
pub const LOCK_FILE_NAME: &str = "LOCK";
/// Default segment size limit (64 MiB).
pub const SEGMENT_BYTES_MAX_DEFAULT: u64 = 64 << 20;
/// Default limit on the bytes one group-commit batch writes (4 MiB).
pub const BATCH_BYTES_MAX_DEFAULT: u64 = 4 << 20;

/// Writer options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalOptions {
    /// A segment is rotated when the next record would take it past this size. A single record
    /// larger than this gets a segment of its own.
    pub segment_bytes_max: u64,
    /// The most bytes one group-commit batch writes (at least one record is always written).
    pub batch_bytes_max: u64,
    /// Recovery scans from this offset (the ingest checkpoint, a record boundary) instead of the
    /// first segment. No append ever gets an offset below it: if the log ends below it (its tail
    /// was lost), the log continues at it (see `RecoveryReport::tail_lost`).
    pub recovery_start_offset: Option<u64>,
    /// Where segment salts come from. `None` (production): a fresh key from the OS per open.
    /// `Some(seed)`: derived from the seed, for reproducible simulation; give every open (boot)
    /// its own seed, or a segment re-created at the same base gets its predecessor's salt.
    pub salt_seed: Option<u64>,
}

impl Default for WalOptions {
    fn default() -> Self {
        Self {
            segment_bytes_max: SEGMENT_BYTES_MAX_DEFAULT,
            batch_bytes_max: BATCH_BYTES_MAX_DEFAULT,
            recovery_start_offset: None,
            salt_seed: None,
        }
    }
}

impl WalOptions {
    fn validate(&self) -> Result<(), WalError> {
        if self.segment_bytes_max < RECORD_HEADER_BYTES as u64 {
            return Err(WalError::InvalidOptions(
                "segment_bytes_max is smaller than a record header",
            ));
        }
        if self.batch_bytes_max == 0 {
            return Err(WalError::InvalidOptions("batch_bytes_max is zero"));
        }
        if self
            .recovery_start_offset
            .is_some_and(|start| !start.is_multiple_of(RECORD_ALIGN_BYTES))
        {
            return Err(WalError::InvalidOptions(
                "recovery_start_offset is not a record boundary (8-aligned)",
            ));
        }
        Ok(())
    }
}

/// The write-ahead log's single writer. Share it (`Arc`/`Rc`) between appending tasks.
#[derive(Debug)]
pub struct Wal {
    vfs: Arc<dyn Vfs>,
    dir: PathBuf,
    options: WalOptions,
    queue: CommitQueue,
    active: AsyncMutex<ActiveLog>,
    durable: watch::Sender<u64>,
    report: RecoveryReport,
    /// Appends, bytes, errors and group-commit batch sizes; a registry of its own unless the
    /// engine hands it one (`with_metrics`).
    metrics: Arc<Metrics>,
    _lock: Box<dyn VfsLock>,
}

impl Wal {
    /// Locks `dir` (creating it and its missing ancestors if needed, durably), recovers it and
    /// opens it for appending.
    #[tracing::instrument(skip(vfs, options), fields(dir = %dir.display(), recovery_start_offset = ?options.recovery_start_offset, seeded = options.salt_seed.is_some()))]
    pub async fn open(vfs: Arc<dyn Vfs>, dir: &Path, options: WalOptions) -> Result<Wal, WalError> {
        options.validate()?;
        let salts = SaltSource::new(options.salt_seed)?;
        create_dir_durably(vfs.as_ref(), dir).await?;
        let lock_path = dir.join(LOCK_FILE_NAME);
        let lock = match vfs.lock(&lock_path).await {
            Ok(lock) => lock,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                crate::probe::hit(crate::probe::Probe::WalLockRefused);
                return Err(WalError::Locked {
                    dir: dir.to_owned(),
                });
            }
            Err(e) => return Err(WalError::io("lock", lock_path, e)),
        };
        let (active, report) = recover(
            &vfs,
            dir,
            options.segment_bytes_max,
            options.recovery_start_offset,
            salts,
        )
        .await?;
        tracing::info!(
            end_offset = report.end_offset,
            records = report.records_valid,
            torn = report.torn_tail.is_some(),
            tail_lost = ?report.tail_lost,
            quarantined_new = report.quarantined_new.len(),
            "WAL recovered"
        );
        let (durable, _) = watch::channel(active.end_offset());
        Ok(Wal {
            vfs,
            dir: dir.to_owned(),
            options,
            queue: CommitQueue::default(),
            active: AsyncMutex::new(active),
            durable,
            report,
            metrics: Metrics::shared(),
            _lock: lock,
        })
    }

    /// Counts this writer's appends into `metrics` (the engine's registry).
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Wal {
        self.metrics = metrics;
        self
    }

    /// How many segments are live (the active one included).
    pub async fn segments_count(&self) -> usize {
        self.active.lock().await.segments_count()
    }

    /// What recovery found when this WAL was opened.
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.report
    }

    /// The WAL directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The offset just past the last acknowledged record.
    pub fn durable_end(&self) -> u64 {
        *self.durable.borrow()
    }

    /// A subscription to the durable end, for readers in this process.
    pub fn subscribe(&self) -> DurableEnd {
        DurableEnd::new(self.durable.subscribe())
    }

    /// Why the WAL failed closed, if it did.
    pub fn failure(&self) -> Option<FailCause> {
        self.queue.failure()
    }

    /// Appends one record and returns its offset once it is durable. Concurrent calls share one
    /// write and one `sync_data`.
    #[tracing::instrument(skip_all, fields(payload_len = payload.len(), offset = tracing::field::Empty))]
    pub async fn append(&self, payload: &[u8]) -> Result<u64, WalError> {
        let result = self.append_counted(payload).await;
        match &result {
            Ok(offset) => {
                tracing::Span::current().record("offset", offset);
                self.metrics.wal_appends.inc();
                self.metrics.wal_append_bytes.inc_by(payload.len() as u64);
            }
            Err(err) => self.metrics.wal_error(err.kind_label()),
        }
        result
    }

    async fn append_counted(&self, payload: &[u8]) -> Result<u64, WalError> {
        if payload.len() > RECORD_PAYLOAD_BYTES_MAX as usize {
            return Err(WalError::RecordTooLarge {
                payload_len: payload.len(),
                max_bytes: RECORD_PAYLOAD_BYTES_MAX,
            });
        }
        match self.queue.enqueue(payload.to_vec())? {
            Role::Leader => self.lead().await,
            Role::Follower(rx) => match FollowerTicket::new(&self.queue, rx).wait().await {
                Wake::Done(result) => result,
                Wake::Lead => self.lead().await,
            },
        }
    }

    /// Flushes one batch led by the caller, whose record is first in the queue.
    #[tracing::instrument(skip_all, fields(batch_len = tracing::field::Empty, batch_bytes = tracing::field::Empty))]
    async fn lead(&self) -> Result<u64, WalError> {
        let mut guard = LeaderGuard::new(&self.queue);
        // Let every appender that is ready to run queue its record before the batch is cut, so
        // that one sync serves them all even where the disk call itself never yields.
        tokio::task::yield_now().await;
        let mut active = self.active.lock().await;
        if let Err(cause) = active.repair().await {
            return Err(self.fail_closed(guard, cause));
        }
        let first_bytes = self.queue.front_frame_bytes().unwrap_or(0);
        let (rotate, room) = active.plan(first_bytes);
        let mut batch = self
            .queue
            .take_batch(room.min(self.options.batch_bytes_max));
        let payloads: Vec<Vec<u8>> = batch
            .iter_mut()
            .map(|pending| std::mem::take(&mut pending.payload))
            .collect();
        let span = tracing::Span::current();
        span.record("batch_len", batch.len());
        guard.hold(batch);
        let mut starts = Vec::with_capacity(payloads.len());
        let flushed = async {
            if rotate {
                active.rotate().await?;
            }
            // Frames name their own offset and the segment's salt, so they are built only now
            // that both are known.
            let (start, salt) = (active.end_offset(), active.salt());
            let total: u64 = payloads
                .iter()
                .map(|p| record::framed_bytes(p.len() as u32))
                .sum();
            let mut bytes = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
            for payload in &payloads {
                let at = bytes.len() as u64;
                starts.push(at);
                record::encode_into(&mut bytes, payload, start + at, salt);
            }
            span.record("batch_bytes", bytes.len());
            active
                .write_durably(&bytes)
                .await
                .map(|at| (at, bytes.len() as u64))
        }
        .await;
        let batch = guard.release();
        let results: Vec<Result<u64, WalError>> = match flushed {
            Ok((start, len)) => {
                let end = start + len;
                // What must never happen, checked where it would: a batch that does not begin
                // exactly at the durable end leaves a gap or overwrites acknowledged records; an
                // acknowledgement outside the bytes just synced, or a record of the batch without
                // one, tells a writer its record is durable when it is not.
                assert_eq!(
                    start,
                    *self.durable.borrow(),
                    "a batch must begin exactly at the durable end"
                );
                assert_eq!(end, active.end_offset(), "the synced batch ends the log");
                assert_eq!(
                    starts.len(),
                    batch.len(),
                    "every record of the batch was framed"
                );
                assert!(
                    starts.iter().all(|&rel| rel < len),
                    "every acknowledged offset lies inside the synced bytes"
                );
                self.durable.send_replace(end);
                self.metrics
                    .wal_group_commit_records
                    .observe(batch.len() as f64);
                starts.iter().map(|rel| Ok(start + rel)).collect()
            }
            Err(FlushError::Failed(err)) => vec![Err(err); batch.len()],
            Err(FlushError::Closed(cause)) => {
                tracing::error!(%cause, "WAL failing closed");
                self.queue.fail_closed(cause.clone());
                vec![Err(WalError::FailedClosed { cause }); batch.len()]
            }
        };
        drop(active);
        let own = results
            .first()
            .cloned()
            .unwrap_or(Err(WalError::FlushInterrupted));
        answer(batch, results);
        guard.finish();
        own
    }

    fn fail_closed(&self, guard: LeaderGuard<'_>, cause: FailCause) -> WalError {
        tracing::error!(%cause, "WAL failing closed");
        self.queue.fail_closed(cause.clone());
        guard.finish();
        WalError::FailedClosed { cause }
    }

    /// Removes every segment that lies wholly below `checkpoint_offset` (never the active one).
    /// Returns how many were removed.
    #[tracing::instrument(skip(self))]
    pub async fn truncate_below(&self, checkpoint_offset: u64) -> Result<usize, WalError> {
        let victims = self.active.lock().await.detach_below(checkpoint_offset);
        // Oldest first, so a crash part-way leaves a contiguous suffix of the log.
        for (at, victim) in victims.iter().enumerate() {
            let path = victim.path(&self.dir);
            match self.vfs.remove(&path).await {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => {
                    // The rest are still on disk: they go back to the front of the live list, so
                    // the next truncation removes them first. Forgotten, they would outlive every
                    // younger segment the next truncations remove, and leave a hole in the log.
                    self.active.lock().await.reattach(&victims[at..]);
                    return Err(WalError::io("remove", path, e));
                }
            }
        }
        if !victims.is_empty() {
            crate::probe::hit(crate::probe::Probe::WalSegmentsRemoved);
            self.vfs
                .sync_dir(&self.dir)
                .await
                .map_err(|e| WalError::io("sync_dir", &self.dir, e))?;
        }
        Ok(victims.len())
    }
}

/// Creates `dir` and any missing ancestors, then makes each created level's entry durable by
/// syncing its parent (shallowest first). The parent of `dir` is synced even when `dir` existed:
/// a process that created it may have crashed before its own sync.
async fn create_dir_durably(vfs: &dyn Vfs, dir: &Path) -> Result<(), WalError> {
    let mut created = Vec::new();
    for level in dir.ancestors().filter(|l| !l.as_os_str().is_empty()) {
        match vfs.list(level).await {
            Ok(_) => break,
            Err(e) if e.kind() == ErrorKind::NotFound => created.push(level),
            Err(e) => return Err(WalError::io("list", level, e)),
        }
    }
    vfs.create_dir_all(dir)
        .await
        .map_err(|e| WalError::io("create_dir_all", dir, e))?;
    if created.is_empty() {
        created.push(dir);
    }
    for level in created.iter().rev() {
        let Some(parent) = level.parent() else {
            // The root has no entry of its own to make durable.
            continue;
        };
        // A relative path's first level lives in the working directory.
        let parent = if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        };
        vfs.sync_dir(parent)
            .await
            .map_err(|e| WalError::io("sync_dir", parent, e))?;
    }
    Ok(())
}
