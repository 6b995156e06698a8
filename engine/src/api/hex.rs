//! Lowercase hex for byte arrays in JSON (hashes, keys, signatures, evidence content).
//!
//! Decoding is strict: lowercase or uppercase digits, even length, and for fixed-size fields
//! exactly the field's length. Anything else is a serde error, which the JSON extractor answers
//! with 400: a byte that cannot be read exactly must not be guessed at, since every byte is
//! covered by a signature.

use std::fmt::Write as _;

use serde::{Deserialize, Deserializer, Serializer};

/// `bytes` as lowercase hex.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(2 * bytes.len());
    for b in bytes {
        // Writing into a String cannot fail.
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// The bytes `text` spells in hex.
pub fn decode(text: &str) -> Result<Vec<u8>, String> {
    let digits = text.as_bytes();
    if !digits.len().is_multiple_of(2) {
        return Err(format!("hex of odd length {}", digits.len()));
    }
    digits
        .chunks_exact(2)
        .map(|pair| Ok((nibble(pair[0])? << 4) | nibble(pair[1])?))
        .collect()
}

fn nibble(digit: u8) -> Result<u8, String> {
    match digit {
        b'0'..=b'9' => Ok(digit - b'0'),
        b'a'..=b'f' => Ok(digit - b'a' + 10),
        b'A'..=b'F' => Ok(digit - b'A' + 10),
        _ => Err(format!("{:?} is not a hex digit", char::from(digit))),
    }
}

/// Exactly `N` bytes from hex.
pub fn decode_fixed<const N: usize>(text: &str) -> Result<[u8; N], String> {
    let bytes = decode(text)?;
    let len = bytes.len();
    bytes
        .try_into()
        .map_err(|_| format!("expected {N} bytes of hex, got {len}"))
}

pub fn ser<S: Serializer>(bytes: impl AsRef<[u8]>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&encode(bytes.as_ref()))
}

pub fn ser_opt<S: Serializer>(bytes: &Option<[u8; 32]>, s: S) -> Result<S::Ok, S::Error> {
    match bytes {
        Some(b) => s.serialize_str(&encode(b)),
        None => s.serialize_none(),
    }
}

pub fn de_fixed<'de, D: Deserializer<'de>, const N: usize>(d: D) -> Result<[u8; N], D::Error> {
    let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
    decode_fixed(&text).map_err(serde::de::Error::custom)
}

pub fn de_opt_fixed<'de, D: Deserializer<'de>, const N: usize>(
    d: D,
) -> Result<Option<[u8; N]>, D::Error> {
    match <Option<std::borrow::Cow<'de, str>>>::deserialize(d)? {
        None => Ok(None),
        Some(text) => decode_fixed(&text)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

pub fn de_vec<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
    decode(&text).map_err(serde::de::Error::custom)
}
