//! Compact plain-text summary for a terminal (no colour, so it survives logs and pipes).

use crate::render::{capacity, probes, sections};
use crate::report::Report;

/// Indent of everything under a section heading.
const INDENT: &str = "  ";

/// The report as aligned plain text: meta, outcome (with failing runs and their reproduce
/// lines), latency percentiles, throughput, closed-loop capacity, counts, fault-path probes, and
/// the wall-clock line if present.
pub fn render_terminal(report: &Report) -> String {
    let mut out = String::from("StemeDB simulation report\n");
    let meta = sections::meta_rows(report);
    let label_width = meta.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (label, value) in meta {
        out.push_str(&format!("{INDENT}{label:<label_width$}  {value}\n"));
    }

    out.push_str(&format!(
        "\noutcome: {}\n",
        sections::outcome_headline(report)
    ));
    let groups = sections::failure_groups_table(report);
    if !groups.is_empty() {
        out.push_str(&format!("{INDENT}failures by signature:\n"));
        out.push_str(&groups.to_text(INDENT));
        out.push_str(&format!("{INDENT}failing runs:\n"));
    }
    let (failures, hidden) = sections::failures_table(report);
    if !failures.is_empty() {
        out.push_str(&failures.to_text(INDENT));
        for line in sections::shown_reproduce_lines(report) {
            out.push_str(&format!("{INDENT}reproduce: {line}\n"));
        }
        if hidden > 0 {
            out.push_str(&format!("{INDENT}... and {hidden} more failures\n"));
        }
    }

    let latencies = sections::latency_table(report);
    out.push('\n');
    if latencies.is_empty() {
        out.push_str("latency: none recorded\n");
    } else {
        out.push_str(&latencies.to_text(""));
    }

    out.push_str(&format!(
        "\nthroughput: {}\n",
        sections::throughput_line(report)
    ));

    let capacity = capacity::capacity_table(report);
    if !capacity.is_empty() {
        out.push_str("\ncapacity (closed loop, simulated time):\n");
        out.push_str(&capacity.to_text(INDENT));
    }

    let counts = sections::counts_table(report);
    if !counts.is_empty() {
        out.push('\n');
        out.push_str(&counts.to_text(""));
    }

    if let Some(headline) = probes::probes_headline(report) {
        out.push_str(&format!("\nfault-path probes: {headline}\n"));
        out.push_str(&probes::probes_table(report).to_text(INDENT));
    }

    if let Some(line) = sections::wall_line(report) {
        out.push_str(&format!("\nwall clock (not deterministic): {line}\n"));
    }
    out
}
