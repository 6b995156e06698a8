//! Dead-letter reasons: a record ingest sets aside must say why, as the reference sees it.
//!
//! The dead letter is what an operator reads to learn what happened to a write, so its reason is
//! output, not decoration. Checked once the liveness phase has drained, for every intact record
//! of the log the reference dead-letters (records media damage touched are judged by the
//! coverage oracle, whose ranges their reasons name):
//! - bytes that are no readable payload (`oracle::spec::unreadable`) are called undecodable,
//!   and when rkyv refused the archive the reason ends with rkyv's own message for those bytes,
//!   addresses masked: a reason is a function of the bytes alone (it is stored, so it must be
//!   the same in every process that writes it), and it keeps the detail that tells one bad
//!   archive from another;
//! - a record that reads but breaks a rule is called invalid, never undecodable.
//!
//! What this catches: a reason emptied or replaced, an address left in it (a store that differs
//! between two runs of one log), a decode failure filed as a validation failure or back.

use std::collections::{BTreeMap, BTreeSet};

use crate::oracle::log::Entry;
use crate::oracle::spec::{self, Unreadable};

/// How the engine opens the reason of a payload it cannot read (`ingest::Rejection::Decode`).
const UNDECODABLE_PREFIX: &str = "undecodable record: ";
/// How it opens the reason of a record that breaks a rule (`ingest::Rejection::Invalid`).
const INVALID_PREFIX: &str = "invalid record: ";

/// Checks the reason of every dead letter the reference expects at an intact entry of `entries`
/// (`expected` holds their offsets; `stored` the dead letters by offset).
pub fn check(
    entries: &[Entry],
    expected: &BTreeSet<u64>,
    stored: &BTreeMap<u64, String>,
) -> Result<(), String> {
    for entry in entries
        .iter()
        .filter(|e| !e.uncertain && expected.contains(&e.offset))
    {
        let Some(reason) = stored.get(&entry.offset) else {
            continue; // a missing dead letter is the replay check's verdict
        };
        let wrong = |want: &str| {
            format!(
                "the dead letter at offset {} says \"{reason}\", but the record {want}",
                entry.offset
            )
        };
        match spec::unreadable(&entry.payload) {
            Some(why) if !reason.starts_with(UNDECODABLE_PREFIX) => {
                return Err(wrong(&format!("is unreadable ({why:?})")));
            }
            Some(Unreadable::Archive(detail)) if !reason.ends_with(&format!(": {detail}")) => {
                return Err(wrong(&format!(
                    "is an archive rkyv refuses with \"{detail}\" (addresses masked)"
                )));
            }
            None if !reason.starts_with(INVALID_PREFIX) => {
                return Err(wrong("reads and breaks a rule"));
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(offset: u64, payload: Vec<u8>) -> Entry {
        Entry {
            offset,
            payload,
            uncertain: false,
        }
    }

    #[test]
    fn a_reason_must_name_its_class_and_keep_the_archive_detail() {
        let mut garbage = b"SDBR\x01\x01\0\0".to_vec();
        garbage.extend_from_slice(&[0xAB; 40]);
        let Some(Unreadable::Archive(detail)) = spec::unreadable(&garbage) else {
            panic!("garbage after a good header is an archive rkyv refuses");
        };
        let entries = vec![entry(0, garbage), entry(64, b"xy".to_vec())];
        let expected = BTreeSet::from([0, 64]);
        let good = BTreeMap::from([
            (
                0,
                format!("undecodable record: invalid Assertion archive: {detail}"),
            ),
            (64, "undecodable record: record is 2 bytes".to_owned()),
        ]);
        assert_eq!(check(&entries, &expected, &good), Ok(()));
        let mut emptied = good.clone();
        emptied.insert(
            0,
            "undecodable record: invalid Assertion archive: ".to_owned(),
        );
        assert!(check(&entries, &expected, &emptied).is_err());
        let mut misfiled = good.clone();
        misfiled.insert(64, "invalid record: subject is empty".to_owned());
        assert!(check(&entries, &expected, &misfiled).is_err());
    }
}
