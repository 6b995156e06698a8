//! The engine's simulated capacity: a closed loop of `n` writers, each submitting its next
//! record the moment the last one is acknowledged, for [`CAPACITY_WINDOW`] of simulated time, for
//! each `n` of [`CAPACITY_WRITERS`]. The workload's bursts and gaps set an arrival rate; this
//! sets none, so acknowledgements per simulated second here are what the engine can do on the
//! modelled device, and how that scales with writers is what group commit buys.
//!
//! Measured at the start of the liveness phase of a fault-free arena: every record is
//! acknowledged through the oracle like any other, so the drain, the replay and every final
//! check that follow cover them too.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use stemedb::io::Clock;
use stemedb::model::Agent;
use stemedb::Engine;
use stemedb_reports::Capacity;

use crate::env::Env;
use crate::outcome::Failure;

/// Writer counts measured, one closed loop each.
pub const CAPACITY_WRITERS: [u32; 3] = [1, 8, 32];
/// Simulated time each closed loop runs: some two dozen group-commit batches at SSD latencies.
pub const CAPACITY_WINDOW: Duration = Duration::from_millis(10);
/// Acknowledgements after which a closed loop ends even inside its window: a bound on the
/// records (and the signing) one loop may cost on a very fast device.
pub const CAPACITY_ACKS_MAX: u64 = 4_000;
/// Agent index of the capacity writers (distinct from every workload and liveness agent).
const CAPACITY_AGENT: u64 = 60_000;

/// Runs every closed loop, one after the other, and records each in the run's metrics. A plan
/// without a latency model has no capacity to measure: every call takes no time, so a window
/// of simulated time would never close (the fuzzer's plans found that loop spinning).
pub async fn measure(env: &Env, engine: &Rc<Engine>) -> Result<(), Failure> {
    if !env.disk.models_latency() {
        return Ok(());
    }
    for writers in CAPACITY_WRITERS {
        let capacity = closed_loop(env, engine, writers).await?;
        env.shared
            .borrow_mut()
            .metrics
            .capacity
            .insert(writers, capacity);
    }
    Ok(())
}

async fn closed_loop(env: &Env, engine: &Rc<Engine>, writers: u32) -> Result<Capacity, Failure> {
    let started = env.clock.monotonic();
    let deadline = started + CAPACITY_WINDOW;
    let measured = Rc::new(RefCell::new(Capacity::new(writers)));
    let acked_total = Rc::new(std::cell::Cell::new(0u64));
    // One signing key for the loop (not Clone): the writers share it.
    let agent = Rc::new(Agent::derived(
        env.shared.borrow().config.seed,
        CAPACITY_AGENT,
    ));
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let (env, engine, measured, agent, acked_total) = (
                env.clone(),
                Rc::clone(engine),
                Rc::clone(&measured),
                Rc::clone(&agent),
                Rc::clone(&acked_total),
            );
            tokio::task::spawn_local(async move {
                let mut i = 0u64;
                while env.clock.monotonic() < deadline && acked_total.get() < CAPACITY_ACKS_MAX {
                    let (record, payload) = super::harness_assertion(
                        &env,
                        &agent,
                        format!("capacity-{writers}-{w}-{i}"),
                        "closed_loop",
                        "back to back",
                    )?;
                    let submitted = env.clock.monotonic();
                    let offset = engine.submit(&record).await.map_err(|e| {
                        Failure::Liveness(format!(
                            "with faults stopped, a capacity write ({writers} writers) failed: {e}"
                        ))
                    })?;
                    let took = env.clock.monotonic().saturating_sub(submitted);
                    env.shared.borrow_mut().oracle.acked(offset, &payload)?;
                    measured.borrow_mut().record_ack(took.as_micros() as u64);
                    acked_total.set(acked_total.get() + 1);
                    i += 1;
                }
                Ok::<u64, Failure>(i)
            })
        })
        .collect();
    let mut acked = 0;
    for task in tasks {
        acked += task
            .await
            .map_err(|e| Failure::Safety(format!("a capacity writer panicked: {e}")))??;
    }
    // The window closes at the last acknowledgement, which may come after the deadline.
    let elapsed = env.clock.monotonic().saturating_sub(started);
    let mut capacity = Rc::try_unwrap(measured)
        .map_err(|_| Failure::Safety("a capacity writer outlived its loop".into()))?
        .into_inner();
    capacity.add_ops(acked, elapsed.as_micros() as u64);
    Ok(capacity)
}
