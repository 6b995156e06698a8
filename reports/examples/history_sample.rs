//! Writes a history page of made-up runs (eight unless told), to look at the charts without a
//! real history:
//! `cargo run -p stemedb-reports --example history_sample -- /tmp/history-sample.html [runs]`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use stemedb_reports::names::{LATENCY_APPEND_ACK, LATENCY_FSYNC, LATENCY_QUERY};
use stemedb_reports::{render_history_html, HistoryLog, HistoryRow, LatencyPercentiles};

/// Where the page goes without an argument.
const DEFAULT_OUT: &str = "/tmp/history-sample.html";
/// Runs made up without a second argument: the table below, once.
const DEFAULT_RUNS: u64 = 8;
/// 2025-06-02 09:00 UTC, and a run every six hours after it.
const FIRST_RUN_UNIX_S: u64 = 1_748_854_800;
const RUN_INTERVAL_S: u64 = 6 * 3_600;
const SEEDS_PER_RUN: u64 = 2_000;

/// (commit, seeds/min, append_ack p99, fsync p99, failures): run 5 regressed append latency
/// and failed; run 6 measured no wall time; run 7 fixed it.
type Run = (&'static str, Option<f64>, u64, u64, u64);
const RUNS: [Run; 8] = [
    ("3d1212cf0a", Some(412.0), 1_850, 640, 0),
    ("9f4758c2b1", Some(430.5), 1_790, 655, 0),
    ("97c7c2b7e4", Some(425.0), 1_820, 630, 0),
    ("818b6397aa", Some(468.2), 1_760, 610, 0),
    ("6fa2581c03", Some(455.9), 2_940, 720, 2),
    ("2f0e980d5e", None, 2_700, 700, 0),
    ("a41c07e9b2", Some(471.3), 1_700, 600, 0),
    ("c0ffee1234", Some(489.0), 1_680, 590, 0),
];

fn percentiles(p50_us: u64, p99_us: u64) -> LatencyPercentiles {
    LatencyPercentiles {
        p50_us,
        p99_us,
        max_us: p99_us * 3,
    }
}

/// Run `i` (0-based): the table's runs in a loop, each lap a little slower, with new commits.
fn row(i: u64) -> HistoryRow {
    let laps = RUNS.len() as u64;
    let (commit, seeds_per_min, ack_p99_us, fsync_p99_us, failures) = RUNS[(i % laps) as usize];
    let lap = i / laps;
    let commit = if lap == 0 {
        commit.to_owned()
    } else {
        format!("{:x}{commit}", lap * 0x1f3)
    };
    let mut latencies = BTreeMap::new();
    latencies.insert(
        LATENCY_APPEND_ACK.to_owned(),
        percentiles(420, ack_p99_us + lap * 40),
    );
    latencies.insert(LATENCY_FSYNC.to_owned(), percentiles(180, fsync_p99_us));
    if i >= 2 {
        latencies.insert(
            LATENCY_QUERY.to_owned(),
            percentiles(900, 4_000 + (i % laps) * 150),
        );
    }
    HistoryRow {
        run_id: format!("sweep-{}", 100 + i),
        recorded_at_unix_s: FIRST_RUN_UNIX_S + i * RUN_INTERVAL_S,
        command: if i % 3 == 2 { "run" } else { "sweep" }.to_owned(),
        commit,
        world: "turmoil".to_owned(),
        scenario: "default".to_owned(),
        seeds: SEEDS_PER_RUN,
        verdict: if failures > 0 {
            "safety_violation"
        } else {
            "pass"
        }
        .to_owned(),
        failures,
        seeds_per_wall_min: seeds_per_min,
        wall_s: seeds_per_min.map(|rate| SEEDS_PER_RUN as f64 / rate * 60.0),
        ops_per_busy_sim_s: 18_500.0 + (i % laps) as f64 * 120.0,
        latencies,
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = args
        .next()
        .map_or_else(|| PathBuf::from(DEFAULT_OUT), PathBuf::from);
    let count: u64 = match args.next() {
        Some(text) => text.parse()?,
        None => DEFAULT_RUNS,
    };
    let log = HistoryLog {
        rows: (0..count).map(row).collect(),
        skipped: Vec::new(),
    };
    std::fs::write(&out, render_history_html(&log))?;
    println!("wrote {}", out.display());
    Ok(())
}
