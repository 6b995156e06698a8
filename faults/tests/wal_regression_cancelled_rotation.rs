//! Regression: a rotation cancelled after it created the new segment's file left an empty segment
//! inside the log.
//!
//! `ActiveLog::rotate` creates the next segment's file, then syncs the directory, and only then
//! switches to it. A client that gave up while its batch was being flushed dropped the leader in
//! between (held-out chaos seed 189040: an evidence record whose submit was given up after 1 ms).
//! The next batch was small, fitted in the old segment, and was written there, past the base of
//! the file just created; that empty file was in no live list, so no truncation ever removed it
//! (the reclaim rule saw a segment wholly below the durable cursor 5,000 simulated ms after the
//! drain), and a recovery would have listed a segment starting inside its predecessor's records.
//! A rotation that does not finish now leaves the log owing it: the next batch rotates first, at
//! the same base and so the same name, and adopts that file.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use stemedb::io::Vfs;
use stemedb::wal::{segment_files, Wal, WalOptions};
use stemedb_faults::{CrashSpec, FaultPlan, LatencyDist, LatencyModel, SimDisk};

const DIR: &str = "/wal";
const SEGMENT_BYTES_MAX: u64 = 4096;
/// Every metadata call (create, directory sync) takes this long; the rest take no time.
const METADATA_LATENCY_US: u64 = 5_000;

#[tokio::test(start_paused = true)]
async fn a_cancelled_rotation_is_finished_by_the_next_batch() {
    let none = LatencyDist::new(0, 0);
    let plan = FaultPlan {
        latency: Some(LatencyModel {
            read: none,
            write: none,
            sync: none,
            metadata: LatencyDist::new(METADATA_LATENCY_US, 0),
            stall_per_million: 0,
            stall_us: 0,
        }),
        ..FaultPlan::none()
    };
    let disk = SimDisk::with_plan(9, &plan);
    let vfs: Arc<dyn Vfs> = Arc::new(disk.clone());
    let options = WalOptions {
        segment_bytes_max: SEGMENT_BYTES_MAX,
        ..WalOptions::default()
    };
    let wal = Wal::open(Arc::clone(&vfs), Path::new(DIR), options.clone())
        .await
        .unwrap();
    let big = vec![7u8; 1000];
    let mut acked = Vec::new();
    for _ in 0..3 {
        acked.push(wal.append(&big).await.unwrap());
    }
    let end = wal.durable_end();
    // The fourth does not fit: its flush creates the next segment's file (one metadata call),
    // and is given up on while the directory sync (the next) is in flight.
    let given_up = stemedb_faults::time::timeout(
        Duration::from_micros(METADATA_LATENCY_US + METADATA_LATENCY_US / 2),
        wal.append(&big),
    )
    .await;
    assert!(given_up.is_none(), "the flush was still rotating");
    let names = segment_files(&disk.observer(), Path::new(DIR))
        .await
        .unwrap();
    assert_eq!(
        names.iter().map(|(s, _)| s.base).collect::<Vec<_>>(),
        vec![0, end],
        "the cancelled rotation left the next segment's file"
    );

    // A small record would fit in the old segment; it must go to the new one.
    let small = vec![9u8; 100];
    let offset = wal.append(&small).await.unwrap();
    acked.push(offset);
    assert_eq!(offset, end);
    let names = segment_files(&disk.observer(), Path::new(DIR))
        .await
        .unwrap();
    let sizes: Vec<(u64, usize)> = names
        .iter()
        .map(|(s, path)| (s.base, disk.live_file(path).map_or(0, |b| b.len())))
        .collect();
    assert_eq!(sizes.len(), 2);
    assert_eq!(
        sizes[0].1 as u64, end,
        "nothing was written into the old segment past the new one's base: {sizes:?}"
    );
    assert!(
        sizes[1].1 > 0,
        "the new segment holds the record: {sizes:?}"
    );

    // Truncating below the new base removes the old segment, and a restart reads every
    // acknowledged record back from the one segment left.
    assert_eq!(wal.truncate_below(end).await.unwrap(), 1);
    let durable = wal.durable_end();
    drop(wal);
    disk.crash(&CrashSpec::drop_all());
    let wal = Wal::open(Arc::clone(&vfs), Path::new(DIR), options)
        .await
        .unwrap();
    assert_eq!(wal.durable_end(), durable);
    let mut reader = stemedb::wal::WalReader::open(Arc::clone(&vfs), Path::new(DIR))
        .await
        .unwrap();
    let first = reader.first_offset().await.unwrap();
    assert_eq!(first, end);
    match reader.read_at(first).await.unwrap() {
        stemedb::wal::ReadOutcome::Record(record) => assert_eq!(record.payload, small),
        other => panic!("the record after the rotation is gone: {other:?}"),
    }
}
