//! Plans are artifacts: ones saved before a fault grew fields must still load and mean what they
//! meant, and the new events have a fixed serialised shape. The swarm draws the new classes.

use stemedb_faults::{
    CrashEvent, CrashKind, CrashMode, CrashSpec, DiskFault, FaultClass, FaultPlan, FileSelector,
    FsyncEioSpec, PlanConfig, ScheduledFault, WriteLanded,
};

/// A plan as the harness wrote them before fsync EIO had a spec and crashes had kinds.
const OLD_PLAN: &str = r#"{"seed":9,"classes":["crash","fsync_eio"],"latency":null,
  "disk":[{"at_op":5,"fault":"fsync_eio"},{"at_op":7,"fault":"read_eio"}],
  "crashes":[{"at_op":11,"spec":{"seed":3,"mode":{"random":{"keep_pct":30,"torn_pct":41}}}}],
  "clock":{"skew_ms":0,"drift_ppm":0,"jumps":[]}}"#;

#[test]
fn an_old_plan_loads_with_its_old_meaning() {
    let plan = FaultPlan::from_json(OLD_PLAN).expect("old plans still load");
    assert_eq!(
        plan.disk[0].fault,
        DiskFault::FsyncEio {
            spec: FsyncEioSpec::drop_all()
        },
        "a bare fsync_eio drops everything it covered, as it always did"
    );
    assert_eq!(plan.disk[1].fault, DiskFault::ReadEio);
    let crash = &plan.crashes[0];
    assert_eq!(crash.kind, CrashKind::PowerLoss);
    assert_eq!(crash.at_boot_op, None, "timed from the disk's creation");
    assert_eq!(crash.spec.rot_last_synced, None);
    // Saved again, it loads to the same plan.
    assert_eq!(FaultPlan::from_json(&plan.to_json()).unwrap(), plan);
}

#[test]
fn the_committed_regression_artifact_still_loads() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/regressions/chaos-seed26-quarantine-list-rot.json"
    );
    let artifact: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let plan = FaultPlan::from_json(&artifact["config"]["plan"].to_string()).unwrap();
    assert!(!plan.crashes.is_empty());
    assert!(plan.crashes.iter().all(|c| c.kind == CrashKind::PowerLoss));
}

#[test]
fn new_events_have_their_documented_shape() {
    let cases: Vec<(DiskFault, &str)> = vec![
        (
            DiskFault::FsyncEio {
                spec: FsyncEioSpec {
                    seed: 4,
                    mode: CrashMode::Random {
                        keep_pct: 10,
                        torn_pct: 20,
                    },
                },
            },
            r#"{"fsync_eio":{"spec":{"seed":4,"mode":{"random":{"keep_pct":10,"torn_pct":20}}}}}"#,
        ),
        (
            DiskFault::ReadCorrupt {
                file: Some(FileSelector::Nth(2)),
                seed: 5,
                flips: 3,
                same_sector: false,
            },
            r#"{"read_corrupt":{"file":{"nth":2},"seed":5,"flips":3}}"#,
        ),
        (
            DiskFault::ReadCorrupt {
                file: None,
                seed: 5,
                flips: 1,
                same_sector: false,
            },
            r#"{"read_corrupt":{"file":null,"seed":5,"flips":1}}"#,
        ),
        (
            DiskFault::WriteEio {
                landed: WriteLanded::Prefix { sectors: 2 },
            },
            r#"{"write_eio":{"landed":{"prefix":{"sectors":2}}}}"#,
        ),
        (
            DiskFault::WriteEio {
                landed: WriteLanded::Nothing,
            },
            r#"{"write_eio":{"landed":"nothing"}}"#,
        ),
    ];
    for (fault, json) in cases {
        let scheduled = ScheduledFault { at_op: 1, fault };
        let text = format!(r#"{{"at_op":1,"fault":{json}}}"#);
        assert_eq!(serde_json::to_string(&scheduled).unwrap(), text);
        assert_eq!(
            serde_json::from_str::<ScheduledFault>(&text).unwrap(),
            scheduled
        );
    }
    let empty: ScheduledFault = serde_json::from_str(r#"{"at_op":1,"fault":{"fsync_eio":{}}}"#)
        .expect("a missing spec is the default");
    assert_eq!(
        empty.fault,
        DiskFault::FsyncEio {
            spec: FsyncEioSpec::drop_all()
        }
    );
    assert!(
        serde_json::from_str::<ScheduledFault>(r#"{"at_op":1,"fault":"fsync_eio_typo"}"#).is_err(),
        "the legacy reading accepts exactly the old spelling"
    );

    let kill = CrashEvent {
        at_op: 40,
        spec: CrashSpec::drop_all(),
        kind: CrashKind::ProcessKill,
        at_boot_op: Some(3),
        aimed: None,
        boot_reads: Vec::new(),
    };
    let text = serde_json::to_string(&kill).unwrap();
    assert_eq!(
        text,
        r#"{"at_op":40,"spec":{"seed":0,"mode":"drop_all","rot_last_synced":null},"kind":"process_kill","at_boot_op":3}"#
    );
    assert_eq!(serde_json::from_str::<CrashEvent>(&text).unwrap(), kill);
}

#[test]
fn count_by_class_counts_the_new_classes_and_both_crash_kinds() {
    let plan = FaultPlan {
        disk: vec![
            ScheduledFault {
                at_op: 1,
                fault: DiskFault::ReadCorrupt {
                    file: None,
                    seed: 1,
                    flips: 1,
                    same_sector: false,
                },
            },
            ScheduledFault {
                at_op: 2,
                fault: DiskFault::WriteEio {
                    landed: WriteLanded::All,
                },
            },
            ScheduledFault {
                at_op: 3,
                fault: DiskFault::WriteEio {
                    landed: WriteLanded::Nothing,
                },
            },
        ],
        crashes: vec![
            CrashEvent::power_loss(10, CrashSpec::keep_all()),
            CrashEvent {
                kind: CrashKind::ProcessKill,
                ..CrashEvent::power_loss(20, CrashSpec::keep_all())
            },
            CrashEvent {
                kind: CrashKind::ProcessKill,
                at_boot_op: Some(0),
                ..CrashEvent::power_loss(30, CrashSpec::keep_all())
            },
        ],
        ..FaultPlan::none()
    };
    let counts = plan.count_by_class();
    assert_eq!(counts.get("read_corrupt"), Some(&1));
    assert_eq!(counts.get("write_eio"), Some(&2));
    assert_eq!(counts.get("crash"), Some(&1), "power losses only");
    assert_eq!(counts.get("process_kill"), Some(&2));
    assert_eq!(
        counts.get("fsync_eio"),
        None,
        "nothing counted that is not there"
    );
}

#[test]
fn the_swarm_draws_the_new_classes_and_boot_timed_crashes_of_both_kinds() {
    let config = PlanConfig::default();
    let (mut boot_power, mut boot_kill, mut fsync_partial, mut fsync_drop) = (0, 0, 0, 0);
    let mut landed = std::collections::BTreeSet::new();
    for seed in 0..200 {
        let plan = FaultPlan::generate(seed, &config);
        for c in &plan.crashes {
            let class = match c.kind {
                CrashKind::PowerLoss => FaultClass::Crash,
                CrashKind::ProcessKill => {
                    assert_eq!(c.spec.rot_last_synced, None, "a kill rots nothing");
                    FaultClass::ProcessKill
                }
            };
            assert!(plan.classes.contains(&class), "seed {seed}: {c:?}");
            match (c.kind, c.at_boot_op) {
                (CrashKind::PowerLoss, Some(_)) => boot_power += 1,
                (CrashKind::ProcessKill, Some(_)) => boot_kill += 1,
                _ => {}
            }
        }
        for f in &plan.disk {
            assert!(plan.classes.contains(&f.fault.class()), "seed {seed}");
            match &f.fault {
                DiskFault::FsyncEio { spec } if spec.mode == CrashMode::DropAll => fsync_drop += 1,
                DiskFault::FsyncEio { .. } => fsync_partial += 1,
                DiskFault::ReadCorrupt { flips, .. } => assert!((1..=4).contains(flips)),
                DiskFault::WriteEio { landed: l } => {
                    landed.insert(format!("{l:?}").split(' ').next().unwrap().to_owned());
                }
                _ => {}
            }
        }
    }
    assert!(boot_power > 0 && boot_kill > 0, "{boot_power} {boot_kill}");
    assert!(
        fsync_partial > 0 && fsync_drop > 0,
        "{fsync_partial} {fsync_drop}"
    );
    assert_eq!(
        landed.len(),
        3,
        "nothing, prefix and all are drawn: {landed:?}"
    );
}

/// Drain faults are transient read faults of classes the plan has, drawn for some seeds, and a
/// plan without them serialises as before (its digest, and every artifact's, is unchanged).
#[test]
fn the_swarm_draws_drain_faults_only_of_the_plans_transient_read_classes() {
    let config = PlanConfig::default();
    let (mut with, mut eligible) = (0, 0);
    for seed in 0..200 {
        let plan = FaultPlan::generate(seed, &config);
        let has_read_class = plan.classes.contains(&FaultClass::ReadEio)
            || plan.classes.contains(&FaultClass::ReadCorrupt);
        eligible += u32::from(has_read_class);
        with += u32::from(!plan.drain.is_empty());
        for fault in &plan.drain {
            assert!(
                matches!(fault, DiskFault::ReadEio | DiskFault::ReadCorrupt { .. }),
                "seed {seed}: {fault:?}"
            );
            assert!(plan.classes.contains(&fault.class()), "seed {seed}");
        }
        if plan.drain.is_empty() {
            assert!(!plan.to_json().contains("drain"), "seed {seed}");
        }
    }
    assert!(with > 0 && with < eligible, "{with} of {eligible}");
    let old = FaultPlan::from_json(OLD_PLAN).unwrap();
    assert!(old.drain.is_empty(), "old plans arm nothing at the drain");
}
