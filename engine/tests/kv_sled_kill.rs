//! Real sled under a real crash: a child process writes numbered batches and reports each flush,
//! the parent SIGKILLs it mid-stream, reopens the store and checks sled's contract as SimKv
//! models it: everything up to the last reported flush is there, and the state is exactly batches
//! 1..=m for some m (a prefix: never a gap, never half a batch), with the counter equal to m.
//!
//! sled cannot run inside the simulator (its own threads, std::fs), so this is how the model is
//! held to the real thing. The parent re-runs this test binary with `STEMEDB_KV_KILL_DIR` set;
//! the child role then writes until killed. Three rounds share one directory, so each child also
//! starts from a store recovered after a kill.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use stemedb::storage::{KvStore, SledKv, WriteBatch};

const DIR_ENV: &str = "STEMEDB_KV_KILL_DIR";
const CHILD_TEST: &str = "child_writes_until_killed";
const COUNTER_KEY: &[u8] = b"counter";
/// The child flushes after every this many batches.
const FLUSH_EVERY_BATCHES: u64 = 8;
/// Largest `b` value, bytes: sizes vary per batch so batches straddle sled's buffer boundaries.
const VALUE_B_BYTES_MAX: u64 = 16 * 1024;
/// The child stops on its own after this many batches, so an orphan cannot run forever.
const CHILD_BATCHES_MAX: u64 = 5_000_000;
/// Flush reports the parent waits for before the kill in round 0; later rounds wait longer.
const FLUSHES_BEFORE_KILL_MIN: usize = 5;
/// After the flush reports, the parent also waits for round x this many batch reports (mod the
/// flush interval), so the kill lands at a different point of the unflushed tail each round.
const APPLIED_AFTER_FLUSH_STEP: usize = 3;
const KILL_ROUNDS: usize = 3;
/// Bound on how long one round may wait for the child's reports.
const ROUND_TIMEOUT: Duration = Duration::from_secs(60);
/// SIGKILL's signal number.
const SIGKILL: i32 = 9;

fn key(n: u64, part: &str) -> Vec<u8> {
    format!("{n:010}/{part}").into_bytes()
}

fn value_b(n: u64) -> Vec<u8> {
    let mut v = format!("batch {n}").into_bytes();
    v.resize((n * 977 % VALUE_B_BYTES_MAX) as usize + v.len(), n as u8);
    v
}

fn batch(n: u64) -> WriteBatch {
    let mut b = WriteBatch::new();
    b.put(key(n, "a"), n.to_le_bytes().to_vec())
        .put(key(n, "b"), value_b(n))
        .put(COUNTER_KEY, n.to_le_bytes().to_vec());
    b
}

fn decode_counter(bytes: &[u8]) -> u64 {
    let word: [u8; 8] = bytes
        .try_into()
        .expect("the counter is a little-endian u64");
    u64::from_le_bytes(word)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The child role: only does work when the parent runs this binary with `DIR_ENV` set.
#[test]
fn child_writes_until_killed() {
    if let Some(dir) = std::env::var_os(DIR_ENV) {
        runtime().block_on(child(PathBuf::from(dir)));
    }
}

async fn child(dir: PathBuf) {
    let kv = SledKv::open(&dir).expect("child: open");
    let start = match kv.get(COUNTER_KEY).await.expect("child: read counter") {
        Some(bytes) => decode_counter(&bytes),
        None => 0,
    };
    let mut out = std::io::stdout().lock();
    for n in start + 1..=start + CHILD_BATCHES_MAX {
        kv.apply_batch(batch(n)).await.expect("child: apply_batch");
        let report = if n % FLUSH_EVERY_BATCHES == 0 {
            kv.flush().await.expect("child: flush");
            "FLUSHED"
        } else {
            "APPLIED"
        };
        // Stop quietly once the parent is gone (the pipe is closed).
        if writeln!(out, "{report} {n}")
            .and_then(|()| out.flush())
            .is_err()
        {
            return;
        }
    }
}

/// Kills and reaps the child if the parent panics, so no writer outlives the test.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Records a `FLUSHED n` report (the libtest harness prints other lines too); returns whether
/// the line was an `APPLIED n` report.
fn record(line: &str, flushed: &mut Vec<u64>) -> bool {
    if let Some(n) = line.strip_prefix("FLUSHED ") {
        flushed.push(n.trim().parse::<u64>().expect("a batch number"));
    }
    line.starts_with("APPLIED ")
}

enum Event {
    Line(String),
    Eof,
    TimedOut,
}

/// Runs a child on `dir` until it has reported `flushes` flushes and then `applied` more batches,
/// SIGKILLs it, and returns every batch number it reported flushed (including reports that
/// arrived before it died).
fn run_child_and_kill(dir: &Path, flushes: usize, applied: usize) -> Vec<u64> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([CHILD_TEST, "--exact", "--nocapture", "--test-threads=1"])
        .env(DIR_ENV, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the child");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut guard = KillOnDrop(child);

    let (tx, rx) = mpsc::channel();
    let reader_tx = tx.clone();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if reader_tx.send(Event::Line(line)).is_err() {
                return;
            }
        }
        let _ = reader_tx.send(Event::Eof);
    });
    // The overall bound: a watchdog that reports a timeout unless cancelled (by dropping
    // `cancel_tx`) first. Real time is right here: the child is a real process.
    let (cancel_tx, cancel_rx) = mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = cancel_rx.recv_timeout(ROUND_TIMEOUT) {
            let _ = tx.send(Event::TimedOut);
        }
    });

    let (mut flushed, mut applied_after) = (Vec::new(), 0);
    while flushed.len() < flushes || applied_after < applied {
        match rx.recv() {
            Ok(Event::Line(line)) => {
                let was_applied = record(&line, &mut flushed);
                if was_applied && flushed.len() >= flushes {
                    applied_after += 1;
                }
            }
            Ok(Event::Eof) => panic!("the child exited early: {:?}", guard.0.wait()),
            Ok(Event::TimedOut) | Err(_) => {
                panic!(
                    "timed out after {} of {flushes} flush reports",
                    flushed.len()
                )
            }
        }
    }
    guard.0.kill().expect("SIGKILL the child");
    let status = guard.0.wait().expect("reap the child");
    assert_eq!(
        status.signal(),
        Some(SIGKILL),
        "the child died by SIGKILL: {status:?}"
    );
    drop(cancel_tx);
    watchdog.join().unwrap();
    // The child is dead, so the pipe reaches end of file: collect reports it made before dying.
    while let Ok(Event::Line(line)) = rx.recv() {
        let _ = record(&line, &mut flushed);
    }
    reader.join().unwrap();
    assert!(
        flushed.windows(2).all(|w| w[0] < w[1]),
        "reports ascend: {flushed:?}"
    );
    flushed
}

/// Reopens the store and checks it holds exactly batches 1..=m with m >= `last_flushed`;
/// returns m.
fn verify_prefix(dir: &Path, last_flushed: u64) -> u64 {
    runtime().block_on(async {
        let kv = SledKv::open(dir).expect("reopen after SIGKILL");
        let counter = kv
            .get(COUNTER_KEY)
            .await
            .unwrap()
            .expect("a counter after a flush");
        let m = decode_counter(&counter);
        assert!(
            m >= last_flushed,
            "batch {last_flushed} was flushed, but the counter is {m}"
        );
        let entries: BTreeMap<Vec<u8>, Vec<u8>> =
            kv.scan_prefix(b"").await.unwrap().into_iter().collect();
        for n in 1..=m {
            let (a, b) = (entries.get(&key(n, "a")), entries.get(&key(n, "b")));
            assert_eq!(
                a,
                Some(&n.to_le_bytes().to_vec()),
                "batch {n} of 1..={m}: key a"
            );
            assert_eq!(b, Some(&value_b(n)), "batch {n} of 1..={m}: key b");
        }
        let extra: Vec<String> = entries
            .keys()
            .filter(|k| k.as_slice() != COUNTER_KEY)
            .filter(|k| !(1..=m).any(|n| **k == key(n, "a") || **k == key(n, "b")))
            .take(5)
            .map(|k| String::from_utf8_lossy(k).into_owned())
            .collect();
        assert!(
            extra.is_empty(),
            "keys of batches after {m} survived: {extra:?}"
        );
        assert_eq!(
            entries.len() as u64,
            2 * m + 1,
            "batches 1..={m} and the counter, no more"
        );
        m
    })
}

#[test]
fn sled_recovers_a_prefix_of_batches_after_sigkill() {
    if std::env::var_os(DIR_ENV).is_some() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("kv");
    let mut recovered = 0;
    for round in 0..KILL_ROUNDS {
        let applied = (round * APPLIED_AFTER_FLUSH_STEP) % FLUSH_EVERY_BATCHES as usize;
        let flushed = run_child_and_kill(&dir, FLUSHES_BEFORE_KILL_MIN * (round + 1), applied);
        let first = flushed[0];
        assert!(
            first > recovered,
            "round {round}: the child resumed after batch {recovered}"
        );
        let last = *flushed.last().unwrap();
        let m = verify_prefix(&dir, last);
        eprintln!("round {round}: last flush reported {last}, recovered batches 1..={m}");
        recovered = m;
    }
}
