//! What a run's host tasks and its driver share: the run's state (it survives crashes; a host's
//! own state does not), the handles a host boot needs, where the run is, and what a host asks of
//! the driver. Below the driver, the host and the checks, so none of them imports another for it.

use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use stemedb::io::{Clock, Vfs};
use stemedb::storage::KvStore;
use stemedb_faults::{SimClock, SimDisk, SimKv};

use crate::config::RunConfig;
use crate::metrics::Metrics;
use crate::outcome::Failure;

/// The engine's data directory on the simulated disk.
pub const DATA_DIR: &str = "/stemedb";
pub const HOST_NAME: &str = "db";

/// Where a run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// The workload runs and faults strike.
    Faults,
    /// Faults stopped; the system must make progress and converge.
    Liveness,
    /// Every check passed.
    Done,
}

/// What a host asks of the run driver, which acts on it between steps, most urgent first (the
/// greatest). A host never restarts or heals itself: only the driver crashes, bounces and heals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum HostRequest {
    /// The workload is exhausted and the fault phase may end: heal and restart.
    WorkloadDone,
    /// A supervisor restart: the engine failed closed, or its ingest stopped and it was shut down.
    Restart,
    /// The engine cannot open under faults: an operator remaps bad sectors and restarts it.
    Operator,
}

/// State shared by the host's tasks and the driver; it survives crashes (the host's does not).
pub struct Shared {
    pub config: RunConfig,
    /// What the plan's events excuse (never the arena's name).
    pub excuses: crate::excuses::Excuses,
    pub phase: Phase,
    pub failure: Option<Failure>,
    pub workload: crate::workload::Workload,
    pub oracle: crate::oracle::log::LogOracle,
    pub metrics: Metrics,
    pub events: blake3::Hasher,
    /// What the host asks of the driver (see [`HostRequest`]); survives the step it was made in.
    pub requests: std::collections::BTreeSet<HostRequest>,
    /// The ingest worker of this boot's engine ended (a fatal error under faults): the writers
    /// stop, the host shuts the engine down and asks for a restart (see `host::stop::supervised_stop`).
    /// Per boot: every start clears it.
    pub ingest_stopped: bool,
    /// Operator interventions so far (bounded by `INTERVENTIONS_MAX`).
    pub interventions: u32,
    pub boots: u32,
    /// Signature verifications (cache misses) and cache hits: all earlier boots, and the
    /// current boot as last sampled (a boot's engine dies with it, so it is sampled as it runs).
    pub verifier_done: stemedb::model::VerifierStats,
    pub verifier_boot: stemedb::model::VerifierStats,
    pub queries: Vec<crate::observed::QueryCheck>,
    /// Ticks once as each query or materialisation begins and once as its answer is recorded,
    /// so the two orders can be compared (`check::QueryCheck::began`, `done`).
    pub query_ticks: u64,
    /// Every read of a subject+predicate view that began, with the clock that dates it
    /// (`check::views`).
    pub view_reads: std::collections::BTreeSet<crate::observed::ViewRead>,
    /// The processes in which a client gave up on a submit (`Workload::cancel_deadline`).
    pub cancelled_boots: std::collections::BTreeSet<u32>,
    /// Per process, the subject+predicate views some completed store read installed.
    pub view_installs: std::collections::BTreeSet<(u32, String, String)>,
    /// Per boot, the highest audit sequence number stored when it started (see
    /// `oracle::audit`).
    pub audit_floors: std::collections::BTreeMap<u32, Option<u64>>,
    /// The engine's metrics registry, one for the run: every boot's engine counts into it, so
    /// its totals can be held to the harness's own (`check::metrics`).
    pub engine_metrics: Arc<stemedb::metrics::Metrics>,
    /// Engine opens attempted, failed ones included, and those that returned an engine.
    pub engine_opens: u32,
    pub engines_opened: u32,
    /// WAL errors the engine answered a submit with, by kind (`WalError::kind_label`).
    pub wal_refusals: std::collections::BTreeMap<&'static str, u64>,
    /// Print every event to stderr as it happens (`STEMEDB_SIM_TRACE=1`), for diagnosing a seed.
    pub trace: bool,
}

impl Shared {
    /// The tick of a query or materialisation beginning now (see `query_ticks`).
    pub fn query_began(&mut self) -> u64 {
        self.query_ticks += 1;
        self.query_ticks
    }

    /// Records a query's answer (or failure), ticking as it does.
    pub fn record_query(&mut self, mut q: crate::observed::QueryCheck) {
        self.query_ticks += 1;
        q.done = self.query_ticks;
        self.queries.push(q);
    }

    /// Records an event in the fingerprint (and nowhere else: it must not change behaviour).
    pub fn event(&mut self, at: Duration, what: &str) {
        self.events.update(&(at.as_micros() as u64).to_le_bytes());
        self.events.update(what.as_bytes());
        self.events.update(b"\n");
        if self.trace {
            eprintln!("[{:>10}us] {what}", at.as_micros());
        }
    }

    /// Asks the driver for `request` (see [`HostRequest`]).
    pub fn request(&mut self, request: HostRequest) {
        self.requests.insert(request);
    }

    /// Counts a submit's answer that was a WAL error (the truth of `wal_errors_total`).
    pub fn wal_refused(&mut self, err: &stemedb::EngineError) {
        if let stemedb::EngineError::Wal(e) = err {
            *self.wal_refusals.entry(e.kind_label()).or_default() += 1;
        }
    }

    /// The first failure wins; later ones are consequences.
    pub fn fail(&mut self, failure: Failure) {
        if self.failure.is_none() {
            self.failure = Some(failure);
        }
    }
}

/// Everything a host boot needs, cloned into each start.
#[derive(Clone)]
pub struct Env {
    pub shared: Rc<RefCell<Shared>>,
    pub disk: SimDisk,
    pub kv: SimKv,
    pub clock: SimClock,
}

impl Env {
    pub fn vfs(&self) -> Arc<dyn Vfs> {
        Arc::new(self.disk.clone())
    }

    pub fn kv_store(&self) -> Arc<dyn KvStore> {
        Arc::new(self.kv.clone())
    }

    pub fn clock_arc(&self) -> Arc<dyn Clock> {
        Arc::new(self.clock.clone())
    }

    pub fn data_dir(&self) -> &'static Path {
        Path::new(DATA_DIR)
    }
}
