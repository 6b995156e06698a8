//! One self-contained HTML page: inline CSS and inline SVG, no scripts, fonts or external
//! resources, so it can be attached to a CI run and opened anywhere.

use crate::names::ordered_names;
use crate::render::format;
use crate::render::svg::{self, Bar};
use crate::render::table::{Align, Table};
use crate::render::{capacity, probes, sections};
use crate::report::Report;
use crate::schema::SCHEMA_VERSION;

/// Rows per halving of the distance to 100% in the percentile charts: coarser than `.hgrm`'s 5,
/// since a 480-unit-wide chart cannot show more.
const CHART_TICKS_PER_HALF_DISTANCE: std::num::NonZeroU32 = std::num::NonZeroU32::new(2).unwrap();

pub(crate) const STYLE: &str = "\
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:64rem;padding:0 1rem;color:#1b1b1b}\
h1{font-size:1.5rem}h2{font-size:1.2rem;border-bottom:1px solid #ccc;padding-bottom:.2rem}\
table{border-collapse:collapse;margin:.5rem 0}th,td{padding:.2rem .6rem;border-bottom:1px solid #e4e4e4}\
th{background:#f4f4f4}.l{text-align:left}.r{text-align:right;font-variant-numeric:tabular-nums}\
.verdict{padding:.5rem 1rem;font-weight:bold;border-radius:4px}\
.pass{background:#e3f4e8;color:#0b5d1e}.fail{background:#fbe4e4;color:#8a1111}\
pre{background:#f6f6f6;padding:.6rem;overflow-x:auto}\
figure{display:inline-block;margin:.5rem 1rem .5rem 0;vertical-align:top}\
figcaption{font-size:.85rem;color:#555}\
svg.chart{font-size:11px;fill:#333}svg.chart .grid{stroke:#ddd;stroke-width:1}\
.note{color:#666;font-size:.9rem}\
tr.starved td,tr.failed td{background:#fbe4e4;color:#8a1111;font-weight:bold}";

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The report as a single HTML5 page with tables and charts.
pub fn render_html(report: &Report) -> String {
    let title = format!("StemeDB simulation report {}", report.run_id);
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        escape(&title),
        escape(&title)
    );

    let mut meta = Table::new(&[("field", Align::Left), ("value", Align::Left)]);
    for (label, value) in sections::meta_rows(report) {
        meta.row(vec![label.to_owned(), value]);
    }
    out.push_str("<section>\n");
    out.push_str(&meta.to_html("meta"));
    out.push_str("</section>\n");

    out.push_str(&outcome_section(report));
    out.push_str(&latency_section(report));

    out.push_str(&format!(
        "<section>\n<h2>Throughput</h2>\n<p>{}</p>\n</section>\n",
        escape(&sections::throughput_line(report))
    ));

    out.push_str(&capacity_section(report));
    out.push_str(&counts_section(report));
    out.push_str(&probes_section(report));

    if let Some(line) = sections::wall_line(report) {
        out.push_str(&format!(
            "<section>\n<h2>Wall clock</h2>\n<p class=\"note\">Not deterministic: varies with the \
             machine and its load; excluded from fingerprints and comparisons.</p>\n<p>{}</p>\n</section>\n",
            escape(&line)
        ));
    }

    out.push_str(&format!(
        "<footer class=\"note\">Report schema {SCHEMA_VERSION}. Latencies are in simulated time.</footer>\n\
         </body>\n</html>\n"
    ));
    out
}

fn outcome_section(report: &Report) -> String {
    let class = if report.verdict().is_failure() {
        "fail"
    } else {
        "pass"
    };
    let mut out = format!(
        "<section>\n<h2>Outcome</h2>\n<p class=\"verdict {class}\">{}</p>\n",
        escape(&sections::outcome_headline(report))
    );
    let groups = sections::failure_groups_table(report);
    if !groups.is_empty() {
        out.push_str("<h3>Failures by signature</h3>\n");
        out.push_str(&groups.to_html("failure-groups"));
        out.push_str("<h3>Failing runs</h3>\n");
    }
    let (failures, hidden) = sections::failures_table(report);
    if !failures.is_empty() {
        out.push_str(&failures.to_html("failures"));
        out.push_str("<p>Reproduce:</p>\n<pre><code>");
        out.push_str(&escape(&sections::shown_reproduce_lines(report).join("\n")));
        out.push_str("</code></pre>\n");
        if hidden > 0 {
            out.push_str(&format!("<p>… and {hidden} more failures.</p>\n"));
        }
    }
    out.push_str("</section>\n");
    out
}

fn latency_section(report: &Report) -> String {
    let mut out = String::from("<section>\n<h2>Latency (simulated time)</h2>\n");
    let table = sections::latency_table(report);
    if table.is_empty() {
        out.push_str("<p>None recorded.</p>\n</section>\n");
        return out;
    }
    out.push_str(&table.to_html("latency"));
    for name in ordered_names(report.latencies.keys()) {
        let Some(hist) = report.latencies.get(name) else {
            continue;
        };
        let s = hist.summary();
        let bars: Vec<Bar> = [
            ("p50", s.p50_us),
            ("p90", s.p90_us),
            ("p99", s.p99_us),
            ("p99.9", s.p999_us),
            ("max", s.max_us),
        ]
        .into_iter()
        .map(|(label, us)| Bar {
            label: label.to_owned(),
            value: us as f64,
            value_text: format::latency_us(us),
        })
        .collect();
        out.push_str(&format!(
            "<figure>\n{}<figcaption>{} percentiles ({} samples)</figcaption>\n</figure>\n",
            svg::bar_chart(&format!("{name} percentiles"), &bars),
            escape(name),
            format::count(s.count)
        ));
        out.push_str(&format!(
            "<figure>\n{}<figcaption>{} latency by percentile</figcaption>\n</figure>\n",
            svg::percentile_chart(
                &format!("{name} latency by percentile"),
                &hist.percentile_points(CHART_TICKS_PER_HALF_DISTANCE)
            ),
            escape(name)
        ));
    }
    out.push_str("</section>\n");
    out
}

fn counts_section(report: &Report) -> String {
    let mut out = String::from("<section>\n<h2>Counts</h2>\n");
    let mut any = false;
    for (family, map) in sections::count_families(report) {
        if map.is_empty() {
            continue;
        }
        any = true;
        let bars: Vec<Bar> = map
            .iter()
            .map(|(name, n)| Bar {
                label: name.clone(),
                value: *n as f64,
                value_text: format::count(*n),
            })
            .collect();
        out.push_str(&format!(
            "<figure>\n{}<figcaption>{family}</figcaption>\n</figure>\n",
            svg::bar_chart(family, &bars)
        ));
    }
    if any {
        out.push_str(&sections::counts_table(report).to_html("counts"));
    } else {
        out.push_str("<p>None recorded.</p>\n");
    }
    out.push_str("</section>\n");
    out
}

fn capacity_section(report: &Report) -> String {
    let table = capacity::capacity_table(report);
    if table.is_empty() {
        return String::new();
    }
    let bars: Vec<Bar> = report
        .capacity
        .values()
        .map(|c| Bar {
            label: format!("{} writers", c.writers),
            value: c.ops_per_sim_s(),
            value_text: format::rate(c.ops_per_sim_s()),
        })
        .collect();
    format!(
        "<section>\n<h2>Capacity (closed loop, simulated time)</h2>\n<p class=\"note\">Each \
         writer issues its next operation when the previous one is acknowledged: ops per \
         simulated second at each concurrency, and what it costs in acknowledgement \
         latency.</p>\n<figure>\n{}<figcaption>ops/sim-s by writers</figcaption>\n</figure>\n{}</section>\n",
        svg::bar_chart("ops per simulated second by writers", &bars),
        table.to_html("capacity")
    )
}

fn probes_section(report: &Report) -> String {
    let Some(headline) = probes::probes_headline(report) else {
        return String::new();
    };
    format!(
        "<section>\n<h2>Fault-path probes</h2>\n<p>{}</p>\n{}</section>\n",
        escape(&headline),
        probes::probes_table(report).to_html("probes")
    )
}
