//! The formats as the design states them, restated here without calling the engine's codecs.
//!
//! Every byte the engine writes that outlives it, or that a signature or a content address
//! depends on, has one definition in the engine: the record header and archive
//! (`model/record.rs`), the signing messages and identity hashes (`model/{assertion,vote,
//! evidence}.rs`), the storage keys (`storage/keys.rs`) and the validation bounds
//! (`model/limits.rs`). An oracle that asked those same functions what to expect would agree
//! with the engine whatever they did: an encoder that writes nothing, a decoder that refuses
//! everything, a key codec that stops escaping, a bound typed wrong, each consistent on both
//! sides of the comparison, pass every check (cargo-mutants showed all of them passing). So the
//! reference models build what they expect from this file, written from `docs/design.md` §4-5
//! and the modules' documented layouts, and the engine must match it byte for byte.
//!
//! What is shared with the engine, on purpose: the record *types* and their rkyv derives (the
//! archive layout is rkyv's, not ours to restate), ed25519 and blake3 themselves.

use rkyv::rancor;
use rkyv::util::AlignedVec;
use stemedb::lens::{LensKind, Rule};
use stemedb::model::{Assertion, Evidence, Hash32, Lifecycle, Limits, Record, Vote, Weight};

// ---- validation bounds (docs/design.md §5; the API's contract with its clients) ----

/// Longest subject, in bytes.
pub const SUBJECT_BYTES_MAX: usize = 1024;
/// Longest predicate, in bytes.
pub const PREDICATE_BYTES_MAX: usize = 256;
/// Longest object, in bytes.
pub const OBJECT_BYTES_MAX: usize = 16 * 1024;
/// Longest evidence content, in bytes.
pub const EVIDENCE_BYTES_MAX: usize = 64 * 1024;
/// Most signatures on one assertion.
pub const SIGNATURES_MAX: usize = 16;
/// Micro-units in one whole unit of vote weight (weights are fixed point).
pub const WEIGHT_MICROS_PER_UNIT: u64 = 1_000_000;
/// Heaviest vote: one million whole units.
pub const WEIGHT_MAX: Weight = Weight::from_micros(1_000_000 * WEIGHT_MICROS_PER_UNIT);
/// How far ahead of the engine's clock a date may lie: five minutes, in ms.
pub const FUTURE_SKEW_MS_MAX: u64 = 5 * 60 * 1000;

/// The bounds above as the engine's options type (which a correct engine defaults to).
pub const LIMITS: Limits = Limits {
    subject_bytes_max: SUBJECT_BYTES_MAX,
    predicate_bytes_max: PREDICATE_BYTES_MAX,
    object_bytes_max: OBJECT_BYTES_MAX,
    evidence_bytes_max: EVIDENCE_BYTES_MAX,
    signatures_max: SIGNATURES_MAX,
    weight_max: WEIGHT_MAX,
    future_skew_ms_max: FUTURE_SKEW_MS_MAX,
};

// ---- the record payload: [magic "SDBR":4][version 1:u8][kind:u8][0:2][rkyv archive] ----

const MAGIC: [u8; 4] = *b"SDBR";
const VERSION: u8 = 1;
const HEADER_BYTES: usize = 8;
const ASSERTION_TAG: u8 = 1;
const VOTE_TAG: u8 = 2;
const EVIDENCE_TAG: u8 = 3;

fn archive<T>(value: &T) -> Vec<u8>
where
    T: for<'a> rkyv::Serialize<
        rkyv::api::high::HighSerializer<
            AlignedVec,
            rkyv::ser::allocator::ArenaHandle<'a>,
            rancor::Error,
        >,
    >,
{
    // Only records far past every bound (a 2 GiB archive) cannot be archived; the workload
    // never builds one, and an empty body is then as good as any wrong answer.
    rkyv::to_bytes::<rancor::Error>(value)
        .map(|v| v.to_vec())
        .unwrap_or_default()
}

/// The payload a correct engine logs for `record`.
pub fn encode(record: &Record) -> Vec<u8> {
    let (tag, body) = match record {
        Record::Assertion(a) => (ASSERTION_TAG, archive(a)),
        Record::Vote(v) => (VOTE_TAG, archive(v)),
        Record::Evidence(e) => (EVIDENCE_TAG, archive(e)),
    };
    let mut out = Vec::with_capacity(HEADER_BYTES + body.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&[VERSION, tag, 0, 0]);
    out.extend_from_slice(&body);
    out
}

/// The record `bytes` hold, if they are a well-formed payload: the header exactly as written,
/// an archive rkyv validates, and the canonical encoding of what it holds (anything else is
/// bytes a correct engine dead-letters).
pub fn decode(bytes: &[u8]) -> Option<Record> {
    parse(bytes).ok().filter(|record| encode(record) == bytes)
}

/// The record a payload's header and archive hold, whether or not they are its canonical
/// encoding (for building malleated payloads; a correct engine reads only canonical ones).
pub fn decode_any(bytes: &[u8]) -> Option<Record> {
    parse(bytes).ok()
}

/// Why bytes are not a payload a correct engine reads (see [`unreadable`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unreadable {
    /// Too short for the header, or a header field other than the design's.
    Header,
    /// rkyv refuses the archive; its message with every address masked, which is what the
    /// dead letter's reason must end with (a reason is a function of the bytes alone, so
    /// addresses, which differ from process to process, never appear in it).
    Archive(String),
    /// A valid archive of a record whose canonical encoding is other bytes.
    NonCanonical,
}

/// Why `bytes` cannot be read as a record, or `None` when they can (`decode`).
pub fn unreadable(bytes: &[u8]) -> Option<Unreadable> {
    match parse(bytes) {
        Err(why) => Some(why),
        Ok(record) if encode(&record) != bytes => Some(Unreadable::NonCanonical),
        Ok(_) => None,
    }
}

fn parse(bytes: &[u8]) -> Result<Record, Unreadable> {
    let (header, body) = bytes
        .split_at_checked(HEADER_BYTES)
        .ok_or(Unreadable::Header)?;
    if header[..4] != MAGIC || header[4] != VERSION || header[6..] != [0, 0] {
        return Err(Unreadable::Header);
    }
    let mut aligned = AlignedVec::<16>::with_capacity(body.len());
    aligned.extend_from_slice(body);
    let record = match header[5] {
        ASSERTION_TAG => rkyv::from_bytes::<_, rancor::Error>(&aligned).map(Record::Assertion),
        VOTE_TAG => rkyv::from_bytes::<_, rancor::Error>(&aligned).map(Record::Vote),
        EVIDENCE_TAG => rkyv::from_bytes::<_, rancor::Error>(&aligned).map(Record::Evidence),
        _ => return Err(Unreadable::Header),
    };
    record.map_err(|e| Unreadable::Archive(mask_addresses(&e.to_string())))
}

/// `message` with every `0x` that hex digits follow, and the digits, written `<address>`.
pub fn mask_addresses(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find("0x") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let digits = after.len()
            - after
                .trim_start_matches(|c: char| c.is_ascii_hexdigit())
                .len();
        out.push_str(if digits == 0 { "0x" } else { "<address>" });
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}

// ---- WAL frames (format v3): [len:u32][crc32c:u32][offset:u64][digest:32][payload], little
// endian, zero padded to 8; digest = blake3(salt, offset, len, payload), crc32c over len,
// offset, salt, digest and payload; the salt lives in the segment's name ----

/// Every frame starts at a multiple of this, in bytes.
pub const FRAME_ALIGN_BYTES: u64 = 8;
const FRAME_HEADER_BYTES: u64 = 48;

/// Bytes the frame of a `payload_len`-byte payload takes, padding included.
pub fn frame_len(payload_len: usize) -> u64 {
    (FRAME_HEADER_BYTES + payload_len as u64).div_ceil(FRAME_ALIGN_BYTES) * FRAME_ALIGN_BYTES
}

/// The frame a correct engine writes for `payload` at global `offset` in a segment salted
/// `salt`.
pub fn frame(payload: &[u8], offset: u64, salt: u64) -> Vec<u8> {
    let len = (payload.len() as u32).to_le_bytes();
    let mut digest = blake3::Hasher::new();
    digest.update(&salt.to_le_bytes());
    digest.update(&offset.to_le_bytes());
    digest.update(&len);
    digest.update(payload);
    let digest = *digest.finalize().as_bytes();
    let mut crc = crc32c::crc32c(&len);
    crc = crc32c::crc32c_append(crc, &offset.to_le_bytes());
    crc = crc32c::crc32c_append(crc, &salt.to_le_bytes());
    crc = crc32c::crc32c_append(crc, &digest);
    crc = crc32c::crc32c_append(crc, payload);
    let mut out = Vec::with_capacity(frame_len(payload.len()) as usize);
    out.extend_from_slice(&len);
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&offset.to_le_bytes());
    out.extend_from_slice(&digest);
    out.extend_from_slice(payload);
    out.resize(frame_len(payload.len()) as usize, 0);
    out
}

/// The records a segment's bytes hold, by global offset: every frame that is exactly the
/// design's frame of its payload at its position under the segment's `salt`, read front to back;
/// past bytes that hold none, the next aligned position that holds one (damage, a torn tail).
pub fn segment_records(base: u64, salt: u64, bytes: &[u8]) -> Vec<(u64, Vec<u8>)> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos + FRAME_HEADER_BYTES as usize <= bytes.len() {
        let len = u32::from_le_bytes(bytes[pos..pos + 4].try_into().unwrap_or_default()) as usize;
        let framed = frame_len(len) as usize;
        let at = base + pos as u64;
        let found = bytes
            .get(pos..pos.saturating_add(framed))
            .and_then(|on_disk| {
                let payload =
                    on_disk.get(FRAME_HEADER_BYTES as usize..FRAME_HEADER_BYTES as usize + len)?;
                (frame(payload, at, salt) == on_disk).then(|| payload.to_vec())
            });
        match found {
            Some(payload) => {
                out.push((at, payload));
                pos += framed;
            }
            None => pos += FRAME_ALIGN_BYTES as usize,
        }
    }
    out
}

/// The base offset and salt a segment's file name states (`wal-{base:020}-{salt:016x}.seg`,
/// lowercase hex), if `name` is one.
pub fn segment_of(name: &str) -> Option<(u64, u64)> {
    let fields = name.strip_prefix("wal-")?.strip_suffix(".seg")?;
    let (base, salt) = fields.split_once('-')?;
    let decimal = base.len() == 20 && base.bytes().all(|b| b.is_ascii_digit());
    let hex = salt.len() == 16 && salt.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if !(decimal && hex) {
        return None;
    }
    Some((base.parse().ok()?, u64::from_str_radix(salt, 16).ok()?))
}

// ---- audit records (query/audit.rs): [magic "SDBA"][version 1][wall_ms:u64][lens tag:u8]
// [lifecycle bits:u8][max_stale_ms: opt u64][used_view:u8][rule: opt tag][candidates:u64]
// [winner: opt 32 bytes][subject: str][predicate: opt str][error: opt str]; integers
// big-endian, a str a u32 length and UTF-8, an opt a 0 or a 1 and the value; lens tags
// recency 1, consensus 2; rule tags no-candidates 1, only-candidate 2, weight 3, recency 4,
// hash tie-break 5; lifecycle bit 1 << (signing tag - 1) ----

/// One stored audit record as the design lays it out; the filter as its set of members.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Audit {
    pub wall_ms: u64,
    pub lens: LensKind,
    /// The filter's members, in `Lifecycle::ALL` order.
    pub lifecycles: Vec<Lifecycle>,
    pub max_stale_ms: Option<u64>,
    pub used_view: bool,
    pub rule: Option<Rule>,
    pub candidates: u64,
    pub winner: Option<Hash32>,
    pub subject: String,
    pub predicate: Option<String>,
    pub error: Option<String>,
}

struct Fields<'a>(&'a [u8]);

impl Fields<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let (head, rest) = self
            .0
            .split_first_chunk::<N>()
            .ok_or("the record ends inside a field")?;
        self.0 = rest;
        Ok(*head)
    }

    fn byte(&mut self) -> Result<u8, String> {
        self.take::<1>().map(|[b]| b)
    }

    fn u64(&mut self) -> Result<u64, String> {
        self.take::<8>().map(u64::from_be_bytes)
    }

    fn str(&mut self) -> Result<String, String> {
        let len = u32::from_be_bytes(self.take::<4>()?) as usize;
        let (text, rest) = self
            .0
            .split_at_checked(len)
            .ok_or("a string runs past the record")?;
        self.0 = rest;
        String::from_utf8(text.to_vec()).map_err(|_| "a string is not UTF-8".to_owned())
    }

    fn opt<T>(
        &mut self,
        get: impl FnOnce(&mut Self) -> Result<T, String>,
    ) -> Result<Option<T>, String> {
        match self.byte()? {
            0 => Ok(None),
            1 => get(self).map(Some),
            b => Err(format!("presence byte {b}")),
        }
    }
}

fn lens_of(tag: u8) -> Result<LensKind, String> {
    match tag {
        1 => Ok(LensKind::Recency),
        2 => Ok(LensKind::VoteAwareConsensus),
        _ => Err(format!("lens tag {tag}")),
    }
}

fn rule_of(tag: u8) -> Result<Rule, String> {
    match tag {
        1 => Ok(Rule::NoCandidates),
        2 => Ok(Rule::OnlyCandidate),
        3 => Ok(Rule::Weight),
        4 => Ok(Rule::Recency),
        5 => Ok(Rule::HashTieBreak),
        _ => Err(format!("rule tag {tag}")),
    }
}

/// The audit record `bytes` hold, or why they are not one.
pub fn audit(bytes: &[u8]) -> Result<Audit, String> {
    let mut f = Fields(bytes);
    if f.take::<4>()? != *b"SDBA" || f.byte()? != 1 {
        return Err("not an audit record of format 1".to_owned());
    }
    let wall_ms = f.u64()?;
    let lens = lens_of(f.byte()?)?;
    let bits = f.byte()?;
    let lifecycles: Vec<Lifecycle> = Lifecycle::ALL
        .into_iter()
        .filter(|&l| bits & (1 << (lifecycle_tag(l) - 1)) != 0)
        .collect();
    if bits >> Lifecycle::ALL.len() != 0 {
        return Err(format!("lifecycle bits {bits:#010b} name no lifecycle"));
    }
    let max_stale_ms = f.opt(Fields::u64)?;
    let used_view = match f.byte()? {
        0 => false,
        1 => true,
        b => return Err(format!("view flag {b}")),
    };
    let rule = f.opt(|f| rule_of(f.byte()?))?;
    let candidates = f.u64()?;
    let winner = f.opt(|f| f.take::<32>().map(Hash32))?;
    let subject = f.str()?;
    let predicate = f.opt(Fields::str)?;
    let error = f.opt(Fields::str)?;
    if !f.0.is_empty() {
        return Err(format!("{} bytes after the last field", f.0.len()));
    }
    Ok(Audit {
        wall_ms,
        lens,
        lifecycles,
        max_stale_ms,
        used_view,
        rule,
        candidates,
        winner,
        subject,
        predicate,
        error,
    })
}

// ---- signing messages: a NUL-terminated domain tag, then the fields in a fixed order;
// variable fields as a big-endian u64 length and the bytes, integers big-endian, an Option as
// 0, or 1 and the value ----

fn var(m: &mut Vec<u8>, field: &[u8]) {
    m.extend_from_slice(&(field.len() as u64).to_be_bytes());
    m.extend_from_slice(field);
}

fn lifecycle_tag(l: Lifecycle) -> u8 {
    match l {
        Lifecycle::Draft => 1,
        Lifecycle::Active => 2,
        Lifecycle::Deprecated => 3,
        Lifecycle::Retracted => 4,
    }
}

/// What every signature on `a` signs: all of it but the signatures.
pub fn assertion_message(a: &Assertion) -> Vec<u8> {
    let mut m = b"stemedb/assertion/v1\0".to_vec();
    var(&mut m, a.subject.as_bytes());
    var(&mut m, a.predicate.as_bytes());
    var(&mut m, a.object.as_bytes());
    m.extend_from_slice(&a.confidence.to_bits().to_be_bytes());
    m.extend_from_slice(&a.timestamp_ms.to_be_bytes());
    m.push(lifecycle_tag(a.lifecycle));
    match &a.parent_hash {
        None => m.push(0),
        Some(parent) => {
            m.push(1);
            m.extend_from_slice(&parent.0);
        }
    }
    m
}

/// What a vote's signature signs: all of it but the signature, its voter included.
pub fn vote_message(v: &Vote) -> Vec<u8> {
    let mut m = b"stemedb/vote/v1\0".to_vec();
    m.extend_from_slice(&v.assertion_hash.0);
    m.extend_from_slice(&v.voter);
    m.extend_from_slice(&v.weight.micros().to_be_bytes());
    m.extend_from_slice(&v.timestamp_ms.to_be_bytes());
    m
}

/// What an evidence record's signature signs: all of it but the signature.
pub fn evidence_message(e: &Evidence) -> Vec<u8> {
    let mut m = b"stemedb/evidence/v1\0".to_vec();
    m.extend_from_slice(&e.assertion_hash.0);
    var(&mut m, &e.content);
    m.extend_from_slice(&e.timestamp_ms.to_be_bytes());
    m.extend_from_slice(&e.submitter);
    m
}

fn blake3_of(message: &[u8]) -> Hash32 {
    Hash32(*blake3::hash(message).as_bytes())
}

/// An assertion's content address: blake3 of its signing message.
pub fn assertion_id(a: &Assertion) -> Hash32 {
    blake3_of(&assertion_message(a))
}

/// A vote's identity: blake3 of its signing message.
pub fn vote_id(v: &Vote) -> Hash32 {
    blake3_of(&vote_message(v))
}

/// An evidence record's identity: blake3 of its signing message.
pub fn evidence_id(e: &Evidence) -> Hash32 {
    blake3_of(&evidence_message(e))
}

/// A record's identity.
pub fn record_id(record: &Record) -> Hash32 {
    match record {
        Record::Assertion(a) => assertion_id(a),
        Record::Vote(v) => vote_id(v),
        Record::Evidence(e) => evidence_id(e),
    }
}

// ---- storage keys: a family tag, then the parts; fixed-width parts raw, integers big-endian,
// variable parts with each 0x00 written 0x00 0xFF and ended by 0x00 0x01 ----

/// The key families the replay determines exactly, by tag.
pub const DATA_TAGS: [&[u8]; 7] = [b"H:", b"V:", b"E:", b"S:", b"SP:", b"VC:", b"VW:"];
/// Every tag a key of the engine's may start with (no tag is a prefix of another).
pub const ALL_TAGS: [&[u8]; 10] = [
    b"H:", b"V:", b"E:", b"S:", b"SP:", b"VC:", b"VW:", b"M:", b"Q:", b"A:",
];
const QUARANTINE_TAG: &[u8] = b"Q:";
const AUDIT_TAG: &[u8] = b"A:";

fn key(tag: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut k = tag.to_vec();
    for part in parts {
        k.extend_from_slice(part);
    }
    k
}

fn escaped(part: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(part.len() + 2);
    for &b in part {
        out.push(b);
        if b == 0 {
            out.push(0xFF);
        }
    }
    out.extend_from_slice(&[0x00, 0x01]);
    out
}

/// `H:` + hash.
pub fn assertion_key(hash: &Hash32) -> Vec<u8> {
    key(b"H:", &[&hash.0])
}

/// `V:` + assertion hash + voter key.
pub fn vote_key(assertion: &Hash32, voter: &[u8; 32]) -> Vec<u8> {
    key(b"V:", &[&assertion.0, voter])
}

/// `E:` + assertion hash + evidence hash.
pub fn evidence_key(assertion: &Hash32, evidence: &Hash32) -> Vec<u8> {
    key(b"E:", &[&assertion.0, &evidence.0])
}

/// `S:` + escaped subject + assertion hash.
pub fn subject_key(subject: &[u8], assertion: &Hash32) -> Vec<u8> {
    key(b"S:", &[&escaped(subject), &assertion.0])
}

/// `SP:` + escaped subject + escaped predicate + assertion hash.
pub fn subject_predicate_key(subject: &[u8], predicate: &[u8], assertion: &Hash32) -> Vec<u8> {
    key(
        b"SP:",
        &[&escaped(subject), &escaped(predicate), &assertion.0],
    )
}

/// `VC:` + assertion hash.
pub fn vote_count_key(assertion: &Hash32) -> Vec<u8> {
    key(b"VC:", &[&assertion.0])
}

/// `VW:` + assertion hash.
pub fn vote_weight_key(assertion: &Hash32) -> Vec<u8> {
    key(b"VW:", &[&assertion.0])
}

/// `Q:` + big-endian WAL offset.
pub fn quarantine_key(wal_offset: u64) -> Vec<u8> {
    key(QUARANTINE_TAG, &[&wal_offset.to_be_bytes()])
}

/// `A:` + big-endian sequence number.
pub fn audit_key(seq: u64) -> Vec<u8> {
    key(AUDIT_TAG, &[&seq.to_be_bytes()])
}

/// The ingest cursor's key.
pub const INGEST_CURSOR_KEY: &[u8] = b"M:ingest_cursor";

/// The tag `key` starts with, if any.
pub fn tag_of(key: &[u8]) -> Option<&'static [u8]> {
    ALL_TAGS.into_iter().find(|tag| key.starts_with(tag))
}

fn be_u64_after(tag: &[u8], key: &[u8]) -> Option<u64> {
    let rest = key.strip_prefix(tag)?;
    Some(u64::from_be_bytes(rest.try_into().ok()?))
}

/// The WAL offset a `Q:` key names, if `key` is one.
pub fn quarantine_offset(key: &[u8]) -> Option<u64> {
    be_u64_after(QUARANTINE_TAG, key)
}

/// The sequence number an `A:` key names, if `key` is one.
pub fn audit_seq(key: &[u8]) -> Option<u64> {
    be_u64_after(AUDIT_TAG, key)
}

#[cfg(test)]
mod tests {
    //! The restatement must agree with the engine as it stands: a disagreement here is either a
    //! bug in the engine or a stale restatement, and the design says which.
    use super::*;
    use stemedb::model::Agent;
    use stemedb::storage::keys;

    fn records() -> Vec<Record> {
        let agent = Agent::derived(7, 1);
        let mut a = Assertion::new("sub\0ject", "pre\0\u{ff}", "object", 0.25, 1_234);
        a.lifecycle = Lifecycle::Deprecated;
        a.parent_hash = Some(Hash32([9; 32]));
        agent.sign_assertion(&mut a);
        Agent::derived(7, 2).sign_assertion(&mut a);
        let mut plain = Assertion::new("s", "p", "o", 1.0, 0);
        agent.sign_assertion(&mut plain);
        let v = agent.vote(assertion_id(&a), Weight::from_units(3), 99);
        let e = agent.evidence(assertion_id(&a), vec![0, 1, 2, 0xFF], 100);
        vec![
            Record::Assertion(a),
            Record::Assertion(plain),
            Record::Vote(v),
            Record::Evidence(e),
        ]
    }

    #[test]
    fn payloads_identities_and_messages_agree_with_the_engine() {
        for r in records() {
            let payload = encode(&r);
            assert_eq!(payload, r.encode().unwrap());
            assert_eq!(decode(&payload).as_ref(), Some(&r));
            assert_eq!(record_id(&r), r.identity_hash());
        }
        assert_eq!(LIMITS, Limits::default());
        assert_eq!(
            WEIGHT_MICROS_PER_UNIT,
            stemedb::model::WEIGHT_MICROS_PER_UNIT
        );
    }

    #[test]
    fn keys_agree_with_the_engine() {
        let h = Hash32([0; 32]);
        let g = Hash32([0xFF; 32]);
        for s in [&b""[..], b"a", b"\0", b"a\0\xff", b"\0\x01"] {
            assert_eq!(subject_key(s, &h), keys::subject_key(s, &h));
            assert_eq!(
                subject_predicate_key(s, b"p\0", &g),
                keys::subject_predicate_key(s, b"p\0", &g)
            );
        }
        assert_eq!(assertion_key(&g), keys::assertion_key(&g));
        assert_eq!(vote_key(&h, &[3; 32]), keys::vote_key(&h, &[3; 32]));
        assert_eq!(evidence_key(&h, &g), keys::evidence_key(&h, &g));
        assert_eq!(vote_count_key(&g), keys::vote_count_key(&g));
        assert_eq!(vote_weight_key(&g), keys::vote_weight_key(&g));
        assert_eq!(quarantine_key(77), keys::quarantine_key(77));
        assert_eq!(quarantine_offset(&keys::quarantine_key(77)), Some(77));
        assert_eq!(audit_key(5), keys::audit_key(5));
        assert_eq!(audit_seq(&keys::audit_key(5)), Some(5));
        assert_eq!(audit_seq(&keys::quarantine_key(5)), None);
        assert_eq!(INGEST_CURSOR_KEY, keys::INGEST_CURSOR_KEY);
    }

    #[test]
    fn frames_and_segment_names_agree_with_the_engine() {
        use stemedb::wal::record::framed_bytes;
        use stemedb::wal::segment_name;
        for (payload, offset, salt) in [
            (&b""[..], 0, 0),
            (b"x", 8, 1),
            (&[7u8; 61][..], 4_096, u64::MAX),
        ] {
            assert_eq!(
                frame(payload, offset, salt),
                stemedb::wal::record::encode(payload, offset, salt)
            );
            assert_eq!(frame_len(payload.len()), framed_bytes(payload.len() as u32));
        }
        let mut segment = frame(b"one", 800, 7);
        segment.extend_from_slice(&[0xEE; 24]);
        let second_at = 800 + segment.len() as u64;
        segment.extend(frame(b"two", second_at, 7));
        segment.extend_from_slice(&frame(b"torn", second_at + 56, 7)[..50]);
        assert_eq!(
            segment_records(800, 7, &segment),
            vec![(800, b"one".to_vec()), (second_at, b"two".to_vec())]
        );
        assert!(segment_records(800, 8, &segment).is_empty(), "another salt");
        let name = segment_name(123_456, 0xabc);
        assert_eq!(segment_of(&name), Some((123_456, 0xabc)));
        assert_eq!(segment_of("wal-00000000000000000001.seg"), None);
        assert_eq!(segment_of(&name.to_uppercase()), None);
    }

    #[test]
    fn audit_records_read_as_the_engine_writes_them() {
        use stemedb::query::{AuditRecord, LifecycleFilter};
        for (filter, lens, rule) in [
            (
                LifecycleFilter::ACTIVE,
                LensKind::Recency,
                Some(Rule::Recency),
            ),
            (
                LifecycleFilter::of(&[Lifecycle::Draft, Lifecycle::Retracted]),
                LensKind::VoteAwareConsensus,
                Some(Rule::HashTieBreak),
            ),
            (LifecycleFilter::of(&[]), LensKind::VoteAwareConsensus, None),
        ] {
            let record = AuditRecord {
                wall_ms: 42,
                subject: "s\0".to_owned(),
                predicate: Some("p".to_owned()),
                lens,
                lifecycles: filter,
                max_stale_ms: Some(7),
                used_view: true,
                rule,
                candidates: 3,
                winner: Some(Hash32([5; 32])),
                error: rule.is_none().then(|| "failed".to_owned()),
            };
            let read = audit(&record.encode()).expect("the engine's record reads");
            let members: Vec<Lifecycle> = Lifecycle::ALL
                .into_iter()
                .filter(|&l| filter.contains(l))
                .collect();
            assert_eq!(read.lifecycles, members);
            assert_eq!(
                (read.lens, read.rule, read.winner, read.error.is_some()),
                (lens, rule, record.winner, rule.is_none())
            );
            assert_eq!(
                (read.wall_ms, read.candidates, read.max_stale_ms),
                (42, 3, Some(7))
            );
            assert_eq!(
                (read.subject.as_str(), read.predicate.as_deref()),
                ("s\0", Some("p"))
            );
        }
        assert!(audit(b"SDBA").is_err());
    }

    #[test]
    fn addresses_are_masked_and_nothing_else() {
        assert_eq!(
            mask_addresses("ptr 0x00007fab12 at 0x1, 0x and 0xg"),
            "ptr <address> at <address>, 0x and 0xg"
        );
        assert_eq!(mask_addresses("0x"), "0x");
        assert_eq!(mask_addresses("none here"), "none here");
    }

    #[test]
    fn unreadable_says_why_and_reads_what_decode_reads() {
        let r = &records()[0];
        let good = encode(r);
        assert_eq!(unreadable(&good), None);
        assert_eq!(unreadable(&good[..3]), Some(Unreadable::Header));
        let mut bad_tag = good.clone();
        bad_tag[5] = 9;
        assert_eq!(unreadable(&bad_tag), Some(Unreadable::Header));
        let mut garbage = good[..HEADER_BYTES].to_vec();
        garbage.extend_from_slice(&[0xAB; 40]);
        assert!(matches!(unreadable(&garbage), Some(Unreadable::Archive(m)) if !m.is_empty()));
    }

    #[test]
    fn decode_refuses_what_is_not_the_canonical_payload() {
        let r = &records()[0];
        let good = encode(r);
        for at in [0, 4, 5, 6, 7] {
            let mut bad = good.clone();
            bad[at] ^= 0x40;
            assert_eq!(decode(&bad), None, "header byte {at}");
        }
        let mut longer = good.clone();
        longer.extend_from_slice(&[0; 8]);
        assert_eq!(decode(&longer), None);
        assert_eq!(decode(&good[..HEADER_BYTES]), None);
    }
}
