//! One seed's run: the engine as a turmoil host over SimDisk, SimKv and SimClock, the arena's
//! workload as tasks inside it, crashes and restarts from the fault plan, the checks after every
//! recovery, and a fault-free liveness phase that must drain and agree with the reference models.
//!
//! A planned crash is a power loss (the disk and the KV apply its spec to what was pending) or a
//! process kill (the KV loses its unflushed in-process state; the disk's page cache survives).
//! Either kills the host and restarts it, and either may be timed from the latest start of the
//! process, which puts it inside recovery.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use stemedb_faults::{
    AimOutcome, CrashEvent, CrashKind, FaultPlan, SimClock, SimDisk, SimKv, SpinWatch,
    AIM_WINDOW_CALLS,
};

use crate::config::RunConfig;
use crate::env::{Env, HostRequest, Phase, Shared, HOST_NAME};
use crate::host;
use crate::metrics::Metrics;
use crate::outcome::Failure;
use crate::world::{Control, Flow, SimWorld, World};

/// Whether the run prints its events and the disk's calls to stderr (`STEMEDB_SIM_TRACE=1`):
/// for reading a seed's run, and for `check-determinism` to find where two processes parted.
pub fn trace_requested() -> bool {
    std::env::var_os(TRACE_ENV).is_some()
}

/// The environment variable behind [`trace_requested`].
pub const TRACE_ENV: &str = "STEMEDB_SIM_TRACE";

/// The result of one seed's run.
#[derive(Debug)]
pub struct SeedResult {
    pub config: RunConfig,
    pub plan: FaultPlan,
    pub failure: Option<Failure>,
    /// blake3 over every event of the run, the final disk image and the final KV: equal
    /// fingerprints mean the same run.
    pub fingerprint: String,
    pub metrics: Metrics,
    pub sim_elapsed: Duration,
    /// Crashes of both kinds: power losses and process kills.
    pub crashes: u32,
    /// Real time the run spent under faults (the workload, with its online checks) and in all
    /// (the rest is liveness and the final checks). Never fingerprinted.
    pub wall_faults: Duration,
    pub wall_total: Duration,
}

/// Operator repairs (remapping bad sectors) a run may get before its fault phase just ends.
const INTERVENTIONS_MAX: u32 = 3;
/// Steps per virtual second.
const STEPS_PER_SIM_S: u64 = 1_000 / crate::world::TICK_DURATION.as_millis() as u64;
/// A run whose workload has not finished in this much virtual time is stuck.
const WORKLOAD_SIM_S_MAX: u64 = 3_600;

/// Arms the disk for the next planned crash: the call it strikes at (counted from now, the start
/// of a process, if it is boot-timed) fails, and so does every later one until it is executed.
fn arm(disk: &SimDisk, next: Option<&CrashEvent>) {
    let Some(crash) = next else { return };
    if let (Some(aim), None) = (crash.aimed, crash.at_boot_op) {
        // Events before the crash's own call do not count; one armed late counts from now.
        let from_op = crash.at_op.max(disk.ops());
        disk.aim_crash(crash.kind, aim, from_op, from_op + AIM_WINDOW_CALLS);
        return;
    }
    let op = match crash.at_boot_op {
        Some(n) => disk.ops() + n,
        None => crash.at_op,
    };
    match crash.kind {
        CrashKind::PowerLoss => disk.power_off_at_op(op),
        CrashKind::ProcessKill => disk.kill_process_at_op(op),
    }
}

/// Runs one seed to its verdict.
pub fn run_seed(config: &RunConfig) -> SeedResult {
    // The world runs on this thread, so this thread's probe counts from here on are the run's.
    let _ = stemedb::probe::take();
    let wall_started = crate::wall::now();
    let plan = config.plan();
    let disk = SimDisk::with_plan(config.seed, &plan);
    if trace_requested() {
        disk.echo_trace();
    }
    let kv = SimKv::with_plan(config.seed, &plan);
    // Starts at zero; every host boot re-anchors it on that boot's runtime.
    let clock = SimClock::manual(plan.clock.clone());
    let shared = Rc::new(RefCell::new(Shared {
        config: config.clone(),
        excuses: crate::arena::Excuses::of(&plan),
        phase: Phase::Faults,
        failure: None,
        workload: crate::workload::Workload::new(
            config,
            config.arena.arena().mix() == crate::arena::Mix::Topics,
        ),
        oracle: Default::default(),
        metrics: Metrics::default(),
        events: blake3::Hasher::new(),
        requests: Default::default(),
        ingest_stopped: false,
        interventions: 0,
        boots: 0,
        verifier_done: Default::default(),
        verifier_boot: Default::default(),
        queries: Vec::new(),
        query_ticks: 0,
        view_reads: Default::default(),
        view_installs: Default::default(),
        cancelled_boots: Default::default(),
        audit_floors: Default::default(),
        engine_metrics: stemedb::metrics::Metrics::shared(),
        engine_opens: 0,
        engines_opened: 0,
        wal_refusals: Default::default(),
        trace: trace_requested(),
    }));
    let env = Env {
        shared: shared.clone(),
        disk: disk.clone(),
        kv: kv.clone(),
        clock,
    };
    let mut world = SimWorld::new(config.seed);
    let boot_env = env.clone();
    world.host(
        HOST_NAME,
        Box::new(move || Box::pin(host::boot(boot_env.clone()))),
    );
    let mut crashes = plan.crashes.clone().into_iter().peekable();
    // The power fails (or the process dies) at the planned disk call itself, not at the next
    // step boundary: a step spans many calls in a burst, and crashes must land mid-burst as often
    // as between bursts. The host dies at the step boundary (until then every disk call fails,
    // as after a power cut; nothing more becomes durable).
    arm(&disk, crashes.peek());
    let mut crash_count = 0u32;
    let mut kill_count = 0u32;
    let mut liveness_deadline: Option<Duration> = None;
    let workload_deadline = Duration::from_secs(WORKLOAD_SIM_S_MAX);
    let steps_max = (WORKLOAD_SIM_S_MAX + config.liveness_budget_ms / 1_000 + 1) * STEPS_PER_SIM_S;
    let spin = SpinWatch::default();
    disk.watch_spin(spin.clone());
    kv.watch_spin(spin.clone());
    // The world owns its loop (so a scheduler that runs everything inside one future can drive
    // it too); the driver looks in after every tick.
    let mut wall_faults: Option<Duration> = None;
    let mut driver = |ctl: &mut dyn Control, host_failure: Option<String>| -> Flow {
        spin.step();
        crate::watchdog::beat();
        if let Some(e) = host_failure {
            shared
                .borrow_mut()
                .fail(Failure::Safety(format!("the engine host failed: {e}")));
        }
        let now = ctl.elapsed();
        let mut s = shared.borrow_mut();
        if s.phase != Phase::Faults && wall_faults.is_none() {
            wall_faults = Some(wall_started.elapsed());
        }
        if s.failure.is_some() || s.phase == Phase::Done {
            return Flow::Stop;
        }
        match s.phase {
            Phase::Faults => {
                // A crash fires at its disk operation, or at the matching point of the workload if
                // the disk is quieter than estimated, so every planned crash happens.
                // A boot-timed crash waits for its own call: the workload's progress says nothing
                // about how far the latest start has got.
                let progress = s.workload.issued() * crate::config::DISK_OPS_PER_WORKLOAD_OP;
                let struck = !disk.is_powered() || !disk.is_process_alive();
                if let Some(crash) = crashes.next_if(|c| {
                    struck
                        || (c.at_boot_op.is_none()
                            && c.aimed.is_none()
                            && c.at_op <= disk.ops().max(progress))
                }) {
                    let aim = crash
                        .aimed
                        .filter(|_| crash.at_boot_op.is_none())
                        .map(|aim| (aim, disk.take_aim_outcome()));
                    if let Some((aim, outcome)) = aim {
                        let hit = matches!(outcome, Some(AimOutcome::AtEvent(_)));
                        s.event(
                            now,
                            &format!(
                                "aimed crash: {} #{} +{} calls: {}",
                                aim.event.name(),
                                aim.nth,
                                aim.after_calls,
                                if hit {
                                    "struck at the event"
                                } else {
                                    "event did not come"
                                }
                            ),
                        );
                        s.metrics.counts.add_event(
                            if hit {
                                stemedb_reports::names::EVENT_CRASHES_AIMED_HIT
                            } else {
                                stemedb_reports::names::EVENT_CRASHES_AIMED_MISSED
                            },
                            1,
                        );
                    }
                    let kv_report = kv.crash(&crash.spec);
                    match crash.kind {
                        CrashKind::PowerLoss => {
                            crash_count += 1;
                            let report = disk.crash(&crash.spec);
                            s.event(
                                now,
                                &format!("crash {crash_count}: {report:?} {kv_report:?}"),
                            );
                        }
                        CrashKind::ProcessKill => {
                            // sled keeps unflushed batches in the process, so the KV loses them
                            // as in a power loss; the disk's page cache belongs to the kernel.
                            kill_count += 1;
                            disk.kill_process();
                            s.event(now, &format!("process kill {kill_count}: {kv_report:?}"));
                        }
                    }
                    s.metrics
                        .counts
                        .add_event(stemedb_reports::names::EVENT_CRASHES, 1);
                    // Whatever the dying process asked for (a restart after the failed disk
                    // calls) died with it; an exhausted workload stays exhausted.
                    s.requests.retain(|&r| r == HostRequest::WorkloadDone);
                    drop(s);
                    ctl.crash(HOST_NAME);
                    ctl.bounce(HOST_NAME);
                    if !crash.boot_reads.is_empty() {
                        disk.arm_transient(&crash.boot_reads);
                        shared.borrow_mut().event(
                            now,
                            &format!(
                                "{} transient read faults armed for the restart's recovery",
                                crash.boot_reads.len()
                            ),
                        );
                    }
                    arm(&disk, crashes.peek());
                    return Flow::Continue;
                }
                let request = s.requests.pop_last();
                if request == Some(HostRequest::Operator) {
                    // The engine cannot start (a bad sector under the log, say). An operator
                    // remaps the bad sectors and restarts it; past a bound the fault phase ends.
                    s.interventions += 1;
                    if s.interventions > INTERVENTIONS_MAX {
                        s.event(now, "operator gives up; faults stop");
                        s.request(HostRequest::WorkloadDone);
                        return Flow::Continue;
                    }
                    let remapped = disk.remap_bad_sectors();
                    s.event(
                        now,
                        &format!("operator remaps {remapped} bad sectors and restarts"),
                    );
                    s.metrics.counts.add_event("operator_interventions", 1);
                    drop(s);
                    ctl.crash(HOST_NAME);
                    ctl.bounce(HOST_NAME);
                    // A boot-timed crash counts from this start too.
                    arm(&disk, crashes.peek());
                    return Flow::Continue;
                }
                if request == Some(HostRequest::Restart) {
                    // The supervisor restarts a process whose engine failed closed or whose
                    // ingest stopped; the disk keeps its page cache (no power loss).
                    s.event(now, "supervisor restart");
                    s.metrics.counts.add_event("restarts", 1);
                    drop(s);
                    ctl.crash(HOST_NAME);
                    ctl.bounce(HOST_NAME);
                    arm(&disk, crashes.peek());
                    return Flow::Continue;
                }
                if request == Some(HostRequest::WorkloadDone) {
                    // Faults stop; restart the process (no power loss) so a fail-closed engine
                    // reopens, and give the system a bounded time to converge.
                    disk.heal();
                    kv.heal();
                    s.phase = Phase::Liveness;
                    s.event(now, "heal");
                    liveness_deadline =
                        Some(now + Duration::from_millis(config.liveness_budget_ms));
                    drop(s);
                    ctl.crash(HOST_NAME);
                    ctl.bounce(HOST_NAME);
                    return Flow::Continue;
                }
                if now > workload_deadline {
                    let issued = s.workload.issued();
                    s.fail(Failure::Liveness(format!(
                        "the workload did not finish within {WORKLOAD_SIM_S_MAX} simulated seconds ({issued} of {} operations issued)",
                        config.ops
                    )));
                    return Flow::Stop;
                }
            }
            Phase::Liveness => {
                if liveness_deadline.is_some_and(|d| now > d) {
                    s.fail(Failure::Liveness(format!(
                        "after faults stopped the engine did not converge within {} simulated ms",
                        config.liveness_budget_ms
                    )));
                    return Flow::Stop;
                }
            }
            Phase::Done => unreachable!("handled above"),
        }
        Flow::Continue
    };
    let sim_elapsed = world.run(steps_max, &mut driver);
    drop(world);
    let mut s = shared.borrow_mut();
    if s.failure.is_none() && s.phase != Phase::Done {
        s.fail(Failure::Liveness("the run hit its step bound".into()));
    }
    for us in disk.take_sync_latencies_us() {
        s.metrics.record(stemedb_reports::names::LATENCY_FSYNC, us);
    }
    if s.failure.is_none() {
        if let Some(why) = crate::check::physics::ack_floor(&s.metrics) {
            s.fail(Failure::Safety(why));
        }
    }
    let disk_stats = disk.stats();
    for (class, n) in &disk_stats.faults {
        s.metrics.counts.add_fault(class, *n);
    }
    let kv_stats = kv.stats();
    for (class, n) in [
        ("kv_eio", kv_stats.errors - kv_stats.corrupt_reports),
        ("kv_corrupt", kv_stats.corrupt_reports),
    ] {
        if n > 0 {
            s.metrics.counts.add_fault(class, n);
        }
    }
    if crash_count > 0 {
        s.metrics.counts.add_fault("crash", u64::from(crash_count));
    }
    if kill_count > 0 {
        s.metrics
            .counts
            .add_fault("process_kill", u64::from(kill_count));
    }
    s.metrics.sim_duration_us = sim_elapsed.as_micros() as u64;
    s.metrics.busy_sim_us = s.workload.busy().as_micros() as u64;
    let (done, boot) = (s.verifier_done, s.verifier_boot);
    s.metrics
        .counts
        .add_event("signature_verifications", done.misses + boot.misses);
    s.metrics
        .counts
        .add_event("signature_cache_hits", done.hits + boot.hits);
    let trace = disk.trace_digest();
    let image = disk.image_digest();
    let kv_digest = kv.digest();
    if s.trace {
        for (k, v) in kv.live_snapshot() {
            let key = stemedb::storage::keys::Key::decode(&k)
                .map_or_else(|_| crate::oracle::ingest::hex(&k), |k| format!("{k:?}"));
            eprintln!("kv {key} = {}", crate::oracle::ingest::hex(&v));
        }
    }
    s.event(
        sim_elapsed,
        &format!("end trace {trace} image {image} kv {kv_digest}"),
    );
    let fingerprint = s.events.finalize().to_hex().to_string();
    for (probe, hits) in stemedb::probe::take() {
        s.metrics.probes.insert(probe.name(), hits);
    }
    SeedResult {
        config: config.clone(),
        plan,
        failure: s.failure.clone(),
        fingerprint,
        metrics: std::mem::take(&mut s.metrics),
        sim_elapsed,
        crashes: crash_count + kill_count,
        wall_faults: wall_faults.unwrap_or_else(|| wall_started.elapsed()),
        wall_total: wall_started.elapsed(),
    }
}
