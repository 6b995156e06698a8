//! The physical-limit twin of a run's speed: signing and verifying every record once, on one
//! core, measured in the same process right after the run.
//!
//! Every record a run submits is signed by the workload and verified by the engine (at submit;
//! ingest reuses that, except after a crash). That crypto is real work the simulator cannot skip
//! without testing a different engine, so it bounds seeds per minute from below whatever the
//! harness does; the report quotes the run's speed beside it.

use std::time::Duration;

use crate::metrics::OpKind;
use stemedb::model::{Agent, Assertion, Limits, Record};

/// Records signed and verified to time the twin (about 20 ms): enough to average out slow calls.
const TWIN_SAMPLE_RECORDS: u32 = 256;
/// Untimed records first, so page faults and cold caches are not charged to the twin.
const TWIN_WARMUP_RECORDS: u32 = 16;

/// How many records the run signed, from its operation counts.
pub fn signed_records(counts: &stemedb_reports::Counts) -> u64 {
    counts
        .operations
        .iter()
        .filter(|(kind, _)| OpKind::from_name(kind).is_some_and(OpKind::submits))
        .map(|(_, n)| *n)
        .sum()
}

/// One core's time to sign and verify `records` workload-shaped records once each.
pub fn crypto_twin(records: u64) -> Duration {
    let agent = Agent::derived(0, 0);
    let limits = Limits::default();
    let samples: Vec<Assertion> = (0..TWIN_WARMUP_RECORDS + TWIN_SAMPLE_RECORDS)
        .map(|i| {
            Assertion::new(
                format!("subject-{i}"),
                "status".to_owned(),
                "unknown:value".to_owned(),
                0.5,
                u64::from(i),
            )
        })
        .collect();
    let (warmup, sample) = samples.split_at(TWIN_WARMUP_RECORDS as usize);
    let sign_and_verify = |a: &Assertion| {
        let mut a = a.clone();
        agent.sign_assertion(&mut a);
        let verified = Record::Assertion(a).validate(0, &limits);
        debug_assert!(verified.is_ok(), "the twin's own records are valid");
    };
    warmup.iter().for_each(sign_and_verify);
    let started = super::exec::wall_now();
    sample.iter().for_each(sign_and_verify);
    let per_record = started.elapsed() / TWIN_SAMPLE_RECORDS;
    per_record.saturating_mul(u32::try_from(records).unwrap_or(u32::MAX))
}
