//! Every `bytes::BufMut` is a sink (feature `bytes`), `Vec<u8>` and
//! `BytesMut` included.
//!
//! One of the two modules of the encoders with `unsafe`:
//! [`Sink::put_in_place`] writes into the spare room a `BufMut` hands out
//! ([`BufMut::chunk_mut`]), which only `unsafe` can view as
//! `[MaybeUninit<u8>]` for an [`InPlace`] and commit
//! ([`BufMut::advance_mut`]). Writing a frame there directly is
//! what makes small text frames fast: assembled in a scratch buffer first,
//! the final copy reads back bytes still in flight in the store buffer and
//! stalls. Measured with criterion on the heartbeat frame: a prototype of
//! each took 15.6 ns through a stack buffer and 9.2 ns in place (serde_json
//! 23.5 ns); the encoder went from 18.7 ns to 13.3 ns. [`Sink::put_pair`]
//! writes an ETF atom's tag, length and name there the same way, in one
//! room check and without a `memcpy` call for the name.
#![allow(unsafe_code)]

use bytes::BufMut;

use crate::error::{Error, ErrorKind, Result};
use crate::sink::{in_place, InPlace, Sink};

impl<B: BufMut> Sink for B {
    #[inline]
    fn put(&mut self, bytes: &[u8]) -> Result<()> {
        // `BufMut::put_slice` panics when the buffer cannot take the bytes.
        if self.remaining_mut() < bytes.len() {
            return Err(Error::new(ErrorKind::BufferFull, 0));
        }
        self.put_slice(bytes);
        Ok(())
    }

    #[inline]
    fn put_u8(&mut self, byte: u8) -> Result<()> {
        if !self.has_remaining_mut() {
            return Err(Error::new(ErrorKind::BufferFull, 0));
        }
        // A `Vec` pushes, instead of copying a one-byte slice.
        BufMut::put_u8(self, byte);
        Ok(())
    }

    #[inline(always)]
    fn put_pair(&mut self, head: &[u8], data: &[u8]) -> Result<()> {
        // No `remaining_mut` check first: `chunk_mut` never panics, and
        // hands out at most `remaining_mut` bytes. (A `Vec` grows in
        // `chunk_mut` only when full; short of room, the two puts grow it.)
        // SAFETY: as in `put_in_place`: the chunk is `self`'s writable
        // memory, and only initialized bytes are written through the view.
        let room = unsafe { self.chunk_mut().as_uninit_slice_mut() };
        if in_place::fill_pair(room, head, data) {
            // SAFETY: `fill_pair` wrote the first `head.len() + data.len()`
            // bytes of the chunk, as `advance_mut` requires.
            unsafe { self.advance_mut(head.len() + data.len()) };
            return Ok(());
        }
        put_two(self, head, data)
    }

    #[inline]
    fn put_in_place(&mut self, len: usize, fill: &mut dyn FnMut(&mut InPlace<'_>)) -> Result<bool> {
        if self.remaining_mut() < len {
            return Err(Error::new(ErrorKind::BufferFull, 0));
        }
        let chunk = self.chunk_mut();
        if chunk.len() < len {
            return Ok(false);
        }
        // SAFETY: `chunk_mut` hands out `chunk.len() >= len` writable bytes,
        // borrowed from `self` (so from nothing else) until `advance_mut`.
        // The view must never have an uninitialized byte written through
        // it, and `InPlace` only writes initialized ones.
        let room = unsafe { chunk.as_uninit_slice_mut() };
        let mut room = InPlace::new(room.get_mut(..len).unwrap_or(&mut []));
        fill(&mut room);
        if !room.filled() {
            return Ok(false);
        }
        // SAFETY: `filled` means `fill` wrote all `len` bytes at the start
        // of the chunk, which is what `advance_mut` requires.
        unsafe { self.advance_mut(len) };
        Ok(true)
    }
}

/// `put_pair` without room for both at once: as two puts. Inline even so:
/// out of line, the caller's head array would have to live in memory,
/// and the fast path would copy it from there instead of storing its
/// bytes directly.
#[inline(always)]
fn put_two<B: BufMut>(buf: &mut B, head: &[u8], data: &[u8]) -> Result<()> {
    Sink::put(buf, head)?;
    Sink::put(buf, data)
}
