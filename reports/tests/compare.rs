//! Baseline comparison flags real regressions and ignores noise.

mod common;

use stemedb_reports::names::{LATENCY_APPEND_ACK, LATENCY_FSYNC};
use stemedb_reports::{
    compare, ArenaOutcome, MetricStatus, Report, SeedSet, Thresholds, Throughput, Verdict,
};

/// 10,000 append latencies, 1000..1999 us ten times each; values from 1980 up (the top 2%) are
/// scaled by `tail_factor`, which moves p99 and p99.9 but not p50 or p90.
fn report_with_tail(tail_factor: f64, ops: u64) -> Report {
    let mut report = common::empty_report("r");
    report.seeds = SeedSet::range(0..=99);
    for i in 0..10_000u64 {
        let us = 1_000 + i % 1_000;
        let us = if us >= 1_980 {
            (us as f64 * tail_factor).round() as u64
        } else {
            us
        };
        report.record_latency(LATENCY_APPEND_ACK, us);
    }
    report.throughput = Throughput::new(ops, 1_000_000);
    report
}

fn status(c: &stemedb_reports::Comparison, metric: &str) -> MetricStatus {
    c.metric(metric)
        .unwrap_or_else(|| panic!("no metric {metric}"))
        .status
}

#[test]
fn planted_50_percent_p99_regression_is_flagged() {
    let baseline = report_with_tail(1.0, 1_000);
    let current = report_with_tail(1.5, 1_000);
    let c = compare(&current, &baseline, &Thresholds::default());
    assert!(c.is_regression());
    let p99 = c.metric("latency.append_ack.p99").unwrap();
    assert_eq!(p99.status, MetricStatus::Regressed);
    let change = p99.change_pct.unwrap();
    assert!((change - 50.0).abs() < 0.5, "change {change}");
    assert_eq!(
        status(&c, "latency.append_ack.p50"),
        MetricStatus::Unchanged
    );
    assert_eq!(
        status(&c, "latency.append_ack.p90"),
        MetricStatus::Unchanged
    );
    assert_eq!(
        status(&c, "throughput.ops_per_sim_s"),
        MetricStatus::Unchanged
    );
    let regressed: Vec<&str> = c.regressions().map(|m| m.metric.as_str()).collect();
    assert_eq!(
        regressed,
        ["latency.append_ack.p99", "latency.append_ack.p99.9"]
    );

    let text = c.render_text();
    assert!(
        text.starts_with(
            "baseline comparison: REGRESSION: 2 metric(s) regressed; outcome pass -> pass\n"
        ),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("  latency.append_ack.p99 ")
                && l.contains("1.99ms   2.98ms  +50.1%")
                && l.ends_with("REGRESSED")),
        "{text}"
    );
    let md = c.render_markdown();
    assert!(md.contains("**REGRESSION: 2 metric(s) regressed"), "{md}");
}

#[test]
fn one_percent_p99_change_is_not_flagged() {
    let baseline = report_with_tail(1.0, 1_000);
    let current = report_with_tail(1.01, 1_000);
    let c = compare(&current, &baseline, &Thresholds::default());
    let p99 = c.metric("latency.append_ack.p99").unwrap();
    assert!(
        p99.change_pct.unwrap() > 0.5 && p99.change_pct.unwrap() < 1.5,
        "{p99:?}"
    );
    assert_eq!(p99.status, MetricStatus::Unchanged);
    assert!(!c.is_regression(), "{}", c.render_text());
    assert!(c
        .render_text()
        .starts_with("baseline comparison: no regression"));
}

#[test]
fn a_tighter_threshold_catches_the_small_change() {
    let baseline = report_with_tail(1.0, 1_000);
    let current = report_with_tail(1.05, 1_000);
    let tight = Thresholds {
        latency_p99_increase_pct: 2.0,
        ..Thresholds::default()
    };
    assert!(!compare(&current, &baseline, &Thresholds::default()).is_regression());
    assert!(compare(&current, &baseline, &tight).is_regression());
}

#[test]
fn throughput_drop_beyond_threshold_is_flagged() {
    let baseline = report_with_tail(1.0, 1_000);
    let c = compare(
        &report_with_tail(1.0, 800),
        &baseline,
        &Thresholds::default(),
    );
    let t = c.metric("throughput.ops_per_sim_s").unwrap();
    assert_eq!(t.status, MetricStatus::Regressed);
    assert_eq!(t.change_pct, Some(-20.0));
    assert!(c.is_regression());

    let c = compare(
        &report_with_tail(1.0, 950),
        &baseline,
        &Thresholds::default(),
    );
    assert_eq!(
        status(&c, "throughput.ops_per_sim_s"),
        MetricStatus::Unchanged
    );
    let c = compare(
        &report_with_tail(1.0, 1_200),
        &baseline,
        &Thresholds::default(),
    );
    assert_eq!(
        status(&c, "throughput.ops_per_sim_s"),
        MetricStatus::Improved
    );
    assert!(!c.is_regression());
}

#[test]
fn latency_improvement_is_not_a_regression() {
    let c = compare(
        &report_with_tail(1.0, 1_000),
        &report_with_tail(1.5, 1_000),
        &Thresholds::default(),
    );
    assert_eq!(status(&c, "latency.append_ack.p99"), MetricStatus::Improved);
    assert!(!c.is_regression());
}

#[test]
fn too_few_samples_are_not_compared() {
    let mut baseline = common::empty_report("r");
    let mut current = common::empty_report("r");
    for i in 0..10u64 {
        baseline.record_latency(LATENCY_FSYNC, 100 + i);
        current.record_latency(LATENCY_FSYNC, 1_000 + i);
    }
    let c = compare(&current, &baseline, &Thresholds::default());
    assert_eq!(status(&c, "latency.fsync.p99"), MetricStatus::NotComparable);
    assert_eq!(
        status(&c, "throughput.ops_per_sim_s"),
        MetricStatus::NotComparable
    );
    assert!(!c.is_regression());
    let loose = Thresholds {
        min_samples: 1,
        ..Thresholds::default()
    };
    assert_eq!(
        status(&compare(&current, &baseline, &loose), "latency.fsync.p99"),
        MetricStatus::Regressed
    );
}

#[test]
fn metrics_on_one_side_only_are_reported_not_flagged() {
    let mut baseline = report_with_tail(1.0, 1_000);
    baseline.record_latency(LATENCY_FSYNC, 10);
    let mut current = report_with_tail(1.0, 1_000);
    current.record_latency("compaction", 10);
    let c = compare(&current, &baseline, &Thresholds::default());
    assert_eq!(
        status(&c, "latency.fsync.p50"),
        MetricStatus::OnlyInBaseline
    );
    assert_eq!(
        status(&c, "latency.compaction.p50"),
        MetricStatus::OnlyInCurrent
    );
    assert!(!c.is_regression());
}

#[test]
fn new_failure_is_a_regression_and_differences_are_noted() {
    let baseline = report_with_tail(1.0, 1_000);
    let mut current = report_with_tail(1.0, 1_000);
    current.seeds = SeedSet::range(0..=199);
    current
        .options
        .insert("faults".to_owned(), "heavy".to_owned());
    current.add_outcome(ArenaOutcome {
        arena: "wal".to_owned(),
        seed: Some(3),
        verdict: Verdict::NonDeterminism,
        message: "fingerprints differ".to_owned(),
        reproduce: common::reproduce_line("wal", 3),
    });
    let c = compare(&current, &baseline, &Thresholds::default());
    assert_eq!(c.regressions().count(), 0);
    assert!(c.outcome.is_regression());
    assert!(c.is_regression());
    assert_eq!(
        c.notes,
        [
            "seed sets differ: baseline 0..=99, current 0..=199",
            "arenas differ",
            "option faults differs: baseline (unset), current heavy",
        ]
    );
    // The same failure in both is not a new regression.
    assert!(!compare(&current, &current, &Thresholds::default()).is_regression());
}
