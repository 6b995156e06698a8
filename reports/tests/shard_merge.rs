//! A sweep split by seed into `--shard i/n` reports, gathered in any order, merges into exactly
//! the report of the unsharded sweep: byte for byte in the deterministic JSON.

mod common;

use proptest::prelude::*;
use stemedb_reports::names::{EVENT_CRASHES, LATENCY_APPEND_ACK, LATENCY_FSYNC, OPTION_SHARD};
use stemedb_reports::{ArenaOutcome, Capacity, Report, Throughput, Verdict};

/// Writer counts a capacity phase may run at.
const WRITER_COUNTS: [u32; 4] = [1, 2, 4, 8];

/// What one seed contributes to a sweep report.
#[derive(Debug, Clone)]
struct Contribution {
    append_ack_us: Vec<u64>,
    fsync_us: Vec<u64>,
    ops: u64,
    sim_us: u64,
    busy_us: u64,
    probe_hits: Vec<u64>,
    capacity: Option<(usize, u64, u64, Vec<u64>)>,
    crashes: u64,
    verdict: usize,
    arena: bool,
    fingerprint: u64,
}

fn contribution() -> impl Strategy<Value = Contribution> {
    (
        (
            prop::collection::vec(0u64..50_000_000, 0..20),
            prop::collection::vec(0u64..5_000, 0..8),
            0u64..10_000,
            0u64..5_000_000,
            0u64..1_000_000,
        ),
        (
            // Mostly zeros, so some probes stay starved in some shards and fire in others.
            prop::collection::vec(prop_oneof![3 => Just(0u64), 1 => 1u64..5], 3),
            prop::option::of((
                0..WRITER_COUNTS.len(),
                0u64..5_000,
                1u64..2_000_000,
                prop::collection::vec(1u64..100_000, 0..10),
            )),
            0u64..3,
            0..Verdict::ALL_BY_SEVERITY.len(),
            any::<bool>(),
            any::<u64>(),
        ),
    )
        .prop_map(
            |(
                (append_ack_us, fsync_us, ops, sim_us, busy_us),
                (probe_hits, capacity, crashes, verdict, arena, fingerprint),
            )| Contribution {
                append_ack_us,
                fsync_us,
                ops,
                sim_us,
                busy_us,
                probe_hits,
                capacity,
                crashes,
                verdict,
                arena,
                fingerprint,
            },
        )
}

/// A report as the sweep starts it: the run's options and every declared probe at 0.
fn start_report() -> Report {
    let mut report = common::empty_report("sweep-3");
    report
        .options
        .insert("faults".to_owned(), "default".to_owned());
    report.declare_probes(common::PROBES);
    report
}

/// Records seed `seed`'s contribution the way a worker would.
fn record(report: &mut Report, seed: u64, c: &Contribution) {
    report.seeds.insert(seed);
    for &us in &c.append_ack_us {
        report.record_latency(LATENCY_APPEND_ACK, us);
    }
    for &us in &c.fsync_us {
        report.record_latency(LATENCY_FSYNC, us);
    }
    report
        .throughput
        .add(Throughput::new(c.ops, c.sim_us).with_busy(c.busy_us));
    for (probe, &hits) in common::PROBES.iter().zip(&c.probe_hits) {
        report.add_probe_hits(probe, hits);
    }
    if let Some((writers, ops, sim_us, acks_us)) = &c.capacity {
        let mut phase = Capacity::new(WRITER_COUNTS[*writers]);
        phase.add_ops(*ops, *sim_us);
        for &us in acks_us {
            phase.record_ack(us);
        }
        report.add_capacity(&phase);
    }
    report.counts.add_event(EVENT_CRASHES, c.crashes);
    let arena = if c.arena { "wal" } else { "kv" };
    report.add_outcome(ArenaOutcome {
        arena: arena.to_owned(),
        seed: Some(seed),
        verdict: Verdict::ALL_BY_SEVERITY[c.verdict],
        message: format!("seed {seed}"),
        reproduce: common::reproduce_line(arena, seed),
    });
    report
        .add_fingerprint(format!("seed={seed}"), format!("{:016x}", c.fingerprint))
        .unwrap();
}

/// A deterministic shuffle (xorshift-driven Fisher-Yates): workers finish in any order.
fn shuffle<T>(items: &mut [T], mut state: u64) {
    state |= 1;
    for i in (1..items.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        items.swap(i, (state % (i as u64 + 1)) as usize);
    }
}

/// Shard `index` (1-based) of `count`: the seeds `s` with `s % count == index - 1`, recorded
/// in a shuffled order.
fn shard_report(runs: &[Contribution], index: u64, count: u64, order: u64) -> Report {
    let mut report = start_report();
    report
        .options
        .insert(OPTION_SHARD.to_owned(), format!("{index}/{count}"));
    let mut seeds: Vec<u64> = (0..runs.len() as u64)
        .filter(|s| s % count == index - 1)
        .collect();
    shuffle(&mut seeds, order ^ index);
    for seed in seeds {
        record(&mut report, seed, &runs[seed as usize]);
    }
    report
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn shards_merge_into_exactly_the_unsharded_report(
        runs in prop::collection::vec(contribution(), 1..24),
        count in 1u64..7,
        order in any::<u64>(),
    ) {
        let mut whole = start_report();
        for (seed, run) in runs.iter().enumerate() {
            record(&mut whole, seed as u64, run);
        }
        whole.canonicalize();

        let mut shards: Vec<Report> =
            (1..=count).map(|i| shard_report(&runs, i, count, order)).collect();
        shuffle(&mut shards, order.rotate_left(17));

        let merged = Report::merge(&shards).unwrap();
        prop_assert!(!merged.options.contains_key(OPTION_SHARD));
        prop_assert_eq!(merged.deterministic_json().unwrap(), whole.deterministic_json().unwrap());
        prop_assert_eq!(merged.starved_probes(), whole.starved_probes());

        // Merging in two stages (as a CI matrix of matrices would) gives the same report.
        let split = shards.len() / 2;
        let staged = if split == 0 {
            merged.clone()
        } else {
            let left = Report::merge(&shards[..split]).unwrap();
            let right = Report::merge(&shards[split..]).unwrap();
            Report::merge([&right, &left]).unwrap()
        };
        prop_assert_eq!(staged.deterministic_json().unwrap(), whole.deterministic_json().unwrap());
    }
}

#[test]
fn canonical_order_is_seed_then_arena_and_fingerprints_by_scope() {
    let mut report = common::empty_report("r");
    for (seed, arena, verdict) in [
        (Some(2), "wal", Verdict::Pass),
        (None, "kv", Verdict::Pass),
        (Some(1), "wal", Verdict::Pass),
        (Some(1), "kv", Verdict::SafetyViolation),
        (Some(1), "kv", Verdict::Pass),
    ] {
        report.add_outcome(ArenaOutcome {
            arena: arena.to_owned(),
            seed,
            verdict,
            message: String::new(),
            reproduce: String::new(),
        });
    }
    for (scope, hex) in [("seed=2", "bb"), ("seed=1", "ff"), ("seed=1", "aa")] {
        report.add_fingerprint(scope, hex).unwrap();
    }
    report.canonicalize();
    let order: Vec<(Option<u64>, &str, Verdict)> = report
        .outcomes
        .iter()
        .map(|o| (o.seed, o.arena.as_str(), o.verdict))
        .collect();
    assert_eq!(
        order,
        [
            (None, "kv", Verdict::Pass),
            (Some(1), "kv", Verdict::Pass),
            (Some(1), "kv", Verdict::SafetyViolation),
            (Some(1), "wal", Verdict::Pass),
            (Some(2), "wal", Verdict::Pass),
        ]
    );
    let fingerprints: Vec<(&str, &str)> = report
        .fingerprints
        .iter()
        .map(|f| (f.scope.as_str(), f.hex.as_str()))
        .collect();
    assert_eq!(
        fingerprints,
        [("seed=1", "aa"), ("seed=1", "ff"), ("seed=2", "bb")]
    );
}

#[test]
fn probe_counts_and_capacity_add_exactly() {
    let mut a = common::full_report();
    let mut b = common::full_report();
    a.options.insert(OPTION_SHARD.to_owned(), "1/2".to_owned());
    b.options.insert(OPTION_SHARD.to_owned(), "2/2".to_owned());
    b.add_probe_hits("ingest.dead_letter_written", 2);
    let merged = Report::merge([&a, &b]).unwrap();
    assert_eq!(merged.probes["wal.fsync_retried"], 24);
    assert_eq!(merged.probes["wal.torn_tail_repaired"], 3_000);
    assert_eq!(merged.probes["ingest.dead_letter_written"], 2);
    assert!(
        merged.starved_probes().is_empty(),
        "fired in one shard is fired"
    );
    let four = &merged.capacity[&4];
    assert_eq!((four.ops, four.sim_us), (6_000, 2_000_000));
    assert_eq!(four.ops_per_sim_s(), 3_000.0);
    assert_eq!(four.ack_latency_us.count(), 400);
    let mut hist = a.capacity[&4].ack_latency_us.clone();
    hist.merge(&b.capacity[&4].ack_latency_us);
    assert_eq!(four.ack_latency_us, hist);
    assert_eq!(merged.throughput.busy_sim_us(), 1_000_000);
    assert_eq!(merged.throughput.ops_per_busy_sim_s(), 2_400.0);
}
