//! The write-ahead log.
//!
//! Records (format v2, see [`record`]) live in segment files `wal-{base_offset:020}.seg`; a global
//! offset (the byte position in the logical log) addresses every record. One [`Wal`] writer per
//! directory (enforced by a lock file) appends with group commit and acknowledges a record only
//! once `sync_data` made it durable; any number of [`WalReader`]s read by offset.
//!
//! Fault model in one place (each file's header says which part it defends against):
//! - crash at any point: unsynced writes kept, dropped or torn; unsynced directory entries lost
//!   (`recovery.rs` tells a torn tail from mid-log damage; `active.rs` syncs a new segment's
//!   directory entry before acknowledging anything in it);
//! - bit rot in synced data (`recovery.rs` quarantines it, `quarantine.rs` remembers it,
//!   `reader.rs` skips it);
//! - fsync failure (`active.rs`: fail closed, never retry);
//! - ENOSPC and other write errors (`active.rs`: cut the partial batch back, keep going);
//! - a torn header claiming an absurd length (`record.rs`: checked before allocating);
//! - cancelled appenders and a second writer (`commit.rs`, `writer.rs`).

mod active;
mod commit;
mod durable;
mod error;
mod quarantine;
mod reader;
pub mod record;
mod recovery;
mod scan;
mod segment;
mod writer;

pub use durable::DurableEnd;
pub use error::{FailCause, RecordDefect, WalError};
pub use quarantine::{QuarantinedRange, QUARANTINE_FILE_NAME, QUARANTINE_RANGES_MAX};
pub use reader::{ReadOutcome, WalReader, WalRecord};
pub use record::{RECORD_ALIGN_BYTES, RECORD_HEADER_BYTES, RECORD_PAYLOAD_BYTES_MAX};
pub use recovery::{Quarantined, RecoveryReport, TornTail};
pub use segment::{parse_segment_name, segment_name};
pub use writer::{
    Wal, WalOptions, BATCH_BYTES_MAX_DEFAULT, LOCK_FILE_NAME, SEGMENT_BYTES_MAX_DEFAULT,
};
