//! Regression: a second recovery of the same bytes changed them. Found by the `wal_recover` fuzz
//! target.
//!
//! The log held records at 0, 496, 680 and 1424, the ingest cursor was 496, the medium cut the
//! only segment to 1200 bytes (inside the record at 680) and rotted the first two records, and
//! the quarantine list was garbage, which forces a full rescan. The first open scanned from 0,
//! found nothing valid anywhere, and reported the tail lost below the cursor (`[0, 496)`),
//! remembering that range as quarantined, but left the 704 bytes above the cursor in the
//! segment. The second open scanned from the cursor, found those bytes invalid with nothing
//! after them, and cut them as a torn tail: recovery was not idempotent, and what a reader saw
//! between the two opens was not what either recovery had decided.
//!
//! Must hold: the first recovery cuts the bytes above the cursor (nothing valid follows the
//! damage, so they are a torn tail) and nothing below it; a second recovery changes no durable
//! byte and reports the same loss; an append lands at the cursor and reads back.
//!
//! The companion bug, a stray segment name claiming a base near `u64::MAX`, made the recovery
//! scan's `base + local` overflow (a panic in debug builds); such a name is now refused with a
//! typed error and nothing is changed.

use std::path::Path;
use std::sync::Arc;

use stemedb::io::{OpenMode, Vfs};
use stemedb::wal::{
    segment_files, segment_name, ReadOutcome, TailLost, Wal, WalError, WalOptions, WalReader,
    QUARANTINE_FILE_NAME, WAL_OFFSET_MAX,
};
use stemedb_faults::SimDisk;

const DIR: &str = "/wal";
const CUT_BYTES: u64 = 1200;

fn dir() -> &'static Path {
    Path::new(DIR)
}

fn options(cursor: u64, salt_seed: u64) -> WalOptions {
    WalOptions {
        recovery_start_offset: Some(cursor),
        salt_seed: Some(salt_seed),
        ..WalOptions::default()
    }
}

async fn write_synced(vfs: &dyn Vfs, path: &Path, at: u64, bytes: &[u8]) {
    let file = vfs.open(path, OpenMode::Create).await.unwrap();
    file.write_at(at, bytes).await.unwrap();
    file.sync_data().await.unwrap();
    vfs.sync_dir(dir()).await.unwrap();
}

#[tokio::test]
async fn a_second_recovery_of_a_tail_lost_below_the_cursor_changes_nothing() {
    let disk = SimDisk::new(12);
    let vfs: Arc<dyn Vfs> = Arc::new(disk.clone());
    let wal = Wal::open(vfs.clone(), dir(), WalOptions::default())
        .await
        .unwrap();
    let mut offsets = Vec::new();
    for (i, len) in [440usize, 128, 700, 64].into_iter().enumerate() {
        offsets.push(wal.append(&vec![i as u8 + 1; len]).await.unwrap());
    }
    drop(wal);
    let cursor = offsets[1];
    assert!(
        offsets[2] < CUT_BYTES && CUT_BYTES < offsets[3],
        "{offsets:?}"
    );
    assert!(cursor < CUT_BYTES);

    let segment = segment_files(vfs.as_ref(), dir()).await.unwrap()[0]
        .1
        .clone();
    let file = vfs.open(&segment, OpenMode::Write).await.unwrap();
    file.set_len(CUT_BYTES).await.unwrap();
    file.sync_data().await.unwrap();
    // Rot inside the first two records' payloads.
    assert!(disk.flip_bit(&segment, offsets[0] + 100, 3));
    assert!(disk.flip_bit(&segment, offsets[1] + 60, 5));
    write_synced(vfs.as_ref(), &dir().join(QUARANTINE_FILE_NAME), 0, b"").await;

    let lost = TailLost {
        from: 0,
        to: cursor,
    };
    let first = Wal::open(vfs.clone(), dir(), options(cursor, 1))
        .await
        .unwrap();
    let report = first.recovery_report().clone();
    assert_eq!(report.tail_lost, Some(lost), "{report:?}");
    let torn = report
        .torn_tail
        .clone()
        .expect("the bytes above the cursor are cut");
    assert_eq!(torn.offset, cursor, "nothing below the cursor is cut");
    assert_eq!(torn.bytes_truncated, CUT_BYTES - cursor);
    assert_eq!(report.end_offset, cursor);
    assert_eq!(
        disk.durable_file(&segment).map(|b| b.len() as u64),
        Some(cursor)
    );
    let image = disk.durable_image();
    drop(first);

    let second = Wal::open(vfs.clone(), dir(), options(cursor, 2))
        .await
        .unwrap();
    let again = second.recovery_report().clone();
    assert!(
        disk.durable_image() == image,
        "the second recovery changed the durable image: {again:?}"
    );
    assert_eq!(again.tail_lost, Some(lost), "{again:?}");
    assert_eq!(again.torn_tail, None, "{again:?}");
    assert_eq!(again.end_offset, cursor);

    let offset = second.append(b"after the loss").await.unwrap();
    assert_eq!(offset, cursor, "the log continues exactly at the cursor");
    let mut reader = WalReader::open(vfs.clone(), dir()).await.unwrap();
    match reader.read_at(cursor).await.unwrap() {
        ReadOutcome::Record(record) => assert_eq!(record.payload, b"after the loss"),
        other => panic!("the append does not read back: {other:?}"),
    }
}

#[tokio::test]
async fn a_segment_name_claiming_a_base_past_the_offset_bound_is_refused() {
    let disk = SimDisk::new(13);
    let vfs: Arc<dyn Vfs> = Arc::new(disk.clone());
    let wal = Wal::open(vfs.clone(), dir(), WalOptions::default())
        .await
        .unwrap();
    wal.append(b"acknowledged").await.unwrap();
    drop(wal);
    for base in [u64::MAX - 7, WAL_OFFSET_MAX + 8] {
        let stray = dir().join(segment_name(base, 0xabc));
        write_synced(vfs.as_ref(), &stray, 0, &[0x5a; 300]).await;
        let image = disk.durable_image();
        match Wal::open(vfs.clone(), dir(), WalOptions::default()).await {
            Err(WalError::SegmentBaseOutOfRange {
                path,
                base: got,
                max,
            }) => {
                assert_eq!((path, got, max), (stray.clone(), base, WAL_OFFSET_MAX));
            }
            other => panic!("a base of {base} must be refused, got {other:?}"),
        }
        assert!(WalReader::open(vfs.clone(), dir()).await.is_err());
        assert!(
            disk.durable_image() == image,
            "a refused open changed nothing"
        );
        vfs.remove(&stray).await.unwrap();
        vfs.sync_dir(dir()).await.unwrap();
    }
    let wal = Wal::open(vfs.clone(), dir(), WalOptions::default())
        .await
        .unwrap();
    let mut reader = WalReader::open(vfs.clone(), dir()).await.unwrap();
    match reader.read_at(0).await.unwrap() {
        ReadOutcome::Record(record) => assert_eq!(record.payload, b"acknowledged"),
        other => panic!("the acknowledged record is gone: {other:?}"),
    }
    drop(wal);
}
