//! Terminal, Markdown and HTML renderings.

mod common;

use stemedb_reports::render::MAX_FAILURES_SHOWN;
use stemedb_reports::{render_html, render_markdown, render_terminal, ArenaOutcome, Verdict};

#[test]
fn terminal_summary_shows_percentiles_outcome_and_counts() {
    let text = render_terminal(&common::sample_report());
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.contains(&"  run            run-42"), "{text}");
    assert!(
        lines.contains(&"  seeds          0..=9 (10 seeds)"),
        "{text}"
    );
    assert!(
        lines.contains(&"  options        clients=4 faults=default"),
        "{text}"
    );
    assert!(
        lines.contains(&"outcome: FAIL safety_violation (9 pass, 1 safety_violation; exit 1)"),
        "{text}"
    );
    assert!(
        text.contains("  safety_violation  wal       7  acknowledged append 17 lost after crash\n"),
        "{text}"
    );
    assert!(!text.contains("second line of detail"));
    assert!(text.contains(&format!(
        "  reproduce: {}\n",
        common::reproduce_line("wal", 7)
    )));

    // Latency table: aligned columns, well-known names in their documented order.
    let header = lines
        .iter()
        .position(|l| l.starts_with("latency (sim)"))
        .unwrap();
    assert_eq!(
        lines[header],
        "latency (sim)  count     p50     p90     p99   p99.9      max  saturated"
    );
    assert_eq!(
        lines[header + 1],
        "append_ack     1,000  5.00ms  9.01ms  9.90ms  9.99ms  10.01ms          0"
    );
    assert_eq!(
        lines[header + 2],
        "fsync            200   600us   680us   698us   700us    700us          0"
    );
    assert_eq!(
        lines[header + 3],
        "query              1   2.50s   2.50s   2.50s   2.50s    2.50s          0"
    );
    assert!(lines[header..header + 4]
        .iter()
        .all(|l| l.len() == lines[header].len()));

    assert!(text.contains("throughput: 1,200 ops in 3.000s simulated = 400.0 ops/sim-s\n"));
    assert!(
        lines.contains(&"faults      torn_write            3"),
        "{text}"
    );
    assert!(
        lines.contains(&"events      invariant_checks     10"),
        "{text}"
    );
    assert!(text.contains(
        "wall clock (not deterministic): 1.500s wall, 800.0 sim ops/wall-s, sim:wall 2.0x, 400.0 seeds/min\n"
    ));
}

#[test]
fn terminal_caps_the_failure_list() {
    let mut report = common::empty_report("many");
    for seed in 0..(MAX_FAILURES_SHOWN as u64 + 5) {
        report.add_outcome(ArenaOutcome {
            arena: "kv".to_owned(),
            seed: Some(seed),
            verdict: Verdict::LivenessFailure,
            message: "stuck".to_owned(),
            reproduce: common::reproduce_line("kv", seed),
        });
    }
    let text = render_terminal(&report);
    assert!(text.contains("  ... and 5 more failures\n"), "{text}");
    assert_eq!(text.matches("reproduce:").count(), MAX_FAILURES_SHOWN);
    assert!(text.contains("outcome: FAIL liveness_failure (15 liveness_failure; exit 3)"));
    assert!(text.contains("latency: none recorded"));
    assert!(!text.contains("wall clock"));
}

#[test]
fn markdown_has_tables_and_reproduce_block() {
    let md = render_markdown(&common::sample_report());
    assert!(md.starts_with("# StemeDB simulation report `run-42`\n"));
    assert!(md.contains("| seeds | 0..=9 (10 seeds) |"), "{md}");
    assert!(
        md.contains("**FAIL safety\\_violation (9 pass, 1 safety\\_violation; exit 1)**"),
        "{md}"
    );
    assert!(
        md.contains("| append\\_ack | 1,000 | 5.00ms | 9.01ms | 9.90ms | 9.99ms | 10.01ms | 0 |"),
        "{md}"
    );
    assert!(md.contains(&format!("```\n{}\n```\n", common::reproduce_line("wal", 7))));
    assert!(md.contains("| torn\\_write | 3 |"));
    assert!(md.contains("## Wall clock (not deterministic)"));
}

#[test]
fn html_is_self_contained_and_balanced() {
    let mut report = common::sample_report();
    report.run_id = "run <b>&\"x\"".to_owned();
    let html = render_html(&report);
    assert!(
        html.starts_with("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">")
    );
    assert!(html.ends_with("</body>\n</html>\n"));
    for forbidden in [
        "<script", "http:", "https:", "url(", "@import", "<link", "<img", "<b>",
    ] {
        assert!(!html.contains(forbidden), "found {forbidden}");
    }
    assert!(html.contains("run &lt;b&gt;&amp;&quot;x&quot;"));
    common::assert_balanced(&html);
    // Two charts per latency (percentile bars and curve), one per non-empty count family.
    assert_eq!(html.matches("<svg ").count(), 3 * 2 + 3);
    assert!(html.contains("<p class=\"verdict fail\">FAIL safety_violation"));
    assert!(html.contains(&common::reproduce_line("wal", 7)));
    assert!(html.contains("<td class=\"r\">9.90ms</td>"));
    assert!(html.contains("<polyline "));
    assert!(html.contains(">99.9</text>") && html.contains(">percentile (%)</text>"));
    // Failures by signature come before the failing runs.
    let groups = html
        .find("Failures by signature")
        .expect("the triage table");
    assert!(groups < html.find("Failing runs").expect("the failing runs"));
}

#[test]
fn html_of_an_empty_passing_report_is_valid() {
    let html = render_html(&common::empty_report("r"));
    common::assert_balanced(&html);
    assert!(html.contains("<p class=\"verdict pass\">PASS (no outcomes recorded; exit 0)</p>"));
    assert_eq!(html.matches("<svg ").count(), 0);
}

#[test]
fn renderings_are_deterministic() {
    let a = common::sample_report();
    let b = common::sample_report();
    assert_eq!(render_terminal(&a), render_terminal(&b));
    assert_eq!(render_markdown(&a), render_markdown(&b));
    assert_eq!(render_html(&a), render_html(&b));
}
