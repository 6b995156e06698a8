//! Materialised views under a manual clock: a fresh view answers, a stale one does not, and a
//! view dated in the future (the clock jumped back, or was skewed when the view was made) is
//! never used and is counted. Every query leaves exactly one audit record.

#[path = "query_support.rs"]
mod support;

use std::sync::Arc;
use std::time::Duration;

use stemedb::lens::LensKind;
use stemedb::model::Lifecycle;
use stemedb::query::{Query, QueryEngine, QueryResult, QueryStats};
use stemedb::storage::keys::KeyFamily;
use support::{assertion, runtime, store_assertion, MemKv, TestClock};

const HOUR_MS: u64 = 3_600_000;

struct Fixture {
    kv: Arc<MemKv>,
    clock: Arc<TestClock>,
    engine: QueryEngine,
}

impl Fixture {
    /// One claim "old" at t=1000 about ("s", "p"), the clock at `now_ms`.
    async fn new(now_ms: u64) -> Fixture {
        let kv = MemKv::new();
        store_assertion(&*kv, &assertion("s", "p", "old", 1_000, Lifecycle::Active)).await;
        let clock = TestClock::at(now_ms);
        let engine = QueryEngine::new(kv.clone(), clock.clone());
        Fixture { kv, clock, engine }
    }

    /// A newer claim, so a read of the store sees "new" while an older view still says "old".
    async fn add_newer_claim(&self) {
        let a = assertion("s", "p", "new", 2_000, Lifecycle::Active);
        store_assertion(&*self.kv, &a).await;
    }

    /// Runs `q` and checks it left exactly one audit record.
    async fn query(&self, q: &Query) -> QueryResult {
        let before = self.kv.family_len(KeyFamily::Audit);
        let r = self.engine.query(q).await.unwrap();
        assert_eq!(
            self.kv.family_len(KeyFamily::Audit),
            before + 1,
            "one audit record"
        );
        r
    }
}

fn recent(max_stale: Duration) -> Query {
    Query::subject_predicate("s", "p")
        .lens(LensKind::Recency)
        .max_stale(max_stale)
}

fn winner(r: &QueryResult) -> &str {
    &r.winner.as_ref().unwrap().assertion.object
}

#[test]
fn a_fresh_view_is_used_and_a_stale_one_is_not() {
    runtime().block_on(async {
        let f = Fixture::new(10_000).await;
        assert_eq!(f.engine.materialize("s", "p").await.unwrap(), 10_000);
        f.add_newer_claim().await;
        let bound = Duration::from_secs(5);

        f.clock.advance(Duration::from_secs(3));
        let r = f.query(&recent(bound)).await;
        assert!(r.used_view);
        assert_eq!(winner(&r), "old", "the view predates the newer claim");
        assert!(
            r.explanation
                .contains("view materialised at 10000 ms (3000 ms old)"),
            "{}",
            r.explanation
        );

        f.clock.set(15_000); // exactly max_stale old: still fresh
        assert!(f.query(&recent(bound)).await.used_view);

        f.clock.set(15_001);
        let r = f.query(&recent(bound)).await;
        assert!(!r.used_view);
        assert_eq!(winner(&r), "new");
        assert!(
            r.explanation.contains("older than max_stale"),
            "{}",
            r.explanation
        );
        // That slow path re-materialised the view.
        assert_eq!(f.engine.view_materialized_at("s", "p"), Some(15_001));
        assert!(f.query(&recent(bound)).await.used_view);

        let stats = f.engine.stats();
        let expected = QueryStats {
            queries: 4,
            view_hits: 3,
            stale_views: 1,
            future_dated_views: 0,
            slow_paths: 2, // the explicit materialise and the stale fallback
            audit_failures: 0,
            snapshot_retries: 0,
            snapshot_failures: 0,
        };
        assert_eq!(stats, expected);
    });
}

#[test]
fn after_a_backward_jump_a_future_dated_view_is_not_used() {
    runtime().block_on(async {
        let f = Fixture::new(10_000).await;
        f.engine.materialize("s", "p").await.unwrap();
        f.add_newer_claim().await;

        f.clock.set(4_000); // the clock jumps back six seconds
        let r = f.query(&recent(Duration::from_secs(3600))).await;
        assert!(!r.used_view, "a view from the future is never fresh");
        assert_eq!(winner(&r), "new");
        assert!(
            r.explanation.contains("dated in the future"),
            "{}",
            r.explanation
        );
        assert_eq!(f.engine.stats().future_dated_views, 1);

        // The fallback re-stamped the view with the clock's present, so it serves again.
        assert_eq!(f.engine.view_materialized_at("s", "p"), Some(4_000));
        assert!(f.query(&recent(Duration::from_secs(1))).await.used_view);
        assert_eq!(f.engine.stats().future_dated_views, 1);
    });
}

#[test]
fn a_view_made_under_forward_skew_is_not_trusted_once_the_skew_is_corrected() {
    runtime().block_on(async {
        let f = Fixture::new(10_000 + HOUR_MS).await; // the clock runs an hour fast
        f.engine.materialize("s", "p").await.unwrap();
        f.add_newer_claim().await;
        f.clock.set(10_000); // corrected
                             // Even the widest bound does not make a future-dated view fresh.
        let r = f.query(&recent(Duration::MAX)).await;
        assert!(!r.used_view);
        assert_eq!(winner(&r), "new");
        let stats = f.engine.stats();
        assert_eq!((stats.future_dated_views, stats.view_hits), (1, 0));
    });
}

#[test]
fn views_are_used_only_when_the_query_allows_one() {
    runtime().block_on(async {
        let f = Fixture::new(10_000).await;
        f.engine.materialize("s", "p").await.unwrap();
        f.add_newer_claim().await;
        let no_bound = Query::subject_predicate("s", "p").lens(LensKind::Recency);
        let r = f.query(&no_bound).await;
        assert!(!r.used_view);
        assert_eq!(winner(&r), "new");
        let subject_only = Query::subject("s")
            .lens(LensKind::Recency)
            .max_stale(Duration::MAX);
        assert!(!f.query(&subject_only).await.used_view);
        let stats = f.engine.stats();
        assert_eq!(
            (stats.view_hits, stats.stale_views, stats.future_dated_views),
            (0, 0, 0)
        );
        assert_eq!(stats.slow_paths, 3);
    });
}

#[test]
fn the_first_query_with_a_bound_materialises_the_view() {
    runtime().block_on(async {
        let f = Fixture::new(10_000).await;
        let bound = Duration::from_millis(100);
        assert!(!f.query(&recent(bound)).await.used_view);
        assert_eq!(f.engine.view_materialized_at("s", "p"), Some(10_000));
        f.clock.advance(Duration::from_millis(100));
        assert!(f.query(&recent(bound)).await.used_view);
    });
}
