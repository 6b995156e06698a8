//! The engine as a turmoil host: concurrent voters submit while ingest runs on the host's
//! runtime (latency from a simulated SSD and KV is the host's virtual time); the host crashes
//! mid-flight (`sim.crash` + disk and KV crashes), restarts (`sim.bounce`), and the restarted
//! engine catches up to a store equal to a replay of the recovered log, holding every
//! acknowledged vote exactly once.

mod ingest_support;

use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use stemedb::io::{Clock, Vfs};
use stemedb::model::{Limits, Record, Weight};
use stemedb::storage::KvStore;
use stemedb::{Engine, EngineOptions};
use stemedb_faults::{ClockPlan, CrashSpec, FaultPlan, LatencyModel, SimClock, SimDisk, SimKv};

use ingest_support::*;

const DIR: &str = "/db/wal";
/// Steps a world with no clients until a condition holds, at most this many ticks.
const STEPS_MAX: u32 = 200_000;
const VOTERS: u64 = 4;
const VOTES_PER_VOTER: u64 = 10;
/// Crash once this many votes were acknowledged (mid-workload).
const CRASH_AFTER_ACKS: usize = 18;

/// Acknowledged records (offset, payload), pushed by the voter tasks as each ack arrives.
type Acked = Arc<Mutex<Vec<(u64, Vec<u8>)>>>;

#[derive(Default)]
struct Observed {
    boots: u32,
    /// The restarted host's verdict.
    verdict: Option<Result<(), String>>,
}

async fn open(disk: &SimDisk, kv: &SimKv) -> Engine {
    let vfs: Arc<dyn Vfs> = Arc::new(disk.clone());
    let store: Arc<dyn KvStore> = Arc::new(kv.clone());
    let clock: Arc<dyn Clock> = Arc::new(SimClock::runtime(ClockPlan::default()));
    let options = EngineOptions {
        flush_every_records: 4,
        ..EngineOptions::default()
    };
    Engine::open(vfs, store, clock, Path::new(DIR), options)
        .await
        .expect("open")
}

async fn first_boot(disk: SimDisk, kv: SimKv, acked: Acked) {
    let engine = Arc::new(open(&disk, &kv).await);
    let target = assertion(&agent(0), "s", "p", "o", 0);
    let record = Record::Assertion(target.clone());
    let offset = ok(engine.submit(&record).await, "assert");
    acked.lock().unwrap().push((offset, encode(record)));
    let mut voters = Vec::new();
    for v in 0..VOTERS {
        let (engine, target, acked) = (Arc::clone(&engine), target.clone(), Arc::clone(&acked));
        voters.push(tokio::spawn(async move {
            for i in 0..VOTES_PER_VOTER {
                // Every voter repeats on the same target: only its first vote counts.
                let weight = Weight::from_units(1 + ((v + i) % 3) as u32);
                let record = Record::Vote(agent(10 + v).vote(target.identity_hash(), weight, i));
                let offset = ok(engine.submit(&record).await, "vote");
                acked.lock().unwrap().push((offset, encode(record)));
            }
        }));
    }
    for voter in voters {
        voter.await.expect("voter");
    }
    std::future::pending::<()>().await;
}

async fn second_boot(disk: SimDisk, kv: SimKv, acked: Acked) -> Result<(), String> {
    let engine = open(&disk, &kv).await;
    let end = match bounded(engine.wait_caught_up()).await {
        Some(Ok(end)) => end,
        other => return Err(format!("did not catch up: {other:?}")),
    };
    if engine.ingest_cursor() != end {
        return Err("cursor is not at the durable end".into());
    }
    let log = read_all(&mut engine.wal_reader().await.map_err(|e| e.to_string())?).await;
    let acked = acked.lock().unwrap().clone();
    for (offset, payload) in &acked {
        if !log
            .iter()
            .any(|r| r.offset == *offset && r.payload == *payload)
        {
            return Err(format!("acknowledged record at {offset} is missing"));
        }
    }
    let (want, got) = (replay(&log, &Limits::default()), stored(&kv).await);
    if want != got {
        return Err(format!(
            "store differs from replay: {}",
            first_difference(&want, &got)
        ));
    }
    engine.shutdown().await.map_err(|e| e.to_string())
}

fn step_until(sim: &mut turmoil::Sim<'_>, what: &str, done: impl Fn() -> bool) {
    for _ in 0..STEPS_MAX {
        if done() {
            return;
        }
        sim.step().expect("the host returned an error");
    }
    panic!("{what}: not reached within {STEPS_MAX} steps");
}

fn run(seed: u64) {
    let plan = FaultPlan {
        latency: Some(LatencyModel::ssd()),
        ..FaultPlan::none()
    };
    let (disk, kv) = (
        SimDisk::with_plan(seed, &plan),
        SimKv::with_plan(seed, &plan),
    );
    let observed = Rc::new(RefCell::new(Observed::default()));
    let acked: Acked = Arc::default();
    let mut sim = turmoil::Builder::new()
        .rng_seed(seed)
        .simulation_duration(Duration::from_secs(3600))
        .build();
    let (host_disk, host_kv) = (disk.clone(), kv.clone());
    let (host_observed, host_acked) = (observed.clone(), acked.clone());
    sim.host("db", move || {
        let (disk, kv) = (host_disk.clone(), host_kv.clone());
        let (observed, acked) = (host_observed.clone(), host_acked.clone());
        async move {
            observed.borrow_mut().boots += 1;
            if observed.borrow().boots == 1 {
                first_boot(disk, kv, acked).await;
            } else {
                let verdict = second_boot(disk, kv, acked).await;
                observed.borrow_mut().verdict = Some(verdict);
            }
            Ok(())
        }
    });
    step_until(&mut sim, "workload under way", || {
        acked.lock().unwrap().len() >= CRASH_AFTER_ACKS
    });
    let acked_at_crash = acked.lock().unwrap().len();
    assert!(
        acked_at_crash < (1 + VOTERS * VOTES_PER_VOTER) as usize,
        "crash came too late"
    );
    sim.crash("db");
    disk.crash(&CrashSpec::random(seed));
    kv.crash(&CrashSpec::random(seed ^ 0xA5));
    sim.bounce("db");
    step_until(&mut sim, "restart", || observed.borrow().verdict.is_some());
    let o = observed.borrow();
    assert_eq!(o.boots, 2);
    if let Some(Err(e)) = &o.verdict {
        panic!("seed {seed}: {e}");
    }
}

#[test]
fn crash_mid_ingest_in_a_turmoil_host_recovers_exactly_once() {
    for seed in 0..8 {
        run(seed);
    }
}
