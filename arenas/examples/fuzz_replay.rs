//! Replays files through a fuzz target's body on stable, without cargo-fuzz:
//!
//! ```text
//! cargo run --release -p stemedb-arenas --example fuzz_replay -- TARGET FILE...
//! ```
//!
//! For `sim`, a failing input is turned into a failure artifact (in `STEMEDB_FUZZ_ARTIFACT_DIR`,
//! default `fuzz/artifacts/sim-failures`) for `stemedb-sim replay --artifact` and `stemedb-sim shrink
//! --artifact`; its path is printed. Exit code 1 if any input fails.

use std::panic::{self, AssertUnwindSafe};
use std::process::ExitCode;

use stemedb_arenas::fuzzing::{self, sim::sim_failure};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((name, files)) = args.split_first() else {
        eprintln!("usage: fuzz_replay TARGET FILE...");
        return ExitCode::from(2);
    };
    let Some(body) = fuzzing::target(name) else {
        let names: Vec<&str> = fuzzing::TARGETS.iter().map(|(n, _)| *n).collect();
        eprintln!("unknown target {name:?}; targets: {}", names.join(", "));
        return ExitCode::from(2);
    };
    let mut failed = 0;
    for file in files {
        let data = match std::fs::read(file) {
            Ok(data) => data,
            Err(e) => {
                eprintln!("{file}: {e}");
                return ExitCode::from(2);
            }
        };
        if name == "sim" {
            match sim_failure(&data) {
                Some((artifact, message)) => {
                    failed += 1;
                    println!("FAIL {file}: {message}\n  artifact: {}", artifact.display());
                    println!(
                        "  replay: cargo run --release --bin stemedb-sim -- replay --artifact {}",
                        artifact.display()
                    );
                    println!(
                        "  shrink: cargo run --release --bin stemedb-sim -- shrink --artifact {}",
                        artifact.display()
                    );
                }
                None => println!("pass {file}"),
            }
            continue;
        }
        match panic::catch_unwind(AssertUnwindSafe(|| body(&data))) {
            Ok(()) => println!("pass {file}"),
            Err(_) => {
                failed += 1;
                println!("FAIL {file} (the panic message is above)");
            }
        }
    }
    if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
