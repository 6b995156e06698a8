//! The classic HdrHistogram percentile-distribution text (`.hgrm`), as Java's
//! `outputPercentileDistribution` prints it, so existing plotters (e.g. HdrHistogram's
//! plotFiles.html) read our files. hdrhistogram 7 has no printer, so this is one.

use std::fmt::Write as _;
use std::num::{NonZeroU32, NonZeroU64};

use crate::histogram::{LatencyHistogram, LATENCY_SIGNIFICANT_DIGITS};

/// Quantile rows per halving of the distance to 100%: HdrHistogram's customary default.
pub const HGRM_DEFAULT_TICKS_PER_HALF_DISTANCE: NonZeroU32 = NonZeroU32::new(5).unwrap();

/// One row of a percentile distribution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PercentilePoint {
    /// The quantile this row was iterated to, in `[0, 1]`.
    pub quantile: f64,
    /// Highest latency equivalent to the values at this quantile, in simulated microseconds.
    pub value_us: u64,
    /// Number of recorded latencies at or below `value_us`.
    pub count_at_or_below: u64,
}

/// How to print a `.hgrm` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HgrmOptions {
    /// Rows per halving of the distance to 100% (Java's `percentileTicksPerHalfDistance`).
    pub ticks_per_half_distance: NonZeroU32,
    /// Recorded values are divided by this before printing: 1 prints microseconds, 1000
    /// milliseconds (Java's `outputValueUnitScalingRatio`).
    pub unit_scaling_ratio: NonZeroU64,
}

impl Default for HgrmOptions {
    fn default() -> Self {
        Self {
            ticks_per_half_distance: HGRM_DEFAULT_TICKS_PER_HALF_DISTANCE,
            unit_scaling_ratio: NonZeroU64::MIN,
        }
    }
}

impl LatencyHistogram {
    /// The percentile distribution with `ticks_per_half_distance` rows per halving of the
    /// distance to 100%, ending with the row at quantile 1. Empty when nothing was recorded.
    pub fn percentile_points(&self, ticks_per_half_distance: NonZeroU32) -> Vec<PercentilePoint> {
        let hist = self.as_hdr();
        if hist.is_empty() {
            return Vec::new();
        }
        let mut count_at_or_below = 0u64;
        hist.iter_quantiles(ticks_per_half_distance.get())
            .map(|step| {
                count_at_or_below =
                    count_at_or_below.saturating_add(step.count_since_last_iteration());
                PercentilePoint {
                    quantile: step.quantile_iterated_to(),
                    value_us: step.value_iterated_to(),
                    count_at_or_below,
                }
            })
            .collect()
    }

    /// The `.hgrm` text with default options (microseconds, 5 ticks per half distance).
    pub fn to_hgrm(&self) -> String {
        self.to_hgrm_with(HgrmOptions::default())
    }

    /// The `.hgrm` text: header, one row per percentile point, then the Mean/StdDeviation,
    /// Max/Total count and Buckets/SubBuckets footer.
    pub fn to_hgrm_with(&self, options: HgrmOptions) -> String {
        let digits = usize::from(LATENCY_SIGNIFICANT_DIGITS);
        let scale = options.unit_scaling_ratio.get() as f64;
        let mut out = String::new();
        // `write!` into a String cannot fail.
        let _ = write!(
            out,
            "{:>12} {:>14} {:>10} {:>14}\n\n",
            "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
        );
        for point in self.percentile_points(options.ticks_per_half_distance) {
            let value = point.value_us as f64 / scale;
            if point.quantile < 1.0 {
                let _ = writeln!(
                    out,
                    "{value:>12.digits$} {:>2.12} {:>10} {:>14.2}",
                    point.quantile,
                    point.count_at_or_below,
                    1.0 / (1.0 - point.quantile)
                );
            } else {
                let _ = writeln!(
                    out,
                    "{value:>12.digits$} {:>2.12} {:>10}",
                    point.quantile, point.count_at_or_below
                );
            }
        }
        let hist = self.as_hdr();
        let max = if hist.is_empty() { 0 } else { hist.max() };
        let _ = writeln!(
            out,
            "#[Mean    = {:>12.digits$}, StdDeviation   = {:>12.digits$}]",
            hist.mean() / scale,
            hist.stdev() / scale
        );
        let _ = writeln!(
            out,
            "#[Max     = {:>12.digits$}, Total count    = {:>12}]",
            max as f64 / scale,
            hist.len()
        );
        let _ = writeln!(
            out,
            "#[Buckets = {:>12}, SubBuckets     = {:>12}]",
            hist.buckets(),
            sub_bucket_count()
        );
        out
    }
}

/// Slots per bucket: the smallest power of two covering `2 * 10^digits` (HdrHistogram's
/// `subBucketCount`; 2048 for 3 digits). hdrhistogram 7 does not expose it.
fn sub_bucket_count() -> u64 {
    let single_unit_range = 2 * 10u64.pow(u32::from(LATENCY_SIGNIFICANT_DIGITS));
    single_unit_range.next_power_of_two()
}
