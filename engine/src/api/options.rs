//! How the HTTP front door runs: every limit a named constant, every knob an `ApiOptions` field.

use crate::model::{EVIDENCE_BYTES_MAX, OBJECT_BYTES_MAX};

/// Largest request body accepted, in bytes; a larger one is refused with 413 before it is read
/// in full. The largest valid record is evidence at `EVIDENCE_BYTES_MAX` content bytes, which
/// travels as hex (two characters a byte), so the limit leaves it room and nothing much more:
/// a body the engine would refuse anyway should cost the server as little as possible.
pub const BODY_BYTES_MAX: usize = 256 * 1024;
const _: () = assert!(BODY_BYTES_MAX > 2 * EVIDENCE_BYTES_MAX + 4 * OBJECT_BYTES_MAX);

/// Content hashes this server remembers having acknowledged, for answering retries without
/// touching the KV. Bounded so a stream of distinct records cannot grow the map without end;
/// older entries fall out first, and a retry of one of those is still recognised from the KV
/// once ingested (see `acked.rs`).
pub const ACKED_HASHES_MAX: usize = 64 * 1024;

/// Clients (peer IPs) whose token buckets are tracked at once. Past it, full buckets are
/// forgotten first (a full bucket is the state a new client starts in, so forgetting it changes
/// nothing), then the least recently seen.
pub const CLIENTS_TRACKED_MAX: usize = 16 * 1024;

/// Default sustained request rate per client on `/v1/*`, in requests per second.
pub const RATE_PER_S_DEFAULT: u32 = 200;
/// Default burst per client: requests a quiet client may send at once.
pub const BURST_DEFAULT: u32 = 400;

/// Longest a query waits for ingest to pass `ingested_through`, in milliseconds (on the
/// engine's clock). Bounded so a client naming an offset that will never be written cannot hold
/// a request open forever.
pub const QUERY_WAIT_MS_MAX: u64 = 10_000;

/// Most audit records one `GET /v1/audit` answers (a page; `after` asks for the next).
pub const AUDIT_PAGE_RECORDS_MAX: usize = 1_000;

/// Options of the router. `Default` is the production configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiOptions {
    /// Whether `/v1/*` is rate limited per client. Off for benches that measure the engine.
    pub rate_limited: bool,
    /// Sustained requests per second per client (tokens added per second). 0 refuses every
    /// request once the burst is spent.
    pub rate_per_s: u32,
    /// Bucket capacity per client.
    pub burst: u32,
    /// Content hashes remembered for idempotent retries (see [`ACKED_HASHES_MAX`]).
    pub acked_hashes_max: usize,
    /// Request body limit in bytes (see [`BODY_BYTES_MAX`]).
    pub body_bytes_max: usize,
}

impl Default for ApiOptions {
    fn default() -> Self {
        ApiOptions {
            rate_limited: true,
            rate_per_s: RATE_PER_S_DEFAULT,
            burst: BURST_DEFAULT,
            acked_hashes_max: ACKED_HASHES_MAX,
            body_bytes_max: BODY_BYTES_MAX,
        }
    }
}

impl ApiOptions {
    /// These options with rate limiting off.
    #[must_use]
    pub fn unlimited(mut self) -> ApiOptions {
        self.rate_limited = false;
        self
    }
}
