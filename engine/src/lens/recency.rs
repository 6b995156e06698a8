//! `RecencyLens`: the latest claim wins.

use std::cmp::Ordering;

use super::{Candidate, Lens, LensInput, LensKind, Rule, Standing};

/// The latest `timestamp_ms` wins; on equal timestamps the greater identity hash wins. Votes are
/// ignored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecencyLens;

impl Lens for RecencyLens {
    fn kind(&self) -> LensKind {
        LensKind::Recency
    }

    // Inlined where `resolve`, `rank` and `rank_standings` (compiled per lens) call them:
    // without it they stay out-of-line calls per comparison (`lens_resolve` took twice as long).
    #[inline]
    fn compare(&self, a: &Candidate, b: &Candidate) -> (Ordering, Rule) {
        order(a, b)
    }

    #[inline]
    fn compare_standings(&self, a: &Standing, b: &Standing) -> (Ordering, Rule) {
        order(a, b)
    }
}

/// The recency order, once for both kinds of input.
pub(super) fn order<T: LensInput>(a: &T, b: &T) -> (Ordering, Rule) {
    match a.timestamp_ms().cmp(&b.timestamp_ms()) {
        Ordering::Equal => (a.hash().cmp(b.hash()), Rule::HashTieBreak),
        decided => (decided, Rule::Recency),
    }
}
