//! Queries: each workload query is run and recorded as it is answered (`query`), and at the end
//! every answer is held to the reference lens over the ingested set at some moment while it ran
//! (`check_queries`), damage excusing only the damaged records that bear on it.

use std::collections::BTreeSet;
use std::time::Duration;

use stemedb::io::Clock;
use stemedb::lens::LensKind;
use stemedb::model::{Hash32, Record};
use stemedb::query::{Query, QueryEngine};
use stemedb::Engine;
use stemedb_reports::names;

use super::views;
use crate::env::{Env, Phase};
use crate::metrics::OpKind;
pub use crate::observed::{QueryCheck, Unanswered};
use crate::oracle::lens::{Answer, LensModel};
use crate::oracle::spec;
use crate::outcome::Failure;
use crate::workload::QuerySpec;

/// The lens a query spec asks for.
pub(crate) fn lens_of(spec: &QuerySpec) -> LensKind {
    if spec.consensus {
        LensKind::VoteAwareConsensus
    } else {
        LensKind::Recency
    }
}

/// The engine's query for a spec, built through the query API's builders as a client builds
/// one (the oracles read what was asked from the spec, never from the built query).
pub(crate) fn query_of(spec: &QuerySpec) -> Query {
    let query = match &spec.predicate {
        Some(p) => Query::subject_predicate(spec.subject.clone(), p.clone()),
        None => Query::subject(spec.subject.clone()),
    }
    .lens(lens_of(spec))
    .lifecycles(stemedb::query::LifecycleFilter::of(&spec.lifecycles));
    match spec.max_stale_ms {
        Some(ms) => query.max_stale(Duration::from_millis(ms)),
        None => query,
    }
}

pub async fn query(env: &Env, engine: &Engine, queries: &QueryEngine, spec: QuerySpec) {
    if spec.materialize_first {
        views::materialize(env, engine, queries, &spec).await;
    }
    let before = engine.ingest_cursor();
    // No await until the engine reads its clock: the same virtual instant, so the same reading.
    let wall_ms = env.clock.wall_ms();
    let began = env.shared.borrow_mut().query_began();
    let must_serve = views::must_serve(env, &spec, wall_ms);
    views::read_started(env, &spec, wall_ms);
    let started = env.clock.monotonic();
    let result = queries.query(&query_of(&spec)).await;
    let now = env.clock.monotonic();
    let after = engine.ingest_cursor();
    let mut s = env.shared.borrow_mut();
    match result {
        Ok(r) => {
            s.metrics.op(OpKind::Query);
            s.metrics
                .record(names::LATENCY_QUERY, (now - started).as_micros() as u64);
            let winner = r.winner.as_ref().map(|c| c.hash);
            s.event(
                now,
                &format!("query {spec:?} -> {winner:?} view {}", r.used_view),
            );
            if must_serve && !r.used_view {
                s.fail(Failure::Safety(format!(
                    "query {spec:?} at engine time {wall_ms} ms read the store although every \
                     view of its subject and predicate this process could hold was fresh for it"
                )));
            }
            if let (false, Some(predicate)) = (r.used_view, &spec.predicate) {
                let key = (s.boots, spec.subject.clone(), predicate.clone());
                s.view_installs.insert(key);
            }
            if winner != r.candidates.first().map(|c| c.hash) {
                s.fail(Failure::Safety(format!(
                    "query {spec:?} names winner {winner:?}, not the first of its ranked candidates"
                )));
            }
            let lens = lens_of(&spec);
            if let Err(e) =
                crate::oracle::explain::check(lens, r.rule, &r.candidates, &r.explanation)
            {
                s.fail(Failure::Safety(format!("query {spec:?}: {e}")));
            }
            let boot = s.boots;
            s.record_query(QueryCheck::answered(
                spec,
                &r,
                (before, after),
                wall_ms,
                boot,
                began,
            ));
        }
        Err(e) => {
            s.event(now, &format!("query failed: {e}"));
            let boot = s.boots;
            s.record_query(QueryCheck::without_answer(
                spec,
                (before, after),
                wall_ms,
                boot,
                began,
                Unanswered::QueryFailed,
            ));
            s.metrics.op(OpKind::QueryFailed);
            let tolerated = s.phase == Phase::Faults && s.excuses.failed_calls();
            if !tolerated {
                s.fail(Failure::Safety(format!(
                    "a query failed without any fault: {e}"
                )));
            }
        }
    }
}

/// Doubtful records (touched by media damage) that may bear on one query, at most: every subset
/// of them is tried, so the bound keeps a query's check at 2^N model answers per position.
const DOUBTFUL_PER_QUERY_MAX: usize = 6;

pub(crate) fn check_queries(env: &Env) -> Result<(), Failure> {
    let s = env.shared.borrow();
    let accepted = s
        .oracle
        .entries()
        .into_iter()
        .filter_map(|e| {
            s.oracle
                .accept(&e.payload)
                .map(|r| (e.offset, r, e.uncertain))
        })
        .collect::<Vec<_>>();
    let model = LensModel::new(accepted);
    let offsets: Vec<u64> = s.oracle.known().keys().copied().collect();
    let (mut checked, mut unchecked) = (0u64, 0u64);
    for q in s.queries.iter().filter(|q| !q.failed && !q.materialized) {
        // Damage excuses exactly the damaged records that bear on this query: each of them may
        // or may not have been ingested, so every combination is tried. Only a query with more
        // of them than the bound goes unchecked (and is counted as such).
        let doubtful = model.doubtful_for(&q.spec);
        if doubtful.len() > DOUBTFUL_PER_QUERY_MAX {
            unchecked += 1;
            continue;
        }
        checked += 1;
        // The ingested set changes only at record boundaries: try each cursor position the query
        // could have seen. A view answer is the read of an earlier query that was still fresh:
        // try the positions of each such read; with none, the view broke the staleness rules.
        let windows: Vec<(u64, u64)> = if q.used_view {
            let fresh: Vec<&QueryCheck> = s
                .queries
                .iter()
                .filter(|read| read.may_serve_view_for(q))
                .collect();
            let newest: Vec<(u64, u64)> = fresh
                .iter()
                .filter(|read| !s.queries.iter().any(|n| read.superseded_for(n, q)))
                .map(|read| (read.before, read.after))
                .collect();
            if newest.is_empty() && !fresh.is_empty() {
                return Err(Failure::Safety(format!(
                    "query {:?} (clock {} ms) was answered from a view, but every read fresh \
                     enough to serve it is older than a read of the same view that was done \
                     before the query began: views keep the newest read",
                    q.spec, q.wall_ms
                )));
            }
            newest
        } else {
            vec![(q.before, q.after)]
        };
        if windows.is_empty() {
            return Err(Failure::Safety(format!(
                "query {:?} (clock {} ms, view {}) was answered from a view, but no read of the same process was fresh enough for it: a view older than max_stale, dated in the future of the clock, or for a query that accepts none",
                q.spec, q.wall_ms, q.used_view
            )));
        }
        let mut positions = Vec::new();
        for &(low, high) in &windows {
            positions.push(low);
            positions.extend(
                offsets
                    .iter()
                    .filter(|&&o| o >= low && o < high)
                    .map(|o| o + 1),
            );
        }
        let subsets = (0..1u32 << doubtful.len()).map(|mask| {
            doubtful
                .iter()
                .enumerate()
                .filter(|(bit, _)| mask & (1 << bit) != 0)
                .map(|(_, &id)| id)
                .collect::<BTreeSet<_>>()
        });
        let answered = Answer {
            ranked: q.ranked.clone(),
            rule: q.rule,
        };
        let matched = subsets.into_iter().any(|counted| {
            positions
                .iter()
                .any(|&upto| model.answer(&q.spec, upto, &counted) == answered)
        });
        if !matched {
            let expected = model.answer(&q.spec, q.after, &doubtful.iter().copied().collect());
            let offset_of = |h: &Hash32| {
                s.oracle
                    .entries()
                    .iter()
                    .find_map(|e| match s.oracle.accept(&e.payload) {
                        Some(Record::Assertion(a)) if spec::assertion_id(&a) == *h => {
                            Some(e.offset)
                        }
                        _ => None,
                    })
            };
            let (got, want) = (answered.candidates(), expected.candidates());
            let missing: Vec<String> = want
                .difference(&got)
                .map(|h| format!("{h} at {:?}", offset_of(h)))
                .collect();
            let extra: Vec<String> = got
                .difference(&want)
                .map(|h| format!("{h} at {:?}", offset_of(h)))
                .collect();
            if s.trace {
                eprintln!("query mismatch: missing {missing:?} extra {extra:?}");
                eprintln!(
                    "  engine ranked {:?} by {:?}",
                    answered.ranked, answered.rule
                );
                eprintln!(
                    "  model ranked {:?} by {:?}",
                    expected.ranked, expected.rule
                );
            }
            let support = |a: &Answer| {
                a.ranked
                    .first()
                    .map(|r| format!("{} voters, weight {:?}", r.vote_count, r.vote_weight))
                    .unwrap_or_default()
            };
            return Err(Failure::Safety(format!(
                "query {:?} (cursor {}..{}, view {}, {} damaged records bear on it) answered {:?} ({}) with {} candidates by {:?}; the reference lens gives {:?} ({}) with {} candidates by {:?} over the ingested set",
                q.spec,
                q.before,
                q.after,
                q.used_view,
                doubtful.len(),
                answered.winner(),
                support(&answered),
                answered.ranked.len(),
                answered.rule,
                expected.winner(),
                support(&expected),
                expected.ranked.len(),
                expected.rule,
            )));
        }
    }
    drop(s);
    let mut s = env.shared.borrow_mut();
    s.metrics.check(checked);
    s.metrics
        .counts
        .add_event(names::EVENT_QUERIES_CHECKED, checked);
    s.metrics
        .counts
        .add_event(names::EVENT_QUERIES_UNCHECKED_DAMAGE, unchecked);
    Ok(())
}
