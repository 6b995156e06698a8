//! `wal_frame`: any bytes through the WAL's frame decoder.
//!
//! Input: `[salt:u64 LE][at:u64 LE][frame bytes]`, where `at` is the global offset the frame is
//! read at and the room left in its segment is the frame bytes' length. Properties (from
//! `stemedb::wal::record`):
//! - a header decodes exactly when there are at least `RECORD_HEADER_BYTES`;
//! - a length is accepted only if it is at most `RECORD_PAYLOAD_BYTES_MAX` and the framed record
//!   fits the room, so nothing is ever allocated for an absurd length;
//! - a frame verifies only if it is byte for byte what the writer would have written for that
//!   payload at `at` under `salt` (so both checksums are the true ones), and then not at any other
//!   offset nor under any other salt.

use stemedb::wal::record::{encode, framed_bytes, Header};
use stemedb::wal::{RECORD_ALIGN_BYTES, RECORD_HEADER_BYTES, RECORD_PAYLOAD_BYTES_MAX};

use super::take_u64;

pub fn wal_frame(data: &[u8]) {
    let (salt, rest) = take_u64(data);
    let (at, frame) = take_u64(rest);
    let Some(header) = Header::decode(frame) else {
        assert!(
            frame.len() < RECORD_HEADER_BYTES,
            "a {}-byte frame has no header",
            frame.len()
        );
        return;
    };
    assert!(frame.len() >= RECORD_HEADER_BYTES);
    let room_bytes = frame.len() as u64;
    if header.check_len(room_bytes).is_err() {
        return;
    }
    assert!(
        header.len <= RECORD_PAYLOAD_BYTES_MAX,
        "length {} accepted",
        header.len
    );
    let framed = header.framed_bytes();
    assert_eq!(framed, framed_bytes(header.len));
    assert!(
        framed <= room_bytes,
        "a frame of {framed} bytes accepted in {room_bytes}"
    );
    let payload_end = RECORD_HEADER_BYTES + header.len as usize;
    let payload = &frame[RECORD_HEADER_BYTES..payload_end];
    if header.verify(payload, at, salt).is_err() {
        return;
    }
    let written = encode(payload, at, salt);
    assert_eq!(
        &written[..payload_end],
        &frame[..payload_end],
        "a frame verified that the writer would not have written"
    );
    assert_eq!(header.offset, at);
    assert!(
        header
            .verify(payload, at.wrapping_add(RECORD_ALIGN_BYTES), salt)
            .is_err(),
        "a frame verified at an offset it does not name"
    );
    assert!(
        header.verify(payload, at, salt ^ 1).is_err(),
        "a frame verified under another salt"
    );
    assert!(
        payload.is_empty() || header.verify(&payload[1..], at, salt).is_err(),
        "a frame verified with a payload of the wrong length"
    );
}
