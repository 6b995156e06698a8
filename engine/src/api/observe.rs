//! Counts every request into the engine's metrics: `http_requests_total{route,status}` and
//! `http_request_duration_seconds{route}`.
//!
//! The route label is the matched route's pattern ("/v1/assertions"), or "unmatched" for a path
//! no route knows, never the raw path: a client must not be able to grow the label set (and the
//! registry) by requesting made-up paths. Durations are on the engine's `Clock`, so simulated
//! runs record simulated time. This layer sits outside the rate limiter and every handler, so
//! 429s, 4xx rejections and 404s are counted like successes.

use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::state::ApiState;

/// The route label of requests no route matched.
pub const UNMATCHED_ROUTE: &str = "unmatched";

pub async fn count(State(state): State<Arc<ApiState>>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED_ROUTE, MatchedPath::as_str)
        .to_owned();
    let clock = state.engine.clock();
    let began = clock.monotonic();
    let response = next.run(request).await;
    let seconds = clock.monotonic().saturating_sub(began).as_secs_f64();
    state
        .engine
        .metrics()
        .http_request(&route, response.status().as_u16(), seconds);
    response
}
