//! Ingest throughput (assertions per second) on the production stack, RealVfs + SledKv in a
//! temporary directory, beside its physical-limit twins: raw ed25519 `verify_strict` of the same
//! assertions on one core, and split over every core as ingest splits a batch. Ingest must verify
//! every signature, so the all-cores twin bounds it from above; the ratios say what decoding,
//! validation, the KV batches, the flushes and the WAL reads cost on top.
//!
//! A third row ingests into the in-memory `SimKv` instead of sled, to split the gap between the
//! engine's own work and sled's.
//!
//! One iteration ingests a prewritten, synced log of `ASSERTIONS` assertions into a fresh store:
//! timed from `Engine::open` (WAL recovery included) until ingest has caught up and `shutdown`
//! has flushed the KV, so the figure is throughput to durable state. Copying the log and opening
//! sled are set-up, outside the timing.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ed25519_dalek::{Signature, VerifyingKey};
use stemedb::io::{Clock, RealClock, RealVfs, Vfs};
use stemedb::model::{Agent, Assertion, Record};
use stemedb::storage::{KvStore, SledKv};
use stemedb::wal::{Wal, WalOptions, LOCK_FILE_NAME};
use stemedb::{Engine, EngineOptions};
use stemedb_faults::SimKv;

/// Assertions per iteration (one log).
const ASSERTIONS: usize = 1000;
/// Distinct signing agents (so verification cannot benefit from one hot key).
const AGENTS: u64 = 16;
/// Criterion's measurement window per function, in seconds: enough for ~50 iterations.
const MEASUREMENT_SECS: u64 = 5;

fn assertions() -> Vec<Assertion> {
    let agents: Vec<Agent> = (0..AGENTS).map(|i| Agent::derived(0xBE7C, i)).collect();
    let now = RealClock::new().wall_ms();
    (0..ASSERTIONS)
        .map(|i| {
            let subject = format!("subject-{}", i % 97);
            let object = format!("object number {i} with some text to be realistic");
            let mut a = Assertion::new(subject, "predicate", object, 0.75, now - 1000);
            agents[i % agents.len()].sign_assertion(&mut a);
            a
        })
        .collect()
}

/// Writes the log once (synced); iterations copy it.
async fn write_template(dir: &Path, assertions: &[Assertion]) {
    let vfs: Arc<dyn Vfs> = Arc::new(RealVfs);
    let wal = Wal::open(vfs, dir, WalOptions::default())
        .await
        .expect("open WAL");
    for a in assertions {
        let payload = Record::Assertion(a.clone()).encode().expect("encode");
        wal.append(&payload).await.expect("append");
    }
}

fn copy_log(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        if entry.file_name() != LOCK_FILE_NAME {
            std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy");
        }
    }
}

/// Which store an iteration ingests into.
#[derive(Clone, Copy)]
enum Store {
    /// sled in the scratch directory: the production store.
    Sled,
    /// The in-memory simulated store: isolates the engine's own cost from sled's.
    Sim,
}

/// One timed ingest of the whole log into a fresh store.
async fn ingest_once(template: &Path, scratch: &Path, clock: &RealClock, store: Store) -> Duration {
    let wal_dir = scratch.join("wal");
    copy_log(template, &wal_dir);
    let kv: Arc<dyn KvStore> = match store {
        Store::Sled => Arc::new(SledKv::open(&scratch.join("kv")).expect("sled")),
        Store::Sim => Arc::new(SimKv::new(1)),
    };
    let vfs: Arc<dyn Vfs> = Arc::new(RealVfs);
    let start = clock.monotonic();
    let engine = Engine::open(
        vfs,
        kv,
        Arc::new(clock.clone()),
        &wal_dir,
        EngineOptions::default(),
    )
    .await
    .expect("open engine");
    engine.wait_caught_up().await.expect("ingest");
    assert_eq!(engine.ingest_stats().applied, ASSERTIONS as u64);
    engine.shutdown().await.expect("shutdown");
    clock.monotonic() - start
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let assertions = assertions();
    let tmp = tempfile::tempdir().expect("tempdir");
    let template = tmp.path().join("template");
    rt.block_on(write_template(&template, &assertions));

    let mut group = c.benchmark_group("ingest_assertions");
    group.throughput(Throughput::Elements(ASSERTIONS as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(MEASUREMENT_SECS));
    group.warm_up_time(Duration::from_secs(1));

    let clock = RealClock::new();
    let mut run = 0u64;
    for (name, store) in [
        ("realvfs_sledkv_ingest", Store::Sled),
        ("realvfs_simkv_ingest", Store::Sim),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    run += 1;
                    let scratch = tmp.path().join(format!("run-{run}"));
                    total += rt.block_on(ingest_once(&template, &scratch, &clock, store));
                    // Keep the tempdir small across many iterations.
                    let _ = std::fs::remove_dir_all(&scratch);
                }
                total
            })
        });
    }

    // The twin: exactly the signature checks ingest must do, nothing else.
    let checks: Vec<(VerifyingKey, Vec<u8>, Signature)> = assertions
        .iter()
        .map(|a| {
            let sig = a.signatures[0];
            (
                VerifyingKey::from_bytes(&sig.public_key).expect("key"),
                a.signing_message(),
                Signature::from_bytes(&sig.signature),
            )
        })
        .collect();
    group.bench_function("ed25519_verify_strict_twin", |b| {
        b.iter(|| {
            for (key, message, signature) in &checks {
                black_box(key.verify_strict(black_box(message), signature)).expect("valid");
            }
        })
    });
    // The twin of the threaded path: the same checks split over every core, as ingest splits a
    // batch (`decode_run`). What ingest can reach at most on this machine.
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    group.bench_function(format!("ed25519_verify_strict_{cores}_cores_twin"), |b| {
        b.iter(|| {
            let chunk = checks.len().div_ceil(cores);
            std::thread::scope(|scope| {
                for part in checks.chunks(chunk) {
                    scope.spawn(move || {
                        for (key, message, signature) in part {
                            black_box(key.verify_strict(black_box(message), signature))
                                .expect("valid");
                        }
                    });
                }
            });
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
