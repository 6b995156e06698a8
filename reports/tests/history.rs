//! Run history: rows from reports, the file, and its renderings.

mod common;

use std::collections::BTreeMap;

use stemedb_reports::names::{LATENCY_APPEND_ACK, LATENCY_FSYNC};
use stemedb_reports::render::{COMMIT_SHORT_CHARS, HISTORY_HTML_RUNS_MAX};
use stemedb_reports::{
    append_history, load_history, render_history_html, render_history_terminal, HistoryLog,
    HistoryRow, LatencyPercentiles, SkipReason,
};

fn row(n: u64, failed: bool) -> HistoryRow {
    let mut latencies = BTreeMap::new();
    latencies.insert(
        LATENCY_APPEND_ACK.to_owned(),
        LatencyPercentiles {
            p50_us: 400,
            p99_us: 1_000 + n * 100,
            max_us: 9_000,
        },
    );
    if n.is_multiple_of(2) {
        latencies.insert(
            LATENCY_FSYNC.to_owned(),
            LatencyPercentiles {
                p50_us: 200,
                p99_us: 700,
                max_us: 800,
            },
        );
    }
    HistoryRow {
        run_id: format!("sweep-{n}"),
        recorded_at_unix_s: 1_700_000_000 + n * 3_600,
        command: "sweep".to_owned(),
        commit: format!("{:x}0123456789abcdef", n + 10),
        world: "turmoil".to_owned(),
        scenario: "default".to_owned(),
        seeds: 1_000,
        verdict: if failed { "safety_violation" } else { "pass" }.to_owned(),
        failures: u64::from(failed) * 3,
        seeds_per_wall_min: (n != 3).then_some(500.0 + n as f64 * 10.0),
        wall_s: Some(120.0),
        ops_per_busy_sim_s: 2_000.0,
        latencies,
    }
}

fn log_of(n: u64) -> HistoryLog {
    HistoryLog {
        rows: (0..n).map(|i| row(i, i == 5)).collect(),
        skipped: Vec::new(),
    }
}

#[test]
fn a_report_appended_and_loaded_renders_in_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.jsonl");
    let report = common::full_report();
    let first = HistoryRow::from_report(&report, "sweep", "turmoil", "default", 1_700_000_000);
    append_history(&path, &first).unwrap();
    append_history(&path, &row(1, false)).unwrap();
    let log = load_history(&path).unwrap();
    assert_eq!(log.rows, [first.clone(), row(1, false)]);
    assert_eq!(first.ops_per_busy_sim_s, 2_400.0);
    assert_eq!(first.failures, 1);

    let text = render_history_terminal(&log, 10);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "run history: 2 runs");
    assert_eq!(
        lines[1],
        "  when (UTC)         run id   command  commit   seeds  verdict           failures  seeds/min  append_ack p99  fsync p99"
    );
    assert_eq!(
        lines[2],
        "  2023-11-14 22:13Z  run-42   sweep    0123abc     10  safety_violation         1      400.0          9.90ms      698us"
    );
    assert_eq!(
        lines[3],
        "  2023-11-14 23:13Z  sweep-1  sweep    b012345  1,000  pass                     0      510.0          1.10ms          -"
    );
}

#[test]
fn the_terminal_table_shows_the_last_n_and_the_skipped_lines() {
    let mut log = log_of(8);
    log.skipped.push((4, SkipReason::NotUtf8));
    let text = render_history_terminal(&log, 3);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "run history: 8 runs (showing the last 3)");
    assert_eq!(lines[1], "skipped line 4: not UTF-8");
    assert_eq!(lines.len(), 2 + 1 + 3, "{text}");
    assert!(lines[3].contains("sweep-5") && lines[5].contains("sweep-7"));

    let empty = render_history_terminal(&HistoryLog::default(), 10);
    assert_eq!(empty, "run history: 0 runs\n");
}

#[test]
fn the_html_page_charts_trends_and_marks_failed_runs() {
    let mut log = log_of(8);
    log.rows[2].run_id = "<script>alert(1)</script>".to_owned();
    log.skipped.push((
        9,
        SkipReason::Torn {
            error: "EOF".into(),
        },
    ));
    let html = render_history_html(&log);
    common::assert_balanced(&html);
    for forbidden in [
        "<script", "http:", "https:", "url(", "@import", "<link", "<img",
    ] {
        assert!(!html.contains(forbidden), "found {forbidden}");
    }
    // Seeds per minute, append_ack p99, fsync p99.
    assert_eq!(html.matches("<svg ").count(), 3);
    assert!(html.contains("<figcaption>seeds per wall-clock minute</figcaption>"));
    assert!(html.contains("<figcaption>append_ack p99 (simulated)</figcaption>"));
    // Run 6 (index 5) failed: one red band and marker per chart, one red table row.
    assert_eq!(html.matches("fill=\"#fbe4e4\"").count(), 3);
    assert_eq!(html.matches("<tr class=\"failed\">").count(), 1);
    assert!(
        html.contains("<title>#6 f012345: 1.50ms, failed</title>"),
        "{html}"
    );
    // Run 4 has no seeds per minute: the line breaks there instead of dipping to 0.
    assert!(!html.contains("<title>#4 d012345: 0.0"));
    assert!(html.contains(">#8</text>") && html.contains(">1101234</text>"));
    assert!(html.contains("8 runs from 2023-11-14 22:13Z to 2023-11-15 05:13Z; 1 did not pass."));
    assert!(html.contains("skipped line 9: torn last line"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
}

#[test]
fn a_long_history_thins_its_labels_and_caps_the_page() {
    let log = log_of(HISTORY_HTML_RUNS_MAX as u64 + 20);
    let html = render_history_html(&log);
    common::assert_balanced(&html);
    assert!(html.contains(&format!("Showing the last {HISTORY_HTML_RUNS_MAX}.")));
    assert_eq!(
        html.matches("<tr").count(),
        HISTORY_HTML_RUNS_MAX + 1,
        "header + rows"
    );
    let first_chart = &html[html.find("<svg ").unwrap()..html.find("</svg>").unwrap()];
    let run_labels = first_chart.matches("text-anchor=\"middle\">#").count();
    let markers = first_chart.matches("<circle ").count();
    assert!(
        markers > 400,
        "every run with a value is plotted: {markers}"
    );
    assert!(
        (2..=12).contains(&run_labels),
        "{run_labels} labels on a 532-unit axis"
    );
    let newest = format!(">#{}</text>", HISTORY_HTML_RUNS_MAX + 20);
    assert!(first_chart.contains(&newest), "the newest run is labelled");
    assert_eq!(COMMIT_SHORT_CHARS, 7);
}

#[test]
fn an_empty_history_is_a_valid_page() {
    let html = render_history_html(&HistoryLog::default());
    common::assert_balanced(&html);
    assert!(html.contains("No runs recorded."));
    assert_eq!(html.matches("<svg ").count(), 0);
}
