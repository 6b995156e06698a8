//! What a run leaves behind besides its verdict: fault-path probe counts that a sweep can
//! require, a JSON-lines log file whose every line names the run, and a run history that
//! `report history` shows as a table and a chart.

use std::path::Path;
use std::process::Command;

fn sim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_stemedb-sim"))
}

fn sweep(out: &Path, extra: &[&str]) -> std::process::Output {
    sim()
        .args([
            "sweep", "--arena", "spine", "--ops", "40", "--seeds", "1..=2", "--out",
        ])
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn a_sweep_that_starves_a_required_probe_exits_with_the_coverage_code() {
    let dir = tempfile::tempdir().unwrap();
    // Spine injects no faults: its runs pass, and reach none of the fault-handling paths.
    let out = sweep(dir.path(), &["-q", "--require-probes"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{stderr}");
    assert!(
        stderr.contains("never fired") && stderr.contains("wal_storage_full_cut_back"),
        "{stderr}"
    );
    let report = stemedb_reports::Report::load_json(&dir.path().join("report.json")).unwrap();
    assert_eq!(report.verdict(), stemedb_reports::Verdict::Pass);
    assert!(report
        .starved_probes()
        .contains(&"wal_storage_full_cut_back"));
    assert_eq!(
        report.probes.len(),
        stemedb::probe::Probe::ALL.len(),
        "every declared probe is in the report, fired or not"
    );
    // Without the flag the same sweep passes.
    assert_eq!(sweep(dir.path(), &["-q"]).status.code(), Some(0));
}

#[test]
fn every_run_writes_json_log_lines_with_its_run_id_and_a_history_row() {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..3 {
        let out = sweep(dir.path(), &["-q"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let report = stemedb_reports::Report::load_json(&dir.path().join("report.json")).unwrap();
    let logs: Vec<_> = std::fs::read_dir(dir.path().join("logs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(logs.len(), 1, "one day's file: {logs:?}");
    let text = std::fs::read_to_string(&logs[0]).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect();
    assert!(lines.len() > 3, "{text}");
    // The command's span or a run's names the run id, however deep the line was logged.
    let in_spans = |line: &serde_json::Value, key: &str, value: serde_json::Value| {
        line["spans"]
            .as_array()
            .is_some_and(|spans| spans.iter().any(|s| s[key] == value))
    };
    for line in &lines {
        assert!(
            in_spans(line, "run_id", report.run_id.clone().into()),
            "{line}"
        );
    }
    assert!(
        lines.iter().any(|l| in_spans(l, "seed", 2.into())
            && l["timestamp"]
                .as_str()
                .is_some_and(|t| t.starts_with("sim=") && t != "sim=-")),
        "a run's lines carry its seed and the simulated time"
    );
    let history = stemedb_reports::load_history(&dir.path().join("history.jsonl")).unwrap();
    assert_eq!(history.rows.len(), 3);
    assert!(history.skipped.is_empty());
    assert!(history
        .rows
        .iter()
        .all(|r| r.run_id == report.run_id && r.command == "sweep"));
    let html = dir.path().join("history.html");
    let out = sim()
        .args(["report", "history", "--file"])
        .arg(dir.path().join("history.jsonl"))
        .arg("--html")
        .arg(&html)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&report.run_id));
    assert!(std::fs::read_to_string(&html).unwrap().contains("<svg"));
}

#[test]
fn a_missing_history_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = sim()
        .args(["report", "history", "--file"])
        .arg(dir.path().join("none.jsonl"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
