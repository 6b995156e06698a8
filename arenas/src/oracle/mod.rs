//! Reference models: plain, obviously-correct code that says what the engine's state must be.
//!
//! - [`ingest`]: the KV a correct ingest worker leaves after applying a log, and a comparison
//!   that names the first difference.
//! - [`lens`]: the answer a correct lens gives over an ingested set.
//! - [`clock`]: the clock rule at submit (which dates the engine must refuse).
//! - [`counters`]: what a fault-free process's ingest and query counters must say.
//! - [`spec`]: the formats and bounds as the design states them (payloads, signing messages,
//!   identities, storage keys, validation bounds), restated without the engine's codecs.
//! - [`log`]: what the harness knows of the log (submitted, acknowledged, observed) and the
//!   durability checks after every recovery.

pub mod audit;
pub mod clock;
pub mod counters;
pub mod coverage;
pub mod explain;
pub mod ingest;
pub mod lens;
pub mod log;
pub mod spec;
pub mod validity;
