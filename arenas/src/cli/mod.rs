//! The `stemedb-sim` command line (DESIGN.md section 7).
//!
//! Exit codes: 0 pass, 1 safety invariant violated, 2 usage, 3 liveness failure,
//! 4 non-determinism detected, 5 harness error. Machine output (`--json`) goes to stdout; human
//! logs go to stderr.

mod artifact;
mod determinism;
mod exec;
mod guarded;
mod logging;
mod report_cmd;
mod shrink;
mod twin;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::ArenaKind;

pub use artifact::{Artifact, ARTIFACT_FORMAT};
pub use exec::{build_profile, commit};
pub use guarded::run_guarded;
pub use shrink::{shrink, signature};

#[derive(Parser, Debug)]
#[command(
    name = "stemedb-sim",
    version,
    about = "Deterministic simulation and chaos testing for StemeDB"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub log: LogArgs,
}

#[derive(Args, Debug, Clone)]
pub struct LogArgs {
    /// More logging on stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Log line format on stderr.
    #[arg(long, value_enum, default_value = "text", global = true)]
    pub log_format: LogFormat,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// What shapes runs: arenas, sizes, scenario.
#[derive(Args, Debug, Clone)]
pub struct ShapeArgs {
    /// Arena(s) to run; default: every arena of the scenario (all four).
    #[arg(long = "arena", value_enum)]
    pub arenas: Vec<ArenaKind>,
    /// Workload operations per run (default: the scenario's, else 2000).
    #[arg(long)]
    pub ops: Option<u64>,
    /// A scenario file (TOML, see scenarios/README.md).
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// A fault class no run draws (repeatable; snake_case, e.g. `enospc`, `fsync_eio`), on top of
    /// the scenario's `faults_off`.
    #[arg(long = "faults-off", value_parser = parse_fault_class)]
    pub faults_off: Vec<stemedb_faults::FaultClass>,
}

fn parse_fault_class(text: &str) -> Result<stemedb_faults::FaultClass, String> {
    stemedb_faults::FaultClass::ALL
        .into_iter()
        .find(|c| c.name() == text)
        .ok_or_else(|| {
            let names: Vec<&str> = stemedb_faults::FaultClass::ALL
                .iter()
                .map(|c| c.name())
                .collect();
            format!("unknown fault class {text:?}; one of: {}", names.join(", "))
        })
}

/// Where reports, artifacts, logs and the run history go unless `--out` says otherwise.
pub const DEFAULT_OUT_DIR: &str = "sim-out";

/// Where output goes.
#[derive(Args, Debug, Clone)]
pub struct OutputArgs {
    /// Print the report as JSON on stdout instead of the terminal summary.
    #[arg(long)]
    pub json: bool,
    /// Directory for the report, .hgrm files and failure artifacts.
    #[arg(long, default_value = DEFAULT_OUT_DIR)]
    pub out: PathBuf,
    /// Exit 6 when a declared fault-path probe of the engine (`stemedb::probe`) never fired in
    /// any run: a path the runs no longer reach is a path they no longer test.
    #[arg(long)]
    pub require_probes: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the arenas once (default: all four on the default scenario, seed 1).
    Run {
        #[command(flatten)]
        shape: ShapeArgs,
        /// The seed (default: the scenario's, else 1).
        #[arg(long)]
        seed: Option<u64>,
        #[command(flatten)]
        output: OutputArgs,
        /// Print only `FINGERPRINT <arena> <seed> <hex>` lines (used by check-determinism).
        #[arg(long, hide = true)]
        fingerprint_only: bool,
    },
    /// Run a range of seeds, in parallel, optionally one shard of it.
    Sweep {
        #[command(flatten)]
        shape: ShapeArgs,
        /// Seeds: N, A..B (exclusive) or A..=B (default: the scenario's).
        #[arg(long)]
        seeds: Option<String>,
        /// Parallel runs (default: the number of cores).
        #[arg(long)]
        jobs: Option<usize>,
        /// Run only shard i of n (1-based): a disjoint subset of the seeds.
        #[arg(long)]
        shard: Option<String>,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Re-run one seed exactly: from flags, or from a saved failure artifact.
    Replay {
        #[command(flatten)]
        shape: ShapeArgs,
        #[arg(long, conflicts_with = "artifact")]
        seed: Option<u64>,
        /// A failure artifact written by run/sweep (its config and fault plan are used as is).
        #[arg(long)]
        artifact: Option<PathBuf>,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Run each seed in two separate processes and compare fingerprints.
    CheckDeterminism {
        #[command(flatten)]
        shape: ShapeArgs,
        /// Seeds: N, A..B or A..=B.
        #[arg(long)]
        seeds: String,
        /// Parallel child processes.
        #[arg(long)]
        jobs: Option<usize>,
    },
    /// Shrink a failure artifact to a minimal run that fails the same way, saved as a regression.
    Shrink {
        /// The failure artifact to shrink.
        #[arg(long)]
        artifact: PathBuf,
        /// Where to save the shrunk artifact (default: scenarios/regressions).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Render, merge or compare reports.
    Report {
        #[command(subcommand)]
        action: report_cmd::ReportAction,
    },
}

/// Runs the CLI; returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                crate::outcome::EXIT_USAGE
            } else {
                0
            };
            let _ = e.print();
            return code;
        }
    };
    let out = match &cli.command {
        Command::Run { output, .. }
        | Command::Sweep { output, .. }
        | Command::Replay { output, .. } => output.out.clone(),
        _ => PathBuf::from(DEFAULT_OUT_DIR),
    };
    let _log_guard = logging::init(&cli.log, &out);
    let result = match cli.command {
        Command::Run {
            shape,
            seed,
            output,
            fingerprint_only,
        } => exec::run(&shape, seed, &output, fingerprint_only, cli.log.quiet),
        Command::Sweep {
            shape,
            seeds,
            jobs,
            shard,
            output,
        } => exec::sweep(
            &shape,
            seeds.as_deref(),
            jobs,
            shard.as_deref(),
            &output,
            cli.log.quiet,
        ),
        Command::Replay {
            shape,
            seed,
            artifact,
            output,
        } => exec::replay(&shape, seed, artifact.as_deref(), &output, cli.log.quiet),
        Command::CheckDeterminism { shape, seeds, jobs } => {
            determinism::check(&shape, &seeds, jobs)
        }
        Command::Shrink { artifact, out } => shrink::shrink(&artifact, out.as_deref()),
        Command::Report { action } => report_cmd::run(action),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("stemedb-sim: {e}");
            e.exit_code()
        }
    }
}

/// A CLI failure that is not a verdict.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Harness(String),
}

impl CliError {
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Usage(_) => crate::outcome::EXIT_USAGE,
            CliError::Harness(_) => crate::outcome::EXIT_HARNESS,
        }
    }
}

impl From<crate::scenario::ScenarioError> for CliError {
    fn from(e: crate::scenario::ScenarioError) -> Self {
        CliError::Usage(e.to_string())
    }
}
