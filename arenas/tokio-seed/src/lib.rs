//! Tokio's thread RNG, seeded, for the madsim world.
//!
//! Under madsim the engine's `tokio::sync` is still real tokio's, and real tokio draws from a
//! per-thread RNG: a watch channel's waiter picks one of eight notify lists with it, so the
//! order in which one send wakes two waiters (and so which one madsim's executor polls first)
//! follows that RNG. Unseeded, tokio seeds it lazily per thread from a process-wide counter, so a
//! seed's run depended on how many threads had drawn before it in the process. Found by logging
//! every poll of one seed run alone and after another: the same polls at the same virtual
//! instants, two tasks swapped.
//!
//! Seeding needs `--cfg tokio_unstable` (tokio's `RngSeed`), which the madsim build sets; in any
//! other build this crate is empty.

/// Runs `f` with tokio's thread RNG seeded from `seed`, then restores the RNG it had.
///
/// `f` runs inside one poll of a tokio `block_on`, so it is unconstrained (tokio's co-operative
/// budget would run out after 128 sync operations and make every later one yield). It goes
/// through the runtime handle's `block_on`, which enters the runtime (that is what seeds the
/// RNG) without installing its scheduler: `tokio::task::yield_now`, which madsim re-exports,
/// hands its wake-up to the current scheduler when there is one, and this one would never run
/// again while `f` runs.
///
/// # Panics
/// If the (driverless, current-thread) runtime cannot be built, or inside another tokio runtime.
#[cfg(tokio_unstable)]
pub fn with_seeded_rng<R>(seed: u64, f: impl FnOnce() -> R) -> R {
    let outer = tokio::runtime::Builder::new_current_thread()
        .rng_seed(tokio::runtime::RngSeed::from_bytes(&seed.to_le_bytes()))
        .build();
    match outer {
        Ok(outer) => outer
            .handle()
            .block_on(tokio::task::unconstrained(async { f() })),
        Err(e) => panic!("cannot build the runtime that seeds tokio's RNG: {e}"),
    }
}
