//! Judging closed-loop capacity, one writer count at a time: ops per simulated second may not
//! fall, acknowledgement latency may not rise, by more than the thresholds.

use std::collections::BTreeSet;

use super::judge::{compare_histograms, judge};
use super::{MetricComparison, MetricKind, MetricStatus, Thresholds};
use crate::capacity::Capacity;
use crate::report::Report;

/// Appends `capacity.writers_<n>.ops_per_sim_s` and `capacity.writers_<n>.ack.<percentile>`
/// for every writer count in either report, ascending.
pub(super) fn compare_capacity(
    current: &Report,
    baseline: &Report,
    thresholds: &Thresholds,
    out: &mut Vec<MetricComparison>,
) {
    let writers: BTreeSet<u32> = current
        .capacity
        .keys()
        .chain(baseline.capacity.keys())
        .copied()
        .collect();
    for n in writers {
        let (cur, base) = (current.capacity.get(&n), baseline.capacity.get(&n));
        let prefix = format!("capacity.writers_{n}");
        out.push(compare_rate(&prefix, cur, base, thresholds));
        compare_histograms(
            &format!("{prefix}.ack"),
            cur.map(|c| &c.ack_latency_us),
            base.map(|c| &c.ack_latency_us),
            thresholds,
            out,
        );
    }
}

fn compare_rate(
    prefix: &str,
    current: Option<&Capacity>,
    baseline: Option<&Capacity>,
    thresholds: &Thresholds,
) -> MetricComparison {
    let status_override = match (baseline, current) {
        (Some(_), None) => Some(MetricStatus::OnlyInBaseline),
        (None, Some(_)) => Some(MetricStatus::OnlyInCurrent),
        (Some(b), Some(c)) if b.sim_us == 0 || c.sim_us == 0 => Some(MetricStatus::NotComparable),
        _ => None,
    };
    judge(
        format!("{prefix}.ops_per_sim_s"),
        MetricKind::OpsPerSimS,
        baseline.map(Capacity::ops_per_sim_s),
        current.map(Capacity::ops_per_sim_s),
        thresholds.throughput_decrease_pct,
        status_override,
    )
}
