//! Merging: shard reports add up to the report of the whole run.

mod common;

use std::time::Duration;

use proptest::prelude::*;
use proptest::sample::Index;
use stemedb_reports::names::{EVENT_CRASHES, LATENCY_APPEND_ACK, LATENCY_QUERY, OPTION_SHARD};
use stemedb_reports::{
    ArenaOutcome, LatencyHistogram, MergeError, Report, SeedSet, Throughput, Verdict,
    LATENCY_HIGHEST_US,
};

/// Latencies spanning exact small values, the log-bucketed middle, and saturation.
fn latency_us() -> impl Strategy<Value = u64> {
    prop_oneof![
        0u64..2_048,
        0u64..10_000_000,
        (LATENCY_HIGHEST_US - 16)..=u64::MAX,
    ]
}

/// Splits `len` items at the positions `cuts` pick, giving contiguous, possibly empty shards.
fn shard_bounds(len: usize, cuts: &[Index]) -> Vec<(usize, usize)> {
    let mut points: Vec<usize> = cuts.iter().map(|i| i.index(len + 1)).collect();
    points.push(0);
    points.push(len);
    points.sort_unstable();
    points.windows(2).map(|w| (w[0], w[1])).collect()
}

proptest! {
    #[test]
    fn sharded_histograms_merge_to_the_whole(
        values in prop::collection::vec(latency_us(), 0..400),
        cuts in prop::collection::vec(any::<Index>(), 0..6),
    ) {
        let mut whole = LatencyHistogram::new();
        for &v in &values {
            whole.record(v);
        }
        let mut merged = LatencyHistogram::new();
        for (start, end) in shard_bounds(values.len(), &cuts) {
            let mut shard = LatencyHistogram::new();
            for &v in &values[start..end] {
                shard.record(v);
            }
            merged.merge(&shard);
        }
        prop_assert_eq!(merged.summary(), whole.summary());
        prop_assert_eq!(merged.saturated_count(), whole.saturated_count());
        prop_assert_eq!(merged.to_base64_v2().unwrap(), whole.to_base64_v2().unwrap());
        prop_assert_eq!(&merged, &whole);
    }
}

/// What one seed's run produced.
#[derive(Debug, Clone)]
struct SeedRun {
    append_ack_us: Vec<u64>,
    query_us: Vec<u64>,
    ops: u64,
    sim_duration_us: u64,
    faults: u64,
    crashes: u64,
    verdict: usize,
    fingerprint: u64,
}

fn seed_run() -> impl Strategy<Value = SeedRun> {
    (
        prop::collection::vec(latency_us(), 0..40),
        prop::collection::vec(latency_us(), 0..10),
        0u64..10_000,
        0u64..5_000_000,
        0u64..5,
        0u64..3,
        0usize..Verdict::ALL_BY_SEVERITY.len(),
        any::<u64>(),
    )
        .prop_map(
            |(
                append_ack_us,
                query_us,
                ops,
                sim_duration_us,
                faults,
                crashes,
                verdict,
                fingerprint,
            )| {
                SeedRun {
                    append_ack_us,
                    query_us,
                    ops,
                    sim_duration_us,
                    faults,
                    crashes,
                    verdict,
                    fingerprint,
                }
            },
        )
}

/// Records seed `seed`'s run into `report` the way the simulator would.
fn record_seed(report: &mut Report, seed: u64, run: &SeedRun) {
    report.seeds.insert(seed);
    for &us in &run.append_ack_us {
        report.record_latency(LATENCY_APPEND_ACK, us);
    }
    for &us in &run.query_us {
        report.record_latency(LATENCY_QUERY, us);
    }
    report
        .throughput
        .add(Throughput::new(run.ops, run.sim_duration_us));
    report.counts.add_operation("append", run.ops);
    report.counts.add_fault("torn_write", run.faults);
    report.counts.add_event(EVENT_CRASHES, run.crashes);
    report.add_outcome(ArenaOutcome {
        arena: "wal".to_owned(),
        seed: Some(seed),
        verdict: Verdict::ALL_BY_SEVERITY[run.verdict],
        message: format!("seed {seed}"),
        reproduce: common::reproduce_line("wal", seed),
    });
    report
        .add_fingerprint(format!("seed={seed}"), format!("{:016x}", run.fingerprint))
        .unwrap();
}

fn new_run_report() -> Report {
    let mut report = common::empty_report("sweep-1");
    report
        .options
        .insert("faults".to_owned(), "default".to_owned());
    report
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn sharded_reports_merge_to_the_whole_run_report(
        runs in prop::collection::vec(seed_run(), 1..12),
        cuts in prop::collection::vec(any::<Index>(), 0..4),
    ) {
        let mut whole = new_run_report();
        for (seed, run) in runs.iter().enumerate() {
            record_seed(&mut whole, seed as u64, run);
        }
        let mut shards = Vec::new();
        for (start, end) in shard_bounds(runs.len(), &cuts) {
            let mut shard = new_run_report();
            for (seed, run) in runs.iter().enumerate().take(end).skip(start) {
                record_seed(&mut shard, seed as u64, run);
            }
            shard.set_wall(Duration::from_millis(10 + start as u64));
            shards.push(shard);
        }
        let merged = Report::merge(&shards).unwrap();
        // Fingerprints sort by scope as text (`seed=10` before `seed=2`), so the whole run's
        // report is compared in the canonical order too.
        whole.canonicalize();
        prop_assert_eq!(merged.deterministic_json().unwrap(), whole.deterministic_json().unwrap());
        prop_assert_eq!(merged.exit_code(), whole.exit_code());
        let wall = merged.wall.unwrap();
        let wall_us: u64 = shards.iter().map(|s| s.wall.unwrap().wall_us()).sum();
        prop_assert_eq!(wall.wall_us(), wall_us);
        prop_assert_eq!(wall.seeds(), runs.len() as u64);
    }
}

fn shard(run_id: &str, seeds: std::ops::RangeInclusive<u64>, ops: u64, sim_s: u64) -> Report {
    let mut report = common::empty_report(run_id);
    report.seeds = SeedSet::range(seeds);
    report.throughput = Throughput::new(ops, sim_s * 1_000_000);
    report
}

#[test]
fn throughput_is_recomputed_from_sums() {
    let a = shard("a", 0..=9, 100, 1);
    let b = shard("a", 10..=19, 500, 2);
    assert_eq!(
        (a.throughput.ops_per_sim_s(), b.throughput.ops_per_sim_s()),
        (100.0, 250.0)
    );
    let merged = Report::merge([&a, &b]).unwrap();
    assert_eq!(merged.throughput, Throughput::new(600, 3_000_000));
    assert_eq!(merged.throughput.ops_per_sim_s(), 200.0);
    assert_eq!(merged.seeds, SeedSet::range(0..=19));
    assert_eq!(merged.run_id, "a");
}

#[test]
fn differing_run_ids_and_options_are_kept() {
    let mut a = shard("r2", 0..=4, 1, 1);
    let mut b = shard("r1", 10..=14, 1, 1);
    a.options.insert(OPTION_SHARD.to_owned(), "2/3".to_owned());
    b.options.insert(OPTION_SHARD.to_owned(), "1/3".to_owned());
    a.options.insert("faults".to_owned(), "default".to_owned());
    b.options.insert("faults".to_owned(), "default".to_owned());
    a.options.insert("clients".to_owned(), "8".to_owned());
    b.options.insert("clients".to_owned(), "16".to_owned());
    let merged = Report::merge([&a, &b]).unwrap();
    assert_eq!(merged.run_id, "r1+r2", "distinct ids, sorted");
    assert_eq!(
        merged.options[OPTION_SHARD], "1/3,2/3",
        "two of three shards"
    );
    assert_eq!(merged.options["faults"], "default");
    assert_eq!(
        merged.options["clients"], "16,8",
        "distinct values, sorted as text"
    );
    assert_eq!(merged.seeds.to_string(), "0..=4, 10..=14");
    assert_eq!(
        Report::merge([&b, &a]).unwrap(),
        merged,
        "input order does not matter"
    );
}

#[test]
fn all_shards_of_a_sweep_merge_without_the_shard_option() {
    let mut parts: Vec<Report> = (1..=3)
        .map(|i| {
            let mut r = shard("s", i..=i, 1, 1);
            r.options.insert(OPTION_SHARD.to_owned(), format!("{i}/3"));
            r
        })
        .collect();
    let merged = Report::merge(&parts).unwrap();
    assert!(
        !merged.options.contains_key(OPTION_SHARD),
        "{:?}",
        merged.options
    );
    // Merged in stages, the shard lists come apart again and still cover the sweep.
    let first_two = Report::merge(&parts[..2]).unwrap();
    assert_eq!(first_two.options[OPTION_SHARD], "1/3,2/3");
    assert_eq!(Report::merge([&first_two, &parts[2]]).unwrap(), merged);
    // A shard merged twice is not the whole sweep, nor is a report without the option.
    assert_eq!(
        Report::merge([&parts[0], &parts[0], &parts[1], &parts[2]])
            .unwrap()
            .options[OPTION_SHARD],
        "1/3,2/3,3/3"
    );
    parts[2].options.remove(OPTION_SHARD);
    assert_eq!(
        Report::merge(&parts).unwrap().options[OPTION_SHARD],
        "1/3,2/3"
    );
}

#[test]
fn wall_is_dropped_unless_every_shard_has_one() {
    let mut a = shard("r", 0..=0, 1, 1);
    let b = shard("r", 1..=1, 1, 1);
    a.set_wall(Duration::from_secs(1));
    assert_eq!(Report::merge([&a, &b]).unwrap().wall, None);
    let mut b = b;
    b.set_wall(Duration::from_secs(3));
    let wall = Report::merge([&a, &b]).unwrap().wall.unwrap();
    assert_eq!(wall.wall_us(), 4_000_000);
    assert_eq!(wall.seeds_per_wall_min(), 30.0);
    assert_eq!(wall.sim_to_wall_ratio(), 0.5);
}

#[test]
fn reports_from_different_builds_do_not_merge() {
    let a = shard("r", 0..=0, 1, 1);
    let mut b = shard("r", 1..=1, 1, 1);
    b.commit = "fedc".to_owned();
    assert_eq!(
        Report::merge([&a, &b]).unwrap_err(),
        MergeError::Mismatch {
            field: "commit",
            first: common::COMMIT.to_owned(),
            other: "fedc".to_owned()
        }
    );
    let mut c = shard("r", 1..=1, 1, 1);
    c.build_profile = "dev".to_owned();
    assert!(matches!(
        Report::merge([&a, &c]).unwrap_err(),
        MergeError::Mismatch {
            field: "build_profile",
            ..
        }
    ));
    assert_eq!(
        Report::merge(std::iter::empty::<&Report>()).unwrap_err(),
        MergeError::NoReports
    );
}

#[test]
fn merging_one_report_is_identity() {
    let report = common::sample_report();
    assert_eq!(Report::merge([&report]).unwrap(), report);
}
