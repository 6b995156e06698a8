//! Typed errors for reading, writing and merging reports.

use std::fmt;
use std::path::PathBuf;

use crate::histogram_codec::{HistogramDecodeError, HistogramEncodeError};
use crate::schema::SchemaVersion;

/// Why a report could not be read, written or built.
#[derive(Debug)]
pub enum ReportError {
    /// Not JSON, or JSON not shaped like a report.
    Json(serde_json::Error),
    /// The document has no `schema_version` field.
    MissingSchemaVersion,
    /// `schema_version` is not `"MAJOR.MINOR"`.
    MalformedSchemaVersion { found: String },
    /// Written by an incompatible (different major) version of this schema.
    UnsupportedSchemaVersion {
        found: SchemaVersion,
        supported: SchemaVersion,
    },
    /// A latency histogram's payload could not be decoded.
    CorruptHistogram {
        name: String,
        source: HistogramDecodeError,
    },
    /// A latency histogram could not be encoded.
    HistogramEncode {
        name: String,
        source: HistogramEncodeError,
    },
    /// A field parsed but breaks an invariant of the schema.
    InvalidField { field: &'static str, reason: String },
    /// Reading or writing a report file failed.
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl fmt::Display for ReportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Json(e) => write!(f, "report is not valid report JSON: {e}"),
            Self::MissingSchemaVersion => write!(f, "report has no schema_version field"),
            Self::MalformedSchemaVersion { found } => write!(
                f,
                "report schema_version {found:?} is not of the form \"MAJOR.MINOR\""
            ),
            Self::UnsupportedSchemaVersion { found, supported } => write!(
                f,
                "report schema version {found} is not supported (this build reads major version {})",
                supported.major
            ),
            Self::CorruptHistogram { name, source } => {
                write!(f, "latency histogram {name:?} is corrupt: {source}")
            }
            Self::HistogramEncode { name, source } => {
                write!(f, "latency histogram {name:?} could not be written: {source}")
            }
            Self::InvalidField { field, reason } => write!(f, "report field {field}: {reason}"),
            Self::Io { path, source } => write!(f, "{}: {source}", path.display()),
        }
    }
}

impl std::error::Error for ReportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Json(e) => Some(e),
            Self::CorruptHistogram { source, .. } => Some(source),
            Self::HistogramEncode { source, .. } => Some(source),
            Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Why reports could not be merged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeError {
    /// Nothing to merge.
    NoReports,
    /// The reports come from different builds, so their numbers are not comparable.
    Mismatch {
        field: &'static str,
        first: String,
        other: String,
    },
}

impl fmt::Display for MergeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoReports => write!(f, "no reports to merge"),
            Self::Mismatch {
                field,
                first,
                other,
            } => write!(
                f,
                "cannot merge reports with different {field}: {first:?} and {other:?}"
            ),
        }
    }
}

impl std::error::Error for MergeError {}

/// Why a history row could not be appended or the history file read.
#[derive(Debug)]
pub enum HistoryError {
    /// Creating, opening, reading or writing the file failed.
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The write took fewer bytes than the line (a full disk): the file now ends in a torn
    /// line, which loading skips and the next append starts after.
    ShortWrite {
        path: PathBuf,
        written: usize,
        expected: usize,
    },
    /// The row could not be encoded as JSON.
    Encode(serde_json::Error),
    /// A float field is NaN or infinite, which JSON cannot carry.
    NonFinite { field: &'static str },
    /// The encoded row is longer than [`crate::history::HISTORY_LINE_MAX_BYTES`].
    RowTooLong { bytes: usize },
}

impl HistoryError {
    /// True if the history file does not exist (yet): no runs recorded, rather than a failure.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}

impl fmt::Display for HistoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Self::ShortWrite {
                path,
                written,
                expected,
            } => write!(
                f,
                "{}: wrote {written} of {expected} bytes of a history row",
                path.display()
            ),
            Self::Encode(e) => write!(f, "history row could not be encoded: {e}"),
            Self::NonFinite { field } => {
                write!(f, "history row field {field} is not a finite number")
            }
            Self::RowTooLong { bytes } => write!(
                f,
                "history row is {bytes} bytes, over the {}-byte line limit",
                crate::history::HISTORY_LINE_MAX_BYTES
            ),
        }
    }
}

impl std::error::Error for HistoryError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            Self::Encode(e) => Some(e),
            _ => None,
        }
    }
}
