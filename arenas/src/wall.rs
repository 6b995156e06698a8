//! Real time, for how fast the simulator ran and nothing else: never read inside a world's
//! decisions, never fingerprinted.

use std::time::Instant;

/// Now, on the machine's monotonic clock.
#[expect(
    clippy::disallowed_methods,
    reason = "sim speed is wall-clock by definition; never fingerprinted"
)]
pub fn now() -> Instant {
    Instant::now()
}
