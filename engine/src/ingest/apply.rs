//! Turns one WAL record into the KV writes that apply it: the planning half of "one record, one
//! atomic batch". The worker adds the new cursor to the batch and commits it (`worker.rs`).
//!
//! Planning reads the store (does the assertion exist? has this voter voted? the current vote
//! count and weight) and returns the writes. The reads and the batch are consistent only because
//! the worker is the single writer of these keys and applies one batch at a time: nothing can
//! change a counter between the read here and the commit. Every derived write (index entries,
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
    let (subject, predicate) = (assertion.subject.as_bytes(), assertion.predicate.as_bytes());
    let mut batch = WriteBatch::new();
    batch
        .put(key, value)
        .put(keys::subject_key(subject, hash), Vec::new())
        .put(
            keys::subject_predicate_key(subject, predicate, hash),
            Vec::new(),
        );
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
    let count = kv.get(&keys::vote_count_key(&vote.assertion_hash)).await?;
    let weight = kv.get(&keys::vote_weight_key(&vote.assertion_hash)).await?;
    let (count, weight) = decode_counters(count, weight)?;
    let count = count.saturating_add(1);
    let weight = weight.add(vote.weight);
    let mut batch = WriteBatch::new();
    batch
        .put(key, value)
        .put(
            keys::vote_count_key(&vote.assertion_hash),
            count.to_be_bytes().to_vec(),
        )
        .put(
            keys::vote_weight_key(&vote.assertion_hash),
            weight.to_be_bytes().to_vec(),
        );
    Ok(Planned {
        batch,
        outcome: Outcome::Applied,
    })
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
    let count = kv.get(&keys::vote_count_key(assertion)).await?;
    let weight = kv.get(&keys::vote_weight_key(assertion)).await?;
    decode_counters(count, weight)
}

/// The stored `VC:` and `VW:` values as a count and a weight (zero when absent).
fn decode_counters(
    count: Option<Vec<u8>>,
    weight: Option<Vec<u8>>,
) -> Result<(u64, WeightSum), KvError> {
    let count = match count {
        None => 0,
        Some(bytes) => u64::from_be_bytes(exact::<VOTE_COUNT_BYTES>(&bytes, "vote count")?),
    };
    let weight = match weight {
        None => WeightSum::ZERO,
        Some(bytes) => WeightSum::from_be_bytes(exact::<WEIGHT_SUM_BYTES>(&bytes, "vote weight")?),
    };
    Ok((count, weight))
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
