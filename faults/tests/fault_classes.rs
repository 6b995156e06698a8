//! One test (at least) per fault class of the simulated disk: make the fault happen, then assert
//! what must and what must not be true afterwards.

use std::collections::BTreeSet;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use stemedb::io::{read_to_end, OpenMode, Vfs, VfsFile, ENOSPC_ERRNO};
use stemedb::storage::KvStore;
use stemedb_faults::{
    CrashMode, CrashSpec, DiskFault, FaultPlan, FileSelector, FsyncEioSpec, MisdirectTarget,
    ScheduledFault, SimDisk, SimKv, SpinWatch, SECTOR_BYTES,
};

const SEEDS: u64 = 300;
const EIO: i32 = 5;

fn p(name: &str) -> PathBuf {
    Path::new("/d").join(name)
}

/// A disk with the directory `/d`, durably created (its entry in `/` synced).
async fn disk_with_dir(seed: u64) -> SimDisk {
    let disk = SimDisk::new(seed);
    disk.create_dir_all(Path::new("/d")).await.unwrap();
    disk.sync_dir(Path::new("/")).await.unwrap();
    disk
}

/// Creates `name` with `data`, syncs data and directory: fully durable.
async fn durable_file(disk: &SimDisk, name: &str, data: &[u8]) -> Box<dyn VfsFile> {
    let f = disk.open(&p(name), OpenMode::Create).await.unwrap();
    f.write_at(0, data).await.unwrap();
    f.sync_data().await.unwrap();
    disk.sync_dir(Path::new("/d")).await.unwrap();
    f
}

async fn contents(disk: &SimDisk, name: &str) -> Option<Vec<u8>> {
    match disk.open(&p(name), OpenMode::Read).await {
        Ok(f) => Some(read_to_end(f.as_ref()).await.unwrap()),
        Err(e) if e.kind() == ErrorKind::NotFound => None,
        Err(e) => panic!("unexpected open error {e}"),
    }
}

#[tokio::test]
async fn synced_data_survives_every_crash() {
    for seed in 0..SEEDS {
        let disk = disk_with_dir(seed).await;
        let synced = vec![0x5a; 1500];
        let f = durable_file(&disk, "a", &synced).await;
        f.append(&[0x11; 700]).await.unwrap();
        let g = disk.open(&p("b"), OpenMode::Create).await.unwrap();
        g.write_at(0, &[0x22; 900]).await.unwrap();
        disk.crash(&CrashSpec::random(seed));
        let after = contents(&disk, "a")
            .await
            .expect("a synced file never vanishes");
        assert_eq!(
            &after[..1500],
            &synced[..],
            "seed {seed}: synced bytes changed"
        );
    }
}

#[tokio::test]
async fn unsynced_write_is_lost_in_some_seeds_and_kept_in_others() {
    let (mut lost, mut kept) = (0, 0);
    for seed in 0..SEEDS {
        let disk = disk_with_dir(seed).await;
        let f = durable_file(&disk, "a", b"durable|").await;
        f.append(b"volatile").await.unwrap();
        disk.crash(&CrashSpec::random(seed));
        match contents(&disk, "a").await.unwrap().as_slice() {
            b"durable|" => lost += 1,
            b"durable|volatile" => kept += 1,
            // 16 bytes lie in one sector: the write is atomic, it cannot tear.
            other => panic!("seed {seed}: impossible contents {other:?}"),
        }
    }
    assert!(lost > 0 && kept > 0, "lost {lost}, kept {kept}");
    // The two extremes are exact.
    for (spec, want) in [
        (CrashSpec::keep_all(), &b"durable|volatile"[..]),
        (CrashSpec::drop_all(), &b"durable|"[..]),
    ] {
        let disk = disk_with_dir(0).await;
        let f = durable_file(&disk, "a", b"durable|").await;
        f.append(b"volatile").await.unwrap();
        disk.crash(&spec);
        assert_eq!(contents(&disk, "a").await.unwrap(), want, "{spec:?}");
    }
}

#[tokio::test]
async fn a_created_file_without_dir_sync_can_vanish() {
    let (mut vanished, mut survived) = (0, 0);
    for seed in 0..SEEDS {
        let disk = disk_with_dir(seed).await;
        let f = disk.open(&p("new"), OpenMode::CreateNew).await.unwrap();
        f.write_at(0, b"synced data, unsynced name").await.unwrap();
        f.sync_data().await.unwrap();
        disk.crash(&CrashSpec::random(seed));
        match contents(&disk, "new").await {
            None => vanished += 1,
            Some(data) => {
                assert_eq!(data, b"synced data, unsynced name", "seed {seed}");
                survived += 1;
            }
        }
        // With the directory synced it never vanishes.
        let disk = disk_with_dir(seed).await;
        durable_file(&disk, "new", b"x").await;
        disk.crash(&CrashSpec::random(seed));
        assert_eq!(
            contents(&disk, "new").await.as_deref(),
            Some(&b"x"[..]),
            "seed {seed}"
        );
    }
    assert!(
        vanished > 0 && survived > 0,
        "vanished {vanished}, survived {survived}"
    );
}

#[tokio::test]
async fn pending_directory_operations_survive_as_a_prefix() {
    let names = ["a", "b", "c", "d"];
    let mut seen = BTreeSet::new();
    for seed in 0..SEEDS {
        let disk = disk_with_dir(seed).await;
        for name in names {
            disk.open(&p(name), OpenMode::CreateNew).await.unwrap();
        }
        disk.crash(&CrashSpec::random(seed));
        let listed = disk.list(Path::new("/d")).await.unwrap();
        assert_eq!(
            listed,
            names[..listed.len()],
            "seed {seed}: not a prefix: {listed:?}"
        );
        seen.insert(listed.len());
    }
    assert_eq!(
        seen.len(),
        names.len() + 1,
        "every prefix length occurs: {seen:?}"
    );
}

#[tokio::test]
async fn an_unsynced_rename_leaves_old_or_new_never_neither_nor_a_mix() {
    let mut outcomes = BTreeSet::new();
    for seed in 0..SEEDS {
        let disk = disk_with_dir(seed).await;
        durable_file(&disk, "current", b"old contents").await;
        let tmp = disk.open(&p("tmp"), OpenMode::CreateNew).await.unwrap();
        tmp.write_at(0, b"new contents").await.unwrap();
        tmp.sync_data().await.unwrap();
        disk.rename(&p("tmp"), &p("current")).await.unwrap();
        disk.crash(&CrashSpec::random(seed));
        let got = contents(&disk, "current")
            .await
            .expect("the target never vanishes");
        assert!(
            got == b"old contents" || got == b"new contents",
            "seed {seed}: {got:?}"
        );
        outcomes.insert(got);
    }
    assert_eq!(outcomes.len(), 2, "both outcomes occur");
}

#[tokio::test]
async fn a_torn_write_shows_only_the_three_sector_outcomes() {
    let sectors = 4usize;
    let sector = SECTOR_BYTES as usize;
    let old = vec![0xaa; sectors * sector];
    let new = vec![0xbb; sectors * sector];
    let (mut prefix, mut suffix, mut garbage) = (0, 0, 0);
    for seed in 0..SEEDS {
        let disk = disk_with_dir(seed).await;
        let f = durable_file(&disk, "a", &old).await;
        f.write_at(0, &new).await.unwrap();
        disk.crash(&CrashSpec {
            seed,
            mode: CrashMode::Random {
                keep_pct: 0,
                torn_pct: 100,
            },
            rot_last_synced: None,
        });
        let got = contents(&disk, "a").await.unwrap();
        assert_eq!(
            got.len(),
            old.len(),
            "an in-place overwrite never changes the length"
        );
        let shape = (1..sectors).find_map(|k| {
            let b = k * sector;
            if got[..b] == new[..b] && got[b..] == old[b..] {
                Some("prefix")
            } else if got[..b] == old[..b] && got[b..] == new[b..] {
                Some("suffix")
            } else if got[..b] == new[..b] && got[b + sector..] == old[b + sector..] {
                Some("garbage")
            } else {
                None
            }
        });
        match shape {
            Some("prefix") => prefix += 1,
            Some("suffix") => suffix += 1,
            Some(_) => garbage += 1,
            None => panic!("seed {seed}: a fourth shape: {got:?}"),
        }
        assert_ne!(got, new, "seed {seed}: a torn write is never whole");
        assert_ne!(got, old, "seed {seed}: a torn write always lands in part");
    }
    assert!(
        prefix > 0 && suffix > 0 && garbage > 0,
        "{prefix} {suffix} {garbage}"
    );
}

#[tokio::test]
async fn enospc_is_storage_full_and_keeps_durable_data() {
    let disk = disk_with_dir(1).await;
    let durable = vec![7u8; 1000];
    let f = durable_file(&disk, "a", &durable).await;
    let spare = durable_file(&disk, "spare", &[1u8; 600]).await;
    disk.inject(DiskFault::FillUp {
        headroom_bytes: 100,
    });
    let err = f.append(&[9u8; 300]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::StorageFull);
    assert_eq!(err.raw_os_error(), Some(ENOSPC_ERRNO));
    let len = f.len().await.unwrap();
    assert!(
        (1000..=1100).contains(&len),
        "at most the headroom was written: {len}"
    );
    assert_eq!(disk.stats().enospc_errors, 1);
    let grow = f.set_len(5000).await.unwrap_err();
    assert_eq!(
        grow.kind(),
        ErrorKind::StorageFull,
        "growth by set_len is refused too"
    );
    // Writes inside the file still work: they allocate nothing.
    f.write_at(0, &[8u8; 10]).await.unwrap();
    f.write_at(0, &durable[..10]).await.unwrap();
    f.set_len(1000).await.unwrap();
    f.sync_data().await.unwrap();
    // Freeing space makes writes work again.
    drop(spare);
    disk.remove(&p("spare")).await.unwrap();
    f.append(&[9u8; 300]).await.expect("space was freed");
    disk.crash(&CrashSpec::drop_all());
    assert_eq!(
        contents(&disk, "a").await.unwrap(),
        durable,
        "durable data intact"
    );
    disk.set_capacity(None);
    let f = disk.open(&p("a"), OpenMode::Write).await.unwrap();
    f.append(&vec![0u8; 1 << 20])
        .await
        .expect("capacity lifted");
}

#[tokio::test]
async fn fsync_eio_drops_the_dirty_data_for_good() {
    let disk = disk_with_dir(1).await;
    let f = durable_file(&disk, "a", b"old!").await;
    f.write_at(0, b"new!").await.unwrap();
    disk.inject(DiskFault::FsyncEio {
        spec: FsyncEioSpec::drop_all(),
    });
    let err = f.sync_data().await.unwrap_err();
    assert_eq!(err.raw_os_error(), Some(EIO), "fsync reports EIO");
    let mut buf = [0u8; 4];
    f.read_at(0, &mut buf).await.unwrap();
    assert_eq!(
        &buf, b"new!",
        "the page cache still shows the write, as Linux does"
    );
    f.sync_data().await.expect("a later sync succeeds");
    f.append(b"+more").await.unwrap();
    f.sync_data().await.unwrap();
    // Even the luckiest crash cannot bring the dropped write back.
    disk.crash(&CrashSpec::keep_all());
    assert_eq!(contents(&disk, "a").await.unwrap(), b"old!+more");
    assert_eq!(disk.stats().fsync_errors, 1);
}

#[tokio::test]
async fn a_misdirected_write_lands_elsewhere_and_leaves_its_target_untouched() {
    let disk = disk_with_dir(1).await;
    let f = durable_file(&disk, "a", &[0u8; 4096]).await;
    let other = durable_file(&disk, "b", &[0u8; 4096]).await;
    disk.inject(DiskFault::MisdirectedWrite(MisdirectTarget::Shift {
        sectors: 2,
    }));
    f.write_at(0, b"payload")
        .await
        .expect("a misdirected write reports success");
    let mut buf = [0u8; 7];
    f.read_at(0, &mut buf).await.unwrap();
    assert_eq!(buf, [0u8; 7], "the aimed-at bytes are unchanged");
    f.read_at(2 * SECTOR_BYTES, &mut buf).await.unwrap();
    assert_eq!(&buf, b"payload", "it landed two sectors later");

    disk.inject(DiskFault::MisdirectedWrite(MisdirectTarget::OtherFile {
        file: FileSelector::Path(p("b")),
    }));
    f.write_at(100, b"stray").await.unwrap();
    let mut five = [0u8; 5];
    f.read_at(100, &mut five).await.unwrap();
    assert_eq!(five, [0u8; 5]);
    other.read_at(100, &mut five).await.unwrap();
    assert_eq!(&five, b"stray", "it landed in the other file");
    f.write_at(200, b"fine").await.unwrap();
    f.read_at(200, &mut buf[..4]).await.unwrap();
    assert_eq!(&buf[..4], b"fine", "only one write was misdirected");
    assert_eq!(disk.stats().faults["misdirected_write"], 2);
}

#[tokio::test]
async fn a_latent_sector_error_fails_reads_of_that_sector_until_rewritten() {
    let disk = disk_with_dir(1).await;
    let s = SECTOR_BYTES as usize;
    let f = durable_file(&disk, "a", &vec![3u8; 4 * s]).await;
    disk.inject(DiskFault::LatentSectorError {
        file: FileSelector::Path(p("a")),
        sector: 2,
    });
    let mut buf = vec![0u8; s];
    f.read_at(SECTOR_BYTES, &mut buf)
        .await
        .expect("sector 1 is fine");
    for _ in 0..3 {
        let err = f
            .read_at(2 * SECTOR_BYTES + 10, &mut buf[..4])
            .await
            .unwrap_err();
        assert_eq!(err.raw_os_error(), Some(EIO), "sector 2 fails, every time");
    }
    let mut all = vec![0u8; 4 * s];
    assert!(
        f.read_at(0, &mut all).await.is_err(),
        "a read spanning it fails"
    );
    f.write_at(2 * SECTOR_BYTES + 1, &[4u8; 8]).await.unwrap();
    assert!(
        f.read_at(2 * SECTOR_BYTES, &mut buf).await.is_err(),
        "a partial write does not remap"
    );
    f.write_at(2 * SECTOR_BYTES, &vec![5u8; s]).await.unwrap();
    f.read_at(2 * SECTOR_BYTES, &mut buf)
        .await
        .expect("a full rewrite remaps the sector");
    assert_eq!(buf, vec![5u8; s]);
}

#[tokio::test]
async fn bit_rot_flips_exactly_one_bit_of_synced_data() {
    let disk = disk_with_dir(1).await;
    let data: Vec<u8> = (0..2000u32).map(|i| (i * 7) as u8).collect();
    durable_file(&disk, "a", &data).await;
    assert!(disk.flip_bit(&p("a"), 1234, 3));
    let after = contents(&disk, "a").await.unwrap();
    let flipped: u32 = data
        .iter()
        .zip(&after)
        .map(|(a, b)| (a ^ b).count_ones())
        .sum();
    assert_eq!(flipped, 1, "exactly one bit differs");
    assert_eq!(after[1234], data[1234] ^ 0b1000);
    disk.crash(&CrashSpec::keep_all());
    assert_eq!(
        contents(&disk, "a").await.unwrap(),
        after,
        "rot is on the medium: it persists"
    );
    assert!(
        !disk.flip_bit(&p("a"), 99_999, 0),
        "no durable byte there: nothing flips"
    );
    assert!(!disk.flip_bit(&p("missing"), 0, 0));
}

/// The inspection that undoes media damage gives back what was synced, flip by flip, twice on
/// one byte included, and leaves alone a rotted byte the file was written over since.
#[tokio::test]
async fn synced_bytes_before_rot_undo_every_flip_but_not_a_rewrite() {
    let disk = disk_with_dir(1).await;
    let data: Vec<u8> = (0..2000u32).map(|i| (i * 7) as u8).collect();
    let f = durable_file(&disk, "a", &data).await;
    assert!(disk.flip_bit(&p("a"), 10, 1));
    assert!(disk.flip_bit(&p("a"), 10, 6));
    assert!(disk.flip_bit(&p("a"), 1500, 0));
    assert_ne!(contents(&disk, "a").await.unwrap(), data);
    assert_eq!(
        disk.synced_range_before_damage(&p("a"), 0, 5_000).unwrap(),
        data,
        "clamped to the file, every flip undone"
    );
    assert_eq!(
        disk.synced_range_before_damage(&p("a"), 8, 12).unwrap(),
        data[8..12]
    );
    f.write_at(1500, &[0xAA]).await.unwrap();
    f.sync_data().await.unwrap();
    let now = disk
        .synced_range_before_damage(&p("a"), 1499, 1502)
        .unwrap();
    assert_eq!(
        now,
        [data[1499], 0xAA, data[1501]],
        "rewritten since: no undo"
    );
    assert_eq!(disk.synced_range_before_damage(&p("missing"), 0, 1), None);

    // A misdirected write lands on synced bytes; once synced itself, the inspection gives back
    // what it covered, and the bytes it was aimed at (never written) are as they were.
    let g = durable_file(&disk, "g", &data).await;
    disk.inject(DiskFault::MisdirectedWrite(MisdirectTarget::Shift {
        sectors: 1,
    }));
    g.write_at(0, &[0xEE; 64]).await.unwrap();
    g.sync_data().await.unwrap();
    let landed = SECTOR_BYTES as usize;
    assert_eq!(
        contents(&disk, "g").await.unwrap()[landed..landed + 64],
        [0xEE; 64]
    );
    assert_eq!(
        disk.synced_range_before_damage(&p("g"), 0, 2_000).unwrap(),
        data,
        "the landing undone"
    );
}

#[tokio::test]
async fn a_read_eio_is_transient() {
    let disk = disk_with_dir(1).await;
    let f = durable_file(&disk, "a", b"abc").await;
    disk.inject(DiskFault::ReadEio);
    let mut buf = [0u8; 3];
    assert_eq!(
        f.read_at(0, &mut buf).await.unwrap_err().raw_os_error(),
        Some(EIO)
    );
    assert_eq!(
        f.read_at(0, &mut buf).await.unwrap(),
        3,
        "the retry succeeds"
    );
    assert_eq!(&buf, b"abc");
}

#[tokio::test]
async fn scheduled_faults_fire_at_their_exact_operation() {
    let plan = FaultPlan {
        disk: vec![ScheduledFault {
            at_op: 5,
            fault: DiskFault::FsyncEio {
                spec: FsyncEioSpec::drop_all(),
            },
        }],
        ..FaultPlan::none()
    };
    let disk = SimDisk::with_plan(1, &plan);
    disk.create_dir_all(Path::new("/d")).await.unwrap(); // op 0
    let f = disk.open(&p("a"), OpenMode::Create).await.unwrap(); // op 1
    f.write_at(0, b"x").await.unwrap(); // op 2
    f.sync_data().await.expect("op 3: not yet armed");
    f.write_at(0, b"y").await.unwrap(); // op 4
    assert!(f.sync_data().await.is_err(), "op 5: armed and fired");
    assert_eq!(disk.ops(), 6);
    let log = disk.fault_log();
    assert_eq!(log.len(), 2, "armed, then fired: {log:?}");
    assert!(log[0].starts_with("fsync_eio armed") && log[1].contains("dropped"));
}

#[tokio::test]
async fn power_off_fails_every_later_call_and_a_crash_revives_the_disk() {
    let disk = disk_with_dir(1).await;
    let f = durable_file(&disk, "a", b"kept").await;
    disk.power_off_at_op(disk.ops() + 1);
    f.append(b"+1")
        .await
        .expect("the call before the power cut");
    assert!(f.append(b"+2").await.is_err());
    assert!(disk.list(Path::new("/d")).await.is_err());
    assert!(!disk.is_powered());
    let held = disk.lock(&p("LOCK")).await;
    assert!(held.is_err(), "nothing works without power");
    disk.crash(&CrashSpec::drop_all());
    assert!(disk.is_powered());
    let err = f.append(b"zombie").await.unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::BrokenPipe,
        "handles from before the crash are dead"
    );
    assert_eq!(contents(&disk, "a").await.unwrap(), b"kept");
}

#[tokio::test]
async fn a_crash_releases_locks_and_a_stale_guard_cannot_release_a_new_one() {
    let disk = disk_with_dir(1).await;
    let old = disk.lock(&p("LOCK")).await.unwrap();
    disk.crash(&CrashSpec::keep_all());
    let new = disk
        .lock(&p("LOCK"))
        .await
        .expect("the crashed holder's lock is gone");
    drop(old);
    assert_eq!(
        disk.lock(&p("LOCK")).await.unwrap_err().kind(),
        ErrorKind::WouldBlock,
        "dropping the dead guard must not release the live lock"
    );
    drop(new);
}

#[tokio::test]
async fn a_pending_truncation_is_kept_or_dropped_whole() {
    let mut seen = BTreeSet::new();
    for seed in 0..SEEDS {
        let disk = disk_with_dir(seed).await;
        let f = durable_file(&disk, "a", b"0123456789").await;
        f.set_len(4).await.unwrap();
        disk.crash(&CrashSpec::random(seed));
        let got = contents(&disk, "a").await.unwrap();
        assert!(
            got == b"0123" || got == b"0123456789",
            "seed {seed}: {got:?}"
        );
        seen.insert(got);
    }
    assert_eq!(seen.len(), 2);
}

#[tokio::test]
async fn an_observer_reads_without_counting_faulting_or_writing() {
    let disk = disk_with_dir(1).await;
    durable_file(&disk, "a", b"abc").await;
    let ops = disk.ops();
    disk.inject(DiskFault::ReadEio);
    let observer = disk.observer();
    let f = observer.open(&p("a"), OpenMode::Read).await.unwrap();
    assert_eq!(
        read_to_end(f.as_ref()).await.unwrap(),
        b"abc",
        "no fault hits the observer"
    );
    assert_eq!(disk.ops(), ops, "observer calls are not counted");
    assert!(observer.open(&p("b"), OpenMode::Create).await.is_err());
    assert!(observer.remove(&p("a")).await.is_err());
    let real = disk.open(&p("a"), OpenMode::Read).await.unwrap();
    let mut buf = [0u8; 3];
    assert!(
        real.read_at(0, &mut buf).await.is_err(),
        "the armed fault still waits for the engine"
    );
}

#[tokio::test]
async fn heal_stops_every_fault_but_keeps_what_they_did() {
    let plan = FaultPlan {
        disk: vec![ScheduledFault {
            at_op: 100,
            fault: DiskFault::FsyncEio {
                spec: FsyncEioSpec::drop_all(),
            },
        }],
        ..FaultPlan::none()
    };
    let disk = SimDisk::with_plan(1, &plan);
    disk.create_dir_all(Path::new("/d")).await.unwrap();
    let f = durable_file(&disk, "a", &vec![1u8; 2048]).await;
    assert!(disk.flip_bit(&p("a"), 0, 0));
    disk.inject(DiskFault::LatentSectorError {
        file: FileSelector::Path(p("a")),
        sector: 1,
    });
    disk.inject(DiskFault::FillUp { headroom_bytes: 0 });
    disk.heal();
    for _ in 0..200 {
        f.append(b"x").await.expect("no ENOSPC after heal");
        f.sync_data()
            .await
            .expect("no scheduled fsync EIO after heal");
    }
    let mut buf = vec![0u8; 2048];
    f.read_at(0, &mut buf)
        .await
        .expect("latent sectors remapped");
    assert_eq!(buf[0], 0, "the rot that already happened stays");
}

/// `heal_for_drain` stops every fault as `heal` does, then arms the plan's transient drain
/// faults once: the next read fails once and the one after reads the truth; a lasting fault a
/// hand-edited plan put there is not armed; a second call arms nothing.
#[tokio::test]
async fn heal_for_drain_arms_only_the_plans_transient_faults_once() {
    let plan = FaultPlan {
        disk: vec![ScheduledFault {
            at_op: 100,
            fault: DiskFault::FsyncEio {
                spec: FsyncEioSpec::drop_all(),
            },
        }],
        drain: vec![DiskFault::ReadEio, DiskFault::FillUp { headroom_bytes: 0 }],
        ..FaultPlan::none()
    };
    let disk = SimDisk::with_plan(1, &plan);
    disk.create_dir_all(Path::new("/d")).await.unwrap();
    let f = durable_file(&disk, "a", b"abc").await;
    disk.heal_for_drain();
    let mut buf = [0u8; 3];
    let err = f.read_at(0, &mut buf).await.unwrap_err();
    assert_eq!(
        err.raw_os_error(),
        Some(EIO),
        "the drain's read fault strikes"
    );
    f.read_at(0, &mut buf).await.expect("it strikes once");
    assert_eq!(&buf, b"abc");
    for _ in 0..200 {
        f.append(b"x")
            .await
            .expect("the lasting fault was not armed");
        f.sync_data().await.expect("the schedule was healed");
    }
    disk.heal_for_drain();
    f.read_at(0, &mut buf).await.expect("armed once only");
}

/// A crash with `rot_last_synced` flips exactly one bit, inside one of the writes the latest
/// syncs made durable, and reports it as media damage; with nothing synced since the last crash
/// it does nothing.
#[tokio::test]
async fn crash_rot_hits_only_a_recently_synced_write() {
    let old = vec![0x11u8; 4096];
    let fresh = vec![0x22u8; 1024];
    let expected: Vec<u8> = old.iter().chain(&fresh).copied().collect();
    let (mut in_old, mut in_fresh) = (0, 0);
    for r in 0..64u64 {
        let disk = disk_with_dir(r).await;
        let f = durable_file(&disk, "a", &old).await;
        f.write_at(4096, &fresh).await.unwrap();
        f.sync_data().await.unwrap();
        let spec = CrashSpec {
            rot_last_synced: Some(r.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            ..CrashSpec::keep_all()
        };
        disk.crash(&spec);
        let got = contents(&disk, "a").await.unwrap();
        let flipped: Vec<usize> = (0..expected.len())
            .filter(|&i| got[i] != expected[i])
            .collect();
        assert_eq!(flipped.len(), 1, "exactly one byte changed");
        let at = flipped[0];
        assert_eq!((got[at] ^ expected[at]).count_ones(), 1, "one bit");
        if at < 4096 {
            in_old += 1;
        } else {
            in_fresh += 1;
        }
        let damage = disk.media_damage();
        assert_eq!(damage.len(), 1);
        assert_eq!((damage[0].start, damage[0].len), (at as u64, 1));
        // Nothing synced since that crash: the next one rots nothing.
        disk.crash(&spec);
        assert_eq!(contents(&disk, "a").await.unwrap(), got);
        assert_eq!(disk.media_damage().len(), 1);
    }
    assert!(
        in_old > 0 && in_fresh > 0,
        "both synced writes are candidates"
    );
}

/// A watched disk that takes more than `CALLS_PER_STEP_MAX` calls between two steps of the world
/// panics with the spin verdict: a retry loop that never waits never yields to the world either.
#[tokio::test]
#[should_panic(expected = "the engine spins")]
async fn a_watched_disk_called_without_end_in_one_step_is_a_spin_verdict() {
    let disk = disk_with_dir(1).await;
    let f = durable_file(&disk, "a", &[7u8; 64]).await;
    disk.watch_spin(SpinWatch::default());
    let mut buf = [0u8; 8];
    for _ in 0..=stemedb_faults::CALLS_PER_STEP_MAX {
        let _ = f.read_at(0, &mut buf).await;
    }
}

/// The disk and the KV of one world count together, the count starts again at every step, and
/// an unwatched device (benches, unit tests) never judges.
#[tokio::test]
async fn calls_spread_over_steps_or_unwatched_are_no_spin() {
    let half = stemedb_faults::CALLS_PER_STEP_MAX / 2 + 1;
    let disk = disk_with_dir(2).await;
    let f = durable_file(&disk, "a", &[7u8; 64]).await;
    let mut buf = [0u8; 8];
    for _ in 0..2 * half {
        f.read_at(0, &mut buf).await.unwrap();
    }
    let kv = SimKv::new(2);
    let watch = SpinWatch::default();
    disk.watch_spin(watch.clone());
    kv.watch_spin(watch.clone());
    for _ in 0..2 {
        for _ in 0..half - 1 {
            f.read_at(0, &mut buf).await.unwrap();
        }
        kv.get(b"k").await.unwrap();
        watch.step();
    }
    assert_eq!(
        watch.peak(),
        half,
        "a step's disk and KV calls, and nothing before the watch"
    );
}

#[tokio::test]
async fn metadata_eio_fails_one_call_of_its_kind_and_changes_nothing() {
    use stemedb_faults::MetadataOp;
    let disk = disk_with_dir(3).await;
    durable_file(&disk, "a", b"alpha").await;
    let before = disk.image_digest();
    for op in MetadataOp::ALL {
        disk.inject(DiskFault::MetadataEio { op });
    }
    // The oracles' observer looks around the fault model and leaves the faults armed for the
    // engine (an observer's list once took one, held-out chaos seed 190001).
    let observer = disk.observer();
    assert_eq!(observer.list(Path::new("/d")).await.unwrap(), vec!["a"]);
    assert!(observer.open(&p("a"), OpenMode::Read).await.is_ok());
    assert_eq!(disk.stats().metadata_errors, 0);
    let eio = |r: std::io::Result<()>, what: &str| {
        let err = r.expect_err(what);
        assert_eq!(err.raw_os_error(), Some(EIO), "{what}: {err}");
    };
    let f = disk.open(&p("a"), OpenMode::Read).await;
    eio(f.map(|_| ()), "open");
    eio(disk.create_dir_all(&p("sub")).await, "create_dir_all");
    eio(disk.sync_dir(Path::new("/d")).await, "sync_dir");
    eio(disk.rename(&p("a"), &p("b")).await, "rename");
    eio(disk.remove(&p("a")).await, "remove");
    eio(disk.list(Path::new("/d")).await.map(|_| ()), "list");
    eio(disk.lock(&p("LOCK")).await.map(|_| ()), "lock");
    assert_eq!(
        disk.image_digest(),
        before,
        "no failed call changed the disk"
    );
    assert_eq!(disk.stats().metadata_errors, 7);
    assert_eq!(disk.stats().faults.get("metadata_eio"), Some(&7));
    // Each fault struck once: the same calls now succeed.
    assert_eq!(contents(&disk, "a").await.as_deref(), Some(&b"alpha"[..]));
    disk.rename(&p("a"), &p("b")).await.unwrap();
    disk.sync_dir(Path::new("/d")).await.unwrap();
    assert_eq!(
        disk.list(Path::new("/d")).await.unwrap(),
        vec!["b".to_string()]
    );
    disk.remove(&p("b")).await.unwrap();
}
