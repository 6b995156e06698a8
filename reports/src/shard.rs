//! Shard option values (`i/n`, see [`crate::names::OPTION_SHARD`]) and when a set of them is a
//! whole sweep.

use std::cmp::Ordering;

/// One shard value: shard `index` of `count`, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Shard {
    count: u64,
    index: u64,
}

/// Parses `i/n` with `1 <= i <= n`; anything else is not a shard value.
fn parse(text: &str) -> Option<Shard> {
    let (index, count) = text.trim().split_once('/')?;
    let number = |s: &str| -> Option<u64> {
        let s = s.trim();
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    let (index, count) = (number(index)?, number(count)?);
    (index >= 1 && index <= count).then_some(Shard { count, index })
}

/// True if `values` are exactly `1/n, 2/n, ..., n/n` for one `n`, each once, in any order: the
/// shards together are the whole sweep. A duplicate or a gap means they are not.
pub(crate) fn is_whole_sweep<'a, I>(values: I) -> bool
where
    I: IntoIterator<Item = &'a str>,
{
    let mut shards = Vec::new();
    for value in values {
        match parse(value) {
            Some(shard) => shards.push(shard),
            None => return false,
        }
    }
    shards.sort_unstable();
    let Some(count) = shards.first().map(|s| s.count) else {
        return false;
    };
    u64::try_from(shards.len()) == Ok(count)
        && shards
            .iter()
            .zip(1u64..)
            .all(|(shard, index)| shard.count == count && shard.index == index)
}

/// Orders shard values by number (`2/10` before `10/10`), anything unparsable after them by
/// text, so the kept values read in shard order.
pub(crate) fn order(a: &str, b: &str) -> Ordering {
    let key = |s: &str| (parse(s).is_none(), parse(s));
    key(a).cmp(&key(b)).then_with(|| a.cmp(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_each_of_one_to_n_once_is_the_whole_sweep() {
        assert!(is_whole_sweep(["2/3", "1/3", "3/3"]));
        assert!(is_whole_sweep(["1/1"]));
        assert!(!is_whole_sweep(["1/3", "3/3"]), "a gap");
        assert!(!is_whole_sweep(["1/2", "1/2", "2/2"]), "a duplicate");
        assert!(!is_whole_sweep(["1/2", "2/3"]), "two sweeps");
        assert!(!is_whole_sweep(["1/2", "2/2", "x"]));
        assert!(!is_whole_sweep(["0/1"]));
        assert!(!is_whole_sweep(std::iter::empty()));
    }

    #[test]
    fn parsing_refuses_what_is_not_i_of_n() {
        assert_eq!(parse(" 2/4 "), Some(Shard { count: 4, index: 2 }));
        for bad in [
            "", "2", "5/4", "0/4", "-1/4", "a/4", "1/", "/4", "1/4/5", "+1/4",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn shard_values_sort_by_number() {
        let mut values = vec!["10/10", "x", "2/10", "1/2"];
        values.sort_by(|a, b| order(a, b));
        assert_eq!(values, ["1/2", "2/10", "10/10", "x"]);
    }
}
