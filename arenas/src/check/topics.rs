//! Voting's end check: where the honest side outweighs the trolls, the consensus query names the
//! honest claim.

use std::rc::Rc;

use stemedb::io::Clock;
use stemedb::model::Hash32;
use stemedb::Engine;

use super::queries::{query_of, QueryCheck};
use crate::env::Env;
use crate::metrics::OpKind;
use crate::oracle::ingest;
use crate::oracle::spec;
use crate::outcome::Failure;
use crate::workload::QuerySpec;

/// Voting: trolls whose counted weight is below the honest side's never win a topic. (The
/// counted weights were already checked against the replay of the log.)
pub async fn check(env: &Env, engine: &Rc<Engine>) -> Result<(), Failure> {
    let topics = env.shared.borrow().workload.topics.clone();
    let queries = engine.query_engine();
    let kv = env.kv.live_snapshot();
    let weight = |h: &Hash32| {
        kv.get(&spec::vote_weight_key(h))
            .map_or(stemedb::model::WeightSum::ZERO, |v| ingest::be_sum(v))
    };
    for topic in topics {
        if weight(&topic.honest) <= weight(&topic.troll) {
            // The run ended before the honest side outweighed the trolls: nothing to defend.
            continue;
        }
        if !kv.contains_key(&spec::assertion_key(&topic.honest)) {
            // The honest claim never reached the log (its client gave up, or its submit failed
            // under faults): votes for it count, but there is no claim to win. The replay check
            // before this one already holds the store to the log, so it was not lost.
            continue;
        }
        let spec = QuerySpec {
            subject: topic.subject.clone(),
            predicate: Some(topic.predicate.clone()),
            consensus: true,
            max_stale_ms: None,
            lifecycles: QuerySpec::active_only(),
            materialize_first: false,
        };
        let wall_ms = env.clock.wall_ms();
        let began = env.shared.borrow_mut().query_began();
        let r = queries
            .query(&query_of(&spec))
            .await
            .map_err(|e| Failure::Safety(format!("the final consensus query failed: {e}")))?;
        let winner = r.winner.as_ref().map(|c| c.hash);
        {
            let mut s = env.shared.borrow_mut();
            s.metrics.op(OpKind::Query);
            // Audited like every other answer (`oracle::audit`); the lens check ran already.
            let (cursor, boot) = (engine.ingest_cursor(), s.boots);
            s.record_query(QueryCheck::answered(
                spec,
                &r,
                (cursor, cursor),
                wall_ms,
                boot,
                began,
            ));
        }
        if winner != Some(topic.honest) {
            return Err(Failure::Safety(format!(
                "trolls whose total weight is below the honest side's flipped topic {}: winner {:?}, honest {}",
                topic.subject, winner, topic.honest
            )));
        }
    }
    Ok(())
}
