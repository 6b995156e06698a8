//! Running configs: each guarded (a panic anywhere in a run is its verdict, not the process's
//! end), on a world's fresh thread where it needs one, many at once on `jobs` threads, with
//! every run's latencies folded as it finishes.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use stemedb_reports::LatencyHistogram;

use crate::config::RunConfig;
use crate::outcome::Failure;
use crate::sim::{run_seed, SeedResult};

thread_local! {
    static PANIC_MESSAGE: RefCell<Option<String>> = const { RefCell::new(None) };
    /// Whether this thread is inside [`run_guarded`]: only there is a panic a verdict.
    static GUARDED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Panics anywhere in a run (the engine's tasks included) are recorded per thread, so a run can
/// report "the engine panicked" as a safety violation instead of dying or hanging. A panic
/// outside a run goes to the hook that was there before (the default one, or a fuzzer's, which
/// must see it to report the crash).
fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !GUARDED.with(std::cell::Cell::get) {
                previous(info);
                return;
            }
            let at = info
                .location()
                .map(|l| format!(" at {}:{}", l.file(), l.line()))
                .unwrap_or_default();
            let msg = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic".to_owned());
            tracing::error!("panic{at}: {msg}");
            PANIC_MESSAGE.with(|p| {
                p.borrow_mut().get_or_insert(format!("{msg}{at}"));
            });
        }));
    });
}

/// Runs one config, turning any panic into a safety violation. On a world that needs it (madsim),
/// on a thread of its own (see `world::on_fresh_thread`).
pub fn run_guarded(config: &RunConfig) -> SeedResult {
    crate::world::on_fresh_thread(config.seed, || run_guarded_here(config))
}

fn run_guarded_here(config: &RunConfig) -> SeedResult {
    install_panic_hook();
    PANIC_MESSAGE.with(|p| p.borrow_mut().take());
    let was_guarded = GUARDED.with(|g| g.replace(true));
    let watched = crate::watchdog::watch(config);
    let span = super::logging::run_span(config.arena.name(), config.seed);
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| span.in_scope(|| run_seed(config))));
    drop(watched);
    GUARDED.with(|g| g.set(was_guarded));
    let panicked = PANIC_MESSAGE.with(|p| p.borrow_mut().take());
    match outcome {
        Ok(mut result) => {
            if let Some(msg) = panicked {
                result.failure = Some(Failure::Safety(format!("panic during the run: {msg}")));
            }
            result
        }
        Err(_) => SeedResult {
            config: config.clone(),
            plan: config.plan(),
            failure: Some(Failure::Safety(format!(
                "panic during the run: {}",
                panicked.unwrap_or_else(|| "unknown".into())
            ))),
            fingerprint: "panicked".into(),
            metrics: Default::default(),
            sim_elapsed: Duration::ZERO,
            crashes: 0,
            wall_faults: Duration::ZERO,
            wall_total: Duration::ZERO,
        },
    }
}

/// The results of `execute`, in input order, with every run's latencies folded into one set.
pub struct Executed {
    pub results: Vec<SeedResult>,
    pub latencies: BTreeMap<String, LatencyHistogram>,
}

/// Runs `configs` on `jobs` threads; results come back in input order.
pub fn execute(configs: &[RunConfig], jobs: usize, progress: bool) -> Executed {
    let bar = progress.then(|| {
        let bar = ProgressBar::new(configs.len() as u64);
        bar.set_style(
            ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} seeds {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    });
    let next = AtomicUsize::new(0);
    let failures = AtomicUsize::new(0);
    let latencies: Mutex<BTreeMap<String, LatencyHistogram>> = Mutex::new(BTreeMap::new());
    let results: Mutex<Vec<Option<SeedResult>>> =
        Mutex::new((0..configs.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, configs.len().max(1)) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(config) = configs.get(i) else { break };
                let mut result = run_guarded(config);
                // A run's histograms are ~1 MB; a nightly sweep keeps tens of thousands of
                // results, so each run's latencies are folded into one set as it finishes
                // (histograms add exactly, in any order) and the result keeps none.
                {
                    let mut folded = latencies.lock().unwrap_or_else(|p| p.into_inner());
                    for (name, hist) in std::mem::take(&mut result.metrics.latencies) {
                        match folded.get_mut(&name) {
                            Some(into) => into.merge(&hist),
                            None => {
                                folded.insert(name, hist);
                            }
                        }
                    }
                }
                if result.failure.is_some() {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
                if let Some(bar) = &bar {
                    bar.inc(1);
                    bar.set_message(format!("{} failing", failures.load(Ordering::Relaxed)));
                }
                results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(result);
            });
        }
    });
    if let Some(bar) = bar {
        bar.finish();
    }
    Executed {
        results: results
            .into_inner()
            .unwrap_or_else(|p| p.into_inner())
            .into_iter()
            .flatten()
            .collect(),
        latencies: latencies.into_inner().unwrap_or_else(|p| p.into_inner()),
    }
}
