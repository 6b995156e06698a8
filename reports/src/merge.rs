//! Merging shard reports into the report of the whole run.

use std::collections::BTreeMap;

use crate::error::MergeError;
use crate::report::Report;

/// Separates run ids of merged reports that had different ones.
const RUN_ID_SEPARATOR: &str = "+";
/// Separates the distinct values of an option that differed between merged reports (e.g. each
/// shard's `shard` option).
const OPTION_VALUE_SEPARATOR: &str = ",";

impl Report {
    /// Merges shard reports: histograms and counts add exactly, throughput is recomputed from the
    /// summed ops and simulated time, outcomes and fingerprints are concatenated in input order,
    /// seeds and arenas are united. The wall section is summed if every report has one, else
    /// dropped.
    ///
    /// Reports must come from the same build (tool version, commit, build profile). Differing run
    /// ids are joined with `+`; an option whose value differs keeps each distinct value, in input
    /// order, joined with `,`.
    pub fn merge<'a, I>(reports: I) -> Result<Report, MergeError>
    where
        I: IntoIterator<Item = &'a Report>,
    {
        let mut reports = reports.into_iter();
        let first = reports.next().ok_or(MergeError::NoReports)?;
        let mut merged = first.clone();
        let mut run_ids = vec![first.run_id.clone()];
        let mut option_values: BTreeMap<String, Vec<String>> = first
            .options
            .iter()
            .map(|(key, value)| (key.clone(), vec![value.clone()]))
            .collect();

        for report in reports {
            same_build(first, report)?;
            if !run_ids.contains(&report.run_id) {
                run_ids.push(report.run_id.clone());
            }
            for (key, value) in &report.options {
                let values = option_values.entry(key.clone()).or_default();
                if !values.contains(value) {
                    values.push(value.clone());
                }
            }
            merged.arenas.extend(report.arenas.iter().cloned());
            merged.seeds.union_with(&report.seeds);
            merged.outcomes.extend(report.outcomes.iter().cloned());
            for (name, hist) in &report.latencies {
                merged.latency_mut(name).merge(hist);
            }
            merged.throughput.add(report.throughput);
            merged.counts.add(&report.counts);
            merged
                .fingerprints
                .extend(report.fingerprints.iter().cloned());
            merged.wall = match (merged.wall, report.wall) {
                (Some(mut ours), Some(theirs)) => {
                    ours.add(theirs);
                    Some(ours)
                }
                _ => None,
            };
        }

        merged.run_id = run_ids.join(RUN_ID_SEPARATOR);
        merged.options = option_values
            .into_iter()
            .map(|(key, values)| (key, values.join(OPTION_VALUE_SEPARATOR)))
            .collect();
        Ok(merged)
    }
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
