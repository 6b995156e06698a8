//! The one tail-lost recovery known in the CI scenario's chaos arena (issue 11, "state no oracle
//! checks"). Recovery scans from the ingest cursor, so media damage below it is never read, and
//! the log ends below the cursor only when something forces a full scan: in chaos seed 50287 a
//! crash damages the quarantine list, the rebuild scans every segment and meets a damaged last
//! record [411800, 412056) that ingest had already applied. The engine must then leave a durable
//! dead letter for the range before `open` returns (`check/losses.rs`).
//!
//! The CI sweep's seeds never reach this path (1 chaos seed in 1,000 does), so this run keeps it
//! exercised. The planted bug `mutation/blind-spots/tail-lost-dead-letter-not-flushed.patch`
//! fails it; the unchanged engine must pass it, and the run must still be one that loses a tail.

use std::path::Path;

use stemedb_arenas::config::ArenaKind;
use stemedb_arenas::scenario::Scenario;
use stemedb_arenas::sim::run_seed;
use stemedb_reports::names::EVENT_TAIL_LOST;

const SEED: u64 = 50_287;

#[test]
fn a_tail_lost_below_the_cursor_is_recorded_durably_before_the_engine_serves() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/ci.toml");
    let scenario = Scenario::load(&path).expect("scenarios/ci.toml loads");
    let config = scenario.config(ArenaKind::Chaos, SEED, None);
    let result = run_seed(&config);
    assert_eq!(result.failure, None, "chaos seed {SEED} passes");
    assert_eq!(
        result.metrics.counts.event(EVENT_TAIL_LOST),
        1,
        "the run recovers exactly one lost tail: it still tests what it claims"
    );
}
