//! `SimDisk`: the simulated disk, in the manner of redb's crash-simulating backend and ALICE /
//! LazyFS, extended with media faults.
//!
//! Fault model (every fault is either executed from the [`FaultPlan`] at an exact operation count
//! or injected explicitly by a test; nothing here is random except through seeded streams):
//! - Writes and truncations are visible at once and durable only after `sync_data`. A crash keeps,
//!   drops or tears each pending write at sector granularity (prefix kept, suffix kept, or the torn
//!   sector filled with garbage) and keeps or drops each pending truncation.
//! - Directory entry operations (create, rename, remove, and creating a subdirectory) are durable
//!   only after `sync_dir` of the directory holding the entry; a crash keeps a prefix of each
//!   directory's pending operations, so a file whose data was synced but whose entry was not can
//!   vanish, and a directory whose entry in its parent was not synced vanishes with its contents.
//! - fsync EIO: the pages it covered are marked clean, and each covered write persisted, was
//!   dropped, or was torn, as the fault's spec says (by default all dropped); a later successful
//!   sync makes none of the dropped data durable, and reads keep returning the dropped bytes until
//!   the file's cache is evicted (`evict_cache`: live bytes become durable bytes plus pending ops).
//! - Write EIO after none, a sector-aligned prefix, or all of the write reached the page cache.
//! - ENOSPC at a capacity (StorageFull, errno 28, possibly after a partial write); misdirected
//!   writes; latent sector errors; bit rot of synced data; transient read EIO; transient read
//!   corruption (flipped bits in what one read returns, nothing stored changed); latency per call
//!   from a seeded distribution, with stalls.
//! - A power loss (`crash`) applies the rules above to everything pending and invalidates every
//!   open handle and lock. A process kill (`kill_process`) invalidates the handles and locks and
//!   nothing else: the page cache outlives the process. From the planned call of either until
//!   the world executes it, every call fails (the dying process gets nothing more done).
//!
//! Not modelled: unlinked-but-open files use no space; rename across directories is refused.
//!
//! By user: the engine calls it through `vfs.rs`, the driver and tests act on it through
//! `controls.rs`, oracles and reports read it through `inspect.rs`; `ops.rs` is the state machine
//! all three share, and this file the call machinery (counting, faults due, power, latency).

mod aim;
mod controls;
mod crash;
mod dirs;
mod faults;
mod fsync_eio;
mod inspect;
mod ops;
mod read_corrupt;
mod state;
mod vfs;

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;
use stemedb::io::{storage_full_error, OpenMode, Vfs, VfsFile, VfsLock};

use crate::latency::{LatencyModel, OpClass};
use crate::plan::{
    CrashSpec, DiskEvent, DiskFault, FaultPlan, FsyncEioSpec, MetadataOp, MisdirectTarget,
    ScheduledFault, WriteLanded,
};
use crate::rng::{self, SimRng};
pub use aim::AimOutcome;
pub use crash::CrashReport;
use read_corrupt::ArmedCorruption;
pub use state::SECTOR_BYTES;
use state::{eio, not_found, split, Dir, DirOp, Ino, Inode, PendingOp};

/// Counters of what the disk did, for tests (e.g. "group commit syncs less than it writes") and
/// reports.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DiskStats {
    pub ops: u64,
    pub reads: u64,
    pub writes: u64,
    pub bytes_written: u64,
    pub data_syncs: u64,
    /// `sync_data` calls by a writer (not an observer), counted as each begins: whatever it
    /// returns, or if it never returns (a crash cut it short). The truth of a timed sync count.
    /// Not in reports (added after their schema was fixed; the report counts `data_syncs`).
    #[serde(skip)]
    pub data_sync_calls: u64,
    pub dir_syncs: u64,
    pub fsync_errors: u64,
    pub read_errors: u64,
    /// Writes that failed with EIO (the write EIO fault).
    pub write_errors: u64,
    /// Reads that returned flipped bits (the read corruption fault).
    pub corrupt_reads: u64,
    pub enospc_errors: u64,
    /// Metadata calls that failed with EIO (the metadata EIO fault).
    pub metadata_errors: u64,
    /// Files removed (unlinked, durable or not).
    pub removes: u64,
    /// Power losses.
    pub crashes: u64,
    pub process_kills: u64,
    /// Faults that fired, by class name.
    pub faults: BTreeMap<String, u64>,
    /// Simulated time spent in I/O latency, microseconds.
    pub latency_us_total: u64,
}

/// Bytes a media fault damaged: a misdirected write's aimed-at range (never written) and landed
/// range (overwritten), rotted bytes, bad sectors. Oracles excuse exactly these, nothing more.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MediaDamage {
    pub path: PathBuf,
    pub start: u64,
    pub len: u64,
    pub cause: DamageCause,
}

/// What damaged a range of the medium.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DamageCause {
    /// Where a misdirected write was aimed: the bytes meant for it never arrived.
    MisdirectedWriteAimed,
    /// Where a misdirected write landed: the bytes there were overwritten.
    MisdirectedWriteLanded,
    /// One bit flipped in synced data.
    BitRot,
    /// A sector that fails every read until a write remaps it.
    LatentSectorError,
}

/// Synced writes a crash's `rot_last_synced` may pick from: the freshest durable bytes, which
/// recovery after the crash scans (more than one, so valid records often follow the damage).
pub const RECENT_SYNCS_MAX: usize = 8;

/// A simulated disk. Cloning gives another handle to the same disk (it outlives crashed hosts).
#[derive(Clone)]
pub struct SimDisk {
    inner: Arc<Mutex<DiskState>>,
    /// An observer handle (see [`SimDisk::observer`]).
    observer: bool,
}

impl std::fmt::Debug for SimDisk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimDisk").finish_non_exhaustive()
    }
}

/// Synced bytes of an inode a media fault replaced: `was` by `now`, from `offset` (a bit rot
/// replaces one byte; a misdirected write's landing replaces a run).
pub(crate) struct Overwrite {
    pub ino: Ino,
    pub offset: u64,
    pub was: Vec<u8>,
    pub now: Vec<u8>,
}

pub(crate) struct DiskState {
    dirs: BTreeMap<PathBuf, Dir>,
    inodes: BTreeMap<Ino, Inode>,
    next_ino: Ino,
    /// Bumped at every crash and process kill; handles and locks from an older epoch are dead.
    epoch: u64,
    power_off_at_op: Option<u64>,
    /// The process dies at this call (see [`SimDisk::kill_process_at_op`]).
    kill_at_op: Option<u64>,
    /// False from a planned process kill until the world executes it: the dying process's calls
    /// fail, as after a power cut.
    process_alive: bool,
    /// The byte ranges the latest successful `sync_data` calls made durable (`[start, end)` of
    /// an inode), newest last, at most `RECENT_SYNCS_MAX`.
    recent_syncs: std::collections::VecDeque<(Ino, u64, u64)>,
    powered: bool,
    /// Calls per step of the world (see `crate::spin`).
    spin: Option<crate::spin::SpinWatch>,
    capacity_bytes: Option<u64>,
    /// Armed faults, each for the next call of its kind, oldest first.
    armed_fsync_eio: Vec<FsyncEioSpec>,
    armed_read_eio: u32,
    armed_read_corrupt: Vec<ArmedCorruption>,
    /// The sector (of an inode) the latest corrupt read flipped first.
    last_corrupt_sector: Option<(Ino, u64)>,
    /// The bits (absolute, in the file) each recent corrupt read flipped, so that no two hand
    /// back the same wrong bytes (see `read_corrupt.rs`).
    corrupt_returns: std::collections::VecDeque<(Ino, Vec<u64>)>,
    /// Every media fault that overwrote synced bytes, oldest first, with what it replaced (see
    /// [`SimDisk::synced_range_before_damage`]).
    overwritten: Vec<Overwrite>,
    armed_write_eio: Vec<WriteLanded>,
    armed_misdirect: Vec<MisdirectTarget>,
    armed_metadata_eio: Vec<MetadataOp>,
    /// Scheduled faults not yet fired, by operation count.
    schedule: BTreeMap<u64, Vec<DiskFault>>,
    /// Armed by [`SimDisk::heal_for_drain`] (the plan's `drain`).
    drain: Vec<DiskFault>,
    locks: BTreeMap<PathBuf, u64>,
    next_lock_token: u64,
    latency: Option<LatencyModel>,
    latency_rng: SimRng,
    /// Drawn latency of every sync call, for the fsync latency histogram of reports.
    sync_latencies_us: Vec<u64>,
    fault_rng: SimRng,
    stats: DiskStats,
    /// Every call and fault, in order: two runs are the same run iff these digests match.
    trace: blake3::Hasher,
    /// Entries of `trace` echoed to stderr so far, or `None` when not echoing (see
    /// [`SimDisk::echo_trace`]).
    trace_echoed: Option<u64>,
    fault_log: Vec<String>,
    /// Every file removed, with its live bytes at the removal (see [`SimDisk::removed_files`]).
    removed: Vec<(PathBuf, Vec<u8>)>,
    damage: Vec<MediaDamage>,
    /// A crash aimed at a disk event, waiting for it.
    aim: Option<aim::ArmedAim>,
    aim_outcome: Option<AimOutcome>,
    /// Whether the current process has completed a data sync (for `DiskEvent::FirstSync`).
    synced_this_process: bool,
}

impl SimDisk {
    /// A disk with no faults and no latency.
    pub fn new(seed: u64) -> Self {
        Self::with_plan(seed, &FaultPlan::none())
    }

    /// A disk that executes `plan`'s disk faults and latency. Crashes and clock faults in the plan
    /// are for the world to execute (see [`SimDisk::crash`]).
    pub fn with_plan(seed: u64, plan: &FaultPlan) -> Self {
        let mut schedule: BTreeMap<u64, Vec<DiskFault>> = BTreeMap::new();
        for ScheduledFault { at_op, fault } in &plan.disk {
            schedule.entry(*at_op).or_default().push(fault.clone());
        }
        let mut dirs = BTreeMap::new();
        dirs.insert(PathBuf::from("/"), Dir::default());
        dirs.insert(PathBuf::new(), Dir::default());
        let state = DiskState {
            dirs,
            inodes: BTreeMap::new(),
            next_ino: 1,
            epoch: 0,
            power_off_at_op: None,
            kill_at_op: None,
            process_alive: true,
            recent_syncs: Default::default(),
            powered: true,
            spin: Default::default(),
            capacity_bytes: None,
            armed_fsync_eio: Vec::new(),
            armed_read_eio: 0,
            armed_read_corrupt: Vec::new(),
            last_corrupt_sector: None,
            corrupt_returns: Default::default(),
            overwritten: Vec::new(),
            armed_write_eio: Vec::new(),
            armed_misdirect: Vec::new(),
            armed_metadata_eio: Vec::new(),
            schedule,
            drain: plan.drain.clone(),
            locks: BTreeMap::new(),
            next_lock_token: 1,
            latency: plan.latency,
            latency_rng: rng::stream(seed, "disk-latency"),
            sync_latencies_us: Vec::new(),
            fault_rng: rng::stream(seed, "disk-faults"),
            stats: DiskStats::default(),
            trace: blake3::Hasher::new(),
            trace_echoed: None,
            fault_log: Vec::new(),
            removed: Vec::new(),
            damage: Vec::new(),
            aim: None,
            aim_outcome: None,
            synced_this_process: false,
        };
        Self {
            inner: Arc::new(Mutex::new(state)),
            observer: false,
        }
    }

    /// Counts a writer's `sync_data` call as it begins (`DiskStats::data_sync_calls`).
    fn count_sync_call(&self) {
        if !self.observer {
            self.state().stats.data_sync_calls += 1;
        }
    }

    fn state(&self) -> MutexGuard<'_, DiskState> {
        // A panic while holding the lock is a harness bug already reported by that panic; keep
        // the disk usable so the report can still be written.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts a call: counts it, fires due faults, checks power and the process, draws its
    /// latency. Returns the epoch the call started in and how long the call takes (exactly the
    /// drawn microseconds, see `crate::time`), or `None` when the disk has no latency model.
    fn begin(&self, class: OpClass, epoch: Option<u64>) -> io::Result<(u64, Option<Duration>)> {
        let mut s = self.state();
        if let Some(calls) = s.spin.as_ref().and_then(|w| w.call()) {
            drop(s);
            crate::spin::spun("disk", calls);
        }
        let op = s.stats.ops;
        s.stats.ops += 1;
        s.fire_due(op);
        if s.power_off_at_op.is_some_and(|at| op >= at) {
            s.powered = false;
        }
        if s.kill_at_op.is_some_and(|at| op >= at) {
            s.process_alive = false;
        }
        s.check_live(epoch)?;
        let started = s.epoch;
        let Some(model) = s.latency else {
            return Ok((started, None));
        };
        let drawn_us = model.sample(class, &mut s.latency_rng).as_micros() as u64;
        s.stats.latency_us_total += drawn_us;
        if class == OpClass::Sync {
            s.sync_latencies_us.push(drawn_us);
        }
        Ok((started, Some(Duration::from_micros(drawn_us))))
    }

    /// Runs one call: begin, take the simulated latency, then act (if still powered and alive).
    async fn call<T>(
        &self,
        class: OpClass,
        epoch: Option<u64>,
        act: impl FnOnce(&mut DiskState) -> io::Result<T>,
    ) -> io::Result<T> {
        if self.observer {
            if matches!(class, OpClass::Write | OpClass::Sync) {
                return Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    "an observer view of the simulated disk cannot write",
                ));
            }
            // The oracles look around the fault model: a metadata error armed for the engine's
            // next call stays armed for it (an observer's list once took it and failed the run
            // as a harness error, held-out chaos seed 190001).
            let mut s = self.state();
            let armed = std::mem::take(&mut s.armed_metadata_eio);
            let r = act(&mut s);
            s.armed_metadata_eio = armed;
            return r;
        }
        let (started, delay) = self.begin(class, epoch)?;
        if let Some(delay) = delay {
            crate::time::sleep(delay).await;
        }
        let mut s = self.state();
        // Power may have failed, or the disk crashed or the process died, while this call was in
        // flight; a call without a handle belongs to the process that started it too.
        s.check_live(Some(started))?;
        act(&mut s)
    }
}

impl DiskState {
    fn check_live(&self, epoch: Option<u64>) -> io::Result<()> {
        if !self.powered || !self.process_alive {
            return Err(eio());
        }
        if epoch.is_some_and(|e| e != self.epoch) {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "stale handle: the disk crashed after this file was opened",
            ));
        }
        Ok(())
    }

    fn record(&mut self, parts: &[&[u8]]) {
        for p in parts {
            self.trace.update(&(p.len() as u64).to_le_bytes());
            self.trace.update(p);
        }
        if let Some(n) = self.trace_echoed.as_mut() {
            *n += 1;
            let tag = parts
                .first()
                .filter(|t| !t.is_empty() && t.iter().all(u8::is_ascii_graphic))
                .map_or_else(String::new, |t| String::from_utf8_lossy(t).into_owned());
            let mut entry = blake3::Hasher::new();
            for p in parts {
                entry.update(&(p.len() as u64).to_le_bytes());
                entry.update(p);
            }
            let digest = entry.finalize().to_hex();
            eprintln!("disk #{n} {tag} {}", &digest[..16]);
        }
    }

    fn record_result<T>(&mut self, tag: &str, ino: Ino, a: u64, b: u64, r: &io::Result<T>) {
        let code = match r {
            Ok(_) => 0,
            Err(e) => e.raw_os_error().unwrap_or(-1),
        };
        self.record(&[
            tag.as_bytes(),
            &ino.to_le_bytes(),
            &a.to_le_bytes(),
            &b.to_le_bytes(),
            &code.to_le_bytes(),
        ]);
    }

    /// Records damage to an inode's bytes under every name that links it.
    pub(crate) fn note_damage(&mut self, ino: Ino, start: u64, len: u64, cause: DamageCause) {
        let paths: Vec<PathBuf> = self
            .dirs
            .iter()
            .flat_map(|(dir, d)| {
                d.live
                    .iter()
                    .filter(move |(_, i)| **i == ino)
                    .map(move |(name, _)| dir.join(name))
            })
            .collect();
        for path in paths {
            self.damage.push(MediaDamage {
                path,
                start,
                len,
                cause,
            });
        }
    }

    fn usage_bytes(&self) -> u64 {
        let mut linked = std::collections::BTreeSet::new();
        for dir in self.dirs.values() {
            linked.extend(dir.live.values().copied());
        }
        linked
            .iter()
            .filter_map(|ino| self.inodes.get(ino))
            .map(|i| i.live.len() as u64)
            .sum()
    }

    fn inode_mut(&mut self, ino: Ino) -> io::Result<&mut Inode> {
        self.inodes
            .get_mut(&ino)
            .ok_or_else(|| io::Error::new(io::ErrorKind::BrokenPipe, "inode no longer exists"))
    }

    fn image(&self, durable: bool) -> Vec<u8> {
        let mut out = Vec::new();
        for (path, dir) in &self.dirs {
            if durable && !self.durably_reachable(path) {
                continue;
            }
            // Directories are part of the image (an empty one lost in a crash changes it); a
            // length no file can have marks them.
            let tag = path.to_string_lossy();
            out.extend_from_slice(&(tag.len() as u64).to_le_bytes());
            out.extend_from_slice(tag.as_bytes());
            out.extend_from_slice(&u64::MAX.to_le_bytes());
            let entries = if durable { &dir.durable } else { &dir.live };
            for (name, ino) in entries {
                let Some(inode) = self.inodes.get(ino) else {
                    continue;
                };
                let data = if durable { &inode.durable } else { &inode.live };
                let full = path.join(name);
                let full = full.to_string_lossy();
                out.extend_from_slice(&(full.len() as u64).to_le_bytes());
                out.extend_from_slice(full.as_bytes());
                out.extend_from_slice(&(data.len() as u64).to_le_bytes());
                out.extend_from_slice(data);
            }
        }
        out
    }

    /// How many more bytes may be allocated before ENOSPC.
    fn headroom(&self) -> Option<u64> {
        self.capacity_bytes
            .map(|cap| cap.saturating_sub(self.usage_bytes()))
    }
}
