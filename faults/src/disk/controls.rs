//! What the run driver and tests do to a [`SimDisk`] from outside the engine: power and process
//! deaths, injected and armed faults, healing, operator repairs, capacity.

use super::*;

impl SimDisk {
    /// Power fails at call number `op` (0-based, see [`SimDisk::ops`]): that call and every later
    /// one fail with EIO until [`SimDisk::crash`] restores power.
    pub fn power_off_at_op(&self, op: u64) {
        self.state()
            .plan_strike(crate::plan::CrashKind::PowerLoss, op);
    }

    /// Whether the power is still on.
    pub fn is_powered(&self) -> bool {
        self.state().powered
    }

    /// Power loss and restart: applies `spec` to everything not yet durable, kills every open
    /// handle and lock, and restores power.
    pub fn crash(&self, spec: &CrashSpec) -> CrashReport {
        self.state().crash(spec)
    }

    /// The process dies at call number `op` (0-based, see [`SimDisk::ops`]): that call and every
    /// later one fail with EIO until [`SimDisk::kill_process`] executes the kill.
    pub fn kill_process_at_op(&self, op: u64) {
        self.state()
            .plan_strike(crate::plan::CrashKind::ProcessKill, op);
    }

    /// Whether no planned process kill has struck since the last executed one.
    pub fn is_process_alive(&self) -> bool {
        self.state().process_alive
    }

    /// The process dies and a new one may start: every open handle and lock dies, and nothing
    /// else changes (the page cache outlives the process, so pending writes and entries stay
    /// pending and visible).
    pub fn kill_process(&self) {
        self.state().kill_process();
    }

    /// Arms a fault now (as if the plan scheduled it at the current operation).
    pub fn inject(&self, fault: DiskFault) {
        self.state().fire(fault);
    }

    /// Faults stop: drops every scheduled and armed fault, lifts the capacity and remaps latent
    /// sectors. What faults already did to the data stays (for the liveness phase of a run).
    pub fn heal(&self) {
        let mut s = self.state();
        s.schedule.clear();
        s.armed_fsync_eio.clear();
        s.armed_read_eio = 0;
        s.armed_read_corrupt.clear();
        s.armed_write_eio.clear();
        s.armed_misdirect.clear();
        s.armed_metadata_eio.clear();
        s.capacity_bytes = None;
        // A power cut or kill still scheduled would strike the fault-free phase.
        s.power_off_at_op = None;
        s.kill_at_op = None;
        s.aim = None;
        for inode in s.inodes.values_mut() {
            inode.bad_sectors.clear();
        }
        s.record(&[b"heal"]);
    }

    /// Faults stop as in [`SimDisk::heal`], and the plan's transient `drain` faults are armed
    /// for the calls that follow: what a healthy disk still does now and then (a read that fails
    /// once, a read that returns wrong bytes once) must not stall a process left to finish by
    /// itself. Arms them once; a second call only heals.
    pub fn heal_for_drain(&self) {
        self.heal();
        let mut s = self.state();
        let drain = std::mem::take(&mut s.drain);
        for fault in drain {
            s.fire_transient(fault, "drain");
        }
    }

    /// Arms `faults` now, for the calls that follow (a restart's first reads, see
    /// `CrashEvent::boot_reads`). Only transient read faults: lasting damage armed here would
    /// strike at no planned call.
    pub fn arm_transient(&self, faults: &[DiskFault]) {
        let mut s = self.state();
        for fault in faults {
            s.fire_transient(fault.clone(), "boot");
        }
    }

    /// An operator's repair: every latent sector error is remapped (reads of those sectors work
    /// again and return what the medium held); every other fault stays scheduled.
    pub fn remap_bad_sectors(&self) -> usize {
        let mut s = self.state();
        let mut remapped = 0;
        for inode in s.inodes.values_mut() {
            remapped += inode.bad_sectors.len();
            inode.bad_sectors.clear();
        }
        s.record(&[b"remap_bad_sectors"]);
        remapped
    }

    /// Sets or lifts an absolute capacity (ENOSPC beyond it).
    pub fn set_capacity(&self, bytes: Option<u64>) {
        self.inject(DiskFault::SetCapacity { bytes });
    }

    /// Flips one bit of synced data; returns false if the file has no durable byte there.
    pub fn flip_bit(&self, path: &Path, byte: u64, bit: u8) -> bool {
        self.state().flip_bit_at(path, byte, bit)
    }

    /// Counts every call from now on in `watch`, which panics past `CALLS_PER_STEP_MAX` calls
    /// within one step of the world (see `crate::spin`).
    pub fn watch_spin(&self, watch: crate::spin::SpinWatch) {
        self.state().spin = Some(watch);
    }
}
