//! Signing: canonical messages, identity hashes, agents, and tamper detection per field.

use stemedb::model::{
    Agent, Assertion, Evidence, Hash32, Lifecycle, Limits, Signature, ValidationError, Vote,
    Weight, ASSERTION_DOMAIN, EVIDENCE_DOMAIN, VOTE_DOMAIN,
};

/// Ingest clock used by these tests, in ms since the epoch.
const NOW_MS: u64 = 1_700_000_000_000;

fn signed_assertion() -> Assertion {
    let mut a = Assertion::new("subject", "predicate", "object", 0.5, NOW_MS - 1000);
    a.lifecycle = Lifecycle::Active;
    a.parent_hash = Some(Hash32([9; 32]));
    Agent::derived(7, 0).sign_assertion(&mut a);
    a
}

fn signed_vote() -> Vote {
    Agent::derived(7, 1).vote(Hash32([3; 32]), Weight::from_units(2), NOW_MS - 1000)
}

fn signed_evidence() -> Evidence {
    Agent::derived(7, 2).evidence(Hash32([4; 32]), b"uri:doc".to_vec(), NOW_MS - 1000)
}

fn assert_bad_signature(result: Result<Hash32, ValidationError>, what: &str) {
    assert_eq!(
        result,
        Err(ValidationError::BadSignature { index: 0 }),
        "tampered {what} must fail verification"
    );
}

#[test]
fn untampered_records_verify() {
    let limits = Limits::default();
    assert!(signed_assertion().validate(NOW_MS, &limits).is_ok());
    assert!(signed_vote().validate(NOW_MS, &limits).is_ok());
    assert!(signed_evidence().validate(NOW_MS, &limits).is_ok());
}

#[test]
fn tampering_any_assertion_field_breaks_its_signature() {
    type Tamper = fn(&mut Assertion);
    let tampers: [(&str, Tamper); 10] = [
        ("subject", |a| a.subject.push('x')),
        ("predicate", |a| a.predicate = "predicatf".into()),
        ("object", |a| a.object.clear()),
        ("confidence", |a| a.confidence = 0.5000001),
        ("timestamp", |a| a.timestamp_ms += 1),
        ("lifecycle", |a| a.lifecycle = Lifecycle::Retracted),
        ("parent (changed)", |a| {
            a.parent_hash = Some(Hash32([8; 32]))
        }),
        ("parent (removed)", |a| a.parent_hash = None),
        ("signature bytes", |a| a.signatures[0].signature[10] ^= 1),
        ("signer key", |a| {
            a.signatures[0].public_key = Agent::derived(7, 9).public_key()
        }),
    ];
    // Emptying the object trips `ObjectEmpty` before any signature work; that case then swaps in
    // a non-empty different object to reach the signature check.
    let limits = Limits::default();
    for (what, tamper) in tampers {
        let mut a = signed_assertion();
        tamper(&mut a);
        let result = a.validate(NOW_MS, &limits);
        if what == "object" {
            assert_eq!(result, Err(ValidationError::ObjectEmpty));
            a.object = "objecT".into();
            assert_bad_signature(a.validate(NOW_MS, &limits), what);
        } else {
            assert_bad_signature(result, what);
        }
    }
}

#[test]
fn tampering_a_parent_from_none_breaks_the_signature() {
    let mut a = Assertion::new("s", "p", "o", 1.0, NOW_MS);
    Agent::derived(1, 1).sign_assertion(&mut a);
    a.parent_hash = Some(Hash32([0; 32]));
    assert_bad_signature(a.validate(NOW_MS, &Limits::default()), "parent (added)");
}

#[test]
fn tampering_any_vote_field_breaks_its_signature() {
    type Tamper = fn(&mut Vote);
    let tampers: [(&str, Tamper); 5] = [
        ("assertion hash", |v| v.assertion_hash.0[31] ^= 0x80),
        ("voter", |v| v.voter = Agent::derived(7, 9).public_key()),
        ("weight", |v| {
            v.weight = Weight::from_micros(v.weight.micros() + 1)
        }),
        ("timestamp", |v| v.timestamp_ms -= 1),
        ("signature", |v| v.signature[63] ^= 0x01),
    ];
    for (what, tamper) in tampers {
        let mut v = signed_vote();
        tamper(&mut v);
        assert_bad_signature(v.validate(NOW_MS, &Limits::default()), what);
    }
}

#[test]
fn tampering_any_evidence_field_breaks_its_signature() {
    type Tamper = fn(&mut Evidence);
    let tampers: [(&str, Tamper); 5] = [
        ("assertion hash", |e| e.assertion_hash.0[0] ^= 1),
        ("content", |e| e.content.push(b'!')),
        ("timestamp", |e| e.timestamp_ms = 0),
        ("submitter", |e| {
            e.submitter = Agent::derived(7, 9).public_key()
        }),
        ("signature", |e| e.signature[0] ^= 0x40),
    ];
    for (what, tamper) in tampers {
        let mut e = signed_evidence();
        tamper(&mut e);
        assert_bad_signature(e.validate(NOW_MS, &Limits::default()), what);
    }
}

#[test]
fn assertion_signing_message_has_the_documented_layout() {
    let mut a = Assertion::new("s:1", "p", "", 0.25, 0x0102_0304_0506_0708);
    a.lifecycle = Lifecycle::Deprecated;
    a.parent_hash = Some(Hash32([0xEE; 32]));
    let mut expected = ASSERTION_DOMAIN.to_vec();
    expected.extend_from_slice(&3u64.to_be_bytes());
    expected.extend_from_slice(b"s:1");
    expected.extend_from_slice(&1u64.to_be_bytes());
    expected.extend_from_slice(b"p");
    expected.extend_from_slice(&0u64.to_be_bytes());
    expected.extend_from_slice(&0.25f64.to_bits().to_be_bytes());
    expected.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
    expected.push(3); // Deprecated
    expected.push(1); // Some(parent)
    expected.extend_from_slice(&[0xEE; 32]);
    assert_eq!(a.signing_message(), expected);
    assert_eq!(
        a.identity_hash(),
        Hash32(*blake3::hash(&expected).as_bytes())
    );

    a.parent_hash = None;
    let message = a.signing_message();
    assert_eq!(message.len(), expected.len() - 32);
    assert_eq!(message.last(), Some(&0));
}

#[test]
fn vote_and_evidence_signing_messages_have_the_documented_layout() {
    let v = signed_vote();
    let mut expected = VOTE_DOMAIN.to_vec();
    expected.extend_from_slice(&[3; 32]);
    expected.extend_from_slice(&v.voter);
    expected.extend_from_slice(&2_000_000u64.to_be_bytes());
    expected.extend_from_slice(&(NOW_MS - 1000).to_be_bytes());
    assert_eq!(v.signing_message(), expected);

    let e = signed_evidence();
    let mut expected = EVIDENCE_DOMAIN.to_vec();
    expected.extend_from_slice(&[4; 32]);
    expected.extend_from_slice(&7u64.to_be_bytes());
    expected.extend_from_slice(b"uri:doc");
    expected.extend_from_slice(&(NOW_MS - 1000).to_be_bytes());
    expected.extend_from_slice(&e.submitter);
    assert_eq!(e.signing_message(), expected);
}

#[test]
fn length_prefixes_keep_field_boundaries_apart() {
    let a = Assertion::new("ab", "c", "o", 0.5, 1);
    let b = Assertion::new("a", "bc", "o", 0.5, 1);
    assert_ne!(a.signing_message(), b.signing_message());
    assert_ne!(a.identity_hash(), b.identity_hash());
}

#[test]
fn domain_tags_are_prefix_free() {
    let tags = [ASSERTION_DOMAIN, VOTE_DOMAIN, EVIDENCE_DOMAIN];
    for (i, x) in tags.iter().enumerate() {
        for (j, y) in tags.iter().enumerate() {
            if i != j {
                assert!(!y.starts_with(x));
            }
        }
    }
}

#[test]
fn identity_hash_ignores_signatures_and_validate_returns_it() {
    let mut a = signed_assertion();
    let hash = a.identity_hash();
    Agent::derived(7, 5).sign_assertion(&mut a);
    assert_eq!(a.signatures.len(), 2);
    assert_eq!(a.identity_hash(), hash);
    assert_eq!(a.validate(NOW_MS, &Limits::default()), Ok(hash));
    let v = signed_vote();
    assert_eq!(
        v.validate(NOW_MS, &Limits::default()),
        Ok(v.identity_hash())
    );
}

#[test]
fn signing_again_replaces_the_agents_own_signature() {
    let agent = Agent::derived(7, 0);
    let mut a = signed_assertion();
    a.object = "new object".into();
    agent.sign_assertion(&mut a);
    assert_eq!(a.signatures.len(), 1);
    assert!(a.validate(NOW_MS, &Limits::default()).is_ok());
}

#[test]
fn a_signature_made_by_another_key_is_rejected() {
    let mut a = Assertion::new("s", "p", "o", 0.5, NOW_MS);
    let claimed = Agent::derived(1, 0);
    let actual = Agent::derived(1, 1);
    a.signatures.push(Signature {
        public_key: claimed.public_key(),
        signature: actual.sign_message(&a.signing_message()),
    });
    assert_bad_signature(a.validate(NOW_MS, &Limits::default()), "signer");

    let mut v = signed_vote();
    Agent::derived(7, 3).sign_vote(&mut v); // voter field still names agent (7, 1)
    assert_bad_signature(v.validate(NOW_MS, &Limits::default()), "vote signer");
}

#[test]
fn a_signature_over_another_types_message_is_rejected() {
    let agent = Agent::derived(1, 0);
    let mut v = agent.vote(Hash32([1; 32]), Weight::from_units(1), NOW_MS);
    let e = agent.evidence(Hash32([1; 32]), b"x".to_vec(), NOW_MS);
    v.signature = e.signature;
    assert_bad_signature(
        v.validate(NOW_MS, &Limits::default()),
        "cross-type signature",
    );
}

#[test]
fn agents_are_deterministic_per_seed_and_distinct_per_index() {
    assert_eq!(
        Agent::derived(1, 2).public_key(),
        Agent::derived(1, 2).public_key()
    );
    assert_ne!(
        Agent::derived(1, 2).public_key(),
        Agent::derived(1, 3).public_key()
    );
    assert_ne!(
        Agent::derived(1, 2).public_key(),
        Agent::derived(2, 2).public_key()
    );
    assert_eq!(
        Agent::from_seed([5; 32]).sign_message(b"m"),
        Agent::from_seed([5; 32]).sign_message(b"m")
    );
    let debug = format!("{:?}", Agent::from_seed([5; 32]));
    assert!(debug.starts_with("Agent(") && debug.len() == "Agent()".len() + 64);
}
