//! The whole server, SIGKILLed: `stemedb serve` as a child process, clients writing signed
//! assertions and votes as fast as they can, the parent killing the server at random moments
//! (seeded) and restarting it on the same directory. Afterwards every acknowledged record must
//! be there, ingested exactly once and queryable over HTTP.
//!
//! Every record a client sends is retried until some server acknowledges it (2xx; a retry of a
//! record the killed server had made durable answers 200 "duplicate"), so the set of records
//! that may have reached the log is exactly the acknowledged set, and the expected vote counts
//! are exact: each assertion counts exactly its distinct acknowledged votes, no more (a
//! duplicate ingested) and no less (a record lost).
//!
//! `STEMEDB_SIGKILL_ROUNDS=N` runs N kills (default `ROUNDS_DEFAULT`, small enough for CI) and
//! prints the totals; `STEMEDB_SIGKILL_SEED` picks the seed of the kill moments.

mod api_support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use api_support::{assertion_json, vote_json, HttpClient, WAIT_BOUND};
use hyper::StatusCode;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use stemedb::io::{Clock, RealClock};
use stemedb::model::{Agent, Assertion, Hash32, Weight};
use tokio::sync::watch;

/// Kills in a plain `cargo test` run.
const ROUNDS_DEFAULT: u64 = 3;
/// Concurrent client tasks.
const CLIENTS: u64 = 4;
/// Votes each assertion gets, each by a distinct voter.
const VOTERS: u64 = 2;
/// How long the server runs before a kill, drawn uniformly in this range (ms).
const KILL_AFTER_MS_MIN: u64 = 20;
const KILL_AFTER_MS_MAX: u64 = 300;
/// How long a client waits for a new server address before trying the old one again.
const REDIAL_WAIT: Duration = Duration::from_millis(500);

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Starts `stemedb serve` on `dir` and reads its `listening on ADDR` line (bounded).
#[expect(
    clippy::disallowed_methods,
    reason = "a real child process, its start bounded in real time"
)]
async fn start_server(dir: &Path) -> (Child, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stemedb"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--no-rate-limit",
            "--data-dir",
        ])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn stemedb serve");
    let stdout = child.stdout.take().expect("stdout");
    let line = tokio::time::timeout(
        WAIT_BOUND,
        tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            BufReader::new(stdout).read_line(&mut line).map(|_| line)
        }),
    )
    .await
    .expect("the server printed its address in time")
    .expect("reader task")
    .expect("read stdout");
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .parse()
        .expect("an address");
    (child, addr)
}

/// What clients were told: content hash -> kind and every offset answered.
#[derive(Default)]
struct Acks {
    /// Assertion hashes by client subject.
    assertions: BTreeMap<String, BTreeSet<Hash32>>,
    /// Distinct acknowledged vote hashes per assertion.
    votes: BTreeMap<Hash32, BTreeSet<Hash32>>,
    /// 2xx answers in all.
    answers: u64,
    /// Of those, answers `"duplicate": true` (a retry of a record already durable).
    duplicate_answers: u64,
    /// Sends that got no answer (the server died under them) and were retried.
    retries: u64,
    /// Greatest offset answered.
    offset_max: u64,
}

/// Sends `body` to `path` until a server acknowledges it; returns the answer's JSON.
#[expect(
    clippy::disallowed_methods,
    reason = "waiting for a restarted server's address, bounded in real time"
)]
async fn until_acked(
    addr: &mut watch::Receiver<SocketAddr>,
    path: &str,
    body: &Value,
    acks: &Mutex<Acks>,
) -> Value {
    loop {
        let client = HttpClient::new(*addr.borrow_and_update());
        if let Some(answer) = client
            .try_send(
                hyper::Method::POST,
                path,
                Some("application/json"),
                serde_json::to_vec(body).expect("json"),
            )
            .await
        {
            assert!(
                answer.status.is_success() || answer.status == StatusCode::SERVICE_UNAVAILABLE,
                "{path}: {} {}",
                answer.status,
                answer.text()
            );
            if answer.status.is_success() {
                return answer.json();
            }
        }
        acks.lock().expect("acks").retries += 1;
        // The server is down (or refusing): wait for the next one, or try again shortly.
        let _ = tokio::time::timeout(REDIAL_WAIT, addr.changed()).await;
    }
}

async fn client(
    id: u64,
    now_ms: u64,
    mut addr: watch::Receiver<SocketAddr>,
    stop: Arc<AtomicBool>,
    acks: Arc<Mutex<Acks>>,
) {
    let author = Agent::derived(0x51C, id);
    let voters: Vec<Agent> = (0..VOTERS).map(|j| Agent::derived(0x5012, j)).collect();
    let subject = format!("sigkill-{id}");
    let mut k = 0u64;
    while !stop.load(Ordering::SeqCst) {
        let mut a = Assertion::new(subject.clone(), "seq", format!("{k}"), 0.5, now_ms);
        author.sign_assertion(&mut a);
        let hash = a.identity_hash();
        let answer = until_acked(&mut addr, "/v1/assertions", &assertion_json(&a), &acks).await;
        record(&acks, &answer, |acks| {
            acks.assertions
                .entry(subject.clone())
                .or_default()
                .insert(hash);
        });
        for voter in &voters {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            let v = voter.vote(hash, Weight::from_units(1), now_ms + k);
            let answer = until_acked(&mut addr, "/v1/votes", &vote_json(&v), &acks).await;
            let vote_hash = v.identity_hash();
            record(&acks, &answer, |acks| {
                acks.votes.entry(hash).or_default().insert(vote_hash);
            });
        }
        k += 1;
    }
}

fn record(acks: &Mutex<Acks>, answer: &Value, add: impl FnOnce(&mut Acks)) {
    let mut acks = acks.lock().expect("acks");
    acks.answers += 1;
    if answer["duplicate"] == Value::Bool(true) {
        acks.duplicate_answers += 1;
    }
    if let Some(offset) = answer["offset"].as_u64() {
        acks.offset_max = acks.offset_max.max(offset);
    }
    add(&mut acks);
}

#[expect(
    clippy::disallowed_methods,
    reason = "kills at random real-time moments, every wait bounded in real time"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilled_server_keeps_every_acknowledged_record_exactly_once() {
    let rounds = env_u64("STEMEDB_SIGKILL_ROUNDS", ROUNDS_DEFAULT);
    let seed = env_u64("STEMEDB_SIGKILL_SEED", 7);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let clock = RealClock::new();
    let began = clock.monotonic();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");

    let (mut child, addr) = start_server(&dir).await;
    let (addr_tx, addr_rx) = watch::channel(addr);
    let stop = Arc::new(AtomicBool::new(false));
    let acks = Arc::new(Mutex::new(Acks::default()));
    let now_ms = clock.wall_ms();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|id| {
            tokio::spawn(client(
                id,
                now_ms,
                addr_rx.clone(),
                Arc::clone(&stop),
                Arc::clone(&acks),
            ))
        })
        .collect();

    for _ in 0..rounds {
        let after = rng.random_range(KILL_AFTER_MS_MIN..=KILL_AFTER_MS_MAX);
        tokio::time::sleep(Duration::from_millis(after)).await;
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
        let (next, addr) = start_server(&dir).await;
        child = next;
        addr_tx.send(addr).expect("clients listen");
    }
    stop.store(true, Ordering::SeqCst);
    for c in clients {
        tokio::time::timeout(WAIT_BOUND, c)
            .await
            .expect("clients finish their last record in time")
            .expect("client task");
    }

    let acks = Arc::try_unwrap(acks)
        .ok()
        .expect("clients done")
        .into_inner()
        .expect("acks");
    let http = HttpClient::new(*addr_tx.borrow());
    let (mut lost, mut duplicates, mut assertions, mut votes) = (0u64, 0u64, 0u64, 0u64);
    for (subject, hashes) in &acks.assertions {
        let q = http
            .get(&format!(
                "/v1/query?subject={subject}&lifecycle=all&ingested_through={}",
                acks.offset_max
            ))
            .await;
        assert_eq!(q.status, StatusCode::OK, "{}", q.text());
        let q = q.json();
        let candidates = q["candidates"].as_array().expect("candidates");
        let mut seen: BTreeMap<String, u64> = BTreeMap::new();
        for c in candidates {
            let hash = c["hash"].as_str().expect("hash").to_owned();
            let count = c["vote_count"].as_u64().expect("vote_count");
            if seen.insert(hash, count).is_some() {
                duplicates += 1;
            }
        }
        for hash in hashes {
            assertions += 1;
            let expected = acks.votes.get(hash).map_or(0, |v| v.len() as u64);
            votes += expected;
            match seen.remove(&hash.to_string()) {
                None => lost += 1 + expected,
                Some(count) => {
                    lost += expected.saturating_sub(count);
                    duplicates += count.saturating_sub(expected);
                }
            }
        }
        // Anything left was never acknowledged: a record invented or ingested from nowhere.
        duplicates += seen.len() as u64;
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    let wall = clock.monotonic().saturating_sub(began);
    println!(
        "sigkill: seed {seed} kills {rounds} acknowledged {} (assertions {assertions}, votes {votes}; 2xx answers {}, of them duplicate answers {}; sends retried {}) lost {lost} duplicates {duplicates} wall {:.1} s",
        assertions + votes,
        acks.answers,
        acks.duplicate_answers,
        acks.retries,
        wall.as_secs_f64()
    );
    assert!(assertions > 0, "the clients wrote something");
    assert_eq!(lost, 0, "acknowledged records lost");
    assert_eq!(
        duplicates, 0,
        "records ingested more than once or never acknowledged"
    );
}
