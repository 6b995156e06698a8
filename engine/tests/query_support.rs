//! Shared support for the lens and query tests (included with `#[path]`; also built as an empty
//! test target of its own): an in-memory `KvStore`, a settable test clock, helpers that store data
//! in exactly the ingest worker's formats, and the reference model the lenses are checked against.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use stemedb::io::Clock;
use stemedb::lens::LensKind;
use stemedb::model::{Assertion, Hash32, Lifecycle, Record, Vote, Weight, WeightSum};
use stemedb::storage::index::{index_entries, IndexFacts};
use stemedb::storage::keys::{self, KeyFamily};
use stemedb::storage::{BatchOp, KvError, KvStore, WriteBatch};

/// A BTreeMap-backed `KvStore`: atomic batches, ordered scans, nothing durable to lose.
#[derive(Debug, Default)]
pub struct MemKv {
    map: Mutex<BTreeMap<Vec<u8>, Vec<u8>>>,
    /// When set, `apply_batch` fails with EIO and applies nothing.
    fail_writes: AtomicBool,
}

impl MemKv {
    pub fn new() -> Arc<MemKv> {
        Arc::new(MemKv::default())
    }

    /// Entries of a key family.
    pub fn family_len(&self, family: KeyFamily) -> usize {
        let map = self.map.lock().unwrap();
        map.keys().filter(|k| k.starts_with(family.tag())).count()
    }

    /// Makes every later `apply_batch` fail (or work again).
    pub fn fail_writes(&self, fail: bool) {
        self.fail_writes.store(fail, Ordering::SeqCst);
    }

    /// Writes one raw entry (for corruption tests).
    pub fn put_raw(&self, key: Vec<u8>, value: Vec<u8>) {
        self.map.lock().unwrap().insert(key, value);
    }
}

#[async_trait]
impl KvStore for MemKv {
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, KvError> {
        Ok(self.map.lock().unwrap().get(key).cloned())
    }

    async fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>, KvError> {
        let map = self.map.lock().unwrap();
        Ok(map
            .range(prefix.to_vec()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    async fn apply_batch(&self, batch: WriteBatch) -> Result<(), KvError> {
        if self.fail_writes.load(Ordering::SeqCst) {
            let source = std::io::Error::from_raw_os_error(5);
            return Err(KvError::Io {
                op: "apply_batch",
                source,
            });
        }
        let mut map = self.map.lock().unwrap();
        for op in batch.ops {
            match op {
                BatchOp::Put { key, value } => map.insert(key, value),
                BatchOp::Delete { key } => map.remove(&key),
            };
        }
        Ok(())
    }

    async fn flush(&self) -> Result<(), KvError> {
        Ok(())
    }
}

/// A manual wall clock (stemedb-faults' `SimClock` cannot be a dev-dependency of stemedb).
#[derive(Debug)]
pub struct TestClock {
    wall_ms: AtomicU64,
}

impl TestClock {
    pub fn at(wall_ms: u64) -> Arc<TestClock> {
        Arc::new(TestClock {
            wall_ms: AtomicU64::new(wall_ms),
        })
    }

    pub fn set(&self, wall_ms: u64) {
        self.wall_ms.store(wall_ms, Ordering::SeqCst);
    }

    pub fn advance(&self, by: Duration) {
        self.wall_ms
            .fetch_add(by.as_millis() as u64, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn wall_ms(&self) -> u64 {
        self.wall_ms.load(Ordering::SeqCst)
    }

    fn monotonic(&self) -> Duration {
        Duration::ZERO
    }

    fn sleep(&self, duration: Duration) -> stemedb::io::Sleep {
        // Only the time it reads is fixed; a wait is a real one.
        stemedb::io::RealClock::default().sleep(duration)
    }
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

/// An unsigned assertion (queries do not verify signatures; ingest did).
pub fn assertion(
    subject: &str,
    predicate: &str,
    object: &str,
    ts: u64,
    lc: Lifecycle,
) -> Assertion {
    let mut a = Assertion::new(subject, predicate, object, 0.9, ts);
    a.lifecycle = lc;
    a
}

/// A vote by voter number `voter` (its key is `[voter; 32]`).
pub fn vote(hash: Hash32, voter: u8, weight_micros: u64, ts: u64) -> Vote {
    Vote {
        assertion_hash: hash,
        voter: [voter; 32],
        weight: Weight::from_micros(weight_micros),
        timestamp_ms: ts,
        signature: [voter; 64],
    }
}

/// Stores `a` as ingest does: `H:` record plus its `S:` and `SP:` index entries, stating its
/// facts and the counters of any votes stored before it, one batch.
pub async fn store_assertion(kv: &dyn KvStore, a: &Assertion) -> Hash32 {
    let hash = a.identity_hash();
    let (count, weight) = counters(kv, &hash).await;
    let mut batch = WriteBatch::new();
    let record = Record::Assertion(a.clone()).encode().unwrap();
    batch.put(keys::assertion_key(&hash), record);
    put_index_entries(&mut batch, &hash, a, count, weight);
    kv.apply_batch(batch).await.unwrap();
    hash
}

/// Stores `a` as ingest did before index entries carried facts: empty `S:` and `SP:` values.
pub async fn store_assertion_legacy(kv: &dyn KvStore, a: &Assertion) -> Hash32 {
    let hash = a.identity_hash();
    let mut batch = WriteBatch::new();
    let record = Record::Assertion(a.clone()).encode().unwrap();
    batch.put(keys::assertion_key(&hash), record);
    batch.put(keys::subject_key(a.subject.as_bytes(), &hash), Vec::new());
    let sp = keys::subject_predicate_key(a.subject.as_bytes(), a.predicate.as_bytes(), &hash);
    batch.put(sp, Vec::new());
    kv.apply_batch(batch).await.unwrap();
    hash
}

fn put_index_entries(
    batch: &mut WriteBatch,
    hash: &Hash32,
    a: &Assertion,
    count: u64,
    weight: WeightSum,
) {
    let facts = IndexFacts::of(a, count, weight);
    for (key, value) in index_entries(hash, &facts, a) {
        batch.put(key, value);
    }
}

/// The `VC:` and `VW:` counters of `hash` (zero when absent).
async fn counters(kv: &dyn KvStore, hash: &Hash32) -> (u64, WeightSum) {
    let count = kv
        .get(&keys::vote_count_key(hash))
        .await
        .unwrap()
        .map_or(0, |b| u64::from_be_bytes(b.try_into().unwrap()));
    let weight = kv
        .get(&keys::vote_weight_key(hash))
        .await
        .unwrap()
        .map_or(WeightSum::ZERO, |b| {
            WeightSum::from_be_bytes(b.try_into().unwrap())
        });
    (count, weight)
}

/// Stores votes as ingest does, in arrival order: a voter's first vote on an assertion writes
/// `V:`, bumps `VC:`/`VW:` and, when the assertion is stored, rewrites its index entries with
/// the new counters; a repeat changes nothing.
pub async fn store_votes(kv: &dyn KvStore, votes: &[Vote]) {
    for v in votes {
        let vk = keys::vote_key(&v.assertion_hash, &v.voter);
        if kv.get(&vk).await.unwrap().is_some() {
            continue;
        }
        let (count, weight) = counters(kv, &v.assertion_hash).await;
        let (count, weight) = (count + 1, weight.add(v.weight));
        let mut batch = WriteBatch::new();
        batch.put(vk, Record::Vote(v.clone()).encode().unwrap());
        batch.put(
            keys::vote_count_key(&v.assertion_hash),
            count.to_be_bytes().to_vec(),
        );
        batch.put(
            keys::vote_weight_key(&v.assertion_hash),
            weight.to_be_bytes().to_vec(),
        );
        let stored = kv
            .get(&keys::assertion_key(&v.assertion_hash))
            .await
            .unwrap();
        if let Some(Ok(Record::Assertion(a))) = stored.map(|b| Record::decode(&b)) {
            put_index_entries(&mut batch, &v.assertion_hash, &a, count, weight);
        }
        kv.apply_batch(batch).await.unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// The reference model: plain vectors, brute force, no cleverness.

/// The weight counted for `hash`: for every distinct voter, the weight of its earliest vote
/// (the lighter one if equally early), summed. Also the number of distinct voters.
pub fn model_tally(hash: Hash32, votes: &[Vote]) -> (u64, u128) {
    let mine: Vec<&Vote> = votes.iter().filter(|v| v.assertion_hash == hash).collect();
    let mut voters: Vec<[u8; 32]> = mine.iter().map(|v| v.voter).collect();
    voters.sort();
    voters.dedup();
    let mut total = 0u128;
    for voter in &voters {
        let counted = mine
            .iter()
            .filter(|v| v.voter == *voter)
            .map(|v| (v.timestamp_ms, v.weight.micros()))
            .min()
            .unwrap();
        total += u128::from(counted.1);
    }
    (voters.len() as u64, total)
}

/// One candidate as the model sees it.
#[derive(Clone, Debug)]
pub struct ModelCandidate {
    pub hash: Hash32,
    pub timestamp_ms: u64,
    pub lifecycle: Lifecycle,
    pub weight_micros: u128,
}

/// The lens's sort key: the greatest key wins. Tuples compare left to right.
pub fn model_key(lens: LensKind, c: &ModelCandidate) -> (u128, u64, Hash32) {
    match lens {
        LensKind::Recency => (0, c.timestamp_ms, c.hash),
        LensKind::VoteAwareConsensus => (c.weight_micros, c.timestamp_ms, c.hash),
    }
}

/// Candidates whose lifecycle is in `lifecycles`, best first.
pub fn model_ranking(
    lens: LensKind,
    candidates: &[ModelCandidate],
    lifecycles: &[Lifecycle],
) -> Vec<Hash32> {
    let mut kept: Vec<&ModelCandidate> = candidates
        .iter()
        .filter(|c| lifecycles.contains(&c.lifecycle))
        .collect();
    kept.sort_by_key(|c| std::cmp::Reverse(model_key(lens, c)));
    kept.iter().map(|c| c.hash).collect()
}

/// Which part of the key first differs between the best two ("only"/"none" without two).
pub fn model_rule(
    lens: LensKind,
    candidates: &[ModelCandidate],
    ranking: &[Hash32],
) -> &'static str {
    let find = |h: &Hash32| candidates.iter().find(|c| c.hash == *h).unwrap();
    match ranking {
        [] => "none",
        [_] => "only",
        [w, r, ..] => {
            let (w, r) = (model_key(lens, find(w)), model_key(lens, find(r)));
            if w.0 != r.0 {
                "weight"
            } else if w.1 != r.1 {
                "recency"
            } else {
                "hash"
            }
        }
    }
}
