//! The HTTP API over loopback with a real HTTP/1 client: every endpoint, every error status,
//! idempotent retries, rate limiting, and `/metrics` agreeing with what the test did.
//!
//! Each test runs an engine on RealVfs + SledKv in a temporary directory, serves the router on a
//! tokio listener on port 0, and bounds every wait in real time (`api_support::WAIT_BOUND`).

mod api_support;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use api_support::{
    assertion_json, evidence_json, http_count, parse_metrics, vote_json, FailingSync, HttpClient,
};
use hyper::{Method, StatusCode};
use serde_json::{json, Value};
use stemedb::api::{self, ApiOptions, BODY_BYTES_MAX, METRICS_CONTENT_TYPE};
use stemedb::io::{Clock, RealClock, RealVfs, Vfs};
use stemedb::model::{Agent, Assertion, Weight};
use stemedb::storage::{keys, KvStore, SledKv};
use stemedb::{Engine, EngineOptions};

struct Server {
    engine: Arc<Engine>,
    client: HttpClient,
    _dir: tempfile::TempDir,
}

async fn engine_on(dir: &Path, vfs: Arc<dyn Vfs>) -> Arc<Engine> {
    let kv: Arc<dyn KvStore> = Arc::new(SledKv::open(&dir.join("kv")).expect("sled"));
    let clock: Arc<dyn Clock> = Arc::new(RealClock::default());
    Arc::new(
        Engine::open(vfs, kv, clock, &dir.join("wal"), EngineOptions::default())
            .await
            .expect("open"),
    )
}

async fn serve(engine: Arc<Engine>, options: ApiOptions) -> HttpClient {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(api::serve(listener, api::router(engine, options)));
    HttpClient::new(addr)
}

async fn start(options: ApiOptions) -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = engine_on(dir.path(), Arc::new(RealVfs)).await;
    let client = serve(Arc::clone(&engine), options).await;
    Server {
        engine,
        client,
        _dir: dir,
    }
}

fn agent(i: u64) -> Agent {
    Agent::derived(16, i)
}

fn signed(subject: &str, object: &str, now_ms: u64, signer: u64) -> Assertion {
    let mut a = Assertion::new(subject, "colour", object, 0.75, now_ms - 10);
    agent(signer).sign_assertion(&mut a);
    a
}

fn offset_of(answer: &Value) -> u64 {
    answer["offset"].as_u64().expect("offset")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_answers() {
    let s = start(ApiOptions::default()).await;
    let now = s.engine.clock().wall_ms();
    let a = signed("sky", "blue", now, 1);

    let wrote = s
        .client
        .post_json("/v1/assertions", &assertion_json(&a))
        .await;
    assert_eq!(wrote.status, StatusCode::CREATED, "{}", wrote.text());
    let wrote = wrote.json();
    assert_eq!(wrote["hash"], a.identity_hash().to_string());
    assert_eq!(wrote["duplicate"], false);
    let first = offset_of(&wrote);

    let v = agent(2).vote(a.identity_hash(), Weight::from_units(2), now);
    let voted = s.client.post_json("/v1/votes", &vote_json(&v)).await;
    assert_eq!(voted.status, StatusCode::CREATED, "{}", voted.text());
    assert!(offset_of(&voted.json()) > first);

    let e = agent(3).evidence(a.identity_hash(), b"https://example.org/sky".to_vec(), now);
    let evidenced = s.client.post_json("/v1/evidence", &evidence_json(&e)).await;
    assert_eq!(
        evidenced.status,
        StatusCode::CREATED,
        "{}",
        evidenced.text()
    );
    let last = offset_of(&evidenced.json());

    let q = s
        .client
        .get(&format!(
            "/v1/query?subject=sky&predicate=colour&lens=consensus&lifecycle=active&ingested_through={last}"
        ))
        .await;
    assert_eq!(q.status, StatusCode::OK, "{}", q.text());
    let q = q.json();
    assert_eq!(q["winner"]["hash"], a.identity_hash().to_string());
    assert_eq!(q["winner"]["vote_count"], 1);
    assert_eq!(q["winner"]["vote_weight_micros"], 2_000_000);
    assert_eq!(q["winner"]["assertion"], assertion_json(&a));
    assert_eq!(q["candidates"].as_array().map(Vec::len), Some(1));
    assert_eq!(q["rule"], "only_candidate");
    assert!(q["explanation"].as_str().is_some_and(|e| !e.is_empty()));

    let recency = s
        .client
        .get("/v1/query?subject=sky&lens=recency&max_stale_ms=1000&lifecycle=all")
        .await;
    assert_eq!(recency.status, StatusCode::OK, "{}", recency.text());
    assert_eq!(
        recency.json()["audit_seq"],
        q["audit_seq"].as_u64().unwrap() + 1
    );

    let audit = s.client.get("/v1/audit").await;
    assert_eq!(audit.status, StatusCode::OK);
    let audit = audit.json();
    let records = audit["records"].as_array().expect("records");
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["subject"], "sky");
    assert_eq!(records[0]["winner"], a.identity_hash().to_string());
    assert_eq!(records[1]["lens"], "recency");
    let paged = s.client.get("/v1/audit?limit=1").await.json();
    assert_eq!(paged["records"].as_array().map(Vec::len), Some(1));
    let after = paged["next_after"].as_u64().expect("a next page");
    let rest = s
        .client
        .get(&format!("/v1/audit?after={after}"))
        .await
        .json();
    assert_eq!(rest["records"].as_array().map(Vec::len), Some(1));
    assert!(rest["next_after"].is_null());

    let health = s.client.get("/health").await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.json()["status"], "ok");

    let metrics = s.client.get("/metrics").await;
    assert_eq!(metrics.status, StatusCode::OK);
    assert_eq!(
        metrics
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some(METRICS_CONTENT_TYPE)
    );
    assert!(metrics.text().trim_end().ends_with("# EOF"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_record_is_one_record() {
    let s = start(ApiOptions::default()).await;
    let now = s.engine.clock().wall_ms();
    let a = signed("retry", "once", now, 1);
    let body = assertion_json(&a);

    let first = s.client.post_json("/v1/assertions", &body).await;
    assert_eq!(first.status, StatusCode::CREATED);
    let first = first.json();
    let end = s.engine.durable_end();
    let again = s.client.post_json("/v1/assertions", &body).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text());
    let again = again.json();
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["hash"], first["hash"]);
    assert_eq!(
        again["offset"], first["offset"],
        "the first offset is answered"
    );
    assert_eq!(s.engine.durable_end(), end, "nothing appended");

    // A vote retried, and a vote with the same identity but a forged signature: the forgery
    // must not pass for the acknowledged vote.
    let v = agent(2).vote(a.identity_hash(), Weight::from_units(1), now);
    assert_eq!(
        s.client.post_json("/v1/votes", &vote_json(&v)).await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        s.client.post_json("/v1/votes", &vote_json(&v)).await.status,
        StatusCode::OK
    );
    let mut forged = v.clone();
    forged.signature[0] ^= 1;
    let refused = s.client.post_json("/v1/votes", &vote_json(&forged)).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused.code(), "bad_signature");

    // A server that forgot what it acknowledged (a new router: a restart) still recognises the
    // record from the store once it is ingested, and appends nothing.
    s.engine.wait_caught_up().await.expect("ingest");
    let fresh = serve(Arc::clone(&s.engine), ApiOptions::default()).await;
    let end = s.engine.durable_end();
    let from_store = fresh.post_json("/v1/assertions", &body).await;
    assert_eq!(from_store.status, StatusCode::OK, "{}", from_store.text());
    let from_store = from_store.json();
    assert_eq!(from_store["duplicate"], true);
    assert!(from_store["offset"].is_null());
    assert_eq!(
        fresh.post_json("/v1/votes", &vote_json(&v)).await.status,
        StatusCode::OK
    );
    assert_eq!(s.engine.durable_end(), end, "nothing appended");

    let kv = s.engine.kv();
    let stored = kv
        .scan_prefix(&keys::assertion_key(&a.identity_hash()))
        .await
        .unwrap();
    assert_eq!(stored.len(), 1, "the KV holds the assertion once");
    let metrics = parse_metrics(&s.client.get("/metrics").await.text());
    assert_eq!(
        metrics["stemedb_wal_appends_total"], 2.0,
        "one assertion, one vote"
    );
    let q = s.client.get("/v1/query?subject=retry").await.json();
    assert_eq!(q["winner"]["vote_count"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_typed_and_store_nothing() {
    let s = start(ApiOptions::default()).await;
    let now = s.engine.clock().wall_ms();
    let a = signed("bad", "input", now, 1);
    let good = assertion_json(&a);
    let post = |body: Vec<u8>, ct: Option<&'static str>| {
        let client = s.client.clone();
        async move { client.send(Method::POST, "/v1/assertions", ct, body).await }
    };
    let json_ct = Some("application/json");

    let malformed = post(b"{\"subject\": ".to_vec(), json_ct).await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert_eq!(malformed.code(), "malformed_json");

    let mut bad_hex = good.clone();
    bad_hex["signatures"][0]["signature"] = json!("zz");
    let answer = post(serde_json::to_vec(&bad_hex).unwrap(), json_ct).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.code(), "invalid_field");

    let mut short_key = good.clone();
    short_key["signatures"][0]["public_key"] = json!("abcd");
    assert_eq!(
        post(serde_json::to_vec(&short_key).unwrap(), json_ct)
            .await
            .status,
        StatusCode::BAD_REQUEST
    );

    let mut wrong_type = good.clone();
    wrong_type["timestamp_ms"] = json!("yesterday");
    assert_eq!(
        post(serde_json::to_vec(&wrong_type).unwrap(), json_ct)
            .await
            .code(),
        "invalid_field"
    );

    let mut unknown_field = good.clone();
    unknown_field["parent"] = json!(null);
    assert_eq!(
        post(serde_json::to_vec(&unknown_field).unwrap(), json_ct)
            .await
            .status,
        StatusCode::BAD_REQUEST
    );

    let no_type = post(serde_json::to_vec(&good).unwrap(), None).await;
    assert_eq!(no_type.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(no_type.code(), "unsupported_media_type");
    let text_type = post(serde_json::to_vec(&good).unwrap(), Some("text/plain")).await;
    assert_eq!(text_type.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let huge = vec![b' '; BODY_BYTES_MAX + 1];
    let too_large = post(huge, json_ct).await;
    assert_eq!(too_large.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(too_large.code(), "body_too_large");

    let mut tampered = a.clone();
    tampered.object = "green".into();
    let invalid = post(
        serde_json::to_vec(&assertion_json(&tampered)).unwrap(),
        json_ct,
    )
    .await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(invalid.code(), "bad_signature");
    let mut unsigned = a.clone();
    unsigned.signatures.clear();
    let invalid = post(
        serde_json::to_vec(&assertion_json(&unsigned)).unwrap(),
        json_ct,
    )
    .await;
    assert_eq!(invalid.code(), "no_signature");
    let zero = agent(2).vote(a.identity_hash(), Weight::ZERO, now);
    let invalid = s.client.post_json("/v1/votes", &vote_json(&zero)).await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(invalid.code(), "weight_zero");

    assert_eq!(s.client.get("/v1/query").await.code(), "invalid_query");
    assert_eq!(
        s.client.get("/v1/query?subject=x&lens=coin").await.code(),
        "invalid_lens"
    );
    assert_eq!(
        s.client
            .get("/v1/query?subject=x&lifecycle=zombie")
            .await
            .code(),
        "invalid_lifecycle"
    );
    assert_eq!(
        s.client
            .get("/v1/query?subject=x&max_stale_ms=-1")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        s.client
            .get("/v1/query?subject=x&ingested_through=999999")
            .await
            .code(),
        "offset_not_written"
    );

    let missing = s.client.get("/v2/nothing").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.code(), "not_found");
    let wrong_method = s.client.get("/v1/assertions").await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.code(), "method_not_allowed");

    assert_eq!(
        s.engine.durable_end(),
        0,
        "no refused request appended anything"
    );
    let metrics = parse_metrics(&s.client.get("/metrics").await.text());
    assert_eq!(metrics["stemedb_wal_appends_total"], 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_rate_is_429_with_retry_after() {
    let options = ApiOptions {
        rate_per_s: 1,
        burst: 2,
        ..ApiOptions::default()
    };
    let s = start(options).await;
    assert_eq!(
        s.client.get("/v1/query?subject=a").await.status,
        StatusCode::OK
    );
    assert_eq!(s.client.get("/v1/audit").await.status, StatusCode::OK);
    let limited = s.client.get("/v1/query?subject=a").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.code(), "rate_limited");
    let retry_after_s: u64 = limited
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in whole seconds");
    assert!(retry_after_s >= 1);
    // A write over the limit is refused before it is read: nothing appended.
    let now = s.engine.clock().wall_ms();
    let a = signed("limited", "write", now, 1);
    let refused = s
        .client
        .post_json("/v1/assertions", &assertion_json(&a))
        .await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(s.engine.durable_end(), 0);
    // Monitoring is never limited.
    for _ in 0..5 {
        assert_eq!(s.client.get("/health").await.status, StatusCode::OK);
    }
    let metrics = parse_metrics(&s.client.get("/metrics").await.text());
    assert_eq!(http_count(&metrics, "/v1/query", 429), 1);
    assert_eq!(http_count(&metrics, "/v1/assertions", 429), 1);
    assert_eq!(http_count(&metrics, "/health", 200), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_agree_with_what_was_done() {
    let s = start(ApiOptions::default()).await;
    let now = s.engine.clock().wall_ms();
    let writes = 5u64;
    let mut last = 0;
    for i in 0..writes {
        let a = signed("counted", &format!("object {i}"), now, i);
        let answer = s
            .client
            .post_json("/v1/assertions", &assertion_json(&a))
            .await;
        assert_eq!(answer.status, StatusCode::CREATED);
        last = offset_of(&answer.json());
        if i == 0 {
            assert_eq!(
                s.client
                    .post_json("/v1/assertions", &assertion_json(&a))
                    .await
                    .status,
                StatusCode::OK
            );
        }
    }
    let q = s
        .client
        .get(&format!(
            "/v1/query?subject=counted&ingested_through={last}"
        ))
        .await;
    assert_eq!(
        q.json()["candidates"].as_array().map(Vec::len),
        Some(writes as usize)
    );
    for _ in 0..3 {
        assert_eq!(s.client.get("/nowhere").await.status, StatusCode::NOT_FOUND);
    }
    assert_eq!(
        s.client
            .send(Method::POST, "/v1/votes", None, b"{}".to_vec())
            .await
            .status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    s.client.get("/health").await;
    // The metrics request counts itself only after it is answered: read twice and compare.
    let first = parse_metrics(&s.client.get("/metrics").await.text());
    let metrics = parse_metrics(&s.client.get("/metrics").await.text());
    assert_eq!(http_count(&metrics, "/v1/assertions", 201), writes);
    assert_eq!(http_count(&metrics, "/v1/assertions", 200), 1);
    assert_eq!(http_count(&metrics, "/v1/query", 200), 1);
    assert_eq!(http_count(&metrics, "unmatched", 404), 3);
    assert_eq!(http_count(&metrics, "/v1/votes", 415), 1);
    assert_eq!(http_count(&metrics, "/health", 200), 1);
    assert_eq!(http_count(&first, "/metrics", 200), 0);
    assert_eq!(http_count(&metrics, "/metrics", 200), 1);
    assert_eq!(metrics["stemedb_wal_appends_total"], writes as f64);
    let durations = "stemedb_http_request_duration_seconds_count{route=\"/v1/assertions\"}";
    assert_eq!(metrics[durations], (writes + 1) as f64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wal_that_failed_closed_is_503_never_2xx() {
    let dir = tempfile::tempdir().expect("tempdir");
    let failing = Arc::new(AtomicBool::new(false));
    let vfs: Arc<dyn Vfs> = Arc::new(FailingSync {
        failing: Arc::clone(&failing),
    });
    let engine = engine_on(dir.path(), vfs).await;
    let client = serve(Arc::clone(&engine), ApiOptions::default()).await;
    let now = engine.clock().wall_ms();
    let ok = client
        .post_json(
            "/v1/assertions",
            &assertion_json(&signed("disk", "fine", now, 1)),
        )
        .await;
    assert_eq!(ok.status, StatusCode::CREATED);

    failing.store(true, Ordering::SeqCst);
    let a = signed("disk", "failing", now, 2);
    let refused = client
        .post_json("/v1/assertions", &assertion_json(&a))
        .await;
    assert_eq!(
        refused.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        refused.text()
    );
    assert_eq!(refused.code(), "wal_failed_closed");
    // Closed stays closed, even once the disk would sync again.
    failing.store(false, Ordering::SeqCst);
    let again = client
        .post_json("/v1/assertions", &assertion_json(&a))
        .await;
    assert_eq!(again.status, StatusCode::SERVICE_UNAVAILABLE);
    let health = client.get("/health").await;
    assert_eq!(health.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(health.json()["reason"]
        .as_str()
        .is_some_and(|r| r.contains("failed closed")));
}
