//! Must-show: submit-time validation. Each invalid input returns its own typed error and stores
//! nothing: the WAL's durable end does not move and ingest never sees it. Runs on the production
//! stack (RealVfs + SledKv in a temporary directory) with a fixed clock.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use stemedb::io::{Clock, RealVfs, Vfs};
use stemedb::model::{
    Agent, Assertion, Limits, Record, ValidationError, Weight, FUTURE_SKEW_MS_MAX, SIGNATURES_MAX,
    SUBJECT_BYTES_MAX, WEIGHT_MAX,
};
use stemedb::storage::keys::KeyFamily;
use stemedb::storage::{KvStore, SledKv};
use stemedb::{Engine, EngineError, EngineOptions};

/// "Now" for the engine's clock.
const NOW_MS: u64 = 1_800_000_000_000;
/// Bound on waiting for ingest (real time).
const WAIT_BOUND: Duration = Duration::from_secs(30);

#[derive(Debug)]
struct FixedClock;

impl Clock for FixedClock {
    fn wall_ms(&self) -> u64 {
        NOW_MS
    }
    fn monotonic(&self) -> Duration {
        Duration::ZERO
    }

    fn sleep(&self, duration: Duration) -> stemedb::io::Sleep {
        // Only the time it reads is fixed; a wait is a real one.
        stemedb::io::RealClock::default().sleep(duration)
    }
}

fn agent(i: u64) -> Agent {
    Agent::derived(77, i)
}

fn signed(mut a: Assertion, by: &Agent) -> Record {
    by.sign_assertion(&mut a);
    Record::Assertion(a)
}

fn base() -> Assertion {
    Assertion::new("subject", "predicate", "object", 0.5, NOW_MS - 1000)
}

/// Every invalid input, with the error it must produce.
/// A named invalid input and the check its error must pass.
type Case = (&'static str, Record, fn(&ValidationError) -> bool);

fn invalid_inputs() -> Vec<Case> {
    let (a, b) = (agent(0), agent(1));
    let target = base().identity_hash();
    let mut cases: Vec<Case> = Vec::new();
    let mut x = base();
    x.subject = String::new();
    cases.push(("empty subject", signed(x, &a), |e| {
        matches!(e, ValidationError::SubjectEmpty)
    }));
    let mut x = base();
    x.subject = "s".repeat(SUBJECT_BYTES_MAX + 1);
    cases.push(("long subject", signed(x, &a), |e| {
        matches!(e, ValidationError::SubjectTooLong { .. })
    }));
    let mut x = base();
    x.object = String::new();
    cases.push(("empty object", signed(x, &a), |e| {
        matches!(e, ValidationError::ObjectEmpty)
    }));
    let mut x = base();
    x.confidence = f64::NAN;
    cases.push(("NaN confidence", signed(x, &a), |e| {
        matches!(e, ValidationError::ConfidenceNotFinite { .. })
    }));
    let mut x = base();
    x.confidence = 1.5;
    cases.push(("confidence 1.5", signed(x, &a), |e| {
        matches!(e, ValidationError::ConfidenceOutOfRange { .. })
    }));
    cases.push(("unsigned", Record::Assertion(base()), |e| {
        matches!(e, ValidationError::NoSignature)
    }));
    let Record::Assertion(mut x) = signed(base(), &a) else {
        unreachable!()
    };
    x.object = "tampered".into();
    cases.push(("tampered", Record::Assertion(x), |e| {
        matches!(e, ValidationError::BadSignature { index: 0 })
    }));
    let Record::Assertion(mut x) = signed(base(), &a) else {
        unreachable!()
    };
    let dup = x.signatures[0];
    x.signatures.push(dup);
    cases.push(("duplicate signer", Record::Assertion(x), |e| {
        matches!(e, ValidationError::DuplicateSigner { index: 1 })
    }));
    let mut x = base();
    for i in 0..=SIGNATURES_MAX as u64 {
        agent(100 + i).sign_assertion(&mut x);
    }
    cases.push(("too many signatures", Record::Assertion(x), |e| {
        matches!(e, ValidationError::TooManySignatures { .. })
    }));
    let mut x = base();
    x.timestamp_ms = NOW_MS + FUTURE_SKEW_MS_MAX + 1;
    cases.push(("future", signed(x, &a), |e| {
        matches!(e, ValidationError::TimestampInFuture { .. })
    }));
    cases.push((
        "zero weight",
        Record::Vote(b.vote(target, Weight::ZERO, NOW_MS)),
        |e| matches!(e, ValidationError::WeightZero),
    ));
    let heavy = Weight::from_micros(WEIGHT_MAX.micros() + 1);
    cases.push((
        "heavy vote",
        Record::Vote(b.vote(target, heavy, NOW_MS)),
        |e| matches!(e, ValidationError::WeightTooLarge { .. }),
    ));
    let mut v = b.vote(target, Weight::from_units(1), NOW_MS);
    v.weight = Weight::from_units(2);
    cases.push(("tampered vote", Record::Vote(v), |e| {
        matches!(e, ValidationError::BadSignature { .. })
    }));
    let v = b.vote(
        target,
        Weight::from_units(1),
        NOW_MS + FUTURE_SKEW_MS_MAX + 1,
    );
    cases.push(("future vote", Record::Vote(v), |e| {
        matches!(e, ValidationError::TimestampInFuture { .. })
    }));
    cases.push((
        "empty evidence",
        Record::Evidence(b.evidence(target, Vec::new(), NOW_MS)),
        |e| matches!(e, ValidationError::EvidenceEmpty),
    ));
    cases
}

async fn open(dir: &Path) -> (Engine, Arc<dyn KvStore>) {
    let kv: Arc<dyn KvStore> = Arc::new(SledKv::open(&dir.join("kv")).expect("sled"));
    let vfs: Arc<dyn Vfs> = Arc::new(RealVfs);
    let engine = Engine::open(
        vfs,
        Arc::clone(&kv),
        Arc::new(FixedClock),
        &dir.join("wal"),
        EngineOptions::default(),
    )
    .await
    .expect("open");
    (engine, kv)
}

#[tokio::test]
#[expect(
    clippy::disallowed_methods,
    reason = "a real engine on a real clock, bounded in real time"
)]
async fn every_invalid_input_returns_its_typed_error_and_stores_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (engine, kv) = open(tmp.path()).await;
    let end = engine.durable_end();
    for (name, record, is_expected) in invalid_inputs() {
        match engine.submit(&record).await {
            Err(EngineError::Validation(e)) => {
                assert!(is_expected(&e), "{name}: wrong error {e:?}")
            }
            other => panic!("{name}: expected a validation error, got {other:?}"),
        }
        assert_eq!(engine.durable_end(), end, "{name}: something was logged");
    }
    // Within the skew allowance is fine; and it is the only thing that reaches the store.
    let mut ok = base();
    ok.timestamp_ms = NOW_MS + FUTURE_SKEW_MS_MAX;
    let offset = engine
        .submit(&signed(ok, &agent(0)))
        .await
        .expect("valid record");
    assert_eq!(offset, end);
    tokio::time::timeout(WAIT_BOUND, engine.wait_ingested(offset))
        .await
        .expect("bounded")
        .expect("ingested");
    let stats = engine.ingest_stats();
    assert_eq!((stats.applied, stats.quarantined), (1, 0), "{stats:?}");
    for family in [
        KeyFamily::Assertion,
        KeyFamily::Vote,
        KeyFamily::Evidence,
        KeyFamily::Quarantine,
    ] {
        let n = kv.scan_prefix(family.tag()).await.unwrap().len();
        let want = usize::from(family == KeyFamily::Assertion);
        assert_eq!(n, want, "{family:?}");
    }
    engine.shutdown().await.expect("shutdown");
}

#[test]
fn limits_are_the_engine_defaults() {
    // The cases above are built from the default limits' constants.
    assert_eq!(EngineOptions::default().limits, Limits::default());
}
