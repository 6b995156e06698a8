//! shrink: reduce a failing run to a minimal one that fails the same way, and save it as a
//! regression under scenarios/regressions/.
//!
//! Greedy delta debugging over what the run is made of: fewer operations (halving, then smaller
//! steps), then each fault event of the plan (crash, a crash's boot read, disk fault, KV fault,
//! clock jump, drain fault) removed one at a time, then fault classes switched off (latency, skew, drift). A
//! candidate is kept when it still fails with the same verdict. Every candidate is a full
//! deterministic run, so the result replays exactly.

use std::path::{Path, PathBuf};

use stemedb_reports::Verdict;

use super::artifact::{Artifact, ARTIFACT_FORMAT};
use super::exec::{build_profile, commit};
use super::guarded::run_guarded;
use super::CliError;
use crate::config::RunConfig;
use crate::outcome::EXIT_PASS;

/// Runs a shrinking attempt may spend, at most (each is one full simulation).
const SHRINK_RUNS_MAX: u32 = 400;

struct Shrinker {
    verdict: Verdict,
    /// The original failure's message with numbers and hashes masked: a candidate must fail the
    /// same way, not merely with the same verdict (or shrinking drifts to another bug).
    signature: String,
    runs: u32,
}

/// One failure signature for shrinking and for the reports' triage (see
/// [`stemedb_reports::signature`]): a shrunk run must fail with the signature it started with.
pub use stemedb_reports::signature;

impl Shrinker {
    /// Whether `config` still fails with the original verdict.
    fn fails(&mut self, config: &RunConfig) -> Option<String> {
        if self.runs >= SHRINK_RUNS_MAX {
            return None;
        }
        self.runs += 1;
        let result = run_guarded(config);
        result
            .failure
            .filter(|f| f.verdict() == self.verdict && signature(f.message()) == self.signature)
            .map(|f| f.message().to_owned())
    }
}

fn without<T: Clone>(items: &[T], i: usize) -> Vec<T> {
    let mut v = items.to_vec();
    v.remove(i);
    v
}

pub fn shrink(artifact_path: &Path, out: Option<&Path>) -> Result<i32, CliError> {
    let artifact = Artifact::load(artifact_path).map_err(CliError::Usage)?;
    let mut best = artifact.config.clone();
    best.plan = Some(best.plan());
    let mut s = Shrinker {
        verdict: Verdict::ALL_BY_SEVERITY
            .into_iter()
            .find(|v| v.as_str() == artifact.verdict)
            .ok_or_else(|| CliError::Usage(format!("unknown verdict {:?}", artifact.verdict)))?,
        signature: signature(&artifact.message),
        runs: 0,
    };
    let Some(mut message) = s.fails(&best) else {
        eprintln!(
            "shrink: the artifact no longer fails with {}; nothing to shrink",
            artifact.verdict
        );
        return Ok(EXIT_PASS);
    };
    // Fewer operations.
    let mut step = best.ops / 2;
    while step > 0 {
        let candidate = RunConfig {
            ops: best.ops - step,
            ..best.clone()
        };
        if candidate.ops > 0 {
            if let Some(m) = s.fails(&candidate) {
                best = candidate;
                message = m;
                continue;
            }
        }
        step /= 2;
    }
    // Fewer fault events, one at a time, until no single removal keeps the failure.
    loop {
        let plan = best.plan.clone().unwrap_or_default();
        let mut candidates = Vec::new();
        for i in 0..plan.crashes.len() {
            let mut p = plan.clone();
            p.crashes = without(&plan.crashes, i);
            candidates.push(p);
        }
        for (i, crash) in plan.crashes.iter().enumerate() {
            for j in 0..crash.boot_reads.len() {
                let mut p = plan.clone();
                p.crashes[i].boot_reads = without(&crash.boot_reads, j);
                candidates.push(p);
            }
        }
        for i in 0..plan.disk.len() {
            let mut p = plan.clone();
            p.disk = without(&plan.disk, i);
            candidates.push(p);
        }
        for i in 0..plan.kv.len() {
            let mut p = plan.clone();
            p.kv = without(&plan.kv, i);
            candidates.push(p);
        }
        for i in 0..plan.clock.jumps.len() {
            let mut p = plan.clone();
            p.clock.jumps = without(&plan.clock.jumps, i);
            candidates.push(p);
        }
        for i in 0..plan.drain.len() {
            let mut p = plan.clone();
            p.drain = without(&plan.drain, i);
            candidates.push(p);
        }
        if plan.latency.is_some() {
            candidates.push(stemedb_faults::FaultPlan {
                latency: None,
                ..plan.clone()
            });
        }
        if plan.clock.skew_ms != 0 || plan.clock.drift_ppm != 0 {
            let mut p = plan.clone();
            p.clock.skew_ms = 0;
            p.clock.drift_ppm = 0;
            candidates.push(p);
        }
        let mut improved = false;
        for p in candidates {
            let candidate = RunConfig {
                plan: Some(p),
                ..best.clone()
            };
            if let Some(m) = s.fails(&candidate) {
                best = candidate;
                message = m;
                improved = true;
                break;
            }
        }
        if !improved {
            break;
        }
    }
    let plan = best.plan.clone().unwrap_or_default();
    let dir = out
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("scenarios/regressions"));
    let name = format!("{}-seed{}", best.arena.name(), best.seed);
    let shrunk = Artifact {
        format: ARTIFACT_FORMAT.into(),
        seed: best.seed,
        arena: best.arena.name().into(),
        verdict: s.verdict.as_str().into(),
        message: message.clone(),
        fingerprint: String::new(),
        commit: commit().into(),
        build_profile: build_profile().into(),
        world: crate::world::NAME.into(),
        options: best.options(),
        reproduce: String::new(),
        config: best.clone(),
    };
    std::fs::create_dir_all(&dir).map_err(|e| CliError::Harness(e.to_string()))?;
    let path = dir.join(format!("{name}.json"));
    let text = serde_json::to_string_pretty(&Artifact {
        reproduce: format!(
            "{}replay --artifact {}",
            crate::world::CARGO_RUN,
            path.display()
        ),
        ..shrunk
    })
    .map_err(|e| CliError::Harness(e.to_string()))?;
    std::fs::write(&path, text).map_err(|e| CliError::Harness(e.to_string()))?;
    println!(
        "shrunk in {} runs: {} ops (from {}), {} crashes ({} boot reads), {} disk faults, {} KV faults, {} clock jumps, {} drain faults; still {}: {message}\nsaved: {}",
        s.runs,
        best.ops,
        artifact.config.ops,
        plan.crashes.len(),
        plan.crashes.iter().map(|c| c.boot_reads.len()).sum::<usize>(),
        plan.disk.len(),
        plan.kv.len(),
        plan.clock.jumps.len(),
        plan.drain.len(),
        s.verdict.as_str(),
        path.display()
    );
    Ok(EXIT_PASS)
}
