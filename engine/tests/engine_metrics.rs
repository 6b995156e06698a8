//! The engine's metrics agree with what was done to it, on the production stack (RealVfs +
//! SledKv in a temporary directory): appends and their bytes, errors by kind, group-commit
//! batches, syncs, recoveries across reopens into one registry, KV calls, dead letters by reason,
//! and the lag gauge. Read back through the text format, as Prometheus would.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use stemedb::io::{Clock, RealClock, RealVfs, Vfs};
use stemedb::metrics::Metrics;
use stemedb::model::{Agent, Assertion, Record, Weight};
use stemedb::storage::{KvStore, SledKv};
use stemedb::{Engine, EngineError, EngineOptions};

/// Bound on waiting for ingest (real time).
const WAIT_BOUND: Duration = Duration::from_secs(30);

/// `name{labels}` -> value, for every sample line of the text format.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (name, value) = line.rsplit_once(' ').expect("a sample is `name value`");
            (
                name.to_owned(),
                value.parse().expect("a sample's value is a number"),
            )
        })
        .collect()
}

fn sample(samples: &BTreeMap<String, f64>, name: &str) -> f64 {
    *samples
        .get(name)
        .unwrap_or_else(|| panic!("no sample {name} in {samples:#?}"))
}

async fn open(dir: &Path, kv: Arc<dyn KvStore>, metrics: &Arc<Metrics>) -> Engine {
    let vfs: Arc<dyn Vfs> = Arc::new(RealVfs);
    let clock: Arc<dyn Clock> = Arc::new(RealClock::default());
    Engine::open_with_metrics(
        vfs,
        kv,
        clock,
        &dir.join("wal"),
        EngineOptions::default(),
        Arc::clone(metrics),
    )
    .await
    .expect("open")
}

#[expect(
    clippy::disallowed_methods,
    reason = "a real engine on a real clock, bounded in real time"
)]
async fn caught_up(engine: &Engine) -> Result<u64, EngineError> {
    tokio::time::timeout(WAIT_BOUND, engine.wait_caught_up())
        .await
        .expect("bounded wait ran out")
}

#[tokio::test]
async fn metrics_count_what_the_engine_did() {
    let tmp = tempfile::tempdir().unwrap();
    let kv: Arc<dyn KvStore> = Arc::new(SledKv::open(&tmp.path().join("kv")).unwrap());
    let metrics = Metrics::shared();
    let engine = open(tmp.path(), Arc::clone(&kv), &metrics).await;
    let now = engine.clock().wall_ms();

    let agent = Agent::derived(17, 0);
    let mut assertion = Assertion::new("subject", "predicate", "object", 0.5, now - 10);
    agent.sign_assertion(&mut assertion);
    let vote = Agent::derived(17, 1).vote(assertion.identity_hash(), Weight::from_units(2), now);
    let records = [Record::Assertion(assertion), Record::Vote(vote)];
    let mut bytes = 0;
    for record in &records {
        bytes += record.encode().unwrap().len();
        engine.submit(record).await.unwrap();
    }
    // Two records ingest cannot read: each is a dead letter with reason `decode`.
    for garbage in [&b"not a record"[..], &[0u8; 40][..]] {
        bytes += garbage.len();
        engine.submit_raw(garbage).await.unwrap();
    }
    // Refused before it is queued: counted as an error of its kind, not as an append.
    let too_large = vec![0u8; 64 << 20];
    assert!(engine.submit_raw(&too_large).await.is_err());
    let end = caught_up(&engine).await.unwrap();

    let text = engine.metrics_text().await;
    assert!(
        text.ends_with("# EOF\n"),
        "the OpenMetrics text ends with # EOF"
    );
    let s = samples(&text);
    assert_eq!(sample(&s, "stemedb_wal_appends_total"), 4.0);
    assert_eq!(sample(&s, "stemedb_wal_append_bytes_total"), bytes as f64);
    assert_eq!(
        sample(&s, r#"stemedb_wal_errors_total{kind="record_too_large"}"#),
        1.0
    );
    // One record per batch here (each submit awaited): four batches, four records, and a sync
    // for each at least.
    assert_eq!(sample(&s, "stemedb_wal_group_commit_records_count"), 4.0);
    assert_eq!(sample(&s, "stemedb_wal_group_commit_records_sum"), 4.0);
    assert!(sample(&s, "stemedb_wal_fsync_seconds_count") >= 4.0);
    assert_eq!(sample(&s, "stemedb_wal_recoveries_total"), 1.0);
    assert_eq!(sample(&s, "stemedb_wal_recovery_seconds_count"), 1.0);
    assert_eq!(
        sample(&s, r#"stemedb_ingest_dead_letters_total{reason="decode"}"#),
        2.0
    );
    assert_eq!(sample(&s, "stemedb_ingest_lag_bytes"), 0.0);
    assert_eq!(sample(&s, "stemedb_wal_segments"), 1.0);
    assert!(
        sample(
            &s,
            r#"stemedb_kv_operations_total{op="apply_batch",outcome="ok"}"#
        ) >= 1.0
    );
    assert_eq!(
        sample(
            &s,
            r#"stemedb_kv_operation_seconds_count{op="apply_batch"}"#
        ),
        sample(
            &s,
            r#"stemedb_kv_operations_total{op="apply_batch",outcome="ok"}"#
        ),
    );
    assert_eq!(engine.durable_end(), end);
    engine.shutdown().await.unwrap();

    // A reopen into the same registry keeps counting: a second recovery, nothing re-counted.
    let engine = open(tmp.path(), Arc::clone(&kv), &metrics).await;
    caught_up(&engine).await.unwrap();
    let s = samples(&engine.metrics_text().await);
    assert_eq!(sample(&s, "stemedb_wal_recoveries_total"), 2.0);
    assert_eq!(sample(&s, "stemedb_wal_appends_total"), 4.0);
    assert_eq!(
        sample(&s, r#"stemedb_ingest_dead_letters_total{reason="decode"}"#),
        2.0
    );
    engine.shutdown().await.unwrap();
}

#[tokio::test]
async fn engines_opened_apart_count_apart() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let kv_a: Arc<dyn KvStore> = Arc::new(SledKv::open(&a.join("kv")).unwrap());
    let kv_b: Arc<dyn KvStore> = Arc::new(SledKv::open(&b.join("kv")).unwrap());
    let (metrics_a, metrics_b) = (Metrics::shared(), Metrics::shared());
    let engine_a = open(&a, kv_a, &metrics_a).await;
    let engine_b = open(&b, kv_b, &metrics_b).await;
    engine_a.submit_raw(b"one").await.unwrap();
    engine_a.submit_raw(b"two").await.unwrap();
    engine_b.submit_raw(b"three").await.unwrap();
    let (s_a, s_b) = (
        samples(&engine_a.metrics_text().await),
        samples(&engine_b.metrics_text().await),
    );
    assert_eq!(sample(&s_a, "stemedb_wal_appends_total"), 2.0);
    assert_eq!(sample(&s_b, "stemedb_wal_appends_total"), 1.0);
    engine_a.shutdown().await.unwrap();
    engine_b.shutdown().await.unwrap();
}
