//! The clock seam.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// What [`Clock::sleep`] returns: a boxed future, so the trait stays object-safe.
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Wall and monotonic time. In simulation both are virtual and wall time may be skewed, drift or
/// jump (even backwards), so the engine must never assume wall time is monotonic.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// Milliseconds since the Unix epoch, as this node believes it to be.
    fn wall_ms(&self) -> u64;
    /// Time since an arbitrary fixed origin; never goes backwards. Used for latency and timeouts.
    fn monotonic(&self) -> Duration;
    /// Waits `duration` of this clock's monotonic time. Every engine timer (back-off, waits)
    /// goes through here: a simulator's time need not run at the scheduler's rate (StemeDB's
    /// runs one scheduler millisecond per simulated microsecond), so a bare `tokio::time::sleep`
    /// would wait a thousand times too little there.
    fn sleep(&self, duration: Duration) -> Sleep;
}
