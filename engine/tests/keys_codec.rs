//! Storage key codec: round trips, injectivity, exact prefixes, ordering, malformed keys.

use proptest::prelude::*;
use stemedb::model::Hash32;
use stemedb::storage::keys::{
    assertion_key, audit_key, evidence_key, evidence_prefix, quarantine_key, subject_key,
    subject_predicate_key, subject_predicate_prefix, subject_prefix, vote_count_key, vote_key,
    vote_weight_key, votes_prefix, Key, KeyError, KeyFamily, INGEST_CURSOR_KEY,
};

const H1: Hash32 = Hash32([0x11; 32]);
const H2: Hash32 = Hash32([0xFF; 32]);

fn examples() -> Vec<Key> {
    vec![
        Key::Assertion { hash: H1 },
        Key::Vote {
            assertion: H1,
            voter: [0; 32],
        },
        Key::Evidence {
            assertion: H1,
            evidence: H2,
        },
        Key::Subject {
            subject: Vec::new(),
            assertion: H1,
        },
        Key::Subject {
            subject: b"a:b\0\xff\x01:".to_vec(),
            assertion: H2,
        },
        Key::SubjectPredicate {
            subject: Vec::new(),
            predicate: Vec::new(),
            assertion: H2,
        },
        Key::SubjectPredicate {
            subject: b"S:x".to_vec(),
            predicate: b"\0\0\x01".to_vec(),
            assertion: H1,
        },
        Key::VoteCount { assertion: H1 },
        Key::VoteWeight { assertion: H2 },
        Key::IngestCursor,
        Key::Quarantine { wal_offset: 0 },
        Key::Quarantine {
            wal_offset: u64::MAX,
        },
        Key::Audit { seq: 42 },
    ]
}

#[test]
fn every_key_family_round_trips() {
    let mut seen = std::collections::BTreeSet::new();
    for key in examples() {
        let bytes = key.encode();
        assert!(bytes.starts_with(key.family().tag()), "{key:?}");
        assert_eq!(Key::decode(&bytes), Ok(key.clone()), "{bytes:02x?}");
        assert!(seen.insert(bytes), "{key:?} collides");
    }
}

#[test]
fn free_functions_match_key_encode() {
    assert_eq!(assertion_key(&H1), Key::Assertion { hash: H1 }.encode());
    assert_eq!(
        vote_key(&H1, &[7; 32]),
        Key::Vote {
            assertion: H1,
            voter: [7; 32]
        }
        .encode()
    );
    assert_eq!(
        evidence_key(&H1, &H2),
        Key::Evidence {
            assertion: H1,
            evidence: H2
        }
        .encode()
    );
    assert_eq!(
        vote_count_key(&H2),
        Key::VoteCount { assertion: H2 }.encode()
    );
    assert_eq!(
        vote_weight_key(&H2),
        Key::VoteWeight { assertion: H2 }.encode()
    );
    assert_eq!(
        quarantine_key(9),
        Key::Quarantine { wal_offset: 9 }.encode()
    );
    assert_eq!(audit_key(9), Key::Audit { seq: 9 }.encode());
    assert_eq!(Key::IngestCursor.encode(), INGEST_CURSOR_KEY);
    assert!(vote_key(&H1, &[7; 32]).starts_with(&votes_prefix(&H1)));
    assert!(evidence_key(&H1, &H2).starts_with(&evidence_prefix(&H1)));
    assert!(!evidence_key(&H2, &H1).starts_with(&evidence_prefix(&H1)));
}

#[test]
fn documented_layout_of_a_subject_predicate_key() {
    let key = subject_predicate_key(b"a\0:", b"p", &H1);
    let mut expected = b"SP:a\0\xff:\0\x01p\0\x01".to_vec();
    expected.extend_from_slice(&[0x11; 32]);
    assert_eq!(key, expected);
    assert_eq!(quarantine_key(0x0102), b"Q:\0\0\0\0\0\0\x01\x02".to_vec());
}

#[test]
fn colons_in_subjects_and_predicates_never_collide() {
    assert_ne!(
        subject_predicate_key(b"a:b", b"c", &H1),
        subject_predicate_key(b"a", b"b:c", &H1)
    );
    assert_ne!(
        subject_key(b"x", &H1),
        subject_predicate_key(b"", b"x", &H1)
    );
    // A subject that spells another family's tag stays inside its own family.
    assert_eq!(
        Key::decode(&subject_key(b"P:", &H1)).map(|k| k.family()),
        Ok(KeyFamily::Subject)
    );
}

#[test]
fn scanning_subject_ab_never_returns_abc() {
    let prefix = subject_prefix(b"ab");
    assert!(subject_key(b"ab", &H1).starts_with(&prefix));
    assert!(!subject_key(b"abc", &H1).starts_with(&prefix));
    assert!(!subject_key(b"ab\0", &H1).starts_with(&prefix));
    assert!(!subject_key(b"a", &H1).starts_with(&prefix));
    let sp = subject_predicate_prefix(b"ab", b"p");
    assert!(subject_predicate_key(b"ab", b"p", &H1).starts_with(&sp));
    assert!(!subject_predicate_key(b"ab", b"pq", &H1).starts_with(&sp));
    assert!(!subject_predicate_key(b"abp", b"", &H1).starts_with(&sp));
}

#[test]
fn malformed_keys_are_typed_errors() {
    assert_eq!(Key::decode(b""), Err(KeyError::UnknownFamily));
    assert_eq!(Key::decode(b"Z:"), Err(KeyError::UnknownFamily));
    assert_eq!(Key::decode(b"H"), Err(KeyError::UnknownFamily));
    assert_eq!(
        Key::decode(b"H:short"),
        Err(KeyError::Truncated {
            family: KeyFamily::Assertion
        })
    );
    let mut long = assertion_key(&H1);
    long.push(0);
    assert_eq!(
        Key::decode(&long),
        Err(KeyError::TrailingBytes {
            family: KeyFamily::Assertion,
            bytes: 1
        })
    );
    assert_eq!(
        Key::decode(b"S:abc"),
        Err(KeyError::Unterminated {
            family: KeyFamily::Subject
        })
    );
    assert_eq!(
        Key::decode(b"S:abc\0"),
        Err(KeyError::Unterminated {
            family: KeyFamily::Subject
        })
    );
    assert_eq!(
        Key::decode(b"S:a\0\x02"),
        Err(KeyError::BadEscape {
            family: KeyFamily::Subject
        })
    );
    assert_eq!(
        Key::decode(b"S:a\0\x01"),
        Err(KeyError::Truncated {
            family: KeyFamily::Subject
        })
    );
    assert_eq!(Key::decode(b"M:other"), Err(KeyError::UnknownMeta));
    assert_eq!(
        Key::decode(b"M:ingest_cursor\0"),
        Err(KeyError::UnknownMeta)
    );
    assert_eq!(
        Key::decode(b"Q:\0\0\0"),
        Err(KeyError::Truncated {
            family: KeyFamily::Quarantine
        })
    );
}

fn hash() -> impl Strategy<Value = Hash32> {
    any::<[u8; 32]>().prop_map(Hash32)
}

/// Bytes from an alphabet of the codec's special bytes plus `:` and a letter, so collisions and
/// prefix relations between generated parts are common.
fn tricky_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop::sample::select(vec![0x00u8, 0x01, 0xFF, b':', b'a']),
        0..6,
    )
}

/// Arbitrary or tricky bytes.
fn part() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![tricky_bytes(), prop::collection::vec(any::<u8>(), 0..40)]
}

fn any_key() -> impl Strategy<Value = Key> {
    prop_oneof![
        hash().prop_map(|hash| Key::Assertion { hash }),
        (hash(), any::<[u8; 32]>()).prop_map(|(assertion, voter)| Key::Vote { assertion, voter }),
        (hash(), hash()).prop_map(|(assertion, evidence)| Key::Evidence {
            assertion,
            evidence
        }),
        (part(), hash()).prop_map(|(subject, assertion)| Key::Subject { subject, assertion }),
        (part(), part(), hash()).prop_map(|(subject, predicate, assertion)| {
            Key::SubjectPredicate {
                subject,
                predicate,
                assertion,
            }
        }),
        hash().prop_map(|assertion| Key::VoteCount { assertion }),
        hash().prop_map(|assertion| Key::VoteWeight { assertion }),
        Just(Key::IngestCursor),
        any::<u64>().prop_map(|wal_offset| Key::Quarantine { wal_offset }),
        any::<u64>().prop_map(|seq| Key::Audit { seq }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    /// decode(encode(k)) == k, which makes encode injective over every key.
    #[test]
    fn keys_round_trip(key in any_key()) {
        prop_assert_eq!(Key::decode(&key.encode()), Ok(key));
    }

    #[test]
    fn distinct_keys_encode_distinctly(a in any_key(), b in any_key()) {
        prop_assert_eq!(a.encode() == b.encode(), a == b);
    }

    #[test]
    fn subject_predicate_keys_are_injective(
        s1 in tricky_bytes(), p1 in tricky_bytes(), s2 in tricky_bytes(), p2 in tricky_bytes(),
        h in hash(),
    ) {
        prop_assert_eq!(
            subject_predicate_key(&s1, &p1, &h) == subject_predicate_key(&s2, &p2, &h),
            (&s1, &p1) == (&s2, &p2)
        );
        prop_assert_eq!(subject_key(&s1, &h) == subject_key(&s2, &h), s1 == s2);
    }

    /// prefix(s) is a prefix of key(s', ..) iff s == s'.
    #[test]
    fn subject_prefix_scans_are_exact(s in part(), s2 in part(), p2 in part(), h in hash()) {
        prop_assert_eq!(subject_key(&s2, &h).starts_with(&subject_prefix(&s)), s == s2);
        prop_assert!(subject_key(&s, &h).starts_with(&subject_prefix(&s)));
        // The subject index prefix never reaches into the subject+predicate family.
        prop_assert!(!subject_predicate_key(&s2, &p2, &h).starts_with(&subject_prefix(&s)));
    }

    /// prefix(s, p) is a prefix of key(s', p', ..) iff (s, p) == (s', p').
    #[test]
    fn subject_predicate_prefix_scans_are_exact(
        s in part(), p in part(), s2 in part(), p2 in part(), h in hash(),
    ) {
        let prefix = subject_predicate_prefix(&s, &p);
        prop_assert_eq!(
            subject_predicate_key(&s2, &p2, &h).starts_with(&prefix),
            (&s, &p) == (&s2, &p2)
        );
        prop_assert!(subject_predicate_key(&s, &p, &h).starts_with(&prefix));
    }

    /// Keys of the subject index sort by subject exactly as the raw bytes do.
    #[test]
    fn subject_keys_preserve_byte_order(s1 in part(), s2 in part(), h1 in hash(), h2 in hash()) {
        prop_assume!(s1 != s2);
        prop_assert_eq!(subject_key(&s1, &h1).cmp(&subject_key(&s2, &h2)), s1.cmp(&s2));
    }

    #[test]
    fn integer_keys_sort_numerically(a in any::<u64>(), b in any::<u64>()) {
        prop_assert_eq!(quarantine_key(a).cmp(&quarantine_key(b)), a.cmp(&b));
        prop_assert_eq!(audit_key(a).cmp(&audit_key(b)), a.cmp(&b));
    }

    /// Any byte string decodes or errors without panicking, and whatever decodes re-encodes to
    /// exactly the same bytes (decode is the exact inverse of encode).
    #[test]
    fn arbitrary_bytes_decode_canonically_or_fail(
        tag in prop::sample::select(KeyFamily::ALL.to_vec()),
        rest in prop::collection::vec(any::<u8>(), 0..80),
        raw in prop::collection::vec(any::<u8>(), 0..80),
    ) {
        let tagged = [tag.tag(), &rest].concat();
        for bytes in [tagged, raw] {
            if let Ok(key) = Key::decode(&bytes) {
                prop_assert_eq!(key.encode(), bytes);
            }
        }
    }
}
