//! Must-show 3 on the simulated disk: a torn header claiming an absurd length (3 GiB) at the end
//! of the log is a torn tail, and neither a reader nor recovery ever asks for a buffer anywhere
//! near that size.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use stemedb::io::{OpenMode, Vfs, VfsFile, VfsLock};
use stemedb::wal::{
    segment_files, ReadOutcome, RecordDefect, Wal, WalOptions, WalReader, RECORD_HEADER_BYTES,
    RECORD_PAYLOAD_BYTES_MAX,
};
use stemedb_faults::SimDisk;

const DIR: &str = "/wal";

fn dir() -> &'static Path {
    Path::new(DIR)
}

/// The path of the first segment (its name carries the salt drawn when it was created).
async fn first_segment(vfs: &dyn Vfs) -> PathBuf {
    segment_files(vfs, dir()).await.unwrap()[0].1.clone()
}

async fn record_count(vfs: &Arc<dyn Vfs>) -> usize {
    let mut reader = WalReader::open(Arc::clone(vfs), dir()).await.unwrap();
    let (mut offset, mut count) = (0, 0);
    while let ReadOutcome::Record(record) = reader.read_at(offset).await.unwrap() {
        offset = record.next_offset;
        count += 1;
    }
    count
}

/// Records the largest read buffer the WAL ever asks for: a stand-in for its largest allocation,
/// since every buffer it allocates for record bytes is read into.
#[derive(Debug)]
struct ReadSizeProbe {
    inner: Arc<dyn Vfs>,
    max_read_bytes: Arc<AtomicUsize>,
}

#[derive(Debug)]
struct ProbedFile {
    inner: Box<dyn VfsFile>,
    max_read_bytes: Arc<AtomicUsize>,
}

#[async_trait]
impl Vfs for ReadSizeProbe {
    async fn open(&self, path: &Path, mode: OpenMode) -> std::io::Result<Box<dyn VfsFile>> {
        Ok(Box::new(ProbedFile {
            inner: self.inner.open(path, mode).await?,
            max_read_bytes: Arc::clone(&self.max_read_bytes),
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
impl VfsFile for ProbedFile {
    async fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<usize> {
        self.max_read_bytes.fetch_max(buf.len(), Ordering::Relaxed);
        self.inner.read_at(offset, buf).await
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

#[tokio::test]
async fn a_torn_header_with_an_absurd_length_is_a_torn_tail_with_no_large_allocation() {
    let vfs: Arc<dyn Vfs> = Arc::new(SimDisk::new(11));
    let wal = Wal::open(Arc::clone(&vfs), dir(), WalOptions::default())
        .await
        .unwrap();
    for i in 0..6u8 {
        wal.append(&[i; 100]).await.unwrap();
    }
    let end = wal.durable_end();
    drop(wal);
    // A header whose length field says 3 GiB, then a little garbage, all synced.
    let mut torn = vec![0xc3u8; RECORD_HEADER_BYTES + 100];
    torn[..4].copy_from_slice(&(3u32 << 30).to_le_bytes());
    let file = vfs
        .open(&first_segment(vfs.as_ref()).await, OpenMode::Write)
        .await
        .unwrap();
    file.write_at(end, &torn).await.unwrap();
    file.sync_data().await.unwrap();
    drop(file);

    let max_read_bytes = Arc::new(AtomicUsize::new(0));
    let probed: Arc<dyn Vfs> = Arc::new(ReadSizeProbe {
        inner: Arc::clone(&vfs),
        max_read_bytes: Arc::clone(&max_read_bytes),
    });
    // Readers before recovery: the end of the log, not an error and not a 3 GiB buffer.
    let mut reader = WalReader::open(Arc::clone(&probed), dir()).await.unwrap();
    assert_eq!(reader.read_at(end).await.unwrap(), ReadOutcome::EndOfLog);

    let wal = Wal::open(Arc::clone(&probed), dir(), WalOptions::default())
        .await
        .unwrap();
    let tail = wal
        .recovery_report()
        .torn_tail
        .clone()
        .expect("a torn tail");
    assert_eq!(tail.offset, end);
    assert_eq!(tail.bytes_truncated, torn.len() as u64);
    assert!(
        matches!(tail.defect, Some(RecordDefect::LengthTooLarge { len, .. }) if len == 3 << 30)
    );
    assert!(wal.recovery_report().quarantined_new.is_empty());
    let largest = max_read_bytes.load(Ordering::Relaxed);
    assert!(
        largest <= 2 * RECORD_PAYLOAD_BYTES_MAX as usize,
        "the WAL read {largest} bytes at once"
    );
    assert_eq!(wal.append(b"after").await.unwrap(), end);
    assert_eq!(record_count(&vfs).await, 7);
}
