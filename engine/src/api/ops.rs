//! `GET /health` and `GET /metrics`: what monitors read. Neither is rate limited.
//!
//! Health is about writes: 200 while the WAL accepts appends and the ingest worker runs; 503,
//! with the reason, once the WAL failed closed (every append is refused until the engine is
//! reopened) or ingest ended on a fatal error (acknowledged writes would never become queryable).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use super::state::ApiState;

/// The content type of `/metrics`: the registry encodes OpenMetrics text (`# EOF` last).
pub const METRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Debug, Serialize)]
pub struct HealthAnswer {
    /// "ok" or "unavailable".
    pub status: &'static str,
    /// Why not ok.
    pub reason: Option<String>,
    pub durable_end: u64,
    pub ingest_cursor: u64,
}

#[tracing::instrument(skip_all)]
pub async fn health(State(state): State<Arc<ApiState>>) -> (StatusCode, Json<HealthAnswer>) {
    let engine = &state.engine;
    let reason = if let Some(cause) = engine.wal().failure() {
        Some(format!("the WAL failed closed: {cause}"))
    } else if !engine.ingest_running() {
        Some(match engine.ingest_failure() {
            Some(e) => format!("ingest stopped: {e}"),
            None => "ingest stopped".to_owned(),
        })
    } else {
        None
    };
    let status = if reason.is_some() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    let answer = HealthAnswer {
        status: if reason.is_some() {
            "unavailable"
        } else {
            "ok"
        },
        reason,
        durable_end: engine.durable_end(),
        ingest_cursor: engine.ingest_cursor(),
    };
    (status, Json(answer))
}

#[tracing::instrument(skip_all)]
pub async fn metrics(State(state): State<Arc<ApiState>>) -> Response {
    let text = state.engine.metrics_text().await;
    ([(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)], text).into_response()
}
