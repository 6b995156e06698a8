//! Must-show: a failed WAL read during ingest is retried with back-off and counted; it never
//! moves the cursor past unread data and is never taken for the end of the log (which would stall
//! ingest silently until the next append).

mod ingest_support;

use std::path::Path;
use std::sync::Arc;

use stemedb::io::{Clock, Vfs};
use stemedb::model::{Limits, Record};
use stemedb::storage::keys;
use stemedb::storage::KvStore;
use stemedb::{Engine, EngineOptions};
use stemedb_faults::{ClockPlan, DiskFault, FileSelector, SimClock, SimDisk, SimKv, SECTOR_BYTES};

use ingest_support::*;

const DIR: &str = "/db/wal";

async fn open(disk: &SimDisk) -> (Engine, Arc<dyn KvStore>) {
    let vfs: Arc<dyn Vfs> = Arc::new(disk.clone());
    let kv: Arc<dyn KvStore> = Arc::new(SimKv::new(5));
    let clock: Arc<dyn Clock> = Arc::new(SimClock::manual(ClockPlan::default()));
    let engine = Engine::open(
        vfs,
        Arc::clone(&kv),
        clock,
        Path::new(DIR),
        EngineOptions::default(),
    )
    .await
    .expect("open");
    (engine, kv)
}

async fn submit_assertion(engine: &Engine, i: u64) -> (u64, Vec<u8>) {
    let a = assertion(&agent(i), "s", "p", &format!("object {i}"), i);
    let offset = ok(engine.submit(&Record::Assertion(a.clone())).await, "submit");
    (offset, keys::assertion_key(&a.identity_hash()))
}

async fn check_matches_replay(engine: &Engine, kv: &dyn KvStore) {
    let log = read_all(&mut ok(engine.wal_reader().await, "reader")).await;
    let want = replay(&log, &Limits::default());
    let got = stored(kv).await;
    assert!(want == got, "{}", first_difference(&want, &got));
}

#[tokio::test(start_paused = true)]
async fn transient_read_eio_is_retried_and_counted() {
    let disk = SimDisk::new(11);
    let (engine, kv) = open(&disk).await;
    for i in 0..2 {
        submit_assertion(&engine, i).await;
    }
    caught_up(&engine, "before").await;
    assert_eq!(engine.ingest_stats().io_errors, 0);

    // The worker is idle, waiting for the log to grow; appends do not read, so the next three
    // reads are the worker's.
    for _ in 0..3 {
        disk.inject(DiskFault::ReadEio);
    }
    let (offset, key) = submit_assertion(&engine, 2).await;
    ok(
        bounded(engine.wait_ingested(offset))
            .await
            .expect("bounded"),
        "wait",
    );

    let stats = engine.ingest_stats();
    assert_eq!(stats.io_errors, 3, "{stats:?}");
    assert!(stats.retries >= 3, "{stats:?}");
    assert_eq!(
        stats.applied, 3,
        "the record behind the errors was applied: {stats:?}"
    );
    assert_eq!(
        stats.quarantined, 0,
        "an I/O error is not damage: {stats:?}"
    );
    assert!(kv.get(&key).await.unwrap().is_some());
    assert_eq!(disk.stats().read_errors, 3);
    check_matches_replay(&engine, kv.as_ref()).await;
    ok(engine.shutdown().await, "shutdown");
}

#[tokio::test(start_paused = true)]
async fn a_persistent_read_error_holds_the_cursor_until_it_clears() {
    let disk = SimDisk::new(12);
    let (engine, kv) = open(&disk).await;
    for i in 0..2 {
        submit_assertion(&engine, i).await;
    }
    caught_up(&engine, "before").await;

    // A latent sector error where the next record will start: every read of it fails.
    let at = engine.durable_end();
    let segment = segment_path(&disk.observer(), Path::new(DIR), 0).await;
    disk.inject(DiskFault::LatentSectorError {
        file: FileSelector::Path(segment),
        sector: at / SECTOR_BYTES,
    });
    let (offset, key) = submit_assertion(&engine, 2).await;
    assert_eq!(offset, at);
    let (later, later_key) = submit_assertion(&engine, 3).await;

    // Bounded wait, expected to run out (in virtual time): the record cannot be read.
    assert!(
        bounded(engine.wait_ingested(offset)).await.is_none(),
        "read of a bad sector succeeded"
    );
    let stats = engine.ingest_stats();
    assert_eq!(
        engine.ingest_cursor(),
        offset,
        "the cursor stays at the unread record"
    );
    assert!(kv.get(&key).await.unwrap().is_none());
    assert!(
        kv.get(&later_key).await.unwrap().is_none(),
        "nothing after it was applied"
    );
    assert!(
        stats.io_errors >= 10,
        "retried, not taken for end of log: {stats:?}"
    );
    assert_eq!(stats.io_errors, stats.retries, "{stats:?}");
    assert_eq!(stats.quarantined, 0, "{stats:?}");
    assert!(engine.ingest_running());

    // The fault clears: the worker's next retry reads the record.
    disk.heal();
    ok(
        bounded(engine.wait_ingested(later)).await.expect("bounded"),
        "after heal",
    );
    assert!(kv.get(&key).await.unwrap().is_some());
    assert!(kv.get(&later_key).await.unwrap().is_some());
    check_matches_replay(&engine, kv.as_ref()).await;
    ok(engine.shutdown().await, "shutdown");
}
