//! The `stemedb-sim` binary as a user meets it: exit codes, JSON on stdout, report files, and a
//! failure artifact that replays.

use std::process::Command;

fn sim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_stemedb-sim"))
}

#[test]
fn bad_arguments_exit_with_the_usage_code() {
    for args in [
        vec!["run", "--arena", "nonsense"],
        vec!["sweep", "--seeds", "9..3"],
        vec!["sweep", "--seeds", "1..4", "--shard", "3/2"],
        vec!["frobnicate"],
        vec!["run", "--scenario", "/definitely/not/here.toml"],
    ] {
        let out = sim().args(&args).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !out.stderr.is_empty(),
            "{args:?}: a usage error says what is wrong"
        );
    }
}

#[test]
fn a_small_run_passes_and_writes_a_json_report() {
    let out_dir = tempfile::tempdir().unwrap();
    let out = sim()
        .args([
            "-q", "run", "--arena", "spine", "--arena", "voting", "--ops", "120", "--json", "--out",
        ])
        .arg(out_dir.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let report = stemedb_reports::Report::from_json(&stdout).expect("stdout is the JSON report");
    assert_eq!(report.outcomes.len(), 2);
    assert!(report
        .outcomes
        .iter()
        .all(|o| o.verdict == stemedb_reports::Verdict::Pass));
    assert!(report.latency("append_ack").is_some_and(|h| h.count() > 0));
    let saved = stemedb_reports::Report::load_json(&out_dir.path().join("report.json")).unwrap();
    assert_eq!(
        saved.deterministic_json().unwrap(),
        report.deterministic_json().unwrap()
    );
}

#[test]
fn a_shard_selects_a_disjoint_subset_of_seeds() {
    let mut seen = Vec::new();
    for shard in ["1/2", "2/2"] {
        let out_dir = tempfile::tempdir().unwrap();
        let out = sim()
            .args([
                "-q", "sweep", "--arena", "spine", "--ops", "40", "--seeds", "1..=4", "--jobs",
                "2", "--json",
            ])
            .args(["--shard", shard, "--out"])
            .arg(out_dir.path())
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report =
            stemedb_reports::Report::from_json(&String::from_utf8(out.stdout).unwrap()).unwrap();
        let seeds: Vec<u64> = report.outcomes.iter().filter_map(|o| o.seed).collect();
        assert_eq!(seeds.len(), 2, "{shard}: {seeds:?}");
        seen.extend(seeds);
    }
    seen.sort_unstable();
    assert_eq!(
        seen,
        [1, 2, 3, 4],
        "the shards cover the range exactly once"
    );
}

#[test]
fn a_committed_regression_replays_from_its_artifact() {
    let artifact = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/regressions/chaos-seed26-quarantine-list-rot.json"
    );
    let out_dir = tempfile::tempdir().unwrap();
    let out = sim()
        .args(["-q", "replay", "--artifact", artifact, "--json", "--out"])
        .arg(out_dir.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report =
        stemedb_reports::Report::from_json(&String::from_utf8(out.stdout).unwrap()).unwrap();
    assert_eq!(
        report.outcomes.len(),
        1,
        "the artifact's one arena and seed"
    );
    assert_eq!(report.outcomes[0].seed, Some(26));
}

#[test]
fn an_artifact_of_another_world_is_refused_with_its_reproduce_line() {
    let committed = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/regressions/chaos-seed26-quarantine-list-rot.json"
    );
    let mut artifact: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(committed).unwrap()).unwrap();
    let other = if stemedb_arenas::world::NAME == "madsim" {
        "turmoil"
    } else {
        "madsim"
    };
    artifact["world"] = other.into();
    artifact["reproduce"] = "the other build's command".into();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other-world.json");
    std::fs::write(&path, artifact.to_string()).unwrap();
    for verb in ["replay", "shrink"] {
        let out = sim()
            .args([verb, "--artifact"])
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{verb}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!("recorded on the {other} world"))
                && stderr.contains("the other build's command")
                && !stderr.contains("panicked"),
            "{verb}: {stderr}"
        );
    }
}

#[test]
fn a_corrupt_artifact_is_a_usage_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.json");
    std::fs::write(
        &path,
        b"{\"format\": \"stemedb-sim-failure/v1\", \"seed\": ",
    )
    .unwrap();
    let out = sim()
        .args(["replay", "--artifact"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("not valid") && !stderr.contains("panicked"),
        "{stderr}"
    );
}

#[test]
fn shard_reports_merge_to_exactly_the_unsharded_report() {
    const SHARDS: usize = 3;
    let sweep = |out: &std::path::Path, shard: Option<String>| {
        let mut cmd = sim();
        cmd.args([
            "-q", "sweep", "--arena", "spine", "--arena", "voting", "--ops", "40", "--seeds",
            "1..=7", "--jobs", "2", "--out",
        ])
        .arg(out);
        if let Some(shard) = shard {
            cmd.args(["--shard", &shard]);
        }
        let out = cmd.output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let whole = tempfile::tempdir().unwrap();
    sweep(whole.path(), None);
    let dirs: Vec<_> = (0..SHARDS).map(|_| tempfile::tempdir().unwrap()).collect();
    for (i, dir) in dirs.iter().enumerate() {
        sweep(dir.path(), Some(format!("{}/{SHARDS}", i + 1)));
    }
    let merged = dirs[0].path().join("merged.json");
    // Shards in another order than they ran: merge order must not matter.
    let out = sim()
        .args(["report", "merge"])
        .args(dirs.iter().rev().map(|d| d.path().join("report.json")))
        .arg("-o")
        .arg(&merged)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let merged = stemedb_reports::Report::load_json(&merged).unwrap();
    let whole = stemedb_reports::Report::load_json(&whole.path().join("report.json")).unwrap();
    assert_eq!(merged.outcomes.len(), 14, "every shard's seeds, once each");
    assert_eq!(
        merged.deterministic_json().unwrap(),
        whole.deterministic_json().unwrap(),
        "merged shards are the unsharded report, byte for byte (all but wall time)"
    );
    let md = sim()
        .args(["report", "render", "--format", "markdown"])
        .arg(dirs[0].path().join("merged.json"))
        .output()
        .unwrap();
    assert_eq!(md.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&md.stdout).contains("append\\_ack"),
        "Markdown escapes the underscore"
    );
}
