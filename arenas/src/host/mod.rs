//! The engine host: what runs on every (re)start of the simulated node. It recovers the engine,
//! checks what recovery produced, then runs the workload (fault phase) or the convergence checks
//! (liveness phase). Everything here may be cancelled at any await by a crash.

mod stop;
mod writer;

use std::rc::{Rc, Weak};
use std::sync::Arc;
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
use stop::{clean_stop, supervised_stop, worker_end_unexcused};
use writer::writer;

/// Opening may fail under faults (EIO during recovery, ENOSPC on the truncation sync); a
/// supervisor retries after a pause, this many times before calling it a liveness failure.
const OPEN_ATTEMPTS_MAX: u32 = 50;
const OPEN_RETRY_PAUSE: Duration = Duration::from_millis(20);

pub fn engine_options(env: &Env) -> EngineOptions {
    let mut options = EngineOptions::default();
    let s = env.shared.borrow();
    options.wal.segment_bytes_max = s.config.segment_bytes_max;
    options.flush_every_records = s.config.flush_every_records;
    options.ingest_batch_records_max = s.config.ingest_batch_records_max;
    // A world runs on one thread, and a sweep already keeps every core busy with worlds; the
    // threaded path gives the same verdicts (`stemedb::ingest::decode_run`, its tests).
    options.ingest_verify_threads = 1;
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
        let metrics = {
            let mut s = env.shared.borrow_mut();
            s.engine_opens += 1;
            Arc::clone(&s.engine_metrics)
        };
        match Engine::open_with_metrics(
            env.vfs(),
            env.kv_store(),
            env.clock_arc(),
            env.data_dir(),
            engine_options(env),
            metrics,
        )
        .await
        {
            Ok(engine) => {
                env.shared.borrow_mut().engines_opened += 1;
                return Some(engine);
            }
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
                stemedb_faults::time::sleep(OPEN_RETRY_PAUSE).await;
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
