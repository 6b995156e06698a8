//! The clock seam.

use std::fmt;
use std::time::Duration;

/// Wall and monotonic time. In simulation both are virtual and wall time may be skewed, drift or
/// jump (even backwards), so the engine must never assume wall time is monotonic.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// Milliseconds since the Unix epoch, as this node believes it to be.
    fn wall_ms(&self) -> u64;
    /// Time since an arbitrary fixed origin; never goes backwards. Used for latency and timeouts.
    fn monotonic(&self) -> Duration;
}
