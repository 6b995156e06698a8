//! Transient read corruption: a read returns flipped bits while the medium holds the right ones
//! (a flaky cable or controller, a bad DRAM cell in the drive's cache, a DMA error). Reading the
//! same range again returns the truth, so it is not media damage and never appears in
//! `media_damage()`: an engine that quarantines or truncates on the first bad checksum without
//! re-reading destroys good, acknowledged data.

use super::state::Ino;
use super::DiskState;
use crate::plan::FileSelector;
use crate::rng;

/// A corruption waiting for the next read (of `ino`, or of any file when `None`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ArmedCorruption {
    pub ino: Option<Ino>,
    pub seed: u64,
    pub flips: u8,
}

impl DiskState {
    pub(super) fn arm_read_corrupt(&mut self, file: Option<FileSelector>, seed: u64, flips: u8) {
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
        self.armed_read_corrupt
            .push(ArmedCorruption { ino, seed, flips });
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
        let bits = returned.len() * 8;
        let flips = usize::from(armed.flips.max(1)).min(bits);
        // Distinct positions: flipping one bit twice would hand back the truth.
        let mut positions =
            rand::seq::index::sample(&mut rng::from_seed(armed.seed), bits, flips).into_vec();
        positions.sort_unstable();
        for bit in &positions {
            returned[bit / 8] ^= 1 << (bit % 8);
        }
        self.stats.corrupt_reads += 1;
        self.log_fault(format!(
            "read_corrupt: inode {ino} read of {} bytes at {offset} returned bits {positions:?} flipped; stored bytes unchanged",
            returned.len()
        ));
    }
}
