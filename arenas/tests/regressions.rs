//! Every committed regression (a shrunk failure artifact under scenarios/regressions/) replays and
//! now passes: the bug it found stays fixed.

use std::path::Path;

use stemedb_arenas::cli::Artifact;
use stemedb_arenas::sim::run_seed;

#[test]
fn every_committed_regression_passes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/regressions");
    let mut ran = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let artifact = Artifact::load(&path).unwrap();
        let result = run_seed(&artifact.config);
        assert_eq!(result.failure, None, "{} fails again", path.display());
        ran += 1;
    }
    assert!(
        ran > 0,
        "no regression artifacts found in {}",
        dir.display()
    );
}
