//! Write-ahead log throughput on the production VFS (RealVfs, real `fdatasync`, a temporary
//! directory on the real disk), each bench beside its physical-limit twin in the same run:
//!
//! - `append_single_writer`: one appender, each 256-byte record acknowledged only once durable
//!   (`Wal::append`), beside a raw `write_all_at` + `sync_data` loop appending the same framed
//!   record to a plain file. One sync per record either way, so the ratio is the WAL's own cost
//!   (framing, hashing, the group-commit protocol) on top of the disk.
//! - `group_commit`: N appenders (N = 1, 8, 64) on a current-thread runtime, records/s in total,
//!   beside the raw one-record-per-sync loop (what the disk gives without batching) and, right
//!   after each N, a raw loop that writes N framed records in one write and one sync (the best
//!   batching can do).
//! - `recovery_scan`: `Wal::open` of a directory holding ~16 MiB of valid records (recovery reads
//!   and verifies every one; the file is in the page cache), beside the hashing recovery cannot
//!   avoid: crc32c over length, offset, salt, digest and payload plus blake3 over salt, offset,
//!   length and payload of every record (format v3), on the same bytes already in memory (and a
//!   second twin that first reads them from the page cache, as recovery must).
//!
//! Sync latency on a shared disk swings by an order of magnitude with other I/O on the same file
//! system (every `fdatasync` that extends a file commits the ext4 journal, which carries everyone's
//! metadata), so compare rows of one run, taken while the machine is otherwise quiet.
//!
//! Kept short (fsync-bound, 2 shared cores): `cargo bench -p stemedb-benches --bench wal`.

use std::fs::{File, OpenOptions};
use std::hint::black_box;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use stemedb::io::{RealVfs, Vfs};
use stemedb::wal::record::{encode, framed_bytes};
use stemedb::wal::{parse_segment_name, SegmentName, Wal, WalOptions, RECORD_HEADER_BYTES};
use tokio::runtime::Runtime;

/// Payload bytes per record (framed: 48-byte header + 256, already 8-byte aligned = 304).
const PAYLOAD_BYTES: usize = 256;
/// Concurrent appenders in `group_commit`.
const WRITERS: [usize; 3] = [1, 8, 64];
/// Records each appender appends per `group_commit` iteration: with a few ms per sync and one
/// sync per round of appenders, an iteration takes tens of ms whatever N is.
const RECORDS_PER_WRITER: usize = 16;
/// Size of the log `recovery_scan` recovers.
const RECOVERY_LOG_BYTES: u64 = 16 << 20;
/// Appenders used to write that log once in set-up (group commit keeps it to a few syncs).
const RECOVERY_SETUP_WRITERS: usize = 1024;
/// Segments large enough that the recovery log is one segment and the append benches rarely
/// rotate.
const SEGMENT_BYTES_MAX: u64 = 256 << 20;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
}

fn payload() -> Vec<u8> {
    (0..PAYLOAD_BYTES).map(|i| (i * 31 + 7) as u8).collect()
}

fn options() -> WalOptions {
    WalOptions {
        segment_bytes_max: SEGMENT_BYTES_MAX,
        ..WalOptions::default()
    }
}

async fn open_wal(dir: &Path) -> Wal {
    let vfs: Arc<dyn Vfs> = Arc::new(RealVfs);
    Wal::open(vfs, dir, options()).await.expect("open WAL")
}

/// The twin's file: a plain file the raw loops append to, like the WAL's segment.
struct RawLog {
    file: File,
    end: u64,
}

impl RawLog {
    fn create(path: &Path) -> RawLog {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
            .expect("create raw log");
        RawLog { file, end: 0 }
    }

    /// One write and one `fdatasync`: the physical cost of making `bytes` durable.
    fn append_durably(&mut self, bytes: &[u8]) {
        self.file
            .write_all_at(black_box(bytes), self.end)
            .expect("write");
        self.file.sync_data().expect("sync_data");
        self.end += bytes.len() as u64;
    }
}

fn append_single_writer(c: &mut Criterion, rt: &Runtime, tmp: &Path) {
    let payload = payload();
    // The raw twin writes the same number of bytes; offset and salt do not change the cost.
    let frame = encode(&payload, 0, 0);
    assert_eq!(frame.len() as u64, framed_bytes(PAYLOAD_BYTES as u32));

    let mut group = c.benchmark_group("append_single_writer");
    group.throughput(Throughput::Elements(1));
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(3));
    group.warm_up_time(Duration::from_secs(1));

    let wal = rt.block_on(open_wal(&tmp.join("single-wal")));
    group.bench_function("wal_append", |b| {
        b.to_async(rt).iter(|| {
            let (wal, payload) = (&wal, &payload);
            async move { wal.append(black_box(payload)).await.expect("append") }
        })
    });
    drop(wal);

    let mut raw = RawLog::create(&tmp.join("single-raw.log"));
    group.bench_function("raw_write_fdatasync_twin", |b| {
        b.iter(|| raw.append_durably(&frame))
    });
    group.finish();
}

/// `writers` tasks each append `RECORDS_PER_WRITER` records, one after another.
async fn append_concurrently(wal: &Arc<Wal>, payload: &Arc<Vec<u8>>, writers: usize) {
    let handles: Vec<_> = (0..writers)
        .map(|_| {
            let (wal, payload) = (Arc::clone(wal), Arc::clone(payload));
            tokio::spawn(async move {
                for _ in 0..RECORDS_PER_WRITER {
                    wal.append(&payload).await.expect("append");
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await.expect("appender");
    }
}

fn group_commit(c: &mut Criterion, rt: &Runtime, tmp: &Path) {
    let payload = Arc::new(payload());
    let frame = encode(&payload, 0, 0);

    let mut group = c.benchmark_group("group_commit");
    // Iterations take milliseconds to tens of milliseconds (one sync per round of appenders):
    // flat sampling keeps the run inside its time budget.
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(3));
    group.warm_up_time(Duration::from_secs(1));

    // The twin: no batching, one record per sync (what N appenders would get without group
    // commit).
    group.throughput(Throughput::Elements(RECORDS_PER_WRITER as u64));
    let mut raw = RawLog::create(&tmp.join("group-raw.log"));
    group.bench_function("raw_write_fdatasync_twin", |b| {
        b.iter(|| {
            for _ in 0..RECORDS_PER_WRITER {
                raw.append_durably(&frame);
            }
        })
    });

    // Each N beside the ceiling for group commit with N appenders: N framed records in one
    // write and one sync, run right after it so both see the same disk.
    for writers in WRITERS {
        group.throughput(Throughput::Elements((writers * RECORDS_PER_WRITER) as u64));
        let wal = Arc::new(rt.block_on(open_wal(&tmp.join(format!("group-wal-{writers}")))));
        group.bench_with_input(
            BenchmarkId::new("wal_append", writers),
            &writers,
            |b, &writers| {
                b.to_async(rt)
                    .iter(|| append_concurrently(&wal, &payload, writers))
            },
        );
        drop(wal);

        let batch = frame.repeat(writers);
        let mut raw = RawLog::create(&tmp.join(format!("group-raw-batched-{writers}.log")));
        group.bench_with_input(
            BenchmarkId::new("raw_batched_write_fdatasync", writers),
            &batch,
            |b, batch| {
                b.iter(|| {
                    for _ in 0..RECORDS_PER_WRITER {
                        raw.append_durably(batch);
                    }
                })
            },
        );
    }
    group.finish();
}

/// Writes ~`RECOVERY_LOG_BYTES` of records through the WAL (many appenders, so few syncs) and
/// returns the record count.
async fn write_recovery_log(dir: &Path) -> u64 {
    let frame_bytes = framed_bytes(PAYLOAD_BYTES as u32);
    let records = RECOVERY_LOG_BYTES / frame_bytes;
    let wal = Arc::new(open_wal(dir).await);
    let payload = Arc::new(payload());
    let per_writer = records.div_ceil(RECOVERY_SETUP_WRITERS as u64);
    let handles: Vec<_> = (0..RECOVERY_SETUP_WRITERS as u64)
        .map(|w| {
            let (wal, payload) = (Arc::clone(&wal), Arc::clone(&payload));
            let mine = per_writer.min(records.saturating_sub(w * per_writer));
            tokio::spawn(async move {
                for _ in 0..mine {
                    wal.append(&payload).await.expect("append");
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await.expect("appender");
    }
    assert_eq!(wal.durable_end(), records * frame_bytes);
    records
}

/// What recovery must compute for each record of a segment salted with `salt`, on bytes already
/// in memory: parse the v3 header `[len:4][crc:4][offset:8][digest:32]`, check the offset, the
/// crc32c over length, offset, salt, digest and payload, and blake3 over salt, offset, length and
/// payload.
fn verify_all(log: &[u8], salt: u64) -> u64 {
    let mut at = 0usize;
    let mut records = 0u64;
    while at + RECORD_HEADER_BYTES <= log.len() {
        let header = &log[at..at + RECORD_HEADER_BYTES];
        let len = u32::from_le_bytes(header[0..4].try_into().expect("4 bytes"));
        let crc = u32::from_le_bytes(header[4..8].try_into().expect("4 bytes"));
        let offset = &header[8..16];
        let digest = &header[16..RECORD_HEADER_BYTES];
        assert_eq!(
            u64::from_le_bytes(offset.try_into().expect("8 bytes")),
            at as u64
        );
        let payload = &log[at + RECORD_HEADER_BYTES..at + RECORD_HEADER_BYTES + len as usize];
        let computed = crc32c::crc32c_append(crc32c::crc32c(&header[0..4]), offset);
        let computed = crc32c::crc32c_append(computed, &salt.to_le_bytes());
        let computed = crc32c::crc32c_append(computed, digest);
        let computed = crc32c::crc32c_append(computed, payload);
        assert_eq!(computed, crc, "crc32c at {at}");
        let mut hasher = blake3::Hasher::new();
        hasher.update(&salt.to_le_bytes());
        hasher.update(offset);
        hasher.update(&header[0..4]);
        hasher.update(payload);
        assert!(hasher.finalize().as_bytes() == digest, "blake3 at {at}");
        records += 1;
        at += framed_bytes(len) as usize;
    }
    records
}

/// The first segment in `dir` (its name carries the salt its frames are bound to).
fn first_segment(dir: &Path) -> SegmentName {
    std::fs::read_dir(dir)
        .expect("list WAL directory")
        .filter_map(|e| parse_segment_name(e.ok()?.file_name().to_str()?))
        .min()
        .expect("a segment")
}

fn recovery_scan(c: &mut Criterion, rt: &Runtime, tmp: &Path) {
    let dir = tmp.join("recovery-wal");
    let records = rt.block_on(write_recovery_log(&dir));
    let log_bytes = records * framed_bytes(PAYLOAD_BYTES as u32);

    let mut group = c.benchmark_group("recovery_scan");
    group.throughput(Throughput::Bytes(log_bytes));
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(3));
    group.warm_up_time(Duration::from_secs(1));

    group.bench_function("wal_open_recover", |b| {
        b.to_async(rt).iter(|| {
            let dir = &dir;
            async move {
                let wal = open_wal(dir).await;
                let report = wal.recovery_report();
                assert_eq!(report.records_valid, records);
                assert_eq!(report.end_offset, log_bytes);
                assert!(report.torn_tail.is_none() && report.quarantined_new.is_empty());
                // Dropping the writer releases the directory lock for the next iteration.
                drop(wal);
            }
        })
    });

    // The twin: the same bytes, already in memory, hashed exactly as recovery must.
    let first = first_segment(&dir);
    let log = std::fs::read(first.path(&dir)).expect("read segment");
    assert_eq!(log.len() as u64, log_bytes, "the log is one segment");
    group.bench_function("crc32c_blake3_twin", |b| {
        b.iter(|| assert_eq!(verify_all(black_box(&log), first.salt), records))
    });

    // The same with the read recovery cannot skip either: the segment from the page cache into a
    // reused buffer, then the hashing. The gap between this row and the one above is the cost of
    // the bytes, the rest is the WAL's own.
    let segment = File::open(first.path(&dir)).expect("open segment");
    let mut buffer = vec![0u8; log.len()];
    group.bench_function("pread_crc32c_blake3_twin", |b| {
        b.iter(|| {
            segment.read_exact_at(&mut buffer, 0).expect("read segment");
            assert_eq!(verify_all(black_box(&buffer), first.salt), records)
        })
    });
    group.finish();
}

fn bench(c: &mut Criterion) {
    let rt = runtime();
    let tmp = tempfile::tempdir().expect("tempdir");
    append_single_writer(c, &rt, tmp.path());
    group_commit(c, &rt, tmp.path());
    recovery_scan(c, &rt, tmp.path());
}

criterion_group!(benches, bench);
criterion_main!(benches);
