//! SimDisk with no faults must pass the same Vfs semantics suite as the real file system.

use std::path::Path;

use stemedb::io::conformance;
use stemedb::io::Clock;
use stemedb_faults::{ClockPlan, FaultPlan, LatencyModel, SimClock, SimDisk};

#[tokio::test]
async fn sim_disk_passes_the_conformance_suite() {
    let disk = SimDisk::new(1);
    conformance::run_all(&disk, Path::new("/conformance")).await;
}

#[tokio::test(start_paused = true)]
async fn sim_disk_with_latency_passes_the_conformance_suite() {
    let plan = FaultPlan {
        latency: Some(LatencyModel::ssd()),
        ..FaultPlan::none()
    };
    let disk = SimDisk::with_plan(2, &plan);
    let clock = SimClock::runtime(ClockPlan::default());
    conformance::run_all(&disk, Path::new("/conformance")).await;
    assert!(
        disk.stats().latency_us_total > 0,
        "the latency model must have charged simulated time"
    );
    // Simulated time advanced by exactly the drawn latency, to the microsecond.
    let (slept_us, drawn_us) = (
        clock.monotonic().as_micros() as u64,
        disk.stats().latency_us_total,
    );
    assert_eq!(slept_us, drawn_us);
}
