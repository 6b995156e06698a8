//! `shrink` itself: a planted failure (a tripwire that depends on both the workload and the
//! fault plan) shrinks to fewer operations and fewer fault events, still fails with the same
//! signature, and the saved artifact replays to the same verdict.

use stemedb_arenas::cli::{shrink, signature, Artifact};
use stemedb_arenas::config::{ArenaKind, RunConfig, Tripwire};
use stemedb_arenas::sim::run_seed;

/// Small enough for a debug build: every shrinking candidate is a full run.
const OPS: u64 = 240;
const ACKED_MIN: u64 = 20;

#[test]
fn a_planted_failure_shrinks_and_still_fails_the_same_way() {
    let mut config = RunConfig::new(ArenaKind::Chaos, 11, OPS);
    config.tripwire = Some(Tripwire {
        acked_min: ACKED_MIN,
    });
    config.plan = Some(config.plan());
    let original = run_seed(&config);
    let failure = original.failure.clone().expect("the tripwire must fire");
    assert!(
        failure.message().starts_with("tripwire:"),
        "failed for another reason: {failure:?}"
    );
    let events_before = original.plan.crashes.len() + original.plan.disk.len();
    assert!(events_before > 0, "the plan has nothing to shrink");

    let dir = tempfile::tempdir().unwrap();
    let artifact = Artifact {
        format: "stemedb-sim-failure/v1".into(),
        seed: config.seed,
        arena: config.arena.name().into(),
        verdict: failure.verdict().as_str().into(),
        message: failure.message().into(),
        fingerprint: original.fingerprint.clone(),
        commit: String::new(),
        build_profile: String::new(),
        world: stemedb_arenas::world::NAME.into(),
        options: config.options(),
        reproduce: String::new(),
        config: config.clone(),
    };
    let input = artifact.save(dir.path()).unwrap();
    let out = dir.path().join("shrunk");
    assert_eq!(shrink(&input, Some(&out)).unwrap(), 0);

    let saved: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(saved.len(), 1, "shrink saves exactly one artifact");
    let shrunk = Artifact::load(&saved[0]).unwrap();
    let plan = shrunk
        .config
        .plan
        .clone()
        .expect("a shrunk plan is explicit");
    assert!(
        shrunk.config.ops < OPS,
        "ops not reduced: {}",
        shrunk.config.ops
    );
    assert!(
        plan.crashes.len() + plan.disk.len() < events_before,
        "fault events not reduced: {} of {events_before}",
        plan.crashes.len() + plan.disk.len()
    );
    assert_eq!(
        plan.crashes.len(),
        1,
        "the tripwire needs exactly one crash, and shrink keeps no more"
    );
    assert_eq!(signature(&shrunk.message), signature(failure.message()));
    // The saved artifact replays to the same failure, exactly.
    let replayed = run_seed(&shrunk.config);
    let again = replayed
        .failure
        .expect("the shrunk artifact must still fail");
    assert_eq!(again.verdict(), failure.verdict());
    assert_eq!(again.message(), shrunk.message);
}
