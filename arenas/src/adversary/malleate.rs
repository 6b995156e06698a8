//! Malleated payloads: one record, a second byte string that decodes to it.

use stemedb::model::Record;

use crate::oracle::spec;

/// The byte flip tried at each position by [`malleated`] (any nonzero mask would do).
const MALLEATE_MASK: u8 = 0x5A;
/// How far from the end of a payload [`malleated`] looks: rkyv writes the root struct last,
/// and its padding and the unused payload of an absent `Option` lie in it (out-of-line strings
/// and bytes carry none), so the search stays bounded however long the record.
const MALLEATE_WINDOW_BYTES: usize = 256;

/// `record`'s canonical payload with one byte changed where the value does not change, trying
/// positions of its last [`MALLEATE_WINDOW_BYTES`] from `start` (modulo the window) on; `None`
/// when no byte there can be changed so (votes have none).
pub fn malleated(record: &Record, start: usize) -> Option<Vec<u8>> {
    let canonical = spec::encode(record);
    let window = canonical.len().min(MALLEATE_WINDOW_BYTES);
    let first = canonical.len() - window;
    (0..window)
        .map(|i| first + (start + i) % window)
        .find_map(|at| {
            let mut bytes = canonical.clone();
            bytes[at] ^= MALLEATE_MASK;
            (spec::decode_any(&bytes).as_ref() == Some(record)).then_some(bytes)
        })
}
