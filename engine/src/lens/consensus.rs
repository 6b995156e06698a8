//! `VoteAwareConsensusLens`: the claim with the most distinct-voter weight wins.

use std::cmp::Ordering;

use super::{Candidate, Lens, LensKind, RecencyLens, Rule};

/// The highest aggregate weight of distinct voters wins (each voter counted once, see
/// [`super::Tally::of_votes`]); on equal weight the [`RecencyLens`] order decides (latest
/// timestamp, then greater identity hash).
///
/// Weight, not voter count, is the first key: a swarm of light troll accounts cannot outvote a
/// heavier honest side, whatever their number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VoteAwareConsensusLens;

impl Lens for VoteAwareConsensusLens {
    fn kind(&self) -> LensKind {
        LensKind::VoteAwareConsensus
    }

    fn compare(&self, a: &Candidate, b: &Candidate) -> (Ordering, Rule) {
        match a.vote_weight.cmp(&b.vote_weight) {
            Ordering::Equal => RecencyLens.compare(a, b),
            decided => (decided, Rule::Weight),
        }
    }
}
