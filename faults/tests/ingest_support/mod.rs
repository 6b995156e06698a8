//! Shared helpers of the `ingest_*` tests: signed records, a reference replay of a WAL (the
//! oracle), a snapshot of what ingest wrote to a KV store, and bounded waits.
//!
//! The oracle is deliberately the most direct reading of the stored-format rules (one pass over
//! the log, a map per family), sharing no code with the ingest worker beyond the model's own
//! decode and validate.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use stemedb::io::Vfs;
use stemedb::model::{Agent, Assertion, Hash32, Limits, Record, Vote, Weight, WeightSum};
use stemedb::storage::index::{index_entries, IndexFacts};
use stemedb::storage::keys::{self, KeyFamily};
use stemedb::storage::KvStore;
use stemedb::wal::{ReadOutcome, WalReader, WalRecord};
use stemedb::{Engine, EngineError};

/// Timestamps of test records: well before any simulated "now", so none is in the future.
pub const TS_BASE_MS: u64 = 1_700_000_000_000;
/// Bound on any wait for ingest in a test, in (virtual, under a paused runtime) time.
pub const WAIT_BOUND: Duration = Duration::from_secs(120);

/// Key families that ingest writes, besides the cursor.
pub const DATA_FAMILIES: [KeyFamily; 8] = [
    KeyFamily::Assertion,
    KeyFamily::Vote,
    KeyFamily::Evidence,
    KeyFamily::Subject,
    KeyFamily::SubjectPredicate,
    KeyFamily::VoteCount,
    KeyFamily::VoteWeight,
    KeyFamily::Quarantine,
];

pub fn agent(i: u64) -> Agent {
    Agent::derived(0x1D6E57, i)
}

pub fn assertion(by: &Agent, subject: &str, predicate: &str, object: &str, ts: u64) -> Assertion {
    let mut a = Assertion::new(subject, predicate, object, 0.5, TS_BASE_MS + ts);
    by.sign_assertion(&mut a);
    a
}

pub fn vote(by: &Agent, on: &Assertion, units: u32, ts: u64) -> Vote {
    by.vote(
        on.identity_hash(),
        Weight::from_units(units),
        TS_BASE_MS + ts,
    )
}

pub fn encode(record: Record) -> Vec<u8> {
    record.encode().expect("test records encode")
}

/// A current-thread runtime with paused (virtual, auto-advancing) time: back-off sleeps and
/// simulated latency cost no wall time, and a bounded wait ends as soon as nothing can progress.
pub fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("runtime")
}

/// `fut`, bounded by [`WAIT_BOUND`]; `None` on timeout.
pub async fn bounded<F: Future>(fut: F) -> Option<F::Output> {
    stemedb_faults::time::timeout(WAIT_BOUND, fut).await
}

/// Waits (bounded) until the engine has applied everything durable; panics with `ctx` if not.
pub async fn caught_up(engine: &Engine, ctx: &str) -> u64 {
    match bounded(engine.wait_caught_up()).await {
        Some(Ok(end)) => end,
        Some(Err(e)) => panic!("{ctx}: ingest stopped: {e}"),
        None => panic!(
            "{ctx}: ingest did not catch up within {WAIT_BOUND:?}: cursor {} durable end {} stats {:?}",
            engine.ingest_cursor(),
            engine.durable_end(),
            engine.ingest_stats()
        ),
    }
}

/// Every record from the start of the log to its end (unbounded reader: call it only on a log
/// that nobody is writing).
pub async fn read_log(vfs: Arc<dyn Vfs>, dir: &Path) -> Vec<WalRecord> {
    let mut reader = WalReader::open(vfs, dir).await.expect("open reader");
    read_all(&mut reader).await
}

pub async fn read_all(reader: &mut WalReader) -> Vec<WalRecord> {
    let mut offset = reader.first_offset().await.expect("first offset");
    let mut out = Vec::new();
    while let ReadOutcome::Record(r) = reader.read_at(offset).await.expect("log reads cleanly") {
        offset = r.next_offset;
        out.push(r);
    }
    out
}

/// The expected store after ingesting `log`: data families only; a quarantine value is replaced
/// by the empty string (reasons are checked separately, see [`quarantine_reasons`]).
pub fn replay(log: &[WalRecord], limits: &Limits) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut state = BTreeMap::new();
    let mut counters: BTreeMap<Hash32, (u64, WeightSum)> = BTreeMap::new();
    let mut stored: BTreeMap<Hash32, Assertion> = BTreeMap::new();
    let never_future = u64::MAX - limits.future_skew_ms_max;
    for r in log {
        let record = match Record::decode(&r.payload) {
            Ok(record) if record.validate(never_future, limits).is_ok() => record,
            _ => {
                state.insert(keys::quarantine_key(r.offset), Vec::new());
                continue;
            }
        };
        match record {
            Record::Assertion(a) => {
                let h = a.identity_hash();
                if state.contains_key(&keys::assertion_key(&h)) {
                    continue;
                }
                state.insert(keys::assertion_key(&h), r.payload.clone());
                stored.insert(h, a);
            }
            Record::Vote(v) => {
                let key = keys::vote_key(&v.assertion_hash, &v.voter);
                if state.contains_key(&key) {
                    continue;
                }
                state.insert(key, r.payload.clone());
                let c = counters.entry(v.assertion_hash).or_default();
                c.0 += 1;
                c.1 = c.1.add(v.weight);
            }
            Record::Evidence(e) => {
                let key = keys::evidence_key(&e.assertion_hash, &e.identity_hash());
                state.entry(key).or_insert_with(|| r.payload.clone());
            }
        }
    }
    // Index entries state their assertion's facts and its final counters, however the votes
    // and the assertion were interleaved in the log.
    for (h, a) in &stored {
        let (count, weight) = counters.get(h).copied().unwrap_or_default();
        for (key, value) in index_entries(h, &IndexFacts::of(a, count, weight), a) {
            state.insert(key, value);
        }
    }
    for (h, (count, weight)) in counters {
        state.insert(keys::vote_count_key(&h), count.to_be_bytes().to_vec());
        state.insert(keys::vote_weight_key(&h), weight.to_be_bytes().to_vec());
    }
    state
}

/// What ingest wrote to `kv` (data families; quarantine values blanked like [`replay`]).
pub async fn stored(kv: &dyn KvStore) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut state = BTreeMap::new();
    for family in DATA_FAMILIES {
        for (k, v) in kv.scan_prefix(family.tag()).await.expect("scan") {
            let v = if family == KeyFamily::Quarantine {
                Vec::new()
            } else {
                v
            };
            state.insert(k, v);
        }
    }
    state
}

/// The quarantine family: (WAL offset, reason).
pub async fn quarantine_reasons(kv: &dyn KvStore) -> Vec<(u64, String)> {
    let tag = KeyFamily::Quarantine.tag();
    kv.scan_prefix(tag)
        .await
        .expect("scan")
        .into_iter()
        .map(|(k, v)| {
            let offset = u64::from_be_bytes(k[tag.len()..].try_into().expect("8-byte offset"));
            (offset, String::from_utf8(v).expect("reasons are UTF-8"))
        })
        .collect()
}

/// The stored ingest cursor.
pub async fn stored_cursor(kv: &dyn KvStore) -> Option<u64> {
    kv.get(keys::INGEST_CURSOR_KEY)
        .await
        .expect("get")
        .map(|v| u64::from_be_bytes(v.try_into().expect("8-byte cursor")))
}

/// Describes the first difference between two states, for assertion messages.
pub fn first_difference(
    want: &BTreeMap<Vec<u8>, Vec<u8>>,
    got: &BTreeMap<Vec<u8>, Vec<u8>>,
) -> String {
    for (k, v) in want {
        match got.get(k) {
            None => return format!("missing key {}", render(k)),
            Some(g) if g != v => {
                return format!("key {}: want {:02x?} got {:02x?}", render(k), v, g)
            }
            _ => {}
        }
    }
    for k in got.keys() {
        if !want.contains_key(k) {
            return format!("unexpected key {}", render(k));
        }
    }
    "none".into()
}

fn render(key: &[u8]) -> String {
    match keys::Key::decode(key) {
        Ok(k) => format!("{k:?}"),
        Err(_) => format!("{key:02x?}"),
    }
}

/// Unwraps an engine result in a test, with context.
pub fn ok<T>(r: Result<T, EngineError>, ctx: &str) -> T {
    r.unwrap_or_else(|e| panic!("{ctx}: {e}"))
}

/// The path of the WAL segment with base `base` in `dir` (its name carries the salt drawn when it
/// was created). Pass a SimDisk's `observer()` so the lookup changes nothing in the run.
pub async fn segment_path(vfs: &dyn Vfs, dir: &Path, base: u64) -> std::path::PathBuf {
    stemedb::wal::segment_files(vfs, dir)
        .await
        .expect("list segments")
        .into_iter()
        .find(|(segment, _)| segment.base == base)
        .expect("segment exists")
        .1
}
