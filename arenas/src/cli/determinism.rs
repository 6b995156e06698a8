//! check-determinism: every seed runs in two separate processes (fresh address-space layout, hash
//! seeds, thread timing); their fingerprints must be equal, and different seeds must differ.

use std::collections::BTreeMap;
use std::process::Command;

use super::{CliError, ShapeArgs};
use crate::outcome::{EXIT_NONDETERMINISM, EXIT_PASS};
use crate::scenario::parse_seeds;

/// `arena seed` -> fingerprint, as one child process printed them.
type Fingerprints = BTreeMap<String, String>;

fn child(shape: &ShapeArgs, seed: u64) -> Result<Fingerprints, CliError> {
    let exe = std::env::current_exe().map_err(|e| CliError::Harness(e.to_string()))?;
    let mut cmd = Command::new(exe);
    cmd.args([
        "-q",
        "run",
        "--fingerprint-only",
        "--seed",
        &seed.to_string(),
    ]);
    for a in &shape.arenas {
        cmd.args(["--arena", a.name()]);
    }
    if let Some(ops) = shape.ops {
        cmd.args(["--ops", &ops.to_string()]);
    }
    if let Some(s) = &shape.scenario {
        cmd.arg("--scenario").arg(s);
    }
    let out = cmd
        .output()
        .map_err(|e| CliError::Harness(format!("cannot start a child run: {e}")))?;
    if !out.status.success() {
        return Err(CliError::Harness(format!(
            "child run of seed {seed} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("FINGERPRINT "))
        .filter_map(|l| l.rsplit_once(' '))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect())
}

pub fn check(shape: &ShapeArgs, seeds: &str, jobs: Option<usize>) -> Result<i32, CliError> {
    let seeds: Vec<u64> = parse_seeds(seeds)?.collect();
    let jobs = jobs.unwrap_or_else(super::exec::jobs_default).max(1);
    // Every (seed, copy) is one child process; `jobs` workers take them in order, so both copies
    // of a seed usually run at the same time on different cores (a fair test of determinism:
    // different timing, different address-space layout) and no core idles.
    let tasks: Vec<(u64, usize)> = seeds.iter().flat_map(|&s| [(s, 0), (s, 1)]).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<Vec<(usize, Result<Fingerprints, CliError>)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..jobs.min(tasks.len()).max(1))
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(&(seed, _)) = tasks.get(i) else {
                            return done;
                        };
                        done.push((i, child(shape, seed)));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    vec![(
                        usize::MAX,
                        Err(CliError::Harness("a checker thread panicked".into())),
                    )]
                })
            })
            .collect()
    });
    let mut by_task: BTreeMap<usize, Fingerprints> = BTreeMap::new();
    for (i, r) in results.into_iter().flatten() {
        by_task.insert(i, r?);
    }
    let pairs: Vec<(u64, Fingerprints, Fingerprints)> = seeds
        .iter()
        .enumerate()
        .map(|(n, &seed)| {
            let a = by_task.remove(&(2 * n)).unwrap_or_default();
            let b = by_task.remove(&(2 * n + 1)).unwrap_or_default();
            (seed, a, b)
        })
        .collect();
    let mut mismatches = 0;
    let mut all: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (seed, a, b) in &pairs {
        if a.is_empty() {
            return Err(CliError::Harness(format!(
                "seed {seed}: the child printed no fingerprint"
            )));
        }
        if a != b {
            mismatches += 1;
            for (k, v) in a {
                if b.get(k) != Some(v) {
                    eprintln!(
                        "NON-DETERMINISTIC {k}: {v} vs {}\n  reproduce: {}check-determinism --seeds {seed}",
                        b.get(k).map_or("missing", String::as_str),
                        crate::world::CARGO_RUN
                    );
                }
            }
        }
        for (k, v) in a {
            all.entry(v.clone()).or_default().push(k.clone());
        }
    }
    let collisions: Vec<&Vec<String>> = all.values().filter(|runs| runs.len() > 1).collect();
    for runs in &collisions {
        eprintln!("different runs share one fingerprint: {}", runs.join(", "));
    }
    let runs: usize = pairs.iter().map(|(_, a, _)| a.len()).sum();
    println!(
        "check-determinism: {runs} runs over {} seeds, each in 2 processes: {mismatches} mismatching seeds, {} shared fingerprints",
        pairs.len(),
        collisions.len()
    );
    Ok(if mismatches == 0 && collisions.is_empty() {
        EXIT_PASS
    } else {
        EXIT_NONDETERMINISM
    })
}
