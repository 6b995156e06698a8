//! `SeedSet`: which seeds a report covers, as sorted disjoint inclusive ranges.
//!
//! Ranges rather than a list because a sweep covers millions of seeds and merging shards must not
//! expand them; a hand-picked list is just ranges of one.

use std::fmt;
use std::ops::RangeInclusive;

use serde::{Deserialize, Serialize};

/// Seeds `first..=last` (inclusive, so the range can end at `u64::MAX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SeedRange {
    pub first: u64,
    pub last: u64,
}

impl SeedRange {
    /// Number of seeds in the range (u128: `0..=u64::MAX` has 2^64).
    pub fn len(&self) -> u128 {
        u128::from(self.last.saturating_sub(self.first)) + 1
    }

    /// Never true for a well-formed range; present for the `len`/`is_empty` convention.
    pub fn is_empty(&self) -> bool {
        self.last < self.first
    }
}

/// A set of seeds, normalized: ranges sorted, non-empty, neither overlapping nor adjacent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SeedSet {
    ranges: Vec<SeedRange>,
}

impl SeedSet {
    /// No seeds.
    pub fn new() -> Self {
        Self::default()
    }

    /// One seed.
    pub fn single(seed: u64) -> Self {
        Self {
            ranges: vec![SeedRange {
                first: seed,
                last: seed,
            }],
        }
    }

    /// Seeds `range`, e.g. `SeedSet::range(0..=999)`; empty if the range is.
    pub fn range(range: RangeInclusive<u64>) -> Self {
        let mut set = Self::new();
        set.insert_range(range);
        set
    }

    /// Adds one seed.
    pub fn insert(&mut self, seed: u64) {
        self.insert_range(seed..=seed);
    }

    /// Adds seeds `range`, keeping the set normalized.
    pub fn insert_range(&mut self, range: RangeInclusive<u64>) {
        let (first, last) = range.into_inner();
        if first > last {
            return;
        }
        self.ranges.push(SeedRange { first, last });
        self.normalize();
    }

    /// Adds every seed of `other`.
    pub fn union_with(&mut self, other: &SeedSet) {
        self.ranges.extend_from_slice(&other.ranges);
        self.normalize();
    }

    /// The ranges, sorted and disjoint.
    pub fn ranges(&self) -> &[SeedRange] {
        &self.ranges
    }

    /// Number of seeds.
    pub fn len(&self) -> u128 {
        self.ranges.iter().map(SeedRange::len).sum()
    }

    /// True if there are no seeds.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// True if the ranges are sorted, non-empty, and neither overlap nor touch: the only form
    /// this crate writes, and the only one [`crate::Report::from_json`] accepts.
    pub fn is_normalized(&self) -> bool {
        self.ranges.iter().all(|r| r.first <= r.last)
            && self
                .ranges
                .windows(2)
                .all(|pair| pair[0].last < pair[1].first && pair[1].first - pair[0].last > 1)
    }

    fn normalize(&mut self) {
        self.ranges.retain(|r| r.first <= r.last);
        self.ranges.sort_unstable();
        let mut merged: Vec<SeedRange> = Vec::with_capacity(self.ranges.len());
        for range in self.ranges.drain(..) {
            match merged.last_mut() {
                // Overlapping or adjacent (`last + 1 == first`) ranges fuse.
                Some(prev) if range.first <= prev.last.saturating_add(1) => {
                    prev.last = prev.last.max(range.last);
                }
                _ => merged.push(range),
            }
        }
        self.ranges = merged;
    }
}

impl FromIterator<u64> for SeedSet {
    fn from_iter<I: IntoIterator<Item = u64>>(seeds: I) -> Self {
        let mut set = Self {
            ranges: seeds
                .into_iter()
                .map(|seed| SeedRange {
                    first: seed,
                    last: seed,
                })
                .collect(),
        };
        set.normalize();
        set
    }
}

/// `0..=999, 1234` style; `(none)` when empty.
impl fmt::Display for SeedSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ranges.is_empty() {
            return f.write_str("(none)");
        }
        for (i, range) in self.ranges.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            if range.first == range.last {
                write!(f, "{}", range.first)?;
            } else {
                write!(f, "{}..={}", range.first, range.last)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn union_fuses_overlapping_and_adjacent_ranges() {
        let mut set = SeedSet::range(0..=9);
        set.union_with(&SeedSet::range(10..=19));
        set.union_with(&SeedSet::range(5..=12));
        set.insert(40);
        set.insert(u64::MAX);
        assert_eq!(set.to_string(), format!("0..=19, 40, {}", u64::MAX));
        assert_eq!(set.len(), 22);
        assert!(set.is_normalized());
    }

    #[test]
    fn full_range_counts_two_to_the_64() {
        assert_eq!(SeedSet::range(0..=u64::MAX).len(), 1u128 << 64);
    }

    #[test]
    fn list_collects_into_ranges() {
        let set: SeedSet = [7, 3, 4, 5, 9].into_iter().collect();
        assert_eq!(set.to_string(), "3..=5, 7, 9");
    }
}
