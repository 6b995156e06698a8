//! Every committed fuzz input (seed corpora under `fuzz/corpus/<target>/` and found-and-fixed
//! inputs under `fuzz/regressions/<target>/`) replays through its target's body on stable, so the
//! fuzz targets' properties are checked by `cargo test` too, without cargo-fuzz or nightly.

use std::path::{Path, PathBuf};

use stemedb_arenas::fuzzing::TARGETS;

fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("a readable directory entry").path())
        .filter(|p| p.is_file())
        .filter(|p| p.file_name().is_some_and(|n| n != ".gitkeep"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_committed_fuzz_input_replays_and_passes() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut summary = Vec::new();
    for (name, body) in TARGETS {
        let mut replayed = 0;
        for folder in ["corpus", "regressions"] {
            for file in inputs(&fuzz.join(folder).join(name)) {
                let data = std::fs::read(&file).expect("a readable input");
                eprintln!("{name}: {}", file.display());
                body(&data);
                replayed += 1;
            }
        }
        assert!(
            replayed > 0,
            "no committed inputs for the fuzz target {name}"
        );
        summary.push(format!("{name}={replayed}"));
    }
    eprintln!("replayed: {}", summary.join(" "));
}
