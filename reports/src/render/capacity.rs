//! The closed-loop capacity section every renderer shows.

use crate::render::format;
use crate::render::table::{Align, Table};
use crate::report::Report;

/// One row per writer count, ascending: ops per simulated second and acknowledgement latency.
pub fn capacity_table(report: &Report) -> Table {
    let mut table = Table::new(&[
        ("writers", Align::Right),
        ("ops/sim-s", Align::Right),
        ("ack p50", Align::Right),
        ("ack p99", Align::Right),
        ("ack max", Align::Right),
    ]);
    for capacity in report.capacity.values() {
        let s = capacity.ack_latency_us.summary();
        table.row(vec![
            capacity.writers.to_string(),
            format::rate(capacity.ops_per_sim_s()),
            format::latency_us(s.p50_us),
            format::latency_us(s.p99_us),
            format::latency_us(s.max_us),
        ]);
    }
    table
}
