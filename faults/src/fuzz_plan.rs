//! Fault plans from a fuzzer's bytes (feature `arbitrary`).
//!
//! A derived `Arbitrary` would draw `at_op` anywhere in `u64`, vectors of any length and clock
//! skews of centuries: almost every plan would fire nothing inside a run, or stall it for ever.
//! So plans are drawn within the same bounds the swarm generator uses ([`PlanConfig`]): events
//! inside the run's horizon, few of them, values the disk and clock models give meaning to. The
//! fuzzer then explores timing and combinations, which is where the swarm's coin flips are weak.

use arbitrary::{Arbitrary, Result, Unstructured};

use crate::latency::LatencyModel;
use crate::plan::{
    ClockJump, ClockPlan, CrashEvent, CrashKind, CrashMode, CrashSpec, DiskFault, FaultClass,
    FaultPlan, FileSelector, FsyncEioSpec, MisdirectTarget, ScheduledFault, WriteLanded,
};
use crate::swarm::{
    PlanConfig, BOOT_CRASH_OPS_MAX, CLOCK_DRIFT_PPM_MAX, CLOCK_JUMP_MS_MAX, CLOCK_SKEW_MS_MAX,
    FILE_SELECTOR_NTH_BELOW, FILL_UP_HEADROOM_BYTES_MAX, LATENT_SECTOR_BELOW,
    MISDIRECT_SHIFT_SECTORS_MAX, READ_CORRUPT_FLIPS_MAX, WRITE_EIO_PREFIX_SECTORS_MAX,
};

/// Scheduled disk faults in one arbitrary plan, at most. A handful already combine every class
/// pairwise across a short run; more mostly make runs that never get past their first fault.
pub const ARBITRARY_DISK_FAULTS_MAX: usize = 8;
/// Clock jumps in one arbitrary plan, at most.
pub const ARBITRARY_CLOCK_JUMPS_MAX: usize = 3;
/// An absolute capacity set by an arbitrary plan is at most this (a full device, then space
/// freed: the liveness phase lifts it).
pub const ARBITRARY_CAPACITY_BYTES_MAX: u64 = 1 << 20;

const PERCENT_MAX: u8 = 100;

/// The disk fault classes a plan schedules itself (crashes and clock faults are not disk faults;
/// slow I/O is the latency model).
const SCHEDULED_DISK_CLASSES: [FaultClass; 8] = [
    FaultClass::MisdirectedWrite,
    FaultClass::LatentSectorError,
    FaultClass::BitRot,
    FaultClass::Enospc,
    FaultClass::FsyncEio,
    FaultClass::ReadEio,
    FaultClass::ReadCorrupt,
    FaultClass::WriteEio,
];

impl<'a> Arbitrary<'a> for FaultPlan {
    /// A plan within the swarm's default shape (every class allowed, its default horizon).
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        FaultPlan::arbitrary_within(u, &PlanConfig::default())
    }
}

impl<'a> Arbitrary<'a> for CrashMode {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match u.choose_index(3)? {
            0 => CrashMode::KeepAll,
            1 => CrashMode::DropAll,
            _ => {
                let keep_pct = u.int_in_range(0..=PERCENT_MAX)?;
                let torn_pct = u.int_in_range(0..=PERCENT_MAX - keep_pct)?;
                CrashMode::Random { keep_pct, torn_pct }
            }
        })
    }
}

impl<'a> Arbitrary<'a> for WriteLanded {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match u.choose_index(3)? {
            0 => WriteLanded::Nothing,
            1 => WriteLanded::Prefix {
                sectors: u.int_in_range(1..=WRITE_EIO_PREFIX_SECTORS_MAX)?,
            },
            _ => WriteLanded::All,
        })
    }
}

impl<'a> Arbitrary<'a> for FsyncEioSpec {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(FsyncEioSpec {
            seed: u.arbitrary()?,
            mode: u.arbitrary()?,
        })
    }
}

impl<'a> Arbitrary<'a> for ClockJump {
    /// A jump within the swarm's bounds, in the first ten minutes of simulated time.
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        clock_jump(u, PlanConfig::default().duration_ms)
    }
}

fn clock_jump(u: &mut Unstructured<'_>, duration_ms: u64) -> Result<ClockJump> {
    Ok(ClockJump {
        at_ms: u.int_in_range(0..=duration_ms.max(1) - 1)?,
        delta_ms: u.int_in_range(-CLOCK_JUMP_MS_MAX..=CLOCK_JUMP_MS_MAX)?,
    })
}

fn file_selector(u: &mut Unstructured<'_>, config: &PlanConfig) -> Result<FileSelector> {
    if !config.target_paths.is_empty() && u.arbitrary()? {
        let at = u.choose_index(config.target_paths.len())?;
        return Ok(FileSelector::Path(config.target_paths[at].clone()));
    }
    Ok(FileSelector::Nth(
        u.int_in_range(0..=FILE_SELECTOR_NTH_BELOW - 1)?,
    ))
}

fn disk_fault(
    u: &mut Unstructured<'_>,
    class: FaultClass,
    config: &PlanConfig,
) -> Result<DiskFault> {
    Ok(match class {
        FaultClass::MisdirectedWrite => DiskFault::MisdirectedWrite(if u.arbitrary()? {
            MisdirectTarget::Shift {
                sectors: u
                    .int_in_range(-MISDIRECT_SHIFT_SECTORS_MAX..=MISDIRECT_SHIFT_SECTORS_MAX)?,
            }
        } else {
            MisdirectTarget::OtherFile {
                file: file_selector(u, config)?,
            }
        }),
        FaultClass::LatentSectorError => DiskFault::LatentSectorError {
            file: file_selector(u, config)?,
            sector: u.int_in_range(0..=LATENT_SECTOR_BELOW - 1)?,
        },
        FaultClass::BitRot => DiskFault::BitRot {
            file: file_selector(u, config)?,
            byte: u.arbitrary()?,
            bit: u.int_in_range(0..=7)?,
        },
        FaultClass::Enospc => {
            if u.arbitrary()? {
                DiskFault::FillUp {
                    headroom_bytes: u.int_in_range(0..=FILL_UP_HEADROOM_BYTES_MAX)?,
                }
            } else {
                let bytes = if u.arbitrary()? {
                    Some(u.int_in_range(0..=ARBITRARY_CAPACITY_BYTES_MAX)?)
                } else {
                    None
                };
                DiskFault::SetCapacity { bytes }
            }
        }
        FaultClass::FsyncEio => DiskFault::FsyncEio {
            spec: u.arbitrary()?,
        },
        FaultClass::ReadEio => DiskFault::ReadEio,
        FaultClass::ReadCorrupt => DiskFault::ReadCorrupt {
            file: if u.arbitrary()? {
                Some(file_selector(u, config)?)
            } else {
                None
            },
            seed: u.arbitrary()?,
            flips: u.int_in_range(1..=READ_CORRUPT_FLIPS_MAX)?,
            // Not drawn, so that committed inputs keep the plans they were found with.
            same_sector: false,
        },
        // Only scheduled disk classes reach here (see `SCHEDULED_DISK_CLASSES`).
        _ => DiskFault::WriteEio {
            landed: u.arbitrary()?,
        },
    })
}

fn crash_event(
    u: &mut Unstructured<'_>,
    kind: CrashKind,
    horizon: u64,
    config: &PlanConfig,
) -> Result<CrashEvent> {
    let rot_last_synced = (kind == CrashKind::PowerLoss
        && config.allowed.contains(&FaultClass::BitRot)
        && u.arbitrary()?)
    .then(|| u.arbitrary())
    .transpose()?;
    let at_boot_op = if u.arbitrary()? {
        Some(u.int_in_range(0..=BOOT_CRASH_OPS_MAX - 1)?)
    } else {
        None
    };
    Ok(CrashEvent {
        at_op: u.int_in_range(0..=horizon - 1)?,
        spec: CrashSpec {
            seed: u.arbitrary()?,
            mode: u.arbitrary()?,
            rot_last_synced,
        },
        kind,
        at_boot_op,
        // Not drawn from the input: that would give every committed corpus input another plan.
        aimed: None,
        boot_reads: Vec::new(),
    })
}

impl FaultPlan {
    /// A plan drawn from `u` within `config`'s shape: only allowed classes, events inside
    /// `[0, op_horizon)` disk operations and `[0, duration_ms)` of simulated time, between
    /// `crashes_min` and `crashes_max` power losses when crashes are allowed, at most
    /// `events_per_class_max` process kills and clock jumps, at most
    /// [`ARBITRARY_DISK_FAULTS_MAX`] disk faults, values within the swarm generator's bounds.
    /// Vectors come out sorted and `classes` lists exactly the classes present, as `generate`
    /// makes them. Forced classes are not forced: the fuzzer decides.
    pub fn arbitrary_within(u: &mut Unstructured<'_>, config: &PlanConfig) -> Result<FaultPlan> {
        let horizon = config.op_horizon.max(1);
        let allowed = |class| config.allowed.contains(&class);
        let per_class_max = config.events_per_class_max as usize;
        let mut plan = FaultPlan {
            seed: 0,
            ..FaultPlan::default()
        };
        if allowed(FaultClass::Crash) {
            let crashes_max = config.crashes_max.max(config.crashes_min);
            let n = u.int_in_range(config.crashes_min..=crashes_max)?;
            for _ in 0..n {
                plan.crashes
                    .push(crash_event(u, CrashKind::PowerLoss, horizon, config)?);
            }
        }
        if allowed(FaultClass::ProcessKill) {
            for _ in 0..u.int_in_range(0..=per_class_max)? {
                plan.crashes
                    .push(crash_event(u, CrashKind::ProcessKill, horizon, config)?);
            }
        }
        let disk_classes: Vec<FaultClass> = SCHEDULED_DISK_CLASSES
            .into_iter()
            .filter(|c| allowed(*c))
            .collect();
        if !disk_classes.is_empty() {
            for _ in 0..u.int_in_range(0..=ARBITRARY_DISK_FAULTS_MAX)? {
                let class = disk_classes[u.choose_index(disk_classes.len())?];
                let at_op = u.int_in_range(0..=horizon - 1)?;
                let fault = disk_fault(u, class, config)?;
                plan.disk.push(ScheduledFault { at_op, fault });
            }
        }
        if allowed(FaultClass::SlowIo) && u.arbitrary()? {
            plan.latency = Some(LatencyModel::ssd());
        }
        let mut clock = ClockPlan::default();
        if allowed(FaultClass::ClockSkew) && u.arbitrary()? {
            clock.skew_ms = u.int_in_range(-CLOCK_SKEW_MS_MAX..=CLOCK_SKEW_MS_MAX)?;
        }
        if allowed(FaultClass::ClockDrift) && u.arbitrary()? {
            clock.drift_ppm = u.int_in_range(-CLOCK_DRIFT_PPM_MAX..=CLOCK_DRIFT_PPM_MAX)?;
        }
        if allowed(FaultClass::ClockJump) {
            let jumps_max = per_class_max.min(ARBITRARY_CLOCK_JUMPS_MAX);
            for _ in 0..u.int_in_range(0..=jumps_max)? {
                clock.jumps.push(clock_jump(u, config.duration_ms)?);
            }
        }
        plan.clock = clock;
        plan.disk.sort_by_key(|f| f.at_op);
        plan.crashes.sort_by_key(|c| c.at_op);
        plan.clock.jumps.sort_by_key(|j| j.at_ms);
        plan.classes = classes_present(&plan);
        Ok(plan)
    }
}

/// The classes whose events `plan` holds, in [`FaultClass::ALL`] order (as `generate` lists
/// them).
fn classes_present(plan: &FaultPlan) -> Vec<FaultClass> {
    FaultClass::ALL
        .into_iter()
        .filter(|class| match class {
            FaultClass::Crash => plan.crashes.iter().any(|c| c.kind == CrashKind::PowerLoss),
            FaultClass::ProcessKill => plan
                .crashes
                .iter()
                .any(|c| c.kind == CrashKind::ProcessKill),
            FaultClass::SlowIo => plan.latency.is_some(),
            FaultClass::ClockSkew => plan.clock.skew_ms != 0,
            FaultClass::ClockDrift => plan.clock.drift_ppm != 0,
            FaultClass::ClockJump => !plan.clock.jumps.is_empty(),
            disk => plan.disk.iter().any(|f| f.fault.class() == *disk),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(seed: u64, len: usize) -> Vec<u8> {
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    #[test]
    fn arbitrary_plans_stay_within_their_config() {
        let config = PlanConfig {
            op_horizon: 300,
            duration_ms: 5_000,
            crashes_min: 1,
            crashes_max: 3,
            ..PlanConfig::default()
        };
        for seed in 0..500 {
            let data = bytes(seed, 512);
            let plan = FaultPlan::arbitrary_within(&mut Unstructured::new(&data), &config)
                .expect("enough bytes");
            let power_losses = plan
                .crashes
                .iter()
                .filter(|c| c.kind == CrashKind::PowerLoss)
                .count();
            assert!((1..=3).contains(&power_losses), "{plan:?}");
            assert!(plan.disk.len() <= ARBITRARY_DISK_FAULTS_MAX);
            assert!(plan.disk.iter().all(|f| f.at_op < 300));
            assert!(plan.crashes.iter().all(|c| c.at_op < 300));
            assert!(plan.clock.jumps.iter().all(|j| j.at_ms < 5_000));
            assert!(plan.disk.is_sorted_by_key(|f| f.at_op));
            assert!(plan.crashes.is_sorted_by_key(|c| c.at_op));
            for f in &plan.disk {
                assert!(plan.classes.contains(&f.fault.class()));
            }
            // A plan is data: it survives its own JSON.
            assert_eq!(FaultPlan::from_json(&plan.to_json()).unwrap(), plan);
        }
    }

    #[test]
    fn classes_not_allowed_never_appear() {
        let config = PlanConfig {
            allowed: vec![FaultClass::SlowIo],
            crashes_min: 0,
            crashes_max: 0,
            ..PlanConfig::default()
        };
        for seed in 0..200 {
            let data = bytes(seed, 256);
            let plan = FaultPlan::arbitrary_within(&mut Unstructured::new(&data), &config).unwrap();
            assert!(plan.crashes.is_empty() && plan.disk.is_empty(), "{plan:?}");
            assert_eq!(plan.clock, ClockPlan::default());
        }
    }

    #[test]
    fn no_bytes_still_give_a_plan() {
        let plan = FaultPlan::arbitrary(&mut Unstructured::new(&[])).unwrap();
        assert!(plan
            .crashes
            .iter()
            .all(|c| c.at_op < PlanConfig::default().op_horizon));
    }
}
