//! Text and Markdown renderings of a [`Comparison`].

use super::{Comparison, MetricKind};
use crate::render::format;
use crate::render::table::{md_cell, Align, Table};

impl Comparison {
    fn table(&self) -> Table {
        let mut table = Table::new(&[
            ("metric", Align::Left),
            ("baseline", Align::Right),
            ("current", Align::Right),
            ("change", Align::Right),
            ("limit", Align::Right),
            ("status", Align::Left),
        ]);
        for m in &self.metrics {
            let sign = match m.kind {
                MetricKind::LatencyUs => "+",
                MetricKind::OpsPerSimS => "-",
            };
            table.row(vec![
                m.metric.clone(),
                m.baseline
                    .map(|v| value_text(m.kind, v))
                    .unwrap_or_default(),
                m.current.map(|v| value_text(m.kind, v)).unwrap_or_default(),
                m.change_pct.map(format::percent_change).unwrap_or_default(),
                format!("{sign}{:.1}%", m.limit_pct),
                m.status.as_str().to_owned(),
            ]);
        }
        table
    }

    fn headline(&self) -> String {
        let regressed = self.regressions().count();
        let verdict = if self.is_regression() {
            "REGRESSION"
        } else {
            "no regression"
        };
        format!(
            "{verdict}: {regressed} metric(s) regressed; outcome {} -> {}",
            self.outcome.baseline, self.outcome.current
        )
    }

    /// Plain-text rendering: headline, notes, aligned table.
    pub fn render_text(&self) -> String {
        let mut out = format!("baseline comparison: {}\n", self.headline());
        for note in &self.notes {
            out.push_str(&format!("  note: {note}\n"));
        }
        out.push_str(&self.table().to_text("  "));
        out
    }

    /// Markdown rendering.
    pub fn render_markdown(&self) -> String {
        let mut out = format!("## Baseline comparison\n\n**{}**\n\n", self.headline());
        for note in &self.notes {
            out.push_str(&format!("- {}\n", md_cell(note)));
        }
        if !self.notes.is_empty() {
            out.push('\n');
        }
        out.push_str(&self.table().to_markdown());
        out
    }
}

fn value_text(kind: MetricKind, value: f64) -> String {
    match kind {
        MetricKind::LatencyUs => format::latency_us(value.max(0.0) as u64),
        MetricKind::OpsPerSimS => format::rate(value),
    }
}
