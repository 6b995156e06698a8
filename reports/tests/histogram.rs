//! LatencyHistogram: recording, summary of known distributions, merge, payload encoding.

use hdrhistogram::serialization::{Serializer as _, V2Serializer};
use stemedb_reports::{HistogramDecodeError, LatencyHistogram, LatencySummary, LATENCY_HIGHEST_US};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

fn uniform(range: std::ops::RangeInclusive<u64>) -> LatencyHistogram {
    let mut h = LatencyHistogram::new();
    for us in range {
        h.record(us);
    }
    h
}

/// `actual` is within the histogram's 0.1% precision above `expected`.
fn within_precision(actual: u64, expected: u64) -> bool {
    actual >= expected && (actual - expected) as f64 <= expected as f64 * 0.001
}

#[test]
fn uniform_1_to_10000_has_known_percentiles() {
    let s = uniform(1..=10_000).summary();
    assert_eq!(s.count, 10_000);
    assert_eq!(s.min_us, 1);
    // Values 4096..8191 share slots 4 wide, 8192..16383 slots 8 wide; HdrHistogram reports the
    // highest value of the slot holding the rank.
    assert_eq!(s.p50_us, 5_003);
    assert_eq!(s.p90_us, 9_007);
    assert_eq!(s.p99_us, 9_903);
    assert_eq!(s.p999_us, 9_991);
    assert_eq!(s.max_us, 10_007);
    for (actual, expected) in [
        (s.p50_us, 5_000),
        (s.p90_us, 9_000),
        (s.p99_us, 9_900),
        (s.p999_us, 9_990),
        (s.max_us, 10_000),
    ] {
        assert!(within_precision(actual, expected), "{actual} vs {expected}");
    }
    assert!((s.mean_us - 5_000.5).abs() < 5.0, "mean {}", s.mean_us);
}

#[test]
fn small_values_are_exact() {
    let s = uniform(1..=100).summary();
    assert_eq!(
        (s.count, s.min_us, s.p50_us, s.p90_us, s.p99_us, s.p999_us, s.max_us),
        (100, 1, 50, 90, 99, 100, 100)
    );
    assert_eq!(s.mean_us, 50.5);
}

#[test]
fn zero_clamps_to_one_microsecond() {
    let mut h = LatencyHistogram::new();
    h.record(0);
    h.record(0);
    let s = h.summary();
    assert_eq!((s.count, s.min_us, s.max_us), (2, 1, 1));
    assert_eq!(h.saturated_count(), 0);
}

#[test]
fn values_above_max_saturate_and_are_counted() {
    let mut h = LatencyHistogram::new();
    h.record(5);
    h.record(LATENCY_HIGHEST_US);
    h.record(LATENCY_HIGHEST_US + 1);
    h.record(u64::MAX);
    assert_eq!(h.count(), 4);
    assert_eq!(h.saturated_count(), 2);
    let s = h.summary();
    assert!(
        within_precision(s.max_us, LATENCY_HIGHEST_US),
        "{}",
        s.max_us
    );
    assert_eq!(h.value_at_quantile_us(0.25), 5);
}

#[test]
fn record_n_equals_repeated_record() {
    let mut once = LatencyHistogram::new();
    once.record_n(1_234, 5);
    once.record_n(99, 0);
    let mut repeated = LatencyHistogram::new();
    for _ in 0..5 {
        repeated.record(1_234);
    }
    assert_eq!(once, repeated);
}

#[test]
fn empty_summary_is_all_zero() {
    let h = LatencyHistogram::new();
    assert!(h.is_empty());
    assert_eq!(h.summary(), LatencySummary::default());
    assert_eq!(h.value_at_quantile_us(0.99), 0);
}

#[test]
fn merge_of_halves_equals_whole() {
    let whole = uniform(1..=20_000);
    let mut left = uniform(1..=7_000);
    let right = uniform(7_001..=20_000);
    left.merge(&right);
    assert_eq!(left, whole);
    assert_eq!(left.summary(), whole.summary());
    assert_eq!(left.to_base64_v2().unwrap(), whole.to_base64_v2().unwrap());
    assert_eq!(left.to_hgrm(), whole.to_hgrm());
}

#[test]
fn merge_adds_saturated_counts() {
    let mut a = LatencyHistogram::new();
    a.record(u64::MAX);
    let mut b = LatencyHistogram::new();
    b.record(LATENCY_HIGHEST_US + 7);
    b.record(3);
    a.merge(&b);
    assert_eq!((a.count(), a.saturated_count()), (3, 2));
}

#[test]
fn base64_round_trip_is_exact() {
    let mut h = uniform(1..=5_000);
    h.record(LATENCY_HIGHEST_US + 1);
    let payload = h.to_base64_v2().unwrap();
    let back = LatencyHistogram::from_base64_v2(&payload, h.saturated_count()).unwrap();
    assert_eq!(back, h);
    assert_eq!(back.saturated_count(), 1);
    assert_eq!(back.to_base64_v2().unwrap(), payload);
}

#[test]
fn payload_that_is_not_base64_is_a_typed_error() {
    let err = LatencyHistogram::from_base64_v2("not base64 at all!", 0).unwrap_err();
    assert!(matches!(err, HistogramDecodeError::Base64(_)), "{err:?}");
}

fn payload_bytes(h: &LatencyHistogram) -> Vec<u8> {
    BASE64.decode(h.to_base64_v2().unwrap()).unwrap()
}

#[test]
fn truncated_payload_is_a_typed_error() {
    let bytes = payload_bytes(&uniform(1..=100));
    let short = BASE64.encode(&bytes[..20]);
    let err = LatencyHistogram::from_base64_v2(&short, 0).unwrap_err();
    assert!(
        matches!(err, HistogramDecodeError::TooShort { len: 20 }),
        "{err:?}"
    );

    let cut = BASE64.encode(&bytes[..bytes.len() - 1]);
    let err = LatencyHistogram::from_base64_v2(&cut, 0).unwrap_err();
    assert!(
        matches!(err, HistogramDecodeError::PayloadLengthMismatch { .. }),
        "{err:?}"
    );
}

#[test]
fn wrong_cookie_is_a_typed_error() {
    let mut bytes = payload_bytes(&uniform(1..=100));
    bytes[0] ^= 0xff;
    let err = LatencyHistogram::from_base64_v2(&BASE64.encode(&bytes), 0).unwrap_err();
    assert!(
        matches!(err, HistogramDecodeError::UnknownCookie { .. }),
        "{err:?}"
    );
}

#[test]
fn foreign_bounds_are_rejected() {
    let mut other = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 1_000_000, 2).unwrap();
    other.record(10).unwrap();
    let mut bytes = Vec::new();
    V2Serializer::new().serialize(&other, &mut bytes).unwrap();
    let err = LatencyHistogram::from_base64_v2(&BASE64.encode(&bytes), 0).unwrap_err();
    assert!(
        matches!(
            err,
            HistogramDecodeError::WrongBounds {
                lowest: 1,
                highest: 1_000_000,
                significant_digits: 2
            }
        ),
        "{err:?}"
    );
}

/// A valid header for our bounds followed by `counts`.
fn with_counts(counts: &[u8]) -> String {
    let mut bytes = payload_bytes(&LatencyHistogram::new());
    bytes.truncate(40);
    bytes[4..8].copy_from_slice(&(counts.len() as u32).to_be_bytes());
    bytes.extend_from_slice(counts);
    BASE64.encode(bytes)
}

#[test]
fn malformed_counts_are_typed_errors_not_panics() {
    // Zig-zag of i64::MIN: a run of empty slots that cannot be negated.
    let err = LatencyHistogram::from_base64_v2(&with_counts(&[0xff; 9]), 0).unwrap_err();
    assert!(
        matches!(err, HistogramDecodeError::MalformedCounts { .. }),
        "{err:?}"
    );

    // A varint cut off in the middle.
    let err = LatencyHistogram::from_base64_v2(&with_counts(&[0x02, 0x80]), 0).unwrap_err();
    assert!(
        matches!(err, HistogramDecodeError::MalformedCounts { offset: 1, .. }),
        "{err:?}"
    );

    // Skip a million empty slots (zig-zag of -1_000_000 is 1_999_999), then a count of 1.
    let mut far = Vec::new();
    let mut n: u64 = 1_999_999;
    while n >= 0x80 {
        far.push((n as u8) | 0x80);
        n >>= 7;
    }
    far.push(n as u8);
    far.push(0x02);
    let err = LatencyHistogram::from_base64_v2(&with_counts(&far), 0).unwrap_err();
    assert!(
        matches!(err, HistogramDecodeError::MalformedCounts { .. }),
        "{err:?}"
    );

    // Well-formed counts still decode: one sample at slot 3 (value 3).
    let ok = LatencyHistogram::from_base64_v2(&with_counts(&[0x05, 0x02]), 0).unwrap();
    assert_eq!((ok.count(), ok.summary().min_us), (1, 3));
}
