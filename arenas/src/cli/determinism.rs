//! check-determinism: every seed runs in two separate processes (fresh address-space layout, hash
//! seeds, thread timing); their fingerprints must be equal, and different seeds must differ.

use std::collections::BTreeMap;
use std::process::Command;

use super::{CliError, ShapeArgs};
use crate::outcome::{EXIT_NONDETERMINISM, EXIT_PASS};
use crate::scenario::parse_seeds;

/// `arena seed` -> fingerprint, as one child process printed them.
type Fingerprints = BTreeMap<String, String>;

/// A child process running `seed` (of `arenas`, or of the shape's) and printing only its
/// fingerprints.
fn child_command(shape: &ShapeArgs, arenas: &[&str], seed: u64) -> Result<Command, CliError> {
    let exe = std::env::current_exe().map_err(|e| CliError::Harness(e.to_string()))?;
    let mut cmd = Command::new(exe);
    cmd.args([
        "-q",
        "run",
        "--fingerprint-only",
        "--seed",
        &seed.to_string(),
    ]);
    let named: Vec<&str> = shape.arenas.iter().map(|a| a.name()).collect();
    for a in if arenas.is_empty() { &named } else { arenas } {
        cmd.args(["--arena", a]);
    }
    if let Some(ops) = shape.ops {
        cmd.args(["--ops", &ops.to_string()]);
    }
    if let Some(s) = &shape.scenario {
        cmd.arg("--scenario").arg(s);
    }
    for class in &shape.faults_off {
        cmd.args(["--faults-off", class.name()]);
    }
    Ok(cmd)
}

fn child(shape: &ShapeArgs, seed: u64) -> Result<Fingerprints, CliError> {
    let out = child_command(shape, &[], seed)?
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
    let seeds: Vec<u64> = parse_seeds(seeds)?.into_iter().collect();
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
                    let arena = k.split_whitespace().next().unwrap_or_default();
                    let mut again = format!(
                        "{}check-determinism --arena {arena} --seeds {seed}",
                        crate::world::CARGO_RUN
                    );
                    if let Some(ops) = shape.ops {
                        again.push_str(&format!(" --ops {ops}"));
                    }
                    if let Some(scenario) = &shape.scenario {
                        again.push_str(&format!(" --scenario {}", scenario.display()));
                    }
                    for class in &shape.faults_off {
                        again.push_str(&format!(" --faults-off {}", class.name()));
                    }
                    eprintln!(
                        "NON-DETERMINISTIC {k}: {v} vs {}\n  reproduce: {again}",
                        b.get(k).map_or("missing", String::as_str),
                    );
                    eprintln!("  {}", first_divergence(shape, arena, *seed));
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

/// Trace lines shown on each side of a divergence.
const DIVERGENCE_CONTEXT_LINES: usize = 2;

/// Runs `arena`'s `seed` twice more, each in its own process with its trace on (every event and
/// every disk call, `sim::TRACE_ENV`), and names the first line where the two traces part:
/// FoundationDB's way of debugging determinism, since two fingerprints alone say only that
/// something differed.
fn first_divergence(shape: &ShapeArgs, arena: &str, seed: u64) -> String {
    let traced = || -> Result<Vec<String>, CliError> {
        let out = child_command(shape, &[arena], seed)?
            .env(crate::sim::TRACE_ENV, "1")
            .output()
            .map_err(|e| CliError::Harness(format!("cannot start a traced child run: {e}")))?;
        Ok(String::from_utf8_lossy(&out.stderr)
            .lines()
            .map(str::to_owned)
            .collect())
    };
    let (a, b) = match (traced(), traced()) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return format!("no traced re-run: {e}"),
    };
    describe_divergence(&a, &b)
}

/// Where two trace streams first differ, with a little context before it.
fn describe_divergence(a: &[String], b: &[String]) -> String {
    let Some(at) = (0..a.len().max(b.len())).find(|&i| a.get(i) != b.get(i)) else {
        return format!(
            "the two traced re-runs agreed on all {} trace lines: the divergence did not recur",
            a.len()
        );
    };
    let mut out = format!("first divergence at trace line {}:\n", at + 1);
    for line in &a[at.saturating_sub(DIVERGENCE_CONTEXT_LINES)..at] {
        out.push_str(&format!("      both:   {line}\n"));
    }
    let side = |t: &[String]| t.get(at).map_or("(trace ended)", String::as_str).to_owned();
    out.push_str(&format!(
        "      first:  {}\n      second: {}",
        side(a),
        side(b)
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::describe_divergence;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_owned).collect()
    }

    #[test]
    fn names_the_first_line_that_differs_with_what_came_before() {
        let a =
            lines("[ 1us] boot\ndisk #1 open aa\ndisk #2 write bb\n[ 9us] ack 0\ndisk #3 sync cc");
        let b =
            lines("[ 1us] boot\ndisk #1 open aa\ndisk #2 write bb\n[ 9us] ack 0\ndisk #3 sync dd");
        let said = describe_divergence(&a, &b);
        assert!(
            said.starts_with("first divergence at trace line 5:"),
            "{said}"
        );
        assert!(said.contains("both:   disk #2 write bb") && said.contains("both:   [ 9us] ack 0"));
        assert!(!said.contains("disk #1"), "two lines of context: {said}");
        assert!(
            said.contains("first:  disk #3 sync cc") && said.contains("second: disk #3 sync dd")
        );
    }

    #[test]
    fn a_trace_that_ends_early_and_traces_that_agree_are_named_as_such() {
        let a = lines("x\ny");
        let said = describe_divergence(&a, &lines("x"));
        assert!(
            said.contains("line 2") && said.contains("second: (trace ended)"),
            "{said}"
        );
        assert!(describe_divergence(&a, &a).contains("did not recur"));
    }
}
