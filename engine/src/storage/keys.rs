//! The storage key codec: every key the engine writes to the KV store, encoded injectively.
//!
//! A key is a family tag (`H:`, `V:`, ...) followed by the family's parts. Tags all end in `:`
//! and contain no other `:`, so no tag is a prefix of another and families never overlap.
//!
//! Parts:
//! - fixed-width parts (hashes, public keys) are written raw; their length is implied;
//! - integers are big-endian `u64`, so byte order equals numeric order in scans;
//! - variable-length parts (subject, predicate: arbitrary bytes) are escaped: each `0x00` is
//!   written as `0x00 0xFF`, and the part ends with the terminator `0x00 0x01`.
//!
//! Escaping rather than length-prefixing makes every variable part self-delimiting *and*
//! order-preserving: keys of one family sort by subject (then predicate) exactly as the raw bytes
//! sort, and the terminator (`0x00 0x01`) sorts below any continuation, so "ab" sorts before
//! "ab\0" and "abc". Because a part is self-delimiting, `subject_prefix(s)` (which includes the
//! terminator) is a prefix of a subject key exactly when the key's subject is `s`: scanning "ab"
//! can never return "abc". The two-byte terminator matters: a one-byte `0x00` terminator would be
//! ambiguous when the next part (a predicate or a hash) begins with `0xFF`.

use crate::model::{Hash32, HASH_BYTES, PUBLIC_KEY_BYTES};

/// Byte that starts an escape sequence or the terminator inside a variable-length part.
const ESCAPE_BYTE: u8 = 0x00;
/// Follows [`ESCAPE_BYTE`] to stand for a literal `0x00`.
const ESCAPED_ZERO_BYTE: u8 = 0xFF;
/// Follows [`ESCAPE_BYTE`] to end a variable-length part.
const TERMINATOR_BYTE: u8 = 0x01;
/// Length of an encoded `u64` part in bytes.
const U64_BYTES: usize = 8;

/// Name (after the `M:` tag) of the ingest cursor key.
const INGEST_CURSOR_NAME: &[u8] = b"ingest_cursor";

/// The key of the ingest cursor (the WAL offset up to which records have been applied).
pub const INGEST_CURSOR_KEY: &[u8] = b"M:ingest_cursor";

/// A key family: the tag every key of the family starts with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeyFamily {
    /// `H:` assertion by identity hash.
    Assertion,
    /// `V:` vote, by assertion hash then voter key.
    Vote,
    /// `E:` evidence, by assertion hash then evidence hash.
    Evidence,
    /// `S:` subject index: subject, then assertion hash.
    Subject,
    /// `SP:` subject+predicate index: subject, predicate, then assertion hash.
    SubjectPredicate,
    /// `VC:` vote count per assertion.
    VoteCount,
    /// `VW:` vote weight per assertion.
    VoteWeight,
    /// `M:` engine metadata (the ingest cursor).
    Meta,
    /// `Q:` quarantine (dead letters), by WAL offset.
    Quarantine,
    /// `A:` audit log, by sequence number.
    Audit,
}

impl KeyFamily {
    /// Every family.
    pub const ALL: [KeyFamily; 10] = [
        KeyFamily::Assertion,
        KeyFamily::Vote,
        KeyFamily::Evidence,
        KeyFamily::Subject,
        KeyFamily::SubjectPredicate,
        KeyFamily::VoteCount,
        KeyFamily::VoteWeight,
        KeyFamily::Meta,
        KeyFamily::Quarantine,
        KeyFamily::Audit,
    ];

    /// The tag that opens every key of this family; also the prefix to scan the whole family.
    pub const fn tag(self) -> &'static [u8] {
        match self {
            KeyFamily::Assertion => b"H:",
            KeyFamily::Vote => b"V:",
            KeyFamily::Evidence => b"E:",
            KeyFamily::Subject => b"S:",
            KeyFamily::SubjectPredicate => b"SP:",
            KeyFamily::VoteCount => b"VC:",
            KeyFamily::VoteWeight => b"VW:",
            KeyFamily::Meta => b"M:",
            KeyFamily::Quarantine => b"Q:",
            KeyFamily::Audit => b"A:",
        }
    }

    /// The family whose tag opens `key`, and the rest of the key.
    fn split(key: &[u8]) -> Option<(KeyFamily, &[u8])> {
        KeyFamily::ALL
            .into_iter()
            .find_map(|f| key.strip_prefix(f.tag()).map(|rest| (f, rest)))
    }
}

/// A parsed storage key. (No `Ord`: compare encoded bytes when the KV order matters.)
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Key {
    /// `H:` + hash.
    Assertion { hash: Hash32 },
    /// `V:` + assertion hash + voter key.
    Vote {
        assertion: Hash32,
        voter: [u8; PUBLIC_KEY_BYTES],
    },
    /// `E:` + assertion hash + evidence hash.
    Evidence { assertion: Hash32, evidence: Hash32 },
    /// `S:` + escaped subject + assertion hash.
    Subject { subject: Vec<u8>, assertion: Hash32 },
    /// `SP:` + escaped subject + escaped predicate + assertion hash.
    SubjectPredicate {
        subject: Vec<u8>,
        predicate: Vec<u8>,
        assertion: Hash32,
    },
    /// `VC:` + assertion hash.
    VoteCount { assertion: Hash32 },
    /// `VW:` + assertion hash.
    VoteWeight { assertion: Hash32 },
    /// [`INGEST_CURSOR_KEY`].
    IngestCursor,
    /// `Q:` + big-endian WAL offset.
    Quarantine { wal_offset: u64 },
    /// `A:` + big-endian sequence number.
    Audit { seq: u64 },
}

/// A byte string that is not a well-formed key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The key starts with no known family tag.
    #[error("key has no known family tag")]
    UnknownFamily,
    /// A fixed-width part is cut short.
    #[error("{family:?} key is truncated")]
    Truncated { family: KeyFamily },
    /// Bytes follow the last part.
    #[error("{family:?} key has {bytes} trailing bytes")]
    TrailingBytes { family: KeyFamily, bytes: usize },
    /// A variable-length part has no terminator.
    #[error("{family:?} key has an unterminated variable-length part")]
    Unterminated { family: KeyFamily },
    /// A `0x00` inside a variable-length part is followed by neither `0xFF` nor `0x01`.
    #[error("{family:?} key has an invalid escape sequence")]
    BadEscape { family: KeyFamily },
    /// An `M:` key other than the known metadata keys.
    #[error("unknown metadata key")]
    UnknownMeta,
}

/// Appends `part` escaped and terminated (see the module docs).
fn push_escaped(out: &mut Vec<u8>, part: &[u8]) {
    for &b in part {
        out.push(b);
        if b == ESCAPE_BYTE {
            out.push(ESCAPED_ZERO_BYTE);
        }
    }
    out.extend_from_slice(&[ESCAPE_BYTE, TERMINATOR_BYTE]);
}

fn key_with(family: KeyFamily, parts_bytes: usize, fill: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut out = Vec::with_capacity(family.tag().len() + parts_bytes);
    out.extend_from_slice(family.tag());
    fill(&mut out);
    out
}

/// Escaped length of a variable part, including the terminator (a capacity hint only).
fn escaped_len(part: &[u8]) -> usize {
    part.len() + part.iter().filter(|&&b| b == ESCAPE_BYTE).count() + 2
}

/// `H:` key of the assertion with identity hash `hash`.
pub fn assertion_key(hash: &Hash32) -> Vec<u8> {
    key_with(KeyFamily::Assertion, HASH_BYTES, |k| {
        k.extend_from_slice(hash.as_bytes())
    })
}

/// `V:` key of `voter`'s vote on `assertion`.
pub fn vote_key(assertion: &Hash32, voter: &[u8; PUBLIC_KEY_BYTES]) -> Vec<u8> {
    key_with(KeyFamily::Vote, HASH_BYTES + PUBLIC_KEY_BYTES, |k| {
        k.extend_from_slice(assertion.as_bytes());
        k.extend_from_slice(voter);
    })
}

/// Prefix of every `V:` key of votes on `assertion`.
pub fn votes_prefix(assertion: &Hash32) -> Vec<u8> {
    key_with(KeyFamily::Vote, HASH_BYTES, |k| {
        k.extend_from_slice(assertion.as_bytes())
    })
}

/// `E:` key of the evidence with identity hash `evidence` for `assertion`.
pub fn evidence_key(assertion: &Hash32, evidence: &Hash32) -> Vec<u8> {
    key_with(KeyFamily::Evidence, 2 * HASH_BYTES, |k| {
        k.extend_from_slice(assertion.as_bytes());
        k.extend_from_slice(evidence.as_bytes());
    })
}

/// Prefix of every `E:` key of evidence for `assertion`.
pub fn evidence_prefix(assertion: &Hash32) -> Vec<u8> {
    key_with(KeyFamily::Evidence, HASH_BYTES, |k| {
        k.extend_from_slice(assertion.as_bytes())
    })
}

/// `S:` index key of `assertion` under `subject` (any bytes).
pub fn subject_key(subject: &[u8], assertion: &Hash32) -> Vec<u8> {
    key_with(KeyFamily::Subject, escaped_len(subject) + HASH_BYTES, |k| {
        push_escaped(k, subject);
        k.extend_from_slice(assertion.as_bytes());
    })
}

/// Prefix of exactly the `S:` keys whose subject is `subject` (not of longer subjects that merely
/// start with it).
pub fn subject_prefix(subject: &[u8]) -> Vec<u8> {
    key_with(KeyFamily::Subject, escaped_len(subject), |k| {
        push_escaped(k, subject)
    })
}

/// `SP:` index key of `assertion` under (`subject`, `predicate`).
pub fn subject_predicate_key(subject: &[u8], predicate: &[u8], assertion: &Hash32) -> Vec<u8> {
    let len = escaped_len(subject) + escaped_len(predicate) + HASH_BYTES;
    key_with(KeyFamily::SubjectPredicate, len, |k| {
        push_escaped(k, subject);
        push_escaped(k, predicate);
        k.extend_from_slice(assertion.as_bytes());
    })
}

/// Prefix of exactly the `SP:` keys whose subject is `subject` and predicate is `predicate`.
pub fn subject_predicate_prefix(subject: &[u8], predicate: &[u8]) -> Vec<u8> {
    let len = escaped_len(subject) + escaped_len(predicate);
    key_with(KeyFamily::SubjectPredicate, len, |k| {
        push_escaped(k, subject);
        push_escaped(k, predicate);
    })
}

/// `VC:` key of the vote count of `assertion`.
pub fn vote_count_key(assertion: &Hash32) -> Vec<u8> {
    key_with(KeyFamily::VoteCount, HASH_BYTES, |k| {
        k.extend_from_slice(assertion.as_bytes())
    })
}

/// `VW:` key of the aggregate vote weight of `assertion`.
pub fn vote_weight_key(assertion: &Hash32) -> Vec<u8> {
    key_with(KeyFamily::VoteWeight, HASH_BYTES, |k| {
        k.extend_from_slice(assertion.as_bytes())
    })
}

/// `Q:` key of the quarantined (dead-letter) record at `wal_offset`.
pub fn quarantine_key(wal_offset: u64) -> Vec<u8> {
    key_with(KeyFamily::Quarantine, U64_BYTES, |k| {
        k.extend_from_slice(&wal_offset.to_be_bytes())
    })
}

/// `A:` key of audit record number `seq`.
pub fn audit_key(seq: u64) -> Vec<u8> {
    key_with(KeyFamily::Audit, U64_BYTES, |k| {
        k.extend_from_slice(&seq.to_be_bytes())
    })
}

/// Reads the parts of one key, left to right, with the family for error reports.
struct Parts<'a> {
    family: KeyFamily,
    rest: &'a [u8],
}

impl<'a> Parts<'a> {
    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], KeyError> {
        let (part, rest) = self
            .rest
            .split_first_chunk::<N>()
            .ok_or(KeyError::Truncated {
                family: self.family,
            })?;
        self.rest = rest;
        Ok(*part)
    }

    fn hash(&mut self) -> Result<Hash32, KeyError> {
        self.fixed::<HASH_BYTES>().map(Hash32)
    }

    fn u64(&mut self) -> Result<u64, KeyError> {
        self.fixed::<U64_BYTES>().map(u64::from_be_bytes)
    }

    fn escaped(&mut self) -> Result<Vec<u8>, KeyError> {
        let family = self.family;
        let mut part = Vec::new();
        let mut i = 0;
        while let Some(&b) = self.rest.get(i) {
            if b != ESCAPE_BYTE {
                part.push(b);
                i += 1;
                continue;
            }
            match self.rest.get(i + 1) {
                Some(&ESCAPED_ZERO_BYTE) => {
                    part.push(ESCAPE_BYTE);
                    i += 2;
                }
                Some(&TERMINATOR_BYTE) => {
                    self.rest = self.rest.get(i + 2..).unwrap_or_default();
                    return Ok(part);
                }
                Some(_) => return Err(KeyError::BadEscape { family }),
                None => return Err(KeyError::Unterminated { family }),
            }
        }
        Err(KeyError::Unterminated { family })
    }

    fn end(self) -> Result<(), KeyError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(KeyError::TrailingBytes {
                family: self.family,
                bytes: self.rest.len(),
            })
        }
    }
}

impl Key {
    /// The key's family.
    pub fn family(&self) -> KeyFamily {
        match self {
            Key::Assertion { .. } => KeyFamily::Assertion,
            Key::Vote { .. } => KeyFamily::Vote,
            Key::Evidence { .. } => KeyFamily::Evidence,
            Key::Subject { .. } => KeyFamily::Subject,
            Key::SubjectPredicate { .. } => KeyFamily::SubjectPredicate,
            Key::VoteCount { .. } => KeyFamily::VoteCount,
            Key::VoteWeight { .. } => KeyFamily::VoteWeight,
            Key::IngestCursor => KeyFamily::Meta,
            Key::Quarantine { .. } => KeyFamily::Quarantine,
            Key::Audit { .. } => KeyFamily::Audit,
        }
    }

    /// The key's bytes (the same as the family's `*_key` function).
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Key::Assertion { hash } => assertion_key(hash),
            Key::Vote { assertion, voter } => vote_key(assertion, voter),
            Key::Evidence {
                assertion,
                evidence,
            } => evidence_key(assertion, evidence),
            Key::Subject { subject, assertion } => subject_key(subject, assertion),
            Key::SubjectPredicate {
                subject,
                predicate,
                assertion,
            } => subject_predicate_key(subject, predicate, assertion),
            Key::VoteCount { assertion } => vote_count_key(assertion),
            Key::VoteWeight { assertion } => vote_weight_key(assertion),
            Key::IngestCursor => INGEST_CURSOR_KEY.to_vec(),
            Key::Quarantine { wal_offset } => quarantine_key(*wal_offset),
            Key::Audit { seq } => audit_key(*seq),
        }
    }

    /// Parses key bytes back into a [`Key`]. The exact inverse of [`Key::encode`]: any byte
    /// string that `encode` cannot produce is an error (never a panic).
    pub fn decode(bytes: &[u8]) -> Result<Key, KeyError> {
        let (family, rest) = KeyFamily::split(bytes).ok_or(KeyError::UnknownFamily)?;
        if family == KeyFamily::Meta {
            return if rest == INGEST_CURSOR_NAME {
                Ok(Key::IngestCursor)
            } else {
                Err(KeyError::UnknownMeta)
            };
        }
        let mut p = Parts { family, rest };
        let key = match family {
            KeyFamily::Assertion => Key::Assertion { hash: p.hash()? },
            KeyFamily::Vote => Key::Vote {
                assertion: p.hash()?,
                voter: p.fixed::<PUBLIC_KEY_BYTES>()?,
            },
            KeyFamily::Evidence => Key::Evidence {
                assertion: p.hash()?,
                evidence: p.hash()?,
            },
            KeyFamily::Subject => Key::Subject {
                subject: p.escaped()?,
                assertion: p.hash()?,
            },
            KeyFamily::SubjectPredicate => Key::SubjectPredicate {
                subject: p.escaped()?,
                predicate: p.escaped()?,
                assertion: p.hash()?,
            },
            KeyFamily::VoteCount => Key::VoteCount {
                assertion: p.hash()?,
            },
            KeyFamily::VoteWeight => Key::VoteWeight {
                assertion: p.hash()?,
            },
            KeyFamily::Quarantine => Key::Quarantine {
                wal_offset: p.u64()?,
            },
            KeyFamily::Audit => Key::Audit { seq: p.u64()? },
            // Handled above; kept total so a new family cannot be forgotten silently.
            KeyFamily::Meta => return Err(KeyError::UnknownMeta),
        };
        p.end()?;
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn family_tags_are_prefix_free() {
        for a in KeyFamily::ALL {
            for b in KeyFamily::ALL {
                if a != b {
                    assert!(!b.tag().starts_with(a.tag()), "{a:?} is a prefix of {b:?}");
                }
            }
        }
    }

    #[test]
    fn ingest_cursor_key_is_in_the_meta_family() {
        assert_eq!(
            INGEST_CURSOR_KEY,
            [KeyFamily::Meta.tag(), INGEST_CURSOR_NAME]
                .concat()
                .as_slice()
        );
    }
}
