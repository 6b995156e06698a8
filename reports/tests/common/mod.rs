//! Report builders shared by the integration tests.
#![allow(dead_code)]

use std::time::Duration;

use stemedb_reports::names::{
    EVENT_CRASHES, EVENT_INVARIANT_CHECKS, EVENT_RECOVERIES, LATENCY_APPEND_ACK, LATENCY_FSYNC,
    LATENCY_QUERY,
};
use stemedb_reports::{ArenaOutcome, Report, SeedSet, Throughput, Verdict};

pub const COMMIT: &str = "0123abcd";
pub const PROFILE: &str = "release";
pub const TOOL_VERSION: &str = "0.1.0";

pub fn empty_report(run_id: &str) -> Report {
    Report::new(run_id, TOOL_VERSION, COMMIT, PROFILE)
}

pub fn reproduce_line(arena: &str, seed: u64) -> String {
    format!(
        "stemedb-sim replay --arena {arena} --seed {seed} --faults default --commit {COMMIT} --profile {PROFILE}"
    )
}

/// A report with every section filled: latencies of known shape, counts, throughput, one failing
/// outcome among passes, fingerprints and a wall section.
pub fn sample_report() -> Report {
    let mut report = empty_report("run-42");
    report.seeds = SeedSet::range(0..=9);
    report
        .options
        .insert("faults".to_owned(), "default".to_owned());
    report.options.insert("clients".to_owned(), "4".to_owned());
    for us in 1..=1_000u64 {
        report.record_latency(LATENCY_APPEND_ACK, us * 10);
    }
    for us in 1..=200u64 {
        report.record_latency(LATENCY_FSYNC, 500 + us);
    }
    report.record_latency(LATENCY_QUERY, 2_500_000);
    report.throughput = Throughput::new(1_200, 3_000_000);
    report.counts.add_operation("append", 1_000);
    report.counts.add_operation("query", 200);
    report.counts.add_fault("torn_write", 3);
    report.counts.add_fault("fsync_lie", 1);
    report.counts.add_event(EVENT_CRASHES, 2);
    report.counts.add_event(EVENT_RECOVERIES, 2);
    report.counts.add_event(EVENT_INVARIANT_CHECKS, 10);
    for seed in 0..10u64 {
        let verdict = if seed == 7 {
            Verdict::SafetyViolation
        } else {
            Verdict::Pass
        };
        report.add_outcome(ArenaOutcome {
            arena: "wal".to_owned(),
            seed: Some(seed),
            verdict,
            message: if seed == 7 {
                "acknowledged append 17 lost after crash\nsecond line of detail".to_owned()
            } else {
                String::new()
            },
            reproduce: reproduce_line("wal", seed),
        });
        report
            .add_fingerprint(
                format!("seed={seed}"),
                format!("{:016x}", seed * 0x9e37_79b9),
            )
            .unwrap();
    }
    report.set_wall(Duration::from_millis(1_500));
    report
}
