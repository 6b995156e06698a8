//! `report render | merge | compare | baseline save | history`.

use std::path::{Path, PathBuf};

use clap::Subcommand;
use stemedb_reports::{compare, render_html, render_markdown, render_terminal, Report, Thresholds};

use super::CliError;

#[derive(Subcommand, Debug)]
pub enum ReportAction {
    /// Render a report as a terminal summary, Markdown or a self-contained HTML page.
    Render {
        file: PathBuf,
        #[arg(long, value_enum, default_value = "terminal")]
        format: Format,
    },
    /// Merge shard reports (histograms add exactly) into one.
    Merge {
        files: Vec<PathBuf>,
        #[arg(long, short)]
        output: PathBuf,
    },
    /// Compare a report against a baseline; exit 1 on a regression.
    Compare { current: PathBuf, baseline: PathBuf },
    /// Keep a report as the baseline later runs of the same seeds are compared against.
    Baseline {
        #[command(subcommand)]
        action: BaselineAction,
    },
    /// The run history (one row per run or sweep) as a table, and optionally an HTML chart.
    History {
        /// The history file (written by every run, sweep and replay under its `--out`).
        #[arg(long, default_value_t = default_history())]
        file: String,
        /// Rows shown in the table (the newest).
        #[arg(long, default_value_t = HISTORY_ROWS_SHOWN)]
        last: usize,
        /// Also write the trend as a self-contained HTML page here.
        #[arg(long)]
        html: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
pub enum BaselineAction {
    /// Write `report`'s deterministic form (no wall-clock section, so the file changes only when
    /// the simulation does) to `to`, e.g. `scenarios/baselines/ci.json`.
    Save {
        report: PathBuf,
        #[arg(long)]
        to: PathBuf,
    },
}

/// Rows `report history` shows unless told otherwise.
const HISTORY_ROWS_SHOWN: usize = 20;

fn default_history() -> String {
    Path::new(super::DEFAULT_OUT_DIR)
        .join(super::exec::HISTORY_FILE_NAME)
        .display()
        .to_string()
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Format {
    Terminal,
    Markdown,
    Html,
}

fn load(path: &Path) -> Result<Report, CliError> {
    Report::load_json(path).map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))
}

pub fn run(action: ReportAction) -> Result<i32, CliError> {
    match action {
        ReportAction::Render { file, format } => {
            let r = load(&file)?;
            let text = match format {
                Format::Terminal => render_terminal(&r),
                Format::Markdown => render_markdown(&r),
                Format::Html => render_html(&r),
            };
            print!("{text}");
            Ok(0)
        }
        ReportAction::Merge { files, output } => {
            if files.is_empty() {
                return Err(CliError::Usage(
                    "report merge needs at least one file".into(),
                ));
            }
            let reports = files
                .iter()
                .map(|f| load(f))
                .collect::<Result<Vec<_>, _>>()?;
            let merged = Report::merge(&reports).map_err(|e| CliError::Usage(e.to_string()))?;
            merged.save_json(&output).map_err(|e| {
                CliError::Harness(format!("cannot write {}: {e}", output.display()))
            })?;
            print!("{}", render_terminal(&merged));
            Ok(crate::outcome::exit_code(merged.verdict()))
        }
        ReportAction::Baseline {
            action: BaselineAction::Save { report, to },
        } => {
            let r = load(&report)?;
            let json = r
                .deterministic_json()
                .map_err(|e| CliError::Harness(e.to_string()))?;
            if let Some(dir) = to.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| {
                    CliError::Harness(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
            std::fs::write(&to, json + "\n")
                .map_err(|e| CliError::Harness(format!("cannot write {}: {e}", to.display())))?;
            println!(
                "baseline: {} ({} seeds, commit {})",
                to.display(),
                r.seeds.len(),
                r.commit
            );
            Ok(0)
        }
        ReportAction::History { file, last, html } => {
            let log = stemedb_reports::load_history(Path::new(&file))
                .map_err(|e| CliError::Usage(format!("{file}: {e}")))?;
            print!("{}", stemedb_reports::render_history_terminal(&log, last));
            if let Some(path) = html {
                std::fs::write(&path, stemedb_reports::render_history_html(&log)).map_err(|e| {
                    CliError::Harness(format!("cannot write {}: {e}", path.display()))
                })?;
                println!("history chart: {}", path.display());
            }
            Ok(0)
        }
        ReportAction::Compare { current, baseline } => {
            let c = compare(&load(&current)?, &load(&baseline)?, &Thresholds::default());
            print!("{}", c.render_text());
            Ok(if c.is_regression() { 1 } else { 0 })
        }
    }
}
