//! Well-known metric names.
//!
//! Latencies and counts are keyed by name rather than by struct field so the simulator can add a
//! new metric without a schema change; these constants keep the names that DESIGN.md section 8
//! promises spelled the same everywhere.

/// Latency from a client's append to its acknowledgement.
pub const LATENCY_APPEND_ACK: &str = "append_ack";
/// Latency of one fsync through the simulated filesystem.
pub const LATENCY_FSYNC: &str = "fsync";
/// Time from a record being durable in the WAL to it being visible to the ingest side.
pub const LATENCY_INGEST_LAG: &str = "ingest_lag";
/// Latency of one lens query.
pub const LATENCY_QUERY: &str = "query";
/// Time from a restart to the node serving again.
pub const LATENCY_RECOVERY: &str = "recovery";

/// The latencies every renderer lists first, in this order; any others follow alphabetically.
pub const WELL_KNOWN_LATENCIES: [&str; 5] = [
    LATENCY_APPEND_ACK,
    LATENCY_FSYNC,
    LATENCY_INGEST_LAG,
    LATENCY_QUERY,
    LATENCY_RECOVERY,
];

/// Event count: simulated process crashes.
pub const EVENT_CRASHES: &str = "crashes";
/// Event count: completed recoveries.
pub const EVENT_RECOVERIES: &str = "recoveries";
/// Recoveries that found the log ending below the ingest cursor (media damage took records
/// ingest had applied; the engine must record the loss as a dead letter).
pub const EVENT_TAIL_LOST: &str = "recoveries_tail_lost";
/// Crashes aimed at a disk event that struck at it (see `CrashAim`); the rest of the aimed ones
/// waited out their window and struck at its end.
pub const EVENT_CRASHES_AIMED_HIT: &str = "crashes_aimed_hit";
/// Aimed crashes whose event never came within the window.
pub const EVENT_CRASHES_AIMED_MISSED: &str = "crashes_aimed_missed";
/// Event count: invariant checks evaluated.
pub const EVENT_INVARIANT_CHECKS: &str = "invariant_checks";
/// Answered queries the end-state oracle compared with the reference lens.
pub const EVENT_QUERIES_CHECKED: &str = "queries_checked";
/// Answered queries left unchecked because more damaged records bear on them than the oracle
/// tries combinations of.
pub const EVENT_QUERIES_UNCHECKED_DAMAGE: &str = "queries_unchecked_damage";

/// Option: which shard of a sweep a report covers, `i/n` (1-based; DESIGN.md section 9). Merging
/// shards `1/n` to `n/n` gives the whole sweep, so the merged report drops it.
pub const OPTION_SHARD: &str = "shard";

/// Orders metric names: the well-known ones first in their documented order, then the rest by
/// name, so every rendering lists them the same way.
pub(crate) fn ordered_names<'a, I>(names: I) -> Vec<&'a str>
where
    I: IntoIterator<Item = &'a String>,
{
    let mut out: Vec<&'a str> = names.into_iter().map(String::as_str).collect();
    out.sort_by_key(|name| {
        let rank = WELL_KNOWN_LATENCIES
            .iter()
            .position(|known| known == name)
            .unwrap_or(WELL_KNOWN_LATENCIES.len());
        (rank, *name)
    });
    out
}
