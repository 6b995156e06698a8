//! The report's JSON form: schema-versioned, fields in a fixed order, wall section optional.
//!
//! Serialization goes through a borrowed view rather than `serde_json::Value`, because `Value`'s
//! key order depends on a cargo feature another crate could switch on, and deterministic output
//! must not.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::capacity::Capacity;
use crate::counts::Counts;
use crate::error::ReportError;
use crate::fingerprint::Fingerprint;
use crate::histogram::LatencyHistogram;
use crate::histogram_codec;
use crate::outcome::ArenaOutcome;
use crate::report::Report;
use crate::schema::{SchemaVersion, SCHEMA_VERSION};
use crate::seeds::SeedSet;
use crate::throughput::Throughput;
use crate::triage::FailureGroup;
use crate::wall::WallClock;

/// Field names shared by the writer and the reader's pre-checks.
const FIELD_SCHEMA_VERSION: &str = "schema_version";
const FIELD_LATENCIES: &str = "latencies";
const FIELD_CAPACITY: &str = "capacity";
const FIELD_ACK_LATENCY: &str = "ack_latency_us";
const FIELD_HDR_PAYLOAD: &str = "hdr_v2_base64";

#[derive(Serialize)]
struct ReportView<'a> {
    schema_version: String,
    run_id: &'a str,
    tool_version: &'a str,
    commit: &'a str,
    build_profile: &'a str,
    arenas: &'a BTreeSet<String>,
    seeds: &'a SeedSet,
    options: &'a BTreeMap<String, String>,
    outcomes: &'a [ArenaOutcome],
    /// Derived from `outcomes` as it is written (never read back): failures by signature.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    failure_groups: Vec<FailureGroup>,
    throughput: &'a Throughput,
    capacity: &'a BTreeMap<u32, Capacity>,
    latencies: &'a BTreeMap<String, LatencyHistogram>,
    counts: &'a Counts,
    probes: &'a BTreeMap<String, u64>,
    fingerprints: &'a [Fingerprint],
    #[serde(skip_serializing_if = "Option::is_none")]
    wall: Option<&'a WallClock>,
}

impl Report {
    fn view(&self, include_wall: bool) -> ReportView<'_> {
        ReportView {
            schema_version: SCHEMA_VERSION.to_string(),
            run_id: &self.run_id,
            tool_version: &self.tool_version,
            commit: &self.commit,
            build_profile: &self.build_profile,
            arenas: &self.arenas,
            seeds: &self.seeds,
            options: &self.options,
            outcomes: &self.outcomes,
            failure_groups: self.failure_groups(),
            throughput: &self.throughput,
            capacity: &self.capacity,
            latencies: &self.latencies,
            counts: &self.counts,
            probes: &self.probes,
            fingerprints: &self.fingerprints,
            wall: if include_wall {
                self.wall.as_ref()
            } else {
                None
            },
        }
    }

    /// Checks every histogram encodes, so the only serde failure left is reported with its
    /// histogram's name.
    fn check_encodable(&self) -> Result<(), ReportError> {
        let capacity = self
            .capacity
            .iter()
            .map(|(writers, c)| (capacity_histogram_name(writers), &c.ack_latency_us));
        let latencies = self.latencies.iter().map(|(n, h)| (n.clone(), h));
        for (name, hist) in latencies.chain(capacity) {
            hist.to_base64_v2()
                .map_err(|source| ReportError::HistogramEncode { name, source })?;
        }
        Ok(())
    }

    fn to_json_view(&self, include_wall: bool) -> Result<String, ReportError> {
        self.check_encodable()?;
        let mut text =
            serde_json::to_string_pretty(&self.view(include_wall)).map_err(ReportError::Json)?;
        text.push('\n');
        Ok(text)
    }

    /// The full report as pretty JSON (with the wall section when present), newline-terminated.
    pub fn to_json_pretty(&self) -> Result<String, ReportError> {
        self.to_json_view(true)
    }

    /// The report without its wall section: identical, byte for byte, for identical simulated
    /// runs. This is what determinism checks compare.
    pub fn deterministic_json(&self) -> Result<String, ReportError> {
        self.to_json_view(false)
    }

    /// Reads a report, refusing unknown major schema versions, corrupt histograms and broken
    /// invariants with a typed error. Newer minor versions are read, ignoring fields they added.
    pub fn from_json(text: &str) -> Result<Report, ReportError> {
        let value: Value = serde_json::from_str(text).map_err(ReportError::Json)?;
        check_schema_version(&value)?;
        check_histograms(&value)?;
        let report = Report::deserialize(&value).map_err(ReportError::Json)?;
        report.validate()?;
        Ok(report)
    }
}

impl Serialize for Report {
    /// The same form as [`Report::to_json_pretty`], schema version included.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.view(true).serialize(serializer)
    }
}

fn check_schema_version(value: &Value) -> Result<(), ReportError> {
    let found = match value.get(FIELD_SCHEMA_VERSION) {
        None => return Err(ReportError::MissingSchemaVersion),
        Some(Value::String(text)) => {
            SchemaVersion::parse(text).ok_or_else(|| ReportError::MalformedSchemaVersion {
                found: text.clone(),
            })?
        }
        Some(other) => {
            return Err(ReportError::MalformedSchemaVersion {
                found: other.to_string(),
            })
        }
    };
    if !found.is_readable() {
        return Err(ReportError::UnsupportedSchemaVersion {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(())
}

/// Decodes each histogram payload up front so a corrupt one is reported as
/// [`ReportError::CorruptHistogram`] with its name, not as a generic JSON error. (Payloads that
/// are missing or not strings are left to the typed deserialization that follows.)
fn check_histograms(value: &Value) -> Result<(), ReportError> {
    let mut entries: Vec<(String, &Value)> = Vec::new();
    if let Some(Value::Object(latencies)) = value.get(FIELD_LATENCIES) {
        entries.extend(latencies.iter().map(|(name, entry)| (name.clone(), entry)));
    }
    if let Some(Value::Object(capacity)) = value.get(FIELD_CAPACITY) {
        for (writers, entry) in capacity {
            if let Some(hist) = entry.get(FIELD_ACK_LATENCY) {
                entries.push((capacity_histogram_name(writers), hist));
            }
        }
    }
    for (name, entry) in entries {
        if let Some(Value::String(payload)) = entry.get(FIELD_HDR_PAYLOAD) {
            histogram_codec::decode(payload)
                .map_err(|source| ReportError::CorruptHistogram { name, source })?;
        }
    }
    Ok(())
}

/// How errors name a capacity phase's histogram: `capacity.<writers>.ack_latency_us`.
fn capacity_histogram_name(writers: impl std::fmt::Display) -> String {
    format!("{FIELD_CAPACITY}.{writers}.{FIELD_ACK_LATENCY}")
}
