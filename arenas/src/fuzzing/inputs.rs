//! `inputs`: the files the simulator reads from people and from earlier runs, as arbitrary text.
//!
//! - scenario TOML (`Scenario`, as `Scenario::load` parses it), then what a sweep derives from
//!   it: each arena's run config, options and seed range;
//! - failure-artifact JSON (`cli::Artifact`, as `Artifact::load` parses it); a config read from
//!   an artifact survives being written and read again (shrink and replay rely on it);
//! - report JSON (`Report::from_json`, as `Report::load_json` reads it), then what
//!   `stemedb-sim report` does with a loaded report: render, merge, compare, write it back.
//!
//! Every one answers a value or a typed error, never a panic.

use stemedb_reports::{compare, render_html, render_markdown, render_terminal, Report, Thresholds};

use crate::cli::Artifact;
use crate::config::RunConfig;
use crate::scenario::{parse_seeds, Scenario};

pub fn inputs(data: &[u8]) {
    // The loaders read files as UTF-8 and refuse anything else before parsing; the parsers are
    // what is fuzzed, so invalid UTF-8 is mapped onto text rather than thrown away.
    let text = String::from_utf8_lossy(data);
    scenario(&text);
    artifact(&text);
    report(&text);
}

fn scenario(text: &str) {
    let Ok(scenario) = toml::from_str::<Scenario>(text) else {
        return;
    };
    for arena in scenario.arenas() {
        let config = scenario.config(arena, scenario.seed.unwrap_or(1), None);
        let _ = config.options();
        if let Some(seeds) = scenario.seeds_for(arena) {
            if let Ok(parsed) = parse_seeds(seeds) {
                for range in parsed.ranges() {
                    assert!(
                        range.start() <= range.end(),
                        "{seeds:?} parsed to {range:?}"
                    );
                }
            }
        }
    }
}

fn artifact(text: &str) {
    let Ok(artifact) = serde_json::from_str::<Artifact>(text) else {
        return;
    };
    let _ = artifact.config.options();
    let written = serde_json::to_string(&artifact.config)
        .unwrap_or_else(|e| panic!("a config read from an artifact does not serialise: {e}"));
    let read: RunConfig = serde_json::from_str(&written)
        .unwrap_or_else(|e| panic!("a config written by serde does not read back: {e}"));
    assert!(
        read == artifact.config,
        "an artifact's config changes when written and read again"
    );
}

fn report(text: &str) {
    let Ok(report) = Report::from_json(text) else {
        return;
    };
    let _ = render_terminal(&report);
    let _ = render_markdown(&report);
    let _ = render_html(&report);
    let _ = Report::merge([&report, &report]);
    let _ = compare(&report, &report, &Thresholds::default()).render_text();
    if let Ok(json) = report.to_json_pretty() {
        match Report::from_json(&json) {
            Ok(back) => assert!(
                back == report,
                "a report changes when written and read again"
            ),
            Err(e) => panic!("a report it wrote does not read back: {e}"),
        }
    }
}
