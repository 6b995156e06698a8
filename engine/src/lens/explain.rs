//! Human-readable explanations of a resolution: which rule decided, with the values compared.

use std::fmt::Write as _;

use super::{short_hash, LensKind, Rule, Standing};
use crate::model::{WeightSum, WEIGHT_MICROS_PER_UNIT};

/// Whole units with six decimals, like `Weight`'s `Display` (a sum can exceed `u64`).
fn units(sum: WeightSum) -> String {
    let per_unit = u128::from(WEIGHT_MICROS_PER_UNIT);
    format!("{}.{:06}", sum.micros() / per_unit, sum.micros() % per_unit)
}

/// "3 candidates" / "1 candidate".
fn count(n: usize) -> String {
    format!("{n} candidate{}", if n == 1 { "" } else { "s" })
}

/// One candidate's key values as the lens sees them.
fn describe(lens: LensKind, c: &Standing) -> String {
    match lens {
        LensKind::Recency => format!("{} (timestamp {} ms)", short_hash(&c.hash), c.timestamp_ms),
        LensKind::VoteAwareConsensus => format!(
            "{} (weight {} from {} distinct voter{}, timestamp {} ms)",
            short_hash(&c.hash),
            units(c.vote_weight),
            c.vote_count,
            if c.vote_count == 1 { "" } else { "s" },
            c.timestamp_ms
        ),
    }
}

/// The explanation of `winner` beating `runner_up` by `rule`, among `n` candidates: which rule
/// decided, with the values it compared.
pub(crate) fn explain_pair(
    lens: LensKind,
    rule: Rule,
    winner: Option<&Standing>,
    runner_up: Option<&Standing>,
    n: usize,
) -> String {
    let (winner, runner_up) = match (winner, runner_up) {
        (None, _) => return format!("{lens}: no candidate matched the query and lifecycle filter"),
        (Some(w), None) => {
            return format!("{lens}: {} wins as the only candidate", describe(lens, w))
        }
        (Some(w), Some(ru)) => (w, ru),
    };
    let mut out = format!(
        "{lens}: {} beats runner-up {} among {}: ",
        describe(lens, winner),
        describe(lens, runner_up),
        count(n)
    );
    // `write!` into a String cannot fail; the result is ignored on purpose.
    let _ = match rule {
        Rule::Weight => write!(
            out,
            "decided by aggregate weight of distinct voters ({} > {})",
            units(winner.vote_weight),
            units(runner_up.vote_weight)
        ),
        Rule::Recency => {
            let tied = match lens {
                LensKind::VoteAwareConsensus => {
                    format!("weights tied at {}; ", units(winner.vote_weight))
                }
                LensKind::Recency => String::new(),
            };
            write!(
                out,
                "{tied}decided by recency (timestamp {} ms > {} ms)",
                winner.timestamp_ms, runner_up.timestamp_ms
            )
        }
        Rule::HashTieBreak => {
            let weight = match lens {
                LensKind::VoteAwareConsensus => {
                    format!("weight {} and ", units(winner.vote_weight))
                }
                LensKind::Recency => String::new(),
            };
            write!(
                out,
                "tied on {weight}timestamp {} ms; decided by the hash tie-break (the greater \
                 identity hash wins: {} > {})",
                winner.timestamp_ms, winner.hash, runner_up.hash
            )
        }
        // A resolution with a runner-up is always decided by a comparison rule.
        Rule::NoCandidates | Rule::OnlyCandidate => write!(out, "decided by {rule:?}"),
    };
    out
}
