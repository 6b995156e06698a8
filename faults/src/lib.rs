//! The fault side of StemeDB's deterministic simulator.
//!
//! - [`SimDisk`]: a simulated disk implementing `stemedb::io::Vfs`, with durable and live
//!   contents per file and per directory, that executes an explicit [`FaultPlan`].
//! - [`FaultPlan`]: every fault of a run as serialisable data (what, where, when), generated per
//!   seed by a swarm generator ([`FaultPlan::generate`]), so a failing run can be saved, replayed,
//!   shrunk and fed by a fuzzer (feature `arbitrary`: bounded plans from a fuzzer's bytes).
//! - [`SimClock`]: virtual wall and monotonic time with skew, drift and jumps.
//! - [`rng`]: independent seeded streams derived from one root seed.

mod clock;
mod disk;
#[cfg(feature = "arbitrary")]
mod fuzz_plan;
mod kv;
mod latency;
mod plan;
pub mod rng;
mod spin;
mod swarm;
pub mod time;

pub use clock::{SimClock, SIM_EPOCH_WALL_MS};
pub use disk::{
    AimOutcome, CrashReport, DamageCause, DiskStats, MediaDamage, SimDisk, SECTOR_BYTES,
};
#[cfg(feature = "arbitrary")]
pub use fuzz_plan::{
    ARBITRARY_CAPACITY_BYTES_MAX, ARBITRARY_CLOCK_JUMPS_MAX, ARBITRARY_DISK_FAULTS_MAX,
};
pub use kv::{KvCrashReport, KvFault, KvStats, ScheduledKvFault, SimKv};
pub use latency::{LatencyDist, LatencyModel};
pub use plan::{
    ClockJump, ClockPlan, CrashAim, CrashEvent, CrashKind, CrashMode, CrashSpec, DiskEvent,
    DiskFault, FaultClass, FaultPlan, FileSelector, FsyncEioSpec, MetadataOp, MisdirectTarget,
    ScheduledFault, WriteLanded, AIM_WINDOW_CALLS,
};
pub use spin::{SpinWatch, CALLS_PER_STEP_MAX};
pub use swarm::PlanConfig;
