//! Fixed-point vote weights, so sums are exact and independent of addition order.

use std::fmt;

/// Micro-units per whole unit of weight.
pub const WEIGHT_MICROS_PER_UNIT: u64 = 1_000_000;

/// A vote weight in fixed point: an integer number of micro-units (1 unit = 1_000_000 micros).
///
/// Integer weights make aggregate sums exact and deterministic: floating-point sums depend on
/// the order of addition, which differs between runs that interleave votes differently.
#[derive(
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
pub struct Weight(pub u64);

impl Weight {
    /// The zero weight (never valid in a vote).
    pub const ZERO: Weight = Weight(0);

    /// `units` whole units. Takes a `u32` so it cannot overflow:
    /// `u32::MAX * 1_000_000 < u64::MAX`.
    pub const fn from_units(units: u32) -> Weight {
        Weight(units as u64 * WEIGHT_MICROS_PER_UNIT)
    }

    /// `micros` micro-units.
    pub const fn from_micros(micros: u64) -> Weight {
        Weight(micros)
    }

    /// The weight in micro-units.
    pub const fn micros(self) -> u64 {
        self.0
    }

    /// `self + other`, or `None` on overflow of `u64`.
    pub const fn checked_add(self, other: Weight) -> Option<Weight> {
        match self.0.checked_add(other.0) {
            Some(sum) => Some(Weight(sum)),
            None => None,
        }
    }
}

impl fmt::Debug for Weight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Weight({self})")
    }
}

impl fmt::Display for Weight {
    /// Whole units with six decimals, e.g. `1.500000`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let units = self.0 / WEIGHT_MICROS_PER_UNIT;
        let micros = self.0 % WEIGHT_MICROS_PER_UNIT;
        write!(f, "{units}.{micros:06}")
    }
}

/// An exact sum of vote weights, in micro-units.
///
/// Held in a `u128`: every addend is below 2^64, so fewer than 2^64 additions can never overflow
/// (the sum stays below 2^128). Additions saturate anyway, so even an impossible overflow is a
/// clamped value and never a panic.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug)]
pub struct WeightSum(pub u128);

/// Size of [`WeightSum::to_be_bytes`] in bytes.
pub const WEIGHT_SUM_BYTES: usize = 16;

impl WeightSum {
    /// The empty sum.
    pub const ZERO: WeightSum = WeightSum(0);

    /// Adds one weight (saturating; see the type docs for why it cannot saturate in practice).
    #[must_use]
    pub const fn add(self, weight: Weight) -> WeightSum {
        WeightSum(self.0.saturating_add(weight.0 as u128))
    }

    /// Subtracts one weight, saturating at zero (for replacing a voter's earlier vote).
    #[must_use]
    pub const fn sub(self, weight: Weight) -> WeightSum {
        WeightSum(self.0.saturating_sub(weight.0 as u128))
    }

    /// The sum in micro-units.
    pub const fn micros(self) -> u128 {
        self.0
    }

    /// Big-endian bytes, so a stored sum sorts like its value.
    pub const fn to_be_bytes(self) -> [u8; WEIGHT_SUM_BYTES] {
        self.0.to_be_bytes()
    }

    /// Inverse of [`WeightSum::to_be_bytes`].
    pub const fn from_be_bytes(bytes: [u8; WEIGHT_SUM_BYTES]) -> WeightSum {
        WeightSum(u128::from_be_bytes(bytes))
    }
}

impl std::iter::Sum<Weight> for WeightSum {
    fn sum<I: Iterator<Item = Weight>>(iter: I) -> WeightSum {
        iter.fold(WeightSum::ZERO, WeightSum::add)
    }
}
