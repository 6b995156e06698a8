//! How a process's engine is stopped on purpose: the clean stop at the end of a fault-free run
//! (shut down, cut the power, reopen and lose nothing), and the supervisor's stop of an engine
//! whose ingest ended under faults (the shutdown must report why).

use super::*;

/// How long the engine reopened after the clean stop may take to ingest the stop's backlog.
const BACKLOG_DRAIN_SIM_MS_MAX: u64 = 30_000;

/// Stops the converged engine cleanly, cuts the power, opens it again in this process and
/// checks that nothing was lost or needed repair (`check::clean_stop`); then drops it without a
/// shutdown, which must stop its worker all the same (`check::worker`).
pub(super) async fn clean_stop(env: &Env, engine: Rc<Engine>) -> Result<(), Failure> {
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
    if stemedb_faults::time::timeout(
        Duration::from_millis(BACKLOG_DRAIN_SIM_MS_MAX),
        engine.wait_caught_up(),
    )
    .await
    .is_none()
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
pub(super) async fn supervised_stop(env: &Env, engine: Rc<Engine>) -> Result<(), Failure> {
    for _ in 0..HOLDERS_SETTLE_SIM_MS_MAX {
        if Rc::strong_count(&engine) == 1 {
            break;
        }
        stemedb_faults::time::sleep(Duration::from_millis(1)).await;
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
pub(super) fn worker_end_unexcused(
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
