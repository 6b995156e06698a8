//! Regression: the query engine's slow path was not snapshot-consistent under concurrent ingest.
//!
//! A store read is many KV calls: one index scan, then per candidate a `get` of the assertion and
//! of its `VC:`/`VW:` vote counters, with awaits in between. The ingest worker commits each record
//! (value, index entries, counters and the new ingest cursor) as one atomic batch, but nothing
//! tied the query's reads to one of those commits. A query could take its candidate set from
//! before a commit and its counters from after it, and answer with the lens over a state the
//! store never held. The simulator's cortex arena caught it: a subject-only consensus query
//! returned 20 candidates where the reference model, over the ingested set at any cursor the
//! query could have seen, had 23; the missing three were ingested while the query read.
//!
//! The fix brackets each read with two reads of the ingest cursor and repeats the read when they
//! differ, up to `SNAPSHOT_ATTEMPTS_MAX` times, then fails with `QueryError::NoStableSnapshot`.
//! These tests land an ingest commit in the middle of a query's reads, deterministically, through
//! a `KvStore` wrapper around the tests' in-memory store (no tasks, no sleeps).

#[path = "query_support.rs"]
mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use stemedb::lens::{LensKind, Rule, Standing};
use stemedb::model::{Assertion, Hash32, Lifecycle, Record, Vote, WeightSum};
use stemedb::query::{
    Query, QueryEngine, QueryError, QueryResult, OPTIMISTIC_ATTEMPTS_MAX, SNAPSHOT_ATTEMPTS_MAX,
};
use stemedb::storage::keys::{self, KeyFamily, INGEST_CURSOR_KEY};
use stemedb::storage::{CommitFence, KvError, KvStore, WriteBatch};
use support::{assertion, runtime, vote, MemKv, TestClock};

const UNIT: u64 = 1_000_000;
/// A view of any age answers (the view tests cover staleness).
const ANY_AGE: std::time::Duration = std::time::Duration::from_secs(3_600);

/// The ingest cursor's stored form.
fn cursor_value(offset: u64) -> Vec<u8> {
    offset.to_be_bytes().to_vec()
}

/// The writes ingest makes for a new assertion.
fn put_assertion(batch: &mut WriteBatch, a: &Assertion) {
    let hash = a.identity_hash();
    let (s, p) = (a.subject.as_bytes(), a.predicate.as_bytes());
    batch
        .put(
            keys::assertion_key(&hash),
            Record::Assertion(a.clone()).encode().unwrap(),
        )
        .put(keys::subject_key(s, &hash), Vec::new())
        .put(keys::subject_predicate_key(s, p, &hash), Vec::new());
}

/// The writes ingest makes for the first vote on an assertion nobody has voted on yet.
fn put_first_vote(batch: &mut WriteBatch, v: &Vote) {
    batch
        .put(
            keys::vote_key(&v.assertion_hash, &v.voter),
            Record::Vote(v.clone()).encode().unwrap(),
        )
        .put(
            keys::vote_count_key(&v.assertion_hash),
            1u64.to_be_bytes().to_vec(),
        )
        .put(
            keys::vote_weight_key(&v.assertion_hash),
            WeightSum::ZERO.add(v.weight).to_be_bytes().to_vec(),
        );
}

/// Two states of one store, one ingest commit apart.
struct States {
    one: Assertion,
    two: Assertion,
    three: Assertion,
}

impl States {
    fn new() -> States {
        States {
            one: assertion("s", "p", "one", 1_000, Lifecycle::Active),
            two: assertion("s", "p", "two", 2_000, Lifecycle::Active),
            three: assertion("s", "p", "three", 3_000, Lifecycle::Active),
        }
    }

    /// State A at cursor 10: "one" (weight 3, the consensus winner) and "two" (no votes).
    fn state_a(&self) -> WriteBatch {
        let mut batch = WriteBatch::new();
        put_assertion(&mut batch, &self.one);
        put_assertion(&mut batch, &self.two);
        put_first_vote(
            &mut batch,
            &vote(self.one.identity_hash(), 1, 3 * UNIT, 1_500),
        );
        batch.put(INGEST_CURSOR_KEY, cursor_value(10));
        batch
    }

    /// The commit that takes A to state B at cursor 20: a vote makes "two" (weight 5) the winner,
    /// and "three" is new. One batch stands in for any number of commits landing during a read:
    /// each moves the cursor, which is all the fix relies on.
    fn commit_b(&self) -> WriteBatch {
        let mut batch = WriteBatch::new();
        put_first_vote(
            &mut batch,
            &vote(self.two.identity_hash(), 2, 5 * UNIT, 2_500),
        );
        put_assertion(&mut batch, &self.three);
        batch.put(INGEST_CURSOR_KEY, cursor_value(20));
        batch
    }

    async fn store_a(&self) -> Arc<MemKv> {
        let kv = MemKv::new();
        kv.apply_batch(self.state_a()).await.unwrap();
        kv
    }

    async fn store_b(&self) -> Arc<MemKv> {
        let kv = self.store_a().await;
        kv.apply_batch(self.commit_b()).await.unwrap();
        kv
    }
}

/// What a lens answer is, without where it came from (audit numbers, explanations).
#[derive(Debug, PartialEq)]
struct Lensed {
    winner: Option<Hash32>,
    candidates: Vec<(Hash32, u64, WeightSum)>,
    rule: Rule,
}

fn lensed(r: &QueryResult) -> Lensed {
    let support = |c: &Standing| (c.hash, c.vote_count, c.vote_weight);
    Lensed {
        winner: r.winner.as_ref().map(|c| c.hash),
        candidates: r.candidates.iter().map(support).collect(),
        rule: r.rule,
    }
}

/// The lens over a store nobody writes to while it is read.
async fn quiet_answer(kv: Arc<MemKv>, q: &Query) -> Lensed {
    let engine = QueryEngine::new(kv, TestClock::at(1));
    let r = engine.query(q).await.unwrap();
    assert_eq!(engine.stats().snapshot_retries, 0, "nothing to retry");
    lensed(&r)
}

/// Delegates to `MemKv`; just before the first `get` of a key for which `trigger` holds, it
/// applies `pending` (an ingest commit landing in the middle of a query's reads).
#[derive(Debug)]
struct InterleavingKv {
    inner: Arc<MemKv>,
    trigger: fn(&[u8]) -> bool,
    pending: Mutex<Option<WriteBatch>>,
    /// Index scans (`S:` or `SP:`): one per attempt at a read of the candidates.
    index_scans: AtomicU64,
}

impl InterleavingKv {
    fn new(inner: Arc<MemKv>, trigger: fn(&[u8]) -> bool, pending: WriteBatch) -> Arc<Self> {
        Arc::new(InterleavingKv {
            inner,
            trigger,
            pending: Mutex::new(Some(pending)),
            index_scans: AtomicU64::new(0),
        })
    }

    fn landed(&self) -> bool {
        self.pending.lock().unwrap().is_none()
    }
}

fn is_index_prefix(prefix: &[u8]) -> bool {
    prefix.starts_with(KeyFamily::Subject.tag())
        || prefix.starts_with(KeyFamily::SubjectPredicate.tag())
}

#[async_trait]
impl KvStore for InterleavingKv {
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, KvError> {
        let landing = if (self.trigger)(key) {
            self.pending.lock().unwrap().take()
        } else {
            None
        };
        if let Some(batch) = landing {
            self.inner.apply_batch(batch).await?;
        }
        self.inner.get(key).await
    }

    async fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>, KvError> {
        if is_index_prefix(prefix) {
            self.index_scans.fetch_add(1, Ordering::SeqCst);
        }
        self.inner.scan_prefix(prefix).await
    }

    async fn apply_batch(&self, batch: WriteBatch) -> Result<(), KvError> {
        self.inner.apply_batch(batch).await
    }

    async fn flush(&self) -> Result<(), KvError> {
        self.inner.flush().await
    }
}

/// The first vote counter read: by then the index scan (state A's two candidates) is done.
fn first_counter_read(key: &[u8]) -> bool {
    key.starts_with(KeyFamily::VoteCount.tag())
}

fn consensus(predicate: Option<&str>) -> Query {
    let q = match predicate {
        Some(p) => Query::subject_predicate("s", p),
        None => Query::subject("s"),
    };
    q.lens(LensKind::VoteAwareConsensus)
}

/// The interleaving the simulator found: the candidate set is read at cursor 10, then ingest
/// commits, then the counters are read at cursor 20. Unvalidated, the answer is "two" winning
/// over "one" alone (B's counters on A's candidates), which is the lens over neither state.
#[test]
fn a_commit_landing_mid_read_never_mixes_two_states() {
    runtime().block_on(async {
        let states = States::new();
        for predicate in [None, Some("p")] {
            let q = consensus(predicate);
            let answer_a = quiet_answer(states.store_a().await, &q).await;
            let answer_b = quiet_answer(states.store_b().await, &q).await;
            // The two states differ in exactly the ways a mixed read would show.
            assert_eq!(answer_a.winner, Some(states.one.identity_hash()));
            assert_eq!(answer_a.candidates.len(), 2);
            assert_eq!(answer_b.winner, Some(states.two.identity_hash()));
            assert_eq!(answer_b.candidates.len(), 3);

            let kv = InterleavingKv::new(
                states.store_a().await,
                first_counter_read,
                states.commit_b(),
            );
            let engine = QueryEngine::new(kv.clone(), TestClock::at(1));
            let r = engine.query(&q).await.unwrap();
            assert!(kv.landed(), "the commit landed during the query");
            let got = lensed(&r);
            assert!(
                got == answer_a || got == answer_b,
                "{predicate:?}: the answer is the lens over neither state:\n{got:#?}\nA: {answer_a:#?}\nB: {answer_b:#?}"
            );
            // The commit landed after the first scan, so only B is consistent with the reads.
            assert_eq!(got, answer_b, "{predicate:?}");
            assert_eq!(kv.index_scans.load(Ordering::SeqCst), 2, "one retry");
            let stats = engine.stats();
            assert_eq!((stats.snapshot_retries, stats.snapshot_failures), (1, 0));
        }
    });
}

/// A view is materialised only from a validated read, so a view-answered query is the lens over
/// one state too.
#[test]
fn a_view_is_materialised_only_from_a_consistent_read() {
    runtime().block_on(async {
        let states = States::new();
        let q = consensus(Some("p")).max_stale(ANY_AGE);
        let answer_b = quiet_answer(states.store_b().await, &q).await;

        let kv = InterleavingKv::new(
            states.store_a().await,
            first_counter_read,
            states.commit_b(),
        );
        let engine = QueryEngine::new(kv.clone(), TestClock::at(1));
        engine.materialize("s", "p").await.unwrap();
        assert!(kv.landed());
        let r = engine.query(&q).await.unwrap();
        assert!(r.used_view);
        assert_eq!(lensed(&r), answer_b);
        assert_eq!(engine.stats().snapshot_retries, 1);
    });
}

/// A read torn across a store that went back to an earlier state (a KV crash reverting to its
/// last flush) can fail on data no single state holds: here an index entry whose assertion is
/// gone. The cursor moved, so that is not corruption: the read is repeated, not reported.
#[test]
fn a_read_torn_across_a_revert_is_repeated_not_reported_as_corruption() {
    runtime().block_on(async {
        let states = States::new();
        let q = consensus(None);
        let answer_a = quiet_answer(states.store_a().await, &q).await;

        // B reverted to A: undo "three" and the vote on "two", cursor back to 10.
        let three = states.three.identity_hash();
        let two = states.two.identity_hash();
        let mut revert = WriteBatch::new();
        revert
            .delete(keys::assertion_key(&three))
            .delete(keys::subject_key(b"s", &three))
            .delete(keys::subject_predicate_key(b"s", b"p", &three))
            .delete(keys::vote_key(&two, &[2; 32]))
            .delete(keys::vote_count_key(&two))
            .delete(keys::vote_weight_key(&two))
            .put(INGEST_CURSOR_KEY, cursor_value(10));
        fn reads_an_assertion(key: &[u8]) -> bool {
            key.starts_with(KeyFamily::Assertion.tag())
        }
        let kv = InterleavingKv::new(states.store_b().await, reads_an_assertion, revert);
        let engine = QueryEngine::new(kv.clone(), TestClock::at(1));
        let r = engine.query(&q).await.unwrap();
        assert!(kv.landed());
        assert_eq!(lensed(&r), answer_a);
        assert_eq!(engine.stats().snapshot_retries, 1);
    });
}

/// Delegates to `MemKv`, but ingest commits (a cursor advance, as a dead letter's commit would
/// be) just before every read of the cursor, so no two cursor reads ever agree.
#[derive(Debug)]
struct RestlessKv {
    inner: Arc<MemKv>,
    cursor: AtomicU64,
    index_scans: AtomicU64,
}

#[async_trait]
impl KvStore for RestlessKv {
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, KvError> {
        if key == INGEST_CURSOR_KEY {
            let next = self.cursor.fetch_add(1, Ordering::SeqCst) + 1;
            let mut batch = WriteBatch::new();
            batch.put(INGEST_CURSOR_KEY, cursor_value(next));
            self.inner.apply_batch(batch).await?;
        }
        self.inner.get(key).await
    }

    async fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>, KvError> {
        if is_index_prefix(prefix) {
            self.index_scans.fetch_add(1, Ordering::SeqCst);
        }
        self.inner.scan_prefix(prefix).await
    }

    async fn apply_batch(&self, batch: WriteBatch) -> Result<(), KvError> {
        self.inner.apply_batch(batch).await
    }

    async fn flush(&self) -> Result<(), KvError> {
        self.inner.flush().await
    }
}

#[test]
fn ingest_committing_during_every_attempt_gives_a_typed_error_after_the_limit() {
    runtime().block_on(async {
        let states = States::new();
        let kv = Arc::new(RestlessKv {
            inner: states.store_a().await,
            cursor: AtomicU64::new(10),
            index_scans: AtomicU64::new(0),
        });
        let engine = QueryEngine::new(kv.clone(), TestClock::at(1));

        let err = engine.query(&consensus(None)).await.unwrap_err();
        assert!(
            matches!(err, QueryError::NoStableSnapshot { attempts } if attempts == SNAPSHOT_ATTEMPTS_MAX),
            "{err}"
        );
        let attempts = u64::from(SNAPSHOT_ATTEMPTS_MAX);
        assert_eq!(kv.index_scans.load(Ordering::SeqCst), attempts);
        let stats = engine.stats();
        assert_eq!(
            (stats.queries, stats.snapshot_retries, stats.snapshot_failures),
            (1, attempts - 1, 1)
        );
        // Audited like any failed query.
        let audit = engine.audit_records().await.unwrap();
        assert_eq!(audit.len(), 1);
        let record = &audit[0].1;
        assert_eq!((record.rule, record.winner), (None, None));
        assert_eq!(record.error.as_deref(), Some(err.to_string().as_str()));

        // No view is installed from a read that never validated.
        let err = engine.materialize("s", "p").await.unwrap_err();
        assert!(
            matches!(err, QueryError::NoStableSnapshot { .. }),
            "{err}"
        );
        assert_eq!(engine.view_materialized_at("s", "p"), None);
        assert_eq!(kv.index_scans.load(Ordering::SeqCst), 2 * attempts);
        assert_eq!(engine.stats().snapshot_failures, 2);
    });
}

/// Delegates to `MemKv`, yielding before every call so a concurrent committer runs between any
/// two reads of a query.
#[derive(Debug)]
struct YieldingKv {
    inner: Arc<MemKv>,
}

#[async_trait]
impl KvStore for YieldingKv {
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, KvError> {
        tokio::task::yield_now().await;
        self.inner.get(key).await
    }

    async fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>, KvError> {
        tokio::task::yield_now().await;
        self.inner.scan_prefix(prefix).await
    }

    async fn apply_batch(&self, batch: WriteBatch) -> Result<(), KvError> {
        self.inner.apply_batch(batch).await
    }

    async fn flush(&self) -> Result<(), KvError> {
        self.inner.flush().await
    }
}

/// Steady ingest starved optimistic reads in the simulator (cortex: 29 of 48 seeds failed with
/// `NoStableSnapshot`). With the engine's `CommitFence` shared, the read after the optimistic ones
/// holds commits off, so it succeeds however busy ingest is, and ingest resumes afterwards.
#[test]
fn a_fenced_read_cannot_be_starved_by_steady_ingest() {
    runtime().block_on(async {
        let local = tokio::task::LocalSet::new();
        local
            .run_until(async {
                let states = States::new();
                let inner = states.store_a().await;
                let fence = Arc::new(CommitFence::new());
                let commits = Arc::new(AtomicU64::new(0));
                // An ingest worker that commits (a cursor advance) whenever it gets to run.
                const COMMITS_MAX: u64 = 10_000;
                let committer = {
                    let (inner, fence, commits) = (inner.clone(), fence.clone(), commits.clone());
                    tokio::task::spawn_local(async move {
                        for i in 0..COMMITS_MAX {
                            {
                                let _permit = fence.committing().await;
                                let mut batch = WriteBatch::new();
                                batch.put(INGEST_CURSOR_KEY, cursor_value(11 + i));
                                inner.apply_batch(batch).await.unwrap();
                                commits.fetch_add(1, Ordering::SeqCst);
                            }
                            tokio::task::yield_now().await;
                        }
                    })
                };
                let kv = Arc::new(YieldingKv { inner });
                let unfenced = QueryEngine::new(kv.clone(), TestClock::at(1));
                let err = unfenced.query(&consensus(None)).await.unwrap_err();
                assert!(matches!(err, QueryError::NoStableSnapshot { .. }), "{err}");

                let fenced =
                    QueryEngine::new(kv.clone(), TestClock::at(1)).with_commit_fence(fence.clone());
                let before = commits.load(Ordering::SeqCst);
                let r = fenced.query(&consensus(None)).await.unwrap();
                assert_eq!(r.candidates.len(), 2, "state A's candidates, read whole");
                let stats = fenced.stats();
                assert_eq!(
                    (stats.snapshot_retries, stats.snapshot_failures),
                    (u64::from(OPTIMISTIC_ATTEMPTS_MAX), 0),
                    "the optimistic attempts failed, the fenced one did not"
                );
                assert!(
                    commits.load(Ordering::SeqCst) > before,
                    "ingest kept committing around the query"
                );
                assert!(
                    commits.load(Ordering::SeqCst) < COMMITS_MAX,
                    "the committer is still running: the test did not pass by ingest stopping"
                );
                committer.abort();
            })
            .await;
    });
}
