//! The run driver executes both kinds of planned crash at their planned call, including calls
//! recovery makes: a crash timed a few calls into a start strikes before the engine has opened,
//! so that start never reaches a recovery of its own. A crash may also arm a run of bad reads for
//! the restart (`CrashEvent::boot_reads`), armed as it begins: the run must still pass.

use stemedb_arenas::config::{ArenaKind, RunConfig};
use stemedb_arenas::sim::run_seed;
use stemedb_faults::{CrashEvent, CrashKind, CrashSpec, DiskFault, FaultClass, FaultPlan};
use stemedb_reports::names::{EVENT_CRASHES, EVENT_RECOVERIES};

const OPS: u64 = 300;

fn kill(at_op: u64, at_boot_op: Option<u64>, seed: u64) -> CrashEvent {
    CrashEvent {
        kind: CrashKind::ProcessKill,
        at_boot_op,
        ..CrashEvent::power_loss(at_op, CrashSpec::random(seed))
    }
}

fn power_loss(at_op: u64, at_boot_op: Option<u64>, seed: u64) -> CrashEvent {
    CrashEvent {
        at_boot_op,
        ..CrashEvent::power_loss(at_op, CrashSpec::random(seed))
    }
}

fn run(crashes: Vec<CrashEvent>) -> stemedb_arenas::sim::SeedResult {
    let mut config = RunConfig::new(ArenaKind::Chaos, 11, OPS);
    config.plan = Some(FaultPlan {
        classes: vec![FaultClass::Crash, FaultClass::ProcessKill],
        crashes,
        ..FaultPlan::none()
    });
    run_seed(&config)
}

#[test]
fn crashes_of_both_kinds_strike_inside_recovery_and_the_run_still_passes() {
    // The engine's open takes 9 or more disk calls, so calls 2, 4 and 6 of a start are inside it.
    // Their `at_op` lies past the end of the run: only the boot timing can make them strike.
    let past_the_run = OPS * 100;
    let result = run(vec![
        kill(120, None, 1),
        power_loss(past_the_run, Some(2), 2),
        kill(past_the_run + 1, Some(4), 3),
        power_loss(past_the_run + 2, Some(6), 4),
    ]);
    assert_eq!(result.failure, None);
    assert_eq!(result.crashes, 4, "every planned crash happened");
    let counts = &result.metrics.counts;
    assert_eq!(counts.event(EVENT_CRASHES), 4);
    assert_eq!(counts.faults.get("crash"), Some(&2), "power losses");
    assert_eq!(counts.faults.get("process_kill"), Some(&2));
    // Recovered: the first start, the start after the last crash, and the liveness phase's. The
    // three starts that boot-timed crashes struck never finished opening.
    assert_eq!(counts.event(EVENT_RECOVERIES), 3);
}

#[test]
fn the_same_crashes_timed_from_the_disk_let_every_start_recover() {
    // The contrast that gives the test above its meaning: without boot timing, each crash
    // strikes during the workload after a completed recovery.
    let result = run(vec![
        kill(120, None, 1),
        power_loss(300, None, 2),
        kill(500, None, 3),
        power_loss(700, None, 4),
    ]);
    assert_eq!(result.failure, None);
    assert_eq!(result.crashes, 4);
    assert_eq!(result.metrics.counts.event(EVENT_RECOVERIES), 6);
}

#[test]
fn a_run_of_bad_reads_armed_at_a_restart_meets_recovery_and_loses_nothing() {
    // Read EIO then corrupt reads in one marginal sector, all armed as the killed process
    // restarts: its open fails and is retried, and recovery re-reads until two passes agree.
    let eio = std::iter::repeat_n(DiskFault::ReadEio, 3);
    let corrupt = (0..4).map(|i| DiskFault::ReadCorrupt {
        file: None,
        seed: 40 + i,
        flips: 3,
        same_sector: i > 0,
    });
    let mut crash = kill(120, None, 1);
    crash.boot_reads = eio.chain(corrupt).collect();
    let mut config = RunConfig::new(ArenaKind::Chaos, 11, OPS);
    config.plan = Some(FaultPlan {
        classes: vec![
            FaultClass::Crash,
            FaultClass::ProcessKill,
            FaultClass::ReadEio,
            FaultClass::ReadCorrupt,
        ],
        crashes: vec![crash],
        ..FaultPlan::none()
    });
    let result = run_seed(&config);
    assert_eq!(result.failure, None);
    let counts = &result.metrics.counts;
    assert_eq!(
        counts.faults.get("read_eio"),
        Some(&3),
        "{:?}",
        counts.faults
    );
    assert_eq!(
        counts.faults.get("read_corrupt"),
        Some(&4),
        "{:?}",
        counts.faults
    );
    assert_eq!(counts.event(EVENT_CRASHES), 1);
}
