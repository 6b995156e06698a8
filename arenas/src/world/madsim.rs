//! The world on madsim: the whole world runs inside one `Runtime::block_on`, each host a madsim
//! node, and the executor polls a random ready task at every step (seeded), so the interleavings
//! of a host's tasks differ per seed where turmoil's fixed order repeats one. The driver is a
//! task of the world, waking every tick; a crash kills the node, a bounce restarts it.
//!
//! A node's start-up function must be `Send + Sync` for madsim, and a host's software (which
//! shares the run's state through `Rc`) is neither; the world runs on one thread, so the
//! software waits in a thread-local table, and the start-up function holds only its name.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

use ::madsim::runtime::{Handle, Runtime};
use ::madsim::task::NodeId;
use ::madsim::time::Instant;

use stemedb_faults::time::{from_scheduler, to_scheduler};

use super::{Control, Flow, Software, World, TICK_DURATION};

/// The world's name in artifacts and reproduce lines.
pub const NAME: &str = "madsim";
/// How a reproduce line runs this build (its own target directory: every crate is built with
/// the cfg).
pub const CARGO_RUN: &str = "RUSTFLAGS=\"--cfg madsim --cfg tokio_unstable\" CARGO_TARGET_DIR=target/madsim cargo run --release --bin stemedb-sim -- ";

thread_local! {
    /// Each host's software, by host name (see the module docs).
    static SOFTWARE: RefCell<BTreeMap<String, Rc<Software>>> = const { RefCell::new(BTreeMap::new()) };
    /// A runtime built first thing on a fresh thread, for the world of that seed.
    static PREPARED: RefCell<Option<(u64, Runtime)>> = const { RefCell::new(None) };
    /// When the running world started, on its own clock.
    static STARTED: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Runs `f` (one seed's run) on a new thread whose first act is to build the seed's runtime.
/// Per-thread state must not carry one run into the next: madsim seeds std's `RandomState` only
/// for a thread whose first hash map comes after the runtime (the keys are drawn once per
/// thread, then incremented per map), and tokio's thread RNG (see `stemedb_tokio_seed`)
/// lives in the thread too. The runtime waits in a thread-local for [`MadsimWorld::new`].
pub fn on_fresh_thread<R: Send>(seed: u64, f: impl FnOnce() -> R + Send) -> R {
    let joined = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let runtime = Runtime::with_seed_and_config(seed, ::madsim::Config::default());
                PREPARED.with(|p| *p.borrow_mut() = Some((seed, runtime)));
                f()
            })
            .join()
    });
    joined.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Virtual time since the world started, read from inside a host.
pub fn host_elapsed() -> Duration {
    STARTED
        .with(Cell::get)
        .map_or(Duration::ZERO, |t| from_scheduler(t.elapsed()))
}

/// The world on madsim.
pub struct MadsimWorld {
    seed: u64,
    hosts: Vec<String>,
}

impl MadsimWorld {
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            hosts: Vec::new(),
        }
    }
}

impl Drop for MadsimWorld {
    fn drop(&mut self) {
        SOFTWARE.with(|t| t.borrow_mut().clear());
        STARTED.with(|t| t.set(None));
    }
}

struct Nodes {
    handle: Handle,
    ids: BTreeMap<String, NodeId>,
    started: Instant,
}

impl Control for Nodes {
    fn crash(&mut self, name: &str) {
        if let Some(&id) = self.ids.get(name) {
            self.handle.kill(id);
        }
    }

    fn bounce(&mut self, name: &str) {
        if let Some(&id) = self.ids.get(name) {
            self.handle.restart(id);
        }
    }

    fn elapsed(&self) -> Duration {
        from_scheduler(self.started.elapsed())
    }
}

/// What the driver sees after a host panicked: the world is gone, nothing to crash or bounce.
struct Ended(Duration);

impl Control for Ended {
    fn crash(&mut self, _: &str) {}
    fn bounce(&mut self, _: &str) {}
    fn elapsed(&self) -> Duration {
        self.0
    }
}

impl World for MadsimWorld {
    fn host(&mut self, name: &str, software: Software) {
        SOFTWARE.with(|t| t.borrow_mut().insert(name.to_owned(), Rc::new(software)));
        self.hosts.push(name.to_owned());
    }

    fn run(
        &mut self,
        ticks_max: u64,
        driver: &mut dyn FnMut(&mut dyn Control, Option<String>) -> Flow,
    ) -> Duration {
        let prepared = PREPARED.with(|p| p.borrow_mut().take());
        let runtime = match prepared {
            Some((seed, runtime)) if seed == self.seed => runtime,
            _ => Runtime::with_seed_and_config(self.seed, ::madsim::Config::default()),
        };
        let last_elapsed = Cell::new(Duration::ZERO);
        let hosts = self.hosts.clone();
        // A panic in a host ends madsim's whole simulation: it surfaces here, as a host failure.
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            stemedb_tokio_seed::with_seeded_rng(self.seed, || {
                runtime.block_on(async {
                    let handle = Handle::current();
                    // Virtual: inside `block_on`, madsim answers the clock from its own timer
                    // (it intercepts `clock_gettime`), so this is the world's seeded time.
                    #[expect(
                        clippy::disallowed_methods,
                        reason = "madsim's Instant is virtual time inside its runtime"
                    )]
                    let started = Instant::now();
                    STARTED.with(|t| t.set(Some(started)));
                    let mut ids = BTreeMap::new();
                    for name in hosts {
                        let key = name.clone();
                        let node = handle
                            .create_node()
                            .name(name.clone())
                            .init(move || {
                                let software = SOFTWARE.with(|t| t.borrow().get(&key).cloned());
                                async move {
                                    if let Some(software) = software {
                                        software().await;
                                    }
                                }
                            })
                            .build();
                        ids.insert(name, node.id());
                    }
                    let mut nodes = Nodes {
                        handle,
                        ids,
                        started,
                    };
                    for _ in 0..ticks_max {
                        ::madsim::time::sleep(to_scheduler(TICK_DURATION)).await;
                        last_elapsed.set(from_scheduler(started.elapsed()));
                        if driver(&mut nodes, None) == Flow::Stop {
                            break;
                        }
                    }
                    from_scheduler(started.elapsed())
                })
            })
        }));
        match ran {
            Ok(elapsed) => elapsed,
            Err(panic) => {
                let why = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_else(|| "a host panicked".to_owned());
                let elapsed = last_elapsed.get();
                driver(&mut Ended(elapsed), Some(why));
                elapsed
            }
        }
    }
}
