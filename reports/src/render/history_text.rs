//! The run history as a terminal table, and the cells it shares with the HTML page.

use std::collections::BTreeSet;

use crate::history::{HistoryLog, HistoryRow};
use crate::names::{ordered_names, LATENCY_APPEND_ACK, LATENCY_FSYNC};
use crate::render::format;
use crate::render::table::{Align, Table};
use crate::render::utc::utc_minute;

/// Hex digits of a commit shown in tables and chart labels (git's own default abbreviation).
pub const COMMIT_SHORT_CHARS: usize = 7;
/// Skipped lines listed one by one before the rest are only counted.
pub const SKIPPED_LINES_SHOWN_MAX: usize = 5;
/// The latencies whose p99 the terminal table shows (when any shown run has them): the two
/// the engine's durability and speed hinge on.
const TERMINAL_P99_LATENCIES: [&str; 2] = [LATENCY_APPEND_ACK, LATENCY_FSYNC];
/// Shown where a run has no value.
pub const MISSING: &str = "-";

/// The last `last_n` runs (at most) as an aligned table, oldest first, under a line saying
/// how many there are and which lines of the file were skipped.
pub fn render_history_terminal(log: &HistoryLog, last_n: usize) -> String {
    let total = log.rows.len();
    let first = total.saturating_sub(last_n);
    let shown = &log.rows[first..];
    let mut out = format!("run history: {}", runs_phrase(total));
    if shown.len() < total {
        out.push_str(&format!(" (showing the last {})", shown.len()));
    }
    out.push('\n');
    out.push_str(&skipped_lines(log).join(""));
    if shown.is_empty() {
        return out;
    }
    let latencies: Vec<&str> = TERMINAL_P99_LATENCIES
        .into_iter()
        .filter(|name| shown.iter().any(|r| r.latencies.contains_key(*name)))
        .collect();
    let mut headers: Vec<(String, Align)> = [
        ("when (UTC)", Align::Left),
        ("run id", Align::Left),
        ("command", Align::Left),
        ("commit", Align::Left),
        ("seeds", Align::Right),
        ("verdict", Align::Left),
        ("failures", Align::Right),
        ("seeds/min", Align::Right),
    ]
    .into_iter()
    .map(|(h, a)| (h.to_owned(), a))
    .collect();
    headers.extend(latencies.iter().map(|n| (format!("{n} p99"), Align::Right)));
    let header_refs: Vec<(&str, Align)> = headers.iter().map(|(h, a)| (h.as_str(), *a)).collect();
    let mut table = Table::new(&header_refs);
    for row in shown {
        let mut cells = vec![
            utc_minute(row.recorded_at_unix_s),
            row.run_id.clone(),
            row.command.clone(),
            commit_short(&row.commit),
            format::count(row.seeds),
            row.verdict.clone(),
            format::count(row.failures),
            optional_rate(row.seeds_per_wall_min),
        ];
        cells.extend(latencies.iter().map(|name| p99_cell(row, name)));
        table.row(cells);
    }
    out.push_str(&table.to_text("  "));
    out
}

/// `N runs`, `1 run`.
pub fn runs_phrase(n: usize) -> String {
    if n == 1 {
        "1 run".to_owned()
    } else {
        format!("{} runs", format::count(n as u64))
    }
}

/// One line per skipped line of the file (capped), each ending in a newline.
pub fn skipped_lines(log: &HistoryLog) -> Vec<String> {
    let mut out: Vec<String> = log
        .skipped
        .iter()
        .take(SKIPPED_LINES_SHOWN_MAX)
        .map(|(line_no, reason)| format!("skipped line {line_no}: {reason}\n"))
        .collect();
    let hidden = log.skipped.len().saturating_sub(SKIPPED_LINES_SHOWN_MAX);
    if hidden > 0 {
        out.push(format!("... and {hidden} more skipped lines\n"));
    }
    out
}

/// The first [`COMMIT_SHORT_CHARS`] characters of a commit.
pub fn commit_short(commit: &str) -> String {
    commit.chars().take(COMMIT_SHORT_CHARS).collect()
}

/// A rate, or [`MISSING`].
pub fn optional_rate(value: Option<f64>) -> String {
    value.map_or_else(|| MISSING.to_owned(), format::rate)
}

/// Latency `name`'s p99 in `row`, or [`MISSING`].
pub fn p99_cell(row: &HistoryRow, name: &str) -> String {
    row.p99_us(name)
        .map_or_else(|| MISSING.to_owned(), format::latency_us)
}

/// Every latency any of `rows` recorded, well-known ones first.
pub fn latency_names(rows: &[HistoryRow]) -> Vec<String> {
    let names: BTreeSet<&String> = rows.iter().flat_map(|r| r.latencies.keys()).collect();
    ordered_names(names)
        .into_iter()
        .map(str::to_owned)
        .collect()
}
