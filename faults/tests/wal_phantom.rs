//! Regression: phantom records. In format v2 a frame was `[len][crc32c][blake3][payload]`: it
//! named neither its position nor its segment, so any well-formed frame verified wherever it was
//! read. After damage to a record (bit rot of an acknowledged record's header, a crash that tore
//! an unacknowledged append keeping only its later sectors, a misdirected write over it), recovery
//! and readers look ahead for "the next valid record", and the first aligned frame that verified
//! could sit INSIDE the damaged record's payload, which the client chose: a client that put a
//! framed, validly signed record in its evidence bytes got that record read back and ingested
//! although nobody appended it. A frame copied from another segment (another WAL, an earlier
//! segment, a predecessor re-created at the same base) verified just as well.
//!
//! Format v3 binds every frame to its own offset and to its segment's random salt (named in the
//! file, never in the bytes), so none of these verify. For each fault this test builds the
//! hostile frame with the offset where it will sit (offsets are predictable) and the best guess
//! an attacker has for the salt, and asserts that neither a reader on the damaged log, nor
//! recovery, nor the engine's ingest (SimDisk + SimKv) ever returns or applies it, and that every
//! record a reader returns was appended at the offset it is returned at.
//!
//! Run against a v2 build (with the `compat` module below swapped for v2's API), every test here
//! fails: the reader returns the embedded or copied record and ingest applies it.

mod ingest_support;

use std::path::Path;
use std::sync::Arc;

use stemedb::io::{Clock, OpenMode, Vfs};
use stemedb::model::{Assertion, Record};
use stemedb::storage::{keys, KvStore};
use stemedb::wal::record::framed_bytes;
use stemedb::wal::{
    ReadOutcome, Wal, WalError, WalOptions, WalReader, RECORD_ALIGN_BYTES, RECORD_HEADER_BYTES,
};
use stemedb::{Engine, EngineOptions};
use stemedb_faults::{
    ClockPlan, CrashSpec, DiskFault, MisdirectTarget, SimClock, SimDisk, SimKv, SECTOR_BYTES,
};

use ingest_support::*;

const DIR: &str = "/db/wal";
const OTHER_DIR: &str = "/db/other-wal";
/// What an attacker who cannot read the segment's name puts where the salt goes.
const ATTACKER_SALT_GUESS: u64 = 0x0123_4567_89ab_cdef;
/// How far into the outer record's payload the embedded frame starts: past the first sector
/// after the outer header (so a torn write can keep it while losing the header) and past what
/// the misdirected record covers.
const EMBED_AT_LEAST_BYTES: usize = 1024;
/// The payload of the record whose write is misdirected over the outer record's header.
const MISDIRECTED_PAYLOAD_BYTES: usize = 200;

/// The only format-specific lines of this test.
mod compat {
    use std::path::{Path, PathBuf};

    use stemedb::io::Vfs;
    use stemedb::wal::{record, segment_files};

    /// A well-formed frame for `payload`, to sit at global `offset` in a segment salted `salt`.
    pub fn frame(payload: &[u8], offset: u64, salt: u64) -> Vec<u8> {
        record::encode(payload, offset, salt)
    }

    /// `(base, salt, path)` of every segment in `dir`, ascending.
    pub async fn segments(vfs: &dyn Vfs, dir: &Path) -> Vec<(u64, u64, PathBuf)> {
        segment_files(vfs, dir)
            .await
            .expect("list segments")
            .into_iter()
            .map(|(s, path)| (s.base, s.salt, path))
            .collect()
    }

    /// The path a segment at `base` gets if re-created with a new salt.
    pub fn recreated(dir: &Path, base: u64, old_salt: u64) -> PathBuf {
        dir.join(stemedb::wal::segment_name(base, !old_salt))
    }
}

fn dir() -> &'static Path {
    Path::new(DIR)
}

fn sim(seed: u64) -> (SimDisk, Arc<dyn Vfs>) {
    let disk = SimDisk::new(seed);
    let vfs: Arc<dyn Vfs> = Arc::new(disk.clone());
    (disk, vfs)
}

async fn open_wal(vfs: &Arc<dyn Vfs>, dir: &Path, options: WalOptions) -> Wal {
    Wal::open(Arc::clone(vfs), dir, options)
        .await
        .expect("open WAL")
}

/// The record nobody appends: validly signed, so ingest would apply it if it ever read it.
fn phantom() -> (Assertion, Vec<u8>) {
    let a = assertion(&agent(9), "phantom", "appended_by", "nobody", 99);
    let payload = encode(Record::Assertion(a.clone()));
    (a, payload)
}

fn honest(i: u64) -> Vec<u8> {
    encode(Record::Assertion(assertion(
        &agent(i),
        &format!("honest-{i}"),
        "p",
        "o",
        i,
    )))
}

/// A validly signed evidence record (appended at global `outer_at`) whose content carries
/// `inner` (a frame of `inner_payload_len` bytes built by `inner(offset)` for the offset it will
/// occupy) at an 8-aligned log position at least [`EMBED_AT_LEAST_BYTES`] into its payload.
/// Returns the outer payload and the global offset of the embedded frame.
fn outer_carrying(
    outer_at: u64,
    inner_frame_bytes: usize,
    inner: impl Fn(u64) -> Vec<u8>,
) -> (Vec<u8>, u64) {
    let build = |pad: usize, frame: &[u8]| {
        let mut content = vec![0x11u8; pad];
        content.extend_from_slice(frame);
        content.extend_from_slice(&[0x22u8; 64]);
        let on = agent(0);
        let target = assertion(&on, "honest-0", "p", "o", 0).identity_hash();
        encode(Record::Evidence(agent(7).evidence(target, content, 50)))
    };
    let marker: Vec<u8> = (0..inner_frame_bytes).map(|i| 0xA0 ^ (i as u8)).collect();
    for pad in EMBED_AT_LEAST_BYTES..EMBED_AT_LEAST_BYTES + 8 {
        let probe = build(pad, &marker);
        let at = find(&probe, &marker).expect("the content is in the payload");
        let global = outer_at + RECORD_HEADER_BYTES as u64 + at as u64;
        if !global.is_multiple_of(RECORD_ALIGN_BYTES) {
            continue;
        }
        let frame = inner(global);
        let payload = build(pad, &frame);
        assert_eq!(find(&payload, &frame), Some(at), "the layout did not move");
        return (payload, global);
    }
    unreachable!("one of 8 paddings aligns the embedded frame")
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Walks the log from its first record as ingest would (skipping reported damage to the next
/// valid record), with an unbound reader. Returns `(offset, payload)` of every record returned.
async fn walk(vfs: &Arc<dyn Vfs>) -> Vec<(u64, Vec<u8>)> {
    let mut reader = WalReader::open(Arc::clone(vfs), dir())
        .await
        .expect("reader");
    let mut offset = reader.first_offset().await.expect("first offset");
    let mut out = Vec::new();
    loop {
        match reader.read_at(offset).await {
            Ok(ReadOutcome::Record(r)) => {
                offset = r.next_offset;
                out.push((r.offset, r.payload));
            }
            Ok(ReadOutcome::EndOfLog) => return out,
            Err(WalError::Corrupt {
                next_valid: Some(next),
                ..
            }) if next > offset => offset = next,
            Err(WalError::Corrupt { .. }) => return out,
            Err(e) => panic!("reading the log failed: {e}"),
        }
    }
}

/// What every scenario must show, given the records that were really appended (offset, payload).
async fn assert_no_phantom(disk: &SimDisk, appended: &[(u64, Vec<u8>)], ctx: &str) {
    let vfs: Arc<dyn Vfs> = Arc::new(disk.clone());
    let (phantom, phantom_payload) = phantom();
    let check = |records: &[(u64, Vec<u8>)], when: &str| {
        for (offset, payload) in records {
            assert!(
                payload != &phantom_payload,
                "{ctx}, {when}: the embedded record was returned at offset {offset}"
            );
            assert!(
                appended.iter().any(|(o, p)| o == offset && p == payload),
                "{ctx}, {when}: a record nobody appended at offset {offset} was returned ({} bytes)",
                payload.len()
            );
        }
    };
    check(&walk(&vfs).await, "reader on the damaged log");

    // Recovery (inside the engine's open), then ingest of everything it kept.
    let kv = SimKv::new(7);
    let clock: Arc<dyn Clock> = Arc::new(SimClock::manual(ClockPlan::default()));
    let kv_dyn: Arc<dyn KvStore> = Arc::new(kv.clone());
    let engine = Engine::open(
        Arc::clone(&vfs),
        Arc::clone(&kv_dyn),
        clock,
        dir(),
        EngineOptions {
            truncate_wal: false,
            ..EngineOptions::default()
        },
    )
    .await
    .expect("engine opens");
    caught_up(&engine, ctx).await;
    assert!(
        kv_dyn
            .get(&keys::assertion_key(&phantom.identity_hash()))
            .await
            .unwrap()
            .is_none(),
        "{ctx}: the embedded record was ingested"
    );
    drop(engine);
    check(&walk(&vfs).await, "reader after recovery");
}

async fn append_all(wal: &Wal, payloads: &[Vec<u8>]) -> Vec<(u64, Vec<u8>)> {
    let mut out = Vec::new();
    for p in payloads {
        out.push((wal.append(p).await.expect("append"), p.clone()));
    }
    out
}

/// (a) Bit rot in the header of an acknowledged record whose payload carries a framed record.
#[tokio::test(start_paused = true)]
async fn bit_rot_of_a_header_never_surfaces_the_frame_in_its_payload() {
    let (disk, vfs) = sim(31);
    let wal = open_wal(&vfs, dir(), WalOptions::default()).await;
    let mut appended = append_all(&wal, &[honest(0), honest(1)]).await;
    let outer_at = wal.durable_end();
    let (_, phantom_payload) = phantom();
    let frame_bytes = framed_bytes(phantom_payload.len() as u32) as usize;
    let (outer, _) = outer_carrying(outer_at, frame_bytes, |at| {
        compat::frame(&phantom_payload, at, ATTACKER_SALT_GUESS)
    });
    appended.extend(append_all(&wal, &[outer, honest(2)]).await);
    assert_eq!(appended[2].0, outer_at);
    drop(wal);
    let (base, _, segment) = compat::segments(vfs.as_ref(), dir()).await.remove(0);
    // One flipped bit in the outer record's crc32c field.
    assert!(disk.flip_bit(&segment, outer_at - base + 4, 0));
    assert_no_phantom(&disk, &appended, "bit rot of the outer header").await;
}

/// (b) A crash tore the (unacknowledged) append of the outer record: only its later sectors,
/// which hold the embedded frame, reached the disk.
#[tokio::test(start_paused = true)]
async fn a_write_torn_to_its_later_sectors_never_surfaces_the_frame_in_it() {
    let (disk, vfs) = sim(32);
    let wal = open_wal(&vfs, dir(), WalOptions::default()).await;
    let appended = append_all(&wal, &[honest(0), honest(1)]).await;
    let outer_at = wal.durable_end();
    drop(wal);
    let (base, salt, segment) = compat::segments(vfs.as_ref(), dir()).await.remove(0);
    let (_, phantom_payload) = phantom();
    let frame_bytes = framed_bytes(phantom_payload.len() as u32) as usize;
    let (outer, inner_at) = outer_carrying(outer_at, frame_bytes, |at| {
        compat::frame(&phantom_payload, at, ATTACKER_SALT_GUESS)
    });
    // The frame the writer would have written, torn at the first sector boundary after its
    // header: the sectors holding the header are lost (a hole), everything after reached the
    // platter.
    let whole = compat::frame(&outer, outer_at, salt);
    let local = outer_at - base;
    let kept_from = ((local + RECORD_HEADER_BYTES as u64) / SECTOR_BYTES + 1) * SECTOR_BYTES;
    assert!(
        kept_from <= inner_at - base,
        "the embedded frame is in the kept sectors"
    );
    let file = vfs.open(&segment, OpenMode::Write).await.unwrap();
    file.write_at(kept_from, &whole[(kept_from - local) as usize..])
        .await
        .unwrap();
    file.sync_data().await.unwrap();
    drop(file);
    disk.crash(&CrashSpec::keep_all());
    assert_no_phantom(&disk, &appended, "a torn append keeping its later sectors").await;
}

/// (c) A later record's write was misdirected over the outer record's header (the drive
/// reported success; the aimed-at bytes are unchanged).
#[tokio::test(start_paused = true)]
async fn a_misdirected_write_over_a_header_never_surfaces_the_frame_behind_it() {
    let (disk, vfs) = sim(33);
    let wal = open_wal(&vfs, dir(), WalOptions::default()).await;
    let mut appended = append_all(&wal, &[honest(0), honest(1)]).await;
    let outer_at = wal.durable_end();
    let (_, phantom_payload) = phantom();
    let frame_bytes = framed_bytes(phantom_payload.len() as u32) as usize;
    let (outer, inner_at) = outer_carrying(outer_at, frame_bytes, |at| {
        compat::frame(&phantom_payload, at, ATTACKER_SALT_GUESS)
    });
    appended.extend(append_all(&wal, &[outer, honest(2)]).await);
    // A filler so that the next record starts a whole number of sectors after the outer one:
    // its misdirected write then lands exactly on the outer header.
    let gap = wal.durable_end() - outer_at;
    let mut need = (SECTOR_BYTES - gap % SECTOR_BYTES) % SECTOR_BYTES;
    while need < RECORD_HEADER_BYTES as u64 {
        need += SECTOR_BYTES;
    }
    let filler = vec![0x33u8; (need - RECORD_HEADER_BYTES as u64) as usize];
    appended.extend(append_all(&wal, &[filler]).await);
    let aimed = wal.durable_end();
    assert_eq!((aimed - outer_at) % SECTOR_BYTES, 0);
    let misdirected = vec![0x44u8; MISDIRECTED_PAYLOAD_BYTES];
    assert!(
        outer_at + framed_bytes(MISDIRECTED_PAYLOAD_BYTES as u32) < inner_at,
        "the misdirected bytes stop before the embedded frame"
    );
    disk.inject(DiskFault::MisdirectedWrite(MisdirectTarget::Shift {
        sectors: -(((aimed - outer_at) / SECTOR_BYTES) as i64),
    }));
    // Acknowledged, but its bytes landed on the outer record, not at its own offset.
    wal.append(&misdirected)
        .await
        .expect("the drive reported success");
    drop(wal);
    assert_no_phantom(
        &disk,
        &appended,
        "a misdirected write over the outer header",
    )
    .await;
}

/// (d) A frame copied verbatim from another segment: from another WAL (built to sit at this
/// log's tail offset), from an earlier segment of this WAL, and a predecessor's bytes left in a
/// segment re-created at the same base.
#[tokio::test(start_paused = true)]
async fn a_frame_copied_from_another_segment_never_verifies_here() {
    let (disk, vfs) = sim(34);
    let small = WalOptions {
        segment_bytes_max: 1024,
        ..WalOptions::default()
    };
    let wal = open_wal(&vfs, dir(), small.clone()).await;
    let payloads: Vec<Vec<u8>> = (0..8).map(honest).collect();
    let appended = append_all(&wal, &payloads).await;
    let tail = wal.durable_end();
    drop(wal);
    let segments = compat::segments(vfs.as_ref(), dir()).await;
    assert!(segments.len() > 1, "several segments");
    let (last_base, _, last_path) = segments.last().cloned().unwrap();

    // Another WAL on the same disk, whose record of the phantom sits at exactly this log's tail
    // offset: only the salt tells the frames apart.
    let other = open_wal(&vfs, Path::new(OTHER_DIR), WalOptions::default()).await;
    other
        .append(&vec![0x55u8; (tail - RECORD_HEADER_BYTES as u64) as usize])
        .await
        .unwrap();
    let (_, phantom_payload) = phantom();
    assert_eq!(other.append(&phantom_payload).await.unwrap(), tail);
    drop(other);
    let (_, _, other_path) = compat::segments(vfs.as_ref(), Path::new(OTHER_DIR))
        .await
        .remove(0);
    let copied = read_range(
        &vfs,
        &other_path,
        tail,
        framed_bytes(phantom_payload.len() as u32),
    )
    .await;
    write_synced(&vfs, &last_path, tail - last_base, &copied).await;
    assert_no_phantom(&disk, &appended, "a frame from another WAL at this tail").await;

    // A frame of this WAL's first segment copied to the tail (after the engine's reopen above
    // cut the foreign frame off again).
    let (first_base, _, first_path) = segments[0].clone();
    let (first_at, first_payload) = appended[0].clone();
    let copied = read_range(
        &vfs,
        &first_path,
        first_at - first_base,
        framed_bytes(first_payload.len() as u32),
    )
    .await;
    write_synced(&vfs, &last_path, tail - last_base, &copied).await;
    assert_no_phantom(
        &disk,
        &appended,
        "a frame from an earlier segment at this tail",
    )
    .await;

    // The last segment re-created at the same base (a new name, a new salt), still holding its
    // predecessor's bytes: none of them are its records.
    let predecessor = disk.live_file(&last_path).unwrap();
    vfs.remove(&last_path).await.unwrap();
    let recreated = compat::recreated(dir(), last_base, segments.last().unwrap().1);
    write_synced(&vfs, &recreated, 0, &predecessor).await;
    vfs.sync_dir(dir()).await.unwrap();
    let kept: Vec<(u64, Vec<u8>)> = appended
        .iter()
        .filter(|(o, _)| *o < last_base)
        .cloned()
        .collect();
    assert_no_phantom(
        &disk,
        &kept,
        "a predecessor's frames in a re-created segment",
    )
    .await;
}

async fn read_range(vfs: &Arc<dyn Vfs>, path: &Path, local: u64, len: u64) -> Vec<u8> {
    let file = vfs.open(path, OpenMode::Read).await.unwrap();
    let mut buf = vec![0u8; len as usize];
    assert_eq!(file.read_at(local, &mut buf).await.unwrap(), buf.len());
    buf
}

async fn write_synced(vfs: &Arc<dyn Vfs>, path: &Path, local: u64, bytes: &[u8]) {
    let file = vfs.open(path, OpenMode::Create).await.unwrap();
    file.write_at(local, bytes).await.unwrap();
    file.sync_data().await.unwrap();
}
