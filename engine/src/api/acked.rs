//! Idempotent retries: which records this server already holds, by content hash.
//!
//! A client that lost the answer to a write (a timeout, a dropped connection, a server restart)
//! sends the same signed record again. It must not become a second record, and the client must
//! learn that its first write is durable. Two sources answer:
//! - `AckedHashes`: the hashes this process acknowledged, with their offsets, bounded by
//!   `ApiOptions::acked_hashes_max` (oldest out first). Lost on restart.
//! - the KV: a record already ingested (`stored`). Survives restarts; knows no offset.
//!
//! Between them a gap remains: a record acknowledged by an earlier process (or pushed out of the
//! map) and not yet ingested is appended a second time. So are two identical submits racing each
//! other (neither is in the map until its append returns). Both are safe: ingest applies a record
//! whose key is already stored as a duplicate (`ingest::apply`), so the KV holds it once and vote
//! counters count it once; the WAL merely carries the bytes twice.
//!
//! The identity hash of an assertion leaves out its signatures, so the same claim with another
//! set of signatures is the same record here, as it is in ingest (the first stored wins).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use crate::model::{Hash32, Record};
use crate::storage::{keys, KvError, KvStore};

/// The bounded map of acknowledged hashes to their WAL offsets.
#[derive(Debug)]
pub struct AckedHashes {
    inner: Mutex<Inner>,
    max: usize,
}

#[derive(Debug, Default)]
struct Inner {
    offsets: BTreeMap<Hash32, u64>,
    /// Insertion order, for evicting the oldest.
    order: VecDeque<Hash32>,
}

impl AckedHashes {
    pub fn new(max: usize) -> AckedHashes {
        AckedHashes {
            inner: Mutex::new(Inner::default()),
            max,
        }
    }

    /// The offset this server acknowledged `hash` at, if it remembers.
    pub fn get(&self, hash: &Hash32) -> Option<u64> {
        self.lock().offsets.get(hash).copied()
    }

    /// Remembers that `hash` was acknowledged durable at `offset`.
    pub fn insert(&self, hash: Hash32, offset: u64) {
        if self.max == 0 {
            return;
        }
        let mut inner = self.lock();
        if inner.offsets.insert(hash, offset).is_none() {
            inner.order.push_back(hash);
        }
        while inner.order.len() > self.max {
            if let Some(oldest) = inner.order.pop_front() {
                inner.offsets.remove(&oldest);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves a map that is still consistent (each step keeps
        // `offsets` and `order` in agreement or merely over-long), so carry on with it.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Whether the KV already holds `record` (ingested earlier, by this process or another).
pub async fn stored(kv: &dyn KvStore, record: &Record, hash: &Hash32) -> Result<bool, KvError> {
    match record {
        Record::Assertion(_) => Ok(kv.get(&keys::assertion_key(hash)).await?.is_some()),
        // `V:` holds the first vote of that voter on that assertion: it is this record only if
        // its identity is this hash. Another vote of the same voter is a repeat that ingest will
        // not count; it is appended (and acknowledged) like any new record.
        Record::Vote(vote) => {
            let key = keys::vote_key(&vote.assertion_hash, &vote.voter);
            Ok(match kv.get(&key).await? {
                None => false,
                Some(payload) => matches!(
                    Record::decode(&payload),
                    Ok(Record::Vote(stored)) if stored.identity_hash() == *hash
                ),
            })
        }
        Record::Evidence(evidence) => Ok(kv
            .get(&keys::evidence_key(&evidence.assertion_hash, hash))
            .await?
            .is_some()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_falls_out_past_the_bound() {
        let acked = AckedHashes::new(2);
        for i in 0..3u8 {
            acked.insert(Hash32([i; 32]), u64::from(i));
        }
        assert_eq!(acked.get(&Hash32([0; 32])), None);
        assert_eq!(acked.get(&Hash32([1; 32])), Some(1));
        assert_eq!(acked.get(&Hash32([2; 32])), Some(2));
    }
}
