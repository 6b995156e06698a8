//! The single writer: open (lock + recovery), append with group commit, truncate below a
//! checkpoint.
//!
//! Fault model: a second writer on the same directory would interleave records and truncate each
//! other's tails, so the directory lock is taken before recovery touches anything. An append is
//! acknowledged only after `sync_data` of its bytes returned `Ok`; a failed sync fails the WAL
//! closed (see `active.rs`), and ENOSPC fails only the batch. Concurrent appenders share one write
//! and one sync per batch through the leader/follower protocol in `commit.rs`, with no background
//! task, so it runs the same on a current-thread runtime, a `LocalSet` and a multi-thread runtime.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::{watch, Mutex as AsyncMutex};

use super::active::{ActiveLog, FlushError};
use super::commit::{answer, CommitQueue, FollowerTicket, LeaderGuard, Role, Wake};
use super::durable::DurableEnd;
use super::error::{FailCause, WalError};
use super::record::{self, RECORD_HEADER_BYTES, RECORD_PAYLOAD_BYTES_MAX};
use super::recovery::{recover, RecoveryReport};
use super::segment::segment_path;
use crate::io::{Vfs, VfsLock};

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
    /// first segment.
    pub recovery_start_offset: Option<u64>,
}

impl Default for WalOptions {
    fn default() -> Self {
        Self {
            segment_bytes_max: SEGMENT_BYTES_MAX_DEFAULT,
            batch_bytes_max: BATCH_BYTES_MAX_DEFAULT,
            recovery_start_offset: None,
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
    _lock: Box<dyn VfsLock>,
}

impl Wal {
    /// Locks `dir` (creating it if needed), recovers it and opens it for appending.
    #[tracing::instrument(skip(vfs, options), fields(dir = %dir.display()))]
    pub async fn open(vfs: Arc<dyn Vfs>, dir: &Path, options: WalOptions) -> Result<Wal, WalError> {
        options.validate()?;
        vfs.create_dir_all(dir)
            .await
            .map_err(|e| WalError::io("create_dir_all", dir, e))?;
        // If the directory was just created, its own entry is not durable until its parent is
        // synced; without this a power loss could take the whole log with it.
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            vfs.sync_dir(parent)
                .await
                .map_err(|e| WalError::io("sync_dir", parent, e))?;
        }
        let lock_path = dir.join(LOCK_FILE_NAME);
        let lock = match vfs.lock(&lock_path).await {
            Ok(lock) => lock,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                return Err(WalError::Locked {
                    dir: dir.to_owned(),
                })
            }
            Err(e) => return Err(WalError::io("lock", lock_path, e)),
        };
        let (active, report) = recover(
            &vfs,
            dir,
            options.segment_bytes_max,
            options.recovery_start_offset,
        )
        .await?;
        tracing::info!(
            end_offset = report.end_offset,
            records = report.records_valid,
            torn = report.torn_tail.is_some(),
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
            _lock: lock,
        })
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
        if payload.len() > RECORD_PAYLOAD_BYTES_MAX as usize {
            return Err(WalError::RecordTooLarge {
                payload_len: payload.len(),
                max_bytes: RECORD_PAYLOAD_BYTES_MAX,
            });
        }
        let frame = record::encode(payload);
        let result = match self.queue.enqueue(frame)? {
            Role::Leader => self.lead().await,
            Role::Follower(rx) => match FollowerTicket::new(&self.queue, rx).wait().await {
                Wake::Done(result) => result,
                Wake::Lead => self.lead().await,
            },
        };
        if let Ok(offset) = &result {
            tracing::Span::current().record("offset", offset);
        }
        result
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
        let mut bytes = Vec::with_capacity(batch.iter().map(|p| p.frame.len()).sum());
        let mut starts = Vec::with_capacity(batch.len());
        for pending in &mut batch {
            starts.push(bytes.len() as u64);
            bytes.append(&mut pending.frame);
        }
        let span = tracing::Span::current();
        span.record("batch_len", batch.len());
        span.record("batch_bytes", bytes.len());
        guard.hold(batch);
        let flushed = async {
            if rotate {
                active.rotate().await?;
            }
            active.write_durably(&bytes).await
        }
        .await;
        let batch = guard.release();
        let results: Vec<Result<u64, WalError>> = match flushed {
            Ok(start) => {
                self.durable.send_replace(start + bytes.len() as u64);
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
        for &base in &victims {
            let path = segment_path(&self.dir, base);
            match self.vfs.remove(&path).await {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(WalError::io("remove", path, e)),
            }
        }
        if !victims.is_empty() {
            self.vfs
                .sync_dir(&self.dir)
                .await
                .map_err(|e| WalError::io("sync_dir", &self.dir, e))?;
        }
        Ok(victims.len())
    }
}
