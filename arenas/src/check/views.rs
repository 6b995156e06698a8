//! Explicit materialisation: `QueryEngine::materialize` (an operator warming a view) dates the
//! view by the engine's clock as the call began, and the view it leaves is one some read of this
//! process made.
//!
//! Must hold after every successful `materialize(subject, predicate)`:
//! - it returns the engine's wall clock as it read at the call (the harness reads the same clock
//!   just before, with nothing awaited in between);
//! - `view_materialized_at(subject, predicate)` then names a view, dated by the start of a read
//!   of that subject and predicate in this process (this one's, or a read that began later and
//!   finished first: views keep the newest read).
//!
//! The read joins the process's record of reads, so a later query answered from the view it
//! installed is judged against it (`QueryCheck::may_serve_view_for`), unless a read of the same
//! view that began after it was done, and was done before that query began, superseded it
//! (`QueryCheck::superseded_for`): views keep the newest read, so an answer from an older one
//! went back in time (a view layer stuck on its first read, patch `an`).
//!
//! And views serve: a query that accepts a view (a predicate and a `max_stale`) must be answered
//! from one when its process's query engine holds one that is fresh for it, which the harness
//! knows when some read of that subject and predicate has completed in this process and every
//! read of them that began before the query (finished or not, so whichever view is held) is
//! dated no later than the query's clock and no more than its `max_stale` earlier. A view layer
//! that never installs, never finds, or keeps the wrong view answers every query right and serves
//! none; the store reads it costs are what views exist to save. (Views are forgotten only past
//! 4,096 keys, which no run reaches.)

use stemedb::io::Clock;
use stemedb::query::QueryEngine;
use stemedb::Engine;

use crate::env::{Env, Phase};
use crate::metrics::OpKind;
use crate::observed::{QueryCheck, Unanswered};
use crate::outcome::Failure;
use crate::workload::QuerySpec;

pub use crate::observed::ViewRead;

/// Notes that a read of `spec`'s view began at engine time `wall_ms` in the current process.
pub fn read_started(env: &Env, spec: &QuerySpec, wall_ms: u64) {
    let mut s = env.shared.borrow_mut();
    if let Some(predicate) = &spec.predicate {
        let read = (s.boots, spec.subject.clone(), predicate.clone(), wall_ms);
        s.view_reads.insert(read);
    }
}

/// Whether the query `spec`, starting at engine time `wall_ms`, must be answered from a view
/// (see the module docs). Call before [`read_started`] notes the query's own read.
pub fn must_serve(env: &Env, spec: &QuerySpec, wall_ms: u64) -> bool {
    let (Some(predicate), Some(max_stale)) = (&spec.predicate, spec.max_stale_ms) else {
        return false;
    };
    let s = env.shared.borrow();
    let key = (s.boots, spec.subject.clone(), predicate.clone());
    if !s.view_installs.contains(&key) {
        return false;
    }
    let (boot, subject, predicate) = key;
    let first = (boot, subject.clone(), predicate.clone(), 0);
    let last = (boot, subject, predicate, u64::MAX);
    s.view_reads
        .range(first..=last)
        .all(|(_, _, _, date)| *date <= wall_ms && wall_ms - date <= max_stale)
}

/// Materialises `spec`'s view and judges the answer.
pub async fn materialize(env: &Env, engine: &Engine, queries: &QueryEngine, spec: &QuerySpec) {
    let Some(predicate) = spec.predicate.as_deref() else {
        return;
    };
    let before = engine.ingest_cursor();
    // Nothing awaited until `materialize` reads the clock: the same instant, the same reading.
    let wall_ms = env.clock.wall_ms();
    let began = env.shared.borrow_mut().query_began();
    read_started(env, spec, wall_ms);
    let result = queries.materialize(&spec.subject, predicate).await;
    let after = engine.ingest_cursor();
    let held = queries.view_materialized_at(&spec.subject, predicate);
    let mut s = env.shared.borrow_mut();
    let boot = s.boots;
    let failed = match result {
        Ok(at) => {
            s.metrics.op(OpKind::Materialize);
            s.view_installs
                .insert((boot, spec.subject.clone(), predicate.to_owned()));
            let known = |m: u64| {
                s.view_reads
                    .contains(&(boot, spec.subject.clone(), predicate.to_owned(), m))
            };
            let wrong = if at != wall_ms {
                Some(format!(
                    "materialize dated the view {at} ms, but the engine's clock read {wall_ms} ms \
                     as the call began"
                ))
            } else if !held.is_some_and(known) {
                Some(format!(
                    "right after materialize returned, view_materialized_at says {held:?}, the \
                     date of no read of this view in this process"
                ))
            } else {
                None
            };
            if let Some(wrong) = wrong {
                s.fail(Failure::Safety(format!(
                    "{:?} / {predicate:?}: {wrong}",
                    spec.subject
                )));
            }
            false
        }
        Err(e) => {
            s.metrics.op(OpKind::MaterializeFailed);
            let tolerated = s.phase == Phase::Faults && s.excuses.failed_calls();
            if !tolerated {
                s.fail(Failure::Safety(format!(
                    "materialize failed without any fault: {e}"
                )));
            }
            true
        }
    };
    s.record_query(QueryCheck::without_answer(
        spec.clone(),
        (before, after),
        wall_ms,
        boot,
        began,
        Unanswered::Materialized { failed },
    ));
}
