//! Swarm generation of fault plans: per seed, each fault class is switched on or off and given a
//! rate, so across a sweep some seeds hammer one fault class while others combine several
//! (swarm testing, Groce et al.), which finds more bugs than one fixed mix.

use std::path::PathBuf;

use rand::seq::IndexedRandom;
use rand::{Rng, RngCore};
use serde::{Deserialize, Serialize};

use crate::kv::{KvFault, ScheduledKvFault};
use crate::latency::LatencyModel;
use crate::plan::{
    ClockJump, CrashAim, CrashEvent, CrashKind, CrashMode, CrashSpec, DiskEvent, DiskFault,
    FaultClass, FaultPlan, FileSelector, FsyncEioSpec, MetadataOp, MisdirectTarget, ScheduledFault,
    WriteLanded,
};
use crate::rng;

/// The shape of the plans to generate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanConfig {
    /// Disk faults and crashes fall in `[0, op_horizon)` disk operations.
    pub op_horizon: u64,
    /// Clock jumps fall in `[0, duration_ms)` of simulated time.
    pub duration_ms: u64,
    /// Crashes per plan when the crash class is on: between `crashes_min` and `crashes_max`.
    pub crashes_min: u32,
    pub crashes_max: u32,
    /// Events per enabled non-crash class, at most.
    pub events_per_class_max: u32,
    /// Classes the swarm may switch on; a class not listed never appears.
    pub allowed: Vec<FaultClass>,
    /// Classes always on (a subset of `allowed`); the rest are on with probability 1/2.
    pub forced: Vec<FaultClass>,
    /// Where an explicit path selector may point (e.g. the WAL's files); empty means "any file".
    pub target_paths: Vec<PathBuf>,
}

impl Default for PlanConfig {
    fn default() -> Self {
        Self {
            op_horizon: 4_000,
            duration_ms: 10_000,
            crashes_min: 1,
            crashes_max: 3,
            events_per_class_max: 3,
            allowed: FaultClass::ALL.to_vec(),
            forced: Vec::new(),
            target_paths: Vec::new(),
        }
    }
}

/// Largest skew, drift and jump the generator draws (named so reports can cite them).
pub(crate) const CLOCK_SKEW_MS_MAX: i64 = 120_000;
pub(crate) const CLOCK_DRIFT_PPM_MAX: i64 = 500;
pub(crate) const CLOCK_JUMP_MS_MAX: i64 = 3_600_000;
/// Chance that a crash also corrupts the last synced write (see `CrashSpec::rot_last_synced`).
const CRASH_ROT_PROBABILITY: f64 = 0.5;
/// ENOSPC strikes this many bytes above the usage at the time, at most.
pub(crate) const FILL_UP_HEADROOM_BYTES_MAX: u64 = 64 * 1024;
/// Chance that a crash (either kind) is timed from the latest start of the process rather than
/// from the disk's creation. Uniform times almost never land in the few calls recovery makes,
/// and recovery is where a crash is hardest to survive (see `CrashEvent::at_boot_op`).
const BOOT_CRASH_PROBABILITY: f64 = 0.25;
/// A boot-timed crash strikes within this many calls of the start. The engine's open (create and
/// sync its directory, lock, list, load the quarantine list, scan from the checkpoint, cut back,
/// sync) takes 9 to 11 calls over a caught-up log and more when it must scan, so most strike
/// inside recovery and the rest in the catch-up just after it.
pub(crate) const BOOT_CRASH_OPS_MAX: u64 = 16;
/// Chance that a crash not timed from a start is aimed at a disk event (see `CrashAim`).
const AIMED_CRASH_PROBABILITY: f64 = 0.3;
/// An aimed crash strikes at most this many calls after its event (0: the very next call).
pub(crate) const AIM_AFTER_CALLS_MAX: u32 = 3;
/// An aimed crash strikes at the first to this-th occurrence of its event.
pub(crate) const AIM_NTH_MAX: u32 = 3;
/// Chance that a transient read class the plan has also strikes the drain (see `draw_drain`).
const DRAIN_FAULT_PROBABILITY: f64 = 0.75;
/// Chance that a transient read fault comes as a run of them at one call (see `burst_reads`).
const READ_BURST_PROBABILITY: f64 = 0.25;
/// A run of transient read faults is at most this long: past the re-reads an engine makes
/// before it judges bytes (two), and short of the point where giving up is the only answer.
pub(crate) const READ_BURST_MAX: u32 = 6;
/// Chance that a crash's restart meets a run of transient read faults (see `draw_boot_reads`).
const BOOT_READS_PROBABILITY: f64 = 0.3;
/// KV calls per disk call, roughly, in the simulator's workloads (each ingested record reads a
/// few keys and writes one batch; a query scans and writes its audit record): KV faults fall in
/// `[0, op_horizon * KV_CALLS_PER_DISK_OP)` calls of the store.
pub(crate) const KV_CALLS_PER_DISK_OP: u64 = 2;
/// The KV faults each class draws from.
const KV_EIO_FAULTS: [KvFault; 4] = [
    KvFault::GetEio,
    KvFault::ScanEio,
    KvFault::ApplyEio,
    KvFault::FlushEio,
];
const KV_CORRUPT_FAULTS: [KvFault; 3] = [
    KvFault::GetCorrupt,
    KvFault::ScanCorrupt,
    KvFault::ApplyCorrupt,
];
/// Bits a corrupt read flips, at most.
pub(crate) const READ_CORRUPT_FLIPS_MAX: u8 = 4;
/// A failed write's landed prefix ends at most this many sector boundaries past its offset.
pub(crate) const WRITE_EIO_PREFIX_SECTORS_MAX: u32 = 8;
/// A misdirected write lands at most this many sectors away from where it was aimed.
pub(crate) const MISDIRECT_SHIFT_SECTORS_MAX: i64 = 8;
/// `FileSelector::Nth` draws below this (taken modulo the number of files when it fires).
pub(crate) const FILE_SELECTOR_NTH_BELOW: u32 = 64;
/// Latent sector errors strike a sector below this (2 MiB of 512-byte sectors: the WAL's files).
pub(crate) const LATENT_SECTOR_BELOW: u64 = 4096;
/// Share of fsync EIO faults that drop everything they covered (the classic reading of Linux);
/// the others persist, drop or tear each covered write.
const FSYNC_EIO_DROP_ALL_PROBABILITY: f64 = 0.25;

impl FaultPlan {
    /// The plan of `seed` under `config`. Same inputs, same plan, on every machine.
    pub fn generate(seed: u64, config: &PlanConfig) -> FaultPlan {
        let mut rng = rng::stream(seed, "fault-plan");
        let horizon = config.op_horizon.max(1);
        let mut classes = Vec::new();
        for class in FaultClass::ALL {
            // Draw for every class, allowed or not, so allowing one class does not reshuffle the
            // others' draws.
            let coin = rng.random_bool(0.5);
            if config.allowed.contains(&class) && (coin || config.forced.contains(&class)) {
                classes.push(class);
            }
        }
        let mut plan = FaultPlan {
            seed,
            classes: classes.clone(),
            ..FaultPlan::default()
        };
        for class in classes {
            let mut class_rng = rng::stream(seed, class.name());
            let events = class_rng.random_range(1..=config.events_per_class_max.max(1));
            let at = |r: &mut rng::SimRng| r.random_range(0..horizon);
            match class {
                FaultClass::Crash => {
                    let n = class_rng.random_range(
                        config.crashes_min..=config.crashes_max.max(config.crashes_min),
                    );
                    for _ in 0..n {
                        let mode = outcome_mode(&mut class_rng);
                        let at_op = at(&mut class_rng);
                        let seed = class_rng.next_u64();
                        // Only where media faults are allowed at all (the class list says so).
                        let rot_last_synced = (config.allowed.contains(&FaultClass::BitRot)
                            && class_rng.random_bool(CRASH_ROT_PROBABILITY))
                        .then(|| class_rng.next_u64());
                        let at_boot_op = boot_op(&mut class_rng);
                        plan.crashes.push(CrashEvent {
                            at_op,
                            spec: CrashSpec {
                                seed,
                                mode,
                                rot_last_synced,
                            },
                            kind: CrashKind::PowerLoss,
                            at_boot_op,
                            aimed: None,
                            boot_reads: Vec::new(),
                        });
                    }
                }
                FaultClass::ProcessKill => {
                    for _ in 0..events {
                        // The mode decides only what the KV's unflushed state keeps: the disk
                        // loses nothing in a process kill.
                        let mode = outcome_mode(&mut class_rng);
                        let at_op = at(&mut class_rng);
                        let seed = class_rng.next_u64();
                        let at_boot_op = boot_op(&mut class_rng);
                        plan.crashes.push(CrashEvent {
                            at_op,
                            spec: CrashSpec {
                                seed,
                                mode,
                                rot_last_synced: None,
                            },
                            kind: CrashKind::ProcessKill,
                            at_boot_op,
                            aimed: None,
                            boot_reads: Vec::new(),
                        });
                    }
                }
                FaultClass::KvEio | FaultClass::KvCorrupt => {
                    let kinds = if class == FaultClass::KvEio {
                        &KV_EIO_FAULTS[..]
                    } else {
                        &KV_CORRUPT_FAULTS[..]
                    };
                    let calls = horizon.saturating_mul(KV_CALLS_PER_DISK_OP).max(1);
                    for _ in 0..events {
                        plan.kv.push(ScheduledKvFault {
                            at_call: class_rng.random_range(0..calls),
                            fault: kinds[class_rng.random_range(0..kinds.len())],
                        });
                    }
                }
                FaultClass::SlowIo => plan.latency = Some(LatencyModel::ssd()),
                FaultClass::ClockSkew => {
                    plan.clock.skew_ms =
                        class_rng.random_range(-CLOCK_SKEW_MS_MAX..=CLOCK_SKEW_MS_MAX)
                }
                FaultClass::ClockDrift => {
                    plan.clock.drift_ppm =
                        class_rng.random_range(-CLOCK_DRIFT_PPM_MAX..=CLOCK_DRIFT_PPM_MAX)
                }
                FaultClass::ClockJump => {
                    for _ in 0..events {
                        plan.clock.jumps.push(ClockJump {
                            at_ms: class_rng.random_range(0..config.duration_ms.max(1)),
                            delta_ms: class_rng
                                .random_range(-CLOCK_JUMP_MS_MAX..=CLOCK_JUMP_MS_MAX),
                        });
                    }
                }
                FaultClass::Enospc => {
                    for _ in 0..events {
                        let start = at(&mut class_rng);
                        let end = class_rng.random_range(start..=horizon);
                        let headroom_bytes = class_rng.random_range(0..=FILL_UP_HEADROOM_BYTES_MAX);
                        plan.disk.push(ScheduledFault {
                            at_op: start,
                            fault: DiskFault::FillUp { headroom_bytes },
                        });
                        // Space comes back, so the run can show it recovers (liveness).
                        plan.disk.push(ScheduledFault {
                            at_op: end,
                            fault: DiskFault::SetCapacity { bytes: None },
                        });
                    }
                }
                _ => {
                    for _ in 0..events {
                        let at_op = at(&mut class_rng);
                        let fault = disk_fault(class, config, &mut class_rng);
                        plan.disk.push(ScheduledFault { at_op, fault });
                    }
                }
            }
        }
        aim_crashes(seed, &mut plan);
        burst_reads(seed, &mut plan);
        draw_boot_reads(seed, config, &mut plan);
        draw_drain(seed, config, &mut plan);
        plan.disk.sort_by_key(|f| f.at_op);
        plan.crashes.sort_by_key(|c| c.at_op);
        plan.clock.jumps.sort_by_key(|j| j.at_ms);
        plan.kv.sort_by_key(|f| f.at_call);
        plan
    }
}

/// Per-write outcome percentages, as a crash or a failed fsync applies them.
fn outcome_mode(rng: &mut rng::SimRng) -> CrashMode {
    let keep_pct = rng.random_range(0..=100u8);
    let torn_pct = rng.random_range(0..=100 - keep_pct);
    CrashMode::Random { keep_pct, torn_pct }
}

/// Aims a share of the crashes not timed from a start at a disk event the plan can cause. The
/// draws come from their own stream, so adding aiming left every other draw of a seed as it was.
fn aim_crashes(seed: u64, plan: &mut FaultPlan) {
    let mut rng = rng::stream(seed, "crash-aim");
    let has = |c: FaultClass| plan.classes.contains(&c);
    let mut events: Vec<DiskEvent> = DiskEvent::ALL
        .into_iter()
        .filter(|e| match e {
            DiskEvent::StorageFull => has(FaultClass::Enospc),
            DiskEvent::IoError => has(FaultClass::FsyncEio) || has(FaultClass::WriteEio),
            _ => true,
        })
        .collect();
    // The refusals the plan causes are rarer than the events every run has, and cleaning up
    // after them is the least exercised code: draw them twice as often.
    let rare: Vec<DiskEvent> = [DiskEvent::StorageFull, DiskEvent::IoError]
        .into_iter()
        .filter(|e| events.contains(e))
        .collect();
    events.extend(rare);
    for crash in &mut plan.crashes {
        let aimed = rng.random_bool(AIMED_CRASH_PROBABILITY);
        let aim = CrashAim {
            event: events[rng.random_range(0..events.len())],
            nth: rng.random_range(1..=AIM_NTH_MAX),
            after_calls: rng.random_range(0..=AIM_AFTER_CALLS_MAX),
        };
        if aimed && crash.at_boot_op.is_none() {
            crash.aimed = Some(aim);
        }
    }
}

/// Turns a share of the transient read faults into runs: several armed at one call, so several
/// reads in a row go wrong (a flaky cable or controller misbehaves for a while, not for exactly
/// one read). One at a time, an engine that re-reads a fixed number of times and then judges
/// looks right; a run longer than its re-reads makes it cut or quarantine good data. Each
/// corrupt read of a run flips its own bits. Drawn from their own stream, so every other draw of
/// a seed is as it was.
fn burst_reads(seed: u64, plan: &mut FaultPlan) {
    let mut rng = rng::stream(seed, "read-bursts");
    let mut runs = Vec::new();
    for scheduled in &plan.disk {
        let transient = matches!(
            scheduled.fault,
            DiskFault::ReadEio | DiskFault::ReadCorrupt { .. }
        );
        if !transient || !rng.random_bool(READ_BURST_PROBABILITY) {
            continue;
        }
        for _ in 1..rng.random_range(2..=READ_BURST_MAX) {
            let fault = match &scheduled.fault {
                DiskFault::ReadCorrupt { file, flips, .. } => DiskFault::ReadCorrupt {
                    file: file.clone(),
                    seed: rng.next_u64(),
                    flips: *flips,
                    same_sector: true,
                },
                other => other.clone(),
            };
            runs.push(ScheduledFault {
                at_op: scheduled.at_op,
                fault,
            });
        }
    }
    plan.disk.extend(runs);
}

/// Gives a share of the crashes a run of 1 to [`READ_BURST_MAX`] transient read faults of a
/// class the plan has, armed as the process restarts (`CrashEvent::boot_reads`), so recovery's
/// own reads go wrong: the few reads that decide what to cut and what to quarantine. Drawn from
/// their own stream, so every other draw of a seed is as it was.
fn draw_boot_reads(seed: u64, config: &PlanConfig, plan: &mut FaultPlan) {
    let mut rng = rng::stream(seed, "boot-reads");
    let classes: Vec<FaultClass> = [FaultClass::ReadEio, FaultClass::ReadCorrupt]
        .into_iter()
        .filter(|c| plan.classes.contains(c))
        .collect();
    if classes.is_empty() {
        return;
    }
    for crash in &mut plan.crashes {
        if !rng.random_bool(BOOT_READS_PROBABILITY) {
            continue;
        }
        let class = classes[rng.random_range(0..classes.len())];
        let run = rng.random_range(1..=READ_BURST_MAX);
        crash.boot_reads = (0..run)
            .map(|i| match disk_fault(class, config, &mut rng) {
                DiskFault::ReadCorrupt {
                    file, seed, flips, ..
                } => DiskFault::ReadCorrupt {
                    file,
                    seed,
                    flips,
                    same_sector: i > 0,
                },
                other => other,
            })
            .collect();
    }
}

/// Arms, for the drain after faults stop, one fault of each transient read class the plan has.
/// Uniform times put a read fault in the few reads of a drain almost never, and a worker that
/// takes a failed read for the end of the log is seen stuck only when no write follows. Drawn
/// from their own stream, so every other draw of a seed is as it was.
fn draw_drain(seed: u64, config: &PlanConfig, plan: &mut FaultPlan) {
    let mut rng = rng::stream(seed, "drain-faults");
    for class in [FaultClass::ReadEio, FaultClass::ReadCorrupt] {
        if plan.classes.contains(&class) && rng.random_bool(DRAIN_FAULT_PROBABILITY) {
            plan.drain.push(disk_fault(class, config, &mut rng));
        }
    }
}

fn boot_op(rng: &mut rng::SimRng) -> Option<u64> {
    rng.random_bool(BOOT_CRASH_PROBABILITY)
        .then(|| rng.random_range(0..BOOT_CRASH_OPS_MAX))
}

fn file_selector(config: &PlanConfig, rng: &mut rng::SimRng) -> FileSelector {
    match config.target_paths.choose(rng) {
        Some(path) if rng.random_bool(0.5) => FileSelector::Path(path.clone()),
        _ => FileSelector::Nth(rng.random_range(0..FILE_SELECTOR_NTH_BELOW)),
    }
}

fn disk_fault(class: FaultClass, config: &PlanConfig, rng: &mut rng::SimRng) -> DiskFault {
    match class {
        FaultClass::FsyncEio => DiskFault::FsyncEio {
            spec: if rng.random_bool(FSYNC_EIO_DROP_ALL_PROBABILITY) {
                FsyncEioSpec::drop_all()
            } else {
                FsyncEioSpec {
                    seed: rng.next_u64(),
                    mode: outcome_mode(rng),
                }
            },
        },
        FaultClass::ReadEio => DiskFault::ReadEio,
        FaultClass::ReadCorrupt => {
            let targeted = rng.random_bool(0.5);
            DiskFault::ReadCorrupt {
                file: targeted.then(|| file_selector(config, rng)),
                seed: rng.next_u64(),
                flips: rng.random_range(1..=READ_CORRUPT_FLIPS_MAX),
                same_sector: false,
            }
        }
        FaultClass::WriteEio => DiskFault::WriteEio {
            landed: match rng.random_range(0..3u8) {
                0 => WriteLanded::Nothing,
                1 => WriteLanded::Prefix {
                    sectors: rng.random_range(1..=WRITE_EIO_PREFIX_SECTORS_MAX),
                },
                _ => WriteLanded::All,
            },
        },
        FaultClass::MisdirectedWrite => DiskFault::MisdirectedWrite(if rng.random_bool(0.5) {
            MisdirectTarget::Shift {
                sectors: rng
                    .random_range(-MISDIRECT_SHIFT_SECTORS_MAX..=MISDIRECT_SHIFT_SECTORS_MAX),
            }
        } else {
            MisdirectTarget::OtherFile {
                file: file_selector(config, rng),
            }
        }),
        FaultClass::LatentSectorError => DiskFault::LatentSectorError {
            file: file_selector(config, rng),
            sector: rng.random_range(0..LATENT_SECTOR_BELOW),
        },
        FaultClass::BitRot => DiskFault::BitRot {
            file: file_selector(config, rng),
            byte: rng.next_u64(),
            bit: rng.random_range(0..8),
        },
        FaultClass::MetadataEio => DiskFault::MetadataEio {
            op: MetadataOp::ALL[rng.random_range(0..MetadataOp::ALL.len())],
        },
        other => unreachable!("{other:?} is not a scheduled disk fault"),
    }
}
