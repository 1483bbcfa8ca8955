//! [`InPlace`]: the room a sink lends out in [`Sink::put_in_place`].
//!
//! The room is the sink's spare memory, uninitialized. Zeroing it first so
//! that safe code could see it as `&mut [u8]` cost a `memset` call per
//! frame, about a sixth of encoding a heartbeat. `InPlace` instead writes
//! front to back into `[MaybeUninit<u8>]`, so every byte before its position
//! is initialized, and a sink keeps the bytes only when the writer filled
//! the room exactly ([`InPlace::filled`]). The `unsafe` here copies long
//! slices into that memory, lets [`SliceSink`](super::SliceSink) lend out
//! its initialized memory the same way, and lets the `Vec` sink keep what
//! was filled; and it writes the two pieces of
//! [`Sink::put_pair`](super::Sink::put_pair) into spare memory.
#![allow(unsafe_code)]

use core::mem::MaybeUninit;

/// Room in a sink's memory, written front to back and kept by the sink only
/// if it is filled exactly: see [`Sink::put_in_place`](super::Sink::put_in_place).
///
/// A write that does not fit is dropped, and the room can then never count
/// as filled, so the sink keeps nothing.
///
/// ```
/// use core::mem::MaybeUninit;
/// use phoenix_wire::InPlace;
///
/// let mut memory = [MaybeUninit::<u8>::uninit(); 4];
/// let mut room = InPlace::new(&mut memory);
/// room.put(b"ab");
/// assert!(!room.filled());
/// room.put_u8(b'c');
/// room.put_u8(b'd');
/// assert!(room.filled()); // all four bytes are initialized
/// room.put_u8(b'e'); // does not fit: dropped, and the room is spoiled
/// assert!(!room.filled());
/// ```
#[derive(Debug)]
pub struct InPlace<'b> {
    buf: &'b mut [MaybeUninit<u8>],
    /// Bytes written: `buf[..pos]` is initialized, and `pos <= buf.len()`.
    pos: usize,
    /// A write did not fit (and was dropped).
    spoiled: bool,
}

impl<'b> InPlace<'b> {
    /// Room over `buf`, nothing written yet.
    #[inline]
    pub fn new(buf: &'b mut [MaybeUninit<u8>]) -> Self {
        InPlace {
            buf,
            pos: 0,
            spoiled: false,
        }
    }

    /// Room over initialized memory (a [`SliceSink`](super::SliceSink)'s).
    #[inline]
    pub(crate) fn over_init(buf: &'b mut [u8]) -> Self {
        let len = buf.len();
        // SAFETY: `u8` and `MaybeUninit<u8>` have the same layout. Viewing
        // initialized bytes as possibly uninitialized is sound as long as
        // no uninitialized byte is written through the view, and `InPlace`
        // only ever writes bytes copied from `&[u8]` or a `u8`.
        let buf = unsafe { core::slice::from_raw_parts_mut(buf.as_mut_ptr().cast(), len) };
        InPlace::new(buf)
    }

    /// Appends `bytes`; dropped (spoiling the room) if they do not fit.
    #[inline(always)]
    pub fn put(&mut self, bytes: &[u8]) {
        // No overflow: `pos <= buf.len()` and a slice's length are each at
        // most `isize::MAX`.
        let end = self.pos + bytes.len();
        match self.buf.get_mut(self.pos..end) {
            Some(dst) => {
                copy_into(dst, bytes);
                self.pos = end;
            }
            None => self.spoiled = true,
        }
    }

    /// Appends `pieces` one after another, as `put` of each in turn would,
    /// with one room check for all of them: a frame's envelope is a dozen
    /// pieces of a few bytes, and a check (and a length test) per piece
    /// was an eighth of the instructions of writing a heartbeat. Nothing is
    /// written (and the room is spoiled) if they do not all fit.
    ///
    /// ```
    /// use core::mem::MaybeUninit;
    /// use phoenix_wire::InPlace;
    ///
    /// let mut memory = [MaybeUninit::<u8>::uninit(); 8];
    /// let mut room = InPlace::new(&mut memory);
    /// room.put_all([b"[\"", b"topic", b"\""]);
    /// assert!(room.filled());
    /// ```
    #[inline(always)]
    pub fn put_all<const N: usize>(&mut self, pieces: [&[u8]; N]) {
        // A build error, not a run-time one, past 16 pieces (the most
        // `each!` writes out).
        let () = AtMost16::<N>::OK;
        // Written out for each index (below `N`, so the others fold away):
        // a loop over the pieces was left rolled, each piece's length then
        // a variable that the copy had to branch on, constants included.
        macro_rules! each {
            ($f:expr) => {
                each!(@ $f; 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15)
            };
            (@ $f:expr; $($k:literal)+) => {
                $(
                    if $k < N {
                        if let Some(piece) = pieces.get($k) {
                            $f(piece);
                        }
                    }
                )+
            };
        }
        let mut total = 0usize;
        // Saturating: a sum past `usize::MAX` cannot fit either.
        each!(|p: &[u8]| total = total.saturating_add(p.len()));
        let Some(dst) = self.buf.get_mut(self.pos..).filter(|d| d.len() >= total) else {
            self.spoiled = true;
            return;
        };
        let mut at = dst.as_mut_ptr().cast::<u8>();
        each!(|piece: &[u8]| {
            // SAFETY: the pieces add up to `total <= dst.len()` bytes, so
            // each lands inside `dst`, after the ones before it; `dst` is
            // borrowed mutably, so no piece overlaps it. Only initialized
            // bytes are written.
            unsafe {
                copy_short(piece.as_ptr(), at, piece.len());
                at = at.add(piece.len());
            }
        });
        self.pos += total;
    }

    /// Appends one byte; dropped (spoiling the room) if it does not fit.
    #[inline(always)]
    pub fn put_u8(&mut self, byte: u8) {
        match self.buf.get_mut(self.pos) {
            Some(dst) => {
                dst.write(byte);
                self.pos += 1;
            }
            None => self.spoiled = true,
        }
    }

    /// Whether exactly the whole room was written, every write fitting:
    /// then every byte of it is initialized.
    #[inline(always)]
    pub fn filled(&self) -> bool {
        self.pos == self.buf.len() && !self.spoiled
    }
}

/// `OK` exists for `N <= 16` only: evaluating it for more fails the build.
struct AtMost16<const N: usize>;

impl<const N: usize> AtMost16<N> {
    const OK: () = assert!(N <= 16, "InPlace::put_all takes at most 16 pieces");
}

/// [`Sink::put_in_place`](super::Sink::put_in_place) for a `Vec` without
/// the `bytes` feature: `fill` writes into the spare capacity, which is
/// kept if it was filled.
#[cfg(all(feature = "alloc", not(feature = "bytes")))]
pub(crate) fn fill_vec(
    v: &mut alloc::vec::Vec<u8>,
    len: usize,
    fill: &mut dyn FnMut(&mut InPlace<'_>),
) -> bool {
    v.reserve(len);
    let start = v.len();
    let Some(spare) = v.spare_capacity_mut().get_mut(..len) else {
        return false;
    };
    let mut room = InPlace::new(spare);
    fill(&mut room);
    if !room.filled() {
        return false;
    }
    // SAFETY: `filled` means all `len` bytes after `start` were written
    // (see `InPlace::pos`), and `reserve` made them part of the capacity.
    unsafe { v.set_len(start + len) };
    true
}

/// [`Sink::put_pair`](super::Sink::put_pair) for a `Vec` without the
/// `bytes` feature: both pieces go into the spare capacity after one
/// `reserve`.
#[cfg(all(feature = "alloc", not(feature = "bytes")))]
#[inline(always)]
pub(crate) fn pair_vec(v: &mut alloc::vec::Vec<u8>, head: &[u8], data: &[u8]) {
    let len = head.len() + data.len();
    v.reserve(len);
    let start = v.len();
    if fill_pair(v.spare_capacity_mut(), head, data) {
        // SAFETY: `fill_pair` wrote the `len` bytes after `start`, which
        // `reserve` made part of the capacity.
        unsafe { v.set_len(start + len) };
    } else {
        // Not reached (`reserve` made the room), but safe either way.
        v.extend_from_slice(head);
        v.extend_from_slice(data);
    }
}

/// Writes `head` and then `data` at the start of `dst` if they fit, and
/// says whether they did: [`Sink::put_pair`](super::Sink::put_pair) in a
/// sink's spare memory. One length check for both, and no `memcpy` call
/// for a short `data` (an atom name).
#[inline(always)]
pub(crate) fn fill_pair(dst: &mut [MaybeUninit<u8>], head: &[u8], data: &[u8]) -> bool {
    // No overflow: each is a slice's length, at most `isize::MAX`.
    if head.len() + data.len() > dst.len() {
        return false;
    }
    let at = dst.as_mut_ptr().cast::<u8>();
    // The head (a tag and a length) is built on the stack just before, and
    // has a fixed length: copied exactly, it becomes stores of its bytes,
    // where `copy_short`'s overlapping loads could each span two of the
    // stores that built it, which the CPU does not forward (a stall that
    // doubled the time of a 10k-tuple list).
    // SAFETY: `head.len() + data.len() <= dst.len()` (checked above), so
    // both copies stay inside `dst`, which is borrowed mutably and so
    // overlaps neither source. Only initialized bytes are written.
    unsafe {
        core::ptr::copy_nonoverlapping(head.as_ptr(), at, head.len());
        copy_short(data.as_ptr(), at.add(head.len()), data.len());
    }
    true
}

/// Copies `n` bytes from `src` to `dst`: up to 16 as one or two possibly
/// overlapping loads and stores, more with `copy_nonoverlapping` (a
/// `memcpy` call, worth it only for longer pieces).
///
/// # Safety
///
/// `src` must be valid for reading and `dst` for writing `n` bytes, and
/// the two must not overlap.
#[inline(always)]
unsafe fn copy_short(src: *const u8, dst: *mut u8, n: usize) {
    /// The first and the last `size_of::<T>()` of the `n` bytes.
    ///
    /// # Safety
    ///
    /// As for `copy_short`, and `size_of::<T>() <= n`.
    #[inline(always)]
    unsafe fn two<T: Copy>(src: *const u8, dst: *mut u8, n: usize) {
        let last = n - core::mem::size_of::<T>();
        // SAFETY: `size_of::<T>() <= n`, so both `T`-sized pieces lie
        // inside the `n` bytes at `src` and at `dst` (the caller's
        // contract); unaligned reads and writes need no alignment.
        unsafe {
            let (head, tail) = (
                src.cast::<T>().read_unaligned(),
                src.add(last).cast::<T>().read_unaligned(),
            );
            dst.cast::<T>().write_unaligned(head);
            dst.add(last).cast::<T>().write_unaligned(tail);
        }
    }
    // SAFETY: each arm's size is at most `n`; the caller's contract for the rest.
    unsafe {
        match n {
            8..=16 => two::<u64>(src, dst, n),
            4..=7 => two::<u32>(src, dst, n),
            2..=3 => two::<u16>(src, dst, n),
            1 => dst.write(src.read()),
            0 => {}
            _ => core::ptr::copy_nonoverlapping(src, dst, n),
        }
    }
}

/// Copies `src` into `dst` (same length; nothing otherwise). Envelopes are
/// many pieces of a few bytes (quotes, commas, refs, topics): up to 16
/// bytes take one or two possibly overlapping stores instead of a call to
/// `memcpy` ([`copy_short`]).
#[inline(always)]
fn copy_into(dst: &mut [MaybeUninit<u8>], src: &[u8]) {
    if dst.len() == src.len() {
        // SAFETY: both are `src.len()` bytes long (just checked), and they
        // cannot overlap: `dst` is borrowed mutably. Written bytes are
        // initialized ones.
        unsafe { copy_short(src.as_ptr(), dst.as_mut_ptr().cast::<u8>(), src.len()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every length of piece lands whole, at its place, next to the others.
    #[test]
    fn pieces_of_every_length_land_in_order() {
        let src: [u8; 40] = core::array::from_fn(|i| i as u8 + 1);
        for a in 0..=src.len() {
            for b in 0..=(src.len() - a) {
                let mut memory = [MaybeUninit::new(0xEE); 41];
                let len = a + b + 1;
                let mut room = InPlace::new(&mut memory[..len]);
                room.put(&src[..a]);
                room.put_u8(0xAA);
                room.put(&src[a..a + b]);
                assert!(room.filled(), "{a} {b}");
                let got: [u8; 41] = memory.map(|m| unsafe { m.assume_init() });
                assert_eq!(&got[..a], &src[..a]);
                assert_eq!(got[a], 0xAA);
                assert_eq!(&got[a + 1..len], &src[a..a + b]);
                assert!(got[len..].iter().all(|&x| x == 0xEE), "wrote past the room");
            }
        }
    }

    /// Every split of head and data, into rooms of every size around
    /// theirs: written whole and in place when they fit, not at all (not
    /// one byte past the room) when they do not.
    #[test]
    fn pairs_fit_exactly_or_are_not_written() {
        let src: [u8; 40] = core::array::from_fn(|i| i as u8 + 1);
        for h in 0..=6 {
            for d in 0..=(src.len() - h) {
                let (head, data) = (&src[..h], &src[h..h + d]);
                for room in 0..=(h + d + 2) {
                    let mut memory = [MaybeUninit::new(0xEE); 48];
                    let fits = fill_pair(&mut memory[..room], head, data);
                    assert_eq!(fits, h + d <= room, "{h} {d} {room}");
                    let got: [u8; 48] = memory.map(|m| unsafe { m.assume_init() });
                    let written = if fits { h + d } else { 0 };
                    assert_eq!(&got[..written], &src[..written], "{h} {d} {room}");
                    assert!(got[written..].iter().all(|&x| x == 0xEE), "{h} {d} {room}");
                }
            }
        }
    }

    /// Three pieces of every length up to 20 each, into rooms of every
    /// size around theirs: written whole and in order after what is
    /// already there when they fit, and not one byte of them otherwise.
    #[test]
    fn all_pieces_fit_at_once_or_none_is_written() {
        let src: [u8; 60] = core::array::from_fn(|i| i as u8 + 1);
        for a in 0..=20 {
            for b in 0..=20 {
                for c in [0, 1, 7, 16, 17, 20] {
                    let pieces = [&src[..a], &src[20..20 + b], &src[40..40 + c]];
                    let mut want = [0u8; 64];
                    want[0] = 0xAA;
                    want[1..1 + a].copy_from_slice(pieces[0]);
                    want[1 + a..1 + a + b].copy_from_slice(pieces[1]);
                    want[1 + a + b..1 + a + b + c].copy_from_slice(pieces[2]);
                    let want = &want[..1 + a + b + c];
                    for size in (want.len() - 1)..=(want.len() + 1) {
                        let mut memory = [MaybeUninit::new(0xEE); 64];
                        let mut room = InPlace::new(&mut memory[..size]);
                        room.put_u8(0xAA);
                        room.put_all(pieces);
                        let fits = want.len() <= size;
                        assert_eq!(room.filled(), want.len() == size, "{a} {b} {c} {size}");
                        let got: [u8; 64] = memory.map(|m| unsafe { m.assume_init() });
                        let written = if fits { want.len() } else { size.min(1) };
                        assert_eq!(&got[..written], &want[..written], "{a} {b} {c} {size}");
                        assert!(
                            got[written..].iter().all(|&x| x == 0xEE),
                            "{a} {b} {c} {size}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn short_or_overlong_writes_never_count_as_filled() {
        let mut memory = [MaybeUninit::uninit(); 8];
        let mut room = InPlace::new(&mut memory);
        room.put(b"1234567");
        assert!(!room.filled());
        room.put(b"89"); // one byte too many: dropped
        assert!(!room.filled());
        room.put(b""); // nothing fits any more, not even nothing
        room.put_u8(b'x');
        assert!(!room.filled());

        let mut init = *b"abcd";
        let mut room = InPlace::over_init(&mut init);
        room.put(b"wxyz");
        assert!(room.filled());
        assert_eq!(&init, b"wxyz");
    }
}
