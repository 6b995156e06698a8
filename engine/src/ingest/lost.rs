//! The dead letter for log lost below the ingest cursor.
//!
//! Fault model: media damage destroyed acknowledged records that ingest had already applied, so
//! WAL recovery finds the log ending below the cursor and continues at the cursor (`wal`'s
//! recovery). The KV keeps what those records applied, but the log no longer backs it, and an
//! operator must be able to see that. The entry is written and flushed before ingest starts or any
//! append is acknowledged; a crash before the flush loses it, and the next open finds the same
//! loss (the WAL changes nothing on disk for it until the next append) and writes it again.
//! Writing it twice changes nothing.
//!
//! It is keyed by where the valid log ends. That offset may already hold a dead letter (the last
//! surviving record was itself rejected); that reason is kept and this one appended to it.

use crate::storage::keys;
use crate::storage::{KvError, KvStore, WriteBatch};
use crate::wal::TailLost;

use super::validate::Rejection;

/// Separates reasons when one dead-letter key holds more than one.
const REASON_SEPARATOR: &str = "; ";

/// Records `lost` as a durable dead letter (idempotent). The cursor is not touched.
#[tracing::instrument(skip(kv), fields(from = lost.from, to = lost.to))]
pub async fn record_tail_lost(kv: &dyn KvStore, lost: TailLost) -> Result<(), KvError> {
    let key = keys::quarantine_key(lost.from);
    let reason = Rejection::LostBelowCursor {
        start: lost.from,
        end: lost.to,
    }
    .to_string();
    let value = match kv.get(&key).await? {
        Some(existing) => {
            let existing = String::from_utf8_lossy(&existing).into_owned();
            if existing
                .split(REASON_SEPARATOR)
                .any(|part| part == reason.as_str())
            {
                return Ok(());
            }
            format!("{existing}{REASON_SEPARATOR}{reason}")
        }
        None => reason,
    };
    let mut batch = WriteBatch::new();
    batch.put(key, value.into_bytes());
    kv.apply_batch(batch).await?;
    kv.flush().await?;
    crate::probe::hit(crate::probe::Probe::DeadLetterLostBelowCursor);
    tracing::error!(
        from = lost.from,
        to = lost.to,
        "WAL lost acknowledged records below the ingest cursor; dead letter recorded"
    );
    Ok(())
}
