//! `stemedb serve`: the engine on the production stack (RealVfs, SledKv, RealClock) behind the
//! HTTP API.
//!
//! Once the listener is bound it prints exactly one line, `listening on ADDR`, to stdout, so a
//! parent that asked for port 0 learns the port. Ctrl-C or SIGTERM stops accepting, lets the
//! requests in flight finish (at most `SHUTDOWN_GRACE_S`) and shuts the engine down cleanly
//! (ingest stopped, KV flushed). A SIGKILL instead is a crash: the next start recovers from the
//! WAL and the KV's durable cursor, and every write answered 2xx is still there.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use stemedb::api::{self, ApiOptions, AssertionDto, VoteDto, BURST_DEFAULT, RATE_PER_S_DEFAULT};
use stemedb::io::{Clock, RealClock, RealVfs, Vfs};
use stemedb::model::{Agent, Assertion, Hash32, Weight, HASH_BYTES};
use stemedb::storage::{KvStore, SledKv};
use stemedb::{Engine, EngineOptions};

/// How long requests in flight may take to finish after a stop signal, in seconds; past it the
/// process exits without the clean shutdown (which is then a crash, and safe).
const SHUTDOWN_GRACE_S: u64 = 10;

#[derive(Parser, Debug)]
#[command(name = "stemedb", version, about = "StemeDB storage engine")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the HTTP API over an engine in DATA_DIR (WAL in DATA_DIR/wal, sled in DATA_DIR/kv).
    Serve(ServeArgs),
    /// Print a signed assertion as the JSON `POST /v1/assertions` takes, signed by a demo key
    /// derived from --seed and --agent (public derivation: for trying the API, not for real use).
    SignAssertion(SignAssertionArgs),
    /// Print a signed vote as the JSON `POST /v1/votes` takes, by a demo key (see sign-assertion).
    SignVote(SignVoteArgs),
}

#[derive(Args, Debug)]
struct DemoKey {
    /// Root seed of the demo key.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Index of the demo key under the seed.
    #[arg(long, default_value_t = 0)]
    agent: u64,
}

#[derive(Args, Debug)]
struct SignAssertionArgs {
    #[command(flatten)]
    key: DemoKey,
    #[arg(long)]
    subject: String,
    #[arg(long)]
    predicate: String,
    #[arg(long)]
    object: String,
    #[arg(long, default_value_t = 1.0)]
    confidence: f64,
}

#[derive(Args, Debug)]
struct SignVoteArgs {
    #[command(flatten)]
    key: DemoKey,
    /// The assertion's content hash (64 hex digits).
    #[arg(long)]
    assertion: String,
    /// Weight in micro-units (1 unit = 1000000).
    #[arg(long, default_value_t = 1_000_000)]
    weight_micros: u64,
}

#[derive(Args, Debug)]
struct ServeArgs {
    /// Directory of the WAL and the KV store; created if missing.
    #[arg(long)]
    data_dir: PathBuf,
    /// Address to listen on; port 0 picks a free port (printed on stdout).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Sustained requests per second per client on /v1/*.
    #[arg(long, default_value_t = RATE_PER_S_DEFAULT)]
    rate_per_s: u32,
    /// Requests a quiet client may send at once on /v1/*.
    #[arg(long, default_value_t = BURST_DEFAULT)]
    burst: u32,
    /// Turn per-client rate limiting off.
    #[arg(long)]
    no_rate_limit: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = match cli.command {
        Command::Serve(args) => args,
        Command::SignAssertion(args) => return sign_assertion(&args),
        Command::SignVote(args) => return sign_vote(&args),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("stemedb: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stemedb: {e}");
            ExitCode::FAILURE
        }
    }
}

fn print_json(value: &impl serde::Serialize) -> ExitCode {
    match serde_json::to_string(value) {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("stemedb: {e}");
            ExitCode::FAILURE
        }
    }
}

fn sign_assertion(args: &SignAssertionArgs) -> ExitCode {
    let now_ms = RealClock::new().wall_ms();
    let mut a = Assertion::new(
        args.subject.clone(),
        args.predicate.clone(),
        args.object.clone(),
        args.confidence,
        now_ms,
    );
    Agent::derived(args.key.seed, args.key.agent).sign_assertion(&mut a);
    print_json(&AssertionDto::from(&a))
}

fn sign_vote(args: &SignVoteArgs) -> ExitCode {
    let Some(hash) = parse_hash(&args.assertion) else {
        eprintln!("stemedb: --assertion must be 64 hex digits");
        return ExitCode::from(2);
    };
    let now_ms = RealClock::new().wall_ms();
    let vote = Agent::derived(args.key.seed, args.key.agent).vote(
        hash,
        Weight::from_micros(args.weight_micros),
        now_ms,
    );
    print_json(&VoteDto::from(&vote))
}

fn parse_hash(text: &str) -> Option<Hash32> {
    if text.len() != 2 * HASH_BYTES || !text.is_ascii() {
        return None;
    }
    let mut bytes = [0u8; HASH_BYTES];
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(Hash32(bytes))
}

async fn open(data_dir: &Path) -> Result<Engine, String> {
    std::fs::create_dir_all(data_dir)
        .map_err(|e| format!("cannot create {}: {e}", data_dir.display()))?;
    let kv_dir = data_dir.join("kv");
    let kv: Arc<dyn KvStore> = Arc::new(
        SledKv::open(&kv_dir).map_err(|e| format!("cannot open {}: {e}", kv_dir.display()))?,
    );
    let vfs: Arc<dyn Vfs> = Arc::new(RealVfs);
    let clock: Arc<dyn Clock> = Arc::new(RealClock::default());
    let wal_dir = data_dir.join("wal");
    Engine::open(vfs, kv, clock, &wal_dir, EngineOptions::default())
        .await
        .map_err(|e| format!("cannot open the engine in {}: {e}", data_dir.display()))
}

async fn serve(args: ServeArgs) -> Result<(), String> {
    let engine = Arc::new(open(&args.data_dir).await?);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("no local address: {e}"))?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on {addr}")
        .and_then(|()| stdout.flush())
        .map_err(|e| format!("cannot write to stdout: {e}"))?;
    drop(stdout);

    let options = ApiOptions {
        rate_limited: !args.no_rate_limit,
        rate_per_s: args.rate_per_s,
        burst: args.burst,
        ..ApiOptions::default()
    };
    let router = api::router(Arc::clone(&engine), options);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(api::serve_with_shutdown(listener, router, async move {
        // A dropped sender also stops the server.
        let _ = stop_rx.await;
    }));
    stop_signal().await?;
    let _ = stop_tx.send(());
    let grace = engine.clock().sleep(Duration::from_secs(SHUTDOWN_GRACE_S));
    tokio::select! {
        biased;
        served = server => match served {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(format!("server: {e}")),
            Err(e) => return Err(format!("server task: {e}")),
        },
        () = grace => {
            return Err(format!("requests still in flight after {SHUTDOWN_GRACE_S} s; exiting without a clean shutdown"));
        }
    }
    // The router (and every connection) has let go of the engine once the server returned.
    match Arc::try_unwrap(engine) {
        Ok(engine) => engine
            .shutdown()
            .await
            .map_err(|e| format!("shutdown: {e}")),
        Err(_) => Err("the engine is still shared; exiting without a clean shutdown".to_owned()),
    }
}

/// Ctrl-C or SIGTERM.
async fn stop_signal() -> Result<(), String> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| format!("cannot watch SIGTERM: {e}"))?;
    tokio::select! {
        biased;
        ctrl_c = tokio::signal::ctrl_c() => ctrl_c.map_err(|e| format!("cannot watch Ctrl-C: {e}")),
        _ = terminate.recv() => Ok(()),
    }
}
