//! Storage keys as the design states them.

use super::*;

// ---- storage keys: a family tag, then the parts; fixed-width parts raw, integers big-endian,
// variable parts with each 0x00 written 0x00 0xFF and ended by 0x00 0x01 ----

/// The key families the replay determines exactly, by tag.
pub const DATA_TAGS: [&[u8]; 7] = [b"H:", b"V:", b"E:", b"S:", b"SP:", b"VC:", b"VW:"];
/// Every tag a key of the engine's may start with (no tag is a prefix of another).
pub const ALL_TAGS: [&[u8]; 10] = [
    b"H:", b"V:", b"E:", b"S:", b"SP:", b"VC:", b"VW:", b"M:", b"Q:", b"A:",
];
pub(super) const QUARANTINE_TAG: &[u8] = b"Q:";
pub(super) const AUDIT_TAG: &[u8] = b"A:";

pub(super) fn key(tag: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut k = tag.to_vec();
    for part in parts {
        k.extend_from_slice(part);
    }
    k
}

pub(super) fn escaped(part: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(part.len() + 2);
    for &b in part {
        out.push(b);
        if b == 0 {
            out.push(0xFF);
        }
    }
    out.extend_from_slice(&[0x00, 0x01]);
    out
}

/// `H:` + hash.
pub fn assertion_key(hash: &Hash32) -> Vec<u8> {
    key(b"H:", &[&hash.0])
}

/// `V:` + assertion hash + voter key.
pub fn vote_key(assertion: &Hash32, voter: &[u8; 32]) -> Vec<u8> {
    key(b"V:", &[&assertion.0, voter])
}

/// `E:` + assertion hash + evidence hash.
pub fn evidence_key(assertion: &Hash32, evidence: &Hash32) -> Vec<u8> {
    key(b"E:", &[&assertion.0, &evidence.0])
}

/// `S:` + escaped subject + assertion hash.
pub fn subject_key(subject: &[u8], assertion: &Hash32) -> Vec<u8> {
    key(b"S:", &[&escaped(subject), &assertion.0])
}

/// `SP:` + escaped subject + escaped predicate + assertion hash.
pub fn subject_predicate_key(subject: &[u8], predicate: &[u8], assertion: &Hash32) -> Vec<u8> {
    key(
        b"SP:",
        &[&escaped(subject), &escaped(predicate), &assertion.0],
    )
}

// ---- index entry values (`S:`, `SP:`): [format 1:u8][timestamp_ms:u64][lifecycle tag:u8]
// [vote count:u64][vote weight:u128][crc32c:u32 of the key, then of the 34 bytes before it],
// integers big-endian ----

/// The value a correct ingest stores under the index key `key` of an assertion with this
/// timestamp and lifecycle and these counters.
pub fn index_value(
    key: &[u8],
    timestamp_ms: u64,
    lifecycle: Lifecycle,
    vote_count: u64,
    vote_weight: u128,
) -> Vec<u8> {
    let mut v = vec![1u8];
    v.extend_from_slice(&timestamp_ms.to_be_bytes());
    v.push(lifecycle_tag(lifecycle));
    v.extend_from_slice(&vote_count.to_be_bytes());
    v.extend_from_slice(&vote_weight.to_be_bytes());
    let crc = crc32c::crc32c_append(crc32c::crc32c(key), &v);
    v.extend_from_slice(&crc.to_be_bytes());
    v
}

/// `VC:` + assertion hash.
pub fn vote_count_key(assertion: &Hash32) -> Vec<u8> {
    key(b"VC:", &[&assertion.0])
}

/// `VW:` + assertion hash.
pub fn vote_weight_key(assertion: &Hash32) -> Vec<u8> {
    key(b"VW:", &[&assertion.0])
}

/// `Q:` + big-endian WAL offset.
pub fn quarantine_key(wal_offset: u64) -> Vec<u8> {
    key(QUARANTINE_TAG, &[&wal_offset.to_be_bytes()])
}

/// `A:` + big-endian sequence number.
pub fn audit_key(seq: u64) -> Vec<u8> {
    key(AUDIT_TAG, &[&seq.to_be_bytes()])
}

/// The ingest cursor's key.
pub const INGEST_CURSOR_KEY: &[u8] = b"M:ingest_cursor";

/// The tag `key` starts with, if any.
pub fn tag_of(key: &[u8]) -> Option<&'static [u8]> {
    ALL_TAGS.into_iter().find(|tag| key.starts_with(tag))
}

pub(super) fn be_u64_after(tag: &[u8], key: &[u8]) -> Option<u64> {
    let rest = key.strip_prefix(tag)?;
    Some(u64::from_be_bytes(rest.try_into().ok()?))
}

/// The WAL offset a `Q:` key names, if `key` is one.
pub fn quarantine_offset(key: &[u8]) -> Option<u64> {
    be_u64_after(QUARANTINE_TAG, key)
}

/// The sequence number an `A:` key names, if `key` is one.
pub fn audit_seq(key: &[u8]) -> Option<u64> {
    be_u64_after(AUDIT_TAG, key)
}
