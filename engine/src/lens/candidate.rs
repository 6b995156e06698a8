//! `Candidate`: one assertion competing in a lens, with the support it has from voters; and
//! `Standing`: what a lens ranks a candidate by, without the assertion's content.

use std::collections::BTreeMap;

use crate::model::{Assertion, Hash32, Lifecycle, Vote, Weight, WeightSum, PUBLIC_KEY_BYTES};

/// One assertion a lens ranks, with its counted support.
///
/// `vote_count` and `vote_weight` must already count each voter once. The query engine reads
/// them from the `VC:`/`VW:` counters, which ingest keeps that way; anything holding raw votes
/// (possibly with repeats) builds the candidate with [`Candidate::from_votes`], which counts
/// each voter once itself.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    /// The assertion's identity hash (its storage address).
    pub hash: Hash32,
    /// The assertion itself.
    pub assertion: Assertion,
    /// Distinct voters counted.
    pub vote_count: u64,
    /// Sum of the counted votes' weights (one vote per voter).
    pub vote_weight: WeightSum,
}

/// The counted support of one assertion: distinct voters and the sum of their counted weights.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Distinct voters.
    pub voters: u64,
    /// Sum of one vote's weight per voter.
    pub weight: WeightSum,
}

impl Tally {
    /// Counts `votes` for `assertion`, one vote per voter, whatever order or repeats they come in.
    ///
    /// Votes for another assertion are ignored: a mis-attributed vote must never add support.
    /// When a voter voted more than once, the vote that counts is the earliest (`timestamp_ms`)
    /// and, among equally early ones, the lightest. "Earliest" mirrors ingest, which counts the
    /// first vote to arrive; the rule only looks at the votes' contents, so the tally never
    /// depends on the order they are handed over in, and a repeat can never add influence.
    pub fn of_votes(assertion: &Hash32, votes: &[Vote]) -> Tally {
        let mut counted: BTreeMap<[u8; PUBLIC_KEY_BYTES], (u64, Weight)> = BTreeMap::new();
        for vote in votes.iter().filter(|v| v.assertion_hash == *assertion) {
            let this = (vote.timestamp_ms, vote.weight);
            counted
                .entry(vote.voter)
                .and_modify(|kept| *kept = (*kept).min(this))
                .or_insert(this);
        }
        Tally {
            // A map never holds more than `usize::MAX` entries, which fits in a u64.
            voters: u64::try_from(counted.len()).unwrap_or(u64::MAX),
            weight: counted.values().map(|&(_, weight)| weight).sum(),
        }
    }
}

impl Candidate {
    /// A candidate whose support is already counted (one vote per voter).
    pub fn counted(
        hash: Hash32,
        assertion: Assertion,
        vote_count: u64,
        vote_weight: WeightSum,
    ) -> Candidate {
        Candidate {
            hash,
            assertion,
            vote_count,
            vote_weight,
        }
    }

    /// A candidate supported by raw `votes`, which may repeat voters and include votes for other
    /// assertions; see [`Tally::of_votes`] for which votes count.
    pub fn from_votes(hash: Hash32, assertion: Assertion, votes: &[Vote]) -> Candidate {
        let tally = Tally::of_votes(&hash, votes);
        Candidate::counted(hash, assertion, tally.voters, tally.weight)
    }

    /// The assertion's timestamp, the recency key of every lens.
    pub fn timestamp_ms(&self) -> u64 {
        self.assertion.timestamp_ms
    }

    /// What a lens ranks this candidate by.
    pub fn standing(&self) -> Standing {
        Standing {
            hash: self.hash,
            timestamp_ms: self.assertion.timestamp_ms,
            lifecycle: self.assertion.lifecycle,
            vote_count: self.vote_count,
            vote_weight: self.vote_weight,
        }
    }
}

/// A candidate as a lens ranks it and a query answer lists it: its identity hash, the facts of
/// its assertion the lenses and filters read, and its counted support (one vote per voter).
///
/// Small and `Copy` on purpose: a query ranks thousands of these from one index scan and shares
/// the ranking between answers, where a [`Candidate`] would carry each assertion's strings and
/// signatures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Standing {
    /// The assertion's identity hash.
    pub hash: Hash32,
    /// The assertion's `timestamp_ms`.
    pub timestamp_ms: u64,
    /// The assertion's lifecycle.
    pub lifecycle: Lifecycle,
    /// Distinct voters counted.
    pub vote_count: u64,
    /// Sum of the counted votes' weights (one vote per voter).
    pub vote_weight: WeightSum,
}

/// What a lens reads of what it ranks: implemented by [`Candidate`] and [`Standing`], so each
/// lens states its order once (`compare` and `compare_standings` call the same function).
pub(crate) trait LensInput {
    fn hash(&self) -> &Hash32;
    fn timestamp_ms(&self) -> u64;
    fn vote_weight(&self) -> WeightSum;
}

impl LensInput for Candidate {
    fn hash(&self) -> &Hash32 {
        &self.hash
    }

    fn timestamp_ms(&self) -> u64 {
        self.assertion.timestamp_ms
    }

    fn vote_weight(&self) -> WeightSum {
        self.vote_weight
    }
}

impl LensInput for Standing {
    fn hash(&self) -> &Hash32 {
        &self.hash
    }

    fn timestamp_ms(&self) -> u64 {
        self.timestamp_ms
    }

    fn vote_weight(&self) -> WeightSum {
        self.vote_weight
    }
}
