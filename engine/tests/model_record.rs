//! Record encoding: round trips, header checks, untrusted input, and bit-flip detection.

use std::sync::LazyLock;

use proptest::prelude::*;
use stemedb::model::{
    Agent, Assertion, DecodeError, Hash32, Lifecycle, Limits, Record, RecordKind, Weight,
    RECORD_FORMAT_VERSION, RECORD_HEADER_BYTES, RECORD_MAGIC,
};

/// Ingest clock used by these tests, in ms since the epoch.
const NOW_MS: u64 = 1_700_000_000_000;

fn agent(index: u64) -> Agent {
    Agent::derived(42, index)
}

fn sample_assertion() -> Assertion {
    let mut a = Assertion::new("city:Paris", "population", "2102650", 0.9, NOW_MS - 5);
    a.lifecycle = Lifecycle::Deprecated;
    a.parent_hash = Some(Hash32([0xAB; 32]));
    agent(0).sign_assertion(&mut a);
    agent(1).sign_assertion(&mut a);
    a
}

/// Built once per process: the never-panic properties mutate these thousands of times.
static SAMPLE_RECORDS: LazyLock<Vec<Record>> = LazyLock::new(build_sample_records);

fn sample_records() -> Vec<Record> {
    SAMPLE_RECORDS.clone()
}

fn build_sample_records() -> Vec<Record> {
    let a = sample_assertion();
    let hash = a.identity_hash();
    let mut bare = Assertion::new("s", "p", "o", 0.0, 0);
    agent(3).sign_assertion(&mut bare);
    vec![
        Record::Assertion(a),
        Record::Assertion(bare),
        Record::Vote(agent(2).vote(hash, Weight::from_units(3), NOW_MS)),
        Record::Evidence(agent(2).evidence(hash, b"https://example.org/census".to_vec(), NOW_MS)),
    ]
}

#[test]
fn every_record_kind_round_trips() {
    for record in sample_records() {
        let bytes = record.encode().expect("encode");
        let decoded = Record::decode(&bytes).expect("decode");
        assert_eq!(decoded, record);
        assert_eq!(decoded.kind(), record.kind());
        assert_eq!(bytes[5], record.kind().tag());
        decoded
            .validate(NOW_MS, &Limits::default())
            .expect("still valid");
    }
}

#[test]
fn encoding_is_deterministic() {
    for record in sample_records() {
        assert_eq!(record.encode().unwrap(), record.clone().encode().unwrap());
    }
}

#[test]
fn header_layout_is_magic_version_kind_reserved() {
    let bytes = sample_records()[0].encode().unwrap();
    assert_eq!(&bytes[..4], &RECORD_MAGIC);
    assert_eq!(bytes[4], RECORD_FORMAT_VERSION);
    assert_eq!(bytes[5], RecordKind::Assertion.tag());
    assert_eq!(&bytes[6..RECORD_HEADER_BYTES], &[0, 0]);
}

#[test]
fn decode_reads_unaligned_input() {
    for record in sample_records() {
        let bytes = record.encode().unwrap();
        for shift in 1..8 {
            let mut buf = vec![0u8; shift];
            buf.extend_from_slice(&bytes);
            assert_eq!(
                Record::decode(&buf[shift..]).unwrap(),
                record,
                "shift {shift}"
            );
        }
    }
}

#[test]
fn decode_rejects_each_bad_header_field() {
    let good = sample_records()[0].encode().unwrap();
    assert_eq!(
        Record::decode(&good[..RECORD_HEADER_BYTES - 1]),
        Err(DecodeError::TooShort { bytes: 7 })
    );
    assert_eq!(Record::decode(&[]), Err(DecodeError::TooShort { bytes: 0 }));

    let mut bad = good.clone();
    bad[0] = b'X';
    assert!(matches!(
        Record::decode(&bad),
        Err(DecodeError::BadMagic { .. })
    ));

    let mut bad = good.clone();
    bad[4] = RECORD_FORMAT_VERSION + 1;
    assert_eq!(
        Record::decode(&bad),
        Err(DecodeError::UnsupportedVersion {
            version: RECORD_FORMAT_VERSION + 1
        })
    );

    let mut bad = good.clone();
    bad[5] = 0;
    assert_eq!(
        Record::decode(&bad),
        Err(DecodeError::UnknownKind { tag: 0 })
    );

    let mut bad = good.clone();
    bad[7] = 1;
    assert_eq!(Record::decode(&bad), Err(DecodeError::ReservedNotZero));
}

#[test]
fn decode_rejects_a_body_of_the_wrong_kind() {
    let mut bytes = sample_records()[2].encode().unwrap(); // a vote
    bytes[5] = RecordKind::Assertion.tag();
    assert!(Record::decode(&bytes).is_err());
}

#[test]
fn decode_rejects_truncated_or_extended_bodies() {
    for record in sample_records() {
        let bytes = record.encode().unwrap();
        for len in 0..bytes.len() {
            assert!(
                Record::decode(&bytes[..len]).is_err(),
                "prefix of {len} bytes"
            );
        }
        for extra in 1..=16 {
            let mut longer = bytes.clone();
            longer.extend(std::iter::repeat_n(0u8, extra));
            assert!(
                Record::decode(&longer).is_err(),
                "{extra} zero bytes appended"
            );
        }
    }
}

fn lifecycle() -> impl Strategy<Value = Lifecycle> {
    prop::sample::select(Lifecycle::ALL.to_vec())
}

/// Valid, signed assertions with 1 to 3 signers (2 or more exercise a shortened signature list).
fn valid_assertion() -> impl Strategy<Value = Assertion> {
    (
        "\\PC{1,40}",
        "\\PC{1,12}",
        "\\PC{1,60}",
        0.0f64..=1.0,
        0..=NOW_MS,
        lifecycle(),
        prop::option::of(any::<[u8; 32]>()),
        any::<u64>(),
        1usize..=3,
    )
        .prop_map(
            |(s, p, o, confidence, ts, lifecycle, parent, seed, signers)| {
                let mut a = Assertion::new(s, p, o, confidence, ts);
                a.lifecycle = lifecycle;
                a.parent_hash = parent.map(Hash32);
                for i in 0..signers as u64 {
                    Agent::derived(seed, i).sign_assertion(&mut a);
                }
                a
            },
        )
}

/// Checks that XOR-ing `mask` into any single byte of `bytes` cannot yield `original` or any
/// other record that passes validation.
fn assert_every_flip_is_caught(
    bytes: &[u8],
    original: &Record,
    mask: u8,
) -> Result<(), TestCaseError> {
    let limits = Limits::default();
    for pos in 0..bytes.len() {
        let mut flipped = bytes.to_vec();
        flipped[pos] ^= mask;
        if let Ok(decoded) = Record::decode(&flipped) {
            prop_assert_ne!(
                &decoded,
                original,
                "flip at {} decoded to the original",
                pos
            );
            prop_assert!(
                decoded.validate(NOW_MS, &limits).is_err(),
                "flip at {} (mask {:#04x}) decoded to a different record that still validates: {:?}",
                pos,
                mask,
                decoded
            );
        }
    }
    Ok(())
}

/// Case count for the bit-flip properties: `PROPTEST_CASES` if set (a CI sweep or an optimised
/// build can afford many more), else `default`. Every case flips every byte, and each flip that
/// still decodes costs one ed25519 verification (~60 us with dependencies optimised, as the
/// workspace's dev profile does; ~15 ms without), so each case is hundreds of verifications.
fn flip_cases(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    ProptestConfig::with_cases(cases)
}

proptest! {
    #![proptest_config(flip_cases(256))]

    #[test]
    fn valid_assertions_round_trip_and_every_byte_flip_is_caught(
        a in valid_assertion(),
        mask in 1u8..=255,
    ) {
        prop_assert!(a.validate(NOW_MS, &Limits::default()).is_ok());
        let record = Record::Assertion(a);
        let bytes = record.encode().unwrap();
        prop_assert_eq!(&Record::decode(&bytes).unwrap(), &record);
        assert_every_flip_is_caught(&bytes, &record, mask)?;
    }

}

proptest! {
    #![proptest_config(flip_cases(128))]

    #[test]
    fn valid_votes_and_evidence_round_trip_and_every_byte_flip_is_caught(
        seed in any::<u64>(),
        hash in any::<[u8; 32]>(),
        micros in 1u64..=Weight::from_units(1_000_000).micros(),
        ts in 0..=NOW_MS,
        content in prop::collection::vec(any::<u8>(), 1..64),
        mask in 1u8..=255,
    ) {
        let agent = Agent::derived(seed, 0);
        let vote = Record::Vote(agent.vote(Hash32(hash), Weight::from_micros(micros), ts));
        let evidence = Record::Evidence(agent.evidence(Hash32(hash), content, ts));
        for record in [vote, evidence] {
            prop_assert!(record.validate(NOW_MS, &Limits::default()).is_ok());
            let bytes = record.encode().unwrap();
            prop_assert_eq!(&Record::decode(&bytes).unwrap(), &record);
            assert_every_flip_is_caught(&bytes, &record, mask)?;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = Record::decode(&bytes);
    }

    #[test]
    fn arbitrary_bodies_behind_a_valid_header_never_panic(
        tag in 1u8..=3,
        body in prop::collection::vec(any::<u8>(), 0..600),
    ) {
        let mut bytes = RECORD_MAGIC.to_vec();
        bytes.extend_from_slice(&[RECORD_FORMAT_VERSION, tag, 0, 0]);
        bytes.extend_from_slice(&body);
        let _ = Record::decode(&bytes);
    }

    #[test]
    fn scrambled_valid_records_never_panic(
        which in 0usize..4,
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..12),
    ) {
        let mut bytes = sample_records()[which].encode().unwrap();
        for (index, value) in edits {
            let pos = index.index(bytes.len());
            bytes[pos] = value;
        }
        let _ = Record::decode(&bytes);
    }
}

/// Regression: decode errors carried raw memory addresses from bytecheck ("unaligned pointer:
/// ptr 0x00007f7ce403009b"), and ingest stores the error as the quarantine reason, so the KV's
/// contents differed between two processes replaying the same log (found by the simulator's
/// determinism test). The same bytes must give the same error text, wherever they sit in memory.
#[test]
fn decode_errors_do_not_depend_on_memory_addresses() {
    let mut a = Assertion::new("s", "p", "o", 0.5, 1);
    Agent::derived(1, 0).sign_assertion(&mut a);
    let good = Record::Assertion(a).encode().unwrap();
    // Damage the archive so validation fails, then decode it from two different buffers (at
    // different addresses and alignments).
    for i in (stemedb::model::RECORD_HEADER_BYTES..good.len()).step_by(7) {
        let mut bad = good.clone();
        bad[i] ^= 0xa5;
        let mut shifted = vec![0u8; 3];
        shifted.extend_from_slice(&bad);
        let (e1, e2) = (Record::decode(&bad), Record::decode(&shifted[3..]));
        if let (Err(e1), Err(e2)) = (e1, e2) {
            let (t1, t2) = (e1.to_string(), e2.to_string());
            assert_eq!(t1, t2, "byte {i}");
            assert!(!t1.contains("0x0000"), "an address leaked: {t1}");
        }
    }
}
