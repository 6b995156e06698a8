//! The file-system seam.
//!
//! Durability contract (what the engine may rely on, and what `SimDisk` enforces adversarially):
//! - A write is visible to reads at once but durable only after `sync_data` on that file returns
//!   `Ok`. Until then a crash may keep it, drop it, or tear it at sector granularity.
//! - A created, renamed or removed directory entry is durable only after `sync_dir` on the parent
//!   directory returns `Ok`. Until then a crash may lose it (a synced file can vanish).
//! - A failed `sync_data` may have dropped the dirty data it covered; a later successful sync does
//!   not bring it back. Never retry a failed sync and assume success.
//! - Running out of space is `ErrorKind::StorageFull` (raw errno 28); a write may be partly done.

use std::fmt;
use std::io;
use std::path::Path;

use async_trait::async_trait;

/// errno for "no space left on device" on Linux and the BSDs.
pub const ENOSPC_ERRNO: i32 = 28;

/// The error every `Vfs` returns when the device is full: kind `StorageFull`, raw errno 28.
pub fn storage_full_error() -> io::Error {
    io::Error::from_raw_os_error(ENOSPC_ERRNO)
}

/// Whether an error means the device is full (by kind, or by raw errno for older std mappings).
pub fn is_storage_full(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::StorageFull || err.raw_os_error() == Some(ENOSPC_ERRNO)
}

/// How a file is opened. Every mode but `Read` opens for reading and writing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenMode {
    /// Existing file, read only.
    Read,
    /// Existing file, read and write.
    Write,
    /// Open, creating it empty if missing.
    Create,
    /// Create; fail with `AlreadyExists` if it exists.
    CreateNew,
}

impl OpenMode {
    pub fn creates(self) -> bool {
        matches!(self, OpenMode::Create | OpenMode::CreateNew)
    }

    pub fn writable(self) -> bool {
        !matches!(self, OpenMode::Read)
    }
}

/// A file system: the real one or a simulated one.
#[async_trait]
pub trait Vfs: Send + Sync + fmt::Debug + 'static {
    /// Opens `path`. A created file's directory entry is not durable until `sync_dir(parent)`.
    async fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Box<dyn VfsFile>>;
    /// Creates a directory and its parents (no-op if it exists).
    async fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Makes the directory's entries (creates, renames, removes) durable.
    async fn sync_dir(&self, path: &Path) -> io::Result<()>;
    /// Atomically replaces `to` with `from` (both in the same directory).
    async fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes a file.
    async fn remove(&self, path: &Path) -> io::Result<()>;
    /// The names of the files in `dir`, sorted bytewise (never in hash order).
    async fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// Takes an exclusive lock on `path` (created if missing). Fails with `WouldBlock` while anyone
    /// else, in this process or another, holds it. Released when the guard drops.
    async fn lock(&self, path: &Path) -> io::Result<Box<dyn VfsLock>>;
}

/// An open file.
#[async_trait]
#[expect(
    clippy::len_without_is_empty,
    reason = "a length is one fallible call; an async is_empty would only wrap it"
)]
pub trait VfsFile: Send + Sync + fmt::Debug {
    /// Reads up to `buf.len()` bytes at `offset`; fewer only at end of file.
    async fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize>;
    /// Writes all of `data` at `offset`, extending the file (with zeros before it) if needed.
    /// On error a prefix of `data` may have been written.
    async fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()>;
    /// Writes all of `data` at the end of the file and returns the offset it was written at.
    async fn append(&self, data: &[u8]) -> io::Result<u64>;
    /// Makes this file's data and length durable (fdatasync).
    async fn sync_data(&self) -> io::Result<()>;
    /// Truncates or extends (with zeros) the file.
    async fn set_len(&self, len: u64) -> io::Result<()>;
    /// The current (not necessarily durable) length.
    async fn len(&self) -> io::Result<u64>;
    /// Drops this file's clean pages from the page cache, so later reads come from the medium
    /// (`posix_fadvise(DONTNEED)`). Dirty pages stay: sync first to drop everything. Why it
    /// exists: a failed fsync marks the pages it covered clean whether or not they reached the
    /// disk, and they stay readable until evicted, so a process that restarts after one reads
    /// bytes the disk does not hold and no later sync will write them.
    async fn evict_cache(&self) -> io::Result<()>;
}

/// Holds an exclusive lock until dropped.
pub trait VfsLock: Send + Sync + fmt::Debug {}

impl<T: Vfs + ?Sized> VfsExt for T {}

/// Conveniences built only from the trait's own methods.
#[async_trait]
pub trait VfsExt: Vfs {
    /// Reads a whole file.
    async fn read_all(&self, path: &Path) -> io::Result<Vec<u8>> {
        let file = self.open(path, OpenMode::Read).await?;
        read_to_end(file.as_ref()).await
    }
}

/// Reads a whole open file from offset 0.
pub async fn read_to_end(file: &dyn VfsFile) -> io::Result<Vec<u8>> {
    let len = usize::try_from(file.len().await?)
        .map_err(|_| io::Error::new(io::ErrorKind::FileTooLarge, "file larger than memory"))?;
    let mut buf = vec![0u8; len];
    let mut filled = 0;
    while filled < len {
        let n = file.read_at(filled as u64, &mut buf[filled..]).await?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    buf.truncate(filled);
    Ok(buf)
}
