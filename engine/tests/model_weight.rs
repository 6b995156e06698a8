//! Fixed-point weights: exact, order-independent sums.

use proptest::prelude::*;
use stemedb::model::{Weight, WeightSum, WEIGHT_MICROS_PER_UNIT};

#[test]
fn units_and_micros_agree() {
    assert_eq!(Weight::from_units(3).micros(), 3 * WEIGHT_MICROS_PER_UNIT);
    assert_eq!(
        Weight::from_units(u32::MAX).micros(),
        u64::from(u32::MAX) * 1_000_000
    );
    assert_eq!(Weight::from_micros(1_500_000).to_string(), "1.500000");
    assert_eq!(
        Weight::from_units(1).checked_add(Weight::from_micros(1)),
        Some(Weight(1_000_001))
    );
    assert_eq!(Weight(u64::MAX).checked_add(Weight(1)), None);
}

#[test]
fn weight_sums_are_exact_where_floats_are_not() {
    let tenth = Weight::from_micros(100_000);
    let sum: WeightSum = std::iter::repeat_n(tenth, 10).sum();
    assert_eq!(sum, WeightSum::ZERO.add(Weight::from_units(1)));
    assert_ne!(
        (0..10).map(|_| 0.1f64).sum::<f64>(),
        1.0,
        "the float sum is not exact"
    );
}

#[test]
fn weight_sums_never_overflow_or_panic() {
    let huge = WeightSum(u128::MAX).add(Weight(u64::MAX));
    assert_eq!(huge, WeightSum(u128::MAX));
    assert_eq!(WeightSum::ZERO.sub(Weight(1)), WeightSum::ZERO);
    let s = WeightSum(0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10);
    assert_eq!(WeightSum::from_be_bytes(s.to_be_bytes()), s);
}

proptest! {
    #[test]
    fn sums_do_not_depend_on_order(mut weights in prop::collection::vec(any::<u64>(), 0..64)) {
        let forward: WeightSum = weights.iter().copied().map(Weight).sum();
        weights.reverse();
        let backward: WeightSum = weights.iter().copied().map(Weight).sum();
        prop_assert_eq!(forward, backward);
        let exact: u128 = weights.iter().map(|&w| u128::from(w)).sum();
        prop_assert_eq!(forward.micros(), exact);
    }

    #[test]
    fn sum_bytes_sort_like_sums(a in any::<u128>(), b in any::<u128>()) {
        prop_assert_eq!(WeightSum(a).to_be_bytes().cmp(&WeightSum(b).to_be_bytes()), a.cmp(&b));
    }
}
