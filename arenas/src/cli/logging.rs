//! Logs: human lines on stderr (`-v`/`-vv`/`-q`, `--log-format json`, `RUST_LOG` overrides) and,
//! whatever those say, a JSON-lines file at debug level under `<out>/logs/` (rotated daily, the
//! newest [`LOG_FILES_KEPT`] kept). Every line carries the simulated time as its timestamp (a
//! wall stamp would differ run to run and say nothing about the simulation) and the spans it
//! was logged in: `command{run_id}` on the command's thread, `run{run_id, arena, seed}` on each
//! run's (in each line's `spans`, outermost first), so one run's lines are one
//! `jq 'select(any(.spans[]; .seed == N))'` away.

use std::path::Path;
use std::sync::OnceLock;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use super::{LogArgs, LogFormat};

/// Daily log files kept under `<out>/logs/`; older ones are deleted as a new day's opens.
pub const LOG_FILES_KEPT: usize = 14;
/// The log directory's name under the output directory.
pub const LOG_DIR_NAME: &str = "logs";
/// Log file names: `stemedb-sim.YYYY-MM-DD.jsonl`.
const LOG_FILE_PREFIX: &str = "stemedb-sim";
const LOG_FILE_SUFFIX: &str = "jsonl";
/// What the file records, whatever `-v` says: the engine's fault handling included.
const FILE_FILTER: &str = "debug";

static RUN_ID: OnceLock<String> = OnceLock::new();

/// Names the command's run id for every later line (set once, when it is known).
pub fn set_run_id(run_id: &str) {
    let _ = RUN_ID.set(run_id.to_owned());
}

/// The run id, once known.
pub fn run_id() -> &'static str {
    RUN_ID.get().map_or("", String::as_str)
}

/// The span a run's lines are logged in, entered on the thread that runs its world.
pub fn run_span(arena: &str, seed: u64) -> tracing::Span {
    tracing::info_span!("run", run_id = run_id(), arena, seed)
}

/// Simulated time inside a world (`sim=12.345678s`); outside one, the line belongs to the
/// command, not to a run.
struct SimTime;

impl FormatTime for SimTime {
    fn format_time(&self, w: &mut Writer<'_>) -> std::fmt::Result {
        let sim = crate::world::host_elapsed();
        if sim.is_zero() {
            write!(w, "sim=-")
        } else {
            write!(w, "sim={:.6}s", sim.as_secs_f64())
        }
    }
}

/// Installs the stderr and file layers. Keep the guard until the command ends: it flushes the
/// file. A log directory that cannot be made costs the file, never the command (stderr says so).
pub fn init(args: &LogArgs, out: &Path) -> Option<WorkerGuard> {
    // By default only the harness speaks: under fault injection the engine's own warnings and
    // errors (quarantined records, a WAL failing closed) are expected events; -v shows them.
    let level = if args.quiet {
        "error,stemedb=off"
    } else {
        match args.verbose {
            0 => "warn,stemedb=off",
            1 => "info",
            2 => "debug",
            _ => "trace",
        }
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_timer(SimTime);
    let stderr = match args.log_format {
        LogFormat::Text => stderr.boxed(),
        LogFormat::Json => stderr.json().boxed(),
    }
    .with_filter(filter);
    let (file, guard) = match file_writer(out) {
        Ok((writer, guard)) => {
            let layer = tracing_subscriber::fmt::layer()
                .json()
                .with_current_span(true)
                .with_span_list(true)
                .with_timer(SimTime)
                .with_writer(writer)
                .with_filter(EnvFilter::new(FILE_FILTER));
            (Some(layer), Some(guard))
        }
        Err(e) => {
            eprintln!("stemedb-sim: no log file: {e}");
            (None, None)
        }
    };
    let _ = tracing_subscriber::registry()
        .with(stderr)
        .with(file)
        .try_init();
    guard
}

fn file_writer(
    out: &Path,
) -> Result<(tracing_appender::non_blocking::NonBlocking, WorkerGuard), String> {
    let dir = out.join(LOG_DIR_NAME);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let appender = RollingFileAppender::builder()
        .rotation(Rotation::DAILY)
        .filename_prefix(LOG_FILE_PREFIX)
        .filename_suffix(LOG_FILE_SUFFIX)
        .max_log_files(LOG_FILES_KEPT)
        .build(&dir)
        .map_err(|e| format!("cannot open a log file in {}: {e}", dir.display()))?;
    // Not lossy: a full buffer waits rather than dropping lines the log promises.
    Ok(
        tracing_appender::non_blocking::NonBlockingBuilder::default()
            .lossy(false)
            .finish(appender),
    )
}
