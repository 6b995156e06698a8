//! Renderings of what schema 1.2 added: busy throughput, closed-loop capacity, fault-path
//! probes.

mod common;

use stemedb_reports::render::STARVED_MARK;
use stemedb_reports::{render_html, render_markdown, render_terminal};

#[test]
fn terminal_shows_busy_throughput_capacity_and_starved_probes() {
    let text = render_terminal(&common::full_report());
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        text.contains(
            "throughput: 2,400.0 ops per busy sim-s (1,200 ops over 0.500s busy of 3.000s simulated)\n"
        ),
        "{text}"
    );
    let header = lines
        .iter()
        .position(|l| l.starts_with("capacity (closed loop"))
        .expect("the capacity section");
    assert_eq!(
        &lines[header + 1..header + 4],
        [
            "  writers  ops/sim-s  ack p50  ack p99  ack max",
            "        1    1,000.0   1.00ms   1.98ms   2.00ms",
            "        4    3,000.0   2.00ms   3.96ms   4.00ms",
        ]
    );
    assert!(
        lines.contains(&"fault-path probes: 2 of 3 fired, 1 never fired"),
        "{text}"
    );
    assert!(
        lines.contains(&"  ingest.dead_letter_written      0  never fired"),
        "{text}"
    );
    assert!(
        lines.contains(&"  wal.torn_tail_repaired      1,500"),
        "{text}"
    );
    assert_eq!(
        text.matches(STARVED_MARK).count(),
        2,
        "headline and the row"
    );
}

#[test]
fn sections_are_absent_when_nothing_was_recorded() {
    let text = render_terminal(&common::sample_report());
    assert!(!text.contains("capacity"), "{text}");
    assert!(!text.contains("probes"), "{text}");
    let md = render_markdown(&common::sample_report());
    assert!(!md.contains("## Capacity") && !md.contains("## Fault-path probes"));
}

#[test]
fn markdown_has_capacity_and_probe_tables() {
    let md = render_markdown(&common::full_report());
    assert!(md.contains("## Capacity (closed loop, simulated time)\n\n| writers | ops/sim-s | ack p50 | ack p99 | ack max |\n"), "{md}");
    assert!(
        md.contains("| 4 | 3,000.0 | 2.00ms | 3.96ms | 4.00ms |"),
        "{md}"
    );
    assert!(
        md.contains("## Fault-path probes\n\n2 of 3 fired, 1 never fired\n"),
        "{md}"
    );
    assert!(
        md.contains("| ingest.dead\\_letter\\_written | 0 | never fired |"),
        "{md}"
    );
    assert!(md.contains("| wal.fsync\\_retried | 12 |  |"), "{md}");
    assert!(md.contains("2,400.0 ops per busy sim-s"), "{md}");
}

#[test]
fn html_marks_starved_probes_and_charts_capacity() {
    let html = render_html(&common::full_report());
    assert!(html.contains("<h2>Fault-path probes</h2>"));
    assert!(
        html.contains(
            "<tr class=\"starved\"><td class=\"l\">ingest.dead_letter_written</td><td class=\"r\">0</td><td class=\"l\">never fired</td></tr>"
        ),
        "{html}"
    );
    assert_eq!(html.matches("<tr class=\"starved\">").count(), 1);
    assert!(html.contains("tr.starved td"), "styled");
    assert!(html.contains("<h2>Capacity (closed loop, simulated time)</h2>"));
    assert!(html.contains("<td class=\"r\">3,000.0</td>"));
    // The sample's charts (two per latency, one per count family) plus the capacity bars.
    assert_eq!(html.matches("<svg ").count(), 3 * 2 + 3 + 1);
    assert!(html.contains(">4 writers</text>"));
    assert!(html.contains("2,400.0 ops per busy sim-s"));
    assert!(!html.contains("<script"));
}
