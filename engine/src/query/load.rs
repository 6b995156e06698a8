//! The slow path: read a subject's (or subject+predicate's) candidates through the indexes.
//!
//! One scan of the index gives every candidate's standing (`storage/index.rs`: each entry
//! carries its assertion's timestamp and lifecycle and its vote counters), which is all a lens
//! ranks by. Only the candidates an answer can rest on are read in full: for each lens the
//! read must serve and each lifecycle it accepts, the best two of that lifecycle. The best two
//! of any set of lifecycles are among the best two of each one, so this covers the winner (the
//! one candidate an answer returns whole) and the runner-up (what the rule and explanation
//! compare it with) of every lifecycle filter the read can serve.
//!
//! Everything read is checked against what the index promised: every index key parses and
//! names this subject (and predicate); every index value has its format, width, lifecycle tag
//! and a checksum over its key and bytes; and each candidate read in full exists, decodes,
//! hashes to the key it is stored under, carries the indexed subject and predicate, has
//! counters of their exact widths, and agrees with its index entry on every fact. Ingest writes
//! an assertion, its index entries and its counters in one atomic batch (and moves the entries
//! with the counters on every vote), so within one committed state any mismatch is corruption:
//! it fails the query with a typed error rather than being skipped, because silently dropping
//! or misranking a candidate could change the winner.
//!
//! What is not checked: that the assertion and counters of a candidate no answer rests on
//! agree with its (checksummed) index entry. Checking them is the cost this design removes;
//! their index entries are still verified, and such a candidate's standing is all an answer
//! reports of it.
//!
//! An entry in the format before facts (empty value) is read in full, as every entry once was.
//!
//! These reads are separate KV calls, so on their own they may straddle ingest commits; only
//! `snapshot.rs`, which validates them against the ingest cursor, may call them.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use crate::lens::{Candidate, LensKind, Standing};
use crate::model::{Hash32, Lifecycle, Record, WeightSum, HASH_BYTES, WEIGHT_SUM_BYTES};
use crate::query::{LifecycleFilter, QueryError};
use crate::storage::index::IndexFacts;
use crate::storage::keys::{self, KeyFamily};
use crate::storage::KvStore;

/// Width of the `VC:` counter value (a big-endian `u64`), in bytes.
const VOTE_COUNT_BYTES: usize = 8;

/// The answers a read must be able to serve: every lens in `lenses`, with any lifecycle filter
/// inside `lifecycles`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Cover<'a> {
    pub(super) lenses: &'a [LensKind],
    pub(super) lifecycles: LifecycleFilter,
}

/// One read of the store's candidates.
#[derive(Debug)]
pub(super) struct Read {
    /// Every candidate indexed under the subject (and predicate), any lifecycle, in index
    /// (hash) order.
    pub(super) standings: Vec<Standing>,
    /// Candidates read in full and checked against their entries: at least the best two of
    /// each lifecycle of the cover under each of its lenses.
    pub(super) full: BTreeMap<Hash32, Candidate>,
}

/// Every candidate indexed under `subject` (and `predicate`, when given), with those `cover`
/// needs read in full.
pub(super) async fn load_candidates(
    kv: &dyn KvStore,
    subject: &str,
    predicate: Option<&str>,
    cover: Cover<'_>,
) -> Result<Read, QueryError> {
    let (family, prefix) = match predicate {
        Some(p) => (
            KeyFamily::SubjectPredicate,
            keys::subject_predicate_prefix(subject.as_bytes(), p.as_bytes()),
        ),
        None => (KeyFamily::Subject, keys::subject_prefix(subject.as_bytes())),
    };
    // The scan lends each entry (no copy of 10,000 keys and values to rank from 10,000 small
    // facts); an entry that needs more than its value (the older, empty format) is noted by
    // position and read after the scan, since the visit cannot await.
    let mut standings = Vec::new();
    let mut legacy = Vec::new();
    let mut failed = None;
    kv.visit_prefix(&prefix, &mut |key, value| {
        match standing_of(family, &prefix, key, value) {
            Ok(Entry::Facts(standing)) => standings.push(standing),
            Ok(Entry::Legacy(hash)) => {
                legacy.push(standings.len());
                standings.push(Standing {
                    hash,
                    timestamp_ms: 0,
                    lifecycle: Lifecycle::Draft,
                    vote_count: 0,
                    vote_weight: WeightSum::ZERO,
                });
            }
            Err(e) => {
                failed = Some(e);
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    })
    .await?;
    if let Some(e) = failed {
        return Err(e);
    }
    let mut full = BTreeMap::new();
    for i in legacy {
        let hash = standings[i].hash;
        let candidate = load_candidate(kv, hash, subject, predicate).await?;
        standings[i] = candidate.standing();
        full.insert(hash, candidate);
    }
    for i in tops(&standings, cover) {
        let standing = &standings[i];
        if full.contains_key(&standing.hash) {
            continue;
        }
        let candidate = load_candidate(kv, standing.hash, subject, predicate).await?;
        agree(standing, &candidate)?;
        full.insert(standing.hash, candidate);
    }
    Ok(Read { standings, full })
}

/// What one index entry gives: its standing, or (an entry of the older, empty format) only the
/// hash whose assertion and counters must be read for it.
enum Entry {
    Facts(Standing),
    Legacy(Hash32),
}

/// Parses one index entry found by a scan of `prefix`.
fn standing_of(
    family: KeyFamily,
    prefix: &[u8],
    key: &[u8],
    value: &[u8],
) -> Result<Entry, QueryError> {
    let hash = indexed_hash(family, key, prefix)?;
    let facts = IndexFacts::decode(key, value).map_err(|e| QueryError::CorruptIndex {
        family,
        key_len: key.len(),
        reason: e.to_string(),
    })?;
    Ok(match facts {
        Some(f) => Entry::Facts(Standing {
            hash,
            timestamp_ms: f.timestamp_ms,
            lifecycle: f.lifecycle,
            vote_count: f.vote_count,
            vote_weight: f.vote_weight,
        }),
        None => Entry::Legacy(hash),
    })
}

/// Indexes (into `standings`) of the best two of each lifecycle in `cover`, under each of its
/// lenses; each index once, in ascending order.
fn tops(standings: &[Standing], cover: Cover<'_>) -> Vec<usize> {
    let mut out = Vec::new();
    for kind in cover.lenses {
        let lens = kind.lens();
        // Best two per lifecycle, slot `signing_tag - 1`.
        let mut best: [[Option<usize>; 2]; Lifecycle::ALL.len()] = Default::default();
        let beats = |i: usize, j: usize| {
            lens.compare_standings(&standings[i], &standings[j])
                .0
                .is_gt()
        };
        for (i, s) in standings.iter().enumerate() {
            if !cover.lifecycles.contains(s.lifecycle) {
                continue;
            }
            let slot = &mut best[usize::from(s.lifecycle.signing_tag() - 1)];
            match *slot {
                [None, _] => slot[0] = Some(i),
                [Some(w), _] if beats(i, w) => *slot = [Some(i), Some(w)],
                [Some(_), None] => slot[1] = Some(i),
                [Some(_), Some(r)] if beats(i, r) => slot[1] = Some(i),
                _ => {}
            }
        }
        out.extend(best.into_iter().flatten().flatten());
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Fails unless `candidate`, read in full, agrees with the index entry that gave `standing`.
fn agree(standing: &Standing, candidate: &Candidate) -> Result<(), QueryError> {
    let read = candidate.standing();
    let fact = if read.timestamp_ms != standing.timestamp_ms {
        "timestamp"
    } else if read.lifecycle != standing.lifecycle {
        "lifecycle"
    } else if read.vote_count != standing.vote_count {
        "vote count"
    } else if read.vote_weight != standing.vote_weight {
        "vote weight"
    } else {
        return Ok(());
    };
    Err(QueryError::IndexDisagrees {
        hash: standing.hash,
        fact,
    })
}

/// The assertion hash of one index key found by a scan of `prefix`, after checking it names
/// this subject (and predicate).
///
/// `prefix` encodes the subject (and predicate) with their terminators, and the parts are
/// self-delimiting (`keys.rs`), so a key of this query is exactly `prefix` then a hash: the
/// key codec would parse it to this subject, predicate and hash, and nothing else parses so.
fn indexed_hash(family: KeyFamily, key: &[u8], prefix: &[u8]) -> Result<Hash32, QueryError> {
    let corrupt = |reason: &str| QueryError::CorruptIndex {
        family,
        key_len: key.len(),
        reason: reason.to_owned(),
    };
    let rest = key
        .strip_prefix(prefix)
        .ok_or_else(|| corrupt("names another subject or predicate"))?;
    <[u8; HASH_BYTES]>::try_from(rest)
        .map(Hash32)
        .map_err(|_| corrupt("the part after the subject and predicate is not one hash"))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn standing(byte: u8, ts: u64, lifecycle: Lifecycle, units: u128) -> Standing {
        Standing {
            hash: Hash32([byte; 32]),
            timestamp_ms: ts,
            lifecycle,
            vote_count: 0,
            vote_weight: WeightSum(units),
        }
    }

    /// The best two of every lifecycle filter, under every lens, are among the tops read for a
    /// cover of every lens and lifecycle.
    #[test]
    fn the_tops_hold_the_best_two_of_every_filter() {
        let mut standings = Vec::new();
        for i in 0..40u8 {
            let lifecycle = Lifecycle::ALL[usize::from(i % 4)];
            let ts = u64::from(i.wrapping_mul(37) % 11);
            standings.push(standing(
                i,
                ts,
                lifecycle,
                u128::from(i.wrapping_mul(13) % 5),
            ));
        }
        let cover = Cover {
            lenses: &LensKind::ALL,
            lifecycles: LifecycleFilter::ALL,
        };
        let read: Vec<Hash32> = tops(&standings, cover)
            .into_iter()
            .map(|i| standings[i].hash)
            .collect();
        for mask in 0..16u8 {
            let Some(filter) = LifecycleFilter::from_bits(mask) else {
                continue;
            };
            for kind in LensKind::ALL {
                let mut matched: Vec<Standing> = standings
                    .iter()
                    .copied()
                    .filter(|s| filter.contains(s.lifecycle))
                    .collect();
                kind.lens().rank_standings(&mut matched);
                for s in matched.iter().take(2) {
                    assert!(read.contains(&s.hash), "{kind:?} {filter:?}");
                }
            }
        }
        assert!(read.len() <= 16);
    }

    #[test]
    fn a_key_of_this_query_is_its_prefix_then_one_hash() {
        let prefix = keys::subject_predicate_prefix(b"s", b"p");
        let h = Hash32([5; 32]);
        let key = keys::subject_predicate_key(b"s", b"p", &h);
        let family = KeyFamily::SubjectPredicate;
        assert_eq!(indexed_hash(family, &key, &prefix).unwrap(), h);
        let mut long = key.clone();
        long.push(0);
        assert!(indexed_hash(family, &long, &prefix).is_err());
        assert!(indexed_hash(family, &key[..key.len() - 1], &prefix).is_err());
        let other = keys::subject_predicate_key(b"s", b"q", &h);
        assert!(indexed_hash(family, &other, &prefix).is_err());
    }
}
