//! Crashes, of both kinds.
//!
//! Power loss: what was durable stays; what was pending is decided per the [`CrashSpec`]: each
//! pending write kept, dropped, or torn at a sector boundary into one of exactly three shapes
//! (prefix kept; suffix kept; prefix kept and the next sector garbage), each pending truncation
//! kept or dropped, and each directory keeping a prefix of its pending entry operations (a
//! directory whose own entry is lost vanishes with everything in it). Then every handle and lock
//! dies and the power comes back.
//!
//! Process kill: every handle and lock of the process dies and nothing else changes. The page
//! cache (live contents, pending writes, pending entries) belongs to the kernel, which lives on,
//! so a later power loss still judges everything left pending.

use rand::{Rng, RngCore};
use serde::Serialize;

use super::state::{apply_pending, apply_write, PendingOp, SECTOR_BYTES};
use super::{DamageCause, DiskState};
use crate::plan::{CrashMode, CrashSpec};
use crate::rng::{self, SimRng};

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
    /// Directories that vanished because their own entry was not durable.
    pub dirs_lost: u64,
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
            let pending = std::mem::take(&mut inode.pending);
            settle(
                &mut inode.durable,
                pending,
                spec.mode,
                &mut rng,
                &mut report,
            );
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
                dir.apply_durably(op);
            }
            report.dir_ops_kept += kept as u64;
            report.dir_ops_lost += (pending.len() - kept) as u64;
            dir.live = dir.durable.clone();
        }
        report.dirs_lost = self.drop_unreachable_dirs();
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
                self.note_damage(ino, byte, 1, DamageCause::BitRot);
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
        // The power loss ended every process, a dying one included.
        self.process_alive = true;
        self.kill_at_op = None;
        self.aim = None;
        self.synced_this_process = false;
        self.stats.crashes += 1;
        let summary = format!("crash {:?}: {report:?}", spec.mode);
        self.record(&[b"crash", summary.as_bytes()]);
        report
    }

    pub(super) fn kill_process(&mut self) {
        self.epoch += 1;
        self.locks.clear();
        self.process_alive = true;
        self.kill_at_op = None;
        self.aim = None;
        self.synced_this_process = false;
        self.stats.process_kills += 1;
        self.record(&[b"process_kill"]);
    }
}

/// Applies to `durable` the fate `mode` draws for each of `pending`, in order, and counts them.
/// Shared by power loss and failed fsyncs: both leave each operation persisted, dropped or torn.
pub(super) fn settle(
    durable: &mut Vec<u8>,
    pending: Vec<PendingOp>,
    mode: CrashMode,
    rng: &mut SimRng,
    report: &mut CrashReport,
) {
    for op in pending {
        match op {
            PendingOp::SetLen(_) => {
                if decide_keep(mode, rng) {
                    apply_pending(durable, &op);
                    report.truncations_kept += 1;
                } else {
                    report.truncations_dropped += 1;
                }
            }
            PendingOp::Write { offset, ref data } => {
                match decide_write(mode, offset, data.len() as u64, rng) {
                    WriteFate::Keep => {
                        apply_pending(durable, &op);
                        report.writes_kept += 1;
                    }
                    WriteFate::Drop => report.writes_dropped += 1,
                    WriteFate::Tear(boundary, tear) => {
                        tear_write(durable, offset, data, boundary, tear, rng);
                        report.writes_torn += 1;
                    }
                }
            }
        }
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
