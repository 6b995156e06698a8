//! `Record`: the WAL payload, an rkyv archive behind a small versioned header.
//!
//! Layout (all of it covered by the WAL's crc32c and blake3):
//!
//! ```text
//! [magic "SDBR":4][format version:u8][kind:u8][reserved, zero:2][rkyv archive of the kind's type]
//! ```
//!
//! The header is 8 bytes so that a payload which starts 8-byte aligned in the WAL (it does:
//! record headers are 40 bytes and records are padded to 8) keeps the archive aligned, and
//! decoding can read it in place. The kind selects which type is archived, so one kind can move
//! to a new format version without touching the others.
//!
//! Decoding treats the bytes as untrusted: the archive is always validated with bytecheck before
//! it is read, and the decoded value must re-encode to exactly the input bytes (the encoding is
//! canonical). Canonicality means a flipped bit can never be silently absorbed (e.g. by padding,
//! or the unused payload of an absent `Option`): it is either rejected here or it changes the
//! decoded value, which then fails signature verification.

use rkyv::api::high::{HighDeserializer, HighSerializer, HighValidator};
use rkyv::bytecheck::CheckBytes;
use rkyv::rancor;
use rkyv::ser::allocator::ArenaHandle;
use rkyv::util::AlignedVec;

use crate::model::{Assertion, Evidence, Hash32, Limits, SignatureVerifier, ValidationError, Vote};

/// Magic bytes that open every encoded record.
pub const RECORD_MAGIC: [u8; 4] = *b"SDBR";
/// The record format version this build writes (and the only one it reads).
pub const RECORD_FORMAT_VERSION: u8 = 1;
/// Length of the record header in bytes; a multiple of 8 to keep the archive aligned.
pub const RECORD_HEADER_BYTES: usize = 8;

/// Alignment the archive needs to be read in place, in bytes: the largest alignment of the
/// archived root types (nested data - strings, byte arrays, vectors of those - needs less).
const ARCHIVE_ALIGN_BYTES: usize = {
    let a = align_of::<rkyv::Archived<Assertion>>();
    let v = align_of::<rkyv::Archived<Vote>>();
    let e = align_of::<rkyv::Archived<Evidence>>();
    let max = if a > v { a } else { v };
    if max > e {
        max
    } else {
        e
    }
};
// An `AlignedVec` copy must satisfy the archive's alignment.
const _: () = assert!(ARCHIVE_ALIGN_BYTES <= <AlignedVec>::ALIGNMENT);

/// What a record holds; the tag is stored in the header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RecordKind {
    /// An [`Assertion`].
    Assertion,
    /// A [`Vote`].
    Vote,
    /// An [`Evidence`].
    Evidence,
}

impl RecordKind {
    /// The header tag of this kind.
    pub const fn tag(self) -> u8 {
        match self {
            RecordKind::Assertion => 1,
            RecordKind::Vote => 2,
            RecordKind::Evidence => 3,
        }
    }

    /// The kind with header tag `tag`, if any.
    pub const fn from_tag(tag: u8) -> Option<RecordKind> {
        match tag {
            1 => Some(RecordKind::Assertion),
            2 => Some(RecordKind::Vote),
            3 => Some(RecordKind::Evidence),
            _ => None,
        }
    }
}

/// One WAL payload.
#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    /// A signed assertion.
    Assertion(Assertion),
    /// A signed vote.
    Vote(Vote),
    /// Signed evidence.
    Evidence(Evidence),
}

/// Encoding failed. Only possible for records far beyond every validation limit (rkyv's relative
/// pointers are 32-bit, so an archive must stay under 2 GiB).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// rkyv could not serialise the record.
    #[error("cannot archive record: {reason}")]
    Archive { reason: String },
}

/// The bytes are not a record this build can read. Never a panic, whatever the input.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Shorter than the header.
    #[error("record is {bytes} bytes, shorter than its {RECORD_HEADER_BYTES}-byte header")]
    TooShort { bytes: usize },
    /// The magic bytes are wrong.
    #[error("bad record magic {found:02x?}")]
    BadMagic { found: [u8; 4] },
    /// A format version this build does not read.
    #[error("unsupported record format version {version}")]
    UnsupportedVersion { version: u8 },
    /// An unknown kind tag.
    #[error("unknown record kind tag {tag}")]
    UnknownKind { tag: u8 },
    /// The reserved header bytes are not zero.
    #[error("reserved header bytes are not zero")]
    ReservedNotZero,
    /// The archive failed validation (bytecheck) or deserialisation.
    #[error("invalid {kind:?} archive: {reason}")]
    InvalidArchive { kind: RecordKind, reason: String },
    /// The archive is valid but not the canonical encoding of the value it holds.
    #[error("{kind:?} archive is not in canonical form")]
    NonCanonical { kind: RecordKind },
}

type Serializer<'a> = HighSerializer<AlignedVec, ArenaHandle<'a>, rancor::Error>;

fn archive<T>(value: &T) -> Result<AlignedVec, rancor::Error>
where
    T: for<'a> rkyv::Serialize<Serializer<'a>>,
{
    rkyv::to_bytes::<rancor::Error>(value)
}

/// Validates and deserialises an archive of `T`, then checks that it is canonical.
fn unarchive<T>(kind: RecordKind, body: &[u8]) -> Result<T, DecodeError>
where
    T: rkyv::Archive + for<'a> rkyv::Serialize<Serializer<'a>>,
    T::Archived: for<'a> CheckBytes<HighValidator<'a, rancor::Error>>
        + rkyv::Deserialize<T, HighDeserializer<rancor::Error>>,
{
    let invalid = |e: rancor::Error| DecodeError::InvalidArchive {
        kind,
        reason: deterministic_reason(&e.to_string()),
    };
    // The WAL normally hands us an aligned payload; copy only when it does not.
    let value = if body.as_ptr().addr().is_multiple_of(ARCHIVE_ALIGN_BYTES) {
        rkyv::from_bytes::<T, rancor::Error>(body).map_err(invalid)?
    } else {
        let mut aligned: AlignedVec = AlignedVec::with_capacity(body.len());
        aligned.extend_from_slice(body);
        rkyv::from_bytes::<T, rancor::Error>(&aligned).map_err(invalid)?
    };
    match archive(&value) {
        Ok(canonical) if canonical.as_slice() == body => Ok(value),
        _ => Err(DecodeError::NonCanonical { kind }),
    }
}

impl Record {
    /// The record's kind.
    pub fn kind(&self) -> RecordKind {
        match self {
            Record::Assertion(_) => RecordKind::Assertion,
            Record::Vote(_) => RecordKind::Vote,
            Record::Evidence(_) => RecordKind::Evidence,
        }
    }

    /// The identity hash of the inner value (blake3 of its signing message).
    pub fn identity_hash(&self) -> Hash32 {
        match self {
            Record::Assertion(a) => a.identity_hash(),
            Record::Vote(v) => v.identity_hash(),
            Record::Evidence(e) => e.identity_hash(),
        }
    }

    /// Validates the inner value (see `Assertion::validate`, `Vote::validate`,
    /// `Evidence::validate`) and returns its identity hash.
    pub fn validate(&self, now_wall_ms: u64, limits: &Limits) -> Result<Hash32, ValidationError> {
        self.validate_with(now_wall_ms, limits, None)
    }

    /// `validate`, verifying signatures through `verifier` (and its caches) when given.
    pub fn validate_with(
        &self,
        now_wall_ms: u64,
        limits: &Limits,
        verifier: Option<&SignatureVerifier>,
    ) -> Result<Hash32, ValidationError> {
        match self {
            Record::Assertion(a) => a.validate_with(now_wall_ms, limits, verifier),
            Record::Vote(v) => v.validate_with(now_wall_ms, limits, verifier),
            Record::Evidence(e) => e.validate_with(now_wall_ms, limits, verifier),
        }
    }

    /// Encodes the record as a WAL payload: header, then the rkyv archive. Deterministic: equal
    /// records encode to equal bytes.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        let body = match self {
            Record::Assertion(a) => archive(a),
            Record::Vote(v) => archive(v),
            Record::Evidence(e) => archive(e),
        }
        .map_err(|e| EncodeError::Archive {
            reason: e.to_string(),
        })?;
        let mut out = Vec::with_capacity(RECORD_HEADER_BYTES + body.len());
        out.extend_from_slice(&RECORD_MAGIC);
        out.push(RECORD_FORMAT_VERSION);
        out.push(self.kind().tag());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Decodes a WAL payload. The bytes are untrusted: the header is checked field by field, the
    /// archive is validated before it is read and must be canonical. Any input yields a value or
    /// a [`DecodeError`], never a panic. Unaligned input is copied into an aligned buffer.
    pub fn decode(bytes: &[u8]) -> Result<Record, DecodeError> {
        let (header, body) = match bytes.split_first_chunk::<RECORD_HEADER_BYTES>() {
            Some(split) => split,
            None => return Err(DecodeError::TooShort { bytes: bytes.len() }),
        };
        let [m0, m1, m2, m3, version, tag, r0, r1] = *header;
        if [m0, m1, m2, m3] != RECORD_MAGIC {
            return Err(DecodeError::BadMagic {
                found: [m0, m1, m2, m3],
            });
        }
        if version != RECORD_FORMAT_VERSION {
            return Err(DecodeError::UnsupportedVersion { version });
        }
        let kind = RecordKind::from_tag(tag).ok_or(DecodeError::UnknownKind { tag })?;
        if [r0, r1] != [0, 0] {
            return Err(DecodeError::ReservedNotZero);
        }
        Ok(match kind {
            RecordKind::Assertion => Record::Assertion(unarchive(kind, body)?),
            RecordKind::Vote => Record::Vote(unarchive(kind, body)?),
            RecordKind::Evidence => Record::Evidence(unarchive(kind, body)?),
        })
    }
}

/// bytecheck's messages name raw memory addresses ("ptr 0x00007f..."), which differ run to run
/// (ASLR); the reason is stored in the quarantine, so it must be a function of the bytes alone.
fn deterministic_reason(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find("0x") {
        out.push_str(&rest[..at]);
        let digits = rest[at + 2..]
            .find(|c: char| !c.is_ascii_hexdigit())
            .unwrap_or(rest.len() - at - 2);
        if digits == 0 {
            out.push_str("0x");
        } else {
            out.push_str("<address>");
        }
        rest = &rest[at + 2 + digits..];
    }
    out.push_str(rest);
    out
}
