//! The same seed gives the same fault plan and a byte-identical disk image in two separate
//! processes (std's per-process hash seeds, addresses and thread timing differ between them);
//! a different seed gives a different plan and image.
//!
//! The parent re-runs this test binary with `STEMEDB_FP_SEED` set; the child runs the workload and
//! prints one `FINGERPRINT` line.

use std::path::{Path, PathBuf};
use std::process::Command;

use rand::Rng;
use stemedb::io::{OpenMode, Vfs};
use stemedb_faults::{rng, CrashEvent, CrashKind, FaultClass, FaultPlan, PlanConfig, SimDisk};

const SEED_ENV: &str = "STEMEDB_FP_SEED";
const WRITERS: u64 = 3;
const ITERATIONS_PER_WRITER: u64 = 60;

fn plan_config() -> PlanConfig {
    PlanConfig {
        op_horizon: 600,
        forced: FaultClass::ALL.to_vec(),
        ..PlanConfig::default()
    }
}

/// Crashes the disk (or kills the process) when the plan says so; returns true if it did. A
/// boot-timed crash is taken at its `at_op` here: this workload has no boots to time it from.
fn crash_if_due(disk: &SimDisk, crashes: &std::cell::RefCell<Vec<CrashEvent>>) -> bool {
    let mut crashes = crashes.borrow_mut();
    if crashes.first().is_some_and(|c| c.at_op <= disk.ops()) {
        let event = crashes.remove(0);
        match event.kind {
            CrashKind::PowerLoss => drop(disk.crash(&event.spec)),
            CrashKind::ProcessKill => disk.kill_process(),
        }
        return true;
    }
    false
}

async fn writer(disk: SimDisk, id: u64, seed: u64, crashes: &std::cell::RefCell<Vec<CrashEvent>>) {
    let mut rng = rng::stream(seed, &format!("workload-{id}"));
    let dir = PathBuf::from(format!("/w{id}"));
    for i in 0..ITERATIONS_PER_WRITER {
        crash_if_due(&disk, crashes);
        let path = dir.join(format!("f{}", rng.random_range(0..4)));
        // Errors are expected under faults; determinism is about doing the same thing each time.
        let Ok(file) = disk.open(&path, OpenMode::Create).await else {
            let _ = disk.create_dir_all(&dir).await;
            continue;
        };
        let len = rng.random_range(1..3000usize);
        let data: Vec<u8> = (0..len).map(|j| (i as usize * 31 + j) as u8).collect();
        let _ = file.append(&data).await;
        match rng.random_range(0..6) {
            0 => drop(file.sync_data().await),
            1 => drop(disk.sync_dir(&dir).await),
            2 => drop(disk.rename(&path, &dir.join("renamed")).await),
            3 => drop(file.set_len(rng.random_range(0..4000)).await),
            4 => {
                let mut buf = vec![0u8; 256];
                drop(file.read_at(rng.random_range(0..4000), &mut buf).await);
            }
            _ => drop(disk.remove(&path).await),
        }
    }
}

/// Runs the seed's plan and workload; returns "plan-digest image-digest trace-digest".
fn fingerprint(seed: u64) -> String {
    run(seed).0
}

fn run(seed: u64) -> (String, stemedb_faults::DiskStats) {
    let plan = FaultPlan::generate(seed, &plan_config());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    let disk = SimDisk::with_plan(seed, &plan);
    let crashes = std::cell::RefCell::new(plan.crashes.clone());
    rt.block_on(async {
        for id in 0..WRITERS {
            disk.create_dir_all(Path::new(&format!("/w{id}")))
                .await
                .unwrap();
        }
        let writers = (0..WRITERS).map(|id| writer(disk.clone(), id, seed, &crashes));
        futures_join_all(writers).await;
    });
    assert!(disk.stats().ops > 200, "the workload did real work");
    let fp = format!(
        "{} {} {}",
        plan.digest(),
        disk.image_digest(),
        disk.trace_digest()
    );
    (fp, disk.stats())
}

/// Polls all futures concurrently on this task, in a fixed order.
async fn futures_join_all<F: std::future::Future<Output = ()>>(futs: impl Iterator<Item = F>) {
    let mut futs: Vec<_> = futs.map(Box::pin).collect();
    std::future::poll_fn(|cx| {
        futs.retain_mut(|f| f.as_mut().poll(cx).is_pending());
        if futs.is_empty() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await
}

#[test]
fn child_prints_fingerprint() {
    // Only does work when the parent runs this binary as a child.
    if let Ok(seed) = std::env::var(SEED_ENV) {
        println!("FINGERPRINT {}", fingerprint(seed.parse().unwrap()));
    }
}

fn fingerprint_in_child(seed: u64) -> String {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "child_prints_fingerprint",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(SEED_ENV, seed.to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "child failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| {
            l.split_once("FINGERPRINT ")
                .map(|(_, fp)| fp.trim().to_owned())
        })
        .expect("the child printed a fingerprint")
}

#[test]
fn same_seed_same_plan_and_image_in_two_processes() {
    let mut seen = Vec::new();
    for seed in [1u64, 2, 0xdead_beef] {
        let (a, b) = (fingerprint_in_child(seed), fingerprint_in_child(seed));
        assert_eq!(a, b, "seed {seed}: two processes disagree");
        let (here, stats) = run(seed);
        assert_eq!(a, here, "seed {seed}: this process disagrees");
        // The comparison means something only if faults really struck.
        assert!(
            stats.crashes > 0,
            "seed {seed}: no crash happened: {stats:?}"
        );
        assert!(
            stats.faults.len() >= 4,
            "seed {seed}: few fault classes fired: {stats:?}"
        );
        seen.push(a);
    }
    seen.sort();
    seen.dedup();
    assert_eq!(
        seen.len(),
        3,
        "different seeds give different plans and images"
    );
}

#[test]
fn a_different_seed_gives_a_different_plan() {
    let config = plan_config();
    assert_eq!(
        FaultPlan::generate(5, &config),
        FaultPlan::generate(5, &config)
    );
    for seed in 0..50u64 {
        assert_ne!(
            FaultPlan::generate(seed, &config).digest(),
            FaultPlan::generate(seed + 1, &config).digest()
        );
    }
    let plan = FaultPlan::generate(5, &config);
    assert_eq!(
        FaultPlan::from_json(&plan.to_json()).unwrap(),
        plan,
        "plans round-trip"
    );
}

#[test]
fn swarm_switches_classes_per_seed() {
    let config = PlanConfig::default();
    let mut on_counts = [0u32; FaultClass::ALL.len()];
    for seed in 0..200 {
        let plan = FaultPlan::generate(seed, &config);
        for (i, class) in FaultClass::ALL.iter().enumerate() {
            on_counts[i] += u32::from(plan.classes.contains(class));
        }
        assert!(
            plan.disk.windows(2).all(|w| w[0].at_op <= w[1].at_op),
            "sorted"
        );
        assert!(plan.disk.iter().all(|f| f.at_op <= config.op_horizon));
    }
    for (class, n) in FaultClass::ALL.iter().zip(on_counts) {
        assert!((40..=160).contains(&n), "{class:?} on in {n} of 200 seeds");
    }
    let none = PlanConfig {
        allowed: vec![],
        ..PlanConfig::default()
    };
    assert_eq!(
        FaultPlan::generate(3, &none).classes,
        vec![],
        "a disallowed class never appears"
    );
}
