//! Canonical, domain-separated signing messages and ed25519 verification.
//!
//! Every signed type has exactly one function that builds its signing message (`signing_message`
//! on the type); the signer ([`crate::model::Agent`]) and the verifier (`validate`) both call it,
//! so they cannot drift apart. The message is hand-written rather than rkyv so it stays canonical
//! and stable across rkyv versions, features and platforms: one record has exactly one message.
//!
//! Layout: a NUL-terminated domain tag (`stemedb/<type>/v<n>\0`; no tag is a prefix of another,
//! so a signature over one type can never be replayed as another), then the fields in a fixed
//! order. Variable-length fields are prefixed by their length as a big-endian `u64` (lossless for
//! any in-memory length, so the encoding is injective without a fallible cast); integers are
//! big-endian; an `Option` is a `0` byte or a `1` byte followed by the value.

use ed25519_dalek::{Signature as DalekSignature, VerifyingKey};

/// Domain tag of the assertion signing message.
pub const ASSERTION_DOMAIN: &[u8] = b"stemedb/assertion/v1\0";
/// Domain tag of the vote signing message.
pub const VOTE_DOMAIN: &[u8] = b"stemedb/vote/v1\0";
/// Domain tag of the evidence signing message.
pub const EVIDENCE_DOMAIN: &[u8] = b"stemedb/evidence/v1\0";

/// Length of an ed25519 public key in bytes.
pub const PUBLIC_KEY_BYTES: usize = 32;
/// Length of an ed25519 signature in bytes.
pub const SIGNATURE_BYTES: usize = 64;

/// Encoded size of a variable-length field's length prefix, and of a `u64` field, in bytes.
pub(crate) const U64_BYTES: usize = 8;

/// Appends fields to a signing message in the canonical encoding described in the module docs.
pub(crate) struct MessageBuilder {
    bytes: Vec<u8>,
}

impl MessageBuilder {
    /// Starts a message with `domain`; `payload_hint_bytes` only sizes the allocation.
    pub(crate) fn new(domain: &[u8], payload_hint_bytes: usize) -> Self {
        let mut bytes = Vec::with_capacity(domain.len().saturating_add(payload_hint_bytes));
        bytes.extend_from_slice(domain);
        MessageBuilder { bytes }
    }

    /// A variable-length field: `u64` big-endian length, then the bytes.
    pub(crate) fn var(&mut self, field: &[u8]) -> &mut Self {
        // usize -> u64 is lossless on every supported target (pointer width <= 64 bits).
        self.bytes
            .extend_from_slice(&(field.len() as u64).to_be_bytes());
        self.bytes.extend_from_slice(field);
        self
    }

    /// A fixed-length field (its length is implied by the position in the layout).
    pub(crate) fn fixed(&mut self, field: &[u8]) -> &mut Self {
        self.bytes.extend_from_slice(field);
        self
    }

    /// A `u64`, big-endian.
    pub(crate) fn u64(&mut self, value: u64) -> &mut Self {
        self.bytes.extend_from_slice(&value.to_be_bytes());
        self
    }

    /// A single byte.
    pub(crate) fn u8(&mut self, value: u8) -> &mut Self {
        self.bytes.push(value);
        self
    }

    /// The finished message.
    pub(crate) fn finish(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.bytes)
    }
}

/// Why one signature did not verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SignatureFault {
    /// The public key bytes are not a valid ed25519 point.
    MalformedKey,
    /// The signature does not verify for this key and message (or uses a weak key, which
    /// `verify_strict` refuses).
    Invalid,
}

/// Verifies one ed25519 signature with `verify_strict` (rejects small-order keys and
/// non-canonical signatures, so a signature cannot be malleated into a second valid encoding).
pub(crate) fn verify(
    public_key: &[u8; PUBLIC_KEY_BYTES],
    message: &[u8],
    signature: &[u8; SIGNATURE_BYTES],
) -> Result<(), SignatureFault> {
    let key = VerifyingKey::from_bytes(public_key).map_err(|_| SignatureFault::MalformedKey)?;
    key.verify_strict(message, &DalekSignature::from_bytes(signature))
        .map_err(|_| SignatureFault::Invalid)
}
