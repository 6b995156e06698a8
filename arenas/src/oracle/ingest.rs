//! The reference ingest: replays a log into the KV a correct engine must hold.
//!
//! Rules (DESIGN.md section 4): a record that fails decoding or validation goes to quarantine;
//! an assertion stores its bytes and its two index entries once (a duplicate changes nothing);
//! the first vote of a voter on an assertion, in log order, is stored and counted, repeats change
//! nothing; evidence is stored once. Each index entry states its assertion's timestamp and
//! lifecycle and its counters as they stand (`spec::index_value`): written with the assertion
//! (counting the votes that came before it) and rewritten by every vote counted after it. Validation is the clock-free part of the rules (the
//! future-timestamp rule is enforced at submit), so a replay is a pure function of the log.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};

use stemedb::model::{Assertion, Hash32, Record, WeightSum};
use stemedb::storage::keys::Key;

use crate::oracle::spec;

/// The key-value state, keyed by raw key bytes.
pub type KvImage = BTreeMap<Vec<u8>, Vec<u8>>;

/// What a replay produced.
#[derive(Debug, Default)]
pub struct Replay {
    pub kv: KvImage,
    /// WAL offsets of records a correct ingest quarantines.
    pub quarantined: BTreeSet<u64>,
    /// Records accepted (not quarantined): new ones, duplicates and repeat votes alike.
    pub applied: u64,
    /// Accepted assertions and evidence whose key an earlier record already filled.
    pub duplicates: u64,
    /// Accepted votes by a voter whose vote on that assertion already counted.
    pub repeats: u64,
}

/// The reference validator's verdict on a payload: the record a correct ingest applies, or
/// `None` when it must dead-letter it (see `oracle::validity`).
pub type Accept<'a> = &'a dyn Fn(&[u8]) -> Option<Record>;

/// Replays `log` (in order) skipping the entries whose index is in `not_applied`.
pub fn replay(
    log: &[crate::oracle::log::Entry],
    not_applied: &BTreeSet<usize>,
    accept: Accept<'_>,
) -> Replay {
    let mut out = Replay::default();
    // Assertions stored so far, for the index entries their votes rewrite.
    let mut stored: BTreeMap<Hash32, Assertion> = BTreeMap::new();
    for (index, entry) in log.iter().enumerate() {
        let (offset, payload) = (entry.offset, &entry.payload);
        if not_applied.contains(&index) {
            continue;
        }
        let Some(record) = accept(payload) else {
            out.quarantined.insert(offset);
            continue;
        };
        out.applied += 1;
        let kv = &mut out.kv;
        match &record {
            Record::Assertion(a) => {
                let hash = spec::assertion_id(a);
                let key = spec::assertion_key(&hash);
                match kv.entry(key) {
                    Entry::Occupied(_) => out.duplicates += 1,
                    Entry::Vacant(slot) => {
                        slot.insert(payload.clone());
                        put_index_entries(kv, &hash, a);
                        stored.insert(hash, a.clone());
                    }
                }
            }
            Record::Vote(v) => {
                let key = spec::vote_key(&v.assertion_hash, &v.voter);
                if kv.contains_key(&key) {
                    out.repeats += 1;
                } else {
                    kv.insert(key, payload.clone());
                    let count_key = spec::vote_count_key(&v.assertion_hash);
                    let count = kv.get(&count_key).map_or(0, |b| be_u64(b)) + 1;
                    kv.insert(count_key, count.to_be_bytes().to_vec());
                    let weight_key = spec::vote_weight_key(&v.assertion_hash);
                    let sum = kv.get(&weight_key).map_or(WeightSum::ZERO, |b| be_sum(b));
                    kv.insert(weight_key, sum.add(v.weight).to_be_bytes().to_vec());
                    if let Some(a) = stored.get(&v.assertion_hash) {
                        put_index_entries(kv, &v.assertion_hash, a);
                    }
                }
            }
            Record::Evidence(e) => {
                let key = spec::evidence_key(&e.assertion_hash, &spec::evidence_id(e));
                match kv.entry(key) {
                    Entry::Occupied(_) => out.duplicates += 1,
                    Entry::Vacant(slot) => {
                        slot.insert(payload.clone());
                    }
                }
            }
        }
    }
    out
}

/// Writes both index entries of `a` (stored under `hash`) with its counters as `kv` holds them.
fn put_index_entries(kv: &mut KvImage, hash: &Hash32, a: &Assertion) {
    let count = kv.get(&spec::vote_count_key(hash)).map_or(0, |b| be_u64(b));
    let weight = kv
        .get(&spec::vote_weight_key(hash))
        .map_or(WeightSum::ZERO, |b| be_sum(b));
    let (subject, predicate) = (a.subject.as_bytes(), a.predicate.as_bytes());
    for key in [
        spec::subject_key(subject, hash),
        spec::subject_predicate_key(subject, predicate, hash),
    ] {
        let value = spec::index_value(&key, a.timestamp_ms, a.lifecycle, count, weight.0);
        kv.insert(key, value);
    }
}

pub fn be_u64(bytes: &[u8]) -> u64 {
    bytes.try_into().map(u64::from_be_bytes).unwrap_or(u64::MAX)
}

pub fn be_sum(bytes: &[u8]) -> WeightSum {
    bytes
        .try_into()
        .map(WeightSum::from_be_bytes)
        .unwrap_or(WeightSum(u128::MAX))
}

/// The data families of an actual KV image, with zero counters dropped (absent means zero).
/// Families are told by the tags the design gives them (`oracle::spec`), not by the engine's
/// key codec.
pub fn data_image(actual: &KvImage) -> Result<KvImage, String> {
    let mut out = KvImage::new();
    for (key, value) in actual {
        let tag = spec::tag_of(key)
            .ok_or_else(|| format!("the KV holds a key with no known family tag: {}", hex(key)))?;
        if !spec::DATA_TAGS.contains(&tag) {
            continue;
        }
        let zero_counter = match tag {
            b"VC:" => be_u64(value) == 0,
            b"VW:" => be_sum(value) == WeightSum::ZERO,
            _ => false,
        };
        if !zero_counter {
            out.insert(key.clone(), value.clone());
        }
    }
    Ok(out)
}

/// Offsets of the quarantine entries in an actual KV image.
pub fn quarantined_offsets(actual: &KvImage) -> BTreeSet<u64> {
    actual
        .keys()
        .filter_map(|k| spec::quarantine_offset(k))
        .collect()
}

/// Every key a record writes when applied (for naming the records behind a difference). A
/// vote also rewrites the index entries of the assertion it counts for, which it does not name;
/// those keys name the assertion.
pub fn keys_of(payload: &[u8], accept: Accept<'_>) -> Vec<Vec<u8>> {
    match accept(payload) {
        Some(Record::Assertion(a)) => {
            let h = spec::assertion_id(&a);
            vec![
                spec::assertion_key(&h),
                spec::subject_key(a.subject.as_bytes(), &h),
                spec::subject_predicate_key(a.subject.as_bytes(), a.predicate.as_bytes(), &h),
            ]
        }
        Some(Record::Vote(v)) => vec![
            spec::vote_key(&v.assertion_hash, &v.voter),
            spec::vote_count_key(&v.assertion_hash),
            spec::vote_weight_key(&v.assertion_hash),
        ],
        Some(Record::Evidence(e)) => {
            vec![spec::evidence_key(
                &e.assertion_hash,
                &spec::evidence_id(&e),
            )]
        }
        None => Vec::new(),
    }
}

/// The first difference between the expected and the actual data image: the key, described.
pub fn first_difference(expected: &KvImage, actual: &KvImage) -> Option<(Vec<u8>, String)> {
    let mut e = expected.iter().peekable();
    let mut a = actual.iter().peekable();
    loop {
        match (e.peek(), a.peek()) {
            (None, None) => return None,
            (Some((k, _)), None) => {
                return Some((k.to_vec(), format!("missing key {}", describe(k))))
            }
            (None, Some((k, _))) => {
                return Some((k.to_vec(), format!("unexpected key {}", describe(k))))
            }
            (Some((ek, ev)), Some((ak, av))) => {
                if ek < ak {
                    return Some((ek.to_vec(), format!("missing key {}", describe(ek))));
                }
                if ak < ek {
                    return Some((ak.to_vec(), format!("unexpected key {}", describe(ak))));
                }
                if ev != av {
                    return Some((
                        ek.to_vec(),
                        format!(
                            "key {} holds {} but a replay of the log gives {}",
                            describe(ek),
                            value_text(ek, av),
                            value_text(ek, ev)
                        ),
                    ));
                }
                e.next();
                a.next();
            }
        }
    }
}

fn value_text(key: &[u8], value: &[u8]) -> String {
    match spec::tag_of(key) {
        Some(b"VC:") => format!("count {}", be_u64(value)),
        Some(b"VW:") => format!("weight {} micros", be_sum(value).micros()),
        Some(b"S:" | b"SP:") if value.len() == 38 => format!(
            "index facts (timestamp {} ms, lifecycle tag {}, count {}, weight {} micros)",
            be_u64(&value[1..9]),
            value[9],
            be_u64(&value[10..18]),
            be_sum(&value[18..34]).micros()
        ),
        _ => format!(
            "{} bytes (blake3 {})",
            value.len(),
            &blake3::hash(value).to_hex()[..16]
        ),
    }
}

fn describe(key: &[u8]) -> String {
    match Key::decode(key) {
        Ok(k) => format!("{k:?}"),
        Err(_) => hex(key),
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
