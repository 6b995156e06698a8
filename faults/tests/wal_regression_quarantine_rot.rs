//! Regression: bit rot in the WAL's own quarantine list made the database unopenable forever.
//!
//! Found by the chaos arena (seed 1, 300 ops): a media fault struck the `quarantine` sidecar file,
//! whose crc32c then failed, and `Wal::open` returned `QuarantineCorrupt` on every attempt; once
//! faults stopped the engine still could not start (a liveness failure no healing could fix).
//! The list is derivable from the log, so recovery now discards a damaged list and rebuilds it
//! from a full scan, which finds every damaged range again. Must hold: the reopen succeeds, the
//! same range is quarantined again, every valid record (before and after the damage) is readable,
//! and the rebuilt list is durable (a crash right after the reopen changes nothing).

use std::path::Path;
use std::sync::Arc;

use stemedb::io::Vfs;
use stemedb::wal::{ReadOutcome, Wal, WalOptions, WalReader, QUARANTINE_FILE_NAME};
use stemedb_faults::{CrashSpec, SimDisk};

const DIR: &str = "/wal";

async fn readable(vfs: &Arc<dyn Vfs>) -> Vec<Vec<u8>> {
    let mut reader = WalReader::open(Arc::clone(vfs), Path::new(DIR))
        .await
        .unwrap();
    let mut offset = reader.first_offset().await.unwrap();
    let mut out = Vec::new();
    while let ReadOutcome::Record(r) = reader.read_at(offset).await.unwrap() {
        offset = r.next_offset;
        out.push(r.payload);
    }
    out
}

#[tokio::test]
async fn a_damaged_quarantine_list_is_rebuilt_not_fatal() {
    let disk = SimDisk::new(3);
    let vfs: Arc<dyn Vfs> = Arc::new(disk.clone());
    let payloads: Vec<Vec<u8>> = (0..8u8).map(|i| vec![i + 1; 100]).collect();
    let wal = Wal::open(vfs.clone(), Path::new(DIR), WalOptions::default())
        .await
        .unwrap();
    let mut offsets = Vec::new();
    for p in &payloads {
        offsets.push(wal.append(p).await.unwrap());
    }
    drop(wal);
    // Rot inside record 3's payload: recovery must quarantine it and keep 4..8.
    let segment = stemedb::wal::segment_files(&disk.observer(), Path::new(DIR))
        .await
        .unwrap()[0]
        .1
        .clone();
    assert!(disk.flip_bit(&segment, offsets[3] + 60, 2));
    let wal = Wal::open(vfs.clone(), Path::new(DIR), WalOptions::default())
        .await
        .unwrap();
    let first_ranges = wal.recovery_report().quarantined.clone();
    assert_eq!(first_ranges.len(), 1, "one damaged range");
    drop(wal);
    // Now rot strikes the quarantine list itself.
    let list = Path::new(DIR).join(QUARANTINE_FILE_NAME);
    assert!(disk.flip_bit(&list, 5, 0), "the list exists and is durable");
    let wal = Wal::open(vfs.clone(), Path::new(DIR), WalOptions::default())
        .await
        .expect("a damaged quarantine list must not stop the WAL from opening");
    assert_eq!(
        wal.recovery_report().quarantined,
        first_ranges,
        "the rebuild finds the same damage"
    );
    drop(wal);
    let mut want = payloads.clone();
    want.remove(3);
    assert_eq!(
        readable(&vfs).await,
        want,
        "every undamaged record is readable, in order"
    );
    // The rebuilt list is durable: even a crash that drops everything pending keeps it.
    disk.crash(&CrashSpec::drop_all());
    let wal = Wal::open(vfs.clone(), Path::new(DIR), WalOptions::default())
        .await
        .unwrap();
    assert_eq!(wal.recovery_report().quarantined, first_ranges);
    assert!(
        wal.recovery_report().quarantined_new.is_empty(),
        "nothing new on a clean reopen"
    );
}
