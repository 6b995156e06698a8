//! The clock rule at submit, restated from the engine's documentation rather than read from its
//! `Limits`: a record dated more than five minutes ahead of the engine's wall clock is refused
//! with `TimestampInFuture`, and any other date (however far in the past) passes this rule.
//!
//! The rule is judged against the engine's clock as it reads at the moment `submit` validates:
//! the harness reads the same clock immediately before calling it, with nothing awaited in
//! between, so a clock jump (cortex, chaos) can never fall between the two readings. Ingest never
//! judges a timestamp (`ingest/validate.rs`): a record accepted at submit stays accepted whatever
//! the clock does later.
//!
//! What this catches: a rule dropped for one record kind, a bound off by one, a tolerance in the
//! wrong unit, the rule judged against monotonic time or against the client's clock, a refusal
//! of a record dated in the past. Before foreign clocks, every record was stamped by the
//! engine's own clock and none of these could show.

/// The tolerance for timestamps ahead of the engine's wall clock, in ms (the engine documents
/// five minutes: `model::limits::FUTURE_SKEW_MS_MAX`). Restated, so a changed constant is a
/// finding rather than a new truth.
pub const FUTURE_SKEW_MS_MAX: u64 = 5 * 60 * 1000;

/// What the clock rule says of a record dated `timestamp_ms` when the engine's clock reads
/// `engine_wall_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClockVerdict {
    /// Not too far ahead: the clock rule must not refuse it.
    Passes,
    /// Further ahead than the tolerance: `submit` must refuse it with `TimestampInFuture` and
    /// store nothing.
    TooFarAhead,
}

pub fn verdict(timestamp_ms: u64, engine_wall_ms: u64) -> ClockVerdict {
    if timestamp_ms > engine_wall_ms.saturating_add(FUTURE_SKEW_MS_MAX) {
        ClockVerdict::TooFarAhead
    } else {
        ClockVerdict::Passes
    }
}

/// The date a record carries (every record kind has one).
pub fn timestamp_ms(record: &stemedb::model::Record) -> u64 {
    use stemedb::model::Record;
    match record {
        Record::Assertion(a) => a.timestamp_ms,
        Record::Vote(v) => v.timestamp_ms,
        Record::Evidence(e) => e.timestamp_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bound_itself_passes_and_one_past_it_does_not() {
        let now = 1_000_000;
        assert_eq!(verdict(now + FUTURE_SKEW_MS_MAX, now), ClockVerdict::Passes);
        assert_eq!(
            verdict(now + FUTURE_SKEW_MS_MAX + 1, now),
            ClockVerdict::TooFarAhead
        );
        assert_eq!(verdict(0, now), ClockVerdict::Passes);
        assert_eq!(verdict(u64::MAX, u64::MAX), ClockVerdict::Passes);
    }

    #[test]
    fn the_restated_tolerance_is_the_documented_one() {
        // Not a tautology: if the engine's constant changes, this names the disagreement before a
        // sweep does.
        assert_eq!(FUTURE_SKEW_MS_MAX, stemedb::model::FUTURE_SKEW_MS_MAX);
    }
}
