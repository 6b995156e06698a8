//! `Hash32`: a blake3 digest used as a content address.

use std::fmt;

/// Length of a [`Hash32`] in bytes.
pub const HASH_BYTES: usize = 32;

/// A 32-byte blake3 digest. Assertions, votes and evidence are identified by the blake3 hash of
/// their canonical signing message (see [`crate::model::Assertion::identity_hash`]).
///
/// Ordered byte-wise, so it can break ties deterministically (lenses) and sorts like its key bytes.
#[derive(
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
pub struct Hash32(pub [u8; HASH_BYTES]);

impl Hash32 {
    /// The blake3 digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Hash32 {
        Hash32(*blake3::hash(bytes).as_bytes())
    }

    /// The raw digest bytes.
    pub const fn as_bytes(&self) -> &[u8; HASH_BYTES] {
        &self.0
    }
}

impl From<[u8; HASH_BYTES]> for Hash32 {
    fn from(bytes: [u8; HASH_BYTES]) -> Self {
        Hash32(bytes)
    }
}

impl fmt::Display for Hash32 {
    /// Lower-case hex, 64 characters.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Debug for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Hash32(")?;
        write_hex(f, &self.0)?;
        f.write_str(")")
    }
}

/// Writes `bytes` as lower-case hex (used for hashes and public keys in logs and errors).
pub(crate) fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    for b in bytes {
        write!(f, "{b:02x}")?;
    }
    Ok(())
}
