//! What every handler shares: the engine, ONE query engine, the acknowledged hashes and the
//! token buckets.

use std::sync::Arc;

use super::acked::AckedHashes;
use super::options::ApiOptions;
use super::rate_limit::TokenBuckets;
use crate::query::QueryEngine;
use crate::Engine;

#[derive(Debug)]
pub struct ApiState {
    pub engine: Arc<Engine>,
    /// One for the whole server: each query engine numbers its own audit records, so two would
    /// reuse sequence numbers (and overwrite each other's audit records).
    pub query: QueryEngine,
    pub acked: AckedHashes,
    /// `None` when rate limiting is off.
    pub buckets: Option<TokenBuckets>,
}

impl ApiState {
    pub fn new(engine: Arc<Engine>, options: ApiOptions) -> ApiState {
        ApiState {
            query: engine.query_engine(),
            acked: AckedHashes::new(options.acked_hashes_max),
            buckets: options
                .rate_limited
                .then(|| TokenBuckets::new(options.rate_per_s, options.burst)),
            engine,
        }
    }
}
