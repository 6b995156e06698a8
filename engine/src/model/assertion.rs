//! The signed assertion: a (subject, predicate, object) claim with a confidence.

use crate::model::signing::{
    MessageBuilder, ASSERTION_DOMAIN, PUBLIC_KEY_BYTES, SIGNATURE_BYTES, U64_BYTES,
};
use crate::model::{Hash32, Lifecycle, HASH_BYTES};

/// One ed25519 signature over an assertion's signing message, with the key that made it.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize,
)]
pub struct Signature {
    /// The signer's ed25519 public key.
    pub public_key: [u8; PUBLIC_KEY_BYTES],
    /// The ed25519 signature over [`Assertion::signing_message`].
    pub signature: [u8; SIGNATURE_BYTES],
}

/// A signed claim `subject predicate object` with a confidence in [0, 1].
///
/// Immutable once signed: its identity is [`Assertion::identity_hash`], which covers every field
/// except `signatures`, so co-signing an assertion does not change its identity.
#[derive(Clone, Debug, PartialEq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct Assertion {
    /// What the claim is about (UTF-8, bounded by `Limits::subject_bytes_max`).
    pub subject: String,
    /// The relation (UTF-8, bounded by `Limits::predicate_bytes_max`).
    pub predicate: String,
    /// The value (UTF-8, bounded by `Limits::object_bytes_max`).
    pub object: String,
    /// How sure the signers are, finite and within [0, 1].
    pub confidence: f64,
    /// When the claim was made, in milliseconds since the Unix epoch (the signer's wall clock).
    pub timestamp_ms: u64,
    /// Lifecycle state.
    pub lifecycle: Lifecycle,
    /// The assertion this one supersedes, if any. Never the assertion itself.
    pub parent_hash: Option<Hash32>,
    /// Signatures over [`Assertion::signing_message`]; at least one, at most one per key.
    pub signatures: Vec<Signature>,
}

impl Assertion {
    /// An unsigned, active assertion without a parent.
    pub fn new(
        subject: impl Into<String>,
        predicate: impl Into<String>,
        object: impl Into<String>,
        confidence: f64,
        timestamp_ms: u64,
    ) -> Assertion {
        Assertion {
            subject: subject.into(),
            predicate: predicate.into(),
            object: object.into(),
            confidence,
            timestamp_ms,
            lifecycle: Lifecycle::Active,
            parent_hash: None,
            signatures: Vec::new(),
        }
    }

    /// The canonical signing message: the assertion domain tag, then subject, predicate, object,
    /// confidence (IEEE-754 bits), timestamp, lifecycle tag and parent, in that order. Covers every
    /// field except `signatures`. The only function that defines what an assertion signature
    /// means; both signing and verification call it.
    pub fn signing_message(&self) -> Vec<u8> {
        // Three length prefixes, confidence, timestamp, lifecycle, option tag, parent.
        let fixed_bytes = 5 * U64_BYTES + 2 + HASH_BYTES;
        let hint = self.subject.len() + self.predicate.len() + self.object.len() + fixed_bytes;
        let mut m = MessageBuilder::new(ASSERTION_DOMAIN, hint);
        m.var(self.subject.as_bytes())
            .var(self.predicate.as_bytes())
            .var(self.object.as_bytes())
            .u64(self.confidence.to_bits())
            .u64(self.timestamp_ms)
            .u8(self.lifecycle.signing_tag());
        match &self.parent_hash {
            None => m.u8(0),
            Some(parent) => m.u8(1).fixed(parent.as_bytes()),
        };
        m.finish()
    }

    /// The identity (content address): blake3 of [`Assertion::signing_message`].
    pub fn identity_hash(&self) -> Hash32 {
        Hash32::of(&self.signing_message())
    }
}
