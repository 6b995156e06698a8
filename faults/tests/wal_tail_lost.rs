//! Regression: the log's tail lost below the ingest cursor. Media damage destroyed records that
//! were acknowledged AND already ingested, at the log's tail. Recovery starts at the KV's durable
//! cursor C, so it found the log ending at E < C: it refused to open (`CheckpointBeyondEnd`, the
//! file shorter than C), or, when it scanned from below C (a damaged quarantine list forces a
//! full rescan), cut a torn tail at E and then handed new records offsets in [E, C) that the KV
//! had already passed: ingest, resuming at C, never read them, so acknowledged records were never
//! ingested (or, landing exactly at C, a later one was read from the middle of another).
//!
//! Must hold: the engine never reuses an offset at or below the cursor. The WAL continues at C,
//! the recovery report says `TailLost { from: E, to: C }` (again on every open until the log
//! moves on), a `lost_below_cursor` dead letter is written for [E, C) exactly once, nothing below
//! C is ingested again, and every new record is ingested exactly once.

mod ingest_support;

use std::path::Path;
use std::sync::Arc;

use stemedb::io::{Clock, OpenMode, Vfs};
use stemedb::model::Record;
use stemedb::storage::{keys, KvStore};
use stemedb::wal::{TailLost, QUARANTINE_FILE_NAME};
use stemedb::{Engine, EngineOptions};
use stemedb_faults::{ClockPlan, CrashSpec, SimClock, SimDisk, SimKv};

use ingest_support::*;

const DIR: &str = "/db/wal";
const OLD_RECORDS: u64 = 10;
const NEW_RECORDS: u64 = 5;

fn dir() -> &'static Path {
    Path::new(DIR)
}

async fn open(disk: &SimDisk, kv: &SimKv) -> Engine {
    let vfs: Arc<dyn Vfs> = Arc::new(disk.clone());
    let clock: Arc<dyn Clock> = Arc::new(SimClock::manual(ClockPlan::default()));
    let kv: Arc<dyn KvStore> = Arc::new(kv.clone());
    Engine::open(vfs, kv, clock, dir(), EngineOptions::default())
        .await
        .expect("the engine opens over a log that lost its tail")
}

fn record(i: u64) -> Record {
    Record::Assertion(assertion(&agent(i % 4), &format!("s{i}"), "p", "o", i))
}

/// Submits `range` and waits until they are ingested; returns their offsets.
async fn submit_all(engine: &Engine, range: std::ops::Range<u64>) -> Vec<u64> {
    let mut offsets = Vec::new();
    for i in range {
        offsets.push(ok(engine.submit(&record(i)).await, "submit"));
    }
    caught_up(engine, "submitted records").await;
    offsets
}

/// Old records acknowledged, ingested and flushed; returns their offsets and the cursor.
async fn ingested_world(disk: &SimDisk, kv: &SimKv) -> (Vec<u64>, u64) {
    let engine = open(disk, kv).await;
    let offsets = submit_all(&engine, 0..OLD_RECORDS).await;
    let cursor = engine.ingest_cursor();
    ok(engine.shutdown().await, "shutdown");
    assert_eq!(stored_cursor(kv).await, Some(cursor));
    (offsets, cursor)
}

async fn lost_dead_letters(kv: &SimKv) -> Vec<(u64, String)> {
    quarantine_reasons(kv)
        .await
        .into_iter()
        .filter(|(_, reason)| reason.contains("lost_below_cursor"))
        .collect()
}

/// After the damage: the loss is reported (twice, across a reopen without appends), one dead
/// letter, and new records land at or above the cursor and are ingested exactly once.
/// `untouched`: a segment and the length it must keep until new records are appended (nothing
/// below the cursor is cut).
async fn check_continues_at_cursor(
    disk: &SimDisk,
    kv: &SimKv,
    lost_from: u64,
    cursor: u64,
    untouched: Option<(&Path, u64)>,
) {
    let lost = TailLost {
        from: lost_from,
        to: cursor,
    };
    for boot in 0..2 {
        let engine = open(disk, kv).await;
        let report = engine.recovery_report().clone();
        assert_eq!(report.tail_lost, Some(lost), "boot {boot}: {report:?}");
        assert_eq!(report.torn_tail, None, "nothing is cut below the cursor");
        assert_eq!(engine.durable_end(), cursor);
        assert_eq!(
            lost_dead_letters(kv).await,
            vec![(
                lost_from,
                format!(
                    "lost_below_cursor: WAL bytes [{lost_from}, {cursor}) below the ingest cursor are gone from the log"
                )
            )],
            "boot {boot}: exactly one durable dead letter for the lost range"
        );
        if let Some((segment, len)) = untouched {
            assert_eq!(
                disk.durable_file(segment).map(|b| b.len() as u64),
                Some(len),
                "boot {boot}: the damaged bytes below the cursor were left alone"
            );
        }
        // A crash before anything new was appended: the next open must find the same loss.
        drop(engine);
        disk.crash(&CrashSpec::random(boot));
        kv.crash(&CrashSpec::random(boot));
    }

    let engine = open(disk, kv).await;
    let before = engine.ingest_stats();
    let offsets = submit_all(&engine, OLD_RECORDS..OLD_RECORDS + NEW_RECORDS).await;
    assert_eq!(
        offsets[0], cursor,
        "the log continues exactly at the cursor"
    );
    assert!(offsets.iter().all(|&o| o >= cursor));
    let stats = engine.ingest_stats();
    assert_eq!(
        stats.applied - before.applied,
        NEW_RECORDS,
        "every new record applied once, nothing below the cursor again: {stats:?}"
    );
    assert_eq!(stats.quarantined, before.quarantined, "{stats:?}");
    for i in 0..OLD_RECORDS + NEW_RECORDS {
        let Record::Assertion(a) = record(i) else {
            unreachable!()
        };
        assert!(
            engine
                .kv()
                .get(&keys::assertion_key(&a.identity_hash()))
                .await
                .unwrap()
                .is_some(),
            "record {i} is in the store"
        );
    }
    ok(engine.shutdown().await, "shutdown");

    // The log has moved on: nothing more to report, the dead letter stays, and a reopen ingests
    // nothing twice.
    let engine = open(disk, kv).await;
    assert_eq!(engine.recovery_report().tail_lost, None);
    caught_up(&engine, "after the loss").await;
    assert_eq!(engine.ingest_stats().applied, 0);
    assert_eq!(lost_dead_letters(kv).await.len(), 1);
    ok(engine.shutdown().await, "shutdown");
}

#[tokio::test(start_paused = true)]
async fn a_segment_cut_short_below_the_cursor_continues_at_the_cursor() {
    let (disk, kv) = (SimDisk::new(41), SimKv::new(41));
    let (offsets, cursor) = ingested_world(&disk, &kv).await;
    // The medium lost the last three records (the segment is cut into the middle of the 8th).
    let vfs: Arc<dyn Vfs> = Arc::new(disk.clone());
    let segment = segment_path(&disk.observer(), dir(), 0).await;
    let file = vfs.open(&segment, OpenMode::Write).await.unwrap();
    file.set_len(offsets[7] + 20).await.unwrap();
    file.sync_data().await.unwrap();
    drop(file);
    disk.crash(&CrashSpec::keep_all());
    check_continues_at_cursor(
        &disk,
        &kv,
        offsets[7],
        cursor,
        Some((&segment, offsets[7] + 20)),
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_rotted_tail_found_by_a_full_rescan_is_never_cut_below_the_cursor() {
    let (disk, kv) = (SimDisk::new(42), SimKv::new(42));
    let (offsets, cursor) = ingested_world(&disk, &kv).await;
    let segment = segment_path(&disk.observer(), dir(), 0).await;
    let len_before = disk.durable_file(&segment).unwrap().len() as u64;
    // Rot in each of the last two records (nothing valid follows them: to a scan, a torn tail)
    // and in the quarantine list, which makes recovery rescan the whole log from its start.
    assert!(disk.flip_bit(&segment, offsets[8] + 60, 1));
    assert!(disk.flip_bit(&segment, offsets[9] + 60, 1));
    let vfs: Arc<dyn Vfs> = Arc::new(disk.clone());
    let list = vfs
        .open(&dir().join(QUARANTINE_FILE_NAME), OpenMode::Create)
        .await
        .unwrap();
    list.write_at(0, b"SWQ1 rotted beyond recognition")
        .await
        .unwrap();
    list.sync_data().await.unwrap();
    drop(list);
    vfs.sync_dir(dir()).await.unwrap();
    disk.crash(&CrashSpec::keep_all());
    check_continues_at_cursor(&disk, &kv, offsets[8], cursor, Some((&segment, len_before))).await;
}

#[tokio::test(start_paused = true)]
async fn a_wal_directory_emptied_below_the_cursor_continues_at_the_cursor() {
    let (disk, kv) = (SimDisk::new(43), SimKv::new(43));
    let (_, cursor) = ingested_world(&disk, &kv).await;
    let vfs: Arc<dyn Vfs> = Arc::new(disk.clone());
    for (_, path) in stemedb::wal::segment_files(&disk.observer(), dir())
        .await
        .unwrap()
    {
        vfs.remove(&path).await.unwrap();
    }
    vfs.sync_dir(dir()).await.unwrap();
    check_continues_at_cursor(&disk, &kv, 0, cursor, None).await;
}
