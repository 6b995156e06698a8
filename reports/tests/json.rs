//! Report JSON: round trip, schema versioning, typed errors, the deterministic form.

mod common;

use std::time::Duration;

use stemedb_reports::{HistogramDecodeError, Report, ReportError, SchemaVersion, SCHEMA_VERSION};

#[test]
fn json_round_trip_is_exact() {
    let report = common::sample_report();
    let text = report.to_json_pretty().unwrap();
    let back = Report::from_json(&text).unwrap();
    assert_eq!(back, report);
    assert_eq!(back.to_json_pretty().unwrap(), text);
    assert_eq!(
        back.latency("append_ack").unwrap().summary(),
        report.latency("append_ack").unwrap().summary()
    );
}

#[test]
fn json_carries_schema_version_and_readable_fields() {
    let text = common::sample_report().to_json_pretty().unwrap();
    assert!(text.starts_with("{\n  \"schema_version\": \"1.2\",\n  \"run_id\": \"run-42\","));
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["throughput"]["ops_per_sim_s"], 400.0);
    assert_eq!(value["latencies"]["append_ack"]["summary"]["count"], 1_000);
    assert_eq!(value["latencies"]["append_ack"]["summary"]["p50_us"], 5_003);
    assert_eq!(value["counts"]["faults"]["torn_write"], 3);
    assert_eq!(value["seeds"][0]["first"], 0);
    assert_eq!(value["seeds"][0]["last"], 9);
    assert_eq!(value["outcomes"][7]["verdict"], "safety_violation");
    // Derived as written, from the outcomes: every failure is in exactly one group.
    let failing = value["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["verdict"] != "pass")
        .count() as u64;
    let grouped: u64 = value["failure_groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["count"].as_u64().unwrap())
        .sum();
    assert!(failing > 0);
    assert_eq!(grouped, failing);
    assert_eq!(value["wall"]["wall_s"], 1.5);
    assert_eq!(value["wall"]["ops_per_wall_s"], 800.0);
    assert_eq!(value["wall"]["sim_to_wall_ratio"], 2.0);
    assert_eq!(value["wall"]["seeds_per_wall_min"], 400.0);
}

fn with_field(text: &str, field: &str, json: &str) -> String {
    let mut value: serde_json::Value = serde_json::from_str(text).unwrap();
    value[field] = serde_json::from_str(json).unwrap();
    serde_json::to_string(&value).unwrap()
}

#[test]
fn unknown_major_schema_version_is_rejected() {
    let text = common::sample_report().to_json_pretty().unwrap();
    let err = Report::from_json(&with_field(&text, "schema_version", "\"2.0\"")).unwrap_err();
    match err {
        ReportError::UnsupportedSchemaVersion { found, supported } => {
            assert_eq!(found, SchemaVersion { major: 2, minor: 0 });
            assert_eq!(supported, SCHEMA_VERSION);
        }
        other => panic!("expected UnsupportedSchemaVersion, got {other:?}"),
    }
}

#[test]
fn newer_minor_version_with_extra_fields_is_read() {
    let report = common::sample_report();
    let text = report.to_json_pretty().unwrap();
    let newer = with_field(&text, "schema_version", "\"1.7\"");
    let newer = with_field(&newer, "added_in_1_7", "{\"anything\": [1, 2]}");
    assert_eq!(Report::from_json(&newer).unwrap(), report);
}

#[test]
fn missing_or_malformed_schema_version_is_rejected() {
    let text = common::sample_report().to_json_pretty().unwrap();
    let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
    value.as_object_mut().unwrap().remove("schema_version");
    let err = Report::from_json(&value.to_string()).unwrap_err();
    assert!(matches!(err, ReportError::MissingSchemaVersion), "{err:?}");

    for bad in ["\"one\"", "1", "\"1\"", "\"1.x\""] {
        let err = Report::from_json(&with_field(&text, "schema_version", bad)).unwrap_err();
        assert!(
            matches!(err, ReportError::MalformedSchemaVersion { .. }),
            "{bad}: {err:?}"
        );
    }
}

#[test]
fn corrupt_histogram_payload_is_a_typed_error() {
    let text = common::sample_report().to_json_pretty().unwrap();
    let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
    value["latencies"]["fsync"]["hdr_v2_base64"] = "!!!not base64".into();
    let err = Report::from_json(&value.to_string()).unwrap_err();
    match &err {
        ReportError::CorruptHistogram { name, source } => {
            assert_eq!(name, "fsync");
            assert!(
                matches!(source, HistogramDecodeError::Base64(_)),
                "{source:?}"
            );
        }
        other => panic!("expected CorruptHistogram, got {other:?}"),
    }
    assert!(err.to_string().contains("\"fsync\""), "{err}");

    // Valid base64, but the bytes were cut short.
    value["latencies"]["fsync"]["hdr_v2_base64"] = "HISTFAAAAA==".into();
    let err = Report::from_json(&value.to_string()).unwrap_err();
    assert!(
        matches!(
            err,
            ReportError::CorruptHistogram {
                source: HistogramDecodeError::TooShort { .. },
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn not_json_and_wrong_shapes_are_typed_errors() {
    assert!(matches!(
        Report::from_json("{ not json").unwrap_err(),
        ReportError::Json(_)
    ));
    let text = common::sample_report().to_json_pretty().unwrap();
    let err = Report::from_json(&with_field(&text, "throughput", "\"fast\"")).unwrap_err();
    assert!(matches!(err, ReportError::Json(_)), "{err:?}");
}

#[test]
fn unnormalized_seeds_are_rejected() {
    let text = common::sample_report().to_json_pretty().unwrap();
    let overlapping = r#"[{"first": 0, "last": 9}, {"first": 5, "last": 20}]"#;
    let err = Report::from_json(&with_field(&text, "seeds", overlapping)).unwrap_err();
    assert!(
        matches!(err, ReportError::InvalidField { field: "seeds", .. }),
        "{err:?}"
    );
}

#[test]
fn malformed_fingerprint_is_rejected() {
    let text = common::sample_report().to_json_pretty().unwrap();
    let bad = r#"[{"scope": "seed=1", "hex": "XYZ"}]"#;
    let err = Report::from_json(&with_field(&text, "fingerprints", bad)).unwrap_err();
    assert!(
        matches!(
            err,
            ReportError::InvalidField {
                field: "fingerprints",
                ..
            }
        ),
        "{err:?}"
    );
    let mut report = common::empty_report("r");
    assert!(report.add_fingerprint("seed=1", "ABCDEF").is_err());
    assert!(report.add_fingerprint("seed=1", "").is_err());
    assert!(report.add_fingerprint("seed=1", "abcdef0123").is_ok());
}

#[test]
fn derived_numbers_are_recomputed_not_trusted() {
    let report = common::sample_report();
    let mut value: serde_json::Value =
        serde_json::from_str(&report.to_json_pretty().unwrap()).unwrap();
    value["throughput"]["ops_per_sim_s"] = 1e9.into();
    value["latencies"]["append_ack"]["summary"]["p99_us"] = 1.into();
    let back = Report::from_json(&value.to_string()).unwrap();
    assert_eq!(back, report);
    assert_eq!(back.throughput.ops_per_sim_s(), 400.0);
    assert_eq!(back.latency("append_ack").unwrap().summary().p99_us, 9_903);
}

#[test]
fn deterministic_json_excludes_only_the_wall_section() {
    let mut a = common::sample_report();
    let mut b = common::sample_report();
    a.set_wall(Duration::from_secs(1));
    b.set_wall(Duration::from_secs(9));
    assert_ne!(a.to_json_pretty().unwrap(), b.to_json_pretty().unwrap());
    let det = a.deterministic_json().unwrap();
    assert_eq!(det, b.deterministic_json().unwrap());
    assert!(!det.contains("\"wall\""));
    assert!(a.to_json_pretty().unwrap().contains("\"wall\""));

    // The deterministic form is itself a readable report, just without wall.
    let back = Report::from_json(&det).unwrap();
    assert_eq!(back.wall, None);
    a.wall = None;
    assert_eq!(back, a);

    // Any simulated difference shows.
    b.record_latency("append_ack", 1);
    assert_ne!(det, b.deterministic_json().unwrap());
}

#[test]
fn save_and_load_a_report_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.json");
    let report = common::sample_report();
    report.save_json(&path).unwrap();
    assert_eq!(Report::load_json(&path).unwrap(), report);

    let missing = dir.path().join("missing.json");
    let err = Report::load_json(&missing).unwrap_err();
    assert!(
        matches!(&err, ReportError::Io { path, .. } if path == &missing),
        "{err:?}"
    );
}

#[test]
fn report_verdict_is_the_most_severe() {
    let report = common::sample_report();
    assert_eq!(report.exit_code(), 1);
    assert_eq!(report.failures().count(), 1);
    assert_eq!(common::empty_report("r").exit_code(), 0);
}

#[test]
fn probes_capacity_and_busy_time_round_trip() {
    let report = common::full_report();
    let text = report.to_json_pretty().unwrap();
    let back = Report::from_json(&text).unwrap();
    assert_eq!(back, report);
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["probes"]["wal.fsync_retried"], 12);
    assert_eq!(value["probes"]["ingest.dead_letter_written"], 0);
    assert_eq!(value["throughput"]["busy_sim_us"], 500_000);
    assert_eq!(value["throughput"]["ops_per_busy_sim_s"], 2_400.0);
    assert_eq!(value["capacity"]["4"]["writers"], 4);
    assert_eq!(value["capacity"]["4"]["ops_per_sim_s"], 3_000.0);
    assert_eq!(
        value["capacity"]["1"]["ack_latency_us"]["summary"]["count"],
        200
    );
    // Probes are simulated facts: part of the deterministic form.
    assert!(report
        .deterministic_json()
        .unwrap()
        .contains("\"wal.torn_tail_repaired\": 1500"));
}

#[test]
fn capacity_keys_sort_as_numbers() {
    let mut report = common::empty_report("r");
    for writers in [16, 2, 1] {
        report.add_capacity(&common::capacity(writers, 10, 1, 1, 5));
    }
    let text = report.deterministic_json().unwrap();
    let (one, two, sixteen) = (
        text.find("\"1\": {").unwrap(),
        text.find("\"2\": {").unwrap(),
        text.find("\"16\": {").unwrap(),
    );
    assert!(one < two && two < sixteen, "{text}");
}

#[test]
fn a_schema_1_1_report_reads_with_empty_new_sections() {
    let text = common::sample_report().to_json_pretty().unwrap();
    let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let object = value.as_object_mut().unwrap();
    object.insert("schema_version".into(), "1.1".into());
    object.remove("probes");
    object.remove("capacity");
    let throughput = object["throughput"].as_object_mut().unwrap();
    throughput.remove("busy_sim_us");
    throughput.remove("ops_per_busy_sim_s");
    let back = Report::from_json(&value.to_string()).unwrap();
    assert_eq!(back, common::sample_report());
    assert!(back.probes.is_empty() && back.capacity.is_empty());
    assert_eq!(back.throughput.busy_sim_us(), 0);
}

#[test]
fn bad_capacity_sections_are_typed_errors() {
    let text = common::full_report().to_json_pretty().unwrap();
    let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
    value["capacity"]["4"]["ack_latency_us"]["hdr_v2_base64"] = "!!!".into();
    let err = Report::from_json(&value.to_string()).unwrap_err();
    assert!(
        matches!(&err, ReportError::CorruptHistogram { name, .. } if name == "capacity.4.ack_latency_us"),
        "{err:?}"
    );

    let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
    value["capacity"]["4"]["writers"] = 5.into();
    let err = Report::from_json(&value.to_string()).unwrap_err();
    assert!(
        matches!(
            err,
            ReportError::InvalidField {
                field: "capacity",
                ..
            }
        ),
        "{err:?}"
    );

    let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
    value["capacity"]["many"] = value["capacity"]["4"].clone();
    let err = Report::from_json(&value.to_string()).unwrap_err();
    assert!(matches!(err, ReportError::Json(_)), "{err:?}");
}
