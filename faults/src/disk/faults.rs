//! Firing disk faults: scheduled ones when the operation counter reaches them, injected ones at
//! once. Every fault that fires is resolved to a concrete place and logged.

use std::path::Path;

use rand::Rng;

use super::state::{split, Ino, SECTOR_BYTES};
use super::{DamageCause, DiskState};
use crate::plan::{DiskFault, FileSelector, MetadataOp, MisdirectTarget};

impl DiskState {
    pub(super) fn log_fault(&mut self, line: String) {
        self.record(&[b"fault", line.as_bytes()]);
        self.fault_log.push(line);
    }

    pub(super) fn count_fault(&mut self, fault: &DiskFault) {
        *self
            .stats
            .faults
            .entry(fault.class().name().to_owned())
            .or_insert(0) += 1;
    }

    /// Fires every scheduled fault due at or before operation `op`.
    pub(super) fn fire_due(&mut self, op: u64) {
        while let Some(entry) = self.schedule.first_entry() {
            if *entry.key() > op {
                break;
            }
            for fault in entry.remove() {
                self.fire(fault);
            }
        }
    }

    /// Fires `fault` now if it is a transient read fault; logs and drops anything else (a
    /// hand-edited plan: lasting damage armed outside the schedule would be excused as damage,
    /// never judged). `what` names the list it came from.
    pub(super) fn fire_transient(&mut self, fault: DiskFault, what: &str) {
        if matches!(fault, DiskFault::ReadEio | DiskFault::ReadCorrupt { .. }) {
            self.fire(fault);
        } else {
            self.log_fault(format!("{what} fault ignored (not transient): {fault:?}"));
        }
    }

    pub(super) fn fire(&mut self, fault: DiskFault) {
        self.count_fault(&fault);
        match fault {
            DiskFault::FsyncEio { spec } => {
                self.armed_fsync_eio.push(spec);
                self.log_fault("fsync_eio armed: the next sync_data fails".into());
            }
            DiskFault::ReadEio => {
                self.armed_read_eio += 1;
                self.log_fault("read_eio armed: the next read fails once".into());
            }
            DiskFault::ReadCorrupt {
                file,
                seed,
                flips,
                same_sector,
            } => {
                self.arm_read_corrupt(file, seed, flips, same_sector);
            }
            DiskFault::WriteEio { landed } => {
                self.armed_write_eio.push(landed);
                self.log_fault(format!(
                    "write_eio armed: the next write fails after {landed:?} reached the cache"
                ));
            }
            DiskFault::MisdirectedWrite(target) => {
                self.armed_misdirect.push(target);
                self.log_fault("misdirected_write armed: the next write lands elsewhere".into());
            }
            DiskFault::LatentSectorError { file, sector } => match self.select(&file) {
                Some((ino, name)) => {
                    let len = self.inodes[&ino].durable.len() as u64;
                    let sector = match file {
                        FileSelector::Path(_) => sector,
                        FileSelector::Nth(_) => sector % len.div_ceil(SECTOR_BYTES).max(1),
                    };
                    self.inodes
                        .get_mut(&ino)
                        .expect("selected")
                        .bad_sectors
                        .insert(sector);
                    self.note_damage(
                        ino,
                        sector * SECTOR_BYTES,
                        SECTOR_BYTES,
                        DamageCause::LatentSectorError,
                    );
                    self.log_fault(format!("latent_sector_error: {name} sector {sector}"));
                }
                None => self.log_fault("latent_sector_error: no file to hit".into()),
            },
            DiskFault::BitRot { file, byte, bit } => match self.select(&file) {
                Some((ino, name)) => {
                    let len = self.inodes[&ino].durable.len() as u64;
                    let byte = match file {
                        FileSelector::Path(_) => byte,
                        FileSelector::Nth(_) => byte % len.max(1),
                    };
                    if self.flip(ino, byte, bit) {
                        self.note_damage(ino, byte, 1, DamageCause::BitRot);
                        self.log_fault(format!("bit_rot: {name} byte {byte} bit {}", bit % 8));
                    } else {
                        self.log_fault(format!("bit_rot: {name} has no durable byte {byte}"));
                    }
                }
                None => self.log_fault("bit_rot: no file to hit".into()),
            },
            DiskFault::FillUp { headroom_bytes } => {
                let cap = self.usage_bytes() + headroom_bytes;
                self.capacity_bytes = Some(cap);
                self.log_fault(format!("enospc: capacity set to {cap} bytes"));
            }
            DiskFault::SetCapacity { bytes } => {
                self.capacity_bytes = bytes;
                self.log_fault(format!("enospc: capacity set to {bytes:?} bytes"));
            }
            DiskFault::MetadataEio { op } => {
                self.armed_metadata_eio.push(op);
                self.log_fault(format!("metadata_eio armed: the next {op:?} fails"));
            }
        }
    }

    /// Fails this call of `op` if a fault is armed for it (the oldest one), before it acts.
    pub(super) fn take_metadata_eio(&mut self, op: MetadataOp, path: &Path) -> std::io::Result<()> {
        let Some(at) = self
            .armed_metadata_eio
            .iter()
            .position(|armed| *armed == op)
        else {
            return Ok(());
        };
        self.armed_metadata_eio.remove(at);
        self.stats.metadata_errors += 1;
        self.log_fault(format!("metadata_eio: {op:?} of {} failed", path.display()));
        Err(std::io::Error::from_raw_os_error(5))
    }

    /// Resolves a selector to a linked file with durable data: (inode, path).
    pub(super) fn select(&self, file: &FileSelector) -> Option<(Ino, String)> {
        match file {
            FileSelector::Path(path) => {
                let (dir, name) = split(path).ok()?;
                let ino = *self.dirs.get(&dir)?.live.get(&name)?;
                Some((ino, path.display().to_string()))
            }
            FileSelector::Nth(n) => {
                let candidates: Vec<(Ino, String)> = self
                    .dirs
                    .iter()
                    .flat_map(|(dir, d)| {
                        d.live
                            .iter()
                            .map(move |(name, ino)| (*ino, dir.join(name).display().to_string()))
                    })
                    .filter(|(ino, _)| self.inodes.get(ino).is_some_and(|i| !i.durable.is_empty()))
                    .collect();
                if candidates.is_empty() {
                    return None;
                }
                Some(candidates[*n as usize % candidates.len()].clone())
            }
        }
    }

    /// Flips a bit of durable data (and of the live copy where the cache holds the same byte).
    pub(super) fn flip(&mut self, ino: Ino, byte: u64, bit: u8) -> bool {
        let inode = self.inodes.get_mut(&ino).expect("selected");
        let i = byte as usize;
        if i >= inode.durable.len() {
            return false;
        }
        let old = inode.durable[i];
        inode.durable[i] ^= 1 << (bit % 8);
        if inode.live.get(i) == Some(&old) {
            inode.live[i] = inode.durable[i];
        }
        let now = inode.durable[i];
        self.overwritten.push(super::Overwrite {
            ino,
            offset: byte,
            was: vec![old],
            now: vec![now],
        });
        true
    }

    pub(super) fn flip_bit_at(&mut self, path: &Path, byte: u64, bit: u8) -> bool {
        let file = FileSelector::Path(path.to_path_buf());
        let Some((ino, name)) = self.select(&file) else {
            return false;
        };
        if !self.flip(ino, byte, bit) {
            return false;
        }
        self.note_damage(ino, byte, 1, DamageCause::BitRot);
        self.count_fault(&DiskFault::BitRot { file, byte, bit });
        self.log_fault(format!("bit_rot: {name} byte {byte} bit {}", bit % 8));
        true
    }

    /// Where a misdirected write lands: (inode, offset).
    pub(super) fn misdirect(
        &mut self,
        ino: Ino,
        offset: u64,
        target: &MisdirectTarget,
    ) -> (Ino, u64) {
        let (to_ino, to_off) = match target {
            MisdirectTarget::Shift { sectors } => {
                let shift = sectors.saturating_mul(SECTOR_BYTES as i64);
                (ino, offset.saturating_add_signed(shift))
            }
            MisdirectTarget::OtherFile { file } => {
                let other = self.select(file).map(|(i, _)| i).filter(|&i| i != ino);
                // With no other file, shift by a random whole number of sectors instead.
                match other {
                    Some(i) => (i, offset),
                    None => {
                        let sectors = self.fault_rng.random_range(1..=8u64);
                        (ino, offset + sectors * SECTOR_BYTES)
                    }
                }
            }
        };
        self.log_fault(format!(
            "misdirected_write: aimed at inode {ino} offset {offset}, landed at inode {to_ino} offset {to_off}"
        ));
        (to_ino, to_off)
    }
}
