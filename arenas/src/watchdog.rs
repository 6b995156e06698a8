//! The hang watchdog: a run whose world takes no step for [`HANG_WALL_S_MAX`] seconds of wall
//! time is a liveness verdict, printed with the line that reproduces it.
//!
//! Why: the spin watchdog (`stemedb_faults::spin`) bounds what the engine does through the
//! simulated devices within one step, but engine code that loops without touching a device (a
//! cache eviction that never ends, a wait that returns at once and is asked again) never gives
//! the world its step back. Simulated time then stops and no simulated bound can fire: the run
//! hangs with no verdict, and a sweep, a mutation run or a fuzzer waits for an outside timeout
//! that says nothing of which seed hung or why. Wall time is the only thing still moving, so this
//! one rule reads it (by counting its own sleeps). It never decides a run that ends: a step takes
//! microseconds, a whole CI seed a fraction of a second, so a minute without one is no slow
//! step but a hang, and the same seed hangs again on replay.
//!
//! On a hang the process ends (a thread stuck in a loop cannot be stopped from outside): with
//! the liveness exit code, or by `abort` under cargo-fuzz, so libFuzzer saves the input.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use crate::config::RunConfig;
use crate::outcome::EXIT_LIVENESS;

/// Wall seconds without a world step after which a run is declared hung (unless
/// [`HANG_WALL_S_ENV`] says otherwise).
pub const HANG_WALL_S_MAX: u64 = 60;
/// Environment variable that overrides [`HANG_WALL_S_MAX`] (whole seconds, at least 1).
pub const HANG_WALL_S_ENV: &str = "STEMEDB_SIM_HANG_S";
/// How often the watchdog looks, in wall ms.
const CHECK_INTERVAL_MS: u64 = 1_000;

struct Watched {
    beats: Arc<AtomicU64>,
    what: String,
    last_beats: u64,
    still_checks: u64,
}

static RUNS: Mutex<BTreeMap<u64, Watched>> = Mutex::new(BTreeMap::new());
/// What the CLI ran the configs from, for the reproduce line: a scenario file, or an artifact.
static SOURCE: Mutex<Source> = Mutex::new(Source {
    scenario: None,
    artifact: None,
});

struct Source {
    scenario: Option<String>,
    artifact: Option<String>,
}

/// The scenario file or failure artifact the runs about to start come from, so a hang's
/// reproduce line names it (the CLI calls this; other callers run without one).
pub fn runs_from(scenario: Option<&std::path::Path>, artifact: Option<&std::path::Path>) {
    let mut source = SOURCE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    source.scenario = scenario.map(|p| p.display().to_string());
    source.artifact = artifact.map(|p| p.display().to_string());
}
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static BEATS: std::cell::RefCell<Option<Arc<AtomicU64>>> = const { std::cell::RefCell::new(None) };
}

/// Watches the run `config` describes on this thread until the guard drops.
pub fn watch(config: &RunConfig) -> Guard {
    static START: Once = Once::new();
    START.call_once(|| {
        std::thread::Builder::new()
            .name("stemedb-sim-watchdog".into())
            .spawn(watch_forever)
            .map(|_| ())
            .unwrap_or_else(|e| tracing::warn!("no hang watchdog: {e}"));
    });
    let beats = Arc::new(AtomicU64::new(0));
    let reproduce = {
        let source = SOURCE
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match (&source.artifact, &source.scenario) {
            (Some(artifact), _) => format!("replay --artifact {artifact}"),
            (None, scenario) => format!(
                "replay --arena {} --seed {} --ops {}{}{}",
                config.arena.name(),
                config.seed,
                config.ops,
                scenario
                    .as_ref()
                    .map(|s| format!(" --scenario {s}"))
                    .unwrap_or_default(),
                if config.plan.is_some() {
                    "   # with the explicit plan of its fuzz input"
                } else {
                    ""
                }
            ),
        }
    };
    let what = format!(
        "FAIL {arena} seed {seed}: liveness_failure: hang: the world took no step for {wall_s} \
         s of wall time (engine code that loops without yielding or touching a simulated \
         device)\n  reproduce: {cargo_run}{reproduce}\n  \
         options: {options}",
        wall_s = hang_wall_s(),
        cargo_run = crate::world::CARGO_RUN,
        arena = config.arena.name(),
        seed = config.seed,
        options = serde_json::to_string(&config.options()).unwrap_or_default(),
    );
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    lock().insert(
        id,
        Watched {
            beats: beats.clone(),
            what,
            last_beats: 0,
            still_checks: 0,
        },
    );
    let previous = BEATS.with(|b| b.borrow_mut().replace(beats));
    Guard { id, previous }
}

/// The world on this thread took a step (a no-op outside a watched run).
pub fn beat() {
    BEATS.with(|b| {
        if let Some(beats) = &*b.borrow() {
            beats.fetch_add(1, Ordering::Relaxed);
        }
    });
}

/// Stops watching a run when dropped (its verdict came, or it panicked).
pub struct Guard {
    id: u64,
    previous: Option<Arc<AtomicU64>>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        lock().remove(&self.id);
        BEATS.with(|b| *b.borrow_mut() = self.previous.take());
    }
}

fn hang_wall_s() -> u64 {
    std::env::var(HANG_WALL_S_ENV)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|&s| s > 0)
        .unwrap_or(HANG_WALL_S_MAX)
}

/// A poisoned lock only means a thread panicked while registering; the map is still whole.
fn lock() -> std::sync::MutexGuard<'static, BTreeMap<u64, Watched>> {
    RUNS.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[expect(
    clippy::disallowed_methods,
    reason = "the watchdog's own thread measures wall time by its sleeps; it never touches a \
              run's simulated time and decides only runs that stopped stepping"
)]
fn watch_forever() {
    let checks_max = hang_wall_s() * 1_000 / CHECK_INTERVAL_MS;
    loop {
        std::thread::sleep(Duration::from_millis(CHECK_INTERVAL_MS));
        let mut runs = lock();
        for run in runs.values_mut() {
            let beats = run.beats.load(Ordering::Relaxed);
            if beats != run.last_beats {
                run.last_beats = beats;
                run.still_checks = 0;
                continue;
            }
            run.still_checks += 1;
            if run.still_checks >= checks_max {
                eprintln!("{}", run.what);
                if cfg!(fuzzing) {
                    std::process::abort();
                }
                std::process::exit(EXIT_LIVENESS);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;

    const CHILD_ENV: &str = "STEMEDB_WATCHDOG_TEST_CHILD";

    /// The watchdog's verdict ends the process, so the hang runs in a child: this test binary
    /// again, with only this test and a marker.
    #[test]
    fn a_run_that_stops_stepping_ends_the_process_with_a_liveness_verdict() {
        let config = Scenario::default().config(crate::config::ArenaKind::Chaos, 77, None);
        if std::env::var_os(CHILD_ENV).is_some() {
            let _watched = watch(&config);
            beat();
            // Never steps again: block forever (the sender stays alive).
            let (_tx, rx) = std::sync::mpsc::channel::<()>();
            let _ = rx.recv();
            unreachable!("nothing is ever sent");
        }
        let exe = std::env::current_exe().expect("the test binary");
        let out = std::process::Command::new(exe)
            .args([
                "watchdog::tests::a_run_that_stops_stepping_ends_the_process_with_a_liveness_verdict",
                "--exact",
                "--nocapture",
            ])
            .env(CHILD_ENV, "1")
            .env(HANG_WALL_S_ENV, "2")
            .output()
            .expect("the child runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(EXIT_LIVENESS), "{stderr}");
        assert!(
            stderr.contains("FAIL chaos seed 77: liveness_failure: hang")
                && stderr.contains("replay --arena chaos --seed 77"),
            "{stderr}"
        );
    }
}
