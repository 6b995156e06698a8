//! Report builders shared by the integration tests.
#![allow(dead_code)]

use std::time::Duration;

use stemedb_reports::names::{
    EVENT_CRASHES, EVENT_INVARIANT_CHECKS, EVENT_RECOVERIES, LATENCY_APPEND_ACK, LATENCY_FSYNC,
    LATENCY_QUERY,
};
use stemedb_reports::{ArenaOutcome, Capacity, Report, SeedSet, Throughput, Verdict};

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

/// Probes every full report declares: two fire, one never does.
pub const PROBES: [&str; 3] = [
    "wal.fsync_retried",
    "wal.torn_tail_repaired",
    "ingest.dead_letter_written",
];

/// A closed-loop phase at `writers` writers: `ops` over `sim_s` simulated seconds, with ack
/// latencies 1..=`acks` times `ack_scale_us`.
pub fn capacity(writers: u32, ops: u64, sim_s: u64, acks: u64, ack_scale_us: u64) -> Capacity {
    let mut c = Capacity::new(writers);
    c.add_ops(ops, sim_s * 1_000_000);
    for i in 1..=acks {
        c.record_ack(i * ack_scale_us);
    }
    c
}

/// [`sample_report`] plus what schema 1.2 added: busy time, capacity phases, probes.
pub fn full_report() -> Report {
    let mut report = sample_report();
    // 1,200 ops in 3 s simulated, 0.5 s of it busy: 2,400 ops per busy sim-s.
    report.throughput = Throughput::new(1_200, 3_000_000).with_busy(500_000);
    report.add_capacity(&capacity(1, 1_000, 1, 200, 10));
    report.add_capacity(&capacity(4, 3_000, 1, 200, 20));
    report.declare_probes(PROBES);
    report.add_probe_hits("wal.fsync_retried", 12);
    report.add_probe_hits("wal.torn_tail_repaired", 1_500);
    report.set_wall(Duration::from_millis(1_500));
    report
}

/// Checks that every opened tag is closed in order (void and self-closed tags excepted).
pub fn assert_balanced(html: &str) {
    const VOID: [&str; 3] = ["meta", "br", "hr"];
    let mut stack: Vec<String> = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        let end = rest[start..].find('>').expect("unclosed tag") + start;
        let tag = &rest[start + 1..end];
        rest = &rest[end + 1..];
        if tag.starts_with('!') {
            continue;
        }
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        if let Some(closing) = tag.strip_prefix('/') {
            let _ = closing;
            assert_eq!(
                stack.pop().as_deref(),
                Some(name.as_str()),
                "mismatched </{name}>"
            );
        } else if !tag.ends_with('/') && !VOID.contains(&name.as_str()) {
            stack.push(name);
        }
    }
    assert!(stack.is_empty(), "unclosed: {stack:?}");
}
