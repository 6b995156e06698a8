//! Writes the seed corpora under `fuzz/corpus/<target>/` from real runs of the code:
//!
//! ```text
//! cargo run --release -p stemedb-arenas --example fuzz_seed_corpus -- fuzz/corpus
//! ```
//!
//! - `wal_frame`: frames a `Wal` wrote on a `SimDisk`, with their segment's salt and offset, and
//!   the same frames misplaced, torn and under a wrong salt;
//! - `record`: the WAL payloads of a chaos workload (valid, edge, hostile and smuggling records);
//! - `keys`: the keys ingest writes for those records, one per family;
//! - `inputs`: the repository's scenarios and regression artifacts and a report the reports
//!   crate writes;
//! - `wal_recover`, `sim`: inputs whose decoded scenario covers each damage kind, each arena and
//!   both plan sources (the swarm's plan for a seed, a drawn plan), each run once to check that
//!   it passes.
//!
//! Deterministic: the same code writes the same files.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use stemedb::io::Vfs;
use stemedb::model::Record;
use stemedb::storage::keys::{self, Key};
use stemedb::wal::{parse_segment_name, segment_files, Wal, WalOptions, RECORD_HEADER_BYTES};
use stemedb_arenas::config::{ArenaKind, RunConfig};
use stemedb_arenas::fuzzing::{self, sim::sim_config};
use stemedb_arenas::workload::{Op, Workload};
use stemedb_faults::SimDisk;
use stemedb_reports::{ArenaOutcome, Report, SeedSet, Throughput, Verdict};

/// Candidate inputs tried per wanted corpus entry of the Unstructured-driven targets.
const CANDIDATES_MAX: u64 = 20_000;
/// Length of a candidate input of `wal_recover` and `sim`.
const CANDIDATE_BYTES: usize = 160;
const WORKLOAD_OPS: u64 = 400;
const RECORDS_PER_KIND_MAX: usize = 4;

fn write(dir: &Path, name: &str, data: &[u8]) {
    std::fs::create_dir_all(dir).expect("corpus dir");
    std::fs::write(dir.join(name), data).expect("corpus file");
}

fn xorshift_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime")
        .block_on(f)
}

fn frame_input(salt: u64, at: u64, frame: &[u8]) -> Vec<u8> {
    [&salt.to_le_bytes()[..], &at.to_le_bytes()[..], frame].concat()
}

fn wal_frames(out: &Path, payloads: &[Vec<u8>]) {
    let dir = out.join("wal_frame");
    block_on(async {
        let disk = SimDisk::new(7);
        let vfs: Arc<dyn Vfs> = Arc::new(disk.clone());
        let options = WalOptions {
            segment_bytes_max: 4096,
            salt_seed: Some(7),
            ..WalOptions::default()
        };
        let wal = Wal::open(Arc::clone(&vfs), Path::new("/wal"), options)
            .await
            .expect("open");
        let mut offsets = Vec::new();
        for p in payloads.iter().take(6) {
            offsets.push(wal.append(p).await.expect("append"));
        }
        drop(wal);
        let mut n = 0;
        for (segment, path) in segment_files(vfs.as_ref(), Path::new("/wal"))
            .await
            .unwrap()
        {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let salt = parse_segment_name(&name).expect("segment name").salt;
            let bytes = disk.durable_file(&path).expect("durable segment");
            let mut local = 0usize;
            while local + RECORD_HEADER_BYTES <= bytes.len() {
                let len = u32::from_le_bytes(bytes[local..local + 4].try_into().unwrap());
                let framed = stemedb::wal::record::framed_bytes(len) as usize;
                let at = segment.base + local as u64;
                let frame = &bytes[local..(local + framed).min(bytes.len())];
                write(
                    &dir,
                    &format!("frame-{n:02}"),
                    &frame_input(salt, at, frame),
                );
                if n == 0 {
                    write(&dir, "misplaced", &frame_input(salt, at + 8, frame));
                    write(&dir, "wrong-salt", &frame_input(salt ^ 1, at, frame));
                    write(
                        &dir,
                        "torn",
                        &frame_input(salt, at, &frame[..frame.len() / 2]),
                    );
                    // The frame with the rest of its segment after it: room beyond the frame.
                    write(&dir, "with-room", &frame_input(salt, at, &bytes[local..]));
                }
                n += 1;
                local += framed.max(8);
            }
        }
        write(&dir, "zeros", &[0u8; 64]);
    });
}

/// WAL payloads of a chaos run's workload, a few of each kind.
fn workload_payloads() -> Vec<(String, Vec<u8>)> {
    let mut config = RunConfig::new(ArenaKind::Chaos, 3, WORKLOAD_OPS);
    config.hostile_per_mille = 150;
    config.edge_per_mille = 100;
    config.smuggle_per_mille = 50;
    let mut workload = Workload::new(&config, false);
    let (mut valid, mut hostile, mut smuggle) = (Vec::new(), Vec::new(), Vec::new());
    let mut wall_ms = 1_700_000_000_000;
    while let Some(op) = workload.next(wall_ms, Duration::from_millis(wall_ms)) {
        wall_ms += 10;
        match op {
            Op::Submit(record) => valid.push(record.encode().expect("encodes")),
            Op::Hostile { bytes, .. } => hostile.push(bytes),
            Op::Smuggle { outer, .. } => smuggle.push(outer.encode().expect("encodes")),
            Op::Query(_) => {}
        }
    }
    let mut out = Vec::new();
    for (kind, list) in [("valid", valid), ("hostile", hostile), ("smuggle", smuggle)] {
        // Spread over the run: early records are mostly assertions, later ones votes/evidence.
        let step = (list.len() / RECORDS_PER_KIND_MAX).max(1);
        for (i, bytes) in list
            .into_iter()
            .step_by(step)
            .take(RECORDS_PER_KIND_MAX)
            .enumerate()
        {
            out.push((format!("{kind}-{i}"), bytes));
        }
    }
    out
}

fn keys_of(payloads: &[(String, Vec<u8>)], out: &Path) {
    let dir = out.join("keys");
    let mut keys: Vec<Key> = vec![
        Key::IngestCursor,
        Key::Quarantine { wal_offset: 4096 },
        Key::Audit { seq: 7 },
    ];
    for (_, bytes) in payloads {
        let Ok(record) = Record::decode(bytes) else {
            continue;
        };
        let hash = record.identity_hash();
        match record {
            Record::Assertion(a) => {
                keys.push(Key::Assertion { hash });
                keys.push(Key::Subject {
                    subject: a.subject.clone().into_bytes(),
                    assertion: hash,
                });
                keys.push(Key::SubjectPredicate {
                    subject: a.subject.into_bytes(),
                    predicate: a.predicate.into_bytes(),
                    assertion: hash,
                });
            }
            Record::Vote(v) => {
                keys.push(Key::Vote {
                    assertion: v.assertion_hash,
                    voter: v.voter,
                });
                keys.push(Key::VoteCount {
                    assertion: v.assertion_hash,
                });
                keys.push(Key::VoteWeight {
                    assertion: v.assertion_hash,
                });
            }
            Record::Evidence(e) => keys.push(Key::Evidence {
                assertion: e.assertion_hash,
                evidence: hash,
            }),
        }
    }
    keys.sort_by_key(|k| k.encode());
    keys.dedup();
    let mut per_family = std::collections::BTreeMap::new();
    for key in keys {
        let n = per_family.entry(key.family()).or_insert(0usize);
        if *n < 2 {
            write(
                &dir,
                &format!("{:?}-{n}", key.family()).to_lowercase(),
                &key.encode(),
            );
            *n += 1;
        }
    }
    write(
        &dir,
        "subject-with-escapes",
        &keys::subject_key(b"a\0b\0\x01", &stemedb::model::Hash32([0xFF; 32])),
    );
}

fn inputs(repo: &Path, out: &Path) {
    let dir = out.join("inputs");
    for folder in ["scenarios", "scenarios/regressions"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(repo.join(folder))
            .expect("scenarios")
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml" || e == "json"))
            .collect();
        files.sort();
        for file in files {
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            write(&dir, &name, &std::fs::read(&file).unwrap());
        }
    }
    let mut report = Report::new("fuzz-seed", "0.1.0", "0123456789ab", "release");
    report.seeds = SeedSet::range(1..=48);
    report.arenas.insert("chaos".into());
    report.options.insert("ops".into(), "120".into());
    for us in [95, 120, 180, 4_000, 20_000] {
        report.record_latency(stemedb_reports::names::LATENCY_APPEND_ACK, us);
        report.record_latency(stemedb_reports::names::LATENCY_FSYNC, us * 3);
    }
    report.throughput = Throughput::new(400, 2_000_000);
    report.counts.add_fault("crash", 2);
    report.counts.add_event("restarts", 1);
    report.add_outcome(ArenaOutcome {
        arena: "chaos".into(),
        seed: Some(9),
        verdict: Verdict::SafetyViolation,
        message: "an example failure".into(),
        reproduce: "stemedb-sim replay --arena chaos --seed 9".into(),
    });
    report
        .add_fingerprint("chaos/9", "9f86d081884c7d65")
        .unwrap();
    report.set_wall(Duration::from_millis(250));
    write(
        &dir,
        "report.json",
        report.to_json_pretty().unwrap().as_bytes(),
    );
}

/// A corpus entry's name and the test its input must pass.
type Wanted<'a> = (&'a str, &'a dyn Fn(&[u8]) -> bool);

/// Searches candidate byte strings for ones whose decoded input satisfies each of `wanted`.
fn search(dir: &Path, label: &str, wanted: &[Wanted<'_>], body: fuzzing::Body) {
    for (name, want) in wanted {
        let found = (0..CANDIDATES_MAX)
            .map(|i| xorshift_bytes(i ^ (name.len() as u64 * 7919), CANDIDATE_BYTES))
            .find(|data| want(data))
            .unwrap_or_else(|| panic!("no {label} input for {name}"));
        body(&found);
        write(dir, name, &found);
    }
}

fn main() {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "fuzz/corpus".into()),
    );
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let payloads = workload_payloads();
    let raw: Vec<Vec<u8>> = payloads.iter().map(|(_, b)| b.clone()).collect();
    wal_frames(&out, &raw);
    for (name, bytes) in &payloads {
        write(&out.join("record"), name, bytes);
    }
    keys_of(&payloads, &out);
    inputs(&repo, &out);

    write(&out.join("wal_recover"), "undamaged", &[0u8; 32]);
    for i in 0..8u64 {
        let data = xorshift_bytes(1_000 + i, CANDIDATE_BYTES);
        fuzzing::wal_recover(&data);
        write(&out.join("wal_recover"), &format!("random-{i}"), &data);
    }

    let plan_of = |data: &[u8]| sim_config(data).ok();
    let is = |arena: ArenaKind, drawn: bool| {
        move |data: &[u8]| {
            plan_of(data).is_some_and(|c| {
                let generated = c.plan()
                    == RunConfig {
                        plan: None,
                        ..c.clone()
                    }
                    .plan();
                c.arena == arena && generated != drawn && c.ops >= 40
            })
        }
    };
    let (s0, s1, s2, s3, s4) = (
        is(ArenaKind::Spine, false),
        is(ArenaKind::Cortex, false),
        is(ArenaKind::Voting, false),
        is(ArenaKind::Chaos, false),
        is(ArenaKind::Chaos, true),
    );
    let wanted: [Wanted<'_>; 5] = [
        ("spine-swarm", &s0),
        ("cortex-swarm", &s1),
        ("voting-swarm", &s2),
        ("chaos-swarm", &s3),
        ("chaos-drawn", &s4),
    ];
    search(&out.join("sim"), "sim", &wanted, fuzzing::sim);
    println!("corpora written under {}", out.display());
}
