//! The reference lenses, over plain vectors.
//!
//! Recency: the latest timestamp wins, ties go to the greater identity hash. Consensus: the
//! greatest total weight of distinct voters (each voter's first vote, in log order) wins, then
//! recency, then the greater hash. Only `Active` assertions are candidates.

use std::collections::{BTreeMap, BTreeSet};

use stemedb::model::{Hash32, Lifecycle, Record, WeightSum};

use crate::workload::QuerySpec;

/// A lens answer: the winner and the candidate set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub winner: Option<Hash32>,
    pub candidates: BTreeSet<Hash32>,
}

/// The accepted records of a log, in offset order.
#[derive(Debug, Default)]
pub struct LensModel {
    records: Vec<(u64, Record)>,
}

impl LensModel {
    pub fn new(accepted: impl IntoIterator<Item = (u64, Record)>) -> Self {
        let mut records: Vec<(u64, Record)> = accepted.into_iter().collect();
        records.sort_by_key(|(offset, _)| *offset);
        Self { records }
    }

    /// The answer over the records at offsets below `upto`.
    pub fn answer(&self, q: &QuerySpec, upto: u64) -> Answer {
        let visible = || {
            self.records
                .iter()
                .filter(move |(o, _)| *o < upto)
                .map(|(_, r)| r)
        };
        let mut candidates: BTreeMap<Hash32, (u64, WeightSum)> = BTreeMap::new();
        for record in visible() {
            if let Record::Assertion(a) = record {
                let matches = a.subject == q.subject
                    && q.predicate.as_ref().is_none_or(|p| *p == a.predicate)
                    && a.lifecycle == Lifecycle::Active;
                if matches {
                    candidates
                        .entry(a.identity_hash())
                        .or_insert((a.timestamp_ms, WeightSum::ZERO));
                }
            }
        }
        let mut voted: BTreeSet<(Hash32, [u8; 32])> = BTreeSet::new();
        for record in visible() {
            if let Record::Vote(v) = record {
                if voted.insert((v.assertion_hash, v.voter)) {
                    if let Some((_, weight)) = candidates.get_mut(&v.assertion_hash) {
                        *weight = weight.add(v.weight);
                    }
                }
            }
        }
        let winner = candidates
            .iter()
            .max_by(|(ha, (ta, wa)), (hb, (tb, wb))| {
                let by_weight = if q.consensus {
                    wa.cmp(wb)
                } else {
                    std::cmp::Ordering::Equal
                };
                by_weight.then(ta.cmp(tb)).then(ha.cmp(hb))
            })
            .map(|(h, _)| *h);
        Answer {
            winner,
            candidates: candidates.keys().copied().collect(),
        }
    }
}
