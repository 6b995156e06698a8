//! Per-client token buckets on `/v1/*`, timed by the engine's `Clock`.
//!
//! Time is `Clock::monotonic`, never `Instant::now`: under simulation the buckets refill in
//! simulated time, so a seed's 429s replay exactly. The client is its peer IP, read from the
//! request's `ConnectInfo<SocketAddr>` extension: axum's tokio server inserts it, and any other
//! transport (turmoil's simulated TCP) can insert it itself. A request without one is counted in
//! a single shared bucket, which limits rather than lets through what cannot be attributed.
//!
//! `/health` and `/metrics` are not limited: monitors must see a server that is shedding load.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::options::CLIENTS_TRACKED_MAX;
use super::state::ApiState;

/// `Retry-After` when the rate is zero (no refill ever comes): long enough that a client backs
/// off, short enough that a reconfigured server is found again.
pub const RETRY_AFTER_S_NO_REFILL: u64 = 60;

/// Routes under this prefix are limited.
const LIMITED_PREFIX: &str = "/v1/";

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    /// When `tokens` was last brought up to date (the clock's monotonic reading).
    last: Duration,
}

/// The buckets of every tracked client.
#[derive(Debug)]
pub struct TokenBuckets {
    buckets: Mutex<BTreeMap<IpAddr, Bucket>>,
    rate_per_s: f64,
    burst: f64,
}

impl TokenBuckets {
    pub fn new(rate_per_s: u32, burst: u32) -> TokenBuckets {
        TokenBuckets {
            buckets: Mutex::new(BTreeMap::new()),
            rate_per_s: f64::from(rate_per_s),
            burst: f64::from(burst),
        }
    }

    /// Takes one token of `client` at `now`, or says in how many whole seconds (at least 1) one
    /// will be there.
    pub fn take(&self, client: IpAddr, now: Duration) -> Result<(), u64> {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !buckets.contains_key(&client) && buckets.len() >= CLIENTS_TRACKED_MAX {
            self.evict(&mut buckets, now);
        }
        let bucket = buckets.entry(client).or_insert(Bucket {
            tokens: self.burst,
            last: now,
        });
        self.refill(bucket, now);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        Err(self.retry_after_s(bucket.tokens))
    }

    fn refill(&self, bucket: &mut Bucket, now: Duration) {
        // A clock that went backwards (skew in simulation) adds nothing rather than panicking.
        let elapsed_s = now.saturating_sub(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed_s * self.rate_per_s).min(self.burst);
        bucket.last = bucket.last.max(now);
    }

    fn retry_after_s(&self, tokens: f64) -> u64 {
        if self.rate_per_s <= 0.0 {
            return RETRY_AFTER_S_NO_REFILL;
        }
        let wait_s = ((1.0 - tokens) / self.rate_per_s).ceil();
        // `wait_s` is finite and positive here; the cast saturates for absurd values.
        (wait_s as u64).max(1)
    }

    /// Makes room for one more client: forget full buckets (a new client starts full, so that
    /// changes nothing), else the least recently seen.
    fn evict(&self, buckets: &mut BTreeMap<IpAddr, Bucket>, now: Duration) {
        buckets.retain(|_, b| {
            let mut b = *b;
            self.refill(&mut b, now);
            b.tokens < self.burst
        });
        if buckets.len() >= CLIENTS_TRACKED_MAX {
            let stalest = buckets.iter().min_by_key(|(_, b)| b.last).map(|(k, _)| *k);
            if let Some(key) = stalest {
                buckets.remove(&key);
            }
        }
    }
}

/// The client key of `request`.
pub fn client_of(request: &Request) -> IpAddr {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED), |info| info.0.ip())
}

/// Middleware: 429 with `Retry-After` for a client over its rate on `/v1/*`.
pub async fn limit(State(state): State<Arc<ApiState>>, request: Request, next: Next) -> Response {
    let Some(buckets) = &state.buckets else {
        return next.run(request).await;
    };
    if !request.uri().path().starts_with(LIMITED_PREFIX) {
        return next.run(request).await;
    }
    let now = state.engine.clock().monotonic();
    match buckets.take(client_of(&request), now) {
        Ok(()) => next.run(request).await,
        Err(retry_after_s) => ApiError::rate_limited(retry_after_s).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spent_bucket_refills_at_the_rate() {
        let buckets = TokenBuckets::new(2, 3);
        let ip = IpAddr::V6(Ipv6Addr::LOCALHOST);
        let t0 = Duration::from_secs(100);
        for _ in 0..3 {
            assert_eq!(buckets.take(ip, t0), Ok(()));
        }
        assert_eq!(buckets.take(ip, t0), Err(1));
        assert_eq!(buckets.take(ip, t0 + Duration::from_millis(500)), Ok(()));
        assert_eq!(buckets.take(ip, t0 + Duration::from_millis(500)), Err(1));
    }

    #[test]
    fn zero_rate_never_refills() {
        let buckets = TokenBuckets::new(0, 1);
        let ip = IpAddr::V6(Ipv6Addr::LOCALHOST);
        assert_eq!(buckets.take(ip, Duration::ZERO), Ok(()));
        assert_eq!(
            buckets.take(ip, Duration::from_secs(1000)),
            Err(RETRY_AFTER_S_NO_REFILL)
        );
    }
}
