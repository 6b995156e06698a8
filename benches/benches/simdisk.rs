//! SimDisk 4 KiB write+sync throughput beside its physical-limit twin: a plain memcpy of the same
//! bytes into the same-sized buffer. The ratio says how much the simulated disk's bookkeeping
//! (durable/live copies, pending list, trace hashing, fault checks) costs per block.

use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use stemedb::io::{OpenMode, Vfs};
use stemedb_faults::SimDisk;

const BLOCK_BYTES: usize = 4096;
/// Blocks are written round-robin over this many slots (a 1 MiB file), like a log that wraps.
const SLOTS: usize = 256;

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let block = vec![0x5au8; BLOCK_BYTES];
    let mut group = c.benchmark_group("write_sync_4k");
    group.throughput(Throughput::Bytes(BLOCK_BYTES as u64));

    let disk = SimDisk::new(1);
    let file = rt.block_on(async {
        disk.create_dir_all(Path::new("/bench")).await.unwrap();
        disk.open(Path::new("/bench/f"), OpenMode::Create)
            .await
            .unwrap()
    });
    let mut slot = 0usize;
    group.bench_function("simdisk_write_sync", |b| {
        b.to_async(&rt).iter(|| {
            slot = (slot + 1) % SLOTS;
            let (file, block) = (&file, &block);
            async move {
                file.write_at((slot * BLOCK_BYTES) as u64, block)
                    .await
                    .unwrap();
                file.sync_data().await.unwrap();
            }
        })
    });

    let mut buffer = vec![0u8; SLOTS * BLOCK_BYTES];
    let mut slot = 0usize;
    group.bench_function("memcpy_twin", |b| {
        b.iter(|| {
            slot = (slot + 1) % SLOTS;
            let at = slot * BLOCK_BYTES;
            buffer[at..at + BLOCK_BYTES].copy_from_slice(black_box(&block));
            black_box(&buffer[at]);
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
