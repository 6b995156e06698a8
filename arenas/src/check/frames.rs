//! Invariant: every acknowledged record still in the log sits on disk in the design's frame.
//!
//! The log oracle reads the log through the engine's own reader, so a frame format that drifted
//! on both sides at once (a checksum that stops covering the salt, a digest without the offset,
//! padding that is not zero, a segment name that says another salt) reads back fine and passes
//! it, while the defences the format exists for (a phantom frame inside a payload, a frame
//! misdirected to another position or copied from another segment, a store written by another
//! build) are gone. This check reads the segments' bytes itself: for each acknowledged record in
//! a segment still present, the bytes at its offset are exactly `oracle::spec::frame` of its
//! payload under the salt the segment's name states. Frames media damage touched are excused;
//! records whose bytes are gone are the log oracle's verdict, not this one's. Checked with the
//! log at every recovery and as the run ends.

use crate::env::Env;
use crate::oracle::spec;
use crate::outcome::Failure;

/// The log's segments on disk now (the directory's live names, read around the fault model):
/// base, salt and file name, by base.
fn live_segments(env: &Env) -> Vec<(u64, u64, String)> {
    let mut segments: Vec<(u64, u64, String)> = env
        .disk
        .live_names(env.data_dir())
        .into_iter()
        .filter_map(|n| spec::segment_of(&n).map(|(base, salt)| (base, salt, n)))
        .collect();
    segments.sort();
    segments
}

/// The records of every segment the engine removed, read by the design's frame, and the base
/// of the first segment still on disk (`u64::MAX` if none is).
pub fn removed_records(env: &Env) -> (Vec<(u64, Vec<u8>)>, u64) {
    let live_base = live_segments(env).first().map_or(u64::MAX, |s| s.0);
    let records = env
        .disk
        .removed_files()
        .into_iter()
        .filter(|(path, _)| path.parent() == Some(env.data_dir()))
        .filter_map(|(path, bytes)| {
            let (base, salt) = spec::segment_of(path.file_name()?.to_str()?)?;
            Some(spec::segment_records(base, salt, &bytes))
        })
        .flatten()
        .collect();
    (records, live_base)
}

/// The records whose frames lie in the log range `[from, to)` of the segments on disk now, read
/// by the design's frame from their synced bytes as they were before any bit rot or misdirected
/// landing (ingest read them some steps before its cursor moved, and the medium may have failed
/// in between; `from` is a position ingest's cursor held, so a frame boundary or the end of a
/// range it skipped).
pub fn applied_records(env: &Env, from: u64, to: u64) -> Vec<(u64, Vec<u8>)> {
    let dir = env.data_dir();
    let segments = live_segments(env);
    let mut out = Vec::new();
    for (i, (base, salt, name)) in segments.iter().enumerate() {
        let next_base = segments.get(i + 1).map_or(u64::MAX, |n| n.0);
        let (start, end) = (from.max(*base), to.min(next_base));
        if start >= end {
            continue;
        }
        if let Some(bytes) =
            env.disk
                .synced_range_before_damage(&dir.join(name), start - base, end - base)
        {
            out.extend(spec::segment_records(start, *salt, &bytes));
        }
    }
    out
}

pub fn check(env: &Env) -> Result<(), Failure> {
    let segments = live_segments(env);
    let s = env.shared.borrow();
    let mut checked = 0u64;
    for (i, (base, salt, name)) in segments.iter().enumerate() {
        let next_base = segments.get(i + 1).map_or(u64::MAX, |n| n.0);
        let Some(bytes) = env.disk.live_file(&env.data_dir().join(name)) else {
            continue;
        };
        for (&offset, payload) in s.oracle.acked_records().range(*base..next_base) {
            let len = spec::frame_len(payload.len());
            let local = (offset - base) as usize;
            let Some(on_disk) = bytes.get(local..local + len as usize) else {
                continue;
            };
            if s.oracle.damaged(offset, offset + len) || s.oracle.uncertain().contains(&offset) {
                continue;
            }
            checked += 1;
            let want = spec::frame(payload, offset, *salt);
            if on_disk != want.as_slice() {
                let at = on_disk.iter().zip(&want).position(|(a, b)| a != b);
                return Err(Failure::Safety(format!(
                    "the acknowledged record at offset {offset} is not in the design's frame in \
                     {name}: its {len} bytes differ from the format's first at byte {at:?} of \
                     the frame (a checksum, digest, offset or padding the format does not \
                     define)"
                )));
            }
        }
    }
    drop(s);
    env.shared.borrow_mut().metrics.check(checked);
    Ok(())
}
