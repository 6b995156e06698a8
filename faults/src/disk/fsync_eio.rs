//! A failed fsync. Linux (ext4, XFS, btrfs) marks the pages a failed fsync covered clean whatever
//! the device did with them, so the error is reported once and a retry "succeeds" without writing
//! anything (the PostgreSQL "fsyncgate" lesson). The device may have completed some of the writes
//! before it failed: each covered operation is persisted, dropped or torn as the fault's spec
//! draws, and leaves the pending list either way.
//!
//! None of this is media damage. The covered writes were never acknowledged (the sync failed), so
//! a persisted or torn one is an unacknowledged write a crash could equally have kept or torn,
//! which the oracles already tolerate; acknowledged bytes are untouched.

use std::io;

use super::crash::{settle, CrashReport};
use super::state::{eio, Ino};
use super::DiskState;
use crate::plan::{CrashMode, FsyncEioSpec};
use crate::rng;

impl DiskState {
    pub(super) fn fail_sync(&mut self, ino: Ino, spec: FsyncEioSpec) -> io::Result<()> {
        let inode = self.inode_mut(ino)?;
        let pending = std::mem::take(&mut inode.pending);
        let covered = pending.len();
        let mut fates = CrashReport::default();
        settle(
            &mut inode.durable,
            pending,
            spec.mode,
            &mut rng::from_seed(spec.seed),
            &mut fates,
        );
        // Persisted writes are not added to `recent_syncs`: crash rot models damage to what a
        // sync acknowledged, and nothing here was acknowledged.
        self.stats.fsync_errors += 1;
        let line = match spec.mode {
            // The wording plans from before outcome specs logged, so their traces replay equal.
            CrashMode::DropAll => format!(
                "fsync_eio: inode {ino}: {covered} pending ops dropped, never to be durable"
            ),
            _ => format!(
                "fsync_eio: inode {ino}: of {covered} pending ops {} persisted, {} torn, {} dropped; all marked clean",
                fates.writes_kept + fates.truncations_kept,
                fates.writes_torn,
                fates.writes_dropped + fates.truncations_dropped,
            ),
        };
        self.log_fault(line);
        Err(eio())
    }
}
