//! Signing messages and identity hashes as the design states them.

use super::*;

// ---- signing messages: a NUL-terminated domain tag, then the fields in a fixed order;
// variable fields as a big-endian u64 length and the bytes, integers big-endian, an Option as
// 0, or 1 and the value ----

pub(super) fn var(m: &mut Vec<u8>, field: &[u8]) {
    m.extend_from_slice(&(field.len() as u64).to_be_bytes());
    m.extend_from_slice(field);
}

pub(super) fn lifecycle_tag(l: Lifecycle) -> u8 {
    match l {
        Lifecycle::Draft => 1,
        Lifecycle::Active => 2,
        Lifecycle::Deprecated => 3,
        Lifecycle::Retracted => 4,
    }
}

/// What every signature on `a` signs: all of it but the signatures.
pub fn assertion_message(a: &Assertion) -> Vec<u8> {
    let mut m = b"stemedb/assertion/v1\0".to_vec();
    var(&mut m, a.subject.as_bytes());
    var(&mut m, a.predicate.as_bytes());
    var(&mut m, a.object.as_bytes());
    m.extend_from_slice(&a.confidence.to_bits().to_be_bytes());
    m.extend_from_slice(&a.timestamp_ms.to_be_bytes());
    m.push(lifecycle_tag(a.lifecycle));
    match &a.parent_hash {
        None => m.push(0),
        Some(parent) => {
            m.push(1);
            m.extend_from_slice(&parent.0);
        }
    }
    m
}

/// What a vote's signature signs: all of it but the signature, its voter included.
pub fn vote_message(v: &Vote) -> Vec<u8> {
    let mut m = b"stemedb/vote/v1\0".to_vec();
    m.extend_from_slice(&v.assertion_hash.0);
    m.extend_from_slice(&v.voter);
    m.extend_from_slice(&v.weight.micros().to_be_bytes());
    m.extend_from_slice(&v.timestamp_ms.to_be_bytes());
    m
}

/// What an evidence record's signature signs: all of it but the signature.
pub fn evidence_message(e: &Evidence) -> Vec<u8> {
    let mut m = b"stemedb/evidence/v1\0".to_vec();
    m.extend_from_slice(&e.assertion_hash.0);
    var(&mut m, &e.content);
    m.extend_from_slice(&e.timestamp_ms.to_be_bytes());
    m.extend_from_slice(&e.submitter);
    m
}

pub(super) fn blake3_of(message: &[u8]) -> Hash32 {
    Hash32(*blake3::hash(message).as_bytes())
}

/// An assertion's content address: blake3 of its signing message.
pub fn assertion_id(a: &Assertion) -> Hash32 {
    blake3_of(&assertion_message(a))
}

/// A vote's identity: blake3 of its signing message.
pub fn vote_id(v: &Vote) -> Hash32 {
    blake3_of(&vote_message(v))
}

/// An evidence record's identity: blake3 of its signing message.
pub fn evidence_id(e: &Evidence) -> Hash32 {
    blake3_of(&evidence_message(e))
}

/// A record's identity.
pub fn record_id(record: &Record) -> Hash32 {
    match record {
        Record::Assertion(a) => assertion_id(a),
        Record::Vote(v) => vote_id(v),
        Record::Evidence(e) => evidence_id(e),
    }
}
