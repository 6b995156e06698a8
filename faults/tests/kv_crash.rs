//! SimKv crash semantics: a crash leaves the durable snapshot plus a PREFIX of the batches applied
//! since the last successful flush (never a gap, never part of a batch); flushed data always
//! survives; injected errors apply nothing and make nothing durable.

use std::collections::{BTreeMap, BTreeSet};

use stemedb::storage::{KvError, KvStore, WriteBatch};
use stemedb_faults::{CrashSpec, KvCrashReport, KvFault, SimKv};

type State = BTreeMap<Vec<u8>, Vec<u8>>;

/// Batches applied after the flush in the crash tests.
const PENDING_BATCHES: u64 = 6;
/// Seeds tried in the prefix test (enough that every prefix length 0..=6 occurs).
const CRASH_SEEDS: u64 = 200;

/// Batch `n` of a workload whose every prefix gives a different state: it puts two keys of its
/// own, bumps a shared counter and deletes batch `n - 2`'s first key.
fn batch(n: u64) -> WriteBatch {
    let mut b = WriteBatch::new();
    b.put(format!("b/{n:04}/a"), n.to_le_bytes().to_vec());
    b.put(format!("b/{n:04}/b"), vec![n as u8; n as usize]);
    b.put("counter", n.to_le_bytes().to_vec());
    if n >= 2 {
        b.delete(format!("b/{:04}/a", n - 2));
    }
    b
}

fn model_apply(state: &mut State, b: &WriteBatch) {
    for op in &b.ops {
        match op {
            stemedb::storage::BatchOp::Put { key, value } => {
                state.insert(key.clone(), value.clone());
            }
            stemedb::storage::BatchOp::Delete { key } => {
                state.remove(key);
            }
        }
    }
}

/// Applies batches `from..to` to the store and the model; returns the model state after each.
async fn apply_range(kv: &SimKv, model: &mut State, from: u64, to: u64) -> Vec<State> {
    let mut states = Vec::new();
    for n in from..to {
        let b = batch(n);
        model_apply(model, &b);
        kv.apply_batch(b).await.unwrap();
        states.push(model.clone());
    }
    states
}

/// A store with batches 1..=4 flushed and `PENDING_BATCHES` more applied; returns it, the
/// flushed state and the states after each pending prefix (index = prefix length).
async fn flushed_then_pending(seed: u64) -> (SimKv, State, Vec<State>) {
    let kv = SimKv::new(seed);
    let mut model = State::new();
    apply_range(&kv, &mut model, 1, 5).await;
    kv.flush().await.unwrap();
    let flushed = model.clone();
    let mut prefixes = vec![flushed.clone()];
    prefixes.extend(apply_range(&kv, &mut model, 5, 5 + PENDING_BATCHES).await);
    assert_eq!(kv.live_snapshot(), model);
    assert_eq!(kv.durable_snapshot(), flushed);
    assert_eq!(kv.pending_batches() as u64, PENDING_BATCHES);
    (kv, flushed, prefixes)
}

#[tokio::test]
async fn random_crash_keeps_a_prefix_of_batches_and_every_prefix_occurs() {
    let mut seen = BTreeSet::new();
    for seed in 0..CRASH_SEEDS {
        let (kv, flushed, prefixes) = flushed_then_pending(seed).await;
        let report = kv.crash(&CrashSpec::random(seed));
        let after = kv.live_snapshot();
        let k = prefixes
            .iter()
            .position(|s| *s == after)
            .unwrap_or_else(|| panic!("seed {seed}: the state after the crash is no prefix"));
        assert_eq!(
            report.batches_kept, k as u64,
            "seed {seed}: the report names the prefix"
        );
        assert_eq!(report.batches_kept + report.batches_lost, PENDING_BATCHES);
        // Flushed data survives: no later batch touches the flushed batches' `b` keys.
        for n in 1..5u64 {
            let key = format!("b/{n:04}/b").into_bytes();
            assert_eq!(
                after.get(&key),
                flushed.get(&key),
                "seed {seed}: flushed batch {n}"
            );
            assert!(after.contains_key(&key));
        }
        assert_eq!(
            kv.durable_snapshot(),
            after,
            "seed {seed}: what survived is now durable"
        );
        assert_eq!(kv.pending_batches(), 0);
        // The same crash seed always picks the same prefix.
        let (again, _, _) = flushed_then_pending(seed + 1_000).await;
        assert_eq!(
            again.crash(&CrashSpec::random(seed)),
            report,
            "seed {seed}: replay"
        );
        seen.insert(k);
    }
    let all: BTreeSet<usize> = (0..=PENDING_BATCHES as usize).collect();
    assert_eq!(
        seen, all,
        "every prefix length, none and all included, occurs"
    );
}

#[tokio::test]
async fn keep_all_and_drop_all_are_exact() {
    let (kv, _, prefixes) = flushed_then_pending(1).await;
    let report = kv.crash(&CrashSpec::keep_all());
    assert_eq!(
        report,
        KvCrashReport {
            batches_kept: PENDING_BATCHES,
            batches_lost: 0
        }
    );
    assert_eq!(kv.live_snapshot(), *prefixes.last().unwrap());

    let (kv, flushed, _) = flushed_then_pending(1).await;
    let report = kv.crash(&CrashSpec::drop_all());
    assert_eq!(
        report,
        KvCrashReport {
            batches_kept: 0,
            batches_lost: PENDING_BATCHES
        }
    );
    assert_eq!(kv.live_snapshot(), flushed);
    assert_eq!(kv.stats().crashes, 1);
}

#[tokio::test]
async fn flushed_data_always_survives_and_the_store_works_after_a_crash() {
    let kv = SimKv::new(7);
    let mut model = State::new();
    let mut n = 1;
    for round in 0..20u64 {
        let flushed_to = n + round % 3;
        apply_range(&kv, &mut model, n, flushed_to).await;
        kv.flush().await.unwrap();
        let flushed = model.clone();
        n = flushed_to;
        let states = apply_range(&kv, &mut model, n, n + round % 4).await;
        kv.crash(&CrashSpec::random(round));
        let after = kv.live_snapshot();
        let kept = if after == flushed {
            0
        } else {
            1 + states.iter().position(|s| *s == after).expect("a prefix")
        };
        // Continue the workload from what survived, as a recovered engine would.
        n += kept as u64;
        model = after;
        assert_eq!(
            kv.get(b"counter").await.unwrap(),
            model.get(&b"counter"[..]).cloned()
        );
    }
    assert_eq!(kv.stats().crashes, 20);
    let crash_all = kv.live_snapshot();
    kv.crash(&CrashSpec::drop_all());
    assert_eq!(
        kv.live_snapshot(),
        crash_all,
        "a crash right after a crash loses nothing"
    );
}

fn is_eio(r: Result<impl std::fmt::Debug, KvError>, want_op: &str) {
    match r {
        Err(KvError::Io { op, source }) => {
            assert_eq!(op, want_op);
            assert_eq!(source.raw_os_error(), Some(5), "EIO");
        }
        other => panic!("{want_op}: expected EIO, got {other:?}"),
    }
}

#[tokio::test]
async fn a_failed_apply_applies_nothing() {
    let (kv, _, prefixes) = flushed_then_pending(2).await;
    let before = kv.digest();
    kv.inject_error(KvFault::ApplyEio);
    is_eio(kv.apply_batch(batch(100)).await, "apply_batch");
    assert_eq!(
        kv.digest(),
        before,
        "a failed batch changes nothing visible"
    );
    assert_eq!(
        kv.pending_batches() as u64,
        PENDING_BATCHES,
        "nor what a crash may keep"
    );
    kv.apply_batch(batch(100))
        .await
        .expect("the fault fired once");
    assert_eq!(kv.stats().errors, 1);
    kv.crash(&CrashSpec::keep_all());
    let mut want = prefixes.last().unwrap().clone();
    model_apply(&mut want, &batch(100));
    assert_eq!(kv.live_snapshot(), want);
}

#[tokio::test]
async fn a_failed_flush_makes_nothing_durable_until_a_later_flush() {
    let (kv, flushed, prefixes) = flushed_then_pending(3).await;
    kv.inject_error(KvFault::FlushEio);
    is_eio(kv.flush().await, "flush");
    assert_eq!(
        kv.durable_snapshot(),
        flushed,
        "a failed flush makes nothing newly durable"
    );
    assert_eq!(
        kv.pending_batches() as u64,
        PENDING_BATCHES,
        "the batches stay pending"
    );
    assert_eq!(
        kv.live_snapshot(),
        *prefixes.last().unwrap(),
        "reads are unaffected"
    );

    // Unlike a dropped page cache, sled rewrites its log: the next good flush persists them.
    kv.flush().await.unwrap();
    assert_eq!(kv.durable_snapshot(), *prefixes.last().unwrap());
    kv.crash(&CrashSpec::drop_all());
    assert_eq!(kv.live_snapshot(), *prefixes.last().unwrap());

    // And a crash after a failed flush still keeps only durable + a prefix.
    let (kv, flushed, _) = flushed_then_pending(4).await;
    kv.inject_error(KvFault::FlushEio);
    is_eio(kv.flush().await, "flush");
    kv.crash(&CrashSpec::drop_all());
    assert_eq!(kv.live_snapshot(), flushed);
}

#[tokio::test]
async fn read_faults_are_transient_and_counted() {
    let (kv, _, prefixes) = flushed_then_pending(5).await;
    kv.inject_error(KvFault::GetEio);
    kv.inject_error(KvFault::GetEio);
    kv.inject_error(KvFault::ScanEio);
    is_eio(kv.get(b"counter").await, "get");
    is_eio(kv.get(b"counter").await, "get");
    is_eio(kv.scan_prefix(b"").await, "scan_prefix");
    let want = prefixes.last().unwrap();
    assert_eq!(
        kv.get(b"counter").await.unwrap(),
        want.get(&b"counter"[..]).cloned()
    );
    let all: State = kv.scan_prefix(b"").await.unwrap().into_iter().collect();
    assert_eq!(all, *want);
    let stats = kv.stats();
    assert_eq!((stats.gets, stats.scans, stats.errors), (3, 2, 3));
}

#[tokio::test]
async fn an_armed_fault_survives_a_crash_and_empty_batches_are_not_pending() {
    let kv = SimKv::new(6);
    kv.inject_error(KvFault::ApplyEio);
    kv.crash(&CrashSpec::keep_all());
    is_eio(kv.apply_batch(batch(1)).await, "apply_batch");
    kv.apply_batch(WriteBatch::new()).await.unwrap();
    assert_eq!(
        kv.pending_batches(),
        0,
        "an empty batch is nothing a crash could lose"
    );
    assert_eq!(kv.crash(&CrashSpec::random(1)), KvCrashReport::default());
}
