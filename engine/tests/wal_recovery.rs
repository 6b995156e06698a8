//! Recovery on the real file system, with damage made by editing segment files directly:
//! torn tails (incomplete records, garbage, absurd lengths), bit rot in the middle of a synced
//! segment (last and non-last), idempotent reopen, recovery from a checkpoint, and how readers
//! report each case before and after recovery.

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use stemedb::io::{RealVfs, Vfs};
use stemedb::wal::{
    parse_segment_name, segment_name, QuarantinedRange, ReadOutcome, RecordDefect, SegmentName,
    TailLost, Wal, WalError, WalOptions, WalReader, WalRecord, RECORD_HEADER_BYTES,
};

fn vfs() -> Arc<dyn Vfs> {
    Arc::new(RealVfs::new())
}

fn payload(i: usize) -> Vec<u8> {
    let len = (i * 53) % 200 + 8;
    (0..len).map(|j| (i * 17 + j * 3) as u8).collect()
}

fn small_segments() -> WalOptions {
    WalOptions {
        segment_bytes_max: 1024,
        ..WalOptions::default()
    }
}

async fn write_records(dir: &Path, options: WalOptions, count: usize) -> (Vec<u64>, u64) {
    let wal = Wal::open(vfs(), dir, options).await.unwrap();
    let mut offsets = Vec::new();
    for i in 0..count {
        offsets.push(wal.append(&payload(i)).await.unwrap());
    }
    (offsets, wal.durable_end())
}

async fn read_all(dir: &Path, mut offset: u64) -> Vec<WalRecord> {
    let mut reader = WalReader::open(vfs(), dir).await.unwrap();
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

/// The segment holding global `offset`.
fn segment_at(dir: &Path, offset: u64) -> SegmentName {
    let mut segments: Vec<SegmentName> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| parse_segment_name(e.unwrap().file_name().to_str()?))
        .collect();
    segments.sort();
    *segments.iter().rev().find(|s| s.base <= offset).unwrap()
}

/// The segment file holding global `offset`, and the offset within it.
fn locate(dir: &Path, offset: u64) -> (PathBuf, u64) {
    let segment = segment_at(dir, offset);
    (segment.path(dir), offset - segment.base)
}

fn flip_bit(dir: &Path, offset: u64, bit: u8) {
    let (path, local) = locate(dir, offset);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let mut byte = [0u8];
    file.read_exact_at(&mut byte, local).unwrap();
    byte[0] ^= 1 << bit;
    file.write_all_at(&byte, local).unwrap();
}

fn append_raw(dir: &Path, end: u64, bytes: &[u8]) {
    let (path, local) = locate(dir, end);
    let file = OpenOptions::new().write(true).open(path).unwrap();
    file.write_all_at(bytes, local).unwrap();
}

fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().into_string().unwrap(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

fn assert_payloads(records: &[WalRecord], expected: &[usize]) {
    let got: Vec<Vec<u8>> = records.iter().map(|r| r.payload.clone()).collect();
    let want: Vec<Vec<u8>> = expected.iter().map(|&i| payload(i)).collect();
    assert_eq!(got, want);
}

#[tokio::test]
async fn an_incomplete_record_at_the_end_is_a_torn_tail() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, end) = write_records(tmp.path(), WalOptions::default(), 10).await;
    // A whole valid frame, cut short: a crash mid-write.
    let salt = segment_at(tmp.path(), end).salt;
    let mut frame = stemedb::wal::record::encode(&payload(99), end, salt);
    frame.truncate(frame.len() - 20);
    append_raw(tmp.path(), end, &frame);

    // Before recovery an unbound reader sees the end of the log there, not an error.
    let mut reader = WalReader::open(vfs(), tmp.path()).await.unwrap();
    assert_eq!(reader.read_at(end).await.unwrap(), ReadOutcome::EndOfLog);

    let wal = Wal::open(vfs(), tmp.path(), WalOptions::default())
        .await
        .unwrap();
    let report = wal.recovery_report().clone();
    let torn = report.torn_tail.expect("torn tail reported");
    assert_eq!(torn.offset, end);
    assert_eq!(torn.bytes_truncated, frame.len() as u64);
    assert_eq!(torn.defect, None);
    assert!(report.quarantined_new.is_empty());
    assert_eq!(report.end_offset, end);
    assert_eq!(
        wal.append(b"next").await.unwrap(),
        end,
        "appends go after the last valid record"
    );
    let records = read_all(tmp.path(), 0).await;
    assert_eq!(records.len(), 11);
    assert_eq!(records[10].payload, b"next");
}

#[tokio::test]
async fn a_header_claiming_an_absurd_length_is_a_torn_tail() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, end) = write_records(tmp.path(), WalOptions::default(), 5).await;
    let mut header = [0x5au8; RECORD_HEADER_BYTES];
    header[..4].copy_from_slice(&(3u32 << 30).to_le_bytes());
    append_raw(tmp.path(), end, &header);
    append_raw(tmp.path(), end + 40, &[0x77; 100]);

    let wal = Wal::open(vfs(), tmp.path(), WalOptions::default())
        .await
        .unwrap();
    let torn = wal.recovery_report().torn_tail.clone().expect("torn tail");
    assert_eq!(torn.offset, end);
    assert_eq!(torn.bytes_truncated, 140);
    assert!(
        matches!(torn.defect, Some(RecordDefect::LengthTooLarge { len, .. }) if len == 3 << 30)
    );
    assert_eq!(
        std::fs::metadata(locate(tmp.path(), end).0).unwrap().len(),
        end
    );
    assert_eq!(read_all(tmp.path(), 0).await.len(), 5);
}

#[tokio::test]
async fn garbage_after_the_last_record_is_a_torn_tail() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, end) = write_records(tmp.path(), WalOptions::default(), 5).await;
    let garbage: Vec<u8> = (0..3000u32).map(|i| (i * 7 + 3) as u8).collect();
    append_raw(tmp.path(), end, &garbage);
    let wal = Wal::open(vfs(), tmp.path(), WalOptions::default())
        .await
        .unwrap();
    let torn = wal.recovery_report().torn_tail.clone().expect("torn tail");
    assert_eq!((torn.offset, torn.bytes_truncated), (end, 3000));
    assert!(wal.recovery_report().quarantined_new.is_empty());
}

#[tokio::test]
async fn bit_rot_mid_segment_is_quarantined_and_later_records_stay_readable() {
    let tmp = tempfile::tempdir().unwrap();
    let (offsets, end) = write_records(tmp.path(), WalOptions::default(), 20).await;
    flip_bit(tmp.path(), offsets[7] + RECORD_HEADER_BYTES as u64 + 3, 5);

    // Before recovery, readers call it corruption and point past it; they never return it.
    let mut reader = WalReader::open(vfs(), tmp.path()).await.unwrap();
    match reader.read_at(offsets[7]).await {
        Err(WalError::Corrupt {
            offset,
            defect,
            next_valid,
        }) => {
            assert_eq!(offset, offsets[7]);
            assert_eq!(defect, RecordDefect::ChecksumMismatch);
            assert_eq!(next_valid, Some(offsets[8]));
        }
        other => panic!("expected corruption, got {other:?}"),
    }

    let wal = Wal::open(vfs(), tmp.path(), WalOptions::default())
        .await
        .unwrap();
    let report = wal.recovery_report().clone();
    let range = QuarantinedRange {
        start: offsets[7],
        end: offsets[8],
    };
    assert_eq!(report.quarantined_new.len(), 1);
    assert_eq!(report.quarantined_new[0].range, range);
    assert_eq!(
        report.quarantined_new[0].defect,
        RecordDefect::ChecksumMismatch
    );
    assert_eq!(report.quarantined, vec![range]);
    assert!(
        report.torn_tail.is_none(),
        "damage followed by valid records is not a torn tail"
    );
    assert_eq!(report.end_offset, end);
    assert_eq!(report.records_valid, 19);

    let mut expected: Vec<usize> = (0..20).filter(|&i| i != 7).collect();
    assert_payloads(&read_all(tmp.path(), 0).await, &expected);
    // The reader that saw the damage before recovery now skips it too.
    match reader.read_at(offsets[7]).await.unwrap() {
        ReadOutcome::Record(r) => assert_eq!((r.offset, r.payload), (offsets[8], payload(8))),
        other => panic!("expected the record after the damage, got {other:?}"),
    }

    assert_eq!(wal.append(&payload(20)).await.unwrap(), end);
    drop(wal);
    expected.push(20);
    let before = snapshot(tmp.path());
    let again = Wal::open(vfs(), tmp.path(), WalOptions::default())
        .await
        .unwrap();
    let report = again.recovery_report();
    assert!(
        report.quarantined_new.is_empty(),
        "known damage is not reported as new"
    );
    assert_eq!(report.quarantined, vec![range], "known damage is repeated");
    assert!(report.torn_tail.is_none());
    drop(again);
    assert_eq!(
        snapshot(tmp.path()),
        before,
        "a second recovery changes nothing"
    );
    assert_payloads(&read_all(tmp.path(), 0).await, &expected);
}

#[tokio::test]
async fn rot_at_the_end_of_a_non_last_segment_is_corruption_not_a_torn_tail() {
    let tmp = tempfile::tempdir().unwrap();
    let (offsets, end) = write_records(tmp.path(), small_segments(), 30).await;
    // The last record of the first segment.
    let second_base = offsets
        .iter()
        .copied()
        .find(|&o| locate(tmp.path(), o).1 == 0 && o > 0)
        .unwrap();
    let victim = offsets.iter().position(|&o| o == second_base).unwrap() - 1;
    flip_bit(tmp.path(), offsets[victim], 0);

    let wal = Wal::open(vfs(), tmp.path(), small_segments())
        .await
        .unwrap();
    let report = wal.recovery_report().clone();
    assert!(report.torn_tail.is_none());
    assert_eq!(report.quarantined_new.len(), 1);
    assert_eq!(
        report.quarantined_new[0].range,
        QuarantinedRange {
            start: offsets[victim],
            end: second_base
        }
    );
    assert_eq!(report.end_offset, end);
    let expected: Vec<usize> = (0..30).filter(|&i| i != victim).collect();
    assert_payloads(&read_all(tmp.path(), 0).await, &expected);
}

#[tokio::test]
async fn two_damaged_records_are_each_quarantined() {
    let tmp = tempfile::tempdir().unwrap();
    let (offsets, _) = write_records(tmp.path(), WalOptions::default(), 12).await;
    flip_bit(tmp.path(), offsets[2] + 45, 1);
    flip_bit(tmp.path(), offsets[3] + 2, 1); // a length byte: adjacent damage merges
    flip_bit(tmp.path(), offsets[9] + 10, 7); // the digest
    let wal = Wal::open(vfs(), tmp.path(), WalOptions::default())
        .await
        .unwrap();
    let ranges: Vec<QuarantinedRange> = wal
        .recovery_report()
        .quarantined_new
        .iter()
        .map(|q| q.range)
        .collect();
    assert_eq!(
        ranges,
        vec![
            QuarantinedRange {
                start: offsets[2],
                end: offsets[4]
            },
            QuarantinedRange {
                start: offsets[9],
                end: offsets[10]
            },
        ]
    );
    assert_payloads(
        &read_all(tmp.path(), 0).await,
        &[0, 1, 4, 5, 6, 7, 8, 10, 11],
    );
}

#[tokio::test]
async fn a_bounded_reader_reports_rot_below_the_durable_end_as_corruption() {
    let tmp = tempfile::tempdir().unwrap();
    let wal = Wal::open(vfs(), tmp.path(), WalOptions::default())
        .await
        .unwrap();
    let mut offsets = Vec::new();
    for i in 0..3 {
        offsets.push(wal.append(&payload(i)).await.unwrap());
    }
    // Rot in the last record: unbound, nothing valid follows, so it might be a torn tail...
    flip_bit(tmp.path(), offsets[2] + 50, 2);
    let mut unbound = WalReader::open(vfs(), tmp.path()).await.unwrap();
    assert_eq!(
        unbound.read_at(offsets[2]).await.unwrap(),
        ReadOutcome::EndOfLog
    );
    // ...but the writer acknowledged it, so a reader bound to the durable end knows better.
    let mut bound = WalReader::open(vfs(), tmp.path())
        .await
        .unwrap()
        .bounded_by(wal.subscribe());
    let err = bound.read_at(offsets[2]).await.unwrap_err();
    assert!(
        matches!(err, WalError::Corrupt { offset, next_valid: None, .. } if offset == offsets[2]),
        "{err}"
    );
}

#[tokio::test]
async fn recovery_from_a_checkpoint_scans_only_what_follows() {
    let tmp = tempfile::tempdir().unwrap();
    let (offsets, end) = write_records(tmp.path(), small_segments(), 30).await;
    let options = WalOptions {
        recovery_start_offset: Some(offsets[20]),
        ..small_segments()
    };
    let wal = Wal::open(vfs(), tmp.path(), options).await.unwrap();
    let report = wal.recovery_report();
    assert_eq!(report.scanned_from, offsets[20]);
    assert_eq!(report.records_valid, 10);
    assert_eq!(report.end_offset, end);
    drop(wal);
    // A checkpoint past the end: the log's tail below it is gone. The log continues at the
    // checkpoint, never below it, and says what was lost (on every open until it moves on).
    let options = WalOptions {
        recovery_start_offset: Some(end + 8),
        ..small_segments()
    };
    for _ in 0..2 {
        let wal = Wal::open(vfs(), tmp.path(), options.clone()).await.unwrap();
        let report = wal.recovery_report();
        assert_eq!(
            report.tail_lost,
            Some(TailLost {
                from: end,
                to: end + 8
            })
        );
        assert_eq!(report.end_offset, end + 8);
        assert_eq!(report.torn_tail, None);
        assert_eq!(wal.durable_end(), end + 8);
    }
    let wal = Wal::open(vfs(), tmp.path(), options.clone()).await.unwrap();
    assert_eq!(wal.append(b"after the loss").await.unwrap(), end + 8);
    drop(wal);
    let wal = Wal::open(vfs(), tmp.path(), options).await.unwrap();
    assert_eq!(wal.recovery_report().tail_lost, None);
    assert_eq!(wal.recovery_report().records_valid, 1);
    // A checkpoint that is not a record boundary is refused.
    let misaligned = WalOptions {
        recovery_start_offset: Some(end + 3),
        ..small_segments()
    };
    let err = Wal::open(vfs(), tmp.path(), misaligned).await.unwrap_err();
    assert!(matches!(err, WalError::InvalidOptions(_)), "{err}");
}

#[tokio::test]
async fn an_empty_newest_segment_is_a_valid_end() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, end) = write_records(tmp.path(), WalOptions::default(), 4).await;
    // A crash right after rotation created the next segment.
    std::fs::File::create(tmp.path().join(segment_name(end, 0x5a17))).unwrap();
    let wal = Wal::open(vfs(), tmp.path(), WalOptions::default())
        .await
        .unwrap();
    assert_eq!(wal.recovery_report().segments, 2);
    assert_eq!(wal.recovery_report().end_offset, end);
    assert_eq!(wal.append(b"x").await.unwrap(), end);
    assert_eq!(read_all(tmp.path(), 0).await.len(), 5);
}
