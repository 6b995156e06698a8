//! Simulated I/O latency: a log-normal distribution per operation kind plus rare stalls, drawn
//! from the latency stream so concurrent tasks interleave differently per seed.

use std::time::Duration;

use rand::Rng;
use rand_distr::{Distribution, LogNormal};
use serde::{Deserialize, Serialize};

use crate::rng::SimRng;

/// A log-normal latency: `median_us` and the spread `sigma_milli` (sigma x 1000; 0 = constant).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatencyDist {
    pub median_us: u64,
    pub sigma_milli: u32,
}

impl LatencyDist {
    pub const fn new(median_us: u64, sigma_milli: u32) -> Self {
        Self {
            median_us,
            sigma_milli,
        }
    }

    fn sample_us(&self, rng: &mut SimRng) -> u64 {
        if self.median_us == 0 {
            return 0;
        }
        if self.sigma_milli == 0 {
            return self.median_us;
        }
        let sigma = f64::from(self.sigma_milli) / 1000.0;
        match LogNormal::new((self.median_us as f64).ln(), sigma) {
            // Cap the tail so one absurd draw cannot stall a whole simulated run.
            Ok(dist) => (dist.sample(rng) as u64).min(self.median_us * LATENCY_TAIL_FACTOR_MAX),
            Err(_) => self.median_us,
        }
    }
}

/// Longest ordinary draw, as a multiple of the median (stalls are separate).
const LATENCY_TAIL_FACTOR_MAX: u64 = 50;

/// Per-kind latency of the simulated disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatencyModel {
    pub read: LatencyDist,
    pub write: LatencyDist,
    pub sync: LatencyDist,
    pub metadata: LatencyDist,
    /// Chance per call, in parts per million, that the call stalls for `stall_us` on top.
    pub stall_per_million: u32,
    pub stall_us: u64,
}

/// The kind of a simulated call, for latency.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OpClass {
    Read,
    Write,
    Sync,
    Metadata,
}

impl LatencyModel {
    /// A datacentre NVMe SSD with a volatile cache: buffered writes are cheap, fdatasync costs a
    /// few hundred microseconds with a long tail, and one call in ten thousand stalls (GC).
    pub const fn ssd() -> Self {
        Self {
            read: LatencyDist::new(80, 400),
            write: LatencyDist::new(12, 300),
            sync: LatencyDist::new(350, 600),
            metadata: LatencyDist::new(25, 300),
            stall_per_million: 100,
            stall_us: 20_000,
        }
    }

    /// The longest one call can take under this model: the slowest class's capped tail plus a
    /// stall. Oracles that wait for "no call in flight" wait longer than this.
    pub fn call_max(&self) -> Duration {
        let tail_us = |d: LatencyDist| {
            if d.sigma_milli == 0 {
                d.median_us
            } else {
                d.median_us.saturating_mul(LATENCY_TAIL_FACTOR_MAX)
            }
        };
        let slowest_us = [self.read, self.write, self.sync, self.metadata]
            .into_iter()
            .map(tail_us)
            .max()
            .unwrap_or(0);
        Duration::from_micros(slowest_us.saturating_add(self.stall_us))
    }

    pub(crate) fn sample(&self, class: OpClass, rng: &mut SimRng) -> Duration {
        let dist = match class {
            OpClass::Read => self.read,
            OpClass::Write => self.write,
            OpClass::Sync => self.sync,
            OpClass::Metadata => self.metadata,
        };
        let mut us = dist.sample_us(rng);
        if self.stall_per_million > 0 && rng.random_range(0..1_000_000) < self.stall_per_million {
            us += self.stall_us;
        }
        Duration::from_micros(us)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Oracles wait out `call_max` to know no call is in flight: no draw may exceed it.
    #[test]
    fn no_draw_exceeds_call_max() {
        let slow = LatencyModel {
            sync: LatencyDist::new(9_000, 500),
            stall_per_million: 200_000,
            stall_us: 60_000,
            ..LatencyModel::ssd()
        };
        for model in [LatencyModel::ssd(), slow] {
            let max = model.call_max();
            let mut rng = crate::rng::stream(7, "latency-test");
            let mut longest = Duration::ZERO;
            for _ in 0..50_000 {
                for class in [
                    OpClass::Read,
                    OpClass::Write,
                    OpClass::Sync,
                    OpClass::Metadata,
                ] {
                    longest = longest.max(model.sample(class, &mut rng));
                }
            }
            assert!(
                longest <= max,
                "{longest:?} drawn, {max:?} claimed the longest"
            );
            assert!(
                longest > max / 20,
                "the bound should not be vacuous: {longest:?} vs {max:?}"
            );
        }
    }
}
