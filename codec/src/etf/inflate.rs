//! Compressed terms (`131, 80, u32 Size, zlib stream`): inflated by
//! miniz_oxide into a buffer the caller owns, never past the policy's bound.
//!
//! The declared size is checked against the policy and the buffer before a
//! byte is inflated, the output slice is exactly the declared size (so a
//! stream that says 1 KiB and inflates to 4 GiB stops after 1 KiB), and the
//! inflated length must equal the declared one.

use miniz_oxide::inflate::core::inflate_flags::{
    TINFL_FLAG_IGNORE_ADLER32, TINFL_FLAG_PARSE_ZLIB_HEADER,
    TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF,
};
use miniz_oxide::inflate::core::{decompress, DecompressorOxide};
use miniz_oxide::inflate::TINFLStatus;

use super::decode::{be_u32, validate};
use super::policy::SafePolicy;
use super::tag;
use super::term::{read, Term};
use crate::error::{Error, ErrorKind, Result};

/// Decodes a term that may be compressed, inflating into `buf`.
///
/// An uncompressed term is decoded as by [`decode`](super::decode) and
/// borrows from `bytes`; a compressed one borrows from `buf`, which must
/// hold its declared size (at most the policy's
/// [`max_inflated_size`](SafePolicy::max_inflated_size), else
/// [`InflateLimitExceeded`](ErrorKind::InflateLimitExceeded); a smaller
/// buffer gives [`BufferFull`](ErrorKind::BufferFull)). Offsets of errors
/// inside the inflated term count from the start of the inflated bytes
/// (its first tag is offset 0).
///
/// ```
/// use phoenix_wire::etf::{self, SafePolicy};
/// use phoenix_wire::ErrorKind;
///
/// // term_to_binary(lists:duplicate(20, 7), [compressed]) on OTP 25
/// let bytes = [131, 80, 0, 0, 0, 23, 120, 156, 203, 102, 16, 97, 199, 2, 0,
///              17, 22, 1, 12];
/// let mut buf = [0u8; 64];
/// let t = etf::decode_compressed(&bytes, &SafePolicy::new(), &mut buf)?;
/// assert_eq!(t.as_list().unwrap().iter().count(), 20);
///
/// // A 40-byte input may declare 4 GiB: refused before inflating anything.
/// let bomb = [131, 80, 255, 255, 255, 255, 120, 218, 3, 0, 0, 0, 0, 1];
/// let err = etf::decode_compressed(&bomb, &SafePolicy::new(), &mut buf).unwrap_err();
/// assert_eq!((err.kind(), err.offset()), (ErrorKind::InflateLimitExceeded, 2));
/// # Ok::<(), phoenix_wire::Error>(())
/// ```
pub fn decode_compressed<'a>(
    bytes: &'a [u8],
    policy: &SafePolicy<'_>,
    buf: &'a mut [u8],
) -> Result<Term<'a>> {
    let Some(size) = declared(bytes, policy)? else {
        return super::decode(bytes, policy);
    };
    let out = buf
        .get_mut(..size)
        .ok_or(Error::new(ErrorKind::BufferFull, 2))?;
    inflate_into(bytes, policy, out)?;
    view(out)
}

/// Like [`decode_compressed`], with a `Vec` that is resized to the declared
/// size (never past the policy's bound) and reused across calls.
#[cfg(feature = "alloc")]
pub fn decode_compressed_vec<'a>(
    bytes: &'a [u8],
    policy: &SafePolicy<'_>,
    buf: &'a mut alloc::vec::Vec<u8>,
) -> Result<Term<'a>> {
    let Some(size) = declared(bytes, policy)? else {
        return super::decode(bytes, policy);
    };
    buf.clear();
    buf.resize(size, 0);
    inflate_into(bytes, policy, buf)?;
    view(buf)
}

/// The declared inflated size of a compressed term (`None` if `bytes` is
/// not compressed), checked against the policy.
fn declared(bytes: &[u8], policy: &SafePolicy<'_>) -> Result<Option<usize>> {
    super::check_version(bytes)?;
    if bytes.get(1) != Some(&tag::COMPRESSED) {
        return Ok(None);
    }
    let size = be_u32(bytes, 2).ok_or(Error::new(ErrorKind::UnexpectedEof, 2))?;
    if size > policy.max_inflated {
        return Err(Error::new(ErrorKind::InflateLimitExceeded, 2));
    }
    Ok(Some(size))
}

/// Inflates the stream after the size field into `out` (exactly the
/// declared size) and applies the trailing-bytes rule to the input.
fn inflate_into(bytes: &[u8], policy: &SafePolicy<'_>, out: &mut [u8]) -> Result<()> {
    let stream = bytes.get(6..).unwrap_or(&[]);
    // Boxed where there is a heap: the decompressor state is about 11 KiB.
    #[cfg(feature = "alloc")]
    let mut state = alloc::boxed::Box::<DecompressorOxide>::default();
    #[cfg(not(feature = "alloc"))]
    let mut state = DecompressorOxide::new();
    // The checksum is checked below, with SIMD: miniz_oxide's own check is
    // scalar and costs about a tenth of the inflating.
    let flags = TINFL_FLAG_PARSE_ZLIB_HEADER
        | TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF
        | TINFL_FLAG_IGNORE_ADLER32;
    let (status, read_in, written) = decompress(&mut state, stream, out, 0, flags);
    let used = 6 + read_in;
    // What miniz_oxide reports as a checksum mismatch when it checks.
    let inflated = out.get(..written).unwrap_or(&[]);
    if status == TINFLStatus::Done && state.adler32_header() != Some(adler32(inflated)) {
        return Err(Error::new(ErrorKind::InvalidCompression, used));
    }
    match status {
        TINFLStatus::Done if written == out.len() => {}
        // Fewer bytes than declared, or more (the output slice is full).
        TINFLStatus::Done | TINFLStatus::HasMoreOutput => {
            return Err(Error::new(ErrorKind::InflatedSizeMismatch, 2));
        }
        TINFLStatus::NeedsMoreInput | TINFLStatus::FailedCannotMakeProgress => {
            return Err(Error::new(ErrorKind::UnexpectedEof, bytes.len()));
        }
        _ => return Err(Error::new(ErrorKind::InvalidCompression, used)),
    }
    if policy.strict && used != bytes.len() {
        return Err(Error::new(ErrorKind::TrailingBytes, used));
    }
    validate_inflated(out, policy)
}

/// The zlib (Adler-32) checksum of `bytes`.
fn adler32(bytes: &[u8]) -> u32 {
    let mut hash = simd_adler32::Adler32::new();
    hash.write(bytes);
    hash.finish()
}

/// The inflated bytes must be exactly one term (no version byte).
fn validate_inflated(out: &[u8], policy: &SafePolicy<'_>) -> Result<()> {
    let end = validate(out, 0, policy)?;
    if end != out.len() {
        return Err(Error::new(ErrorKind::TrailingBytes, end));
    }
    Ok(())
}

fn view(out: &[u8]) -> Result<Term<'_>> {
    read(out, 0).ok_or(Error::new(ErrorKind::InvalidTerm, 0))
}

/// Writes the encoded term `term` (version byte first) as a compressed term
/// (`131, 80, Size, zlib stream`) at `level` (0..=10, 6 is zlib's default),
/// as `term_to_binary(T, [{compressed, Level}])` does.
///
/// ```
/// use phoenix_wire::etf::{self, SafePolicy};
///
/// let plain = [131, 107, 0, 20, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7];
/// let mut packed = Vec::new();
/// etf::compress(&plain, 6, &mut packed)?;
/// let mut buf = [0u8; 32];
/// let t = etf::decode_compressed(&packed, &SafePolicy::new(), &mut buf)?;
/// assert_eq!(t, etf::decode(&plain, &SafePolicy::new())?);
/// # Ok::<(), phoenix_wire::Error>(())
/// ```
#[cfg(feature = "alloc")]
pub fn compress<S: crate::Sink + ?Sized>(term: &[u8], level: u8, out: &mut S) -> Result<()> {
    let body = match term.split_first() {
        Some((&super::VERSION, body)) => body,
        Some((&b, _)) => return Err(Error::new(ErrorKind::BadVersion(b), 0)),
        None => return Err(Error::new(ErrorKind::UnexpectedEof, 0)),
    };
    let size = u32::try_from(body.len()).map_err(|_| Error::new(ErrorKind::TooLong, 0))?;
    let packed = miniz_oxide::deflate::compress_to_vec_zlib(body, level);
    out.put(&[super::VERSION, tag::COMPRESSED])?;
    out.put(&size.to_be_bytes())?;
    out.put(&packed)
}
