//! Turns one WAL record into the KV writes that apply it: the planning half of "one record, one
//! atomic batch". The worker adds the new cursor to the batch and commits it (`worker.rs`).
//!
//! Planning reads the store (does the assertion exist? has this voter voted? the current vote
//! count and weight, which the index entries of a stored assertion carry too) and returns the
//! writes. The reads and the batch are consistent only because the worker is the single writer
//! of these keys and applies one batch at a time: nothing can change a counter between the read
//! here and the commit. Every derived write (index entries,
//! counters) must go into the returned batch, never be written on its own, or a crash between two
//! writes would leave the store half-applied and a replay would count twice.
//!
//! A worker batch applies several records at once: each is planned against an [`Overlay`] of the
//! store and the writes planned before it in the same batch, so a second vote on one assertion
//! reads the count the first one left, and a duplicate in the same batch is seen as one.
//!
//! Idempotence by content: a record whose effect is already in the store (an assertion or evidence
//! with the same identity hash, a second vote by the same voter on the same assertion) plans to
//! change nothing, so a record re-read after a crash, or a batch retried after an ambiguous
//! failure, can never count twice.

use std::collections::BTreeMap;

use crate::model::{Assertion, Evidence, Hash32, Record, Vote, WeightSum, WEIGHT_SUM_BYTES};
use crate::storage::index::{index_entries, IndexFacts};
use crate::storage::keys;
use crate::storage::{BatchOp, KvError, KvStore, WriteBatch};
use crate::wal::WalRecord;

use super::validate::Rejection;

/// Width of the stored vote count (`VC:`), big-endian.
const VOTE_COUNT_BYTES: usize = 8;
/// Width of the stored ingest cursor, big-endian.
const CURSOR_BYTES: usize = 8;

/// What applying a record amounts to.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Outcome {
    /// New state: an assertion, a counted vote, evidence.
    Applied,
    /// An assertion or evidence already stored.
    Duplicate,
    /// A vote by a voter who already voted on that assertion.
    VoteIgnoredRepeat,
    /// Set aside with this reason.
    Quarantined(Rejection),
}

/// The writes for one record (the cursor is added by the committer) and what they amount to.
#[derive(Debug)]
pub(crate) struct Planned {
    pub(crate) batch: WriteBatch,
    pub(crate) outcome: Outcome,
}

impl Planned {
    fn unchanged(outcome: Outcome) -> Self {
        Self {
            batch: WriteBatch::new(),
            outcome,
        }
    }

    /// A dead letter at `offset` with `reason`.
    pub(crate) fn quarantine(offset: u64, reason: Rejection) -> Self {
        let mut batch = WriteBatch::new();
        batch.put(
            keys::quarantine_key(offset),
            reason.to_string().into_bytes(),
        );
        Self {
            batch,
            outcome: Outcome::Quarantined(reason),
        }
    }
}

/// The store as a batch in the making will leave it: the committed store, overlaid with the writes
/// staged so far. Planning reads through it, so record N of a batch sees records 1..N.
pub(crate) struct Overlay<'a> {
    kv: &'a dyn KvStore,
    /// Staged writes by key; `None` is a staged delete.
    staged: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

impl<'a> Overlay<'a> {
    pub(crate) fn new(kv: &'a dyn KvStore) -> Self {
        Self {
            kv,
            staged: BTreeMap::new(),
        }
    }

    pub(crate) async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, KvError> {
        match self.staged.get(key) {
            Some(staged) => Ok(staged.clone()),
            None => self.kv.get(key).await,
        }
    }

    /// Makes `batch`'s writes visible to later reads (in order: a later op on a key wins).
    pub(crate) fn stage(&mut self, batch: &WriteBatch) {
        for op in &batch.ops {
            match op {
                BatchOp::Put { key, value } => self.staged.insert(key.clone(), Some(value.clone())),
                BatchOp::Delete { key } => self.staged.insert(key.clone(), None),
            };
        }
    }
}

/// Plans `record`, given what `decode_for_ingest` made of its payload. `Err` only for store
/// failures (the caller retries the whole batch); a bad record is an `Ok` quarantine plan.
pub(crate) async fn plan_record(
    kv: &Overlay<'_>,
    record: &WalRecord,
    decoded: Result<(Record, Hash32), Rejection>,
) -> Result<Planned, KvError> {
    let (decoded, hash) = match decoded {
        Ok(ok) => ok,
        Err(reason) => return Ok(Planned::quarantine(record.offset, reason)),
    };
    // Stored values are the WAL payload itself: `Record::decode` accepts only the canonical
    // encoding, so the payload is exactly `Record::encode()` of the decoded record.
    let value = &record.payload;
    match decoded {
        Record::Assertion(assertion) => plan_assertion(kv, &assertion, &hash, value).await,
        Record::Vote(vote) => plan_vote(kv, &vote, value).await,
        Record::Evidence(evidence) => plan_evidence(kv, &evidence, &hash, value).await,
    }
}

async fn plan_assertion(
    kv: &Overlay<'_>,
    assertion: &Assertion,
    hash: &Hash32,
    value: &[u8],
) -> Result<Planned, KvError> {
    let key = keys::assertion_key(hash);
    if kv.get(&key).await?.is_some() {
        return Ok(Planned::unchanged(Outcome::Duplicate));
    }
    // Votes may arrive before their assertion: its index entries start from what they counted.
    // Both counters are written in every batch that writes either, so no count means no weight
    // either: the common case (no vote yet) costs one read, not two.
    let (count, weight) = match read_count(kv, hash).await? {
        None => (0, WeightSum::ZERO),
        Some(count) => (count, read_weight(kv, hash).await?),
    };
    let mut batch = WriteBatch::new();
    batch.put(key, value);
    put_index_entries(&mut batch, hash, assertion, count, weight);
    Ok(Planned {
        batch,
        outcome: Outcome::Applied,
    })
}

async fn plan_vote(kv: &Overlay<'_>, vote: &Vote, value: &[u8]) -> Result<Planned, KvError> {
    let key = keys::vote_key(&vote.assertion_hash, &vote.voter);
    if kv.get(&key).await?.is_some() {
        // The first vote in log order counts; a later one by the same voter changes nothing,
        // whatever its weight.
        return Ok(Planned::unchanged(Outcome::VoteIgnoredRepeat));
    }
    // The index entries carry the counters (`storage/index.rs`), so they move with them. A vote
    // for an assertion not stored yet has no entries to move: the assertion's own batch reads
    // the counters.
    let hash = &vote.assertion_hash;
    let assertion = read_assertion(kv, hash).await?;
    let (count, weight) = match &assertion {
        // Every batch that writes the counters of a stored assertion writes its entries with
        // them, so its entry holds the counters: one read instead of two.
        Some(a) => match read_indexed_counters(kv, hash, a).await? {
            Some(counters) => counters,
            None => counters(kv, hash).await?,
        },
        None => counters(kv, hash).await?,
    };
    let count = count.saturating_add(1);
    let weight = weight.add(vote.weight);
    let mut batch = WriteBatch::new();
    batch
        .put(key, value)
        .put(keys::vote_count_key(hash), count.to_be_bytes().to_vec())
        .put(keys::vote_weight_key(hash), weight.to_be_bytes().to_vec());
    if let Some(a) = &assertion {
        put_index_entries(&mut batch, hash, a, count, weight);
    }
    Ok(Planned {
        batch,
        outcome: Outcome::Applied,
    })
}

/// Puts both index entries of `assertion` with the counted support `count` / `weight`.
fn put_index_entries(
    batch: &mut WriteBatch,
    hash: &Hash32,
    assertion: &Assertion,
    count: u64,
    weight: WeightSum,
) {
    let facts = IndexFacts::of(assertion, count, weight);
    for (key, value) in index_entries(hash, &facts, assertion) {
        batch.put(key, value);
    }
}

/// The stored assertion `hash`, if stored. Its bytes were a validated record when ingest stored
/// them, so bytes that no longer decode are a corrupt store: refuse to build on it.
async fn read_assertion(kv: &Overlay<'_>, hash: &Hash32) -> Result<Option<Assertion>, KvError> {
    let Some(bytes) = kv.get(&keys::assertion_key(hash)).await? else {
        return Ok(None);
    };
    match Record::decode(&bytes) {
        Ok(Record::Assertion(assertion)) => Ok(Some(assertion)),
        Ok(other) => Err(KvError::Corrupt(format!(
            "the assertion key of {hash} holds a {:?} record",
            other.kind()
        ))),
        Err(e) => Err(KvError::Corrupt(format!(
            "stored assertion {hash} does not decode: {e}"
        ))),
    }
}

/// The counters the `SP:` entry of the stored `assertion` states; `None` for an entry of the
/// older, empty format (or none at all), whose counters only `VC:`/`VW:` hold.
async fn read_indexed_counters(
    kv: &Overlay<'_>,
    hash: &Hash32,
    assertion: &Assertion,
) -> Result<Option<(u64, WeightSum)>, KvError> {
    let (subject, predicate) = (assertion.subject.as_bytes(), assertion.predicate.as_bytes());
    let key = keys::subject_predicate_key(subject, predicate, hash);
    let Some(value) = kv.get(&key).await? else {
        return Ok(None);
    };
    match IndexFacts::decode(&key, &value) {
        Ok(facts) => Ok(facts.map(|f| (f.vote_count, f.vote_weight))),
        Err(e) => Err(KvError::Corrupt(format!(
            "index entry of stored assertion {hash}: {e}"
        ))),
    }
}

/// The committed ingest cursor (the next WAL offset to ingest); 0 when none is stored.
pub async fn read_cursor(kv: &dyn KvStore) -> Result<u64, KvError> {
    match kv.get(keys::INGEST_CURSOR_KEY).await? {
        None => Ok(0),
        Some(bytes) => Ok(u64::from_be_bytes(exact::<CURSOR_BYTES>(
            &bytes,
            "ingest cursor",
        )?)),
    }
}

/// The counted votes and their total weight for `assertion` (zero when none is stored).
pub async fn read_counters(
    kv: &dyn KvStore,
    assertion: &Hash32,
) -> Result<(u64, WeightSum), KvError> {
    counters(&Overlay::new(kv), assertion).await
}

/// `read_counters` through `kv`.
async fn counters(kv: &Overlay<'_>, assertion: &Hash32) -> Result<(u64, WeightSum), KvError> {
    let count = read_count(kv, assertion).await?.unwrap_or(0);
    Ok((count, read_weight(kv, assertion).await?))
}

/// The `VC:` counter of `assertion`, if one is stored.
async fn read_count(kv: &Overlay<'_>, assertion: &Hash32) -> Result<Option<u64>, KvError> {
    match kv.get(&keys::vote_count_key(assertion)).await? {
        None => Ok(None),
        Some(bytes) => Ok(Some(u64::from_be_bytes(exact::<VOTE_COUNT_BYTES>(
            &bytes,
            "vote count",
        )?))),
    }
}

/// The `VW:` counter of `assertion` (zero when none is stored).
async fn read_weight(kv: &Overlay<'_>, assertion: &Hash32) -> Result<WeightSum, KvError> {
    match kv.get(&keys::vote_weight_key(assertion)).await? {
        None => Ok(WeightSum::ZERO),
        Some(bytes) => Ok(WeightSum::from_be_bytes(exact::<WEIGHT_SUM_BYTES>(
            &bytes,
            "vote weight",
        )?)),
    }
}

/// A stored counter of the wrong width was not written by this engine: refuse to build on it.
fn exact<const N: usize>(bytes: &[u8], what: &str) -> Result<[u8; N], KvError> {
    bytes.try_into().map_err(|_| {
        KvError::Corrupt(format!(
            "{what} value is {} bytes, expected {N}",
            bytes.len()
        ))
    })
}

async fn plan_evidence(
    kv: &Overlay<'_>,
    evidence: &Evidence,
    hash: &Hash32,
    value: &[u8],
) -> Result<Planned, KvError> {
    let key = keys::evidence_key(&evidence.assertion_hash, hash);
    if kv.get(&key).await?.is_some() {
        return Ok(Planned::unchanged(Outcome::Duplicate));
    }
    let mut batch = WriteBatch::new();
    batch.put(key, value);
    Ok(Planned {
        batch,
        outcome: Outcome::Applied,
    })
}
