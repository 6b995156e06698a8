//! Lenses: rules that pick one winner among competing assertions about the same thing.
//!
//! A lens is a strict total order over candidates ([`Lens::compare`]): two candidates with
//! different identity hashes never compare equal, because the last rule of every lens is a
//! hash tie-break. So the winner depends only on the candidates' contents, never on the order
//! they arrived in, were stored in, or are iterated in.
//!
//! - [`RecencyLens`]: the latest `timestamp_ms` wins; on a tie the greater identity hash wins.
//! - [`VoteAwareConsensusLens`]: the highest aggregate weight of distinct voters wins; then the
//!   latest timestamp; then the greater identity hash.
//!
//! "Greater hash wins" is arbitrary but fixed: hashes are uniformly distributed, so nobody can
//! aim for it without grinding blake3, and it makes the order total.
//!
//! A lens reads only a candidate's hash, timestamp and counted weight, so it ranks
//! [`Standing`]s (those facts without the assertion's content: what a query reads from its
//! index) in the same order as [`Candidate`]s ([`Lens::compare_standings`]); each lens states
//! its order once, for both.

mod candidate;
mod consensus;
mod explain;
mod recency;

use std::cmp::Ordering;
use std::fmt;

use candidate::LensInput;
pub use candidate::{Candidate, Standing, Tally};
pub use consensus::VoteAwareConsensusLens;
pub use recency::RecencyLens;

/// Which rule of a lens separated the winner from the runner-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    /// Nothing to choose from.
    NoCandidates,
    /// A single candidate wins by default.
    OnlyCandidate,
    /// Higher aggregate vote weight (vote-aware consensus).
    Weight,
    /// Later `timestamp_ms`.
    Recency,
    /// Everything else tied: the greater identity hash.
    HashTieBreak,
}

impl Rule {
    /// Every rule, in tag order.
    pub const ALL: [Rule; 5] = [
        Rule::NoCandidates,
        Rule::OnlyCandidate,
        Rule::Weight,
        Rule::Recency,
        Rule::HashTieBreak,
    ];

    /// A stable tag for stored audit records (explicit, so reordering the enum changes nothing).
    pub const fn tag(self) -> u8 {
        match self {
            Rule::NoCandidates => 1,
            Rule::OnlyCandidate => 2,
            Rule::Weight => 3,
            Rule::Recency => 4,
            Rule::HashTieBreak => 5,
        }
    }

    /// The rule with tag `tag`, if any.
    pub fn from_tag(tag: u8) -> Option<Rule> {
        Rule::ALL.into_iter().find(|r| r.tag() == tag)
    }
}

/// The lenses a query can ask for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LensKind {
    /// [`RecencyLens`].
    Recency,
    /// [`VoteAwareConsensusLens`], the default: it is the lens that resists a lone fresh claim.
    #[default]
    VoteAwareConsensus,
}

impl LensKind {
    /// Every lens kind, in tag order.
    pub const ALL: [LensKind; 2] = [LensKind::Recency, LensKind::VoteAwareConsensus];

    /// The lens implementing this kind.
    pub fn lens(self) -> &'static dyn Lens {
        match self {
            LensKind::Recency => &RecencyLens,
            LensKind::VoteAwareConsensus => &VoteAwareConsensusLens,
        }
    }

    /// Human-readable name, used in explanations and logs.
    pub const fn name(self) -> &'static str {
        match self {
            LensKind::Recency => "recency",
            LensKind::VoteAwareConsensus => "vote-aware consensus",
        }
    }

    /// A stable tag for stored audit records.
    pub const fn tag(self) -> u8 {
        match self {
            LensKind::Recency => 1,
            LensKind::VoteAwareConsensus => 2,
        }
    }

    /// The lens kind with tag `tag`, if any.
    pub fn from_tag(tag: u8) -> Option<LensKind> {
        LensKind::ALL.into_iter().find(|k| k.tag() == tag)
    }
}

impl fmt::Display for LensKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A rule that ranks candidates.
pub trait Lens: Send + Sync + fmt::Debug {
    /// Which lens this is.
    fn kind(&self) -> LensKind;

    /// How `a` ranks against `b` (`Greater`: `a` beats `b`), and the rule that decided it.
    ///
    /// Must be a total order that is `Equal` only for candidates with equal hashes (and then
    /// the rule is [`Rule::HashTieBreak`]).
    fn compare(&self, a: &Candidate, b: &Candidate) -> (Ordering, Rule);

    /// [`Lens::compare`] over standings: the same order, for rankings built without the
    /// assertions' content (a query's index scan).
    fn compare_standings(&self, a: &Standing, b: &Standing) -> (Ordering, Rule);

    /// The winner and runner-up among `candidates`, in one pass.
    ///
    /// Candidates are expected to have distinct hashes; duplicates that rank equal are
    /// interchangeable (the first one seen is reported).
    fn resolve(&self, candidates: &[Candidate]) -> Resolution {
        let beats = |i: usize, j: usize| self.compare(&candidates[i], &candidates[j]).0.is_gt();
        let mut winner: Option<usize> = None;
        let mut runner_up: Option<usize> = None;
        for i in 0..candidates.len() {
            match winner {
                None => winner = Some(i),
                Some(w) if beats(i, w) => {
                    runner_up = Some(w);
                    winner = Some(i);
                }
                Some(_) => {
                    if runner_up.is_none_or(|r| beats(i, r)) {
                        runner_up = Some(i);
                    }
                }
            }
        }
        let rule = match (winner, runner_up) {
            (None, _) => Rule::NoCandidates,
            (Some(_), None) => Rule::OnlyCandidate,
            (Some(w), Some(r)) => self.compare(&candidates[w], &candidates[r]).1,
        };
        Resolution {
            lens: self.kind(),
            winner,
            runner_up,
            rule,
        }
    }

    /// Sorts `candidates` best first (the winner at index 0). Deterministic: the order is total.
    fn rank(&self, candidates: &mut [Candidate]) {
        candidates.sort_by(|a, b| self.compare(b, a).0);
    }

    /// Sorts `standings` best first, like [`Lens::rank`]. Standings with distinct hashes never
    /// compare equal, so an unstable sort gives the one order a stable sort would.
    ///
    /// A provided method is compiled per lens, so behind `&dyn Lens` this is one virtual call
    /// per sort, not one per comparison.
    fn rank_standings(&self, standings: &mut [Standing]) {
        standings.sort_unstable_by(|a, b| self.compare_standings(b, a).0);
    }
}

/// The outcome of [`Lens::resolve`]: indexes into the candidate slice it was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resolution {
    /// The lens that resolved.
    pub lens: LensKind,
    /// The best candidate, if any.
    pub winner: Option<usize>,
    /// The second best, if any: the one the winner had to beat.
    pub runner_up: Option<usize>,
    /// The rule that separated the winner from the runner-up.
    pub rule: Rule,
}

impl Resolution {
    /// A human-readable account of why the winner won: which rule decided, with the values it
    /// compared. `candidates` must be the slice this resolution was computed from.
    pub fn explain(&self, candidates: &[Candidate]) -> String {
        let standing =
            |i: Option<usize>| i.and_then(|i| candidates.get(i)).map(Candidate::standing);
        explain_pair(
            self.lens,
            self.rule,
            standing(self.winner).as_ref(),
            standing(self.runner_up).as_ref(),
            candidates.len(),
        )
    }
}

/// Explains a winner and runner-up the caller already found (see [`Resolution::explain`]).
pub(crate) use explain::explain_pair;

/// The first 8 bytes of a hash in hex: enough to tell candidates apart in an explanation.
pub(crate) fn short_hash(hash: &crate::model::Hash32) -> String {
    hash.to_string().chars().take(16).collect()
}
