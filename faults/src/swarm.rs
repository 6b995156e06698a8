//! Swarm generation of fault plans: per seed, each fault class is switched on or off and given a
//! rate, so across a sweep some seeds hammer one fault class while others combine several
//! (swarm testing, Groce et al.), which finds more bugs than one fixed mix.

use std::path::PathBuf;

use rand::seq::IndexedRandom;
use rand::{Rng, RngCore};
use serde::{Deserialize, Serialize};

use crate::latency::LatencyModel;
use crate::plan::{
    ClockJump, CrashEvent, CrashMode, CrashSpec, DiskFault, FaultClass, FaultPlan, FileSelector,
    MisdirectTarget, ScheduledFault,
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
const CLOCK_SKEW_MS_MAX: i64 = 120_000;
const CLOCK_DRIFT_PPM_MAX: i64 = 500;
const CLOCK_JUMP_MS_MAX: i64 = 3_600_000;
/// Chance that a crash also corrupts the last synced write (see `CrashSpec::rot_last_synced`).
const CRASH_ROT_PROBABILITY: f64 = 0.5;
/// ENOSPC strikes this many bytes above the usage at the time, at most.
const FILL_UP_HEADROOM_BYTES_MAX: u64 = 64 * 1024;

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
                        let keep_pct = class_rng.random_range(0..=100u8);
                        let torn_pct = class_rng.random_range(0..=100 - keep_pct);
                        let at_op = at(&mut class_rng);
                        let seed = class_rng.next_u64();
                        // Only where media faults are allowed at all (the class list says so).
                        let rot_last_synced = (config.allowed.contains(&FaultClass::BitRot)
                            && class_rng.random_bool(CRASH_ROT_PROBABILITY))
                        .then(|| class_rng.next_u64());
                        plan.crashes.push(CrashEvent {
                            at_op,
                            spec: CrashSpec {
                                seed,
                                mode: CrashMode::Random { keep_pct, torn_pct },
                                rot_last_synced,
                            },
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
        plan.disk.sort_by_key(|f| f.at_op);
        plan.crashes.sort_by_key(|c| c.at_op);
        plan.clock.jumps.sort_by_key(|j| j.at_ms);
        plan
    }
}

fn file_selector(config: &PlanConfig, rng: &mut rng::SimRng) -> FileSelector {
    match config.target_paths.choose(rng) {
        Some(path) if rng.random_bool(0.5) => FileSelector::Path(path.clone()),
        _ => FileSelector::Nth(rng.random_range(0..64)),
    }
}

fn disk_fault(class: FaultClass, config: &PlanConfig, rng: &mut rng::SimRng) -> DiskFault {
    match class {
        FaultClass::FsyncEio => DiskFault::FsyncEio,
        FaultClass::ReadEio => DiskFault::ReadEio,
        FaultClass::MisdirectedWrite => DiskFault::MisdirectedWrite(if rng.random_bool(0.5) {
            MisdirectTarget::Shift {
                sectors: rng.random_range(-8..=8i64),
            }
        } else {
            MisdirectTarget::OtherFile {
                file: file_selector(config, rng),
            }
        }),
        FaultClass::LatentSectorError => DiskFault::LatentSectorError {
            file: file_selector(config, rng),
            sector: rng.random_range(0..4096),
        },
        FaultClass::BitRot => DiskFault::BitRot {
            file: file_selector(config, rng),
            byte: rng.next_u64(),
            bit: rng.random_range(0..8),
        },
        other => unreachable!("{other:?} is not a scheduled disk fault"),
    }
}
