//! `SignatureVerifier`: ed25519 `verify_strict` with two bounded in-memory caches.
//!
//! Every record an engine accepts is verified twice in one process: at `submit` (so a client gets
//! a typed error before anything is logged) and again at ingest (the log also carries raw and
//! damaged bytes, so ingest trusts nothing). Signature verification dominates both paths, so the
//! engine shares one verifier between them:
//! - a *verified set*: a digest of every (public key, signature, message) triple that passed
//!   `verify_strict`. A hit means these exact bytes verified before, so the answer cannot differ
//!   (verification is a pure function). Only successes are cached: a failure is rare and must
//!   stay cheap to produce, and caching it would let an attacker fill the cache for free.
//! - a *key cache*: decompressed public keys. Decompressing a point is a field square root, about
//!   a fifth of a verification, and a store sees the same few signers again and again.
//!
//! Both are bounded (named limits below) and forget in insertion order, so memory stays fixed
//! under any input. Both die with the process: after a crash, ingest verifies again from scratch,
//! which is exactly the work a fresh process must do.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use ed25519_dalek::{Signature as DalekSignature, VerifyingKey};

use crate::model::signing::{SignatureFault, PUBLIC_KEY_BYTES, SIGNATURE_BYTES};

/// Verified triples remembered. Ingest normally trails submit by far fewer records than this, so
/// a record is still remembered when ingest reaches it; at 32 bytes a digest (twice: set and
/// queue) this is about 2 MiB plus tree overhead.
pub const VERIFIED_CACHED_MAX: usize = 16_384;
/// Decompressed public keys remembered; past it the cache starts over (signers are few).
pub const KEYS_CACHED_MAX: usize = 4_096;

/// Domain of the verified-set digest, so it can never equal a digest computed elsewhere.
const VERIFIED_DIGEST_CONTEXT: &str = "stemedb 2026-11 signature verifier verified-set v1";

type Digest = [u8; 32];

/// Verifies ed25519 signatures strictly, remembering successes (see the module docs).
#[derive(Debug, Default)]
pub struct SignatureVerifier {
    verified: Mutex<VerifiedSet>,
    keys: Mutex<BTreeMap<[u8; PUBLIC_KEY_BYTES], VerifyingKey>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

#[derive(Debug, Default)]
struct VerifiedSet {
    members: BTreeSet<Digest>,
    /// Insertion order, for forgetting the oldest first.
    order: VecDeque<Digest>,
}

impl VerifiedSet {
    fn insert(&mut self, digest: Digest) {
        if !self.members.insert(digest) {
            return;
        }
        self.order.push_back(digest);
        while self.order.len() > VERIFIED_CACHED_MAX {
            if let Some(oldest) = self.order.pop_front() {
                self.members.remove(&oldest);
            }
        }
    }
}

/// How often the verified set answered without verifying, and how often it had to verify.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VerifierStats {
    pub hits: u64,
    pub misses: u64,
}

impl SignatureVerifier {
    pub fn new() -> Self {
        Self::default()
    }

    /// Hit and miss counts so far.
    pub fn stats(&self) -> VerifierStats {
        VerifierStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }

    /// `verify_strict` of `signature` by `public_key` over `message`, answered from the verified
    /// set when these exact bytes verified before.
    pub(crate) fn verify(
        &self,
        public_key: &[u8; PUBLIC_KEY_BYTES],
        message: &[u8],
        signature: &[u8; SIGNATURE_BYTES],
    ) -> Result<(), SignatureFault> {
        let digest = triple_digest(public_key, message, signature);
        if lock(&self.verified).members.contains(&digest) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let key = self.key(public_key)?;
        key.verify_strict(message, &DalekSignature::from_bytes(signature))
            .map_err(|_| SignatureFault::Invalid)?;
        lock(&self.verified).insert(digest);
        Ok(())
    }

    /// The decompressed key, from the cache or decompressed now (and cached when valid).
    fn key(&self, public_key: &[u8; PUBLIC_KEY_BYTES]) -> Result<VerifyingKey, SignatureFault> {
        if let Some(key) = lock(&self.keys).get(public_key) {
            return Ok(*key);
        }
        let key = VerifyingKey::from_bytes(public_key).map_err(|_| SignatureFault::MalformedKey)?;
        let mut keys = lock(&self.keys);
        if keys.len() >= KEYS_CACHED_MAX {
            keys.clear();
        }
        keys.insert(*public_key, key);
        Ok(key)
    }
}

/// A poisoned lock only means another thread panicked mid-insert; both caches stay valid under
/// any partial insert (a member missing from `order` is merely never forgotten early).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The verified-set digest: every byte verification depends on, length-framed so two different
/// triples can never share an input.
fn triple_digest(
    public_key: &[u8; PUBLIC_KEY_BYTES],
    message: &[u8],
    signature: &[u8; SIGNATURE_BYTES],
) -> Digest {
    let mut h = blake3::Hasher::new_derive_key(VERIFIED_DIGEST_CONTEXT);
    h.update(public_key);
    h.update(signature);
    h.update(&(message.len() as u64).to_le_bytes());
    h.update(message);
    *h.finalize().as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::signing::verify;
    use ed25519_dalek::{Signer, SigningKey};

    fn signed(seed: u8, message: &[u8]) -> ([u8; 32], [u8; 64]) {
        let key = SigningKey::from_bytes(&[seed; 32]);
        (key.verifying_key().to_bytes(), key.sign(message).to_bytes())
    }

    #[test]
    fn agrees_with_uncached_verification_and_caches_only_successes() {
        let v = SignatureVerifier::new();
        let (pk, sig) = signed(7, b"hello");
        assert_eq!(v.verify(&pk, b"hello", &sig), Ok(()));
        assert_eq!(v.verify(&pk, b"hello", &sig), Ok(()));
        assert_eq!(v.stats(), VerifierStats { hits: 1, misses: 1 });
        // The same signature over other bytes, or by another key, must still fail every time.
        for _ in 0..2 {
            assert_eq!(
                v.verify(&pk, b"hellO", &sig),
                Err(SignatureFault::Invalid),
                "a cached success must not leak to another message"
            );
            assert_eq!(verify(&pk, b"hellO", &sig), Err(SignatureFault::Invalid));
            let (other, _) = signed(8, b"x");
            assert_eq!(
                v.verify(&other, b"hello", &sig),
                Err(SignatureFault::Invalid)
            );
        }
        let mut bad_sig = sig;
        bad_sig[0] ^= 1;
        assert!(v.verify(&pk, b"hello", &bad_sig).is_err());
        assert_eq!(v.stats().hits, 1, "failures never hit");
    }

    #[test]
    fn a_malformed_key_is_reported_and_not_cached() {
        let v = SignatureVerifier::new();
        // y = 2 is not on the curve (no square root), so decompression fails.
        let mut pk = [0u8; 32];
        pk[0] = 2;
        let sig = [0u8; 64];
        assert_eq!(verify(&pk, b"m", &sig), Err(SignatureFault::MalformedKey));
        assert_eq!(v.verify(&pk, b"m", &sig), Err(SignatureFault::MalformedKey));
        assert_eq!(v.verify(&pk, b"m", &sig), Err(SignatureFault::MalformedKey));
        assert!(lock(&v.keys).is_empty());
    }

    #[test]
    fn the_verified_set_stays_within_its_bound() {
        let mut set = VerifiedSet::default();
        for i in 0..(VERIFIED_CACHED_MAX + 10) as u64 {
            let mut d = [0u8; 32];
            d[..8].copy_from_slice(&i.to_le_bytes());
            set.insert(d);
        }
        assert_eq!(set.members.len(), VERIFIED_CACHED_MAX);
        assert_eq!(set.order.len(), VERIFIED_CACHED_MAX);
        let mut first = [0u8; 32];
        first[..8].copy_from_slice(&0u64.to_le_bytes());
        assert!(
            !set.members.contains(&first),
            "the oldest is forgotten first"
        );
    }
}
