//! The simulated disk's state: per file durable and live contents plus pending (unsynced)
//! operations, per directory durable and live entries plus pending entry operations.
//!
//! Invariant: for every inode, `live` equals `durable` with `pending` applied in order, EXCEPT
//! after an fsync EIO: the operations it covered leave `pending` (the pages are clean) while
//! `durable` received only what the fault's spec let persist, and `live` keeps the data (the page
//! cache still holds it, as on Linux). That divergence is the point.
//!
//! A directory exists live while it is a key of `DiskState::dirs`; it exists durably while its
//! name is in its parent's `durable_subdirs` and the parent exists durably (the roots always do).

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};

/// Bytes per sector: the unit a crash can tear a write at, and of latent sector errors.
pub const SECTOR_BYTES: u64 = 512;

pub(crate) type Ino = u64;

#[derive(Clone, Debug)]
pub(crate) enum PendingOp {
    Write { offset: u64, data: Vec<u8> },
    SetLen(u64),
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Inode {
    pub durable: Vec<u8>,
    pub live: Vec<u8>,
    pub pending: Vec<PendingOp>,
    /// Latent sector errors: sector numbers whose reads fail.
    pub bad_sectors: BTreeSet<u64>,
}

#[derive(Clone, Debug)]
pub(crate) enum DirOp {
    Link {
        name: String,
        ino: Ino,
    },
    Unlink {
        name: String,
    },
    Rename {
        from: String,
        to: String,
        ino: Ino,
    },
    /// A subdirectory was created here.
    Mkdir {
        name: String,
    },
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Dir {
    pub durable: BTreeMap<String, Ino>,
    pub live: BTreeMap<String, Ino>,
    pub pending: Vec<DirOp>,
    /// Subdirectories whose entries here are durable.
    pub durable_subdirs: BTreeSet<String>,
}

impl Dir {
    /// Makes one entry operation durable.
    pub fn apply_durably(&mut self, op: &DirOp) {
        match op {
            DirOp::Link { name, ino } => {
                self.durable.insert(name.clone(), *ino);
            }
            DirOp::Unlink { name } => {
                self.durable.remove(name);
            }
            DirOp::Rename { from, to, ino } => {
                self.durable.remove(from);
                self.durable.insert(to.clone(), *ino);
            }
            DirOp::Mkdir { name } => {
                self.durable_subdirs.insert(name.clone());
            }
        }
    }
}

pub(crate) fn apply_write(buf: &mut Vec<u8>, offset: u64, data: &[u8]) {
    let start = offset as usize;
    let end = start + data.len();
    if buf.len() < end {
        buf.resize(end, 0);
    }
    buf[start..end].copy_from_slice(data);
}

pub(crate) fn apply_pending(buf: &mut Vec<u8>, op: &PendingOp) {
    match op {
        PendingOp::Write { offset, data } => apply_write(buf, *offset, data),
        PendingOp::SetLen(len) => buf.resize(*len as usize, 0),
    }
}

/// Splits a path into its directory and file name.
pub(crate) fn split(path: &Path) -> io::Result<(PathBuf, String)> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("not a file path: {}", path.display()),
            )
        })?
        .to_owned();
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    Ok((dir, name))
}

pub(crate) fn not_found(what: &str, path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{what} {}: no such file or directory", path.display()),
    )
}

/// EIO with its raw errno, as a real disk reports a media or transport failure.
pub(crate) fn eio() -> io::Error {
    io::Error::from_raw_os_error(EIO_ERRNO)
}

pub(crate) const EIO_ERRNO: i32 = 5;

/// Sectors `[first, last]` covered by `len > 0` bytes at `offset`.
pub(crate) fn sectors(offset: u64, len: u64) -> (u64, u64) {
    (offset / SECTOR_BYTES, (offset + len - 1) / SECTOR_BYTES)
}
