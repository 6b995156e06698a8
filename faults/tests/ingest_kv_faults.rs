//! Must-show: the KV's faults as the engine meets them. EIO from any KV call during ingest is
//! retried and loses nothing; a corrupt report stops ingest for good, and the engine says so
//! (`ingest_running`, `wait_ingested`, `shutdown`) without having applied anything of the batch
//! that met it; the same store, reopened, resumes exactly once. And the plan's KV faults fire at
//! the store's n-th call, at the first call of their kind from there, until `heal`.

mod ingest_support;

use std::path::Path;
use std::sync::Arc;

use stemedb::ingest::{IngestError, IngestStopError};
use stemedb::io::{Clock, Vfs};
use stemedb::model::{Limits, Record};
use stemedb::storage::{KvError, KvStore, WriteBatch};
use stemedb::{Engine, EngineError, EngineOptions};
use stemedb_faults::{ClockPlan, FaultPlan, KvFault, ScheduledKvFault, SimClock, SimDisk, SimKv};

use ingest_support::*;

const DIR: &str = "/db/wal";

async fn open(disk: &SimDisk, kv: &SimKv) -> Engine {
    let vfs: Arc<dyn Vfs> = Arc::new(disk.clone());
    let store: Arc<dyn KvStore> = Arc::new(kv.clone());
    let clock: Arc<dyn Clock> = Arc::new(SimClock::manual(ClockPlan::default()));
    Engine::open(vfs, store, clock, Path::new(DIR), EngineOptions::default())
        .await
        .expect("open")
}

async fn submit(engine: &Engine, i: u64) -> u64 {
    let a = assertion(&agent(i), "s", "p", &format!("object {i}"), i);
    ok(engine.submit(&Record::Assertion(a)).await, "submit")
}

async fn check_matches_replay(engine: &Engine, kv: &SimKv) {
    let log = read_all(&mut ok(engine.wal_reader().await, "reader")).await;
    let want = replay(&log, &Limits::default());
    let got = stored(kv).await;
    assert!(want == got, "{}", first_difference(&want, &got));
}

#[tokio::test(start_paused = true)]
async fn kv_eio_during_ingest_is_retried_and_loses_nothing() {
    let disk = SimDisk::new(21);
    let kv = SimKv::new(21);
    let engine = open(&disk, &kv).await;
    submit(&engine, 0).await;
    caught_up(&engine, "before").await;
    for fault in [
        KvFault::GetEio,
        KvFault::ApplyEio,
        KvFault::ApplyEio,
        KvFault::FlushEio,
    ] {
        kv.inject_error(fault);
    }
    let mut last = 0;
    for i in 1..40 {
        last = submit(&engine, i).await;
    }
    ok(
        bounded(engine.wait_ingested(last)).await.expect("bounded"),
        "wait",
    );
    assert!(engine.ingest_running(), "EIO never stops ingest");
    let stats = engine.ingest_stats();
    assert_eq!(stats.applied, 40, "{stats:?}");
    assert!(stats.kv_errors >= 3, "{stats:?}");
    assert_eq!(kv.stats().errors, 4, "every armed fault fired");
    check_matches_replay(&engine, &kv).await;
    ok(engine.shutdown().await, "shutdown");
}

#[tokio::test(start_paused = true)]
async fn a_corrupt_report_stops_ingest_the_engine_says_so_and_a_reopen_resumes() {
    let disk = SimDisk::new(22);
    let kv = SimKv::new(22);
    let engine = open(&disk, &kv).await;
    submit(&engine, 0).await;
    caught_up(&engine, "before").await;
    let before = kv.live_snapshot();

    kv.inject_error(KvFault::ApplyCorrupt);
    let offset = submit(&engine, 1).await;
    let waited = bounded(engine.wait_ingested(offset))
        .await
        .expect("a stopped worker ends the wait");
    assert!(matches!(waited, Err(EngineError::Stopped)), "{waited:?}");
    assert!(!engine.ingest_running(), "the worker has ended");
    assert!(
        matches!(engine.ingest_failure(), Some(IngestError::KvCorrupt { .. })),
        "the engine says why its worker ended: {:?}",
        engine.ingest_failure()
    );
    assert_eq!(
        kv.live_snapshot(),
        before,
        "the batch that met the report applied nothing"
    );
    assert_eq!(kv.stats().corrupt_reports, 1);
    // Writes are still acknowledged: the log does not need the KV.
    let later = submit(&engine, 2).await;
    match engine.shutdown().await {
        Err(EngineError::Ingest(IngestStopError::Failed(IngestError::KvCorrupt { detail }))) => {
            assert!(detail.contains("checksum"), "{detail}");
        }
        other => panic!("the shutdown must report the worker's failure, got {other:?}"),
    }

    // The report came from a transient misread: the same store, reopened, is sound.
    let engine = open(&disk, &kv).await;
    ok(
        bounded(engine.wait_ingested(later)).await.expect("bounded"),
        "wait after reopen",
    );
    assert!(engine.ingest_running());
    check_matches_replay(&engine, &kv).await;
    ok(engine.shutdown().await, "shutdown after reopen");
}

#[tokio::test(start_paused = true)]
async fn a_shutdown_reports_both_the_ingest_failure_and_a_failed_flush() {
    let disk = SimDisk::new(23);
    let kv = SimKv::new(23);
    let engine = open(&disk, &kv).await;
    assert!(
        engine.ingest_failure().is_none(),
        "a running worker has not failed"
    );
    kv.inject_error(KvFault::ApplyCorrupt);
    let offset = submit(&engine, 1).await;
    let waited = bounded(engine.wait_ingested(offset))
        .await
        .expect("bounded");
    assert!(matches!(waited, Err(EngineError::Stopped)), "{waited:?}");
    kv.inject_error(KvFault::FlushEio);
    match engine.shutdown().await {
        Err(EngineError::IngestAndKv {
            ingest: IngestStopError::Failed(IngestError::KvCorrupt { .. }),
            kv: KvError::Io { .. },
        }) => {}
        other => panic!("the failed flush must not hide the worker's failure: {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn planned_kv_faults_fire_at_their_call_until_healed() {
    let plan = FaultPlan {
        kv: vec![
            ScheduledKvFault {
                at_call: 2,
                fault: KvFault::ApplyEio,
            },
            ScheduledKvFault {
                at_call: 4,
                fault: KvFault::GetCorrupt,
            },
            ScheduledKvFault {
                at_call: 9,
                fault: KvFault::ScanEio,
            },
        ],
        ..FaultPlan::none()
    };
    let kv = SimKv::with_plan(23, &plan);
    let mut batch = WriteBatch::new();
    batch.put("k", b"v".to_vec());
    // Calls 0 and 1: before the first fault.
    assert!(kv.get(b"k").await.unwrap().is_none());
    kv.apply_batch(batch.clone()).await.unwrap();
    // Call 2 arms ApplyEio, but a get is not its kind: it fires at the next apply (call 3).
    assert_eq!(kv.get(b"k").await.unwrap(), Some(b"v".to_vec()));
    assert!(matches!(
        kv.apply_batch(batch.clone()).await,
        Err(KvError::Io { .. })
    ));
    // Call 4: the corrupt report, on a get.
    assert!(matches!(kv.get(b"k").await, Err(KvError::Corrupt(_))));
    assert_eq!(kv.get(b"k").await.unwrap(), Some(b"v".to_vec()));
    let stats = kv.stats();
    assert_eq!((stats.errors, stats.corrupt_reports), (2, 1), "{stats:?}");
    // Healed before call 9: the scan fault never fires.
    kv.heal();
    for _ in 0..8 {
        kv.scan_prefix(b"").await.unwrap();
    }
    assert_eq!(kv.stats().errors, 2);
}
