//! SledKv must pass the shared KvStore semantics suite in a temp dir, keep flushed data across a
//! reopen, and report failures as typed errors rather than panics.

use stemedb::storage::{conformance, KvError, KvStore, SledKv, WriteBatch};

#[tokio::test]
async fn sled_kv_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let kv = SledKv::open(&dir.path().join("kv")).unwrap();
    conformance::run_all(&kv).await;
}

#[tokio::test]
async fn sled_kv_keeps_flushed_data_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kv");
    let kv = SledKv::open(&path).unwrap();
    conformance::run_all(&kv).await;
    let mut batch = WriteBatch::new();
    batch
        .put(&b"reopen/a"[..], &b"1"[..])
        .put(&b"reopen/b"[..], &b"2"[..]);
    kv.apply_batch(batch).await.unwrap();
    kv.flush().await.unwrap();
    let before = kv.scan_prefix(b"").await.unwrap();
    drop(kv);

    let kv = SledKv::open(&path).expect("reopen after the last handle dropped");
    assert_eq!(
        kv.scan_prefix(b"").await.unwrap(),
        before,
        "flushed data survives a reopen"
    );
    assert_eq!(
        kv.get(b"reopen/b").await.unwrap().as_deref(),
        Some(&b"2"[..])
    );
    // The suite clears its own prefixes first, so it runs again on the recovered store.
    conformance::run_all(&kv).await;
}

#[tokio::test]
async fn a_held_store_cannot_be_opened_twice() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kv");
    let _held = SledKv::open(&path).unwrap();
    match SledKv::open(&path) {
        Err(KvError::Io { op, source }) => {
            assert_eq!(op, "open");
            // sled wraps the flock failure as `Other` with the OS error in the message.
            assert!(source.to_string().contains("lock"), "{source}");
        }
        other => panic!("a second open of a held store must fail with Io: {other:?}"),
    }
}

#[tokio::test]
async fn opening_a_regular_file_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"plain file").unwrap();
    let err = SledKv::open(&file).expect_err("a regular file is not a sled directory");
    assert!(matches!(err, KvError::Io { op: "open", .. }), "{err:?}");
}
