//! RealVfs must pass the shared Vfs semantics suite in a temp dir.

use stemedb::io::{conformance, RealVfs};

#[tokio::test]
async fn real_vfs_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    conformance::run_all(&RealVfs::new(), dir.path()).await;
}
