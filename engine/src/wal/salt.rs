//! Where segment salts come from.
//!
//! Fault model: a salt defends against frames that verify where they were never written (see
//! `record.rs`), so it must differ between segments, including a segment re-created at the same
//! base after a crash, and a client must not be able to predict it. In production one key is
//! drawn from the OS per `Wal::open` and each segment's salt is a keyed hash of its base, so no
//! two opens share salts. Simulation must be reproducible from its seed, so a seeded source
//! derives the key from the seed instead; the simulator gives every boot its own seed, which keeps
//! salts distinct across re-creations there too.

use std::sync::Arc;

use super::error::WalError;

/// Domain separation for keys derived from a seed (never shared with any other use of blake3).
const SEEDED_KEY_CONTEXT: &str = "stemedb wal v3 segment salt key from seed";
const KEY_BYTES: usize = 32;
const SALT_BYTES: usize = 8;

/// Derives every segment salt of one open WAL.
#[derive(Clone)]
pub struct SaltSource {
    key: [u8; KEY_BYTES],
}

impl std::fmt::Debug for SaltSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key predicts every salt of this open: keep it out of logs.
        f.debug_struct("SaltSource").finish_non_exhaustive()
    }
}

impl SaltSource {
    /// `None`: a fresh key from the OS. `Some(seed)`: a key derived from the seed.
    pub fn new(seed: Option<u64>) -> Result<SaltSource, WalError> {
        let key = match seed {
            Some(seed) => blake3::derive_key(SEEDED_KEY_CONTEXT, &seed.to_le_bytes()),
            None => os_key()?,
        };
        Ok(SaltSource { key })
    }

    /// The salt of a new segment whose base is `base`.
    pub fn salt_for(&self, base: u64) -> u64 {
        let hash = blake3::keyed_hash(&self.key, &base.to_le_bytes());
        let mut salt = [0u8; SALT_BYTES];
        salt.copy_from_slice(&hash.as_bytes()[..SALT_BYTES]);
        u64::from_le_bytes(salt)
    }
}

#[expect(
    clippy::disallowed_methods,
    reason = "the one sanctioned OS randomness in the engine: production salts; simulation passes a seed"
)]
fn os_key() -> Result<[u8; KEY_BYTES], WalError> {
    let mut key = [0u8; KEY_BYTES];
    getrandom::fill(&mut key).map_err(|e| WalError::Entropy {
        source: Arc::new(std::io::Error::from(e)),
    })?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_salts_are_reproducible_and_differ_by_seed_and_base() {
        let a = SaltSource::new(Some(1)).unwrap();
        let b = SaltSource::new(Some(1)).unwrap();
        let c = SaltSource::new(Some(2)).unwrap();
        assert_eq!(a.salt_for(0), b.salt_for(0));
        assert_ne!(a.salt_for(0), a.salt_for(8));
        assert_ne!(a.salt_for(0), c.salt_for(0));
    }

    #[test]
    fn os_salts_differ_between_opens() {
        let a = SaltSource::new(None).unwrap();
        let b = SaltSource::new(None).unwrap();
        assert_ne!(a.salt_for(0), b.salt_for(0));
    }
}
