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

mod aim;
mod crash;
mod dirs;
mod faults;
mod fsync_eio;
mod read_corrupt;
mod state;

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
    /// Drawn latency not yet slept: tokio timers tick in whole milliseconds, so sub-millisecond
    /// latencies accrue here and are slept once they add up, keeping total simulated time exact.
    latency_debt_us: u64,
    /// Drawn latency of every sync call, for the fsync latency histogram of reports.
    sync_latencies_us: Vec<u64>,
    fault_rng: SimRng,
    stats: DiskStats,
    /// Every call and fault, in order: two runs are the same run iff these digests match.
    trace: blake3::Hasher,
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
            latency_debt_us: 0,
            sync_latencies_us: Vec::new(),
            fault_rng: rng::stream(seed, "disk-faults"),
            stats: DiskStats::default(),
            trace: blake3::Hasher::new(),
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

    /// A read-only view for oracles: its calls are not counted, fire no faults, take no time
    /// and work without power, so checking the disk never changes the run being checked.
    /// Writes through it fail.
    pub fn observer(&self) -> SimDisk {
        SimDisk {
            inner: self.inner.clone(),
            observer: true,
        }
    }

    fn state(&self) -> MutexGuard<'_, DiskState> {
        // A panic while holding the lock is a harness bug already reported by that panic; keep
        // the disk usable so the report can still be written.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Calls made so far (the clock that plan events are keyed by).
    pub fn ops(&self) -> u64 {
        self.state().stats.ops
    }

    pub fn stats(&self) -> DiskStats {
        self.state().stats.clone()
    }

    /// Every byte range media faults damaged so far.
    pub fn media_damage(&self) -> Vec<MediaDamage> {
        self.state().damage.clone()
    }

    /// Takes the simulated latency of every sync call so far (microseconds).
    pub fn take_sync_latencies_us(&self) -> Vec<u64> {
        std::mem::take(&mut self.state().sync_latencies_us)
    }

    /// Every file removed so far, in order, with the bytes reads of it saw at the removal: what
    /// a truncation took from the log, for oracles that must judge records no scan saw before
    /// they went (a removal a crash undid puts the file back, and it is listed here all the same).
    pub fn removed_files(&self) -> Vec<(PathBuf, Vec<u8>)> {
        self.state().removed.clone()
    }

    /// Every fault that fired, resolved to where it landed, in order.
    pub fn fault_log(&self) -> Vec<String> {
        self.state().fault_log.clone()
    }

    /// Power fails at call number `op` (0-based, see [`SimDisk::ops`]): that call and every later
    /// one fail with EIO until [`SimDisk::crash`] restores power.
    pub fn power_off_at_op(&self, op: u64) {
        self.state()
            .plan_strike(crate::plan::CrashKind::PowerLoss, op);
    }

    /// Whether the power is still on.
    pub fn is_powered(&self) -> bool {
        self.state().powered
    }

    /// Power loss and restart: applies `spec` to everything not yet durable, kills every open
    /// handle and lock, and restores power.
    pub fn crash(&self, spec: &CrashSpec) -> CrashReport {
        self.state().crash(spec)
    }

    /// The process dies at call number `op` (0-based, see [`SimDisk::ops`]): that call and every
    /// later one fail with EIO until [`SimDisk::kill_process`] executes the kill.
    pub fn kill_process_at_op(&self, op: u64) {
        self.state()
            .plan_strike(crate::plan::CrashKind::ProcessKill, op);
    }

    /// Whether no planned process kill has struck since the last executed one.
    pub fn is_process_alive(&self) -> bool {
        self.state().process_alive
    }

    /// The process dies and a new one may start: every open handle and lock dies, and nothing
    /// else changes (the page cache outlives the process, so pending writes and entries stay
    /// pending and visible).
    pub fn kill_process(&self) {
        self.state().kill_process();
    }

    /// Arms a fault now (as if the plan scheduled it at the current operation).
    pub fn inject(&self, fault: DiskFault) {
        self.state().fire(fault);
    }

    /// Faults stop: drops every scheduled and armed fault, lifts the capacity and remaps latent
    /// sectors. What faults already did to the data stays (for the liveness phase of a run).
    pub fn heal(&self) {
        let mut s = self.state();
        s.schedule.clear();
        s.armed_fsync_eio.clear();
        s.armed_read_eio = 0;
        s.armed_read_corrupt.clear();
        s.armed_write_eio.clear();
        s.armed_misdirect.clear();
        s.armed_metadata_eio.clear();
        s.capacity_bytes = None;
        // A power cut or kill still scheduled would strike the fault-free phase.
        s.power_off_at_op = None;
        s.kill_at_op = None;
        s.aim = None;
        for inode in s.inodes.values_mut() {
            inode.bad_sectors.clear();
        }
        s.record(&[b"heal"]);
    }

    /// Faults stop as in [`SimDisk::heal`], and the plan's transient `drain` faults are armed
    /// for the calls that follow: what a healthy disk still does now and then (a read that fails
    /// once, a read that returns wrong bytes once) must not stall a process left to finish by
    /// itself. Arms them once; a second call only heals.
    pub fn heal_for_drain(&self) {
        self.heal();
        let mut s = self.state();
        let drain = std::mem::take(&mut s.drain);
        for fault in drain {
            s.fire_transient(fault, "drain");
        }
    }

    /// Arms `faults` now, for the calls that follow (a restart's first reads, see
    /// `CrashEvent::boot_reads`). Only transient read faults: lasting damage armed here would
    /// strike at no planned call.
    pub fn arm_transient(&self, faults: &[DiskFault]) {
        let mut s = self.state();
        for fault in faults {
            s.fire_transient(fault.clone(), "boot");
        }
    }

    /// An operator's repair: every latent sector error is remapped (reads of those sectors work
    /// again and return what the medium held); every other fault stays scheduled.
    pub fn remap_bad_sectors(&self) -> usize {
        let mut s = self.state();
        let mut remapped = 0;
        for inode in s.inodes.values_mut() {
            remapped += inode.bad_sectors.len();
            inode.bad_sectors.clear();
        }
        s.record(&[b"remap_bad_sectors"]);
        remapped
    }

    /// Sets or lifts an absolute capacity (ENOSPC beyond it).
    pub fn set_capacity(&self, bytes: Option<u64>) {
        self.inject(DiskFault::SetCapacity { bytes });
    }

    /// Flips one bit of synced data; returns false if the file has no durable byte there.
    pub fn flip_bit(&self, path: &Path, byte: u64, bit: u8) -> bool {
        self.state().flip_bit_at(path, byte, bit)
    }

    /// Bytes in use (sum of the live lengths of linked files).
    pub fn usage_bytes(&self) -> u64 {
        self.state().usage_bytes()
    }

    /// What a crash that drops everything pending would leave of `path`.
    pub fn durable_file(&self, path: &Path) -> Option<Vec<u8>> {
        let s = self.state();
        let (dir, name) = split(path).ok()?;
        if !s.durably_reachable(&dir) {
            return None;
        }
        let ino = s.dirs.get(&dir)?.durable.get(&name)?;
        Some(s.inodes.get(ino)?.durable.clone())
    }

    /// The names `dir` lists now (live entries, durable or not), sorted; empty if it is gone.
    pub fn live_names(&self, dir: &Path) -> Vec<String> {
        self.state()
            .dirs
            .get(dir)
            .map(|d| d.live.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Bytes `[start, end)` (clamped to the file) of the synced contents of the file `path`
    /// names now, with every bit rot and misdirected landing that struck them since they were
    /// synced undone: what the engine wrote and a reader could have read before the medium
    /// failed. A damaged byte written again since (it no longer holds what the fault left) is
    /// left as it is.
    pub fn synced_range_before_damage(&self, path: &Path, start: u64, end: u64) -> Option<Vec<u8>> {
        let s = self.state();
        let (dir, name) = split(path).ok()?;
        let ino = *s.dirs.get(&dir)?.live.get(&name)?;
        let bytes = &s.inodes.get(&ino)?.durable;
        let end = end.min(bytes.len() as u64);
        let start = start.min(end);
        let mut out = bytes[start as usize..end as usize].to_vec();
        // Newest first, so each undo meets the bytes its own fault left.
        for o in s.overwritten.iter().rev().filter(|o| o.ino == ino) {
            for (i, (&was, &now)) in o.was.iter().zip(&o.now).enumerate() {
                let at = o.offset + i as u64;
                if (start..end).contains(&at) {
                    let byte = &mut out[(at - start) as usize];
                    if *byte == now {
                        *byte = was;
                    }
                }
            }
        }
        Some(out)
    }

    /// What reads of `path` see now.
    pub fn live_file(&self, path: &Path) -> Option<Vec<u8>> {
        let s = self.state();
        let (dir, name) = split(path).ok()?;
        let ino = s.dirs.get(&dir)?.live.get(&name)?;
        Some(s.inodes.get(ino)?.live.clone())
    }

    /// A canonical serialisation of the durable state (directories, names, contents).
    pub fn durable_image(&self) -> Vec<u8> {
        self.state().image(true)
    }

    /// blake3 of the durable and the live image together, hex.
    pub fn image_digest(&self) -> String {
        let s = self.state();
        let mut h = blake3::Hasher::new();
        h.update(&s.image(true));
        h.update(&s.image(false));
        h.finalize().to_hex().to_string()
    }

    /// Counts every call from now on in `watch`, which panics past `CALLS_PER_STEP_MAX` calls
    /// within one step of the world (see `crate::spin`).
    pub fn watch_spin(&self, watch: crate::spin::SpinWatch) {
        self.state().spin = Some(watch);
    }

    /// blake3 of every call, its result and every fault so far, hex.
    pub fn trace_digest(&self) -> String {
        self.state().trace.finalize().to_hex().to_string()
    }

    /// Starts a call: counts it, fires due faults, checks power and the process, draws its
    /// latency. Returns the epoch the call started in and how long to sleep (whole
    /// milliseconds), or `None` when the disk has no latency model.
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
        s.latency_debt_us += drawn_us;
        let sleep_ms = s.latency_debt_us / 1_000;
        s.latency_debt_us %= 1_000;
        Ok((started, Some(Duration::from_millis(sleep_ms))))
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
        match delay {
            Some(delay) if !delay.is_zero() => tokio::time::sleep(delay).await,
            // No yield on a zero-length delay: `yield_now` inside turmoil's paused runtimes
            // made runs differ between processes (the CI determinism gate caught 1 in 4).
            Some(_) => {}
            None => {}
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

    /// The shared write path of write_at and append, with write EIO, capacity and misdirection.
    fn write(&mut self, ino: Ino, offset: u64, data: &[u8]) -> io::Result<()> {
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
    fn land(&mut self, target_ino: Ino, target_off: u64, data: &[u8]) -> io::Result<()> {
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

    fn set_len(&mut self, ino: Ino, len: u64) -> io::Result<()> {
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
    fn evict_cache(&mut self, ino: Ino) -> io::Result<()> {
        let inode = self.inode_mut(ino)?;
        let mut live = inode.durable.clone();
        for op in &inode.pending {
            state::apply_pending(&mut live, op);
        }
        inode.live = live;
        Ok(())
    }

    fn sync_data(&mut self, ino: Ino) -> io::Result<()> {
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

    fn read(&mut self, ino: Ino, offset: u64, buf: &mut [u8], observer: bool) -> io::Result<usize> {
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

    fn lookup(&self, path: &Path) -> io::Result<(PathBuf, String, Option<Ino>)> {
        let (dir, name) = split(path)?;
        let entries = self.dirs.get(&dir).ok_or_else(|| not_found("open", path))?;
        let ino = entries.live.get(&name).copied();
        Ok((dir, name, ino))
    }

    fn open(&mut self, path: &Path, mode: OpenMode) -> io::Result<Ino> {
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

    fn remove(&mut self, path: &Path) -> io::Result<()> {
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

    fn rename(&mut self, from: &Path, to: &Path) -> io::Result<()> {
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

    fn sync_dir(&mut self, path: &Path) -> io::Result<()> {
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

    fn list(&self, path: &Path) -> io::Result<Vec<String>> {
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
