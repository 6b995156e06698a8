//! Record format v2: `[len:u32][crc32c:u32][blake3:32][payload:len]` little endian, then zero
//! padding to the next 8-byte boundary.
//!
//! Fault model: any byte of a record may be torn (a crash mid-write), rotted (a flipped bit in
//! synced data) or zero (a dropped write leaves a hole). A record is valid only if its length is
//! plausible AND the crc32c over length, digest and payload matches AND the blake3 digest matches
//! the payload. All-zero bytes never verify (crc32c of zeros is not zero), so holes read as
//! invalid. The length is checked against [`RECORD_PAYLOAD_BYTES_MAX`] before anything is
//! allocated, so a torn header claiming gigabytes costs nothing.

use super::error::RecordDefect;

/// Bytes before the payload: length, crc32c, blake3 digest. 40 keeps payloads 8-byte aligned.
pub const RECORD_HEADER_BYTES: usize = 40;
/// Every record starts at a multiple of this (global offsets and segment bases alike).
pub const RECORD_ALIGN_BYTES: u64 = 8;
/// The largest payload a writer accepts and a reader believes (1 MiB).
pub const RECORD_PAYLOAD_BYTES_MAX: u32 = 1 << 20;

const LEN_BYTES: usize = 4;
const CRC_BYTES: usize = 4;
const DIGEST_BYTES: usize = 32;
const CRC_AT: usize = LEN_BYTES;
const DIGEST_AT: usize = LEN_BYTES + CRC_BYTES;

/// Bytes a record with this payload length occupies on disk, padding included.
pub fn framed_bytes(payload_len: u32) -> u64 {
    let unpadded = RECORD_HEADER_BYTES as u64 + u64::from(payload_len);
    unpadded.div_ceil(RECORD_ALIGN_BYTES) * RECORD_ALIGN_BYTES
}

/// Encodes one record with its padding. The caller has checked the length.
pub fn encode(payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    let digest = blake3::hash(payload);
    let len_bytes = len.to_le_bytes();
    let crc = crc_of(&len_bytes, digest.as_bytes(), payload);
    let total = usize::try_from(framed_bytes(len)).unwrap_or(usize::MAX);
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&len_bytes);
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(digest.as_bytes());
    out.extend_from_slice(payload);
    out.resize(total, 0);
    out
}

fn crc_of(len_bytes: &[u8], digest: &[u8], payload: &[u8]) -> u32 {
    let crc = crc32c::crc32c(len_bytes);
    let crc = crc32c::crc32c_append(crc, digest);
    crc32c::crc32c_append(crc, payload)
}

/// A decoded (not yet verified) header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub len: u32,
    crc: u32,
    digest: [u8; DIGEST_BYTES],
}

impl Header {
    /// Decodes the first [`RECORD_HEADER_BYTES`] of `bytes`; `None` if there are fewer.
    pub fn decode(bytes: &[u8]) -> Option<Header> {
        let header = bytes.get(..RECORD_HEADER_BYTES)?;
        let mut len = [0u8; LEN_BYTES];
        len.copy_from_slice(&header[..CRC_AT]);
        let mut crc = [0u8; CRC_BYTES];
        crc.copy_from_slice(&header[CRC_AT..DIGEST_AT]);
        let mut digest = [0u8; DIGEST_BYTES];
        digest.copy_from_slice(&header[DIGEST_AT..RECORD_HEADER_BYTES]);
        Some(Header {
            len: u32::from_le_bytes(len),
            crc: u32::from_le_bytes(crc),
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

    /// Verifies `payload` (exactly `len` bytes) against the crc32c and the blake3 digest.
    pub fn verify(&self, payload: &[u8]) -> Result<(), RecordDefect> {
        if payload.len() != self.len as usize {
            return Err(RecordDefect::Missing);
        }
        if crc_of(&self.len.to_le_bytes(), &self.digest, payload) != self.crc {
            return Err(RecordDefect::ChecksumMismatch);
        }
        if blake3::hash(payload).as_bytes() != &self.digest {
            return Err(RecordDefect::DigestMismatch);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_is_aligned_and_round_trips() {
        for len in [0usize, 1, 7, 8, 9, 100, 4096] {
            let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let frame = encode(&payload);
            assert_eq!(frame.len() as u64 % RECORD_ALIGN_BYTES, 0);
            assert_eq!(frame.len() as u64, framed_bytes(len as u32));
            let header = Header::decode(&frame).unwrap();
            assert_eq!(header.len as usize, len);
            header.check_len(frame.len() as u64).unwrap();
            let body = &frame[RECORD_HEADER_BYTES..RECORD_HEADER_BYTES + len];
            header.verify(body).unwrap();
            assert!(frame[RECORD_HEADER_BYTES + len..].iter().all(|&b| b == 0));
        }
    }

    #[test]
    fn zeros_never_verify() {
        let header = Header::decode(&[0u8; RECORD_HEADER_BYTES]).unwrap();
        assert_eq!(header.verify(&[]), Err(RecordDefect::ChecksumMismatch));
    }

    #[test]
    fn every_single_bit_flip_is_caught() {
        let frame = encode(b"the quick brown fox");
        for bit in 0..(RECORD_HEADER_BYTES + 19) * 8 {
            let mut bad = frame.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            let header = Header::decode(&bad).unwrap();
            let ok = header.check_len(bad.len() as u64).is_ok()
                && header
                    .verify(&bad[RECORD_HEADER_BYTES..RECORD_HEADER_BYTES + 19])
                    .is_ok();
            assert!(!ok, "flip of bit {bit} went unnoticed");
        }
    }

    #[test]
    fn absurd_length_is_refused_before_allocation() {
        let mut frame = encode(b"x");
        frame[..4].copy_from_slice(&(3u32 << 30).to_le_bytes());
        let header = Header::decode(&frame).unwrap();
        assert!(matches!(
            header.check_len(u64::MAX),
            Err(RecordDefect::LengthTooLarge { .. })
        ));
    }
}
