//! Human renderings of a [`crate::Report`]: terminal text, Markdown, and one self-contained HTML
//! page. All are pure functions of the report, so they are deterministic too.

pub mod format;
pub(crate) mod html;
mod markdown;
mod sections;
mod svg;
pub mod table;
mod terminal;

pub use html::render_html;
pub use markdown::render_markdown;
pub use terminal::render_terminal;

/// Failing outcomes listed in full before the rest are summarized as "and N more"; a sweep with
/// thousands of failures would otherwise bury everything else.
pub const MAX_FAILURES_SHOWN: usize = 10;
