//! Ingest: a worker that tails the WAL from the durable cursor and applies each record to the KV
//! store exactly once.
//!
//! - `validate.rs`: what ingest accepts (every rule but the clock one) and why it rejects.
//! - `apply.rs`: one record -> the KV writes that apply it (value, index entries, counters).
//! - `worker.rs`: the loop: read a run of records, plan each, commit them with the cursor in ONE
//!   batch, flush, truncate.
//! - `handle.rs`: spawning the worker, its cursor, stats and stop signal.
//! - `lost.rs`: the dead letter for log lost below the cursor.
//!
//! The offset rule: ingest never reads below its durable cursor, and the engine never reuses an
//! offset at or below it for a new record. When WAL recovery finds the log ending below the cursor
//! (media damage took acknowledged, already ingested records), the WAL continues at the cursor,
//! and before ingest starts the engine durably records a `lost_below_cursor` dead letter for the
//! lost range (keyed by where the valid log ends). The cursor does not move for it: nothing below
//! it is ingested again, and nothing at or above it was lost, so exactly-once holds.
//!
//! Stored formats (the query engine reads exactly these):
//! - `H:` assertion key -> the WAL payload (`Record::encode()` of the assertion);
//! - `S:` / `SP:` index keys -> empty;
//! - `V:` vote key -> the WAL payload of the first vote by that voter on that assertion;
//! - `VC:` -> `u64` big-endian count of distinct voters; `VW:` -> `WeightSum::to_be_bytes()`;
//! - `E:` evidence key -> the WAL payload of the evidence;
//! - `Q:` WAL offset -> UTF-8 reason ([`Rejection`] rendered);
//! - `INGEST_CURSOR_KEY` -> `u64` big-endian offset of the next record to ingest.

mod apply;
mod backoff;
mod error;
mod handle;
mod lost;
mod options;
mod stats;
mod validate;
mod worker;

pub use apply::{read_counters, read_cursor};
pub use error::IngestError;
pub use handle::{IngestHandle, IngestShared, IngestStopError};
pub use lost::record_tail_lost;
pub use options::{
    IngestOptions, BACKOFF_MAX_DEFAULT, BACKOFF_MIN_DEFAULT, BATCH_BYTES_MAX_DEFAULT,
    BATCH_RECORDS_MAX_DEFAULT, FLUSH_EVERY_RECORDS_DEFAULT, VERIFY_THREADS_DEFAULT,
};
pub use stats::IngestStats;
pub use validate::{
    decode_for_ingest, decode_for_ingest_with, decode_run, ingest_now_wall_ms, Rejection,
    DECODE_RECORDS_PER_THREAD_MIN,
};
