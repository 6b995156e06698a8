//! The bodies of the fuzz targets in `fuzz/` (feature `fuzzing`), as library functions so that a
//! plain `#[test]` replays every committed corpus and regression input on stable
//! (`tests/fuzz_corpus.rs`), and so a crash file re-runs outside cargo-fuzz
//! (`examples/fuzz_replay.rs`).
//!
//! Each body takes any bytes, returns `()`, and panics only on a finding: a property the engine
//! or the harness promises that the input broke. Bad input is never a finding; the code under
//! test must answer it with a typed error.

pub mod inputs;
pub mod keys;
pub mod record;
pub mod sim;
pub mod wal_frame;
pub mod wal_recover;

pub use inputs::inputs;
pub use keys::keys;
pub use record::record;
pub use sim::sim;
pub use wal_frame::wal_frame;
pub use wal_recover::wal_recover;

/// A target's body.
pub type Body = fn(&[u8]);

/// Every target by its cargo-fuzz name (the `fuzz/fuzz_targets/*.rs` files and the folders under
/// `fuzz/corpus/` and `fuzz/regressions/` are named the same).
pub const TARGETS: [(&str, Body); 6] = [
    ("wal_frame", wal_frame),
    ("wal_recover", wal_recover),
    ("record", record),
    ("keys", keys),
    ("inputs", inputs),
    ("sim", sim),
];

/// The body of the target called `name`.
pub fn target(name: &str) -> Option<Body> {
    TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, body)| *body)
}

/// Runs a future to completion on a current-thread runtime, as the engine runs inside a turmoil
/// host (and as `faults/tests` run it). One runtime per thread: building one per input would
/// cost more than most inputs.
pub(crate) fn block_on<F: std::future::Future>(future: F) -> F::Output {
    thread_local! {
        static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a current-thread runtime builds");
    }
    RUNTIME.with(|rt| rt.block_on(future))
}

/// The little-endian `u64` at the front of `data` (missing bytes read as zero), and the rest.
pub(crate) fn take_u64(data: &[u8]) -> (u64, &[u8]) {
    let n = data.len().min(8);
    let mut word = [0u8; 8];
    word[..n].copy_from_slice(&data[..n]);
    (u64::from_le_bytes(word), &data[n..])
}
