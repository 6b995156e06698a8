//! Must-show: hostile records appended with `submit_raw` (garbage bytes, an empty payload, a
//! valid archive with a bad signature, a truncated record) are quarantined with a reason, and the
//! worker keeps ingesting what follows. Also: damaged log bytes, whether found by the reader while
//! ingest runs or by WAL recovery at open, become dead letters and ingest continues after them.

mod ingest_support;

use std::path::Path;
use std::sync::Arc;

use stemedb::io::{Clock, Vfs};
use stemedb::model::{Limits, Record, Weight};
use stemedb::storage::KvStore;
use stemedb::wal::{Wal, WalOptions, RECORD_HEADER_BYTES};
use stemedb::{Engine, EngineOptions};
use stemedb_faults::{ClockPlan, SimClock, SimDisk, SimKv};

use ingest_support::*;

const DIR: &str = "/db/wal";

async fn open(disk: &SimDisk, kv: &SimKv) -> Engine {
    let vfs: Arc<dyn Vfs> = Arc::new(disk.clone());
    let clock: Arc<dyn Clock> = Arc::new(SimClock::manual(ClockPlan::default()));
    let kv: Arc<dyn KvStore> = Arc::new(kv.clone());
    Engine::open(vfs, kv, clock, Path::new(DIR), EngineOptions::default())
        .await
        .expect("open")
}

#[tokio::test(start_paused = true)]
async fn hostile_records_are_quarantined_and_ingest_goes_on() {
    let (disk, kv) = (SimDisk::new(21), SimKv::new(21));
    let engine = open(&disk, &kv).await;
    let (a0, a1) = (agent(0), agent(1));
    let target = assertion(&a0, "s", "p", "o", 1);
    let mut forged_vote = vote(&a1, &target, 2, 2);
    forged_vote.weight = Weight::from_units(900); // after signing
    let valid = encode(Record::Assertion(assertion(&a1, "s", "p", "o2", 3)));
    let hostile: Vec<(Vec<u8>, &str)> = vec![
        (
            b"\xde\xad\xbe\xef not a record at all".to_vec(),
            "bad record magic",
        ),
        (Vec::new(), "shorter than its"),
        (encode(Record::Vote(forged_vote)), "does not verify"),
        (
            valid[..valid.len() / 2].to_vec(),
            "invalid Assertion archive",
        ),
    ];

    let mut expected = Vec::new();
    ok(
        engine.submit(&Record::Assertion(target.clone())).await,
        "target",
    );
    for (i, (payload, reason)) in hostile.iter().enumerate() {
        let offset = ok(engine.submit_raw(payload).await, "raw");
        expected.push((offset, *reason));
        // A valid record right behind each hostile one.
        let follow = vote(&agent(10 + i as u64), &target, 1, 10 + i as u64);
        ok(engine.submit(&Record::Vote(follow)).await, "follow");
    }
    let end = caught_up(&engine, "hostile").await;
    assert_eq!(engine.ingest_cursor(), end);
    assert!(engine.ingest_running());

    let quarantine = quarantine_reasons(&kv).await;
    assert_eq!(quarantine.len(), expected.len(), "{quarantine:?}");
    for ((offset, reason), (want_offset, want_reason)) in quarantine.iter().zip(&expected) {
        assert_eq!(offset, want_offset);
        assert!(
            reason.contains(want_reason),
            "at {offset}: {reason:?} lacks {want_reason:?}"
        );
    }
    let stats = engine.ingest_stats();
    assert_eq!((stats.quarantined, stats.applied), (4, 5), "{stats:?}");
    let (count, weight) = stemedb::ingest::read_counters(&kv, &target.identity_hash())
        .await
        .unwrap();
    assert_eq!(count, 4, "the forged vote was not counted");
    assert_eq!(weight.micros(), u128::from(Weight::from_units(4).micros()));
    let log = read_all(&mut ok(engine.wal_reader().await, "reader")).await;
    let (want, got) = (replay(&log, &Limits::default()), stored(&kv).await);
    assert!(want == got, "{}", first_difference(&want, &got));
    ok(engine.shutdown().await, "shutdown");
}

#[tokio::test(start_paused = true)]
async fn a_future_timestamp_is_not_an_ingest_rule() {
    // The clock rule is enforced at submit only: ingest must be a pure function of the log, so a
    // replay next year (or on a skewed node) gives the same store.
    let (disk, kv) = (SimDisk::new(22), SimKv::new(22));
    let engine = open(&disk, &kv).await;
    let far = assertion(
        &agent(0),
        "s",
        "p",
        "o",
        10 * 365 * 24 * 3600 * 1000 + (1 << 40),
    );
    let record = Record::Assertion(far);
    assert!(
        engine.submit(&record).await.is_err(),
        "submit applies the clock rule"
    );
    let offset = ok(engine.submit_raw(&encode(record)).await, "raw");
    ok(
        bounded(engine.wait_ingested(offset))
            .await
            .expect("bounded"),
        "wait",
    );
    let stats = engine.ingest_stats();
    assert_eq!((stats.applied, stats.quarantined), (1, 0), "{stats:?}");
    ok(engine.shutdown().await, "shutdown");
}

/// Three records written and synced by a bare WAL; returns their offsets.
async fn write_three(disk: &SimDisk) -> Vec<u64> {
    let vfs: Arc<dyn Vfs> = Arc::new(disk.clone());
    let wal = Wal::open(vfs, Path::new(DIR), WalOptions::default())
        .await
        .unwrap();
    let mut offsets = Vec::new();
    for i in 0..3 {
        let a = assertion(&agent(i), "s", "p", &format!("o{i}"), i);
        offsets.push(wal.append(&encode(Record::Assertion(a))).await.unwrap());
    }
    offsets
}

async fn rot_payload_of(disk: &SimDisk, offset: u64) {
    let segment = segment_path(&disk.observer(), Path::new(DIR), 0).await;
    let byte = offset + RECORD_HEADER_BYTES as u64 + 12;
    assert!(disk.flip_bit(&segment, byte, 3), "flip a synced byte");
}

#[tokio::test(start_paused = true)]
async fn bytes_damaged_while_ingest_runs_are_quarantined_and_skipped() {
    let (disk, kv) = (SimDisk::new(23), SimKv::new(23));
    let offsets = write_three(&disk).await;
    let engine = open(&disk, &kv).await;
    // Recovery at open found the log intact; the worker has not run yet (single-threaded
    // runtime), so the reader is the first to meet the damage.
    rot_payload_of(&disk, offsets[1]).await;
    caught_up(&engine, "damaged").await;
    let quarantine = quarantine_reasons(&kv).await;
    assert_eq!(quarantine.len(), 1, "{quarantine:?}");
    assert_eq!(quarantine[0].0, offsets[1]);
    let want = format!("damaged WAL bytes [{}, {})", offsets[1], offsets[2]);
    assert!(quarantine[0].1.starts_with(&want), "{:?}", quarantine[0].1);
    let stats = engine.ingest_stats();
    assert_eq!((stats.applied, stats.quarantined), (2, 1), "{stats:?}");
    ok(engine.shutdown().await, "shutdown");
}

#[tokio::test(start_paused = true)]
async fn ranges_quarantined_by_wal_recovery_become_dead_letters_too() {
    let (disk, kv) = (SimDisk::new(24), SimKv::new(24));
    let offsets = write_three(&disk).await;
    rot_payload_of(&disk, offsets[1]).await;
    let engine = open(&disk, &kv).await;
    assert_eq!(engine.recovery_report().quarantined_new.len(), 1);
    caught_up(&engine, "recovered").await;
    let quarantine = quarantine_reasons(&kv).await;
    assert_eq!(quarantine.len(), 1, "{quarantine:?}");
    assert_eq!(quarantine[0].0, offsets[1]);
    assert!(
        quarantine[0].1.contains("quarantined by WAL recovery"),
        "{:?}",
        quarantine[0].1
    );
    let stats = engine.ingest_stats();
    assert_eq!((stats.applied, stats.quarantined), (2, 1), "{stats:?}");
    ok(engine.shutdown().await, "shutdown");
}
