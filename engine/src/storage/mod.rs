//! Storage: the KV seam, its implementations and the key codec.

#[cfg(feature = "conformance")]
pub mod conformance;
mod fence;
pub mod keys;
pub mod kv;
pub mod sled_kv;

pub use fence::CommitFence;
pub use kv::{BatchOp, KvError, KvStore, WriteBatch};
pub use sled_kv::SledKv;
