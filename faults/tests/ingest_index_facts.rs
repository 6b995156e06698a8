//! Must-show: index entries state their assertion's facts and its counters as they stand,
//! whatever order votes and assertions arrive in: written with the assertion (counting the votes
//! logged before it), moved by every vote counted after it, left alone by a repeat. And an entry
//! of the older, empty format is rewritten by the next vote for its assertion. Queries read them.

mod ingest_support;

use std::path::Path;
use std::sync::Arc;

use stemedb::io::{Clock, Vfs};
use stemedb::lens::LensKind;
use stemedb::model::{Assertion, Lifecycle, Limits, Record, Weight, WeightSum};
use stemedb::query::{LifecycleFilter, Query, QueryEngine};
use stemedb::storage::index::IndexFacts;
use stemedb::storage::{keys, KvStore, WriteBatch};
use stemedb::{Engine, EngineOptions};
use stemedb_faults::{ClockPlan, SimClock, SimDisk, SimKv};

use ingest_support::*;

const DIR: &str = "/db/wal";

async fn open(disk: &SimDisk, kv: &SimKv) -> Engine {
    let vfs: Arc<dyn Vfs> = Arc::new(disk.clone());
    let clock: Arc<dyn Clock> = Arc::new(SimClock::manual(ClockPlan::default()));
    let kv: Arc<dyn KvStore> = Arc::new(kv.clone());
    Engine::open(vfs, kv, clock, Path::new(DIR), EngineOptions::default())
        .await
        .expect("open")
}

/// The facts both index entries of `a` state (they must agree with each other).
async fn facts(kv: &SimKv, a: &Assertion) -> Option<IndexFacts> {
    let h = a.identity_hash();
    let (s, p) = (a.subject.as_bytes(), a.predicate.as_bytes());
    let mut found = Vec::new();
    for key in [
        keys::subject_key(s, &h),
        keys::subject_predicate_key(s, p, &h),
    ] {
        let value = kv.get(&key).await.unwrap().expect("index entry");
        found.push(IndexFacts::decode(&key, &value).expect("well-formed"));
    }
    assert_eq!(found[0], found[1], "the S: and SP: entries agree");
    found[0]
}

fn units(n: u32) -> WeightSum {
    WeightSum::ZERO.add(Weight::from_units(n))
}

#[tokio::test(start_paused = true)]
async fn index_entries_carry_the_counters_in_every_arrival_order() {
    let (disk, kv) = (SimDisk::new(7), SimKv::new(7));
    let engine = open(&disk, &kv).await;
    let (author, early, late) = (agent(0), agent(1), agent(2));
    let mut a = Assertion::new("s", "p", "voted before it was stored", 0.5, TS_BASE_MS + 5);
    a.lifecycle = Lifecycle::Deprecated;
    author.sign_assertion(&mut a);
    let b = assertion(&author, "s", "p", "never voted for", 9);

    ok(
        engine.submit(&Record::Vote(vote(&early, &a, 3, 1))).await,
        "a vote before its assertion",
    );
    ok(engine.submit(&Record::Assertion(a.clone())).await, "a");
    ok(engine.submit(&Record::Assertion(b.clone())).await, "b");
    caught_up(&engine, "a stored").await;
    let stored_a = facts(&kv, &a).await.expect("new format");
    assert_eq!(
        stored_a,
        IndexFacts {
            timestamp_ms: a.timestamp_ms,
            lifecycle: Lifecycle::Deprecated,
            vote_count: 1,
            vote_weight: units(3),
        },
        "the assertion's entries count the vote logged before it"
    );

    ok(
        engine.submit(&Record::Vote(vote(&late, &a, 4, 6))).await,
        "a vote after",
    );
    ok(
        engine.submit(&Record::Vote(vote(&early, &a, 50, 7))).await,
        "a repeat",
    );
    caught_up(&engine, "votes").await;
    let after = facts(&kv, &a).await.expect("new format");
    assert_eq!(
        (after.vote_count, after.vote_weight),
        (2, units(7)),
        "moved by the new voter, not by the repeat"
    );
    assert_eq!(
        facts(&kv, &b).await.map(|f| f.vote_count),
        Some(0),
        "untouched"
    );

    let queries = QueryEngine::new(
        Arc::new(kv.clone()),
        Arc::new(SimClock::manual(ClockPlan::default())),
    );
    let r = queries
        .query(
            &Query::subject_predicate("s", "p")
                .lens(LensKind::VoteAwareConsensus)
                .lifecycles(LifecycleFilter::ALL),
        )
        .await
        .unwrap();
    assert_eq!(r.winner.as_ref().map(|w| w.hash), Some(a.identity_hash()));
    assert_eq!(
        r.candidates
            .iter()
            .map(|c| (c.hash, c.vote_count))
            .collect::<Vec<_>>(),
        vec![(a.identity_hash(), 2), (b.identity_hash(), 0)]
    );

    let log = read_all(&mut ok(engine.wal_reader().await, "reader")).await;
    let (want, got) = (replay(&log, &Limits::default()), stored(&kv).await);
    assert!(want == got, "{}", first_difference(&want, &got));
    ok(engine.shutdown().await, "shutdown");
}

#[tokio::test(start_paused = true)]
async fn the_next_vote_rewrites_an_entry_of_the_older_format() {
    let (disk, kv) = (SimDisk::new(8), SimKv::new(8));
    let engine = open(&disk, &kv).await;
    let (author, voter) = (agent(0), agent(1));
    let a = assertion(&author, "s", "p", "o", 5);
    ok(engine.submit(&Record::Assertion(a.clone())).await, "a");
    caught_up(&engine, "a stored").await;
    // What an earlier build left: empty entries.
    let h = a.identity_hash();
    let mut batch = WriteBatch::new();
    batch
        .put(keys::subject_key(b"s", &h), Vec::new())
        .put(keys::subject_predicate_key(b"s", b"p", &h), Vec::new());
    kv.apply_batch(batch).await.unwrap();
    assert_eq!(facts(&kv, &a).await, None);

    ok(
        engine.submit(&Record::Vote(vote(&voter, &a, 2, 6))).await,
        "vote",
    );
    caught_up(&engine, "vote").await;
    assert_eq!(
        facts(&kv, &a).await,
        Some(IndexFacts::of(&a, 1, units(2))),
        "rewritten in the current format"
    );
    ok(engine.shutdown().await, "shutdown");
}
