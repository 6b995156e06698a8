//! The invariants, one file each, checked where they must hold; this file holds the liveness
//! phase that runs the end-state ones in order (`drain`, `converge`):
//! - after every recovery (`log`, `segments`, `frames`, `losses`): no acknowledged record lost,
//!   nothing invented, duplicated or changed, segments removed only below the durable cursor;
//! - during the run (`queries`, `views`, `worker`): every answer equals the reference lens over
//!   the ingested set at some moment while the query ran (a view: at a fresh earlier read);
//! - once faults stop (`kv`, `reasons`, `audit`, `idle`, `topics` and each arena's own end
//!   checks): new writes succeed, ingest drains to the durable end by itself, the KV equals a
//!   replay of the durable log with exactly the invalid or damaged records dead-lettered, the
//!   audit trail holds every answer, the engine falls idle, its metrics (`metrics`) agree with
//!   what the harness saw;
//! - in a run without failing calls (`counters`, `clean_stop`): the engine's own counters equal
//!   the replay, and a clean stop loses nothing.

pub mod audit;
pub mod capacity;
pub mod clean_stop;
pub mod counters;
pub mod frames;
pub mod idle;
pub mod kv;
pub mod log;
pub mod losses;
pub mod metrics;
pub mod physics;
pub mod queries;
pub mod reasons;
pub mod segments;
pub mod topics;
pub mod views;
pub mod worker;

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use stemedb::io::Clock;
use stemedb::model::{Agent, Assertion, Record};
use stemedb::wal::WalReader;
use stemedb::Engine;

use crate::env::Env;
use crate::oracle::spec;
use crate::oracle::validity::Signatures;
use crate::outcome::Failure;

/// Fresh writes the liveness phase makes: each must be acknowledged and ingested.
const LIVENESS_WRITES: u64 = 3;
/// Agent index of the liveness phase's writer (distinct from every workload agent).
const LIVENESS_AGENT: u64 = 50_000;
/// Signs the backlog written just before a clean stop (`clean_stop::write_backlog`).
pub(crate) const STOP_BACKLOG_AGENT: u64 = 50_001;

pub use queries::{query, QueryCheck};

use audit::{check_audit, check_audit_api};
use kv::check_kv;
pub use kv::log_and_kv;
pub use log::after_recovery;
use log::{check_log, refresh_damage};
use queries::check_queries;

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
    let waited = stemedb_faults::time::timeout(
        Duration::from_millis(DRAIN_SIM_MS_MAX),
        engine.wait_caught_up(),
    )
    .await;
    let at = env.clock.monotonic();
    match waited {
        Some(Ok(_)) => {
            segments::reclaimed(
                env,
                "once the workload ended and ingest caught up (no fresh write, no restart)",
            )
            .await
        }
        Some(Err(e)) => {
            env.shared
                .borrow_mut()
                .event(at, &format!("drain: the ingest worker stopped: {e}"));
            Ok(())
        }
        None => {
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

/// One writer per log: while the engine holds the WAL, a second writer's open on the same
/// directory is refused with `Locked`, before its recovery touches a byte (two writers would cut
/// each other's tails). Checked once faults have stopped, so no injected error stands in for the
/// refusal.
async fn second_writer_refused(env: &Env) -> Result<(), Failure> {
    let options = crate::host::engine_options(env).wal;
    match stemedb::wal::Wal::open(env.vfs(), env.data_dir(), options).await {
        Err(stemedb::wal::WalError::Locked { .. }) => Ok(()),
        Ok(_) => Err(Failure::Safety(
            "a second writer opened the WAL while the engine held it".into(),
        )),
        Err(e) => Err(Failure::Safety(format!(
            "a second writer's open of a WAL the engine holds failed with {e}, not with Locked"
        ))),
    }
}

pub async fn converge(env: &Env, engine: &Rc<Engine>) -> Result<(), Failure> {
    second_writer_refused(env).await?;
    if env.shared.borrow().config.arena.arena().measures_capacity() {
        capacity::measure(env, engine).await?;
    }
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
    metrics::check(env, engine).await?;
    Ok(())
}
