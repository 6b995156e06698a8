//! Explanations: what a user reads to learn why the winner won must state the facts of the
//! answer it explains.
//!
//! Must hold for every answered query: the explanation names the lens; the winner by its short
//! hash (the first 16 hex digits) and its timestamp; when there is a runner-up, the runner-up the
//! same way and the number of candidates; when weight decided, both weights in whole units with
//! six decimals. The wording is the engine's own; only the facts are checked, each against the
//! answer (whose ranking, counts and weights the lens oracle checks against the reference).

use stemedb::lens::{LensKind, Rule, Standing};
use stemedb::model::WeightSum;

use crate::oracle::spec::WEIGHT_MICROS_PER_UNIT;

/// A weight as the explanation spells it, from the sum's own field rather than the engine's
/// accessors, so an accessor that lies is seen.
fn units(sum: WeightSum) -> String {
    let (micros, per_unit) = (sum.0, u128::from(WEIGHT_MICROS_PER_UNIT));
    format!("{}.{:06}", micros / per_unit, micros % per_unit)
}

/// The lenses' names as users know them (DESIGN.md), spelled here rather than asked of the
/// engine, so a wrong name is seen.
fn lens_name(lens: LensKind) -> &'static str {
    match lens {
        LensKind::Recency => "recency",
        LensKind::VoteAwareConsensus => "vote-aware consensus",
    }
}

fn short(c: &Standing) -> String {
    c.hash.to_string().chars().take(16).collect()
}

/// The facts `explanation` must state about an answer ranked `ranked` (best first).
pub fn check(
    lens: LensKind,
    rule: Rule,
    ranked: &[Standing],
    explanation: &str,
) -> Result<(), String> {
    let mut facts = vec![lens_name(lens).to_owned()];
    if let Some(winner) = ranked.first() {
        facts.push(short(winner));
        facts.push(format!("{} ms", winner.timestamp_ms));
    }
    if let [winner, runner_up, ..] = ranked {
        facts.push(short(runner_up));
        facts.push(format!("{} ms", runner_up.timestamp_ms));
        let n = ranked.len();
        facts.push(format!("{n} candidate{}", if n == 1 { "" } else { "s" }));
        if rule == Rule::Weight {
            facts.push(units(winner.vote_weight));
            facts.push(units(runner_up.vote_weight));
        }
    }
    match facts.iter().find(|f| !explanation.contains(f.as_str())) {
        None => Ok(()),
        Some(missing) => Err(format!(
            "the explanation {explanation:?} does not state {missing:?} (rule {rule:?}, {} candidates)",
            ranked.len()
        )),
    }
}

#[cfg(test)]
mod tests {
    use stemedb::lens::Candidate;
    use stemedb::model::{Assertion, Hash32, Weight};

    use super::*;

    fn candidate(byte: u8, ts: u64, voters: u64, units: u32) -> Candidate {
        let a = Assertion::new("s".to_owned(), "p".to_owned(), "o".to_owned(), 0.5, ts);
        let weight = WeightSum::ZERO.add(Weight::from_units(units));
        Candidate::counted(Hash32([byte; 32]), a, voters, weight)
    }

    /// The engine's explanation of a weight decision states every fact; one that leaves a fact
    /// out, or states another answer's, does not pass.
    #[test]
    fn an_explanation_states_the_facts_of_its_answer() {
        let lens = LensKind::VoteAwareConsensus;
        let mut ranked = vec![candidate(1, 5_000, 2, 7), candidate(2, 9_000, 1, 3)];
        lens.lens().rank(&mut ranked);
        let resolution = lens.lens().resolve(&ranked);
        assert_eq!(resolution.rule, Rule::Weight);
        let text = resolution.explain(&ranked);
        let standings: Vec<Standing> = ranked.iter().map(Candidate::standing).collect();
        assert_eq!(check(lens, Rule::Weight, &standings, &text), Ok(()));
        let without_weights = text.replace("7.000000", "7");
        assert!(check(lens, Rule::Weight, &standings, &without_weights).is_err());
        let other = vec![candidate(3, 5_000, 2, 7).standing(), standings[1]];
        assert!(check(lens, Rule::Weight, &other, &text).is_err());
        assert!(check(lens, Rule::Weight, &standings, "").is_err());
        let none = LensKind::Recency.lens().resolve(&[]).explain(&[]);
        assert_eq!(
            check(LensKind::Recency, Rule::NoCandidates, &[], &none),
            Ok(())
        );
    }
}
