//! What one run measured, in simulated time only (wall-clock speed is the CLI's business).

use std::collections::BTreeMap;

use stemedb_reports::{Counts, LatencyHistogram};

/// A workload operation's outcome, as the report counts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OpKind {
    /// Acknowledged records, by kind.
    Assertion,
    Vote,
    Evidence,
    /// An acknowledged hostile submission (one the reference validator accepts: the engine
    /// must then dead-letter or apply it as the replay says).
    Hostile,
    /// A valid record refused (excused only by the plan's faults or a cancelled client).
    Refused,
    HostileRefused,
    SubmitCancelled,
    /// A record dated too far ahead, refused as it must be.
    FutureRefused,
    /// The same record resubmitted after the log failed closed (`host::writer::stays_closed`).
    ClosedProbe,
    Query,
    QueryFailed,
    Materialize,
    MaterializeFailed,
}

impl OpKind {
    /// Its name in reports and in the event log (part of the fingerprint: never rename).
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Assertion => "assertion",
            OpKind::Vote => "vote",
            OpKind::Evidence => "evidence",
            OpKind::Hostile => "hostile",
            OpKind::Refused => "refused",
            OpKind::HostileRefused => "hostile_refused",
            OpKind::SubmitCancelled => "submit_cancelled",
            OpKind::FutureRefused => "future_refused",
            OpKind::ClosedProbe => "closed_probe",
            OpKind::Query => "query",
            OpKind::QueryFailed => "query_failed",
            OpKind::Materialize => "materialize",
            OpKind::MaterializeFailed => "materialize_failed",
        }
    }

    /// The kind of a workload record.
    pub fn of(record: &stemedb::model::Record) -> OpKind {
        use stemedb::model::Record;
        match record {
            Record::Assertion(_) => OpKind::Assertion,
            Record::Vote(_) => OpKind::Vote,
            Record::Evidence(_) => OpKind::Evidence,
        }
    }

    /// Whether the operation submitted a record (which was signed, and which the engine
    /// verifies): what the crypto twin prices.
    pub fn submits(self) -> bool {
        !matches!(
            self,
            OpKind::Query | OpKind::QueryFailed | OpKind::Materialize | OpKind::MaterializeFailed
        )
    }

    pub const ALL: [OpKind; 13] = [
        OpKind::Assertion,
        OpKind::Vote,
        OpKind::Evidence,
        OpKind::Hostile,
        OpKind::Refused,
        OpKind::HostileRefused,
        OpKind::SubmitCancelled,
        OpKind::FutureRefused,
        OpKind::ClosedProbe,
        OpKind::Query,
        OpKind::QueryFailed,
        OpKind::Materialize,
        OpKind::MaterializeFailed,
    ];

    pub fn from_name(name: &str) -> Option<OpKind> {
        OpKind::ALL.into_iter().find(|op| op.name() == name)
    }
}

impl std::fmt::Display for OpKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Default)]
pub struct Metrics {
    pub latencies: BTreeMap<String, LatencyHistogram>,
    pub counts: Counts,
    /// Workload operations completed (acknowledged, refused or answered).
    pub ops: u64,
    pub sim_duration_us: u64,
    /// Passes through each engine fault-handling path (`stemedb::probe`), every probe present.
    pub probes: BTreeMap<&'static str, u64>,
    /// Simulated time the workload was busy (inside bursts; see `Workload::busy`).
    pub busy_sim_us: u64,
    /// The closed-loop capacity phase's measurements, by writer count (see `check::capacity`).
    pub capacity: BTreeMap<u32, stemedb_reports::Capacity>,
}

impl Metrics {
    pub fn record(&mut self, name: &str, latency_us: u64) {
        self.latencies
            .entry(name.to_owned())
            .or_default()
            .record(latency_us);
    }

    pub fn op(&mut self, op: OpKind) {
        self.ops += 1;
        self.counts.add_operation(op.name(), 1);
    }

    pub fn check(&mut self, n: u64) {
        self.counts
            .add_event(stemedb_reports::names::EVENT_INVARIANT_CHECKS, n);
    }
}
