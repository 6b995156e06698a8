//! Signed evidence attached to an assertion.

use crate::model::signing::{
    MessageBuilder, EVIDENCE_DOMAIN, PUBLIC_KEY_BYTES, SIGNATURE_BYTES, U64_BYTES,
};
use crate::model::{Hash32, HASH_BYTES};

/// Supporting material for an assertion: a URI or a small blob, bounded by
/// `Limits::evidence_bytes_max`, signed by its submitter.
#[derive(Clone, Debug, PartialEq, Eq, Hash, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct Evidence {
    /// The identity hash of the assertion this supports.
    pub assertion_hash: Hash32,
    /// The evidence itself (a URI or content), opaque bytes, non-empty.
    pub content: Vec<u8>,
    /// When it was submitted, in milliseconds since the Unix epoch (the submitter's wall clock).
    pub timestamp_ms: u64,
    /// The submitter's ed25519 public key; `signature` must verify under it.
    pub submitter: [u8; PUBLIC_KEY_BYTES],
    /// ed25519 signature by `submitter` over [`Evidence::signing_message`].
    pub signature: [u8; SIGNATURE_BYTES],
}

impl Evidence {
    /// The canonical signing message: the evidence domain tag, then assertion hash, content,
    /// timestamp and submitter key, in that order. Covers every field except `signature`.
    pub fn signing_message(&self) -> Vec<u8> {
        let mut m = MessageBuilder::new(
            EVIDENCE_DOMAIN,
            HASH_BYTES + U64_BYTES + self.content.len() + U64_BYTES + PUBLIC_KEY_BYTES,
        );
        m.fixed(self.assertion_hash.as_bytes())
            .var(&self.content)
            .u64(self.timestamp_ms)
            .fixed(&self.submitter);
        m.finish()
    }

    /// The evidence's identity: blake3 of [`Evidence::signing_message`].
    pub fn identity_hash(&self) -> Hash32 {
        Hash32::of(&self.signing_message())
    }
}
