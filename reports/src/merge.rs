//! Merging shard reports into the report of the whole run.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use crate::error::MergeError;
use crate::names::OPTION_SHARD;
use crate::outcome::ArenaOutcome;
use crate::report::Report;
use crate::shard;

/// Separates run ids of merged reports that had different ones.
const RUN_ID_SEPARATOR: &str = "+";
/// Separates the distinct values of an option that differed between merged reports.
const OPTION_VALUE_SEPARATOR: &str = ",";

impl Report {
    /// Merges shard reports: histograms, counts, probes and capacity phases add exactly,
    /// throughput is recomputed from the summed ops and simulated time, outcomes and
    /// fingerprints are gathered and put in canonical order ([`Report::canonicalize`]), seeds
    /// and arenas are united. The wall section is summed if every report has one, else dropped.
    ///
    /// Reports must come from the same build (tool version, commit, build profile). Run ids:
    /// one if all agree, else the distinct ids sorted and joined with `+`. Options: one value if
    /// all agree; the `shard` option is dropped when the reports are shards `1/n` to `n/n`, each
    /// once (together they are the whole run); otherwise differing values are kept distinct,
    /// sorted, joined with `,`.
    ///
    /// The result does not depend on the order of the inputs, and merging merged shards gives
    /// what merging them all at once does (joined run ids and option values are split again
    /// first), so shard reports merge into exactly the unsharded run's report.
    pub fn merge<'a, I>(reports: I) -> Result<Report, MergeError>
    where
        I: IntoIterator<Item = &'a Report>,
    {
        let reports: Vec<&Report> = reports.into_iter().collect();
        let (first, rest) = reports.split_first().ok_or(MergeError::NoReports)?;
        let mut merged = (*first).clone();
        for report in rest {
            same_build(first, report)?;
            merged.add_contents(report);
        }
        merged.run_id = merge_run_ids(&reports);
        merged.options = merge_options(&reports);
        merged.canonicalize();
        Ok(merged)
    }

    /// Puts the lists whose order only reflects which worker finished first into one order:
    /// outcomes by seed, arena, verdict, message and reproduce line; fingerprints by scope, then
    /// hex; an option's several values (`a,b`) distinct and sorted as merge sorts them. Two
    /// reports of the same runs then serialize identically however they were gathered.
    pub fn canonicalize(&mut self) {
        self.outcomes.sort_by(outcome_order);
        self.fingerprints.sort();
        for (key, value) in &mut self.options {
            let order = if key == OPTION_SHARD {
                shard::order
            } else {
                str::cmp
            };
            let parts: BTreeSet<&str> = value.split(OPTION_VALUE_SEPARATOR).collect();
            let mut parts: Vec<&str> = parts.into_iter().collect();
            parts.sort_by(|a, b| order(a, b));
            *value = parts.join(OPTION_VALUE_SEPARATOR);
        }
    }

    /// Adds everything but run id and options (which need all reports at once).
    fn add_contents(&mut self, report: &Report) {
        self.arenas.extend(report.arenas.iter().cloned());
        self.seeds.union_with(&report.seeds);
        self.outcomes.extend(report.outcomes.iter().cloned());
        for (name, hist) in &report.latencies {
            self.latency_mut(name).merge(hist);
        }
        self.throughput.add(report.throughput);
        for capacity in report.capacity.values() {
            self.add_capacity(capacity);
        }
        self.counts.add(&report.counts);
        for (name, hits) in &report.probes {
            self.add_probe_hits(name, *hits);
        }
        self.fingerprints
            .extend(report.fingerprints.iter().cloned());
        self.wall = match (self.wall, report.wall) {
            (Some(mut ours), Some(theirs)) => {
                ours.add(theirs);
                Some(ours)
            }
            _ => None,
        };
    }
}

/// A total order on outcomes, seed and arena first.
fn outcome_order(a: &ArenaOutcome, b: &ArenaOutcome) -> Ordering {
    (a.seed, &a.arena, a.verdict, &a.message, &a.reproduce).cmp(&(
        b.seed,
        &b.arena,
        b.verdict,
        &b.message,
        &b.reproduce,
    ))
}

fn merge_run_ids(reports: &[&Report]) -> String {
    let ids: Vec<&str> = reports.iter().map(|r| r.run_id.as_str()).collect();
    join_distinct(&ids, RUN_ID_SEPARATOR, str::cmp)
}

fn merge_options(reports: &[&Report]) -> BTreeMap<String, String> {
    let keys: BTreeSet<&String> = reports.iter().flat_map(|r| r.options.keys()).collect();
    let mut merged = BTreeMap::new();
    for key in keys {
        let values: Vec<&str> = reports
            .iter()
            .filter_map(|r| r.options.get(key).map(String::as_str))
            .collect();
        let value = if key == OPTION_SHARD {
            let every_report_is_a_shard = values.len() == reports.len();
            let parts = values.iter().flat_map(|v| v.split(OPTION_VALUE_SEPARATOR));
            if every_report_is_a_shard && shard::is_whole_sweep(parts) {
                continue;
            }
            join_distinct(&values, OPTION_VALUE_SEPARATOR, shard::order)
        } else {
            join_distinct(&values, OPTION_VALUE_SEPARATOR, str::cmp)
        };
        merged.insert(key.clone(), value);
    }
    merged
}

/// One value if all agree (kept whole, separators and all); otherwise every value split at
/// `separator` (so an earlier merge's join comes apart again), deduplicated, sorted by `order`
/// and joined.
fn join_distinct(values: &[&str], separator: &str, order: fn(&str, &str) -> Ordering) -> String {
    let distinct: BTreeSet<&str> = values.iter().copied().collect();
    if distinct.len() <= 1 {
        return distinct.into_iter().next().unwrap_or_default().to_owned();
    }
    let parts: BTreeSet<&str> = distinct.iter().flat_map(|v| v.split(separator)).collect();
    let mut parts: Vec<&str> = parts.into_iter().collect();
    parts.sort_by(|a, b| order(a, b));
    parts.join(separator)
}

fn same_build(first: &Report, other: &Report) -> Result<(), MergeError> {
    for (field, a, b) in [
        ("tool_version", &first.tool_version, &other.tool_version),
        ("commit", &first.commit, &other.commit),
        ("build_profile", &first.build_profile, &other.build_profile),
    ] {
        if a != b {
            return Err(MergeError::Mismatch {
                field,
                first: a.clone(),
                other: b.clone(),
            });
        }
    }
    Ok(())
}
