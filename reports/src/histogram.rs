//! `LatencyHistogram`: latencies in simulated microseconds, mergeable exactly.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::histogram_codec::{self, HistogramDecodeError, HistogramEncodeError};
use crate::summary::LatencySummary;

/// Smallest distinguishable latency. A simulated latency of 0 µs is recorded as this, because an
/// HdrHistogram with a lowest value of 1 keeps full precision from the bottom up.
pub const LATENCY_LOWEST_US: u64 = 1;
/// Largest recordable latency: one simulated hour. Anything longer saturates to this value and is
/// counted in [`LatencyHistogram::saturated_count`], since a simulated hour-long stall is a bug to
/// look at rather than a number to average.
pub const LATENCY_HIGHEST_US: u64 = 3_600_000_000;
/// Decimal digits of precision kept across the whole range (0.1% relative error).
pub const LATENCY_SIGNIFICANT_DIGITS: u8 = 3;

/// Quantiles reported in [`LatencySummary`].
const SUMMARY_P50: f64 = 0.50;
const SUMMARY_P90: f64 = 0.90;
const SUMMARY_P99: f64 = 0.99;
const SUMMARY_P999: f64 = 0.999;

/// Number of count slots in a histogram with our bounds (the decoder checks payloads against it).
pub(crate) fn slot_count() -> usize {
    LatencyHistogram::new().hist.distinct_values()
}

/// A latency distribution in simulated microseconds.
///
/// Two histograms add exactly ([`LatencyHistogram::merge`]): every instance has the same fixed
/// bounds, so shard reports merge into the same counts as one run recording everything.
#[derive(Debug, Clone, PartialEq)]
pub struct LatencyHistogram {
    hist: Histogram<u64>,
    saturated_count: u64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyHistogram {
    /// An empty histogram.
    pub fn new() -> Self {
        // Constant, valid bounds: hdrhistogram only refuses lowest < 1, highest < 2 * lowest or
        // more than 5 significant digits.
        let hist = match Histogram::new_with_bounds(
            LATENCY_LOWEST_US,
            LATENCY_HIGHEST_US,
            LATENCY_SIGNIFICANT_DIGITS,
        ) {
            Ok(hist) => hist,
            Err(e) => unreachable!("constant histogram bounds rejected: {e}"),
        };
        Self {
            hist,
            saturated_count: 0,
        }
    }

    /// Records one latency. 0 is recorded as 1 µs; above [`LATENCY_HIGHEST_US`] is recorded as
    /// that maximum and counted as saturated.
    pub fn record(&mut self, latency_us: u64) {
        self.record_n(latency_us, 1);
    }

    /// Records `count` occurrences of one latency, with the same clamping as [`Self::record`].
    pub fn record_n(&mut self, latency_us: u64, count: u64) {
        if count == 0 {
            return;
        }
        if latency_us > LATENCY_HIGHEST_US {
            self.saturated_count = self.saturated_count.saturating_add(count);
        }
        let clamped_us = latency_us.clamp(LATENCY_LOWEST_US, LATENCY_HIGHEST_US);
        // Infallible after the clamp; `saturating_*` also saturates the per-slot count instead of
        // failing if one slot ever exceeded u64::MAX.
        self.hist.saturating_record_n(clamped_us, count);
    }

    /// Adds `other`'s counts to this one. Exact: the result equals recording both sequences into
    /// one histogram.
    pub fn merge(&mut self, other: &LatencyHistogram) {
        // Identical bounds, so `add` is a slot-by-slot sum and cannot fail; should it ever, fall
        // back to re-recording each occupied slot, which is equally exact.
        if self.hist.add(&other.hist).is_err() {
            for slot in other.hist.iter_recorded() {
                self.hist
                    .saturating_record_n(slot.value_iterated_to(), slot.count_at_value());
            }
        }
        self.saturated_count = self.saturated_count.saturating_add(other.saturated_count);
    }

    /// Number of recorded latencies.
    pub fn count(&self) -> u64 {
        self.hist.len()
    }

    /// True if nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.hist.is_empty()
    }

    /// How many recorded latencies exceeded [`LATENCY_HIGHEST_US`] and were clamped to it.
    pub fn saturated_count(&self) -> u64 {
        self.saturated_count
    }

    /// The latency at quantile `q` in `[0, 1]`, to the histogram's precision; 0 when empty.
    pub fn value_at_quantile_us(&self, q: f64) -> u64 {
        if self.hist.is_empty() {
            return 0;
        }
        self.hist.value_at_quantile(q)
    }

    /// Count, min, percentiles, max and mean. All zero when empty.
    pub fn summary(&self) -> LatencySummary {
        if self.hist.is_empty() {
            return LatencySummary::default();
        }
        // Four single lookups rather than `value_at_quantiles`, which only exists from
        // hdrhistogram 7.6 while the workspace asks for 7.5.
        let at = |q: f64| self.hist.value_at_quantile(q);
        let (p50_us, p90_us, p99_us, p999_us) = (
            at(SUMMARY_P50),
            at(SUMMARY_P90),
            at(SUMMARY_P99),
            at(SUMMARY_P999),
        );
        LatencySummary {
            count: self.hist.len(),
            min_us: self.hist.min(),
            p50_us,
            p90_us,
            p99_us,
            p999_us,
            max_us: self.hist.max(),
            mean_us: self.hist.mean(),
        }
    }

    /// Standard deviation in microseconds (0 when empty).
    pub fn stdev_us(&self) -> f64 {
        self.hist.stdev()
    }

    /// The underlying HdrHistogram, for callers that need more than the summary.
    pub fn as_hdr(&self) -> &Histogram<u64> {
        &self.hist
    }

    /// Base64 of the uncompressed V2 encoding: the exact, mergeable form stored in the JSON.
    pub fn to_base64_v2(&self) -> Result<String, HistogramEncodeError> {
        histogram_codec::encode(&self.hist)
    }

    /// Reads back [`Self::to_base64_v2`]; the saturated count is carried separately because V2
    /// has no room for it.
    pub fn from_base64_v2(
        payload: &str,
        saturated_count: u64,
    ) -> Result<Self, HistogramDecodeError> {
        Ok(Self {
            hist: histogram_codec::decode(payload)?,
            saturated_count,
        })
    }
}

/// JSON form: the exact payload plus a human-readable summary. The summary is derived, so on
/// input it is ignored and recomputed from the payload.
#[derive(Serialize)]
struct LatencyHistogramOut {
    summary: LatencySummary,
    saturated_count: u64,
    hdr_v2_base64: String,
}

#[derive(Deserialize)]
pub(crate) struct LatencyHistogramIn {
    #[serde(default)]
    pub(crate) saturated_count: u64,
    pub(crate) hdr_v2_base64: String,
}

impl Serialize for LatencyHistogram {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let hdr_v2_base64 = self.to_base64_v2().map_err(serde::ser::Error::custom)?;
        LatencyHistogramOut {
            summary: self.summary(),
            saturated_count: self.saturated_count,
            hdr_v2_base64,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for LatencyHistogram {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = LatencyHistogramIn::deserialize(deserializer)?;
        Self::from_base64_v2(&wire.hdr_v2_base64, wire.saturated_count)
            .map_err(serde::de::Error::custom)
    }
}
