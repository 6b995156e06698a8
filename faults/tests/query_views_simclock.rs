//! Views under the simulator's clock: the query engine over `SimKv` and `SimClock` (the engine's
//! own tests use a hand-made clock, since `stemedb` cannot depend on `stemedb-faults`).
//! Must hold: a fresh view answers, a stale one does not, and after the wall clock jumps
//! backwards (or was skewed forward when the view was made) a view dated in the future is never
//! treated as fresh, however generous `max_stale` is; every query leaves one audit record.

use std::sync::Arc;
use std::time::Duration;

use stemedb::io::Clock;
use stemedb::lens::LensKind;
use stemedb::model::{Agent, Assertion, Record, WeightSum};
use stemedb::query::{Query, QueryEngine};
use stemedb::storage::index::{index_entries, IndexFacts};
use stemedb::storage::{keys, KvStore, WriteBatch};
use stemedb_faults::{ClockPlan, SimClock, SimKv};

async fn store_assertion(kv: &SimKv, subject: &str, ts: u64) {
    let mut a = Assertion::new(subject, "color", "red", 0.9, ts);
    Agent::derived(1, 0).sign_assertion(&mut a);
    let hash = a.identity_hash();
    let mut batch = WriteBatch::new();
    let facts = IndexFacts::of(&a, 0, WeightSum::ZERO);
    for (key, value) in index_entries(&hash, &facts, &a) {
        batch.put(key, value);
    }
    batch.put(
        keys::assertion_key(&hash),
        Record::Assertion(a).encode().unwrap(),
    );
    kv.apply_batch(batch).await.unwrap();
}

fn query(max_stale: Duration) -> Query {
    Query::subject_predicate("door", "color")
        .lens(LensKind::Recency)
        .max_stale(max_stale)
}

fn audits(kv: &SimKv) -> usize {
    kv.live_snapshot()
        .keys()
        .filter(|k| matches!(keys::Key::decode(k), Ok(keys::Key::Audit { .. })))
        .count()
}

#[tokio::test]
async fn fresh_views_answer_stale_and_future_dated_ones_never_do() {
    let kv = SimKv::new(1);
    let clock = SimClock::manual(ClockPlan::default());
    store_assertion(&kv, "door", clock.wall_ms()).await;
    let engine = QueryEngine::new(Arc::new(kv.clone()), Arc::new(clock.clone()));
    let second = Duration::from_secs(1);

    let first = engine.query(&query(second)).await.unwrap();
    assert!(
        !first.used_view,
        "no view exists yet: the slow path answers (and materialises)"
    );
    clock.advance(Duration::from_millis(500));
    let fresh = engine.query(&query(second)).await.unwrap();
    assert!(
        fresh.used_view,
        "a view 500 ms old answers a query allowing 1 s"
    );
    assert_eq!(fresh.winner.map(|c| c.hash), first.winner.map(|c| c.hash));

    clock.advance(Duration::from_secs(2));
    let stale = engine.query(&query(second)).await.unwrap();
    assert!(
        !stale.used_view,
        "a view 2.5 s old must not answer a query allowing 1 s"
    );
    assert!(engine.stats().stale_views >= 1);

    // The slow path just re-materialised the view at the current wall time. Now the wall clock
    // jumps back an hour: the view is dated in the future.
    clock.jump(-3_600_000);
    let future = engine.query(&query(Duration::MAX)).await.unwrap();
    assert!(
        !future.used_view,
        "a future-dated view is never fresh, whatever max_stale says"
    );
    assert!(engine.stats().future_dated_views >= 1, "and it is counted");
    assert_eq!(audits(&kv), 4, "every query left exactly one audit record");
}

#[tokio::test]
async fn a_view_made_under_forward_skew_is_not_trusted_once_the_skew_is_gone() {
    let kv = SimKv::new(2);
    // The clock runs 10 minutes fast, then is corrected (a jump back of 10 minutes).
    let plan = ClockPlan {
        skew_ms: 600_000,
        drift_ppm: 0,
        jumps: vec![stemedb_faults::ClockJump {
            at_ms: 1_000,
            delta_ms: -600_000,
        }],
    };
    let clock = SimClock::manual(plan);
    store_assertion(&kv, "door", clock.wall_ms()).await;
    let engine = QueryEngine::new(Arc::new(kv.clone()), Arc::new(clock.clone()));
    engine.materialize("door", "color").await.unwrap();
    clock.advance(Duration::from_millis(1_500));
    let r = engine
        .query(&query(Duration::from_secs(3600)))
        .await
        .unwrap();
    assert!(
        !r.used_view,
        "the view is dated ~10 minutes in the corrected clock's future"
    );
    assert!(engine.stats().future_dated_views >= 1);
}
