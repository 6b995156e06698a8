//! Queries through a real `KvStore` populated in the ingest worker's exact formats give the
//! reference model's answer, from the store and from a view, and each leaves one audit record.

#[path = "query_support.rs"]
mod support;

use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use stemedb::lens::{LensKind, Rule};
use stemedb::model::{Assertion, Hash32, Lifecycle, Vote, WeightSum};
use stemedb::query::{LifecycleFilter, Query, QueryEngine, QueryResult};
use stemedb::storage::keys::KeyFamily;
use support::{
    assertion, model_ranking, model_rule, model_tally, runtime, store_assertion,
    store_assertion_legacy, store_votes, vote, MemKv, ModelCandidate, TestClock,
};

const UNIT: u64 = 1_000_000;

#[derive(Clone, Debug)]
struct Case {
    /// Assertions about "s" (and a few decoys about other subjects).
    assertions: Vec<Assertion>,
    votes: Vec<Vote>,
    predicate: Option<&'static str>,
    lens: LensKind,
    filter: Vec<Lifecycle>,
}

/// Decoy subjects whose keys would collide with "s" under a naive `subject:` encoding.
const SUBJECTS: [&str; 3] = ["s", "s:p0", "s\0"];

fn case() -> impl Strategy<Value = Case> {
    let a = (
        0u64..4,
        0usize..4,
        0usize..2,
        prop::sample::select(vec![0usize, 0, 0, 1, 2]),
    );
    let v = (any::<prop::sample::Index>(), 0u8..6, 1u64..4, 0u64..4);
    (
        prop::collection::vec(a, 0..10),
        prop::collection::vec(v, 0..40),
        prop::option::of(prop::sample::select(vec!["p0", "p1"])),
        prop::sample::select(LensKind::ALL.to_vec()),
        prop::sample::subsequence(Lifecycle::ALL.to_vec(), 0..=4),
    )
        .prop_map(|(specs, vote_specs, predicate, lens, filter)| {
            let assertions: Vec<Assertion> = specs
                .iter()
                .enumerate()
                .map(|(i, &(ts, lc, p, s))| {
                    let object = format!("o{i}");
                    assertion(
                        SUBJECTS[s],
                        ["p0", "p1"][p],
                        &object,
                        1000 + ts,
                        Lifecycle::ALL[lc],
                    )
                })
                .collect();
            let hashes: Vec<Hash32> = assertions.iter().map(Assertion::identity_hash).collect();
            let votes = vote_specs
                .iter()
                .filter(|_| !hashes.is_empty())
                .map(|(idx, voter, units, ts)| {
                    vote(hashes[idx.index(hashes.len())], *voter, units * UNIT, *ts)
                })
                .collect();
            Case {
                assertions,
                votes,
                predicate,
                lens,
                filter,
            }
        })
}

/// The model's ranking and rule for the candidates in the query's scope.
fn model_answer(c: &Case) -> (Vec<Hash32>, &'static str, Vec<ModelCandidate>) {
    let scope: Vec<ModelCandidate> = c
        .assertions
        .iter()
        .filter(|a| a.subject == "s" && c.predicate.is_none_or(|p| a.predicate == p))
        .map(|a| ModelCandidate {
            hash: a.identity_hash(),
            timestamp_ms: a.timestamp_ms,
            lifecycle: a.lifecycle,
            weight_micros: model_tally(a.identity_hash(), &c.votes).1,
        })
        .collect();
    let ranking = model_ranking(c.lens, &scope, &c.filter);
    let rule = model_rule(c.lens, &scope, &ranking);
    (ranking, rule, scope)
}

fn rule_name(rule: Rule) -> &'static str {
    match rule {
        Rule::NoCandidates => "none",
        Rule::OnlyCandidate => "only",
        Rule::Weight => "weight",
        Rule::Recency => "recency",
        Rule::HashTieBreak => "hash",
    }
}

fn check(c: &Case, r: &QueryResult) -> Result<(), TestCaseError> {
    let (ranking, rule, _) = model_answer(c);
    let got: Vec<Hash32> = r.candidates.iter().map(|x| x.hash).collect();
    prop_assert_eq!(&got, &ranking);
    prop_assert_eq!(r.winner.as_ref().map(|w| w.hash), ranking.first().copied());
    prop_assert_eq!(rule_name(r.rule), rule);
    for cand in r.candidates.iter() {
        let (count, weight) = model_tally(cand.hash, &c.votes);
        prop_assert_eq!(
            (cand.vote_count, cand.vote_weight),
            (count, WeightSum(weight))
        );
    }
    Ok(())
}

proptest! {
    #[test]
    fn queries_match_model_through_the_store(c in case()) {
        runtime().block_on(async {
            let kv = MemKv::new();
            // Every third assertion as an earlier build stored it (empty index entries), until
            // a vote rewrites its entries: a store mid-upgrade answers like any other.
            for (i, a) in c.assertions.iter().enumerate() {
                if i % 3 == 2 {
                    store_assertion_legacy(&*kv, a).await;
                } else {
                    store_assertion(&*kv, a).await;
                }
            }
            // Votes arrive in timestamp order (lighter first on equal timestamps), so ingest's
            // "first vote counts" is the model's "earliest vote counts".
            let mut arrival = c.votes.clone();
            arrival.sort_by_key(|v| (v.timestamp_ms, v.weight));
            store_votes(&*kv, &arrival).await;

            let clock = TestClock::at(50_000);
            let engine = QueryEngine::new(kv.clone(), clock);
            let mut q = Query::subject("s")
                .lens(c.lens)
                .lifecycles(LifecycleFilter::of(&c.filter));
            q.predicate = c.predicate.map(str::to_owned);

            let before = kv.family_len(KeyFamily::Audit);
            let slow = engine.query(&q).await.unwrap();
            prop_assert!(!slow.used_view);
            check(&c, &slow)?;
            prop_assert_eq!(kv.family_len(KeyFamily::Audit), before + 1);

            // The same query allowing a view: predicate queries now hit the view the slow path
            // materialised, with the same answer.
            let again = engine.query(&q.clone().max_stale(Duration::from_secs(1))).await.unwrap();
            prop_assert_eq!(again.used_view, c.predicate.is_some());
            check(&c, &again)?;
            prop_assert_eq!(kv.family_len(KeyFamily::Audit), before + 2);

            let audit = engine.audit_records().await.unwrap();
            let (seq, record) = audit.last().unwrap();
            let (seq, record) = (*seq, record.clone());
            prop_assert_eq!(seq, again.audit_seq);
            prop_assert_eq!(record.winner, again.winner.as_ref().map(|w| w.hash));
            prop_assert_eq!(record.candidates, again.candidates.len() as u64);
            prop_assert_eq!(record.used_view, again.used_view);
            prop_assert_eq!(record.lens, c.lens);
            prop_assert_eq!(record.lifecycles, LifecycleFilter::of(&c.filter));

            // One read serves every lens and lifecycle filter from the view, each the model's
            // answer, with no further store read.
            if c.predicate.is_some() {
                let reads = engine.stats().slow_paths;
                for lens in LensKind::ALL {
                    for filter in (0..16u8).filter_map(LifecycleFilter::from_bits) {
                        let members: Vec<Lifecycle> =
                            Lifecycle::ALL.into_iter().filter(|&l| filter.contains(l)).collect();
                        let other = Case { lens, filter: members, ..c.clone() };
                        let q = q.clone().lens(lens).lifecycles(filter).max_stale(Duration::from_secs(1));
                        let r = engine.query(&q).await.unwrap();
                        prop_assert!(r.used_view);
                        check(&other, &r)?;
                    }
                }
                prop_assert_eq!(engine.stats().slow_paths, reads);
            }
            Ok(())
        })?;
    }
}

/// Troll resistance end to end: a newer claim backed by many light trolls, each voting many
/// times (heavier repeats after the first), never beats the heavier honest side.
#[test]
fn trolls_below_honest_weight_never_flip_the_query() {
    runtime().block_on(async {
        let kv = MemKv::new();
        let honest = assertion("city", "capital_of", "Paris", 1_000, Lifecycle::Active);
        let troll = assertion("city", "capital_of", "Lyon", 9_000, Lifecycle::Active);
        let h = store_assertion(&*kv, &honest).await;
        let t = store_assertion(&*kv, &troll).await;
        let mut votes: Vec<Vote> = (0..3).map(|i| vote(h, 200 + i, 10 * UNIT, 1)).collect();
        for troll_id in 0..150u8 {
            // 150 trolls x 0.19 = 28.5 units < 30: below the honest side.
            votes.push(vote(t, troll_id, 190_000, 2));
            for r in 0..20 {
                votes.push(vote(t, troll_id, 50 * UNIT, 3 + r));
            }
        }
        store_votes(&*kv, &votes).await;
        let engine = QueryEngine::new(kv.clone(), TestClock::at(10_000));
        let r = engine
            .query(&Query::subject_predicate("city", "capital_of"))
            .await
            .unwrap();
        let winner = r.winner.unwrap();
        assert_eq!(winner.hash, h);
        assert_eq!(r.rule, Rule::Weight);
        assert_eq!(r.candidates[1].vote_count, 150);
        assert_eq!(r.candidates[1].vote_weight, WeightSum(150 * 190_000));
        assert!(
            r.explanation.contains("30.000000 > 28.500000"),
            "{}",
            r.explanation
        );
        let recency = engine
            .query(&Query::subject_predicate("city", "capital_of").lens(LensKind::Recency))
            .await
            .unwrap();
        assert_eq!(recency.winner.unwrap().hash, t);
    });
}

#[test]
fn default_filter_is_active_only() {
    runtime().block_on(async {
        let kv: Arc<MemKv> = MemKv::new();
        let live = assertion("s", "p", "live", 1_000, Lifecycle::Active);
        let gone = assertion("s", "p", "gone", 2_000, Lifecycle::Retracted);
        let live_hash = store_assertion(&*kv, &live).await;
        store_assertion(&*kv, &gone).await;
        let engine = QueryEngine::new(kv.clone(), TestClock::at(5_000));
        let q = Query::subject("s").lens(LensKind::Recency);
        let r = engine.query(&q).await.unwrap();
        assert_eq!(r.candidates.len(), 1);
        assert_eq!(r.winner.unwrap().hash, live_hash);
        let all = engine
            .query(&q.lifecycles(LifecycleFilter::ALL))
            .await
            .unwrap();
        assert_eq!(all.candidates.len(), 2);
        assert_eq!(all.winner.unwrap().assertion.object, "gone");
    });
}
