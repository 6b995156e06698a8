//! Record format v3, little endian:
//! `[len:u32][crc32c:u32][offset:u64][digest:32][payload:len]`, then zero padding to the next
//! 8-byte boundary. `offset` is the frame's own global log offset; `digest` is blake3 over the
//! segment's salt, the offset, the length and the payload; the crc32c covers the length, the
//! offset, the salt, the digest and the payload. The salt is never stored in the frame: it lives
//! in the segment's file name (see `segment.rs`).
//!
//! Fault model: any byte of a record may be torn (a crash mid-write), rotted (a flipped bit in
//! synced data) or zero (a dropped write leaves a hole); a well-formed frame may also sit where it
//! was never written: inside another record's client-controlled payload (a phantom found by the
//! look-ahead once that record's header is damaged), at another position of the same segment (a
//! misdirected write), or copied from another segment (or from a predecessor of this one). A
//! record is valid only if its length is plausible AND the crc32c (salted) matches AND its offset
//! field equals the position it was read from AND the salted digest matches. So:
//! - a misdirected frame names the wrong offset;
//! - a frame of another segment fails both checksums under this segment's salt;
//! - a phantom must guess the salt: the crc alone leaves a client who embeds many frame guesses a
//!   2^-32 chance per guess, which is why the digest is salted too (2^-64: the salt is 64 bits
//!   of OS randomness in production);
//! - all-zero bytes never verify (neither checksum of zeros is zero).
//!
//! The length is checked against [`RECORD_PAYLOAD_BYTES_MAX`] before anything is allocated, so a
//! torn header claiming gigabytes costs nothing. The 48-byte header keeps payloads 8-byte aligned.

use super::error::RecordDefect;

/// Bytes before the payload: length, crc32c, offset, digest. 48 keeps payloads 8-byte aligned.
pub const RECORD_HEADER_BYTES: usize = 48;
/// Every record starts at a multiple of this (global offsets and segment bases alike).
pub const RECORD_ALIGN_BYTES: u64 = 8;
/// The largest payload a writer accepts and a reader believes (1 MiB).
pub const RECORD_PAYLOAD_BYTES_MAX: u32 = 1 << 20;
/// The on-disk format this build writes and reads.
pub const WAL_FORMAT_VERSION: u32 = 3;

const LEN_BYTES: usize = 4;
const CRC_BYTES: usize = 4;
const OFFSET_BYTES: usize = 8;
const DIGEST_BYTES: usize = 32;
const CRC_AT: usize = LEN_BYTES;
const OFFSET_AT: usize = CRC_AT + CRC_BYTES;
const DIGEST_AT: usize = OFFSET_AT + OFFSET_BYTES;
const _: () = assert!(DIGEST_AT + DIGEST_BYTES == RECORD_HEADER_BYTES);
const _: () = assert!((RECORD_HEADER_BYTES as u64).is_multiple_of(RECORD_ALIGN_BYTES));

/// Bytes a record with this payload length occupies on disk, padding included.
pub fn framed_bytes(payload_len: u32) -> u64 {
    let unpadded = RECORD_HEADER_BYTES as u64 + u64::from(payload_len);
    unpadded.div_ceil(RECORD_ALIGN_BYTES) * RECORD_ALIGN_BYTES
}

/// Encodes one record, to be written at global `offset` in a segment salted with `salt`, with
/// its padding. The caller has checked the length.
pub fn encode(payload: &[u8], offset: u64, salt: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(usize::try_from(framed_bytes(len_of(payload))).unwrap_or(0));
    encode_into(&mut out, payload, offset, salt);
    out
}

/// [`encode`], appending to `out` (one buffer for a whole batch).
pub fn encode_into(out: &mut Vec<u8>, payload: &[u8], offset: u64, salt: u64) {
    let len = len_of(payload);
    let digest = digest_of(salt, offset, len, payload);
    let crc = crc_of(len, offset, salt, &digest, payload);
    let start = out.len();
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&offset.to_le_bytes());
    out.extend_from_slice(&digest);
    out.extend_from_slice(payload);
    let total = usize::try_from(framed_bytes(len)).unwrap_or(usize::MAX);
    out.resize(start + total, 0);
}

fn len_of(payload: &[u8]) -> u32 {
    u32::try_from(payload.len()).unwrap_or(u32::MAX)
}

fn digest_of(salt: u64, offset: u64, len: u32, payload: &[u8]) -> [u8; DIGEST_BYTES] {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&salt.to_le_bytes());
    hasher.update(&offset.to_le_bytes());
    hasher.update(&len.to_le_bytes());
    hasher.update(payload);
    *hasher.finalize().as_bytes()
}

fn crc_of(len: u32, offset: u64, salt: u64, digest: &[u8], payload: &[u8]) -> u32 {
    let crc = crc32c::crc32c(&len.to_le_bytes());
    let crc = crc32c::crc32c_append(crc, &offset.to_le_bytes());
    let crc = crc32c::crc32c_append(crc, &salt.to_le_bytes());
    let crc = crc32c::crc32c_append(crc, digest);
    crc32c::crc32c_append(crc, payload)
}

/// A decoded (not yet verified) header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub len: u32,
    crc: u32,
    /// The global offset the frame claims to have been written at.
    pub offset: u64,
    digest: [u8; DIGEST_BYTES],
}

impl Header {
    /// Decodes the first [`RECORD_HEADER_BYTES`] of `bytes`; `None` if there are fewer.
    pub fn decode(bytes: &[u8]) -> Option<Header> {
        let header: &[u8; RECORD_HEADER_BYTES] =
            bytes.get(..RECORD_HEADER_BYTES)?.try_into().ok()?;
        let (len, rest) = header.split_first_chunk::<LEN_BYTES>()?;
        let (crc, rest) = rest.split_first_chunk::<CRC_BYTES>()?;
        let (offset, rest) = rest.split_first_chunk::<OFFSET_BYTES>()?;
        let digest: [u8; DIGEST_BYTES] = rest.try_into().ok()?;
        Some(Header {
            len: u32::from_le_bytes(*len),
            crc: u32::from_le_bytes(*crc),
            offset: u64::from_le_bytes(*offset),
            digest,
        })
    }

    /// Checks the claimed length before anything is allocated for the payload: it must be below
    /// the format maximum and the framed record must fit in the `room_bytes` left in its segment.
    pub fn check_len(&self, room_bytes: u64) -> Result<(), RecordDefect> {
        if self.len > RECORD_PAYLOAD_BYTES_MAX {
            return Err(RecordDefect::LengthTooLarge {
                len: self.len,
                max_bytes: RECORD_PAYLOAD_BYTES_MAX,
            });
        }
        // The payload itself must fit; trailing padding may be absent at the very end of a file
        // only if the writer never wrote it, which it always does, so demand the whole frame.
        let framed = framed_bytes(self.len);
        if framed > room_bytes {
            return Err(RecordDefect::PastSegmentEnd {
                framed_bytes: framed,
            });
        }
        Ok(())
    }

    /// Bytes this record occupies, padding included.
    pub fn framed_bytes(&self) -> u64 {
        framed_bytes(self.len)
    }

    /// Verifies `payload` (exactly `len` bytes), read at global offset `at` from a segment salted
    /// with `salt`: the crc32c, then the position, then the digest.
    pub fn verify(&self, payload: &[u8], at: u64, salt: u64) -> Result<(), RecordDefect> {
        if payload.len() != self.len as usize {
            return Err(RecordDefect::Missing);
        }
        if crc_of(self.len, self.offset, salt, &self.digest, payload) != self.crc {
            return Err(RecordDefect::ChecksumMismatch);
        }
        if self.offset != at {
            return Err(RecordDefect::Misplaced {
                claimed_offset: self.offset,
            });
        }
        if digest_of(salt, self.offset, self.len, payload) != self.digest {
            return Err(RecordDefect::DigestMismatch);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SALT: u64 = 0x5eed_5a17_0000_0001;

    fn verify_frame(frame: &[u8], len: usize, at: u64, salt: u64) -> Result<(), RecordDefect> {
        let header = Header::decode(frame).unwrap();
        header.check_len(frame.len() as u64)?;
        header.verify(
            &frame[RECORD_HEADER_BYTES..RECORD_HEADER_BYTES + len],
            at,
            salt,
        )
    }

    #[test]
    fn framing_is_aligned_and_round_trips() {
        for len in [0usize, 1, 7, 8, 9, 100, 4096] {
            let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let frame = encode(&payload, 4096, SALT);
            assert_eq!(frame.len() as u64 % RECORD_ALIGN_BYTES, 0);
            assert_eq!(frame.len() as u64, framed_bytes(len as u32));
            let header = Header::decode(&frame).unwrap();
            assert_eq!(header.len as usize, len);
            assert_eq!(header.offset, 4096);
            verify_frame(&frame, len, 4096, SALT).unwrap();
            assert!(frame[RECORD_HEADER_BYTES + len..].iter().all(|&b| b == 0));
        }
    }

    #[test]
    fn a_frame_verifies_only_at_its_own_offset_and_under_its_own_salt() {
        let frame = encode(b"payload", 64, SALT);
        assert_eq!(
            verify_frame(&frame, 7, 72, SALT),
            Err(RecordDefect::Misplaced { claimed_offset: 64 })
        );
        assert_eq!(
            verify_frame(&frame, 7, 64, SALT ^ 1),
            Err(RecordDefect::ChecksumMismatch)
        );
        verify_frame(&frame, 7, 64, SALT).unwrap();
    }

    #[test]
    fn zeros_never_verify() {
        let header = Header::decode(&[0u8; RECORD_HEADER_BYTES]).unwrap();
        for salt in [0, SALT] {
            assert_eq!(
                header.verify(&[], 0, salt),
                Err(RecordDefect::ChecksumMismatch)
            );
        }
    }

    #[test]
    fn every_single_bit_flip_is_caught() {
        let frame = encode(b"the quick brown fox", 8, SALT);
        for bit in 0..(RECORD_HEADER_BYTES + 19) * 8 {
            let mut bad = frame.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert!(
                verify_frame(&bad, 19, 8, SALT).is_err(),
                "flip of bit {bit} went unnoticed"
            );
        }
    }

    #[test]
    fn absurd_length_is_refused_before_allocation() {
        let mut frame = encode(b"x", 0, SALT);
        frame[..4].copy_from_slice(&(3u32 << 30).to_le_bytes());
        let header = Header::decode(&frame).unwrap();
        assert!(matches!(
            header.check_len(u64::MAX),
            Err(RecordDefect::LengthTooLarge { .. })
        ));
    }
}
