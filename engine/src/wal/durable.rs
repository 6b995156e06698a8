//! The durable end of the log, published by the writer to in-process readers.
//!
//! Fault model: bytes past the last successful `sync_data` may vanish in a crash, so a reader that
//! consumed them (ingest applying a record to the KV store) would hold state the log no longer
//! has. A reader bound to this handle never returns a record at or past the durable end, and can
//! await its growth instead of polling with sleeps.

use tokio::sync::watch;

/// A subscription to the writer's durable end (the offset just past the last acknowledged
/// record). Cheap to clone.
#[derive(Debug, Clone)]
pub struct DurableEnd {
    rx: watch::Receiver<u64>,
}

impl DurableEnd {
    pub(crate) fn new(rx: watch::Receiver<u64>) -> Self {
        Self { rx }
    }

    /// The durable end now.
    pub fn get(&self) -> u64 {
        *self.rx.borrow()
    }

    /// Waits until the durable end is past `offset` and returns it; `None` once the writer is
    /// gone (dropped) without getting there.
    pub async fn wait_beyond(&mut self, offset: u64) -> Option<u64> {
        self.rx
            .wait_for(|&end| end > offset)
            .await
            .ok()
            .map(|end| *end)
    }
}
