//! Crashes in a plan: what a power loss keeps ([`CrashSpec`]), the two kinds of crash, and the
//! disk events a crash can be aimed at.

use serde::{Deserialize, Serialize};

use super::DiskFault;

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
