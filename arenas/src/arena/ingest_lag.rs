//! Ingest lag: many writers in long bursts on a slow device. Group commit amortises the WAL's
//! syncs over whole batches, while ingest pays a KV call per record and a flush every
//! `flush_every_records`, so ingest falls seconds behind within a burst: segments rotate (they
//! are small here) and are truncated while ingest is still inside the log, queries run far
//! behind the log's end and views age. Everything else must hold as in spine: exactly-once
//! ingest, the replay, the lens, the drain without fresh writes, the counters and the clean stop.

use stemedb_faults::{FaultClass, FaultPlan, LatencyDist, LatencyModel};

use super::{Arena, FaultClasses};
use crate::config::RunConfig;

/// A slow device (a busy network volume): writes in milliseconds, syncs around ten.
const SLOW_DEVICE: LatencyModel = LatencyModel {
    read: LatencyDist::new(400, 400),
    write: LatencyDist::new(1_500, 400),
    sync: LatencyDist::new(9_000, 500),
    metadata: LatencyDist::new(300, 300),
    stall_per_million: 500,
    stall_us: 60_000,
};
/// Writers in a burst, all back to back.
const WRITERS: u32 = 16;
/// Long bursts and short gaps: ingest must not catch up between most of them.
const BURST_OPS_MEAN: u64 = 400;
const GAP_MS_MEAN: u64 = 1_500;
/// Small segments, so many rotate and are truncated within one burst.
const SEGMENT_BYTES_MAX: u64 = 8 * 1024;
/// Queries ask while ingest lags (and views age behind it).
const QUERY_PCT: u8 = 15;

pub struct IngestLag;

impl Arena for IngestLag {
    fn shape(&self, c: &mut RunConfig) {
        c.writers = WRITERS;
        c.burst_ops_mean = BURST_OPS_MEAN;
        c.gap_ms_mean = GAP_MS_MEAN;
        c.segment_bytes_max = SEGMENT_BYTES_MAX;
        c.query_pct = QUERY_PCT;
        c.honest_voters = 2;
        c.troll_voters = 2;
    }

    fn fault_classes(&self) -> FaultClasses {
        FaultClasses {
            allowed: vec![FaultClass::SlowIo],
            forced: vec![FaultClass::SlowIo],
        }
    }

    fn tune_plan(&self, plan: &mut FaultPlan) {
        plan.latency = Some(SLOW_DEVICE);
    }
}
