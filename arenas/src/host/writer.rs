//! The workload's writer tasks: each takes operations from the workload and submits records
//! (valid, hostile, edge, smuggled, foreign-dated) or runs queries, and judges every answer as it
//! comes: acknowledgements go to the log oracle, refusals must be excused by the plan or promise
//! what they claim, a closed log must stay closed.

use super::*;

/// A submit error in a fault-free arena is the engine refusing valid work.
fn refused(env: &Env, what: OpKind, err: &EngineError) {
    let at = env.clock.monotonic();
    let mut s = env.shared.borrow_mut();
    s.event(at, &format!("{what} refused: {err}"));
    s.metrics.op(OpKind::Refused);
    s.wal_refused(err);
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

pub(super) async fn writer(env: Env, engine: Rc<Engine>, queries: Rc<QueryEngine>) {
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
            stemedb_faults::time::sleep(quiet).await;
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
                Some(d) => match stemedb_faults::time::timeout(d, engine.submit(r)).await {
                    Some(result) => result,
                    None => {
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
pub(super) async fn stays_closed(env: &Env, engine: &Engine, payload: &[u8]) {
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
    if let Err(e) = &result {
        s.wal_refused(e);
    }
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
