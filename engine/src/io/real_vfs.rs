//! `Vfs` on the real file system (std::fs).
//!
//! Calls are plain blocking syscalls made on the calling task. That is deliberate: the WAL has one
//! syncing leader at a time (group commit), and a hop to a blocking pool per call would add more
//! latency than the syscall itself on a fast disk. Run the engine on a multi-thread runtime (or its
//! own thread) so a slow fsync does not stall unrelated tasks.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use async_trait::async_trait;

use super::{OpenMode, Vfs, VfsFile, VfsLock};

/// The real file system.
#[derive(Debug, Clone, Default)]
pub struct RealVfs;

impl RealVfs {
    pub fn new() -> Self {
        Self
    }
}

#[derive(Debug)]
struct RealFile {
    file: File,
    path: PathBuf,
    /// Serialises appends on this handle: "find the end, write there" must not interleave.
    append_lock: Mutex<()>,
}

#[derive(Debug)]
struct RealLock {
    // Held only to keep the flock; closing the descriptor releases it.
    _file: File,
}

impl VfsLock for RealLock {}

fn with_path(err: io::Error, what: &str, path: &Path) -> io::Error {
    // Keep the kind and raw errno (callers match on StorageFull / WouldBlock); add context.
    match err.raw_os_error() {
        Some(code) => {
            let base = io::Error::from_raw_os_error(code);
            io::Error::new(base.kind(), format!("{what} {}: {base}", path.display()))
        }
        None => io::Error::new(err.kind(), format!("{what} {}: {err}", path.display())),
    }
}

#[async_trait]
impl Vfs for RealVfs {
    async fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Box<dyn VfsFile>> {
        let mut opts = OpenOptions::new();
        opts.read(true).write(mode.writable());
        match mode {
            OpenMode::Read | OpenMode::Write => {}
            OpenMode::Create => {
                opts.create(true);
            }
            OpenMode::CreateNew => {
                opts.create_new(true);
            }
        }
        let file = opts.open(path).map_err(|e| with_path(e, "open", path))?;
        Ok(Box::new(RealFile {
            file,
            path: path.to_owned(),
            append_lock: Mutex::new(()),
        }))
    }

    async fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        fs::create_dir_all(path).map_err(|e| with_path(e, "create_dir_all", path))
    }

    async fn sync_dir(&self, path: &Path) -> io::Result<()> {
        // Linux makes directory entries durable by fsyncing the directory itself.
        File::open(path)
            .and_then(|dir| dir.sync_all())
            .map_err(|e| with_path(e, "sync_dir", path))
    }

    async fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to).map_err(|e| with_path(e, "rename", from))
    }

    async fn remove(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path).map_err(|e| with_path(e, "remove", path))
    }

    async fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(dir).map_err(|e| with_path(e, "list", dir))? {
            let entry = entry.map_err(|e| with_path(e, "list", dir))?;
            if entry.file_type()?.is_file() {
                names.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    async fn lock(&self, path: &Path) -> io::Result<Box<dyn VfsLock>> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| with_path(e, "lock", path))?;
        match file.try_lock() {
            Ok(()) => Ok(Box::new(RealLock { _file: file })),
            Err(TryLockError::WouldBlock) => Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                format!("lock {}: held by another writer", path.display()),
            )),
            Err(TryLockError::Error(e)) => Err(with_path(e, "lock", path)),
        }
    }
}

#[async_trait]
impl VfsFile for RealFile {
    async fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        while filled < buf.len() {
            match self
                .file
                .read_at(&mut buf[filled..], offset + filled as u64)
            {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(with_path(e, "read", &self.path)),
            }
        }
        Ok(filled)
    }

    async fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.file
            .write_all_at(data, offset)
            .map_err(|e| with_path(e, "write", &self.path))
    }

    async fn append(&self, data: &[u8]) -> io::Result<u64> {
        let _guard = self
            .append_lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let offset = self
            .file
            .metadata()
            .map_err(|e| with_path(e, "append", &self.path))?
            .len();
        self.file
            .write_all_at(data, offset)
            .map_err(|e| with_path(e, "append", &self.path))?;
        Ok(offset)
    }

    async fn sync_data(&self) -> io::Result<()> {
        self.file
            .sync_data()
            .map_err(|e| with_path(e, "sync_data", &self.path))
    }

    async fn set_len(&self, len: u64) -> io::Result<()> {
        self.file
            .set_len(len)
            .map_err(|e| with_path(e, "set_len", &self.path))
    }

    async fn evict_cache(&self) -> io::Result<()> {
        rustix::fs::fadvise(&self.file, 0, None, rustix::fs::Advice::DontNeed)
            .map_err(|e| with_path(io::Error::from(e), "fadvise", &self.path))
    }

    async fn len(&self) -> io::Result<u64> {
        Ok(self
            .file
            .metadata()
            .map_err(|e| with_path(e, "len", &self.path))?
            .len())
    }
}
