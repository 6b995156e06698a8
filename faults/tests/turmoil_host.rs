//! SimDisk inside a turmoil host: its latency is the host's virtual tokio time, and a crash
//! (`sim.crash` + `SimDisk::crash`) followed by `sim.bounce` restarts the host's software over the
//! same disk, where exactly what the durability rules promise has survived.

use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

use stemedb::io::{read_to_end, Clock, OpenMode, Vfs};
use stemedb_faults::{ClockPlan, CrashSpec, FaultPlan, LatencyModel, SimClock, SimDisk};

/// Steps a world with no clients until `done` holds, at most this many ticks.
const STEPS_MAX: u32 = 100_000;

/// What the restarted host read back: (synced file, unsynced file), each `None` if missing.
type ReadBack = (Option<Vec<u8>>, Option<Vec<u8>>);

#[derive(Default)]
struct Observed {
    boots: u32,
    first_boot_done: bool,
    slept_us: u64,
    after_restart: Option<ReadBack>,
}

async fn read(disk: &SimDisk, path: &str) -> Option<Vec<u8>> {
    let f = disk.open(Path::new(path), OpenMode::Read).await.ok()?;
    Some(read_to_end(f.as_ref()).await.expect("read"))
}

fn step_until(sim: &mut turmoil::Sim<'_>, what: &str, done: impl Fn() -> bool) {
    for _ in 0..STEPS_MAX {
        if done() {
            return;
        }
        sim.step().expect("the host returned an error");
    }
    panic!("{what}: not reached within {STEPS_MAX} steps");
}

fn run(seed: u64, crash: CrashSpec) -> (Observed, SimDisk, Duration) {
    let plan = FaultPlan {
        latency: Some(LatencyModel::ssd()),
        ..FaultPlan::none()
    };
    let disk = SimDisk::with_plan(seed, &plan);
    let observed = Rc::new(RefCell::new(Observed::default()));
    let mut sim = turmoil::Builder::new()
        .rng_seed(seed)
        .simulation_duration(Duration::from_secs(3600))
        .build();
    let (host_disk, host_observed) = (disk.clone(), observed.clone());
    sim.host("db", move || {
        let (disk, observed) = (host_disk.clone(), host_observed.clone());
        async move {
            observed.borrow_mut().boots += 1;
            if observed.borrow().boots == 1 {
                let clock = SimClock::runtime(ClockPlan::default());
                disk.create_dir_all(Path::new("/db")).await?;
                // The directory's own entry, or a power loss takes it and everything in it.
                disk.sync_dir(Path::new("/")).await?;
                let synced = disk
                    .open(Path::new("/db/synced"), OpenMode::CreateNew)
                    .await?;
                synced.append(b"acknowledged").await?;
                synced.sync_data().await?;
                disk.sync_dir(Path::new("/db")).await?;
                let loose = disk
                    .open(Path::new("/db/unsynced"), OpenMode::CreateNew)
                    .await?;
                loose.append(b"never synced").await?;
                synced.append(b" and more").await?;
                {
                    let mut o = observed.borrow_mut();
                    o.slept_us = clock.monotonic().as_micros() as u64;
                    o.first_boot_done = true;
                }
                // Stay up until crashed.
                std::future::pending::<()>().await;
            } else {
                let synced = read(&disk, "/db/synced").await;
                let unsynced = read(&disk, "/db/unsynced").await;
                observed.borrow_mut().after_restart = Some((synced, unsynced));
            }
            Ok(())
        }
    });
    step_until(&mut sim, "first boot", || observed.borrow().first_boot_done);
    sim.crash("db");
    disk.crash(&crash);
    sim.bounce("db");
    step_until(&mut sim, "restart", || {
        observed.borrow().after_restart.is_some()
    });
    let elapsed = sim.elapsed();
    drop(sim);
    let observed = Rc::try_unwrap(observed)
        .ok()
        .expect("sim dropped")
        .into_inner();
    (observed, disk, elapsed)
}

#[test]
fn crash_and_bounce_keep_what_was_durable() {
    let (observed, disk, elapsed) = run(7, CrashSpec::drop_all());
    assert_eq!(observed.boots, 2, "bounce re-ran the host's start-up");
    let (synced, unsynced) = observed.after_restart.unwrap();
    assert_eq!(
        synced.as_deref(),
        Some(&b"acknowledged"[..]),
        "synced data survives exactly"
    );
    assert_eq!(
        unsynced, None,
        "a file whose entry was never synced is gone"
    );
    // The disk's latency was virtual time on the host's runtime, not wall time.
    let drawn_us = disk.stats().latency_us_total;
    assert!(observed.slept_us > 0 && observed.slept_us <= drawn_us);
    assert!(
        stemedb_faults::time::from_scheduler(elapsed) >= Duration::from_micros(observed.slept_us)
    );
}

#[test]
fn synced_data_survives_under_every_crash_outcome_seed() {
    for seed in 0..40 {
        let (observed, _, _) = run(seed, CrashSpec::random(seed));
        let (synced, unsynced) = observed.after_restart.unwrap();
        let synced = synced.expect("a synced file with a synced entry survives");
        assert!(
            synced == b"acknowledged" || synced == b"acknowledged and more",
            "seed {seed}: {synced:?}"
        );
        if let Some(u) = unsynced {
            assert!(u.is_empty() || u == b"never synced", "seed {seed}: {u:?}");
        }
    }
}
