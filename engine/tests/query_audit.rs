//! Audit records (one per query, whatever its outcome; the sequence survives restarts; the
//! codec rejects garbage without panicking) and typed errors on bad stored bytes (entries of the
//! older, empty index format are read as before, so the older cases stay as they were).

#[path = "query_support.rs"]
mod support;

use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use stemedb::lens::{LensKind, Rule};
use stemedb::model::{Hash32, Lifecycle, Record, WeightSum};
use stemedb::query::{AuditRecord, LifecycleFilter, Query, QueryEngine, QueryError};
use stemedb::storage::index::IndexFacts;
use stemedb::storage::keys::{self, KeyFamily};
use support::{assertion, runtime, store_assertion, vote, MemKv, TestClock};

async fn seeded() -> (Arc<MemKv>, Hash32) {
    let kv = MemKv::new();
    let h = store_assertion(&*kv, &assertion("s", "p", "o", 1_000, Lifecycle::Active)).await;
    (kv, h)
}

#[test]
fn every_query_leaves_exactly_one_audit_record() {
    runtime().block_on(async {
        let (kv, h) = seeded().await;
        let engine = QueryEngine::new(kv.clone(), TestClock::at(7_000));
        let bound = Duration::from_secs(60);
        let queries = [
            (
                "slow-path hit",
                Query::subject_predicate("s", "p").max_stale(bound),
            ),
            (
                "view hit",
                Query::subject_predicate("s", "p").max_stale(bound),
            ),
            ("subject hit", Query::subject("s")),
            ("miss", Query::subject_predicate("nobody", "p")),
            (
                "miss, view hit",
                Query::subject_predicate("nobody", "p").max_stale(bound),
            ),
            (
                "filtered out",
                Query::subject("s").lifecycles(LifecycleFilter::none()),
            ),
        ];
        for (seq, (what, q)) in queries.iter().enumerate() {
            let before = kv.family_len(KeyFamily::Audit);
            let r = engine.query(q).await.unwrap();
            assert_eq!(kv.family_len(KeyFamily::Audit), before + 1, "{what}");
            assert_eq!(
                r.audit_seq, seq as u64,
                "{what}: consecutive sequence numbers"
            );
        }
        let stats = engine.stats();
        assert_eq!((stats.view_hits, stats.slow_paths), (2, 4));

        let audit = engine.audit_records().await.unwrap();
        let seqs: Vec<u64> = audit.iter().map(|(s, _)| *s).collect();
        assert_eq!(seqs, [0, 1, 2, 3, 4, 5]);
        let (_, hit) = &audit[1];
        assert_eq!(
            hit,
            &AuditRecord {
                wall_ms: 7_000,
                subject: "s".into(),
                predicate: Some("p".into()),
                lens: LensKind::VoteAwareConsensus,
                lifecycles: LifecycleFilter::ACTIVE,
                max_stale_ms: Some(60_000),
                used_view: true,
                rule: Some(Rule::OnlyCandidate),
                candidates: 1,
                winner: Some(h),
                error: None,
            }
        );
        let (_, miss) = &audit[3];
        assert_eq!(
            (miss.winner, miss.candidates, miss.rule),
            (None, 0, Some(Rule::NoCandidates))
        );
        assert!(!miss.used_view);
    });
}

#[test]
fn the_audit_sequence_continues_after_a_restart() {
    runtime().block_on(async {
        let (kv, _) = seeded().await;
        let clock = TestClock::at(1);
        let first = QueryEngine::new(kv.clone(), clock.clone());
        for expected in 0..3 {
            assert_eq!(
                first.query(&Query::subject("s")).await.unwrap().audit_seq,
                expected
            );
        }
        drop(first);
        let second = QueryEngine::new(kv.clone(), clock);
        assert_eq!(
            second.query(&Query::subject("s")).await.unwrap().audit_seq,
            3
        );
        assert_eq!(kv.family_len(KeyFamily::Audit), 4);
    });
}

#[test]
fn a_failed_query_is_audited_with_its_error() {
    runtime().block_on(async {
        let (kv, h) = seeded().await;
        kv.put_raw(keys::assertion_key(&h), b"SDBR garbage".to_vec());
        let engine = QueryEngine::new(kv.clone(), TestClock::at(1));
        let err = engine.query(&Query::subject("s")).await.unwrap_err();
        assert!(
            matches!(err, QueryError::CorruptAssertion { hash, .. } if hash == h),
            "{err}"
        );
        let audit = engine.audit_records().await.unwrap();
        assert_eq!(audit.len(), 1);
        let record = &audit[0].1;
        assert_eq!((record.rule, record.winner), (None, None));
        assert!(record.error.as_deref().unwrap().contains("does not decode"));
    });
}

#[test]
fn an_answer_whose_audit_cannot_be_written_is_not_returned() {
    runtime().block_on(async {
        let (kv, _) = seeded().await;
        let engine = QueryEngine::new(kv.clone(), TestClock::at(1));
        kv.fail_writes(true);
        let err = engine.query(&Query::subject("s")).await.unwrap_err();
        assert!(matches!(err, QueryError::Kv(_)), "{err}");
        assert_eq!(engine.stats().audit_failures, 1);
        kv.fail_writes(false);
        let r = engine.query(&Query::subject("s")).await.unwrap();
        assert_eq!(kv.family_len(KeyFamily::Audit), 1);
        assert_eq!(r.audit_seq, 1, "the failed write's number is not reused");
    });
}

/// Each kind of bad stored bytes fails the query with its own typed error (never a panic).
#[test]
fn bad_stored_bytes_give_typed_errors() {
    runtime().block_on(async {
        let run = |kv: Arc<MemKv>| async move {
            QueryEngine::new(kv, TestClock::at(1))
                .query(&Query::subject_predicate("s", "p"))
                .await
        };

        let (kv, h) = seeded().await;
        kv.put_raw(keys::vote_weight_key(&h), vec![1, 2, 3]);
        let err = run(kv).await.unwrap_err();
        assert!(
            matches!(
                err,
                QueryError::CorruptCounter {
                    family: KeyFamily::VoteWeight,
                    len: 3,
                    ..
                }
            ),
            "{err}"
        );

        let (kv, h) = seeded().await;
        kv.put_raw(keys::vote_count_key(&h), vec![0; 9]);
        let err = run(kv).await.unwrap_err();
        assert!(
            matches!(
                err,
                QueryError::CorruptCounter {
                    family: KeyFamily::VoteCount,
                    len: 9,
                    ..
                }
            ),
            "{err}"
        );

        let (kv, _) = seeded().await;
        let dangling = Hash32([9; 32]);
        kv.put_raw(
            keys::subject_predicate_key(b"s", b"p", &dangling),
            Vec::new(),
        );
        let err = run(kv).await.unwrap_err();
        assert!(
            matches!(err, QueryError::DanglingIndex { hash } if hash == dangling),
            "{err}"
        );

        let (kv, h) = seeded().await;
        let v = Record::Vote(vote(h, 1, 1, 1)).encode().unwrap();
        kv.put_raw(keys::assertion_key(&h), v);
        let err = run(kv).await.unwrap_err();
        assert!(matches!(err, QueryError::NotAnAssertion { .. }), "{err}");

        // A valid assertion stored (and indexed) under another assertion's hash.
        let (kv, _) = seeded().await;
        let other = assertion("s", "p", "other", 5, Lifecycle::Active);
        let fake = Hash32([7; 32]);
        kv.put_raw(
            keys::assertion_key(&fake),
            Record::Assertion(other).encode().unwrap(),
        );
        kv.put_raw(keys::subject_predicate_key(b"s", b"p", &fake), Vec::new());
        let err = run(kv).await.unwrap_err();
        assert!(
            matches!(err, QueryError::HashMismatch { stored, .. } if stored == fake),
            "{err}"
        );

        // An assertion about another subject indexed under "s".
        let (kv, _) = seeded().await;
        let elsewhere = assertion("t", "p", "o", 5, Lifecycle::Active);
        let eh = store_assertion(&*kv, &elsewhere).await;
        kv.put_raw(keys::subject_predicate_key(b"s", b"p", &eh), Vec::new());
        let err = run(kv).await.unwrap_err();
        assert!(
            matches!(err, QueryError::IndexMismatch { hash } if hash == eh),
            "{err}"
        );

        // An index key with a truncated hash.
        let (kv, h) = seeded().await;
        let mut key = keys::subject_predicate_key(b"s", b"p", &h);
        key.pop();
        kv.put_raw(key, Vec::new());
        let err = run(kv).await.unwrap_err();
        assert!(matches!(err, QueryError::CorruptIndex { .. }), "{err}");
    });
}

/// Index entries carry the facts a lens ranks by. Damage to one is a typed error whether or not
/// its candidate is read in full; an entry that disagrees with the assertion or counters it
/// indexes is one when its candidate is among those an answer rests on.
#[test]
fn bad_index_entries_give_typed_errors() {
    runtime().block_on(async {
        let run = |kv: Arc<MemKv>| async move {
            QueryEngine::new(kv, TestClock::at(1))
                .query(&Query::subject_predicate("s", "p"))
                .await
        };
        let sp = |h: &Hash32| keys::subject_predicate_key(b"s", b"p", h);
        let facts = |ts: u64| IndexFacts {
            timestamp_ms: ts,
            lifecycle: Lifecycle::Active,
            vote_count: 0,
            vote_weight: WeightSum::ZERO,
        };

        // A flipped bit in an entry that ranks last, below the two an answer rests on: still
        // caught (its checksum).
        let (kv, _) = seeded().await;
        store_assertion(&*kv, &assertion("s", "p", "new", 2_000, Lifecycle::Active)).await;
        let low = store_assertion(&*kv, &assertion("s", "p", "old", 10, Lifecycle::Active)).await;
        let mut value = facts(10).encode(&sp(&low));
        value[3] ^= 0x10;
        kv.put_raw(sp(&low), value);
        let err = run(kv).await.unwrap_err();
        assert!(
            matches!(err, QueryError::CorruptIndex { family: KeyFamily::SubjectPredicate, ref reason, .. } if reason.contains("checksum")),
            "{err}"
        );

        // An entry copied from under another key.
        let (kv, h) = seeded().await;
        kv.put_raw(sp(&Hash32([8; 32])), facts(1).encode(&sp(&h)));
        let err = run(kv).await.unwrap_err();
        assert!(matches!(err, QueryError::CorruptIndex { .. }), "{err}");

        // A well-formed entry stating another timestamp than its assertion's.
        let (kv, h) = seeded().await;
        kv.put_raw(sp(&h), facts(999).encode(&sp(&h)));
        let err = run(kv).await.unwrap_err();
        assert!(
            matches!(err, QueryError::IndexDisagrees { hash, fact: "timestamp" } if hash == h),
            "{err}"
        );

        // A counter that moved without its entries.
        let (kv, h) = seeded().await;
        kv.put_raw(keys::vote_weight_key(&h), WeightSum(5).to_be_bytes().to_vec());
        let err = run(kv).await.unwrap_err();
        assert!(
            matches!(err, QueryError::IndexDisagrees { hash, fact: "vote weight" } if hash == h),
            "{err}"
        );

        // A well-formed entry whose assertion is missing, ranked first.
        let (kv, _) = seeded().await;
        let dangling = Hash32([9; 32]);
        kv.put_raw(sp(&dangling), facts(u64::MAX).encode(&sp(&dangling)));
        let err = run(kv).await.unwrap_err();
        assert!(
            matches!(err, QueryError::DanglingIndex { hash } if hash == dangling),
            "{err}"
        );

        // A valid assertion stored (and indexed with its true facts) under another hash.
        let (kv, _) = seeded().await;
        let other = assertion("s", "p", "other", 5_000, Lifecycle::Active);
        let fake = Hash32([7; 32]);
        kv.put_raw(
            keys::assertion_key(&fake),
            Record::Assertion(other).encode().unwrap(),
        );
        kv.put_raw(sp(&fake), facts(5_000).encode(&sp(&fake)));
        let err = run(kv).await.unwrap_err();
        assert!(
            matches!(err, QueryError::HashMismatch { stored, .. } if stored == fake),
            "{err}"
        );
    });
}

#[test]
fn a_corrupt_audit_key_is_a_typed_error() {
    runtime().block_on(async {
        let (kv, _) = seeded().await;
        kv.put_raw(b"A:short".to_vec(), Vec::new());
        let engine = QueryEngine::new(kv.clone(), TestClock::at(1));
        let err = engine.query(&Query::subject("s")).await.unwrap_err();
        assert!(matches!(err, QueryError::CorruptAuditKey { .. }), "{err}");
    });
}

fn sample_record() -> AuditRecord {
    AuditRecord {
        wall_ms: 123,
        subject: "sübject".into(),
        predicate: Some("p".into()),
        lens: LensKind::Recency,
        lifecycles: LifecycleFilter::ALL,
        max_stale_ms: Some(5),
        used_view: true,
        rule: Some(Rule::HashTieBreak),
        candidates: 9,
        winner: Some(Hash32([3; 32])),
        error: Some("boom".into()),
    }
}

#[test]
fn audit_records_round_trip_and_reject_truncation() {
    let record = sample_record();
    let bytes = record.encode();
    assert_eq!(AuditRecord::decode(&bytes).unwrap(), record);
    for cut in 0..bytes.len() {
        assert!(AuditRecord::decode(&bytes[..cut]).is_err(), "cut at {cut}");
    }
    let mut long = bytes.clone();
    long.push(0);
    assert!(AuditRecord::decode(&long).is_err());
}

proptest! {
    #[test]
    fn audit_decode_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..128)) {
        let _ = AuditRecord::decode(&bytes);
    }

    #[test]
    fn audit_decode_survives_bit_flips(at in any::<prop::sample::Index>(), bit in 0u8..8) {
        let mut bytes = sample_record().encode();
        let i = at.index(bytes.len());
        bytes[i] ^= 1 << bit;
        let _ = AuditRecord::decode(&bytes);
    }
}
