//! The query engine: reads candidates through the subject indexes, resolves them with a lens,
//! serves fresh-enough materialised views, and audits every query.
//!
//! - [`Query`]: a subject (and optionally a predicate), a lens, a lifecycle filter and how stale
//!   a materialised view may be.
//! - [`QueryEngine::query`] answers with a [`QueryResult`] and writes exactly one audit record
//!   ([`AuditRecord`], key family `A:`).
//! - Views ([`QueryEngine::materialize`]) are per subject+predicate, stamped with the engine's
//!   clock. A view dated in the future of the clock (it went backwards or was skewed) is never
//!   fresh.
//! - Every store read is of one committed state, validated by the ingest cursor (`snapshot.rs`),
//!   so answers and views are the lens over the store at one cursor value even while ingest runs.
//! - A read ranks every candidate from one index scan and reads in full only the candidates an
//!   answer can rest on (`load.rs`); each answer of a read is computed once and shared
//!   (`ranking.rs`), so a view hit costs the same whatever the number of candidates.

mod audit;
mod engine;
mod load;
mod ranking;
mod snapshot;
mod view;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

pub use audit::{AuditError, AuditRecord, AUDIT_FORMAT_VERSION, AUDIT_MAGIC};
pub use engine::QueryEngine;
pub use snapshot::{OPTIMISTIC_ATTEMPTS_MAX, SNAPSHOT_ATTEMPTS_MAX};

use crate::lens::{Candidate, LensKind, Rule, Standing};
use crate::model::{DecodeError, Hash32, Lifecycle, RecordKind};
use crate::storage::keys::{KeyError, KeyFamily};
use crate::storage::KvError;

/// A set of lifecycles a query accepts. The default is [`LifecycleFilter::ACTIVE`].
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LifecycleFilter {
    /// One bit per lifecycle, bit `signing_tag - 1` (stable: the signing tags never change).
    mask: u8,
}

impl LifecycleFilter {
    /// Only [`Lifecycle::Active`]: what a reader normally wants served as fact.
    pub const ACTIVE: LifecycleFilter = LifecycleFilter::none().with(Lifecycle::Active);
    /// Every lifecycle (history, audits).
    pub const ALL: LifecycleFilter = LifecycleFilter::none()
        .with(Lifecycle::Draft)
        .with(Lifecycle::Active)
        .with(Lifecycle::Deprecated)
        .with(Lifecycle::Retracted);

    /// The empty set (matches nothing).
    pub const fn none() -> LifecycleFilter {
        LifecycleFilter { mask: 0 }
    }

    /// The set of exactly `lifecycles`.
    pub fn of(lifecycles: &[Lifecycle]) -> LifecycleFilter {
        lifecycles
            .iter()
            .fold(LifecycleFilter::none(), |f, &l| f.with(l))
    }

    /// This set plus `lifecycle`.
    #[must_use]
    pub const fn with(self, lifecycle: Lifecycle) -> LifecycleFilter {
        LifecycleFilter {
            mask: self.mask | Self::bit(lifecycle),
        }
    }

    /// Whether `lifecycle` is in the set.
    pub const fn contains(self, lifecycle: Lifecycle) -> bool {
        self.mask & Self::bit(lifecycle) != 0
    }

    /// The stored form (audit records).
    pub const fn bits(self) -> u8 {
        self.mask
    }

    /// Inverse of [`LifecycleFilter::bits`]; `None` if a bit names no lifecycle.
    pub const fn from_bits(bits: u8) -> Option<LifecycleFilter> {
        if bits & !Self::ALL.mask != 0 {
            None
        } else {
            Some(LifecycleFilter { mask: bits })
        }
    }

    const fn bit(lifecycle: Lifecycle) -> u8 {
        1 << (lifecycle.signing_tag() - 1)
    }
}

impl Default for LifecycleFilter {
    fn default() -> Self {
        LifecycleFilter::ACTIVE
    }
}

impl fmt::Debug for LifecycleFilter {
    /// The set's members, e.g. `{Active, Deprecated}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries(Lifecycle::ALL.into_iter().filter(|&l| self.contains(l)))
            .finish()
    }
}

/// What to look up and how to resolve it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    /// The subject to look up.
    pub subject: String,
    /// With a predicate the query uses the `SP:` index (and may use a view); without, `S:`.
    pub predicate: Option<String>,
    /// The lens that picks the winner.
    pub lens: LensKind,
    /// Lifecycles the candidates must have.
    pub lifecycles: LifecycleFilter,
    /// `None`: always read the store. `Some(d)`: a subject+predicate view materialised at most
    /// `d` ago by the engine's clock may answer instead.
    pub max_stale: Option<Duration>,
}

impl Query {
    /// Every assertion about `subject`, default lens, Active only, read from the store.
    pub fn subject(subject: impl Into<String>) -> Query {
        Query {
            subject: subject.into(),
            predicate: None,
            lens: LensKind::default(),
            lifecycles: LifecycleFilter::default(),
            max_stale: None,
        }
    }

    /// Assertions about `subject` with `predicate`; otherwise like [`Query::subject`].
    pub fn subject_predicate(subject: impl Into<String>, predicate: impl Into<String>) -> Query {
        Query {
            predicate: Some(predicate.into()),
            ..Query::subject(subject)
        }
    }

    /// With lens `lens`.
    #[must_use]
    pub fn lens(mut self, lens: LensKind) -> Query {
        self.lens = lens;
        self
    }

    /// With lifecycle filter `lifecycles`.
    #[must_use]
    pub fn lifecycles(mut self, lifecycles: LifecycleFilter) -> Query {
        self.lifecycles = lifecycles;
        self
    }

    /// Accepting a view up to `max_stale` old.
    #[must_use]
    pub fn max_stale(mut self, max_stale: Duration) -> Query {
        self.max_stale = Some(max_stale);
        self
    }
}

/// The answer to a [`Query`].
#[derive(Clone, Debug, PartialEq)]
pub struct QueryResult {
    /// The best candidate, if any matched, with its assertion.
    pub winner: Option<Candidate>,
    /// Every candidate that matched the lifecycle filter, best first (the winner at index 0),
    /// as the lens ranked it: hash, timestamp, lifecycle and counted support. The assertions
    /// themselves are not read (only the winner's is returned); fetch one by its hash.
    ///
    /// Shared, not copied: answers of one lens and filter from one read (a view's hits) hold
    /// the same ranking.
    pub candidates: Arc<[Standing]>,
    /// The rule that separated the winner from the runner-up.
    pub rule: Rule,
    /// Why the winner won, and where the data came from.
    pub explanation: String,
    /// Whether a materialised view answered (else the store was read).
    pub used_view: bool,
    /// Sequence number of this query's audit record (`keys::audit_key(audit_seq)`).
    pub audit_seq: u64,
}

/// Counters of how queries were answered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueryStats {
    /// Queries answered or failed.
    pub queries: u64,
    /// Queries a view answered.
    pub view_hits: u64,
    /// Views passed over because they were older than `max_stale`.
    pub stale_views: u64,
    /// Views passed over because they were dated in the future of the clock.
    pub future_dated_views: u64,
    /// Queries that read the store.
    pub slow_paths: u64,
    /// Audit records that could not be written (the query failed with the error).
    pub audit_failures: u64,
    /// Store reads repeated because ingest committed during them (see
    /// [`SNAPSHOT_ATTEMPTS_MAX`]).
    pub snapshot_retries: u64,
    /// Store reads (queries or materialisations) that gave up with
    /// [`QueryError::NoStableSnapshot`].
    pub snapshot_failures: u64,
}

/// A query failed. Bad stored bytes are reported here, never a panic.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The KV store failed.
    #[error(transparent)]
    Kv(#[from] KvError),
    /// An entry under the index prefix is not an index entry of this query: its key does not
    /// parse as one, or its value is not index facts (`storage::index`) stored under that key.
    #[error("corrupt {family:?} index entry (key of {key_len} bytes): {reason}")]
    CorruptIndex {
        family: KeyFamily,
        key_len: usize,
        reason: String,
    },
    /// An index entry points at an assertion that is not stored.
    #[error("index entry points at missing assertion {hash}")]
    DanglingIndex { hash: Hash32 },
    /// The stored assertion bytes do not decode.
    #[error("stored assertion {hash} does not decode: {source}")]
    CorruptAssertion {
        hash: Hash32,
        #[source]
        source: DecodeError,
    },
    /// An `H:` key holds a record of another kind.
    #[error("key of assertion {hash} holds a {kind:?} record")]
    NotAnAssertion { hash: Hash32, kind: RecordKind },
    /// The stored assertion's identity hash is not the hash it is stored under.
    #[error("assertion stored under {stored} has identity hash {actual}")]
    HashMismatch { stored: Hash32, actual: Hash32 },
    /// The stored assertion's subject or predicate is not the one its index entry names.
    #[error("assertion {hash} is indexed under another subject or predicate")]
    IndexMismatch { hash: Hash32 },
    /// An index entry's facts (timestamp, lifecycle, vote count or weight) are not those of the
    /// assertion and counters it indexes.
    #[error("the index entry of {hash} states another {fact} than the store holds")]
    IndexDisagrees { hash: Hash32, fact: &'static str },
    /// A vote counter has the wrong length.
    #[error("{family:?} counter of {hash} is {len} bytes, expected {expected}")]
    CorruptCounter {
        family: KeyFamily,
        hash: Hash32,
        len: usize,
        expected: usize,
    },
    /// A key in the `A:` family is not an audit key.
    #[error("corrupt audit key ({key_len} bytes): {source}")]
    CorruptAuditKey {
        key_len: usize,
        #[source]
        source: KeyError,
    },
    /// A stored audit record does not decode.
    #[error("audit record {seq} does not decode: {source}")]
    CorruptAuditRecord {
        seq: u64,
        #[source]
        source: AuditError,
    },
    /// Ingest committed during every one of `attempts` reads of the candidates, so none of them
    /// saw a single state of the store. Nothing is wrong with the data; asking again later may
    /// succeed.
    #[error("no consistent read: ingest committed during each of {attempts} attempts")]
    NoStableSnapshot { attempts: u32 },
    /// Every audit sequence number is used (2^64 queries: not reachable in practice).
    #[error("audit sequence numbers exhausted")]
    AuditSeqExhausted,
}
