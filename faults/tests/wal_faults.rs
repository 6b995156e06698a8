//! WAL must-shows 2 and 4 to 7 on the simulated disk: bit rot mid-segment, fsync EIO, ENOSPC in
//! the middle of a batch, group commit batching, and the directory lock. (Must-show 1, every crash
//! point, is in `wal_crash_points.rs`; 3, the torn header, in `wal_torn_header.rs`.)

use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

use stemedb::io::Vfs;
use stemedb::wal::{
    segment_files, FailCause, QuarantinedRange, ReadOutcome, RecordDefect, Wal, WalError,
    WalOptions, WalReader, WalRecord, RECORD_HEADER_BYTES,
};
use stemedb_faults::{CrashSpec, DiskFault, FsyncEioSpec, SimDisk};

const DIR: &str = "/wal";

fn dir() -> &'static Path {
    Path::new(DIR)
}

/// The path of the first segment (base 0; its name carries the salt drawn when it was created).
/// Listed through an observer, so the lookup changes nothing in the run.
async fn first_segment(disk: &SimDisk) -> PathBuf {
    segment_path(&disk.observer(), 0).await
}

async fn segment_path(vfs: &dyn Vfs, base: u64) -> PathBuf {
    segment_files(vfs, dir())
        .await
        .unwrap()
        .into_iter()
        .find(|(segment, _)| segment.base == base)
        .expect("segment exists")
        .1
}

fn payload(i: usize) -> Vec<u8> {
    let len = 50 + (i * 67) % 250;
    (0..len).map(|j| (i * 13 + j * 5 + 1) as u8).collect()
}

fn sim() -> (SimDisk, Arc<dyn Vfs>) {
    let disk = SimDisk::new(11);
    let vfs: Arc<dyn Vfs> = Arc::new(disk.clone());
    (disk, vfs)
}

async fn append_n(wal: &Wal, range: std::ops::Range<usize>) -> Vec<u64> {
    let mut offsets = Vec::new();
    for i in range {
        offsets.push(wal.append(&payload(i)).await.unwrap());
    }
    offsets
}

async fn read_all(vfs: &Arc<dyn Vfs>) -> Vec<WalRecord> {
    let mut reader = WalReader::open(Arc::clone(vfs), dir()).await.unwrap();
    let mut offset = reader.first_offset().await.unwrap();
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

fn payloads(records: &[WalRecord]) -> Vec<Vec<u8>> {
    records.iter().map(|r| r.payload.clone()).collect()
}

fn expected(indices: impl IntoIterator<Item = usize>) -> Vec<Vec<u8>> {
    indices.into_iter().map(payload).collect()
}

/// Appends from `writers` concurrent tasks in a `LocalSet` (as the simulator runs them).
async fn concurrent_appends(
    wal: Rc<Wal>,
    writers: usize,
    per_writer: usize,
    first: usize,
) -> Vec<Result<u64, WalError>> {
    let local = tokio::task::LocalSet::new();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let wal = Rc::clone(&wal);
        tasks.push(local.spawn_local(async move {
            let mut results = Vec::new();
            for i in 0..per_writer {
                results.push(wal.append(&payload(first + w * per_writer + i)).await);
            }
            results
        }));
    }
    local
        .run_until(async {
            let mut all = Vec::new();
            for task in tasks {
                all.extend(task.await.unwrap());
            }
            all
        })
        .await
}

#[tokio::test]
async fn bit_rot_mid_segment_is_quarantined_and_everything_after_stays_readable() {
    let (disk, vfs) = sim();
    let wal = Wal::open(Arc::clone(&vfs), dir(), WalOptions::default())
        .await
        .unwrap();
    let offsets = append_n(&wal, 0..20).await;
    let end = wal.durable_end();
    drop(wal);
    // One flipped payload bit in record 7, and the top bit of record 12's length, which then
    // claims more than 2 GiB: both mid-log, because valid records follow each.
    assert!(disk.flip_bit(
        &first_segment(&disk).await,
        offsets[7] + RECORD_HEADER_BYTES as u64 + 9,
        4
    ));
    assert!(disk.flip_bit(&first_segment(&disk).await, offsets[12] + 3, 7));

    let wal = Wal::open(Arc::clone(&vfs), dir(), WalOptions::default())
        .await
        .unwrap();
    let report = wal.recovery_report().clone();
    let ranges = vec![
        QuarantinedRange {
            start: offsets[7],
            end: offsets[8],
        },
        QuarantinedRange {
            start: offsets[12],
            end: offsets[13],
        },
    ];
    let found: Vec<_> = report.quarantined_new.iter().map(|q| q.range).collect();
    assert_eq!(
        found, ranges,
        "both damaged records are quarantined and reported"
    );
    assert_eq!(
        report.quarantined_new[0].defect,
        RecordDefect::ChecksumMismatch
    );
    assert!(matches!(
        report.quarantined_new[1].defect,
        RecordDefect::LengthTooLarge { .. }
    ));
    assert!(
        report.torn_tail.is_none(),
        "damage followed by valid records is not a torn tail"
    );
    assert_eq!(
        report.end_offset, end,
        "nothing after the damage was dropped"
    );
    let records = read_all(&vfs).await;
    assert_eq!(
        payloads(&records),
        expected((0..20).filter(|i| ![7, 12].contains(i))),
        "every record after the damage is still readable; the damaged ones never are"
    );
    assert_eq!(wal.append(&payload(20)).await.unwrap(), end);
    drop(wal);

    // The quarantine is durable: it survives a crash, and reopening reports nothing new.
    disk.crash(&CrashSpec::drop_all());
    let again = Wal::open(Arc::clone(&vfs), dir(), WalOptions::default())
        .await
        .unwrap();
    assert!(again.recovery_report().quarantined_new.is_empty());
    assert_eq!(again.recovery_report().quarantined, ranges);
    assert_eq!(read_all(&vfs).await.len(), 19);
}

#[tokio::test]
async fn fsync_eio_fails_the_batch_and_every_later_append_until_reopen() {
    let (disk, vfs) = sim();
    let wal = Rc::new(
        Wal::open(Arc::clone(&vfs), dir(), WalOptions::default())
            .await
            .unwrap(),
    );
    append_n(&wal, 0..5).await;
    let acked_end = wal.durable_end();

    disk.inject(DiskFault::FsyncEio {
        spec: FsyncEioSpec::drop_all(),
    });
    let results = concurrent_appends(Rc::clone(&wal), 4, 1, 5).await;
    assert_eq!(disk.stats().fsync_errors, 1);
    for result in &results {
        match result {
            Err(WalError::FailedClosed {
                cause: FailCause::SyncData { .. },
            }) => {}
            other => panic!("a writer of the failed batch got {other:?}"),
        }
    }
    assert!(matches!(wal.failure(), Some(FailCause::SyncData { .. })));
    assert_eq!(
        wal.durable_end(),
        acked_end,
        "nothing of the failed batch counts as durable"
    );

    // Later appends are refused without touching the disk, and say why.
    let ops = disk.ops();
    let err = wal.append(&payload(99)).await.unwrap_err();
    assert!(matches!(
        &err,
        WalError::FailedClosed {
            cause: FailCause::SyncData { .. }
        }
    ));
    assert!(err.to_string().contains("sync_data"), "{err}");
    assert_eq!(disk.ops(), ops, "a failed-closed WAL does no I/O");
    drop(wal);

    // Reopen (no crash): every acknowledged record, none of the failed batch.
    let wal = Wal::open(Arc::clone(&vfs), dir(), WalOptions::default())
        .await
        .unwrap();
    assert_eq!(payloads(&read_all(&vfs).await), expected(0..5));
    assert_eq!(
        wal.append(&payload(9)).await.unwrap(),
        acked_end,
        "appends work after reopen"
    );
    drop(wal);
    // And after a crash that drops everything unsynced, the same.
    disk.crash(&CrashSpec::drop_all());
    let wal = Wal::open(Arc::clone(&vfs), dir(), WalOptions::default())
        .await
        .unwrap();
    let mut want = expected(0..5);
    want.push(payload(9));
    assert_eq!(payloads(&read_all(&vfs).await), want);
    drop(wal);
}

#[tokio::test]
async fn enospc_mid_batch_fails_those_writers_and_leaves_no_garbage() {
    let (disk, vfs) = sim();
    let wal = Rc::new(
        Wal::open(Arc::clone(&vfs), dir(), WalOptions::default())
            .await
            .unwrap(),
    );
    append_n(&wal, 0..5).await;
    let acked_end = wal.durable_end();

    // Room for part of the next batch only: the write is partly done before ENOSPC.
    disk.set_capacity(Some(disk.usage_bytes() + 300));
    let results = concurrent_appends(Rc::clone(&wal), 4, 1, 5).await;
    assert!(disk.stats().enospc_errors >= 1);
    for result in &results {
        match result {
            Err(err @ WalError::StorageFull { .. }) => {
                assert!(err.to_string().contains("device full"), "{err}");
            }
            other => panic!("a writer of the ENOSPC batch got {other:?}"),
        }
    }
    assert!(
        wal.failure().is_none(),
        "ENOSPC with a clean cut-back does not fail closed"
    );
    assert_eq!(wal.durable_end(), acked_end);
    assert_eq!(
        disk.live_file(&first_segment(&disk).await).unwrap().len() as u64,
        acked_end,
        "the partial batch was cut back"
    );
    assert_eq!(
        disk.durable_file(&first_segment(&disk).await)
            .unwrap()
            .len() as u64,
        acked_end,
        "and the cut-back is durable"
    );

    // Space freed: appends work again, right after the last acknowledged record.
    disk.set_capacity(None);
    let results = concurrent_appends(Rc::clone(&wal), 4, 2, 10).await;
    let offsets: Vec<u64> = results.into_iter().map(Result::unwrap).collect();
    assert_eq!(offsets.iter().min(), Some(&acked_end));
    let records = read_all(&vfs).await;
    assert_eq!(records.len(), 13);
    assert_eq!(payloads(&records[..5]), expected(0..5));
    // No garbage between valid records: they tile the segment exactly.
    let mut at = 0;
    for record in &records {
        assert_eq!(
            record.offset, at,
            "a gap or garbage before the record at {}",
            record.offset
        );
        at = record.next_offset;
    }
    assert_eq!(
        disk.live_file(&first_segment(&disk).await).unwrap().len() as u64,
        at
    );
    drop(wal);
    disk.crash(&CrashSpec::random(3));
    let wal = Wal::open(Arc::clone(&vfs), dir(), WalOptions::default())
        .await
        .unwrap();
    assert!(wal.recovery_report().torn_tail.is_none());
    assert!(wal.recovery_report().quarantined_new.is_empty());
    assert_eq!(
        read_all(&vfs).await,
        records,
        "everything acknowledged survived the crash"
    );
}

#[tokio::test]
async fn group_commit_syncs_far_less_than_once_per_record() {
    const WRITERS: usize = 16;
    const PER_WRITER: usize = 8;
    let (disk, vfs) = sim();
    let wal = Rc::new(
        Wal::open(Arc::clone(&vfs), dir(), WalOptions::default())
            .await
            .unwrap(),
    );
    let before = disk.stats();
    let results = concurrent_appends(Rc::clone(&wal), WRITERS, PER_WRITER, 0).await;
    let after = disk.stats();
    let records = (WRITERS * PER_WRITER) as u64;
    let syncs = after.data_syncs - before.data_syncs;
    let writes = after.writes - before.writes;
    assert!(results.iter().all(Result::is_ok));
    assert!(
        syncs * 4 <= records,
        "{syncs} data syncs for {records} records: group commit is not batching"
    );
    assert_eq!(writes, syncs, "one write per batch, one sync per write");
    let mut offsets: Vec<u64> = results.into_iter().map(Result::unwrap).collect();
    offsets.sort_unstable();
    offsets.dedup();
    assert_eq!(
        offsets.len() as u64,
        records,
        "every writer got its own offset"
    );
    assert_eq!(read_all(&vfs).await.len() as u64, records);
}

#[tokio::test]
async fn a_second_writer_is_refused_with_a_clear_error() {
    let (disk, vfs) = sim();
    let wal = Wal::open(Arc::clone(&vfs), dir(), WalOptions::default())
        .await
        .unwrap();
    let before = disk.stats();
    let err = Wal::open(Arc::clone(&vfs), dir(), WalOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, WalError::Locked { dir: d } if d == dir()),
        "{err}"
    );
    assert!(err.to_string().contains("locked by another writer"));
    let after = disk.stats();
    assert_eq!(
        (after.reads, after.writes, after.data_syncs),
        (before.reads, before.writes, before.data_syncs),
        "the refused open read and wrote nothing: it stopped at the lock"
    );
    wal.append(b"mine").await.unwrap();
    drop(wal);
    Wal::open(Arc::clone(&vfs), dir(), WalOptions::default())
        .await
        .expect("the lock is free once the writer is gone");
}

#[tokio::test]
async fn a_crash_while_recovery_quarantines_loses_nothing() {
    async fn rotted_disk() -> (SimDisk, Arc<dyn Vfs>, Vec<u64>) {
        let (disk, vfs) = sim();
        let wal = Wal::open(Arc::clone(&vfs), dir(), WalOptions::default())
            .await
            .unwrap();
        let offsets = append_n(&wal, 0..10).await;
        drop(wal);
        assert!(disk.flip_bit(&first_segment(&disk).await, offsets[4] + 50, 1));
        (disk, vfs, offsets)
    }
    let (disk, vfs, _) = rotted_disk().await;
    let before = disk.ops();
    drop(
        Wal::open(Arc::clone(&vfs), dir(), WalOptions::default())
            .await
            .unwrap(),
    );
    let recovery_ops = disk.ops() - before;
    for k in 0..recovery_ops {
        for crash in [
            CrashSpec::drop_all(),
            CrashSpec::keep_all(),
            CrashSpec::random(k),
        ] {
            let (disk, vfs, offsets) = rotted_disk().await;
            disk.power_off_at_op(disk.ops() + k);
            assert!(Wal::open(Arc::clone(&vfs), dir(), WalOptions::default())
                .await
                .is_err());
            disk.crash(&crash);
            let wal = Wal::open(Arc::clone(&vfs), dir(), WalOptions::default())
                .await
                .unwrap();
            assert_eq!(
                wal.recovery_report().quarantined,
                vec![QuarantinedRange {
                    start: offsets[4],
                    end: offsets[5]
                }],
                "recovery call {k}, {crash:?}"
            );
            drop(wal);
            assert_eq!(
                payloads(&read_all(&vfs).await),
                expected((0..10).filter(|&i| i != 4)),
                "recovery call {k}, {crash:?}"
            );
        }
    }
}
