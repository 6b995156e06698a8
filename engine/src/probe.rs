//! Code probes (FoundationDB's `CODE_PROBE`, Antithesis' "sometimes" assertions): a named counter
//! at every fault-handling path of the engine, so a test run can say which of those paths it
//! reached. A path that no run reaches is a path no run tests; the simulator's CI sweep fails
//! when a declared probe never fires (`stemedb-sim sweep --require-probes`).
//!
//! Counts are kept per thread: a simulated world runs all its hosts on one thread, so a run's
//! counts are exactly its own and the same for the same seed; the simulator takes them at the
//! end of each run. In production a probe costs one thread-local increment and a `debug` event
//! on the `stemedb::probe` target.

use std::cell::RefCell;

macro_rules! probes {
    ($($(#[doc = $doc:literal])* $variant:ident = $name:literal,)*) => {
        /// A fault-handling path of the engine.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Probe {
            $($(#[doc = $doc])* $variant,)*
        }

        impl Probe {
            /// Every probe, in declaration order.
            pub const ALL: &'static [Probe] = &[$(Probe::$variant,)*];

            /// The probe's stable name, as reports show it.
            pub fn name(self) -> &'static str {
                match self {
                    $(Probe::$variant => $name,)*
                }
            }
        }
    };
}

probes! {
    /// Open found the WAL directory locked by another writer.
    WalLockRefused = "wal_lock_refused",
    /// Recovery cut a torn tail off the last segment.
    WalTornTailTruncated = "wal_torn_tail_truncated",
    /// Recovery quarantined damaged bytes followed by a valid record.
    WalMidLogQuarantined = "wal_mid_log_quarantined",
    /// Recovery found the log ending below the ingest cursor (acknowledged bytes lost).
    WalTailLostBelowCursor = "wal_tail_lost_below_cursor",
    /// A re-read verified bytes a first read did not (a transient bad read).
    WalTransientBadRead = "wal_transient_bad_read",
    /// A flush that was cancelled or failed left bytes past the acknowledged end; cut back.
    WalCancelledFlushCutBack = "wal_cancelled_flush_cut_back",
    /// A batch write failed with ENOSPC; the segment was cut back and the batch refused.
    WalStorageFullCutBack = "wal_storage_full_cut_back",
    /// A batch write failed with another I/O error; cut back and refused.
    WalWriteErrorCutBack = "wal_write_error_cut_back",
    /// A batch's sync failed: the WAL failed closed.
    WalFailedClosedOnSync = "wal_failed_closed_on_sync",
    /// An append was refused because the WAL had failed closed.
    WalAppendRefusedClosed = "wal_append_refused_closed",
    /// A batch started a new segment.
    WalSegmentRotated = "wal_segment_rotated",
    /// Segments wholly below the ingest checkpoint were removed.
    WalSegmentsRemoved = "wal_segments_removed",
    /// Ingest read the WAL and got an I/O error (retried with back-off, never taken for EOF).
    IngestReadErrorRetried = "ingest_read_error_retried",
    /// Ingest found damage with no valid record after it below the durable end: it waits for a
    /// reopen's recovery.
    IngestDamageAwaitsReopen = "ingest_damage_awaits_reopen",
    /// A KV call of ingest failed (retried with back-off).
    IngestKvErrorRetried = "ingest_kv_error_retried",
    /// Removing segments below the checkpoint failed (retried).
    IngestTruncationRetried = "ingest_truncation_retried",
    /// Dead letter: a payload this build cannot decode.
    DeadLetterDecode = "dead_letter_decode",
    /// Dead letter: a record that breaks a validation rule.
    DeadLetterInvalid = "dead_letter_invalid",
    /// Dead letter: damaged log bytes found by ingest's reader.
    DeadLetterDamagedLog = "dead_letter_damaged_log",
    /// Dead letter: a range WAL recovery quarantined, skipped by the reader.
    DeadLetterQuarantinedByWal = "dead_letter_quarantined_by_wal",
    /// Dead letter: acknowledged bytes below the cursor lost from the log.
    DeadLetterLostBelowCursor = "dead_letter_lost_below_cursor",
    /// A view older than the query's `max_stale`: the slow path answered.
    ViewStaleFallback = "view_stale_fallback",
    /// A view dated in the future of the clock (skew): the slow path answered.
    ViewFutureDatedFallback = "view_future_dated_fallback",
}

thread_local! {
    static HITS: RefCell<Vec<u64>> = RefCell::new(vec![0; Probe::ALL.len()]);
}

/// Counts one pass through `probe`'s path on this thread.
pub fn hit(probe: Probe) {
    HITS.with(|hits| {
        if let Some(n) = hits.borrow_mut().get_mut(probe as usize) {
            *n += 1;
        }
    });
    tracing::debug!(target: "stemedb::probe", probe = probe.name(), "probe");
}

/// This thread's counts since the last `take`, every probe included (zeros too), and resets
/// them.
pub fn take() -> Vec<(Probe, u64)> {
    HITS.with(|hits| {
        let mut hits = hits.borrow_mut();
        let counts = Probe::ALL
            .iter()
            .map(|&p| (p, hits.get(p as usize).copied().unwrap_or(0)))
            .collect();
        hits.iter_mut().for_each(|n| *n = 0);
        counts
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_snake_case() {
        let mut names: Vec<&str> = Probe::ALL.iter().map(|p| p.name()).collect();
        assert!(names
            .iter()
            .all(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '_')));
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Probe::ALL.len());
    }

    #[test]
    fn counts_are_per_thread_and_taking_resets_them() {
        let _ = take();
        hit(Probe::WalSegmentRotated);
        hit(Probe::WalSegmentRotated);
        let other = std::thread::spawn(|| {
            hit(Probe::ViewStaleFallback);
            take()
        })
        .join()
        .expect("thread");
        let ours = take();
        let count = |counts: &[(Probe, u64)], p| counts.iter().find(|(q, _)| *q == p).map(|c| c.1);
        assert_eq!(count(&ours, Probe::WalSegmentRotated), Some(2));
        assert_eq!(count(&ours, Probe::ViewStaleFallback), Some(0));
        assert_eq!(count(&other, Probe::ViewStaleFallback), Some(1));
        assert_eq!(ours.len(), Probe::ALL.len());
        assert!(take().iter().all(|(_, n)| *n == 0), "taken means reset");
    }
}
