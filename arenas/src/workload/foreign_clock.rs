//! Records stamped by clocks other than the engine's (`RunConfig::foreign_clock_per_mille`).

use super::*;

/// How far behind a lagging client clock may be: an hour.
const FOREIGN_BEHIND_MS_MAX: u64 = 60 * 60 * 1000;
/// How far ahead of the tolerance a far-future stamp may be: a year.
const FOREIGN_FAR_AHEAD_MS_MAX: u64 = 365 * 24 * 60 * 60 * 1000;

/// The clocks, other than the engine's, that stamp a share of the records
/// (`RunConfig::foreign_clock_per_mille`). Real clients sign with their own clock: behind, ahead,
/// reset, or honest while the server's clock is the wrong one. Each stamp is judged exactly by
/// `oracle::clock` against the engine's reading at submit, so the engine must accept the ones
/// within the tolerance (the bound itself included) and refuse the rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ForeignClock {
    /// True time minus up to an hour: a lagging client (loses recency races it should lose).
    Behind,
    /// True time exactly: refused only while the engine's own clock is far behind (clock faults).
    True,
    /// True time plus up to twice the tolerance: a client running fast.
    Fast,
    /// The engine's reading plus 1 ms to the tolerance: ahead, yet accepted (wins recency).
    AheadWithin,
    /// The engine's reading plus exactly the tolerance: the last date accepted.
    AtBound,
    /// One ms past the bound: the first date refused.
    PastBound,
    /// Up to a year past the bound.
    FarFuture,
    /// The first second after the Unix epoch: a client whose clock was reset.
    Epoch,
}

impl ForeignClock {
    pub(super) const ALL: [ForeignClock; 8] = [
        ForeignClock::Behind,
        ForeignClock::True,
        ForeignClock::Fast,
        ForeignClock::AheadWithin,
        ForeignClock::AtBound,
        ForeignClock::PastBound,
        ForeignClock::FarFuture,
        ForeignClock::Epoch,
    ];

    /// The date this clock stamps, given the engine's wall reading and the simulation's true
    /// wall time.
    pub(super) fn stamp(self, rng: &mut SimRng, engine_wall_ms: u64, true_wall_ms: u64) -> u64 {
        use crate::oracle::clock::FUTURE_SKEW_MS_MAX as SKEW;
        match self {
            ForeignClock::Behind => {
                true_wall_ms.saturating_sub(rng.random_range(1..=FOREIGN_BEHIND_MS_MAX))
            }
            ForeignClock::True => true_wall_ms,
            ForeignClock::Fast => true_wall_ms + rng.random_range(1..=2 * SKEW),
            ForeignClock::AheadWithin => engine_wall_ms + rng.random_range(1..SKEW),
            ForeignClock::AtBound => engine_wall_ms + SKEW,
            ForeignClock::PastBound => engine_wall_ms + SKEW + 1,
            ForeignClock::FarFuture => {
                engine_wall_ms + SKEW + rng.random_range(2..=FOREIGN_FAR_AHEAD_MS_MAX)
            }
            ForeignClock::Epoch => rng.random_range(0..1_000),
        }
    }
}
