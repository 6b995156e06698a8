//! The audit trail: one record per answered query, true to the answer, never overwritten.
//!
//! Must hold in every arena, crashes or not:
//! - continuity: a process gives its queries audit sequence numbers above every one already
//!   stored when it started (a restart that counts from 0 again overwrites history);
//! - within one process no two answers share a sequence number;
//! - every stored audit record is the one the latest query answered under its sequence number
//!   said: same wall time, subject, predicate, lens, lifecycle set, staleness bound, view use,
//!   rule, candidate count and winner.
//!   A sequence number is only ever reused after its record was lost, so an older answer can
//!   never be what is stored. A record no answer names must record an error (a query that failed
//!   is audited too, and its caller never learns the sequence number); so may one under the
//!   number of an answer of an earlier boot, when a later boot started with that number free.
//!
//! A crash may lose audit records not yet flushed: losing one is not a violation here (the
//! arenas without crashes check the count exactly).

use std::collections::BTreeMap;

use stemedb::lens::{LensKind, Rule};
use stemedb::model::{Hash32, Lifecycle};

use crate::oracle::spec::Audit;

/// What the harness saw of one answered query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answered {
    pub boot: u32,
    pub audit_seq: u64,
    pub wall_ms: u64,
    pub subject: String,
    pub predicate: Option<String>,
    pub lens: LensKind,
    /// The lifecycles the query asked for, as listed (repeats allowed).
    pub lifecycles: Vec<Lifecycle>,
    pub max_stale_ms: Option<u64>,
    pub used_view: bool,
    pub rule: Rule,
    pub candidates: u64,
    pub winner: Option<Hash32>,
}

/// `floors`: per boot, the highest audit sequence number stored when it started.
/// `stored`: the audit records in the store at the end, by sequence number.
pub fn check(
    answered: &[Answered],
    floors: &BTreeMap<u32, Option<u64>>,
    stored: &BTreeMap<u64, Audit>,
) -> Result<(), String> {
    let mut latest: BTreeMap<u64, &Answered> = BTreeMap::new();
    let mut in_boot: BTreeMap<(u32, u64), &Answered> = BTreeMap::new();
    for a in answered {
        if let Some(Some(floor)) = floors.get(&a.boot) {
            if a.audit_seq <= *floor {
                return Err(format!(
                    "boot {} audited a query under sequence number {}, but {floor} was already stored when it started: audit history overwritten",
                    a.boot, a.audit_seq
                ));
            }
        }
        if let Some(first) = in_boot.insert((a.boot, a.audit_seq), a) {
            return Err(format!(
                "boot {} audited two queries under sequence number {} ({:?} and {:?})",
                a.boot, a.audit_seq, first.subject, a.subject
            ));
        }
        let slot = latest.entry(a.audit_seq).or_insert(a);
        if a.boot >= slot.boot {
            *slot = a;
        }
    }
    for (&seq, record) in stored {
        let Some(a) = latest.get(&seq) else {
            if record.error.is_none() {
                return Err(format!(
                    "the audit record at sequence number {seq} ({:?}, winner {:?}) belongs to no answered query and records no error",
                    record.subject, record.winner
                ));
            }
            continue;
        };
        // A failed query is audited too, under a number its caller never learns. It may reuse
        // the number of an answer whose record a crash took: only a later process can (one
        // process never gives two queries one number), one that started with that number free.
        let reusable_by_later_boot = floors
            .range(a.boot + 1..)
            .any(|(_, floor)| floor.is_none_or(|f| f < seq));
        if record.error.is_some() && reusable_by_later_boot {
            continue;
        }
        // The filter as a set of members: `oracle::spec::audit` reads the stored bits as the
        // design lays them out, not through the engine's decoder.
        let asked: Vec<Lifecycle> = Lifecycle::ALL
            .into_iter()
            .filter(|l| a.lifecycles.contains(l))
            .collect();
        let stored_set = record.lifecycles.clone();
        let expected = (
            a.wall_ms,
            &a.subject,
            &a.predicate,
            a.lens,
            asked,
            a.max_stale_ms,
            a.used_view,
            Some(a.rule),
            a.candidates,
            a.winner,
            None,
        );
        let got = (
            record.wall_ms,
            &record.subject,
            &record.predicate,
            record.lens,
            stored_set,
            record.max_stale_ms,
            record.used_view,
            record.rule,
            record.candidates,
            record.winner,
            record.error.as_deref(),
        );
        if expected != got {
            return Err(format!(
                "the audit record at sequence number {seq} is {got:?}, but the query of boot {} answered under it was {expected:?}",
                a.boot
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered(boot: u32, seq: u64, subject: &str) -> Answered {
        Answered {
            boot,
            audit_seq: seq,
            wall_ms: 1_000 + seq,
            subject: subject.to_owned(),
            predicate: None,
            lens: LensKind::Recency,
            lifecycles: vec![Lifecycle::Active],
            max_stale_ms: None,
            used_view: false,
            rule: Rule::NoCandidates,
            candidates: 0,
            winner: None,
        }
    }

    fn record(a: &Answered) -> Audit {
        Audit {
            wall_ms: a.wall_ms,
            subject: a.subject.clone(),
            predicate: a.predicate.clone(),
            lens: a.lens,
            lifecycles: vec![Lifecycle::Active],
            max_stale_ms: a.max_stale_ms,
            used_view: a.used_view,
            rule: Some(a.rule),
            candidates: a.candidates,
            winner: a.winner,
            error: None,
        }
    }

    #[test]
    fn a_reused_sequence_number_must_hold_the_latest_answer_and_lie_above_the_floor() {
        let a = answered(1, 0, "a");
        let b = answered(1, 1, "b");
        // Boot 1's seq 1 was lost in a crash; boot 2 started with 0 stored and reused 1.
        let c = answered(2, 1, "c");
        let floors = BTreeMap::from([(1, None), (2, Some(0))]);
        let all = [a.clone(), b.clone(), c.clone()];
        let stored = BTreeMap::from([(0, record(&a)), (1, record(&c))]);
        assert_eq!(check(&all, &floors, &stored), Ok(()));
        // The older answer under a reused number cannot be what is stored.
        let stale = BTreeMap::from([(0, record(&a)), (1, record(&b))]);
        assert!(check(&all, &floors, &stale).is_err());
        // A restart that counts from 0 again overwrites history.
        let restarted = [a.clone(), answered(2, 0, "d")];
        let err = check(&restarted, &floors, &BTreeMap::new()).unwrap_err();
        assert!(err.contains("overwritten"), "{err}");
        // Lost records are allowed; invented ones are not, unless they record an error.
        assert_eq!(check(&all, &floors, &BTreeMap::new()), Ok(()));
        let mut invented = record(&answered(2, 9, "x"));
        let inventions = BTreeMap::from([(9, invented.clone())]);
        assert!(check(&all, &floors, &inventions).is_err());
        invented.error = Some("query failed".to_owned());
        assert_eq!(
            check(&all, &floors, &BTreeMap::from([(9, invented)])),
            Ok(())
        );
    }

    #[test]
    fn a_failed_query_of_a_later_boot_may_reuse_a_lost_answer_s_number() {
        let a = answered(1, 4, "a");
        let mut failed = record(&answered(2, 4, "failed"));
        failed.error = Some("kv store is corrupt".to_owned());
        let stored = BTreeMap::from([(4, failed)]);
        // Boot 2 started with 3 stored: number 4 was free (boot 1's record of it was lost).
        let free = BTreeMap::from([(1, None), (2, Some(3))]);
        assert_eq!(check(std::slice::from_ref(&a), &free, &stored), Ok(()));
        // Boot 2 started with 4 stored: it could not have written 4 again.
        let taken = BTreeMap::from([(1, None), (2, Some(4))]);
        assert!(check(std::slice::from_ref(&a), &taken, &stored).is_err());
        // No later boot at all: the error record contradicts the answer.
        let alone = BTreeMap::from([(1, None)]);
        assert!(check(&[a], &alone, &stored).is_err());
    }

    #[test]
    fn one_process_never_gives_two_answers_one_number() {
        let twice = [answered(1, 3, "a"), answered(1, 3, "b")];
        assert!(check(&twice, &BTreeMap::new(), &BTreeMap::new()).is_err());
    }
}
