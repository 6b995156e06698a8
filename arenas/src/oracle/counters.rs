//! The engine's own counters tell the truth.
//!
//! Operators, reports and (later) `/metrics` read `Engine::ingest_stats` and
//! `QueryEngine::stats`; a counter that drifts from what the engine did misleads all of them, and
//! no other oracle reads the counters (issue 11: a counter bumped for the wrong outcome, or not
//! at all, passed every check). Each is compared with what the harness knows happened.
//!
//! Exact only where the truth is exact: counters restart with the process, and under faults
//! some outcomes are unknowable (a damaged record may or may not have been applied), so the
//! checks here are for one process that ingested the whole log and met no fault. Under that
//! condition the reference replay of the log says how each record ended, the disk and the KV
//! say what was flushed and removed, and the harness's query records say how each query was
//! answered.

use stemedb::ingest::IngestStats;
use stemedb::query::QueryStats;

use crate::oracle::ingest::Replay;

/// What one fault-free process's ingest must have counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IngestTruth {
    pub applied: u64,
    pub duplicates: u64,
    pub votes_ignored_repeat: u64,
    pub quarantined: u64,
    /// Successful KV flushes the worker made (the store counts one more: `Engine::open`'s).
    pub flushes: u64,
    /// Files the disk saw removed (only WAL truncation removes any in such a run).
    pub segments_truncated: u64,
}

impl IngestTruth {
    /// From the replay of the whole durable log, and the KV's and disk's counts.
    pub fn new(replay: &Replay, kv_flushes: u64, disk_removes: u64) -> Self {
        Self {
            applied: replay.applied - replay.duplicates - replay.repeats,
            duplicates: replay.duplicates,
            votes_ignored_repeat: replay.repeats,
            quarantined: replay.quarantined.len() as u64,
            flushes: kv_flushes,
            segments_truncated: disk_removes,
        }
    }
}

pub fn check_ingest(truth: &IngestTruth, got: &IngestStats) -> Result<(), String> {
    let pairs = [
        ("applied", truth.applied, got.applied),
        ("duplicates", truth.duplicates, got.duplicates),
        (
            "votes_ignored_repeat",
            truth.votes_ignored_repeat,
            got.votes_ignored_repeat,
        ),
        ("quarantined", truth.quarantined, got.quarantined),
        ("flushes", truth.flushes, got.flushes),
        (
            "segments_truncated",
            truth.segments_truncated,
            got.segments_truncated,
        ),
        // No fault: nothing failed, so nothing was retried.
        ("io_errors", 0, got.io_errors),
        ("kv_errors", 0, got.kv_errors),
        ("retries", 0, got.retries),
    ];
    first_mismatch("ingest", &pairs)
}

/// The flush cadence: ingest flushes the KV once every `every` records it commits, and once each
/// time it reaches the end of the log with commits unflushed, and once as it stops. Never fewer
/// (what a crash makes it replay is bounded by `every`), never more (each flush is a sync of the
/// store). `commits` is every record the process committed (applied or dead-lettered).
pub fn check_flush_cadence(commits: u64, every: u64, got: &IngestStats) -> Result<(), String> {
    let every = every.max(1);
    let fewest = commits / every;
    let most = fewest + got.end_of_log_reads + 1;
    if (fewest..=most).contains(&got.flushes) {
        return Ok(());
    }
    Err(format!(
        "ingest flushed the KV {} times for {commits} commits at flush_every_records {every} \
         and {} ends of the log reached: between {fewest} and {most} flushes is the cadence",
        got.flushes, got.end_of_log_reads
    ))
}

/// How one process's queries were answered, as the harness recorded each.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueryTruth {
    pub queries: u64,
    /// Answers that said a view answered them.
    pub view_answers: u64,
    /// Failed queries and failed explicit materialisations (both count a snapshot failure).
    pub failed: u64,
    /// Explicit `materialize` calls: each reads the store once, and is no query.
    pub materializations: u64,
}

pub fn check_queries(truth: &QueryTruth, got: &QueryStats) -> Result<(), String> {
    let pairs = [
        ("queries", truth.queries, got.queries),
        ("view_hits", truth.view_answers, got.view_hits),
        // Every query a view did not answer read the store once (a failed one too: with no
        // fault, the only way to fail is a store read that found no stable snapshot), and so
        // did every explicit materialisation.
        (
            "slow_paths",
            truth.queries - truth.view_answers + truth.materializations,
            got.slow_paths,
        ),
        ("snapshot_failures", truth.failed, got.snapshot_failures),
        ("audit_failures", 0, got.audit_failures),
    ];
    first_mismatch("query", &pairs)
}

fn first_mismatch(what: &str, pairs: &[(&str, u64, u64)]) -> Result<(), String> {
    match pairs.iter().find(|(_, want, got)| want != got) {
        None => Ok(()),
        Some((name, want, got)) => Err(format!(
            "the {what} counter {name} says {got}, but {want} happened"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flushes_keep_the_cadence_both_ways() {
        let stats = |flushes, end_of_log_reads| IngestStats {
            flushes,
            end_of_log_reads,
            ..IngestStats::default()
        };
        assert_eq!(check_flush_cadence(700, 7, &stats(100, 0)), Ok(()));
        assert_eq!(check_flush_cadence(700, 7, &stats(131, 30)), Ok(()));
        assert!(
            check_flush_cadence(700, 7, &stats(99, 30)).is_err(),
            "too few"
        );
        assert!(
            check_flush_cadence(700, 7, &stats(700, 30)).is_err(),
            "one per commit"
        );
    }

    fn truth() -> IngestTruth {
        let mut replay = Replay {
            applied: 10,
            duplicates: 2,
            repeats: 3,
            ..Replay::default()
        };
        replay.quarantined.extend([8, 96]);
        IngestTruth::new(&replay, 4, 1)
    }

    fn honest(t: &IngestTruth) -> IngestStats {
        IngestStats {
            applied: t.applied,
            duplicates: t.duplicates,
            votes_ignored_repeat: t.votes_ignored_repeat,
            quarantined: t.quarantined,
            flushes: t.flushes,
            segments_truncated: t.segments_truncated,
            ..IngestStats::default()
        }
    }

    #[test]
    fn ingest_counters_match_the_replay_exactly() {
        let t = truth();
        assert_eq!(t.applied, 5, "new records only");
        assert_eq!(check_ingest(&t, &honest(&t)), Ok(()));
        let mut off = honest(&t);
        off.duplicates += 1;
        off.applied -= 1;
        let err = check_ingest(&t, &off).unwrap_err();
        assert!(err.contains("applied says 4, but 5"), "{err}");
        let retried = IngestStats {
            retries: 1,
            ..honest(&t)
        };
        assert!(check_ingest(&t, &retried).unwrap_err().contains("retries"));
    }

    #[test]
    fn query_counters_match_the_answers() {
        let t = QueryTruth {
            queries: 7,
            view_answers: 2,
            failed: 1,
            materializations: 0,
        };
        let honest = QueryStats {
            queries: 7,
            view_hits: 2,
            slow_paths: 5,
            snapshot_failures: 1,
            ..QueryStats::default()
        };
        assert_eq!(check_queries(&t, &honest), Ok(()));
        let no_views = QueryStats {
            view_hits: 0,
            ..honest
        };
        assert!(check_queries(&t, &no_views)
            .unwrap_err()
            .contains("view_hits"));
    }
}
