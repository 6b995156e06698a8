//! A line chart of one metric over runs, for the history page: inline SVG, no scripts. Failed
//! runs get a red band and a red marker, so a regression that came with failures stands out.

use std::fmt::Write as _;

use crate::render::format;
use crate::render::html::escape;
use crate::render::svg::{nice_ceiling, open_svg, NICE_TOPS_TENTHS, PALETTE};

/// Chart geometry, in SVG user units.
const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 230.0;
const MARGIN_LEFT: f64 = 72.0;
/// Wide enough for half of the newest run's label, which sits near the right edge.
const MARGIN_RIGHT: f64 = 36.0;
const MARGIN_TOP: f64 = 12.0;
/// Room for the two-line run labels (number, then short commit).
const MARGIN_BOTTOM: f64 = 40.0;
const LABEL_LINE_HEIGHT: f64 = 13.0;
/// Upper bound of a character's width at the page's 11px chart font, so thinned labels never
/// touch; plus the gap kept between neighbours.
const LABEL_CHAR_WIDTH: f64 = 7.0;
const LABEL_GAP: f64 = 10.0;
/// Horizontal grid lines (and y labels).
const Y_TICKS: u32 = 4;
const MARKER_RADIUS: f64 = 3.0;
const FAILED_MARKER_RADIUS: f64 = 4.5;
/// Failed runs: marker colour and the band behind them.
pub const FAILED_COLOUR: &str = "#c0141c";
const FAILED_BAND_COLOUR: &str = "#fbe4e4";

/// One run on the x axis.
pub struct RunTick {
    /// 1-based position in the history file.
    pub number: usize,
    pub commit_short: String,
    pub failed: bool,
}

/// What the y values are, which fixes the axis's round top and its labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YAxis {
    /// Simulated microseconds.
    LatencyUs,
    /// A rate such as seeds per minute.
    Rate,
}

impl YAxis {
    fn top(self, max: f64) -> f64 {
        match self {
            YAxis::LatencyUs => nice_ceiling(max.max(0.0).ceil() as u64) as f64,
            YAxis::Rate => nice_ceiling_f64(max),
        }
    }

    fn label(self, value: f64) -> String {
        match self {
            YAxis::LatencyUs => format::latency_us(value.max(0.0).round() as u64),
            YAxis::Rate => format::rate(value),
        }
    }
}

/// `values[i]` for run `runs[i]`, drawn as a line broken where a value is missing.
pub fn line_chart(title: &str, runs: &[RunTick], values: &[Option<f64>], axis: YAxis) -> String {
    let n = runs.len().min(values.len());
    let plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT;
    let plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM;
    let bottom = MARGIN_TOP + plot_h;
    let slot_w = plot_w / n.max(1) as f64;
    let x_of = |i: usize| MARGIN_LEFT + (i as f64 + 0.5) * slot_w;
    let max = values[..n]
        .iter()
        .flatten()
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0_f64, f64::max);
    let top = axis.top(max);
    let y_of = |v: f64| bottom - (v / top).clamp(0.0, 1.0) * plot_h;

    let mut svg = open_svg(WIDTH, HEIGHT, title);
    for (i, run) in runs[..n].iter().enumerate() {
        if run.failed {
            let _ = writeln!(
                svg,
                "<rect x=\"{:.1}\" y=\"{MARGIN_TOP:.1}\" width=\"{slot_w:.1}\" height=\"{plot_h:.1}\" fill=\"{FAILED_BAND_COLOUR}\"/>",
                MARGIN_LEFT + i as f64 * slot_w
            );
        }
    }
    for tick in 0..=Y_TICKS {
        let value = top * f64::from(tick) / f64::from(Y_TICKS);
        let y = y_of(value);
        let _ = writeln!(
            svg,
            "<line class=\"grid\" x1=\"{MARGIN_LEFT:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            MARGIN_LEFT + plot_w,
            MARGIN_LEFT - 6.0,
            y + 4.0,
            axis.label(value)
        );
    }
    let label_w = runs[..n]
        .iter()
        .map(|r| {
            label_number(r)
                .chars()
                .count()
                .max(r.commit_short.chars().count())
        })
        .max()
        .unwrap_or(0) as f64
        * LABEL_CHAR_WIDTH
        + LABEL_GAP;
    for i in label_indices(n, plot_w, label_w) {
        let run = &runs[i];
        let x = x_of(i);
        let _ = writeln!(
            svg,
            "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            bottom + LABEL_LINE_HEIGHT + 2.0,
            escape(&label_number(run)),
            bottom + 2.0 * LABEL_LINE_HEIGHT + 2.0,
            escape(&run.commit_short)
        );
    }
    for segment in segments(&values[..n]) {
        let coords: Vec<String> = segment
            .iter()
            .map(|&(i, v)| format!("{:.1},{:.1}", x_of(i), y_of(v)))
            .collect();
        let _ = writeln!(
            svg,
            "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\"/>",
            PALETTE[0],
            coords.join(" ")
        );
    }
    for (i, (run, value)) in runs[..n].iter().zip(&values[..n]).enumerate() {
        let Some(v) = value.filter(|v| v.is_finite()) else {
            continue;
        };
        let (colour, radius, note) = if run.failed {
            (FAILED_COLOUR, FAILED_MARKER_RADIUS, ", failed")
        } else {
            (PALETTE[0], MARKER_RADIUS, "")
        };
        let _ = writeln!(
            svg,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"{radius:.1}\" fill=\"{colour}\"><title>{} {}: {}{note}</title></circle>",
            x_of(i),
            y_of(v),
            escape(&label_number(run)),
            escape(&run.commit_short),
            axis.label(v)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

fn label_number(run: &RunTick) -> String {
    format!("#{}", run.number)
}

/// Which of `n` runs get an x label so that labels `label_w` wide, on a `plot_w` axis split
/// into `n` equal slots, never overlap: every `step`-th, counted back from the newest so the
/// latest run is always labelled.
fn label_indices(n: usize, plot_w: f64, label_w: f64) -> Vec<usize> {
    if n == 0 {
        return Vec::new();
    }
    let fitting = ((plot_w / label_w.max(1.0)).floor() as usize).max(1);
    let step = n.div_ceil(fitting);
    let mut out: Vec<usize> = (0..n).rev().step_by(step).collect();
    out.reverse();
    out
}

/// Runs of consecutive present, finite values, with their indices.
fn segments(values: &[Option<f64>]) -> Vec<Vec<(usize, f64)>> {
    let mut out: Vec<Vec<(usize, f64)>> = Vec::new();
    let mut current = Vec::new();
    for (i, value) in values.iter().enumerate() {
        match value.filter(|v| v.is_finite()) {
            Some(v) => current.push((i, v)),
            None if !current.is_empty() => out.push(std::mem::take(&mut current)),
            None => {}
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// The smallest round number (see [`NICE_TOPS_TENTHS`]) at or above `x`; 1 for nothing
/// positive.
fn nice_ceiling_f64(x: f64) -> f64 {
    if !(x.is_finite() && x > 0.0) {
        return 1.0;
    }
    let mut magnitude = 10f64.powi(x.log10().floor() as i32);
    loop {
        for tenths in NICE_TOPS_TENTHS {
            let candidate = tenths as f64 * magnitude / 10.0;
            if candidate >= x {
                return candidate;
            }
        }
        magnitude *= 10.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinned_labels_never_overlap_and_the_newest_is_kept() {
        let plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT;
        let label_w = 7.0 * LABEL_CHAR_WIDTH + LABEL_GAP;
        for n in [1usize, 2, 8, 9, 50, 499, 500, 10_000] {
            let shown = label_indices(n, plot_w, label_w);
            assert_eq!(shown.last(), Some(&(n - 1)), "n={n}");
            let slot_w = plot_w / n as f64;
            for pair in shown.windows(2) {
                let gap = (pair[1] - pair[0]) as f64 * slot_w;
                assert!(gap >= label_w, "n={n}: {pair:?} only {gap:.1} apart");
            }
        }
        // Few runs: every one labelled.
        assert_eq!(
            label_indices(8, plot_w, label_w),
            (0..8).collect::<Vec<_>>()
        );
        assert!(label_indices(0, plot_w, label_w).is_empty());
    }

    #[test]
    fn missing_values_break_the_line() {
        let segs = segments(&[Some(1.0), None, Some(2.0), Some(3.0), Some(f64::NAN), None]);
        assert_eq!(segs, vec![vec![(0, 1.0)], vec![(2, 2.0), (3, 3.0)]]);
    }

    #[test]
    fn rate_axis_tops_are_round() {
        assert_eq!(nice_ceiling_f64(0.0), 1.0);
        assert_eq!(nice_ceiling_f64(f64::NAN), 1.0);
        assert_eq!(nice_ceiling_f64(0.37), 0.4);
        assert_eq!(nice_ceiling_f64(95.0), 100.0);
        assert_eq!(nice_ceiling_f64(1_100.0), 1_200.0);
        assert_eq!(nice_ceiling_f64(5_000.0), 5_000.0);
    }

    #[test]
    fn failed_runs_are_red_and_every_point_has_a_tooltip() {
        let runs: Vec<RunTick> = (1..=3)
            .map(|number| RunTick {
                number,
                commit_short: format!("c{number}"),
                failed: number == 2,
            })
            .collect();
        let svg = line_chart(
            "t",
            &runs,
            &[Some(100.0), Some(250.0), None],
            YAxis::LatencyUs,
        );
        assert_eq!(svg.matches("<circle ").count(), 2);
        assert_eq!(svg.matches(&format!("fill=\"{FAILED_COLOUR}\"")).count(), 1);
        assert_eq!(
            svg.matches(&format!("fill=\"{FAILED_BAND_COLOUR}\""))
                .count(),
            1
        );
        assert!(svg.contains("<title>#2 c2: 250us, failed</title>"), "{svg}");
        assert!(
            svg.contains(">#3</text>"),
            "the run without a value is still labelled"
        );
    }
}
