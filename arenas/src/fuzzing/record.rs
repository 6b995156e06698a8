//! `record`: any bytes as a WAL payload through `Record::decode` and validation.
//!
//! Properties (`stemedb::model::record` and `validation`):
//! - decoding answers a value or a `DecodeError`, never a panic;
//! - a decoded record is canonical: it encodes back to exactly the input bytes, and those decode
//!   to the same record again;
//! - validation answers `Ok(identity hash)` or a `ValidationError`, the same with and without
//!   the signature cache, at any clock reading; a valid record's hash is its identity hash.

use stemedb::model::{Limits, Record, SignatureVerifier};

pub fn record(data: &[u8]) {
    let Ok(record) = Record::decode(data) else {
        return;
    };
    let encoded = record
        .encode()
        .unwrap_or_else(|e| panic!("a decoded record does not encode: {e}"));
    assert!(
        encoded == data,
        "decode accepted bytes that are not the canonical encoding of what it returned"
    );
    let again = Record::decode(&encoded)
        .unwrap_or_else(|e| panic!("a canonical encoding does not decode: {e}"));
    // Compared as bytes: a NaN confidence (rejected by validation, not by decoding) is not
    // equal to itself.
    assert!(
        again.encode().ok().as_deref() == Some(data),
        "the canonical encoding decodes to another record"
    );
    let limits = Limits::default();
    let timestamp_ms = match &record {
        Record::Assertion(a) => a.timestamp_ms,
        Record::Vote(v) => v.timestamp_ms,
        Record::Evidence(e) => e.timestamp_ms,
    };
    // Verdicts are compared by their text: a NaN confidence in an error is not equal to itself.
    let same =
        |a: &dyn std::fmt::Debug, b: &dyn std::fmt::Debug| format!("{a:?}") == format!("{b:?}");
    for now_ms in [0, timestamp_ms, u64::MAX] {
        if let Ok(hash) = record.validate(now_ms, &limits) {
            assert_eq!(hash, record.identity_hash());
            assert_eq!(again, record, "a valid record does not decode back equal");
        }
    }
    // The cache's miss, then its hit, must agree with verifying directly.
    let verifier = SignatureVerifier::new();
    let plain = record.validate(timestamp_ms, &limits);
    let miss = record.validate_with(timestamp_ms, &limits, Some(&verifier));
    let hit = record.validate_with(timestamp_ms, &limits, Some(&verifier));
    assert!(
        same(&plain, &miss),
        "the signature cache changes the verdict: {plain:?} / {miss:?}"
    );
    assert!(
        same(&plain, &hit),
        "a cached verdict differs: {plain:?} / {hit:?}"
    );
}
