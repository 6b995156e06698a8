//! Crashes aimed at disk events (see [`CrashAim`]).
//!
//! The disk notes each event as the call that causes it acts. An armed aim counts the events of
//! its kind from its first call on; at the `nth` it moves the planned strike (power loss or
//! process kill) to `after_calls` calls later. Until then the strike stays planned at the end of
//! the aim's window, so an event that never comes still gives the plan its crash.

use super::{DiskState, SimDisk};
use crate::plan::{CrashAim, CrashKind, DiskEvent};

/// An aim waiting for its event.
#[derive(Clone, Copy, Debug)]
pub(super) struct ArmedAim {
    aim: CrashAim,
    kind: CrashKind,
    /// Events at calls before this one do not count.
    from_op: u64,
    /// Events of the aimed kind still to come before the strike is set (at least 1).
    remaining: u32,
}

/// How an aimed crash ended up striking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AimOutcome {
    /// At its event: the strike was moved there.
    AtEvent(DiskEvent),
    /// Its event did not come within the window; it struck at the window's end.
    Fallback,
}

impl SimDisk {
    /// Plans a crash of `kind` aimed at `aim`, counting events from call `from_op`, striking at
    /// call `fallback_op` if the event has not come by then. Replaces any planned strike.
    pub fn aim_crash(&self, kind: CrashKind, aim: CrashAim, from_op: u64, fallback_op: u64) {
        let mut s = self.state();
        s.aim = Some(ArmedAim {
            aim,
            kind,
            from_op,
            remaining: aim.nth.max(1),
        });
        s.aim_outcome = None;
        s.plan_strike(kind, fallback_op);
    }

    /// How the latest aimed crash struck (taken: `None` until it struck, and after).
    pub fn take_aim_outcome(&self) -> Option<AimOutcome> {
        let mut s = self.state();
        match s.aim_outcome.take() {
            Some(outcome) => Some(outcome),
            // Still armed, but struck anyway: the fallback strike came first.
            None if s.aim.is_some() && !(s.powered && s.process_alive) => {
                s.aim = None;
                Some(AimOutcome::Fallback)
            }
            None => None,
        }
    }
}

impl DiskState {
    /// The crash of `kind` strikes at call `op` (at once if that call has begun already).
    pub(super) fn plan_strike(&mut self, kind: CrashKind, op: u64) {
        match kind {
            CrashKind::PowerLoss => {
                self.power_off_at_op = Some(op);
                if self.stats.ops >= op {
                    self.powered = false;
                }
            }
            CrashKind::ProcessKill => {
                self.kill_at_op = Some(op);
                if self.stats.ops >= op {
                    self.process_alive = false;
                }
            }
        }
    }

    /// The call now acting caused `event`. Calls begin before they act (and may sleep in
    /// between), so "the next call" is the next one to begin: number `stats.ops`.
    pub(super) fn note_event(&mut self, event: DiskEvent) {
        let this_op = self.stats.ops.saturating_sub(1);
        let Some(mut armed) = self.aim else { return };
        if armed.aim.event != event || this_op < armed.from_op {
            return;
        }
        armed.remaining -= 1;
        if armed.remaining > 0 {
            self.aim = Some(armed);
            return;
        }
        self.aim = None;
        self.aim_outcome = Some(AimOutcome::AtEvent(event));
        let strike = self.stats.ops + u64::from(armed.aim.after_calls);
        let planned = match armed.kind {
            CrashKind::PowerLoss => self.power_off_at_op,
            CrashKind::ProcessKill => self.kill_at_op,
        };
        self.plan_strike(armed.kind, planned.map_or(strike, |p| p.min(strike)));
        self.log_fault(format!(
            "aimed {}: event {} at call {this_op}; strikes at call {strike}",
            match armed.kind {
                CrashKind::PowerLoss => "power loss",
                CrashKind::ProcessKill => "process kill",
            },
            event.name(),
        ));
    }
}
