//! Directory creation. A new directory is an entry in its parent, so like a created file it is
//! durable only once the parent is synced: until then a power loss may lose it, and with it
//! everything inside, however well synced (ext4 and XFS journal the entry with the parent; the
//! ALICE study found applications that forget this). A process kill loses nothing.

use std::io;
use std::path::Path;

use super::state::{split, Dir, DirOp};
use super::DiskState;

impl DiskState {
    /// `mkdir -p`: every missing level becomes a pending entry operation in its parent.
    pub(super) fn create_dir_all(&mut self, path: &Path) -> io::Result<()> {
        let missing: Vec<&Path> = path
            .ancestors()
            .take_while(|a| !self.dirs.contains_key(*a))
            .collect();
        // Outermost first, so each level's parent exists when its entry is added.
        for dir in missing.into_iter().rev() {
            let (parent, name) = split(dir)?;
            self.dirs.insert(dir.to_path_buf(), Dir::default());
            self.dirs
                .get_mut(&parent)
                .expect("an ancestor exists or was created just before")
                .pending
                .push(DirOp::Mkdir { name });
        }
        Ok(())
    }

    /// Whether `dir` would exist after a power loss that drops everything pending.
    pub(super) fn durably_reachable(&self, dir: &Path) -> bool {
        let Some(parent) = dir.parent() else {
            // The roots exist before any disk call and cannot be lost.
            return self.dirs.contains_key(dir);
        };
        let Some(name) = dir.file_name().and_then(|n| n.to_str()) else {
            return false;
        };
        self.dirs
            .get(parent)
            .is_some_and(|d| d.durable_subdirs.contains(name))
            && self.durably_reachable(parent)
    }

    /// After a power loss: drops every directory (and its entries) no durable entry reaches.
    /// Returns how many vanished.
    pub(super) fn drop_unreachable_dirs(&mut self) -> u64 {
        let lost: Vec<_> = self
            .dirs
            .keys()
            .filter(|d| !self.durably_reachable(d))
            .cloned()
            .collect();
        for dir in &lost {
            self.dirs.remove(dir);
        }
        lost.len() as u64
    }
}
