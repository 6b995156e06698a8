//! Bytes ingest must refuse: garbage, broken signatures, truncations, one-bound breaches and
//! fields changed after signing.

use super::*;

impl Workload {
    /// Bytes ingest must refuse: garbage, a valid record with a broken signature, a truncation,
    /// a signed record that breaks one validation rule, or a signed record with one field changed
    /// after signing.
    pub(super) fn hostile(
        &mut self,
        ts: u64,
    ) -> (
        Vec<u8>,
        crate::oracle::validity::Signatures,
        Option<crate::adversary::Breach>,
    ) {
        use crate::oracle::validity::Signatures;
        let target = self.target();
        match self.rng.random_range(0..3u8) {
            0 => {
                let (breach, bytes) = self.adversary.rule_breaking(&mut self.rng, target, ts);
                return (bytes, Signatures::Verify, Some(breach));
            }
            1 => {
                let bytes = self.adversary.tampered(&mut self.rng, target, ts);
                return (bytes, Signatures::KnownBad, None);
            }
            _ => {}
        }
        (self.garbled(ts), Signatures::Verify, None)
    }

    /// Garbage, a record with its object changed after signing, a truncated record, or (on
    /// its own stream) a validly signed record in a non-canonical encoding.
    pub(super) fn garbled(&mut self, ts: u64) -> Vec<u8> {
        let valid = self.assertion(ts);
        // The hostile copy's hash must not count as issued: votes must target real assertions.
        self.assertions.pop();
        let garbled = self.garbled_from(&valid);
        if self.malleate_rng.random_bool(MALLEATED_PROBABILITY) {
            let start = self.malleate_rng.random_range(0..usize::from(u16::MAX));
            if let Some(bytes) = crate::adversary::malleated(&valid, start) {
                return bytes;
            }
        }
        garbled
    }

    pub(super) fn garbled_from(&mut self, valid: &Record) -> Vec<u8> {
        let valid = valid.clone();
        let mut bytes = spec::encode(&valid);
        match self.rng.random_range(0..3u8) {
            0 => {
                let len = self.rng.random_range(0..300usize);
                (0..len).map(|_| self.rng.random()).collect()
            }
            1 => {
                // Tamper with the object after signing: the signature no longer verifies.
                if let Record::Assertion(mut a) = valid {
                    a.object.push_str("-forged");
                    bytes = spec::encode(&Record::Assertion(a));
                }
                bytes
            }
            _ => {
                let keep = self.rng.random_range(0..bytes.len().max(1));
                bytes.truncate(keep);
                bytes
            }
        }
    }
}
