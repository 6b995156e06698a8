//! What the harness knows of the log, and the durability checks after every recovery.
//!
//! Must hold after every recovery (DESIGN.md section 6, chaos):
//! - every acknowledged record is present at its offset, byte-identical (no holes);
//! - every record present was submitted, and no more often than it was submitted (nothing
//!   invented, nothing duplicated);
//! - a record once observed never changes its bytes.
//!
//! The only excuse is media damage, and only where it struck: the simulated disk reports the
//! exact byte ranges that bit rot, latent sector errors and misdirected writes (both the range a
//! write was aimed at and the range it landed on) damaged. A record whose frame overlaps damaged
//! bytes is "uncertain": it may be lost, altered, duplicated, applied or not.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use stemedb::model::Record;

use crate::oracle::spec;
use crate::oracle::validity::{self, Signatures};
use crate::outcome::Failure;

pub type Digest = [u8; 32];

fn digest(payload: &[u8]) -> Digest {
    *blake3::hash(payload).as_bytes()
}

#[derive(Debug, Default)]
pub struct LogOracle {
    /// How often each payload was submitted (acknowledged or not).
    submitted: BTreeMap<Digest, u32>,
    /// How often a submission of each payload was refused with an error that promises nothing
    /// was stored (see [`LogOracle::refused_definitely`]).
    refused_definitely: BTreeMap<Digest, u32>,
    /// Acknowledged records by offset.
    acked: BTreeMap<u64, Vec<u8>>,
    /// The log as last observed, plus acknowledged records since.
    known: BTreeMap<u64, Vec<u8>>,
    /// Offsets whose record the medium may have destroyed (reported quarantined after a media
    /// fault): the engine may have applied them or not.
    uncertain: BTreeSet<u64>,
    /// Damaged global log ranges `[start, end)`, from the disk's media-damage report.
    pub damage: Vec<(u64, u64)>,
    /// Records media damage destroyed whose offset a later record took: the engine may have
    /// applied them before they were lost, so the replay considers them (uncertain) in place.
    ghosts: Vec<(u64, Vec<u8>)>,
    /// Payloads the harness signed itself: their signatures are good by construction.
    signed: BTreeSet<Digest>,
    /// Payloads that only ever travelled as frames inside another record's content: none may
    /// ever be read back from the log, damaged or not.
    smuggled: BTreeSet<Digest>,
    /// The reference validator's verdicts by payload digest (a pure function of the bytes, asked
    /// for the same record by several checks).
    verdicts: RefCell<BTreeMap<Digest, bool>>,
    /// Acknowledgements received, and their payload bytes: every one, repeats of an offset
    /// included (the truth of the engine's `wal_appends_total`).
    acks: u64,
    acked_bytes: u64,
}

/// One record of the log as the replay sees it.
#[derive(Clone, Debug)]
pub struct Entry {
    pub offset: u64,
    pub payload: Vec<u8>,
    /// Media damage touched it: the engine may or may not have applied it.
    pub uncertain: bool,
}

/// Bytes a record of `payload_len` occupies in the log: header, payload, padding to 8.
pub fn frame_bytes(payload_len: usize) -> u64 {
    let raw = stemedb::wal::RECORD_HEADER_BYTES as u64 + payload_len as u64;
    raw.div_ceil(stemedb::wal::RECORD_ALIGN_BYTES) * stemedb::wal::RECORD_ALIGN_BYTES
}

impl LogOracle {
    /// A payload is about to be submitted; `signatures` says whether the harness signed these
    /// exact bytes itself.
    pub fn submitting(&mut self, payload: &[u8], signatures: Signatures) {
        let d = digest(payload);
        *self.submitted.entry(d).or_insert(0) += 1;
        match signatures {
            Signatures::KnownGood => {
                self.signed.insert(d);
            }
            Signatures::KnownBad => {
                self.verdicts.borrow_mut().insert(d, false);
            }
            Signatures::Verify => {}
        }
    }

    /// A submission of `payload` was refused with an error that promises nothing was stored (a
    /// validation error, a full device whose partial batch was cut back, an I/O error after which
    /// the batch was cut back): those bytes must never appear in the log.
    pub fn refused_definitely(&mut self, payload: &[u8]) {
        *self.refused_definitely.entry(digest(payload)).or_insert(0) += 1;
    }

    /// `payload` travels as embedded frames inside a record about to be submitted.
    pub fn smuggled(&mut self, payload: &[u8]) {
        self.smuggled.insert(digest(payload));
    }

    /// The reference validator's verdict on `payload` (see `oracle::validity`).
    pub fn accept(&self, payload: &[u8]) -> Option<Record> {
        let d = digest(payload);
        let known = self.verdicts.borrow().get(&d).copied();
        match known {
            Some(false) => None,
            Some(true) => spec::decode(payload),
            None => {
                let signatures = if self.signed.contains(&d) {
                    Signatures::KnownGood
                } else {
                    Signatures::Verify
                };
                let record = validity::accept(payload, signatures);
                self.verdicts.borrow_mut().insert(d, record.is_some());
                record
            }
        }
    }

    /// An acknowledgement: the engine promised `payload` is durable at `offset`.
    pub fn acked(&mut self, offset: u64, payload: &[u8]) -> Result<(), Failure> {
        self.acks += 1;
        self.acked_bytes += payload.len() as u64;
        if let Some(prev) = self.known.get(&offset).filter(|p| p.as_slice() != payload) {
            if !self.uncertain.contains(&offset) {
                let what = if self.acked.contains_key(&offset) {
                    "acknowledged"
                } else {
                    "durable"
                };
                return Err(Failure::Safety(format!(
                    "a new record was acknowledged at offset {offset}, where an undamaged {what} record already was"
                )));
            }
            self.ghosts.push((offset, prev.clone()));
            self.uncertain.remove(&offset);
        }
        self.acked.insert(offset, payload.to_vec());
        self.known.insert(offset, payload.to_vec());
        Ok(())
    }

    /// Acknowledged records at offsets in `range`.
    pub fn acked_in(&self, range: std::ops::Range<u64>) -> usize {
        self.acked.range(range).count()
    }

    /// Acknowledgements received so far, and their payload bytes.
    pub fn acks(&self) -> (u64, u64) {
        (self.acks, self.acked_bytes)
    }

    pub fn acked_count(&self) -> usize {
        self.acked.len()
    }

    /// Every acknowledged record, by offset.
    pub fn acked_records(&self) -> &BTreeMap<u64, Vec<u8>> {
        &self.acked
    }

    pub fn known(&self) -> &BTreeMap<u64, Vec<u8>> {
        &self.known
    }

    /// The log in replay order: at each offset, ghosts first (they were there earlier).
    pub fn entries(&self) -> Vec<Entry> {
        let mut out: Vec<Entry> = self
            .ghosts
            .iter()
            .map(|(o, p)| Entry {
                offset: *o,
                payload: p.clone(),
                uncertain: true,
            })
            .collect();
        // Damage can strike after the last scan saw a record (or after its segment was
        // truncated away), so judge every record against the damage report itself.
        out.extend(self.known.iter().map(|(o, p)| Entry {
            offset: *o,
            payload: p.clone(),
            uncertain: self.uncertain.contains(o) || self.record_damaged(*o, p.len()),
        }));
        // Stable: ghosts stay ahead of the record that replaced them.
        out.sort_by_key(|e| e.offset);
        out
    }

    pub fn uncertain(&self) -> &BTreeSet<u64> {
        &self.uncertain
    }

    /// Whether media damage touched `[start, end)`.
    pub fn damaged(&self, start: u64, end: u64) -> bool {
        self.damage.iter().any(|&(s, e)| s < end && start < e)
    }

    /// Whether `at` lies inside the frame of a record that was ever at its offset (acknowledged,
    /// observed by a scan, or a ghost that a later record replaced) and that media damage struck:
    /// such bytes are what is left of a damaged record. Observations alone are not enough: a
    /// misdirected frame observed at an offset replaces what was written there in `known`, and
    /// the tail of the record it overwrote is still damaged.
    pub fn inside_damaged_frame(&self, at: u64) -> bool {
        let covers = |o: u64, len: usize| {
            let end = o + frame_bytes(len);
            o <= at && at < end && self.damaged(o, end)
        };
        let last_at_or_before = |m: &BTreeMap<u64, Vec<u8>>| {
            m.range(..=at)
                .next_back()
                .is_some_and(|(o, p)| covers(*o, p.len()))
        };
        last_at_or_before(&self.known)
            || last_at_or_before(&self.acked)
            || self.ghosts.iter().any(|(o, p)| covers(*o, p.len()))
    }

    fn record_damaged(&self, offset: u64, payload_len: usize) -> bool {
        self.damaged(offset, offset + frame_bytes(payload_len))
    }

    /// Checks a full scan of the recovered log (`first_offset` is where the log now starts;
    /// records below it were truncated after ingestion) against everything known.
    pub fn check_recovered(
        &mut self,
        scan: &[(u64, Vec<u8>)],
        first_offset: u64,
    ) -> Result<(), Failure> {
        let mut seen: BTreeMap<Digest, u32> = BTreeMap::new();
        let scanned: BTreeMap<u64, &Vec<u8>> = scan.iter().map(|(o, p)| (*o, p)).collect();
        for (offset, payload) in scan {
            let damaged = self.record_damaged(*offset, payload.len());
            let d = digest(payload);
            if self.smuggled.contains(&d) && !self.submitted.contains_key(&d) {
                return Err(Failure::Safety(format!(
                    "a phantom record surfaced at offset {offset}: its frame was only ever smuggled inside another record's content"
                )));
            }
            let n = seen.entry(d).or_insert(0);
            *n += 1;
            let submitted = self.submitted.get(&d).copied().unwrap_or(0);
            let refused = self.refused_definitely.get(&d).copied().unwrap_or(0);
            if *n > submitted && !damaged {
                return Err(Failure::Safety(format!(
                    "the recovered log holds a record at offset {offset} that was submitted {submitted} time(s) but appears {n} time(s)"
                )));
            }
            if *n + refused > submitted && !damaged {
                return Err(Failure::Safety(format!(
                    "the recovered log holds a record at offset {offset} ({n} time(s)) that was submitted {submitted} time(s) and refused {refused} time(s) with an error that promised nothing was stored"
                )));
            }
            if let Some(old) = self.known.get(offset) {
                if old != payload {
                    if !(damaged || self.record_damaged(*offset, old.len())) {
                        return Err(Failure::Safety(format!(
                            "the record at offset {offset} changed its bytes across recovery"
                        )));
                    }
                    self.ghosts.push((*offset, old.clone()));
                    self.uncertain.insert(*offset);
                }
            } else if damaged {
                self.uncertain.insert(*offset);
            }
        }
        for (&offset, payload) in self.acked.range(first_offset..) {
            match scanned.get(&offset) {
                Some(p) if *p == payload => {}
                _ if self.record_damaged(offset, payload.len()) => {
                    self.uncertain.insert(offset);
                }
                Some(_) => {
                    return Err(Failure::Safety(format!(
                        "acknowledged record at offset {offset} holds other bytes after recovery"
                    )))
                }
                None => {
                    return Err(Failure::Safety(format!(
                        "acknowledged record at offset {offset} ({} bytes) is missing after recovery, and no media fault touched it",
                        payload.len()
                    )))
                }
            }
        }
        // Unacknowledged records a crash took are gone from the log; forget them (a damaged one
        // stays known: the engine may have applied it before the damage).
        let lost: Vec<u64> = self
            .known
            .range(first_offset..)
            .filter(|(o, p)| {
                !scanned.contains_key(o)
                    && !self.uncertain.contains(o)
                    && !self.record_damaged(**o, p.len())
            })
            .map(|(o, _)| *o)
            .collect();
        let damaged_unseen: Vec<u64> = self
            .known
            .range(first_offset..)
            .filter(|(o, p)| !scanned.contains_key(o) && self.record_damaged(**o, p.len()))
            .map(|(o, _)| *o)
            .collect();
        self.uncertain.extend(damaged_unseen);
        for o in lost {
            self.known.remove(&o);
        }
        for (offset, payload) in scan {
            self.known.insert(*offset, payload.clone());
        }
        Ok(())
    }
}

impl LogOracle {
    /// Records of segments the engine removed (`SimDisk::removed_files`, parsed by the design's
    /// frame), which no scan may have seen before they went: a record a client gave up on, or
    /// one whose answer was lost, can be applied and truncated away between two recoveries.
    /// Each must have been submitted, and must agree with what is known at its offset; it is
    /// then known, so the replay holds what ingest applied. Every acknowledged record below
    /// `live_base` (the first segment still on disk) must be among them, unless damaged: a
    /// record lost from the log and truncated before any scan looked is lost all the same.
    pub fn observe_removed(
        &mut self,
        records: &[(u64, Vec<u8>)],
        live_base: u64,
    ) -> Result<(), Failure> {
        let mut held: BTreeMap<Digest, u32> = BTreeMap::new();
        let mut at: BTreeMap<u64, &Vec<u8>> = BTreeMap::new();
        for (offset, payload) in records {
            // A removal a crash undid lists the segment again when it goes a second time.
            if at.insert(*offset, payload).is_some_and(|p| p == payload) {
                continue;
            }
            let d = digest(payload);
            let damaged = self.record_damaged(*offset, payload.len());
            let n = held.entry(d).or_insert(0);
            *n += 1;
            let submitted = self.submitted.get(&d).copied().unwrap_or(0);
            if *n > submitted && !damaged {
                return Err(Failure::Safety(format!(
                    "a segment the engine removed held a record at offset {offset} that was \
                     submitted {submitted} time(s) but appears {n} time(s)"
                )));
            }
            match self.known.get(offset) {
                Some(known) if known != payload => {
                    if !(damaged || self.record_damaged(*offset, known.len())) {
                        return Err(Failure::Safety(format!(
                            "a segment the engine removed held other bytes at offset {offset} \
                             than the log did when it was read"
                        )));
                    }
                }
                Some(_) => {}
                None => {
                    if damaged {
                        self.uncertain.insert(*offset);
                    }
                    self.known.insert(*offset, payload.clone());
                }
            }
        }
        for (&offset, payload) in self.acked.range(..live_base) {
            if at.get(&offset).is_some_and(|p| *p == payload) {
                continue;
            }
            if !self.record_damaged(offset, payload.len()) && !self.uncertain.contains(&offset) {
                return Err(Failure::Safety(format!(
                    "acknowledged record at offset {offset} ({} bytes) was not in the log when \
                     the engine removed its segment, and no media fault touched it",
                    payload.len()
                )));
            }
        }
        Ok(())
    }

    /// Records ingest has just applied, read from the synced bytes as the cursor passed them
    /// (`check::frames::applied_records`). An acknowledged record's offset is known from its
    /// acknowledgement and every other durable record from the next recovery's scan, but a record
    /// durable without an answer (its client gave up while its batch was flushed) is applied at
    /// an offset no one reported: if media damage strikes it before a scan reads it, the replay
    /// must still hold it (uncertain) where ingest found it. Learns only offsets not known yet and
    /// payloads that were submitted (anything else is the other checks' verdict: a record nobody
    /// wrote, a frame smuggled inside another record's content); judges nothing itself.
    pub fn observe_applied(&mut self, records: &[(u64, Vec<u8>)]) {
        for (offset, payload) in records {
            if self.known.contains_key(offset) || !self.submitted.contains_key(&digest(payload)) {
                continue;
            }
            if self.record_damaged(*offset, payload.len()) {
                self.uncertain.insert(*offset);
            }
            self.known.insert(*offset, payload.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A payload refused once with a definite error may appear only as often as its other
    /// submissions allow: never, when that was its only submission.
    #[test]
    fn a_definitely_refused_record_must_not_appear_in_the_log() {
        let mut oracle = LogOracle::default();
        let refused = vec![5u8; 40];
        let twice = vec![6u8; 40];
        oracle.submitting(&refused, Signatures::KnownGood);
        oracle.refused_definitely(&refused);
        oracle.submitting(&twice, Signatures::KnownGood);
        oracle.submitting(&twice, Signatures::KnownGood);
        oracle.refused_definitely(&twice);
        // The second submission of `twice` may have landed: one copy is allowed.
        oracle.check_recovered(&[(0, twice.clone())], 0).unwrap();
        let err = oracle
            .check_recovered(&[(0, twice.clone()), (96, refused.clone())], 0)
            .unwrap_err();
        assert!(
            err.message().contains("refused 1 time(s)"),
            "{}",
            err.message()
        );
        // Media damage over the record's own frame is the only excuse.
        oracle.damage = vec![(96, 96 + frame_bytes(refused.len()))];
        oracle
            .check_recovered(&[(0, twice.clone()), (96, refused)], 0)
            .unwrap();
    }

    /// A record durable without an answer (its client gave up while its batch was flushed) is
    /// applied by ingest, then rots before any scan reads it: the replay must still hold it, in
    /// place and uncertain (chaos seed 183021). Only submitted payloads at offsets nobody
    /// reported are learned; an answer or a scan already placed the others.
    #[test]
    fn a_record_applied_without_an_answer_stays_in_the_replay_after_it_rots() {
        let mut oracle = LogOracle::default();
        let (acked, unanswered, invented) = (vec![1u8; 40], vec![2u8; 40], vec![3u8; 40]);
        for p in [&acked, &unanswered] {
            oracle.submitting(p, Signatures::KnownGood);
        }
        oracle.acked(0, &acked).unwrap();
        let at = frame_bytes(acked.len());
        let beyond = at + frame_bytes(unanswered.len());
        oracle.observe_applied(&[
            (0, unanswered.clone()),
            (at, unanswered.clone()),
            (beyond, invented),
        ]);
        assert_eq!(
            oracle.known().get(&0),
            Some(&acked),
            "an answer already placed 0"
        );
        assert!(
            !oracle.known().contains_key(&beyond),
            "never submitted: not learned"
        );
        oracle.damage = vec![(at + 8, at + 9)];
        let entries = oracle.entries();
        let entry = entries.iter().find(|e| e.offset == at).expect("learned");
        assert_eq!(entry.payload, unanswered);
        assert!(entry.uncertain, "damaged since: applied or not");
    }

    /// A misdirected write of 944 bytes of other frames lands on `[0, 944)`, over the start of an
    /// acknowledged record whose frame spans `[904, 1032)`. The next scan observes the landed
    /// frames (so `known` forgets the record at 904), yet the bytes `[944, 1032)` are still what
    /// is left of a damaged record, at the next recovery as at the first. Bytes of undamaged
    /// records are never excused.
    #[test]
    fn the_tail_of_an_overwritten_record_stays_excused_after_later_scans() {
        for acknowledged in [true, false] {
            let mut oracle = LogOracle::default();
            let victim = vec![7u8; 80];
            assert_eq!(frame_bytes(victim.len()), 128);
            let later = vec![9u8; 88];
            let phantom = vec![3u8; 824];
            for p in [&victim, &later, &phantom] {
                oracle.submitting(p, Signatures::KnownGood);
            }
            if acknowledged {
                oracle.acked(904, &victim).unwrap();
                oracle.acked(1032, &later).unwrap();
            } else {
                // Never acknowledged (its append's answer was lost), but seen by a scan.
                oracle
                    .check_recovered(&[(904, victim.clone()), (1032, later.clone())], 0)
                    .unwrap();
            }
            oracle.damage = vec![(0, 944)];
            assert!(oracle.inside_damaged_frame(944));
            // A scan that read phantom frames up to 944 and then the intact record at 1032.
            oracle
                .check_recovered(&[(80, phantom.clone()), (1032, later.clone())], 0)
                .unwrap();
            for _ in 0..2 {
                assert!(
                    oracle.inside_damaged_frame(944),
                    "the victim's tail is damaged (acknowledged: {acknowledged})"
                );
                assert!(oracle.inside_damaged_frame(1031));
                assert!(
                    !oracle.inside_damaged_frame(1032),
                    "an undamaged record is never excused"
                );
                assert!(!oracle.inside_damaged_frame(1100));
                assert!(oracle.uncertain().contains(&904));
                // Another recovery that sees the same log changes nothing.
                oracle
                    .check_recovered(&[(80, phantom.clone()), (1032, later.clone())], 0)
                    .unwrap();
            }
        }
    }
}
