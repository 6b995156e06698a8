//! The engine's side of a [`SimDisk`]: the `Vfs`, `VfsFile` and `VfsLock` implementations. Every
//! call goes through `SimDisk::call` (counting, faults, power, latency) and then `DiskState`.

use super::*;

/// An open file on a [`SimDisk`].
struct SimFile {
    disk: SimDisk,
    ino: Ino,
    epoch: u64,
    writable: bool,
    path: PathBuf,
}

impl std::fmt::Debug for SimFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SimFile({}, ino {})", self.path.display(), self.ino)
    }
}

fn read_only(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!("{}: opened read-only", path.display()),
    )
}

#[async_trait]
impl VfsFile for SimFile {
    async fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let (ino, len, observer) = (self.ino, buf.len() as u64, self.disk.observer);
        self.disk
            .call(OpClass::Read, Some(self.epoch), |s| {
                let r = s.read(ino, offset, buf, observer);
                if !observer {
                    s.record_result("read", ino, offset, len, &r);
                }
                r
            })
            .await
    }

    async fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        if !self.writable {
            return Err(read_only(&self.path));
        }
        let ino = self.ino;
        self.disk
            .call(OpClass::Write, Some(self.epoch), |s| {
                let r = s.write(ino, offset, data);
                s.record_result("write", ino, offset, data.len() as u64, &r);
                r
            })
            .await
    }

    async fn append(&self, data: &[u8]) -> io::Result<u64> {
        if !self.writable {
            return Err(read_only(&self.path));
        }
        let ino = self.ino;
        self.disk
            .call(OpClass::Write, Some(self.epoch), |s| {
                let offset = s.inode_mut(ino)?.live.len() as u64;
                let r = s.write(ino, offset, data).map(|()| offset);
                s.record_result("append", ino, offset, data.len() as u64, &r);
                r
            })
            .await
    }

    async fn sync_data(&self) -> io::Result<()> {
        self.disk.count_sync_call();
        let ino = self.ino;
        self.disk
            .call(OpClass::Sync, Some(self.epoch), |s| {
                let r = s.sync_data(ino);
                s.record_result("sync_data", ino, 0, 0, &r);
                r
            })
            .await
    }

    async fn set_len(&self, len: u64) -> io::Result<()> {
        if !self.writable {
            return Err(read_only(&self.path));
        }
        let ino = self.ino;
        self.disk
            .call(OpClass::Write, Some(self.epoch), |s| {
                let r = s.set_len(ino, len);
                s.record_result("set_len", ino, len, 0, &r);
                r
            })
            .await
    }

    async fn len(&self) -> io::Result<u64> {
        let ino = self.ino;
        self.disk
            .call(OpClass::Metadata, Some(self.epoch), |s| {
                Ok(s.inode_mut(ino)?.live.len() as u64)
            })
            .await
    }

    async fn evict_cache(&self) -> io::Result<()> {
        let ino = self.ino;
        self.disk
            .call(OpClass::Metadata, Some(self.epoch), |s| {
                let r = s.evict_cache(ino);
                s.record_result("evict_cache", ino, 0, 0, &r);
                r
            })
            .await
    }
}

/// A lock held on a [`SimDisk`]; a crash releases it (the holder died).
#[derive(Debug)]
struct SimLock {
    disk: SimDisk,
    path: PathBuf,
    token: u64,
}

impl VfsLock for SimLock {}

impl Drop for SimLock {
    fn drop(&mut self) {
        let mut s = self.disk.state();
        if s.locks.get(&self.path) == Some(&self.token) {
            s.locks.remove(&self.path);
        }
    }
}

fn observer_refuses(disk: &SimDisk) -> io::Result<()> {
    if disk.observer {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "an observer view of the simulated disk cannot change it",
        ));
    }
    Ok(())
}

fn path_tag(p: &Path) -> Vec<u8> {
    p.to_string_lossy().as_bytes().to_vec()
}

#[async_trait]
impl Vfs for SimDisk {
    async fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Box<dyn VfsFile>> {
        if mode != OpenMode::Read {
            observer_refuses(self)?;
        }
        let (ino, epoch) = self
            .call(OpClass::Metadata, None, |s| {
                s.take_metadata_eio(MetadataOp::Open, path)?;
                let r = s.open(path, mode);
                s.record(&[b"open", &path_tag(path)]);
                r.map(|ino| (ino, s.epoch))
            })
            .await?;
        Ok(Box::new(SimFile {
            disk: self.clone(),
            ino,
            epoch,
            writable: mode.writable(),
            path: path.to_path_buf(),
        }))
    }

    async fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        observer_refuses(self)?;
        self.call(OpClass::Metadata, None, |s| {
            s.take_metadata_eio(MetadataOp::CreateDir, path)?;
            let r = s.create_dir_all(path);
            s.record(&[b"mkdir", &path_tag(path)]);
            r
        })
        .await
    }

    async fn sync_dir(&self, path: &Path) -> io::Result<()> {
        self.call(OpClass::Sync, None, |s| {
            let r = s
                .take_metadata_eio(MetadataOp::SyncDir, path)
                .and_then(|()| s.sync_dir(path));
            s.record_result("sync_dir", 0, 0, 0, &r);
            r
        })
        .await
    }

    async fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        observer_refuses(self)?;
        self.call(OpClass::Metadata, None, |s| {
            s.take_metadata_eio(MetadataOp::Rename, from)?;
            let r = s.rename(from, to);
            s.record(&[b"rename", &path_tag(from), &path_tag(to)]);
            r
        })
        .await
    }

    async fn remove(&self, path: &Path) -> io::Result<()> {
        observer_refuses(self)?;
        self.call(OpClass::Metadata, None, |s| {
            s.take_metadata_eio(MetadataOp::Remove, path)?;
            let r = s.remove(path);
            s.record(&[b"remove", &path_tag(path)]);
            r
        })
        .await
    }

    async fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        self.call(OpClass::Metadata, None, |s| {
            s.take_metadata_eio(MetadataOp::List, dir)?;
            s.list(dir)
        })
        .await
    }

    async fn lock(&self, path: &Path) -> io::Result<Box<dyn VfsLock>> {
        observer_refuses(self)?;
        let token = self
            .call(OpClass::Metadata, None, |s| {
                s.take_metadata_eio(MetadataOp::Lock, path)?;
                s.open(path, OpenMode::Create)?;
                if s.locks.contains_key(path) {
                    return Err(io::Error::new(
                        io::ErrorKind::WouldBlock,
                        format!("lock {}: held by another writer", path.display()),
                    ));
                }
                let token = s.next_lock_token;
                s.next_lock_token += 1;
                s.locks.insert(path.to_path_buf(), token);
                Ok(token)
            })
            .await?;
        Ok(Box::new(SimLock {
            disk: self.clone(),
            path: path.to_path_buf(),
            token,
        }))
    }
}
