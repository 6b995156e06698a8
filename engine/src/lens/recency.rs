//! `RecencyLens`: the latest claim wins.

use std::cmp::Ordering;

use super::{Candidate, Lens, LensKind, Rule};

/// The latest `timestamp_ms` wins; on equal timestamps the greater identity hash wins. Votes are
/// ignored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecencyLens;

impl Lens for RecencyLens {
    fn kind(&self) -> LensKind {
        LensKind::Recency
    }

    fn compare(&self, a: &Candidate, b: &Candidate) -> (Ordering, Rule) {
        match a.timestamp_ms().cmp(&b.timestamp_ms()) {
            Ordering::Equal => (a.hash.cmp(&b.hash), Rule::HashTieBreak),
            decided => (decided, Rule::Recency),
        }
    }
}
