//! The reference lenses, over plain vectors.
//!
//! Recency: the latest timestamp wins, ties go to the greater identity hash. Consensus: the
//! greatest total weight of distinct voters (each voter's first vote, in log order) wins, then
//! recency, then the greater hash. Only `Active` assertions are candidates. An answer is the
//! whole ranking (every candidate, best first, with its counted voters and weight) and the rule
//! that separated the winner from the runner-up: everything a query returns that a lens decides.
//!
//! Records that media damage touched are "doubtful": the engine may or may not have ingested
//! them. A caller names which doubtful records to count ([`LensModel::answer`]), and learns which
//! ones can matter to a query at all ([`LensModel::doubtful_for`]), so damage elsewhere in the
//! log never excuses a query from being checked.

use std::collections::{BTreeMap, BTreeSet};

use stemedb::lens::Rule;
use stemedb::model::{Assertion, Hash32, Lifecycle, Record, Vote, WeightSum};

use crate::oracle::spec;

/// A query the workload asks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuerySpec {
    pub subject: String,
    pub predicate: Option<String>,
    pub consensus: bool,
    pub max_stale_ms: Option<u64>,
    /// The lifecycles the query asks for, as a user lists them (repeats allowed; empty asks
    /// for nothing). The reference lens reads it as a set, independently of the engine's
    /// `LifecycleFilter`.
    pub lifecycles: Vec<Lifecycle>,
    /// Materialise the subject+predicate view explicitly (`QueryEngine::materialize`, an
    /// operator's warm-up) just before the query.
    pub materialize_first: bool,
}

impl QuerySpec {
    /// What a reader normally asks for: active assertions only.
    pub fn active_only() -> Vec<Lifecycle> {
        vec![Lifecycle::Active]
    }
}

/// One ranked candidate: its identity hash, distinct voters counted and their total weight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ranked {
    pub hash: Hash32,
    pub vote_count: u64,
    pub vote_weight: WeightSum,
}

/// A lens answer: every candidate, best first, and the deciding rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub ranked: Vec<Ranked>,
    pub rule: Rule,
}

impl Answer {
    pub fn winner(&self) -> Option<Hash32> {
        self.ranked.first().map(|r| r.hash)
    }

    pub fn candidates(&self) -> BTreeSet<Hash32> {
        self.ranked.iter().map(|r| r.hash).collect()
    }
}

/// Index of a record in the model (stable for one model).
pub type RecordId = usize;

/// The accepted records of a log, in offset order, indexed by what queries look up.
#[derive(Debug, Default)]
pub struct LensModel {
    /// `(offset, record, doubtful)`, by offset.
    records: Vec<(u64, Record, bool)>,
    /// Assertions by subject.
    by_subject: BTreeMap<String, Vec<RecordId>>,
    /// Votes by the assertion they are for.
    votes_for: BTreeMap<Hash32, Vec<RecordId>>,
}

impl LensModel {
    /// `accepted`: `(offset, record, doubtful)` for every record ingest accepts.
    pub fn new(accepted: impl IntoIterator<Item = (u64, Record, bool)>) -> Self {
        let mut records: Vec<(u64, Record, bool)> = accepted.into_iter().collect();
        records.sort_by_key(|(offset, _, _)| *offset);
        let mut by_subject: BTreeMap<String, Vec<RecordId>> = BTreeMap::new();
        let mut votes_for: BTreeMap<Hash32, Vec<RecordId>> = BTreeMap::new();
        for (id, (_, record, _)) in records.iter().enumerate() {
            match record {
                Record::Assertion(a) => by_subject.entry(a.subject.clone()).or_default().push(id),
                Record::Vote(v) => votes_for.entry(v.assertion_hash).or_default().push(id),
                Record::Evidence(_) => {}
            }
        }
        Self {
            records,
            by_subject,
            votes_for,
        }
    }

    fn assertion(&self, id: RecordId) -> Option<&Assertion> {
        match &self.records[id].1 {
            Record::Assertion(a) => Some(a),
            _ => None,
        }
    }

    fn vote(&self, id: RecordId) -> Option<&Vote> {
        match &self.records[id].1 {
            Record::Vote(v) => Some(v),
            _ => None,
        }
    }

    /// Assertions the query's subject and predicate select (any lifecycle, doubtful or not).
    fn selected<'a>(
        &'a self,
        q: &'a QuerySpec,
    ) -> impl Iterator<Item = (RecordId, &'a Assertion)> + 'a {
        self.by_subject
            .get(&q.subject)
            .into_iter()
            .flatten()
            .filter_map(|&id| self.assertion(id).map(|a| (id, a)))
            .filter(|(_, a)| q.predicate.as_ref().is_none_or(|p| *p == a.predicate))
    }

    /// The doubtful records whose presence can change this query's answer: assertions it
    /// selects, and votes for any assertion it selects.
    pub fn doubtful_for(&self, q: &QuerySpec) -> Vec<RecordId> {
        let mut out = BTreeSet::new();
        for (id, a) in self.selected(q) {
            if self.records[id].2 {
                out.insert(id);
            }
            for &vote in self
                .votes_for
                .get(&spec::assertion_id(a))
                .into_iter()
                .flatten()
            {
                if self.records[vote].2 {
                    out.insert(vote);
                }
            }
        }
        out.into_iter().collect()
    }

    /// The offset of a record.
    pub fn offset(&self, id: RecordId) -> u64 {
        self.records[id].0
    }

    /// The answer over the records at offsets below `upto`: every certain record, and of the
    /// doubtful ones those in `counted`.
    pub fn answer(&self, q: &QuerySpec, upto: u64, counted: &BTreeSet<RecordId>) -> Answer {
        let visible = |id: RecordId| {
            let (offset, _, doubtful) = &self.records[id];
            *offset < upto && (!doubtful || counted.contains(&id))
        };
        // identity hash -> (timestamp, voters, weight); the first visible copy of an assertion.
        let mut candidates: BTreeMap<Hash32, (u64, u64, WeightSum)> = BTreeMap::new();
        for (id, a) in self.selected(q) {
            if q.lifecycles.contains(&a.lifecycle) && visible(id) {
                candidates.entry(spec::assertion_id(a)).or_insert((
                    a.timestamp_ms,
                    0,
                    WeightSum::ZERO,
                ));
            }
        }
        for (hash, (_, voters, weight)) in candidates.iter_mut() {
            let mut seen: BTreeSet<[u8; 32]> = BTreeSet::new();
            for &id in self.votes_for.get(hash).into_iter().flatten() {
                let Some(v) = self.vote(id) else { continue };
                // Each voter's first vote in log order counts, once.
                if visible(id) && seen.insert(v.voter) {
                    *voters += 1;
                    *weight = weight.add(v.weight);
                }
            }
        }
        let compare = |a: &(Hash32, (u64, u64, WeightSum)), b: &(Hash32, (u64, u64, WeightSum))| {
            let (ha, (ta, _, wa)) = a;
            let (hb, (tb, _, wb)) = b;
            if q.consensus && wa != wb {
                return (wa.cmp(wb), Rule::Weight);
            }
            if ta != tb {
                return (ta.cmp(tb), Rule::Recency);
            }
            (ha.cmp(hb), Rule::HashTieBreak)
        };
        let mut all: Vec<(Hash32, (u64, u64, WeightSum))> = candidates.into_iter().collect();
        all.sort_by(|a, b| compare(b, a).0);
        let rule = match all.as_slice() {
            [] => Rule::NoCandidates,
            [_] => Rule::OnlyCandidate,
            [winner, runner_up, ..] => compare(winner, runner_up).1,
        };
        Answer {
            ranked: all
                .into_iter()
                .map(|(hash, (_, vote_count, vote_weight))| Ranked {
                    hash,
                    vote_count,
                    vote_weight,
                })
                .collect(),
            rule,
        }
    }
}

#[cfg(test)]
mod tests {
    use stemedb::model::Weight;

    use super::*;

    fn assertion(subject: &str, ts: u64) -> Record {
        Record::Assertion(Assertion::new(
            subject.to_owned(),
            "p".to_owned(),
            format!("o{ts}"),
            1.0,
            ts,
        ))
    }

    fn vote(for_record: &Record, voter: u8, units: u32) -> Record {
        let Record::Assertion(a) = for_record else {
            unreachable!()
        };
        Record::Vote(Vote {
            assertion_hash: spec::assertion_id(a),
            voter: [voter; 32],
            weight: Weight::from_units(units),
            timestamp_ms: 1,
            signature: [0; 64],
        })
    }

    fn spec(subject: &str, consensus: bool) -> QuerySpec {
        QuerySpec {
            subject: subject.to_owned(),
            predicate: Some("p".to_owned()),
            consensus,
            max_stale_ms: None,
            lifecycles: vec![stemedb::model::Lifecycle::Active],
            materialize_first: false,
        }
    }

    #[test]
    fn the_answer_is_the_whole_ranking_with_counts_and_the_deciding_rule() {
        let (old, new, third) = (assertion("s", 10), assertion("s", 20), assertion("s", 5));
        let model = LensModel::new([
            (0, old.clone(), false),
            (100, new.clone(), false),
            (200, third.clone(), false),
            (300, vote(&old, 1, 3), false),
            (400, vote(&old, 1, 9), false), // a repeat: only the first vote of a voter counts
            (500, vote(&old, 2, 1), false),
        ]);
        let none = BTreeSet::new();
        let recency = model.answer(&spec("s", false), u64::MAX, &none);
        let hashes: Vec<Hash32> = recency.ranked.iter().map(|r| r.hash).collect();
        let hash = |r: &Record| match r {
            Record::Assertion(a) => spec::assertion_id(a),
            _ => unreachable!(),
        };
        assert_eq!(hashes, vec![hash(&new), hash(&old), hash(&third)]);
        assert_eq!(recency.rule, Rule::Recency);
        assert_eq!(recency.ranked[1].vote_count, 2);
        assert_eq!(
            recency.ranked[1].vote_weight,
            WeightSum::ZERO
                .add(Weight::from_units(3))
                .add(Weight::from_units(1))
        );
        let consensus = model.answer(&spec("s", true), u64::MAX, &none);
        assert_eq!(consensus.winner(), Some(hash(&old)));
        assert_eq!(consensus.rule, Rule::Weight);
        // Below the votes' offsets, nothing is counted.
        let early = model.answer(&spec("s", true), 300, &none);
        assert_eq!(early.winner(), Some(hash(&new)));
        assert!(early.ranked.iter().all(|r| r.vote_count == 0));
        assert_eq!(
            model.answer(&spec("t", true), u64::MAX, &none).rule,
            Rule::NoCandidates
        );
    }

    #[test]
    fn a_query_sees_the_lifecycles_it_lists_and_no_others() {
        use stemedb::model::Lifecycle;
        let with_lifecycle = |ts, lifecycle| match assertion("s", ts) {
            Record::Assertion(mut a) => {
                a.lifecycle = lifecycle;
                Record::Assertion(a)
            }
            _ => unreachable!(),
        };
        let model = LensModel::new([
            (0, with_lifecycle(10, Lifecycle::Active), false),
            (100, with_lifecycle(20, Lifecycle::Deprecated), false),
            (200, with_lifecycle(30, Lifecycle::Draft), false),
        ]);
        let none = BTreeSet::new();
        let count = |lifecycles: Vec<Lifecycle>| {
            let q = QuerySpec {
                lifecycles,
                ..spec("s", false)
            };
            model.answer(&q, u64::MAX, &none).ranked.len()
        };
        assert_eq!(count(vec![Lifecycle::Active]), 1);
        // A repeated lifecycle is still one member of the set.
        assert_eq!(count(vec![Lifecycle::Deprecated, Lifecycle::Deprecated]), 1);
        assert_eq!(count(vec![Lifecycle::Draft, Lifecycle::Active]), 2);
        assert_eq!(count(Lifecycle::ALL.to_vec()), 3);
        assert_eq!(count(Vec::new()), 0, "an empty list asks for nothing");
    }

    #[test]
    fn only_damaged_records_that_bear_on_a_query_are_doubtful_for_it() {
        let (a, b, other) = (assertion("s", 10), assertion("s", 20), assertion("t", 30));
        let model = LensModel::new([
            (0, a.clone(), false),
            (100, b.clone(), true),
            (200, other.clone(), true),
            (300, vote(&a, 1, 5), true),
            (400, vote(&other, 2, 5), true),
        ]);
        let doubtful = model.doubtful_for(&spec("s", true));
        let offsets: Vec<u64> = doubtful.iter().map(|&id| model.offset(id)).collect();
        assert_eq!(
            offsets,
            vec![100, 300],
            "damage to subject t excuses nothing about s"
        );
        let q = spec("s", true);
        let without = model.answer(&q, u64::MAX, &BTreeSet::new());
        assert_eq!(without.ranked.len(), 1);
        let with: BTreeSet<RecordId> = doubtful.iter().copied().collect();
        let counted = model.answer(&q, u64::MAX, &with);
        assert_eq!(counted.ranked.len(), 2);
        assert_eq!(counted.ranked[0].vote_count, 1);
    }
}
