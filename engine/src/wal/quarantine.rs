//! The durable list of quarantined (damaged) log ranges.
//!
//! Fault model: recovery found bytes in the middle of the log that are not a valid record while
//! valid records follow (bit rot of synced data). Those bytes must never be returned, and the
//! valid records after them must stay readable, across any number of reopens. The list is
//! rewritten whole through a temp file, `sync_data`, `rename` and `sync_dir`, so a crash leaves
//! either the old list or the new one, never a torn one; a crash before the rename only means the
//! next recovery finds the same damage again and records it again (recovery is idempotent).
//! The file carries its own crc32c so rot in the list itself is detected, not trusted.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::error::WalError;
use crate::io::{read_to_end, OpenMode, Vfs};

/// File name of the quarantine list in the WAL directory.
pub const QUARANTINE_FILE_NAME: &str = "quarantine";
const QUARANTINE_TEMP_NAME: &str = "quarantine.tmp";
const MAGIC: [u8; 4] = *b"SWQ1";
const COUNT_BYTES: usize = 4;
const RANGE_BYTES: usize = 16;
const CRC_BYTES: usize = 4;
/// The most ranges the list may hold; bounds the allocation when loading an untrusted file.
pub const QUARANTINE_RANGES_MAX: usize = 4096;

/// A damaged range of the log, in global offsets: `[start, end)`. `end` is the offset of the valid
/// record that follows (or the end of a segment that has a successor).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct QuarantinedRange {
    pub start: u64,
    pub end: u64,
}

impl QuarantinedRange {
    pub fn contains(&self, offset: u64) -> bool {
        self.start <= offset && offset < self.end
    }
}

/// The first offset at or after `offset` that is outside every range. `ranges` are sorted.
pub fn skip_quarantined(ranges: &[QuarantinedRange], mut offset: u64) -> u64 {
    for range in ranges {
        if range.contains(offset) {
            offset = range.end;
        }
    }
    offset
}

fn quarantine_path(dir: &Path) -> PathBuf {
    dir.join(QUARANTINE_FILE_NAME)
}

fn corrupt(dir: &Path, reason: &'static str) -> WalError {
    WalError::QuarantineCorrupt {
        path: quarantine_path(dir),
        reason,
    }
}

/// Loads the list (empty if the file does not exist), sorted.
pub async fn load(vfs: &dyn Vfs, dir: &Path) -> Result<Vec<QuarantinedRange>, WalError> {
    let path = quarantine_path(dir);
    let file = match vfs.open(&path, OpenMode::Read).await {
        Ok(file) => file,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(WalError::io("open", path, e)),
    };
    let len = file
        .len()
        .await
        .map_err(|e| WalError::io("len", &path, e))?;
    let len_max = MAGIC.len() + COUNT_BYTES + QUARANTINE_RANGES_MAX * RANGE_BYTES + CRC_BYTES;
    if len > len_max as u64 {
        return Err(corrupt(dir, "longer than the largest possible list"));
    }
    let bytes = read_to_end(file.as_ref())
        .await
        .map_err(|e| WalError::io("read", &path, e))?;
    decode(&bytes).map_err(|reason| corrupt(dir, reason))
}

fn decode(bytes: &[u8]) -> Result<Vec<QuarantinedRange>, &'static str> {
    let body_len = bytes.len().checked_sub(CRC_BYTES).ok_or("too short")?;
    let (body, crc) = bytes.split_at(body_len);
    if crc32c::crc32c(body).to_le_bytes() != crc {
        return Err("crc32c mismatch");
    }
    let rest = body.strip_prefix(&MAGIC).ok_or("bad magic")?;
    let (count, ranges) = rest.split_at_checked(COUNT_BYTES).ok_or("too short")?;
    let count = u32::from_le_bytes(count.try_into().map_err(|_| "too short")?) as usize;
    if count > QUARANTINE_RANGES_MAX || ranges.len() != count * RANGE_BYTES {
        return Err("count does not match length");
    }
    let mut out: Vec<QuarantinedRange> = ranges
        .chunks_exact(RANGE_BYTES)
        .map(|chunk| {
            let (start, end) = chunk.split_at(RANGE_BYTES / 2);
            QuarantinedRange {
                start: u64::from_le_bytes(start.try_into().unwrap_or_default()),
                end: u64::from_le_bytes(end.try_into().unwrap_or_default()),
            }
        })
        .collect();
    if out.iter().any(|r| r.start >= r.end) {
        return Err("empty or inverted range");
    }
    out.sort_unstable();
    Ok(out)
}

fn encode(ranges: &[QuarantinedRange]) -> Vec<u8> {
    let mut out = Vec::with_capacity(MAGIC.len() + COUNT_BYTES + ranges.len() * RANGE_BYTES);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&(ranges.len() as u32).to_le_bytes());
    for range in ranges {
        out.extend_from_slice(&range.start.to_le_bytes());
        out.extend_from_slice(&range.end.to_le_bytes());
    }
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Durably replaces the list with `ranges` (sorted by the caller).
pub async fn store(vfs: &dyn Vfs, dir: &Path, ranges: &[QuarantinedRange]) -> Result<(), WalError> {
    if ranges.len() > QUARANTINE_RANGES_MAX {
        return Err(corrupt(dir, "more damaged ranges than the list may hold"));
    }
    let temp = dir.join(QUARANTINE_TEMP_NAME);
    let bytes = encode(ranges);
    let file = vfs
        .open(&temp, OpenMode::Create)
        .await
        .map_err(|e| WalError::io("open", &temp, e))?;
    file.set_len(0)
        .await
        .map_err(|e| WalError::io("set_len", &temp, e))?;
    file.write_at(0, &bytes)
        .await
        .map_err(|e| WalError::io("write", &temp, e))?;
    file.sync_data()
        .await
        .map_err(|e| WalError::io("sync_data", &temp, e))?;
    drop(file);
    let path = quarantine_path(dir);
    vfs.rename(&temp, &path)
        .await
        .map_err(|e| WalError::io("rename", &temp, e))?;
    vfs.sync_dir(dir)
        .await
        .map_err(|e| WalError::io("sync_dir", dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_detects_rot() {
        let ranges = vec![
            QuarantinedRange { start: 8, end: 64 },
            QuarantinedRange {
                start: 4096,
                end: 8192,
            },
        ];
        let bytes = encode(&ranges);
        assert_eq!(decode(&bytes).unwrap(), ranges);
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x10;
            assert!(decode(&bad).is_err(), "flip in byte {i} went unnoticed");
        }
        assert!(decode(&bytes[..bytes.len() - 1]).is_err());
    }

    #[test]
    fn skipping_chains_through_adjacent_ranges() {
        let ranges = [
            QuarantinedRange { start: 8, end: 16 },
            QuarantinedRange { start: 16, end: 40 },
        ];
        assert_eq!(skip_quarantined(&ranges, 0), 0);
        assert_eq!(skip_quarantined(&ranges, 8), 40);
        assert_eq!(skip_quarantined(&ranges, 20), 40);
        assert_eq!(skip_quarantined(&ranges, 40), 40);
    }
}
