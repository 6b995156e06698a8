//! Snapshot-consistent slow-path reads on a store without snapshots: optimistic reads validated
//! by the ingest cursor.
//!
//! A slow-path read is several KV calls (one index scan, then for each candidate an answer rests
//! on the assertion and its two vote counters), with awaits between them, while the ingest worker
//! keeps committing. Unchecked,
//! a query could combine the candidate set of one moment with counters (or assertions) of a later
//! one: an answer that is the lens over no state the store ever held. So each attempt is bracketed
//! by two reads of the ingest cursor, and kept only if both saw the same value.
//!
//! Why an unchanged cursor proves the attempt saw exactly one committed state:
//! - Every batch that changes candidate data (`H:`, `S:`, `SP:`, `VC:`, `VW:`) is an ingest
//!   commit, and every ingest commit puts `INGEST_CURSOR_KEY` in the same atomic batch
//!   (`ingest/worker.rs`, `Worker::commit`), dead letters included: a record quarantined by
//!   validation, a range the WAL quarantined on recovery and a damaged range found by the reader
//!   all commit through it. Each commit moves the cursor strictly forward (past the record or the
//!   damaged range), so no commit leaves it unchanged, and two different commits never restore a
//!   value an earlier one replaced.
//! - The only other writer is this engine's audit log (`A:`), which the slow path never reads;
//!   views live in memory. Neither can make an attempt inconsistent, so neither needs to (or does)
//!   move the cursor.
//! - Batches are atomic towards readers, not only across crashes: `SimKv` (and the tests' store)
//!   apply a batch under the lock every call takes, and sled applies it under its
//!   concurrency-control write lock while `get` takes the read lock. So if any read of the attempt
//!   saw any part of a commit, the closing cursor `get` comes after the whole commit and sees its
//!   cursor; if it still sees the opening value, no commit landed between the two cursor reads,
//!   and every read in between saw the one state that cursor names.
//!
//! Limits of the argument: a crash that reverts the KV, followed by re-ingest back to the same
//! cursor, all inside one attempt, is an ABA the cursor cannot see. The state at a cursor is the
//! replay of the durable log below it, so the two states agree, except where bit rot turned a
//! record ingested before the crash into a dead letter after it; the engine is reopened after a
//! crash, so this needs a query to survive its own store's restart. Stores written without a
//! cursor (tests that store ingest formats by hand) validate trivially, since nothing commits.
//!
//! A failed attempt is repeated in full, at most [`SNAPSHOT_ATTEMPTS_MAX`] times, then the query
//! fails with [`QueryError::NoStableSnapshot`]: a typed error, never a mixed answer. A read that
//! failed on its data (a dangling index entry, say) is validated the same way, because a read
//! torn across a crash-revert can fail on data no single state holds; it is reported only when the
//! cursor confirms the damage is in one state. A failing store (`QueryError::Kv`) is returned at
//! once: whether to retry I/O errors is the caller's policy, not a snapshot question.

use crate::query::load::{load_candidates, Cover, Read};
use crate::query::QueryError;
use crate::storage::keys::INGEST_CURSOR_KEY;
use crate::storage::{CommitFence, KvStore};

/// Attempts at a consistent slow-path read before the query fails with
/// [`QueryError::NoStableSnapshot`].
///
/// An attempt fails only if ingest committed during it, and retrying at once is the right answer
/// to commits that come in bursts with gaps (a group commit, then the worker draining it): if
/// half of all attempts overlapped a commit, sixteen in a row would fail about once in 65 536
/// queries. A read that overlaps sixteen commits in a row faces ingest that outpaces it, where
/// more attempts only add load; the caller gets a typed error and may ask again later. The bound
/// is on attempts, not time: a read's cost grows with its candidates, and a time budget would
/// have to come from the clock seam and so differ between simulation and production.
pub const SNAPSHOT_ATTEMPTS_MAX: u32 = 16;

/// Optimistic attempts before a fenced read holds commits off. Holding them off delays ingest
/// for one read, so it is the fallback, not the rule; but under steady ingest a read with many
/// candidates overlaps a commit nearly every time, so there is no point trying long.
pub const OPTIMISTIC_ATTEMPTS_MAX: u32 = 3;

/// What [`load_consistent`] did: how many attempts it made, and what the last one gave.
pub(super) struct Attempted {
    /// Attempts made, 1..=[`SNAPSHOT_ATTEMPTS_MAX`] (each a full read of the candidates).
    pub(super) attempts: u32,
    pub(super) result: Result<Read, QueryError>,
}

/// Every candidate indexed under `subject` (and `predicate`), with those `cover` needs read in
/// full, read as of one ingest cursor value.
pub(super) async fn load_consistent(
    kv: &dyn KvStore,
    fence: Option<&CommitFence>,
    subject: &str,
    predicate: Option<&str>,
    cover: Cover<'_>,
) -> Attempted {
    let done = |attempts: u32, result| Attempted { attempts, result };
    // Compared as raw bytes: equality is all the argument needs, and a cursor value of the wrong
    // width is ingest's to report, not a reason for a query to fail.
    let mut opened = match kv.get(INGEST_CURSOR_KEY).await {
        Ok(cursor) => cursor,
        Err(e) => return done(1, Err(e.into())),
    };
    for attempt in 1..=SNAPSHOT_ATTEMPTS_MAX {
        let _held = match fence {
            Some(fence) if attempt > OPTIMISTIC_ATTEMPTS_MAX => {
                let held = fence.hold().await;
                // Commits landed while waiting for the fence: open from the state it holds.
                opened = match kv.get(INGEST_CURSOR_KEY).await {
                    Ok(cursor) => cursor,
                    Err(e) => return done(attempt, Err(e.into())),
                };
                Some(held)
            }
            _ => None,
        };
        let read = load_candidates(kv, subject, predicate, cover).await;
        if let Err(e @ QueryError::Kv(_)) = read {
            return done(attempt, Err(e));
        }
        let closed = match kv.get(INGEST_CURSOR_KEY).await {
            Ok(cursor) => cursor,
            Err(e) => return done(attempt, Err(e.into())),
        };
        if closed == opened {
            return done(attempt, read);
        }
        tracing::debug!(
            attempt,
            failed = read.is_err(),
            "ingest committed during the read; reading again"
        );
        // The closing read came after every read of this attempt, so it opens the next one.
        opened = closed;
    }
    tracing::warn!(
        attempts = SNAPSHOT_ATTEMPTS_MAX,
        "ingest committed during every attempt; no consistent read"
    );
    done(
        SNAPSHOT_ATTEMPTS_MAX,
        Err(QueryError::NoStableSnapshot {
            attempts: SNAPSHOT_ATTEMPTS_MAX,
        }),
    )
}
