//! Records at and just past the rules' edges: what an off-by-one or a dropped check in the
//! engine's validation would let through or turn away.
//!
//! - `edge_valid`: valid records exactly at every bound, both ends (confidence 0, the least
//!   positive, the greatest below 1, and 1; the shortest and the longest subject, predicate,
//!   object and evidence; the most signatures; the heaviest and the lightest vote). They go
//!   through `submit`: an engine that refuses one refuses valid work, and ingest must apply it.
//! - `rule_breaking`: records properly signed (or signed to fool a lax verifier) that break
//!   exactly one bound of one field, or one signature rule, each drawn uniformly from the
//!   catalogue [`Breach::ALL`] (every bound of every field, each side that can be crossed). Half
//!   go in raw, where ingest must dead-letter every one (the reference validator decides
//!   independently); half through `submit`, which must refuse each with the error that names
//!   its breach (`Breach::named_by`).
//! - `tampered`: records signed properly, then changed in one signed field (every field of
//!   assertions, votes and evidence in turn). The harness knows they are bad without asking the
//!   engine's signing message, so a field that message leaves out is caught.
//!
//! - `malleated`: a validly signed record whose payload differs from the canonical encoding
//!   only in bytes no field reads (padding, the unused payload of an absent `Option`): it
//!   decodes to the signed value, so its signatures verify, but one record has exactly one
//!   byte string, and a correct engine dead-letters the other (the reference reads only
//!   canonical payloads, `oracle::spec::decode`).
//! - `smuggler`: a valid evidence record whose content embeds well-formed WAL frames of another
//!   validly signed record (never submitted itself), at every alignment. If recovery's
//!   look-ahead ever takes an embedded frame for a record after the outer one is damaged, a
//!   record nobody appended surfaces: the log oracle fails the run whatever damage it excuses.
//!
//! Both draw from the workload's stream and use the workload's signing keys (plus extra ones for
//! the signature-count bound), so they replay like any other operation.

mod breach;
mod malleate;

pub use breach::Breach;
pub use malleate::malleated;

use rand::Rng;
use stemedb::model::{Agent, Assertion, Hash32, Lifecycle, Record, Vote, Weight, SIGNATURE_BYTES};
use stemedb_faults::rng::SimRng;

// The bounds as the design states them, not as the engine's constants say: a bound typed wrong
// in the engine must meet records at the right edge.
use crate::oracle::spec::{
    self, EVIDENCE_BYTES_MAX, OBJECT_BYTES_MAX, PREDICATE_BYTES_MAX, SIGNATURES_MAX,
    SUBJECT_BYTES_MAX, WEIGHT_MAX,
};

/// The encoding of the Edwards identity point: a small-order ("weak") public key. With the
/// signature (R = identity, s = 0), the cofactorless equation holds for every message, so only a
/// strict verifier rejects it.
const WEAK_KEY: [u8; 32] = {
    let mut k = [0u8; 32];
    k[0] = 1;
    k
};

/// Agents for co-signing up to `SIGNATURES_MAX + 1` times (derived apart from the workload's).
pub const COSIGNER_AGENT_BASE: u64 = 5_000;

pub struct Adversary {
    /// `SIGNATURES_MAX + 1` distinct signers.
    cosigners: Vec<Agent>,
}

fn fill(len: usize, byte: u8) -> String {
    String::from_utf8(vec![byte; len]).unwrap_or_default()
}

impl Adversary {
    pub fn new(seed: u64) -> Self {
        Self {
            cosigners: (0..=SIGNATURES_MAX as u64)
                .map(|i| Agent::derived(seed, COSIGNER_AGENT_BASE + i))
                .collect(),
        }
    }

    fn assertion(&self, rng: &mut SimRng, ts: u64) -> Assertion {
        Assertion::new(
            format!("edge-{}", rng.random_range(0..4u8)),
            "status".to_owned(),
            "edge".to_owned(),
            0.5,
            ts,
        )
    }

    fn signed(&self, mut a: Assertion, signers: usize) -> Assertion {
        for agent in &self.cosigners[..signers] {
            agent.sign_assertion(&mut a);
        }
        a
    }

    /// A valid record at one of the rules' bounds. `target` is an assertion votes and evidence
    /// may refer to.
    pub fn edge_valid(&self, rng: &mut SimRng, target: Hash32, ts: u64) -> Record {
        let signer = &self.cosigners[0];
        let mut a = self.assertion(rng, ts);
        match rng.random_range(0..15u8) {
            0 => a.confidence = 0.0,
            1 => a.confidence = 1.0,
            2 => a.subject = fill(SUBJECT_BYTES_MAX, b's'),
            3 => a.predicate = fill(PREDICATE_BYTES_MAX, b'p'),
            4 => a.object = fill(OBJECT_BYTES_MAX, b'o'),
            5 => return Record::Assertion(self.signed(a, SIGNATURES_MAX)),
            6 => return Record::Vote(signer.vote(target, WEIGHT_MAX, ts)),
            7 => return Record::Vote(signer.vote(target, Weight::from_micros(1), ts)),
            // The inside neighbours of the bounds `Breach` crosses from outside.
            8 => a.subject = fill(1, b's'),
            9 => a.predicate = fill(1, b'p'),
            10 => a.object = fill(1, b'o'),
            11 => a.confidence = f64::from_bits(1),
            12 => a.confidence = 1.0 - f64::EPSILON / 2.0,
            13 => return Record::Evidence(signer.evidence(target, vec![0xE5], ts)),
            _ => {
                let content = vec![0xE5; EVIDENCE_BYTES_MAX];
                return Record::Evidence(signer.evidence(target, content, ts));
            }
        }
        Record::Assertion(self.signed(a, 1))
    }

    /// A valid evidence record for `target` whose content smuggles frames of `inner` (a validly
    /// signed record that is never submitted on its own), and `inner`'s payload. The frames are
    /// framed for guessed offsets near `offset_hint` and guessed salts: a client knows roughly
    /// where the log is (acknowledgements carry offsets) but never a segment's salt.
    pub fn smuggler(
        &self,
        rng: &mut SimRng,
        inner: &Record,
        target: Hash32,
        offset_hint: u64,
        ts: u64,
    ) -> Option<(Record, Vec<u8>)> {
        let payload = spec::encode(inner);
        let mut content = Vec::new();
        // One copy at each of the 8 alignments, so one of them sits on a frame boundary of the
        // log wherever the encoder puts the content inside the outer record.
        for shift in 0..stemedb::wal::RECORD_ALIGN_BYTES {
            let guess = (offset_hint + rng.random_range(0..4096u64)) / 8 * 8;
            let salt = if rng.random_bool(0.5) {
                0
            } else {
                rng.random()
            };
            content.extend(std::iter::repeat_n(0u8, shift as usize + 1));
            content.extend(stemedb::wal::record::encode(&payload, guess, salt));
        }
        let signer = &self.cosigners[0];
        Some((
            Record::Evidence(signer.evidence(target, content, ts)),
            payload,
        ))
    }

    /// The bytes of a record signed properly and then changed in exactly one signed field (to a
    /// different value): no signature can verify if the signing message covers every field.
    pub fn tampered(&self, rng: &mut SimRng, target: Hash32, ts: u64) -> Vec<u8> {
        let signer = &self.cosigners[0];
        let other = Hash32::of(&target.0);
        let record = match rng.random_range(0..13u8) {
            field @ 0..=6 => {
                let mut a = self.assertion(rng, ts);
                a.parent_hash = rng.random_bool(0.5).then_some(target);
                let mut a = self.signed(a, 1);
                match field {
                    0 => a.subject.push('~'),
                    1 => a.predicate.push('~'),
                    2 => a.object.push('~'),
                    3 => a.confidence = 0.25,
                    4 => a.timestamp_ms += 1,
                    5 => {
                        a.lifecycle = match a.lifecycle {
                            Lifecycle::Active => Lifecycle::Retracted,
                            _ => Lifecycle::Active,
                        }
                    }
                    _ => {
                        a.parent_hash = match a.parent_hash {
                            Some(_) => None,
                            None => Some(target),
                        }
                    }
                }
                Record::Assertion(a)
            }
            field @ 7..=9 => {
                let mut v = signer.vote(target, Weight::from_units(3), ts);
                match field {
                    7 => v.assertion_hash = other,
                    8 => v.weight = Weight::from_units(4),
                    _ => v.timestamp_ms += 1,
                }
                Record::Vote(v)
            }
            field => {
                let mut e = signer.evidence(target, vec![0xE5; 16], ts);
                match field {
                    10 => e.assertion_hash = other,
                    11 => e.content.push(0),
                    _ => e.timestamp_ms += 1,
                }
                Record::Evidence(e)
            }
        };
        spec::encode(&record)
    }

    /// A record that breaks exactly one rule, drawn uniformly from [`Breach::ALL`], and the
    /// rule it breaks.
    pub fn rule_breaking(&self, rng: &mut SimRng, target: Hash32, ts: u64) -> (Breach, Vec<u8>) {
        let breach = Breach::ALL[rng.random_range(0..Breach::ALL.len())];
        (breach, self.breaking(breach, rng, target, ts))
    }

    /// The bytes of a record that breaks `breach` and no other rule: every other field is valid,
    /// and the signatures are good over what was signed (unless the breach is a signature's).
    pub fn breaking(&self, breach: Breach, rng: &mut SimRng, target: Hash32, ts: u64) -> Vec<u8> {
        let signer = &self.cosigners[0];
        let other = &self.cosigners[1];
        let mut a = self.assertion(rng, ts);
        let record = match breach {
            Breach::SubjectEmpty => {
                a.subject = String::new();
                Record::Assertion(self.signed(a, 1))
            }
            Breach::SubjectTooLong => {
                a.subject = fill(SUBJECT_BYTES_MAX + 1, b's');
                Record::Assertion(self.signed(a, 1))
            }
            Breach::PredicateEmpty => {
                a.predicate = String::new();
                Record::Assertion(self.signed(a, 1))
            }
            Breach::PredicateTooLong => {
                a.predicate = fill(PREDICATE_BYTES_MAX + 1, b'p');
                Record::Assertion(self.signed(a, 1))
            }
            Breach::ObjectEmpty => {
                a.object = String::new();
                Record::Assertion(self.signed(a, 1))
            }
            Breach::ObjectTooLong => {
                a.object = fill(OBJECT_BYTES_MAX + 1, b'o');
                Record::Assertion(self.signed(a, 1))
            }
            Breach::ConfidenceNan => {
                a.confidence = f64::NAN;
                Record::Assertion(self.signed(a, 1))
            }
            Breach::ConfidenceInfinite => {
                a.confidence = if rng.random_bool(0.5) {
                    f64::INFINITY
                } else {
                    f64::NEG_INFINITY
                };
                Record::Assertion(self.signed(a, 1))
            }
            Breach::ConfidenceBelowZero => {
                // The largest value below zero: the bound's nearest outside neighbour.
                a.confidence = -f64::from_bits(1);
                Record::Assertion(self.signed(a, 1))
            }
            Breach::ConfidenceNegativeZero => {
                a.confidence = -0.0;
                Record::Assertion(self.signed(a, 1))
            }
            Breach::ConfidenceAboveOne => {
                a.confidence = 1.0 + f64::EPSILON;
                Record::Assertion(self.signed(a, 1))
            }
            Breach::NoSignature => Record::Assertion(a),
            Breach::TooManySignatures => Record::Assertion(self.signed(a, SIGNATURES_MAX + 1)),
            Breach::DuplicateSigner => {
                // The same signer twice (both signatures valid).
                let mut a = self.signed(a, 1);
                let again = a.signatures[0];
                a.signatures.push(again);
                Record::Assertion(a)
            }
            Breach::SwappedKey => {
                // Another key under a valid signature.
                let mut a = self.signed(a, 1);
                a.signatures[0].public_key = other.public_key();
                Record::Assertion(a)
            }
            Breach::TransplantedSignature => {
                // A signature moved from another record by the same signer.
                let donor = self.signed(self.assertion(rng, ts + 1), 1);
                let mut a = self.signed(a, 1);
                a.signatures[0].signature = donor.signatures[0].signature;
                Record::Assertion(a)
            }
            Breach::WeakKey => {
                let mut weak = [0u8; SIGNATURE_BYTES];
                weak[..32].copy_from_slice(&WEAK_KEY);
                Record::Vote(Vote {
                    assertion_hash: target,
                    voter: WEAK_KEY,
                    weight: Weight::from_units(1),
                    timestamp_ms: ts,
                    signature: weak,
                })
            }
            Breach::WeightZero => Record::Vote(signer.vote(target, Weight::ZERO, ts)),
            Breach::WeightTooLarge => {
                Record::Vote(signer.vote(target, Weight::from_micros(WEIGHT_MAX.micros() + 1), ts))
            }
            Breach::EvidenceEmpty => Record::Evidence(signer.evidence(target, Vec::new(), ts)),
            Breach::EvidenceTooLong => {
                Record::Evidence(signer.evidence(target, vec![0xE5; EVIDENCE_BYTES_MAX + 1], ts))
            }
        };
        spec::encode(&record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracle::validity::{accept, Signatures};
    use stemedb::model::Limits;
    use stemedb_faults::rng;

    /// Clock-free "now" (as ingest validates): nothing is in the future of it.
    fn now() -> u64 {
        u64::MAX - Limits::default().future_skew_ms_max
    }

    #[test]
    fn edges_are_valid_and_rule_breakers_are_not_for_the_engine_and_the_reference() {
        let adversary = Adversary::new(7);
        let mut rng = rng::stream(7, "adversary-test");
        let target = Hash32::of(b"target");
        for _ in 0..200 {
            let edge = adversary.edge_valid(&mut rng, target, 1_000);
            assert!(edge.validate(now(), &Limits::default()).is_ok(), "{edge:?}");
            let bytes = edge.encode().unwrap();
            assert!(accept(&bytes, Signatures::Verify).is_some());
            let (_, bad) = adversary.rule_breaking(&mut rng, target, 1_000);
            assert!(accept(&bad, Signatures::Verify).is_none());
            // A field changed after signing: the engine's own signing message must cover it.
            let tampered = adversary.tampered(&mut rng, target, 1_000);
            let record = Record::decode(&tampered).expect("tampered records still decode");
            assert!(
                record.validate(now(), &Limits::default()).is_err(),
                "a field outside the signing message: {record:?}"
            );
            assert!(accept(&tampered, Signatures::Verify).is_none());
            assert!(accept(&tampered, Signatures::KnownBad).is_none());
        }
    }

    #[test]
    fn every_breach_breaks_its_rule_and_no_other() {
        let adversary = Adversary::new(11);
        let mut rng = rng::stream(11, "adversary-test");
        let target = Hash32::of(b"target");
        for breach in Breach::ALL {
            for _ in 0..4 {
                let bytes = adversary.breaking(breach, &mut rng, target, 1_000);
                assert!(
                    accept(&bytes, Signatures::Verify).is_none(),
                    "the reference accepts {breach:?}"
                );
                let record = Record::decode(&bytes)
                    .unwrap_or_else(|e| panic!("{breach:?} does not decode: {e}"));
                let err = record
                    .validate(now(), &Limits::default())
                    .expect_err("the engine accepts a rule breaker");
                assert!(breach.named_by(&err), "{breach:?} refused as {err:?}");
            }
        }
    }

    #[test]
    fn rule_breakers_are_drawn_from_the_whole_catalogue() {
        let adversary = Adversary::new(3);
        let mut rng = rng::stream(3, "adversary-test");
        let target = Hash32::of(b"target");
        let drawn: std::collections::BTreeSet<String> = (0..500)
            .map(|_| format!("{:?}", adversary.rule_breaking(&mut rng, target, 1).0))
            .collect();
        assert_eq!(drawn.len(), Breach::ALL.len(), "drawn: {drawn:?}");
    }

    #[test]
    fn a_malleated_record_decodes_to_its_signed_value_and_only_the_engine_may_not_take_it() {
        let adversary = Adversary::new(5);
        let mut rng = rng::stream(5, "adversary-test");
        let target = Hash32::of(b"target");
        let mut made = 0;
        for start in 0..40 {
            let edge = adversary.edge_valid(&mut rng, target, 1_000);
            let Some(bytes) = malleated(&edge, start * 7) else {
                continue;
            };
            made += 1;
            assert_ne!(bytes, spec::encode(&edge));
            assert_eq!(spec::decode_any(&bytes).as_ref(), Some(&edge));
            assert!(accept(&bytes, Signatures::Verify).is_none());
            assert!(
                Record::decode(&bytes).is_err(),
                "the engine reads a non-canonical payload"
            );
        }
        assert!(made > 10, "only {made} of 40 records could be malleated");
    }

    #[test]
    fn the_weak_key_fools_only_a_lax_verifier() {
        let key = ed25519_dalek::VerifyingKey::from_bytes(&WEAK_KEY).unwrap();
        let mut sig = [0u8; SIGNATURE_BYTES];
        sig[..32].copy_from_slice(&WEAK_KEY);
        let sig = ed25519_dalek::Signature::from_bytes(&sig);
        use ed25519_dalek::Verifier;
        assert!(key.verify(b"any message", &sig).is_ok());
        assert!(key.verify_strict(b"any message", &sig).is_err());
    }
}
