//! Typed JSON errors: `{"error": {"code": "...", "message": "..."}}` with the status that says
//! who must act.
//!
//! Contract: 4xx means the request was refused and nothing was stored (400 malformed, 413 too
//! large, 415 not JSON, 422 breaks a validation rule, 429 over the client's rate); 503 means the
//! server cannot accept writes now (the WAL failed closed, the device is full) and the record
//! was NOT acknowledged, so a retry later is safe (retries are idempotent); 500 is anything else
//! the engine reported. No error is ever answered with a 2xx.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::model::ValidationError;
use crate::query::QueryError;
use crate::wal::WalError;
use crate::EngineError;

/// An error answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    /// Stable, machine-readable (`bad_signature`, `rate_limited`, ...).
    pub code: String,
    /// For humans; may change between versions.
    pub message: String,
    /// Sent as `Retry-After` (whole seconds), when set.
    pub retry_after_s: Option<u64>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
}

impl ApiError {
    pub fn new(status: StatusCode, code: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code: code.into(),
            message: message.into(),
            retry_after_s: None,
        }
    }

    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found() -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route")
    }

    pub fn rate_limited(retry_after_s: u64) -> Self {
        ApiError {
            retry_after_s: Some(retry_after_s),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("over this client's request rate; retry in {retry_after_s} s"),
            )
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            error: Inner {
                code: &self.code,
                message: &self.message,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after_s {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        let message = e.to_string();
        match e {
            EngineError::Validation(rule) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                validation_code(&rule),
                message,
            ),
            EngineError::Wal(wal) => from_wal(&wal, message),
            EngineError::Stopped => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "ingest_stopped", message)
            }
            _ => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "engine", message),
        }
    }
}

/// The WAL's refusals that a retry after repair can fix are 503: the record was not
/// acknowledged and the server knows it cannot take writes now.
fn from_wal(wal: &WalError, message: String) -> ApiError {
    let (status, code) = match wal {
        WalError::FailedClosed { .. } => (StatusCode::SERVICE_UNAVAILABLE, "wal_failed_closed"),
        WalError::StorageFull { .. } => (StatusCode::SERVICE_UNAVAILABLE, "storage_full"),
        WalError::FlushInterrupted => (StatusCode::SERVICE_UNAVAILABLE, "flush_interrupted"),
        WalError::RecordTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "record_too_large"),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "wal"),
    };
    ApiError::new(status, code, message)
}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        let message = e.to_string();
        match e {
            // Nothing is wrong with the data: asking again may succeed.
            QueryError::NoStableSnapshot { .. } => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "no_stable_snapshot",
                message,
            ),
            _ => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "query", message),
        }
    }
}

/// The rule a record broke, as a stable code (one per `ValidationError` variant, so a client
/// can tell a bad signature from an oversized subject without parsing the message).
pub fn validation_code(rule: &ValidationError) -> &'static str {
    match rule {
        ValidationError::SubjectEmpty => "subject_empty",
        ValidationError::SubjectTooLong { .. } => "subject_too_long",
        ValidationError::PredicateEmpty => "predicate_empty",
        ValidationError::PredicateTooLong { .. } => "predicate_too_long",
        ValidationError::ObjectEmpty => "object_empty",
        ValidationError::ObjectTooLong { .. } => "object_too_long",
        ValidationError::ConfidenceNotFinite { .. } => "confidence_not_finite",
        ValidationError::ConfidenceOutOfRange { .. } => "confidence_out_of_range",
        ValidationError::WeightZero => "weight_zero",
        ValidationError::WeightTooLarge { .. } => "weight_too_large",
        ValidationError::SelfParent { .. } => "self_parent",
        ValidationError::NoSignature => "no_signature",
        ValidationError::TooManySignatures { .. } => "too_many_signatures",
        ValidationError::DuplicateSigner { .. } => "duplicate_signer",
        ValidationError::MalformedPublicKey { .. } => "malformed_public_key",
        ValidationError::BadSignature { .. } => "bad_signature",
        ValidationError::TimestampInFuture { .. } => "timestamp_in_future",
        ValidationError::EvidenceEmpty => "evidence_empty",
        ValidationError::EvidenceTooLong { .. } => "evidence_too_long",
    }
}
