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

/// How a crash treats what was not yet durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CrashMode {
    /// Every pending write and directory entry reaches the disk (the luckiest power loss).
    KeepAll,
    /// Nothing pending survives (what fsync-less code must already tolerate).
    DropAll,
    /// Each pending write is kept with `keep_pct`%, torn with `torn_pct`%, else dropped; each
    /// directory keeps a random prefix of its pending entry operations (journals commit in order).
    Random { keep_pct: u8, torn_pct: u8 },
}

/// The outcome rules of one crash. Outcomes are drawn from `seed`, so the spec is exact data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrashSpec {
    pub seed: u64,
    pub mode: CrashMode,
    /// The power loss also corrupts one bit of a write one of the latest syncs made durable (a
    /// drive whose cache lied, or a write that landed damaged): the value picks the write (among
    /// the last `RECENT_SYNCS_MAX`), the byte and the bit. The
    /// freshest durable bytes are exactly what recovery scans after a crash, so this is where
    /// recovery must tell mid-log damage (valid records follow: quarantine) from a torn tail.
    #[serde(default)]
    pub rot_last_synced: Option<u64>,
}

impl CrashSpec {
    pub const fn keep_all() -> Self {
        Self {
            seed: 0,
            mode: CrashMode::KeepAll,
            rot_last_synced: None,
        }
    }

    pub const fn drop_all() -> Self {
        Self {
            seed: 0,
            mode: CrashMode::DropAll,
            rot_last_synced: None,
        }
    }

    /// A balanced random crash: 45% kept, 20% torn, 35% dropped.
    pub const fn random(seed: u64) -> Self {
        Self {
            seed,
            mode: CrashMode::Random {
                keep_pct: 45,
                torn_pct: 20,
            },
            rot_last_synced: None,
        }
    }
}

/// What dies in a crash.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CrashKind {
    /// The machine loses power: the disk applies the [`CrashSpec`] to everything pending.
    #[default]
    PowerLoss,
    /// Only the process dies (SIGKILL, OOM killer, a panic that aborts): its handles and locks
    /// die with it, but the kernel's page cache lives on, so the next process reads data that is
    /// not yet durable and a later power loss still judges everything left pending. The spec
    /// applies to the embedded KV only, whose unflushed state lived in the dead process.
    ProcessKill,
}

/// A crash followed by a restart, at a disk operation count.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrashEvent {
    /// The disk call the crash strikes at (0-based, counted since the disk was created).
    pub at_op: u64,
    pub spec: CrashSpec,
    #[serde(default)]
    pub kind: CrashKind,
    /// If set, the crash strikes at this call of the process's latest start instead (0: its
    /// first call), so a small value lands inside recovery; `at_op` then only orders the plan.
    #[serde(default)]
    pub at_boot_op: Option<u64>,
    /// If set (and `at_boot_op` is not), the crash is aimed at a disk event at or after `at_op`
    /// instead of striking at `at_op` itself. Absent from plans written before aiming existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aimed: Option<CrashAim>,
    /// Transient read faults (`ReadEio`, `ReadCorrupt`) armed as the process restarts after
    /// this crash, so they strike the first reads of its recovery: several of them are a run of
    /// bad reads in a row. Uniform times almost never land in the few reads recovery makes, and
    /// recovery is where a misread becomes a cut tail or a quarantined record. Others are
    /// ignored (logged). Absent from plans written before it existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub boot_reads: Vec<DiskFault>,
}

/// A disk event a crash can be aimed at. Each one opens a window the engine must clean up after
/// (cut a partial write back, make a new file's entry durable, finish what a removal began), and
/// crashes drawn at uniform calls almost never land in those few calls: FoundationDB's BUGGIFY
/// makes the same bet for code paths. Events are what the disk sees, not engine internals, so
/// aiming needs no hook in the engine and works for any engine on the `Vfs` seam.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiskEvent {
    /// A write refused with StorageFull (ENOSPC), whatever prefix of it landed.
    StorageFull,
    /// A write or a data sync that failed with EIO.
    IoError,
    /// A file created (a new WAL segment, a dead-letter or checkpoint file).
    Create,
    /// A file removed (a segment retired after its records were ingested).
    Remove,
    /// A rename (a small file replaced atomically).
    Rename,
    /// A file's length set (a partial batch cut back, a torn tail cut by recovery).
    SetLen,
    /// The first successful data sync of a process (what recovery makes durable first).
    FirstSync,
    /// A successful directory sync (the moment new entries become durable).
    SyncDir,
}

impl DiskEvent {
    pub const ALL: [DiskEvent; 8] = [
        DiskEvent::StorageFull,
        DiskEvent::IoError,
        DiskEvent::Create,
        DiskEvent::Remove,
        DiskEvent::Rename,
        DiskEvent::SetLen,
        DiskEvent::FirstSync,
        DiskEvent::SyncDir,
    ];

    pub fn name(self) -> &'static str {
        match self {
            DiskEvent::StorageFull => "storage_full",
            DiskEvent::IoError => "io_error",
            DiskEvent::Create => "create",
            DiskEvent::Remove => "remove",
            DiskEvent::Rename => "rename",
            DiskEvent::SetLen => "set_len",
            DiskEvent::FirstSync => "first_sync",
            DiskEvent::SyncDir => "sync_dir",
        }
    }
}

/// Where an aimed crash strikes: `after_calls` calls after the `nth` occurrence (1-based) of
/// `event` counted from the crash's `at_op` (0: the very next call). If the event has not come
/// `AIM_WINDOW_CALLS` calls after `at_op`, the crash strikes there, so every planned crash still
/// happens and a plan never waits on an event its faults cannot cause.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrashAim {
    pub event: DiskEvent,
    pub nth: u32,
    pub after_calls: u32,
}

/// How long an aimed crash waits for its event, in disk calls after its `at_op`.
pub const AIM_WINDOW_CALLS: u64 = 4_000;

impl CrashEvent {
    /// A power loss at `at_op`.
    pub const fn power_loss(at_op: u64, spec: CrashSpec) -> Self {
        Self {
            at_op,
            spec,
            kind: CrashKind::PowerLoss,
            at_boot_op: None,
            aimed: None,
            boot_reads: Vec::new(),
        }
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
