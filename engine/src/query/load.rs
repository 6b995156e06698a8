//! The slow path: read a subject's (or subject+predicate's) candidates through the indexes.
//!
//! Everything read is checked against what the index promised: the index key parses and names
//! this subject (and predicate), the assertion exists, decodes, hashes to the key it is stored
//! under and carries the indexed subject and predicate, and the counters have their exact
//! widths. Ingest writes an assertion, its index entries and its counters in one atomic batch, so
//! within one committed state any mismatch is corruption: it fails the query with a typed error
//! rather than being skipped, because silently dropping a candidate could change the winner.
//!
//! These reads are separate KV calls, so on their own they may straddle ingest commits; only
//! `snapshot.rs`, which validates them against the ingest cursor, may call them.

use crate::lens::Candidate;
use crate::model::{Hash32, Record, WeightSum, WEIGHT_SUM_BYTES};
use crate::query::QueryError;
use crate::storage::keys::{self, Key, KeyFamily};
use crate::storage::KvStore;

/// Width of the `VC:` counter value (a big-endian `u64`), in bytes.
const VOTE_COUNT_BYTES: usize = 8;

/// Every candidate indexed under `subject` (and `predicate`, when given), in index (hash) order,
/// whatever its lifecycle.
pub(super) async fn load_candidates(
    kv: &dyn KvStore,
    subject: &str,
    predicate: Option<&str>,
) -> Result<Vec<Candidate>, QueryError> {
    let (family, prefix) = match predicate {
        Some(p) => (
            KeyFamily::SubjectPredicate,
            keys::subject_predicate_prefix(subject.as_bytes(), p.as_bytes()),
        ),
        None => (KeyFamily::Subject, keys::subject_prefix(subject.as_bytes())),
    };
    let entries = kv.scan_prefix(&prefix).await?;
    let mut candidates = Vec::with_capacity(entries.len());
    for (key, _) in entries {
        let hash = indexed_hash(family, &key, subject, predicate)?;
        candidates.push(load_candidate(kv, hash, subject, predicate).await?);
    }
    Ok(candidates)
}

/// The assertion hash of one index key, after checking it names this subject (and predicate).
fn indexed_hash(
    family: KeyFamily,
    key: &[u8],
    subject: &str,
    predicate: Option<&str>,
) -> Result<Hash32, QueryError> {
    let corrupt = |reason: String| QueryError::CorruptIndex {
        family,
        key_len: key.len(),
        reason,
    };
    let parsed = Key::decode(key).map_err(|e| corrupt(e.to_string()))?;
    let (s, p, hash) = match parsed {
        Key::Subject {
            subject: s,
            assertion,
        } => (s, None, assertion),
        Key::SubjectPredicate {
            subject: s,
            predicate: p,
            assertion,
        } => (s, Some(p), assertion),
        other => return Err(corrupt(format!("a {:?} key", other.family()))),
    };
    if s != subject.as_bytes() || p.as_deref() != predicate.map(str::as_bytes) {
        return Err(corrupt("names another subject or predicate".to_owned()));
    }
    Ok(hash)
}

/// The stored assertion `hash` with its vote counters.
async fn load_candidate(
    kv: &dyn KvStore,
    hash: Hash32,
    subject: &str,
    predicate: Option<&str>,
) -> Result<Candidate, QueryError> {
    let bytes = kv
        .get(&keys::assertion_key(&hash))
        .await?
        .ok_or(QueryError::DanglingIndex { hash })?;
    let assertion = match Record::decode(&bytes) {
        Ok(Record::Assertion(a)) => a,
        Ok(other) => {
            return Err(QueryError::NotAnAssertion {
                hash,
                kind: other.kind(),
            })
        }
        Err(source) => return Err(QueryError::CorruptAssertion { hash, source }),
    };
    let actual = assertion.identity_hash();
    if actual != hash {
        return Err(QueryError::HashMismatch {
            stored: hash,
            actual,
        });
    }
    if assertion.subject != subject || predicate.is_some_and(|p| assertion.predicate != p) {
        return Err(QueryError::IndexMismatch { hash });
    }
    let count_key = keys::vote_count_key(&hash);
    let vote_count = counter::<VOTE_COUNT_BYTES>(kv, KeyFamily::VoteCount, &count_key, hash)
        .await?
        .map_or(0, u64::from_be_bytes);
    let weight_key = keys::vote_weight_key(&hash);
    let vote_weight = counter::<WEIGHT_SUM_BYTES>(kv, KeyFamily::VoteWeight, &weight_key, hash)
        .await?
        .map_or(WeightSum::ZERO, WeightSum::from_be_bytes);
    Ok(Candidate::counted(hash, assertion, vote_count, vote_weight))
}

/// The fixed-width counter stored at `key` (of `family`, for `hash`); `None` when absent (no
/// votes yet means zero).
async fn counter<const N: usize>(
    kv: &dyn KvStore,
    family: KeyFamily,
    key: &[u8],
    hash: Hash32,
) -> Result<Option<[u8; N]>, QueryError> {
    let Some(bytes) = kv.get(key).await? else {
        return Ok(None);
    };
    <[u8; N]>::try_from(bytes.as_slice())
        .map(Some)
        .map_err(|_| QueryError::CorruptCounter {
            family,
            hash,
            len: bytes.len(),
            expected: N,
        })
}
