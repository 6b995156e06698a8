//! The fault plan: every fault of a run as explicit, serialisable data.
//!
//! "When" is the simulated disk's operation counter (the n-th Vfs call since the disk was
//! created), which is deterministic for a seed, so a plan replays exactly; clock faults are keyed
//! by simulated milliseconds. "Where" is a [`FileSelector`], resolved when the fault fires and
//! recorded in the disk's fault log, so a plan made before any file exists still lands somewhere
//! real.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

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
}

impl FaultClass {
    pub const ALL: [FaultClass; 11] = [
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

/// A fault the disk executes itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiskFault {
    /// The next `sync_data` fails with EIO and the dirty data it covered is dropped (Linux marks
    /// the pages clean): it is never made durable, even by a later successful sync.
    FsyncEio,
    /// The next read fails once with EIO (a transient error: retrying succeeds).
    ReadEio,
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
}

impl DiskFault {
    pub fn class(&self) -> FaultClass {
        match self {
            DiskFault::FsyncEio => FaultClass::FsyncEio,
            DiskFault::ReadEio => FaultClass::ReadEio,
            DiskFault::MisdirectedWrite(_) => FaultClass::MisdirectedWrite,
            DiskFault::LatentSectorError { .. } => FaultClass::LatentSectorError,
            DiskFault::BitRot { .. } => FaultClass::BitRot,
            DiskFault::FillUp { .. } | DiskFault::SetCapacity { .. } => FaultClass::Enospc,
        }
    }
}

/// A disk fault and the operation at which it fires (is armed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledFault {
    pub at_op: u64,
    pub fault: DiskFault,
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

/// A crash (power loss followed by restart), at a disk operation count.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrashEvent {
    pub at_op: u64,
    pub spec: CrashSpec,
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
    /// Crashes, sorted by `at_op`; the world (not the disk) executes them.
    pub crashes: Vec<CrashEvent>,
    pub clock: ClockPlan,
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
        if !self.crashes.is_empty() {
            counts.insert(FaultClass::Crash.name(), self.crashes.len() as u64);
        }
        if !self.clock.jumps.is_empty() {
            counts.insert(FaultClass::ClockJump.name(), self.clock.jumps.len() as u64);
        }
        counts
    }
}
