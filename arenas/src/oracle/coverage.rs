//! Dead-letter coverage: ingest leaves no byte of the log unaccounted for.
//!
//! Must hold once ingest has caught up (DESIGN.md section 4: "the KV's quarantine lists every
//! byte range ingest did not apply"): the log from offset 0 to the ingest cursor is tiled, with
//! no gap, by records (applied, duplicates and repeats alike) and dead letters. A dead letter
//! covers the byte ranges its reasons name (`[start, end)`: a range WAL recovery quarantined and
//! the reader skipped, damaged bytes the reader found, log lost below the cursor) or, for a
//! record that failed decoding or validation, that record's frame.
//!
//! A gap is bytes that ingest stepped over silently: a skipped range without its dead letter, a
//! dead letter at the wrong offset, a cursor moved past a record that was never applied. Which
//! records lay where is known only up to media damage (a misdirected write puts other frames
//! over a record, a later record may take a lost one's offset), so every record ever known at an
//! offset is a possible step, and the check is that the cursor is reachable from 0 at all.

use std::collections::{BTreeMap, BTreeSet};

use crate::oracle::ingest::{keys_of, Accept, KvImage};
use crate::oracle::log::{frame_bytes, Entry};

/// The entries whose frames may tile the log: every entry but a damaged one that ingest never
/// applied (index in `not_applied`) and whose key no other record filled in the replay
/// (`replayed`). Applying a duplicate or a repeat vote changes nothing, so stepping over one
/// cannot be told from applying it, and it stays a step. Any other unapplied record's bytes need
/// a dead letter like every skipped range: as a step, it let a range quarantined by WAL recovery
/// and skipped without its dead letter pass (the frame of the damaged record in it covered the
/// gap; `mutation/k-skipped-range-without-dead-letter`).
pub fn stepping_entries(
    entries: &[Entry],
    not_applied: &BTreeSet<usize>,
    replayed: &KvImage,
    accept: Accept<'_>,
) -> Vec<Entry> {
    entries
        .iter()
        .enumerate()
        .filter(|(index, entry)| {
            !not_applied.contains(index)
                || keys_of(&entry.payload, accept)
                    .first()
                    .is_some_and(|primary| replayed.contains_key(primary))
        })
        .map(|(_, entry)| entry.clone())
        .collect()
}

/// The `[start, end)` ranges a dead letter's reasons name (several reasons are joined by `; `).
pub fn reason_ranges(reason: &str) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut rest = reason;
    while let Some(open) = rest.find('[') {
        rest = &rest[open + 1..];
        let Some(close) = rest.find(')') else { break };
        let inside = &rest[..close];
        if let Some((a, b)) = inside.split_once(", ") {
            if let (Ok(a), Ok(b)) = (a.trim().parse(), b.trim().parse()) {
                out.push((a, b));
            }
        }
    }
    out
}

/// Checks that `[0, cursor)` is tiled by `entries` and `dead_letters` (offset to reason).
/// Returns the first offset no tiling reaches, with what lies around it, on failure.
pub fn check(
    entries: &[Entry],
    dead_letters: &BTreeMap<u64, String>,
    cursor: u64,
) -> Result<(), String> {
    let mut steps: BTreeMap<u64, BTreeSet<u64>> = BTreeMap::new();
    for e in entries {
        steps
            .entry(e.offset)
            .or_default()
            .insert(e.offset + frame_bytes(e.payload.len()));
    }
    for (&at, reason) in dead_letters {
        let ranges = reason_ranges(reason);
        let next = steps.entry(at).or_default();
        // A range reason covers from the dead letter's own offset to its end (a dead letter
        // joined to another at the same offset names both).
        next.extend(ranges.iter().map(|&(_, end)| end).filter(|&end| end > at));
    }
    // Positions are visited in increasing order and every step moves forward, so one pass over
    // the reachable set in order finds everything reachable.
    let mut reachable = BTreeSet::from([0u64]);
    let mut furthest = 0;
    while let Some(&at) = reachable.iter().next() {
        reachable.remove(&at);
        furthest = furthest.max(at);
        if at >= cursor {
            if at == cursor {
                return Ok(());
            }
            continue;
        }
        if let Some(next) = steps.get(&at) {
            reachable.extend(next.iter().copied().filter(|&n| n > at));
        }
    }
    let gap_end = steps
        .range(furthest + 1..)
        .next()
        .map_or(cursor, |(&o, _)| o.min(cursor));
    let letter = dead_letters
        .range(..=furthest)
        .next_back()
        .map(|(o, r)| format!("; the last dead letter before it is at {o}: {r}"))
        .unwrap_or_default();
    Err(format!(
        "ingest stepped over log bytes [{furthest}, {gap_end}) below the cursor {cursor} without applying a record or leaving a dead letter there{letter}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(offset: u64, len: usize) -> Entry {
        Entry {
            offset,
            payload: vec![1; len],
            uncertain: false,
        }
    }

    #[test]
    fn reasons_name_their_ranges() {
        assert_eq!(
            reason_ranges("WAL bytes [96, 400) were quarantined by WAL recovery"),
            vec![(96, 400)]
        );
        assert_eq!(
            reason_ranges("invalid record: bad signature; lost_below_cursor: WAL bytes [8, 64) below the ingest cursor are gone from the log"),
            vec![(8, 64)]
        );
        assert!(reason_ranges("undecodable record: truncated").is_empty());
    }

    /// Records at 0 and 56 (frames of 56 bytes each), a quarantined range [112, 200), a record
    /// at 200: the cursor at 256 is reached; without the range's dead letter it is not, and the
    /// failure names the gap.
    #[test]
    fn a_skipped_range_needs_its_dead_letter() {
        let len = 8; // a 48-byte header and 8 bytes
        assert_eq!(frame_bytes(len), 56);
        let entries = vec![entry(0, len), entry(56, len), entry(200, len)];
        let mut letters = BTreeMap::new();
        letters.insert(
            112,
            "WAL bytes [112, 200) were quarantined by WAL recovery".to_owned(),
        );
        assert_eq!(check(&entries, &letters, 256), Ok(()));
        let err = check(&entries, &BTreeMap::new(), 256).unwrap_err();
        assert!(err.contains("[112, 200)"), "{err}");
        // A dead letter for an invalid record covers that record's frame.
        let mut invalid = BTreeMap::new();
        invalid.insert(56, "invalid record: bad signature".to_owned());
        assert_eq!(check(&entries[..2], &invalid, 112), Ok(()));
        // A cursor inside a frame is reached by no tiling.
        assert!(check(&entries, &letters, 230).is_err());
    }

    /// A damaged record at 0 that ingest never applied, inside a range it skipped: its frame is
    /// no step unless another record filled its key (then stepping over it changed nothing).
    #[test]
    fn an_unapplied_damaged_record_is_no_step() {
        use stemedb::model::{Assertion, Record};
        use stemedb::storage::keys;
        let a = Assertion::new("s".to_owned(), "p".to_owned(), "o".to_owned(), 0.5, 1_000);
        let primary = keys::assertion_key(&a.identity_hash());
        let record = Record::Assertion(a);
        let accept = |_: &[u8]| Some(record.clone());
        let entries = vec![entry(0, 8), entry(56, 8)];
        let damaged = BTreeSet::from([0]);
        let stepped = stepping_entries(&entries, &damaged, &KvImage::new(), &accept);
        assert_eq!(stepped.len(), 1);
        let err = check(&stepped, &BTreeMap::new(), 112).unwrap_err();
        assert!(err.contains("[0, 56)"), "{err}");
        let mut letters = BTreeMap::new();
        letters.insert(
            0,
            "WAL bytes [0, 56) were quarantined by WAL recovery".to_owned(),
        );
        assert_eq!(check(&stepped, &letters, 112), Ok(()));
        // A duplicate: its key holds the record from elsewhere.
        let replayed = KvImage::from([(primary, vec![1; 8])]);
        let stepped = stepping_entries(&entries, &damaged, &replayed, &accept);
        assert_eq!(check(&stepped, &BTreeMap::new(), 112), Ok(()));
        // Intact or applied records are steps whatever the replay holds.
        let stepped = stepping_entries(&entries, &BTreeSet::new(), &KvImage::new(), &accept);
        assert_eq!(check(&stepped, &BTreeMap::new(), 112), Ok(()));
    }

    /// Two records were known at 56 (a misdirected write replaced one): either may be the one
    /// ingest stepped over.
    #[test]
    fn any_record_known_at_an_offset_is_a_step() {
        let entries = vec![entry(0, 8), entry(56, 8), entry(56, 96), entry(200, 8)];
        assert_eq!(check(&entries, &BTreeMap::new(), 256), Ok(()));
        assert_eq!(check(&entries, &BTreeMap::new(), 112), Ok(()));
    }
}
