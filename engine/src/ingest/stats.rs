//! Ingest counters, readable at any time from any task.
//!
//! The worker is the only writer; readers take a snapshot. Relaxed atomics suffice: each counter
//! is independent and a snapshot only has to be a recent value of each, not a consistent cut.

use std::sync::atomic::{AtomicU64, Ordering};

/// What the ingest worker has done since it started (counters restart with the process).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IngestStats {
    /// Records that changed the store: a new assertion, a counted vote, new evidence.
    pub applied: u64,
    /// Assertions and evidence already in the store (same identity hash): nothing changed.
    pub duplicates: u64,
    /// Votes by a voter who had already voted on that assertion: nothing changed.
    pub votes_ignored_repeat: u64,
    /// Dead letters written: records that failed to decode or validate, and damaged log ranges.
    pub quarantined: u64,
    /// WAL reads that failed with an I/O error (retried, never taken for the end of the log).
    pub io_errors: u64,
    /// KV calls (get, apply_batch, flush) that failed (retried).
    pub kv_errors: u64,
    /// Back-off waits taken before trying again after any failure.
    pub retries: u64,
    /// Successful KV flushes.
    pub flushes: u64,
    /// WAL segments removed below the flushed cursor.
    pub segments_truncated: u64,
    /// Reads that found the end of the log (the worker then flushes, or waits for more): an idle
    /// worker makes none, so a count that grows while nothing is written is a worker polling.
    pub end_of_log_reads: u64,
}

/// The live counters behind [`IngestStats`].
#[derive(Debug, Default)]
pub(crate) struct StatsCell {
    applied: AtomicU64,
    duplicates: AtomicU64,
    votes_ignored_repeat: AtomicU64,
    quarantined: AtomicU64,
    io_errors: AtomicU64,
    kv_errors: AtomicU64,
    retries: AtomicU64,
    flushes: AtomicU64,
    segments_truncated: AtomicU64,
    end_of_log_reads: AtomicU64,
}

/// Which counter to bump.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Counter {
    Applied,
    Duplicate,
    VoteIgnoredRepeat,
    Quarantined,
    IoError,
    KvError,
    Retry,
    Flush,
    EndOfLog,
}

impl StatsCell {
    pub(crate) fn bump(&self, counter: Counter) {
        let cell = match counter {
            Counter::Applied => &self.applied,
            Counter::Duplicate => &self.duplicates,
            Counter::VoteIgnoredRepeat => &self.votes_ignored_repeat,
            Counter::Quarantined => &self.quarantined,
            Counter::IoError => &self.io_errors,
            Counter::KvError => &self.kv_errors,
            Counter::Retry => &self.retries,
            Counter::Flush => &self.flushes,
            Counter::EndOfLog => &self.end_of_log_reads,
        };
        cell.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn add_segments_truncated(&self, n: u64) {
        self.segments_truncated.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> IngestStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        IngestStats {
            applied: get(&self.applied),
            duplicates: get(&self.duplicates),
            votes_ignored_repeat: get(&self.votes_ignored_repeat),
            quarantined: get(&self.quarantined),
            io_errors: get(&self.io_errors),
            kv_errors: get(&self.kv_errors),
            retries: get(&self.retries),
            flushes: get(&self.flushes),
            segments_truncated: get(&self.segments_truncated),
            end_of_log_reads: get(&self.end_of_log_reads),
        }
    }
}
