//! Sixteen bytes at a time: where a JSON string's run of plain bytes ends.
//!
//! On x86_64 this uses SSE2, which every x86_64 processor has (it is part of
//! the architecture's baseline, so `target_feature = "sse2"` is always set
//! there). Elsewhere the same mask is computed with word-at-a-time
//! arithmetic. This module is the crate's only use of `unsafe` besides
//! `frame/owned.rs`: each block calls SSE2 intrinsics, which Rust marks
//! `unsafe` only because of the target feature that the `cfg` guarantees;
//! the one load reads exactly the 16 bytes of an array reference.

/// A bit per byte of `chunk` (bit `k` for byte `k`): set where the byte is
/// a quote, a backslash or a control character (below 0x20).
#[inline(always)]
pub(crate) fn stops16(chunk: &[u8; 16]) -> u32 {
    imp::stops16(chunk)
}

/// [`stops16`] for the 64 bytes at `at` (bit `k` for byte `at + k`), with
/// no bits for bytes past the end of `bytes`. Every bit is exact, so one
/// block serves all the strings that end in it: finding the end of each is
/// then a shift and a trailing-zero count, off the chain of loads that a
/// scan from each string's start would put every string on.
#[inline(always)]
pub(crate) fn stops64(bytes: &[u8], at: usize) -> u64 {
    block64(bytes, at, exact16)
}

/// A bit for each byte of the 64 at `at` that is not an ASCII digit (none
/// past the end of `bytes`): where runs of digits end.
#[inline(always)]
pub(crate) fn non_digits64(bytes: &[u8], at: usize) -> u64 {
    block64(bytes, at, imp::non_digits16)
}

/// The mask `classify` gives each 16 bytes, for the 64 bytes at `at`.
#[inline(always)]
fn block64(bytes: &[u8], at: usize, classify: fn(&[u8; 16]) -> u32) -> u64 {
    if let Some(Ok(block)) = bytes
        .get(at..)
        .and_then(|tail| tail.get(..64))
        .map(<&[u8; 64]>::try_from)
    {
        return block_bits(block, classify);
    }
    // Fewer than 64 bytes left: the input's last 64 bytes, shifted, if it
    // has that many; else a padded copy (callers keep short inputs away).
    let len = bytes.len();
    if let Some(Ok(last)) = len
        .checked_sub(64)
        .and_then(|start| bytes.get(start..))
        .map(<&[u8; 64]>::try_from)
    {
        return block_bits(last, classify) >> (at.saturating_sub(len - 64)).min(63);
    }
    let mut padded = [b'a'; 64];
    let tail = bytes.get(at..).unwrap_or(&[]);
    if let (Some(dst), Some(src)) = (padded.get_mut(..tail.len()), tail.get(..64.min(tail.len()))) {
        dst.copy_from_slice(src);
    }
    block_bits(&padded, classify) & low_bits(tail.len())
}

/// Whether every byte of `bytes` is ASCII: 64 bytes per step, the tail
/// as the (overlapping) last 64, 16 or 8 bytes of the input.
#[inline(always)]
pub(crate) fn is_ascii(bytes: &[u8]) -> bool {
    let len = bytes.len();
    if len >= 64 {
        let mut high = false;
        let mut rest = bytes;
        if len >= 1024 {
            // Long frames with a non-ASCII byte early on (the caller then
            // validates them in full) stop at the end of its 256 bytes.
            for group in bytes.chunks_exact(256) {
                for block in group.chunks_exact(64) {
                    high |= <&[u8; 64]>::try_from(block).is_ok_and(imp::any_high64);
                }
                if high {
                    return false;
                }
            }
            rest = bytes.get(len / 256 * 256..).unwrap_or(&[]);
        }
        for block in rest.chunks_exact(64) {
            high |= <&[u8; 64]>::try_from(block).is_ok_and(imp::any_high64);
        }
        let last = bytes.get(len - 64..).map(<&[u8; 64]>::try_from);
        return !high && matches!(last, Some(Ok(b)) if !imp::any_high64(b));
    }
    if len >= 16 {
        let mut high = 0;
        let mut chunks = bytes.chunks_exact(16);
        for c in &mut chunks {
            high |= <&[u8; 16]>::try_from(c).map_or(1, imp::high16);
        }
        let last = bytes.get(len - 16..).map(<&[u8; 16]>::try_from);
        return high == 0 && matches!(last, Some(Ok(c)) if imp::high16(c) == 0);
    }
    bytes.is_ascii()
}

/// The lowest `n` bits set.
#[inline(always)]
fn low_bits(n: usize) -> u64 {
    if n >= 64 {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}

#[inline(always)]
fn block_bits(block: &[u8; 64], classify: fn(&[u8; 16]) -> u32) -> u64 {
    let mut bits = 0u64;
    for (k, chunk) in block.chunks_exact(16).enumerate() {
        if let Ok(chunk) = <&[u8; 16]>::try_from(chunk) {
            bits |= u64::from(classify(chunk)) << (16 * k);
        }
    }
    bits
}

/// Like [`stops16`], with every bit exact (not only the lowest).
#[inline(always)]
pub(crate) fn exact16(chunk: &[u8; 16]) -> u32 {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    {
        imp::stops16(chunk)
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    {
        let mut bits = 0;
        for (k, &b) in chunk.iter().enumerate() {
            if b == b'"' || b == b'\\' || b < 0x20 {
                bits |= 1 << k;
            }
        }
        bits
    }
}

#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[allow(unsafe_code)]
mod imp {
    use core::arch::x86_64::{
        __m128i, _mm_add_epi8, _mm_cmpeq_epi8, _mm_cmpgt_epi8, _mm_loadu_si128, _mm_max_epu8,
        _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };

    /// A bit for each byte of `chunk` that is not ASCII.
    #[inline(always)]
    pub(super) fn high16(chunk: &[u8; 16]) -> u32 {
        // SAFETY: as in `stops16`.
        unsafe { _mm_movemask_epi8(_mm_loadu_si128(chunk.as_ptr().cast::<__m128i>())) as u32 }
    }

    /// Whether a byte of `block` is not ASCII.
    #[inline(always)]
    pub(super) fn any_high64(block: &[u8; 64]) -> bool {
        // SAFETY: as in `stops16`, for four 16-byte loads inside the block.
        unsafe {
            let p = block.as_ptr().cast::<__m128i>();
            let a = _mm_or_si128(_mm_loadu_si128(p), _mm_loadu_si128(p.add(1)));
            let b = _mm_or_si128(_mm_loadu_si128(p.add(2)), _mm_loadu_si128(p.add(3)));
            _mm_movemask_epi8(_mm_or_si128(a, b)) != 0
        }
    }

    #[inline(always)]
    pub(super) fn non_digits16(chunk: &[u8; 16]) -> u32 {
        // SAFETY: as in `stops16`.
        unsafe {
            let v = _mm_loadu_si128(chunk.as_ptr().cast::<__m128i>());
            // Adding 0x50 moves b'0'..=b'9' to 0x80..=0x89, the ten lowest
            // signed bytes, and every other byte above them: one signed
            // compare flags the non-digits.
            let moved = _mm_add_epi8(v, _mm_set1_epi8(0x50));
            _mm_movemask_epi8(_mm_cmpgt_epi8(moved, _mm_set1_epi8(-119))) as u32
        }
    }

    #[inline(always)]
    pub(super) fn stops16(chunk: &[u8; 16]) -> u32 {
        // SAFETY: SSE2 is enabled for this build (the `cfg` above), and the
        // load reads the 16 bytes behind a `&[u8; 16]`; `loadu` has no
        // alignment requirement.
        unsafe {
            let v = _mm_loadu_si128(chunk.as_ptr().cast::<__m128i>());
            let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
            let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
            // Unsigned `v <= 0x1f`: the maximum with 0x1f is 0x1f itself.
            let limit = _mm_set1_epi8(0x1f);
            let control = _mm_cmpeq_epi8(_mm_max_epu8(v, limit), limit);
            let any = _mm_or_si128(_mm_or_si128(quote, backslash), control);
            _mm_movemask_epi8(any) as u32
        }
    }
}

#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
mod imp {
    /// Nonzero when a byte of `chunk` is not ASCII (not a bit per byte).
    #[inline(always)]
    pub(super) fn high16(chunk: &[u8; 16]) -> u32 {
        u32::from(!chunk.is_ascii())
    }

    #[inline(always)]
    pub(super) fn any_high64(block: &[u8; 64]) -> bool {
        !block.is_ascii()
    }

    use crate::json::scan::stops;

    #[inline(always)]
    pub(super) fn non_digits16(chunk: &[u8; 16]) -> u32 {
        let mut bits = 0;
        for (k, b) in chunk.iter().enumerate() {
            if !b.is_ascii_digit() {
                bits |= 1 << k;
            }
        }
        bits
    }

    #[inline(always)]
    pub(super) fn stops16(chunk: &[u8; 16]) -> u32 {
        let v = u128::from_le_bytes(*chunk);
        let (lo, hi) = (stops(v as u64), stops((v >> 64) as u64));
        // Only the first flagged byte is exact in a word (later flags may
        // be borrow artefacts), so keep the word that holds it.
        if lo != 0 {
            1 << (lo.trailing_zeros() / 8)
        } else if hi != 0 {
            1 << (8 + hi.trailing_zeros() / 8)
        } else {
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{is_ascii, non_digits64, stops16};

    /// One non-ASCII byte anywhere, in inputs of every length up to three
    /// blocks, is found; without it the input is ASCII.
    #[test]
    fn is_ascii_finds_any_high_byte() {
        // Short inputs, and long ones around the grouped loop's edges
        // (1024 bytes and up, groups of 256, a tail of whole and partial
        // blocks).
        for len in (0..200).chain([
            255, 256, 300, 700, 1000, 1023, 1024, 1025, 1087, 1279, 1280, 1300, 2100,
        ]) {
            let ascii: Vec<u8> = (0..len).map(|k| (k % 128) as u8).collect();
            assert!(is_ascii(&ascii), "{len}");
            for at in 0..len {
                for high in [0x80, 0xc3, 0xff] {
                    let mut b = ascii.clone();
                    b[at] = high;
                    assert!(!is_ascii(&b), "{len} {at} {high:#x}");
                }
            }
        }
    }

    /// Every byte value at every position, against the definition.
    #[test]
    fn first_stop_matches_the_definition() {
        for at in 0..16 {
            for b in 0..=255u8 {
                let mut chunk = [b'a'; 16];
                chunk[at] = b;
                let stop = b == b'"' || b == b'\\' || b < 0x20;
                let mask = stops16(&chunk);
                if stop {
                    assert_eq!(mask.trailing_zeros() as usize, at, "byte {b:#x} at {at}");
                } else {
                    assert_eq!(mask, 0, "byte {b:#x} at {at}");
                }
            }
        }
    }

    /// Every byte value at every position of a block of digits is flagged
    /// exactly when it is not a digit.
    #[test]
    fn non_digits_match_the_definition() {
        for at in 0..64 {
            for b in 0..=255u8 {
                let mut block = [b'7'; 64];
                block[at] = b;
                let want = if b.is_ascii_digit() { 0 } else { 1u64 << at };
                assert_eq!(non_digits64(&block, 0), want, "byte {b:#x} at {at}");
            }
        }
    }
}
