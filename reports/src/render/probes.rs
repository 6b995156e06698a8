//! The fault-path probes section every renderer shows.

use crate::render::format;
use crate::render::table::{Align, Table};
use crate::report::Report;

/// The mark on a probe that never fired, in every rendering.
pub const STARVED_MARK: &str = "never fired";
/// CSS class of a starved probe's row in the HTML report.
pub const STARVED_CLASS: &str = "starved";

/// `N of M fired` plus how many never did; None when no probe was declared.
pub fn probes_headline(report: &Report) -> Option<String> {
    if report.probes.is_empty() {
        return None;
    }
    let declared = report.probes.len();
    let starved = report.starved_probes().len();
    let fired = declared - starved;
    let mut line = format!("{fired} of {declared} fired");
    if starved > 0 {
        line.push_str(&format!(", {starved} {STARVED_MARK}"));
    }
    Some(line)
}

/// One row per probe, by name: hits, and [`STARVED_MARK`] on those at 0 (whose HTML rows get
/// [`STARVED_CLASS`]).
pub fn probes_table(report: &Report) -> Table {
    let mut table = Table::new(&[
        ("probe", Align::Left),
        ("hits", Align::Right),
        ("note", Align::Left),
    ]);
    for (name, &hits) in &report.probes {
        if hits == 0 {
            table.row_with_class(
                vec![name.clone(), format::count(hits), STARVED_MARK.to_owned()],
                STARVED_CLASS,
            );
        } else {
            table.row(vec![name.clone(), format::count(hits), String::new()]);
        }
    }
    table
}
