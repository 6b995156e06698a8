//! The invariants, checked where they must hold:
//! - after every recovery: the log oracle's durability checks (no acknowledged record lost,
//!   nothing invented, duplicated or changed);
//! - during the run: every query's answer equals the reference lens over the ingested set at
//!   some moment while the query ran (or, for a materialised view, at some earlier moment);
//! - once faults stop: new writes succeed, ingest drains to the durable end, and the KV equals
//!   a replay of the durable log; invalid records, and only those (or media-damaged ones), are
//!   quarantined; every query left an audit record; trolls lost every contested topic.

pub mod clean_stop;
pub mod counters;
pub mod frames;
pub mod idle;
pub mod losses;
pub mod reasons;
pub mod segments;
pub mod topics;
pub mod views;
pub mod worker;

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use stemedb::io::Clock;
use stemedb::lens::{LensKind, Rule};
use stemedb::model::{Agent, Assertion, Hash32, Record};
use stemedb::query::{Query, QueryEngine};
use stemedb::wal::{ReadOutcome, WalReader};
use stemedb::Engine;
use stemedb_reports::names;

use crate::metrics::OpKind;
use crate::oracle::ingest::{self, hex};
use crate::oracle::lens::{Answer, LensModel, Ranked};
use crate::oracle::spec;
use crate::oracle::validity::Signatures;
use crate::outcome::Failure;
use crate::sim::{Env, Phase};
use crate::workload::QuerySpec;

/// Fresh writes the liveness phase makes: each must be acknowledged and ingested.
const LIVENESS_WRITES: u64 = 3;
/// Agent index of the liveness phase's writer (distinct from every workload agent).
const LIVENESS_AGENT: u64 = 50_000;
/// Signs the backlog written just before a clean stop (`clean_stop::write_backlog`).
pub(crate) const STOP_BACKLOG_AGENT: u64 = 50_001;

/// A query as it was answered, to be checked against the reference lens at the end.
#[derive(Clone, Debug)]
pub struct QueryCheck {
    pub spec: QuerySpec,
    pub before: u64,
    pub after: u64,
    /// Every candidate as the engine ranked it (best first), with its counted support.
    pub ranked: Vec<Ranked>,
    /// The rule the engine says separated the winner from the runner-up.
    pub rule: Rule,
    pub used_view: bool,
    /// The engine's wall clock when the query started (what view ages are measured against).
    pub wall_ms: u64,
    /// The process (boot) that answered: views live in one process's memory.
    pub boot: u32,
    /// The query failed; it may still have read the store and installed a view.
    pub failed: bool,
    /// The sequence number of the answer's audit record (`None` for a failed query).
    pub audit_seq: Option<u64>,
    /// Not a query but an explicit `materialize` of its view (`check::views`): a read that may
    /// serve later view answers, with no answer of its own.
    pub materialized: bool,
    /// `Shared::query_ticks` as the call began (before the engine read its clock) and as its
    /// answer was recorded (after any view it installed was in place).
    pub began: u64,
    pub done: u64,
}

impl QueryCheck {
    /// An answered query, with the ingest cursor before and after it.
    pub fn answered(
        spec: QuerySpec,
        r: &stemedb::query::QueryResult,
        (before, after): (u64, u64),
        wall_ms: u64,
        boot: u32,
        began: u64,
    ) -> Self {
        QueryCheck {
            spec,
            before,
            after,
            ranked: r
                .candidates
                .iter()
                .map(|c| Ranked {
                    hash: c.hash,
                    vote_count: c.vote_count,
                    vote_weight: c.vote_weight,
                })
                .collect(),
            rule: r.rule,
            used_view: r.used_view,
            wall_ms,
            boot,
            failed: false,
            audit_seq: Some(r.audit_seq),
            materialized: false,
            began,
            done: 0,
        }
    }

    /// Whether this query's store read may have installed the view that answered `view_query`:
    /// same process, same subject and predicate, and fresh for it (dated at or before the view
    /// query's clock and no more than its `max_stale` earlier). A view that is older, or dated in
    /// the future of the clock (after a backwards jump), must not answer.
    fn may_serve_view_for(&self, view_query: &QueryCheck) -> bool {
        let fresh = view_query.spec.max_stale_ms.is_some_and(|max_stale| {
            self.wall_ms <= view_query.wall_ms && view_query.wall_ms - self.wall_ms <= max_stale
        });
        !self.used_view
            && self.boot == view_query.boot
            && self.spec.subject == view_query.spec.subject
            && self.spec.predicate.is_some()
            && self.spec.predicate == view_query.spec.predicate
            && fresh
    }

    /// Whether `self`, a read that may serve `view_query`, is certainly older than the view its
    /// process held then: `newer`, a read of the same key that surely installed a view (it
    /// succeeded and read the store), began after `self` was done, so its read was numbered
    /// later, and was done before `view_query` began, so its view was in place. Views keep the
    /// newest read (a read that started earlier never replaces a later one), so a view answer
    /// from `self` went back in time.
    fn superseded_for(&self, newer: &QueryCheck, view_query: &QueryCheck) -> bool {
        !newer.used_view
            && !newer.failed
            && newer.boot == self.boot
            && newer.spec.subject == self.spec.subject
            && newer.spec.predicate == self.spec.predicate
            && newer.began > self.done
            && newer.done < view_query.began
    }
}

/// The disk's media damage, as global log ranges (damage outside WAL segments is ignored here:
/// the KV and the quarantine list are checked by their own means).
fn refresh_damage(env: &Env) {
    let dir = env.data_dir();
    let global = |d: &stemedb_faults::MediaDamage| {
        if d.path.parent() != Some(dir) {
            return None;
        }
        let name = d.path.file_name()?.to_str()?;
        let base = stemedb::wal::parse_segment_name(name)?.base;
        Some(base + d.start)
    };
    let damage = env.disk.media_damage();
    let ranges: Vec<(u64, u64)> = damage
        .iter()
        .filter_map(|d| global(d).map(|start| (start, start + d.len)))
        .collect();
    // A misdirected write's bytes exist where they landed, but every v3 frame names its own
    // offset, so the records they carry must never be read (or applied) there: no allowance.
    let mut s = env.shared.borrow_mut();
    if s.trace && s.oracle.damage != ranges {
        eprintln!("media damage (global log ranges): {ranges:?}");
        for line in env.disk.fault_log() {
            eprintln!("  disk fault: {line}");
        }
    }
    s.oracle.damage = ranges;
}

/// Reads the whole log through an observer view of the disk (uncounted, fault-free).
async fn scan_log(env: &Env) -> Result<(Vec<(u64, Vec<u8>)>, u64), Failure> {
    let observer: Arc<dyn stemedb::io::Vfs> = Arc::new(env.disk.observer());
    let mut reader = WalReader::open(observer, env.data_dir())
        .await
        .map_err(|e| Failure::Harness(format!("the oracle cannot open the log: {e}")))?;
    let first = reader
        .first_offset()
        .await
        .map_err(|e| Failure::Harness(format!("the oracle cannot find the log's start: {e}")))?;
    let mut records = Vec::new();
    let mut offset = first;
    loop {
        match reader.read_at(offset).await {
            Ok(ReadOutcome::Record(r)) => {
                offset = r.next_offset;
                records.push((r.offset, r.payload));
            }
            Ok(ReadOutcome::EndOfLog) => break,
            Err(stemedb::wal::WalError::Corrupt {
                offset: at,
                next_valid,
                defect,
            }) => {
                // Damaged bytes the WAL's recovery did not scan (it starts at the ingest cursor)
                // are excused only where media damage struck; skip to the next record the WAL
                // found, else the next one the oracle knows.
                let s = env.shared.borrow();
                let next =
                    next_valid.or_else(|| s.oracle.known().range(at + 1..).next().map(|(o, _)| *o));
                // The damaged record's own frame may reach past `next` (a misdirected frame can
                // land inside it and look valid).
                let own_end = s
                    .oracle
                    .known()
                    .get(&at)
                    .map_or(at + 1, |p| at + crate::oracle::log::frame_bytes(p.len()));
                let end = next.map_or(own_end, |n| n.max(own_end));
                // Or `at` lies inside a record whose frame was damaged (a misplaced frame ended
                // in the middle of it).
                let containing_damaged = s.oracle.inside_damaged_frame(at);
                if !s.oracle.damaged(at, end) && !containing_damaged {
                    return Err(Failure::Safety(format!(
                        "after recovery the log is unreadable at offset {at} ({defect:?}, next valid {next_valid:?}), and no media fault touched it"
                    )));
                }
                drop(s);
                let now = env.clock.monotonic();
                env.shared.borrow_mut().event(
                    now,
                    &format!("oracle skips media damage at {at}: {defect:?}"),
                );
                match next {
                    Some(n) => offset = n,
                    None => break,
                }
            }
            Err(e) => {
                return Err(Failure::Safety(format!(
                    "after recovery the log is unreadable at offset {offset}: {e}"
                )))
            }
        }
    }
    Ok((records, first))
}

/// The whole log, read back, against the log oracle.
async fn check_log(env: &Env) -> Result<(), Failure> {
    refresh_damage(env);
    let (scan, first) = scan_log(env).await?;
    truncated_only_below_the_cursor(env).await?;
    segments::bounded(env).await?;
    {
        let mut s = env.shared.borrow_mut();
        s.oracle.check_recovered(&scan, first)?;
        s.metrics.check(scan.len() as u64 + 1);
    }
    frames::check(env)
}

/// The WAL may drop a segment only once it lies wholly below a cursor the KV holds durably
/// (ingest flushes, then truncates): whatever a crash reverts, the KV's cursor never falls below
/// the base of the log's first segment. A log that starts above the cursor lost records ingest
/// never applied, and the log oracle cannot see it alone: it takes the log's start as the
/// truncation point. The start is the first segment's base, not the reader's first offset, which
/// also skips a quarantined range at the front (damage, excused record by record elsewhere).
/// Checked at every recovery, when a removal too eager and a crash reverting the cursor meet.
async fn truncated_only_below_the_cursor(env: &Env) -> Result<(), Failure> {
    let observer = env.disk.observer();
    let segments = stemedb::wal::segment_files(&observer, env.data_dir())
        .await
        .map_err(|e| Failure::Harness(format!("the oracle cannot list the log's segments: {e}")))?;
    let Some(log_base) = segments.first().map(|(name, _)| name.base) else {
        return Ok(());
    };
    let cursor = env
        .kv
        .live_snapshot()
        .get(spec::INGEST_CURSOR_KEY)
        .map_or(0, |v| ingest::be_u64(v));
    if log_base > cursor {
        let s = env.shared.borrow();
        let lost = s.oracle.acked_in(cursor..log_base);
        return Err(Failure::Safety(format!(
            "the log's first segment now starts at offset {log_base}, above the ingest cursor \
             the KV holds ({cursor}): segments were removed before ingest applied them, taking \
             {lost} acknowledged record(s)"
        )));
    }
    Ok(())
}

pub async fn after_recovery(env: &Env) -> Result<(), Failure> {
    check_log(env).await?;
    let s = env.shared.borrow();
    if let Some(t) = s.config.tripwire {
        let acked = s.oracle.acked_count() as u64;
        let crashes = s
            .metrics
            .counts
            .event(stemedb_reports::names::EVENT_CRASHES);
        if crashes > 0 && acked >= t.acked_min {
            return Err(Failure::Safety(format!(
                "tripwire: a recovery after a crash found {acked} acknowledged records (at least {})",
                t.acked_min
            )));
        }
    }
    Ok(())
}

/// The lens a query spec asks for.
fn lens_of(spec: &QuerySpec) -> LensKind {
    if spec.consensus {
        LensKind::VoteAwareConsensus
    } else {
        LensKind::Recency
    }
}

/// The engine's query for a spec, built through the query API's builders as a client builds
/// one (the oracles read what was asked from the spec, never from the built query).
pub(crate) fn query_of(spec: &QuerySpec) -> Query {
    let query = match &spec.predicate {
        Some(p) => Query::subject_predicate(spec.subject.clone(), p.clone()),
        None => Query::subject(spec.subject.clone()),
    }
    .lens(lens_of(spec))
    .lifecycles(stemedb::query::LifecycleFilter::of(&spec.lifecycles));
    match spec.max_stale_ms {
        Some(ms) => query.max_stale(Duration::from_millis(ms)),
        None => query,
    }
}

pub async fn query(env: &Env, engine: &Engine, queries: &QueryEngine, spec: QuerySpec) {
    if spec.materialize_first {
        views::materialize(env, engine, queries, &spec).await;
    }
    let before = engine.ingest_cursor();
    // No await until the engine reads its clock: the same virtual instant, so the same reading.
    let wall_ms = env.clock.wall_ms();
    let began = env.shared.borrow_mut().query_began();
    let must_serve = views::must_serve(env, &spec, wall_ms);
    views::read_started(env, &spec, wall_ms);
    let started = env.clock.monotonic();
    let result = queries.query(&query_of(&spec)).await;
    let now = env.clock.monotonic();
    let after = engine.ingest_cursor();
    let mut s = env.shared.borrow_mut();
    match result {
        Ok(r) => {
            s.metrics.op(OpKind::Query);
            s.metrics
                .record(names::LATENCY_QUERY, (now - started).as_micros() as u64);
            let winner = r.winner.as_ref().map(|c| c.hash);
            s.event(
                now,
                &format!("query {spec:?} -> {winner:?} view {}", r.used_view),
            );
            if must_serve && !r.used_view {
                s.fail(Failure::Safety(format!(
                    "query {spec:?} at engine time {wall_ms} ms read the store although every \
                     view of its subject and predicate this process could hold was fresh for it"
                )));
            }
            if let (false, Some(predicate)) = (r.used_view, &spec.predicate) {
                let key = (s.boots, spec.subject.clone(), predicate.clone());
                s.view_installs.insert(key);
            }
            if winner != r.candidates.first().map(|c| c.hash) {
                s.fail(Failure::Safety(format!(
                    "query {spec:?} names winner {winner:?}, not the first of its ranked candidates"
                )));
            }
            let lens = lens_of(&spec);
            if let Err(e) =
                crate::oracle::explain::check(lens, r.rule, &r.candidates, &r.explanation)
            {
                s.fail(Failure::Safety(format!("query {spec:?}: {e}")));
            }
            let boot = s.boots;
            s.record_query(QueryCheck::answered(
                spec,
                &r,
                (before, after),
                wall_ms,
                boot,
                began,
            ));
        }
        Err(e) => {
            s.event(now, &format!("query failed: {e}"));
            let boot = s.boots;
            s.record_query(QueryCheck {
                spec,
                before,
                after,
                ranked: Vec::new(),
                rule: Rule::NoCandidates,
                used_view: false,
                wall_ms,
                boot,
                failed: true,
                audit_seq: None,
                materialized: false,
                began,
                done: 0,
            });
            s.metrics.op(OpKind::QueryFailed);
            let tolerated = s.phase == Phase::Faults && s.excuses.failed_calls();
            if !tolerated {
                s.fail(Failure::Safety(format!(
                    "a query failed without any fault: {e}"
                )));
            }
        }
    }
}

/// The liveness phase: progress, drain, then every end-state invariant.
/// How long ingest may take to drain the durable log once faults stop, with no fresh write and
/// no restart to wake it: far above the worker's longest back-off.
const DRAIN_SIM_MS_MAX: u64 = 30_000;

/// Liveness without help (issue 11): faults have stopped, nothing new is written and the process
/// is not restarted, and ingest must still reach the durable end by itself. Fresh writes wake a
/// stalled worker and a restart re-reads everything, so both would hide a worker that took a
/// transient error for the end of the log, or that waits for a wake-up that never comes.
///
/// Excused, narrowly: the worker stopped and said why (a restart is its cure), or media damage
/// at the cursor has no valid record after it below the durable end (ingest then waits for a
/// reopen's recovery to quarantine it, by design). Damage followed by a valid record excuses
/// nothing: ingest must dead-letter the damaged range and go on (`resumable_damage`).
pub async fn drain(env: &Env, engine: &Engine) -> Result<(), Failure> {
    let end = engine.durable_end();
    let waited = tokio::time::timeout(
        Duration::from_millis(DRAIN_SIM_MS_MAX),
        engine.wait_caught_up(),
    )
    .await;
    let at = env.clock.monotonic();
    match waited {
        Ok(Ok(_)) => {
            segments::reclaimed(
                env,
                "once the workload ended and ingest caught up (no fresh write, no restart)",
            )
            .await
        }
        Ok(Err(e)) => {
            env.shared
                .borrow_mut()
                .event(at, &format!("drain: the ingest worker stopped: {e}"));
            Ok(())
        }
        Err(_) => {
            refresh_damage(env);
            let cursor = engine.ingest_cursor();
            if env.shared.borrow().oracle.damaged(cursor, end) {
                if let Some(next) = resumable_damage(env, cursor, end).await {
                    return Err(Failure::Liveness(format!(
                        "with faults stopped, ingest stayed at {cursor} for {DRAIN_SIM_MS_MAX} simulated ms: the bytes there are damaged, but a valid record follows at {next}, below the durable end {end}, so ingest had to dead-letter [{cursor}, {next}) and go on by itself"
                    )));
                }
                env.shared.borrow_mut().event(
                    at,
                    &format!("drain: damage in [{cursor}, {end}) waits for a reopen"),
                );
                return Ok(());
            }
            Err(Failure::Liveness(format!(
                "with faults stopped and no fresh writes, ingest stayed at {cursor} below the durable end {end} for {DRAIN_SIM_MS_MAX} simulated ms (no media damage lies between)"
            )))
        }
    }
}

/// Where a valid record follows damage at `cursor`, below the durable end `end`: there the
/// worker must quarantine the damage itself (only damage with nothing valid after it below the
/// durable end waits for a reopen). Read through a fault-free observer view, as the worker sees
/// the bytes once faults stop; any other answer (an intact record, an error) keeps the excuse.
async fn resumable_damage(env: &Env, cursor: u64, end: u64) -> Option<u64> {
    let observer: Arc<dyn stemedb::io::Vfs> = Arc::new(env.disk.observer());
    let mut reader = WalReader::open(observer, env.data_dir()).await.ok()?;
    match reader.read_at(cursor).await {
        Err(stemedb::wal::WalError::Corrupt {
            next_valid: Some(next),
            ..
        }) if next > cursor && next < end => Some(next),
        _ => None,
    }
}

/// A harness-signed assertion dated by the engine's clock, announced to the log oracle as about
/// to be submitted; returns it with its encoding (for `oracle.acked`).
pub(crate) fn harness_assertion(
    env: &Env,
    agent: &Agent,
    subject: String,
    predicate: &str,
    object: &str,
) -> Result<(Record, Vec<u8>), Failure> {
    let mut a = Assertion::new(
        subject,
        predicate.to_owned(),
        object.to_owned(),
        1.0,
        env.clock.wall_ms(),
    );
    agent.sign_assertion(&mut a);
    let record = Record::Assertion(a);
    let payload = spec::encode(&record);
    env.shared
        .borrow_mut()
        .oracle
        .submitting(&payload, Signatures::KnownGood);
    Ok((record, payload))
}

pub async fn converge(env: &Env, engine: &Rc<Engine>) -> Result<(), Failure> {
    let seed = env.shared.borrow().config.seed;
    let agent = Agent::derived(seed, LIVENESS_AGENT);
    let mut last = None;
    for i in 0..LIVENESS_WRITES {
        let boots = env.shared.borrow().boots;
        let (record, payload) = harness_assertion(
            env,
            &agent,
            format!("liveness-{boots}-{i}"),
            "written_after",
            "faults stopped",
        )?;
        let offset = engine.submit(&record).await.map_err(|e| {
            Failure::Liveness(format!(
                "after faults stopped a fresh write still fails: {e}"
            ))
        })?;
        env.shared.borrow_mut().oracle.acked(offset, &payload)?;
        last = Some(offset);
    }
    if let Some(last) = last {
        engine.wait_ingested(last).await.map_err(|e| {
            Failure::Liveness(format!(
                "ingest never reached offset {last} after faults stopped: {e}"
            ))
        })?;
    }
    let (cursor, durable) = (engine.ingest_cursor(), engine.durable_end());
    if cursor != durable {
        return Err(Failure::Liveness(format!(
            "ingest lag did not drain: cursor {cursor}, durable end {durable}"
        )));
    }
    // The log as it ends, not only as recoveries found it: records that reached it without an
    // acknowledgement (or against a refusal) since the last recovery are judged here.
    check_log(env).await?;
    check_kv(env, durable).await?;
    check_queries(env)?;
    let arena = env.shared.borrow().config.arena.arena();
    for end_check in arena.end_checks() {
        end_check(env, engine).await?;
    }
    check_audit(env)?;
    check_audit_api(env, engine).await?;
    idle::check(env, engine).await?;
    segments::reclaimed(env, "once the liveness phase had drained and gone idle").await?;
    Ok(())
}

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

async fn check_kv(env: &Env, durable: u64) -> Result<(), Failure> {
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

/// Doubtful records (touched by media damage) that may bear on one query, at most: every subset
/// of them is tried, so the bound keeps a query's check at 2^N model answers per position.
const DOUBTFUL_PER_QUERY_MAX: usize = 6;

fn check_queries(env: &Env) -> Result<(), Failure> {
    let s = env.shared.borrow();
    let accepted = s
        .oracle
        .entries()
        .into_iter()
        .filter_map(|e| {
            s.oracle
                .accept(&e.payload)
                .map(|r| (e.offset, r, e.uncertain))
        })
        .collect::<Vec<_>>();
    let model = LensModel::new(accepted);
    let offsets: Vec<u64> = s.oracle.known().keys().copied().collect();
    let (mut checked, mut unchecked) = (0u64, 0u64);
    for q in s.queries.iter().filter(|q| !q.failed && !q.materialized) {
        // Damage excuses exactly the damaged records that bear on this query: each of them may
        // or may not have been ingested, so every combination is tried. Only a query with more
        // of them than the bound goes unchecked (and is counted as such).
        let doubtful = model.doubtful_for(&q.spec);
        if doubtful.len() > DOUBTFUL_PER_QUERY_MAX {
            unchecked += 1;
            continue;
        }
        checked += 1;
        // The ingested set changes only at record boundaries: try each cursor position the query
        // could have seen. A view answer is the read of an earlier query that was still fresh:
        // try the positions of each such read; with none, the view broke the staleness rules.
        let windows: Vec<(u64, u64)> = if q.used_view {
            let fresh: Vec<&QueryCheck> = s
                .queries
                .iter()
                .filter(|read| read.may_serve_view_for(q))
                .collect();
            let newest: Vec<(u64, u64)> = fresh
                .iter()
                .filter(|read| !s.queries.iter().any(|n| read.superseded_for(n, q)))
                .map(|read| (read.before, read.after))
                .collect();
            if newest.is_empty() && !fresh.is_empty() {
                return Err(Failure::Safety(format!(
                    "query {:?} (clock {} ms) was answered from a view, but every read fresh \
                     enough to serve it is older than a read of the same view that was done \
                     before the query began: views keep the newest read",
                    q.spec, q.wall_ms
                )));
            }
            newest
        } else {
            vec![(q.before, q.after)]
        };
        if windows.is_empty() {
            return Err(Failure::Safety(format!(
                "query {:?} (clock {} ms, view {}) was answered from a view, but no read of the same process was fresh enough for it: a view older than max_stale, dated in the future of the clock, or for a query that accepts none",
                q.spec, q.wall_ms, q.used_view
            )));
        }
        let mut positions = Vec::new();
        for &(low, high) in &windows {
            positions.push(low);
            positions.extend(
                offsets
                    .iter()
                    .filter(|&&o| o >= low && o < high)
                    .map(|o| o + 1),
            );
        }
        let subsets = (0..1u32 << doubtful.len()).map(|mask| {
            doubtful
                .iter()
                .enumerate()
                .filter(|(bit, _)| mask & (1 << bit) != 0)
                .map(|(_, &id)| id)
                .collect::<BTreeSet<_>>()
        });
        let answered = Answer {
            ranked: q.ranked.clone(),
            rule: q.rule,
        };
        let matched = subsets.into_iter().any(|counted| {
            positions
                .iter()
                .any(|&upto| model.answer(&q.spec, upto, &counted) == answered)
        });
        if !matched {
            let expected = model.answer(&q.spec, q.after, &doubtful.iter().copied().collect());
            let offset_of = |h: &Hash32| {
                s.oracle
                    .entries()
                    .iter()
                    .find_map(|e| match s.oracle.accept(&e.payload) {
                        Some(Record::Assertion(a)) if spec::assertion_id(&a) == *h => {
                            Some(e.offset)
                        }
                        _ => None,
                    })
            };
            let (got, want) = (answered.candidates(), expected.candidates());
            let missing: Vec<String> = want
                .difference(&got)
                .map(|h| format!("{h} at {:?}", offset_of(h)))
                .collect();
            let extra: Vec<String> = got
                .difference(&want)
                .map(|h| format!("{h} at {:?}", offset_of(h)))
                .collect();
            if s.trace {
                eprintln!("query mismatch: missing {missing:?} extra {extra:?}");
                eprintln!(
                    "  engine ranked {:?} by {:?}",
                    answered.ranked, answered.rule
                );
                eprintln!(
                    "  model ranked {:?} by {:?}",
                    expected.ranked, expected.rule
                );
            }
            let support = |a: &Answer| {
                a.ranked
                    .first()
                    .map(|r| format!("{} voters, weight {:?}", r.vote_count, r.vote_weight))
                    .unwrap_or_default()
            };
            return Err(Failure::Safety(format!(
                "query {:?} (cursor {}..{}, view {}, {} damaged records bear on it) answered {:?} ({}) with {} candidates by {:?}; the reference lens gives {:?} ({}) with {} candidates by {:?} over the ingested set",
                q.spec,
                q.before,
                q.after,
                q.used_view,
                doubtful.len(),
                answered.winner(),
                support(&answered),
                answered.ranked.len(),
                answered.rule,
                expected.winner(),
                support(&expected),
                expected.ranked.len(),
                expected.rule,
            )));
        }
    }
    drop(s);
    let mut s = env.shared.borrow_mut();
    s.metrics.check(checked);
    s.metrics
        .counts
        .add_event(names::EVENT_QUERIES_CHECKED, checked);
    s.metrics
        .counts
        .add_event(names::EVENT_QUERIES_UNCHECKED_DAMAGE, unchecked);
    Ok(())
}

/// Every answered query left exactly one audit record (no crash can have reverted the KV
/// outside chaos).
/// The audit records in the store, read as the design lays them out.
fn stored_audits(env: &Env) -> Result<BTreeMap<u64, spec::Audit>, Failure> {
    let mut stored = BTreeMap::new();
    for (key, value) in env.kv.live_snapshot() {
        if let Some(seq) = spec::audit_seq(&key) {
            let record = spec::audit(&value).map_err(|e| {
                Failure::Safety(format!(
                    "the audit record at sequence number {seq} is unreadable: {e}"
                ))
            })?;
            stored.insert(seq, record);
        }
    }
    Ok(stored)
}

/// The engine's audit API (`QueryEngine::audit_records`, what an operator reads) returns
/// exactly the records in the store, in sequence order, each as stored.
async fn check_audit_api(env: &Env, engine: &Engine) -> Result<(), Failure> {
    let listed =
        engine.query_engine().audit_records().await.map_err(|e| {
            Failure::Safety(format!("the audit API failed with faults stopped: {e}"))
        })?;
    let listed: Vec<(u64, spec::Audit)> = listed
        .into_iter()
        .map(|(seq, r)| {
            let audit = spec::Audit {
                wall_ms: r.wall_ms,
                lens: r.lens,
                lifecycles: stemedb::model::Lifecycle::ALL
                    .into_iter()
                    .filter(|&l| r.lifecycles.contains(l))
                    .collect(),
                max_stale_ms: r.max_stale_ms,
                used_view: r.used_view,
                rule: r.rule,
                candidates: r.candidates,
                winner: r.winner,
                subject: r.subject,
                predicate: r.predicate,
                error: r.error,
            };
            (seq, audit)
        })
        .collect();
    let stored: Vec<(u64, spec::Audit)> = stored_audits(env)?.into_iter().collect();
    if listed != stored {
        let first = listed
            .iter()
            .zip(&stored)
            .find(|(a, b)| a != b)
            .map(|(a, b)| format!("first difference: listed {a:?}, stored {b:?}"))
            .unwrap_or_else(|| "one list is a prefix of the other".to_owned());
        return Err(Failure::Safety(format!(
            "the audit API lists {} records but the store holds {}: {first}",
            listed.len(),
            stored.len()
        )));
    }
    env.shared.borrow_mut().metrics.check(1);
    Ok(())
}

fn check_audit(env: &Env) -> Result<(), Failure> {
    let stored = stored_audits(env)?;
    let s = env.shared.borrow();
    let answered: Vec<crate::oracle::audit::Answered> = s
        .queries
        .iter()
        .filter_map(|q| {
            Some(crate::oracle::audit::Answered {
                boot: q.boot,
                audit_seq: q.audit_seq?,
                wall_ms: q.wall_ms,
                subject: q.spec.subject.clone(),
                predicate: q.spec.predicate.clone(),
                lens: lens_of(&q.spec),
                lifecycles: q.spec.lifecycles.clone(),
                max_stale_ms: q.spec.max_stale_ms,
                used_view: q.used_view,
                rule: q.rule,
                candidates: q.ranked.len() as u64,
                winner: q.ranked.first().map(|r| r.hash),
            })
        })
        .collect();
    crate::oracle::audit::check(&answered, &s.audit_floors, &stored).map_err(Failure::Safety)?;
    if s.excuses.lost_audit() {
        // Crashes lose unflushed audit records; the checks above still hold.
        return Ok(());
    }
    let audits = stored.len() as u64;
    let answered = s
        .metrics
        .counts
        .operations
        .get(OpKind::Query.name())
        .copied()
        .unwrap_or(0);
    if audits != answered {
        return Err(Failure::Safety(format!(
            "{answered} queries were answered but {audits} audit records exist"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(
        wall_ms: u64,
        boot: u32,
        predicate: Option<&str>,
        max_stale_ms: Option<u64>,
    ) -> QueryCheck {
        QueryCheck {
            spec: QuerySpec {
                subject: "s".to_owned(),
                predicate: predicate.map(str::to_owned),
                consensus: false,
                max_stale_ms,
                lifecycles: QuerySpec::active_only(),
                materialize_first: false,
            },
            before: 0,
            after: 0,
            ranked: Vec::new(),
            rule: Rule::NoCandidates,
            used_view: false,
            wall_ms,
            boot,
            failed: false,
            audit_seq: None,
            materialized: false,
            began: 0,
            done: 0,
        }
    }

    #[test]
    fn only_a_fresh_read_of_the_same_process_and_key_may_serve_a_view() {
        let view = QueryCheck {
            used_view: true,
            ..check(10_000, 2, Some("p"), Some(1_000))
        };
        assert!(
            check(9_000, 2, Some("p"), None).may_serve_view_for(&view),
            "exactly max_stale old"
        );
        assert!(
            !check(8_999, 2, Some("p"), None).may_serve_view_for(&view),
            "older than max_stale"
        );
        assert!(
            !check(10_001, 2, Some("p"), None).may_serve_view_for(&view),
            "dated in the future"
        );
        assert!(
            !check(9_500, 1, Some("p"), None).may_serve_view_for(&view),
            "another process"
        );
        assert!(
            !check(9_500, 2, Some("q"), None).may_serve_view_for(&view),
            "another predicate"
        );
        assert!(
            !check(9_500, 2, None, None).may_serve_view_for(&view),
            "subject-only reads make no view"
        );
        let no_views = QueryCheck {
            used_view: true,
            ..check(10_000, 2, Some("p"), None)
        };
        assert!(
            !check(10_000, 2, Some("p"), None).may_serve_view_for(&no_views),
            "a query that accepts no view"
        );
    }

    /// A read is superseded for a view answer only by a read of the same view that surely
    /// installed one, began after it was done and was done before the answer's query began.
    #[test]
    fn only_a_later_read_done_before_the_query_supersedes_a_view() {
        let ticks = |q: QueryCheck, began, done| QueryCheck { began, done, ..q };
        let old = ticks(check(9_000, 2, Some("p"), None), 1, 2);
        let view = ticks(
            QueryCheck {
                used_view: true,
                ..check(10_000, 2, Some("p"), Some(1_000))
            },
            7,
            8,
        );
        let newer = |began, done| ticks(check(9_500, 2, Some("p"), None), began, done);
        assert!(old.superseded_for(&newer(3, 4), &view));
        assert!(
            !old.superseded_for(&newer(2, 4), &view),
            "began before the old read was done: it may have been numbered first"
        );
        assert!(
            !old.superseded_for(&newer(3, 7), &view),
            "done only as the query began: its view may not have been in place"
        );
        let failed = QueryCheck {
            failed: true,
            ..newer(3, 4)
        };
        assert!(
            !old.superseded_for(&failed, &view),
            "may have installed nothing"
        );
        let served = QueryCheck {
            used_view: true,
            ..newer(3, 4)
        };
        assert!(!old.superseded_for(&served, &view), "read no store");
        let other = ticks(check(9_500, 2, Some("q"), None), 3, 4);
        assert!(!old.superseded_for(&other, &view), "another view");
    }
}
