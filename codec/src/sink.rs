//! Caller-owned output buffers for the encoders.
//!
//! Every encoder in the crate writes through [`Sink`], so one encoder serves a
//! fixed stack buffer on a microcontroller ([`SliceSink`]), a `Vec<u8>`, or any
//! [`bytes::BufMut`] (feature `bytes`). A sink never grows past what its owner
//! allows: a full [`SliceSink`] returns [`ErrorKind::BufferFull`] instead of
//! panicking, and so does a `BufMut` with no room left.

use crate::error::{Error, ErrorKind, Result};

/// A destination for encoded bytes.
///
/// Encoders take `&mut S` where `S: Sink + ?Sized`. The offset in a
/// [`BufferFull`](ErrorKind::BufferFull) error from a [`SliceSink`] is the
/// number of bytes it had accepted when it ran out of room (0 for a `BufMut`,
/// which does not say).
pub trait Sink {
    /// Appends `bytes`, or fails without writing anything if they do not fit.
    fn put(&mut self, bytes: &[u8]) -> Result<()>;

    /// Appends one byte.
    #[inline]
    fn put_u8(&mut self, byte: u8) -> Result<()> {
        self.put(&[byte])
    }
}

/// Writes into a fixed slice; for `no_std` targets without an allocator.
///
/// ```
/// use phoenix_wire::{Sink, SliceSink};
///
/// let mut storage = [0u8; 4];
/// let mut sink = SliceSink::new(&mut storage);
/// sink.put(b"abc").unwrap();
/// assert_eq!(sink.written(), b"abc");
/// assert!(sink.put(b"de").is_err()); // no room: nothing written, no panic
/// assert_eq!(sink.len(), 3);
/// ```
#[derive(Debug)]
pub struct SliceSink<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> SliceSink<'a> {
    /// A sink that fills `buf` from the start.
    pub fn new(buf: &'a mut [u8]) -> SliceSink<'a> {
        SliceSink { buf, len: 0 }
    }

    /// How many bytes have been written.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing has been written yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes written so far.
    pub fn written(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Gives back the written part of the buffer, for the buffer's lifetime.
    pub fn into_written(self) -> &'a mut [u8] {
        &mut self.buf[..self.len]
    }
}

impl Sink for SliceSink<'_> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) -> Result<()> {
        let end = self.len + bytes.len();
        match self.buf.get_mut(self.len..end) {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                self.len = end;
                Ok(())
            }
            None => Err(Error::new(ErrorKind::BufferFull, self.len)),
        }
    }
}

#[cfg(all(feature = "alloc", not(feature = "bytes")))]
impl Sink for alloc::vec::Vec<u8> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) -> Result<()> {
        self.extend_from_slice(bytes);
        Ok(())
    }
}

// With `bytes`, every `BufMut` is a sink, `Vec<u8>` and `BytesMut` included.
#[cfg(feature = "bytes")]
impl<B: bytes::BufMut> Sink for B {
    #[inline]
    fn put(&mut self, bytes: &[u8]) -> Result<()> {
        // `BufMut::put_slice` panics when the buffer cannot take the bytes.
        if self.remaining_mut() < bytes.len() {
            return Err(Error::new(ErrorKind::BufferFull, 0));
        }
        self.put_slice(bytes);
        Ok(())
    }
}
