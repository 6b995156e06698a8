//! Validation rules: every rule has its own [`ValidationError`] variant.
//!
//! Cheap structural checks run first and signature verification last, so a malformed record
//! costs no ed25519 work. A valid record costs one signing message, one blake3 hash of it and one
//! ed25519 verification per signature.

use std::collections::BTreeSet;

use crate::model::signing::{verify, SignatureFault};
use crate::model::verifier::SignatureVerifier;
use crate::model::{Assertion, Evidence, Hash32, Limits, Vote, Weight};

/// Why a record was rejected. Nothing of a rejected record is stored.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ValidationError {
    /// The subject is empty.
    #[error("subject is empty")]
    SubjectEmpty,
    /// The subject is longer than `Limits::subject_bytes_max`.
    #[error("subject is {bytes} bytes, more than the maximum of {bytes_max}")]
    SubjectTooLong { bytes: usize, bytes_max: usize },
    /// The predicate is empty.
    #[error("predicate is empty")]
    PredicateEmpty,
    /// The predicate is longer than `Limits::predicate_bytes_max`.
    #[error("predicate is {bytes} bytes, more than the maximum of {bytes_max}")]
    PredicateTooLong { bytes: usize, bytes_max: usize },
    /// The object is empty.
    #[error("object is empty")]
    ObjectEmpty,
    /// The object is longer than `Limits::object_bytes_max`.
    #[error("object is {bytes} bytes, more than the maximum of {bytes_max}")]
    ObjectTooLong { bytes: usize, bytes_max: usize },
    /// The confidence is NaN or infinite.
    #[error("confidence {confidence} is not finite")]
    ConfidenceNotFinite { confidence: f64 },
    /// The confidence is outside [0, 1], or is -0.0 (rejected so that each confidence value has
    /// exactly one bit pattern, hence one signing message and one identity hash).
    #[error("confidence {confidence} is outside [0, 1]")]
    ConfidenceOutOfRange { confidence: f64 },
    /// The vote weight is zero.
    #[error("vote weight is zero")]
    WeightZero,
    /// The vote weight is above `Limits::weight_max`.
    #[error("vote weight {weight} is more than the maximum of {weight_max}")]
    WeightTooLarge { weight: Weight, weight_max: Weight },
    /// The assertion names itself as its parent.
    #[error("assertion {hash} names itself as its parent")]
    SelfParent { hash: Hash32 },
    /// The assertion carries no signature.
    #[error("assertion has no signature")]
    NoSignature,
    /// The assertion carries more than `Limits::signatures_max` signatures.
    #[error("assertion has {count} signatures, more than the maximum of {count_max}")]
    TooManySignatures { count: usize, count_max: usize },
    /// Two signatures are by the same key. Rejected rather than deduplicated: a record is stored
    /// exactly as it was logged, and a silent dedupe would make two different logged byte strings
    /// mean the same record.
    #[error("signature {index} is by the same key as an earlier signature")]
    DuplicateSigner { index: usize },
    /// A signer's public key is not a valid ed25519 point. For votes and evidence `index` is 0.
    #[error("signature {index}: public key is not a valid ed25519 key")]
    MalformedPublicKey { index: usize },
    /// A signature does not verify for the signing message under its key (tampered field, wrong
    /// key, or a forged signature). For votes and evidence `index` is 0 and the key is the voter's
    /// or submitter's.
    #[error("signature {index} does not verify")]
    BadSignature { index: usize },
    /// The timestamp is further ahead of the ingest clock than `Limits::future_skew_ms_max`.
    #[error(
        "timestamp {timestamp_ms} ms is more than {skew_ms_max} ms ahead of now ({now_ms} ms)"
    )]
    TimestampInFuture {
        timestamp_ms: u64,
        now_ms: u64,
        skew_ms_max: u64,
    },
    /// The evidence content is empty.
    #[error("evidence content is empty")]
    EvidenceEmpty,
    /// The evidence content is longer than `Limits::evidence_bytes_max`.
    #[error("evidence content is {bytes} bytes, more than the maximum of {bytes_max}")]
    EvidenceTooLong { bytes: usize, bytes_max: usize },
}

fn check_len(
    bytes: usize,
    bytes_max: usize,
    empty: ValidationError,
    too_long: impl FnOnce(usize, usize) -> ValidationError,
) -> Result<(), ValidationError> {
    if bytes == 0 {
        Err(empty)
    } else if bytes > bytes_max {
        Err(too_long(bytes, bytes_max))
    } else {
        Ok(())
    }
}

fn check_timestamp(timestamp_ms: u64, now_ms: u64, limits: &Limits) -> Result<(), ValidationError> {
    if timestamp_ms > now_ms.saturating_add(limits.future_skew_ms_max) {
        return Err(ValidationError::TimestampInFuture {
            timestamp_ms,
            now_ms,
            skew_ms_max: limits.future_skew_ms_max,
        });
    }
    Ok(())
}

fn check_signature(
    index: usize,
    public_key: &[u8; 32],
    message: &[u8],
    signature: &[u8; 64],
    verifier: Option<&SignatureVerifier>,
) -> Result<(), ValidationError> {
    match verifier {
        Some(v) => v.verify(public_key, message, signature),
        None => verify(public_key, message, signature),
    }
    .map_err(|fault| match fault {
        SignatureFault::MalformedKey => ValidationError::MalformedPublicKey { index },
        SignatureFault::Invalid => ValidationError::BadSignature { index },
    })
}

/// Checks a vote weight against the bounds: > 0 and <= `limits.weight_max`.
pub fn check_weight(weight: Weight, limits: &Limits) -> Result<(), ValidationError> {
    if weight == Weight::ZERO {
        Err(ValidationError::WeightZero)
    } else if weight > limits.weight_max {
        Err(ValidationError::WeightTooLarge {
            weight,
            weight_max: limits.weight_max,
        })
    } else {
        Ok(())
    }
}

/// Rejects an assertion whose `parent_hash` is its own identity hash `hash`.
///
/// The identity hash covers `parent_hash`, so a self-parent would need a blake3 fixed point and
/// cannot arise from honest or adversarial hashing; the rule is kept as defence in depth (it costs
/// one comparison) and guards callers that build hashes by other means.
pub fn check_parent(hash: &Hash32, parent_hash: Option<&Hash32>) -> Result<(), ValidationError> {
    if parent_hash == Some(hash) {
        return Err(ValidationError::SelfParent { hash: *hash });
    }
    Ok(())
}

impl Assertion {
    /// Checks every rule and verifies every signature; `now_wall_ms` is the ingest clock's wall
    /// time. Returns the identity hash on success so callers need not hash the message again.
    pub fn validate(&self, now_wall_ms: u64, limits: &Limits) -> Result<Hash32, ValidationError> {
        self.validate_with(now_wall_ms, limits, None)
    }

    /// `validate`, verifying signatures through `verifier` (and its caches) when given.
    pub fn validate_with(
        &self,
        now_wall_ms: u64,
        limits: &Limits,
        verifier: Option<&SignatureVerifier>,
    ) -> Result<Hash32, ValidationError> {
        use ValidationError as E;
        check_len(
            self.subject.len(),
            limits.subject_bytes_max,
            E::SubjectEmpty,
            |b, m| E::SubjectTooLong {
                bytes: b,
                bytes_max: m,
            },
        )?;
        check_len(
            self.predicate.len(),
            limits.predicate_bytes_max,
            E::PredicateEmpty,
            |b, m| E::PredicateTooLong {
                bytes: b,
                bytes_max: m,
            },
        )?;
        check_len(
            self.object.len(),
            limits.object_bytes_max,
            E::ObjectEmpty,
            |b, m| E::ObjectTooLong {
                bytes: b,
                bytes_max: m,
            },
        )?;
        let confidence = self.confidence;
        if !confidence.is_finite() {
            return Err(E::ConfidenceNotFinite { confidence });
        }
        if !(0.0..=1.0).contains(&confidence) || confidence.is_sign_negative() {
            return Err(E::ConfidenceOutOfRange { confidence });
        }
        check_timestamp(self.timestamp_ms, now_wall_ms, limits)?;
        if self.signatures.is_empty() {
            return Err(E::NoSignature);
        }
        if self.signatures.len() > limits.signatures_max {
            return Err(E::TooManySignatures {
                count: self.signatures.len(),
                count_max: limits.signatures_max,
            });
        }
        let mut signers = BTreeSet::new();
        for (index, sig) in self.signatures.iter().enumerate() {
            if !signers.insert(sig.public_key) {
                return Err(E::DuplicateSigner { index });
            }
        }
        let message = self.signing_message();
        let hash = Hash32::of(&message);
        check_parent(&hash, self.parent_hash.as_ref())?;
        for (index, sig) in self.signatures.iter().enumerate() {
            check_signature(index, &sig.public_key, &message, &sig.signature, verifier)?;
        }
        Ok(hash)
    }
}

impl Vote {
    /// Checks the weight bounds and the timestamp, and that `signature` is by `voter` over the
    /// vote's signing message. Returns the vote's identity hash on success.
    pub fn validate(&self, now_wall_ms: u64, limits: &Limits) -> Result<Hash32, ValidationError> {
        self.validate_with(now_wall_ms, limits, None)
    }

    /// `validate`, verifying signatures through `verifier` (and its caches) when given.
    pub fn validate_with(
        &self,
        now_wall_ms: u64,
        limits: &Limits,
        verifier: Option<&SignatureVerifier>,
    ) -> Result<Hash32, ValidationError> {
        check_weight(self.weight, limits)?;
        check_timestamp(self.timestamp_ms, now_wall_ms, limits)?;
        let message = self.signing_message();
        check_signature(0, &self.voter, &message, &self.signature, verifier)?;
        Ok(Hash32::of(&message))
    }
}

impl Evidence {
    /// Checks the content bounds and the timestamp, and that `signature` is by `submitter` over
    /// the evidence's signing message. Returns the evidence's identity hash on success.
    pub fn validate(&self, now_wall_ms: u64, limits: &Limits) -> Result<Hash32, ValidationError> {
        self.validate_with(now_wall_ms, limits, None)
    }

    /// `validate`, verifying signatures through `verifier` (and its caches) when given.
    pub fn validate_with(
        &self,
        now_wall_ms: u64,
        limits: &Limits,
        verifier: Option<&SignatureVerifier>,
    ) -> Result<Hash32, ValidationError> {
        use ValidationError as E;
        check_len(
            self.content.len(),
            limits.evidence_bytes_max,
            E::EvidenceEmpty,
            |b, m| E::EvidenceTooLong {
                bytes: b,
                bytes_max: m,
            },
        )?;
        check_timestamp(self.timestamp_ms, now_wall_ms, limits)?;
        let message = self.signing_message();
        check_signature(0, &self.submitter, &message, &self.signature, verifier)?;
        Ok(Hash32::of(&message))
    }
}
