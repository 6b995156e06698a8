//! Pieces every renderer shows: the latency table, count tables, outcome headline.

use crate::names::ordered_names;
use crate::render::format;
use crate::render::table::{Align, Table};
use crate::report::Report;

/// Column headers of the latency table.
const LATENCY_COLUMNS: [(&str, Align); 8] = [
    ("latency (sim)", Align::Left),
    ("count", Align::Right),
    ("p50", Align::Right),
    ("p90", Align::Right),
    ("p99", Align::Right),
    ("p99.9", Align::Right),
    ("max", Align::Right),
    ("saturated", Align::Right),
];

/// One row per latency: count and percentiles in human units.
pub fn latency_table(report: &Report) -> Table {
    let mut table = Table::new(&LATENCY_COLUMNS);
    for name in ordered_names(report.latencies.keys()) {
        let Some(hist) = report.latencies.get(name) else {
            continue;
        };
        let s = hist.summary();
        table.row(vec![
            name.to_owned(),
            format::count(s.count),
            format::latency_us(s.p50_us),
            format::latency_us(s.p90_us),
            format::latency_us(s.p99_us),
            format::latency_us(s.p999_us),
            format::latency_us(s.max_us),
            format::count(hist.saturated_count()),
        ]);
    }
    table
}

/// The three count families with their display names.
pub fn count_families(
    report: &Report,
) -> [(&'static str, &std::collections::BTreeMap<String, u64>); 3] {
    [
        ("operations", &report.counts.operations),
        ("faults", &report.counts.faults),
        ("events", &report.counts.events),
    ]
}

/// All counts in one table: family, name, count.
pub fn counts_table(report: &Report) -> Table {
    let mut table = Table::new(&[
        ("counts", Align::Left),
        ("name", Align::Left),
        ("count", Align::Right),
    ]);
    for (family, map) in count_families(report) {
        for (name, n) in map {
            table.row(vec![family.to_owned(), name.clone(), format::count(*n)]);
        }
    }
    table
}

/// `name -> count` for one family.
pub fn family_table(title: &str, map: &std::collections::BTreeMap<String, u64>) -> Table {
    let mut table = Table::new(&[(title, Align::Left), ("count", Align::Right)]);
    for (name, n) in map {
        table.row(vec![name.clone(), format::count(*n)]);
    }
    table
}

/// `PASS`/`FAIL <verdict>` plus the tally of verdicts and the exit code.
pub fn outcome_headline(report: &Report) -> String {
    let verdict = report.verdict();
    let status = if verdict.is_failure() {
        format!("FAIL {verdict}")
    } else {
        "PASS".to_owned()
    };
    let tally: Vec<String> = report
        .verdict_counts()
        .iter()
        .map(|(name, n)| format!("{} {name}", format::count(*n)))
        .collect();
    let tally = if tally.is_empty() {
        "no outcomes recorded".to_owned()
    } else {
        tally.join(", ")
    };
    format!("{status} ({tally}; exit {})", report.exit_code())
}

/// Failures by signature (see [`crate::signature`]): one row per kind of failure.
pub fn failure_groups_table(report: &Report) -> Table {
    let mut table = Table::new(&[
        ("count", Align::Right),
        ("verdict", Align::Left),
        ("arenas", Align::Left),
        ("first seeds", Align::Left),
        ("signature", Align::Left),
    ]);
    for group in report.failure_groups() {
        let arenas: Vec<&str> = group.arenas.iter().map(String::as_str).collect();
        let seeds: Vec<String> = group.first_seeds.iter().map(u64::to_string).collect();
        table.row(vec![
            group.count.to_string(),
            group.verdict.to_string(),
            arenas.join(","),
            seeds.join(","),
            group.signature,
        ]);
    }
    table
}

/// Failing outcomes, capped at [`crate::render::MAX_FAILURES_SHOWN`].
pub fn failures_table(report: &Report) -> (Table, usize) {
    let mut table = Table::new(&[
        ("verdict", Align::Left),
        ("arena", Align::Left),
        ("seed", Align::Right),
        ("message", Align::Left),
    ]);
    let failures: Vec<_> = report.failures().collect();
    for outcome in failures.iter().take(crate::render::MAX_FAILURES_SHOWN) {
        table.row(vec![
            outcome.verdict.to_string(),
            outcome.arena.clone(),
            outcome.seed.map(|s| s.to_string()).unwrap_or_default(),
            first_line(&outcome.message),
        ]);
    }
    let hidden = failures
        .len()
        .saturating_sub(crate::render::MAX_FAILURES_SHOWN);
    (table, hidden)
}

/// The reproduce lines of the shown failures, in the same order as [`failures_table`].
pub fn shown_reproduce_lines(report: &Report) -> Vec<String> {
    report
        .failures()
        .take(crate::render::MAX_FAILURES_SHOWN)
        .map(|o| o.reproduce.clone())
        .collect()
}

/// Meta rows: field, value.
pub fn meta_rows(report: &Report) -> Vec<(&'static str, String)> {
    let arenas: Vec<&str> = report.arenas.iter().map(String::as_str).collect();
    let options: Vec<String> = report
        .options
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    vec![
        ("run", report.run_id.clone()),
        ("commit", report.commit.clone()),
        ("build profile", report.build_profile.clone()),
        ("tool version", report.tool_version.clone()),
        (
            "arenas",
            if arenas.is_empty() {
                "(none)".to_owned()
            } else {
                arenas.join(", ")
            },
        ),
        (
            "seeds",
            format!(
                "{} ({} seeds)",
                report.seeds,
                format::count_u128(report.seeds.len())
            ),
        ),
        (
            "options",
            if options.is_empty() {
                "(none)".to_owned()
            } else {
                options.join(" ")
            },
        ),
    ]
}

/// Simulated throughput in one line: per busy simulated second when the caller measured busy
/// time (the number that means something when the workload has quiet gaps), else per
/// simulated second.
pub fn throughput_line(report: &Report) -> String {
    let t = report.throughput;
    if t.has_busy() {
        return format!(
            "{} ops per busy sim-s ({} ops over {} busy of {} simulated)",
            format::rate(t.ops_per_busy_sim_s()),
            format::count(t.ops()),
            format::seconds_from_us(t.busy_sim_us()),
            format::seconds_from_us(t.sim_duration_us())
        );
    }
    format!(
        "{} ops in {} simulated = {} ops/sim-s",
        format::count(t.ops()),
        format::seconds_from_us(t.sim_duration_us()),
        format::rate(t.ops_per_sim_s())
    )
}

/// The wall-clock section in one line, if present.
pub fn wall_line(report: &Report) -> Option<String> {
    report.wall.map(|w| {
        let mut line = format!(
            "{} wall, {} sim ops/wall-s, sim:wall {}x, {} seeds/min",
            format::seconds_from_us(w.wall_us()),
            format::rate(w.ops_per_wall_s()),
            format::rate(w.sim_to_wall_ratio()),
            format::rate(w.seeds_per_wall_min())
        );
        if w.twin_share() > 0.0 {
            line.push_str(&format!(
                "; crypto twin (sign + verify each record once) {:.0}% of worker time, its ceiling {} seeds/min",
                w.twin_share() * 100.0,
                format::rate(w.twin_seeds_per_wall_min())
            ));
        }
        line
    })
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or("").to_owned()
}
