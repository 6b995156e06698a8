//! Regression: a bounded reader handed out a frame that ran past the WAL's durable end, and ingest
//! moved its cursor there.
//!
//! Found by the chaos arena (seed 3 of `scenarios/ci.toml`, once traffic came in bursts): a
//! misdirected write left the bytes of a just-acknowledged record elsewhere in the segment. Ingest
//! met a checksum mismatch at the record's offset, the reader's look-ahead found a well-formed
//! frame a few bytes further on, and ingest quarantined the gap and read that frame. It started
//! below the durable end but ended past it, and the reader checked only where a record *starts*
//! against its bound, so the cursor passed the durable end (the monitor's invariant): bytes a
//! crash could still take away were applied.
//!
//! Must hold: a reader bound to the durable end never returns a record that ends past it; it
//! reports the bytes as corrupt (with the defect), and a record that does fit is still returned.

use std::path::Path;
use std::sync::Arc;

use stemedb::io::{OpenMode, Vfs};
use stemedb::wal::{
    record, segment_files, ReadOutcome, RecordDefect, Wal, WalError, WalOptions, WalReader,
    RECORD_ALIGN_BYTES,
};
use stemedb_faults::SimDisk;

const DIR: &str = "/wal";

#[tokio::test]
async fn a_frame_running_past_the_durable_end_is_never_returned() {
    let disk = SimDisk::new(5);
    let vfs: Arc<dyn Vfs> = Arc::new(disk.clone());
    let wal = Wal::open(vfs.clone(), Path::new(DIR), WalOptions::default())
        .await
        .unwrap();
    let a = wal.append(&[1u8; 100]).await.unwrap();
    let b = wal.append(&[2u8; 100]).await.unwrap();
    let durable_end = wal.durable_end();
    // A misplaced frame: garbage over B's header, then a well-formed frame one alignment step
    // into B that is longer than what is left of the log.
    // Framed for the position it is put at, under the segment's own salt: format v3 refuses a
    // frame anywhere else, so this is the one shape the bound alone must catch.
    let (first, segment) = segment_files(vfs.as_ref(), Path::new(DIR)).await.unwrap()[0].clone();
    let at = b + RECORD_ALIGN_BYTES;
    let misplaced = record::encode(&[3u8; 300], at, first.salt);
    assert!(at + misplaced.len() as u64 > durable_end);
    let file = vfs.open(&segment, OpenMode::Write).await.unwrap();
    file.write_at(b, &[0xA5; 8]).await.unwrap();
    file.write_at(at, &misplaced).await.unwrap();
    file.sync_data().await.unwrap();

    let mut reader = WalReader::open(vfs.clone(), Path::new(DIR))
        .await
        .unwrap()
        .bounded_by(wal.subscribe());
    match reader.read_at(a).await.unwrap() {
        ReadOutcome::Record(r) => assert_eq!(r.next_offset, b, "A is intact"),
        other => panic!("A must still be readable: {other:?}"),
    }
    match reader.read_at(at).await {
        Err(WalError::Corrupt {
            offset,
            defect:
                RecordDefect::PastDurableEnd {
                    next_offset,
                    durable_end: end,
                },
            ..
        }) => {
            assert_eq!(offset, at);
            assert_eq!(end, durable_end);
            assert_eq!(next_offset, at + misplaced.len() as u64);
        }
        other => panic!("a frame past the durable end must be reported corrupt, got {other:?}"),
    }
    // Unbound, the same bytes are just a (misplaced) record: the bound is what forbids them.
    let mut unbound = WalReader::open(vfs.clone(), Path::new(DIR)).await.unwrap();
    assert!(matches!(
        unbound.read_at(at).await.unwrap(),
        ReadOutcome::Record(_)
    ));
}
