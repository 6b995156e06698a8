//! The fault behaviours of real kernels and disks beyond the classic crash model: a transient
//! corrupt read, a failed write, a failed fsync whose covered writes may each have persisted,
//! a process kill that leaves the page cache alive, and a directory that is lost unless its
//! parent is synced. One test (at least) each, asserting what must and what must not happen.

use std::collections::BTreeSet;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use stemedb::io::{read_to_end, OpenMode, Vfs, VfsFile};
use stemedb_faults::{
    CrashMode, CrashSpec, DiskFault, FaultPlan, FileSelector, FsyncEioSpec, LatencyDist,
    LatencyModel, SimDisk, WriteLanded, SECTOR_BYTES,
};

const SEEDS: u64 = 300;
const EIO: i32 = 5;
const SECTOR: usize = SECTOR_BYTES as usize;

fn p(name: &str) -> PathBuf {
    Path::new("/d").join(name)
}

/// A disk with the directory `/d`, durably created.
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

async fn contents(disk: &SimDisk, path: &Path) -> Option<Vec<u8>> {
    match disk.open(path, OpenMode::Read).await {
        Ok(f) => Some(read_to_end(f.as_ref()).await.unwrap()),
        Err(e) if e.kind() == ErrorKind::NotFound => None,
        Err(e) => panic!("unexpected open error {e}"),
    }
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + 7) as u8).collect()
}

fn bits_differing(a: &[u8], b: &[u8]) -> u32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
}

async fn read_exact(f: &dyn VfsFile, offset: u64, len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    assert_eq!(f.read_at(offset, &mut buf).await.unwrap(), len);
    buf
}

#[tokio::test]
async fn a_corrupt_read_is_followed_by_a_correct_read_and_is_not_media_damage() {
    let disk = disk_with_dir(1).await;
    let data = pattern(2000);
    let a = durable_file(&disk, "a", &data).await;
    let b = durable_file(&disk, "b", &data).await;
    disk.inject(DiskFault::ReadCorrupt {
        file: Some(FileSelector::Path(p("a"))),
        seed: 42,
        flips: 3,
        same_sector: false,
    });
    assert_eq!(
        read_exact(b.as_ref(), 0, 2000).await,
        data,
        "a read of another file is not the target"
    );
    let mut past_end = [0u8; 16];
    assert_eq!(a.read_at(5000, &mut past_end).await.unwrap(), 0);
    let observer = disk.observer().open(&p("a"), OpenMode::Read).await.unwrap();
    assert_eq!(
        read_to_end(observer.as_ref()).await.unwrap(),
        data,
        "the observer never sees a fault"
    );

    let corrupt = read_exact(a.as_ref(), 100, 1000).await;
    assert_eq!(
        bits_differing(&corrupt, &data[100..1100]),
        3,
        "exactly the planned number of bits flipped"
    );
    assert_eq!(
        read_exact(a.as_ref(), 100, 1000).await,
        data[100..1100],
        "reading the same range again returns the truth"
    );
    assert_eq!(
        disk.live_file(&p("a")).unwrap(),
        data,
        "the cache is intact"
    );
    assert_eq!(disk.durable_file(&p("a")).unwrap(), data, "the medium too");
    assert!(
        disk.media_damage().is_empty(),
        "nothing stored changed: {:?}",
        disk.media_damage()
    );
    let stats = disk.stats();
    assert_eq!(stats.faults["read_corrupt"], 1);
    assert_eq!(stats.corrupt_reads, 1);
    assert_eq!(stats.read_errors, 0, "the read itself succeeded");
    let log = disk.fault_log();
    assert!(
        log.iter().filter(|l| l.starts_with("read_corrupt")).count() == 2,
        "armed and fired are logged: {log:?}"
    );

    // The same plan data flips the same bits on another disk.
    let again = disk_with_dir(9).await;
    let f = durable_file(&again, "a", &data).await;
    again.inject(DiskFault::ReadCorrupt {
        file: None,
        seed: 42,
        flips: 3,
        same_sector: false,
    });
    assert_eq!(read_exact(f.as_ref(), 100, 1000).await, corrupt);
}

#[tokio::test]
async fn a_run_of_corrupt_reads_differs_each_time_and_can_stay_in_one_sector() {
    let disk = disk_with_dir(1).await;
    let data = pattern(8 * SECTOR);
    let a = durable_file(&disk, "a", &data).await;
    // Three armed at once, with the same seed: three reads in a row go wrong, each differently.
    for same_sector in [false, true, true] {
        disk.inject(DiskFault::ReadCorrupt {
            file: None,
            seed: 11,
            flips: 2,
            same_sector,
        });
    }
    let mut reads = Vec::new();
    for offset in [0, 0, SECTOR as u64] {
        reads.push(read_exact(a.as_ref(), offset, 7 * SECTOR).await);
    }
    let truth = |offset: usize| &data[offset..offset + 7 * SECTOR];
    assert_ne!(
        reads[0], reads[1],
        "two bad reads never return the same wrong bytes"
    );
    let sectors_hit = |got: &[u8], want: &[u8], base: usize| -> BTreeSet<usize> {
        got.iter()
            .zip(want)
            .enumerate()
            .filter(|(_, (g, w))| g != w)
            .map(|(i, _)| (base + i) / SECTOR)
            .collect()
    };
    let second = sectors_hit(&reads[1], truth(0), 0);
    let third = sectors_hit(&reads[2], truth(SECTOR), SECTOR);
    assert_eq!(
        second.len(),
        1,
        "the run's flips stay in one sector: {second:?}"
    );
    assert_eq!(
        second, third,
        "the same file sector, whatever offset the read starts at"
    );
    let first = sectors_hit(&reads[0], truth(0), 0);
    assert!(
        first.contains(second.first().unwrap()),
        "the marginal sector is where the run's first read went wrong: {first:?} {second:?}"
    );
    assert_eq!(
        read_exact(a.as_ref(), 0, 7 * SECTOR).await,
        truth(0),
        "then the truth"
    );
    assert!(disk.media_damage().is_empty());
    assert_eq!(disk.stats().corrupt_reads, 3);
}

/// Found by held-out chaos seed 181682: a run of one-flip corrupt reads in a marginal sector,
/// read 16 bytes of it at a time, handed back the same wrong bytes twice (one time in 128 per
/// pair), and WAL recovery, which needs two agreeing reads before a verdict, rightly took them
/// for damage and cut an acknowledged record. Wrong bytes that repeat are media damage; this
/// fault must never produce them.
#[tokio::test]
async fn bad_reads_of_one_file_never_repeat_their_wrong_bytes_even_in_a_tiny_span() {
    let disk = disk_with_dir(3).await;
    let data = pattern(4 * SECTOR);
    let a = durable_file(&disk, "a", &data).await;
    // The first bad read picks the marginal sector: a one-sector read puts it in sector 1.
    disk.inject(DiskFault::ReadCorrupt {
        file: None,
        seed: 5,
        flips: 1,
        same_sector: false,
    });
    let first = read_exact(a.as_ref(), SECTOR as u64, SECTOR).await;
    assert_ne!(first, data[SECTOR..2 * SECTOR]);
    // Then every read sees only the sector's last 16 bytes: 128 bits to flip one of.
    let at = 2 * SECTOR as u64 - 16;
    let mut seen = BTreeSet::new();
    for _ in 0..60 {
        disk.inject(DiskFault::ReadCorrupt {
            file: None,
            seed: 5,
            flips: 1,
            same_sector: true,
        });
        let got = read_exact(a.as_ref(), at, 64).await;
        let truth = &data[at as usize..at as usize + 64];
        assert_eq!(bits_differing(&got, truth), 1, "one flip, in the span");
        assert!(seen.insert(got), "a bad read repeated earlier wrong bytes");
    }
    assert!(disk.media_damage().is_empty());
}

#[tokio::test]
async fn an_untargeted_corrupt_read_hits_the_next_read_and_flips_at_most_every_bit() {
    let disk = disk_with_dir(1).await;
    let f = durable_file(&disk, "a", b"x").await;
    disk.inject(DiskFault::ReadCorrupt {
        file: None,
        seed: 7,
        flips: 200,
        same_sector: false,
    });
    assert_eq!(
        read_exact(f.as_ref(), 0, 1).await,
        [!b'x'],
        "a one-byte read has 8 bits to flip"
    );
    assert_eq!(read_exact(f.as_ref(), 0, 1).await, b"x");
    // A selector that resolves to nothing arms nothing.
    disk.inject(DiskFault::ReadCorrupt {
        file: Some(FileSelector::Path(p("missing"))),
        seed: 7,
        flips: 1,
        same_sector: false,
    });
    assert_eq!(read_exact(f.as_ref(), 0, 1).await, b"x");
    assert_eq!(disk.stats().corrupt_reads, 1);
}

/// The bytes a write of `new` at `offset` over `old` leaves when `landed` bytes of it landed.
fn with_prefix(old: &[u8], offset: usize, new: &[u8], landed: usize) -> Vec<u8> {
    let mut out = old.to_vec();
    let end = offset + landed;
    if out.len() < end {
        out.resize(end, 0);
    }
    out[offset..end].copy_from_slice(&new[..landed]);
    out
}

#[tokio::test]
async fn a_write_eio_fails_the_call_and_leaves_exactly_the_planned_prefix_pending() {
    let old = vec![0xaa; 4 * SECTOR];
    let new = vec![0xbb; 3000];
    let offset = 100usize;
    for (landed, want) in [
        (WriteLanded::Nothing, 0),
        (WriteLanded::Prefix { sectors: 0 }, 0),
        (WriteLanded::Prefix { sectors: 1 }, SECTOR - offset),
        (WriteLanded::Prefix { sectors: 3 }, 3 * SECTOR - offset),
        (WriteLanded::Prefix { sectors: 100 }, new.len()),
        (WriteLanded::All, new.len()),
    ] {
        let expected = with_prefix(&old, offset, &new, want);
        for (spec, survives) in [
            (CrashSpec::keep_all(), true),
            (CrashSpec::drop_all(), false),
        ] {
            let disk = disk_with_dir(1).await;
            let f = durable_file(&disk, "a", &old).await;
            disk.inject(DiskFault::WriteEio { landed });
            f.write_at(0, b"")
                .await
                .expect("an empty write does not take the fault");
            let err = f.write_at(offset as u64, &new).await.unwrap_err();
            assert_eq!(err.raw_os_error(), Some(EIO), "{landed:?}: the call fails");
            assert_eq!(
                disk.live_file(&p("a")).unwrap(),
                expected,
                "{landed:?}: exactly the planned prefix is in the cache"
            );
            assert_eq!(
                disk.durable_file(&p("a")).unwrap(),
                old,
                "{landed:?}: and none of it is durable"
            );
            assert!(disk.media_damage().is_empty());
            let stats = disk.stats();
            assert_eq!((stats.write_errors, stats.faults["write_eio"]), (1, 1));
            // It is pending like any write: the luckiest crash keeps it, the unluckiest drops it.
            disk.crash(&spec);
            let after = contents(&disk, &p("a")).await.unwrap();
            let want = if survives { &expected } else { &old };
            assert_eq!(&after, want, "{landed:?} {spec:?}");
        }
    }
    // Only one write fails.
    let disk = disk_with_dir(1).await;
    let f = durable_file(&disk, "a", &old).await;
    disk.inject(DiskFault::WriteEio {
        landed: WriteLanded::All,
    });
    assert!(f.write_at(0, b"first").await.is_err());
    f.write_at(0, b"second")
        .await
        .expect("the next write works");
    assert_eq!(&disk.live_file(&p("a")).unwrap()[..6], b"second");
}

/// Which shape a failed fsync left of a 4-sector overwrite of `old` by `new` on the medium.
fn fsync_shape(got: &[u8], old: &[u8], new: &[u8]) -> &'static str {
    if got == new {
        return "persisted";
    }
    if got == old {
        return "dropped";
    }
    let torn = (1..4).any(|k| {
        let b = k * SECTOR;
        (got[..b] == new[..b] && got[b..] == old[b..])
            || (got[..b] == old[..b] && got[b..] == new[b..])
            || (got[..b] == new[..b] && got[b + SECTOR..] == old[b + SECTOR..])
    });
    if torn {
        "torn"
    } else {
        "impossible"
    }
}

#[tokio::test]
async fn a_failed_fsync_persists_drops_or_tears_each_covered_write_and_leaves_the_pages_clean() {
    let old = vec![0xaa; 4 * SECTOR];
    let new = vec![0xbb; 4 * SECTOR];
    let spec = |seed| FsyncEioSpec {
        seed,
        mode: CrashMode::Random {
            keep_pct: 40,
            torn_pct: 30,
        },
    };
    let mut shapes = BTreeSet::new();
    for seed in 0..SEEDS {
        let disk = disk_with_dir(seed).await;
        let f = durable_file(&disk, "a", &old).await;
        f.write_at(0, &new).await.unwrap();
        disk.inject(DiskFault::FsyncEio { spec: spec(seed) });
        let err = f.sync_data().await.unwrap_err();
        assert_eq!(
            err.raw_os_error(),
            Some(EIO),
            "the caller is told it failed"
        );
        let durable = disk.durable_file(&p("a")).unwrap();
        let shape = fsync_shape(&durable, &old, &new);
        assert_ne!(shape, "impossible", "seed {seed}: {durable:?}");
        shapes.insert(shape);
        assert_eq!(
            disk.live_file(&p("a")).unwrap(),
            new,
            "the page cache still shows the write"
        );
        assert!(
            disk.media_damage().is_empty(),
            "an unacknowledged write is not media damage"
        );
        // The pages are clean: a later sync succeeds and makes nothing more durable, and even
        // the luckiest power loss finds nothing pending.
        f.sync_data().await.expect("a later sync succeeds");
        assert_eq!(disk.durable_file(&p("a")).unwrap(), durable, "seed {seed}");
        disk.crash(&CrashSpec::keep_all());
        assert_eq!(contents(&disk, &p("a")).await.unwrap(), durable);

        // Same spec, same outcome.
        let twin = disk_with_dir(seed + 1_000).await;
        let g = durable_file(&twin, "a", &old).await;
        g.write_at(0, &new).await.unwrap();
        twin.inject(DiskFault::FsyncEio { spec: spec(seed) });
        assert!(g.sync_data().await.is_err());
        assert_eq!(twin.durable_file(&p("a")).unwrap(), durable);
    }
    assert_eq!(
        shapes.len(),
        3,
        "persisted, dropped and torn all occur: {shapes:?}"
    );
}

#[tokio::test]
async fn the_default_fsync_eio_spec_still_drops_everything_it_covered() {
    assert_eq!(FsyncEioSpec::default(), FsyncEioSpec::drop_all());
    for seed in 0..20 {
        let disk = disk_with_dir(seed).await;
        let f = durable_file(&disk, "a", b"old!").await;
        f.write_at(0, b"new!").await.unwrap();
        f.append(b" and more").await.unwrap();
        f.set_len(6).await.unwrap();
        disk.inject(DiskFault::FsyncEio {
            spec: FsyncEioSpec::default(),
        });
        assert!(f.sync_data().await.is_err());
        assert_eq!(disk.durable_file(&p("a")).unwrap(), b"old!");
        assert_eq!(disk.live_file(&p("a")).unwrap(), b"new! a");
        disk.crash(&CrashSpec::keep_all());
        assert_eq!(contents(&disk, &p("a")).await.unwrap(), b"old!");
    }
}

#[tokio::test]
async fn a_process_kill_keeps_the_page_cache_and_kills_handles_and_locks() {
    for (spec, survives) in [
        (CrashSpec::keep_all(), true),
        (CrashSpec::drop_all(), false),
    ] {
        let disk = disk_with_dir(1).await;
        let f = durable_file(&disk, "a", b"durable|").await;
        f.append(b"pending").await.unwrap();
        let loose = disk.open(&p("b"), OpenMode::CreateNew).await.unwrap();
        loose.append(b"unsynced file").await.unwrap();
        disk.create_dir_all(Path::new("/d/sub")).await.unwrap();
        let old_lock = disk.lock(&p("LOCK")).await.unwrap();

        disk.kill_process_at_op(disk.ops() + 1);
        f.append(b"+1")
            .await
            .expect("the call before the kill works");
        assert_eq!(
            f.append(b"+2").await.unwrap_err().raw_os_error(),
            Some(EIO),
            "the planned call fails"
        );
        assert!(
            disk.list(Path::new("/d")).await.is_err(),
            "and every later one"
        );
        assert!(!disk.is_process_alive());
        assert!(disk.is_powered(), "the machine never lost power");

        disk.kill_process();
        assert!(disk.is_process_alive());
        assert_eq!(
            f.append(b"zombie").await.unwrap_err().kind(),
            ErrorKind::BrokenPipe,
            "the dead process's handles stay dead"
        );
        let new_lock = disk
            .lock(&p("LOCK"))
            .await
            .expect("the dead process's lock is released");
        drop(old_lock);
        assert_eq!(
            disk.lock(&p("LOCK")).await.unwrap_err().kind(),
            ErrorKind::WouldBlock,
            "dropping the dead guard does not release the new holder's lock"
        );
        drop(new_lock);

        // The next process reads what is not yet durable.
        assert_eq!(
            contents(&disk, &p("a")).await.unwrap(),
            b"durable|pending+1"
        );
        assert_eq!(contents(&disk, &p("b")).await.unwrap(), b"unsynced file");
        assert!(disk.list(Path::new("/d/sub")).await.unwrap().is_empty());
        assert_eq!(
            disk.durable_file(&p("a")).unwrap(),
            b"durable|",
            "a kill makes nothing durable"
        );
        let stats = disk.stats();
        assert_eq!((stats.crashes, stats.process_kills), (0, 1));

        // A later power loss still judges everything that is still pending.
        disk.crash(&spec);
        let a = contents(&disk, &p("a")).await.unwrap();
        let b = contents(&disk, &p("b")).await;
        let sub = disk.list(Path::new("/d/sub")).await;
        if survives {
            assert_eq!(a, b"durable|pending+1");
            assert_eq!(b.as_deref(), Some(&b"unsynced file"[..]));
            assert!(sub.is_ok());
        } else {
            assert_eq!(a, b"durable|");
            assert_eq!(b, None);
            assert_eq!(sub.unwrap_err().kind(), ErrorKind::NotFound);
        }
    }
}

#[tokio::test]
async fn a_power_loss_ends_a_dying_process_too() {
    let disk = disk_with_dir(1).await;
    let f = durable_file(&disk, "a", b"durable|").await;
    f.append(b"pending").await.unwrap();
    disk.kill_process_at_op(disk.ops());
    assert!(disk.list(Path::new("/d")).await.is_err());
    disk.crash(&CrashSpec::drop_all());
    assert!(disk.is_process_alive(), "the new boot is a new process");
    assert_eq!(
        contents(&disk, &p("a")).await.unwrap(),
        b"durable|",
        "and the power loss judged what was pending"
    );
    let stats = disk.stats();
    assert_eq!((stats.crashes, stats.process_kills), (1, 0));
}

#[tokio::test(start_paused = true)]
async fn a_kill_strikes_a_call_in_flight_without_a_handle() {
    // A call that started before the kill was executed belongs to the dead process even when it
    // carries no handle (open, list, lock): it must not act for the process that follows.
    const METADATA_LATENCY_US: u64 = 5_000;
    let plan = FaultPlan {
        latency: Some(LatencyModel {
            metadata: LatencyDist::new(METADATA_LATENCY_US, 0),
            stall_per_million: 0,
            ..LatencyModel::ssd()
        }),
        ..FaultPlan::none()
    };
    let disk = SimDisk::with_plan(3, &plan);
    disk.create_dir_all(Path::new("/d")).await.unwrap();
    let lock_path = p("LOCK");
    let mut in_flight = disk.lock(&lock_path);
    assert!(
        poll_once(in_flight.as_mut()).await.is_none(),
        "the call is asleep in its latency"
    );
    disk.kill_process();
    assert!(
        in_flight.await.is_err(),
        "the dead process's call does not act"
    );
    let _held = disk
        .lock(&lock_path)
        .await
        .expect("no lock was taken for the dead process");
}

/// Polls `fut` once; `Some` if it finished.
async fn poll_once<F: std::future::Future + ?Sized>(
    mut fut: std::pin::Pin<&mut F>,
) -> Option<F::Output> {
    std::future::poll_fn(|cx| match fut.as_mut().poll(cx) {
        std::task::Poll::Ready(v) => std::task::Poll::Ready(Some(v)),
        std::task::Poll::Pending => std::task::Poll::Ready(None),
    })
    .await
}

#[tokio::test]
async fn a_directory_created_without_a_parent_sync_vanishes_on_power_loss() {
    let file = Path::new("/x/y/f");
    // Everything inside is synced; only the directories' own entries differ between cases.
    async fn world(sync_parents: &[&str]) -> SimDisk {
        let disk = SimDisk::new(1);
        disk.create_dir_all(Path::new("/x/y")).await.unwrap();
        let f = disk
            .open(Path::new("/x/y/f"), OpenMode::CreateNew)
            .await
            .unwrap();
        f.write_at(0, b"synced data").await.unwrap();
        f.sync_data().await.unwrap();
        disk.sync_dir(Path::new("/x/y")).await.unwrap();
        for dir in sync_parents {
            disk.sync_dir(Path::new(dir)).await.unwrap();
        }
        disk
    }

    let disk = world(&[]).await;
    assert_eq!(
        contents(&disk, file).await.as_deref(),
        Some(&b"synced data"[..]),
        "visible before the crash"
    );
    assert_eq!(disk.durable_file(file), None, "but not durable");
    disk.crash(&CrashSpec::drop_all());
    assert_eq!(contents(&disk, file).await, None, "gone with its directory");
    for dir in ["/x", "/x/y"] {
        assert_eq!(
            disk.list(Path::new(dir)).await.unwrap_err().kind(),
            ErrorKind::NotFound,
            "{dir} vanished"
        );
    }

    let disk = world(&["/"]).await;
    disk.crash(&CrashSpec::drop_all());
    assert!(
        disk.list(Path::new("/x")).await.unwrap().is_empty(),
        "/x stays"
    );
    assert!(disk.list(Path::new("/x/y")).await.is_err(), "/x/y does not");

    let disk = world(&["/", "/x"]).await;
    assert_eq!(
        disk.durable_file(file).as_deref(),
        Some(&b"synced data"[..])
    );
    disk.crash(&CrashSpec::drop_all());
    assert_eq!(
        contents(&disk, file).await.as_deref(),
        Some(&b"synced data"[..]),
        "every level synced: nothing is lost"
    );
    // Creating an existing directory again adds nothing a crash could lose.
    disk.create_dir_all(Path::new("/x/y")).await.unwrap();
    disk.crash(&CrashSpec::drop_all());
    assert!(contents(&disk, file).await.is_some());

    // A process kill loses no directory.
    let disk = world(&[]).await;
    disk.kill_process();
    assert!(contents(&disk, file).await.is_some());
}

#[tokio::test]
async fn an_unsynced_directory_survives_some_crashes_and_never_without_its_parent() {
    let (mut lost, mut kept) = (0, 0);
    for seed in 0..SEEDS {
        let disk = SimDisk::new(seed);
        disk.create_dir_all(Path::new("/x/y")).await.unwrap();
        disk.crash(&CrashSpec::random(seed));
        let x = disk.list(Path::new("/x")).await.is_ok();
        let y = disk.list(Path::new("/x/y")).await.is_ok();
        assert!(x || !y, "seed {seed}: /x/y survived without /x");
        if y {
            kept += 1;
        } else {
            lost += 1;
        }
    }
    assert!(lost > 0 && kept > 0, "lost {lost}, kept {kept}");
}
