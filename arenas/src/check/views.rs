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
//! installed is judged against it (`QueryCheck::may_serve_view_for`).

use stemedb::io::Clock;
use stemedb::lens::Rule;
use stemedb::query::QueryEngine;
use stemedb::Engine;

use crate::check::QueryCheck;
use crate::config::ArenaKind;
use crate::outcome::Failure;
use crate::sim::{Env, Phase};
use crate::workload::QuerySpec;

/// The key of one view read: process, subject, predicate, and the clock it was dated by.
pub type ViewRead = (u32, String, String, u64);

/// Notes that a read of `spec`'s view began at engine time `wall_ms` in the current process.
pub fn read_started(env: &Env, spec: &QuerySpec, wall_ms: u64) {
    let mut s = env.shared.borrow_mut();
    if let Some(predicate) = &spec.predicate {
        let read = (s.boots, spec.subject.clone(), predicate.clone(), wall_ms);
        s.view_reads.insert(read);
    }
}

/// Materialises `spec`'s view and judges the answer.
pub async fn materialize(env: &Env, engine: &Engine, queries: &QueryEngine, spec: &QuerySpec) {
    let Some(predicate) = spec.predicate.as_deref() else {
        return;
    };
    let before = engine.ingest_cursor();
    // Nothing awaited until `materialize` reads the clock: the same instant, the same reading.
    let wall_ms = env.clock.wall_ms();
    read_started(env, spec, wall_ms);
    let result = queries.materialize(&spec.subject, predicate).await;
    let after = engine.ingest_cursor();
    let held = queries.view_materialized_at(&spec.subject, predicate);
    let mut s = env.shared.borrow_mut();
    let boot = s.boots;
    let failed = match result {
        Ok(at) => {
            s.metrics.op("materialize");
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
                    "{} / {predicate}: {wrong}",
                    spec.subject
                )));
            }
            false
        }
        Err(e) => {
            s.metrics.op("materialize_failed");
            let tolerated = s.phase == Phase::Faults && s.config.arena == ArenaKind::Chaos;
            if !tolerated {
                s.fail(Failure::Safety(format!(
                    "materialize failed without any fault: {e}"
                )));
            }
            true
        }
    };
    s.queries.push(QueryCheck {
        spec: spec.clone(),
        before,
        after,
        ranked: Vec::new(),
        rule: Rule::NoCandidates,
        used_view: false,
        wall_ms,
        boot,
        failed,
        audit_seq: None,
        materialized: true,
    });
}
