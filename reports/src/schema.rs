//! The report schema's version.

use std::fmt;

/// `MAJOR.MINOR`. A minor bump only adds fields (older readers ignore them); a major bump changes
/// or removes something, and readers refuse majors they do not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SchemaVersion {
    pub major: u32,
    pub minor: u32,
}

/// The version this crate writes, and the major version it reads.
///
/// 1.2 added `probes`, `capacity` and `throughput.busy_sim_us` (with its derived
/// `ops_per_busy_sim_s`); 1.1 files read as having none of them.
pub const SCHEMA_VERSION: SchemaVersion = SchemaVersion { major: 1, minor: 2 };

impl SchemaVersion {
    /// Parses `"MAJOR.MINOR"`.
    pub fn parse(text: &str) -> Option<Self> {
        let (major, minor) = text.split_once('.')?;
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(major) || !digits(minor) {
            return None;
        }
        Some(Self {
            major: major.parse().ok()?,
            minor: minor.parse().ok()?,
        })
    }

    /// True if this crate can read a report of version `self`.
    pub fn is_readable(self) -> bool {
        self.major == SCHEMA_VERSION.major
    }
}

impl fmt::Display for SchemaVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}
