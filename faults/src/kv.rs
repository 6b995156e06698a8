//! `SimKv`: the simulated KV store, implementing `stemedb::storage::KvStore` with sled's
//! durability contract enforced adversarially.
//!
//! State: the live map (what reads see), the durable snapshot (what the last successful `flush`
//! made durable) and the batches applied since then, in order. A crash reverts the store to the
//! durable snapshot plus a PREFIX of those batches: sled's log is written in order and its
//! background flusher may have persisted more than the last explicit flush, but recovery never
//! leaves a gap and never part of a batch. The kept batches are then durable (they are on disk).
//!
//! Faults: [`KvFault`] makes the next call of a kind fail, armed by a test
//! ([`SimKv::inject_error`]) or by the plan at the store's n-th call (`FaultPlan::kv`, counted
//! over the store's life, across restarts). EIO (`KvError::Io`) is transient: a retry succeeds.
//! A corrupt report (`KvError::Corrupt`) is what sled returns when a page fails its checksum as
//! it is read; the one modelled here comes from a transient read of a sound page (a cable, a
//! controller), so the store is intact and a restarted process reads it fine, but the engine
//! cannot know that and must stop trusting the store: its ingest ends for good. A failed call
//! changes nothing; a failed `apply_batch` applies nothing. A failed `flush` makes nothing
//! newly durable, but the un-flushed batches stay pending, so a later successful `flush` makes
//! them durable and a crash may still keep a prefix of them. That differs on purpose from
//! `SimDisk`'s fsync EIO, where the dirty pages are dropped for good: sled owns its log and
//! rewrites it from memory on the next flush, so a failed fsync does not lose its buffered writes.
//!
//! Latency: with a [`LatencyModel`], every call takes virtual time drawn from the
//! `kv-latency` stream, exact to the microsecond as `SimDisk`'s (see `crate::time`).
//!
//! A `SimKv` outlives a crashed host: clone it into the host, crash it, and reopen the engine
//! over the same handle.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use rand::Rng;
use serde::{Deserialize, Serialize};
use stemedb::storage::{BatchOp, KvError, KvStore, PrefixVisitor, WriteBatch};

use crate::latency::{LatencyModel, OpClass};
use crate::plan::{CrashMode, CrashSpec, FaultPlan};
use crate::rng::{self, SimRng};

/// A fault `SimKv` can be told to inject into its next call of one kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KvFault {
    /// The next `apply_batch` fails with EIO and applies nothing.
    ApplyEio,
    /// The next `flush` fails with EIO and makes nothing newly durable (the batches stay pending).
    FlushEio,
    /// The next `get` fails with EIO (transient: a retry succeeds).
    GetEio,
    /// The next `scan_prefix` fails with EIO (transient: a retry succeeds).
    ScanEio,
    /// The next `get` reports the store corrupt.
    GetCorrupt,
    /// The next `scan_prefix` reports the store corrupt.
    ScanCorrupt,
    /// The next `apply_batch` reports the store corrupt and applies nothing.
    ApplyCorrupt,
}

impl KvFault {
    pub fn name(self) -> &'static str {
        match self {
            KvFault::ApplyEio => "apply_eio",
            KvFault::FlushEio => "flush_eio",
            KvFault::GetEio => "get_eio",
            KvFault::ScanEio => "scan_eio",
            KvFault::GetCorrupt => "get_corrupt",
            KvFault::ScanCorrupt => "scan_corrupt",
            KvFault::ApplyCorrupt => "apply_corrupt",
        }
    }

    /// Whether the fault is a corrupt report (the engine stops trusting the store) rather than
    /// EIO (it retries).
    pub fn is_corrupt(self) -> bool {
        matches!(
            self,
            KvFault::GetCorrupt | KvFault::ScanCorrupt | KvFault::ApplyCorrupt
        )
    }
}

/// A KV fault the plan arms at the store's `at_call`-th call (0-based, every kind counted); it
/// fires at the first call of its kind from there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledKvFault {
    pub at_call: u64,
    pub fault: KvFault,
}

/// Counters of what the store did, for tests and reports. Calls are counted whether or not they
/// failed; `errors` counts the injected failures.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct KvStats {
    pub gets: u64,
    pub scans: u64,
    pub batches: u64,
    pub batch_ops: u64,
    pub flushes: u64,
    pub crashes: u64,
    pub errors: u64,
    /// Corrupt reports among `errors`.
    pub corrupt_reports: u64,
    /// Simulated time spent in KV latency, microseconds.
    pub latency_us_total: u64,
}

/// What one crash did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct KvCrashReport {
    /// Batches applied since the last successful flush that survived.
    pub batches_kept: u64,
    /// Batches applied since the last successful flush that were lost.
    pub batches_lost: u64,
}

/// A simulated KV store. Cloning gives another handle to the same store.
#[derive(Clone)]
pub struct SimKv {
    inner: Arc<Mutex<KvState>>,
}

impl std::fmt::Debug for SimKv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimKv").finish_non_exhaustive()
    }
}

struct KvState {
    live: BTreeMap<Vec<u8>, Vec<u8>>,
    durable: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Batches applied since the last successful flush, oldest first.
    pending: Vec<WriteBatch>,
    /// Injected faults not yet fired, by kind: how many of the next calls fail.
    armed: BTreeMap<KvFault, u32>,
    /// The plan's faults not yet armed, latest first (popped as the calls reach them).
    schedule: Vec<ScheduledKvFault>,
    /// Calls so far, of every kind (the plan's clock).
    calls: u64,
    latency: Option<LatencyModel>,
    latency_rng: SimRng,
    /// Calls per step of the world (see `crate::spin`).
    spin: Option<crate::spin::SpinWatch>,
    stats: KvStats,
}

impl SimKv {
    /// A store with no latency.
    pub fn new(seed: u64) -> Self {
        Self::with_plan(seed, &FaultPlan::none())
    }

    /// A store that takes `plan.latency` per call and fires `plan.kv` (the rest of the plan is
    /// the disk's and the world's to execute).
    pub fn with_plan(seed: u64, plan: &FaultPlan) -> Self {
        let state = KvState {
            live: BTreeMap::new(),
            durable: BTreeMap::new(),
            pending: Vec::new(),
            armed: BTreeMap::new(),
            schedule: {
                let mut schedule = plan.kv.clone();
                schedule.sort_by_key(|f| std::cmp::Reverse(f.at_call));
                schedule
            },
            calls: 0,
            latency: plan.latency,
            latency_rng: rng::stream(seed, "kv-latency"),
            spin: Default::default(),
            stats: KvStats::default(),
        };
        Self {
            inner: Arc::new(Mutex::new(state)),
        }
    }

    fn state(&self) -> MutexGuard<'_, KvState> {
        // A panic while holding the lock is a harness bug already reported by that panic; keep
        // the store usable so the report can still be written.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Arms `fault`: the next call of its kind fails. Arming twice fails the next two.
    pub fn inject_error(&self, fault: KvFault) {
        *self.state().armed.entry(fault).or_insert(0) += 1;
    }

    /// Faults stop: the plan's faults not yet armed and every armed fault are dropped.
    pub fn heal(&self) {
        let mut s = self.state();
        s.schedule.clear();
        s.armed.clear();
    }

    /// Power loss and restart: reverts to the durable snapshot plus a prefix of the batches
    /// applied since the last successful flush, chosen by `spec`: `KeepAll` keeps every one,
    /// `DropAll` none, `Random` a prefix length drawn uniformly from `rng::from_seed(spec.seed)`
    /// (its write percentages do not apply: a batch is never torn). Armed faults stay armed.
    pub fn crash(&self, spec: &CrashSpec) -> KvCrashReport {
        self.state().crash(spec)
    }

    pub fn stats(&self) -> KvStats {
        self.state().stats.clone()
    }

    /// Batches applied since the last successful flush (what a crash may lose).
    pub fn pending_batches(&self) -> usize {
        self.state().pending.len()
    }

    /// What a crash that drops everything pending would leave.
    pub fn durable_snapshot(&self) -> BTreeMap<Vec<u8>, Vec<u8>> {
        self.state().durable.clone()
    }

    /// What reads see now.
    pub fn live_snapshot(&self) -> BTreeMap<Vec<u8>, Vec<u8>> {
        self.state().live.clone()
    }

    /// blake3 of the live state (length-prefixed keys and values, in key order), hex.
    pub fn digest(&self) -> String {
        let s = self.state();
        let mut h = blake3::Hasher::new();
        for (k, v) in &s.live {
            h.update(&(k.len() as u64).to_le_bytes());
            h.update(k);
            h.update(&(v.len() as u64).to_le_bytes());
            h.update(v);
        }
        h.finalize().to_hex().to_string()
    }

    /// Counts every call from now on in `watch` (see [`crate::SimDisk::watch_spin`]).
    pub fn watch_spin(&self, watch: crate::spin::SpinWatch) {
        self.state().spin = Some(watch);
    }

    /// Starts a call: counts it and draws its latency. Returns how long the call takes
    /// (the drawn microseconds), or `None` when the store has no latency model.
    fn begin(&self, class: OpClass, count: impl FnOnce(&mut KvStats)) -> Option<Duration> {
        let mut s = self.state();
        if let Some(calls) = s.spin.as_ref().and_then(|w| w.call()) {
            drop(s);
            crate::spin::spun("KV", calls);
        }
        count(&mut s.stats);
        let call = s.calls;
        s.calls += 1;
        while s.schedule.last().is_some_and(|f| f.at_call <= call) {
            let due = s.schedule.pop().expect("checked above");
            *s.armed.entry(due.fault).or_insert(0) += 1;
        }
        let model = s.latency?;
        let drawn_us = model.sample(class, &mut s.latency_rng).as_micros() as u64;
        s.stats.latency_us_total += drawn_us;
        Some(Duration::from_micros(drawn_us))
    }

    /// Runs one call: begin, take the simulated latency, fail if a fault of the call's kinds
    /// (`eio`, `corrupt`) is armed, else act. The act runs under the lock, so every call is
    /// atomic.
    async fn call<T>(
        &self,
        class: OpClass,
        count: impl FnOnce(&mut KvStats),
        (eio, corrupt): (KvFault, Option<KvFault>),
        op: &'static str,
        act: impl FnOnce(&mut KvState) -> T,
    ) -> Result<T, KvError> {
        if let Some(delay) = self.begin(class, count) {
            crate::time::sleep(delay).await;
        }
        let mut s = self.state();
        if corrupt.is_some_and(|fault| s.take_armed(fault)) {
            s.stats.errors += 1;
            s.stats.corrupt_reports += 1;
            return Err(KvError::Corrupt(format!(
                "injected: a page read during {op} failed its checksum"
            )));
        }
        if s.take_armed(eio) {
            s.stats.errors += 1;
            return Err(KvError::Io {
                op,
                source: std::io::Error::from_raw_os_error(EIO_ERRNO),
            });
        }
        Ok(act(&mut s))
    }
}

/// Linux errno for an I/O error.
const EIO_ERRNO: i32 = 5;

impl KvState {
    fn take_armed(&mut self, fault: KvFault) -> bool {
        match self.armed.get_mut(&fault) {
            Some(n) if *n > 0 => {
                *n -= 1;
                if *n == 0 {
                    self.armed.remove(&fault);
                }
                true
            }
            _ => false,
        }
    }

    fn crash(&mut self, spec: &CrashSpec) -> KvCrashReport {
        let pending = std::mem::take(&mut self.pending);
        let kept = match spec.mode {
            CrashMode::KeepAll => pending.len(),
            CrashMode::DropAll => 0,
            CrashMode::Random { .. } => rng::from_seed(spec.seed).random_range(0..=pending.len()),
        };
        for batch in &pending[..kept] {
            apply(&mut self.durable, batch);
        }
        self.live = self.durable.clone();
        self.stats.crashes += 1;
        KvCrashReport {
            batches_kept: kept as u64,
            batches_lost: (pending.len() - kept) as u64,
        }
    }
}

/// Applies `batch`'s ops in order (a later op on the same key wins).
fn apply(map: &mut BTreeMap<Vec<u8>, Vec<u8>>, batch: &WriteBatch) {
    for op in &batch.ops {
        match op {
            BatchOp::Put { key, value } => {
                map.insert(key.clone(), value.clone());
            }
            BatchOp::Delete { key } => {
                map.remove(key);
            }
        }
    }
}

#[async_trait]
impl KvStore for SimKv {
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, KvError> {
        self.call(
            OpClass::Read,
            |st| st.gets += 1,
            (KvFault::GetEio, Some(KvFault::GetCorrupt)),
            "get",
            |s| s.live.get(key).cloned(),
        )
        .await
    }

    async fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>, KvError> {
        self.call(
            OpClass::Read,
            |st| st.scans += 1,
            (KvFault::ScanEio, Some(KvFault::ScanCorrupt)),
            "scan_prefix",
            |s| {
                // Every key with the prefix sorts at or after it and the run is contiguous, so scan
                // from the prefix and stop at the first key without it (no upper-bound arithmetic
                // to get wrong for prefixes ending in 0xff).
                s.live
                    .range(prefix.to_vec()..)
                    .take_while(|(k, _)| k.starts_with(prefix))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            },
        )
        .await
    }

    /// One scan call (counted, faulted and delayed as `scan_prefix`), lending each entry under
    /// the lock instead of copying it.
    async fn visit_prefix(
        &self,
        prefix: &[u8],
        visit: &mut PrefixVisitor<'_>,
    ) -> Result<(), KvError> {
        self.call(
            OpClass::Read,
            |st| st.scans += 1,
            (KvFault::ScanEio, Some(KvFault::ScanCorrupt)),
            "scan_prefix",
            |s| {
                // As in `scan_prefix`: from the prefix to the first key without it.
                for (k, v) in s.live.range(prefix.to_vec()..) {
                    if !k.starts_with(prefix) || visit(k, v).is_break() {
                        break;
                    }
                }
            },
        )
        .await
    }

    async fn apply_batch(&self, batch: WriteBatch) -> Result<(), KvError> {
        let ops = batch.len() as u64;
        let count = move |st: &mut KvStats| {
            st.batches += 1;
            st.batch_ops += ops;
        };
        self.call(
            OpClass::Write,
            count,
            (KvFault::ApplyEio, Some(KvFault::ApplyCorrupt)),
            "apply_batch",
            |s| {
                apply(&mut s.live, &batch);
                // An empty batch changes nothing; keeping it out of `pending` keeps crash reports
                // about real writes.
                if !batch.is_empty() {
                    s.pending.push(batch);
                }
            },
        )
        .await
    }

    async fn flush(&self) -> Result<(), KvError> {
        self.call(
            OpClass::Sync,
            |st| st.flushes += 1,
            (KvFault::FlushEio, None),
            "flush",
            |s| {
                // Replaying the pending batches costs what they wrote, not the whole store (as a
                // clone of `live` would); the result equals `live`.
                for batch in std::mem::take(&mut s.pending) {
                    apply(&mut s.durable, &batch);
                }
            },
        )
        .await
    }
}
