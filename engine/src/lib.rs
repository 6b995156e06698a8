//! StemeDB: a write-ahead log, a KV store, an ingest worker and a lens query engine over signed
//! assertions and votes.
//!
//! Every byte of I/O and every reading of time goes through the seams in [`io`], so the same engine
//! runs on the real file system and system clock in production and on a simulated disk and virtual
//! clock inside the deterministic simulator (crate `stemedb-faults` / `stemedb-arenas`).

#[cfg(all(feature = "http", not(madsim)))]
pub mod api;
pub mod engine;
pub mod ingest;
pub mod io;
pub mod lens;
pub mod metrics;
pub mod model;
pub mod probe;
pub mod query;
pub mod storage;
pub mod wal;

pub use engine::{Engine, EngineError, EngineOptions};
