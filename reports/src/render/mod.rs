//! Human renderings of a [`crate::Report`]: terminal text, Markdown, and one self-contained HTML
//! page; and of the run history ([`crate::HistoryLog`]): a terminal table and a page of trend
//! charts. All are pure functions of their input, so they are deterministic too.

mod capacity;
pub mod format;
mod history_html;
mod history_text;
pub(crate) mod html;
mod line_chart;
mod markdown;
mod probes;
mod sections;
mod svg;
pub mod table;
mod terminal;
mod utc;

pub use history_html::{render_history_html, HISTORY_HTML_RUNS_MAX};
pub use history_text::{render_history_terminal, COMMIT_SHORT_CHARS, SKIPPED_LINES_SHOWN_MAX};
pub use html::render_html;
pub use markdown::render_markdown;
pub use probes::STARVED_MARK;
pub use terminal::render_terminal;

/// Failing outcomes listed in full before the rest are summarized as "and N more"; a sweep with
/// thousands of failures would otherwise bury everything else.
pub const MAX_FAILURES_SHOWN: usize = 10;
