//! Crashes aimed at disk events (`CrashAim`): the strike lands exactly `after_calls` calls after
//! the `nth` occurrence of the event counted from the aim's first call; events of other kinds and
//! events before that call do not count; an event that never comes leaves the crash at the end
//! of its window. Both crash kinds can be aimed.

use std::path::Path;

use stemedb::io::{OpenMode, Vfs};
use stemedb_faults::{AimOutcome, CrashAim, CrashKind, DiskEvent, DiskFault, SimDisk};

/// Whether the disk still answers (a struck call and every later one fail until the world
/// executes the crash).
fn alive(disk: &SimDisk) -> bool {
    disk.is_powered() && disk.is_process_alive()
}

#[tokio::test]
async fn a_crash_aimed_at_the_second_storage_full_strikes_two_calls_after_it() {
    for kind in [CrashKind::PowerLoss, CrashKind::ProcessKill] {
        let disk = SimDisk::new(1);
        disk.create_dir_all(Path::new("/d")).await.unwrap();
        let f = disk
            .open(Path::new("/d/f"), OpenMode::Create)
            .await
            .unwrap();
        // A refusal before the aim's first call does not count.
        disk.inject(DiskFault::SetCapacity { bytes: Some(100) });
        assert!(f.write_at(0, &[1; 200]).await.is_err(), "ENOSPC");
        let from = disk.ops();
        let aim = CrashAim {
            event: DiskEvent::StorageFull,
            nth: 2,
            after_calls: 2,
        };
        disk.aim_crash(kind, aim, from, from + 1_000);
        // Other events do not count.
        disk.open(Path::new("/d/g"), OpenMode::Create)
            .await
            .unwrap();
        f.sync_data().await.unwrap();
        assert!(
            f.write_at(100, &[2; 50]).await.is_err(),
            "first aimed ENOSPC"
        );
        f.set_len(100).await.unwrap();
        assert!(
            f.write_at(100, &[3; 50]).await.is_err(),
            "second aimed ENOSPC"
        );
        assert!(
            alive(&disk),
            "the strike is two calls later, not at the event"
        );
        f.len().await.unwrap();
        f.len().await.unwrap();
        assert!(
            f.len().await.is_err(),
            "the third call after the event is struck"
        );
        assert!(!alive(&disk));
        assert_eq!(
            disk.take_aim_outcome(),
            Some(AimOutcome::AtEvent(DiskEvent::StorageFull))
        );
        match kind {
            CrashKind::PowerLoss => assert!(!disk.is_powered()),
            CrashKind::ProcessKill => assert!(disk.is_powered() && !disk.is_process_alive()),
        }
    }
}

#[tokio::test]
async fn an_aimed_crash_whose_event_never_comes_strikes_at_the_end_of_its_window() {
    let disk = SimDisk::new(2);
    disk.create_dir_all(Path::new("/d")).await.unwrap();
    let f = disk
        .open(Path::new("/d/f"), OpenMode::Create)
        .await
        .unwrap();
    let from = disk.ops();
    let aim = CrashAim {
        event: DiskEvent::Remove,
        nth: 1,
        after_calls: 0,
    };
    disk.aim_crash(CrashKind::PowerLoss, aim, from, from + 5);
    for _ in 0..5 {
        f.write_at(0, b"x").await.unwrap();
    }
    assert!(f.write_at(0, b"x").await.is_err(), "call from+5 is struck");
    assert_eq!(disk.take_aim_outcome(), Some(AimOutcome::Fallback));
    assert_eq!(disk.take_aim_outcome(), None, "taken once");
}

#[tokio::test]
async fn first_sync_counts_once_per_process() {
    let disk = SimDisk::new(3);
    disk.create_dir_all(Path::new("/d")).await.unwrap();
    let f = disk
        .open(Path::new("/d/f"), OpenMode::Create)
        .await
        .unwrap();
    f.sync_data().await.unwrap();
    let from = disk.ops();
    let aim = CrashAim {
        event: DiskEvent::FirstSync,
        nth: 1,
        after_calls: 0,
    };
    disk.aim_crash(CrashKind::ProcessKill, aim, from, from + 100);
    f.sync_data().await.unwrap();
    assert!(
        alive(&disk),
        "a second sync of the same process is no first sync"
    );
    disk.kill_process();
    disk.aim_crash(CrashKind::ProcessKill, aim, disk.ops(), disk.ops() + 100);
    let f = disk.open(Path::new("/d/f"), OpenMode::Write).await.unwrap();
    f.sync_data().await.unwrap();
    assert!(
        f.len().await.is_err(),
        "the next process's first sync strikes"
    );
    assert_eq!(
        disk.take_aim_outcome(),
        Some(AimOutcome::AtEvent(DiskEvent::FirstSync))
    );
}
