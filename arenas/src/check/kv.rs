//! The KV at the end: exactly the reference replay of the durable log, dead letters included.

use std::collections::{BTreeMap, BTreeSet};

use stemedb::model::Record;

use super::log::{check_log, refresh_damage};
use super::{frames, reasons};
use crate::env::Env;
use crate::oracle::ingest::{self, hex};
use crate::oracle::spec;
use crate::outcome::Failure;

/// Decides, for each entry the medium may have destroyed, whether the engine applied it: its
/// primary entry holds exactly its bytes.
fn not_applied_uncertain(
    entries: &[crate::oracle::log::Entry],
    actual: &ingest::KvImage,
    accept: ingest::Accept<'_>,
) -> BTreeSet<usize> {
    let mut skip = BTreeSet::new();
    for (index, entry) in entries.iter().enumerate().filter(|(_, e)| e.uncertain) {
        let payload = &entry.payload;
        let applied = match accept(payload) {
            Some(Record::Assertion(a)) => {
                actual.get(&spec::assertion_key(&spec::assertion_id(&a))) == Some(payload)
            }
            Some(Record::Vote(v)) => {
                actual.get(&spec::vote_key(&v.assertion_hash, &v.voter)) == Some(payload)
            }
            Some(Record::Evidence(e)) => {
                actual.get(&spec::evidence_key(
                    &e.assertion_hash,
                    &spec::evidence_id(&e),
                )) == Some(payload)
            }
            // An invalid record was "applied" if it was dead-lettered at its offset.
            None => actual.contains_key(&spec::quarantine_key(entry.offset)),
        };
        if !applied {
            skip.insert(index);
        }
    }
    skip
}

/// The end-state checks of the log and the KV once ingest has reached `durable` (after the
/// clean stop's reopen has drained its backlog).
pub async fn log_and_kv(env: &Env, durable: u64) -> Result<(), Failure> {
    check_log(env).await?;
    check_kv(env, durable).await
}

pub(crate) async fn check_kv(env: &Env, durable: u64) -> Result<(), Failure> {
    refresh_damage(env);
    let (removed, live_base) = frames::removed_records(env);
    env.shared
        .borrow_mut()
        .oracle
        .observe_removed(&removed, live_base)?;
    let actual = env.kv.live_snapshot();
    let entries = env.shared.borrow().oracle.entries();
    let mut s = env.shared.borrow_mut();
    let (replay, skip) = {
        let oracle = &s.oracle;
        let accept = |p: &[u8]| oracle.accept(p);
        let skip = not_applied_uncertain(&entries, &actual, &accept);
        (ingest::replay(&entries, &skip, &accept), skip)
    };
    let actual_data = ingest::data_image(&actual).map_err(Failure::Safety)?;
    if let Some((key, diff)) = ingest::first_difference(&replay.kv, &actual_data) {
        // Name the log records behind the key, so the failure points at the offsets to look at.
        let sources: Vec<String> = entries
            .iter()
            .enumerate()
            .filter(|(_, e)| ingest::keys_of(&e.payload, &|p| s.oracle.accept(p)).contains(&key))
            .map(|(i, e)| {
                let state = if e.uncertain { "damaged" } else { "intact" };
                let applied = if skip.contains(&i) {
                    ", judged not applied"
                } else {
                    ""
                };
                format!("offset {} ({state}{applied})", e.offset)
            })
            .collect();
        return Err(Failure::Safety(format!(
            "after catch-up the KV differs from a replay of the durable log ({} records): {diff}; written by {}",
            entries.len(),
            if sources.is_empty() { "no record".to_owned() } else { sources.join(", ") }
        )));
    }
    let quarantined = ingest::quarantined_offsets(&actual);
    if let Some(o) = replay.quarantined.difference(&quarantined).next() {
        return Err(Failure::Safety(format!(
            "the invalid record at offset {o} was never quarantined"
        )));
    }
    // A dead letter is wrong when it names a known, undamaged, valid record: that record should
    // have been applied. Dead letters for unreadable bytes (a crash tore an unacknowledged batch
    // and kept its suffix; media damage) start where no known record does; any known record
    // inside such a range was already judged by the recovery check.
    let excused = |q: u64| match s.oracle.known().get(&q) {
        None => true,
        Some(p) => {
            s.oracle.uncertain().contains(&q)
                || s.oracle
                    .damaged(q, q + crate::oracle::log::frame_bytes(p.len()))
        }
    };
    if let Some(o) = quarantined
        .difference(&replay.quarantined)
        .find(|&&q| !excused(q))
    {
        let reason = actual
            .get(&spec::quarantine_key(*o))
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .unwrap_or_default();
        return Err(Failure::Safety(format!(
            "the valid record at offset {o} was quarantined ({reason}), and no media fault touched it"
        )));
    }
    let dead_letters: BTreeMap<u64, String> = quarantined
        .iter()
        .map(|&o| {
            let reason = actual
                .get(&spec::quarantine_key(o))
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .unwrap_or_default();
            (o, reason)
        })
        .collect();
    reasons::check(&entries, &replay.quarantined, &dead_letters).map_err(Failure::Safety)?;
    match actual.get(spec::INGEST_CURSOR_KEY) {
        Some(v) if ingest::be_u64(v) == durable => {}
        other => {
            return Err(Failure::Safety(format!(
                "the stored ingest cursor is {:?}, not the durable end {durable}",
                other.map(|v| hex(v))
            )))
        }
    }
    let stepped = crate::oracle::coverage::stepping_entries(&entries, &skip, &replay.kv, &|p| {
        s.oracle.accept(p)
    });
    crate::oracle::coverage::check(&stepped, &dead_letters, durable).map_err(Failure::Safety)?;
    let checks = actual_data.len() as u64 + replay.quarantined.len() as u64;
    s.metrics.check(checks);
    Ok(())
}
