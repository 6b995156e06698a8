//! Regression: a range WAL recovery quarantined, followed by damage ingest found itself, left no
//! dead letter. Found by the `sim` fuzz target (chaos seed 5300458614037529356,
//! `scenarios/regressions/chaos-seed5300458614037529356-skipped-range-before-damage.json`).
//!
//! Recovery quarantined `[3792, 6288)`; the record at 6288 was damaged after recovery (a later
//! latent sector error and a misdirected write). The reader skips quarantined ranges, so ingest,
//! its cursor at 3792, was told "corrupt at 6288, next valid at 6544". It dead-lettered
//! `[6288, 6544)` and moved its cursor from 3792 to 6544: the bytes `[3792, 6288)` were stepped
//! over with no dead letter, so the KV's quarantine no longer named every range ingest did not
//! apply. Only the path where a *record* follows a skipped range wrote the skipped range's dead
//! letter; the path where *damage* follows it did not.
//!
//! Must hold: whatever follows a range recovery quarantined (a record, or more damage), the batch
//! that moves the cursor past it also writes its dead letter; the quarantine family tiles every
//! byte ingest did not apply.

mod ingest_support;

use std::path::Path;
use std::sync::Arc;

use stemedb::io::{Clock, Vfs};
use stemedb::model::Record;
use stemedb::storage::KvStore;
use stemedb::{Engine, EngineOptions};
use stemedb_faults::{ClockPlan, SimClock, SimDisk, SimKv};

use ingest_support::*;

const DIR: &str = "/db/wal";
const RECORDS: u64 = 6;
/// Where in a record the flipped bit lies (inside the payload of every record here).
const FLIP_AT_BYTES: u64 = 60;

async fn open(disk: &SimDisk, kv: &Arc<dyn KvStore>) -> Engine {
    let vfs: Arc<dyn Vfs> = Arc::new(disk.clone());
    let clock: Arc<dyn Clock> = Arc::new(SimClock::manual(ClockPlan::default()));
    Engine::open(
        vfs,
        Arc::clone(kv),
        clock,
        Path::new(DIR),
        EngineOptions::default(),
    )
    .await
    .expect("open")
}

#[tokio::test(start_paused = true)]
async fn damage_after_a_range_recovery_quarantined_leaves_both_dead_letters() {
    let disk = SimDisk::new(21);
    // The first process writes the log; its KV is thrown away, so the next open ingests from 0.
    let first_kv: Arc<dyn KvStore> = Arc::new(SimKv::new(1));
    let engine = open(&disk, &first_kv).await;
    let mut offsets = Vec::new();
    for i in 0..RECORDS {
        let a = assertion(&agent(i), "s", "p", &format!("object {i}"), i);
        offsets.push(ok(engine.submit(&Record::Assertion(a)).await, "submit"));
    }
    let end = engine.durable_end();
    ok(engine.shutdown().await, "shutdown");
    let segment = segment_path(&disk.observer(), Path::new(DIR), 0).await;

    // Rot in record 2: the next recovery quarantines it (a valid record follows).
    assert!(disk.flip_bit(&segment, offsets[2] + FLIP_AT_BYTES, 3));
    let kv: Arc<dyn KvStore> = Arc::new(SimKv::new(2));
    let engine = open(&disk, &kv).await;
    let report = engine.recovery_report();
    assert_eq!(
        report
            .quarantined_new
            .iter()
            .map(|q| (q.range.start, q.range.end))
            .collect::<Vec<_>>(),
        vec![(offsets[2], offsets[3])],
        "{report:?}"
    );
    assert_eq!(
        engine.ingest_cursor(),
        0,
        "the worker has not run yet, so the rot below lands before it reads"
    );
    // Rot in record 3 after recovery: only ingest's reader sees it.
    assert!(disk.flip_bit(&segment, offsets[3] + FLIP_AT_BYTES, 5));

    ok(
        bounded(engine.wait_ingested(offsets[RECORDS as usize - 1]))
            .await
            .expect("ingest gets past both ranges"),
        "wait",
    );
    assert_eq!(engine.ingest_cursor(), end);
    let reasons = quarantine_reasons(kv.as_ref()).await;
    let at = |offset: u64| reasons.iter().find(|(o, _)| *o == offset).map(|(_, r)| r);
    let skipped = at(offsets[2]).unwrap_or_else(|| {
        panic!(
            "no dead letter for the range recovery quarantined at {}: {reasons:?}",
            offsets[2]
        )
    });
    assert!(
        skipped.contains(&format!("[{}, {})", offsets[2], offsets[3]))
            && skipped.contains("quarantined by WAL recovery"),
        "{skipped}"
    );
    let damaged = at(offsets[3]).unwrap_or_else(|| {
        panic!(
            "no dead letter for the damage at {}: {reasons:?}",
            offsets[3]
        )
    });
    assert!(
        damaged.contains(&format!("[{}, {})", offsets[3], offsets[4])),
        "{damaged}"
    );
    assert_eq!(
        reasons.len(),
        2,
        "nothing else was dead-lettered: {reasons:?}"
    );
    let stats = engine.ingest_stats();
    assert_eq!(stats.applied, RECORDS - 2, "{stats:?}");
    assert_eq!(stats.quarantined, 2, "{stats:?}");
    ok(engine.shutdown().await, "shutdown");
}
