//! `GET /v1/query` and `GET /v1/audit`: lens answers and their audit trail, through the server's
//! ONE query engine (each query writes exactly one audit record, numbered by that engine).
//!
//! Read-your-writes: a client holding a write's offset passes `ingested_through=OFFSET`, and the
//! query waits (on the engine's clock, at most `QUERY_WAIT_MS_MAX`) until ingest has applied
//! that record. Without it a query sees what ingest has applied so far, which may not yet include
//! a write that was just acknowledged (acknowledged means durable in the WAL, not yet in the KV).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::dto::{AssertionDto, LifecycleDto};
use super::error::ApiError;
use super::extract::ApiQuery;
use super::options::{AUDIT_PAGE_RECORDS_MAX, QUERY_WAIT_MS_MAX};
use super::state::ApiState;
use crate::lens::{Candidate, LensKind, Rule, Standing};
use crate::model::{Lifecycle, WeightSum};
use crate::query::{AuditRecord, LifecycleFilter, Query};

/// The query string of `GET /v1/query`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryParams {
    pub subject: String,
    pub predicate: Option<String>,
    /// `recency` or `consensus` (the default, vote-aware consensus).
    pub lens: Option<String>,
    /// Comma-separated lifecycles, or `all`; default `active`.
    pub lifecycle: Option<String>,
    /// Accept a materialised view up to this old.
    pub max_stale_ms: Option<u64>,
    /// Wait until the record at this WAL offset is ingested before answering.
    pub ingested_through: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct QueryAnswer {
    pub winner: Option<WinnerDto>,
    pub candidates: Vec<StandingDto>,
    pub rule: &'static str,
    pub explanation: String,
    pub used_view: bool,
    pub audit_seq: u64,
}

#[derive(Debug, Serialize)]
pub struct WinnerDto {
    pub hash: String,
    pub vote_count: u64,
    pub vote_weight_micros: u64,
    pub assertion: AssertionDto,
}

#[derive(Debug, Serialize)]
pub struct StandingDto {
    pub hash: String,
    pub timestamp_ms: u64,
    pub lifecycle: LifecycleDto,
    pub vote_count: u64,
    pub vote_weight_micros: u64,
}

/// Weight sums are exact u128 micro-units; JSON numbers past 2^64 are not portable, and a sum
/// that large (over 18 trillion units) is not reachable with bounded weights in practice, so it
/// saturates rather than failing the answer.
fn micros(sum: WeightSum) -> u64 {
    u64::try_from(sum.micros()).unwrap_or(u64::MAX)
}

impl From<&Candidate> for WinnerDto {
    fn from(c: &Candidate) -> Self {
        WinnerDto {
            hash: c.hash.to_string(),
            vote_count: c.vote_count,
            vote_weight_micros: micros(c.vote_weight),
            assertion: (&c.assertion).into(),
        }
    }
}

impl From<&Standing> for StandingDto {
    fn from(s: &Standing) -> Self {
        StandingDto {
            hash: s.hash.to_string(),
            timestamp_ms: s.timestamp_ms,
            lifecycle: s.lifecycle.into(),
            vote_count: s.vote_count,
            vote_weight_micros: micros(s.vote_weight),
        }
    }
}

pub fn rule_name(rule: Rule) -> &'static str {
    match rule {
        Rule::NoCandidates => "no_candidates",
        Rule::OnlyCandidate => "only_candidate",
        Rule::Weight => "weight",
        Rule::Recency => "recency",
        Rule::HashTieBreak => "hash_tie_break",
    }
}

fn lens_name(lens: LensKind) -> &'static str {
    match lens {
        LensKind::Recency => "recency",
        LensKind::VoteAwareConsensus => "consensus",
    }
}

fn parse_lens(text: &str) -> Result<LensKind, ApiError> {
    match text {
        "recency" => Ok(LensKind::Recency),
        "consensus" | "vote-aware-consensus" => Ok(LensKind::VoteAwareConsensus),
        other => Err(ApiError::bad_request(
            "invalid_lens",
            format!("unknown lens {other:?}: expected recency or consensus"),
        )),
    }
}

fn parse_lifecycles(text: &str) -> Result<LifecycleFilter, ApiError> {
    if text == "all" {
        return Ok(LifecycleFilter::ALL);
    }
    text.split(',')
        .map(|word| match word.trim() {
            "draft" => Ok(Lifecycle::Draft),
            "active" => Ok(Lifecycle::Active),
            "deprecated" => Ok(Lifecycle::Deprecated),
            "retracted" => Ok(Lifecycle::Retracted),
            other => Err(ApiError::bad_request(
                "invalid_lifecycle",
                format!("unknown lifecycle {other:?}"),
            )),
        })
        .try_fold(LifecycleFilter::none(), |filter, l| Ok(filter.with(l?)))
}

fn lifecycle_words(filter: LifecycleFilter) -> Vec<LifecycleDto> {
    Lifecycle::ALL
        .into_iter()
        .filter(|&l| filter.contains(l))
        .map(LifecycleDto::from)
        .collect()
}

/// Builds the engine's `Query` from the query string.
pub fn to_query(p: &QueryParams) -> Result<Query, ApiError> {
    let mut q = Query::subject(p.subject.clone());
    q.predicate.clone_from(&p.predicate);
    if let Some(lens) = &p.lens {
        q = q.lens(parse_lens(lens)?);
    }
    if let Some(lifecycles) = &p.lifecycle {
        q = q.lifecycles(parse_lifecycles(lifecycles)?);
    }
    if let Some(ms) = p.max_stale_ms {
        q = q.max_stale(Duration::from_millis(ms));
    }
    Ok(q)
}

#[tracing::instrument(skip_all, fields(subject_len = p.subject.len(), ingested_through = p.ingested_through))]
pub async fn query(
    State(state): State<Arc<ApiState>>,
    ApiQuery(p): ApiQuery<QueryParams>,
) -> Result<Json<QueryAnswer>, ApiError> {
    let q = to_query(&p)?;
    if let Some(offset) = p.ingested_through {
        wait_ingested(&state, offset).await?;
    }
    let result = state.query.query(&q).await?;
    Ok(Json(QueryAnswer {
        winner: result.winner.as_ref().map(WinnerDto::from),
        candidates: result.candidates.iter().map(StandingDto::from).collect(),
        rule: rule_name(result.rule),
        explanation: result.explanation,
        used_view: result.used_view,
        audit_seq: result.audit_seq,
    }))
}

/// Waits until the record at `offset` is ingested, bounded by `QUERY_WAIT_MS_MAX`.
async fn wait_ingested(state: &ApiState, offset: u64) -> Result<(), ApiError> {
    let engine = &state.engine;
    if offset >= engine.durable_end() {
        return Err(ApiError::bad_request(
            "offset_not_written",
            format!(
                "no acknowledged record at offset {offset}: the durable end is {}",
                engine.durable_end()
            ),
        ));
    }
    let bound = engine
        .clock()
        .sleep(Duration::from_millis(QUERY_WAIT_MS_MAX));
    tokio::select! {
        biased;
        waited = engine.wait_ingested(offset) => Ok(waited?),
        () = bound => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ingested_yet",
            format!("offset {offset} not ingested within {QUERY_WAIT_MS_MAX} ms"),
        )),
    }
}

/// The query string of `GET /v1/audit`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    /// Only records with a greater sequence number.
    pub after: Option<u64>,
    /// At most this many (capped at `AUDIT_PAGE_RECORDS_MAX`).
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize)]
pub struct AuditAnswer {
    pub records: Vec<AuditDto>,
    /// Pass as `after` for the next page; `None` on the last page.
    pub next_after: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct AuditDto {
    pub seq: u64,
    pub wall_ms: u64,
    pub subject: String,
    pub predicate: Option<String>,
    pub lens: &'static str,
    pub lifecycles: Vec<LifecycleDto>,
    pub max_stale_ms: Option<u64>,
    pub used_view: bool,
    pub rule: Option<&'static str>,
    pub candidates: u64,
    pub winner: Option<String>,
    pub error: Option<String>,
}

fn audit_dto(seq: u64, r: AuditRecord) -> AuditDto {
    AuditDto {
        seq,
        wall_ms: r.wall_ms,
        subject: r.subject,
        predicate: r.predicate,
        lens: lens_name(r.lens),
        lifecycles: lifecycle_words(r.lifecycles),
        max_stale_ms: r.max_stale_ms,
        used_view: r.used_view,
        rule: r.rule.map(rule_name),
        candidates: r.candidates,
        winner: r.winner.map(|h| h.to_string()),
        error: r.error,
    }
}

#[tracing::instrument(skip_all, fields(after = p.after, limit = p.limit))]
pub async fn audit(
    State(state): State<Arc<ApiState>>,
    ApiQuery(p): ApiQuery<AuditParams>,
) -> Result<Json<AuditAnswer>, ApiError> {
    let limit = p
        .limit
        .unwrap_or(AUDIT_PAGE_RECORDS_MAX)
        .min(AUDIT_PAGE_RECORDS_MAX);
    let all = state.query.audit_records().await?;
    let mut page: Vec<AuditDto> = all
        .into_iter()
        .filter(|(seq, _)| p.after.is_none_or(|after| *seq > after))
        .take(limit.saturating_add(1))
        .map(|(seq, r)| audit_dto(seq, r))
        .collect();
    let more = page.len() > limit;
    page.truncate(limit);
    let next_after = if more {
        page.last().map(|r| r.seq)
    } else {
        None
    };
    Ok(Json(AuditAnswer {
        records: page,
        next_after,
    }))
}
