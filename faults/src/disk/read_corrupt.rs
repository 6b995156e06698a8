//! Transient read corruption: a read returns flipped bits while the medium holds the right ones
//! (a flaky cable or controller, a bad DRAM cell in the drive's cache, a DMA error). Reading the
//! same range again returns the truth, so it is not media damage and never appears in
//! `media_damage()`: an engine that quarantines or truncates on the first bad checksum without
//! re-reading destroys good, acknowledged data. Several may be armed at once: then several reads
//! in a row are wrong, each differently, and an engine that judges after a fixed number of
//! re-reads destroys good data too. With `same_sector`, a run keeps going wrong in one sector (a
//! marginal sector), so re-reads of the record it lies in keep failing.

use super::state::{Ino, SECTOR_BYTES};
use super::DiskState;
use crate::plan::FileSelector;
use crate::rng;

/// Odd, so that distinct counts of corrupt reads give distinct draws (the golden ratio in 64 bits).
const DRAW_SPREAD: u64 = 0x9E37_79B9_7F4A_7C15;
/// Corrupt reads remembered, so that none flips the same bits of a file as one of these did.
const CORRUPT_RETURNS_REMEMBERED: usize = 64;
/// Draws tried for a flip set no remembered read used; a span of one byte has 8 sets of one
/// flip, so 64 draws meet a fresh one unless the span has none left (then the read is clean:
/// a wrong read that repeats is media damage, which this fault is not).
const FRESH_DRAWS_MAX: u64 = 64;

/// A corruption waiting for the next read (of `ino`, or of any file when `None`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ArmedCorruption {
    pub ino: Option<Ino>,
    pub seed: u64,
    pub flips: u8,
    pub same_sector: bool,
}

impl DiskState {
    pub(super) fn arm_read_corrupt(
        &mut self,
        file: Option<FileSelector>,
        seed: u64,
        flips: u8,
        same_sector: bool,
    ) {
        let ino = match file {
            None => None,
            Some(selector) => match self.select(&selector) {
                Some((ino, name)) => {
                    self.log_fault(format!(
                        "read_corrupt armed: the next read of {name} returns {flips} flipped bits"
                    ));
                    self.armed_read_corrupt.push(ArmedCorruption {
                        ino: Some(ino),
                        seed,
                        flips,
                        same_sector,
                    });
                    return;
                }
                None => {
                    self.log_fault("read_corrupt: no file to hit".into());
                    return;
                }
            },
        };
        self.log_fault(format!(
            "read_corrupt armed: the next read returns {flips} flipped bits"
        ));
        self.armed_read_corrupt.push(ArmedCorruption {
            ino,
            seed,
            flips,
            same_sector,
        });
    }

    /// Flips bits of `returned` (what a read of `ino` at `offset` is about to hand back) if a
    /// corruption is armed for it. The stored bytes are not touched.
    pub(super) fn corrupt_read(&mut self, ino: Ino, offset: u64, returned: &mut [u8]) {
        if returned.is_empty() {
            return;
        }
        let Some(i) = self
            .armed_read_corrupt
            .iter()
            .position(|a| a.ino.is_none_or(|target| target == ino))
        else {
            return;
        };
        let armed = self.armed_read_corrupt.remove(i);
        let len = returned.len() as u64;
        // The bits the flips may land on: the marginal sector's, if this read covers it.
        let (from_bit, span_bits) = match self.last_corrupt_sector {
            Some((last, sector)) if armed.same_sector && last == ino => {
                let start = (sector * SECTOR_BYTES).max(offset);
                let end = ((sector + 1) * SECTOR_BYTES).min(offset + len);
                if start < end {
                    ((start - offset) as usize * 8, (end - start) as usize * 8)
                } else {
                    (0, returned.len() * 8)
                }
            }
            _ => (0, returned.len() * 8),
        };
        let flips = usize::from(armed.flips.max(1)).min(span_bits);
        // Distinct positions: flipping one bit twice would hand back the truth. No two bad reads
        // of one file flip the same set of its bits: the same wrong bytes read back twice are
        // media damage, which this fault is not, and an engine that demands two agreeing reads
        // before a verdict must be able to rely on it. A distinct draw alone does not ensure it:
        // one flip in a 16-byte stretch of a marginal sector repeats one time in 128. The count
        // of corrupt reads so far goes into the draw (a plan may arm the same seed twice).
        let draw_positions = |k: u64| -> Vec<usize> {
            let draw = armed.seed ^ self.stats.corrupt_reads.wrapping_mul(DRAW_SPREAD) ^ k;
            let mut positions: Vec<usize> =
                rand::seq::index::sample(&mut rng::from_seed(draw), span_bits, flips)
                    .into_iter()
                    .map(|bit| from_bit + bit)
                    .collect();
            positions.sort_unstable();
            positions
        };
        let absolute = |positions: &[usize]| -> Vec<u64> {
            positions
                .iter()
                .map(|&bit| offset * 8 + bit as u64)
                .collect()
        };
        let fresh = (0..FRESH_DRAWS_MAX)
            .map(|k| draw_positions(k.wrapping_mul(DRAW_SPREAD)))
            .find(|positions| {
                let bits = absolute(positions);
                !self
                    .corrupt_returns
                    .iter()
                    .any(|(i, used)| *i == ino && *used == bits)
            });
        let Some(positions) = fresh else {
            self.log_fault(format!(
                "read_corrupt: inode {ino} read at {offset}: no flip set left that no recent \
                 bad read used; returned as stored"
            ));
            return;
        };
        if self.corrupt_returns.len() == CORRUPT_RETURNS_REMEMBERED {
            self.corrupt_returns.pop_front();
        }
        self.corrupt_returns.push_back((ino, absolute(&positions)));
        for bit in &positions {
            returned[bit / 8] ^= 1 << (bit % 8);
        }
        if let Some(&first) = positions.first() {
            self.last_corrupt_sector = Some((ino, (offset + first as u64 / 8) / SECTOR_BYTES));
        }
        self.stats.corrupt_reads += 1;
        self.log_fault(format!(
            "read_corrupt: inode {ino} read of {} bytes at {offset} returned bits {positions:?} flipped; stored bytes unchanged",
            returned.len()
        ));
    }
}
