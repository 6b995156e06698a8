//! Must-show: concurrent voters. Voter tasks submit at the same time over a simulated SSD (and a
//! KV with latency) so their appends interleave and share group-commit batches, while ingest
//! runs. Counts and weights come out exact (the first vote per voter per assertion in log order
//! counts), and a repeated vote by the same voter changes nothing.

mod ingest_support;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use stemedb::ingest::read_counters;
use stemedb::io::{Clock, Vfs};
use stemedb::model::{Hash32, Limits, Record, Weight, WeightSum};
use stemedb::storage::KvStore;
use stemedb::{Engine, EngineOptions};
use stemedb_faults::{ClockPlan, FaultPlan, LatencyModel, SimClock, SimDisk, SimKv};
use tokio::task::JoinSet;

use ingest_support::*;

const DIR: &str = "/db/wal";
const VOTERS: u64 = 16;
const ASSERTIONS: u64 = 3;

fn weight_of(voter: u64, round: u64) -> u32 {
    (1 + (voter * 7 + round * 3) % 5) as u32
}

async fn open(seed: u64) -> (Arc<Engine>, Arc<dyn KvStore>, SimDisk) {
    let plan = FaultPlan {
        latency: Some(LatencyModel::ssd()),
        ..FaultPlan::none()
    };
    let disk = SimDisk::with_plan(seed, &plan);
    let vfs: Arc<dyn Vfs> = Arc::new(disk.clone());
    let kv: Arc<dyn KvStore> = Arc::new(SimKv::with_plan(seed, &plan));
    let clock: Arc<dyn Clock> = Arc::new(SimClock::runtime(ClockPlan::default()));
    let options = EngineOptions {
        flush_every_records: 8,
        ..EngineOptions::default()
    };
    let engine = Engine::open(vfs, Arc::clone(&kv), clock, Path::new(DIR), options)
        .await
        .expect("open");
    (Arc::new(engine), kv, disk)
}

/// Every voter votes on every assertion `rounds` times at once; returns (offset, assertion,
/// voter index, weight) per acknowledged vote.
async fn vote_storm(
    engine: &Arc<Engine>,
    targets: &[Hash32],
    rounds: u64,
    first_round: u64,
) -> Vec<(u64, Hash32, u64, Weight)> {
    let mut tasks = JoinSet::new();
    for v in 0..VOTERS {
        let (engine, targets) = (Arc::clone(engine), targets.to_vec());
        tasks.spawn(async move {
            let voter = agent(100 + v);
            let mut acked = Vec::new();
            for round in first_round..first_round + rounds {
                for (i, target) in targets.iter().enumerate() {
                    let weight = Weight::from_units(weight_of(v, round + i as u64));
                    let vote = voter.vote(*target, weight, TS_BASE_MS + round);
                    let offset = ok(engine.submit(&Record::Vote(vote)).await, "vote");
                    acked.push((offset, *target, v, weight));
                }
            }
            acked
        });
    }
    let mut all = Vec::new();
    while let Some(done) = tasks.join_next().await {
        all.extend(done.expect("voter task"));
    }
    all
}

/// The first vote per (assertion, voter) in log order counts.
fn expected_counters(acked: &[(u64, Hash32, u64, Weight)]) -> BTreeMap<Hash32, (u64, WeightSum)> {
    let mut sorted = acked.to_vec();
    sorted.sort_by_key(|a| a.0);
    let mut first = BTreeMap::new();
    for (_, target, voter, weight) in sorted {
        first.entry((target, voter)).or_insert(weight);
    }
    let mut counters: BTreeMap<Hash32, (u64, WeightSum)> = BTreeMap::new();
    for ((target, _), weight) in first {
        let c = counters.entry(target).or_default();
        c.0 += 1;
        c.1 = c.1.add(weight);
    }
    counters
}

async fn counters(kv: &dyn KvStore, targets: &[Hash32]) -> BTreeMap<Hash32, (u64, WeightSum)> {
    let mut out = BTreeMap::new();
    for t in targets {
        out.insert(*t, read_counters(kv, t).await.expect("counters"));
    }
    out
}

#[tokio::test(start_paused = true)]
async fn concurrent_votes_are_counted_exactly_and_repeats_change_nothing() {
    for seed in [1, 2, 3] {
        let (engine, kv, disk) = open(seed).await;
        let mut targets = Vec::new();
        for i in 0..ASSERTIONS {
            let a = assertion(&agent(i), "topic", "claim", &format!("answer {i}"), i);
            ok(engine.submit(&Record::Assertion(a.clone())).await, "assert");
            targets.push(a.identity_hash());
        }
        // Two rounds at once: each voter's second vote on a target is a repeat racing the first.
        let syncs_before = disk.stats().data_syncs;
        let acked = vote_storm(&engine, &targets, 2, 0).await;
        assert_eq!(acked.len() as u64, VOTERS * ASSERTIONS * 2);
        // The voters really ran at once: their appends shared group-commit syncs.
        let syncs = disk.stats().data_syncs - syncs_before;
        assert!(
            syncs * 2 < acked.len() as u64,
            "seed {seed}: {syncs} syncs for {} votes",
            acked.len()
        );
        let mut offsets: Vec<u64> = acked.iter().map(|a| a.0).collect();
        offsets.sort_unstable();
        offsets.dedup();
        assert_eq!(
            offsets.len(),
            acked.len(),
            "seed {seed}: every vote has its own offset"
        );
        caught_up(&engine, "storm").await;

        let want = expected_counters(&acked);
        for (t, (count, _)) in &want {
            assert_eq!(
                *count, VOTERS,
                "seed {seed}: {t}: one counted vote per voter"
            );
        }
        let got = counters(kv.as_ref(), &targets).await;
        assert_eq!(got, want, "seed {seed}: counters");
        let mut reader = ok(engine.wal_reader().await, "reader");
        let log = read_all(&mut reader).await;
        let replayed = replay(&log, &Limits::default());
        let stored_state = stored(kv.as_ref()).await;
        assert!(
            replayed == stored_state,
            "seed {seed}: {}",
            first_difference(&replayed, &stored_state)
        );
        let stats = engine.ingest_stats();
        assert_eq!(stats.votes_ignored_repeat, VOTERS * ASSERTIONS, "{stats:?}");
        assert_eq!(stats.quarantined, 0, "{stats:?}");

        // Another storm of repeats, with other weights: nothing changes.
        let repeats = vote_storm(&engine, &targets, 1, 7).await;
        caught_up(&engine, "repeats").await;
        assert_eq!(
            counters(kv.as_ref(), &targets).await,
            want,
            "seed {seed}: repeats"
        );
        let stats = engine.ingest_stats();
        assert_eq!(
            stats.votes_ignored_repeat,
            VOTERS * ASSERTIONS + repeats.len() as u64,
            "{stats:?}"
        );
        let engine = Arc::into_inner(engine).expect("voter tasks are done");
        ok(engine.shutdown().await, "shutdown");
    }
}
