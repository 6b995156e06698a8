//! WAL behaviour on the real file system: append/read, rotation, reopen, readers following new
//! segments, the directory lock, truncation below a checkpoint, and group commit on every kind of
//! runtime. Fault behaviour lives in `wal_recovery.rs` and `wal_faults.rs` (and, on the simulated
//! disk, in `faults/tests/wal_*.rs`).

use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use stemedb::io::{RealVfs, Vfs};
use stemedb::wal::{
    parse_segment_name, segment_name, ReadOutcome, Wal, WalError, WalOptions, WalReader, WalRecord,
    RECORD_PAYLOAD_BYTES_MAX,
};

fn vfs() -> Arc<dyn Vfs> {
    Arc::new(RealVfs::new())
}

fn payload(i: usize) -> Vec<u8> {
    let len = (i * 37) % 300 + 1;
    (0..len).map(|j| (i * 31 + j) as u8).collect()
}

fn small_segments() -> WalOptions {
    WalOptions {
        segment_bytes_max: 512,
        ..WalOptions::default()
    }
}

async fn read_all(reader: &mut WalReader, mut offset: u64) -> Vec<WalRecord> {
    let mut out = Vec::new();
    loop {
        match reader.read_at(offset).await.expect("read") {
            ReadOutcome::Record(record) => {
                offset = record.next_offset;
                out.push(record);
            }
            ReadOutcome::EndOfLog => return out,
        }
    }
}

async fn segment_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = RealVfs::new()
        .list(dir)
        .await
        .unwrap()
        .into_iter()
        .filter(|n| n.ends_with(".seg"))
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn append_then_read_back_in_order() {
    let tmp = tempfile::tempdir().unwrap();
    let wal = Wal::open(vfs(), tmp.path(), WalOptions::default())
        .await
        .unwrap();
    assert!(wal.recovery_report().created);
    let mut offsets = Vec::new();
    for i in 0..50 {
        offsets.push(wal.append(&payload(i)).await.unwrap());
    }
    assert_eq!(offsets[0], 0);
    assert!(offsets.windows(2).all(|w| w[0] < w[1]), "offsets grow");
    assert!(
        offsets.iter().all(|o| o % 8 == 0),
        "records are 8-byte aligned"
    );
    let mut reader = WalReader::open(vfs(), tmp.path()).await.unwrap();
    let records = read_all(&mut reader, 0).await;
    assert_eq!(records.len(), 50);
    for (i, record) in records.iter().enumerate() {
        assert_eq!(record.offset, offsets[i]);
        assert_eq!(record.payload, payload(i));
    }
    assert_eq!(records.last().unwrap().next_offset, wal.durable_end());
    assert_eq!(
        reader.read_at(wal.durable_end()).await.unwrap(),
        ReadOutcome::EndOfLog
    );
}

#[tokio::test]
async fn empty_and_maximal_payloads_round_trip_and_oversize_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let wal = Wal::open(vfs(), tmp.path(), WalOptions::default())
        .await
        .unwrap();
    let max = vec![0xabu8; RECORD_PAYLOAD_BYTES_MAX as usize];
    let a = wal.append(b"").await.unwrap();
    let b = wal.append(&max).await.unwrap();
    let err = wal
        .append(&vec![0u8; RECORD_PAYLOAD_BYTES_MAX as usize + 1])
        .await
        .unwrap_err();
    assert!(matches!(err, WalError::RecordTooLarge { .. }), "{err}");
    let end = wal.durable_end();
    assert!(
        wal.failure().is_none(),
        "a refused payload does not fail the WAL"
    );
    let mut reader = WalReader::open(vfs(), tmp.path()).await.unwrap();
    let records = read_all(&mut reader, 0).await;
    assert_eq!(records.len(), 2);
    assert_eq!((records[0].offset, records[0].payload.len()), (a, 0));
    assert_eq!((records[1].offset, &records[1].payload), (b, &max));
    assert_eq!(records[1].next_offset, end);
}

#[tokio::test]
async fn rotation_names_segments_by_base_and_old_readers_follow() {
    let tmp = tempfile::tempdir().unwrap();
    let wal = Wal::open(vfs(), tmp.path(), small_segments())
        .await
        .unwrap();
    // Opened before any later segment exists: it must pick them up.
    let mut reader = WalReader::open(vfs(), tmp.path()).await.unwrap();
    let mut offsets = Vec::new();
    for i in 0..40 {
        offsets.push(wal.append(&payload(i)).await.unwrap());
    }
    let names = segment_files(tmp.path()).await;
    assert!(names.len() > 5, "rotation happened: {names:?}");
    let mut salts = Vec::new();
    for name in &names {
        let base: u64 = name[4..24].parse().unwrap();
        assert!(offsets.contains(&base), "segment {name} starts at a record");
        let parsed = parse_segment_name(name).expect("a v3 segment name");
        assert_eq!(parsed.base, base);
        assert_eq!(name, &segment_name(base, parsed.salt));
        salts.push(parsed.salt);
    }
    salts.sort_unstable();
    salts.dedup();
    assert_eq!(salts.len(), names.len(), "every segment has its own salt");
    let records = read_all(&mut reader, 0).await;
    assert_eq!(
        records.iter().map(|r| r.offset).collect::<Vec<_>>(),
        offsets
    );
    for (i, record) in records.iter().enumerate() {
        assert_eq!(record.payload, payload(i));
    }
    // Every non-last segment stays within the limit (no record here exceeds it on its own).
    for name in &names[..names.len() - 1] {
        let len = std::fs::metadata(tmp.path().join(name)).unwrap().len();
        assert!(len <= 512, "{name} is {len} bytes");
    }
}

#[tokio::test]
async fn reopen_appends_after_the_last_record() {
    let tmp = tempfile::tempdir().unwrap();
    let end = {
        let wal = Wal::open(vfs(), tmp.path(), small_segments())
            .await
            .unwrap();
        for i in 0..25 {
            wal.append(&payload(i)).await.unwrap();
        }
        wal.durable_end()
    };
    let wal = Wal::open(vfs(), tmp.path(), small_segments())
        .await
        .unwrap();
    let report = wal.recovery_report().clone();
    assert_eq!(report.end_offset, end);
    assert_eq!(report.records_valid, 25);
    assert!(report.torn_tail.is_none());
    assert!(report.quarantined_new.is_empty());
    assert_eq!(wal.append(b"after").await.unwrap(), end);
    let mut reader = WalReader::open(vfs(), tmp.path()).await.unwrap();
    let records = read_all(&mut reader, 0).await;
    assert_eq!(records.len(), 26);
    assert_eq!(records[25].payload, b"after");
}

#[tokio::test]
async fn a_second_writer_on_the_same_directory_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let first = Wal::open(vfs(), tmp.path(), WalOptions::default())
        .await
        .unwrap();
    let err = Wal::open(vfs(), tmp.path(), WalOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, WalError::Locked { dir } if dir == tmp.path()),
        "{err}"
    );
    assert!(err.to_string().contains("locked by another writer"));
    // The refused open changed nothing: the first writer keeps working.
    first.append(b"still mine").await.unwrap();
    drop(first);
    let again = Wal::open(vfs(), tmp.path(), WalOptions::default())
        .await
        .unwrap();
    assert_eq!(again.recovery_report().records_valid, 1);
}

#[tokio::test]
async fn truncate_below_removes_only_whole_segments_below_the_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let wal = Wal::open(vfs(), tmp.path(), small_segments())
        .await
        .unwrap();
    let mut offsets = Vec::new();
    for i in 0..40 {
        offsets.push(wal.append(&payload(i)).await.unwrap());
    }
    let before = segment_files(tmp.path()).await;
    let checkpoint = offsets[20];
    let removed = wal.truncate_below(checkpoint).await.unwrap();
    let after = segment_files(tmp.path()).await;
    assert_eq!(before.len() - removed, after.len());
    assert!(removed > 0);
    let first_base: u64 = after[0][4..24].parse().unwrap();
    assert!(
        first_base <= checkpoint,
        "the segment holding the checkpoint stays"
    );
    let mut reader = WalReader::open(vfs(), tmp.path()).await.unwrap();
    assert_eq!(reader.first_offset().await.unwrap(), first_base);
    let err = reader.read_at(0).await.unwrap_err();
    assert!(
        matches!(err, WalError::Truncated { offset: 0, first_offset } if first_offset == first_base)
    );
    let records = read_all(&mut reader, checkpoint).await;
    assert_eq!(records.len(), 20);
    // The active segment is never removed, and appends go on.
    assert_eq!(wal.truncate_below(u64::MAX).await.unwrap(), after.len() - 1);
    let next = wal.append(b"x").await.unwrap();
    assert_eq!(read_all(&mut reader, next).await[0].payload, b"x");
    drop(wal);
    let reopened = Wal::open(vfs(), tmp.path(), small_segments())
        .await
        .unwrap();
    assert_eq!(
        reopened.recovery_report().end_offset,
        next + stemedb::wal::record::framed_bytes(1)
    );
}

#[tokio::test]
async fn a_bounded_reader_never_passes_the_durable_end_and_can_await_it() {
    let tmp = tempfile::tempdir().unwrap();
    let wal = Arc::new(
        Wal::open(vfs(), tmp.path(), WalOptions::default())
            .await
            .unwrap(),
    );
    let mut durable = wal.subscribe();
    let mut reader = WalReader::open(vfs(), tmp.path())
        .await
        .unwrap()
        .bounded_by(wal.subscribe());
    assert_eq!(reader.read_at(0).await.unwrap(), ReadOutcome::EndOfLog);
    let writer = {
        let wal = Arc::clone(&wal);
        tokio::spawn(async move { wal.append(b"hello").await.unwrap() })
    };
    let end = durable.wait_beyond(0).await.unwrap();
    assert_eq!(writer.await.unwrap(), 0);
    match reader.read_at(0).await.unwrap() {
        ReadOutcome::Record(r) => {
            assert_eq!(r.payload, b"hello");
            assert_eq!(r.next_offset, end);
        }
        other => panic!("expected the record, got {other:?}"),
    }
    assert_eq!(reader.read_at(end).await.unwrap(), ReadOutcome::EndOfLog);
}

async fn concurrent_writers(
    wal: Arc<Wal>,
    writers: usize,
    per_writer: usize,
) -> Vec<(u64, Vec<u8>)> {
    let mut tasks = Vec::new();
    for w in 0..writers {
        let wal = Arc::clone(&wal);
        tasks.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for i in 0..per_writer {
                let body = payload(w * 1000 + i);
                acked.push((wal.append(&body).await.unwrap(), body));
            }
            acked
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    all.sort();
    all
}

async fn assert_log_holds(dir: &Path, acked: &[(u64, Vec<u8>)]) {
    let mut reader = WalReader::open(vfs(), dir).await.unwrap();
    let records = read_all(&mut reader, 0).await;
    let found: Vec<(u64, Vec<u8>)> = records.into_iter().map(|r| (r.offset, r.payload)).collect();
    assert_eq!(
        found, acked,
        "the log holds exactly the acknowledged records, in offset order"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_commit_on_a_multi_thread_runtime() {
    let tmp = tempfile::tempdir().unwrap();
    let wal = Arc::new(
        Wal::open(vfs(), tmp.path(), small_segments())
            .await
            .unwrap(),
    );
    let acked = concurrent_writers(Arc::clone(&wal), 8, 25).await;
    assert_eq!(acked.len(), 200);
    assert_log_holds(tmp.path(), &acked).await;
}

#[tokio::test(flavor = "current_thread")]
async fn group_commit_on_a_current_thread_runtime() {
    let tmp = tempfile::tempdir().unwrap();
    let wal = Arc::new(
        Wal::open(vfs(), tmp.path(), small_segments())
            .await
            .unwrap(),
    );
    let acked = concurrent_writers(Arc::clone(&wal), 8, 25).await;
    assert_log_holds(tmp.path(), &acked).await;
}

#[test]
fn group_commit_inside_a_local_set() {
    let tmp = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    let acked = local.block_on(&rt, async {
        let wal = Rc::new(
            Wal::open(vfs(), tmp.path(), small_segments())
                .await
                .unwrap(),
        );
        let mut tasks = Vec::new();
        for w in 0..6 {
            let wal = Rc::clone(&wal);
            tasks.push(tokio::task::spawn_local(async move {
                let mut acked = Vec::new();
                for i in 0..10 {
                    let body = payload(w * 100 + i);
                    acked.push((wal.append(&body).await.unwrap(), body));
                }
                acked
            }));
        }
        let mut all = Vec::new();
        for task in tasks {
            all.extend(task.await.unwrap());
        }
        all.sort();
        all
    });
    assert_eq!(acked.len(), 60);
    rt.block_on(assert_log_holds(tmp.path(), &acked));
}

#[tokio::test(flavor = "current_thread")]
#[expect(
    clippy::disallowed_methods,
    reason = "a zero timeout cancels an append after one poll, on a real clock"
)]
async fn cancelled_appenders_never_stall_the_queue() {
    let tmp = tempfile::tempdir().unwrap();
    let wal = Arc::new(
        Wal::open(vfs(), tmp.path(), WalOptions::default())
            .await
            .unwrap(),
    );
    let mut survivors = Vec::new();
    for round in 0..20 {
        // A zero timeout polls the append once (enough to queue it, or to become leader and
        // yield) and then drops it: a cancelled leader or follower at every protocol step.
        let cancelled = tokio::time::timeout(Duration::ZERO, wal.append(b"cancelled"));
        let wal2 = Arc::clone(&wal);
        let body = payload(round);
        let kept = tokio::spawn(async move { (wal2.append(&body).await, body) });
        let _ = cancelled.await;
        survivors.push(kept);
    }
    let mut acked = Vec::new();
    for task in survivors {
        let (result, body) = task.await.unwrap();
        acked.push((result.expect("a surviving append succeeds"), body));
    }
    assert!(
        wal.failure().is_none(),
        "cancellation never fails the WAL closed"
    );
    acked.sort();
    let mut reader = WalReader::open(vfs(), tmp.path()).await.unwrap();
    let records = read_all(&mut reader, 0).await;
    for (offset, body) in &acked {
        assert!(
            records
                .iter()
                .any(|r| r.offset == *offset && &r.payload == body),
            "acknowledged record at {offset} is in the log"
        );
    }
    assert!(
        records
            .iter()
            .all(|r| r.payload == b"cancelled" || acked.iter().any(|(_, b)| b == &r.payload)),
        "only appended payloads are in the log"
    );
}

#[tokio::test]
async fn a_format_v2_directory_is_refused_naming_the_file_and_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    // A v2 segment: `wal-{base:020}.seg`, frames without offset or salt.
    let old = tmp.path().join("wal-00000000000000000000.seg");
    std::fs::write(&old, [7u8; 96]).unwrap();
    let err = Wal::open(vfs(), tmp.path(), WalOptions::default())
        .await
        .unwrap_err();
    match &err {
        WalError::UnsupportedFormat { path, .. } => assert_eq!(path, &old),
        other => panic!("expected UnsupportedFormat, got {other}"),
    }
    assert!(
        err.to_string().contains("wal-00000000000000000000.seg"),
        "{err}"
    );
    let err = WalReader::open(vfs(), tmp.path()).await.unwrap_err();
    assert!(matches!(err, WalError::UnsupportedFormat { .. }), "{err}");
    // Nothing was changed: the old segment is intact and no v3 segment was created beside it.
    assert_eq!(std::fs::read(&old).unwrap(), [7u8; 96]);
    assert!(segment_files(tmp.path())
        .await
        .iter()
        .all(|n| parse_segment_name(n).is_none()));
}

#[tokio::test]
async fn seeded_salts_are_reproducible_and_differ_between_seeds() {
    let salts = |seed: u64| async move {
        let tmp = tempfile::tempdir().unwrap();
        let options = WalOptions {
            salt_seed: Some(seed),
            ..small_segments()
        };
        let wal = Wal::open(vfs(), tmp.path(), options).await.unwrap();
        for i in 0..10 {
            wal.append(&payload(i)).await.unwrap();
        }
        segment_files(tmp.path()).await
    };
    let (a, b, c) = (salts(1).await, salts(1).await, salts(2).await);
    assert!(a.len() > 1);
    assert_eq!(a, b, "the same seed names the same segments");
    assert_ne!(a, c, "another seed draws other salts");
}
