//! `keys`: the storage key codec on arbitrary parts.
//!
//! Properties (`stemedb::storage::keys`):
//! - any bytes decode to a key or a `KeyError`; a key that decodes re-encodes to those bytes;
//! - every key round-trips and starts with its family's tag;
//! - injective: two keys encode equal exactly when they are equal;
//! - exact prefixes: a subject (subject and predicate, assertion) prefix starts a key exactly
//!   when the key's parts are those, so a scan of one subject never meets another's keys;
//! - order: keys of one family sort as their parts do (variable parts bytewise, integers
//!   numerically), which range scans rely on.

use std::cmp::Ordering;

use arbitrary::{Result as ArbResult, Unstructured};
use stemedb::model::{Hash32, HASH_BYTES};
use stemedb::storage::keys::{
    evidence_key, evidence_prefix, subject_key, subject_predicate_key, subject_predicate_prefix,
    subject_prefix, vote_key, votes_prefix, Key,
};

/// Bytes of one variable-length part, at most.
const PART_BYTES_MAX: usize = 48;
/// The bytes the escaping treats specially, and neighbours: parts drawn from these collide,
/// nest and need escapes far more often than uniform bytes do.
const TRICKY_BYTES: [u8; 6] = [0x00, 0x01, 0xFF, 0xFE, b':', b'a'];
/// Hashes drawn from few values, for the same reason.
const HASH_FILLS: [u8; 3] = [0x00, 0x01, 0xFF];

fn part(u: &mut Unstructured<'_>) -> ArbResult<Vec<u8>> {
    let len = u.int_in_range(0..=PART_BYTES_MAX)?;
    let tricky = u.arbitrary::<bool>()?;
    (0..len)
        .map(|_| {
            if tricky {
                u.choose(&TRICKY_BYTES).copied()
            } else {
                u.arbitrary()
            }
        })
        .collect()
}

fn bytes32(u: &mut Unstructured<'_>) -> ArbResult<[u8; HASH_BYTES]> {
    if u.arbitrary()? {
        return Ok([*u.choose(&HASH_FILLS)?; HASH_BYTES]);
    }
    u.arbitrary()
}

fn hash(u: &mut Unstructured<'_>) -> ArbResult<Hash32> {
    bytes32(u).map(Hash32)
}

fn key(u: &mut Unstructured<'_>) -> ArbResult<Key> {
    Ok(match u.choose_index(10)? {
        0 => Key::Assertion { hash: hash(u)? },
        1 => Key::Vote {
            assertion: hash(u)?,
            voter: bytes32(u)?,
        },
        2 => Key::Evidence {
            assertion: hash(u)?,
            evidence: hash(u)?,
        },
        3 => Key::Subject {
            subject: part(u)?,
            assertion: hash(u)?,
        },
        4 => Key::SubjectPredicate {
            subject: part(u)?,
            predicate: part(u)?,
            assertion: hash(u)?,
        },
        5 => Key::VoteCount {
            assertion: hash(u)?,
        },
        6 => Key::VoteWeight {
            assertion: hash(u)?,
        },
        7 => Key::IngestCursor,
        8 => Key::Quarantine {
            wal_offset: u.arbitrary()?,
        },
        _ => Key::Audit {
            seq: u.arbitrary()?,
        },
    })
}

/// A second key: often `a` itself or `a` with one part changed, so equal and nearly equal parts
/// are common.
fn related(u: &mut Unstructured<'_>, a: &Key) -> ArbResult<Key> {
    Ok(match (u.choose_index(3)?, a) {
        (0, _) => a.clone(),
        (1, Key::Subject { subject, .. }) => Key::Subject {
            subject: subject.clone(),
            assertion: hash(u)?,
        },
        (1, Key::SubjectPredicate { subject, .. }) => Key::SubjectPredicate {
            subject: subject.clone(),
            predicate: part(u)?,
            assertion: hash(u)?,
        },
        (1, Key::Vote { assertion, .. }) => Key::Vote {
            assertion: *assertion,
            voter: bytes32(u)?,
        },
        (1, Key::Evidence { assertion, .. }) => Key::Evidence {
            assertion: *assertion,
            evidence: hash(u)?,
        },
        _ => key(u)?,
    })
}

/// The order two keys of one family must sort in, from their parts.
fn parts_order(a: &Key, b: &Key) -> Option<Ordering> {
    let h = |x: &Hash32| x.0;
    Some(match (a, b) {
        (Key::Assertion { hash: x }, Key::Assertion { hash: y }) => h(x).cmp(&h(y)),
        (
            Key::Vote {
                assertion: x,
                voter: v,
            },
            Key::Vote {
                assertion: y,
                voter: w,
            },
        ) => (h(x), v).cmp(&(h(y), w)),
        (
            Key::Evidence {
                assertion: x,
                evidence: e,
            },
            Key::Evidence {
                assertion: y,
                evidence: f,
            },
        ) => (h(x), h(e)).cmp(&(h(y), h(f))),
        (
            Key::Subject {
                subject: s,
                assertion: x,
            },
            Key::Subject {
                subject: t,
                assertion: y,
            },
        ) => (s, h(x)).cmp(&(t, h(y))),
        (
            Key::SubjectPredicate {
                subject: s,
                predicate: p,
                assertion: x,
            },
            Key::SubjectPredicate {
                subject: t,
                predicate: q,
                assertion: y,
            },
        ) => (s, p, h(x)).cmp(&(t, q, h(y))),
        (Key::VoteCount { assertion: x }, Key::VoteCount { assertion: y })
        | (Key::VoteWeight { assertion: x }, Key::VoteWeight { assertion: y }) => h(x).cmp(&h(y)),
        (Key::Quarantine { wal_offset: x }, Key::Quarantine { wal_offset: y })
        | (Key::Audit { seq: x }, Key::Audit { seq: y }) => x.cmp(y),
        (Key::IngestCursor, Key::IngestCursor) => Ordering::Equal,
        _ => return None,
    })
}

fn check_prefixes(a: &Key, b: &Key, bytes_b: &[u8]) {
    match a {
        Key::Subject { subject, .. } => {
            let matches = bytes_b.starts_with(&subject_prefix(subject));
            let same = matches!(b, Key::Subject { subject: s, .. } if s == subject);
            assert_eq!(matches, same, "subject prefix of {a:?} against {b:?}");
        }
        Key::SubjectPredicate {
            subject, predicate, ..
        } => {
            let matches = bytes_b.starts_with(&subject_predicate_prefix(subject, predicate));
            let same = matches!(b, Key::SubjectPredicate { subject: s, predicate: p, .. }
                if s == subject && p == predicate);
            assert_eq!(
                matches, same,
                "subject+predicate prefix of {a:?} against {b:?}"
            );
        }
        Key::Vote { assertion, .. } => {
            let matches = bytes_b.starts_with(&votes_prefix(assertion));
            let same = matches!(b, Key::Vote { assertion: x, .. } if x == assertion);
            assert_eq!(matches, same, "votes prefix of {a:?} against {b:?}");
        }
        Key::Evidence { assertion, .. } => {
            let matches = bytes_b.starts_with(&evidence_prefix(assertion));
            let same = matches!(b, Key::Evidence { assertion: x, .. } if x == assertion);
            assert_eq!(matches, same, "evidence prefix of {a:?} against {b:?}");
        }
        _ => {}
    }
}

fn check_free_functions(key: &Key, bytes: &[u8]) {
    let direct = match key {
        Key::Subject { subject, assertion } => subject_key(subject, assertion),
        Key::SubjectPredicate {
            subject,
            predicate,
            assertion,
        } => subject_predicate_key(subject, predicate, assertion),
        Key::Vote { assertion, voter } => vote_key(assertion, voter),
        Key::Evidence {
            assertion,
            evidence,
        } => evidence_key(assertion, evidence),
        _ => return,
    };
    assert_eq!(
        direct, bytes,
        "{key:?}: the free function and Key::encode differ"
    );
}

pub fn keys(data: &[u8]) {
    // The raw bytes as a stored key: decoding is the exact inverse of encoding.
    if let Ok(key) = Key::decode(data) {
        assert_eq!(
            key.encode(),
            data,
            "{key:?} decoded from bytes it does not encode to"
        );
    }
    let mut u = Unstructured::new(data);
    let Ok(a) = key(&mut u) else { return };
    let Ok(b) = related(&mut u, &a) else { return };
    let (bytes_a, bytes_b) = (a.encode(), b.encode());
    for (key, bytes) in [(&a, &bytes_a), (&b, &bytes_b)] {
        assert!(
            bytes.starts_with(key.family().tag()),
            "{key:?} lacks its tag"
        );
        assert_eq!(
            Key::decode(bytes).as_ref(),
            Ok(key),
            "{key:?} does not round-trip"
        );
        check_free_functions(key, bytes);
    }
    assert_eq!(
        bytes_a == bytes_b,
        a == b,
        "injectivity: {a:?} and {b:?} encode to {bytes_a:02x?} and {bytes_b:02x?}"
    );
    check_prefixes(&a, &b, &bytes_b);
    check_prefixes(&b, &a, &bytes_a);
    if let Some(order) = parts_order(&a, &b) {
        assert_eq!(
            bytes_a.cmp(&bytes_b),
            order,
            "{a:?} and {b:?} sort unlike their parts"
        );
    }
    // The cursor's key is in the metadata family and is nothing else.
    if a.family() == stemedb::storage::keys::KeyFamily::Meta {
        assert_eq!(a, Key::IngestCursor);
    }
}
