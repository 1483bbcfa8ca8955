//! Caller-owned output buffers for the encoders.
//!
//! Every encoder in the crate writes through [`Sink`], so one encoder serves a
//! fixed stack buffer on a microcontroller ([`SliceSink`]), a `Vec<u8>`, or any
//! [`bytes::BufMut`] (feature `bytes`). A sink never grows past what its owner
//! allows: a full [`SliceSink`] returns [`ErrorKind::BufferFull`] instead of
//! panicking, and so does a `BufMut` with no room left.

use crate::error::{Error, ErrorKind, Result};

mod in_place;
pub use in_place::InPlace;

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

    /// Appends `len` bytes written in place by `fill`, straight into the
    /// sink's memory. This is the shape of an encoded frame: a short
    /// envelope assembled from many small pieces, and a payload copied
    /// once, go in without a `put` (and its checks) per piece and without a
    /// scratch buffer.
    ///
    /// The bytes are kept only if `fill` writes exactly `len` of them
    /// ([`InPlace::filled`]); otherwise, and when the sink cannot hand out
    /// `len` contiguous bytes now (the default), this returns `Ok(false)`
    /// having kept nothing, and the caller writes with [`put`](Self::put)
    /// instead. Fails like `put` when `len` bytes cannot fit at all.
    ///
    /// ```
    /// use phoenix_wire::{Sink, SliceSink};
    ///
    /// let mut storage = [0u8; 8];
    /// let mut sink = SliceSink::new(&mut storage);
    /// assert!(sink.put_in_place(5, &mut |room| {
    ///     room.put(b"abc");
    ///     room.put(b"de");
    /// })?);
    /// assert_eq!(sink.written(), b"abcde");
    /// // Two bytes asked for, one written: nothing kept.
    /// assert!(!sink.put_in_place(2, &mut |room| room.put_u8(b'f'))?);
    /// assert_eq!(sink.written(), b"abcde");
    /// # Ok::<(), phoenix_wire::Error>(())
    /// ```
    #[inline]
    fn put_in_place(&mut self, len: usize, fill: &mut dyn FnMut(&mut InPlace<'_>)) -> Result<bool> {
        let _ = (len, fill);
        Ok(false)
    }

    /// Appends `head` and then `data`, exactly as `put(head)` then
    /// `put(data)` would, failing as they would. A tag and length before
    /// the bytes of an atom name: sinks that can write both into their
    /// memory at once (a `Vec`, any `BufMut` with the room) do, with one
    /// room check instead of two and no `memcpy` call for a short `data`.
    ///
    /// ```
    /// use phoenix_wire::{ErrorKind, Sink, SliceSink};
    ///
    /// let mut out = Vec::new();
    /// out.put_pair(&[119, 2], b"ok")?;
    /// assert_eq!(out, [119, 2, b'o', b'k']);
    ///
    /// // Room for the head only: the head is kept, as by two puts.
    /// let mut storage = [0u8; 3];
    /// let mut sink = SliceSink::new(&mut storage);
    /// let err = sink.put_pair(&[100, 0, 2], b"ok").unwrap_err();
    /// assert_eq!((err.kind(), sink.written()), (ErrorKind::BufferFull, &[100, 0, 2][..]));
    /// # Ok::<(), phoenix_wire::Error>(())
    /// ```
    #[inline]
    fn put_pair(&mut self, head: &[u8], data: &[u8]) -> Result<()> {
        self.put(head)?;
        self.put(data)
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
    #[inline]
    pub fn new(buf: &'a mut [u8]) -> SliceSink<'a> {
        SliceSink { buf, len: 0 }
    }

    /// How many bytes have been written.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing has been written yet.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes written so far.
    #[inline]
    pub fn written(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Gives back the written part of the buffer, for the buffer's lifetime.
    #[inline]
    pub fn into_written(self) -> &'a mut [u8] {
        &mut self.buf[..self.len]
    }
}

impl Sink for SliceSink<'_> {
    #[inline(always)]
    fn put(&mut self, bytes: &[u8]) -> Result<()> {
        let end = self.len + bytes.len();
        match self.buf.get_mut(self.len..end) {
            Some(dst) => {
                // Short pieces as one or two stores, not a memcpy call.
                InPlace::over_init(dst).put(bytes);
                self.len = end;
                Ok(())
            }
            None => Err(Error::new(ErrorKind::BufferFull, self.len)),
        }
    }

    #[inline]
    fn put_in_place(&mut self, len: usize, fill: &mut dyn FnMut(&mut InPlace<'_>)) -> Result<bool> {
        let end = self.len + len;
        let dst = self
            .buf
            .get_mut(self.len..end)
            .ok_or(Error::new(ErrorKind::BufferFull, self.len))?;
        let mut room = InPlace::over_init(dst);
        fill(&mut room);
        if !room.filled() {
            return Ok(false);
        }
        self.len = end;
        Ok(true)
    }
}

#[cfg(all(feature = "alloc", not(feature = "bytes")))]
impl Sink for alloc::vec::Vec<u8> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) -> Result<()> {
        self.extend_from_slice(bytes);
        Ok(())
    }

    #[inline]
    fn put_in_place(&mut self, len: usize, fill: &mut dyn FnMut(&mut InPlace<'_>)) -> Result<bool> {
        Ok(in_place::fill_vec(self, len, fill))
    }

    #[inline(always)]
    fn put_pair(&mut self, head: &[u8], data: &[u8]) -> Result<()> {
        in_place::pair_vec(self, head, data);
        Ok(())
    }
}

#[cfg(feature = "bytes")]
mod buf_mut;
