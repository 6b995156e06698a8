//! The engine host: what runs on every (re)start of the simulated node. It recovers the engine,
//! checks what recovery produced, then runs the workload (fault phase) or the convergence checks
//! (liveness phase). Everything here may be cancelled at any await by a crash.

use std::rc::{Rc, Weak};
use std::time::Duration;

use stemedb::ingest::{IngestError, IngestStopError};
use stemedb::io::Clock;
use stemedb::model::Record;
use stemedb::query::QueryEngine;
use stemedb::{Engine, EngineError, EngineOptions};
use stemedb_faults::CrashSpec;
use stemedb_reports::names;

use crate::check;
use crate::env::{Env, HostRequest, Phase};
use crate::metrics::OpKind;
use crate::oracle::spec;
use crate::oracle::validity::Signatures;
use crate::outcome::Failure;
use crate::workload::Op;

/// Opening may fail under faults (EIO during recovery, ENOSPC on the truncation sync); a
/// supervisor retries after a pause, this many times before calling it a liveness failure.
const OPEN_ATTEMPTS_MAX: u32 = 50;
const OPEN_RETRY_PAUSE: Duration = Duration::from_millis(20);

pub fn engine_options(env: &Env) -> EngineOptions {
    let mut options = EngineOptions::default();
    let s = env.shared.borrow();
    options.wal.segment_bytes_max = s.config.segment_bytes_max;
    options.flush_every_records = s.config.flush_every_records;
    // Reproducible salts, distinct per boot (a segment re-created after a crash gets a new one).
    options.wal.salt_seed = Some(s.config.seed ^ (u64::from(s.boots) << 48));
    drop(s);
    options
}

pub async fn boot(env: Env) {
    env.clock.follow_runtime_from(crate::world::host_elapsed());
    let (phase, boot) = {
        let mut s = env.shared.borrow_mut();
        s.boots += 1;
        s.ingest_stopped = false;
        let floor = env
            .kv
            .live_snapshot()
            .keys()
            .filter_map(|k| spec::audit_seq(k))
            .max();
        let boot = s.boots;
        s.audit_floors.insert(boot, floor);
        let last = std::mem::take(&mut s.verifier_boot);
        s.verifier_done.hits += last.hits;
        s.verifier_done.misses += last.misses;
        (s.phase, s.boots)
    };
    let started = env.clock.monotonic();
    let Some(engine) = open(&env, phase).await else {
        return;
    };
    let engine = Rc::new(engine);
    {
        let mut s = env.shared.borrow_mut();
        let took = env.clock.monotonic() - started;
        s.metrics
            .record(names::LATENCY_RECOVERY, took.as_micros() as u64);
        s.metrics.counts.add_event(names::EVENT_RECOVERIES, 1);
        let report = engine.recovery_report();
        let line = format!(
            "boot {boot} recovered: end {} records {} torn {:?} quarantined {} tail lost {:?}",
            report.end_offset,
            report.records_valid,
            report.torn_tail.as_ref().map(|t| t.offset),
            report.quarantined.len(),
            report.tail_lost.map(|l| (l.from, l.to))
        );
        s.event(env.clock.monotonic(), &line);
        if report.tail_lost.is_some() {
            s.metrics.counts.add_event(names::EVENT_TAIL_LOST, 1);
        }
    }
    // Before the first await: the KV holds exactly what the engine read at open.
    if let Err(failure) = check::losses::check(&env, &engine) {
        env.shared.borrow_mut().fail(failure);
        return;
    }
    if let Err(failure) = check::after_recovery(&env).await {
        env.shared.borrow_mut().fail(failure);
        return;
    }
    let corrupt_reports = env.kv.stats().corrupt_reports;
    tokio::task::spawn_local(monitor(
        env.clone(),
        Rc::downgrade(&engine),
        corrupt_reports,
    ));
    match phase {
        Phase::Faults => run_workload(&env, engine).await,
        Phase::Liveness => {
            if let Err(failure) = check::converge(&env, &engine).await {
                env.shared.borrow_mut().fail(failure);
            } else {
                env.shared.borrow_mut().phase = Phase::Done;
            }
        }
        Phase::Done => {}
    }
}

async fn open(env: &Env, phase: Phase) -> Option<Engine> {
    let mut last_error = String::new();
    for attempt in 0..OPEN_ATTEMPTS_MAX {
        match Engine::open(
            env.vfs(),
            env.kv_store(),
            env.clock_arc(),
            env.data_dir(),
            engine_options(env),
        )
        .await
        {
            Ok(engine) => return Some(engine),
            Err(e) => {
                last_error = e.to_string();
                if !env.shared.borrow().excuses.failed_calls() {
                    // No fault ever touched this disk: an open must simply work.
                    env.shared
                        .borrow_mut()
                        .fail(crate::outcome::Failure::Safety(format!(
                            "the engine failed to open an undamaged disk (attempt {attempt}): {e}"
                        )));
                    return None;
                }
                let at = env.clock.monotonic();
                env.shared
                    .borrow_mut()
                    .event(at, &format!("open failed: {e}"));
                tokio::time::sleep(OPEN_RETRY_PAUSE).await;
            }
        }
    }
    if phase == Phase::Faults {
        // Faults keep the engine from starting: call an operator (the driver remaps bad
        // sectors and restarts it, or ends the fault phase after a bound).
        let mut s = env.shared.borrow_mut();
        let at = env.clock.monotonic();
        s.event(
            at,
            &format!("open keeps failing under faults ({last_error}); calling an operator"),
        );
        s.request(HostRequest::Operator);
        return None;
    }
    env.shared.borrow_mut().fail(crate::outcome::Failure::Liveness(format!(
        "the engine could not open after {OPEN_ATTEMPTS_MAX} attempts once faults stopped: {last_error}"
    )));
    None
}

/// The cursor may never pass the durable end of the log. Checked at every cursor change (the
/// durable end only grows within a process, so between changes the invariant cannot break).
/// Holds the engine weakly: a clean stop needs it back whole.
///
/// The worker of a living engine may end only on a corrupt report from the KV (the one fatal
/// error a fault can cause): `corrupt_reports` is the store's count of them when this boot began.
/// Then the host stops its writers, shuts the engine down and has it restarted.
async fn monitor(env: Env, engine: Weak<Engine>, corrupt_reports: u64) {
    let Some(mut cursor_rx) = engine.upgrade().map(|e| e.subscribe_cursor()) else {
        return;
    };
    // What ingest applied below the first cursor seen, this boot's recovery scan already read.
    let mut applied_to = *cursor_rx.borrow();
    loop {
        let cursor = *cursor_rx.borrow_and_update();
        if cursor > applied_to {
            let records = check::frames::applied_records(&env, applied_to, cursor);
            env.shared.borrow_mut().oracle.observe_applied(&records);
            applied_to = cursor;
        }
        let Some((durable, status)) = engine
            .upgrade()
            .map(|e| (e.durable_end(), check::worker::status(&e, &cursor_rx)))
        else {
            return;
        };
        if let Err(failure) = status {
            env.shared.borrow_mut().fail(failure);
            return;
        }
        if cursor > durable {
            env.shared
                .borrow_mut()
                .fail(crate::outcome::Failure::Safety(format!(
                    "the ingest cursor {cursor} passed the durable end of the log {durable}"
                )));
            return;
        }
        {
            let mut s = env.shared.borrow_mut();
            s.metrics.check(1);
            if let Some(engine) = engine.upgrade() {
                s.verifier_boot = engine.verifier_stats();
            }
        }
        if cursor_rx.changed().await.is_err() {
            // The worker is gone (the engine stopped, or its worker failed): no more cursor
            // values to check, but an engine still here must know its worker ended.
            let Some(status) = engine
                .upgrade()
                .map(|e| check::worker::status(&e, &cursor_rx))
            else {
                return;
            };
            let cause = engine.upgrade().and_then(|e| e.ingest_failure());
            let at = env.clock.monotonic();
            let mut s = env.shared.borrow_mut();
            if let Err(failure) = status {
                s.fail(failure);
            } else if let Some(failure) = worker_end_unexcused(
                cause.as_ref(),
                env.kv.stats().corrupt_reports > corrupt_reports,
            ) {
                s.fail(failure);
            } else if s.phase == Phase::Faults {
                s.event(
                    at,
                    "ingest stopped on a corrupt KV report; the writers stop",
                );
                s.ingest_stopped = true;
            }
            return;
        }
    }
}

async fn run_workload(env: &Env, engine: Rc<Engine>) {
    let queries = Rc::new(engine.query_engine());
    let writers = env.shared.borrow().config.writers.max(1);
    let mut tasks = Vec::new();
    for _ in 0..writers {
        tasks.push(tokio::task::spawn_local(writer(
            env.clone(),
            engine.clone(),
            queries.clone(),
        )));
    }
    for task in tasks {
        // A writer that panicked is an engine panic surfacing through it.
        if let Err(e) = task.await {
            env.shared
                .borrow_mut()
                .fail(crate::outcome::Failure::Safety(format!(
                    "a workload task panicked: {e}"
                )));
        }
    }
    let (exhausted, failed, faulted, ingest_stopped) = {
        let s = env.shared.borrow();
        (
            s.workload.exhausted(),
            s.failure.is_some(),
            s.excuses.any(),
            s.ingest_stopped,
        )
    };
    if ingest_stopped && !failed {
        if let Err(failure) = supervised_stop(env, engine).await {
            env.shared.borrow_mut().fail(failure);
        }
        // The driver restarts the process.
        return std::future::pending::<()>().await;
    }
    if exhausted && !failed {
        // Faults stop here, before the driver notices, so that the drain below is helped by
        // neither a fresh write nor a restart.
        if faulted {
            env.disk.heal_for_drain();
            env.kv.heal();
            let at = env.clock.monotonic();
            env.shared.borrow_mut().event(
                at,
                "faults stop but the plan's transient read faults; ingest drains without writes or a restart",
            );
        }
        if let Err(failure) = check::drain(env, &engine).await {
            env.shared.borrow_mut().fail(failure);
            return;
        }
    }
    if exhausted && !failed && !faulted {
        // No faults struck: converge in this same process, so in-flight measurements finish.
        env.shared.borrow_mut().phase = Phase::Liveness;
        let workload_queries = env.shared.borrow().queries.len();
        let truth = check::counters::query_truth(env, workload_queries);
        let checked = match check::converge(env, &engine).await {
            Ok(()) => check::counters::check(env, &engine, &queries, &truth).await,
            Err(failure) => Err(failure),
        };
        let checked = match checked {
            Ok(()) => clean_stop(env, engine).await,
            Err(failure) => Err(failure),
        };
        match checked {
            Ok(()) => env.shared.borrow_mut().phase = Phase::Done,
            Err(failure) => env.shared.borrow_mut().fail(failure),
        }
        return;
    }
    if exhausted {
        env.shared.borrow_mut().request(HostRequest::WorkloadDone);
    }
    std::future::pending::<()>().await;
}

/// How long the engine reopened after the clean stop may take to ingest the stop's backlog.
const BACKLOG_DRAIN_SIM_MS_MAX: u64 = 30_000;

/// Stops the converged engine cleanly, cuts the power, opens it again in this process and
/// checks that nothing was lost or needed repair (`check::clean_stop`); then drops it without a
/// shutdown, which must stop its worker all the same (`check::worker`).
async fn clean_stop(env: &Env, engine: Rc<Engine>) -> Result<(), Failure> {
    let backlog = check::clean_stop::write_backlog(env, &engine).await?;
    let Ok(engine) = Rc::try_unwrap(engine) else {
        return Err(Failure::Harness(
            "the host still shares the engine after its workload ended".to_string(),
        ));
    };
    let before = check::clean_stop::shutdown(env, engine, &backlog).await?;
    let power_loss = CrashSpec::drop_all();
    let disk = env.disk.crash(&power_loss);
    let kv = env.kv.crash(&power_loss);
    env.shared.borrow_mut().event(
        env.clock.monotonic(),
        &format!("clean shutdown, then power loss: {disk:?} {kv:?}"),
    );
    let Some(engine) = open(env, Phase::Liveness).await else {
        return Err(env.shared.borrow_mut().failure.take().unwrap_or_else(|| {
            Failure::Liveness("the engine did not open after a clean shutdown".to_string())
        }));
    };
    check::clean_stop::after_reopen(env, &engine, &before)?;
    // The reopened worker ingests the backlog the stop left.
    let durable = engine.durable_end();
    if tokio::time::timeout(
        Duration::from_millis(BACKLOG_DRAIN_SIM_MS_MAX),
        engine.wait_caught_up(),
    )
    .await
    .is_err()
    {
        return Err(Failure::Liveness(format!(
            "the engine reopened after a clean stop did not ingest the backlog to {durable} within {BACKLOG_DRAIN_SIM_MS_MAX} simulated ms"
        )));
    }
    check::log_and_kv(env, durable).await?;
    check::idle::check(env, &engine).await?;
    // The first stop was a shutdown; this one is a drop, which must stop the worker too.
    check::worker::dropped(engine).await
}

/// How long the host waits for the tasks that still hold the engine (ingest-lag probes, which
/// end as the worker's cursor channel closes) before a supervised stop.
const HOLDERS_SETTLE_SIM_MS_MAX: u64 = 1_000;

/// The ingest worker stopped on a corrupt KV report while its engine lives: the supervisor stops
/// the engine and restarts the process. The shutdown must report the worker's failure (one that
/// says all is well hides a stopped ingest from the operator); a KV error during the shutdown's
/// own flush may stand in for it.
async fn supervised_stop(env: &Env, engine: Rc<Engine>) -> Result<(), Failure> {
    for _ in 0..HOLDERS_SETTLE_SIM_MS_MAX {
        if Rc::strong_count(&engine) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let Ok(engine) = Rc::try_unwrap(engine) else {
        return Err(Failure::Harness(format!(
            "tasks still hold the engine {HOLDERS_SETTLE_SIM_MS_MAX} simulated ms after its ingest stopped"
        )));
    };
    let kv_errors = env.kv.stats().errors;
    let stopped = engine.shutdown().await;
    let kv_failed_during = env.kv.stats().errors > kv_errors;
    let at = env.clock.monotonic();
    match stopped {
        Err(EngineError::Ingest(IngestStopError::Failed(IngestError::KvCorrupt { .. }))) => {}
        Err(
            ref e @ EngineError::IngestAndKv {
                ingest: IngestStopError::Failed(IngestError::KvCorrupt { .. }),
                ..
            },
        ) if kv_failed_during => {
            env.shared
                .borrow_mut()
                .event(at, &format!("the shutdown's own KV calls failed: {e}"));
        }
        Err(e) => {
            return Err(Failure::Safety(format!(
                "a shutdown after ingest stopped on a corrupt KV report gave another error: {e}"
            )));
        }
        Ok(()) => {
            return Err(Failure::Safety(
                "a shutdown after ingest stopped on a corrupt KV report reported success"
                    .to_string(),
            ));
        }
    }
    let mut s = env.shared.borrow_mut();
    s.event(at, "supervisor stops the engine whose ingest stopped");
    s.metrics.counts.add_event("supervised_stops", 1);
    s.request(HostRequest::Restart);
    Ok(())
}

/// Why the end of a living engine's worker is a verdict, if it is: the worker may end only on a
/// corrupt report from the KV (the one fatal error a fault can cause), and the engine must say
/// so. A worker that ended cleanly or panicked, on another error, or on a corruption no KV call
/// of this boot reported, is a bug.
fn worker_end_unexcused(
    cause: Option<&IngestError>,
    kv_reported_corruption: bool,
) -> Option<Failure> {
    let why = match cause {
        Some(IngestError::KvCorrupt { .. }) if kv_reported_corruption => return None,
        Some(IngestError::KvCorrupt { detail }) => {
            format!("on a corrupt KV ({detail}), and no KV call of this boot reported corruption")
        }
        Some(other) => format!("on an error no fault of the plan may cause: {other}"),
        None => "without an error to say why (the engine reports no failure)".to_string(),
    };
    Some(Failure::Safety(format!(
        "the ingest worker of a living engine ended {why}"
    )))
}

/// A submit error in a fault-free arena is the engine refusing valid work.
fn refused(env: &Env, what: OpKind, err: &EngineError) {
    let at = env.clock.monotonic();
    let mut s = env.shared.borrow_mut();
    s.event(at, &format!("{what} refused: {err}"));
    s.metrics.op(OpKind::Refused);
    // Validation refusals of workload records are judged by the clock rule before this; here
    // only the disk's faults excuse a refusal, and a cancelled client: a leader dropped
    // mid-flush answers the rest of its batch with `FlushInterrupted` (`wal/commit.rs`), and in
    // this process some client gave up on a submit.
    let interrupted = matches!(
        err,
        EngineError::Wal(stemedb::wal::WalError::FlushInterrupted)
    ) && s.cancelled_boots.contains(&s.boots);
    if !faults_active_locked(&s) && !interrupted {
        s.fail(crate::outcome::Failure::Safety(format!(
            "the engine refused a valid {what} without any fault: {err}"
        )));
    }
}

/// Whether `err` promises that nothing of the record was stored. Validation and encoding
/// happen before the WAL; a full device and an I/O error cut the partial batch back (and sync
/// the cut) before they are returned, or the WAL fails closed instead. Failing closed (the bytes
/// may have reached the disk) and an interrupted flush (its bytes are cut back only by the next
/// flush, which a crash can pre-empt) promise nothing.
fn refusal_is_definite(err: &EngineError) -> bool {
    use stemedb::wal::WalError;
    match err {
        EngineError::Validation(_) | EngineError::Encode(_) => true,
        EngineError::Wal(w) => matches!(
            w,
            WalError::RecordTooLarge { .. } | WalError::StorageFull { .. } | WalError::Io { .. }
        ),
        _ => false,
    }
}

fn faults_active_locked(s: &crate::env::Shared) -> bool {
    s.phase == Phase::Faults && s.excuses.failed_calls()
}

async fn writer(env: Env, engine: Rc<Engine>, queries: Rc<QueryEngine>) {
    loop {
        let (op, quiet) = {
            let mut s = env.shared.borrow_mut();
            if s.failure.is_some() || s.ingest_stopped {
                break;
            }
            let now = env.clock.monotonic();
            match s.workload.quiet_for(now) {
                Duration::ZERO => (s.workload.next(env.clock.wall_ms(), now), Duration::ZERO),
                quiet => (None, quiet),
            }
        };
        if !quiet.is_zero() {
            // Between bursts: the client thinks.
            tokio::time::sleep(quiet).await;
            continue;
        }
        let Some(op) = op else { break };
        match op {
            Op::Submit(record) => submit(&env, &engine, Some(&record), None).await,
            Op::Hostile {
                bytes,
                signatures,
                breach,
            } => match through_validation(&bytes) {
                // Half of the hostile records that decode canonically go through the validating
                // entry point: what it refuses must never reach the log.
                Some(record) => {
                    submit_validated_hostile(&env, &engine, &record, signatures, breach).await
                }
                None => submit(&env, &engine, None, Some((bytes, signatures))).await,
            },
            Op::Query(spec) => check::query(&env, &engine, &queries, spec).await,
            Op::Smuggle { outer, inner } => {
                env.shared.borrow_mut().oracle.smuggled(&inner);
                submit(&env, &engine, Some(&outer), None).await
            }
        }
    }
}

/// The record to send through `Engine::submit`, for hostile bytes that decode to a record whose
/// canonical encoding they are, and that the payload's digest picks (half of them; the digest,
/// not a draw, so the workload stream is unchanged).
fn through_validation(bytes: &[u8]) -> Option<Record> {
    // `spec::decode` accepts only the canonical encoding, so the record encodes back to `bytes`.
    let record = spec::decode(bytes)?;
    let picked = blake3::hash(bytes).as_bytes()[0] & 1 == 0;
    picked.then_some(record)
}

/// Sends a hostile record through the validating entry point. A validation refusal is the
/// only right answer (and promises nothing was stored), and for a catalogued rule breaker it must
/// name the rule broken; `submit` validates every rule, so acknowledging a record the reference
/// validator rejects is a breach, in every arena and phase.
async fn submit_validated_hostile(
    env: &Env,
    engine: &Rc<Engine>,
    record: &Record,
    signatures: Signatures,
    breach: Option<crate::adversary::Breach>,
) {
    let payload = spec::encode(record);
    env.shared
        .borrow_mut()
        .oracle
        .submitting(&payload, signatures);
    let started = env.clock.monotonic();
    let result = engine.submit(record).await;
    let now = env.clock.monotonic();
    match result {
        Err(EngineError::Validation(e)) => {
            let mut s = env.shared.borrow_mut();
            if let Some(breach) = breach.filter(|b| !b.named_by(&e)) {
                s.fail(crate::outcome::Failure::Safety(format!(
                    "submit refused a record that breaks only {breach:?} for another rule: {e}"
                )));
                return;
            }
            s.event(now, &format!("hostile refused at submit: {e}"));
            s.metrics.op(OpKind::HostileRefused);
            s.oracle.refused_definitely(&payload);
        }
        Ok(offset) if crate::oracle::validity::accept(&payload, signatures).is_none() => {
            let what = breach.map_or_else(|| "a rule".to_owned(), |b| format!("{b:?}"));
            env.shared
                .borrow_mut()
                .fail(crate::outcome::Failure::Safety(format!(
                    "submit acknowledged at offset {offset} a {} that breaks {what}",
                    OpKind::of(record)
                )));
        }
        other => {
            acknowledged_or_refused(env, engine, OpKind::Hostile, payload, started, other).await
        }
    }
}

/// Submits a workload record (signed by the harness: its signatures are good) or raw hostile
/// bytes with what the harness knows of them.
async fn submit(
    env: &Env,
    engine: &Rc<Engine>,
    record: Option<&Record>,
    raw: Option<(Vec<u8>, Signatures)>,
) {
    let (payload, what, signatures) = match (record, raw) {
        // What a correct engine logs for the record, by the design's format (`oracle::spec`):
        // the log oracle holds the engine's bytes to it.
        (Some(r), _) => (spec::encode(r), OpKind::of(r), Signatures::KnownGood),
        (None, Some((bytes, signatures))) => (bytes, OpKind::Hostile, signatures),
        (None, None) => return,
    };
    env.shared
        .borrow_mut()
        .oracle
        .submitting(&payload, signatures);
    let started = env.clock.monotonic();
    let result = match record {
        Some(r) => {
            let deadline = env.shared.borrow_mut().workload.cancel_deadline();
            // The engine's clock as `submit` reads it: nothing is awaited in between.
            let engine_wall_ms = env.clock.wall_ms();
            let result = match deadline {
                None => engine.submit(r).await,
                Some(d) => match tokio::time::timeout(d, engine.submit(r)).await {
                    Ok(result) => result,
                    Err(_) => {
                        // Dropped wherever it was: the record may or may not be in the log,
                        // as after any call whose answer never came.
                        let mut s = env.shared.borrow_mut();
                        s.event(
                            env.clock.monotonic(),
                            &format!("submit of a {what} given up after {d:?}"),
                        );
                        s.metrics.op(OpKind::SubmitCancelled);
                        let boot = s.boots;
                        s.cancelled_boots.insert(boot);
                        return;
                    }
                },
            };
            if clock_rule_held(env, r, engine_wall_ms, &result, &payload) {
                return;
            }
            result
        }
        None => engine.submit_raw(&payload).await,
    };
    acknowledged_or_refused(env, engine, what, payload, started, result).await;
}

/// Judges a workload record's submit by the clock rule (`oracle::clock`); the records are valid
/// in every other rule, so a validation refusal can only be the clock rule's. Returns whether the
/// answer was a refusal the rule demands (fully handled here); a breach of the rule fails the
/// run, in every arena and every phase (no disk fault makes a date invalid).
fn clock_rule_held(
    env: &Env,
    record: &Record,
    engine_wall_ms: u64,
    result: &Result<u64, EngineError>,
    payload: &[u8],
) -> bool {
    use crate::oracle::clock::{self, ClockVerdict};
    use stemedb::model::ValidationError;
    let timestamp_ms = clock::timestamp_ms(record);
    let verdict = clock::verdict(timestamp_ms, engine_wall_ms);
    let kind = OpKind::of(record);
    let at = env.clock.monotonic();
    let mut s = env.shared.borrow_mut();
    let breach = match (verdict, result) {
        (
            ClockVerdict::TooFarAhead,
            Err(EngineError::Validation(ValidationError::TimestampInFuture { .. })),
        ) => {
            s.event(
                at,
                &format!(
                    "{kind} dated {timestamp_ms} ms refused at engine time {engine_wall_ms} ms"
                ),
            );
            s.metrics.op(OpKind::FutureRefused);
            s.oracle.refused_definitely(payload);
            return true;
        }
        (ClockVerdict::TooFarAhead, Ok(offset)) => format!(
            "the engine accepted a {kind} dated {timestamp_ms} ms, {} ms ahead of its clock \
             ({engine_wall_ms} ms; the tolerance is {} ms), at offset {offset}",
            timestamp_ms - engine_wall_ms,
            clock::FUTURE_SKEW_MS_MAX
        ),
        (ClockVerdict::TooFarAhead, Err(e)) => format!(
            "a {kind} dated {timestamp_ms} ms, too far ahead of the engine's clock \
             ({engine_wall_ms} ms), got {e} instead of a future-timestamp refusal"
        ),
        (ClockVerdict::Passes, Err(EngineError::Validation(e))) => format!(
            "the engine refused a valid {kind} dated {timestamp_ms} ms at engine time \
             {engine_wall_ms} ms: {e}"
        ),
        (ClockVerdict::Passes, _) => return false,
    };
    s.fail(crate::outcome::Failure::Safety(breach));
    true
}

/// What a submit's answer means for the oracle, the metrics and the writer.
async fn acknowledged_or_refused(
    env: &Env,
    engine: &Rc<Engine>,
    what: OpKind,
    payload: Vec<u8>,
    started: Duration,
    result: Result<u64, EngineError>,
) {
    let now = env.clock.monotonic();
    match result {
        Ok(offset) => {
            let mut s = env.shared.borrow_mut();
            s.event(
                now,
                &format!("ack {what} at {offset} ({} bytes)", payload.len()),
            );
            s.metrics.op(what);
            s.metrics.record(
                names::LATENCY_APPEND_ACK,
                (now - started).as_micros() as u64,
            );
            if let Err(failure) = s.oracle.acked(offset, &payload) {
                s.fail(failure);
                return;
            }
            drop(s);
            tokio::task::spawn_local(lag(env.clone(), engine.clone(), offset, now));
        }
        Err(e) => {
            let failed_closed = matches!(
                e,
                EngineError::Wal(stemedb::wal::WalError::FailedClosed { .. })
            );
            if refusal_is_definite(&e) {
                env.shared.borrow_mut().oracle.refused_definitely(&payload);
            }
            refused(env, what, &e);
            if failed_closed {
                stays_closed(env, engine, &payload).await;
                // Wait for the supervisor's restart rather than burn the workload on refusals.
                env.shared.borrow_mut().request(HostRequest::Restart);
                std::future::pending::<()>().await;
            }
        }
    }
}

/// A WAL that failed closed stays closed until a reopen: the writer that saw the refusal submits
/// the same record once more, and it must be refused the same way. Writing on after a failed
/// sync is the bug failing closed exists to prevent, and the workload, which stops at the first
/// such refusal to wait for the restart, would never try it.
async fn stays_closed(env: &Env, engine: &Engine, payload: &[u8]) {
    // Only a record the reference validator accepts reaches the WAL at all.
    let Some(record) = env.shared.borrow().oracle.accept(payload) else {
        return;
    };
    env.shared
        .borrow_mut()
        .oracle
        .submitting(payload, Signatures::Verify);
    let result = engine.submit(&record).await;
    let mut s = env.shared.borrow_mut();
    s.metrics.op(OpKind::ClosedProbe);
    match result {
        // A validation refusal stores nothing too (a clock that jumped back since may make the
        // record's date too far ahead now).
        Err(EngineError::Wal(stemedb::wal::WalError::FailedClosed { .. }))
        | Err(EngineError::Validation(_)) => {
            s.oracle.refused_definitely(payload);
        }
        Ok(offset) => s.fail(crate::outcome::Failure::Safety(format!(
            "the WAL failed closed, then acknowledged a {} byte record at offset {offset}",
            payload.len()
        ))),
        Err(e) => s.fail(crate::outcome::Failure::Safety(format!(
            "the WAL failed closed, then refused a record with another error: {e}"
        ))),
    }
}

/// Ingest lag: from acknowledgement until the record is applied (or quarantined).
async fn lag(env: Env, engine: Rc<Engine>, offset: u64, acked_at: Duration) {
    if engine.wait_ingested(offset).await.is_ok() {
        let lag = env.clock.monotonic().saturating_sub(acked_at);
        env.shared
            .borrow_mut()
            .metrics
            .record(names::LATENCY_INGEST_LAG, lag.as_micros() as u64);
    }
}
