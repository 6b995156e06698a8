//! `wal_recover`: recovery of a WAL image the fuzzer damaged.
//!
//! A valid log is written with `Wal` on a `SimDisk` (a few records, small segments so there are
//! several), then the fuzzer's bytes damage it durably: bit flips, truncations, zeroed and
//! duplicated sectors, removed files, stray files (garbage, segment-like names, copies of real
//! segments under another base or salt, a garbage quarantine list), optionally unsynced writes
//! and a power loss. Then `Wal::open` (from an ingest cursor at a record boundary, or from the
//! start) and a full read with `WalReader`. Properties (`docs/design.md` section 4):
//! - no panic; open and reads return typed errors;
//! - every record read is one that was appended, at the offset its append returned;
//! - after a successful open a read from the scan start meets no unquarantined damage;
//! - without damage, the read returns exactly the records appended at or after the cursor;
//! - a second open changes no byte of the durable image and reads the same records;
//! - an append after recovery gets the offset recovery said the log ends at, and reads back.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arbitrary::{Result as ArbResult, Unstructured};
use stemedb::io::{OpenMode, Vfs};
use stemedb::wal::{
    segment_name, ReadOutcome, Wal, WalError, WalOptions, WalReader, WalRecord,
    QUARANTINE_FILE_NAME, RECORD_ALIGN_BYTES,
};
use stemedb_faults::{CrashMode, CrashSpec, SimDisk, SECTOR_BYTES};

use super::block_on;

const WAL_DIR: &str = "/wal";
/// Records written before the damage, at most; enough for several segments at the sizes below.
const RECORDS_MAX: usize = 12;
/// Payload bytes per record, at most: a few sectors, so sector damage hits headers and payloads.
const PAYLOAD_BYTES_MAX: usize = 700;
/// Segment size limits the log is written with (small: rotation after a few records).
const SEGMENT_BYTES_MIN: u64 = 128;
const SEGMENT_BYTES_MAX: u64 = 4096;
/// Damage operations applied, at most.
const DAMAGES_MAX: usize = 8;
/// Bytes of a stray file or an unsynced write, at most.
const STRAY_BYTES_MAX: usize = 2048;
/// Base offsets of stray segment files reach `u64::MAX`: a name claiming a base past the log's
/// offset bound must be refused with a typed error (it once overflowed the recovery scan).
const STRAY_SEGMENT_BASE_MAX: u64 = u64::MAX;
/// Length of a stray file's made-up name, at most.
const STRAY_NAME_BYTES_MAX: usize = 40;
/// Records read from one open, at most: more than were ever appended means the reader loops.
const READS_MAX: usize = 4 * RECORDS_MAX + 8;
/// Salt seeds of the boots: the writer's, the first recovery's, the second's.
const BOOT_SALT_SEEDS: [u64; 3] = [1, 2, 3];

/// What the fuzzer does to the image, each made durable (synced) unless it says otherwise.
#[derive(Debug)]
enum Damage {
    FlipBit {
        file: usize,
        byte: u64,
        bit: u8,
    },
    Truncate {
        file: usize,
        len: u64,
    },
    ZeroSector {
        file: usize,
        sector: u64,
    },
    CopySector {
        from: usize,
        sector: u64,
        to: usize,
        to_sector: u64,
    },
    Remove {
        file: usize,
    },
    Stray {
        name: StrayName,
        bytes: StrayBytes,
    },
    /// Written but never synced: a later power loss keeps, drops or tears it.
    Unsynced {
        file: usize,
        at: u64,
        bytes: Vec<u8>,
    },
}

#[derive(Debug)]
enum StrayName {
    /// Any name (valid UTF-8, no `/`).
    Text(String),
    /// A segment name: a base (8-aligned) and a salt.
    Segment { base: u64, salt: u64 },
    /// The quarantine list's name.
    Quarantine,
}

#[derive(Debug)]
enum StrayBytes {
    Given(Vec<u8>),
    /// A copy of an existing file.
    CopyOf(usize),
}

struct Scenario {
    seed: u64,
    payloads: Vec<Vec<u8>>,
    segment_bytes_max: u64,
    /// Index of the record whose offset is the ingest cursor (== payloads.len(): the end);
    /// `None`: recover from the first segment.
    cursor_at: Option<usize>,
    damages: Vec<Damage>,
    crash: Option<CrashSpec>,
}

fn bytes(u: &mut Unstructured<'_>, max: usize) -> ArbResult<Vec<u8>> {
    let len = u.int_in_range(0..=max)?;
    Ok(u.bytes(len.min(u.len()))?.to_vec())
}

fn scenario(u: &mut Unstructured<'_>) -> ArbResult<Scenario> {
    let seed = u.arbitrary()?;
    let records = u.int_in_range(1..=RECORDS_MAX)?;
    let mut payloads = Vec::with_capacity(records);
    for i in 0..records {
        let len = u.int_in_range(0..=PAYLOAD_BYTES_MAX)?;
        // Payload bytes are not drawn from the input: damage, not content, is what is fuzzed,
        // and drawn content would eat the input before the damage is chosen.
        payloads.push((0..len).map(|j| (i * 31 + j * 7 + 1) as u8).collect());
    }
    let segment_bytes_max = u.int_in_range(SEGMENT_BYTES_MIN..=SEGMENT_BYTES_MAX)?;
    let cursor_at = if u.arbitrary()? {
        Some(u.int_in_range(0..=records)?)
    } else {
        None
    };
    let mut damages = Vec::new();
    for _ in 0..u.int_in_range(0..=DAMAGES_MAX)? {
        let file = u.arbitrary()?;
        damages.push(match u.choose_index(7)? {
            0 => Damage::FlipBit {
                file,
                byte: u.arbitrary()?,
                bit: u.int_in_range(0..=7)?,
            },
            1 => Damage::Truncate {
                file,
                len: u.arbitrary()?,
            },
            2 => Damage::ZeroSector {
                file,
                sector: u.arbitrary()?,
            },
            3 => Damage::CopySector {
                from: file,
                sector: u.arbitrary()?,
                to: u.arbitrary()?,
                to_sector: u.arbitrary()?,
            },
            4 => Damage::Remove { file },
            5 => Damage::Stray {
                name: match u.choose_index(3)? {
                    0 => StrayName::Text(
                        u.arbitrary::<String>()?
                            .chars()
                            .take(STRAY_NAME_BYTES_MAX)
                            .collect(),
                    ),
                    1 => StrayName::Segment {
                        base: u.int_in_range(0..=STRAY_SEGMENT_BASE_MAX)? / RECORD_ALIGN_BYTES
                            * RECORD_ALIGN_BYTES,
                        salt: u.arbitrary()?,
                    },
                    _ => StrayName::Quarantine,
                },
                bytes: if u.arbitrary()? {
                    StrayBytes::CopyOf(u.arbitrary()?)
                } else {
                    StrayBytes::Given(bytes(u, STRAY_BYTES_MAX)?)
                },
            },
            _ => Damage::Unsynced {
                file,
                at: u.arbitrary()?,
                bytes: bytes(u, STRAY_BYTES_MAX)?,
            },
        });
    }
    let crash = if u.arbitrary()? {
        Some(CrashSpec {
            seed: u.arbitrary()?,
            mode: u.arbitrary::<CrashMode>()?,
            rot_last_synced: None,
        })
    } else {
        None
    };
    Ok(Scenario {
        seed,
        payloads,
        segment_bytes_max,
        cursor_at,
        damages,
        crash,
    })
}

pub fn wal_recover(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(scenario) = scenario(&mut u) else {
        return;
    };
    block_on(run(scenario));
}

fn dir() -> &'static Path {
    Path::new(WAL_DIR)
}

fn options(scenario: &Scenario, boot: usize, cursor: Option<u64>) -> WalOptions {
    WalOptions {
        segment_bytes_max: scenario.segment_bytes_max,
        recovery_start_offset: cursor,
        salt_seed: Some(scenario.seed ^ BOOT_SALT_SEEDS[boot]),
        ..WalOptions::default()
    }
}

/// The files in the WAL directory now, sorted (a fuzzer's index picks one modulo the count).
async fn files(vfs: &dyn Vfs) -> Vec<PathBuf> {
    vfs.list(dir())
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|name| dir().join(name))
        .collect()
}

fn pick(files: &[PathBuf], index: usize) -> Option<&PathBuf> {
    (!files.is_empty()).then(|| &files[index % files.len()])
}

fn within(value: u64, len: u64) -> u64 {
    if len == 0 {
        0
    } else {
        value % len
    }
}

/// Writes `bytes` at `at` in `path` (creating it), synced unless `sync` is false. Errors are
/// ignored: damage that the disk refuses is no damage.
async fn write(vfs: &dyn Vfs, path: &Path, at: u64, bytes: &[u8], sync: bool) {
    let Ok(file) = vfs.open(path, OpenMode::Create).await else {
        return;
    };
    let _ = file.write_at(at, bytes).await;
    if sync {
        let _ = file.sync_data().await;
        let _ = vfs.sync_dir(dir()).await;
    }
}

async fn damage(disk: &SimDisk, vfs: &dyn Vfs, what: &Damage) {
    let sector_bytes = SECTOR_BYTES;
    let listed = files(vfs).await;
    let len_of = |path: &Path| disk.live_file(path).map_or(0, |b| b.len() as u64);
    match what {
        Damage::FlipBit { file, byte, bit } => {
            if let Some(path) = pick(&listed, *file) {
                disk.flip_bit(path, within(*byte, len_of(path)), *bit);
            }
        }
        Damage::Truncate { file, len } => {
            if let Some(path) = pick(&listed, *file) {
                let keep = within(*len, len_of(path) + 1);
                if let Ok(f) = vfs.open(path, OpenMode::Write).await {
                    let _ = f.set_len(keep).await;
                    let _ = f.sync_data().await;
                }
            }
        }
        Damage::ZeroSector { file, sector } => {
            if let Some(path) = pick(&listed, *file) {
                let sectors = len_of(path).div_ceil(sector_bytes);
                let at = within(*sector, sectors) * sector_bytes;
                let n = sector_bytes.min(len_of(path).saturating_sub(at));
                write(vfs, path, at, &vec![0; n as usize], true).await;
            }
        }
        Damage::CopySector {
            from,
            sector,
            to,
            to_sector,
        } => {
            let (Some(src), Some(dst)) = (pick(&listed, *from), pick(&listed, *to)) else {
                return;
            };
            let Some(content) = disk.live_file(src) else {
                return;
            };
            let sectors = (content.len() as u64).div_ceil(sector_bytes);
            let start = within(*sector, sectors) * sector_bytes;
            let end = (start + sector_bytes).min(content.len() as u64);
            let piece = &content[start as usize..end as usize];
            let dst_sectors = len_of(dst).div_ceil(sector_bytes) + 1;
            let at = within(*to_sector, dst_sectors) * sector_bytes;
            write(vfs, dst, at, piece, true).await;
        }
        Damage::Remove { file } => {
            if let Some(path) = pick(&listed, *file) {
                let _ = vfs.remove(path).await;
                let _ = vfs.sync_dir(dir()).await;
            }
        }
        Damage::Stray { name, bytes } => {
            let name = match name {
                StrayName::Text(text) => text.replace('/', "_"),
                StrayName::Segment { base, salt } => segment_name(*base, *salt),
                StrayName::Quarantine => QUARANTINE_FILE_NAME.to_owned(),
            };
            if name.is_empty() || name == "." || name == ".." {
                return;
            }
            let content = match bytes {
                StrayBytes::Given(b) => b.clone(),
                StrayBytes::CopyOf(i) => pick(&listed, *i)
                    .and_then(|p| disk.live_file(p))
                    .unwrap_or_default(),
            };
            let path = dir().join(name);
            if let Ok(f) = vfs.open(&path, OpenMode::Create).await {
                let _ = f.set_len(0).await;
                let _ = f.write_at(0, &content).await;
                let _ = f.sync_data().await;
                let _ = vfs.sync_dir(dir()).await;
            }
        }
        Damage::Unsynced { file, at, bytes } => {
            if let Some(path) = pick(&listed, *file) {
                let at = within(*at, len_of(path) + 1);
                write(vfs, path, at, bytes, false).await;
            }
        }
    }
}

/// Every record from `from` to the end, or the first error. Bounded: a reader that keeps
/// returning records past every one ever appended is itself a finding.
async fn read_all(vfs: &Arc<dyn Vfs>, from: u64) -> Result<Vec<WalRecord>, WalError> {
    let mut reader = WalReader::open(Arc::clone(vfs), dir()).await?;
    let mut offset = from.max(reader.first_offset().await?);
    let mut out = Vec::new();
    loop {
        match reader.read_at(offset).await? {
            ReadOutcome::Record(record) => {
                assert!(
                    record.offset >= offset && record.next_offset > record.offset,
                    "read at {offset} returned a record at {} ending at {}",
                    record.offset,
                    record.next_offset
                );
                offset = record.next_offset;
                out.push(record);
                assert!(out.len() <= READS_MAX, "the reader does not reach the end");
            }
            ReadOutcome::EndOfLog => return Ok(out),
        }
    }
}

fn check_appended(records: &[WalRecord], appended: &BTreeMap<u64, Vec<u8>>, when: &str) {
    for record in records {
        match appended.get(&record.offset) {
            Some(payload) => assert!(
                *payload == record.payload,
                "{when}: the record at {} is not the one appended there",
                record.offset
            ),
            None => panic!(
                "{when}: a record at {} ({} bytes) that was never appended there",
                record.offset,
                record.payload.len()
            ),
        }
    }
}

async fn run(scenario: Scenario) {
    let disk = SimDisk::new(scenario.seed);
    let vfs: Arc<dyn Vfs> = Arc::new(disk.clone());
    let mut appended = BTreeMap::new();
    let mut offsets = Vec::new();
    {
        let wal = Wal::open(Arc::clone(&vfs), dir(), options(&scenario, 0, None))
            .await
            .expect("a WAL opens on an empty, fault-free disk");
        for payload in &scenario.payloads {
            let offset = wal
                .append(payload)
                .await
                .expect("appends succeed on a fault-free disk");
            offsets.push(offset);
            appended.insert(offset, payload.clone());
        }
        offsets.push(wal.durable_end());
    }
    let cursor = scenario.cursor_at.map(|i| offsets[i]);
    for what in &scenario.damages {
        damage(&disk, vfs.as_ref(), what).await;
    }
    if let Some(spec) = &scenario.crash {
        disk.crash(spec);
    }
    let damaged = !scenario.damages.is_empty();

    let first = Wal::open(Arc::clone(&vfs), dir(), options(&scenario, 1, cursor)).await;
    let Ok(first) = first else {
        // A typed refusal to open damaged bytes is an answer; an undamaged log must open.
        assert!(damaged, "an undamaged log does not open: {first:?}");
        return;
    };
    let report = first.recovery_report().clone();
    let read_from = cursor.unwrap_or(0);
    let read = read_all(&vfs, read_from).await;
    let records = match read {
        Ok(records) => records,
        Err(e) => panic!("after recovery ({report:?}) a full read fails: {e}"),
    };
    check_appended(&records, &appended, "first open");
    if !damaged {
        let expected: Vec<u64> = appended
            .keys()
            .copied()
            .filter(|o| *o >= read_from)
            .collect();
        let got: Vec<u64> = records.iter().map(|r| r.offset).collect();
        assert_eq!(got, expected, "an undamaged log lost or invented records");
    }
    let image = disk.durable_image();
    drop(first);

    let second = Wal::open(Arc::clone(&vfs), dir(), options(&scenario, 2, cursor))
        .await
        .unwrap_or_else(|e| panic!("a log that opened once does not open again: {e}"));
    assert!(
        disk.durable_image() == image,
        "a second open changed the durable image (first recovery: {report:?}; second: {:?})",
        second.recovery_report()
    );
    let again = read_all(&vfs, read_from)
        .await
        .unwrap_or_else(|e| panic!("a read after the second open fails: {e}"));
    assert_eq!(again, records, "the second open reads other records");
    let end = second.recovery_report().end_offset;
    assert_eq!(second.durable_end(), end);
    let payload = b"appended after recovery";
    let offset = second
        .append(payload)
        .await
        .unwrap_or_else(|e| panic!("an append after recovery fails: {e}"));
    assert_eq!(
        offset, end,
        "the append after recovery is not where the log ends"
    );
    let mut reader = WalReader::open(Arc::clone(&vfs), dir())
        .await
        .unwrap_or_else(|e| panic!("a reader does not open after the append: {e}"));
    match reader.read_at(offset).await {
        Ok(ReadOutcome::Record(record)) => {
            assert_eq!(record.offset, offset);
            assert_eq!(record.payload, payload);
        }
        other => panic!("the append at {offset} does not read back: {other:?}"),
    }
}
