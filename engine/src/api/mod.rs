//! The HTTP front door (feature `http`): JSON endpoints over an `Arc<Engine>`.
//!
//! | route | what |
//! |---|---|
//! | `POST /v1/assertions`, `/v1/votes`, `/v1/evidence` | submit a signed record (`submit.rs`) |
//! | `GET /v1/query` | a lens answer with candidates and explanation (`query.rs`) |
//! | `GET /v1/audit` | the query engine's audit records, paged |
//! | `GET /health`, `GET /metrics` | monitoring (`ops.rs`), never rate limited |
//!
//! Fault model and contract: a 2xx write answer is sent only once the record is durable
//! (`Engine::submit` returned Ok) or is known to be durable already (an idempotent retry); every
//! refusal is a typed JSON error and stores nothing (`error.rs`). The router owns no state the
//! engine does not, except caches that may be lost at any moment (acknowledged hashes, token
//! buckets): a crash of the server is a crash of the engine, and a restart over the same
//! directory recovers exactly what was acknowledged.
//!
//! Layering (outermost first): request counting (`observe.rs`, so every answer is counted,
//! 429s and 404s included), the rate limiter (`rate_limit.rs`), the body limit, the handlers.
//!
//! The router does not depend on `tokio::net`: [`router`] builds it and [`serve`] runs it on a
//! tokio `TcpListener`; another transport (turmoil's simulated TCP through hyper's
//! `serve_connection`) can serve the same router, inserting `ConnectInfo<SocketAddr>` into each
//! request itself so the rate limiter can tell clients apart.

mod acked;
mod dto;
mod error;
mod extract;
mod hex;
mod observe;
mod ops;
mod options;
mod query;
mod rate_limit;
mod state;
mod submit;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;

pub use acked::AckedHashes;
pub use dto::{AssertionDto, EvidenceDto, LifecycleDto, SignatureDto, SubmitAnswer, VoteDto};
pub use error::{validation_code, ApiError};
pub use extract::{ApiJson, ApiQuery};
pub use observe::UNMATCHED_ROUTE;
pub use ops::METRICS_CONTENT_TYPE;
pub use options::{
    ApiOptions, ACKED_HASHES_MAX, AUDIT_PAGE_RECORDS_MAX, BODY_BYTES_MAX, BURST_DEFAULT,
    CLIENTS_TRACKED_MAX, QUERY_WAIT_MS_MAX, RATE_PER_S_DEFAULT,
};
pub use rate_limit::{TokenBuckets, RETRY_AFTER_S_NO_REFILL};

use crate::Engine;

/// The API's router over `engine`. Makes the server's one query engine.
#[tracing::instrument(skip(engine))]
pub fn router(engine: Arc<Engine>, options: ApiOptions) -> Router {
    let body_bytes_max = options.body_bytes_max;
    let state = Arc::new(state::ApiState::new(engine, options));
    Router::new()
        .route("/v1/assertions", post(submit::assertion))
        .route("/v1/votes", post(submit::vote))
        .route("/v1/evidence", post(submit::evidence))
        .route("/v1/query", get(query::query))
        .route("/v1/audit", get(query::audit))
        .route("/health", get(ops::health))
        .route("/metrics", get(ops::metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(body_bytes_max))
        .layer(from_fn_with_state(Arc::clone(&state), rate_limit::limit))
        .layer(from_fn_with_state(Arc::clone(&state), observe::count))
        .with_state(state)
}

async fn not_found() -> impl IntoResponse {
    ApiError::not_found()
}

async fn method_not_allowed() -> impl IntoResponse {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method",
    )
}

/// Serves `router` on `listener` until the process ends, giving each request its peer address
/// (`ConnectInfo<SocketAddr>`, the rate limiter's client key).
#[tracing::instrument(skip_all, fields(addr = ?listener.local_addr().ok()))]
pub async fn serve(listener: tokio::net::TcpListener, router: Router) -> std::io::Result<()> {
    serve_with_shutdown(listener, router, std::future::pending()).await
}

/// [`serve`] until `shutdown` completes, then stops accepting, lets requests in flight finish
/// and returns.
#[tracing::instrument(skip_all, fields(addr = ?listener.local_addr().ok()))]
pub async fn serve_with_shutdown(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
