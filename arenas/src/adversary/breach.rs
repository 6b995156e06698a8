//! The catalogue of single breaches: every bound of every field, and the signature rules, each
//! broken on its own, and which typed refusal names each.

use stemedb::model::ValidationError;

use crate::oracle::spec::{
    EVIDENCE_BYTES_MAX, OBJECT_BYTES_MAX, PREDICATE_BYTES_MAX, SIGNATURES_MAX, SUBJECT_BYTES_MAX,
    WEIGHT_MAX,
};

/// One bound of one field (or one signature rule), broken on its own. Every bound of every
/// field is here, each side of it that can be crossed: the emptiness and the length of every
/// string and of the evidence; confidence below zero by the least step, above one by the least
/// step, negative zero, NaN and the infinities; no signature, one too many, a signer twice; a
/// vote weight of zero and one micro-unit over the maximum; and the signature faults a lax
/// verifier lets through. Not here: the self-parent rule (the identity hash covers the parent,
/// so a self-parent needs a blake3 fixed point; `check_parent` is defence in depth), and the
/// clock rule (judged at submit from foreign clocks, `workload::ForeignClock`; ingest never
/// judges a date).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Breach {
    SubjectEmpty,
    SubjectTooLong,
    PredicateEmpty,
    PredicateTooLong,
    ObjectEmpty,
    ObjectTooLong,
    ConfidenceNan,
    ConfidenceInfinite,
    ConfidenceBelowZero,
    ConfidenceNegativeZero,
    ConfidenceAboveOne,
    NoSignature,
    TooManySignatures,
    DuplicateSigner,
    SwappedKey,
    TransplantedSignature,
    WeakKey,
    WeightZero,
    WeightTooLarge,
    EvidenceEmpty,
    EvidenceTooLong,
}

impl Breach {
    pub const ALL: [Breach; 21] = [
        Breach::SubjectEmpty,
        Breach::SubjectTooLong,
        Breach::PredicateEmpty,
        Breach::PredicateTooLong,
        Breach::ObjectEmpty,
        Breach::ObjectTooLong,
        Breach::ConfidenceNan,
        Breach::ConfidenceInfinite,
        Breach::ConfidenceBelowZero,
        Breach::ConfidenceNegativeZero,
        Breach::ConfidenceAboveOne,
        Breach::NoSignature,
        Breach::TooManySignatures,
        Breach::DuplicateSigner,
        Breach::SwappedKey,
        Breach::TransplantedSignature,
        Breach::WeakKey,
        Breach::WeightZero,
        Breach::WeightTooLarge,
        Breach::EvidenceEmpty,
        Breach::EvidenceTooLong,
    ];

    /// Whether `err` names this breach: a record that breaks one rule must be refused for that
    /// rule, not another (the typed error is what a client acts on).
    pub fn named_by(self, err: &ValidationError) -> bool {
        use ValidationError as E;
        match self {
            Breach::SubjectEmpty => matches!(err, E::SubjectEmpty),
            Breach::SubjectTooLong => matches!(err, E::SubjectTooLong { bytes, bytes_max }
                if *bytes == SUBJECT_BYTES_MAX + 1 && *bytes_max == SUBJECT_BYTES_MAX),
            Breach::PredicateEmpty => matches!(err, E::PredicateEmpty),
            Breach::PredicateTooLong => matches!(err, E::PredicateTooLong { bytes, bytes_max }
                if *bytes == PREDICATE_BYTES_MAX + 1 && *bytes_max == PREDICATE_BYTES_MAX),
            Breach::ObjectEmpty => matches!(err, E::ObjectEmpty),
            Breach::ObjectTooLong => matches!(err, E::ObjectTooLong { bytes, bytes_max }
                if *bytes == OBJECT_BYTES_MAX + 1 && *bytes_max == OBJECT_BYTES_MAX),
            Breach::ConfidenceNan | Breach::ConfidenceInfinite => {
                matches!(err, E::ConfidenceNotFinite { .. })
            }
            Breach::ConfidenceBelowZero
            | Breach::ConfidenceNegativeZero
            | Breach::ConfidenceAboveOne => matches!(err, E::ConfidenceOutOfRange { .. }),
            Breach::NoSignature => matches!(err, E::NoSignature),
            Breach::TooManySignatures => matches!(err, E::TooManySignatures { count, count_max }
                if *count == SIGNATURES_MAX + 1 && *count_max == SIGNATURES_MAX),
            Breach::DuplicateSigner => matches!(err, E::DuplicateSigner { index: 1 }),
            Breach::SwappedKey | Breach::TransplantedSignature => {
                matches!(err, E::BadSignature { index: 0 })
            }
            // A small-order key is a well-formed point: refused as a key or as a signature.
            Breach::WeakKey => {
                matches!(
                    err,
                    E::BadSignature { index: 0 } | E::MalformedPublicKey { index: 0 }
                )
            }
            Breach::WeightZero => matches!(err, E::WeightZero),
            Breach::WeightTooLarge => {
                matches!(err, E::WeightTooLarge { weight_max, .. } if *weight_max == WEIGHT_MAX)
            }
            Breach::EvidenceEmpty => matches!(err, E::EvidenceEmpty),
            Breach::EvidenceTooLong => matches!(err, E::EvidenceTooLong { bytes, bytes_max }
                if *bytes == EVIDENCE_BYTES_MAX + 1 && *bytes_max == EVIDENCE_BYTES_MAX),
        }
    }
}
