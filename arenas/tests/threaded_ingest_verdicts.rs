//! Ingest verifies a batch's signatures on several threads (`stemedb::ingest::decode_run`); its
//! verdict for every record must be exactly the one-thread, cache-free verdict
//! (`decode_for_ingest`: `verify_strict` and every rule but the clock one), whatever the split
//! into threads, whatever the verifier's cache already holds, and whatever else shares the batch.
//!
//! Batches mix every hostile class the simulator's adversary makes: each one-bound rule breaker
//! (`Breach::ALL`: weak key, swapped key, transplanted signature, no or too many signatures, every
//! field bound), a signed record tampered in one field, a non-canonical encoding of a valid record
//! (`malleated`), evidence that smuggles frames of another record, records at a validation bound,
//! undecodable bytes, and repeats of one payload (the second is a cache hit when the first
//! verified).

use proptest::prelude::*;
use rand::Rng;
use stemedb::ingest::{decode_for_ingest, decode_run};
use stemedb::model::{Hash32, Limits, SignatureVerifier};
use stemedb_arenas::adversary::{malleated, Adversary, Breach};
use stemedb_arenas::oracle::spec;
use stemedb_faults::rng;

/// Records in one generated batch: several threads' worth (`DECODE_RECORDS_PER_THREAD_MIN` each).
const BATCH_RECORDS: usize = 48;
/// A timestamp every generated record is signed with.
const TS_MS: u64 = 1_700_000_000_000;

/// One batch of payloads drawn from every class above.
fn batch(seed: u64) -> Vec<Vec<u8>> {
    let adversary = Adversary::new(seed);
    let mut rng = rng::stream(seed, "threaded-verdicts");
    let target = Hash32::of(b"target");
    let mut payloads: Vec<Vec<u8>> = Vec::with_capacity(BATCH_RECORDS);
    while payloads.len() < BATCH_RECORDS {
        let payload = match rng.random_range(0..8u8) {
            0 | 1 => spec::encode(&adversary.edge_valid(&mut rng, target, TS_MS)),
            2 => {
                let breach = Breach::ALL[rng.random_range(0..Breach::ALL.len())];
                adversary.breaking(breach, &mut rng, target, TS_MS)
            }
            3 => adversary.tampered(&mut rng, target, TS_MS),
            4 => {
                let edge = adversary.edge_valid(&mut rng, target, TS_MS);
                let start = rng.random_range(0..64usize);
                malleated(&edge, start).unwrap_or_else(|| spec::encode(&edge))
            }
            5 => {
                let inner = adversary.edge_valid(&mut rng, target, TS_MS);
                match adversary.smuggler(&mut rng, &inner, target, 4096, TS_MS) {
                    Some((outer, _)) => spec::encode(&outer),
                    None => spec::encode(&inner),
                }
            }
            6 => {
                // Bytes that are no record, or a record cut short.
                let mut bytes = spec::encode(&adversary.edge_valid(&mut rng, target, TS_MS));
                let keep = rng.random_range(0..bytes.len());
                bytes.truncate(keep);
                bytes
            }
            _ => match payloads.last() {
                Some(previous) => previous.clone(),
                None => continue,
            },
        };
        payloads.push(payload);
    }
    payloads
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn threaded_verdicts_equal_the_one_thread_strict_verdicts(seed in any::<u64>(), threads in 1usize..=5) {
        let limits = Limits::default();
        let payloads = batch(seed);
        let views: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
        let want: Vec<_> = views.iter().map(|p| decode_for_ingest(p, &limits)).collect();
        let verifier = SignatureVerifier::new();
        // Twice over one verifier: the second pass answers from its cache where the first verified.
        for pass in 0..2 {
            let got = decode_run(&views, &limits, Some(&verifier), threads);
            prop_assert_eq!(got.len(), want.len());
            for (i, (got, want)) in got.iter().zip(&want).enumerate() {
                // Compared as printed: a NaN confidence never equals itself.
                prop_assert_eq!(
                    format!("{got:?}"),
                    format!("{want:?}"),
                    "record {} of pass {} on {} threads", i, pass, threads
                );
            }
        }
        let accepted = want.iter().filter(|v| v.is_ok()).count();
        prop_assert!(accepted > 0 && accepted < want.len(), "a batch mixes verdicts: {} of {}", accepted, want.len());
    }
}
