//! Invariant: the engine's metrics tell the truth. Every boot's engine counts into one registry
//! for the run (`Shared::engine_metrics`), read back here through the Prometheus text format, as
//! a scraper would, once the liveness phase has drained, and held to what the harness saw:
//! - `wal_appends_total` and `wal_append_bytes_total` equal the acknowledgements the writers
//!   received and their payload bytes, exactly, under every fault: an append is counted as its
//!   answer is returned, and a client that gave up never got one;
//! - `wal_errors_total{kind}` equals the WAL errors submits were answered with, kind by kind;
//! - `wal_recoveries_total` lies between the opens that returned an engine and the opens
//!   attempted (an open can fail after recovery ran);
//! - `wal_fsync_seconds_count` never exceeds the `sync_data` calls the disk saw begin, and equals
//!   them in a run no crash, kill or cancelled client cut a sync short;
//! - `ingest_dead_letters_total{reason}` equals the store's dead letters by reason where the store
//!   never crashed (a crash reverts commits that were counted, and ingest commits them again), and
//!   is never below them;
//! - `ingest_lag_bytes` is zero once ingest drained, and `wal_segments` counts the segment files
//!   on the disk.
//!
//! What this catches: a metric counted where the event is planned rather than where it happened
//! (an append counted as it is queued, a dead letter as it is planned), on the wrong label, or
//! twice; a registry shared between engines that must not share one.

use std::collections::BTreeMap;

use stemedb::Engine;

use crate::env::Env;
use crate::oracle::spec;
use crate::outcome::Failure;

/// `name{labels}` -> value, for every sample line of the text format.
pub fn parse(text: &str) -> Result<BTreeMap<String, f64>, String> {
    let mut samples = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (name, value) = line
            .rsplit_once(' ')
            .ok_or_else(|| format!("a metrics line is not `name value`: {line:?}"))?;
        let value: f64 = value
            .parse()
            .map_err(|_| format!("a metrics sample's value is not a number: {line:?}"))?;
        if samples.insert(name.to_owned(), value).is_some() {
            return Err(format!("the metrics text has {name} twice"));
        }
    }
    Ok(samples)
}

/// The samples of family `family` (a name before its labels), keyed by the value of `label`.
fn by_label(samples: &BTreeMap<String, f64>, family: &str, label: &str) -> BTreeMap<String, u64> {
    let open = format!("{family}{{");
    let key = format!("{label}=\"");
    samples
        .iter()
        .filter_map(|(name, value)| {
            let labels = name.strip_prefix(&open)?;
            let from = labels.find(&key)? + key.len();
            let rest = &labels[from..];
            let to = rest.find('"')?;
            Some((rest[..to].to_owned(), *value as u64))
        })
        .collect()
}

fn get(samples: &BTreeMap<String, f64>, name: &str) -> Result<u64, Failure> {
    samples
        .get(name)
        .map(|v| *v as u64)
        .ok_or_else(|| Failure::Safety(format!("the engine's metrics have no {name}")))
}

/// The dead-letter reason's metrics label, from the reason the store holds (the engine's words,
/// restated: `ingest::Rejection`'s messages).
fn reason_label(reason: &str) -> &'static str {
    const LABELS: [(&str, &str); 5] = [
        ("undecodable record: ", "decode"),
        ("invalid record: ", "invalid"),
        ("damaged WAL bytes ", "damaged_log"),
        ("lost_below_cursor: ", "lost_below_cursor"),
        ("WAL bytes ", "quarantined_by_wal"),
    ];
    LABELS
        .iter()
        .find(|(prefix, _)| reason.starts_with(prefix))
        .map_or("unknown", |(_, label)| label)
}

pub async fn check(env: &Env, engine: &Engine) -> Result<(), Failure> {
    let text = engine.metrics_text().await;
    let samples = parse(&text).map_err(Failure::Safety)?;
    let wrong = |what: String| Failure::Safety(format!("the engine's metrics lie: {what}"));

    let (acks, acked_bytes, refusals, opened, opens, metrics_shared) = {
        let s = env.shared.borrow();
        let (acks, bytes) = s.oracle.acks();
        (
            acks,
            bytes,
            s.wal_refusals.clone(),
            s.engines_opened,
            s.engine_opens,
            std::sync::Arc::ptr_eq(engine.metrics(), &s.engine_metrics),
        )
    };
    if !metrics_shared {
        return Err(wrong(
            "the engine does not count into the registry it was opened with".to_owned(),
        ));
    }
    let appends = get(&samples, "stemedb_wal_appends_total")?;
    let bytes = get(&samples, "stemedb_wal_append_bytes_total")?;
    if (appends, bytes) != (acks, acked_bytes) {
        return Err(wrong(format!(
            "{appends} appends of {bytes} bytes counted, {acks} of {acked_bytes} bytes acknowledged"
        )));
    }
    let errors = by_label(&samples, "stemedb_wal_errors_total", "kind");
    let seen: BTreeMap<String, u64> = refusals
        .iter()
        .map(|(kind, n)| ((*kind).to_owned(), *n))
        .collect();
    if errors != seen {
        return Err(wrong(format!(
            "WAL errors by kind counted {errors:?}, submits were answered with {seen:?}"
        )));
    }
    let recoveries = get(&samples, "stemedb_wal_recoveries_total")?;
    if recoveries < u64::from(opened) || recoveries > u64::from(opens) {
        return Err(wrong(format!(
            "{recoveries} recoveries counted, {opened} opens of {opens} returned an engine"
        )));
    }

    let disk = env.disk.stats();
    let syncs = get(&samples, "stemedb_wal_fsync_seconds_count")?;
    let uncut = disk.crashes == 0
        && disk.process_kills == 0
        && env.shared.borrow().cancelled_boots.is_empty();
    if syncs > disk.data_sync_calls || (uncut && syncs != disk.data_sync_calls) {
        return Err(wrong(format!(
            "{syncs} WAL syncs timed, the disk saw {} begin (crashes {}, kills {})",
            disk.data_sync_calls, disk.crashes, disk.process_kills
        )));
    }

    let stored = env.kv.live_snapshot();
    let mut in_store: BTreeMap<String, u64> = BTreeMap::new();
    for (_, value) in stored
        .iter()
        .filter(|(key, _)| spec::quarantine_offset(key).is_some())
    {
        *in_store
            .entry(reason_label(&String::from_utf8_lossy(value)).to_owned())
            .or_default() += 1;
    }
    let counted = by_label(&samples, "stemedb_ingest_dead_letters_total", "reason");
    let kv_crashed = env.kv.stats().crashes > 0;
    let reasons: std::collections::BTreeSet<&String> =
        in_store.keys().chain(counted.keys()).collect();
    for reason in reasons {
        let (c, k) = (
            counted.get(reason).copied().unwrap_or(0),
            in_store.get(reason).copied().unwrap_or(0),
        );
        if c < k || (!kv_crashed && c != k) {
            return Err(wrong(format!(
                "{c} dead letters with reason {reason} counted, the store holds {k} (store crashed: {kv_crashed})"
            )));
        }
    }

    let lag = get(&samples, "stemedb_ingest_lag_bytes")?;
    if lag != 0 {
        return Err(wrong(format!(
            "ingest lag is {lag} bytes once ingest drained"
        )));
    }
    let segments = get(&samples, "stemedb_wal_segments")?;
    let files = crate::check::segments::segments(env).await?.len();
    if segments != files as u64 {
        return Err(wrong(format!(
            "{segments} live WAL segments counted, the disk holds {files}"
        )));
    }
    Ok(())
}
