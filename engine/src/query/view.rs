//! Materialised views: each subject+predicate's candidates (every lifecycle, with their counted
//! votes) as read by one slow path, stamped with the clock's wall time taken before the read.
//!
//! A view holds a read, not a winner, so one view serves every lens and lifecycle filter: its
//! read covers every lens and lifecycle (`load::Cover`), and each answer computed from it is
//! kept for the next hit (`ranking.rs`). Stamping before the read makes `materialized_at` a
//! lower bound of the data's freshness, so the age a query computes never understates it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::ranking::Answers;

/// Views kept at most; beyond it the least recently materialised view is dropped, so a workload
/// touching many subjects cannot grow the cache without bound.
pub(super) const VIEWS_MAX: usize = 4_096;

/// One materialised subject+predicate.
#[derive(Clone, Debug)]
pub(super) struct View {
    /// Clock wall time (ms) taken just before the read that produced `candidates`.
    pub(super) materialized_at: u64,
    /// Orders reads by when they started, whatever the wall clock said: a slow read that started
    /// earlier must not replace a view from a read that started later.
    pub(super) generation: u64,
    /// The read, and the answers computed from it so far.
    pub(super) answers: Arc<Answers>,
}

/// What a lookup found.
pub(super) enum Lookup {
    /// A view young enough to answer.
    Fresh(View),
    /// A view older than the bound.
    Stale,
    /// A view dated after the clock's now (the clock went backwards or is skewed): its age is
    /// unknown, so it is never fresh.
    FutureDated,
    /// No view for this subject+predicate.
    Missing,
}

/// The engine's views, keyed by (subject, predicate).
#[derive(Debug, Default)]
pub(super) struct Views {
    views: Mutex<BTreeMap<(String, String), View>>,
    next_generation: AtomicU64,
}

impl Views {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<(String, String), View>> {
        // Updates never panic half-way, so a poisoned map is still consistent: keep using it.
        self.views.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The generation for a read that starts now.
    pub(super) fn start_read(&self) -> u64 {
        self.next_generation.fetch_add(1, Ordering::Relaxed)
    }

    /// The view of (`subject`, `predicate`) if `now_ms - materialized_at <= max_stale`.
    pub(super) fn lookup(
        &self,
        subject: &str,
        predicate: &str,
        now_ms: u64,
        max_stale: Duration,
    ) -> Lookup {
        let views = self.lock();
        let Some(view) = views.get(&(subject.to_owned(), predicate.to_owned())) else {
            return Lookup::Missing;
        };
        match now_ms.checked_sub(view.materialized_at) {
            None => Lookup::FutureDated,
            Some(age_ms) if Duration::from_millis(age_ms) <= max_stale => {
                Lookup::Fresh(view.clone())
            }
            Some(_) => Lookup::Stale,
        }
    }

    /// Installs `view` unless a view from a later-started read is already there.
    pub(super) fn install(&self, subject: &str, predicate: &str, view: View) {
        let mut views = self.lock();
        let key = (subject.to_owned(), predicate.to_owned());
        if views
            .get(&key)
            .is_some_and(|v| v.generation > view.generation)
        {
            return;
        }
        if !views.contains_key(&key) && views.len() >= VIEWS_MAX {
            let oldest = views
                .iter()
                .min_by_key(|(_, v)| v.generation)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                views.remove(&oldest);
            }
        }
        views.insert(key, view);
    }

    /// `materialized_at` of the view of (`subject`, `predicate`), if there is one.
    pub(super) fn materialized_at(&self, subject: &str, predicate: &str) -> Option<u64> {
        self.lock()
            .get(&(subject.to_owned(), predicate.to_owned()))
            .map(|v| v.materialized_at)
    }
}
