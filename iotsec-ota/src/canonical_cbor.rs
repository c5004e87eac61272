//! Bounded decoding of deterministically encoded CBOR (RFC 8949 §4.2.1), built on `minicbor`.
//!
//! `minicbor` decodes items; this layer adds what "core deterministic encoding" demands and what a
//! signature check relies on (one byte string must mean one value):
//!
//! - integers, lengths and tags use the shortest head (§4.2.1, "preferred serialization");
//! - indefinite-length items are rejected (§4.2.1);
//! - map keys are strictly increasing in bytewise order of their encodings, so duplicate keys
//!   (§5.6) and unsorted keys are both errors;
//! - every length is checked against a hard cap before the item is used, and trailing bytes
//!   after the top-level item are an error.
//!
//! The decoder never allocates and never recurses: schemas drive it item by item.

use minicbor::Decoder;

/// Why a CBOR input was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CborError {
    /// The input ended inside an item, or an item is not well-formed CBOR (RFC 8949 §3).
    #[error("malformed or truncated CBOR at byte {offset}")]
    Malformed {
        /// Byte offset of the item.
        offset: usize,
    },
    /// An integer, length or tag was not encoded in its shortest form (RFC 8949 §4.2.1).
    #[error("non-canonical CBOR at byte {offset}: head is not the shortest encoding")]
    NonShortestHead {
        /// Byte offset of the item.
        offset: usize,
    },
    /// An indefinite-length item, which deterministic encoding forbids (RFC 8949 §4.2.1).
    #[error("non-canonical CBOR at byte {offset}: indefinite length")]
    IndefiniteLength {
        /// Byte offset of the item.
        offset: usize,
    },
    /// An item of another major type than the schema expects.
    #[error("unexpected CBOR item at byte {offset}: expected {expected}")]
    UnexpectedType {
        /// Byte offset of the item.
        offset: usize,
        /// What the schema expected there.
        expected: &'static str,
    },
    /// A map key repeated (RFC 8949 §5.6: such a map is not valid).
    #[error("duplicate map key {key} at byte {offset}")]
    DuplicateKey {
        /// Byte offset of the key.
        offset: usize,
        /// The repeated key.
        key: i64,
    },
    /// Map keys not in deterministic (bytewise lexicographic) order (RFC 8949 §4.2.1).
    #[error("map key {key} at byte {offset} is out of canonical order")]
    UnsortedKeys {
        /// Byte offset of the key.
        offset: usize,
        /// The key out of order.
        key: i64,
    },
    /// A length or count larger than the hard cap for that field.
    #[error("length {length} at byte {offset} exceeds the cap of {cap}")]
    OverCap {
        /// Byte offset of the item.
        offset: usize,
        /// The encoded length or count.
        length: u64,
        /// The largest accepted.
        cap: u64,
    },
    /// A map key the schema does not know (fail closed: no silent extensions).
    #[error("unknown map key {key} at byte {offset}")]
    UnknownKey {
        /// Byte offset of the key.
        offset: usize,
        /// The key.
        key: i64,
    },
    /// A mandatory map key is absent.
    #[error("missing mandatory map key {key}")]
    MissingKey {
        /// The key.
        key: i64,
    },
    /// A value outside its allowed range or form (wrong length digest, bad text, ...).
    #[error("invalid value at byte {offset}: {reason}")]
    InvalidValue {
        /// Byte offset of the item.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// Bytes follow the top-level item.
    #[error("{extra} trailing bytes after the CBOR item")]
    TrailingBytes {
        /// How many bytes follow.
        extra: usize,
    },
}

impl CborError {
    /// A stable snake_case code for the error, for logs and machine-readable output; codes never
    /// change and differ from every other error code of the crate.
    pub fn code(&self) -> &'static str {
        match self {
            CborError::Malformed { .. } => "cbor_malformed",
            CborError::NonShortestHead { .. } => "cbor_non_shortest_head",
            CborError::IndefiniteLength { .. } => "cbor_indefinite_length",
            CborError::UnexpectedType { .. } => "cbor_unexpected_type",
            CborError::DuplicateKey { .. } => "cbor_duplicate_key",
            CborError::UnsortedKeys { .. } => "cbor_unsorted_keys",
            CborError::OverCap { .. } => "cbor_over_cap",
            CborError::UnknownKey { .. } => "cbor_unknown_key",
            CborError::MissingKey { .. } => "cbor_missing_key",
            CborError::InvalidValue { .. } => "cbor_invalid_value",
            CborError::TrailingBytes { .. } => "cbor_trailing_bytes",
        }
    }

    /// Never: a document that is not canonical CBOR could not be read (bad input); the refusals are
    /// [`crate::Error`]'s.
    pub fn is_refusal(&self) -> bool {
        false
    }
}

const MAJOR_UNSIGNED: u8 = 0;
const MAJOR_NEGATIVE: u8 = 1;
const MAJOR_BYTES: u8 = 2;
const MAJOR_TEXT: u8 = 3;
const MAJOR_ARRAY: u8 = 4;
const MAJOR_MAP: u8 = 5;
const MAJOR_TAG: u8 = 6;
const SIMPLE_NULL: u8 = 0xf6;

/// Length in bytes of the shortest head encoding `argument` (RFC 8949 §3 / §4.2.1).
pub const fn shortest_head_len(argument: u64) -> usize {
    if argument < 24 {
        1
    } else if argument <= 0xff {
        2
    } else if argument <= 0xffff {
        3
    } else if argument <= 0xffff_ffff {
        5
    } else {
        9
    }
}

/// A decoder that accepts only deterministically encoded CBOR, within caps.
#[derive(Debug, Clone)]
pub struct CanonicalDecoder<'b> {
    inner: Decoder<'b>,
}

impl<'b> CanonicalDecoder<'b> {
    /// Starts decoding `input` at its first byte.
    pub fn new(input: &'b [u8]) -> Self {
        Self {
            inner: Decoder::new(input),
        }
    }

    /// Current byte offset.
    pub fn position(&self) -> usize {
        self.inner.position()
    }

    /// Fails unless the whole input was consumed.
    pub fn finish(&self) -> Result<(), CborError> {
        let extra = self.inner.input().len().saturating_sub(self.position());
        if extra == 0 {
            Ok(())
        } else {
            Err(CborError::TrailingBytes { extra })
        }
    }

    /// The initial byte of the next item, without consuming it.
    fn peek_initial(&self) -> Result<u8, CborError> {
        let offset = self.position();
        self.inner
            .input()
            .get(offset)
            .copied()
            .ok_or(CborError::Malformed { offset })
    }

    /// Checks the major type and that the head is definite; returns the item's offset.
    fn expect_major(&self, major: u8, expected: &'static str) -> Result<usize, CborError> {
        let offset = self.position();
        let initial = self.peek_initial()?;
        if initial >> 5 != major {
            return Err(CborError::UnexpectedType { offset, expected });
        }
        if initial & 0x1f == 31 {
            return Err(CborError::IndefiniteLength { offset });
        }
        Ok(offset)
    }

    fn check_head(&self, offset: usize, head_len: usize, argument: u64) -> Result<(), CborError> {
        if head_len == shortest_head_len(argument) {
            Ok(())
        } else {
            Err(CborError::NonShortestHead { offset })
        }
    }

    /// True when the next item is `null`.
    pub fn next_is_null(&self) -> bool {
        self.peek_initial() == Ok(SIMPLE_NULL)
    }

    /// Decodes `null`.
    pub fn null(&mut self) -> Result<(), CborError> {
        let offset = self.position();
        if self.peek_initial()? != SIMPLE_NULL {
            return Err(CborError::UnexpectedType {
                offset,
                expected: "null",
            });
        }
        self.inner
            .null()
            .map_err(|_| CborError::Malformed { offset })
    }

    /// Decodes an unsigned integer (major type 0).
    pub fn uint(&mut self) -> Result<u64, CborError> {
        let offset = self.expect_major(MAJOR_UNSIGNED, "unsigned integer")?;
        let value = self
            .inner
            .u64()
            .map_err(|_| CborError::Malformed { offset })?;
        self.check_head(offset, self.position() - offset, value)?;
        Ok(value)
    }

    /// Decodes an unsigned integer no larger than `max`.
    pub fn uint_at_most(&mut self, max: u64) -> Result<u64, CborError> {
        let offset = self.position();
        let value = self.uint()?;
        if value > max {
            return Err(CborError::OverCap {
                offset,
                length: value,
                cap: max,
            });
        }
        Ok(value)
    }

    /// Decodes an integer of major type 0 or 1 that fits an `i64`.
    pub fn int(&mut self) -> Result<i64, CborError> {
        let offset = self.position();
        let initial = self.peek_initial()?;
        match initial >> 5 {
            MAJOR_UNSIGNED => {
                let value = self.uint()?;
                i64::try_from(value).map_err(|_| CborError::InvalidValue {
                    offset,
                    reason: "integer out of range",
                })
            }
            MAJOR_NEGATIVE => {
                if initial & 0x1f == 31 {
                    return Err(CborError::IndefiniteLength { offset });
                }
                let value = self
                    .inner
                    .i64()
                    .map_err(|_| CborError::Malformed { offset })?;
                // A negative integer encodes n where value = -1 - n.
                let argument = (-1i128 - i128::from(value)) as u64;
                self.check_head(offset, self.position() - offset, argument)?;
                Ok(value)
            }
            _ => Err(CborError::UnexpectedType {
                offset,
                expected: "integer",
            }),
        }
    }

    /// Decodes a definite-length byte string of at most `cap` bytes, borrowed from the input.
    pub fn bytes(&mut self, cap: usize) -> Result<&'b [u8], CborError> {
        self.definite(MAJOR_BYTES, "byte string", cap, |d| d.bytes(), |v| v.len())
    }

    /// A definite-length string of major type `major` and at most `cap` bytes, read by `read`
    /// after its declared length was checked, and whose head must be the shortest for its
    /// length (`len`).
    fn definite<T>(
        &mut self,
        major: u8,
        expected: &'static str,
        cap: usize,
        read: impl FnOnce(&mut minicbor::Decoder<'b>) -> Result<T, minicbor::decode::Error>,
        len: impl Fn(&T) -> usize,
    ) -> Result<T, CborError> {
        let offset = self.expect_major(major, expected)?;
        self.check_declared_length(offset, cap)?;
        let value = read(&mut self.inner).map_err(|_| CborError::Malformed { offset })?;
        let n = len(&value);
        self.check_head(offset, self.position() - offset - n, n as u64)?;
        Ok(value)
    }

    /// Decodes a byte string of exactly `N` bytes.
    pub fn byte_array<const N: usize>(&mut self) -> Result<[u8; N], CborError> {
        let offset = self.position();
        let value = self.bytes(N)?;
        value.try_into().map_err(|_| CborError::InvalidValue {
            offset,
            reason: "byte string of the wrong length",
        })
    }

    /// Decodes a definite-length UTF-8 text string of at most `cap` bytes.
    pub fn text(&mut self, cap: usize) -> Result<&'b str, CborError> {
        self.definite(MAJOR_TEXT, "text string", cap, |d| d.str(), |v| v.len())
    }

    /// Decodes the head of a definite-length array of at most `cap` items; returns the count.
    pub fn array(&mut self, cap: usize) -> Result<usize, CborError> {
        let offset = self.expect_major(MAJOR_ARRAY, "array")?;
        let count = self.container_len(offset, cap, |d| d.array())?;
        Ok(count)
    }

    /// Decodes the head of an array that must hold exactly `count` items.
    pub fn array_exact(&mut self, count: usize) -> Result<(), CborError> {
        let offset = self.position();
        if self.array(count)? != count {
            return Err(CborError::InvalidValue {
                offset,
                reason: "array of the wrong length",
            });
        }
        Ok(())
    }

    /// Decodes the head of a definite-length map of at most `cap` entries and returns a reader
    /// that enforces canonical key order.
    pub fn map(&mut self, cap: usize) -> Result<MapKeys, CborError> {
        let offset = self.expect_major(MAJOR_MAP, "map")?;
        let remaining = self.container_len(offset, cap, |d| d.map())?;
        Ok(MapKeys {
            remaining,
            last: None,
        })
    }

    /// Decodes a tag (major type 6) and fails unless it is `expected`.
    pub fn expect_tag(&mut self, expected: u64) -> Result<(), CborError> {
        let offset = self.expect_major(MAJOR_TAG, "tag")?;
        let tag = self
            .inner
            .tag()
            .map_err(|_| CborError::Malformed { offset })?;
        let value = tag.as_u64();
        self.check_head(offset, self.position() - offset, value)?;
        if value != expected {
            return Err(CborError::InvalidValue {
                offset,
                reason: "unexpected tag",
            });
        }
        Ok(())
    }

    /// Rejects a declared length above the cap before the item's bytes are touched.
    fn check_declared_length(&self, offset: usize, cap: usize) -> Result<(), CborError> {
        let initial = self.peek_initial()?;
        let length = match initial & 0x1f {
            n @ 0..=23 => u64::from(n),
            24..=27 => head_argument(self.inner.input(), offset)?,
            _ => return Err(CborError::Malformed { offset }),
        };
        if length > cap as u64 {
            return Err(CborError::OverCap {
                offset,
                length,
                cap: cap as u64,
            });
        }
        Ok(())
    }

    fn container_len(
        &mut self,
        offset: usize,
        cap: usize,
        read: impl FnOnce(&mut Decoder<'b>) -> Result<Option<u64>, minicbor::decode::Error>,
    ) -> Result<usize, CborError> {
        let count = read(&mut self.inner)
            .map_err(|_| CborError::Malformed { offset })?
            .ok_or(CborError::IndefiniteLength { offset })?;
        self.check_head(offset, self.position() - offset, count)?;
        if count > cap as u64 {
            return Err(CborError::OverCap {
                offset,
                length: count,
                cap: cap as u64,
            });
        }
        // Each item takes at least one byte: a count beyond the remaining input is a lie.
        let left = self.inner.input().len().saturating_sub(self.position()) as u64;
        if count > left {
            return Err(CborError::Malformed { offset });
        }
        Ok(count as usize)
    }

    /// Skips nothing: every field must be understood. Decodes the next map key of `keys`,
    /// enforcing strictly increasing order; `None` once the map is exhausted.
    pub fn next_key(&mut self, keys: &mut MapKeys) -> Result<Option<(usize, i64)>, CborError> {
        if keys.remaining == 0 {
            return Ok(None);
        }
        keys.remaining -= 1;
        let offset = self.position();
        let initial = self.peek_initial()?;
        let key = self.int()?;
        // Bytewise order of encodings: all unsigned keys sort before negative ones, and
        // within a major type shorter heads (smaller magnitudes) sort first.
        let rank = (initial >> 5, if key < 0 { -1 - key } else { key });
        if let Some(last) = keys.last {
            if rank == last {
                return Err(CborError::DuplicateKey { offset, key });
            }
            if rank < last {
                return Err(CborError::UnsortedKeys { offset, key });
            }
        }
        keys.last = Some(rank);
        Ok(Some((offset, key)))
    }
}

// Used by the SUIT schema (`suit::command_sequence`): `true` as a component index and items
// that are either a bstr or a SUIT_Digest.
impl CanonicalDecoder<'_> {
    /// The major type (0..=7) of the next item, without consuming it.
    pub fn peek_major(&self) -> Result<u8, CborError> {
        Ok(self.peek_initial()? >> 5)
    }

    /// Decodes `true` or `false`.
    pub fn bool(&mut self) -> Result<bool, CborError> {
        let offset = self.position();
        let value = match self.peek_initial()? {
            0xf4 => false,
            0xf5 => true,
            _ => {
                return Err(CborError::UnexpectedType {
                    offset,
                    expected: "bool",
                });
            }
        };
        self.inner
            .bool()
            .map_err(|_| CborError::Malformed { offset })?;
        Ok(value)
    }
}

/// The argument of a head whose additional information is 24..=27.
fn head_argument(input: &[u8], offset: usize) -> Result<u64, CborError> {
    let malformed = CborError::Malformed { offset };
    let initial = *input.get(offset).ok_or(malformed)?;
    let width = match initial & 0x1f {
        24 => 1,
        25 => 2,
        26 => 4,
        27 => 8,
        _ => return Err(malformed),
    };
    let start = offset + 1;
    let bytes = input.get(start..start + width).ok_or(malformed)?;
    Ok(bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
}

/// Progress through a map's keys; see [`CanonicalDecoder::next_key`].
#[derive(Debug, Clone, Copy)]
pub struct MapKeys {
    remaining: usize,
    last: Option<(u8, i64)>,
}

/// Tracks which mandatory keys of a schema were seen.
#[derive(Debug, Clone, Copy, Default)]
pub struct SeenKeys(u32);

impl SeenKeys {
    /// Records `key` (0..32).
    pub fn mark(&mut self, key: i64) {
        if (0..32).contains(&key) {
            self.0 |= 1 << key;
        }
    }

    /// Fails with [`CborError::MissingKey`] for the first key of `mandatory` not seen.
    pub fn require(&self, mandatory: &[i64]) -> Result<(), CborError> {
        for &key in mandatory {
            if !(0..32).contains(&key) || self.0 & (1 << key) == 0 {
                return Err(CborError::MissingKey { key });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortest_integers_are_accepted_and_longer_ones_refused() {
        assert_eq!(CanonicalDecoder::new(&[0x17]).uint(), Ok(23));
        assert_eq!(CanonicalDecoder::new(&[0x18, 0x18]).uint(), Ok(24));
        assert_eq!(
            CanonicalDecoder::new(&[0x18, 0x17]).uint(),
            Err(CborError::NonShortestHead { offset: 0 })
        );
        assert_eq!(
            CanonicalDecoder::new(&[0x19, 0x00, 0xff]).uint(),
            Err(CborError::NonShortestHead { offset: 0 })
        );
        assert_eq!(
            CanonicalDecoder::new(&[0x3b, 0, 0, 0, 0, 0, 0, 0, 7]).int(),
            Err(CborError::NonShortestHead { offset: 0 })
        );
        assert_eq!(CanonicalDecoder::new(&[0x27]).int(), Ok(-8));
    }

    #[test]
    fn indefinite_lengths_are_refused() {
        assert_eq!(
            CanonicalDecoder::new(&[0x5f, 0x41, 0x00, 0xff]).bytes(8),
            Err(CborError::IndefiniteLength { offset: 0 })
        );
        assert_eq!(
            CanonicalDecoder::new(&[0x9f, 0xff]).array(8),
            Err(CborError::IndefiniteLength { offset: 0 })
        );
        assert_eq!(
            CanonicalDecoder::new(&[0xbf, 0xff]).map(8).map(|_| ()),
            Err(CborError::IndefiniteLength { offset: 0 })
        );
    }

    #[test]
    fn non_shortest_lengths_are_refused() {
        assert_eq!(
            CanonicalDecoder::new(&[0x58, 0x01, 0xaa]).bytes(8),
            Err(CborError::NonShortestHead { offset: 0 })
        );
        assert_eq!(
            CanonicalDecoder::new(&[0x98, 0x01, 0x00]).array(8),
            Err(CborError::NonShortestHead { offset: 0 })
        );
    }

    #[test]
    fn caps_apply_before_the_bytes_are_read() {
        // Claims 4 GiB of bytes in a 5-byte input.
        assert_eq!(
            CanonicalDecoder::new(&[0x5a, 0xff, 0xff, 0xff, 0xff]).bytes(64),
            Err(CborError::OverCap {
                offset: 0,
                length: 0xffff_ffff,
                cap: 64
            })
        );
    }

    #[test]
    fn map_keys_must_increase() {
        let mut d = CanonicalDecoder::new(&[0xa2, 0x01, 0x00, 0x01, 0x00]);
        let mut keys = d.map(4).unwrap();
        assert_eq!(d.next_key(&mut keys), Ok(Some((1, 1))));
        d.uint().unwrap();
        assert_eq!(
            d.next_key(&mut keys),
            Err(CborError::DuplicateKey { offset: 3, key: 1 })
        );
        let mut d = CanonicalDecoder::new(&[0xa2, 0x02, 0x00, 0x01, 0x00]);
        let mut keys = d.map(4).unwrap();
        d.next_key(&mut keys).unwrap();
        d.uint().unwrap();
        assert_eq!(
            d.next_key(&mut keys),
            Err(CborError::UnsortedKeys { offset: 3, key: 1 })
        );
        // Unsigned keys sort before negative ones (0x01 < 0x20).
        let mut d = CanonicalDecoder::new(&[0xa2, 0x20, 0x00, 0x01, 0x00]);
        let mut keys = d.map(4).unwrap();
        d.next_key(&mut keys).unwrap();
        d.uint().unwrap();
        assert_eq!(
            d.next_key(&mut keys),
            Err(CborError::UnsortedKeys { offset: 3, key: 1 })
        );
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let mut d = CanonicalDecoder::new(&[0x01, 0x02]);
        d.uint().unwrap();
        assert_eq!(d.finish(), Err(CborError::TrailingBytes { extra: 1 }));
    }
}
