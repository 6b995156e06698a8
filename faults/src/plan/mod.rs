//! The fault plan: every fault of a run as explicit, serialisable data.
//!
//! "When" is the simulated disk's operation counter (the n-th Vfs call since the disk was
//! created), which is deterministic for a seed, so a plan replays exactly; clock faults are keyed
//! by simulated milliseconds. "Where" is a [`FileSelector`], resolved when the fault fires and
//! recorded in the disk's fault log, so a plan made before any file exists still lands somewhere
//! real.
//!
//! Crashes come in two kinds ([`CrashKind`]): a power loss (the page cache is lost and every
//! pending write is kept, dropped or torn) and a process kill (the process dies, the kernel and
//! its page cache live on, so nothing pending is lost). Either may be timed from the latest start
//! of the process (`CrashEvent::at_boot_op`), which puts it inside recovery.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

mod crash;

pub use crash::{
    CrashAim, CrashEvent, CrashKind, CrashMode, CrashSpec, DiskEvent, AIM_WINDOW_CALLS,
};

use crate::kv::ScheduledKvFault;
use crate::latency::LatencyModel;

/// Classes of fault, for the swarm generator and for reports (faults by class).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultClass {
    /// Power loss: pending writes kept, dropped or torn; pending directory entries may be lost.
    Crash,
    MisdirectedWrite,
    LatentSectorError,
    BitRot,
    Enospc,
    FsyncEio,
    ReadEio,
    SlowIo,
    ClockSkew,
    ClockDrift,
    ClockJump,
    /// A read returns flipped bits once; the stored bytes are fine (a transport or cache error).
    ReadCorrupt,
    /// A write fails with EIO after none, a sector-aligned prefix, or all of it reached the cache.
    WriteEio,
    /// The process dies at a disk call; the page cache survives.
    ProcessKill,
    /// A KV call fails with EIO (transient: a retry succeeds).
    KvEio,
    /// A KV call reports the store corrupt (a transient misread of a sound page): the engine
    /// must stop ingesting and say so; a restart cures it.
    KvCorrupt,
    /// A metadata call (open, create a directory, sync a directory, rename, remove, list, lock)
    /// fails once with EIO before it changes anything.
    MetadataEio,
}

impl FaultClass {
    pub const ALL: [FaultClass; 17] = [
        FaultClass::Crash,
        FaultClass::MisdirectedWrite,
        FaultClass::LatentSectorError,
        FaultClass::BitRot,
        FaultClass::Enospc,
        FaultClass::FsyncEio,
        FaultClass::ReadEio,
        FaultClass::SlowIo,
        FaultClass::ClockSkew,
        FaultClass::ClockDrift,
        FaultClass::ClockJump,
        FaultClass::ReadCorrupt,
        FaultClass::WriteEio,
        FaultClass::ProcessKill,
        FaultClass::KvEio,
        FaultClass::KvCorrupt,
        FaultClass::MetadataEio,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FaultClass::Crash => "crash",
            FaultClass::MisdirectedWrite => "misdirected_write",
            FaultClass::LatentSectorError => "latent_sector_error",
            FaultClass::BitRot => "bit_rot",
            FaultClass::Enospc => "enospc",
            FaultClass::FsyncEio => "fsync_eio",
            FaultClass::ReadEio => "read_eio",
            FaultClass::SlowIo => "slow_io",
            FaultClass::ClockSkew => "clock_skew",
            FaultClass::ClockDrift => "clock_drift",
            FaultClass::ClockJump => "clock_jump",
            FaultClass::ReadCorrupt => "read_corrupt",
            FaultClass::WriteEio => "write_eio",
            FaultClass::ProcessKill => "process_kill",
            FaultClass::KvEio => "kv_eio",
            FaultClass::KvCorrupt => "kv_corrupt",
            FaultClass::MetadataEio => "metadata_eio",
        }
    }
}

/// Which file a fault hits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileSelector {
    /// Exactly this file (if it exists when the fault fires).
    Path(PathBuf),
    /// Among the files with durable data, sorted by path, the `n % count`-th.
    Nth(u32),
}

/// Where a misdirected write lands instead of where it was aimed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MisdirectTarget {
    /// Same file, shifted by whole sectors (clamped at offset 0).
    Shift { sectors: i64 },
    /// Same offset, another file (the selected one; the aimed-at file if none other exists).
    OtherFile { file: FileSelector },
}

/// The metadata call a [`DiskFault::MetadataEio`] fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetadataOp {
    Open,
    CreateDir,
    SyncDir,
    Rename,
    Remove,
    List,
    Lock,
}

impl MetadataOp {
    pub const ALL: [MetadataOp; 7] = [
        MetadataOp::Open,
        MetadataOp::CreateDir,
        MetadataOp::SyncDir,
        MetadataOp::Rename,
        MetadataOp::Remove,
        MetadataOp::List,
        MetadataOp::Lock,
    ];
}

/// What of a write that fails with EIO reached the page cache (as pending data, like any write).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteLanded {
    Nothing,
    /// The bytes up to the `sectors`-th sector boundary after the write's offset (0: nothing; a
    /// boundary at or past the write's end: all of it).
    Prefix {
        sectors: u32,
    },
    All,
}

/// What a failed fsync did to each pending operation it covered. The device may have completed
/// any of them before it failed, so each is drawn like a crash's outcome (`mode`, from `seed`):
/// persisted, dropped, or torn at a sector boundary. `DropAll` is the classic reading of Linux
/// (and what plans before this field meant).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FsyncEioSpec {
    pub seed: u64,
    pub mode: CrashMode,
}

impl FsyncEioSpec {
    pub const fn drop_all() -> Self {
        Self {
            seed: 0,
            mode: CrashMode::DropAll,
        }
    }
}

impl Default for FsyncEioSpec {
    fn default() -> Self {
        Self::drop_all()
    }
}

/// A fault the disk executes itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiskFault {
    /// The next `sync_data` fails with EIO. The pages it covered are marked clean whatever
    /// happened to them (ext4, XFS and btrfs do this): each covered operation persisted, was
    /// dropped or was torn as `spec` says, and a later successful sync makes none of the dropped
    /// data durable. The caller cannot know which, so nothing may depend on it.
    ///
    /// Plans from before `spec` existed spell this fault `"fsync_eio"`; see
    /// [`ScheduledFault`], which still reads them (as `DropAll`).
    FsyncEio {
        #[serde(default)]
        spec: FsyncEioSpec,
    },
    /// The next read fails once with EIO (a transient error: retrying succeeds).
    ReadEio,
    /// The next read that returns at least one byte (of `file`, resolved when the fault fires; of
    /// any file if `None`) returns `flips` distinct bits flipped, at positions drawn from `seed`.
    /// Nothing stored changes, so reading the same range again returns the truth: this is not
    /// media damage, and the engine must re-read before it acts on what looks like corruption.
    ReadCorrupt {
        file: Option<FileSelector>,
        seed: u64,
        /// At least one, at most every bit the read returned.
        flips: u8,
        /// If set, the flips land in the sector the latest corrupt read of the same file flipped
        /// first, when this read covers it (a marginal sector that reads wrong several times in
        /// a row, each time differently); elsewhere otherwise. Absent from plans written before
        /// it existed.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        same_sector: bool,
    },
    /// The next non-empty write fails with EIO after `landed` of it reached the page cache.
    WriteEio { landed: WriteLanded },
    /// The next write reports success but lands elsewhere; the aimed-at bytes are unchanged.
    MisdirectedWrite(MisdirectTarget),
    /// Reads touching the sector fail with EIO from now on (until a write covers the whole
    /// sector, which remaps it, as drives do).
    LatentSectorError { file: FileSelector, sector: u64 },
    /// One bit flips in synced data (byte taken modulo the file's durable length for `Nth`).
    BitRot {
        file: FileSelector,
        byte: u64,
        bit: u8,
    },
    /// The device becomes full `headroom_bytes` above the current usage: writes past that fail
    /// with StorageFull (errno 28), possibly after writing a prefix.
    FillUp { headroom_bytes: u64 },
    /// Sets (or with `None` lifts) an absolute capacity in bytes.
    SetCapacity { bytes: Option<u64> },
    /// The next call of `op` fails with EIO before it changes anything (a failed directory sync
    /// leaves its pending entries pending): a transient error, retrying may succeed.
    MetadataEio { op: MetadataOp },
}

impl DiskFault {
    pub fn class(&self) -> FaultClass {
        match self {
            DiskFault::FsyncEio { .. } => FaultClass::FsyncEio,
            DiskFault::ReadEio => FaultClass::ReadEio,
            DiskFault::ReadCorrupt { .. } => FaultClass::ReadCorrupt,
            DiskFault::WriteEio { .. } => FaultClass::WriteEio,
            DiskFault::MisdirectedWrite(_) => FaultClass::MisdirectedWrite,
            DiskFault::LatentSectorError { .. } => FaultClass::LatentSectorError,
            DiskFault::BitRot { .. } => FaultClass::BitRot,
            DiskFault::FillUp { .. } | DiskFault::SetCapacity { .. } => FaultClass::Enospc,
            DiskFault::MetadataEio { .. } => FaultClass::MetadataEio,
        }
    }
}

/// A disk fault and the operation at which it fires (is armed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledFault {
    pub at_op: u64,
    #[serde(deserialize_with = "legacy::disk_fault")]
    pub fault: DiskFault,
}

/// Reading plans written before a fault grew fields.
mod legacy {
    use serde::{Deserialize, Deserializer};

    use super::{DiskFault, FsyncEioSpec};

    /// Faults that were unit variants then and carry data now.
    #[derive(Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Unit {
        FsyncEio,
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Current(DiskFault),
        Unit(Unit),
    }

    pub(super) fn disk_fault<'de, D: Deserializer<'de>>(d: D) -> Result<DiskFault, D::Error> {
        Ok(match Either::deserialize(d)? {
            Either::Current(fault) => fault,
            Either::Unit(Unit::FsyncEio) => DiskFault::FsyncEio {
                spec: FsyncEioSpec::drop_all(),
            },
        })
    }
}

/// A step in a node's wall clock at a simulated monotonic time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockJump {
    pub at_ms: u64,
    pub delta_ms: i64,
}

/// The node's wall clock error: a constant skew, a drift rate and jumps (backwards too).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockPlan {
    pub skew_ms: i64,
    pub drift_ppm: i64,
    pub jumps: Vec<ClockJump>,
}

/// Every fault of one run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultPlan {
    /// The seed the plan was generated from (0 for a hand-written plan).
    pub seed: u64,
    /// The classes the swarm switched on for this seed.
    pub classes: Vec<FaultClass>,
    pub latency: Option<LatencyModel>,
    /// Disk faults, sorted by `at_op`.
    pub disk: Vec<ScheduledFault>,
    /// Crashes of both kinds, sorted by `at_op`; the world (not the disk) executes them.
    pub crashes: Vec<CrashEvent>,
    pub clock: ClockPlan,
    /// Transient faults armed the moment the others stop (see [`SimDisk::heal_for_drain`]):
    /// the drain that follows must get past them by retrying, with no fresh write and no restart
    /// to wake a reader that took one for the end of the log. Only transient read faults
    /// (`ReadEio`, `ReadCorrupt`) belong here. Absent from plans written before it existed.
    ///
    /// [`SimDisk::heal_for_drain`]: crate::disk::SimDisk::heal_for_drain
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drain: Vec<DiskFault>,
    /// KV faults, sorted by `at_call` (the simulated KV executes them). Absent from plans
    /// written before it existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kv: Vec<ScheduledKvFault>,
}

impl FaultPlan {
    /// A plan with no faults and no latency.
    pub fn none() -> Self {
        Self::default()
    }

    /// Canonical JSON (field order is fixed by the types, so equal plans give equal bytes).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a FaultPlan always serialises")
    }

    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// blake3 of the canonical JSON, hex.
    pub fn digest(&self) -> String {
        blake3::hash(self.to_json().as_bytes()).to_hex().to_string()
    }

    /// The number of fault events of each class (crashes included), for reports.
    pub fn count_by_class(&self) -> std::collections::BTreeMap<&'static str, u64> {
        let mut counts = std::collections::BTreeMap::new();
        for f in &self.disk {
            *counts.entry(f.fault.class().name()).or_insert(0) += 1;
        }
        for c in &self.crashes {
            let class = match c.kind {
                CrashKind::PowerLoss => FaultClass::Crash,
                CrashKind::ProcessKill => FaultClass::ProcessKill,
            };
            *counts.entry(class.name()).or_insert(0) += 1;
        }
        for f in &self.kv {
            let class = if f.fault.is_corrupt() {
                FaultClass::KvCorrupt
            } else {
                FaultClass::KvEio
            };
            *counts.entry(class.name()).or_insert(0) += 1;
        }
        if !self.clock.jumps.is_empty() {
            counts.insert(FaultClass::ClockJump.name(), self.clock.jumps.len() as u64);
        }
        counts
    }
}
