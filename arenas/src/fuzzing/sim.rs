//! `sim`: a whole simulated run whose shape and fault plan the fuzzer chooses.
//!
//! The bytes choose an arena, a seed, a small number of operations (so one run takes
//! milliseconds in release) and the plan: either the swarm generator's plan for that seed (what a
//! sweep would run) or a plan drawn within the arena's plan shape (`FaultPlan::arbitrary_within`,
//! crashes moved into the first 90% of the run as for generated plans). The run's own oracles are
//! the properties: a failing run is a finding. It is saved as a failure artifact, the same JSON
//! `stemedb-sim` writes, so `stemedb-sim replay --artifact F` reproduces it and
//! `stemedb-sim shrink --artifact F` minimises it.

use std::path::PathBuf;

use arbitrary::{Result as ArbResult, Unstructured};
use stemedb_faults::FaultPlan;

use crate::cli::{build_profile, commit, run_guarded, Artifact, ARTIFACT_FORMAT};
use crate::config::{crashes_before_the_end, ArenaKind, RunConfig};
use crate::sim::SeedResult;

/// Workload operations of one run, at most: enough for bursts, crashes mid-burst, rotation and
/// a liveness phase, small enough for hundreds of runs a second across the fuzzer's cores.
pub const SIM_OPS_MAX: u64 = 120;
/// Where failure artifacts go, unless [`ARTIFACT_DIR_ENV`] says otherwise.
/// Not `fuzz/artifacts/sim` itself: cargo-fuzz names the newest file there as the failing input.
pub const ARTIFACT_DIR_DEFAULT: &str = "fuzz/artifacts/sim-failures";
/// Environment variable naming the directory for failure artifacts.
pub const ARTIFACT_DIR_ENV: &str = "STEMEDB_FUZZ_ARTIFACT_DIR";
/// Hex digits of the input's digest in an artifact's file name (inputs that share an arena and
/// a seed still get files of their own).
const INPUT_DIGEST_HEX_LEN: usize = 12;

/// The run the bytes describe, its plan explicit.
pub fn sim_config(data: &[u8]) -> ArbResult<RunConfig> {
    let mut u = Unstructured::new(data);
    let arena = ArenaKind::ALL[u.choose_index(ArenaKind::ALL.len())?];
    let seed = u.arbitrary()?;
    let ops = u.int_in_range(1..=SIM_OPS_MAX)?;
    let mut config = RunConfig::new(arena, seed, ops);
    let plan = if u.arbitrary()? {
        let mut plan = FaultPlan::arbitrary_within(&mut u, &config.plan_config())?;
        crashes_before_the_end(&mut plan);
        plan
    } else {
        config.plan()
    };
    config.plan = Some(plan);
    Ok(config)
}

/// Runs the input's config; on a failure writes its artifact and returns its path with the
/// failure. Panics inside the run are failures (as `stemedb-sim` reports them).
pub fn sim_failure(data: &[u8]) -> Option<(PathBuf, String)> {
    let config = sim_config(data).ok()?;
    let result = run_guarded(&config);
    let failure = result.failure.as_ref()?;
    let message = format!("{}: {}", failure.verdict().as_str(), failure.message());
    let dir = std::env::var_os(ARTIFACT_DIR_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(ARTIFACT_DIR_DEFAULT));
    let path = match save_artifact(&result, data, &dir) {
        Ok(path) => path,
        Err(e) => panic!("{message}\n(and the failure artifact could not be written: {e})"),
    };
    Some((path, message))
}

fn save_artifact(
    result: &SeedResult,
    data: &[u8],
    dir: &std::path::Path,
) -> Result<PathBuf, String> {
    let config = &result.config;
    let failure = result.failure.as_ref().ok_or("no failure")?;
    let digest = blake3::hash(data).to_hex();
    let name = format!(
        "failure-{}-{}-{}.json",
        config.arena.name(),
        config.seed,
        &digest[..INPUT_DIGEST_HEX_LEN]
    );
    let path = dir.join(name);
    let artifact = Artifact {
        format: ARTIFACT_FORMAT.into(),
        seed: config.seed,
        arena: config.arena.name().into(),
        verdict: failure.verdict().as_str().into(),
        message: failure.message().into(),
        fingerprint: result.fingerprint.clone(),
        commit: commit().into(),
        build_profile: build_profile().into(),
        world: crate::world::NAME.into(),
        options: config.options(),
        reproduce: format!(
            "{}replay --artifact {}",
            crate::world::CARGO_RUN,
            path.display()
        ),
        config: RunConfig {
            plan: Some(result.plan.clone()),
            ..config.clone()
        },
    };
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let text = serde_json::to_string_pretty(&artifact).map_err(|e| e.to_string())?;
    std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

pub fn sim(data: &[u8]) {
    if let Some((path, message)) = sim_failure(data) {
        panic!("{message}\nfailure artifact: {}", path.display());
    }
}
