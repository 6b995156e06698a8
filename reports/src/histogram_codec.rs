//! The histogram's JSON payload: HdrHistogram's V2 binary encoding (uncompressed, so the bytes
//! depend only on the counts, never on a compressor's version), in standard base64.
//!
//! Decoding checks the V2 header and walks the counts before handing the bytes to hdrhistogram,
//! because its decoder trusts the declared payload length (it allocates it) and would panic on
//! some malformed counts; a corrupt report file must give a typed error instead.

use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hdrhistogram::serialization::{Deserializer, Serializer as _, V2Serializer};
use hdrhistogram::Histogram;

/// Cookie that opens an uncompressed V2 histogram (hdrhistogram's `V2_COOKIE`).
const V2_COOKIE: u32 = 0x1c84_9303 | 0x10;
/// Cookie of the deflate-compressed V2 form, which we never write and refuse to read.
const V2_COMPRESSED_COOKIE: u32 = 0x1c84_9304 | 0x10;
/// Bytes in a V2 header: cookie, payload length, normalizing offset, significant digits (4 each),
/// lowest and highest trackable value (8 each), integer-to-double ratio (8).
const V2_HEADER_LEN: usize = 40;
/// Longest LEB128-64b9B varint: 8 bytes of 7 bits, then one of 8.
const VARINT_MAX_LEN: usize = 9;
/// Largest total count accepted from a payload. hdrhistogram sums counts without overflow checks
/// when computing percentiles, so a corrupt total near u64::MAX would panic there; no simulation
/// records 2^63 latencies.
const MAX_TOTAL_COUNT: u64 = i64::MAX as u64;

/// Why a histogram payload could not be read back.
#[derive(Debug)]
pub enum HistogramDecodeError {
    /// The payload is not valid base64.
    Base64(base64::DecodeError),
    /// Fewer bytes than a V2 header.
    TooShort { len: usize },
    /// The first four bytes are not the uncompressed V2 cookie.
    UnknownCookie { found: u32 },
    /// The header's payload length disagrees with the bytes present.
    PayloadLengthMismatch { declared: u64, actual: u64 },
    /// A V2 feature this crate never writes (normalizing offset, integer-to-double ratio).
    UnsupportedFeature { what: &'static str },
    /// The histogram was recorded with bounds other than [`crate::LatencyHistogram`]'s, so adding
    /// it to ours would not be exact.
    WrongBounds {
        lowest: u64,
        highest: u64,
        significant_digits: u32,
    },
    /// The run-length-encoded counts are malformed.
    MalformedCounts { offset: usize, reason: &'static str },
    /// hdrhistogram's own decoder refused the bytes.
    Decoder(hdrhistogram::serialization::DeserializeError),
}

impl fmt::Display for HistogramDecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Base64(e) => write!(f, "histogram payload is not valid base64: {e}"),
            Self::TooShort { len } => write!(
                f,
                "histogram payload is {len} bytes, shorter than the {V2_HEADER_LEN}-byte V2 header"
            ),
            Self::UnknownCookie { found } if *found == V2_COMPRESSED_COOKIE => write!(
                f,
                "histogram payload is deflate-compressed V2; only uncompressed V2 is accepted"
            ),
            Self::UnknownCookie { found } => write!(
                f,
                "histogram payload starts with cookie {found:#010x}, not the V2 cookie {V2_COOKIE:#010x}"
            ),
            Self::PayloadLengthMismatch { declared, actual } => write!(
                f,
                "histogram header declares {declared} bytes of counts but {actual} follow"
            ),
            Self::UnsupportedFeature { what } => {
                write!(f, "histogram payload uses an unsupported V2 feature: {what}")
            }
            Self::WrongBounds {
                lowest,
                highest,
                significant_digits,
            } => write!(
                f,
                "histogram bounds are [{lowest}, {highest}] with {significant_digits} significant digits; \
                 expected [{}, {}] with {}",
                crate::histogram::LATENCY_LOWEST_US,
                crate::histogram::LATENCY_HIGHEST_US,
                crate::histogram::LATENCY_SIGNIFICANT_DIGITS
            ),
            Self::MalformedCounts { offset, reason } => {
                write!(f, "histogram counts are malformed at byte {offset}: {reason}")
            }
            Self::Decoder(e) => write!(f, "histogram decoder refused the payload: {e}"),
        }
    }
}

impl std::error::Error for HistogramDecodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Base64(e) => Some(e),
            Self::Decoder(e) => Some(e),
            _ => None,
        }
    }
}

/// Why a histogram could not be encoded (only a count above `i64::MAX`, which V2's zig-zag
/// encoding cannot carry).
#[derive(Debug)]
pub struct HistogramEncodeError(hdrhistogram::serialization::V2SerializeError);

impl fmt::Display for HistogramEncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "histogram could not be V2-encoded: {}", self.0)
    }
}

impl std::error::Error for HistogramEncodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// Encodes `hist` as base64 of its uncompressed V2 bytes.
pub(crate) fn encode(hist: &Histogram<u64>) -> Result<String, HistogramEncodeError> {
    let mut bytes = Vec::new();
    V2Serializer::new()
        .serialize(hist, &mut bytes)
        .map_err(HistogramEncodeError)?;
    Ok(BASE64.encode(bytes))
}

/// Decodes a payload written by [`encode`], accepting only our histogram bounds.
pub(crate) fn decode(payload: &str) -> Result<Histogram<u64>, HistogramDecodeError> {
    let bytes = BASE64
        .decode(payload.trim())
        .map_err(HistogramDecodeError::Base64)?;
    check_header(&bytes)?;
    check_counts(&bytes[V2_HEADER_LEN..])?;
    Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(HistogramDecodeError::Decoder)
}

fn be_u32(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_be_bytes(word)
}

fn be_u64(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_be_bytes(word)
}

/// Checks everything in the fixed header; `bytes` is the whole V2 encoding.
fn check_header(bytes: &[u8]) -> Result<(), HistogramDecodeError> {
    if bytes.len() < V2_HEADER_LEN {
        return Err(HistogramDecodeError::TooShort { len: bytes.len() });
    }
    let cookie = be_u32(bytes, 0);
    if cookie != V2_COOKIE {
        return Err(HistogramDecodeError::UnknownCookie { found: cookie });
    }
    let declared = u64::from(be_u32(bytes, 4));
    let actual = (bytes.len() - V2_HEADER_LEN) as u64;
    if declared != actual {
        return Err(HistogramDecodeError::PayloadLengthMismatch { declared, actual });
    }
    if be_u32(bytes, 8) != 0 {
        return Err(HistogramDecodeError::UnsupportedFeature {
            what: "non-zero normalizing index offset",
        });
    }
    let significant_digits = be_u32(bytes, 12);
    let lowest = be_u64(bytes, 16);
    let highest = be_u64(bytes, 24);
    if lowest != crate::histogram::LATENCY_LOWEST_US
        || highest != crate::histogram::LATENCY_HIGHEST_US
        || significant_digits != u32::from(crate::histogram::LATENCY_SIGNIFICANT_DIGITS)
    {
        return Err(HistogramDecodeError::WrongBounds {
            lowest,
            highest,
            significant_digits,
        });
    }
    if f64::from_bits(be_u64(bytes, 32)) != 1.0 {
        return Err(HistogramDecodeError::UnsupportedFeature {
            what: "integer-to-double conversion ratio other than 1",
        });
    }
    Ok(())
}

/// Walks the zig-zag varint counts: a negative number is a run of that many empty slots, any
/// other is one slot's count. Rejects what would make hdrhistogram's decoder panic (a run of
/// `i64::MIN`) and counts past the end of our histogram's slots.
fn check_counts(counts: &[u8]) -> Result<(), HistogramDecodeError> {
    let slots = crate::histogram::slot_count();
    let mut offset = 0usize;
    let mut slot = 0u64;
    let mut total = 0u64;
    while offset < counts.len() {
        let start = offset;
        let (encoded, used) =
            read_varint(&counts[offset..]).ok_or(HistogramDecodeError::MalformedCounts {
                offset: start,
                reason: "truncated varint",
            })?;
        offset += used;
        let decoded = ((encoded >> 1) as i64) ^ -((encoded & 1) as i64);
        let step = if decoded < 0 {
            decoded.checked_neg().map(|run| run as u64).ok_or(
                HistogramDecodeError::MalformedCounts {
                    offset: start,
                    reason: "run of empty slots overflows",
                },
            )?
        } else {
            1
        };
        slot = slot
            .checked_add(step)
            .ok_or(HistogramDecodeError::MalformedCounts {
                offset: start,
                reason: "slot index overflows",
            })?;
        if decoded > 0 {
            if slot > slots as u64 {
                return Err(HistogramDecodeError::MalformedCounts {
                    offset: start,
                    reason: "count beyond the histogram's last slot",
                });
            }
            total = total
                .checked_add(decoded as u64)
                .filter(|t| *t <= MAX_TOTAL_COUNT)
                .ok_or(HistogramDecodeError::MalformedCounts {
                    offset: start,
                    reason: "total count exceeds 2^63 - 1",
                })?;
        }
    }
    Ok(())
}

/// Reads one LEB128-64b9B varint; `None` if the bytes end inside it.
fn read_varint(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, &byte) in bytes.iter().take(VARINT_MAX_LEN).enumerate() {
        if i == VARINT_MAX_LEN - 1 {
            // The ninth byte carries 8 value bits and no continuation flag.
            value |= u64::from(byte) << (7 * 8);
            return Some((value, VARINT_MAX_LEN));
        }
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_reads_one_and_nine_byte_forms() {
        assert_eq!(read_varint(&[0x05]), Some((5, 1)));
        assert_eq!(read_varint(&[0x80 | 0x01, 0x02]), Some((1 | (2 << 7), 2)));
        let nine = [0xff; 9];
        assert_eq!(read_varint(&nine), Some((u64::MAX, 9)));
        assert_eq!(read_varint(&[0x80]), None);
    }

    #[test]
    fn total_count_overflow_is_rejected() {
        // Two slots holding i64::MAX each (zig-zag u64::MAX - 1).
        let mut counts = vec![0xfe];
        counts.extend([0xff; 8]);
        counts.extend_from_slice(&counts.clone());
        let err = check_counts(&counts).unwrap_err();
        assert!(matches!(
            err,
            HistogramDecodeError::MalformedCounts { offset: 9, .. }
        ));
        assert!(check_counts(&counts[..9]).is_ok());
    }

    #[test]
    fn run_of_i64_min_is_rejected_not_panicking() {
        // zig-zag of i64::MIN is u64::MAX: nine 0xff bytes.
        let err = check_counts(&[0xff; 9]).unwrap_err();
        assert!(matches!(
            err,
            HistogramDecodeError::MalformedCounts { offset: 0, .. }
        ));
    }
}
