//! `QueryEngine`: answers queries from the store or a fresh-enough view, and audits each one.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OnceCell;
use tracing::field::Empty;

use super::audit::AuditRecord;
use super::load::Cover;
use super::ranking::Answers;
use super::snapshot::load_consistent;
use super::view::{Lookup, View, Views};
use super::{LifecycleFilter, Query, QueryError, QueryResult, QueryStats};
use crate::io::Clock;
use crate::lens::{Candidate, LensKind, Rule, Standing};
use crate::storage::keys::{self, Key, KeyError, KeyFamily};
use crate::storage::{CommitFence, KvStore, WriteBatch};

/// Answers [`Query`]s over a KV store written by the ingest worker.
///
/// One engine per store: the audit sequence is allocated in memory (continuing after the last
/// stored record when the engine starts), so two engines on one store would reuse numbers.
#[derive(Debug)]
pub struct QueryEngine {
    kv: Arc<dyn KvStore>,
    clock: Arc<dyn Clock>,
    views: Views,
    /// The next audit sequence number, found lazily by the first query.
    audit_next: OnceCell<AtomicU64>,
    stats: Counters,
    /// Shared with the ingest worker writing `kv`, when there is one (see `CommitFence`).
    fence: Option<Arc<CommitFence>>,
}

#[derive(Debug, Default)]
struct Counters {
    queries: AtomicU64,
    view_hits: AtomicU64,
    stale_views: AtomicU64,
    future_dated_views: AtomicU64,
    slow_paths: AtomicU64,
    audit_failures: AtomicU64,
    snapshot_retries: AtomicU64,
    snapshot_failures: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Where a query's candidates came from, for the explanation.
enum Source {
    View { materialized_at: u64, age_ms: u64 },
    Store { why: &'static str },
}

/// A successful answer, before its audit sequence number is known.
struct Answer {
    winner: Option<Candidate>,
    candidates: Arc<[Standing]>,
    rule: Rule,
    explanation: String,
    used_view: bool,
}

impl QueryEngine {
    /// An engine over `kv`, reading time from `clock`. Does no I/O until the first query.
    pub fn new(kv: Arc<dyn KvStore>, clock: Arc<dyn Clock>) -> QueryEngine {
        QueryEngine {
            kv,
            clock,
            views: Views::default(),
            audit_next: OnceCell::new(),
            stats: Counters::default(),
            fence: None,
        }
    }

    /// Shares `fence` with the ingest worker writing the store: a read whose optimistic attempts
    /// all overlapped commits then holds commits off and reads once more, so it cannot starve.
    /// Without a fence a query fails with `NoStableSnapshot` instead.
    pub fn with_commit_fence(mut self, fence: Arc<CommitFence>) -> QueryEngine {
        self.fence = Some(fence);
        self
    }

    /// Answers `q` and writes exactly one audit record for it.
    ///
    /// A failed query is audited too (with its error) when the store still accepts the write;
    /// the original error is returned either way. A successful answer is returned only once its
    /// audit record is applied: an unaudited answer fails with the audit write's error. A query
    /// whose store reads never saw one committed state fails with
    /// [`QueryError::NoStableSnapshot`] and is audited like any other failure.
    #[tracing::instrument(skip_all, fields(
        subject_len = q.subject.len(),
        predicate_len = q.predicate.as_ref().map(String::len),
        lens = %q.lens,
        candidates = Empty,
        used_view = Empty,
        audit_seq = Empty,
        snapshot_attempts = Empty,
    ))]
    pub async fn query(&self, q: &Query) -> Result<QueryResult, QueryError> {
        let now_ms = self.clock.wall_ms();
        bump(&self.stats.queries);
        let outcome = self.answer(q, now_ms).await;
        let mut record = AuditRecord {
            wall_ms: now_ms,
            subject: q.subject.clone(),
            predicate: q.predicate.clone(),
            lens: q.lens,
            lifecycles: q.lifecycles,
            max_stale_ms: q.max_stale.map(saturating_ms),
            used_view: false,
            rule: None,
            candidates: 0,
            winner: None,
            error: None,
        };
        match &outcome {
            Ok(a) => {
                record.used_view = a.used_view;
                record.rule = Some(a.rule);
                record.candidates = u64::try_from(a.candidates.len()).unwrap_or(u64::MAX);
                record.winner = a.winner.as_ref().map(|w| w.hash);
            }
            Err(e) => record.error = Some(e.to_string()),
        }
        let audit_seq = match self.write_audit(&record).await {
            Ok(seq) => seq,
            Err(audit_err) => {
                bump(&self.stats.audit_failures);
                tracing::warn!(error = %audit_err, "query audit record not written");
                return Err(outcome.err().unwrap_or(audit_err));
            }
        };
        let answer = outcome?;
        let span = tracing::Span::current();
        span.record("candidates", answer.candidates.len());
        span.record("used_view", answer.used_view);
        span.record("audit_seq", audit_seq);
        Ok(QueryResult {
            winner: answer.winner,
            candidates: answer.candidates,
            rule: answer.rule,
            explanation: answer.explanation,
            used_view: answer.used_view,
            audit_seq,
        })
    }

    /// Reads `subject`+`predicate` from the store and installs it as a view now; returns the
    /// view's `materialized_at`. Not a query: no audit record. (Slow-path queries with a
    /// predicate also refresh their view.) Fails with [`QueryError::NoStableSnapshot`], and
    /// installs nothing, when ingest commits during every attempt at a consistent read.
    #[tracing::instrument(skip_all, fields(
        subject_len = subject.len(),
        predicate_len = predicate.len(),
        candidates = Empty,
        snapshot_attempts = Empty,
    ))]
    pub async fn materialize(&self, subject: &str, predicate: &str) -> Result<u64, QueryError> {
        let now_ms = self.clock.wall_ms();
        let answers = self
            .read_store(subject, Some(predicate), VIEW_COVER, now_ms)
            .await?;
        tracing::Span::current().record("candidates", answers.len());
        Ok(now_ms)
    }

    /// `materialized_at` of the view of `subject`+`predicate`, if one is held.
    pub fn view_materialized_at(&self, subject: &str, predicate: &str) -> Option<u64> {
        self.views.materialized_at(subject, predicate)
    }

    /// How queries have been answered so far.
    pub fn stats(&self) -> QueryStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let s = &self.stats;
        QueryStats {
            queries: get(&s.queries),
            view_hits: get(&s.view_hits),
            stale_views: get(&s.stale_views),
            future_dated_views: get(&s.future_dated_views),
            slow_paths: get(&s.slow_paths),
            audit_failures: get(&s.audit_failures),
            snapshot_retries: get(&s.snapshot_retries),
            snapshot_failures: get(&s.snapshot_failures),
        }
    }

    /// Every stored audit record with its sequence number, in sequence order.
    #[tracing::instrument(skip_all, fields(records = Empty))]
    pub async fn audit_records(&self) -> Result<Vec<(u64, AuditRecord)>, QueryError> {
        let entries = self.kv.scan_prefix(KeyFamily::Audit.tag()).await?;
        tracing::Span::current().record("records", entries.len());
        entries
            .iter()
            .map(|(key, value)| {
                let seq = audit_seq_of(key)?;
                AuditRecord::decode(value)
                    .map(|record| (seq, record))
                    .map_err(|source| QueryError::CorruptAuditRecord { seq, source })
            })
            .collect()
    }

    async fn answer(&self, q: &Query, now_ms: u64) -> Result<Answer, QueryError> {
        let (answers, source) = self.candidates(q, now_ms).await?;
        // Shared with the view (when there is one) and every later answer of the same lens and
        // filter: a hit copies nothing but the winner.
        let ranking = answers.ranking(q.lens, q.lifecycles);
        let used_view = matches!(source, Source::View { .. });
        let source = match source {
            Source::View {
                materialized_at,
                age_ms,
            } => format!(
                "answered from a view materialised at {materialized_at} ms ({age_ms} ms old)"
            ),
            Source::Store { why } => format!("read from the store ({why})"),
        };
        Ok(Answer {
            winner: ranking.winner.clone(),
            candidates: Arc::clone(&ranking.candidates),
            rule: ranking.rule,
            explanation: format!("{}; {source}", ranking.why),
            used_view,
        })
    }

    /// The query's candidates (any lifecycle): from a fresh view when allowed, else read.
    async fn candidates(
        &self,
        q: &Query,
        now_ms: u64,
    ) -> Result<(Arc<Answers>, Source), QueryError> {
        let why = match (q.predicate.as_deref(), q.max_stale) {
            (None, _) => "subject-only queries have no views",
            (Some(_), None) => "the query accepts no view",
            (Some(p), Some(max_stale)) => match self.views.lookup(&q.subject, p, now_ms, max_stale)
            {
                Lookup::Fresh(view) => {
                    bump(&self.stats.view_hits);
                    let source = Source::View {
                        materialized_at: view.materialized_at,
                        age_ms: now_ms.saturating_sub(view.materialized_at),
                    };
                    return Ok((view.answers, source));
                }
                Lookup::Stale => {
                    bump(&self.stats.stale_views);
                    crate::probe::hit(crate::probe::Probe::ViewStaleFallback);
                    "the view is older than max_stale"
                }
                Lookup::FutureDated => {
                    bump(&self.stats.future_dated_views);
                    crate::probe::hit(crate::probe::Probe::ViewFutureDatedFallback);
                    tracing::warn!(now_ms, "view dated in the future of the clock: not used");
                    "the view is dated in the future of the clock, so its age is unknown"
                }
                Lookup::Missing => "no view is materialised yet",
            },
        };
        // A read with a predicate becomes the view, which must serve any lens and filter; a
        // subject-only read serves this query alone.
        let lenses = [q.lens];
        let cover = match q.predicate {
            Some(_) => VIEW_COVER,
            None => Cover {
                lenses: &lenses,
                lifecycles: q.lifecycles,
            },
        };
        let answers = self
            .read_store(&q.subject, q.predicate.as_deref(), cover, now_ms)
            .await?;
        Ok((answers, Source::Store { why }))
    }

    /// The slow path: reads the store as of one ingest cursor value and, for a
    /// subject+predicate, installs the result as the view stamped `now_ms` (taken by the caller
    /// before this read started).
    ///
    /// A view is installed only from a read that validated, so a view, like an answer, is the
    /// lens input of one committed state. `now_ms` stays a lower bound of the data's freshness
    /// across retries: a retry reads a later state, never an earlier one.
    async fn read_store(
        &self,
        subject: &str,
        predicate: Option<&str>,
        cover: Cover<'_>,
        now_ms: u64,
    ) -> Result<Arc<Answers>, QueryError> {
        bump(&self.stats.slow_paths);
        let generation = self.views.start_read();
        let read =
            load_consistent(&*self.kv, self.fence.as_deref(), subject, predicate, cover).await;
        tracing::Span::current().record("snapshot_attempts", read.attempts);
        let retries = u64::from(read.attempts.saturating_sub(1));
        self.stats
            .snapshot_retries
            .fetch_add(retries, Ordering::Relaxed);
        if matches!(read.result, Err(QueryError::NoStableSnapshot { .. })) {
            bump(&self.stats.snapshot_failures);
        }
        let answers = Arc::new(Answers::new(read.result?));
        if let Some(p) = predicate {
            let view = View {
                materialized_at: now_ms,
                generation,
                answers: Arc::clone(&answers),
            };
            self.views.install(subject, p, view);
        }
        Ok(answers)
    }

    /// Allocates the next audit sequence number and applies `record` under it.
    async fn write_audit(&self, record: &AuditRecord) -> Result<u64, QueryError> {
        let next = self
            .audit_next
            .get_or_try_init(|| async {
                // Keys sort by big-endian sequence number, so the last one is the highest.
                let entries = self.kv.scan_prefix(KeyFamily::Audit.tag()).await?;
                let next = match entries.last() {
                    None => 0,
                    Some((key, _)) => audit_seq_of(key)?
                        .checked_add(1)
                        .ok_or(QueryError::AuditSeqExhausted)?,
                };
                Ok::<_, QueryError>(AtomicU64::new(next))
            })
            .await?;
        let seq = next
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |s| s.checked_add(1))
            .map_err(|_| QueryError::AuditSeqExhausted)?;
        let mut batch = WriteBatch::new();
        batch.put(keys::audit_key(seq), record.encode());
        self.kv.apply_batch(batch).await?;
        Ok(seq)
    }
}

/// What a read that becomes a view covers: any lens, any lifecycle filter, so a fresh view can
/// answer every query of its subject and predicate.
const VIEW_COVER: Cover<'static> = Cover {
    lenses: &LensKind::ALL,
    lifecycles: LifecycleFilter::ALL,
};

/// The sequence number of an `A:` key.
fn audit_seq_of(key: &[u8]) -> Result<u64, QueryError> {
    let corrupt = |source| QueryError::CorruptAuditKey {
        key_len: key.len(),
        source,
    };
    match Key::decode(key) {
        Ok(Key::Audit { seq }) => Ok(seq),
        Ok(_) => Err(corrupt(KeyError::UnknownFamily)),
        Err(e) => Err(corrupt(e)),
    }
}

/// A duration in whole milliseconds, saturating at `u64::MAX`.
fn saturating_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
