//! `Agent`: a signing identity (an ed25519 key pair) for writers, voters and tests.

use std::fmt;

use ed25519_dalek::{Signer, SigningKey};

use crate::model::hash::write_hex;
use crate::model::signing::{PUBLIC_KEY_BYTES, SIGNATURE_BYTES};
use crate::model::{Assertion, Evidence, Hash32, Signature, Vote, Weight};

/// Length of an agent seed (an ed25519 secret key) in bytes.
pub const AGENT_SEED_BYTES: usize = 32;

/// blake3 key-derivation context for [`Agent::derived`]. Changing it changes every simulated
/// agent's key, so it is versioned.
const AGENT_DERIVE_CONTEXT: &str = "stemedb agent signing key v1";

/// A signing identity. Signing is deterministic (RFC 8032 ed25519), so a seed always produces
/// the same signatures: simulation runs stay reproducible.
pub struct Agent {
    key: SigningKey,
}

impl Agent {
    /// The agent whose ed25519 secret key is `seed`.
    pub fn from_seed(seed: [u8; AGENT_SEED_BYTES]) -> Agent {
        Agent {
            key: SigningKey::from_bytes(&seed),
        }
    }

    /// The `index`-th agent of a run with root seed `root_seed`: its secret key is blake3's
    /// key derivation over both numbers, so agents are independent and reproducible per seed.
    pub fn derived(root_seed: u64, index: u64) -> Agent {
        let mut material = [0u8; 16];
        material[..8].copy_from_slice(&root_seed.to_be_bytes());
        material[8..].copy_from_slice(&index.to_be_bytes());
        Agent::from_seed(blake3::derive_key(AGENT_DERIVE_CONTEXT, &material))
    }

    /// The agent's ed25519 public key.
    pub fn public_key(&self) -> [u8; PUBLIC_KEY_BYTES] {
        self.key.verifying_key().to_bytes()
    }

    /// Signs an arbitrary message (building block for the typed helpers; also lets tests forge
    /// signatures over the wrong message).
    pub fn sign_message(&self, message: &[u8]) -> [u8; SIGNATURE_BYTES] {
        self.key.sign(message).to_bytes()
    }

    /// This agent's signature over `assertion`'s signing message (does not modify it).
    pub fn assertion_signature(&self, assertion: &Assertion) -> Signature {
        Signature {
            public_key: self.public_key(),
            signature: self.sign_message(&assertion.signing_message()),
        }
    }

    /// Signs `assertion` in place: appends this agent's signature, or replaces this agent's
    /// earlier one, so an assertion never carries two signatures by one key (which validation
    /// rejects).
    pub fn sign_assertion(&self, assertion: &mut Assertion) {
        let sig = self.assertion_signature(assertion);
        match assertion
            .signatures
            .iter_mut()
            .find(|s| s.public_key == sig.public_key)
        {
            Some(existing) => *existing = sig,
            None => assertion.signatures.push(sig),
        }
    }

    /// A vote by this agent, signed.
    pub fn vote(&self, assertion_hash: Hash32, weight: Weight, timestamp_ms: u64) -> Vote {
        let mut vote = Vote {
            assertion_hash,
            voter: self.public_key(),
            weight,
            timestamp_ms,
            signature: [0; SIGNATURE_BYTES],
        };
        self.sign_vote(&mut vote);
        vote
    }

    /// Sets `vote.signature` to this agent's signature over the vote's signing message. Does not
    /// touch `vote.voter`: the vote is valid only if the voter is this agent.
    pub fn sign_vote(&self, vote: &mut Vote) {
        vote.signature = self.sign_message(&vote.signing_message());
    }

    /// Evidence submitted by this agent, signed.
    pub fn evidence(
        &self,
        assertion_hash: Hash32,
        content: Vec<u8>,
        timestamp_ms: u64,
    ) -> Evidence {
        let mut evidence = Evidence {
            assertion_hash,
            content,
            timestamp_ms,
            submitter: self.public_key(),
            signature: [0; SIGNATURE_BYTES],
        };
        self.sign_evidence(&mut evidence);
        evidence
    }

    /// Sets `evidence.signature` to this agent's signature over the evidence's signing message.
    /// Valid only if `evidence.submitter` is this agent.
    pub fn sign_evidence(&self, evidence: &mut Evidence) {
        evidence.signature = self.sign_message(&evidence.signing_message());
    }
}

impl fmt::Debug for Agent {
    /// Shows only the public key: the secret must never reach logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Agent(")?;
        write_hex(f, &self.public_key())?;
        f.write_str(")")
    }
}
