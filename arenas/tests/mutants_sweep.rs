//! The simulator as cargo-mutants' test (issue 11): a fixed half of the CI scenario, run
//! in-process, stopping at the first failing seed. cargo-mutants builds the engine with one
//! mutation at a time and runs this; a mutant this passes is one the simulator cannot see.
//!
//! Ignored by default (it is slow in a debug build and the CI sweep already covers these
//! seeds); `mutation/mutants` runs it in the release profile with `--ignored`. The exact command
//! is in `mutation/README.md`.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use stemedb_arenas::cli::run_guarded;
use stemedb_arenas::scenario::Scenario;

/// Seeds per arena: the first half of the CI scenario's 48, so a survivor costs half a sweep.
const SEEDS_PER_ARENA: u64 = 24;
/// Worker threads (the machines this runs on have 2 cores).
const JOBS: usize = 2;

#[test]
#[ignore = "cargo-mutants' test: run in release with --ignored (mutation/mutants)"]
fn the_first_half_of_the_ci_sweep_passes() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/ci.toml");
    let scenario = Scenario::load(&path).expect("scenarios/ci.toml loads");
    let arenas = scenario.arenas();
    // Every arena of the CI scenario, however many it names: a fixed count here once failed this
    // test at once on every mutant after a fifth arena joined, and cargo-mutants (which runs no
    // baseline here) called each of them caught. `mutation/mutants` now runs this on the
    // unmutated tree first.
    assert!(!arenas.is_empty(), "the CI scenario names no arena");
    let runs: Vec<_> = arenas
        .iter()
        .copied()
        .flat_map(|arena| (1..=SEEDS_PER_ARENA).map(move |seed| (arena, seed)))
        .map(|(arena, seed)| scenario.config(arena, seed, None))
        .collect();
    assert_eq!(
        runs.len() as u64,
        arenas.len() as u64 * SEEDS_PER_ARENA,
        "every arena runs"
    );
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..JOBS {
            scope.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(config) = runs.get(i) else { break };
                    let result = run_guarded(config);
                    if let Some(failure) = result.failure {
                        stop.store(true, Ordering::Relaxed);
                        failures.lock().unwrap().push(format!(
                            "{} seed {}: {failure:?}",
                            config.arena.name(),
                            config.seed
                        ));
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(failures.is_empty(), "the sweep failed: {failures:#?}");
}
