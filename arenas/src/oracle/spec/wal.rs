//! WAL frames and segment names as the design states them (format v3).

// ---- WAL frames (format v3): [len:u32][crc32c:u32][offset:u64][digest:32][payload], little
// endian, zero padded to 8; digest = blake3(salt, offset, len, payload), crc32c over len,
// offset, salt, digest and payload; the salt lives in the segment's name ----

/// Every frame starts at a multiple of this, in bytes.
pub const FRAME_ALIGN_BYTES: u64 = 8;
pub(super) const FRAME_HEADER_BYTES: u64 = 48;

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
