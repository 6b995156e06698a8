//! Values of the subject index entries (`S:` and `SP:`): the facts a lens ranks an assertion by,
//! so a query ranks every candidate from one index scan and reads in full only the few its answer
//! rests on (`query/load.rs`), instead of an assertion and two counters per candidate.
//!
//! Layout, 38 bytes, integers big-endian:
//!
//! ```text
//! [format:u8 = 1][timestamp_ms:u64][lifecycle signing tag:u8][vote_count:u64][vote_weight:u128]
//! [crc32c:u32 of the key, then of every value byte before it]
//! ```
//!
//! Who keeps the facts true: ingest writes both entries in the batch that stores the assertion,
//! and rewrites both in every batch that counts a vote for a stored assertion
//! (`ingest/apply.rs`). So in every committed state an entry's facts equal its assertion's
//! timestamp and lifecycle and its `VC:`/`VW:` counters.
//!
//! Why a checksum: a query trusts the entries it does not cross-check against the assertion and
//! counters (every candidate but the ones its answer rests on), so damage to a value must be
//! detected rather than ranked. Covering the key too means a value that lands under another key
//! (a misdirected write, a stale copy) fails as well.
//!
//! An empty value is the format before this one (entries carried nothing): readers fall back to
//! the assertion and its counters, and the next vote for the assertion rewrites both entries.

use crate::model::{Assertion, Hash32, Lifecycle, WeightSum, WEIGHT_SUM_BYTES};
use crate::storage::keys;

/// The format byte this build writes (and the only non-empty one it reads).
pub const INDEX_VALUE_FORMAT: u8 = 1;
/// Width of an index value in [`INDEX_VALUE_FORMAT`], in bytes.
pub const INDEX_VALUE_BYTES: usize = 1 + U64_BYTES + 1 + U64_BYTES + WEIGHT_SUM_BYTES + CRC_BYTES;

/// Width of a big-endian `u64` field, in bytes.
const U64_BYTES: usize = 8;
/// Width of the trailing crc32c, in bytes.
const CRC_BYTES: usize = 4;

/// What an index entry states about its assertion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexFacts {
    /// The assertion's `timestamp_ms`.
    pub timestamp_ms: u64,
    /// The assertion's lifecycle.
    pub lifecycle: Lifecycle,
    /// Distinct voters counted (the `VC:` counter).
    pub vote_count: u64,
    /// Their summed weight (the `VW:` counter).
    pub vote_weight: WeightSum,
}

/// A non-empty index value this build cannot read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IndexValueError {
    /// The first byte names a format this build does not know.
    #[error("unknown index value format {format}")]
    UnknownFormat { format: u8 },
    /// The value has the wrong width for its format.
    #[error("index value is {len} bytes, expected {INDEX_VALUE_BYTES}")]
    BadLength { len: usize },
    /// The checksum does not match the key and value.
    #[error("index value checksum does not match its key and bytes")]
    BadChecksum,
    /// The lifecycle byte names no lifecycle.
    #[error("index value names no lifecycle (tag {tag})")]
    BadLifecycle { tag: u8 },
}

impl IndexFacts {
    /// The facts of `assertion` with the counted support `vote_count` / `vote_weight`.
    pub fn of(assertion: &Assertion, vote_count: u64, vote_weight: WeightSum) -> IndexFacts {
        IndexFacts {
            timestamp_ms: assertion.timestamp_ms,
            lifecycle: assertion.lifecycle,
            vote_count,
            vote_weight,
        }
    }

    /// The value to store under `key` (see the module docs).
    pub fn encode(&self, key: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(INDEX_VALUE_BYTES);
        out.push(INDEX_VALUE_FORMAT);
        out.extend_from_slice(&self.timestamp_ms.to_be_bytes());
        out.push(self.lifecycle.signing_tag());
        out.extend_from_slice(&self.vote_count.to_be_bytes());
        out.extend_from_slice(&self.vote_weight.to_be_bytes());
        let crc = checksum(key, &out);
        out.extend_from_slice(&crc.to_be_bytes());
        out
    }

    /// Reads the value stored under `key`: `Ok(None)` for an entry of the empty, older format.
    /// Untrusted: any bytes give facts or an [`IndexValueError`], never a panic.
    pub fn decode(key: &[u8], value: &[u8]) -> Result<Option<IndexFacts>, IndexValueError> {
        let Some(&format) = value.first() else {
            return Ok(None);
        };
        if format != INDEX_VALUE_FORMAT {
            return Err(IndexValueError::UnknownFormat { format });
        }
        let fixed: &[u8; INDEX_VALUE_BYTES] = value
            .try_into()
            .map_err(|_| IndexValueError::BadLength { len: value.len() })?;
        let (body, crc) = fixed.split_at(INDEX_VALUE_BYTES - CRC_BYTES);
        if crc != checksum(key, body).to_be_bytes() {
            return Err(IndexValueError::BadChecksum);
        }
        // The width was checked above, so the fields cannot run short; were they to, the value
        // is still reported as the wrong width rather than read as zeros.
        let short = IndexValueError::BadLength { len: value.len() };
        let mut r = Fields(&body[1..]);
        let timestamp_ms = u64::from_be_bytes(r.take().ok_or(short.clone())?);
        let [tag] = r.take().ok_or(short.clone())?;
        let lifecycle =
            Lifecycle::from_signing_tag(tag).ok_or(IndexValueError::BadLifecycle { tag })?;
        let vote_count = u64::from_be_bytes(r.take().ok_or(short.clone())?);
        let vote_weight = WeightSum::from_be_bytes(r.take().ok_or(short)?);
        Ok(Some(IndexFacts {
            timestamp_ms,
            lifecycle,
            vote_count,
            vote_weight,
        }))
    }
}

/// Both index entries of `assertion` (stored under `hash`), as `(key, value)`: `S:` then `SP:`.
pub fn index_entries(
    hash: &Hash32,
    facts: &IndexFacts,
    assertion: &Assertion,
) -> [(Vec<u8>, Vec<u8>); 2] {
    let (subject, predicate) = (assertion.subject.as_bytes(), assertion.predicate.as_bytes());
    [
        keys::subject_key(subject, hash),
        keys::subject_predicate_key(subject, predicate, hash),
    ]
    .map(|key| {
        let value = facts.encode(&key);
        (key, value)
    })
}

fn checksum(key: &[u8], body: &[u8]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(key), body)
}

/// Fixed-width fields read left to right.
struct Fields<'a>(&'a [u8]);

impl Fields<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> IndexFacts {
        IndexFacts {
            timestamp_ms: 1_700_000_000_123,
            lifecycle: Lifecycle::Deprecated,
            vote_count: 7,
            vote_weight: WeightSum(12_345_678),
        }
    }

    #[test]
    fn round_trips_under_its_key_and_fails_under_another() {
        let key = keys::subject_key(b"s", &Hash32([1; 32]));
        let value = facts().encode(&key);
        assert_eq!(value.len(), INDEX_VALUE_BYTES);
        assert_eq!(IndexFacts::decode(&key, &value), Ok(Some(facts())));
        let other = keys::subject_key(b"s", &Hash32([2; 32]));
        assert_eq!(
            IndexFacts::decode(&other, &value),
            Err(IndexValueError::BadChecksum)
        );
        assert_eq!(IndexFacts::decode(&key, &[]), Ok(None), "the older format");
    }

    #[test]
    fn every_flipped_bit_and_every_cut_is_an_error() {
        let key = keys::subject_predicate_key(b"s", b"p", &Hash32([3; 32]));
        let value = facts().encode(&key);
        for i in 0..value.len() {
            for bit in 0..8 {
                let mut bad = value.clone();
                bad[i] ^= 1 << bit;
                assert!(
                    IndexFacts::decode(&key, &bad).is_err(),
                    "byte {i} bit {bit}"
                );
            }
        }
        for cut in 1..value.len() {
            assert_eq!(
                IndexFacts::decode(&key, &value[..cut]),
                Err(IndexValueError::BadLength { len: cut })
            );
        }
    }

    #[test]
    fn a_lifecycle_tag_outside_the_set_is_an_error_even_with_a_good_checksum() {
        let key = keys::subject_key(b"s", &Hash32([4; 32]));
        let mut value = facts().encode(&key);
        value[1 + U64_BYTES] = 9;
        let body_len = INDEX_VALUE_BYTES - CRC_BYTES;
        let crc = checksum(&key, &value[..body_len]).to_be_bytes();
        value[body_len..].copy_from_slice(&crc);
        assert_eq!(
            IndexFacts::decode(&key, &value),
            Err(IndexValueError::BadLifecycle { tag: 9 })
        );
    }
}
