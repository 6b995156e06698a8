#![no_main]
//! The body is `stemedb_arenas::fuzzing::wal_recover` (see that module for the properties), so
//! `cargo test` replays this target's corpus on stable.

libfuzzer_sys::fuzz_target!(|data: &[u8]| stemedb_arenas::fuzzing::wal_recover(data));
