//! Segment files: naming, discovery and locating the segment that holds a global offset.
//!
//! Fault model: the directory may hold files that are not segments (the lock, the quarantine
//! file, a half-written temp file), names that do not parse, and, after a crash, a newest segment
//! whose directory entry was never made durable (so it is simply absent). Names that do not parse
//! are ignored, never trusted. Segment bases are sorted numerically (the zero-padded names sort the
//! same way bytewise, but we do not rely on it).

use std::path::{Path, PathBuf};

use super::error::WalError;
use crate::io::Vfs;

const SEGMENT_PREFIX: &str = "wal-";
const SEGMENT_SUFFIX: &str = ".seg";
const SEGMENT_BASE_DIGITS: usize = 20;

/// The file name of the segment whose first byte has global offset `base`.
pub fn segment_name(base: u64) -> String {
    format!(
        "{SEGMENT_PREFIX}{base:0width$}{SEGMENT_SUFFIX}",
        width = SEGMENT_BASE_DIGITS
    )
}

/// The path of the segment with base `base` in `dir`.
pub fn segment_path(dir: &Path, base: u64) -> PathBuf {
    dir.join(segment_name(base))
}

/// The base offset encoded in a segment file name, if `name` is one.
pub fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name
        .strip_prefix(SEGMENT_PREFIX)?
        .strip_suffix(SEGMENT_SUFFIX)?;
    if digits.len() != SEGMENT_BASE_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The bases of the segments in `dir`, ascending.
pub async fn list_segments(vfs: &dyn Vfs, dir: &Path) -> Result<Vec<u64>, WalError> {
    let names = vfs
        .list(dir)
        .await
        .map_err(|e| WalError::io("list", dir, e))?;
    let mut bases: Vec<u64> = names.iter().filter_map(|n| parse_segment_name(n)).collect();
    bases.sort_unstable();
    bases.dedup();
    Ok(bases)
}

/// The index of the segment holding `offset`: the last base at or below it (binary search).
pub fn locate(bases: &[u64], offset: u64) -> Option<usize> {
    bases.partition_point(|&base| base <= offset).checked_sub(1)
}

/// How far segment `index` may extend: up to the next segment's base, or unbounded for the last.
pub fn segment_room_bytes(bases: &[u64], index: usize) -> Option<u64> {
    let next = bases.get(index + 1)?;
    Some(next.saturating_sub(bases[index]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_sort_numerically() {
        for base in [0u64, 8, 4096, u64::MAX] {
            let name = segment_name(base);
            assert_eq!(name.len(), 4 + 20 + 4);
            assert_eq!(parse_segment_name(&name), Some(base));
        }
        assert!(segment_name(9) < segment_name(10));
    }

    #[test]
    fn foreign_names_are_ignored() {
        for name in [
            "LOCK",
            "quarantine",
            "wal-1.seg",
            "wal-0000000000000000000x.seg",
            "wal-00000000000000000000.seg.tmp",
            "wal-99999999999999999999.seg",
        ] {
            assert_eq!(parse_segment_name(name), None, "{name}");
        }
    }

    #[test]
    fn locate_finds_the_last_base_at_or_below() {
        let bases = [0, 100, 200];
        assert_eq!(locate(&bases, 0), Some(0));
        assert_eq!(locate(&bases, 99), Some(0));
        assert_eq!(locate(&bases, 100), Some(1));
        assert_eq!(locate(&bases, 1 << 40), Some(2));
        assert_eq!(locate(&[50], 10), None);
        assert_eq!(locate(&[], 10), None);
        assert_eq!(segment_room_bytes(&bases, 1), Some(100));
        assert_eq!(segment_room_bytes(&bases, 2), None);
    }
}
