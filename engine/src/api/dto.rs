//! The JSON shapes of records, converting to and from `model` exactly.
//!
//! Every field a signature covers round-trips bit for bit: byte arrays as hex, integers as JSON
//! integers, `confidence` as a JSON number that serde_json parses to the nearest f64 (its
//! `float_roundtrip` feature is on, so the f64 a client printed with a shortest round-trip
//! formatter comes back with the same bits, and the signing message is the one the client
//! signed). Unknown fields are refused (400): a misspelt `parent_hash` silently dropped would
//! produce a record other than the one the client meant.

use serde::{Deserialize, Serialize};

use super::hex;
use crate::model::{
    Assertion, Evidence, Hash32, Lifecycle, Signature, Vote, Weight, HASH_BYTES, PUBLIC_KEY_BYTES,
    SIGNATURE_BYTES,
};

/// [`Lifecycle`] as lowercase words.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LifecycleDto {
    Draft,
    #[default]
    Active,
    Deprecated,
    Retracted,
}

impl From<LifecycleDto> for Lifecycle {
    fn from(l: LifecycleDto) -> Self {
        match l {
            LifecycleDto::Draft => Lifecycle::Draft,
            LifecycleDto::Active => Lifecycle::Active,
            LifecycleDto::Deprecated => Lifecycle::Deprecated,
            LifecycleDto::Retracted => Lifecycle::Retracted,
        }
    }
}

impl From<Lifecycle> for LifecycleDto {
    fn from(l: Lifecycle) -> Self {
        match l {
            Lifecycle::Draft => LifecycleDto::Draft,
            Lifecycle::Active => LifecycleDto::Active,
            Lifecycle::Deprecated => LifecycleDto::Deprecated,
            Lifecycle::Retracted => LifecycleDto::Retracted,
        }
    }
}

/// One [`Signature`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureDto {
    #[serde(serialize_with = "hex::ser", deserialize_with = "hex::de_fixed")]
    pub public_key: [u8; PUBLIC_KEY_BYTES],
    #[serde(serialize_with = "hex::ser", deserialize_with = "hex::de_fixed")]
    pub signature: [u8; SIGNATURE_BYTES],
}

/// An [`Assertion`]. `lifecycle` defaults to active and `parent_hash` to none.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssertionDto {
    pub subject: String,
    pub predicate: String,
    pub object: String,
    pub confidence: f64,
    pub timestamp_ms: u64,
    #[serde(default)]
    pub lifecycle: LifecycleDto,
    #[serde(
        default,
        serialize_with = "hex::ser_opt",
        deserialize_with = "hex::de_opt_fixed"
    )]
    pub parent_hash: Option<[u8; HASH_BYTES]>,
    pub signatures: Vec<SignatureDto>,
}

/// A [`Vote`]; the weight in micro-units (1 unit = 1,000,000), as it is signed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoteDto {
    #[serde(serialize_with = "hex::ser", deserialize_with = "hex::de_fixed")]
    pub assertion_hash: [u8; HASH_BYTES],
    #[serde(serialize_with = "hex::ser", deserialize_with = "hex::de_fixed")]
    pub voter: [u8; PUBLIC_KEY_BYTES],
    pub weight_micros: u64,
    pub timestamp_ms: u64,
    #[serde(serialize_with = "hex::ser", deserialize_with = "hex::de_fixed")]
    pub signature: [u8; SIGNATURE_BYTES],
}

/// An [`Evidence`]; `content` in hex.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceDto {
    #[serde(serialize_with = "hex::ser", deserialize_with = "hex::de_fixed")]
    pub assertion_hash: [u8; HASH_BYTES],
    #[serde(serialize_with = "hex::ser", deserialize_with = "hex::de_vec")]
    pub content: Vec<u8>,
    pub timestamp_ms: u64,
    #[serde(serialize_with = "hex::ser", deserialize_with = "hex::de_fixed")]
    pub submitter: [u8; PUBLIC_KEY_BYTES],
    #[serde(serialize_with = "hex::ser", deserialize_with = "hex::de_fixed")]
    pub signature: [u8; SIGNATURE_BYTES],
}

impl From<AssertionDto> for Assertion {
    fn from(a: AssertionDto) -> Self {
        Assertion {
            subject: a.subject,
            predicate: a.predicate,
            object: a.object,
            confidence: a.confidence,
            timestamp_ms: a.timestamp_ms,
            lifecycle: a.lifecycle.into(),
            parent_hash: a.parent_hash.map(Hash32),
            signatures: a
                .signatures
                .into_iter()
                .map(|s| Signature {
                    public_key: s.public_key,
                    signature: s.signature,
                })
                .collect(),
        }
    }
}

impl From<&Assertion> for AssertionDto {
    fn from(a: &Assertion) -> Self {
        AssertionDto {
            subject: a.subject.clone(),
            predicate: a.predicate.clone(),
            object: a.object.clone(),
            confidence: a.confidence,
            timestamp_ms: a.timestamp_ms,
            lifecycle: a.lifecycle.into(),
            parent_hash: a.parent_hash.map(|h| h.0),
            signatures: a
                .signatures
                .iter()
                .map(|s| SignatureDto {
                    public_key: s.public_key,
                    signature: s.signature,
                })
                .collect(),
        }
    }
}

impl From<VoteDto> for Vote {
    fn from(v: VoteDto) -> Self {
        Vote {
            assertion_hash: Hash32(v.assertion_hash),
            voter: v.voter,
            weight: Weight::from_micros(v.weight_micros),
            timestamp_ms: v.timestamp_ms,
            signature: v.signature,
        }
    }
}

impl From<&Vote> for VoteDto {
    fn from(v: &Vote) -> Self {
        VoteDto {
            assertion_hash: v.assertion_hash.0,
            voter: v.voter,
            weight_micros: v.weight.micros(),
            timestamp_ms: v.timestamp_ms,
            signature: v.signature,
        }
    }
}

impl From<EvidenceDto> for Evidence {
    fn from(e: EvidenceDto) -> Self {
        Evidence {
            assertion_hash: Hash32(e.assertion_hash),
            content: e.content,
            timestamp_ms: e.timestamp_ms,
            submitter: e.submitter,
            signature: e.signature,
        }
    }
}

impl From<&Evidence> for EvidenceDto {
    fn from(e: &Evidence) -> Self {
        EvidenceDto {
            assertion_hash: e.assertion_hash.0,
            content: e.content.clone(),
            timestamp_ms: e.timestamp_ms,
            submitter: e.submitter,
            signature: e.signature,
        }
    }
}

/// The answer to an accepted write: the record's content hash and WAL offset, sent only once
/// the record is durable. `offset` is `None` for a duplicate recognised from the store, whose
/// first offset this server no longer knows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmitAnswer {
    pub hash: String,
    pub offset: Option<u64>,
    pub duplicate: bool,
}
