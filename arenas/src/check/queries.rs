//! Queries: each workload query is run and recorded as it is answered (`query`), and at the end
//! every answer is held to the reference lens over the ingested set at some moment while it ran
//! (`check_queries`), damage excusing only the damaged records that bear on it.

use std::collections::BTreeSet;
use std::time::Duration;

use stemedb::io::Clock;
use stemedb::lens::{LensKind, Rule};
use stemedb::model::{Hash32, Record};
use stemedb::query::{Query, QueryEngine};
use stemedb::Engine;
use stemedb_reports::names;

use super::views;
use crate::metrics::OpKind;
use crate::oracle::lens::{Answer, LensModel, Ranked};
use crate::oracle::spec;
use crate::outcome::Failure;
use crate::sim::{Env, Phase};
use crate::workload::QuerySpec;

/// A query as it was answered, to be checked against the reference lens at the end.
#[derive(Clone, Debug)]
pub struct QueryCheck {
    pub spec: QuerySpec,
    pub before: u64,
    pub after: u64,
    /// Every candidate as the engine ranked it (best first), with its counted support.
    pub ranked: Vec<Ranked>,
    /// The rule the engine says separated the winner from the runner-up.
    pub rule: Rule,
    pub used_view: bool,
    /// The engine's wall clock when the query started (what view ages are measured against).
    pub wall_ms: u64,
    /// The process (boot) that answered: views live in one process's memory.
    pub boot: u32,
    /// The query failed; it may still have read the store and installed a view.
    pub failed: bool,
    /// The sequence number of the answer's audit record (`None` for a failed query).
    pub audit_seq: Option<u64>,
    /// Not a query but an explicit `materialize` of its view (`check::views`): a read that may
    /// serve later view answers, with no answer of its own.
    pub materialized: bool,
    /// `Shared::query_ticks` as the call began (before the engine read its clock) and as its
    /// answer was recorded (after any view it installed was in place).
    pub began: u64,
    pub done: u64,
}

/// Why a [`QueryCheck`] carries no answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unanswered {
    QueryFailed,
    /// An explicit materialisation (no answer to rank), which may have failed.
    Materialized {
        failed: bool,
    },
}

impl QueryCheck {
    /// A query that failed, or a materialisation, with the cursor before and after it.
    pub fn without_answer(
        spec: QuerySpec,
        (before, after): (u64, u64),
        wall_ms: u64,
        boot: u32,
        began: u64,
        why: Unanswered,
    ) -> Self {
        let (failed, materialized) = match why {
            Unanswered::QueryFailed => (true, false),
            Unanswered::Materialized { failed } => (failed, true),
        };
        QueryCheck {
            spec,
            before,
            after,
            ranked: Vec::new(),
            rule: Rule::NoCandidates,
            used_view: false,
            wall_ms,
            boot,
            failed,
            audit_seq: None,
            materialized,
            began,
            done: 0,
        }
    }

    /// An answered query, with the ingest cursor before and after it.
    pub fn answered(
        spec: QuerySpec,
        r: &stemedb::query::QueryResult,
        (before, after): (u64, u64),
        wall_ms: u64,
        boot: u32,
        began: u64,
    ) -> Self {
        QueryCheck {
            spec,
            before,
            after,
            ranked: r
                .candidates
                .iter()
                .map(|c| Ranked {
                    hash: c.hash,
                    vote_count: c.vote_count,
                    vote_weight: c.vote_weight,
                })
                .collect(),
            rule: r.rule,
            used_view: r.used_view,
            wall_ms,
            boot,
            failed: false,
            audit_seq: Some(r.audit_seq),
            materialized: false,
            began,
            done: 0,
        }
    }

    /// Whether this query's store read may have installed the view that answered `view_query`:
    /// same process, same subject and predicate, and fresh for it (dated at or before the view
    /// query's clock and no more than its `max_stale` earlier). A view that is older, or dated in
    /// the future of the clock (after a backwards jump), must not answer.
    fn may_serve_view_for(&self, view_query: &QueryCheck) -> bool {
        let fresh = view_query.spec.max_stale_ms.is_some_and(|max_stale| {
            self.wall_ms <= view_query.wall_ms && view_query.wall_ms - self.wall_ms <= max_stale
        });
        !self.used_view
            && self.boot == view_query.boot
            && self.spec.subject == view_query.spec.subject
            && self.spec.predicate.is_some()
            && self.spec.predicate == view_query.spec.predicate
            && fresh
    }

    /// Whether `self`, a read that may serve `view_query`, is certainly older than the view its
    /// process held then: `newer`, a read of the same key that surely installed a view (it
    /// succeeded and read the store), began after `self` was done, so its read was numbered
    /// later, and was done before `view_query` began, so its view was in place. Views keep the
    /// newest read (a read that started earlier never replaces a later one), so a view answer
    /// from `self` went back in time.
    fn superseded_for(&self, newer: &QueryCheck, view_query: &QueryCheck) -> bool {
        !newer.used_view
            && !newer.failed
            && newer.boot == self.boot
            && newer.spec.subject == self.spec.subject
            && newer.spec.predicate == self.spec.predicate
            && newer.began > self.done
            && newer.done < view_query.began
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn check(
        wall_ms: u64,
        boot: u32,
        predicate: Option<&str>,
        max_stale_ms: Option<u64>,
    ) -> QueryCheck {
        QueryCheck {
            spec: QuerySpec {
                subject: "s".to_owned(),
                predicate: predicate.map(str::to_owned),
                consensus: false,
                max_stale_ms,
                lifecycles: QuerySpec::active_only(),
                materialize_first: false,
            },
            before: 0,
            after: 0,
            ranked: Vec::new(),
            rule: Rule::NoCandidates,
            used_view: false,
            wall_ms,
            boot,
            failed: false,
            audit_seq: None,
            materialized: false,
            began: 0,
            done: 0,
        }
    }

    #[test]
    fn only_a_fresh_read_of_the_same_process_and_key_may_serve_a_view() {
        let view = QueryCheck {
            used_view: true,
            ..check(10_000, 2, Some("p"), Some(1_000))
        };
        assert!(
            check(9_000, 2, Some("p"), None).may_serve_view_for(&view),
            "exactly max_stale old"
        );
        assert!(
            !check(8_999, 2, Some("p"), None).may_serve_view_for(&view),
            "older than max_stale"
        );
        assert!(
            !check(10_001, 2, Some("p"), None).may_serve_view_for(&view),
            "dated in the future"
        );
        assert!(
            !check(9_500, 1, Some("p"), None).may_serve_view_for(&view),
            "another process"
        );
        assert!(
            !check(9_500, 2, Some("q"), None).may_serve_view_for(&view),
            "another predicate"
        );
        assert!(
            !check(9_500, 2, None, None).may_serve_view_for(&view),
            "subject-only reads make no view"
        );
        let no_views = QueryCheck {
            used_view: true,
            ..check(10_000, 2, Some("p"), None)
        };
        assert!(
            !check(10_000, 2, Some("p"), None).may_serve_view_for(&no_views),
            "a query that accepts no view"
        );
    }

    /// A read is superseded for a view answer only by a read of the same view that surely
    /// installed one, began after it was done and was done before the answer's query began.
    #[test]
    fn only_a_later_read_done_before_the_query_supersedes_a_view() {
        let ticks = |q: QueryCheck, began, done| QueryCheck { began, done, ..q };
        let old = ticks(check(9_000, 2, Some("p"), None), 1, 2);
        let view = ticks(
            QueryCheck {
                used_view: true,
                ..check(10_000, 2, Some("p"), Some(1_000))
            },
            7,
            8,
        );
        let newer = |began, done| ticks(check(9_500, 2, Some("p"), None), began, done);
        assert!(old.superseded_for(&newer(3, 4), &view));
        assert!(
            !old.superseded_for(&newer(2, 4), &view),
            "began before the old read was done: it may have been numbered first"
        );
        assert!(
            !old.superseded_for(&newer(3, 7), &view),
            "done only as the query began: its view may not have been in place"
        );
        let failed = QueryCheck {
            failed: true,
            ..newer(3, 4)
        };
        assert!(
            !old.superseded_for(&failed, &view),
            "may have installed nothing"
        );
        let served = QueryCheck {
            used_view: true,
            ..newer(3, 4)
        };
        assert!(!old.superseded_for(&served, &view), "read no store");
        let other = ticks(check(9_500, 2, Some("q"), None), 3, 4);
        assert!(!old.superseded_for(&other, &view), "another view");
    }
}
