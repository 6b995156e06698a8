//! Reports for StemeDB's simulator (DESIGN.md section 8): latency histograms in simulated time,
//! throughput (per busy simulated second, and per writer count in a closed-loop capacity phase),
//! counts, fault-path probes, outcomes and fingerprints, as schema-versioned JSON that merges
//! exactly across shards, with terminal, Markdown, HTML and `.hgrm` renderings and a baseline
//! comparison; and a run history ([`history`]) appended one line per run, with a trend page.
//!
//! Plain data: no dependency on the engine or the simulator. Everything except the
//! [`WallClock`] section is a deterministic function of the simulated run.
//!
//! ```
//! use std::time::Duration;
//! use stemedb_reports::names::LATENCY_APPEND_ACK;
//! use stemedb_reports::{compare, render_terminal, ArenaOutcome, Report, SeedSet, Thresholds,
//!     Throughput, Verdict};
//!
//! let mut shard = Report::new("sweep-7", "0.1.0", "abc123", "release");
//! shard.seeds = SeedSet::range(0..=99);
//! shard.options.insert("faults".into(), "default".into());
//! for latency_us in [120, 180, 95, 4_000] {
//!     shard.record_latency(LATENCY_APPEND_ACK, latency_us);
//! }
//! shard.throughput = Throughput::new(4, 2_000_000);
//! shard.counts.add_fault("torn_write", 1);
//! shard.add_outcome(ArenaOutcome {
//!     arena: "wal".into(),
//!     seed: None,
//!     verdict: Verdict::Pass,
//!     message: String::new(),
//!     reproduce: "stemedb-sim run --arena wal --seeds 0..100".into(),
//! });
//! shard.add_fingerprint("shard=1/1", "9f86d081884c7d65")?;
//! shard.set_wall(Duration::from_millis(250));
//!
//! // Shards merge exactly; the JSON round-trips; the deterministic form omits wall time.
//! let merged = Report::merge([&shard])?;
//! let json = merged.to_json_pretty()?;
//! assert_eq!(Report::from_json(&json)?, merged);
//! assert!(!merged.deterministic_json()?.contains("\"wall\""));
//! assert_eq!(merged.latency(LATENCY_APPEND_ACK).unwrap().summary().p50_us, 120);
//! assert_eq!(merged.throughput.ops_per_sim_s(), 2.0);
//!
//! print!("{}", render_terminal(&merged));
//! assert!(!compare(&merged, &shard, &Thresholds::default()).is_regression());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod capacity;
mod compare;
mod counts;
mod error;
mod files;
mod fingerprint;
mod hgrm;
mod histogram;
mod histogram_codec;
pub mod history;
mod json;
mod merge;
pub mod names;
mod outcome;
mod probes;
pub mod render;
mod report;
mod schema;
mod seeds;
mod shard;
mod summary;
mod throughput;
mod triage;
mod wall;

pub use capacity::Capacity;
pub use compare::{
    compare, Comparison, MetricComparison, MetricKind, MetricStatus, OutcomeComparison, Thresholds,
    DEFAULT_LATENCY_INCREASE_PCT, DEFAULT_MIN_SAMPLES, DEFAULT_TAIL_LATENCY_INCREASE_PCT,
    DEFAULT_THROUGHPUT_DECREASE_PCT,
};
pub use counts::Counts;
pub use error::{HistoryError, MergeError, ReportError};
pub use files::HGRM_EXTENSION;
pub use fingerprint::{Fingerprint, FINGERPRINT_MAX_HEX_LEN};
pub use hgrm::{HgrmOptions, PercentilePoint, HGRM_DEFAULT_TICKS_PER_HALF_DISTANCE};
pub use histogram::{
    LatencyHistogram, LATENCY_HIGHEST_US, LATENCY_LOWEST_US, LATENCY_SIGNIFICANT_DIGITS,
};
pub use histogram_codec::{HistogramDecodeError, HistogramEncodeError};
pub use history::{
    append as append_history, load as load_history, HistoryLog, HistoryRow, LatencyPercentiles,
    SkipReason,
};
pub use outcome::{ArenaOutcome, Verdict};
pub use render::{
    render_history_html, render_history_terminal, render_html, render_markdown, render_terminal,
};
pub use report::Report;
pub use schema::{SchemaVersion, SCHEMA_VERSION};
pub use seeds::{SeedRange, SeedSet};
pub use summary::LatencySummary;
pub use throughput::Throughput;
pub use triage::{signature, FailureGroup, GROUP_SEEDS_SHOWN_MAX};
pub use wall::WallClock;
