//! `report render | merge | compare`.

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
        ReportAction::Compare { current, baseline } => {
            let c = compare(&load(&current)?, &load(&baseline)?, &Thresholds::default());
            print!("{}", c.render_text());
            Ok(if c.is_regression() { 1 } else { 0 })
        }
    }
}
