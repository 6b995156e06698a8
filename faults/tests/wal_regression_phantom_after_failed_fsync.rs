//! Regression: recovery built on bytes the disk never held. Found by the chaos arena (held-out
//! seed 1092, once crashes were aimed at disk events; `scenarios/regressions/chaos-seed1092.json`).
//!
//! A batch's fsync failed and dropped its writes, marking the pages clean (as Linux does). The
//! WAL fails closed after cutting the batch back, but the process was killed between the failed
//! fsync and the cut. The page cache outlived the process, so the next open read the batch's
//! three records back out of clean pages, synced the segment (which writes nothing: no page was
//! dirty), and reported them as the log. Ingest applied them; a later power loss took them from
//! the log but not from the KV: the KV held a record the durable log did not.
//!
//! Must hold: the reopened WAL reports only what the medium holds (the acknowledged records),
//! an append after it lands right after them, and a power loss after the reopen loses nothing
//! that the reopen reported.

use std::path::Path;
use std::sync::Arc;

use stemedb::io::Vfs;
use stemedb::wal::{ReadOutcome, Wal, WalOptions, WalReader};
use stemedb_faults::{CrashSpec, DiskFault, FsyncEioSpec, SimDisk};

const DIR: &str = "/wal";

fn dir() -> &'static Path {
    Path::new(DIR)
}

async fn records(vfs: &Arc<dyn Vfs>) -> Vec<(u64, Vec<u8>)> {
    let mut reader = WalReader::open(vfs.clone(), dir()).await.unwrap();
    let mut out = Vec::new();
    let mut at = 0;
    while let ReadOutcome::Record(r) = reader.read_at(at).await.unwrap() {
        at = r.next_offset;
        out.push((r.offset, r.payload));
    }
    out
}

#[tokio::test]
async fn a_batch_whose_fsync_failed_is_not_read_back_by_the_next_process() {
    let disk = SimDisk::new(1092);
    let vfs: Arc<dyn Vfs> = Arc::new(disk.clone());
    let wal = Wal::open(vfs.clone(), dir(), WalOptions::default())
        .await
        .unwrap();
    let acked = vec![
        (wal.append(b"first").await.unwrap(), b"first".to_vec()),
        (wal.append(b"second").await.unwrap(), b"second".to_vec()),
    ];
    // The next append writes (call n), fails its fsync (n + 1), and dies at the cut-back (n + 2).
    disk.inject(DiskFault::FsyncEio {
        spec: FsyncEioSpec::drop_all(),
    });
    disk.kill_process_at_op(disk.ops() + 2);
    assert!(wal.append(b"never durable").await.is_err());
    drop(wal);
    disk.kill_process();

    let reopened = Wal::open(vfs.clone(), dir(), WalOptions::default())
        .await
        .unwrap();
    let report = reopened.recovery_report().clone();
    assert_eq!(
        records(&vfs).await,
        acked,
        "the reopen reads what the medium holds: {report:?}"
    );
    let end = reopened.append(b"after").await.unwrap();
    assert_eq!(end, report.end_offset);
    drop(reopened);
    let before = records(&vfs).await;

    disk.crash(&CrashSpec::drop_all());
    Wal::open(vfs.clone(), dir(), WalOptions::default())
        .await
        .unwrap();
    assert_eq!(
        records(&vfs).await,
        before,
        "a power loss takes nothing the reopen built on"
    );
}
