//! Validation limits, each a named bound with its unit last.

use crate::model::Weight;

/// Default maximum subject length in bytes (UTF-8).
pub const SUBJECT_BYTES_MAX: usize = 1024;
/// Default maximum predicate length in bytes (UTF-8).
pub const PREDICATE_BYTES_MAX: usize = 256;
/// Default maximum object length in bytes (UTF-8).
pub const OBJECT_BYTES_MAX: usize = 16 * 1024;
/// Default maximum evidence content length in bytes.
pub const EVIDENCE_BYTES_MAX: usize = 64 * 1024;
/// Default maximum number of signatures on one assertion. Bounds the ed25519 work per record,
/// which is the dominant cost of ingest.
pub const SIGNATURES_MAX: usize = 16;
/// Default maximum vote weight: one million whole units.
pub const WEIGHT_MAX: Weight = Weight::from_units(1_000_000);
/// Default tolerance for timestamps ahead of the ingest clock: five minutes, in milliseconds.
/// Covers honest clock skew between agents; anything further ahead is treated as bogus, because a
/// far-future timestamp would win every recency comparison forever.
pub const FUTURE_SKEW_MS_MAX: u64 = 5 * 60 * 1000;

/// The bounds enforced by `validate`. Defaults are the constants of this module.
///
/// Tests and simulations may shrink them to provoke rejections cheaply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Maximum subject length in bytes.
    pub subject_bytes_max: usize,
    /// Maximum predicate length in bytes.
    pub predicate_bytes_max: usize,
    /// Maximum object length in bytes.
    pub object_bytes_max: usize,
    /// Maximum evidence content length in bytes.
    pub evidence_bytes_max: usize,
    /// Maximum number of signatures on one assertion.
    pub signatures_max: usize,
    /// Maximum weight of one vote (inclusive).
    pub weight_max: Weight,
    /// How far a record's timestamp may be ahead of the ingest clock, in milliseconds.
    pub future_skew_ms_max: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            subject_bytes_max: SUBJECT_BYTES_MAX,
            predicate_bytes_max: PREDICATE_BYTES_MAX,
            object_bytes_max: OBJECT_BYTES_MAX,
            evidence_bytes_max: EVIDENCE_BYTES_MAX,
            signatures_max: SIGNATURES_MAX,
            weight_max: WEIGHT_MAX,
            future_skew_ms_max: FUTURE_SKEW_MS_MAX,
        }
    }
}
