//! What the measured latencies must obey, whatever the seed: simulated time is exact to the
//! microsecond (`stemedb_faults::time`), so a latency below its physical floor is either an
//! engine that answers before the work it promises, or a harness that measures the wrong thing.

use stemedb_reports::names::{LATENCY_APPEND_ACK, LATENCY_FSYNC};

use crate::metrics::Metrics;

/// An acknowledgement waits for a sync that covers its record (group commit shares one sync
/// among a batch, never skips it), so no acknowledgement is faster than the fastest sync the
/// disk served. `Some(why)` when one was.
pub fn ack_floor(metrics: &Metrics) -> Option<String> {
    let ack_us_min = metrics.latencies.get(LATENCY_APPEND_ACK)?.summary().min_us;
    let sync_us_min = metrics.latencies.get(LATENCY_FSYNC)?.summary().min_us;
    (ack_us_min < sync_us_min).then(|| {
        format!(
            "an append was acknowledged {ack_us_min} simulated us after it was submitted, faster \
             than any sync the disk served (the fastest took {sync_us_min} us): it cannot have \
             waited for its record to be durable"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics(ack_us: &[u64], sync_us: &[u64]) -> Metrics {
        let mut m = Metrics::default();
        for &us in ack_us {
            m.record(LATENCY_APPEND_ACK, us);
        }
        for &us in sync_us {
            m.record(LATENCY_FSYNC, us);
        }
        m
    }

    #[test]
    fn an_ack_faster_than_every_sync_breaks_physics() {
        assert!(ack_floor(&metrics(&[30, 500], &[47, 400])).is_some());
    }

    #[test]
    fn acks_no_faster_than_the_fastest_sync_are_fine() {
        assert_eq!(ack_floor(&metrics(&[47, 500], &[47, 400])), None);
        assert_eq!(ack_floor(&metrics(&[], &[47])), None, "no acks, no claim");
        assert_eq!(
            ack_floor(&metrics(&[5], &[])),
            None,
            "no latency model, no floor"
        );
    }
}
