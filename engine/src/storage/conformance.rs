//! The shared `KvStore` semantics suite. Every implementation (SledKv in a temp dir, SimKv with
//! and without latency) must pass all of it, so the simulator never tests the engine against
//! semantics the production store does not have.
//!
//! The store is shared across checks: each check works under its own key prefix
//! (`conformance/{name}/`, and no check name is a prefix of another followed by `/`), and first
//! deletes whatever is under it, so `run_all` can run again on a reopened store. Each check panics
//! with a message naming the broken rule.

use std::future::Future;
use std::ops::ControlFlow;
use std::pin::Pin;

use super::kv::{KvStore, WriteBatch};

/// Size of the value in the large-value check, bytes (sled stores it as a blob outside its pages).
const LARGE_VALUE_BYTES: usize = 1 << 20;

type Check = for<'a> fn(&'a dyn KvStore, Vec<u8>) -> Pin<Box<dyn Future<Output = ()> + 'a>>;

/// Every check, by name.
pub fn checks() -> Vec<(&'static str, Check)> {
    vec![
        ("get_missing_is_none", |kv, p| {
            Box::pin(get_missing_is_none(kv, p))
        }),
        ("put_then_get", |kv, p| Box::pin(put_then_get(kv, p))),
        ("overwrite_replaces", |kv, p| {
            Box::pin(overwrite_replaces(kv, p))
        }),
        ("delete_removes", |kv, p| Box::pin(delete_removes(kv, p))),
        ("batch_same_key_last_op_wins", |kv, p| {
            Box::pin(batch_same_key_last_op_wins(kv, p))
        }),
        ("batch_ops_all_visible", |kv, p| {
            Box::pin(batch_ops_all_visible(kv, p))
        }),
        ("scan_prefix_exact_and_ascending", |kv, p| {
            Box::pin(scan_prefix_exact_and_ascending(kv, p))
        }),
        ("visit_prefix_sees_what_scan_returns", |kv, p| {
            Box::pin(visit_prefix_sees_what_scan_returns(kv, p))
        }),
        ("empty_prefix_scans_everything", |kv, p| {
            Box::pin(empty_prefix_scans_everything(kv, p))
        }),
        ("binary_keys", |kv, p| Box::pin(binary_keys(kv, p))),
        ("large_values", |kv, p| Box::pin(large_values(kv, p))),
        ("flush_changes_nothing_visible", |kv, p| {
            Box::pin(flush_changes_nothing_visible(kv, p))
        }),
        ("empty_batch_is_fine", |kv, p| {
            Box::pin(empty_batch_is_fine(kv, p))
        }),
    ]
}

/// The key prefix a check works under.
pub fn prefix_of(check: &str) -> Vec<u8> {
    format!("conformance/{check}/").into_bytes()
}

/// Runs every check, each under its own key prefix of the shared store.
pub async fn run_all(kv: &dyn KvStore) {
    for (name, check) in checks() {
        let prefix = prefix_of(name);
        clear(kv, &prefix).await;
        check(kv, prefix).await;
    }
}

/// Deletes everything under `prefix` (left over from an earlier run on the same store).
async fn clear(kv: &dyn KvStore, prefix: &[u8]) {
    let mut batch = WriteBatch::new();
    for (key, _) in kv.scan_prefix(prefix).await.expect("scan to clear") {
        batch.delete(key);
    }
    kv.apply_batch(batch)
        .await
        .expect("clear the check's prefix");
}

fn key(prefix: &[u8], suffix: &[u8]) -> Vec<u8> {
    [prefix, suffix].concat()
}

async fn put(kv: &dyn KvStore, key: &[u8], value: &[u8]) {
    let mut batch = WriteBatch::new();
    batch.put(key, value);
    kv.apply_batch(batch).await.expect("a one-put batch");
}

async fn get(kv: &dyn KvStore, key: &[u8]) -> Option<Vec<u8>> {
    kv.get(key).await.expect("get")
}

async fn scan(kv: &dyn KvStore, prefix: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    kv.scan_prefix(prefix).await.expect("scan_prefix")
}

fn keys_of(entries: &[(Vec<u8>, Vec<u8>)]) -> Vec<Vec<u8>> {
    entries.iter().map(|(k, _)| k.clone()).collect()
}

async fn get_missing_is_none(kv: &dyn KvStore, p: Vec<u8>) {
    assert_eq!(
        get(kv, &key(&p, b"never-written")).await,
        None,
        "a missing key reads as None"
    );
    put(kv, &key(&p, b"a"), b"1").await;
    assert_eq!(
        get(kv, &key(&p, b"b")).await,
        None,
        "a neighbour of a key is still missing"
    );
    assert_eq!(
        get(kv, &key(&p, b"")).await,
        None,
        "the bare prefix is not a key"
    );
    assert_eq!(
        get(kv, &key(&p, b"a\0")).await,
        None,
        "a longer key is another key"
    );
}

async fn put_then_get(kv: &dyn KvStore, p: Vec<u8>) {
    put(kv, &key(&p, b"k"), b"value").await;
    assert_eq!(
        get(kv, &key(&p, b"k")).await.as_deref(),
        Some(&b"value"[..]),
        "put then get"
    );
    put(kv, &key(&p, b"empty"), b"").await;
    assert_eq!(
        get(kv, &key(&p, b"empty")).await,
        Some(Vec::new()),
        "an empty value is stored, not the same as a missing key"
    );
}

async fn overwrite_replaces(kv: &dyn KvStore, p: Vec<u8>) {
    let k = key(&p, b"k");
    put(kv, &k, b"a much longer first value").await;
    put(kv, &k, b"short").await;
    assert_eq!(
        get(kv, &k).await.as_deref(),
        Some(&b"short"[..]),
        "an overwrite replaces whole"
    );
    assert_eq!(
        scan(kv, &p).await.len(),
        1,
        "an overwrite does not add an entry"
    );
}

async fn delete_removes(kv: &dyn KvStore, p: Vec<u8>) {
    let (k, other) = (key(&p, b"k"), key(&p, b"other"));
    put(kv, &k, b"v").await;
    put(kv, &other, b"w").await;
    let mut batch = WriteBatch::new();
    batch.delete(k.clone());
    kv.apply_batch(batch).await.unwrap();
    assert_eq!(get(kv, &k).await, None, "a deleted key reads as None");
    assert_eq!(
        get(kv, &other).await.as_deref(),
        Some(&b"w"[..]),
        "delete touches one key"
    );
    assert_eq!(
        keys_of(&scan(kv, &p).await),
        [other],
        "a deleted key leaves scans"
    );
    let mut batch = WriteBatch::new();
    batch.delete(key(&p, b"never-written"));
    kv.apply_batch(batch)
        .await
        .expect("deleting a missing key is not an error");
}

async fn batch_same_key_last_op_wins(kv: &dyn KvStore, p: Vec<u8>) {
    let (k, j) = (key(&p, b"k"), key(&p, b"j"));
    put(kv, &j, b"old").await;
    let mut batch = WriteBatch::new();
    batch.put(k.clone(), b"v").delete(k.clone());
    batch.delete(j.clone()).put(j.clone(), b"new");
    kv.apply_batch(batch).await.unwrap();
    assert_eq!(
        get(kv, &k).await,
        None,
        "put then delete of one key in a batch: deleted"
    );
    assert_eq!(
        get(kv, &j).await.as_deref(),
        Some(&b"new"[..]),
        "delete then put: the put wins"
    );
    let mut batch = WriteBatch::new();
    batch
        .put(k.clone(), b"1")
        .put(k.clone(), b"2")
        .put(k.clone(), b"3");
    kv.apply_batch(batch).await.unwrap();
    assert_eq!(
        get(kv, &k).await.as_deref(),
        Some(&b"3"[..]),
        "the last put of a batch wins"
    );
}

async fn batch_ops_all_visible(kv: &dyn KvStore, p: Vec<u8>) {
    for i in 0..10u8 {
        put(kv, &key(&p, &[b'd', i]), b"to delete").await;
    }
    let mut batch = WriteBatch::new();
    for i in 0..100u8 {
        batch.put(key(&p, &[b'p', i]), vec![i; usize::from(i)]);
    }
    for i in 0..10u8 {
        batch.delete(key(&p, &[b'd', i]));
    }
    kv.apply_batch(batch).await.unwrap();
    for i in 0..100u8 {
        let got = get(kv, &key(&p, &[b'p', i])).await;
        assert_eq!(
            got,
            Some(vec![i; usize::from(i)]),
            "put {i} of the batch is visible"
        );
    }
    assert!(
        scan(kv, &key(&p, b"d")).await.is_empty(),
        "every delete of the batch took effect"
    );
    assert_eq!(
        scan(kv, &p).await.len(),
        100,
        "exactly the batch's puts remain"
    );
}

async fn visit(kv: &dyn KvStore, prefix: &[u8], stop_after: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut seen = Vec::new();
    kv.visit_prefix(prefix, &mut |k, v| {
        seen.push((k.to_vec(), v.to_vec()));
        if seen.len() >= stop_after {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .await
    .expect("visit_prefix");
    seen
}

async fn visit_prefix_sees_what_scan_returns(kv: &dyn KvStore, p: Vec<u8>) {
    let suffixes: [&[u8]; 7] = [
        b"a",
        b"ab",
        b"ab\x00",
        b"ab\xff",
        b"ab\xff\xff",
        b"ac",
        b"b",
    ];
    for s in suffixes {
        put(kv, &key(&p, s), &[s, b"!"].concat()).await;
    }
    for prefix in [&b""[..], b"a", b"ab", b"ab\xff", b"b", b"z"] {
        let prefix = key(&p, prefix);
        let scanned = scan(kv, &prefix).await;
        assert_eq!(
            visit(kv, &prefix, usize::MAX).await,
            scanned,
            "visit_prefix visits exactly the entries scan_prefix returns, in its order"
        );
        assert_eq!(
            visit(kv, &prefix, 2).await,
            scanned.iter().take(2).cloned().collect::<Vec<_>>(),
            "visit_prefix stops at the first Break"
        );
    }
}

async fn scan_prefix_exact_and_ascending(kv: &dyn KvStore, p: Vec<u8>) {
    let suffixes: [&[u8]; 10] = [
        b"b",
        b"ab\xff\xff",
        b"a",
        b"ac",
        b"ab",
        b"aa\xff",
        b"ab\x00",
        b"ab\xff",
        b"abc",
        b"b\x00",
    ];
    for s in suffixes {
        put(kv, &key(&p, s), s).await;
    }
    let ab = scan(kv, &key(&p, b"ab")).await;
    let want: Vec<Vec<u8>> = [&b"ab"[..], b"ab\x00", b"abc", b"ab\xff", b"ab\xff\xff"]
        .iter()
        .map(|s| key(&p, s))
        .collect();
    assert_eq!(
        keys_of(&ab),
        want,
        "prefix \"ab\": itself, its extensions, ascending, no \"ac\""
    );
    assert!(
        ab.iter().all(|(k, v)| k[p.len()..] == v[..]),
        "scan returns each key's value"
    );
    let ab_ff = keys_of(&scan(kv, &key(&p, b"ab\xff")).await);
    assert_eq!(
        ab_ff,
        [key(&p, b"ab\xff"), key(&p, b"ab\xff\xff")],
        "a prefix ending in 0xff: its upper bound is not \"ab\\xff\" + 1"
    );
    let all = keys_of(&scan(kv, &p).await);
    let mut sorted: Vec<Vec<u8>> = suffixes.iter().map(|s| key(&p, s)).collect();
    sorted.sort();
    assert_eq!(all, sorted, "a scan is in ascending bytewise key order");
    assert!(
        scan(kv, &key(&p, b"z")).await.is_empty(),
        "no match: an empty scan"
    );
    let exact = keys_of(&scan(kv, &key(&p, b"b\x00")).await);
    assert_eq!(
        exact,
        [key(&p, b"b\x00")],
        "a prefix equal to a whole key returns that key"
    );
}

async fn empty_prefix_scans_everything(kv: &dyn KvStore, p: Vec<u8>) {
    // Other checks' keys share the store, so compare the full scan with what it must contain.
    for s in [&b"x"[..], b"y", b"\x00", b"\xff"] {
        put(kv, &key(&p, s), s).await;
    }
    let all = scan(kv, b"").await;
    assert!(
        all.windows(2).all(|w| w[0].0 < w[1].0),
        "the full scan is strictly ascending"
    );
    let ours: Vec<_> = all
        .iter()
        .filter(|(k, _)| k.starts_with(&p))
        .cloned()
        .collect();
    assert_eq!(
        ours,
        scan(kv, &p).await,
        "the full scan holds exactly the prefix scan's entries"
    );
    assert_eq!(ours.len(), 4, "the full scan holds every key written here");
    for (k, v) in &all {
        assert_eq!(
            get(kv, k).await.as_ref(),
            Some(v),
            "a scanned entry agrees with get"
        );
    }
}

async fn binary_keys(kv: &dyn KvStore, p: Vec<u8>) {
    let suffixes: [&[u8]; 8] = [
        b"\x00",
        b"\x00\x00",
        b"\x01",
        b"\x7f",
        b"\x80",
        b"\xff",
        b"\xff\x00",
        b"\xff\xff\xff\xff",
    ];
    for (i, s) in suffixes.iter().enumerate() {
        put(kv, &key(&p, s), &[i as u8, 0, 0xff]).await;
    }
    for (i, s) in suffixes.iter().enumerate() {
        let got = get(kv, &key(&p, s)).await;
        assert_eq!(
            got,
            Some(vec![i as u8, 0, 0xff]),
            "binary key {s:?} round-trips"
        );
    }
    let want: Vec<Vec<u8>> = suffixes.iter().map(|s| key(&p, s)).collect();
    assert_eq!(
        keys_of(&scan(kv, &p).await),
        want,
        "bytes compare unsigned: 0x00 < 0x7f < 0x80 < 0xff"
    );
    let zero = keys_of(&scan(kv, &key(&p, b"\x00")).await);
    assert_eq!(
        zero,
        [key(&p, b"\x00"), key(&p, b"\x00\x00")],
        "a 0x00 prefix"
    );
    let ff = keys_of(&scan(kv, &key(&p, b"\xff")).await);
    assert_eq!(ff, want[5..].to_vec(), "a 0xff prefix");
}

async fn large_values(kv: &dyn KvStore, p: Vec<u8>) {
    let big: Vec<u8> = (0..LARGE_VALUE_BYTES).map(|i| (i % 251) as u8).collect();
    let k = key(&p, b"big");
    put(kv, &k, &big).await;
    put(kv, &key(&p, b"small"), b"s").await;
    assert!(
        get(kv, &k).await == Some(big.clone()),
        "a 1 MiB value round-trips"
    );
    let entries = scan(kv, &p).await;
    assert_eq!(entries.len(), 2);
    assert!(entries[0].1 == big, "a scan returns the whole large value");
    let mut bigger = big.clone();
    bigger.extend_from_slice(b"tail");
    put(kv, &k, &bigger).await;
    assert!(
        get(kv, &k).await == Some(bigger),
        "a large value can be overwritten"
    );
}

async fn flush_changes_nothing_visible(kv: &dyn KvStore, p: Vec<u8>) {
    for i in 0..20u8 {
        put(kv, &key(&p, &[i]), &[i]).await;
    }
    let before = scan(kv, &p).await;
    kv.flush().await.expect("flush");
    assert_eq!(
        scan(kv, &p).await,
        before,
        "a flush changes nothing visible"
    );
    kv.flush().await.expect("a flush with nothing new succeeds");
    assert_eq!(scan(kv, &p).await, before);
    put(kv, &key(&p, b"after"), b"a").await;
    assert_eq!(scan(kv, &p).await.len(), 21, "writes after a flush work");
}

async fn empty_batch_is_fine(kv: &dyn KvStore, p: Vec<u8>) {
    put(kv, &key(&p, b"k"), b"v").await;
    let before = scan(kv, &p).await;
    kv.apply_batch(WriteBatch::new())
        .await
        .expect("an empty batch is not an error");
    assert_eq!(scan(kv, &p).await, before, "an empty batch changes nothing");
    kv.flush().await.expect("flush after an empty batch");
}
