//! Power loss. What was durable stays; what was pending is decided per the [`CrashSpec`]:
//! each pending write kept, dropped, or torn at a sector boundary into one of exactly three
//! shapes (prefix kept; suffix kept; prefix kept and the next sector garbage), each pending
//! truncation kept or dropped, and each directory keeping a prefix of its pending entry
//! operations. Then every handle and lock dies and the power comes back.

use rand::{Rng, RngCore};
use serde::Serialize;

use super::state::{apply_dir_op, apply_pending, apply_write, PendingOp, SECTOR_BYTES};
use super::DiskState;
use crate::plan::{CrashMode, CrashSpec};
use crate::rng;

/// What one crash did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CrashReport {
    pub writes_kept: u64,
    pub writes_dropped: u64,
    pub writes_torn: u64,
    pub truncations_kept: u64,
    pub truncations_dropped: u64,
    pub dir_ops_kept: u64,
    pub dir_ops_lost: u64,
}

/// How a torn write reached the platter.
#[derive(Clone, Copy, Debug)]
enum Tear {
    Prefix,
    Suffix,
    GarbageSector,
}

impl DiskState {
    pub(super) fn crash(&mut self, spec: &CrashSpec) -> CrashReport {
        let mut rng = rng::from_seed(spec.seed);
        let mut report = CrashReport::default();
        let inos: Vec<u64> = self.inodes.keys().copied().collect();
        for ino in inos {
            let inode = self.inodes.get_mut(&ino).expect("listed");
            for op in std::mem::take(&mut inode.pending) {
                match op {
                    PendingOp::SetLen(_) => {
                        if decide_keep(spec.mode, &mut rng) {
                            apply_pending(&mut inode.durable, &op);
                            report.truncations_kept += 1;
                        } else {
                            report.truncations_dropped += 1;
                        }
                    }
                    PendingOp::Write { offset, ref data } => {
                        match decide_write(spec.mode, offset, data.len() as u64, &mut rng) {
                            WriteFate::Keep => {
                                apply_pending(&mut inode.durable, &op);
                                report.writes_kept += 1;
                            }
                            WriteFate::Drop => report.writes_dropped += 1,
                            WriteFate::Tear(boundary, tear) => {
                                tear_write(
                                    &mut inode.durable,
                                    offset,
                                    data,
                                    boundary,
                                    tear,
                                    &mut rng,
                                );
                                report.writes_torn += 1;
                            }
                        }
                    }
                }
            }
            inode.live = inode.durable.clone();
        }
        for dir in self.dirs.values_mut() {
            let pending = std::mem::take(&mut dir.pending);
            let kept = match spec.mode {
                CrashMode::KeepAll => pending.len(),
                CrashMode::DropAll => 0,
                CrashMode::Random { .. } => rng.random_range(0..=pending.len()),
            };
            for op in &pending[..kept] {
                apply_dir_op(&mut dir.durable, op);
            }
            report.dir_ops_kept += kept as u64;
            report.dir_ops_lost += (pending.len() - kept) as u64;
            dir.live = dir.durable.clone();
        }
        // Files no durable entry reaches are gone for good.
        let linked: std::collections::BTreeSet<u64> = self
            .dirs
            .values()
            .flat_map(|d| d.durable.values().copied())
            .collect();
        self.inodes.retain(|ino, _| linked.contains(ino));
        let recent = spec.rot_last_synced.and_then(|r| {
            let n = self.recent_syncs.len() as u64;
            // Low bits pick the write (newest first), high bits the byte and the bit.
            (n > 0).then(|| (r >> 8, self.recent_syncs[(n - 1 - (r & 0xff) % n) as usize]))
        });
        if let Some((r, (ino, start, end))) = recent {
            let byte = start + r % (end - start).max(1);
            let bit = (r >> 32) as u8 % 8;
            if self.inodes.contains_key(&ino) && self.flip(ino, byte, bit) {
                self.note_damage(ino, byte, 1, "bit_rot");
                self.count_fault(&crate::plan::DiskFault::BitRot {
                    file: crate::plan::FileSelector::Nth(0),
                    byte,
                    bit,
                });
                self.log_fault(format!(
                    "bit_rot at crash: inode {ino} byte {byte} bit {bit} (a recently synced write)"
                ));
            }
        }
        self.recent_syncs.clear();
        self.epoch += 1;
        self.locks.clear();
        self.powered = true;
        self.power_off_at_op = None;
        self.stats.crashes += 1;
        let summary = format!("crash {:?}: {report:?}", spec.mode);
        self.record(&[b"crash", summary.as_bytes()]);
        report
    }
}

enum WriteFate {
    Keep,
    Drop,
    /// Torn at this absolute sector boundary (strictly inside the write).
    Tear(u64, Tear),
}

fn decide_keep(mode: CrashMode, rng: &mut impl Rng) -> bool {
    match mode {
        CrashMode::KeepAll => true,
        CrashMode::DropAll => false,
        CrashMode::Random { keep_pct, .. } => rng.random_range(0..100u8) < keep_pct,
    }
}

fn decide_write(mode: CrashMode, offset: u64, len: u64, rng: &mut impl Rng) -> WriteFate {
    let (keep_pct, torn_pct) = match mode {
        CrashMode::KeepAll => return WriteFate::Keep,
        CrashMode::DropAll => return WriteFate::Drop,
        CrashMode::Random { keep_pct, torn_pct } => (keep_pct, torn_pct),
    };
    let roll = rng.random_range(0..100u8);
    if roll < keep_pct {
        return WriteFate::Keep;
    }
    // A write inside one sector is atomic: it cannot tear, only land or not.
    let first_boundary = (offset / SECTOR_BYTES + 1) * SECTOR_BYTES;
    let end = offset + len;
    if roll < keep_pct.saturating_add(torn_pct) && first_boundary < end {
        let boundaries = (end - 1 - first_boundary) / SECTOR_BYTES + 1;
        let boundary = first_boundary + rng.random_range(0..boundaries) * SECTOR_BYTES;
        let tear = match rng.random_range(0..3u8) {
            0 => Tear::Prefix,
            1 => Tear::Suffix,
            _ => Tear::GarbageSector,
        };
        return WriteFate::Tear(boundary, tear);
    }
    WriteFate::Drop
}

fn tear_write(
    durable: &mut Vec<u8>,
    offset: u64,
    data: &[u8],
    boundary: u64,
    tear: Tear,
    rng: &mut impl RngCore,
) {
    let split = (boundary - offset) as usize;
    match tear {
        Tear::Prefix => apply_write(durable, offset, &data[..split]),
        Tear::Suffix => apply_write(durable, boundary, &data[split..]),
        Tear::GarbageSector => {
            apply_write(durable, offset, &data[..split]);
            let garbage_len = (data.len() - split).min(SECTOR_BYTES as usize);
            let mut garbage = vec![0u8; garbage_len];
            rng.fill_bytes(&mut garbage);
            apply_write(durable, boundary, &garbage);
        }
    }
}
