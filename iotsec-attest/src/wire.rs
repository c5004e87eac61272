//! Bounded big-endian reader for TPM 2.0 marshalled structures (TPM 2.0 Part 2 §4-§5, Part 1
//! §18: canonical big-endian, size-prefixed TPM2B buffers).

use crate::error::ParseError;

/// A cursor over borrowed input: every read is checked against what remains.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    input: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(input: &'a [u8]) -> Self {
        Reader { input }
    }

    /// The unread input.
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.input
    }

    pub(crate) fn bytes(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], ParseError> {
        if n > self.input.len() {
            return Err(ParseError::Truncated {
                field,
                needed: n,
                remaining: self.input.len(),
            });
        }
        let (head, tail) = self.input.split_at(n);
        self.input = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], ParseError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N, field)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, ParseError> {
        Ok(self.array::<1>(field)?[0])
    }

    pub(crate) fn u16(&mut self, field: &'static str) -> Result<u16, ParseError> {
        Ok(u16::from_be_bytes(self.array(field)?))
    }

    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, ParseError> {
        Ok(u32::from_be_bytes(self.array(field)?))
    }

    pub(crate) fn u64(&mut self, field: &'static str) -> Result<u64, ParseError> {
        Ok(u64::from_be_bytes(self.array(field)?))
    }

    pub(crate) fn u16_le(&mut self, field: &'static str) -> Result<u16, ParseError> {
        Ok(u16::from_le_bytes(self.array(field)?))
    }

    pub(crate) fn u32_le(&mut self, field: &'static str) -> Result<u32, ParseError> {
        Ok(u32::from_le_bytes(self.array(field)?))
    }

    /// A TPM2B: a u16 size then that many bytes, the size checked against `cap` first.
    pub(crate) fn sized(
        &mut self,
        field: &'static str,
        cap: usize,
    ) -> Result<&'a [u8], ParseError> {
        let size = usize::from(self.u16(field)?);
        if size > cap {
            return Err(ParseError::SizeExceeded { field, size, cap });
        }
        self.bytes(size, field)
    }

    pub(crate) fn yes_no(&mut self, field: &'static str) -> Result<bool, ParseError> {
        match self.u8(field)? {
            0 => Ok(false),
            1 => Ok(true),
            value => Err(ParseError::NotABoolean { field, value }),
        }
    }

    /// Ends parsing: any byte left is an error.
    pub(crate) fn finish(self, structure: &'static str) -> Result<(), ParseError> {
        if self.input.is_empty() {
            Ok(())
        } else {
            Err(ParseError::TrailingBytes {
                structure,
                count: self.input.len(),
            })
        }
    }
}

/// Left-pads a big-endian integer to `N` bytes; `None` when it is longer.
pub(crate) fn left_pad<const N: usize>(v: &[u8]) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    let start = N.checked_sub(v.len())?;
    out.get_mut(start..)?.copy_from_slice(v);
    Some(out)
}

/// Appends `data` as a TPM2B (16-bit big-endian size, then the bytes).
#[cfg(feature = "alloc")]
pub(crate) fn put_sized(out: &mut alloc::vec::Vec<u8>, data: &[u8]) {
    out.extend_from_slice(&(data.len() as u16).to_be_bytes());
    out.extend_from_slice(data);
}
