//! Answers from one read: the ranking of a lens under a lifecycle filter, computed at most once
//! per read and shared by every answer that asks for it.
//!
//! A view is one read held for later queries, and a hit used to filter, sort and copy every
//! candidate again: a fifth of a full store read for an answer that cannot have changed. An
//! answer is a function of (read, lens, filter), so each one is kept the first time it is asked
//! for ([`Answers::ranking`]) and a hit shares it (`Arc`): O(1) whatever the candidate count.
//! There are at most `LensKind::ALL.len()` x 2^`Lifecycle::ALL.len()` keys (32), so the memo is
//! bounded by the types; each entry holds only the standings its filter admits.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use super::load::Read;
use super::LifecycleFilter;
use crate::lens::{explain_pair, Candidate, LensKind, Rule, Standing};

/// One answer's worth of lens output.
#[derive(Debug)]
pub(super) struct Ranking {
    /// Every candidate the filter admits, best first.
    pub(super) candidates: Arc<[Standing]>,
    /// The first of `candidates`, in full.
    pub(super) winner: Option<Candidate>,
    /// The rule that separated the winner from the runner-up.
    pub(super) rule: Rule,
    /// Why the winner won (the explanation without where the data came from).
    pub(super) why: String,
}

/// One read and the rankings computed from it so far.
#[derive(Debug)]
pub(super) struct Answers {
    read: Read,
    rankings: Mutex<BTreeMap<(LensKind, LifecycleFilter), Arc<Ranking>>>,
}

impl Answers {
    pub(super) fn new(read: Read) -> Answers {
        Answers {
            read,
            rankings: Mutex::new(BTreeMap::new()),
        }
    }

    /// The ranking of `lens` under `filter`, computed on first use. `lens` and `filter` must lie
    /// within the cover the read was made for (`load::Cover`), so its winner was read in full.
    pub(super) fn ranking(&self, lens: LensKind, filter: LifecycleFilter) -> Arc<Ranking> {
        let key = (lens, filter);
        if let Some(hit) = self.lock().get(&key) {
            return Arc::clone(hit);
        }
        // Ranked outside the lock: concurrent first uses may both rank, and keep the first
        // result; both are the same function of the read, so which one is kept cannot matter.
        let ranked = Arc::new(rank(&self.read, lens, filter));
        Arc::clone(self.lock().entry(key).or_insert(ranked))
    }

    /// How many candidates the read holds (any lifecycle).
    pub(super) fn len(&self) -> usize {
        self.read.standings.len()
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, BTreeMap<(LensKind, LifecycleFilter), Arc<Ranking>>> {
        // Inserts never panic half-way, so a poisoned map is still consistent: keep using it.
        self.rankings.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn rank(read: &Read, kind: LensKind, filter: LifecycleFilter) -> Ranking {
    let lens = kind.lens();
    let mut matched: Vec<Standing> = read
        .standings
        .iter()
        .filter(|s| filter.contains(s.lifecycle))
        .copied()
        .collect();
    lens.rank_standings(&mut matched);
    let (first, second) = (matched.first(), matched.get(1));
    let rule = match (first, second) {
        (None, _) => Rule::NoCandidates,
        (Some(_), None) => Rule::OnlyCandidate,
        (Some(w), Some(r)) => lens.compare_standings(w, r).1,
    };
    let why = explain_pair(kind, rule, first, second, matched.len());
    let winner = first.and_then(|w| read.full.get(&w.hash)).cloned();
    debug_assert_eq!(
        winner.as_ref().map(|w| w.hash),
        first.map(|w| w.hash),
        "the read's cover holds every winner it can be asked for"
    );
    Ranking {
        candidates: matched.into(),
        winner,
        rule,
        why,
    }
}
