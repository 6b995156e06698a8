//! The disk's state machine: each Vfs operation on [`DiskState`], with the faults that strike it
//! (write EIO, capacity, misdirection, fsync EIO, read errors and corruption, bad sectors).

use super::*;

impl DiskState {
    /// The shared write path of write_at and append, with write EIO, capacity and misdirection.
    pub(super) fn write(&mut self, ino: Ino, offset: u64, data: &[u8]) -> io::Result<()> {
        self.stats.writes += 1;
        if !self.armed_write_eio.is_empty() && !data.is_empty() {
            // Before misdirection: the failed write is the one the fault was armed for, and a
            // misdirection armed too waits for the next write.
            let landed = self.armed_write_eio.remove(0);
            let len = landed_len(landed, offset, data.len() as u64);
            let cached = if len > 0 {
                self.land(ino, offset, &data[..len as usize])
            } else {
                Ok(())
            };
            self.stats.write_errors += 1;
            self.note_event(DiskEvent::IoError);
            self.log_fault(format!(
                "write_eio: inode {ino} write of {} bytes at {offset}: {len} bytes reached the page cache ({landed:?}){}",
                data.len(),
                if cached.is_err() { ", cut short by ENOSPC" } else { "" }
            ));
            return Err(eio());
        }
        let (mut target_ino, mut target_off) = (ino, offset);
        if !self.armed_misdirect.is_empty() && !data.is_empty() {
            let target = self.armed_misdirect.remove(0);
            (target_ino, target_off) = self.misdirect(ino, offset, &target);
            let len = data.len() as u64;
            self.note_damage(ino, offset, len, DamageCause::MisdirectedWriteAimed);
            self.note_damage(
                target_ino,
                target_off,
                len,
                DamageCause::MisdirectedWriteLanded,
            );
            // What it lands on may be synced records a reader has already read.
            if let Some(inode) = self.inodes.get(&target_ino) {
                let from = (target_off as usize).min(inode.durable.len());
                let to = (target_off as usize + data.len()).min(inode.durable.len());
                let was = inode.durable[from..to].to_vec();
                let now = data[..was.len()].to_vec();
                self.overwritten.push(Overwrite {
                    ino: target_ino,
                    offset: target_off,
                    was,
                    now,
                });
            }
        }
        self.land(target_ino, target_off, data)
    }

    /// Puts `data` in the page cache at `target_off` as a pending write, as far as the capacity
    /// allows (StorageFull past it).
    pub(super) fn land(&mut self, target_ino: Ino, target_off: u64, data: &[u8]) -> io::Result<()> {
        let live_len = self.inode_mut(target_ino)?.live.len() as u64;
        let (writable, full) = match self.headroom() {
            Some(room) => {
                // Overwrites inside the file cost nothing; only growth past its end is allocated.
                let n = (live_len + room)
                    .saturating_sub(target_off)
                    .min(data.len() as u64);
                (n as usize, n < data.len() as u64)
            }
            None => (data.len(), false),
        };
        let part = &data[..writable];
        if !part.is_empty() {
            let inode = self.inode_mut(target_ino)?;
            state::apply_write(&mut inode.live, target_off, part);
            inode.pending.push(PendingOp::Write {
                offset: target_off,
                data: part.to_vec(),
            });
            // A full overwrite of a bad sector remaps it, as a drive does.
            let (first, last) = state::sectors(target_off, part.len() as u64);
            let end = target_off + part.len() as u64;
            inode.bad_sectors.retain(|&sec| {
                !(sec >= first
                    && sec <= last
                    && sec * SECTOR_BYTES >= target_off
                    && (sec + 1) * SECTOR_BYTES <= end)
            });
            self.stats.bytes_written += part.len() as u64;
        }
        if full {
            self.stats.enospc_errors += 1;
            self.note_event(DiskEvent::StorageFull);
            return Err(storage_full_error());
        }
        Ok(())
    }

    pub(super) fn set_len(&mut self, ino: Ino, len: u64) -> io::Result<()> {
        let live_len = self.inode_mut(ino)?.live.len() as u64;
        if len > live_len && self.headroom().is_some_and(|room| len - live_len > room) {
            self.stats.enospc_errors += 1;
            self.note_event(DiskEvent::StorageFull);
            return Err(storage_full_error());
        }
        let inode = self.inode_mut(ino)?;
        inode.live.resize(len as usize, 0);
        inode.pending.push(PendingOp::SetLen(len));
        self.note_event(DiskEvent::SetLen);
        Ok(())
    }

    /// Clean pages are dropped and re-read from the medium: the live bytes become the durable
    /// bytes with the pending (dirty) operations applied on top. They differ only where a failed
    /// fsync marked pages clean that it never persisted.
    pub(super) fn evict_cache(&mut self, ino: Ino) -> io::Result<()> {
        let inode = self.inode_mut(ino)?;
        let mut live = inode.durable.clone();
        for op in &inode.pending {
            state::apply_pending(&mut live, op);
        }
        inode.live = live;
        Ok(())
    }

    pub(super) fn sync_data(&mut self, ino: Ino) -> io::Result<()> {
        if !self.armed_fsync_eio.is_empty() {
            let spec = self.armed_fsync_eio.remove(0);
            self.note_event(DiskEvent::IoError);
            return self.fail_sync(ino, spec);
        }
        let inode = self.inode_mut(ino)?;
        let mut written: Option<(u64, u64)> = None;
        for op in std::mem::take(&mut inode.pending) {
            if let PendingOp::Write { offset, data } = &op {
                let end = offset + data.len() as u64;
                written =
                    Some(written.map_or((*offset, end), |(s, e)| (s.min(*offset), e.max(end))));
            }
            state::apply_pending(&mut inode.durable, &op);
        }
        if let Some((start, end)) = written {
            self.recent_syncs.push_back((ino, start, end));
            if self.recent_syncs.len() > RECENT_SYNCS_MAX {
                self.recent_syncs.pop_front();
            }
        }
        self.stats.data_syncs += 1;
        if !std::mem::replace(&mut self.synced_this_process, true) {
            self.note_event(DiskEvent::FirstSync);
        }
        Ok(())
    }

    pub(super) fn read(
        &mut self,
        ino: Ino,
        offset: u64,
        buf: &mut [u8],
        observer: bool,
    ) -> io::Result<usize> {
        if !observer {
            self.stats.reads += 1;
        }
        if self.armed_read_eio > 0 && !observer {
            self.armed_read_eio -= 1;
            self.stats.read_errors += 1;
            self.log_fault(format!("read_eio: inode {ino} at {offset}"));
            return Err(eio());
        }
        let inode = self.inode_mut(ino)?;
        let len = inode.live.len() as u64;
        if offset >= len || buf.is_empty() {
            return Ok(0);
        }
        let n = (len - offset).min(buf.len() as u64);
        let (first, last) = state::sectors(offset, n);
        if !observer && inode.bad_sectors.range(first..=last).next().is_some() {
            self.stats.read_errors += 1;
            return Err(eio());
        }
        let start = offset as usize;
        buf[..n as usize].copy_from_slice(&inode.live[start..start + n as usize]);
        if !observer {
            self.corrupt_read(ino, offset, &mut buf[..n as usize]);
        }
        Ok(n as usize)
    }

    pub(super) fn lookup(&self, path: &Path) -> io::Result<(PathBuf, String, Option<Ino>)> {
        let (dir, name) = split(path)?;
        let entries = self.dirs.get(&dir).ok_or_else(|| not_found("open", path))?;
        let ino = entries.live.get(&name).copied();
        Ok((dir, name, ino))
    }

    pub(super) fn open(&mut self, path: &Path, mode: OpenMode) -> io::Result<Ino> {
        let (dir, name, existing) = self.lookup(path)?;
        match (existing, mode) {
            (Some(_), OpenMode::CreateNew) => Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("open {}: file exists", path.display()),
            )),
            (Some(ino), _) => Ok(ino),
            (None, OpenMode::Read | OpenMode::Write) => Err(not_found("open", path)),
            (None, OpenMode::Create | OpenMode::CreateNew) => {
                let ino = self.next_ino;
                self.next_ino += 1;
                self.inodes.insert(ino, Inode::default());
                let d = self.dirs.get_mut(&dir).expect("looked up above");
                d.live.insert(name.clone(), ino);
                d.pending.push(DirOp::Link { name, ino });
                self.note_event(DiskEvent::Create);
                Ok(ino)
            }
        }
    }

    pub(super) fn remove(&mut self, path: &Path) -> io::Result<()> {
        let (dir, name, existing) = self.lookup(path)?;
        if existing.is_none() {
            return Err(not_found("remove", path));
        }
        if let Some(inode) = existing.and_then(|ino| self.inodes.get(&ino)) {
            self.removed.push((path.to_path_buf(), inode.live.clone()));
        }
        let d = self.dirs.get_mut(&dir).expect("looked up above");
        d.live.remove(&name);
        d.pending.push(DirOp::Unlink { name });
        self.stats.removes += 1;
        self.note_event(DiskEvent::Remove);
        Ok(())
    }

    pub(super) fn rename(&mut self, from: &Path, to: &Path) -> io::Result<()> {
        let (dir, from_name, existing) = self.lookup(from)?;
        let (to_dir, to_name) = split(to)?;
        let Some(ino) = existing else {
            return Err(not_found("rename", from));
        };
        if to_dir != dir {
            return Err(io::Error::new(
                io::ErrorKind::CrossesDevices,
                "SimDisk renames only within one directory",
            ));
        }
        let d = self.dirs.get_mut(&dir).expect("looked up above");
        d.live.remove(&from_name);
        d.live.insert(to_name.clone(), ino);
        d.pending.push(DirOp::Rename {
            from: from_name,
            to: to_name,
            ino,
        });
        self.note_event(DiskEvent::Rename);
        Ok(())
    }

    pub(super) fn sync_dir(&mut self, path: &Path) -> io::Result<()> {
        let d = self
            .dirs
            .get_mut(path)
            .ok_or_else(|| not_found("sync_dir", path))?;
        for op in std::mem::take(&mut d.pending) {
            d.apply_durably(&op);
        }
        self.stats.dir_syncs += 1;
        self.note_event(DiskEvent::SyncDir);
        Ok(())
    }

    pub(super) fn list(&self, path: &Path) -> io::Result<Vec<String>> {
        let d = self.dirs.get(path).ok_or_else(|| not_found("list", path))?;
        Ok(d.live.keys().cloned().collect())
    }
}

/// How many bytes of a `len`-byte write at `offset` reached the page cache before its EIO.
fn landed_len(landed: WriteLanded, offset: u64, len: u64) -> u64 {
    match landed {
        WriteLanded::Nothing => 0,
        WriteLanded::All => len,
        WriteLanded::Prefix { sectors } => {
            let boundary = (offset / SECTOR_BYTES + u64::from(sectors)) * SECTOR_BYTES;
            boundary.saturating_sub(offset).min(len)
        }
    }
}
