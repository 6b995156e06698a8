//! `.hgrm` percentile-distribution text and files.

mod common;

use std::num::{NonZeroU32, NonZeroU64};

use stemedb_reports::{HgrmOptions, LatencyHistogram, HGRM_DEFAULT_TICKS_PER_HALF_DISTANCE};

fn one_to_hundred() -> LatencyHistogram {
    let mut h = LatencyHistogram::new();
    for us in 1..=100 {
        h.record(us);
    }
    h
}

#[test]
fn hgrm_matches_the_classic_layout() {
    let text = one_to_hundred().to_hgrm();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "       Value     Percentile TotalCount 1/(1-Percentile)"
    );
    assert_eq!(lines[1], "");
    assert_eq!(
        lines[2],
        "       1.000 0.000000000000          1           1.00"
    );
    assert!(lines.contains(&"      50.000 0.500000000000         50           2.00"));
    assert!(lines.contains(&"      76.000 0.750000000000         76           4.00"));
    // The 100% row has no 1/(1-Percentile) column.
    assert_eq!(
        lines[lines.len() - 4],
        "     100.000 1.000000000000        100"
    );
    assert_eq!(
        &lines[lines.len() - 3..],
        [
            "#[Mean    =       50.500, StdDeviation   =       28.866]",
            "#[Max     =      100.000, Total count    =          100]",
            "#[Buckets =           22, SubBuckets     =         2048]",
        ]
    );
}

#[test]
fn hgrm_rows_are_monotonic_and_end_at_the_total() {
    let mut h = LatencyHistogram::new();
    for i in 0..10_000u64 {
        h.record(1 + (i * i) % 50_000);
    }
    let points = h.percentile_points(HGRM_DEFAULT_TICKS_PER_HALF_DISTANCE);
    assert!(points.windows(2).all(|w| w[0].quantile <= w[1].quantile
        && w[0].value_us <= w[1].value_us
        && w[0].count_at_or_below <= w[1].count_at_or_below));
    let last = points.last().unwrap();
    assert_eq!((last.quantile, last.count_at_or_below), (1.0, 10_000));
    assert_eq!(last.value_us, h.summary().max_us);
}

#[test]
fn hgrm_scales_units_and_ticks() {
    let mut h = LatencyHistogram::new();
    h.record(1_500);
    let text = h.to_hgrm_with(HgrmOptions {
        ticks_per_half_distance: NonZeroU32::new(1).unwrap(),
        unit_scaling_ratio: NonZeroU64::new(1_000).unwrap(),
    });
    assert!(
        text.contains("       1.500 0.000000000000          1           1.00"),
        "{text}"
    );
    assert!(text.contains("#[Max     =        1.500, Total count    =            1]"));
}

#[test]
fn empty_hgrm_has_header_and_zero_footer() {
    let text = LatencyHistogram::new().to_hgrm();
    assert_eq!(text.lines().count(), 5, "{text}");
    assert!(text.contains("#[Max     =        0.000, Total count    =            0]"));
}

#[test]
fn hgrm_files_are_written_per_latency() {
    let dir = tempfile::tempdir().unwrap();
    let mut report = common::sample_report();
    report.record_latency("../escape attempt", 10);
    let written = report.write_hgrm_files(dir.path()).unwrap();
    let names: Vec<String> = written
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "append_ack.hgrm",
            "fsync.hgrm",
            "query.hgrm",
            "___escape_attempt.hgrm"
        ]
    );
    let fsync = std::fs::read_to_string(dir.path().join("fsync.hgrm")).unwrap();
    assert_eq!(fsync, report.latency("fsync").unwrap().to_hgrm());
    assert!(fsync.contains("Total count    =          200]"));
}
