//! HTTP API write throughput: 64 concurrent clients over loopback posting signed assertions as
//! JSON (rate limiting off), beside its twin in the same run: the engine's own `submit` from 64
//! concurrent tasks, which is what the API can reach at most (every HTTP write ends in one
//! `submit`). The ratio printed at the end is what HTTP, JSON, hex and the duplicate check
//! (one KV read per write) cost on top.
//!
//! Both rows run on the production stack (RealVfs + SledKv in a temporary directory, each row its
//! own engine) on one multi-threaded runtime, with the engines' ingest running behind the writes
//! as it does in production. Records are signed and serialised before the timing starts; a
//! record is timed from the first request to the last durable acknowledgement of its iteration.
//!
//! `cargo bench -p stemedb-benches --bench api`.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use stemedb::api::{self, ApiOptions, AssertionDto};
use stemedb::io::{Clock, RealClock, RealVfs, Vfs};
use stemedb::model::{Agent, Assertion, Record};
use stemedb::storage::{KvStore, SledKv};
use stemedb::{Engine, EngineOptions};
use tokio::runtime::Runtime;

/// Concurrent writers (HTTP clients, or submitting tasks).
const WRITERS: usize = 64;
/// Records each writer sends per iteration.
const RECORDS_PER_WRITER: usize = 8;
/// Distinct signing agents.
const AGENTS: u64 = 16;

type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// Records per second of each row, for the ratio printed at the end.
#[derive(Default)]
struct Totals {
    http: (u64, Duration),
    submit: (u64, Duration),
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

async fn engine(dir: &Path) -> Arc<Engine> {
    let kv: Arc<dyn KvStore> = Arc::new(SledKv::open(&dir.join("kv")).expect("sled"));
    let vfs: Arc<dyn Vfs> = Arc::new(RealVfs);
    let clock: Arc<dyn Clock> = Arc::new(RealClock::new());
    Arc::new(
        Engine::open(vfs, kv, clock, &dir.join("wal"), EngineOptions::default())
            .await
            .expect("open engine"),
    )
}

/// `WRITERS` batches of `RECORDS_PER_WRITER` fresh assertions; `batch` makes them distinct
/// across iterations (a repeat would be answered as a duplicate, without an append).
fn assertions(agents: &[Agent], now_ms: u64, batch: u64) -> Vec<Vec<Assertion>> {
    (0..WRITERS)
        .map(|w| {
            (0..RECORDS_PER_WRITER)
                .map(|i| {
                    let object = format!("batch {batch} writer {w} record {i}");
                    let subject = format!("subject-{}", (w + i) % 97);
                    let mut a = Assertion::new(subject, "predicate", object, 0.75, now_ms - 1000);
                    agents[(w + i) % agents.len()].sign_assertion(&mut a);
                    a
                })
                .collect()
        })
        .collect()
}

async fn post_all(client: &HttpClient, addr: SocketAddr, bodies: Vec<Vec<Bytes>>) {
    let tasks: Vec<_> = bodies
        .into_iter()
        .map(|bodies| {
            let client = client.clone();
            tokio::spawn(async move {
                for body in bodies {
                    let request = Request::builder()
                        .method(Method::POST)
                        .uri(format!("http://{addr}/v1/assertions"))
                        .header("content-type", "application/json")
                        .body(Full::new(body))
                        .expect("request");
                    let response = client.request(request).await.expect("response");
                    let status = response.status();
                    let body = response.into_body().collect().await.expect("body");
                    assert_eq!(status, 201, "{:?}", body.to_bytes());
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("writer");
    }
}

async fn submit_all(engine: &Arc<Engine>, batches: Vec<Vec<Assertion>>) {
    let tasks: Vec<_> = batches
        .into_iter()
        .map(|batch| {
            let engine = Arc::clone(engine);
            tokio::spawn(async move {
                for a in batch {
                    engine.submit(&Record::Assertion(a)).await.expect("submit");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("writer");
    }
}

fn bench(c: &mut Criterion) {
    let rt = runtime();
    let tmp = tempfile::tempdir().expect("tempdir");
    let clock = RealClock::new();
    let agents: Vec<Agent> = (0..AGENTS).map(|i| Agent::derived(0xA91, i)).collect();
    let (server_engine, submit_engine, addr) = rt.block_on(async {
        let server_engine = engine(&tmp.path().join("http")).await;
        let submit_engine = engine(&tmp.path().join("submit")).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let router = api::router(
            Arc::clone(&server_engine),
            ApiOptions::default().unlimited(),
        );
        tokio::spawn(api::serve(listener, router));
        (server_engine, submit_engine, addr)
    });
    let client: HttpClient =
        rt.block_on(async { Client::builder(TokioExecutor::new()).build_http() });
    let totals = Mutex::new(Totals::default());
    let mut batch = 0u64;

    let mut group = c.benchmark_group("api_writes");
    group.throughput(Throughput::Elements((WRITERS * RECORDS_PER_WRITER) as u64));
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));

    group.bench_function(format!("http_{WRITERS}_clients_post_assertions"), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                batch += 1;
                let bodies: Vec<Vec<Bytes>> = assertions(&agents, clock.wall_ms(), batch)
                    .iter()
                    .map(|w| w.iter().map(|a| Bytes::from(serde_json_body(a))).collect())
                    .collect();
                let start = clock.monotonic();
                rt.block_on(post_all(&client, addr, bodies));
                total += clock.monotonic() - start;
            }
            let mut t = totals.lock().expect("totals");
            t.http.0 += iters * (WRITERS * RECORDS_PER_WRITER) as u64;
            t.http.1 += total;
            total
        })
    });
    group.bench_function(format!("engine_submit_{WRITERS}_tasks_twin"), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                batch += 1;
                let batches = assertions(&agents, clock.wall_ms(), batch);
                let start = clock.monotonic();
                rt.block_on(submit_all(&submit_engine, batches));
                total += clock.monotonic() - start;
            }
            let mut t = totals.lock().expect("totals");
            t.submit.0 += iters * (WRITERS * RECORDS_PER_WRITER) as u64;
            t.submit.1 += total;
            total
        })
    });
    group.finish();

    let t = totals.lock().expect("totals");
    let per_s = |(records, time): (u64, Duration)| records as f64 / time.as_secs_f64().max(1e-9);
    let (http, submit) = (per_s(t.http), per_s(t.submit));
    eprintln!(
        "api_writes: HTTP {http:.0} records/s, engine submit {submit:.0} records/s, HTTP/submit ratio {:.2} (over every timed iteration, warm-up included)",
        http / submit.max(1e-9)
    );
    drop(t);
    drop(server_engine);
    drop(submit_engine);
}

fn serde_json_body(a: &Assertion) -> Vec<u8> {
    serde_json::to_vec(&AssertionDto::from(a)).expect("json")
}

criterion_group!(benches, bench);
criterion_main!(benches);
