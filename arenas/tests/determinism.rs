//! Same config, same run: two in-process runs of a seed agree bit for bit (the cross-process
//! check is `stemedb-sim check-determinism`, run by CI); different seeds differ.

use stemedb_arenas::config::{ArenaKind, RunConfig};
use stemedb_arenas::sim::run_seed;

#[test]
fn the_same_seed_gives_the_same_fingerprint_and_different_seeds_differ() {
    for arena in ArenaKind::ALL {
        let a = run_seed(&RunConfig::new(arena, 7, 150));
        let b = run_seed(&RunConfig::new(arena, 7, 150));
        assert_eq!(a.failure, None, "{arena:?}");
        assert_eq!(
            a.fingerprint, b.fingerprint,
            "{arena:?}: same seed, different run"
        );
        let c = run_seed(&RunConfig::new(arena, 8, 150));
        assert_ne!(
            a.fingerprint, c.fingerprint,
            "{arena:?}: different seeds, same run"
        );
    }
}
