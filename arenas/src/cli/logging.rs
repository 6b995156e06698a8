//! Human logs on stderr: `-v`/`-vv`/`-q`, `--log-format json`, `RUST_LOG` overrides.

use tracing_subscriber::EnvFilter;

use super::{LogArgs, LogFormat};

pub fn init(args: &LogArgs) {
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
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Wall-clock stamps would differ run to run; simulated time is in every event line.
        .without_time();
    let _ = match args.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
