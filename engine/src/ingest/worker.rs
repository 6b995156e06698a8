//! The ingest loop: tail the WAL from the cursor, apply a run of records as one atomic batch,
//! flush, truncate the WAL below what the KV holds durably.
//!
//! Fault model, and the rule that answers each case:
//! - crash at any point (process or power): a run of records' writes and the cursor that moves
//!   past the last of them commit in ONE `apply_batch` (`commit`), so after a crash the store
//!   holds a prefix of the log applied exactly once and the cursor says where that prefix ends;
//!   ingest resumes there;
//! - a record not yet durable in the WAL: the reader is bound to the writer's durable end, so the
//!   cursor never passes bytes a crash could take away;
//! - a KV crash reverting to its last flush: the WAL is truncated only below a cursor that a
//!   successful `flush` made durable, so the records the KV lost are still in the log;
//! - a bad record (undecodable, invalid) or damaged log bytes: a dead letter in `Q:` with the
//!   reason, committed with the cursor advance; the worker never stops on input;
//! - a failed WAL read or KV call: retried with exponential back-off, counted and logged; a read
//!   error is never taken for the end of the log and never moves the cursor;
//! - end of log: await the durable end's growth (no polling).

use std::future::Future;
use std::sync::{Arc, Weak};

use tokio::sync::watch;

use super::apply::{plan_record, Outcome, Overlay, Planned};
use super::backoff::Backoff;
use super::error::IngestError;
use super::options::IngestOptions;
use super::stats::{Counter, StatsCell};
use super::validate::{decode_run, Rejection};
use crate::io::Clock;
use crate::metrics::Metrics;
use crate::model::SignatureVerifier;
use crate::storage::keys::INGEST_CURSOR_KEY;
use crate::storage::CommitFence;
use crate::storage::{KvError, KvStore, WriteBatch};
use crate::wal::{DurableEnd, ReadOutcome, Wal, WalError, WalReader, WalRecord};

/// Everything the worker task owns.
pub(crate) struct Worker {
    pub(crate) kv: Arc<dyn KvStore>,
    /// Weak: the engine owns the writer, so dropping the engine releases the WAL (and its lock)
    /// at once, even before this task is torn down; the durable-end subscription then closes and
    /// the worker ends.
    pub(crate) wal: Weak<Wal>,
    /// Bound to `durable`: never returns a record at or past the durable end.
    pub(crate) reader: WalReader,
    pub(crate) durable: DurableEnd,
    pub(crate) options: IngestOptions,
    /// Shared with the engine's `submit`: what it verified is not verified again here.
    pub(crate) verifier: Arc<SignatureVerifier>,
    /// Threads a batch's signatures are verified on (`IngestOptions::verify_threads` resolved).
    pub(crate) verify_threads: usize,
    /// Shared with the engine's query engines (see `CommitFence`).
    pub(crate) fence: Arc<CommitFence>,
    /// Back-off waits run on it (simulated time in simulation).
    pub(crate) clock: Arc<dyn Clock>,
    /// Dead letters are counted here once the batch that holds them committed.
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) stats: Arc<StatsCell>,
    /// The next offset to ingest, as committed in the KV (the watch publishes it).
    pub(crate) cursor: u64,
    pub(crate) cursor_tx: watch::Sender<u64>,
    /// The cursor the last successful flush made durable; the WAL may be cut below it.
    pub(crate) flushed_cursor: u64,
    /// Records (and dead letters for damage) committed since the last successful flush.
    pub(crate) unflushed: u64,
    /// What the read after a batch's last record returned (and the durable end seen before it),
    /// when it was not a record: the read at the new cursor, already made. Acted on next, rather
    /// than read again, so every end of the log reached is reached once.
    pub(crate) lookahead: Option<(Result<ReadOutcome, WalError>, u64)>,
    /// Segments wholly below `flushed_cursor` may remain: the last truncation failed, or this
    /// worker has just started (the process before may have died between its flush and its
    /// truncation, or a crash undone its removals). With nothing new to ingest, the truncation is
    /// made (retried, backing off) rather than left for the next flush, which an idle engine may
    /// never make.
    pub(crate) truncation_due: bool,
    pub(crate) stop: watch::Receiver<bool>,
}

/// Why a wait ended.
enum Waited<T> {
    Done(T),
    Stopped,
}

/// Runs `fut` unless a stop is requested first (or the engine is gone).
async fn unless_stopped<F: Future>(stop: &mut watch::Receiver<bool>, fut: F) -> Waited<F::Output> {
    tokio::select! {
        biased;
        _ = stop.wait_for(|&stop| stop) => Waited::Stopped,
        out = fut => Waited::Done(out),
    }
}

impl Worker {
    /// The loop. Returns `Ok` when stopped, `Err` on a state it cannot make progress from.
    pub(crate) async fn run(mut self) -> Result<(), IngestError> {
        let mut backoff = Backoff::new(self.options.backoff_min, self.options.backoff_max);
        tracing::info!(cursor = self.cursor, "ingest worker started");
        while !self.stop_requested() {
            let (read, seen_end) = match self.lookahead.take() {
                Some(made) => made,
                None => {
                    // Taken before the read: if the log grows during the read, the wait below
                    // returns at once instead of missing the wake-up.
                    let seen_end = self.durable.get();
                    (self.reader.read_at(self.cursor).await, seen_end)
                }
            };
            if matches!(read, Ok(ReadOutcome::EndOfLog)) {
                self.stats.bump(Counter::EndOfLog);
            }
            let step = match read {
                Ok(ReadOutcome::Record(record)) => {
                    let run = self.read_run(record).await;
                    self.ingest(run).await
                }
                Ok(ReadOutcome::EndOfLog) if self.unflushed > 0 => self.flush().await,
                Ok(ReadOutcome::EndOfLog) if self.truncation_due => self.truncate().await,
                Ok(ReadOutcome::EndOfLog) => self.wait_for_log(seen_end).await,
                Err(err) => self.read_failed(err).await?,
            };
            let step = match step {
                Step::Committed(records) => {
                    self.unflushed += records;
                    if self.unflushed >= self.options.flush_every_records.max(1) {
                        self.flush().await
                    } else {
                        Step::Progress
                    }
                }
                other => other,
            };
            match step {
                Step::Committed(_) | Step::Progress | Step::Flushed => backoff.reset(),
                Step::Failed => self.back_off(&mut backoff).await,
                Step::Stopped => break,
                Step::Fatal(err) => return Err(err),
            }
        }
        if self.unflushed > 0 {
            // Best effort: what is not flushed is re-ingested after a crash, exactly once.
            let _ = self.flush().await;
        }
        tracing::info!(cursor = self.cursor, "ingest worker stopped");
        Ok(())
    }

    fn stop_requested(&self) -> bool {
        *self.stop.borrow() || self.stop.has_changed().is_err()
    }

    async fn back_off(&mut self, backoff: &mut Backoff) {
        self.stats.bump(Counter::Retry);
        let delay = backoff.next_delay();
        // A stop during the wait ends it early; the loop condition then sees the stop.
        let _ = unless_stopped(&mut self.stop, self.clock.sleep(delay)).await;
    }

    /// Caught up: wait until the durable end moves past what was seen before the read.
    async fn wait_for_log(&mut self, seen_end: u64) -> Step {
        let beyond = seen_end.max(self.cursor);
        match unless_stopped(&mut self.stop, self.durable.wait_beyond(beyond)).await {
            Waited::Done(Some(_)) => Step::Progress,
            // The writer is gone: nothing more will be logged.
            Waited::Done(None) | Waited::Stopped => Step::Stopped,
        }
    }

    /// `first` and the records after it, up to the batch bounds: at most `batch_records_max`
    /// records and `batch_bytes_max` payload bytes, and never more than the flush cadence has
    /// room for (so a crash still re-ingests at most `flush_every_records`). Stops at a stop
    /// request, and at the first read that is not a record, which it keeps in `lookahead` for
    /// after the commit.
    async fn read_run(&mut self, first: WalRecord) -> Vec<WalRecord> {
        let room = self
            .options
            .flush_every_records
            .max(1)
            .saturating_sub(self.unflushed)
            .max(1);
        let records_max = usize::try_from(room)
            .unwrap_or(usize::MAX)
            .min(self.options.batch_records_max.max(1));
        let mut bytes = first.payload.len();
        let mut next = first.next_offset;
        let mut run = vec![first];
        // A stop ends the run where it is: a shutdown finishes the batch in flight, never the
        // backlog behind it.
        while run.len() < records_max
            && bytes < self.options.batch_bytes_max
            && !self.stop_requested()
        {
            let seen_end = self.durable.get();
            match self.reader.read_at(next).await {
                Ok(ReadOutcome::Record(record)) => {
                    bytes += record.payload.len();
                    next = record.next_offset;
                    run.push(record);
                }
                other => {
                    self.lookahead = Some((other, seen_end));
                    break;
                }
            }
        }
        run
    }

    /// Plans a run of consecutive records and commits them with the cursor past the last, as
    /// ONE batch. Each is planned over the writes of the ones before it (see `Overlay`).
    #[tracing::instrument(skip_all, fields(
        offset = run.first().map(|r| r.offset),
        records = run.len(),
    ))]
    async fn ingest(&mut self, run: Vec<WalRecord>) -> Step {
        let Some(next_cursor) = run.last().map(|r| r.next_offset) else {
            return Step::Progress;
        };
        let payloads: Vec<&[u8]> = run.iter().map(|r| r.payload.as_slice()).collect();
        let decoded = decode_run(
            &payloads,
            &self.options.limits,
            Some(&self.verifier),
            self.verify_threads,
        );
        let mut planned = Vec::with_capacity(run.len());
        {
            let mut overlay = Overlay::new(self.kv.as_ref());
            for (record, decoded) in run.iter().zip(decoded) {
                match plan_record(&overlay, record, decoded).await {
                    Ok(plan) => {
                        overlay.stage(&plan.batch);
                        planned.push((plan, record.offset, record.next_offset));
                    }
                    Err(err) => {
                        // The read-ahead belongs to a cursor this batch never reached.
                        self.lookahead = None;
                        return self.kv_failed("plan", err);
                    }
                }
            }
        }
        self.commit_after_skipped(planned, next_cursor).await
    }

    /// Commits `planned` (each for the log from its offset to its end, in log order) with the
    /// cursor moved to `next_cursor`. Where the reader skipped a range that WAL recovery
    /// quarantined to reach an offset, the same batch leaves a dead letter for it too, so the KV's
    /// quarantine lists every byte range ingest did not apply, whatever comes after the range: a
    /// record, or more damage.
    async fn commit_after_skipped(
        &mut self,
        planned: Vec<(Planned, u64, u64)>,
        next_cursor: u64,
    ) -> Step {
        let records = planned.len() as u64;
        let mut batch = WriteBatch::new();
        let mut outcomes = Vec::with_capacity(planned.len());
        let mut from = self.cursor;
        for (plan, offset, end) in planned {
            if offset > from {
                let skipped = Planned::quarantine(
                    from,
                    Rejection::QuarantinedByWal {
                        start: from,
                        end: offset,
                    },
                );
                batch.ops.extend(skipped.batch.ops);
                outcomes.push((skipped.outcome, from));
            }
            batch.ops.extend(plan.batch.ops);
            outcomes.push((plan.outcome, offset));
            from = end;
        }
        match self.commit(batch, next_cursor).await {
            Ok(()) => {
                for (outcome, offset) in &outcomes {
                    self.count(outcome, *offset);
                }
                Step::Committed(records)
            }
            Err(err) => {
                self.lookahead = None;
                self.kv_failed("apply_batch", err)
            }
        }
    }

    fn count(&self, outcome: &Outcome, offset: u64) {
        let counter = match outcome {
            Outcome::Applied => Counter::Applied,
            Outcome::Duplicate => Counter::Duplicate,
            Outcome::VoteIgnoredRepeat => Counter::VoteIgnoredRepeat,
            Outcome::Quarantined(reason) => {
                crate::probe::hit(reason.probe());
                self.metrics.dead_letter(reason.label());
                tracing::warn!(offset, %reason, "record quarantined");
                Counter::Quarantined
            }
        };
        self.stats.bump(counter);
    }

    /// Commits a record's writes and the cursor past it as ONE atomic batch. This is the whole
    /// of exactly-once: were the cursor committed apart from the data, a crash between the two
    /// would either skip the record (cursor first) or apply it twice (data first).
    async fn commit(&mut self, mut batch: WriteBatch, next_cursor: u64) -> Result<(), KvError> {
        // Exactly-once and durability both rest on these: a cursor that moves back applies
        // records twice; one past the durable end applies records a crash can still take away.
        assert!(next_cursor > self.cursor, "the cursor only moves forward");
        assert!(
            next_cursor <= self.durable.get(),
            "the cursor never passes the durable end"
        );
        batch.put(INGEST_CURSOR_KEY, next_cursor.to_be_bytes().to_vec());
        {
            // A query reading under the fence sees no commit start until it is done.
            let _permit = self.fence.committing().await;
            self.kv.apply_batch(batch).await?;
        }
        self.cursor = next_cursor;
        self.cursor_tx.send_replace(next_cursor);
        Ok(())
    }

    fn kv_failed(&self, op: &'static str, err: KvError) -> Step {
        self.stats.bump(Counter::KvError);
        if let KvError::Corrupt(detail) = &err {
            tracing::error!(op, %detail, "KV store corrupt: ingest stops");
            return Step::Fatal(IngestError::KvCorrupt {
                detail: detail.clone(),
            });
        }
        crate::probe::hit(crate::probe::Probe::IngestKvErrorRetried);
        tracing::warn!(op, error = %err, cursor = self.cursor, "KV call failed; will retry");
        Step::Failed
    }

    /// Decides what a failed read means. `Err` only for a state no retry can fix.
    async fn read_failed(&mut self, err: WalError) -> Result<Step, IngestError> {
        match err {
            WalError::Corrupt {
                offset,
                defect,
                next_valid: Some(next_valid),
            } => {
                // Damaged bytes below the durable end, followed by a valid record. Never skip past
                // the durable end: past it lie bytes a crash could still take away.
                let end = next_valid.min(self.durable.get());
                // The reader reports damage only below the durable end, which never shrinks,
                // and a valid record only after the damage: retrying could never change this.
                assert!(
                    end > offset,
                    "damage at {offset} must lie below both the next valid record and the durable end {end}"
                );
                let reason = Rejection::DamagedLog {
                    start: offset,
                    end,
                    defect,
                };
                tracing::error!(%reason, "damaged WAL range quarantined by ingest");
                let planned = Planned::quarantine(offset, reason);
                Ok(self
                    .commit_after_skipped(vec![(planned, offset, end)], end)
                    .await)
            }
            WalError::Corrupt { offset, defect, .. } => {
                // Nowhere known to resume: wait; a reopen's recovery will quarantine the range.
                crate::probe::hit(crate::probe::Probe::IngestDamageAwaitsReopen);
                tracing::error!(offset, %defect, "damaged WAL bytes with no valid record after them; retrying");
                Ok(Step::Failed)
            }
            err @ WalError::Truncated { .. } => Err(IngestError::LogTruncated {
                cursor: self.cursor,
                source: err,
            }),
            err => {
                self.stats.bump(Counter::IoError);
                crate::probe::hit(crate::probe::Probe::IngestReadErrorRetried);
                tracing::warn!(cursor = self.cursor, error = %err, "WAL read failed; will retry");
                Ok(Step::Failed)
            }
        }
    }

    /// Makes every committed batch durable, then lets the WAL drop what lies wholly below.
    async fn flush(&mut self) -> Step {
        if let Err(err) = self.kv.flush().await {
            return self.kv_failed("flush", err);
        }
        self.stats.bump(Counter::Flush);
        self.unflushed = 0;
        // Only now is `cursor` durable in the KV: a crash can no longer revert below it.
        self.flushed_cursor = self.cursor;
        // A failed truncation is harmless here: the segments stay until it is retried.
        let _ = self.truncate().await;
        Step::Flushed
    }

    /// Lets the WAL drop every segment wholly below what the KV holds durably.
    async fn truncate(&mut self) -> Step {
        let Some(wal) = self.wal.upgrade().filter(|_| self.options.truncate_wal) else {
            self.truncation_due = false;
            return Step::Progress;
        };
        match wal.truncate_below(self.flushed_cursor).await {
            Ok(removed) => {
                self.stats.add_segments_truncated(removed as u64);
                self.truncation_due = false;
                Step::Progress
            }
            Err(err) => {
                crate::probe::hit(crate::probe::Probe::IngestTruncationRetried);
                tracing::warn!(error = %err, "WAL truncation failed; will retry");
                self.truncation_due = true;
                Step::Failed
            }
        }
    }
}

/// What one step of the loop did.
enum Step {
    /// A batch of this many records (or dead letters for damage) was committed.
    Committed(u64),
    /// The KV was flushed.
    Flushed,
    /// Made progress that needs no flush (woke up to new log, or committed below the flush
    /// threshold).
    Progress,
    /// Something failed; back off and try again.
    Failed,
    /// A stop was requested, or the writer is gone.
    Stopped,
    Fatal(IngestError),
}
