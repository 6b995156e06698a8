//! `Fingerprint`: a caller-computed digest of a run's observable behaviour, compared to detect
//! non-determinism.

use serde::{Deserialize, Serialize};

use crate::error::ReportError;

/// Longest accepted fingerprint, in hex digits (a 512-bit digest); anything longer is a bug.
pub const FINGERPRINT_MAX_HEX_LEN: usize = 128;

/// A digest for one scope of a run (a seed, a shard, or the whole run).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Fingerprint {
    /// What the digest covers, e.g. `seed=17` or `shard=2/4`.
    pub scope: String,
    /// Lowercase hex digits.
    pub hex: String,
}

impl Fingerprint {
    /// A fingerprint, checking that `hex` is 1..=[`FINGERPRINT_MAX_HEX_LEN`] lowercase hex
    /// digits (so two renderings of the same digest compare equal as strings).
    pub fn new(scope: impl Into<String>, hex: impl Into<String>) -> Result<Self, ReportError> {
        let fingerprint = Self {
            scope: scope.into(),
            hex: hex.into(),
        };
        fingerprint.validate()?;
        Ok(fingerprint)
    }

    pub(crate) fn validate(&self) -> Result<(), ReportError> {
        let well_formed = !self.hex.is_empty()
            && self.hex.len() <= FINGERPRINT_MAX_HEX_LEN
            && self
                .hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if well_formed {
            Ok(())
        } else {
            Err(ReportError::InvalidField {
                field: "fingerprints",
                reason: format!(
                    "fingerprint for {:?} must be 1 to {FINGERPRINT_MAX_HEX_LEN} lowercase hex digits, got {:?}",
                    self.scope, self.hex
                ),
            })
        }
    }
}
