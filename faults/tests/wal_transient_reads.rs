//! Regression: a verdict on one bad read. A read can return bytes that are wrong once and right
//! the next time (a transient bad read: a flaky cable, a controller retry). Recovery used to cut a
//! torn tail or quarantine a range, and a reader to report corruption, on the word of a single
//! read: one misread of the last acknowledged record made recovery cut it off (an acknowledged
//! record lost), one misread mid-log quarantined a valid record for good.
//!
//! Must hold: before cutting, quarantining or reporting corruption, the bytes are read again
//! (`REREADS_BEFORE_VERDICT` times); a re-read that verifies wins. Here a wrapper Vfs corrupts the
//! first N reads that touch one byte of a record (N up to `REREADS_BEFORE_VERDICT`); nothing may
//! be truncated or quarantined, and every record must read back.
//!
//! The second bug: a run of bad reads longer than that, each wrong differently (the `sim` fuzz
//! target armed three transient corruptions at one disk call, chaos seed 13042300303481948731,
//! `scenarios/regressions/chaos-seed13042300303481948731-recovery-cut-after-three-misreads.json`).
//! Every read agreed that nothing verified, so recovery cut an acknowledged record as a torn
//! tail, although no two reads had returned the same bytes. Must hold: reads that disagree are
//! noise, not damage; recovery keeps reading until two passes agree (at most `REREADS_MAX`), and
//! a path that never reads the same twice ends in `WalError::UnstableReads`, changing nothing.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use stemedb::io::{OpenMode, Vfs, VfsFile, VfsLock};
use stemedb::wal::{
    segment_files, ReadOutcome, Wal, WalError, WalOptions, WalReader, REREADS_BEFORE_VERDICT,
    REREADS_MAX,
};
use stemedb_faults::SimDisk;

const DIR: &str = "/wal";
const RECORDS: usize = 12;

fn dir() -> &'static Path {
    Path::new(DIR)
}

fn payload(i: usize) -> Vec<u8> {
    (0..60 + i * 7).map(|j| (i * 31 + j) as u8).collect()
}

/// Corrupts (flips one bit of) the first `bad_reads` reads of `path` that cover file offset
/// `byte`; every later read is true. With `vary`, consecutive bad reads flip different bits.
#[derive(Debug)]
struct FlakyReads {
    inner: Arc<dyn Vfs>,
    path: PathBuf,
    byte: u64,
    left: Arc<AtomicU32>,
    vary: bool,
}

#[derive(Debug)]
struct FlakyFile {
    inner: Box<dyn VfsFile>,
    byte: u64,
    left: Arc<AtomicU32>,
    vary: bool,
}

#[async_trait]
impl Vfs for FlakyReads {
    async fn open(&self, path: &Path, mode: OpenMode) -> std::io::Result<Box<dyn VfsFile>> {
        let inner = self.inner.open(path, mode).await?;
        if path != self.path {
            return Ok(inner);
        }
        Ok(Box::new(FlakyFile {
            inner,
            byte: self.byte,
            left: Arc::clone(&self.left),
            vary: self.vary,
        }))
    }
    async fn create_dir_all(&self, path: &Path) -> std::io::Result<()> {
        self.inner.create_dir_all(path).await
    }
    async fn sync_dir(&self, path: &Path) -> std::io::Result<()> {
        self.inner.sync_dir(path).await
    }
    async fn rename(&self, from: &Path, to: &Path) -> std::io::Result<()> {
        self.inner.rename(from, to).await
    }
    async fn remove(&self, path: &Path) -> std::io::Result<()> {
        self.inner.remove(path).await
    }
    async fn list(&self, dir: &Path) -> std::io::Result<Vec<String>> {
        self.inner.list(dir).await
    }
    async fn lock(&self, path: &Path) -> std::io::Result<Box<dyn VfsLock>> {
        self.inner.lock(path).await
    }
}

#[async_trait]
impl VfsFile for FlakyFile {
    async fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<usize> {
        let got = self.inner.read_at(offset, buf).await?;
        if (offset..offset + got as u64).contains(&self.byte) {
            if let Ok(left) = self
                .left
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            {
                let bit = if self.vary { left % 8 } else { 3 };
                buf[(self.byte - offset) as usize] ^= 1 << bit;
            }
        }
        Ok(got)
    }
    async fn write_at(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        self.inner.write_at(offset, data).await
    }
    async fn append(&self, data: &[u8]) -> std::io::Result<u64> {
        self.inner.append(data).await
    }
    async fn sync_data(&self) -> std::io::Result<()> {
        self.inner.sync_data().await
    }
    async fn set_len(&self, len: u64) -> std::io::Result<()> {
        self.inner.set_len(len).await
    }
    async fn len(&self) -> std::io::Result<u64> {
        self.inner.len().await
    }
    async fn evict_cache(&self) -> std::io::Result<()> {
        self.inner.evict_cache().await
    }
}

/// A synced log of [`RECORDS`] records on a fresh disk: its offsets, end and segment path.
async fn written(seed: u64) -> (Arc<dyn Vfs>, Vec<u64>, u64, PathBuf) {
    let vfs: Arc<dyn Vfs> = Arc::new(SimDisk::new(seed));
    let wal = Wal::open(Arc::clone(&vfs), dir(), WalOptions::default())
        .await
        .unwrap();
    let mut offsets = Vec::new();
    for i in 0..RECORDS {
        offsets.push(wal.append(&payload(i)).await.unwrap());
    }
    let end = wal.durable_end();
    drop(wal);
    let segment = segment_files(vfs.as_ref(), dir()).await.unwrap()[0]
        .1
        .clone();
    (vfs, offsets, end, segment)
}

fn flaky(vfs: &Arc<dyn Vfs>, segment: &Path, byte: u64, bad_reads: u32) -> Arc<dyn Vfs> {
    bad_reads_of(vfs, segment, byte, bad_reads, false)
}

/// As [`flaky`], each bad read wrong differently.
fn noisy(vfs: &Arc<dyn Vfs>, segment: &Path, byte: u64, bad_reads: u32) -> Arc<dyn Vfs> {
    bad_reads_of(vfs, segment, byte, bad_reads, true)
}

fn bad_reads_of(
    vfs: &Arc<dyn Vfs>,
    segment: &Path,
    byte: u64,
    bad_reads: u32,
    vary: bool,
) -> Arc<dyn Vfs> {
    Arc::new(FlakyReads {
        inner: Arc::clone(vfs),
        path: segment.to_owned(),
        byte,
        left: Arc::new(AtomicU32::new(bad_reads)),
        vary,
    })
}

/// The segment's length on disk.
async fn segment_len(vfs: &Arc<dyn Vfs>, segment: &Path) -> u64 {
    vfs.open(segment, OpenMode::Read)
        .await
        .unwrap()
        .len()
        .await
        .unwrap()
}

async fn assert_every_record_reads_back(vfs: Arc<dyn Vfs>, offsets: &[u64], end: u64, ctx: &str) {
    let mut reader = WalReader::open(vfs, dir()).await.unwrap();
    let mut offset = 0;
    for (i, &at) in offsets.iter().enumerate() {
        match reader.read_at(offset).await {
            Ok(ReadOutcome::Record(r)) => {
                assert_eq!(
                    (r.offset, &r.payload),
                    (at, &payload(i)),
                    "{ctx}: record {i}"
                );
                offset = r.next_offset;
            }
            other => panic!("{ctx}: record {i} at {at} did not read back: {other:?}"),
        }
    }
    assert_eq!(offset, end, "{ctx}");
}

/// Opens the WAL through `vfs` and asserts recovery found every record and cut, quarantined
/// nothing.
async fn open_cutting_nothing(vfs: Arc<dyn Vfs>, end: u64, ctx: &str) -> Wal {
    let wal = Wal::open(vfs, dir(), WalOptions::default()).await.unwrap();
    let report = wal.recovery_report().clone();
    assert_eq!(report.torn_tail, None, "{ctx}: {report:?}");
    assert!(report.quarantined_new.is_empty(), "{ctx}: {report:?}");
    assert!(report.quarantined.is_empty(), "{ctx}: {report:?}");
    assert_eq!(report.end_offset, end, "{ctx}");
    assert_eq!(report.records_valid, RECORDS as u64, "{ctx}");
    wal
}

#[tokio::test(start_paused = true)]
async fn recovery_cuts_and_quarantines_nothing_on_a_misread() {
    for bad_reads in 1..=REREADS_BEFORE_VERDICT {
        // The last record (a misread makes it look like a torn tail) and one mid-log (a misread
        // makes it look like rot with valid records after it).
        for victim in [RECORDS - 1, RECORDS / 2] {
            let (vfs, offsets, end, segment) = written(7).await;
            let ctx = format!("{bad_reads} bad reads of record {victim}");
            let byte = offsets[victim] + 60;
            let wal = open_cutting_nothing(flaky(&vfs, &segment, byte, bad_reads), end, &ctx).await;
            assert_eq!(wal.append(b"next").await.unwrap(), end, "{ctx}");
            drop(wal);
            assert_eq!(
                vfs.open(&segment, OpenMode::Read)
                    .await
                    .unwrap()
                    .len()
                    .await
                    .unwrap(),
                end + stemedb::wal::record::framed_bytes(4),
                "{ctx}: nothing was cut"
            );
            assert_every_record_reads_back(vfs, &offsets, end, &ctx).await;
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_reader_reports_no_corruption_on_a_misread() {
    for bad_reads in 1..=REREADS_BEFORE_VERDICT + 1 {
        for victim in [0, RECORDS / 2, RECORDS - 1] {
            let (vfs, offsets, end, segment) = written(8).await;
            let ctx = format!("{bad_reads} bad reads of record {victim}");
            let byte = offsets[victim] + 60;
            let wal = Wal::open(Arc::clone(&vfs), dir(), WalOptions::default())
                .await
                .unwrap();
            // Bound to the writer, so a misread below the durable end could only be reported as
            // corruption (never as the end of the log).
            let mut reader = WalReader::open(flaky(&vfs, &segment, byte, bad_reads), dir())
                .await
                .unwrap()
                .bounded_by(wal.subscribe());
            let mut offset = 0;
            for (i, &at) in offsets.iter().enumerate() {
                match reader.read_at(offset).await {
                    Ok(ReadOutcome::Record(r)) => {
                        assert_eq!((r.offset, &r.payload), (at, &payload(i)), "{ctx}");
                        offset = r.next_offset;
                    }
                    other => panic!("{ctx}: record {i} at {at}: {other:?}"),
                }
            }
            assert_eq!(offset, end, "{ctx}");
            assert_eq!(reader.read_at(end).await.unwrap(), ReadOutcome::EndOfLog);
        }
    }
}

#[tokio::test(start_paused = true)]
async fn recovery_cuts_nothing_on_a_run_of_misreads_that_disagree() {
    for bad_reads in REREADS_BEFORE_VERDICT + 1..=REREADS_MAX {
        for victim in [RECORDS - 1, RECORDS / 2] {
            let (vfs, offsets, end, segment) = written(9).await;
            let ctx = format!("{bad_reads} differing bad reads of record {victim}");
            let byte = offsets[victim] + 60;
            let wal = open_cutting_nothing(noisy(&vfs, &segment, byte, bad_reads), end, &ctx).await;
            drop(wal);
            assert_eq!(
                segment_len(&vfs, &segment).await,
                end,
                "{ctx}: nothing was cut"
            );
            assert_every_record_reads_back(vfs, &offsets, end, &ctx).await;
        }
    }
}

#[tokio::test(start_paused = true)]
async fn bytes_that_never_read_the_same_twice_get_no_verdict_and_lose_nothing() {
    for victim in [RECORDS - 1, RECORDS / 2] {
        let (vfs, offsets, end, segment) = written(10).await;
        let ctx = format!("record {victim} never reads the same twice");
        let byte = offsets[victim] + 60;
        match Wal::open(
            noisy(&vfs, &segment, byte, u32::MAX),
            dir(),
            WalOptions::default(),
        )
        .await
        {
            Err(WalError::UnstableReads { offset, .. }) => {
                assert_eq!(offset, offsets[victim], "{ctx}")
            }
            Err(other) => panic!("{ctx}: open failed with {other}, not UnstableReads"),
            Ok(wal) => panic!("{ctx}: open gave a verdict: {:?}", wal.recovery_report()),
        }
        assert_eq!(
            segment_len(&vfs, &segment).await,
            end,
            "{ctx}: nothing was cut"
        );

        let wal = Wal::open(Arc::clone(&vfs), dir(), WalOptions::default())
            .await
            .unwrap();
        // A reader on the same path: no corruption reported, no end of log, only "retry".
        let mut reader = WalReader::open(noisy(&vfs, &segment, byte, u32::MAX), dir())
            .await
            .unwrap()
            .bounded_by(wal.subscribe());
        match reader.read_at(offsets[victim]).await {
            Err(WalError::UnstableReads { .. }) => {}
            other => panic!("{ctx}: a reader judged unstable bytes: {other:?}"),
        }
        assert_eq!(wal.recovery_report().end_offset, end, "{ctx}");
        drop(wal);
        assert_every_record_reads_back(vfs, &offsets, end, &ctx).await;
    }
}
