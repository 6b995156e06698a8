//! Audit records: one per query, stored under `keys::audit_key(seq)`.
//!
//! Encoding (big-endian integers; strings are a `u32` byte length then UTF-8 bytes; an optional
//! field is a presence byte 0/1 then the value when present):
//!
//! ```text
//! [magic "SDBA":4][version:u8][wall_ms:u64][lens tag:u8][lifecycle bits:u8]
//! [max_stale_ms: opt u64][used_view:u8][rule: opt u8][candidates:u64][winner: opt 32 bytes]
//! [subject: str][predicate: opt str][error: opt str]
//! ```
//!
//! Hand-rolled rather than rkyv: the record is small, written once per query, and read only by
//! audits and tests, so a flat format that any tool can parse beats zero-copy access.

use crate::lens::{LensKind, Rule};
use crate::model::{Hash32, HASH_BYTES};
use crate::query::LifecycleFilter;

/// Magic bytes that open every audit record.
pub const AUDIT_MAGIC: [u8; 4] = *b"SDBA";
/// The audit format version this build writes (and the only one it reads).
pub const AUDIT_FORMAT_VERSION: u8 = 1;

/// What one query asked and got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRecord {
    /// The engine clock's wall time when the query started, ms since the Unix epoch.
    pub wall_ms: u64,
    /// The queried subject.
    pub subject: String,
    /// The queried predicate, if any.
    pub predicate: Option<String>,
    /// The lens asked for.
    pub lens: LensKind,
    /// The lifecycle filter.
    pub lifecycles: LifecycleFilter,
    /// The staleness bound in whole milliseconds (saturating), if a view was acceptable.
    pub max_stale_ms: Option<u64>,
    /// Whether a materialised view answered.
    pub used_view: bool,
    /// The rule that decided; `None` when the query failed.
    pub rule: Option<Rule>,
    /// Candidates that matched the filter (and so competed).
    pub candidates: u64,
    /// The winner's identity hash, if any.
    pub winner: Option<Hash32>,
    /// Why the query failed, if it did.
    pub error: Option<String>,
}

/// Stored audit bytes that are not a record this build can read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    /// The bytes end inside a field.
    #[error("audit record is truncated")]
    Truncated,
    /// Wrong magic bytes.
    #[error("bad audit record magic {found:02x?}")]
    BadMagic { found: [u8; 4] },
    /// A version this build does not read.
    #[error("unsupported audit record version {version}")]
    UnsupportedVersion { version: u8 },
    /// A tag, flag or presence byte with no meaning.
    #[error("invalid {field} byte {value}")]
    BadTag { field: &'static str, value: u8 },
    /// A string field is not UTF-8.
    #[error("audit record field {field} is not UTF-8")]
    NotUtf8 { field: &'static str },
    /// Bytes follow the last field.
    #[error("{bytes} trailing bytes after the audit record")]
    TrailingBytes { bytes: usize },
}

impl AuditRecord {
    /// Encodes the record (see the module docs).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer(Vec::with_capacity(
            64 + self.subject.len() + self.predicate.as_ref().map_or(0, String::len),
        ));
        w.bytes(&AUDIT_MAGIC);
        w.u8(AUDIT_FORMAT_VERSION);
        w.u64(self.wall_ms);
        w.u8(self.lens.tag());
        w.u8(self.lifecycles.bits());
        w.opt(self.max_stale_ms.as_ref(), |w, &ms| w.u64(ms));
        w.u8(u8::from(self.used_view));
        w.opt(self.rule.as_ref(), |w, rule| w.u8(rule.tag()));
        w.u64(self.candidates);
        w.opt(self.winner.as_ref(), |w, hash| w.bytes(hash.as_bytes()));
        w.str(&self.subject);
        w.opt(self.predicate.as_ref(), |w, p| w.str(p));
        w.opt(self.error.as_ref(), |w, e| w.str(e));
        w.0
    }

    /// Decodes stored bytes. Untrusted: any input gives a record or an [`AuditError`].
    pub fn decode(bytes: &[u8]) -> Result<AuditRecord, AuditError> {
        let mut r = Reader(bytes);
        let magic = r.fixed::<4>()?;
        if magic != AUDIT_MAGIC {
            return Err(AuditError::BadMagic { found: magic });
        }
        let version = r.u8()?;
        if version != AUDIT_FORMAT_VERSION {
            return Err(AuditError::UnsupportedVersion { version });
        }
        let wall_ms = r.u64()?;
        let lens = r.tagged("lens", LensKind::from_tag)?;
        let lifecycles = r.tagged("lifecycles", LifecycleFilter::from_bits)?;
        let max_stale_ms = r.opt("max_stale_ms", Reader::u64)?;
        let used_view = r.tagged("used_view", |b| match b {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        })?;
        let rule = r.opt("rule", |r| r.tagged("rule", Rule::from_tag))?;
        let candidates = r.u64()?;
        let winner = r.opt("winner", |r| r.fixed::<HASH_BYTES>().map(Hash32))?;
        let subject = r.str("subject")?;
        let predicate = r.opt("predicate", |r| r.str("predicate"))?;
        let error = r.opt("error", |r| r.str("error"))?;
        if !r.0.is_empty() {
            return Err(AuditError::TrailingBytes { bytes: r.0.len() });
        }
        Ok(AuditRecord {
            wall_ms,
            subject,
            predicate,
            lens,
            lifecycles,
            max_stale_ms,
            used_view,
            rule,
            candidates,
            winner,
            error,
        })
    }
}

struct Writer(Vec<u8>);

impl Writer {
    fn bytes(&mut self, b: &[u8]) {
        self.0.extend_from_slice(b);
    }

    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }

    fn u64(&mut self, v: u64) {
        self.bytes(&v.to_be_bytes());
    }

    /// A `u32` length, then the bytes. Longer strings are cut at a char boundary below 4 GiB so
    /// the length always fits (subjects are far shorter; only an error message could be long).
    fn str(&mut self, s: &str) {
        let mut end = s.len().min(u32::MAX as usize);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        let len = u32::try_from(end).unwrap_or(u32::MAX);
        self.bytes(&len.to_be_bytes());
        self.bytes(&s.as_bytes()[..end]);
    }

    fn opt<T>(&mut self, v: Option<&T>, put: impl FnOnce(&mut Writer, &T)) {
        match v {
            None => self.u8(0),
            Some(v) => {
                self.u8(1);
                put(self, v);
            }
        }
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], AuditError> {
        let (head, rest) = self
            .0
            .split_first_chunk::<N>()
            .ok_or(AuditError::Truncated)?;
        self.0 = rest;
        Ok(*head)
    }

    fn u8(&mut self) -> Result<u8, AuditError> {
        self.fixed::<1>().map(|[b]| b)
    }

    fn u64(&mut self) -> Result<u64, AuditError> {
        self.fixed::<8>().map(u64::from_be_bytes)
    }

    fn tagged<T>(
        &mut self,
        field: &'static str,
        parse: impl FnOnce(u8) -> Option<T>,
    ) -> Result<T, AuditError> {
        let value = self.u8()?;
        parse(value).ok_or(AuditError::BadTag { field, value })
    }

    fn str(&mut self, field: &'static str) -> Result<String, AuditError> {
        let len = u32::from_be_bytes(self.fixed::<4>()?) as usize;
        if self.0.len() < len {
            return Err(AuditError::Truncated);
        }
        let (s, rest) = self.0.split_at(len);
        self.0 = rest;
        String::from_utf8(s.to_vec()).map_err(|_| AuditError::NotUtf8 { field })
    }

    fn opt<T>(
        &mut self,
        field: &'static str,
        get: impl FnOnce(&mut Self) -> Result<T, AuditError>,
    ) -> Result<Option<T>, AuditError> {
        match self.u8()? {
            0 => Ok(None),
            1 => get(self).map(Some),
            value => Err(AuditError::BadTag { field, value }),
        }
    }
}
