//! The shared byte codec: big-endian integers and length-prefixed vectors, for writing
//! messages, and a bounds-checked reader for parsing the few formats tls-parser does not
//! cover (SSLv2, extension blocks).
//!
//! Writers cannot fail on their own; a length that does not fit its prefix is reported by
//! [`Writer::finish`] so that builders check once, at the end, instead of at every push.

/// A growable output buffer with TLS-style encoders.
#[derive(Debug, Default)]
pub struct Writer {
    buf: Vec<u8>,
    /// Set when a length prefix could not hold its vector; the output is then unusable.
    overflow: bool,
}

/// A vector whose length did not fit its length prefix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a length-prefixed field is longer than its prefix allows")]
pub struct LengthOverflow;

impl Writer {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends one byte.
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }

    /// Appends a big-endian `u16`.
    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// Appends the low 24 bits of `v`, big-endian; larger values mark the writer overflowed.
    pub fn u24(&mut self, v: u32) -> &mut Self {
        if v > 0x00ff_ffff {
            self.overflow = true;
        }
        let [_, a, b, c] = v.to_be_bytes();
        self.buf.extend_from_slice(&[a, b, c]);
        self
    }

    /// Appends raw bytes.
    pub fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(v);
        self
    }

    /// Appends a vector with a one-byte length prefix, its body written by `body`.
    pub fn vec_u8(&mut self, body: impl FnOnce(&mut Writer)) -> &mut Self {
        self.prefixed(1, body)
    }

    /// Appends a vector with a two-byte length prefix, its body written by `body`.
    pub fn vec_u16(&mut self, body: impl FnOnce(&mut Writer)) -> &mut Self {
        self.prefixed(2, body)
    }

    /// Appends a vector with a three-byte length prefix, its body written by `body`.
    pub fn vec_u24(&mut self, body: impl FnOnce(&mut Writer)) -> &mut Self {
        self.prefixed(3, body)
    }

    fn prefixed(&mut self, width: usize, body: impl FnOnce(&mut Writer)) -> &mut Self {
        let mut inner = Writer::new();
        body(&mut inner);
        self.overflow |= inner.overflow;
        let len = inner.buf.len();
        let max = (1usize << (8 * width)) - 1;
        if len > max {
            self.overflow = true;
        }
        let be = (len as u64).to_be_bytes();
        // `be` is 8 bytes and width is 1..=3, so the range is in bounds.
        self.buf.extend_from_slice(be.get(8 - width..).unwrap_or_default());
        self.buf.extend_from_slice(&inner.buf);
        self
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The encoded bytes, or an error if any length prefix overflowed.
    pub fn finish(self) -> Result<Vec<u8>, LengthOverflow> {
        if self.overflow {
            Err(LengthOverflow)
        } else {
            Ok(self.buf)
        }
    }
}

/// A bounds-checked cursor over received bytes. Every read returns `None` instead of
/// panicking when the input is short, so parsers written with it are total.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `input`.
    pub fn new(input: &'a [u8]) -> Self {
        Self { rest: input }
    }

    /// Takes one byte.
    pub fn u8(&mut self) -> Option<u8> {
        let (&first, rest) = self.rest.split_first()?;
        self.rest = rest;
        Some(first)
    }

    /// Takes a big-endian `u16`.
    pub fn u16(&mut self) -> Option<u16> {
        let b = self.take(2)?;
        Some(u16::from_be_bytes([*b.first()?, *b.get(1)?]))
    }

    /// Takes a big-endian 24-bit integer.
    pub fn u24(&mut self) -> Option<u32> {
        let b = self.take(3)?;
        Some(u32::from_be_bytes([0, *b.first()?, *b.get(1)?, *b.get(2)?]))
    }

    /// Takes exactly `n` bytes.
    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.rest.len() {
            return None;
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Some(head)
    }

    /// Takes a vector with a two-byte length prefix.
    pub fn vec_u16(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }

    /// The bytes not yet read.
    pub fn rest(&self) -> &'a [u8] {
        self.rest
    }

    /// Whether every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_big_endian() {
        let mut w = Writer::new();
        w.u8(1).u16(0x0203).u24(0x040506);
        assert_eq!(w.finish().unwrap(), vec![1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn prefixed_vectors_carry_their_length() {
        let mut w = Writer::new();
        w.vec_u8(|w| {
            w.bytes(&[9, 9]);
        })
        .vec_u16(|w| {
            w.u8(7);
        })
        .vec_u24(|_| {});
        assert_eq!(w.finish().unwrap(), vec![2, 9, 9, 0, 1, 7, 0, 0, 0]);
    }

    #[test]
    fn overflowing_prefix_is_an_error() {
        let mut w = Writer::new();
        w.vec_u8(|w| {
            w.bytes(&[0; 256]);
        });
        assert_eq!(w.finish(), Err(LengthOverflow));
        let mut w = Writer::new();
        w.u24(0x0100_0000);
        assert_eq!(w.finish(), Err(LengthOverflow));
    }

    #[test]
    fn reader_never_reads_past_the_end() {
        let mut r = Reader::new(&[0, 3, 1, 2]);
        assert_eq!(r.vec_u16(), None);
        let mut r = Reader::new(&[0, 2, 1, 2, 5]);
        assert_eq!(r.vec_u16(), Some(&[1u8, 2][..]));
        assert_eq!(r.u16(), None);
        assert_eq!(r.u8(), Some(5));
        assert!(r.is_empty());
        assert_eq!(r.u24(), None);
    }
}
