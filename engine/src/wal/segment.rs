//! Segment files: naming (base offset and salt), discovery, and locating the segment that holds a
//! global offset.
//!
//! Fault model: the directory may hold files that are not segments (the lock, the quarantine
//! file, a half-written temp file), names that do not parse, and, after a crash, a newest segment
//! whose directory entry was never made durable (so it is simply absent). Names that do not parse
//! are ignored, never trusted. Segment bases are sorted numerically (the zero-padded names sort the
//! same way bytewise, but we do not rely on it).
//!
//! Why the salt lives in the name (`wal-{base:020}-{salt:016x}.seg`) and not in the file:
//! directory entries are not subject to bit rot in our fault model, and a name is created
//! atomically with the file and made durable by the directory sync that precedes any record's
//! acknowledgement. A salt kept in a segment header would be one more sector that rot, a torn
//! first write or a misdirected write can hit, and losing it would make every frame of the
//! segment unverifiable: one flipped bit would lose a whole segment.
//!
//! Format v2 segments (`wal-{base:020}.seg`) are refused with [`WalError::UnsupportedFormat`]:
//! their frames carry neither offset nor salt, and reading them as v3 would call every record
//! corrupt.

use std::path::{Path, PathBuf};

use super::error::WalError;
use crate::io::Vfs;

const SEGMENT_PREFIX: &str = "wal-";
const SEGMENT_SUFFIX: &str = ".seg";
const SEGMENT_BASE_DIGITS: usize = 20;
const SEGMENT_SALT_DIGITS: usize = 16;
const SEGMENT_FIELD_SEPARATOR: char = '-';
/// The highest global offset a log may reach (4 EiB). Offsets are `u64`, and positions inside a
/// segment are computed as `base + local`; a bound far below `u64::MAX` keeps that arithmetic
/// exact for every segment this writer can create. A name claiming a base above it was never
/// written here (a stray or hostile file), and is refused rather than trusted.
pub const WAL_OFFSET_MAX: u64 = 1 << 62;

/// A segment's identity: the global offset of its first byte and the salt its frames are bound
/// to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SegmentName {
    pub base: u64,
    pub salt: u64,
}

impl SegmentName {
    /// The file name.
    pub fn file_name(&self) -> String {
        segment_name(self.base, self.salt)
    }

    /// The path in `dir`.
    pub fn path(&self, dir: &Path) -> PathBuf {
        dir.join(self.file_name())
    }
}

/// The file name of the segment whose first byte has global offset `base`, salted with `salt`.
pub fn segment_name(base: u64, salt: u64) -> String {
    format!(
        "{SEGMENT_PREFIX}{base:0bw$}{SEGMENT_FIELD_SEPARATOR}{salt:0sw$x}{SEGMENT_SUFFIX}",
        bw = SEGMENT_BASE_DIGITS,
        sw = SEGMENT_SALT_DIGITS,
    )
}

/// The base offset and salt encoded in a segment file name, if `name` is one (format v3).
pub fn parse_segment_name(name: &str) -> Option<SegmentName> {
    let fields = name
        .strip_prefix(SEGMENT_PREFIX)?
        .strip_suffix(SEGMENT_SUFFIX)?;
    let (base, salt) = fields.split_once(SEGMENT_FIELD_SEPARATOR)?;
    if base.len() != SEGMENT_BASE_DIGITS || !base.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Lowercase only, so one segment has exactly one name.
    let is_hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
    if salt.len() != SEGMENT_SALT_DIGITS || !salt.bytes().all(is_hex) {
        return None;
    }
    Some(SegmentName {
        base: base.parse().ok()?,
        salt: u64::from_str_radix(salt, 16).ok()?,
    })
}

/// Whether `name` is a format v2 segment name (`wal-{base:020}.seg`).
fn is_v2_segment_name(name: &str) -> bool {
    name.strip_prefix(SEGMENT_PREFIX)
        .and_then(|rest| rest.strip_suffix(SEGMENT_SUFFIX))
        .is_some_and(|digits| {
            digits.len() == SEGMENT_BASE_DIGITS && digits.bytes().all(|b| b.is_ascii_digit())
        })
}

/// The segments in `dir`, ascending by base. Refuses a v2 segment and two segments with one base.
pub async fn list_segments(vfs: &dyn Vfs, dir: &Path) -> Result<Vec<SegmentName>, WalError> {
    let names = vfs
        .list(dir)
        .await
        .map_err(|e| WalError::io("list", dir, e))?;
    if let Some(old) = names.iter().find(|n| is_v2_segment_name(n)) {
        return Err(WalError::UnsupportedFormat {
            path: dir.join(old),
            reason: "a format v2 segment (no salt in its name, no offset in its frames); this build reads format v3 only",
        });
    }
    let mut segments: Vec<SegmentName> =
        names.iter().filter_map(|n| parse_segment_name(n)).collect();
    if let Some(far) = segments.iter().find(|s| s.base > WAL_OFFSET_MAX) {
        return Err(WalError::SegmentBaseOutOfRange {
            path: far.path(dir),
            base: far.base,
            max: WAL_OFFSET_MAX,
        });
    }
    segments.sort_unstable();
    if let Some(pair) = segments.windows(2).find(|w| w[0].base == w[1].base) {
        return Err(WalError::DuplicateSegment {
            first: pair[0].path(dir),
            second: pair[1].path(dir),
        });
    }
    Ok(segments)
}

/// The segment files in `dir` with their paths, ascending by base: for tools and tests that need
/// to reach a segment's bytes without knowing its salt.
#[tracing::instrument(skip(vfs), fields(dir = %dir.display()))]
pub async fn segment_files(
    vfs: &dyn Vfs,
    dir: &Path,
) -> Result<Vec<(SegmentName, PathBuf)>, WalError> {
    Ok(list_segments(vfs, dir)
        .await?
        .into_iter()
        .map(|s| (s, s.path(dir)))
        .collect())
}

/// The index of the segment holding `offset`: the last base at or below it (binary search).
pub fn locate(segments: &[SegmentName], offset: u64) -> Option<usize> {
    segments
        .partition_point(|s| s.base <= offset)
        .checked_sub(1)
}

/// How far segment `index` may extend: up to the next segment's base, or unbounded for the last.
pub fn segment_room_bytes(segments: &[SegmentName], index: usize) -> Option<u64> {
    let next = segments.get(index + 1)?;
    Some(next.base.saturating_sub(segments[index].base))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(bases: &[u64]) -> Vec<SegmentName> {
        bases
            .iter()
            .map(|&base| SegmentName { base, salt: 7 })
            .collect()
    }

    #[test]
    fn names_round_trip_and_sort_numerically() {
        for (base, salt) in [
            (0u64, 0u64),
            (8, 1),
            (4096, 0xdead_beef),
            (u64::MAX, u64::MAX),
        ] {
            let name = segment_name(base, salt);
            assert_eq!(name.len(), 4 + 20 + 1 + 16 + 4);
            assert_eq!(parse_segment_name(&name), Some(SegmentName { base, salt }));
        }
        assert!(segment_name(9, u64::MAX) < segment_name(10, 0));
    }

    #[test]
    fn foreign_names_are_ignored() {
        for name in [
            "LOCK",
            "quarantine",
            "wal-1.seg",
            "wal-00000000000000000000.seg",
            "wal-0000000000000000000x-0000000000000000.seg",
            "wal-00000000000000000000-000000000000000G.seg",
            "wal-00000000000000000000-00000000000000AB.seg",
            "wal-00000000000000000000-000000000000000.seg",
            "wal-00000000000000000000-0000000000000000.seg.tmp",
            "wal-99999999999999999999-0000000000000000.seg",
        ] {
            assert_eq!(parse_segment_name(name), None, "{name}");
        }
    }

    #[test]
    fn v2_names_are_recognised_as_v2() {
        assert!(is_v2_segment_name("wal-00000000000000000000.seg"));
        assert!(!is_v2_segment_name(&segment_name(0, 0)));
        assert!(!is_v2_segment_name("wal-1.seg"));
    }

    #[test]
    fn locate_finds_the_last_base_at_or_below() {
        let segments = at(&[0, 100, 200]);
        assert_eq!(locate(&segments, 0), Some(0));
        assert_eq!(locate(&segments, 99), Some(0));
        assert_eq!(locate(&segments, 100), Some(1));
        assert_eq!(locate(&segments, 1 << 40), Some(2));
        assert_eq!(locate(&at(&[50]), 10), None);
        assert_eq!(locate(&[], 10), None);
        assert_eq!(segment_room_bytes(&segments, 1), Some(100));
        assert_eq!(segment_room_bytes(&segments, 2), None);
    }
}
