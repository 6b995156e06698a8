//! `LatencySummary`: the handful of numbers people read off a latency distribution.

use serde::{Deserialize, Serialize};

/// Summary of a [`crate::LatencyHistogram`], in simulated microseconds.
///
/// Percentiles are HdrHistogram values: the highest value equivalent (within 0.1%) to the
/// recorded ones at that rank, so they are exact to the histogram's precision, not interpolated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    pub count: u64,
    pub min_us: u64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
    pub mean_us: f64,
}
