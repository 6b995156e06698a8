//! What a run tolerates, from its plan's events alone (never from its arena's name).

use stemedb_faults::FaultPlan;

/// What a run's plan excuses, from its events alone. Slow I/O and clock faults excuse nothing:
/// they make the engine late or its dates wrong, never its calls fail. Any event that makes a
/// disk or KV call fail, damages media or ends a process excuses failed calls, refused submits,
/// failed queries and opens while faults are active, and lost audit records (a crash, or the
/// restart that follows a failed-closed log, loses what the KV had not flushed); and a run with
/// such events ends by healing, draining and restarting rather than converging in the process
/// that lived through them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Excuses {
    failing: bool,
}

impl Excuses {
    pub fn of(plan: &FaultPlan) -> Self {
        Self {
            failing: !plan.disk.is_empty()
                || !plan.kv.is_empty()
                || !plan.crashes.is_empty()
                || !plan.drain.is_empty(),
        }
    }

    /// Whether anything of the plan can make a call fail: with none, every call must succeed.
    pub fn any(self) -> bool {
        self.failing
    }

    /// A valid submit may be refused, a query or an open may fail (while faults are active).
    pub fn failed_calls(self) -> bool {
        self.failing
    }

    /// Answered queries may lack their audit record (lost with unflushed KV state).
    pub fn lost_audit(self) -> bool {
        self.failing
    }
}
