//! The I/O and clock seams the whole engine is compiled against.
//!
//! - [`Vfs`] / [`VfsFile`]: files and directories, with explicit durability (`sync_data`,
//!   `sync_dir`). [`RealVfs`] is std::fs; `stemedb_faults::SimDisk` is the simulated disk.
//! - [`Clock`]: wall time (may be skewed in simulation) and monotonic time (latency).
//!   [`RealClock`] is the system clock; `stemedb_faults::SimClock` is virtual.

mod clock;
#[cfg(feature = "conformance")]
pub mod conformance;
mod real_clock;
mod real_vfs;
mod vfs;

pub use clock::{Clock, Sleep};
pub use real_clock::RealClock;
pub use real_vfs::RealVfs;
pub use vfs::{
    is_storage_full, read_to_end, storage_full_error, OpenMode, Vfs, VfsExt, VfsFile, VfsLock,
    ENOSPC_ERRNO,
};
