//! Baseline comparison of closed-loop capacity and of busy throughput.

mod common;

use stemedb_reports::{compare, Capacity, MetricStatus, Report, Thresholds, Throughput};

fn with_capacity(phases: &[(u32, u64, u64)]) -> Report {
    let mut report = common::empty_report("r");
    for &(writers, ops, ack_scale_us) in phases {
        report.add_capacity(&common::capacity(writers, ops, 1, 200, ack_scale_us));
    }
    report
}

fn status(c: &stemedb_reports::Comparison, metric: &str) -> MetricStatus {
    c.metric(metric)
        .unwrap_or_else(|| panic!("no metric {metric} in {}", c.render_text()))
        .status
}

#[test]
fn capacity_drop_at_one_writer_count_is_flagged_there_only() {
    let baseline = with_capacity(&[(1, 1_000, 10), (8, 6_000, 40)]);
    let current = with_capacity(&[(1, 1_000, 10), (8, 4_800, 40)]);
    let c = compare(&current, &baseline, &Thresholds::default());
    assert_eq!(
        status(&c, "capacity.writers_8.ops_per_sim_s"),
        MetricStatus::Regressed
    );
    assert_eq!(
        c.metric("capacity.writers_8.ops_per_sim_s")
            .unwrap()
            .change_pct,
        Some(-20.0)
    );
    assert_eq!(
        status(&c, "capacity.writers_1.ops_per_sim_s"),
        MetricStatus::Unchanged
    );
    assert_eq!(
        status(&c, "capacity.writers_8.ack.p99"),
        MetricStatus::Unchanged
    );
    let regressed: Vec<&str> = c.regressions().map(|m| m.metric.as_str()).collect();
    assert_eq!(regressed, ["capacity.writers_8.ops_per_sim_s"]);
    assert!(c.is_regression());
}

#[test]
fn capacity_ack_latency_rise_is_flagged_and_small_samples_are_not_compared() {
    let baseline = with_capacity(&[(4, 2_000, 20)]);
    let current = with_capacity(&[(4, 2_000, 30)]);
    let c = compare(&current, &baseline, &Thresholds::default());
    for p in ["p50", "p90", "p99", "p99.9"] {
        assert_eq!(
            status(&c, &format!("capacity.writers_4.ack.{p}")),
            MetricStatus::Regressed,
            "{p}"
        );
    }
    let strict = Thresholds {
        min_samples: 201,
        ..Thresholds::default()
    };
    let c = compare(&current, &baseline, &strict);
    assert_eq!(
        status(&c, "capacity.writers_4.ack.p99"),
        MetricStatus::NotComparable
    );
    assert!(!c.is_regression(), "{}", c.render_text());
}

#[test]
fn writer_counts_on_one_side_are_reported_not_flagged() {
    let baseline = with_capacity(&[(1, 1_000, 10), (2, 1_500, 10)]);
    let mut current = with_capacity(&[(1, 1_000, 10), (16, 9_000, 10)]);
    current.add_capacity(&Capacity::new(32));
    let c = compare(&current, &baseline, &Thresholds::default());
    assert_eq!(
        status(&c, "capacity.writers_2.ops_per_sim_s"),
        MetricStatus::OnlyInBaseline
    );
    assert_eq!(
        status(&c, "capacity.writers_16.ack.p50"),
        MetricStatus::OnlyInCurrent
    );
    let order: Vec<&str> = c
        .metrics
        .iter()
        .filter(|m| m.metric.ends_with("ops_per_sim_s") && m.metric.starts_with("capacity"))
        .map(|m| m.metric.as_str())
        .collect();
    assert_eq!(
        order,
        [
            "capacity.writers_1.ops_per_sim_s",
            "capacity.writers_2.ops_per_sim_s",
            "capacity.writers_16.ops_per_sim_s",
            "capacity.writers_32.ops_per_sim_s",
        ],
        "ascending writer counts"
    );
    assert!(!c.is_regression(), "{}", c.render_text());
}

#[test]
fn busy_throughput_is_compared_when_both_reports_have_it() {
    let mut baseline = common::empty_report("r");
    let mut current = common::empty_report("r");
    // Same raw rate; but the current run needed twice the busy time for the same work.
    baseline.throughput = Throughput::new(1_000, 10_000_000).with_busy(1_000_000);
    current.throughput = Throughput::new(1_000, 10_000_000).with_busy(2_000_000);
    let c = compare(&current, &baseline, &Thresholds::default());
    assert_eq!(
        status(&c, "throughput.ops_per_busy_sim_s"),
        MetricStatus::Regressed
    );
    assert!(c.metric("throughput.ops_per_sim_s").is_none());
    assert!(c.notes.is_empty(), "{:?}", c.notes);

    // Quiet gaps doubled (half the raw rate) but busy throughput held: not a regression.
    current.throughput = Throughput::new(1_000, 20_000_000).with_busy(1_000_000);
    let c = compare(&current, &baseline, &Thresholds::default());
    assert_eq!(
        status(&c, "throughput.ops_per_busy_sim_s"),
        MetricStatus::Unchanged
    );
    assert!(!c.is_regression());

    // Only one side measured busy time: the raw rate is compared, and the note says why.
    current.throughput = Throughput::new(1_000, 20_000_000);
    let c = compare(&current, &baseline, &Thresholds::default());
    assert_eq!(
        status(&c, "throughput.ops_per_sim_s"),
        MetricStatus::Regressed
    );
    assert_eq!(
        c.notes,
        ["busy time measured only in the baseline: compared ops per simulated second"]
    );
}
