//! Group commit without background tasks: the leader/follower protocol.
//!
//! Fault model: appenders are futures that may be dropped at any await (a timeout, a crashed
//! simulated host), the flush they wait on may fail, and the scheduler may be a current-thread
//! runtime, a `LocalSet` or a multi-thread runtime. The protocol guarantees:
//! - At most one leader at a time. The first appender that finds no leader becomes it; when its
//!   batch is done it hands leadership to the oldest queued appender (whose own record is then
//!   first in the queue), so no appender leads for longer than one batch.
//! - Every queued appender is eventually answered or handed leadership, even if the leader or the
//!   designated next leader is dropped: drop guards pass leadership on, and a leader dropped
//!   mid-flush answers its batch with [`WalError::FlushInterrupted`].
//! - Once the WAL fails closed, every queued and every later appender gets the cause.
//!
//! The queue lives behind a std `Mutex` that is only ever held for a few instructions, never
//! across an await.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

use tokio::sync::oneshot;

use super::error::{FailCause, WalError};
use super::record::framed_bytes;

/// What a waiting appender is told.
#[derive(Debug)]
pub enum Wake {
    /// Your record was flushed (or not): here is its offset or the error.
    Done(Result<u64, WalError>),
    /// You are the leader now; your record is first in the queue.
    Lead,
}

/// A queued record. `tx` is `None` for the current leader's own record (it gets its result as
/// the return value of the flush it leads). The payload is framed by the leader once the batch's
/// offsets and segment (hence salt) are known.
#[derive(Debug)]
pub struct Pending {
    pub payload: Vec<u8>,
    pub tx: Option<oneshot::Sender<Wake>>,
}

impl Pending {
    /// Bytes the record takes once framed (the caller checked the payload's length).
    pub fn frame_bytes(&self) -> u64 {
        framed_bytes(u32::try_from(self.payload.len()).unwrap_or(u32::MAX))
    }
}

#[derive(Debug, Default)]
struct QueueState {
    pending: VecDeque<Pending>,
    leader_active: bool,
    failed: Option<FailCause>,
}

/// The group-commit queue.
#[derive(Debug, Default)]
pub struct CommitQueue {
    state: Mutex<QueueState>,
}

/// What `enqueue` made of the caller.
#[derive(Debug)]
pub enum Role {
    Leader,
    Follower(oneshot::Receiver<Wake>),
}

impl CommitQueue {
    fn state(&self) -> MutexGuard<'_, QueueState> {
        // A panic while holding this lock cannot leave the queue half-updated in a way that
        // matters more than refusing all appends forever would, so keep going.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues a record and decides whether the caller leads.
    pub fn enqueue(&self, payload: Vec<u8>) -> Result<Role, WalError> {
        let mut state = self.state();
        if let Some(cause) = &state.failed {
            crate::probe::hit(crate::probe::Probe::WalAppendRefusedClosed);
            return Err(WalError::FailedClosed {
                cause: cause.clone(),
            });
        }
        if state.leader_active {
            let (tx, rx) = oneshot::channel();
            state.pending.push_back(Pending {
                payload,
                tx: Some(tx),
            });
            Ok(Role::Follower(rx))
        } else {
            debug_assert!(state.pending.is_empty(), "no leader implies an empty queue");
            state.leader_active = true;
            state.pending.push_back(Pending { payload, tx: None });
            Ok(Role::Leader)
        }
    }

    /// The framed length of the leader's own record (first in the queue).
    pub fn front_frame_bytes(&self) -> Option<u64> {
        self.state().pending.front().map(Pending::frame_bytes)
    }

    /// Takes the leader's record and as many following ones as fit in `room_bytes` in total
    /// (the first is always taken).
    pub fn take_batch(&self, room_bytes: u64) -> Vec<Pending> {
        let mut state = self.state();
        let mut total = 0u64;
        let mut count = 0;
        for pending in &state.pending {
            let bytes = pending.frame_bytes();
            if count > 0 && total + bytes > room_bytes {
                break;
            }
            total += bytes;
            count += 1;
        }
        state.pending.drain(..count).collect()
    }

    /// The leader is done: pass leadership to the oldest live waiter, or stand down.
    pub fn hand_off(&self) {
        let mut state = self.state();
        hand_off_locked(&mut state);
    }

    /// The leader was dropped before taking its batch: drop its own record (nobody waits for
    /// it, it was never written) and pass leadership on.
    pub fn abandon_lead(&self) {
        let mut state = self.state();
        if state.pending.front().is_some_and(|p| p.tx.is_none()) {
            state.pending.pop_front();
        }
        hand_off_locked(&mut state);
    }

    /// Fails the WAL closed: every queued appender and every later one gets `cause`.
    pub fn fail_closed(&self, cause: FailCause) {
        let mut state = self.state();
        let cause = state.failed.get_or_insert(cause).clone();
        for pending in state.pending.drain(..) {
            if let Some(tx) = pending.tx {
                // A dropped waiter needs no answer.
                let _ = tx.send(Wake::Done(Err(WalError::FailedClosed {
                    cause: cause.clone(),
                })));
            }
        }
        state.leader_active = false;
    }

    /// The cause, if the WAL has failed closed.
    pub fn failure(&self) -> Option<FailCause> {
        self.state().failed.clone()
    }
}

fn hand_off_locked(state: &mut QueueState) {
    while let Some(front) = state.pending.front_mut() {
        if let Some(tx) = front.tx.take() {
            if tx.send(Wake::Lead).is_ok() {
                return;
            }
        }
        // Its appender is gone: the record was never written or acknowledged, so drop it.
        state.pending.pop_front();
    }
    state.leader_active = false;
}

/// Answers a batch's waiters.
pub fn answer(batch: Vec<Pending>, results: Vec<Result<u64, WalError>>) {
    // A waiter left without an answer would take its dropped sender for an interrupted flush.
    assert_eq!(
        batch.len(),
        results.len(),
        "one answer per record of the batch"
    );
    for (pending, result) in batch.into_iter().zip(results) {
        if let Some(tx) = pending.tx {
            // A dropped waiter needs no answer; its record's fate is the batch's anyway.
            let _ = tx.send(Wake::Done(result));
        }
    }
}

/// A follower's wait for its answer. If dropped after being handed leadership but before acting
/// on it, passes leadership on so the queue never stalls.
#[derive(Debug)]
pub struct FollowerTicket<'a> {
    queue: &'a CommitQueue,
    rx: Option<oneshot::Receiver<Wake>>,
}

impl<'a> FollowerTicket<'a> {
    pub fn new(queue: &'a CommitQueue, rx: oneshot::Receiver<Wake>) -> Self {
        Self {
            queue,
            rx: Some(rx),
        }
    }

    /// Waits for the answer or for leadership.
    pub async fn wait(mut self) -> Wake {
        let outcome = match self.rx.as_mut() {
            Some(rx) => rx.await,
            None => return Wake::Done(Err(WalError::FlushInterrupted)),
        };
        // From here on the message is ours: nothing for Drop to pass on.
        self.rx = None;
        // The sender is only dropped unsent if the queue was torn down mid-way; the record's
        // fate is unknown, which is exactly an interrupted flush.
        outcome.unwrap_or(Wake::Done(Err(WalError::FlushInterrupted)))
    }
}

impl Drop for FollowerTicket<'_> {
    fn drop(&mut self) {
        if let Some(mut rx) = self.rx.take() {
            rx.close();
            if let Ok(Wake::Lead) = rx.try_recv() {
                self.queue.abandon_lead();
            }
        }
    }
}

/// The leader's obligations while it leads. Dropped without `finish`, it passes leadership on
/// and answers a taken batch with [`WalError::FlushInterrupted`].
#[derive(Debug)]
pub struct LeaderGuard<'a> {
    queue: &'a CommitQueue,
    batch: Option<Vec<Pending>>,
    done: bool,
}

impl<'a> LeaderGuard<'a> {
    pub fn new(queue: &'a CommitQueue) -> Self {
        Self {
            queue,
            batch: None,
            done: false,
        }
    }

    /// Records that the batch has been taken off the queue (so Drop answers it).
    pub fn hold(&mut self, batch: Vec<Pending>) {
        self.batch = Some(batch);
    }

    /// Gives the batch back for answering.
    pub fn release(&mut self) -> Vec<Pending> {
        self.batch.take().unwrap_or_default()
    }

    /// The leader finished normally: hand off (unless the WAL failed closed, which already
    /// cleared the queue and the leader flag).
    pub fn finish(mut self) {
        self.done = true;
        if self.queue.failure().is_none() {
            self.queue.hand_off();
        }
    }
}

impl Drop for LeaderGuard<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        match self.batch.take() {
            Some(batch) => {
                let interrupted = vec![Err(WalError::FlushInterrupted); batch.len()];
                answer(batch, interrupted);
                if self.queue.failure().is_none() {
                    self.queue.hand_off();
                }
            }
            None => {
                if self.queue.failure().is_none() {
                    self.queue.abandon_lead();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiter() -> (Pending, oneshot::Receiver<Wake>) {
        let (tx, rx) = oneshot::channel();
        (
            Pending {
                payload: Vec::new(),
                tx: Some(tx),
            },
            rx,
        )
    }

    /// Every waiter of a batch gets exactly its own answer.
    #[test]
    fn each_waiter_gets_its_own_answer() {
        let ((a, mut rx_a), (b, mut rx_b)) = (waiter(), waiter());
        answer(vec![a, b], vec![Ok(0), Err(WalError::FlushInterrupted)]);
        assert!(matches!(rx_a.try_recv(), Ok(Wake::Done(Ok(0)))));
        assert!(matches!(
            rx_b.try_recv(),
            Ok(Wake::Done(Err(WalError::FlushInterrupted)))
        ));
    }

    /// A batch answered with fewer results than records would leave a writer to take its
    /// dropped sender for an interrupted flush: that must never happen silently.
    #[test]
    #[should_panic(expected = "one answer per record of the batch")]
    fn a_batch_without_an_answer_for_every_record_panics() {
        let ((a, _rx_a), (b, _rx_b)) = (waiter(), waiter());
        answer(vec![a, b], vec![Ok(0)]);
    }
}
