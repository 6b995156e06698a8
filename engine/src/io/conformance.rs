//! The shared `Vfs` semantics suite. Every implementation (RealVfs in a temp dir, SimDisk with no
//! faults) must pass all of it, so the simulator never tests the engine against semantics the real
//! file system does not have.
//!
//! Each check panics with a message naming the broken rule; `run_all` runs every check under a
//! fresh sub-directory of `root`.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::{read_to_end, OpenMode, Vfs};

type Check = for<'a> fn(
    &'a dyn Vfs,
    PathBuf,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + 'a>>;

/// Every check, by name.
pub fn checks() -> Vec<(&'static str, Check)> {
    vec![
        ("write_read_round_trip", |v, d| {
            Box::pin(write_read_round_trip(v, d))
        }),
        ("read_past_end_is_short", |v, d| {
            Box::pin(read_past_end_is_short(v, d))
        }),
        ("write_past_end_zero_fills", |v, d| {
            Box::pin(write_past_end_zero_fills(v, d))
        }),
        ("append_returns_offsets", |v, d| {
            Box::pin(append_returns_offsets(v, d))
        }),
        ("set_len_truncates_and_extends", |v, d| {
            Box::pin(set_len_truncates_and_extends(v, d))
        }),
        ("open_modes", |v, d| Box::pin(open_modes(v, d))),
        ("list_sorted_and_current", |v, d| {
            Box::pin(list_sorted_and_current(v, d))
        }),
        ("rename_replaces_atomically", |v, d| {
            Box::pin(rename_replaces_atomically(v, d))
        }),
        ("remove_semantics", |v, d| Box::pin(remove_semantics(v, d))),
        ("lock_is_exclusive", |v, d| {
            Box::pin(lock_is_exclusive(v, d))
        }),
        ("sync_calls_succeed", |v, d| {
            Box::pin(sync_calls_succeed(v, d))
        }),
        ("handles_share_contents", |v, d| {
            Box::pin(handles_share_contents(v, d))
        }),
        ("missing_directory", |v, d| {
            Box::pin(missing_directory(v, d))
        }),
    ]
}

/// Runs every check, each in its own sub-directory of `root`.
pub async fn run_all(vfs: &dyn Vfs, root: &Path) {
    for (name, check) in checks() {
        let dir = root.join(name);
        vfs.create_dir_all(&dir)
            .await
            .unwrap_or_else(|e| panic!("{name}: create_dir_all: {e}"));
        check(vfs, dir).await;
    }
}

async fn write_read_round_trip(vfs: &dyn Vfs, dir: PathBuf) {
    let f = vfs.open(&dir.join("a"), OpenMode::Create).await.unwrap();
    assert_eq!(f.len().await.unwrap(), 0, "a new file is empty");
    f.write_at(0, b"hello world").await.unwrap();
    f.write_at(6, b"WORLD").await.unwrap();
    assert_eq!(f.len().await.unwrap(), 11);
    let mut buf = [0u8; 11];
    assert_eq!(f.read_at(0, &mut buf).await.unwrap(), 11);
    assert_eq!(&buf, b"hello WORLD", "overwrite replaces bytes in place");
    let mut mid = [0u8; 3];
    assert_eq!(f.read_at(4, &mut mid).await.unwrap(), 3);
    assert_eq!(&mid, b"o W");
    drop(f);
    let again = vfs.open(&dir.join("a"), OpenMode::Read).await.unwrap();
    assert_eq!(
        read_to_end(again.as_ref()).await.unwrap(),
        b"hello WORLD",
        "reopen sees data"
    );
}

async fn read_past_end_is_short(vfs: &dyn Vfs, dir: PathBuf) {
    let f = vfs.open(&dir.join("a"), OpenMode::Create).await.unwrap();
    f.write_at(0, b"abc").await.unwrap();
    let mut buf = [7u8; 8];
    assert_eq!(
        f.read_at(1, &mut buf).await.unwrap(),
        2,
        "a read stops at end of file"
    );
    assert_eq!(&buf[..2], b"bc");
    assert_eq!(
        f.read_at(3, &mut buf).await.unwrap(),
        0,
        "a read at end of file is empty"
    );
    assert_eq!(
        f.read_at(100, &mut buf).await.unwrap(),
        0,
        "a read past end is empty"
    );
}

async fn write_past_end_zero_fills(vfs: &dyn Vfs, dir: PathBuf) {
    let f = vfs.open(&dir.join("a"), OpenMode::Create).await.unwrap();
    f.write_at(5, b"xy").await.unwrap();
    assert_eq!(f.len().await.unwrap(), 7);
    assert_eq!(
        read_to_end(f.as_ref()).await.unwrap(),
        b"\0\0\0\0\0xy",
        "the gap reads as zeros"
    );
}

async fn append_returns_offsets(vfs: &dyn Vfs, dir: PathBuf) {
    let f = vfs.open(&dir.join("a"), OpenMode::Create).await.unwrap();
    assert_eq!(f.append(b"one").await.unwrap(), 0);
    assert_eq!(f.append(b"two!").await.unwrap(), 3);
    f.write_at(10, b"z").await.unwrap();
    assert_eq!(
        f.append(b"3").await.unwrap(),
        11,
        "append goes after the current end"
    );
    assert_eq!(f.len().await.unwrap(), 12);
}

async fn set_len_truncates_and_extends(vfs: &dyn Vfs, dir: PathBuf) {
    let f = vfs.open(&dir.join("a"), OpenMode::Create).await.unwrap();
    f.write_at(0, b"abcdef").await.unwrap();
    f.set_len(2).await.unwrap();
    assert_eq!(
        read_to_end(f.as_ref()).await.unwrap(),
        b"ab",
        "truncation drops the tail"
    );
    f.set_len(4).await.unwrap();
    assert_eq!(
        read_to_end(f.as_ref()).await.unwrap(),
        b"ab\0\0",
        "extension reads as zeros, not the old tail"
    );
}

async fn open_modes(vfs: &dyn Vfs, dir: PathBuf) {
    let p = dir.join("a");
    let err = vfs.open(&p, OpenMode::Read).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "Read does not create");
    let err = vfs.open(&p, OpenMode::Write).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "Write does not create");
    vfs.open(&p, OpenMode::CreateNew)
        .await
        .unwrap()
        .write_at(0, b"keep")
        .await
        .unwrap();
    let err = vfs.open(&p, OpenMode::CreateNew).await.unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::AlreadyExists,
        "CreateNew refuses an existing file"
    );
    let f = vfs.open(&p, OpenMode::Create).await.unwrap();
    assert_eq!(
        f.len().await.unwrap(),
        4,
        "Create opens an existing file without truncating"
    );
    let ro = vfs.open(&p, OpenMode::Read).await.unwrap();
    assert!(
        ro.write_at(0, b"no").await.is_err(),
        "a read-only handle cannot write"
    );
    assert!(
        ro.append(b"no").await.is_err(),
        "a read-only handle cannot append"
    );
    assert_eq!(read_to_end(ro.as_ref()).await.unwrap(), b"keep");
}

async fn list_sorted_and_current(vfs: &dyn Vfs, dir: PathBuf) {
    assert!(vfs.list(&dir).await.unwrap().is_empty());
    for name in ["b", "a", "c10", "c2"] {
        vfs.open(&dir.join(name), OpenMode::Create).await.unwrap();
    }
    vfs.create_dir_all(&dir.join("subdir")).await.unwrap();
    assert_eq!(
        vfs.list(&dir).await.unwrap(),
        ["a", "b", "c10", "c2"],
        "list is bytewise sorted and holds files only"
    );
    vfs.remove(&dir.join("b")).await.unwrap();
    vfs.rename(&dir.join("a"), &dir.join("z")).await.unwrap();
    assert_eq!(vfs.list(&dir).await.unwrap(), ["c10", "c2", "z"]);
}

async fn rename_replaces_atomically(vfs: &dyn Vfs, dir: PathBuf) {
    let (a, b) = (dir.join("a"), dir.join("b"));
    vfs.open(&a, OpenMode::Create)
        .await
        .unwrap()
        .write_at(0, b"new")
        .await
        .unwrap();
    vfs.open(&b, OpenMode::Create)
        .await
        .unwrap()
        .write_at(0, b"old!")
        .await
        .unwrap();
    vfs.rename(&a, &b).await.unwrap();
    assert_eq!(
        vfs.open(&a, OpenMode::Read).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    let f = vfs.open(&b, OpenMode::Read).await.unwrap();
    assert_eq!(
        read_to_end(f.as_ref()).await.unwrap(),
        b"new",
        "rename replaces the target"
    );
    let err = vfs.rename(&a, &dir.join("c")).await.unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::NotFound,
        "renaming a missing file fails"
    );
}

async fn remove_semantics(vfs: &dyn Vfs, dir: PathBuf) {
    let p = dir.join("a");
    assert_eq!(
        vfs.remove(&p).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    let f = vfs.open(&p, OpenMode::Create).await.unwrap();
    f.write_at(0, b"still readable").await.unwrap();
    vfs.remove(&p).await.unwrap();
    assert_eq!(
        vfs.open(&p, OpenMode::Read).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        read_to_end(f.as_ref()).await.unwrap(),
        b"still readable",
        "an open handle outlives the unlink"
    );
    let fresh = vfs.open(&p, OpenMode::CreateNew).await.unwrap();
    assert_eq!(
        fresh.len().await.unwrap(),
        0,
        "a re-created name is a new, empty file"
    );
}

async fn lock_is_exclusive(vfs: &dyn Vfs, dir: PathBuf) {
    let p = dir.join("LOCK");
    let held = vfs.lock(&p).await.unwrap();
    let err = vfs.lock(&p).await.unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::WouldBlock,
        "a held lock refuses a second holder"
    );
    let other = vfs.lock(&dir.join("OTHER")).await.unwrap();
    drop(held);
    let again = vfs
        .lock(&p)
        .await
        .expect("a dropped lock can be taken again");
    drop((again, other));
}

async fn sync_calls_succeed(vfs: &dyn Vfs, dir: PathBuf) {
    let f = vfs.open(&dir.join("a"), OpenMode::Create).await.unwrap();
    f.write_at(0, b"durable").await.unwrap();
    f.sync_data().await.unwrap();
    f.sync_data()
        .await
        .expect("a sync with nothing dirty succeeds");
    vfs.sync_dir(&dir).await.unwrap();
    assert_eq!(
        read_to_end(f.as_ref()).await.unwrap(),
        b"durable",
        "sync changes no contents"
    );
    // Without a failed fsync the cache holds what the medium holds, so eviction changes no
    // contents, synced or not (dirty pages are never dropped).
    f.write_at(7, b", and dirty").await.unwrap();
    f.evict_cache().await.expect("evicting the cache succeeds");
    assert_eq!(
        read_to_end(f.as_ref()).await.unwrap(),
        b"durable, and dirty",
        "eviction changes no contents"
    );
}

async fn handles_share_contents(vfs: &dyn Vfs, dir: PathBuf) {
    let p = dir.join("a");
    let w = vfs.open(&p, OpenMode::Create).await.unwrap();
    let r = vfs.open(&p, OpenMode::Read).await.unwrap();
    w.append(b"shared").await.unwrap();
    assert_eq!(
        r.len().await.unwrap(),
        6,
        "another handle sees the new length"
    );
    assert_eq!(read_to_end(r.as_ref()).await.unwrap(), b"shared");
    let w2 = vfs.open(&p, OpenMode::Write).await.unwrap();
    assert_eq!(
        w2.append(b"!").await.unwrap(),
        6,
        "appends through two handles do not overlap"
    );
    assert_eq!(read_to_end(r.as_ref()).await.unwrap(), b"shared!");
}

async fn missing_directory(vfs: &dyn Vfs, dir: PathBuf) {
    let gone = dir.join("nope");
    let err = vfs
        .open(&gone.join("a"), OpenMode::Create)
        .await
        .unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::NotFound,
        "no file in a missing directory"
    );
    assert_eq!(
        vfs.list(&gone).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    vfs.create_dir_all(&gone.join("deep")).await.unwrap();
    vfs.open(&gone.join("deep").join("a"), OpenMode::Create)
        .await
        .unwrap();
    assert_eq!(vfs.list(&gone.join("deep")).await.unwrap(), ["a"]);
}
