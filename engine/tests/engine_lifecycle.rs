//! The engine's life on the production stack (RealVfs + SledKv in a temporary directory):
//! submit, wait for ingest, shut down, reopen and resume from the durable cursor without
//! re-applying anything; and a worker that stops on a fatal store error is reported, not waited
//! on forever.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use stemedb::ingest::{read_counters, read_cursor, IngestError, IngestStopError};
use stemedb::io::{Clock, RealClock, RealVfs, Vfs};
use stemedb::model::{Agent, Assertion, Record, Weight};
use stemedb::storage::keys;
use stemedb::storage::{KvStore, SledKv, WriteBatch};
use stemedb::{Engine, EngineError, EngineOptions};

/// Bound on waiting for ingest (real time).
const WAIT_BOUND: Duration = Duration::from_secs(30);

fn agent(i: u64) -> Agent {
    Agent::derived(91, i)
}

fn assertion(i: u64, now_ms: u64) -> Assertion {
    let mut a = Assertion::new(
        "subject",
        "predicate",
        format!("object {i}"),
        0.5,
        now_ms - 10,
    );
    agent(i).sign_assertion(&mut a);
    a
}

async fn open(dir: &Path, kv: Arc<dyn KvStore>) -> Engine {
    let vfs: Arc<dyn Vfs> = Arc::new(RealVfs);
    let clock: Arc<dyn Clock> = Arc::new(RealClock::default());
    Engine::open(vfs, kv, clock, &dir.join("wal"), EngineOptions::default())
        .await
        .expect("open")
}

#[expect(
    clippy::disallowed_methods,
    reason = "a real engine on a real clock, bounded in real time"
)]
async fn wait(engine: &Engine, offset: u64) -> Result<(), EngineError> {
    tokio::time::timeout(WAIT_BOUND, engine.wait_ingested(offset))
        .await
        .expect("bounded wait ran out")
}

#[tokio::test]
async fn reopen_resumes_from_the_durable_cursor_without_reapplying() {
    let tmp = tempfile::tempdir().unwrap();
    let kv_path = tmp.path().join("kv");
    let (first, second, voted);
    {
        let kv: Arc<dyn KvStore> = Arc::new(SledKv::open(&kv_path).unwrap());
        let engine = open(tmp.path(), Arc::clone(&kv)).await;
        let now = engine.clock().wall_ms();
        let a = assertion(0, now);
        first = engine.submit(&Record::Assertion(a.clone())).await.unwrap();
        let v = agent(5).vote(a.identity_hash(), Weight::from_units(3), now);
        voted = a.identity_hash();
        second = engine.submit(&Record::Vote(v)).await.unwrap();
        wait(&engine, second).await.unwrap();
        assert!(first < second);
        assert_eq!(engine.ingest_cursor(), engine.durable_end());
        assert_eq!(engine.ingest_stats().applied, 2);
        engine.shutdown().await.unwrap();
    }
    let kv: Arc<dyn KvStore> = Arc::new(SledKv::open(&kv_path).unwrap());
    let cursor = read_cursor(kv.as_ref()).await.unwrap();
    assert!(cursor > second, "the cursor was made durable at shutdown");
    let engine = open(tmp.path(), Arc::clone(&kv)).await;
    assert_eq!(engine.ingest_cursor(), cursor);
    assert_eq!(
        engine.recovery_report().scanned_from,
        cursor,
        "recovery starts at the cursor"
    );
    let third = engine
        .submit(&Record::Assertion(assertion(1, engine.clock().wall_ms())))
        .await
        .unwrap();
    assert_eq!(third, cursor);
    wait(&engine, third).await.unwrap();
    let stats = engine.ingest_stats();
    assert_eq!(
        (stats.applied, stats.duplicates),
        (1, 0),
        "nothing re-applied: {stats:?}"
    );
    let (count, weight) = read_counters(kv.as_ref(), &voted).await.unwrap();
    assert_eq!((count, weight.micros()), (1, 3_000_000));
    engine.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_fatal_store_error_stops_the_worker_and_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let kv: Arc<dyn KvStore> = Arc::new(SledKv::open(&tmp.path().join("kv")).unwrap());
    let engine = open(tmp.path(), Arc::clone(&kv)).await;
    let now = engine.clock().wall_ms();
    let a = assertion(0, now);
    // A vote counter this engine could never have written (3 bytes, not 8).
    let mut bad = WriteBatch::new();
    bad.put(keys::vote_count_key(&a.identity_hash()), vec![1, 2, 3]);
    kv.apply_batch(bad).await.unwrap();
    let v = agent(5).vote(a.identity_hash(), Weight::from_units(1), now);
    let offset = engine.submit(&Record::Vote(v)).await.unwrap();
    assert!(matches!(
        wait(&engine, offset).await,
        Err(EngineError::Stopped)
    ));
    assert!(!engine.ingest_running());
    assert_eq!(
        engine.ingest_cursor(),
        offset,
        "nothing was applied past the bad counter"
    );
    match engine.shutdown().await {
        Err(EngineError::Ingest(IngestStopError::Failed(IngestError::KvCorrupt { .. }))) => {}
        other => panic!("expected the worker's failure, got {other:?}"),
    }
}

#[tokio::test]
async fn dropping_the_engine_releases_the_wal_for_an_immediate_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let kv: Arc<dyn KvStore> = Arc::new(SledKv::open(&tmp.path().join("kv")).unwrap());
    let engine = open(tmp.path(), Arc::clone(&kv)).await;
    let a = assertion(0, engine.clock().wall_ms());
    let offset = engine.submit(&Record::Assertion(a)).await.unwrap();
    drop(engine); // as a crash would: no shutdown, no yield to the runtime
    let engine = open(tmp.path(), Arc::clone(&kv)).await;
    wait(&engine, offset).await.unwrap();
    assert_eq!(engine.ingest_cursor(), engine.durable_end());
    engine.shutdown().await.unwrap();
}
