//! The data model: signed assertions, votes and evidence; their canonical signing messages,
//! validation rules, and the WAL payload encoding ([`Record`]).
//!
//! Everything read back from disk is untrusted: [`Record::decode`] validates the archive and
//! `validate` checks every rule and signature before anything is stored.

mod agent;
mod assertion;
mod evidence;
mod hash;
mod lifecycle;
mod limits;
mod record;
mod signing;
mod validation;
mod verifier;
mod vote;
mod weight;

pub use agent::{Agent, AGENT_SEED_BYTES};
pub use assertion::{Assertion, Signature};
pub use evidence::Evidence;
pub use hash::{Hash32, HASH_BYTES};
pub use lifecycle::Lifecycle;
pub use limits::{
    Limits, EVIDENCE_BYTES_MAX, FUTURE_SKEW_MS_MAX, OBJECT_BYTES_MAX, PREDICATE_BYTES_MAX,
    SIGNATURES_MAX, SUBJECT_BYTES_MAX, WEIGHT_MAX,
};
pub use record::{
    DecodeError, EncodeError, Record, RecordKind, RECORD_FORMAT_VERSION, RECORD_HEADER_BYTES,
    RECORD_MAGIC,
};
pub use signing::{
    ASSERTION_DOMAIN, EVIDENCE_DOMAIN, PUBLIC_KEY_BYTES, SIGNATURE_BYTES, VOTE_DOMAIN,
};
pub use validation::{check_parent, check_weight, ValidationError};
pub use verifier::{SignatureVerifier, VerifierStats, KEYS_CACHED_MAX, VERIFIED_CACHED_MAX};
pub use vote::Vote;
pub use weight::{Weight, WeightSum, WEIGHT_MICROS_PER_UNIT, WEIGHT_SUM_BYTES};
