//! What ingest accepts, and why it sets anything else aside.
//!
//! Ingest must be a deterministic function of the log: replaying the same log into an empty store
//! must give the same store, on any node, at any time. So ingest applies every validation rule
//! except the clock one. A timestamp's distance from "now" depends on when a record is read, and
//! a record accepted at submit could be rejected on a replay years later (or on a node whose clock
//! is skewed), so the future-timestamp rule is enforced only at submit, against the engine's
//! `Clock`, before the record is logged.

use crate::model::{DecodeError, Hash32, Limits, Record, SignatureVerifier, ValidationError};
use crate::wal::RecordDefect;

/// Why ingest set a record, or a range of log bytes, aside. Rendered as text into the `Q:`
/// quarantine family, keyed by the WAL offset where it starts.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Rejection {
    /// The payload is not a record this build can read.
    #[error("undecodable record: {0}")]
    Decode(#[from] DecodeError),
    /// The record decodes but breaks a validation rule (bounds, signatures).
    #[error("invalid record: {0}")]
    Invalid(#[from] ValidationError),
    /// The bytes where a record must be are damaged (found by the reader, below the durable end).
    #[error("damaged WAL bytes [{start}, {end}): {defect}")]
    DamagedLog {
        start: u64,
        end: u64,
        defect: RecordDefect,
    },
    /// WAL recovery quarantined this range (damage found at open); the reader skipped it.
    #[error("WAL bytes [{start}, {end}) were quarantined by WAL recovery")]
    QuarantinedByWal { start: u64, end: u64 },
    /// WAL recovery found the log ending at `start`, below the ingest cursor `end`: acknowledged,
    /// already ingested records in between are gone from the log (media damage). The KV still
    /// holds what they applied; no offset in the range is reused.
    #[error("lost_below_cursor: WAL bytes [{start}, {end}) below the ingest cursor are gone from the log")]
    LostBelowCursor { start: u64, end: u64 },
}

impl Rejection {
    /// The reason's name in metrics (`ingest_dead_letters_total{reason}`): one per variant, so the
    /// label set stays bounded.
    pub fn label(&self) -> &'static str {
        match self {
            Rejection::Decode(_) => "decode",
            Rejection::Invalid(_) => "invalid",
            Rejection::DamagedLog { .. } => "damaged_log",
            Rejection::QuarantinedByWal { .. } => "quarantined_by_wal",
            Rejection::LostBelowCursor { .. } => "lost_below_cursor",
        }
    }

    /// The code probe of this dead-letter reason.
    pub fn probe(&self) -> crate::probe::Probe {
        use crate::probe::Probe;
        match self {
            Rejection::Decode(_) => Probe::DeadLetterDecode,
            Rejection::Invalid(_) => Probe::DeadLetterInvalid,
            Rejection::DamagedLog { .. } => Probe::DeadLetterDamagedLog,
            Rejection::QuarantinedByWal { .. } => Probe::DeadLetterQuarantinedByWal,
            Rejection::LostBelowCursor { .. } => Probe::DeadLetterLostBelowCursor,
        }
    }
}

/// The wall time handed to `validate` at ingest: as late as possible without overflowing the
/// skew addition, so that no timestamp counts as "in the future" (see the module docs).
pub fn ingest_now_wall_ms(limits: &Limits) -> u64 {
    u64::MAX - limits.future_skew_ms_max
}

/// Records one thread of `decode_run` takes at least: below it, starting a thread costs more than
/// the signatures it would verify (one verification is tens of microseconds; a thread start about
/// ten).
pub const DECODE_RECORDS_PER_THREAD_MIN: usize = 8;

/// `decode_for_ingest_with` of every payload, in order, on up to `threads` threads (this one
/// included). Every answer is a pure function of its payload, so the answers are exactly those of
/// one thread whatever the split; only the verifier's cache sees the threads, and it holds only
/// successes of a pure function.
pub fn decode_run(
    payloads: &[&[u8]],
    limits: &Limits,
    verifier: Option<&SignatureVerifier>,
    threads: usize,
) -> Vec<Result<(Record, Hash32), Rejection>> {
    let decode = |part: &[&[u8]]| -> Vec<_> {
        part.iter()
            .map(|payload| decode_for_ingest_with(payload, limits, verifier))
            .collect()
    };
    let threads = threads.min(payloads.len() / DECODE_RECORDS_PER_THREAD_MIN);
    if threads <= 1 {
        return decode(payloads);
    }
    let chunk = payloads.len().div_ceil(threads);
    let (first, rest) = payloads.split_at(chunk.min(payloads.len()));
    std::thread::scope(|scope| {
        let others: Vec<_> = rest
            .chunks(chunk)
            .map(|part| scope.spawn(move || decode(part)))
            .collect();
        let mut answers = decode(first);
        for other in others {
            // A panic while decoding is a bug in this process: carry it to the caller as is.
            answers.extend(
                other
                    .join()
                    .unwrap_or_else(|e| std::panic::resume_unwind(e)),
            );
        }
        answers
    })
}

/// Decodes and validates a WAL payload with every rule but the clock one. Pure: the same bytes
/// and limits always give the same answer.
pub fn decode_for_ingest(payload: &[u8], limits: &Limits) -> Result<(Record, Hash32), Rejection> {
    decode_for_ingest_with(payload, limits, None)
}

/// `decode_for_ingest`, verifying signatures through `verifier` (shared with `submit`, so a
/// record this process verified before it was logged is not verified again). Still pure: the
/// verifier only remembers successes of a pure function.
pub fn decode_for_ingest_with(
    payload: &[u8],
    limits: &Limits,
    verifier: Option<&SignatureVerifier>,
) -> Result<(Record, Hash32), Rejection> {
    let record = Record::decode(payload)?;
    let hash = record.validate_with(ingest_now_wall_ms(limits), limits, verifier)?;
    Ok((record, hash))
}
