//! The run history as one self-contained HTML page: trend charts over runs (seeds per minute,
//! p99 of each latency), failed runs in red, and the table of runs below.

use crate::history::{HistoryLog, HistoryRow};
use crate::render::format;
use crate::render::history_text::{
    commit_short, latency_names, optional_rate, p99_cell, runs_phrase, skipped_lines, MISSING,
};
use crate::render::html::{escape, STYLE};
use crate::render::line_chart::{line_chart, RunTick, YAxis, FAILED_COLOUR};
use crate::render::table::{Align, Table};
use crate::render::utc::utc_minute;

/// The page covers at most this many of the latest runs: beyond it the charts' points merge and
/// the table stops being read.
pub const HISTORY_HTML_RUNS_MAX: usize = 500;

/// Lets the wide table scroll inside the page instead of widening it or wrapping its cells.
const HISTORY_STYLE: &str = ".scroll{overflow-x:auto}.scroll td,.scroll th{white-space:nowrap}";

/// The history page. Pure function of the log, like every renderer.
pub fn render_history_html(log: &HistoryLog) -> String {
    let title = "StemeDB run history";
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>{STYLE}{HISTORY_STYLE}</style>\n</head>\n<body>\n<h1>{title}</h1>\n"
    );
    let first = log.rows.len().saturating_sub(HISTORY_HTML_RUNS_MAX);
    let rows = &log.rows[first..];
    out.push_str(&summary(log, rows, first));
    if !rows.is_empty() {
        let runs: Vec<RunTick> = rows
            .iter()
            .enumerate()
            .map(|(i, row)| RunTick {
                number: first + i + 1,
                commit_short: commit_short(&row.commit),
                failed: row.failed(),
            })
            .collect();
        out.push_str(&charts(rows, &runs));
        out.push_str(&format!(
            "<section>\n<h2>Runs</h2>\n<div class=\"scroll\">\n{}</div>\n</section>\n",
            runs_table(rows, first).to_html("history")
        ));
    }
    out.push_str(
        "<footer class=\"note\">Latencies are in simulated time; seeds per minute and wall time \
         are wall-clock and vary with the machine.</footer>\n</body>\n</html>\n",
    );
    out
}

fn summary(log: &HistoryLog, rows: &[HistoryRow], first: usize) -> String {
    let mut out = String::from("<section>\n<p>");
    match (rows.first(), rows.last()) {
        (Some(oldest), Some(newest)) => {
            let failed = rows.iter().filter(|r| r.failed()).count();
            out.push_str(&format!(
                "{} from {} to {}; {} did not pass.",
                runs_phrase(log.rows.len()),
                utc_minute(oldest.recorded_at_unix_s),
                utc_minute(newest.recorded_at_unix_s),
                format::count(failed as u64)
            ));
            if first > 0 {
                out.push_str(&format!(
                    " Showing the last {}.",
                    format::count(rows.len() as u64)
                ));
            }
        }
        _ => out.push_str("No runs recorded."),
    }
    out.push_str("</p>\n");
    let skipped = skipped_lines(log);
    if !skipped.is_empty() {
        out.push_str(&format!(
            "<p class=\"note\">Damaged lines of the history file, skipped:</p>\n<pre>{}</pre>\n",
            escape(&skipped.concat())
        ));
    }
    out.push_str("</section>\n");
    out
}

fn charts(rows: &[HistoryRow], runs: &[RunTick]) -> String {
    let mut out = String::from("<section>\n<h2>Trends</h2>\n");
    out.push_str(&format!(
        "<p class=\"note\">x: run number and commit, oldest first. Runs that did not pass are \
         marked <span style=\"color:{FAILED_COLOUR}\">red</span>.</p>\n"
    ));
    let seeds_per_min: Vec<Option<f64>> = rows.iter().map(|r| r.seeds_per_wall_min).collect();
    if seeds_per_min.iter().any(Option::is_some) {
        out.push_str(&figure(
            "seeds per wall-clock minute",
            &line_chart(
                "seeds per wall-clock minute by run",
                runs,
                &seeds_per_min,
                YAxis::Rate,
            ),
        ));
    }
    for name in latency_names(rows) {
        let p99s: Vec<Option<f64>> = rows
            .iter()
            .map(|r| r.p99_us(&name).map(|us| us as f64))
            .collect();
        let caption = format!("{name} p99 (simulated)");
        out.push_str(&figure(
            &caption,
            &line_chart(&format!("{caption} by run"), runs, &p99s, YAxis::LatencyUs),
        ));
    }
    out.push_str("</section>\n");
    out
}

/// The caption goes above its chart: charts stack vertically, and a caption below one reads as
/// the title of the next.
fn figure(caption: &str, svg: &str) -> String {
    format!(
        "<figure>\n<figcaption>{}</figcaption>\n{svg}</figure>\n",
        escape(caption)
    )
}

fn runs_table(rows: &[HistoryRow], first: usize) -> Table {
    let latencies = latency_names(rows);
    let mut headers: Vec<(String, Align)> = [
        ("#", Align::Right),
        ("when (UTC)", Align::Left),
        ("run id", Align::Left),
        ("command", Align::Left),
        ("world", Align::Left),
        ("scenario", Align::Left),
        ("commit", Align::Left),
        ("seeds", Align::Right),
        ("verdict", Align::Left),
        ("failures", Align::Right),
        ("seeds/min", Align::Right),
        ("wall", Align::Right),
        ("ops/busy sim-s", Align::Right),
    ]
    .into_iter()
    .map(|(h, a)| (h.to_owned(), a))
    .collect();
    headers.extend(latencies.iter().map(|n| (format!("{n} p99"), Align::Right)));
    let header_refs: Vec<(&str, Align)> = headers.iter().map(|(h, a)| (h.as_str(), *a)).collect();
    let mut table = Table::new(&header_refs);
    for (i, row) in rows.iter().enumerate() {
        let mut cells = vec![
            (first + i + 1).to_string(),
            utc_minute(row.recorded_at_unix_s),
            row.run_id.clone(),
            row.command.clone(),
            row.world.clone(),
            row.scenario.clone(),
            commit_short(&row.commit),
            format::count(row.seeds),
            row.verdict.clone(),
            format::count(row.failures),
            optional_rate(row.seeds_per_wall_min),
            row.wall_s
                .map_or_else(|| MISSING.to_owned(), |s| format!("{s:.1}s")),
            // 0: the run measured no busy time.
            optional_rate(Some(row.ops_per_busy_sim_s).filter(|r| *r > 0.0)),
        ];
        cells.extend(latencies.iter().map(|name| p99_cell(row, name)));
        if row.failed() {
            table.row_with_class(cells, "failed");
        } else {
            table.row(cells);
        }
    }
    table
}
