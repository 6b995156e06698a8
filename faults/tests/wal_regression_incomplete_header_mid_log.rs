//! Regression: an unbounded WAL reader stopped at a damaged header that claimed a length past the
//! end of the file, as if it were the log's tail, although valid records followed.
//!
//! Found by the chaos arena (seed 1 of `scenarios/ci.toml`, with edge-sized records): a
//! misdirected write overwrote most of a record, leaving 16 bytes of its tail in front of the
//! next record. Read as a header, those bytes claimed a plausible length (under the record
//! maximum) reaching past the end of the file, so the fetch was "incomplete", and the reader
//! answered "end of log" without the look-ahead it does for any other invalid bytes. Its
//! documentation promises "end of log" only when nothing valid follows. The oracle's scan (an
//! unbounded reader) then missed every acknowledged record after the damage. Recovery and the
//! ingest reader (bounded by the durable end) were not affected.
//!
//! Must hold: the unbounded reader reports the damage as corruption with the next valid record,
//! and still answers "end of log" at the true end.

use std::path::Path;
use std::sync::Arc;

use stemedb::io::{OpenMode, Vfs};
use stemedb::wal::{
    segment_files, ReadOutcome, Wal, WalError, WalOptions, WalReader, RECORD_PAYLOAD_BYTES_MAX,
};
use stemedb_faults::SimDisk;

const DIR: &str = "/wal";

#[tokio::test]
async fn a_header_claiming_bytes_past_the_file_end_is_damage_when_records_follow() {
    let disk = SimDisk::new(9);
    let vfs: Arc<dyn Vfs> = Arc::new(disk.clone());
    let wal = Wal::open(vfs.clone(), Path::new(DIR), WalOptions::default())
        .await
        .unwrap();
    let _a = wal.append(&[1u8; 100]).await.unwrap();
    let b = wal.append(&[2u8; 100]).await.unwrap();
    let c = wal.append(&[3u8; 100]).await.unwrap();
    let end = wal.durable_end();
    // B's length field now claims far more than the file holds (but less than the maximum, so
    // the header is merely incomplete, not absurd).
    let claimed = RECORD_PAYLOAD_BYTES_MAX / 2;
    assert!(u64::from(claimed) > end);
    let segment = segment_files(vfs.as_ref(), Path::new(DIR)).await.unwrap()[0]
        .1
        .clone();
    let file = vfs.open(&segment, OpenMode::Write).await.unwrap();
    file.write_at(b, &claimed.to_le_bytes()).await.unwrap();
    file.sync_data().await.unwrap();

    let mut reader = WalReader::open(vfs.clone(), Path::new(DIR)).await.unwrap();
    match reader.read_at(b).await {
        Err(WalError::Corrupt { next_valid, .. }) => assert_eq!(next_valid, Some(c)),
        other => panic!("damage followed by a valid record must be corruption, got {other:?}"),
    }
    match reader.read_at(c).await.unwrap() {
        ReadOutcome::Record(r) => assert_eq!(r.next_offset, end),
        other => panic!("C must be readable: {other:?}"),
    }
    assert_eq!(reader.read_at(end).await.unwrap(), ReadOutcome::EndOfLog);
}
