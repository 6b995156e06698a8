//! The lenses against the reference model (in `query_support.rs`), over random assertions, votes
//! (with repeats by one voter and votes for other assertions), lifecycles and exact ties,
//! presented in random orders; troll resistance; explanations.

#[path = "query_support.rs"]
mod support;

use proptest::prelude::*;
use stemedb::lens::{Candidate, LensKind, Rule, Tally};
use stemedb::model::{Assertion, Hash32, Lifecycle, Vote, WeightSum};
use support::{assertion, model_ranking, model_rule, model_tally, vote, ModelCandidate};

const UNIT: u64 = 1_000_000;

/// Assertions about one subject and the votes cast on them.
#[derive(Clone, Debug)]
struct Scenario {
    assertions: Vec<Assertion>,
    votes: Vec<Vote>,
}

/// Small timestamp, weight and voter ranges so that exact ties (same timestamp, same weight)
/// and repeats by one voter are common.
fn scenario() -> impl Strategy<Value = Scenario> {
    let a = (0u64..4, 0usize..4, 0usize..2);
    let v = (any::<prop::sample::Index>(), 0u8..6, 1u64..4, 0u64..4);
    (
        prop::collection::vec(a, 0..10),
        prop::collection::vec(v, 0..40),
    )
        .prop_map(|(specs, vote_specs)| {
            let assertions: Vec<Assertion> = specs
                .iter()
                .enumerate()
                .map(|(i, &(ts, lc, p))| {
                    let lc = Lifecycle::ALL[lc];
                    assertion("s", ["p0", "p1"][p], &format!("o{i}"), 1000 + ts, lc)
                })
                .collect();
            let hashes: Vec<Hash32> = assertions.iter().map(Assertion::identity_hash).collect();
            // One slot past the assertions stands for an assertion nobody stored.
            let stray = Hash32([0xEE; 32]);
            let votes = vote_specs
                .iter()
                .map(|(idx, voter, units, ts)| {
                    let target = *hashes.get(idx.index(hashes.len() + 1)).unwrap_or(&stray);
                    vote(target, *voter, units * UNIT, *ts)
                })
                .collect();
            Scenario { assertions, votes }
        })
}

/// A scenario, the same assertions and votes in a random order, and a lifecycle filter.
fn shuffled() -> impl Strategy<Value = (Scenario, Vec<Assertion>, Vec<Vote>, Vec<Lifecycle>)> {
    scenario().prop_flat_map(|s| {
        let filter = prop::sample::subsequence(Lifecycle::ALL.to_vec(), 0..=4);
        (
            Just(s.clone()),
            Just(s.assertions).prop_shuffle(),
            Just(s.votes).prop_shuffle(),
            filter,
        )
    })
}

fn model_candidates(s: &Scenario) -> Vec<ModelCandidate> {
    s.assertions
        .iter()
        .map(|a| ModelCandidate {
            hash: a.identity_hash(),
            timestamp_ms: a.timestamp_ms,
            lifecycle: a.lifecycle,
            weight_micros: model_tally(a.identity_hash(), &s.votes).1,
        })
        .collect()
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

/// Resolves and ranks `candidates` with every lens and checks against the model.
fn check_against_model(
    s: &Scenario,
    candidates: &[Candidate],
    filter: &[Lifecycle],
) -> Result<(), TestCaseError> {
    let model = model_candidates(s);
    let kept: Vec<Candidate> = candidates
        .iter()
        .filter(|c| filter.contains(&c.assertion.lifecycle))
        .cloned()
        .collect();
    for kind in LensKind::ALL {
        let lens = kind.lens();
        let expected = model_ranking(kind, &model, filter);
        let r = lens.resolve(&kept);
        let hash_at = |i: Option<usize>| i.map(|i| kept[i].hash);
        prop_assert_eq!(
            hash_at(r.winner),
            expected.first().copied(),
            "{:?} winner",
            kind
        );
        prop_assert_eq!(
            hash_at(r.runner_up),
            expected.get(1).copied(),
            "{:?} runner-up",
            kind
        );
        prop_assert_eq!(
            rule_name(r.rule),
            model_rule(kind, &model, &expected),
            "{:?}",
            kind
        );
        let mut ranked = kept.clone();
        lens.rank(&mut ranked);
        let ranked: Vec<Hash32> = ranked.iter().map(|c| c.hash).collect();
        prop_assert_eq!(ranked, expected, "{:?} ranking", kind);
    }
    Ok(())
}

proptest! {
    /// Candidates carrying counted support (as the query engine builds them from `VC:`/`VW:`).
    #[test]
    fn lenses_match_model_with_counted_weights((s, order, _, filter) in shuffled()) {
        let candidates: Vec<Candidate> = order
            .iter()
            .map(|a| {
                let hash = a.identity_hash();
                let (count, weight) = model_tally(hash, &s.votes);
                Candidate::counted(hash, a.clone(), count, WeightSum(weight))
            })
            .collect();
        check_against_model(&s, &candidates, &filter)?;
    }

    /// Candidates built from raw votes, repeats and strays included, in a random order.
    #[test]
    fn lenses_match_model_with_raw_votes((s, order, votes, filter) in shuffled()) {
        let candidates: Vec<Candidate> = order
            .iter()
            .map(|a| Candidate::from_votes(a.identity_hash(), a.clone(), &votes))
            .collect();
        for c in &candidates {
            let (count, weight) = model_tally(c.hash, &s.votes);
            prop_assert_eq!((c.vote_count, c.vote_weight), (count, WeightSum(weight)));
        }
        check_against_model(&s, &candidates, &filter)?;
    }

    /// Many light troll accounts (each repeating its vote, later and heavier) back a newer claim;
    /// their total counted weight stays below the honest side's, so the honest claim wins.
    #[test]
    fn troll_votes_below_honest_weight_never_flip_consensus(
        honest_weights in prop::collection::vec(1u64..20, 1..5),
        trolls in 1u8..200,
        repeats in 1usize..5,
    ) {
        let honest = assertion("s", "p", "truth", 1000, Lifecycle::Active);
        let troll = assertion("s", "p", "spam", 2000, Lifecycle::Active);
        let (h, t) = (honest.identity_hash(), troll.identity_hash());
        let honest_votes: Vec<Vote> = honest_weights
            .iter()
            .enumerate()
            .map(|(i, &w)| vote(h, 200 + i as u8, w * UNIT, 1))
            .collect();
        let honest_total: u64 = honest_weights.iter().sum::<u64>() * UNIT;
        // Each troll's first vote is as heavy as it can be while the troll total stays below.
        let first = ((honest_total - 1) / u64::from(trolls)).max(1);
        prop_assume!(first * u64::from(trolls) < honest_total);
        let mut votes = honest_votes;
        for troll_id in 0..trolls {
            for r in 0..repeats {
                let weight = first + r as u64 * honest_total; // repeats are heavier: must not count
                votes.push(vote(t, troll_id, weight, 10 + r as u64));
            }
        }
        votes.reverse(); // repeats arrive first: order must not matter
        let candidates = [
            Candidate::from_votes(t, troll.clone(), &votes),
            Candidate::from_votes(h, honest.clone(), &votes),
        ];
        prop_assert_eq!(candidates[0].vote_count, u64::from(trolls));
        let r = LensKind::VoteAwareConsensus.lens().resolve(&candidates);
        prop_assert_eq!(r.winner.map(|i| candidates[i].hash), Some(h));
        prop_assert_eq!(r.rule, Rule::Weight);
        // Recency alone would have picked the newer troll claim.
        let r = LensKind::Recency.lens().resolve(&candidates);
        prop_assert_eq!(r.winner.map(|i| candidates[i].hash), Some(t));
    }
}

#[test]
fn a_repeated_vote_counts_once() {
    let h = Hash32([1; 32]);
    let same = vec![vote(h, 7, 3 * UNIT, 5); 100];
    assert_eq!(
        Tally::of_votes(&h, &same),
        Tally {
            voters: 1,
            weight: WeightSum(3 * u128::from(UNIT))
        }
    );
    // Later or heavier repeats do not replace the earliest vote; an equally early, lighter one
    // does (a repeat can never add influence).
    let mixed = [
        vote(h, 7, 9 * UNIT, 6),
        vote(h, 7, 3 * UNIT, 5),
        vote(h, 7, 2 * UNIT, 5),
    ];
    for rotation in 0..mixed.len() {
        let mut votes = mixed.to_vec();
        votes.rotate_left(rotation);
        let tally = Tally::of_votes(&h, &votes);
        assert_eq!(
            tally,
            Tally {
                voters: 1,
                weight: WeightSum(2 * u128::from(UNIT))
            }
        );
    }
}

#[test]
fn votes_for_other_assertions_never_count() {
    let (h, other) = (Hash32([1; 32]), Hash32([2; 32]));
    let votes = [vote(other, 1, UNIT, 1), vote(other, 2, UNIT, 1)];
    assert_eq!(Tally::of_votes(&h, &votes), Tally::default());
}

fn explain(kind: LensKind, candidates: &[Candidate]) -> (Rule, String) {
    let r = kind.lens().resolve(candidates);
    (r.rule, r.explain(candidates))
}

#[test]
fn explanations_name_the_deciding_rule() {
    let a = assertion("s", "p", "a", 1000, Lifecycle::Active);
    let b = assertion("s", "p", "b", 2000, Lifecycle::Active);
    let c = assertion("s", "p", "c", 2000, Lifecycle::Active);
    let cand = |a: &Assertion, units: u64| {
        Candidate::counted(
            a.identity_hash(),
            a.clone(),
            units,
            WeightSum(u128::from(units * UNIT)),
        )
    };

    let (rule, text) = explain(LensKind::VoteAwareConsensus, &[]);
    assert_eq!(rule, Rule::NoCandidates);
    assert!(text.contains("no candidate"), "{text}");

    let (rule, text) = explain(LensKind::VoteAwareConsensus, &[cand(&a, 1)]);
    assert_eq!(rule, Rule::OnlyCandidate);
    assert!(text.contains("only candidate"), "{text}");

    let (rule, text) = explain(LensKind::VoteAwareConsensus, &[cand(&a, 5), cand(&b, 2)]);
    assert_eq!(rule, Rule::Weight);
    assert!(
        text.contains("aggregate weight") && text.contains("5.000000 > 2.000000"),
        "{text}"
    );

    let (rule, text) = explain(LensKind::VoteAwareConsensus, &[cand(&a, 2), cand(&b, 2)]);
    assert_eq!(rule, Rule::Recency);
    assert!(
        text.contains("weights tied") && text.contains("2000 ms > 1000 ms"),
        "{text}"
    );

    let (rule, text) = explain(LensKind::Recency, &[cand(&b, 0), cand(&c, 0)]);
    assert_eq!(rule, Rule::HashTieBreak);
    assert!(text.contains("hash tie-break"), "{text}");
    let greater = a_max(&b, &c);
    assert!(text.contains(&format!("wins: {greater}")), "{text}");
}

/// The greater identity hash of two assertions.
fn a_max(a: &Assertion, b: &Assertion) -> Hash32 {
    a.identity_hash().max(b.identity_hash())
}
