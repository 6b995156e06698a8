//! `POST /v1/assertions`, `/v1/votes`, `/v1/evidence`: signed records in, content hash and WAL
//! offset out, ONLY once the record is durable.
//!
//! Contract: 201 means `Engine::submit` returned Ok, i.e. the record passed every validation
//! rule and its WAL append was synced; the answer carries its offset. 200 with `duplicate: true`
//! means the same record (same content hash) is already durable: acknowledged earlier by this
//! process (the answer carries that first offset) or already ingested (offset `null`); nothing is
//! appended. A duplicate is validated like a new record first, so a record that merely shares
//! an identity with a stored one (a vote's identity leaves its signature out) cannot pass for it.
//! Any error is answered before anything is acknowledged; see `error.rs` for the statuses, and
//! `acked.rs` for the retries that may still append twice (and why that stays exactly-once).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use super::acked::stored;
use super::dto::{AssertionDto, EvidenceDto, SubmitAnswer, VoteDto};
use super::error::ApiError;
use super::extract::ApiJson;
use super::state::ApiState;
use crate::model::Record;

type Answer = Result<(StatusCode, Json<SubmitAnswer>), ApiError>;

pub async fn assertion(
    State(state): State<Arc<ApiState>>,
    ApiJson(dto): ApiJson<AssertionDto>,
) -> Answer {
    submit(&state, Record::Assertion(dto.into())).await
}

pub async fn vote(State(state): State<Arc<ApiState>>, ApiJson(dto): ApiJson<VoteDto>) -> Answer {
    submit(&state, Record::Vote(dto.into())).await
}

pub async fn evidence(
    State(state): State<Arc<ApiState>>,
    ApiJson(dto): ApiJson<EvidenceDto>,
) -> Answer {
    submit(&state, Record::Evidence(dto.into())).await
}

/// Submits `record` unless it is already durable; see the module docs for the answers.
#[tracing::instrument(skip_all, fields(
    kind = ?record.kind(),
    hash = tracing::field::Empty,
    offset = tracing::field::Empty,
    duplicate = tracing::field::Empty,
))]
pub async fn submit(state: &ApiState, record: Record) -> Answer {
    let engine = &state.engine;
    let hash = record.identity_hash();
    let span = tracing::Span::current();
    span.record("hash", tracing::field::display(hash));
    let known = match state.acked.get(&hash) {
        Some(offset) => Some(Some(offset)),
        None => stored(engine.kv().as_ref(), &record, &hash)
            .await
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "kv", e.to_string()))?
            .then_some(None),
    };
    if let Some(offset) = known {
        record
            .validate(engine.clock().wall_ms(), engine.limits())
            .map_err(|rule| ApiError::from(crate::EngineError::Validation(rule)))?;
        span.record("duplicate", true);
        let answer = SubmitAnswer {
            hash: hash.to_string(),
            offset,
            duplicate: true,
        };
        return Ok((StatusCode::OK, Json(answer)));
    }
    let offset = engine.submit(&record).await?;
    state.acked.insert(hash, offset);
    span.record("offset", offset);
    span.record("duplicate", false);
    let answer = SubmitAnswer {
        hash: hash.to_string(),
        offset: Some(offset),
        duplicate: false,
    };
    Ok((StatusCode::CREATED, Json(answer)))
}
