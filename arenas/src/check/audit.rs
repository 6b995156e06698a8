//! The audit trail at the end: what the store holds and what the audit API lists, against the
//! answers given (`oracle::audit`).

use std::collections::BTreeMap;

use stemedb::Engine;

use super::queries::lens_of;
use crate::env::Env;
use crate::metrics::OpKind;
use crate::oracle::spec;
use crate::outcome::Failure;

/// The audit records in the store, read as the design lays them out.
pub(crate) fn stored_audits(env: &Env) -> Result<BTreeMap<u64, spec::Audit>, Failure> {
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
pub(crate) async fn check_audit_api(env: &Env, engine: &Engine) -> Result<(), Failure> {
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

pub(crate) fn check_audit(env: &Env) -> Result<(), Failure> {
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
