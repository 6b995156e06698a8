//! What a run observed of its queries and views, recorded as it happens and judged at the end
//! (`check::queries`, `check::views`): plain records, so the shared run state (`env`) and the
//! checks both use them without importing each other.

use stemedb::lens::Rule;

use crate::oracle::lens::Ranked;
use crate::workload::QuerySpec;

/// The key of one view read: process, subject, predicate, and the clock it was dated by.
pub type ViewRead = (u32, String, String, u64);

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
    pub fn may_serve_view_for(&self, view_query: &QueryCheck) -> bool {
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
    pub fn superseded_for(&self, newer: &QueryCheck, view_query: &QueryCheck) -> bool {
        !newer.used_view
            && !newer.failed
            && newer.boot == self.boot
            && newer.spec.subject == self.spec.subject
            && newer.spec.predicate == self.spec.predicate
            && newer.began > self.done
            && newer.done < view_query.began
    }
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
