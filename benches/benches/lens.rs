//! Lens resolution latency over 1k and 10k candidates for both lenses (pure resolution, no I/O),
//! plus end-to-end queries over the in-memory `SimKv`: the slow path (index scan, rank every
//! candidate by its index entry, read and verify in full the few an answer can rest on, audit)
//! and a view hit (the ranking the view already holds, and the audit).
//!
//! Kept short (a few seconds per bench): `cargo bench -p stemedb-benches --bench lens`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use stemedb::io::Clock;
use stemedb::lens::{Candidate, LensKind};
use stemedb::model::{Assertion, Record, WeightSum};
use stemedb::query::{LifecycleFilter, Query, QueryEngine};
use stemedb::storage::index::{index_entries, IndexFacts};
use stemedb::storage::keys;
use stemedb::storage::{KvStore, WriteBatch};
use stemedb_faults::SimKv;

/// Candidate set sizes.
const SIZES: [usize; 2] = [1_000, 10_000];
/// Distinct timestamps and weights, few enough that ties (and so the later rules) are common.
const DISTINCT_TIMESTAMPS: u64 = 97;
const DISTINCT_WEIGHT_UNITS: u64 = 31;
const MICROS_PER_UNIT: u64 = 1_000_000;

/// A clock that never moves: views stay fresh and runs are repeatable.
#[derive(Debug)]
struct FixedClock(u64);

impl Clock for FixedClock {
    fn wall_ms(&self) -> u64 {
        self.0
    }

    fn monotonic(&self) -> Duration {
        Duration::ZERO
    }

    fn sleep(&self, duration: Duration) -> stemedb::io::Sleep {
        // Only the time it reads is fixed; a wait is a real one.
        stemedb::io::RealClock::default().sleep(duration)
    }
}

/// `n` candidates about one subject+predicate with scattered timestamps and weights.
fn candidates(n: usize) -> Vec<Candidate> {
    (0..n as u64)
        .map(|i| {
            // Multiplicative scattering so neighbours differ; deterministic across runs.
            let spread = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
            let ts = 1_000_000 + spread % DISTINCT_TIMESTAMPS;
            let a = Assertion::new("subject", "predicate", format!("object {i}"), 0.5, ts);
            let units = (spread / DISTINCT_TIMESTAMPS) % DISTINCT_WEIGHT_UNITS;
            let weight = WeightSum(u128::from(units * MICROS_PER_UNIT));
            Candidate::counted(a.identity_hash(), a, units, weight)
        })
        .collect()
}

fn resolution(c: &mut Criterion) {
    let mut group = c.benchmark_group("lens_resolve");
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for n in SIZES {
        let cands = candidates(n);
        group.throughput(Throughput::Elements(n as u64));
        for kind in LensKind::ALL {
            let lens = kind.lens();
            group.bench_with_input(BenchmarkId::new(kind.name(), n), &cands, |b, cands| {
                b.iter(|| lens.resolve(black_box(cands)))
            });
        }
    }
    group.finish();
}

/// Stores `cands` in the ingest worker's formats: record, both index entries and counters.
async fn store(kv: &SimKv, cands: &[Candidate]) {
    for c in cands {
        let a = &c.assertion;
        let mut batch = WriteBatch::new();
        let record = Record::Assertion(a.clone()).encode().expect("encode");
        batch.put(keys::assertion_key(&c.hash), record);
        let facts = IndexFacts::of(a, c.vote_count, c.vote_weight);
        for (key, value) in index_entries(&c.hash, &facts, a) {
            batch.put(key, value);
        }
        batch.put(
            keys::vote_count_key(&c.hash),
            c.vote_count.to_be_bytes().to_vec(),
        );
        batch.put(
            keys::vote_weight_key(&c.hash),
            c.vote_weight.to_be_bytes().to_vec(),
        );
        kv.apply_batch(batch).await.expect("apply");
    }
    kv.flush().await.expect("flush");
}

fn end_to_end(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group("query_e2e");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    for n in SIZES {
        let kv = SimKv::new(1);
        rt.block_on(store(&kv, &candidates(n)));
        let engine = QueryEngine::new(Arc::new(kv.clone()), Arc::new(FixedClock(5_000_000)));
        let base =
            Query::subject_predicate("subject", "predicate").lifecycles(LifecycleFilter::ALL);
        group.throughput(Throughput::Elements(n as u64));
        for (name, q) in [
            ("slow_path", base.clone()),
            (
                "view_hit",
                base.clone().max_stale(Duration::from_secs(3600)),
            ),
        ] {
            group.bench_with_input(BenchmarkId::new(name, n), &q, |b, q| {
                b.to_async(&rt)
                    .iter(|| async { engine.query(black_box(q)).await.expect("query") })
            });
            // Audit records pile up as un-flushed batches in SimKv; make them durable between
            // benches so its pending list stays short.
            rt.block_on(kv.flush()).expect("flush");
        }
    }
    group.finish();
}

criterion_group!(benches, resolution, end_to_end);
criterion_main!(benches);
