//! A signed, weighted vote for an assertion.

use crate::model::signing::{
    MessageBuilder, PUBLIC_KEY_BYTES, SIGNATURE_BYTES, U64_BYTES, VOTE_DOMAIN,
};
use crate::model::{Hash32, Weight, HASH_BYTES};

/// A vote by `voter` for the assertion `assertion_hash`, signed by the voter's own key.
///
/// One vote per voter per assertion counts; a repeat is idempotent (that rule lives in ingest and
/// the lenses; the storage key `V:` is per (assertion, voter)).
#[derive(Clone, Debug, PartialEq, Eq, Hash, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct Vote {
    /// The identity hash of the assertion voted for.
    pub assertion_hash: Hash32,
    /// The voter's ed25519 public key; `signature` must verify under it.
    pub voter: [u8; PUBLIC_KEY_BYTES],
    /// The vote's weight, > 0 and <= `Limits::weight_max`.
    pub weight: Weight,
    /// When the vote was cast, in milliseconds since the Unix epoch (the voter's wall clock).
    pub timestamp_ms: u64,
    /// ed25519 signature by `voter` over [`Vote::signing_message`].
    pub signature: [u8; SIGNATURE_BYTES],
}

impl Vote {
    /// The canonical signing message: the vote domain tag, then assertion hash, voter key,
    /// weight (micro-units) and timestamp, in that order. Covers every field except `signature`;
    /// the voter key is included so a signature binds the vote to its voter.
    pub fn signing_message(&self) -> Vec<u8> {
        let mut m = MessageBuilder::new(VOTE_DOMAIN, HASH_BYTES + PUBLIC_KEY_BYTES + 2 * U64_BYTES);
        m.fixed(self.assertion_hash.as_bytes())
            .fixed(&self.voter)
            .u64(self.weight.micros())
            .u64(self.timestamp_ms);
        m.finish()
    }

    /// The vote's identity: blake3 of [`Vote::signing_message`].
    pub fn identity_hash(&self) -> Hash32 {
        Hash32::of(&self.signing_message())
    }
}
