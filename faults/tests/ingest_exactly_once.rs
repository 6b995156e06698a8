//! Must-show: ingest is exactly-once across crashes of the disk, the KV store, or both, at every
//! step of ingesting a small log.
//!
//! A 12-record log (assertions, votes including a repeat vote and a vote that arrives before its
//! assertion, a duplicate assertion, evidence, and one record with a bad signature) is written and
//! synced first. Then, on a fresh copy of that world for each crash point, the engine opens and
//! ingests with small WAL segments (so flushes truncate the log), in three shapes (`Shape`): one
//! record per KV batch with a flush every 3, batches of up to 5 with a flush every 6, where two
//! votes on one assertion, a duplicate, and a vote before its assertion share a batch, and the
//! whole log in one batch:
//! - disk crash points: power fails at every disk call the clean ingest made;
//! - KV crash points: the process dies right after every KV batch the clean ingest applied.
//!
//! - KV error points: one call of the store (a read while a batch is planned, the batch's commit,
//!   a flush) fails once with an I/O error, for every call the clean ingest made; nothing
//!   crashes, and the worker must retry its way to the same store.
//!
//! Both the disk and the KV then crash (each with its own outcome: keep all, drop all, or a
//! random prefix/tearing), the engine reopens over the same disk and KV, and ingest catches up.
//! Then the store must equal a direct replay of the log: every value and index entry present,
//! every vote count and weight exact, and the quarantine holding exactly the invalid record.

mod ingest_support;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use stemedb::ingest::IngestStats;
use stemedb::io::{Clock, Vfs};
use stemedb::model::{Limits, Record};
use stemedb::storage::{KvError, KvStore, PrefixVisitor, WriteBatch};
use stemedb::wal::{Wal, WalOptions, WalRecord};
use stemedb::{Engine, EngineOptions};
use stemedb_faults::{ClockPlan, CrashSpec, SimClock, SimDisk, SimKv};

use ingest_support::*;

const DIR: &str = "/db/wal";
const SEED: u64 = 0xE0E0;

/// How ingest groups records into KV batches.
#[derive(Clone, Copy, Debug)]
enum Shape {
    /// One record per batch, a flush every 3: a crash point between every two records.
    PerRecord,
    /// Up to 5 records per batch, a flush every 6: batches [0, 5), [5], [6, 11), [11] (a batch
    /// never carries the unflushed count past the flush cadence).
    Batched,
    /// The whole log in one batch (up to 16 records, a flush every 16): the run ends at the end
    /// of the log, so the read that found it is kept for after the commit (`Worker::lookahead`).
    Whole,
}

impl Shape {
    const ALL: [Shape; 3] = [Shape::PerRecord, Shape::Batched, Shape::Whole];

    fn kv_batches(self) -> u64 {
        match self {
            Shape::PerRecord => 12,
            Shape::Batched => 4,
            Shape::Whole => 1,
        }
    }
}

fn options(shape: Shape) -> EngineOptions {
    let (flush_every_records, ingest_batch_records_max) = match shape {
        Shape::PerRecord => (3, 1),
        Shape::Batched => (6, 5),
        Shape::Whole => (16, 16),
    };
    EngineOptions {
        wal: WalOptions {
            segment_bytes_max: 1024,
            ..WalOptions::default()
        },
        flush_every_records,
        ingest_batch_records_max,
        ..EngineOptions::default()
    }
}

/// The log: 12 payloads. Index 4 is the invalid record.
fn log_payloads() -> Vec<Vec<u8>> {
    let (a0, a1, a2, a3) = (agent(0), agent(1), agent(2), agent(3));
    let x = assertion(&a0, "paris", "capital_of", "france", 1);
    let y = assertion(&a1, "paris", "population", "2.1M", 2);
    let z = assertion(&a2, "lyon", "river", "rhone", 3);
    let mut forged = assertion(&a3, "paris", "capital_of", "germany", 4);
    forged.object = "spain".into(); // after signing: the signature no longer verifies
    let evidence = a3.evidence(x.identity_hash(), b"treaty of 987".to_vec(), 5);
    vec![
        encode(Record::Assertion(x.clone())),
        encode(Record::Assertion(y.clone())),
        encode(Record::Vote(vote(&a2, &x, 2, 10))),
        encode(Record::Vote(vote(&a3, &x, 3, 11))),
        encode(Record::Assertion(forged)),
        encode(Record::Vote(vote(&a2, &x, 5, 12))), // repeat by a2: ignored
        encode(Record::Vote(vote(&a0, &y, 1, 13))),
        encode(Record::Assertion(x.clone())),       // duplicate
        encode(Record::Vote(vote(&a1, &z, 4, 14))), // before z is ingested
        encode(Record::Assertion(z)),
        encode(Record::Evidence(evidence)),
        encode(Record::Vote(vote(&a3, &y, 7, 15))),
    ]
}

/// A fresh disk holding the synced log, and the log as read back (the oracle's input).
fn written_world() -> (SimDisk, Vec<WalRecord>) {
    let disk = SimDisk::new(SEED);
    let vfs: Arc<dyn Vfs> = Arc::new(disk.clone());
    let log = paused_runtime().block_on(async {
        let wal = Wal::open(
            Arc::clone(&vfs),
            Path::new(DIR),
            options(Shape::PerRecord).wal,
        )
        .await
        .expect("open WAL");
        for p in log_payloads() {
            wal.append(&p).await.expect("append");
        }
        drop(wal);
        read_log(vfs, Path::new(DIR)).await
    });
    assert_eq!(log.len(), 12);
    (disk, log)
}

/// A KV store whose process "dies" after `batches_left` more batches: every later call fails.
#[derive(Debug)]
struct DiesAfter {
    inner: SimKv,
    batches_left: Mutex<Option<u64>>,
}

impl DiesAfter {
    fn new(inner: SimKv, batches: Option<u64>) -> Self {
        Self {
            inner,
            batches_left: Mutex::new(batches),
        }
    }

    fn dead(&self) -> Result<(), KvError> {
        match *self.batches_left.lock().unwrap() {
            Some(0) => Err(KvError::Io {
                op: "dead",
                source: std::io::Error::other("the process died"),
            }),
            _ => Ok(()),
        }
    }
}

#[async_trait]
impl KvStore for DiesAfter {
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, KvError> {
        self.dead()?;
        self.inner.get(key).await
    }
    async fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>, KvError> {
        self.dead()?;
        self.inner.scan_prefix(prefix).await
    }
    async fn apply_batch(&self, batch: WriteBatch) -> Result<(), KvError> {
        self.dead()?;
        if let Some(left) = self.batches_left.lock().unwrap().as_mut() {
            *left -= 1;
        }
        self.inner.apply_batch(batch).await
    }
    async fn flush(&self) -> Result<(), KvError> {
        self.dead()?;
        self.inner.flush().await
    }
}

/// A KV store whose `fail_at`-th call (counting every call from 0) fails once with an I/O
/// error, as a transient device error would; every other call goes through. `calls` counts them.
#[derive(Debug)]
struct FailsOnce {
    inner: SimKv,
    calls: AtomicU64,
    fail_at: Option<u64>,
}

impl FailsOnce {
    fn new(inner: SimKv, fail_at: Option<u64>) -> Self {
        Self {
            inner,
            calls: AtomicU64::new(0),
            fail_at,
        }
    }

    fn call(&self, op: &'static str) -> Result<(), KvError> {
        let n = self.calls.fetch_add(1, Ordering::Relaxed);
        if Some(n) == self.fail_at {
            return Err(KvError::Io {
                op,
                source: std::io::Error::other("a transient device error"),
            });
        }
        Ok(())
    }
}

#[async_trait]
impl KvStore for FailsOnce {
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, KvError> {
        self.call("get")?;
        self.inner.get(key).await
    }
    async fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>, KvError> {
        self.call("scan_prefix")?;
        self.inner.scan_prefix(prefix).await
    }
    async fn visit_prefix(
        &self,
        prefix: &[u8],
        visit: &mut PrefixVisitor<'_>,
    ) -> Result<(), KvError> {
        self.call("visit_prefix")?;
        self.inner.visit_prefix(prefix, visit).await
    }
    async fn apply_batch(&self, batch: WriteBatch) -> Result<(), KvError> {
        self.call("apply_batch")?;
        self.inner.apply_batch(batch).await
    }
    async fn flush(&self) -> Result<(), KvError> {
        self.call("flush")?;
        self.inner.flush().await
    }
}

/// Runs ingest with the store's `fail_at`-th call failing once, until caught up (bounded), and
/// returns how many store calls it made.
fn run_with_kv_error(disk: &SimDisk, kv: &SimKv, fail_at: Option<u64>, shape: Shape) -> u64 {
    let store = Arc::new(FailsOnce::new(kv.clone(), fail_at));
    let vfs: Arc<dyn Vfs> = Arc::new(disk.clone());
    let dyn_store: Arc<dyn KvStore> = store.clone();
    paused_runtime().block_on(async {
        let ctx = format!("{shape:?}: KV error at call {fail_at:?}");
        match Engine::open(vfs, dyn_store, clock(), Path::new(DIR), options(shape)).await {
            // Open reads the cursor and flushes: an error there fails the open, as it must.
            Err(_) => assert!(fail_at.is_some(), "{ctx}: the clean open failed"),
            Ok(engine) => {
                let done = bounded(engine.wait_caught_up()).await;
                assert!(
                    matches!(done, Some(Ok(_))),
                    "{ctx}: ingest never caught up after a transient KV error"
                );
                // Dropped, not shut down: the store is checked as this engine left it.
                drop(engine);
            }
        }
    });
    store.calls.load(Ordering::Relaxed)
}

fn clock() -> Arc<dyn Clock> {
    Arc::new(SimClock::manual(ClockPlan::default()))
}

/// Where the first run dies.
#[derive(Clone, Copy, Debug)]
enum CrashPoint {
    /// Never: the clean run.
    None,
    /// Power fails at this many disk calls after the log was written.
    DiskOp(u64),
    /// The process dies right after this many KV batches.
    KvBatch(u64),
}

/// What the clean run used, to enumerate crash points.
struct Usage {
    disk_ops: u64,
    kv_batches: u64,
    ingest: IngestStats,
}

/// Runs ingest once until caught up or dead (bounded wait), then drops the engine and runtime.
fn first_run(disk: &SimDisk, kv: &SimKv, point: CrashPoint, shape: Shape) -> Usage {
    let disk_ops_before = disk.ops();
    let kv_batches_before = kv.stats().batches;
    let batches = match point {
        CrashPoint::KvBatch(k) => Some(k),
        _ => None,
    };
    if let CrashPoint::DiskOp(n) = point {
        disk.power_off_at_op(disk_ops_before + n);
    }
    let store: Arc<dyn KvStore> = Arc::new(DiesAfter::new(kv.clone(), batches));
    let vfs: Arc<dyn Vfs> = Arc::new(disk.clone());
    let ingest = paused_runtime().block_on(async {
        let opened = Engine::open(vfs, store, clock(), Path::new(DIR), options(shape)).await;
        let Ok(engine) = opened else {
            return IngestStats::default(); // died during open: also a crash point
        };
        let done = bounded(engine.wait_caught_up()).await;
        if matches!(point, CrashPoint::None) {
            assert!(matches!(done, Some(Ok(_))), "the clean run must catch up");
        }
        let stats = engine.ingest_stats();
        drop(engine); // the process dies: the worker is aborted with it
        stats
    });
    Usage {
        disk_ops: disk.ops() - disk_ops_before,
        kv_batches: kv.stats().batches - kv_batches_before,
        ingest,
    }
}

/// Reopens after the crash, catches up, and checks the store against the replay of `log`.
fn check_after_crash(disk: &SimDisk, kv: &SimKv, log: &[WalRecord], shape: Shape, ctx: &str) {
    let vfs: Arc<dyn Vfs> = Arc::new(disk.clone());
    let store: Arc<dyn KvStore> = Arc::new(kv.clone());
    paused_runtime().block_on(async {
        let ctx = format!("{shape:?}: {ctx}");
        let ctx = ctx.as_str();
        let engine = Engine::open(
            vfs,
            Arc::clone(&store),
            clock(),
            Path::new(DIR),
            options(shape),
        )
        .await
        .unwrap_or_else(|e| panic!("{ctx}: reopen failed: {e}"));
        let end = caught_up(&engine, ctx).await;
        assert_eq!(
            end,
            log.last().unwrap().next_offset,
            "{ctx}: durable end moved"
        );
        let want = replay(log, &Limits::default());
        let got = stored(store.as_ref()).await;
        assert!(
            want == got,
            "{ctx}: store differs from the replay of the log: {}",
            first_difference(&want, &got)
        );
        let quarantine = quarantine_reasons(store.as_ref()).await;
        assert_eq!(quarantine.len(), 1, "{ctx}: quarantine {quarantine:?}");
        assert_eq!(
            quarantine[0].0, log[4].offset,
            "{ctx}: wrong record quarantined"
        );
        assert!(
            quarantine[0].1.contains("does not verify"),
            "{ctx}: reason {:?}",
            quarantine[0].1
        );
        assert_eq!(stored_cursor(store.as_ref()).await, Some(end), "{ctx}");
        ok(engine.shutdown().await, ctx);
    });
}

fn crash_and_check(point: CrashPoint, disk_crash: CrashSpec, kv_crash: CrashSpec, shape: Shape) {
    let (disk, log) = written_world();
    let kv = SimKv::new(SEED);
    first_run(&disk, &kv, point, shape);
    disk.crash(&disk_crash);
    kv.crash(&kv_crash);
    let ctx = format!("{point:?}, disk {disk_crash:?}, kv {kv_crash:?}");
    check_after_crash(&disk, &kv, &log, shape, &ctx);
}

fn kv_crashes(seed: u64) -> [CrashSpec; 3] {
    [
        CrashSpec::drop_all(),
        CrashSpec::keep_all(),
        CrashSpec::random(seed),
    ]
}

#[test]
fn clean_ingest_matches_the_replay_and_uses_enough_steps() {
    for shape in Shape::ALL {
        clean_ingest(shape);
    }
}

fn clean_ingest(shape: Shape) {
    let (disk, log) = written_world();
    let kv = SimKv::new(SEED);
    let usage = first_run(&disk, &kv, CrashPoint::None, shape);
    // 12 records plus flushes and truncation: the sweep below is not vacuous.
    assert_eq!(usage.kv_batches, shape.kv_batches(), "{shape:?}");
    assert!(usage.disk_ops >= 24, "disk ops {}", usage.disk_ops);
    let stats = usage.ingest;
    assert_eq!(
        (
            stats.applied,
            stats.duplicates,
            stats.votes_ignored_repeat,
            stats.quarantined
        ),
        (9, 1, 1, 1),
        "{stats:?}"
    );
    let every = options(shape).flush_every_records;
    assert!(stats.flushes >= 12 / every, "{stats:?}");
    assert!(
        stats.segments_truncated >= 1,
        "flushes must let the WAL shrink: {stats:?}"
    );
    check_after_crash(&disk, &kv, &log, shape, "clean");
}

#[test]
fn crash_at_every_disk_call_of_ingest() {
    for shape in Shape::ALL {
        let (disk, _) = written_world();
        let usage = first_run(&disk, &SimKv::new(SEED), CrashPoint::None, shape);
        for n in 0..=usage.disk_ops {
            let kv_crash = kv_crashes(n)[(n % 3) as usize];
            crash_and_check(CrashPoint::DiskOp(n), CrashSpec::random(n), kv_crash, shape);
        }
    }
}

#[test]
fn transient_kv_error_at_every_call_of_ingest() {
    for shape in Shape::ALL {
        let (disk, _) = written_world();
        let calls = run_with_kv_error(&disk, &SimKv::new(SEED), None, shape);
        // Reads while planning, commits and flushes for 12 records: the sweep is not vacuous.
        assert!(calls >= 2 * shape.kv_batches(), "{shape:?}: {calls} calls");
        for n in 0..calls {
            let (disk, log) = written_world();
            let kv = SimKv::new(SEED);
            run_with_kv_error(&disk, &kv, Some(n), shape);
            check_after_crash(&disk, &kv, &log, shape, &format!("KV error at call {n}"));
        }
    }
}

#[test]
fn crash_after_every_kv_batch_of_ingest() {
    for shape in Shape::ALL {
        let (disk, _) = written_world();
        let kv = SimKv::new(SEED);
        let usage = first_run(&disk, &kv, CrashPoint::None, shape);
        for k in 0..=usage.kv_batches {
            for kv_crash in kv_crashes(k) {
                crash_and_check(
                    CrashPoint::KvBatch(k),
                    CrashSpec::random(k),
                    kv_crash,
                    shape,
                );
            }
        }
    }
}

#[test]
fn crash_of_both_at_once_at_every_kv_batch() {
    // The disk loses power at the same moment the process dies (as a real power cut would):
    // both crash points at once, with the disk's power-off placed proportionally.
    for shape in Shape::ALL {
        let (disk, _) = written_world();
        let kv = SimKv::new(SEED);
        let usage = first_run(&disk, &kv, CrashPoint::None, shape);
        for k in 0..=usage.kv_batches {
            let (disk, log) = written_world();
            let kv = SimKv::new(SEED);
            let op = disk.ops() + usage.disk_ops * k / usage.kv_batches.max(1);
            disk.power_off_at_op(op);
            first_run(&disk, &kv, CrashPoint::KvBatch(k), shape);
            disk.crash(&CrashSpec::random(k));
            kv.crash(&CrashSpec::random(k ^ 0x55));
            let ctx = format!("both at batch {k}, disk op {op}");
            check_after_crash(&disk, &kv, &log, shape, &ctx);
        }
    }
}
