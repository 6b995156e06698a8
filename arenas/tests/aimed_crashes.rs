//! Crashes aimed at the window after an ENOSPC refusal (issue 11, "crashes that never land where
//! it matters"). A full device refuses a batch with `StorageFull`, which promises the batch was
//! cut back; the cut happens in the same flush, so only a crash a call or two after the refusal
//! can catch a WAL that skipped it. Crashes drawn at uniform calls strike there in none of the
//! 192 CI runs; these are aimed there.
//!
//! The engine must pass every run: a process kill keeps the page cache, so any bytes of the
//! refused batch left past the acknowledged end would be read back by the next open and, if
//! whole frames, surface in the log (the log oracle's definite-refusal rule calls that). The
//! planted bug `mutation/blind-spots/enospc-leaves-partial-batch.patch` fails these runs.

use stemedb_arenas::config::{ArenaKind, RunConfig};
use stemedb_arenas::sim::run_seed;
use stemedb_faults::{
    CrashAim, CrashEvent, CrashKind, CrashSpec, DiskEvent, DiskFault, FaultClass, FaultPlan,
    ScheduledFault,
};
use stemedb_reports::names::EVENT_CRASHES_AIMED_HIT;

const OPS: u64 = 600;
/// Where the device fills up, and how much room it leaves: several batches fit, then a batch is
/// refused part-way, leaving a prefix of a few records' frames.
const FILL_AT_OP: u64 = 150;
const HEADROOM_BYTES: [u64; 3] = [1_500, 3_000, 6_000];

fn plan(headroom_bytes: u64, kind: CrashKind, nth: u32) -> FaultPlan {
    FaultPlan {
        classes: vec![FaultClass::Enospc, FaultClass::ProcessKill],
        disk: vec![
            ScheduledFault {
                at_op: FILL_AT_OP,
                fault: DiskFault::FillUp { headroom_bytes },
            },
            ScheduledFault {
                at_op: FILL_AT_OP + 600,
                fault: DiskFault::SetCapacity { bytes: None },
            },
        ],
        crashes: vec![CrashEvent {
            kind,
            aimed: Some(CrashAim {
                event: DiskEvent::StorageFull,
                nth,
                after_calls: 0,
            }),
            ..CrashEvent::power_loss(FILL_AT_OP, CrashSpec::keep_all())
        }],
        ..FaultPlan::none()
    }
}

#[test]
fn crashes_aimed_just_after_a_storage_full_refusal_find_nothing_left_of_the_batch() {
    let mut hits = 0;
    for (i, headroom) in HEADROOM_BYTES.into_iter().enumerate() {
        for kind in [CrashKind::ProcessKill, CrashKind::PowerLoss] {
            for nth in 1..=2 {
                let mut config = RunConfig::new(ArenaKind::Chaos, 40 + i as u64, OPS);
                config.plan = Some(plan(headroom, kind, nth));
                let result = run_seed(&config);
                assert_eq!(
                    result.failure, None,
                    "headroom {headroom}, {kind:?}, refusal #{nth}"
                );
                hits += result.metrics.counts.event(EVENT_CRASHES_AIMED_HIT);
            }
        }
    }
    assert!(
        hits >= 10,
        "most aims found their refusal ({hits} of 12): the runs test what they claim"
    );
}
