//! SimKv, with and without simulated latency, must pass the same KvStore semantics suite as sled.

use stemedb::io::Clock;
use stemedb::storage::conformance;
use stemedb_faults::{ClockPlan, FaultPlan, LatencyModel, SimClock, SimKv};

#[tokio::test]
async fn sim_kv_passes_the_conformance_suite() {
    let kv = SimKv::new(1);
    conformance::run_all(&kv).await;
    let stats = kv.stats();
    assert!(stats.gets > 0 && stats.scans > 0 && stats.batches > 0 && stats.flushes > 0);
    assert_eq!(
        (stats.errors, stats.crashes, stats.latency_us_total),
        (0, 0, 0)
    );
    // The suite clears its own prefixes first, so it runs again on the same store.
    conformance::run_all(&kv).await;
}

fn with_latency(seed: u64) -> SimKv {
    let plan = FaultPlan {
        latency: Some(LatencyModel::ssd()),
        ..FaultPlan::none()
    };
    SimKv::with_plan(seed, &plan)
}

#[tokio::test(start_paused = true)]
async fn sim_kv_with_latency_passes_the_conformance_suite() {
    let kv = with_latency(2);
    let clock = SimClock::runtime(ClockPlan::default());
    conformance::run_all(&kv).await;
    let drawn_us = kv.stats().latency_us_total;
    assert!(
        drawn_us > 0,
        "the latency model must have charged simulated time"
    );
    // Simulated time advanced by exactly the drawn latency, to the microsecond.
    let slept_us = clock.monotonic().as_micros() as u64;
    assert_eq!(slept_us, drawn_us);
}

#[tokio::test(start_paused = true)]
async fn same_seed_same_latency_and_digest() {
    let mut runs = Vec::new();
    for seed in [3u64, 3, 4] {
        let kv = with_latency(seed);
        let clock = SimClock::runtime(ClockPlan::default());
        conformance::run_all(&kv).await;
        runs.push((kv.stats().latency_us_total, clock.monotonic(), kv.digest()));
    }
    assert_eq!(runs[0], runs[1], "one seed, one run");
    assert_ne!(runs[0].0, runs[2].0, "another seed draws other latencies");
    assert_eq!(runs[0].2, runs[2].2, "latency never changes the data");
}
