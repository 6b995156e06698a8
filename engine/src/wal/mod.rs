//! The write-ahead log.
//!
//! Records (format v3, see [`record`]) live in segment files `wal-{base_offset:020}-{salt:016x}.seg`;
//! a global offset (the byte position in the logical log) addresses every record, and every frame
//! names its own offset and is bound to its segment's random salt, so a frame is believed only
//! where it was written. One [`Wal`] writer per directory (enforced by a lock file) appends with
//! group commit and acknowledges a record only once `sync_data` made it durable; any number of
//! [`WalReader`]s read by offset.
//!
//! Format v2 directories (segments named `wal-{base_offset:020}.seg`, frames without offset or
//! salt) are refused on open with [`WalError::UnsupportedFormat`] naming the file; nothing is
//! changed on disk. There is no in-place upgrade: drain the old log into the KV with a v2 build
//! (ingest to the end), then start a v3 WAL in an empty directory.
//!
//! The offset rule: no record ever gets an offset at or below the ingest cursor handed to
//! recovery (`WalOptions::recovery_start_offset`). If media damage destroyed the log's tail below
//! the cursor, the log continues at the cursor and recovery reports [`TailLost`]; the engine
//! records the lost range as a dead letter.
//!
//! Fault model in one place (each file's header says which part it defends against):
//! - crash at any point: unsynced writes kept, dropped or torn; unsynced directory entries lost
//!   (`recovery.rs` tells a torn tail from mid-log damage; `active.rs` syncs a new segment's
//!   directory entry before acknowledging anything in it; `writer.rs` syncs every directory level
//!   it creates);
//! - bit rot in synced data (`recovery.rs` quarantines it, `quarantine.rs` remembers it,
//!   `reader.rs` skips it), including the log's tail below the ingest cursor (`recovery.rs`);
//! - frames where they were never written: inside a damaged record's payload, misdirected,
//!   copied from another segment or a predecessor (`record.rs`, `segment.rs`, `salt.rs`);
//! - transient bad reads (`scan.rs`: re-read before any verdict);
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
mod salt;
mod scan;
mod segment;
mod writer;

pub use durable::DurableEnd;
pub use error::{FailCause, RecordDefect, WalError};
pub use quarantine::{QuarantinedRange, QUARANTINE_FILE_NAME, QUARANTINE_RANGES_MAX};
pub use reader::{ReadOutcome, WalReader, WalRecord};
pub use record::{
    RECORD_ALIGN_BYTES, RECORD_HEADER_BYTES, RECORD_PAYLOAD_BYTES_MAX, WAL_FORMAT_VERSION,
};
pub use recovery::{Quarantined, RecoveryReport, TailLost, TornTail};
pub use scan::{REREADS_BEFORE_VERDICT, REREADS_MAX};
pub use segment::{parse_segment_name, segment_files, segment_name, SegmentName, WAL_OFFSET_MAX};
pub use writer::{
    Wal, WalOptions, BATCH_BYTES_MAX_DEFAULT, LOCK_FILE_NAME, SEGMENT_BYTES_MAX_DEFAULT,
};
