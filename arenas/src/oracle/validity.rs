//! The reference validator: which log payloads a correct ingest applies and which it must set
//! aside (dead-letter).
//!
//! It is written from DESIGN.md section 4's rules, not by calling the engine's `validate`: if the
//! engine's rules drift (a bound off by one, a check dropped, a signature not verified), ingest and
//! this model disagree about some record, and the KV replay check names it. Nor does it call the
//! engine's decoder, signing messages or bounds: it reads payloads, messages and bounds as
//! `oracle::spec` restates them, so a codec that drifted on both of the engine's sides at once
//! (an encoder and decoder that agree on the wrong bytes, a bound typed wrong) is still seen.
//!
//! Rules (the clock rule excepted: ingest never judges a timestamp, see `ingest/validate.rs`):
//! - assertion: subject, predicate and object non-empty and within their byte bounds; confidence
//!   finite, within [0, 1], and not negative zero (two encodings of "no confidence" would give one
//!   claim two identities); 1 to `signatures_max` signatures, no signer twice, every signature
//!   valid (`verify_strict`); not its own parent;
//! - vote: weight above zero and at most `weight_max`; the voter's signature valid;
//! - evidence: content non-empty and within its bound; the submitter's signature valid.
//!
//! Signatures the harness made itself (with well-formed keys over the canonical message) are
//! known good, so the model need not spend a verification on them; everything else (hostile
//! bytes, records altered after signing) is verified for real.

use std::collections::BTreeSet;

use ed25519_dalek::{Signature as DalekSignature, VerifyingKey};
use stemedb::model::{Assertion, Evidence, Limits, Record, Vote, Weight};

use crate::oracle::spec;

/// Whether the model must verify a payload's signatures or may take them as good.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signatures {
    /// The harness signed these exact bytes: the signatures are valid by construction.
    KnownGood,
    /// Anything else: verify every signature.
    Verify,
    /// The harness changed a signed field of these bytes after signing. Every signature covers
    /// every field (DESIGN section 4), so none can verify, whatever the engine's signing message
    /// says: the model rejects them without asking the engine's code, which is how a field left
    /// out of the signing message is caught.
    KnownBad,
}

/// The record a correct ingest applies for `payload`, or `None` when it must dead-letter it.
pub fn accept(payload: &[u8], signatures: Signatures) -> Option<Record> {
    if signatures == Signatures::KnownBad {
        return None;
    }
    let record = spec::decode(payload)?;
    let limits = spec::LIMITS;
    let valid = match &record {
        Record::Assertion(a) => assertion_valid(a, &limits, signatures),
        Record::Vote(v) => vote_valid(v, &limits, signatures),
        Record::Evidence(e) => evidence_valid(e, &limits, signatures),
    };
    valid.then_some(record)
}

fn within(len: usize, max: usize) -> bool {
    (1..=max).contains(&len)
}

fn assertion_valid(a: &Assertion, limits: &Limits, signatures: Signatures) -> bool {
    let c = a.confidence;
    let fields = within(a.subject.len(), limits.subject_bytes_max)
        && within(a.predicate.len(), limits.predicate_bytes_max)
        && within(a.object.len(), limits.object_bytes_max)
        && c.is_finite()
        && (0.0..=1.0).contains(&c)
        && !c.is_sign_negative();
    if !fields || !within(a.signatures.len(), limits.signatures_max) {
        return false;
    }
    let signers: BTreeSet<_> = a.signatures.iter().map(|s| s.public_key).collect();
    if signers.len() != a.signatures.len() {
        return false;
    }
    let message = spec::assertion_message(a);
    if a.parent_hash == Some(spec::assertion_id(a)) {
        return false;
    }
    signatures == Signatures::KnownGood
        || a.signatures
            .iter()
            .all(|s| signature_valid(&s.public_key, &message, &s.signature))
}

fn vote_valid(v: &Vote, limits: &Limits, signatures: Signatures) -> bool {
    v.weight > Weight::ZERO
        && v.weight <= limits.weight_max
        && (signatures == Signatures::KnownGood
            || signature_valid(&v.voter, &spec::vote_message(v), &v.signature))
}

fn evidence_valid(e: &Evidence, limits: &Limits, signatures: Signatures) -> bool {
    within(e.content.len(), limits.evidence_bytes_max)
        && (signatures == Signatures::KnownGood
            || signature_valid(&e.submitter, &spec::evidence_message(e), &e.signature))
}

fn signature_valid(public_key: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
    VerifyingKey::from_bytes(public_key).is_ok_and(|key| {
        key.verify_strict(message, &DalekSignature::from_bytes(signature))
            .is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use stemedb::model::{Agent, Hash32};

    fn signed_assertion() -> Assertion {
        let mut a = Assertion::new("s".to_owned(), "p".to_owned(), "o".to_owned(), 0.5, 1_000);
        Agent::derived(1, 1).sign_assertion(&mut a);
        a
    }

    fn payload(a: &Assertion) -> Vec<u8> {
        Record::Assertion(a.clone()).encode().unwrap()
    }

    #[test]
    fn agrees_with_the_engine_on_valid_and_forged_records() {
        let a = signed_assertion();
        assert!(accept(&payload(&a), Signatures::Verify).is_some());
        let mut forged = a.clone();
        forged.object.push('!');
        assert!(accept(&payload(&forged), Signatures::Verify).is_none());
        assert!(Record::Assertion(forged)
            .validate(0, &Limits::default())
            .is_err());
    }

    #[test]
    fn rules_hold_even_for_known_good_signatures() {
        let mut a = signed_assertion();
        a.confidence = -0.0;
        assert!(accept(&payload(&a), Signatures::KnownGood).is_none());
        let mut a = signed_assertion();
        a.signatures.push(a.signatures[0]);
        assert!(accept(&payload(&a), Signatures::KnownGood).is_none());
        let mut a = signed_assertion();
        a.signatures.clear();
        assert!(accept(&payload(&a), Signatures::KnownGood).is_none());
        let v = Agent::derived(1, 2).vote(Hash32::of(b"x"), Weight::ZERO, 1);
        let bytes = Record::Vote(v).encode().unwrap();
        assert!(accept(&bytes, Signatures::KnownGood).is_none());
    }
}
