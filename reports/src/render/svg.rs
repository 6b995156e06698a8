//! Inline SVG charts drawn by hand (no scripts, no fonts beyond the page's own), so the HTML
//! report is one self-contained file.

use std::fmt::Write as _;

use crate::hgrm::PercentilePoint;
use crate::render::format;
use crate::render::html::escape;

/// Series colours, colour-blind-safe (Okabe-Ito), cycled.
pub(super) const PALETTE: [&str; 6] = [
    "#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00",
];

/// Bar chart geometry, in SVG user units.
const BAR_CHART_WIDTH: f64 = 480.0;
const BAR_HEIGHT: f64 = 18.0;
const BAR_GAP: f64 = 6.0;
const BAR_LABEL_WIDTH: f64 = 120.0;
const BAR_VALUE_WIDTH: f64 = 90.0;
/// Longest bar label that fits in [`BAR_LABEL_WIDTH`] at the page's 11px font; longer ones are
/// cut with an ellipsis (the full name is in the table beside the chart).
const BAR_LABEL_MAX_CHARS: usize = 18;
const CHART_PADDING: f64 = 8.0;

/// Percentile chart geometry.
const CURVE_WIDTH: f64 = 480.0;
const CURVE_HEIGHT: f64 = 240.0;
const CURVE_MARGIN_LEFT: f64 = 64.0;
const CURVE_MARGIN_RIGHT: f64 = 16.0;
const CURVE_MARGIN_TOP: f64 = 12.0;
const CURVE_MARGIN_BOTTOM: f64 = 36.0;
/// The x axis spans quantiles 0 to 99.9999%: six decades of 1/(1-q). The 100% point is drawn at
/// the right edge.
const CURVE_DECADES: u32 = 6;
/// Horizontal grid lines (and y labels) on the percentile chart.
const CURVE_Y_TICKS: u32 = 4;

/// One horizontal bar: label, value, and the text printed after the bar.
pub struct Bar {
    pub label: String,
    pub value: f64,
    pub value_text: String,
}

/// Horizontal bars scaled to the largest value, with a title for screen readers.
pub fn bar_chart(title: &str, bars: &[Bar]) -> String {
    let height = CHART_PADDING * 2.0 + bars.len() as f64 * (BAR_HEIGHT + BAR_GAP);
    let max = bars.iter().map(|b| b.value).fold(0.0_f64, f64::max);
    let track = BAR_CHART_WIDTH - BAR_LABEL_WIDTH - BAR_VALUE_WIDTH - CHART_PADDING;
    let mut svg = open_svg(BAR_CHART_WIDTH, height, title);
    for (i, bar) in bars.iter().enumerate() {
        let y = CHART_PADDING + i as f64 * (BAR_HEIGHT + BAR_GAP);
        let width = if max > 0.0 {
            (bar.value / max * track).max(0.0)
        } else {
            0.0
        };
        let text_y = y + BAR_HEIGHT * 0.75;
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{text_y:.1}\" text-anchor=\"end\">{}</text>\
             <rect x=\"{BAR_LABEL_WIDTH:.1}\" y=\"{y:.1}\" width=\"{width:.1}\" height=\"{BAR_HEIGHT:.1}\" fill=\"{}\"/>\
             <text x=\"{:.1}\" y=\"{text_y:.1}\">{}</text>",
            BAR_LABEL_WIDTH - CHART_PADDING,
            escape(&truncate(&bar.label, BAR_LABEL_MAX_CHARS)),
            PALETTE[i % PALETTE.len()],
            BAR_LABEL_WIDTH + width + CHART_PADDING / 2.0,
            escape(&bar.value_text),
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// The classic HdrHistogram plot: latency against quantile on a log(1/(1-q)) axis.
pub fn percentile_chart(title: &str, points: &[PercentilePoint]) -> String {
    let plot_w = CURVE_WIDTH - CURVE_MARGIN_LEFT - CURVE_MARGIN_RIGHT;
    let plot_h = CURVE_HEIGHT - CURVE_MARGIN_TOP - CURVE_MARGIN_BOTTOM;
    let bottom = CURVE_MARGIN_TOP + plot_h;
    let max_us = points.iter().map(|p| p.value_us).max().unwrap_or(0);
    let y_top_us = nice_ceiling(max_us);
    let x_of = |q: f64| -> f64 {
        let decades = if q >= 1.0 {
            f64::from(CURVE_DECADES)
        } else {
            (1.0 / (1.0 - q)).log10().min(f64::from(CURVE_DECADES))
        };
        CURVE_MARGIN_LEFT + decades / f64::from(CURVE_DECADES) * plot_w
    };
    let y_of = |us: u64| -> f64 { bottom - us as f64 / y_top_us as f64 * plot_h };

    let mut svg = open_svg(CURVE_WIDTH, CURVE_HEIGHT, title);
    for decade in 0..=CURVE_DECADES {
        let x = CURVE_MARGIN_LEFT + f64::from(decade) / f64::from(CURVE_DECADES) * plot_w;
        // The last label ends at its grid line so it stays inside the chart.
        let anchor = if decade == CURVE_DECADES {
            "end"
        } else {
            "middle"
        };
        let _ = writeln!(
            svg,
            "<line class=\"grid\" x1=\"{x:.1}\" y1=\"{CURVE_MARGIN_TOP:.1}\" x2=\"{x:.1}\" y2=\"{bottom:.1}\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\">{}</text>",
            bottom + 16.0,
            decade_label(decade)
        );
    }
    for tick in 0..=CURVE_Y_TICKS {
        let us = u64::try_from(u128::from(y_top_us) * u128::from(tick) / u128::from(CURVE_Y_TICKS))
            .unwrap_or(y_top_us);
        let y = y_of(us);
        let _ = writeln!(
            svg,
            "<line class=\"grid\" x1=\"{CURVE_MARGIN_LEFT:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            CURVE_MARGIN_LEFT + plot_w,
            CURVE_MARGIN_LEFT - 6.0,
            y + 4.0,
            format::latency_us(us)
        );
    }
    let _ = writeln!(
        svg,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">percentile (%)</text>",
        CURVE_MARGIN_LEFT + plot_w / 2.0,
        CURVE_HEIGHT - 4.0
    );
    if !points.is_empty() {
        let coords: Vec<String> = points
            .iter()
            .map(|p| format!("{:.1},{:.1}", x_of(p.quantile), y_of(p.value_us)))
            .collect();
        let _ = writeln!(
            svg,
            "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\"/>",
            PALETTE[0],
            coords.join(" ")
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// `text` cut to `max_chars` characters, the last replaced by an ellipsis when cut.
fn truncate(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max_chars.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

pub(super) fn open_svg(width: f64, height: f64, title: &str) -> String {
    format!(
        "<svg class=\"chart\" viewBox=\"0 0 {width:.0} {height:.0}\" width=\"{width:.0}\" height=\"{height:.0}\" role=\"img\">\
         <title>{}</title>\n",
        escape(title)
    )
}

/// `0`, `90`, `99`, ... for decade `d` of 1/(1-q), in percent (the axis title says so: with a
/// `%` on each, the last two labels ran into each other at the page's font).
fn decade_label(decade: u32) -> String {
    // Quantile 1 - 10^-d: 0, 90, 99, then one more 9 after the point per decade.
    match decade {
        0 => "0".to_owned(),
        1 => "90".to_owned(),
        2 => "99".to_owned(),
        _ => format!("99.{}", "9".repeat(decade as usize - 2)),
    }
}

/// Round axis tops, in tenths of a power of ten. Each divides into [`CURVE_Y_TICKS`] readable
/// steps (2.5, 3, 4, 5, 6, 8, 10, 12.5, 15, 20), and consecutive ones are close enough that the
/// curve fills most of the chart.
pub(super) const NICE_TOPS_TENTHS: [u128; 10] = [10, 12, 16, 20, 24, 32, 40, 50, 60, 80];

/// The smallest round number (see [`NICE_TOPS_TENTHS`]) at or above `us`, at least 1.
pub(super) fn nice_ceiling(us: u64) -> u64 {
    let target = u128::from(us.max(1));
    let mut magnitude = 1u128;
    loop {
        for tenths in NICE_TOPS_TENTHS {
            let candidate = tenths * magnitude / 10;
            if candidate >= target {
                return u64::try_from(candidate).unwrap_or(u64::MAX);
            }
        }
        magnitude *= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_labels_are_cut() {
        assert_eq!(truncate("short", 18), "short");
        assert_eq!(truncate("abcdefghijklmnopqrstuvwxyz", 5), "abcd…");
    }

    #[test]
    fn decade_labels_read_as_nines() {
        let labels: Vec<String> = (0..=4).map(decade_label).collect();
        assert_eq!(labels, ["0", "90", "99", "99.9", "99.99"]);
    }

    #[test]
    fn nice_ceiling_rounds_up_to_a_round_top() {
        assert_eq!(nice_ceiling(0), 1);
        assert_eq!(nice_ceiling(3), 3);
        assert_eq!(nice_ceiling(1_100), 1_200);
        assert_eq!(nice_ceiling(10_007), 12_000);
        assert_eq!(nice_ceiling(5_000), 5_000);
        assert_eq!(nice_ceiling(u64::MAX), u64::MAX);
    }
}
