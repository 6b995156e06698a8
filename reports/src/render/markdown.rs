//! Markdown rendering, for PR comments and CI summaries.

use crate::render::table::{md_cell, Align, Table};
use crate::render::{capacity, probes, sections};
use crate::report::Report;

/// The report as GitHub-flavoured Markdown.
pub fn render_markdown(report: &Report) -> String {
    let mut out = format!(
        "# StemeDB simulation report `{}`\n\n",
        report.run_id.replace('`', "'")
    );
    let mut meta = Table::new(&[("field", Align::Left), ("value", Align::Left)]);
    for (label, value) in sections::meta_rows(report) {
        meta.row(vec![label.to_owned(), value]);
    }
    out.push_str(&meta.to_markdown());

    out.push_str(&format!(
        "\n## Outcome\n\n**{}**\n",
        md_cell(&sections::outcome_headline(report))
    ));
    let groups = sections::failure_groups_table(report);
    if !groups.is_empty() {
        out.push_str("\nFailures by signature:\n\n");
        out.push_str(&groups.to_markdown());
        out.push_str("\nFailing runs:\n");
    }
    let (failures, hidden) = sections::failures_table(report);
    if !failures.is_empty() {
        out.push('\n');
        out.push_str(&failures.to_markdown());
        out.push_str("\nReproduce:\n\n");
        out.push_str(&code_block(
            &sections::shown_reproduce_lines(report).join("\n"),
        ));
        if hidden > 0 {
            out.push_str(&format!("\n… and {hidden} more failures.\n"));
        }
    }

    out.push_str("\n## Latency (simulated time)\n\n");
    let latencies = sections::latency_table(report);
    if latencies.is_empty() {
        out.push_str("None recorded.\n");
    } else {
        out.push_str(&latencies.to_markdown());
    }

    out.push_str(&format!(
        "\n## Throughput\n\n{}\n",
        md_cell(&sections::throughput_line(report))
    ));

    let capacity = capacity::capacity_table(report);
    if !capacity.is_empty() {
        out.push_str("\n## Capacity (closed loop, simulated time)\n\n");
        out.push_str(&capacity.to_markdown());
    }

    out.push_str("\n## Counts\n");
    for (family, map) in sections::count_families(report) {
        if map.is_empty() {
            continue;
        }
        out.push('\n');
        out.push_str(&sections::family_table(family, map).to_markdown());
    }

    if let Some(headline) = probes::probes_headline(report) {
        out.push_str(&format!(
            "\n## Fault-path probes\n\n{}\n\n",
            md_cell(&headline)
        ));
        out.push_str(&probes::probes_table(report).to_markdown());
    }

    if let Some(line) = sections::wall_line(report) {
        out.push_str(&format!(
            "\n## Wall clock (not deterministic)\n\n{}\n",
            md_cell(&line)
        ));
    }
    out
}

/// A fenced code block whose fence is longer than any backtick run inside, so the content
/// cannot close it early.
fn code_block(text: &str) -> String {
    let longest_run = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest_run.max(2) + 1);
    format!("{fence}\n{text}\n{fence}\n")
}

#[cfg(test)]
mod tests {
    use super::code_block;

    #[test]
    fn fence_outgrows_backticks_inside() {
        assert_eq!(code_block("a ``` b"), "````\na ``` b\n````\n");
        assert_eq!(code_block("plain"), "```\nplain\n```\n");
    }
}
