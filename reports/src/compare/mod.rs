//! Baseline comparison: flags latency percentiles that rose and throughput that fell by more than
//! named thresholds, and the same per writer count for closed-loop capacity. Only
//! simulated-time numbers are compared; wall clock never is.

mod capacity;
mod judge;
mod render;

pub use judge::compare;

use crate::outcome::Verdict;

/// Default allowed rise of p50/p90/p99 latency before it counts as a regression.
pub const DEFAULT_LATENCY_INCREASE_PCT: f64 = 10.0;
/// Default allowed rise of p99.9: tails move more between workloads, so a wider band.
pub const DEFAULT_TAIL_LATENCY_INCREASE_PCT: f64 = 20.0;
/// Default allowed drop in ops per simulated second (overall, per busy second, and per writer
/// count in the capacity phase).
pub const DEFAULT_THROUGHPUT_DECREASE_PCT: f64 = 10.0;
/// Default minimum samples on both sides before percentiles are compared: below this a p99.9
/// is a single sample's value and flags noise.
pub const DEFAULT_MIN_SAMPLES: u64 = 100;

/// How much worse a metric may get before it is flagged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    pub latency_p50_increase_pct: f64,
    pub latency_p90_increase_pct: f64,
    pub latency_p99_increase_pct: f64,
    pub latency_p999_increase_pct: f64,
    pub throughput_decrease_pct: f64,
    /// Latencies (capacity acknowledgement latencies included) with fewer samples than this, in
    /// either report, are not compared.
    pub min_samples: u64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            latency_p50_increase_pct: DEFAULT_LATENCY_INCREASE_PCT,
            latency_p90_increase_pct: DEFAULT_LATENCY_INCREASE_PCT,
            latency_p99_increase_pct: DEFAULT_LATENCY_INCREASE_PCT,
            latency_p999_increase_pct: DEFAULT_TAIL_LATENCY_INCREASE_PCT,
            throughput_decrease_pct: DEFAULT_THROUGHPUT_DECREASE_PCT,
            min_samples: DEFAULT_MIN_SAMPLES,
        }
    }
}

/// What a compared number measures, which fixes its unit and which direction is worse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// Simulated microseconds; higher is worse.
    LatencyUs,
    /// Operations per simulated (or busy simulated) second; lower is worse.
    OpsPerSimS,
}

/// The verdict on one metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricStatus {
    /// Worse by more than the threshold.
    Regressed,
    /// Better by more than the threshold.
    Improved,
    /// Within the threshold either way.
    Unchanged,
    /// Too few samples (or a zero baseline) to compare.
    NotComparable,
    /// Present only in the baseline.
    OnlyInBaseline,
    /// Present only in the current report.
    OnlyInCurrent,
}

impl MetricStatus {
    /// Lowercase label used in renderings.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricStatus::Regressed => "REGRESSED",
            MetricStatus::Improved => "improved",
            MetricStatus::Unchanged => "ok",
            MetricStatus::NotComparable => "not comparable",
            MetricStatus::OnlyInBaseline => "only in baseline",
            MetricStatus::OnlyInCurrent => "only in current",
        }
    }
}

/// One compared number.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricComparison {
    /// E.g. `latency.append_ack.p99`, `throughput.ops_per_sim_s` (or
    /// `throughput.ops_per_busy_sim_s` when both reports measured busy time),
    /// `capacity.writers_4.ops_per_sim_s`, `capacity.writers_4.ack.p99`.
    pub metric: String,
    pub kind: MetricKind,
    pub baseline: Option<f64>,
    pub current: Option<f64>,
    /// `(current - baseline) / baseline * 100`, when both exist and the baseline is non-zero.
    pub change_pct: Option<f64>,
    /// The threshold applied, in percent (in the "worse" direction).
    pub limit_pct: f64,
    pub status: MetricStatus,
}

/// How the worst verdicts compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutcomeComparison {
    pub baseline: Verdict,
    pub current: Verdict,
}

impl OutcomeComparison {
    /// A run that fails where the baseline passed, or fails more severely.
    pub fn is_regression(&self) -> bool {
        self.current.severity() > self.baseline.severity()
    }
}

/// The result of [`compare`].
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub thresholds: Thresholds,
    pub outcome: OutcomeComparison,
    pub metrics: Vec<MetricComparison>,
    /// Differences that make the comparison less meaningful (other seeds, options, commit...).
    pub notes: Vec<String>,
}

impl Comparison {
    /// True if any metric regressed or the outcome got worse.
    pub fn is_regression(&self) -> bool {
        self.outcome.is_regression() || self.regressions().next().is_some()
    }

    /// The metrics that regressed.
    pub fn regressions(&self) -> impl Iterator<Item = &MetricComparison> {
        self.metrics
            .iter()
            .filter(|m| m.status == MetricStatus::Regressed)
    }

    /// The metric named `metric`, if compared.
    pub fn metric(&self, metric: &str) -> Option<&MetricComparison> {
        self.metrics.iter().find(|m| m.metric == metric)
    }
}
