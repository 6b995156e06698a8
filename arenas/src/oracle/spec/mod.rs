//! The formats as the design states them, restated here without calling the engine's codecs.
//!
//! Every byte the engine writes that outlives it, or that a signature or a content address
//! depends on, has one definition in the engine: the record header and archive
//! (`model/record.rs`), the signing messages and identity hashes (`model/{assertion,vote,
//! evidence}.rs`), the storage keys (`storage/keys.rs`) and the validation bounds
//! (`model/limits.rs`). An oracle that asked those same functions what to expect would agree
//! with the engine whatever they did: an encoder that writes nothing, a decoder that refuses
//! everything, a key codec that stops escaping, a bound typed wrong, each consistent on both
//! sides of the comparison, pass every check (cargo-mutants showed all of them passing). So the
//! reference models build what they expect from this file, written from `docs/design.md` §4-5
//! and the modules' documented layouts, and the engine must match it byte for byte.
//!
//! What is shared with the engine, on purpose: the record *types* and their rkyv derives (the
//! archive layout is rkyv's, not ours to restate), ed25519 and blake3 themselves.

use rkyv::rancor;
use rkyv::util::AlignedVec;
use stemedb::lens::{LensKind, Rule};
use stemedb::model::{Assertion, Evidence, Hash32, Lifecycle, Limits, Record, Vote, Weight};

// ---- validation bounds (docs/design.md §5; the API's contract with its clients) ----

/// Longest subject, in bytes.
pub const SUBJECT_BYTES_MAX: usize = 1024;
/// Longest predicate, in bytes.
pub const PREDICATE_BYTES_MAX: usize = 256;
/// Longest object, in bytes.
pub const OBJECT_BYTES_MAX: usize = 16 * 1024;
/// Longest evidence content, in bytes.
pub const EVIDENCE_BYTES_MAX: usize = 64 * 1024;
/// Most signatures on one assertion.
pub const SIGNATURES_MAX: usize = 16;
/// Micro-units in one whole unit of vote weight (weights are fixed point).
pub const WEIGHT_MICROS_PER_UNIT: u64 = 1_000_000;
/// Heaviest vote: one million whole units.
pub const WEIGHT_MAX: Weight = Weight::from_micros(1_000_000 * WEIGHT_MICROS_PER_UNIT);
/// How far ahead of the engine's clock a date may lie: five minutes, in ms.
pub const FUTURE_SKEW_MS_MAX: u64 = 5 * 60 * 1000;

/// The bounds above as the engine's options type (which a correct engine defaults to).
pub const LIMITS: Limits = Limits {
    subject_bytes_max: SUBJECT_BYTES_MAX,
    predicate_bytes_max: PREDICATE_BYTES_MAX,
    object_bytes_max: OBJECT_BYTES_MAX,
    evidence_bytes_max: EVIDENCE_BYTES_MAX,
    signatures_max: SIGNATURES_MAX,
    weight_max: WEIGHT_MAX,
    future_skew_ms_max: FUTURE_SKEW_MS_MAX,
};

// ---- the record payload: [magic "SDBR":4][version 1:u8][kind:u8][0:2][rkyv archive] ----

const MAGIC: [u8; 4] = *b"SDBR";
const VERSION: u8 = 1;
const HEADER_BYTES: usize = 8;
const ASSERTION_TAG: u8 = 1;
const VOTE_TAG: u8 = 2;
const EVIDENCE_TAG: u8 = 3;

fn archive<T>(value: &T) -> Vec<u8>
where
    T: for<'a> rkyv::Serialize<
        rkyv::api::high::HighSerializer<
            AlignedVec,
            rkyv::ser::allocator::ArenaHandle<'a>,
            rancor::Error,
        >,
    >,
{
    // Only records far past every bound (a 2 GiB archive) cannot be archived; the workload
    // never builds one, and an empty body is then as good as any wrong answer.
    rkyv::to_bytes::<rancor::Error>(value)
        .map(|v| v.to_vec())
        .unwrap_or_default()
}

/// The payload a correct engine logs for `record`.
pub fn encode(record: &Record) -> Vec<u8> {
    let (tag, body) = match record {
        Record::Assertion(a) => (ASSERTION_TAG, archive(a)),
        Record::Vote(v) => (VOTE_TAG, archive(v)),
        Record::Evidence(e) => (EVIDENCE_TAG, archive(e)),
    };
    let mut out = Vec::with_capacity(HEADER_BYTES + body.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&[VERSION, tag, 0, 0]);
    out.extend_from_slice(&body);
    out
}

/// The record `bytes` hold, if they are a well-formed payload: the header exactly as written,
/// an archive rkyv validates, and the canonical encoding of what it holds (anything else is
/// bytes a correct engine dead-letters).
pub fn decode(bytes: &[u8]) -> Option<Record> {
    parse(bytes).ok().filter(|record| encode(record) == bytes)
}

/// The record a payload's header and archive hold, whether or not they are its canonical
/// encoding (for building malleated payloads; a correct engine reads only canonical ones).
pub fn decode_any(bytes: &[u8]) -> Option<Record> {
    parse(bytes).ok()
}

/// Why bytes are not a payload a correct engine reads (see [`unreadable`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unreadable {
    /// Too short for the header, or a header field other than the design's.
    Header,
    /// rkyv refuses the archive; its message with every address masked, which is what the
    /// dead letter's reason must end with (a reason is a function of the bytes alone, so
    /// addresses, which differ from process to process, never appear in it).
    Archive(String),
    /// A valid archive of a record whose canonical encoding is other bytes.
    NonCanonical,
}

/// Why `bytes` cannot be read as a record, or `None` when they can (`decode`).
pub fn unreadable(bytes: &[u8]) -> Option<Unreadable> {
    match parse(bytes) {
        Err(why) => Some(why),
        Ok(record) if encode(&record) != bytes => Some(Unreadable::NonCanonical),
        Ok(_) => None,
    }
}

fn parse(bytes: &[u8]) -> Result<Record, Unreadable> {
    let (header, body) = bytes
        .split_at_checked(HEADER_BYTES)
        .ok_or(Unreadable::Header)?;
    if header[..4] != MAGIC || header[4] != VERSION || header[6..] != [0, 0] {
        return Err(Unreadable::Header);
    }
    let mut aligned = AlignedVec::<16>::with_capacity(body.len());
    aligned.extend_from_slice(body);
    let record = match header[5] {
        ASSERTION_TAG => rkyv::from_bytes::<_, rancor::Error>(&aligned).map(Record::Assertion),
        VOTE_TAG => rkyv::from_bytes::<_, rancor::Error>(&aligned).map(Record::Vote),
        EVIDENCE_TAG => rkyv::from_bytes::<_, rancor::Error>(&aligned).map(Record::Evidence),
        _ => return Err(Unreadable::Header),
    };
    record.map_err(|e| Unreadable::Archive(mask_addresses(&e.to_string())))
}

/// `message` with every `0x` that hex digits follow, and the digits, written `<address>`.
pub fn mask_addresses(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find("0x") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let digits = after.len()
            - after
                .trim_start_matches(|c: char| c.is_ascii_hexdigit())
                .len();
        out.push_str(if digits == 0 { "0x" } else { "<address>" });
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}

mod audit;
mod keys;
mod signing;
mod wal;

pub use audit::*;
pub use keys::*;
pub use signing::*;
pub use wal::*;

#[cfg(test)]
mod tests {
    //! The restatement must agree with the engine as it stands: a disagreement here is either a
    //! bug in the engine or a stale restatement, and the design says which.
    use super::*;
    use stemedb::model::Agent;
    use stemedb::storage::keys;

    fn records() -> Vec<Record> {
        let agent = Agent::derived(7, 1);
        let mut a = Assertion::new("sub\0ject", "pre\0\u{ff}", "object", 0.25, 1_234);
        a.lifecycle = Lifecycle::Deprecated;
        a.parent_hash = Some(Hash32([9; 32]));
        agent.sign_assertion(&mut a);
        Agent::derived(7, 2).sign_assertion(&mut a);
        let mut plain = Assertion::new("s", "p", "o", 1.0, 0);
        agent.sign_assertion(&mut plain);
        let v = agent.vote(assertion_id(&a), Weight::from_units(3), 99);
        let e = agent.evidence(assertion_id(&a), vec![0, 1, 2, 0xFF], 100);
        vec![
            Record::Assertion(a),
            Record::Assertion(plain),
            Record::Vote(v),
            Record::Evidence(e),
        ]
    }

    #[test]
    fn payloads_identities_and_messages_agree_with_the_engine() {
        for r in records() {
            let payload = encode(&r);
            assert_eq!(payload, r.encode().unwrap());
            assert_eq!(decode(&payload).as_ref(), Some(&r));
            assert_eq!(record_id(&r), r.identity_hash());
        }
        assert_eq!(LIMITS, Limits::default());
        assert_eq!(
            WEIGHT_MICROS_PER_UNIT,
            stemedb::model::WEIGHT_MICROS_PER_UNIT
        );
    }

    #[test]
    fn keys_agree_with_the_engine() {
        let h = Hash32([0; 32]);
        let g = Hash32([0xFF; 32]);
        for s in [&b""[..], b"a", b"\0", b"a\0\xff", b"\0\x01"] {
            assert_eq!(subject_key(s, &h), keys::subject_key(s, &h));
            assert_eq!(
                subject_predicate_key(s, b"p\0", &g),
                keys::subject_predicate_key(s, b"p\0", &g)
            );
        }
        assert_eq!(assertion_key(&g), keys::assertion_key(&g));
        assert_eq!(vote_key(&h, &[3; 32]), keys::vote_key(&h, &[3; 32]));
        assert_eq!(evidence_key(&h, &g), keys::evidence_key(&h, &g));
        assert_eq!(vote_count_key(&g), keys::vote_count_key(&g));
        assert_eq!(vote_weight_key(&g), keys::vote_weight_key(&g));
        assert_eq!(quarantine_key(77), keys::quarantine_key(77));
        assert_eq!(quarantine_offset(&keys::quarantine_key(77)), Some(77));
        assert_eq!(audit_key(5), keys::audit_key(5));
        assert_eq!(audit_seq(&keys::audit_key(5)), Some(5));
        assert_eq!(audit_seq(&keys::quarantine_key(5)), None);
        assert_eq!(INGEST_CURSOR_KEY, keys::INGEST_CURSOR_KEY);
    }

    #[test]
    fn frames_and_segment_names_agree_with_the_engine() {
        use stemedb::wal::record::framed_bytes;
        use stemedb::wal::segment_name;
        for (payload, offset, salt) in [
            (&b""[..], 0, 0),
            (b"x", 8, 1),
            (&[7u8; 61][..], 4_096, u64::MAX),
        ] {
            assert_eq!(
                frame(payload, offset, salt),
                stemedb::wal::record::encode(payload, offset, salt)
            );
            assert_eq!(frame_len(payload.len()), framed_bytes(payload.len() as u32));
        }
        let mut segment = frame(b"one", 800, 7);
        segment.extend_from_slice(&[0xEE; 24]);
        let second_at = 800 + segment.len() as u64;
        segment.extend(frame(b"two", second_at, 7));
        segment.extend_from_slice(&frame(b"torn", second_at + 56, 7)[..50]);
        assert_eq!(
            segment_records(800, 7, &segment),
            vec![(800, b"one".to_vec()), (second_at, b"two".to_vec())]
        );
        assert!(segment_records(800, 8, &segment).is_empty(), "another salt");
        let name = segment_name(123_456, 0xabc);
        assert_eq!(segment_of(&name), Some((123_456, 0xabc)));
        assert_eq!(segment_of("wal-00000000000000000001.seg"), None);
        assert_eq!(segment_of(&name.to_uppercase()), None);
    }

    #[test]
    fn audit_records_read_as_the_engine_writes_them() {
        use stemedb::query::{AuditRecord, LifecycleFilter};
        for (filter, lens, rule) in [
            (
                LifecycleFilter::ACTIVE,
                LensKind::Recency,
                Some(Rule::Recency),
            ),
            (
                LifecycleFilter::of(&[Lifecycle::Draft, Lifecycle::Retracted]),
                LensKind::VoteAwareConsensus,
                Some(Rule::HashTieBreak),
            ),
            (LifecycleFilter::of(&[]), LensKind::VoteAwareConsensus, None),
        ] {
            let record = AuditRecord {
                wall_ms: 42,
                subject: "s\0".to_owned(),
                predicate: Some("p".to_owned()),
                lens,
                lifecycles: filter,
                max_stale_ms: Some(7),
                used_view: true,
                rule,
                candidates: 3,
                winner: Some(Hash32([5; 32])),
                error: rule.is_none().then(|| "failed".to_owned()),
            };
            let read = audit(&record.encode()).expect("the engine's record reads");
            let members: Vec<Lifecycle> = Lifecycle::ALL
                .into_iter()
                .filter(|&l| filter.contains(l))
                .collect();
            assert_eq!(read.lifecycles, members);
            assert_eq!(
                (read.lens, read.rule, read.winner, read.error.is_some()),
                (lens, rule, record.winner, rule.is_none())
            );
            assert_eq!(
                (read.wall_ms, read.candidates, read.max_stale_ms),
                (42, 3, Some(7))
            );
            assert_eq!(
                (read.subject.as_str(), read.predicate.as_deref()),
                ("s\0", Some("p"))
            );
        }
        assert!(audit(b"SDBA").is_err());
    }

    #[test]
    fn addresses_are_masked_and_nothing_else() {
        assert_eq!(
            mask_addresses("ptr 0x00007fab12 at 0x1, 0x and 0xg"),
            "ptr <address> at <address>, 0x and 0xg"
        );
        assert_eq!(mask_addresses("0x"), "0x");
        assert_eq!(mask_addresses("none here"), "none here");
    }

    #[test]
    fn unreadable_says_why_and_reads_what_decode_reads() {
        let r = &records()[0];
        let good = encode(r);
        assert_eq!(unreadable(&good), None);
        assert_eq!(unreadable(&good[..3]), Some(Unreadable::Header));
        let mut bad_tag = good.clone();
        bad_tag[5] = 9;
        assert_eq!(unreadable(&bad_tag), Some(Unreadable::Header));
        let mut garbage = good[..HEADER_BYTES].to_vec();
        garbage.extend_from_slice(&[0xAB; 40]);
        assert!(matches!(unreadable(&garbage), Some(Unreadable::Archive(m)) if !m.is_empty()));
    }

    #[test]
    fn decode_refuses_what_is_not_the_canonical_payload() {
        let r = &records()[0];
        let good = encode(r);
        for at in [0, 4, 5, 6, 7] {
            let mut bad = good.clone();
            bad[at] ^= 0x40;
            assert_eq!(decode(&bad), None, "header byte {at}");
        }
        let mut longer = good.clone();
        longer.extend_from_slice(&[0; 8]);
        assert_eq!(decode(&longer), None);
        assert_eq!(decode(&good[..HEADER_BYTES]), None);
    }
}
