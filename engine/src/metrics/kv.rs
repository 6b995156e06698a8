//! A `KvStore` that counts and times every call of the engine's store on the engine's clock.
//!
//! Pass-through only (no call added, none reordered), so a simulated run is the same run with
//! or without it. `visit_prefix` is forwarded as itself, so a store that lends its entries still
//! does.

use std::sync::Arc;

use async_trait::async_trait;

use super::Metrics;
use crate::io::Clock;
use crate::storage::{KvError, KvStore, PrefixVisitor, WriteBatch};

#[derive(Debug)]
pub(crate) struct MeteredKv {
    inner: Arc<dyn KvStore>,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
}

impl MeteredKv {
    pub(crate) fn wrap(
        inner: Arc<dyn KvStore>,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
    ) -> Arc<dyn KvStore> {
        Arc::new(MeteredKv {
            inner,
            clock,
            metrics,
        })
    }

    fn record<T>(&self, op: &'static str, began: std::time::Duration, result: &Result<T, KvError>) {
        let took = self.clock.monotonic().saturating_sub(began);
        self.metrics.kv_call(op, result.is_ok(), took.as_secs_f64());
    }
}

#[async_trait]
impl KvStore for MeteredKv {
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, KvError> {
        let began = self.clock.monotonic();
        let result = self.inner.get(key).await;
        self.record("get", began, &result);
        result
    }

    async fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>, KvError> {
        let began = self.clock.monotonic();
        let result = self.inner.scan_prefix(prefix).await;
        self.record("scan_prefix", began, &result);
        result
    }

    async fn visit_prefix(
        &self,
        prefix: &[u8],
        visit: &mut PrefixVisitor<'_>,
    ) -> Result<(), KvError> {
        let began = self.clock.monotonic();
        let result = self.inner.visit_prefix(prefix, visit).await;
        self.record("visit_prefix", began, &result);
        result
    }

    async fn apply_batch(&self, batch: WriteBatch) -> Result<(), KvError> {
        let began = self.clock.monotonic();
        let result = self.inner.apply_batch(batch).await;
        self.record("apply_batch", began, &result);
        result
    }

    async fn flush(&self) -> Result<(), KvError> {
        let began = self.clock.monotonic();
        let result = self.inner.flush().await;
        self.record("flush", began, &result);
        result
    }
}
