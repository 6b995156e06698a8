//! run, sweep and replay: build the run configs, execute them (in parallel), report, and for
//! every failure print the line that reproduces it and save an artifact.

use std::path::Path;
use std::time::{Duration, Instant};

use stemedb_reports::{render_terminal, ArenaOutcome, Report, SeedSet, Throughput, Verdict};

use super::artifact::{Artifact, ARTIFACT_FORMAT};
use super::guarded::{execute, Executed};
use super::{CliError, OutputArgs, ShapeArgs};
use crate::config::RunConfig;
use crate::outcome::exit_code;
use crate::scenario::{parse_seeds, Scenario, DEFAULT_SEED};
use crate::sim::SeedResult;

pub fn commit() -> &'static str {
    option_env!("STEMEDB_COMMIT").unwrap_or("unknown")
}

pub fn build_profile() -> &'static str {
    if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    }
}

/// Wall time, only ever for the report's separate, non-fingerprinted speed section.
pub(super) fn wall_now() -> Instant {
    crate::wall::now()
}

fn scenario_of(shape: &ShapeArgs) -> Result<Scenario, CliError> {
    let mut scenario = match &shape.scenario {
        Some(path) => Scenario::load(path)?,
        None => Scenario::default(),
    };
    if !shape.faults_off.is_empty() {
        let off = scenario.overrides.faults_off.get_or_insert_with(Vec::new);
        for class in &shape.faults_off {
            if !off.contains(class) {
                off.push(*class);
            }
        }
    }
    Ok(scenario)
}

fn arenas_of(shape: &ShapeArgs, scenario: &Scenario) -> Vec<crate::config::ArenaKind> {
    if shape.arenas.is_empty() {
        scenario.arenas()
    } else {
        shape.arenas.clone()
    }
}

/// The command that reproduces one seed's run exactly.
pub fn reproduce_line(shape: &ShapeArgs, config: &RunConfig, artifact: Option<&Path>) -> String {
    let mut line = format!(
        "{}replay --arena {} --seed {} --ops {}",
        crate::world::CARGO_RUN,
        config.arena.name(),
        config.seed,
        config.ops
    );
    if let Some(s) = &shape.scenario {
        line.push_str(&format!(" --scenario {}", s.display()));
    }
    for class in &config.faults_off {
        line.push_str(&format!(" --faults-off {}", class.name()));
    }
    if config.plan.is_some() {
        if let Some(a) = artifact {
            line = format!(
                "{}replay --artifact {}",
                crate::world::CARGO_RUN,
                a.display()
            );
        }
    }
    line.push_str(&format!(
        "   # commit {}, {} build",
        commit(),
        build_profile()
    ));
    line
}

/// What a command is, for its report, log lines and history row.
pub struct Job {
    /// `run`, `sweep` or `replay`.
    pub command: &'static str,
    /// Ties the report, the log lines and the history row together; the same for every shard of
    /// one sweep and for the sweep unsharded (see [`run_id`]).
    pub run_id: String,
    /// `--shard i/n`, if given.
    pub shard: Option<(u64, u64)>,
    /// Wall time spent building the configs (the plans are drawn inside each run).
    pub plan_wall: Duration,
}

impl Job {
    /// A command that runs `configs` whole (no shard; its configs take no time to plan).
    fn unsharded(command: &'static str, configs: &[RunConfig]) -> Self {
        Job {
            command,
            run_id: run_id(configs),
            shard: None,
            plan_wall: Duration::ZERO,
        }
    }

    /// Names the run id for the log and enters the command's span (hold it until the end).
    fn enter(&self) -> tracing::span::EnteredSpan {
        super::logging::set_run_id(&self.run_id);
        let span =
            tracing::info_span!("command", run_id = %self.run_id, command = self.command).entered();
        tracing::info!(shard = ?self.shard, "started");
        span
    }
}

/// Where the command's wall time went, for `--json` (machine-dependent, so outside the report's
/// deterministic form): `plan` (configs), `runs` (every world, on all workers), `report`; and,
/// summed over runs on their workers, `runs_faults` (the workload under faults with its online
/// checks) and `runs_liveness_and_checks` (convergence after faults stop and the final checks,
/// which interleave inside a run).
fn stages_wall_ms(
    job: &Job,
    results: &[SeedResult],
    runs: Duration,
    report: Duration,
) -> serde_json::Value {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let faults: Duration = results.iter().map(|r| r.wall_faults).sum();
    let total: Duration = results.iter().map(|r| r.wall_total).sum();
    serde_json::json!({
        "plan": ms(job.plan_wall),
        "runs": ms(runs),
        "runs_faults": ms(faults),
        "runs_liveness_and_checks": ms(total.saturating_sub(faults)),
        "report": ms(report),
    })
}

/// Seconds since the Unix epoch, for the history row only (never fingerprinted).
#[expect(
    clippy::disallowed_methods,
    reason = "a history row records when it ran; never part of a run"
)]
fn unix_now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The run history's file under the output directory: one JSON line per run or sweep.
pub const HISTORY_FILE_NAME: &str = "history.jsonl";

/// A run id from every config of the whole command (all shards): a function of what runs, so a
/// sweep's shards and the sweep unsharded share it, and two processes running the same thing
/// agree.
pub fn run_id(configs: &[RunConfig]) -> String {
    let mut h = blake3::Hasher::new();
    for c in configs {
        h.update(
            serde_json::to_string(&c.options())
                .unwrap_or_default()
                .as_bytes(),
        );
    }
    h.finalize().to_hex()[..16].to_owned()
}

/// Builds the report of `results`, prints what a human or a machine needs, writes files, and
/// returns the exit code.
pub fn finish(
    job: &Job,
    shape: &ShapeArgs,
    executed: &Executed,
    wall: Duration,
    workers: usize,
    output: &OutputArgs,
    quiet: bool,
) -> Result<i32, CliError> {
    let reporting = wall_now();
    let results = &executed.results;
    let mut report = Report::new(
        job.run_id.clone(),
        env!("CARGO_PKG_VERSION"),
        commit(),
        build_profile(),
    );
    let mut seeds = SeedSet::new();
    let mut sim_us = 0u64;
    let mut busy_us = 0u64;
    let mut ops = 0u64;
    for r in results {
        seeds.insert(r.config.seed);
        let arena = r.config.arena.name();
        report.arenas.insert(arena.to_owned());
        for (k, v) in r.config.options() {
            if k != "seed" {
                let entry = report.options.entry(k).or_insert_with(|| v.clone());
                if !entry.split(',').any(|x| x == v) {
                    entry.push(',');
                    entry.push_str(&v);
                }
            }
        }
        for (name, hist) in &r.metrics.latencies {
            report.latency_mut(name).merge(hist);
        }
        report.counts.add(&r.metrics.counts);
        for (name, hits) in &r.metrics.probes {
            report.add_probe_hits(name, *hits);
        }
        for capacity in r.metrics.capacity.values() {
            report.add_capacity(capacity);
        }
        sim_us += r.metrics.sim_duration_us;
        busy_us += r.metrics.busy_sim_us;
        ops += r.metrics.ops;
        let (verdict, message) = match &r.failure {
            None => (Verdict::Pass, String::new()),
            Some(f) => (f.verdict(), f.message().to_owned()),
        };
        // A run whose plan was given explicitly (an artifact's, a fuzzer's) is not reproduced by
        // its seed: the line must name the artifact that carries the plan.
        let artifact_path = Artifact::path_in(&output.out, arena, r.config.seed);
        let mut reproduce = reproduce_line(
            shape,
            &r.config,
            r.failure.as_ref().map(|_| artifact_path.as_path()),
        );
        if let Some(f) = &r.failure {
            let artifact = Artifact {
                format: ARTIFACT_FORMAT.into(),
                seed: r.config.seed,
                arena: arena.into(),
                verdict: verdict.as_str().into(),
                message: f.message().into(),
                fingerprint: r.fingerprint.clone(),
                commit: commit().into(),
                build_profile: build_profile().into(),
                world: crate::world::NAME.into(),
                options: r.config.options(),
                reproduce: reproduce.clone(),
                config: RunConfig {
                    plan: Some(r.plan.clone()),
                    ..r.config.clone()
                },
            };
            let path = artifact.save(&output.out).map_err(CliError::Harness)?;
            reproduce = format!("{reproduce}\n  artifact: {}", path.display());
            eprintln!(
                "FAIL {} seed {}: {}: {}\n  reproduce: {reproduce}",
                arena,
                r.config.seed,
                verdict.as_str(),
                f.message()
            );
        }
        report.add_outcome(ArenaOutcome {
            arena: arena.into(),
            seed: Some(r.config.seed),
            verdict,
            message,
            reproduce,
        });
        report
            .add_fingerprint(format!("{arena}/{}", r.config.seed), r.fingerprint.clone())
            .map_err(|e| CliError::Harness(e.to_string()))?;
    }
    for (name, hist) in &executed.latencies {
        report.latency_mut(name).merge(hist);
    }
    report.declare_probes(stemedb::probe::Probe::ALL.iter().map(|p| p.name()));
    if let Some((i, n)) = job.shard {
        report.options.insert(
            stemedb_reports::names::OPTION_SHARD.into(),
            format!("{i}/{n}"),
        );
    }
    // The same order whatever the jobs and shards, so merged shards equal the whole sweep.
    report.canonicalize();
    report.seeds = seeds;
    report.throughput = Throughput::new(ops, sim_us).with_busy(busy_us);
    report.set_wall(wall);
    let twin = super::twin::crypto_twin(super::twin::signed_records(&report.counts));
    report.set_twin(workers as u64, twin);
    std::fs::create_dir_all(&output.out)
        .map_err(|e| CliError::Harness(format!("cannot create {}: {e}", output.out.display())))?;
    let path = output.out.join("report.json");
    report
        .save_json(&path)
        .map_err(|e| CliError::Harness(format!("cannot write {}: {e}", path.display())))?;
    report
        .write_hgrm_files(&output.out)
        .map_err(|e| CliError::Harness(format!("cannot write .hgrm files: {e}")))?;
    let scenario = shape
        .scenario
        .as_ref()
        .map_or_else(|| "default".to_owned(), |p| p.display().to_string());
    let row = stemedb_reports::HistoryRow::from_report(
        &report,
        job.command,
        crate::world::NAME,
        scenario,
        unix_now_s(),
    );
    let history = output.out.join(HISTORY_FILE_NAME);
    if let Err(e) = stemedb_reports::append_history(&history, &row) {
        // The history is a convenience: losing a row never fails a run.
        eprintln!("stemedb-sim: no history row in {}: {e}", history.display());
    }
    tracing::info!(
        verdict = report.verdict().as_str(),
        failures = report.failures().count(),
        seeds = report.seeds.len(),
        "finished"
    );
    if output.json {
        let mut json: serde_json::Value = serde_json::from_str(
            &report
                .to_json_pretty()
                .map_err(|e| CliError::Harness(e.to_string()))?,
        )
        .map_err(|e| CliError::Harness(e.to_string()))?;
        json["stages_wall_ms"] = stages_wall_ms(job, results, wall, reporting.elapsed());
        let text =
            serde_json::to_string_pretty(&json).map_err(|e| CliError::Harness(e.to_string()))?;
        println!("{text}");
    } else if !quiet {
        print!("{}", render_terminal(&report));
        println!("report: {}", path.display());
    }
    let code = exit_code(report.verdict());
    let starved = report.starved_probes();
    if output.require_probes && code == 0 && !starved.is_empty() {
        eprintln!(
            "coverage: {} declared fault-path probe(s) never fired: {} (--require-probes)",
            starved.len(),
            starved.join(", ")
        );
        return Ok(crate::outcome::EXIT_COVERAGE);
    }
    Ok(code)
}

pub fn run(
    shape: &ShapeArgs,
    seed: Option<u64>,
    output: &OutputArgs,
    fingerprint_only: bool,
    quiet: bool,
) -> Result<i32, CliError> {
    let scenario = scenario_of(shape)?;
    crate::watchdog::runs_from(shape.scenario.as_deref(), None);
    let seed = seed.or(scenario.seed).unwrap_or(DEFAULT_SEED);
    let configs: Vec<RunConfig> = arenas_of(shape, &scenario)
        .into_iter()
        .map(|a| scenario.config(a, seed, shape.ops))
        .collect();
    print_start(&configs, quiet || output.json || fingerprint_only);
    let job = Job::unsharded("run", &configs);
    let _span = job.enter();
    let started = wall_now();
    let workers = configs.len().min(jobs_default());
    let results = execute(&configs, workers, false);
    if fingerprint_only {
        for r in &results.results {
            println!(
                "FINGERPRINT {} {} {}",
                r.config.arena.name(),
                r.config.seed,
                r.fingerprint
            );
        }
        return Ok(0);
    }
    finish(
        &job,
        shape,
        &results,
        started.elapsed(),
        workers,
        output,
        quiet,
    )
}

pub fn jobs_default() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn print_start(configs: &[RunConfig], quiet: bool) {
    if quiet {
        return;
    }
    for c in configs {
        let opts: Vec<String> = c.config_line();
        eprintln!("run {} seed {}: {}", c.arena.name(), c.seed, opts.join(" "));
    }
}

impl RunConfig {
    /// `key=value` for every option that shaped the run, for the start-of-run line.
    pub fn config_line(&self) -> Vec<String> {
        self.options()
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect()
    }
}

/// Parses `i/n` (1-based).
fn parse_shard(text: &str) -> Result<(u64, u64), CliError> {
    let bad = || {
        CliError::Usage(format!(
            "bad --shard {text:?}: expected i/n with 1 <= i <= n"
        ))
    };
    let (i, n) = text.split_once('/').ok_or_else(bad)?;
    let (i, n): (u64, u64) = (
        i.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if n == 0 || i == 0 || i > n {
        return Err(bad());
    }
    Ok((i, n))
}

pub fn sweep(
    shape: &ShapeArgs,
    seeds: Option<&str>,
    jobs: Option<usize>,
    shard: Option<&str>,
    output: &OutputArgs,
    quiet: bool,
) -> Result<i32, CliError> {
    let planning = wall_now();
    let scenario = scenario_of(shape)?;
    let (i, n) = match shard {
        Some(s) => parse_shard(s)?,
        None => (1, 1),
    };
    let arenas = arenas_of(shape, &scenario);
    // `--seeds` wins for every arena; otherwise each arena takes its own set from the scenario.
    let mut ranges = Vec::new();
    for &a in &arenas {
        let text = seeds.or_else(|| scenario.seeds_for(a)).ok_or_else(|| {
            CliError::Usage(format!(
                "sweep needs --seeds (or a scenario with seeds for {})",
                a.name()
            ))
        })?;
        ranges.push((a, text.to_owned(), parse_seeds(text)?));
    }
    let mut seeds_text: Vec<String> = ranges.iter().map(|(_, t, _)| t.clone()).collect();
    seeds_text.dedup();
    let seeds_text = seeds_text.join(", ");
    // Interleave arenas seed by seed (as before) so a slow arena does not end the sweep alone.
    let mut configs: Vec<RunConfig> = Vec::new();
    let mut iters: Vec<_> = ranges
        .into_iter()
        .map(|(a, _, r)| (a, r.into_iter()))
        .collect();
    loop {
        let before = configs.len();
        for (a, it) in &mut iters {
            if let Some(seed) = it.next() {
                configs.push(scenario.config(*a, seed, shape.ops));
            }
        }
        if configs.len() == before {
            break;
        }
    }
    let job = Job {
        command: "sweep",
        run_id: run_id(&configs),
        shard: shard.map(|_| (i, n)),
        plan_wall: Duration::ZERO,
    };
    configs.retain(|c| c.seed % n == i - 1);
    if configs.is_empty() {
        return Err(CliError::Usage("the sweep selects no seeds".into()));
    }
    let job = Job {
        plan_wall: planning.elapsed(),
        ..job
    };
    let _span = job.enter();
    if !quiet && !output.json {
        eprintln!(
            "sweep: {} runs ({} arenas x seeds {seeds_text}, shard {i}/{n}), {} jobs",
            configs.len(),
            arenas.len(),
            jobs.unwrap_or_else(jobs_default)
        );
    }
    let started = wall_now();
    let jobs = jobs.unwrap_or_else(jobs_default);
    crate::watchdog::runs_from(shape.scenario.as_deref(), None);
    let results = execute(&configs, jobs, !quiet && !output.json);
    let wall = started.elapsed();
    let workers = jobs.clamp(1, configs.len().max(1));
    let failing: Vec<String> = results
        .results
        .iter()
        .filter(|r| r.failure.is_some())
        .map(|r| format!("{}/{}", r.config.arena.name(), r.config.seed))
        .collect();
    if !quiet && !output.json {
        eprintln!(
            "sweep done: {} runs, {} failing{}",
            results.results.len(),
            failing.len(),
            if failing.is_empty() {
                String::new()
            } else {
                format!(": {}", failing.join(" "))
            }
        );
    }
    finish(&job, shape, &results, wall, workers, output, quiet)
}

pub fn replay(
    shape: &ShapeArgs,
    seed: Option<u64>,
    artifact: Option<&Path>,
    output: &OutputArgs,
    quiet: bool,
) -> Result<i32, CliError> {
    let configs: Vec<RunConfig> = match artifact {
        Some(path) => vec![Artifact::load(path).map_err(CliError::Usage)?.config],
        None => {
            let scenario = scenario_of(shape)?;
            let seed = seed
                .or(scenario.seed)
                .ok_or_else(|| CliError::Usage("replay needs --seed or --artifact".into()))?;
            arenas_of(shape, &scenario)
                .into_iter()
                .map(|a| scenario.config(a, seed, shape.ops))
                .collect()
        }
    };
    print_start(&configs, quiet || output.json);
    crate::watchdog::runs_from(shape.scenario.as_deref(), artifact);
    let job = Job::unsharded("replay", &configs);
    let _span = job.enter();
    let started = wall_now();
    let results = execute(&configs, 1, false);
    finish(&job, shape, &results, started.elapsed(), 1, output, quiet)
}
