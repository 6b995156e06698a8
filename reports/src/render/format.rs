//! Number formatting shared by the renderers.

/// Microseconds per millisecond and per second.
const US_PER_MS: u64 = 1_000;
const US_PER_S: u64 = 1_000_000;

/// A simulated latency in the largest unit that keeps it at or above 1: `850us`, `1.25ms`,
/// `3.40s`. Two decimals are within the histogram's 0.1% precision for the ranges shown.
pub fn latency_us(us: u64) -> String {
    if us < US_PER_MS {
        format!("{us}us")
    } else if us < US_PER_S {
        format!("{:.2}ms", us as f64 / US_PER_MS as f64)
    } else {
        format!("{:.2}s", us as f64 / US_PER_S as f64)
    }
}

/// An integer with `,` every three digits: `1,234,567`.
pub fn count(n: u64) -> String {
    group_digits(&n.to_string())
}

/// Same as [`count`] for a u128 (seed counts).
pub fn count_u128(n: u128) -> String {
    group_digits(&n.to_string())
}

fn group_digits(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A rate with one decimal and grouped thousands: `12,345.6`.
pub fn rate(x: f64) -> String {
    if !x.is_finite() {
        return "n/a".to_owned();
    }
    let text = format!("{:.1}", x.abs());
    let (whole, frac) = text.split_once('.').unwrap_or((&text, "0"));
    let sign = if x < 0.0 { "-" } else { "" };
    format!("{sign}{}.{frac}", group_digits(whole))
}

/// Simulated or wall seconds from microseconds, three decimals: `12.345s`.
pub fn seconds_from_us(us: u64) -> String {
    format!("{:.3}s", us as f64 / US_PER_S as f64)
}

/// A signed percentage with one decimal: `+50.0%`.
pub fn percent_change(pct: f64) -> String {
    if !pct.is_finite() {
        return "n/a".to_owned();
    }
    format!("{pct:+.1}%")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_pick_a_unit() {
        assert_eq!(latency_us(850), "850us");
        assert_eq!(latency_us(1_250), "1.25ms");
        assert_eq!(latency_us(3_400_000), "3.40s");
    }

    #[test]
    fn counts_group_thousands() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_000), "1,000");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(rate(12_345.67), "12,345.7");
        assert_eq!(rate(-1_000.0), "-1,000.0");
    }
}
