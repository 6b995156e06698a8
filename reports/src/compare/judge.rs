//! Building a [`Comparison`]: which metrics are compared and how each is judged.

use std::collections::BTreeSet;

use super::capacity::compare_capacity;
use super::{
    Comparison, MetricComparison, MetricKind, MetricStatus, OutcomeComparison, Thresholds,
};
use crate::histogram::LatencyHistogram;
use crate::names::ordered_names;
use crate::report::Report;
use crate::summary::LatencySummary;

/// Compares `current` against `baseline` under `thresholds`.
pub fn compare(current: &Report, baseline: &Report, thresholds: &Thresholds) -> Comparison {
    let mut metrics = Vec::new();
    let names: BTreeSet<&String> = current
        .latencies
        .keys()
        .chain(baseline.latencies.keys())
        .collect();
    for name in ordered_names(names) {
        compare_latency(name, current, baseline, thresholds, &mut metrics);
    }
    metrics.push(compare_throughput(current, baseline, thresholds));
    compare_capacity(current, baseline, thresholds, &mut metrics);
    Comparison {
        thresholds: *thresholds,
        outcome: OutcomeComparison {
            baseline: baseline.verdict(),
            current: current.verdict(),
        },
        metrics,
        notes: notes(current, baseline),
    }
}

fn compare_latency(
    name: &str,
    current: &Report,
    baseline: &Report,
    thresholds: &Thresholds,
    out: &mut Vec<MetricComparison>,
) {
    compare_histograms(
        &format!("latency.{name}"),
        current.latency(name),
        baseline.latency(name),
        thresholds,
        out,
    );
}

/// Judges p50 to p99.9 of one latency distribution, as metrics `<prefix>.p50` and so on.
pub(super) fn compare_histograms(
    prefix: &str,
    current: Option<&LatencyHistogram>,
    baseline: Option<&LatencyHistogram>,
    thresholds: &Thresholds,
    out: &mut Vec<MetricComparison>,
) {
    type Pick = fn(&LatencySummary) -> u64;
    let percentiles: [(&str, f64, Pick); 4] = [
        ("p50", thresholds.latency_p50_increase_pct, |s| s.p50_us),
        ("p90", thresholds.latency_p90_increase_pct, |s| s.p90_us),
        ("p99", thresholds.latency_p99_increase_pct, |s| s.p99_us),
        ("p99.9", thresholds.latency_p999_increase_pct, |s| s.p999_us),
    ];
    let cur = current.map(LatencyHistogram::summary);
    let base = baseline.map(LatencyHistogram::summary);
    for (label, limit_pct, pick) in percentiles {
        let metric = format!("{prefix}.{label}");
        let (baseline_v, current_v) = (
            base.as_ref().map(|s| pick(s) as f64),
            cur.as_ref().map(|s| pick(s) as f64),
        );
        let status_override = match (&base, &cur) {
            (Some(_), None) => Some(MetricStatus::OnlyInBaseline),
            (None, Some(_)) => Some(MetricStatus::OnlyInCurrent),
            (Some(b), Some(c))
                if b.count < thresholds.min_samples || c.count < thresholds.min_samples =>
            {
                Some(MetricStatus::NotComparable)
            }
            _ => None,
        };
        out.push(judge(
            metric,
            MetricKind::LatencyUs,
            baseline_v,
            current_v,
            limit_pct,
            status_override,
        ));
    }
}

/// Ops per busy simulated second when both reports measured busy time (quiet gaps in the
/// workload would otherwise pass for a throughput change), else ops per simulated second.
fn compare_throughput(
    current: &Report,
    baseline: &Report,
    thresholds: &Thresholds,
) -> MetricComparison {
    let (cur, base) = (current.throughput, baseline.throughput);
    if cur.has_busy() && base.has_busy() {
        return judge(
            "throughput.ops_per_busy_sim_s".to_owned(),
            MetricKind::OpsPerSimS,
            Some(base.ops_per_busy_sim_s()),
            Some(cur.ops_per_busy_sim_s()),
            thresholds.throughput_decrease_pct,
            None,
        );
    }
    let no_time = cur.sim_duration_us() == 0 || base.sim_duration_us() == 0;
    judge(
        "throughput.ops_per_sim_s".to_owned(),
        MetricKind::OpsPerSimS,
        Some(base.ops_per_sim_s()),
        Some(cur.ops_per_sim_s()),
        thresholds.throughput_decrease_pct,
        no_time.then_some(MetricStatus::NotComparable),
    )
}

pub(super) fn judge(
    metric: String,
    kind: MetricKind,
    baseline: Option<f64>,
    current: Option<f64>,
    limit_pct: f64,
    status_override: Option<MetricStatus>,
) -> MetricComparison {
    let change_pct = match (baseline, current) {
        (Some(b), Some(c)) if b > 0.0 => Some((c - b) / b * 100.0),
        _ => None,
    };
    let status = status_override.unwrap_or(match change_pct {
        None => MetricStatus::NotComparable,
        Some(change) => {
            // Positive `worse` means the metric moved in the bad direction.
            let worse = match kind {
                MetricKind::LatencyUs => change,
                MetricKind::OpsPerSimS => -change,
            };
            if worse > limit_pct {
                MetricStatus::Regressed
            } else if -worse > limit_pct {
                MetricStatus::Improved
            } else {
                MetricStatus::Unchanged
            }
        }
    });
    MetricComparison {
        metric,
        kind,
        baseline,
        current,
        change_pct,
        limit_pct,
        status,
    }
}

fn notes(current: &Report, baseline: &Report) -> Vec<String> {
    let mut notes = Vec::new();
    if current.seeds != baseline.seeds {
        notes.push(format!(
            "seed sets differ: baseline {}, current {}",
            baseline.seeds, current.seeds
        ));
    }
    if current.arenas != baseline.arenas {
        notes.push("arenas differ".to_owned());
    }
    let keys: BTreeSet<&String> = current
        .options
        .keys()
        .chain(baseline.options.keys())
        .collect();
    for key in keys {
        let (b, c) = (baseline.options.get(key), current.options.get(key));
        if b != c {
            notes.push(format!(
                "option {key} differs: baseline {}, current {}",
                b.map(String::as_str).unwrap_or("(unset)"),
                c.map(String::as_str).unwrap_or("(unset)")
            ));
        }
    }
    match (
        baseline.throughput.has_busy(),
        current.throughput.has_busy(),
    ) {
        (true, false) => notes.push(
            "busy time measured only in the baseline: compared ops per simulated second".to_owned(),
        ),
        (false, true) => notes.push(
            "busy time measured only in the current report: compared ops per simulated second"
                .to_owned(),
        ),
        _ => {}
    }
    if current.build_profile != baseline.build_profile {
        notes.push(format!(
            "build profiles differ: baseline {}, current {}",
            baseline.build_profile, current.build_profile
        ));
    }
    notes
}
