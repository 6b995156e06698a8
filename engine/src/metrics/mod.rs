//! Prometheus metrics of one engine, from an explicit registry (no process-global recorder):
//! simulated hosts in one process each own their `Metrics`, so they never share a counter.
//!
//! What is counted, and when, is part of the contract the net arena holds `/metrics` to:
//! - `wal_appends_total` / `wal_append_bytes_total`: appends acknowledged durable (payload bytes),
//!   counted as `append` returns `Ok`, never before;
//! - `wal_errors_total{kind}`: appends that returned an error, by the error's kind;
//! - `wal_group_commit_records`: records per synced group-commit batch; `wal_fsync_seconds`: each
//!   `sync_data` of the WAL, ok or not (on the engine's `Clock`, so simulated time in simulation);
//! - `wal_recoveries_total` / `wal_recovery_seconds`: engine opens that ran WAL recovery;
//! - `kv_operations_total{op,outcome}` / `kv_operation_seconds{op}`: every call of the engine's KV;
//! - `ingest_dead_letters_total{reason}`: dead letters committed to the KV (after the batch that
//!   holds them committed, so a failed or crashed commit counts nothing);
//! - `ingest_lag_bytes`, `wal_segments`: gauges, refreshed as `/metrics` is read;
//! - `http_requests_total{route,status}` / `http_request_duration_seconds{route}`.
//!
//! Units are last in every name (`_seconds`, `_bytes`, `_total`), as Prometheus asks.

mod kv;
mod vfs;

pub(crate) use kv::MeteredKv;
pub(crate) use vfs::MeteredVfs;

use std::fmt;
use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};

/// Every metric name starts with this.
pub const METRIC_PREFIX: &str = "stemedb";

/// Latency buckets: 1 µs doubling 24 times (to about 8.4 s), wide enough for a simulated SSD's
/// fastest sync and a real disk's stalls alike.
const LATENCY_BUCKET_FIRST_SECONDS: f64 = 1e-6;
const LATENCY_BUCKETS_COUNT: u16 = 24;
/// Group-commit batch sizes: 1 doubling 12 times (to 2,048 records).
const BATCH_BUCKETS_COUNT: u16 = 12;

fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(
        LATENCY_BUCKET_FIRST_SECONDS,
        2.0,
        LATENCY_BUCKETS_COUNT,
    ))
}

fn batch_histogram() -> Histogram {
    Histogram::new(exponential_buckets(1.0, 2.0, BATCH_BUCKETS_COUNT))
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OpLabel {
    pub op: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OpOutcomeLabels {
    pub op: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabel {
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteStatusLabels {
    pub route: String,
    pub status: u16,
}

type LatencyFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// The metrics of one engine. Cheap to update (atomics); `encode` renders the text format.
pub struct Metrics {
    registry: Registry,
    pub(crate) wal_appends: Counter,
    pub(crate) wal_append_bytes: Counter,
    pub(crate) wal_errors: Family<KindLabel, Counter>,
    pub(crate) wal_fsync: Histogram,
    pub(crate) wal_group_commit_records: Histogram,
    pub(crate) wal_segments: Gauge,
    pub(crate) wal_recoveries: Counter,
    pub(crate) wal_recovery: Histogram,
    pub(crate) kv_operations: Family<OpOutcomeLabels, Counter>,
    pub(crate) kv_operation: LatencyFamily<OpLabel>,
    pub(crate) ingest_dead_letters: Family<ReasonLabel, Counter>,
    pub(crate) ingest_lag: Gauge,
    http_requests: Family<RouteStatusLabels, Counter>,
    http_request_duration: LatencyFamily<RouteLabel>,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every metric of the engine at zero.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix(METRIC_PREFIX);
        let wal_appends = Counter::default();
        let wal_append_bytes = Counter::default();
        let wal_errors = Family::<KindLabel, Counter>::default();
        let wal_fsync = latency_histogram();
        let wal_group_commit_records = batch_histogram();
        let wal_segments = Gauge::default();
        let wal_recoveries = Counter::default();
        let wal_recovery = latency_histogram();
        let kv_operations = Family::<OpOutcomeLabels, Counter>::default();
        let kv_operation: LatencyFamily<OpLabel> = Family::new_with_constructor(latency_histogram);
        let ingest_dead_letters = Family::<ReasonLabel, Counter>::default();
        let ingest_lag = Gauge::default();
        let http_requests = Family::<RouteStatusLabels, Counter>::default();
        let http_request_duration: LatencyFamily<RouteLabel> =
            Family::new_with_constructor(latency_histogram);

        registry.register(
            "wal_appends",
            "WAL appends acknowledged durable",
            wal_appends.clone(),
        );
        registry.register_with_unit(
            "wal_append",
            "Payload bytes of WAL appends acknowledged durable",
            Unit::Bytes,
            wal_append_bytes.clone(),
        );
        registry.register(
            "wal_errors",
            "WAL appends that returned an error, by kind",
            wal_errors.clone(),
        );
        registry.register_with_unit(
            "wal_fsync",
            "Latency of each WAL sync_data, on the engine's clock",
            Unit::Seconds,
            wal_fsync.clone(),
        );
        registry.register(
            "wal_group_commit_records",
            "Records per synced group-commit batch",
            wal_group_commit_records.clone(),
        );
        registry.register("wal_segments", "Live WAL segments", wal_segments.clone());
        registry.register(
            "wal_recoveries",
            "Engine opens that ran WAL recovery",
            wal_recoveries.clone(),
        );
        registry.register_with_unit(
            "wal_recovery",
            "Duration of WAL recovery at open",
            Unit::Seconds,
            wal_recovery.clone(),
        );
        registry.register(
            "kv_operations",
            "KV store calls by operation and outcome",
            kv_operations.clone(),
        );
        registry.register_with_unit(
            "kv_operation",
            "KV store call latency by operation",
            Unit::Seconds,
            kv_operation.clone(),
        );
        registry.register(
            "ingest_dead_letters",
            "Dead letters committed by ingest, by reason",
            ingest_dead_letters.clone(),
        );
        registry.register_with_unit(
            "ingest_lag",
            "WAL bytes acknowledged but not yet ingested",
            Unit::Bytes,
            ingest_lag.clone(),
        );
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            http_requests.clone(),
        );
        registry.register_with_unit(
            "http_request_duration",
            "HTTP request latency by route, on the engine's clock",
            Unit::Seconds,
            http_request_duration.clone(),
        );
        Metrics {
            registry,
            wal_appends,
            wal_append_bytes,
            wal_errors,
            wal_fsync,
            wal_group_commit_records,
            wal_segments,
            wal_recoveries,
            wal_recovery,
            kv_operations,
            kv_operation,
            ingest_dead_letters,
            ingest_lag,
            http_requests,
            http_request_duration,
        }
    }

    /// A fresh registry, shared.
    pub fn shared() -> Arc<Metrics> {
        Arc::new(Metrics::new())
    }

    /// Counts one HTTP request answered on `route` (the route's pattern, not the raw path, so
    /// the label set stays bounded) with `status`, after `seconds`.
    pub fn http_request(&self, route: &str, status: u16, seconds: f64) {
        self.http_requests
            .get_or_create(&RouteStatusLabels {
                route: route.to_owned(),
                status,
            })
            .inc();
        self.http_request_duration
            .get_or_create(&RouteLabel {
                route: route.to_owned(),
            })
            .observe(seconds);
    }

    pub(crate) fn wal_error(&self, kind: &str) {
        self.wal_errors
            .get_or_create(&KindLabel {
                kind: kind.to_owned(),
            })
            .inc();
    }

    pub(crate) fn dead_letter(&self, reason: &str) {
        self.ingest_dead_letters
            .get_or_create(&ReasonLabel {
                reason: reason.to_owned(),
            })
            .inc();
    }

    pub(crate) fn kv_call(&self, op: &'static str, ok: bool, seconds: f64) {
        let outcome = if ok { "ok" } else { "error" };
        self.kv_operations
            .get_or_create(&OpOutcomeLabels {
                op: op.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
        self.kv_operation
            .get_or_create(&OpLabel { op: op.to_owned() })
            .observe(seconds);
    }

    /// The registry in the Prometheus text exposition format (OpenMetrics text, `# EOF` last).
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail; a metric that cannot encode is a bug of this file.
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("metrics encode into a String");
        text
    }
}
