//! Storage: the KV seam, its implementations, the key codec and the index value codec.

#[cfg(feature = "conformance")]
pub mod conformance;
mod fence;
pub mod index;
pub mod keys;
pub mod kv;
pub mod sled_kv;

pub use fence::CommitFence;
pub use kv::{BatchOp, KvError, KvStore, PrefixVisitor, WriteBatch};
pub use sled_kv::SledKv;
