//! Regression: a WAL opened under directories that did not exist. `Wal::open` created the whole
//! path but synced only the WAL directory's parent, so the entries of the other levels it created
//! were not durable: a power loss could take `a/b` (and with it the acknowledged log under it)
//! although every record in it had been synced.
//!
//! Must hold: every level `open` created has its entry made durable (its parent synced) before
//! anything in the WAL is created, and reopening an existing WAL still syncs the WAL directory's
//! parent (a process that created it may have crashed before its sync).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use stemedb::io::{OpenMode, Vfs, VfsFile, VfsLock};
use stemedb::wal::{Wal, WalOptions};
use stemedb_faults::{CrashSpec, SimDisk};

/// What the WAL did to the file system, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Event {
    SyncDir(PathBuf),
    Create(PathBuf),
}

#[derive(Debug)]
struct Recording {
    inner: SimDisk,
    events: Arc<Mutex<Vec<Event>>>,
}

impl Recording {
    fn push(&self, event: Event) {
        self.events.lock().unwrap().push(event);
    }
}

#[async_trait]
impl Vfs for Recording {
    async fn open(&self, path: &Path, mode: OpenMode) -> std::io::Result<Box<dyn VfsFile>> {
        if mode.creates() {
            self.push(Event::Create(path.to_owned()));
        }
        self.inner.open(path, mode).await
    }
    async fn create_dir_all(&self, path: &Path) -> std::io::Result<()> {
        self.inner.create_dir_all(path).await
    }
    async fn sync_dir(&self, path: &Path) -> std::io::Result<()> {
        self.push(Event::SyncDir(path.to_owned()));
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
        self.push(Event::Create(path.to_owned()));
        self.inner.lock(path).await
    }
}

fn recording(disk: &SimDisk) -> (Arc<dyn Vfs>, Arc<Mutex<Vec<Event>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let vfs: Arc<dyn Vfs> = Arc::new(Recording {
        inner: disk.clone(),
        events: Arc::clone(&events),
    });
    (vfs, events)
}

fn sync(path: &str) -> Event {
    Event::SyncDir(PathBuf::from(path))
}

#[tokio::test(start_paused = true)]
async fn every_created_level_is_synced_before_anything_is_created_in_it() {
    let disk = SimDisk::new(51);
    let (vfs, events) = recording(&disk);
    let wal = Wal::open(vfs, Path::new("/a/b/c/wal"), WalOptions::default())
        .await
        .unwrap();
    let offset = wal.append(b"durable").await.unwrap();
    drop(wal);
    let events = events.lock().unwrap().clone();
    let first_create = events
        .iter()
        .position(|e| matches!(e, Event::Create(_)))
        .expect("the WAL created files");
    assert_eq!(
        events[..first_create],
        [sync("/"), sync("/a"), sync("/a/b"), sync("/a/b/c")],
        "every created level's parent, shallowest first, before the first file: {events:?}"
    );

    // Reopening an existing WAL creates no level but still syncs the WAL directory's parent.
    let (vfs, events) = recording(&disk);
    let wal = Wal::open(vfs, Path::new("/a/b/c/wal"), WalOptions::default())
        .await
        .unwrap();
    drop(wal);
    let events = events.lock().unwrap().clone();
    assert_eq!(events.first(), Some(&sync("/a/b/c")), "{events:?}");
    assert!(
        !events.contains(&sync("/a/b")),
        "no level was created: {events:?}"
    );

    // And the record survives a power loss that drops everything pending.
    disk.crash(&CrashSpec::drop_all());
    let vfs: Arc<dyn Vfs> = Arc::new(disk.clone());
    let wal = Wal::open(vfs, Path::new("/a/b/c/wal"), WalOptions::default())
        .await
        .unwrap();
    assert_eq!(wal.recovery_report().records_valid, 1);
    assert!(wal.durable_end() > offset);
}

#[tokio::test(start_paused = true)]
async fn only_missing_levels_are_synced_when_part_of_the_path_exists() {
    let disk = SimDisk::new(52);
    disk.create_dir_all(Path::new("/data")).await.unwrap();
    let (vfs, events) = recording(&disk);
    let wal = Wal::open(vfs, Path::new("/data/db/wal"), WalOptions::default())
        .await
        .unwrap();
    drop(wal);
    let events = events.lock().unwrap().clone();
    let first_create = events
        .iter()
        .position(|e| matches!(e, Event::Create(_)))
        .unwrap();
    assert_eq!(
        events[..first_create],
        [sync("/data"), sync("/data/db")],
        "{events:?}"
    );
}
