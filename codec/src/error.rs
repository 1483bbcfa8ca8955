//! The one error type of the crate: what went wrong, and where.
//!
//! Errors never carry heap data, so a failed decode allocates nothing and an
//! [`Error`] is `Copy`. The offset is the index of the byte at which the
//! problem was found, counted from the start of the input handed to the
//! decoder (for a compressed ETF term, from the start of the inflated data,
//! see [`ErrorKind`]).

use core::fmt;

/// A frame or term member that an error refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Field {
    /// `join_ref`
    JoinRef,
    /// `ref`
    Ref,
    /// `topic`
    Topic,
    /// `event`
    Event,
    /// `payload`
    Payload,
    /// the `status` of a reply
    Status,
    /// the `response` of a reply
    Response,
}

impl Field {
    /// The member's name as it appears on the wire.
    pub const fn name(self) -> &'static str {
        match self {
            Field::JoinRef => "join_ref",
            Field::Ref => "ref",
            Field::Topic => "topic",
            Field::Event => "event",
            Field::Payload => "payload",
            Field::Status => "status",
            Field::Response => "response",
        }
    }
}

/// What went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    // ----- shared -----
    /// The input ended in the middle of a value.
    UnexpectedEof,
    /// Bytes follow a complete frame or term.
    TrailingBytes,
    /// A string is not valid UTF-8.
    InvalidUtf8,
    /// Nesting is deeper than the configured limit.
    DepthLimitExceeded,
    /// The output buffer has no room left for the encoded bytes.
    BufferFull,
    /// A value is too long for its length field (e.g. a binary header string
    /// over 255 bytes, a tuple over `u32::MAX` elements).
    TooLong,
    /// A serde (de)serialization error raised by the caller's types or by a
    /// shape mismatch between the data and the target type.
    Serde,

    // ----- JSON -----
    /// A JSON value was expected (found another byte or the end).
    ExpectedValue,
    /// A number does not follow the JSON grammar (leading zeros, lone `-`, ...).
    InvalidNumber,
    /// A `true`, `false` or `null` literal is misspelled.
    InvalidLiteral,
    /// An unknown escape sequence or bad `\u` hex digits.
    InvalidEscape,
    /// A `\u` escape names a lone or misordered UTF-16 surrogate.
    InvalidSurrogate,
    /// A raw control character (below U+0020) inside a string.
    ControlCharacter,
    /// An object key was expected.
    ExpectedKey,
    /// A `:` was expected after an object key.
    ExpectedColon,
    /// A `,` or the closing bracket was expected.
    ExpectedCommaOrEnd,

    // ----- Phoenix frames -----
    /// A V1 frame is not a JSON object ("expected a map").
    ExpectedObject,
    /// A V2 text frame is not a JSON array.
    ExpectedArray,
    /// A V2 text frame has fewer than five elements.
    TooFewElements,
    /// A required envelope key is missing from a V1 object.
    MissingField(Field),
    /// An envelope key occurs twice in a V1 object.
    DuplicateField(Field),
    /// An envelope member has the wrong JSON type (topic and event must be
    /// strings; refs must be strings, integers or null).
    InvalidType(Field),
    /// A binary frame's kind byte is not 0, 1 or 2.
    UnknownKind(u8),
    /// The frame was used as something it is not (e.g. a reply view of a
    /// frame that is not a `phx_reply`).
    NotAReply,
    /// An encoder was asked for a frame family that cannot carry this payload
    /// (e.g. a raw binary payload in a text frame).
    PayloadMismatch,

    // ----- Erlang external term format -----
    /// The first byte is not the version byte 131.
    BadVersion(u8),
    /// A tag byte that is not part of the external term format.
    UnknownTag(u8),
    /// A distribution header (`131, 68`), not a term.
    DistributionHeader,
    /// `ATOM_CACHE_REF` (tag 82), only meaningful inside distribution.
    AtomCacheRef,
    /// `LOCAL_EXT` (tag 121), readable only by the node that wrote it.
    LocalExt,
    /// A fun or export: executable terms are never accepted.
    ExecutableTerm,
    /// A pid, port or reference, while the policy does not allow them.
    DisallowedTerm(u8),
    /// An atom not on the caller's allow-list.
    AtomNotAllowed,
    /// An atom longer than 255 characters.
    AtomTooLong,
    /// A float that is NaN or infinite, or an old-style float that does not parse.
    InvalidFloat,
    /// A `BIT_BINARY` whose bit count is out of range.
    InvalidBitCount,
    /// A map holds the same key twice.
    DuplicateMapKey,
    /// A compressed term would inflate past the caller's limit, or its
    /// declared size exceeds it.
    InflateLimitExceeded,
    /// A compressed term's inflated length differs from its declared size.
    InflatedSizeMismatch,
    /// The zlib stream of a compressed term is corrupt.
    InvalidCompression,
    /// A compressed term appears somewhere other than right after the version
    /// byte, or compression support is not compiled in.
    UnsupportedCompression,
    /// A field of a term has a value outside its allowed range (e.g. a
    /// reference with more than 5 id words).
    InvalidTerm,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ErrorKind::*;
        match *self {
            UnexpectedEof => f.write_str("unexpected end of input"),
            TrailingBytes => f.write_str("trailing bytes after the value"),
            InvalidUtf8 => f.write_str("invalid UTF-8"),
            DepthLimitExceeded => f.write_str("nesting depth limit exceeded"),
            BufferFull => f.write_str("output buffer is full"),
            TooLong => f.write_str("value too long for its length field"),
            Serde => f.write_str("value does not match the target type"),
            ExpectedValue => f.write_str("expected a JSON value"),
            InvalidNumber => f.write_str("invalid number"),
            InvalidLiteral => f.write_str("invalid literal"),
            InvalidEscape => f.write_str("invalid escape sequence"),
            InvalidSurrogate => f.write_str("lone or invalid UTF-16 surrogate"),
            ControlCharacter => f.write_str("control character in string"),
            ExpectedKey => f.write_str("expected an object key"),
            ExpectedColon => f.write_str("expected ':'"),
            ExpectedCommaOrEnd => f.write_str("expected ',' or a closing bracket"),
            ExpectedObject => f.write_str("expected a map (JSON object)"),
            ExpectedArray => f.write_str("expected a JSON array"),
            TooFewElements => f.write_str("a V2 frame needs at least 5 elements"),
            MissingField(k) => write!(f, "missing field `{}`", k.name()),
            DuplicateField(k) => write!(f, "duplicate field `{}`", k.name()),
            InvalidType(k) => write!(f, "invalid type for `{}`", k.name()),
            UnknownKind(k) => write!(f, "unknown binary frame kind {k}"),
            NotAReply => f.write_str("not a phx_reply frame"),
            PayloadMismatch => f.write_str("payload cannot be carried by this frame family"),
            BadVersion(b) => write!(f, "expected version byte 131, found {b}"),
            UnknownTag(t) => write!(f, "unknown term tag {t}"),
            DistributionHeader => f.write_str("distribution header, not a term"),
            AtomCacheRef => f.write_str("atom cache reference outside distribution"),
            LocalExt => f.write_str("LOCAL_EXT term cannot be decoded outside its node"),
            ExecutableTerm => f.write_str("executable term (fun or export) rejected"),
            DisallowedTerm(t) => write!(f, "pid, port or reference (tag {t}) not allowed"),
            AtomNotAllowed => f.write_str("atom not in the allow-list"),
            AtomTooLong => f.write_str("atom longer than 255 characters"),
            InvalidFloat => f.write_str("invalid or non-finite float"),
            InvalidBitCount => f.write_str("invalid bit count in bit binary"),
            DuplicateMapKey => f.write_str("duplicate map key"),
            InflateLimitExceeded => f.write_str("compressed term exceeds the inflate limit"),
            InflatedSizeMismatch => f.write_str("inflated size differs from declared size"),
            InvalidCompression => f.write_str("corrupt zlib stream"),
            UnsupportedCompression => f.write_str("compressed term not supported here"),
            InvalidTerm => f.write_str("invalid term"),
        }
    }
}

/// An error with the byte offset at which it was found.
///
/// ```
/// use phoenix_wire::{frame, ErrorKind, Vsn};
///
/// let err = frame::decode_text(br#"[null,"1","t","e"]"#, Vsn::V2).unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::TooFewElements);
/// assert_eq!(err.offset(), 17);
/// assert_eq!(err.to_string(), "a V2 frame needs at least 5 elements at byte 17");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Error {
    kind: ErrorKind,
    offset: usize,
}

impl Error {
    /// An error of `kind` found at byte `offset`.
    #[inline]
    pub const fn new(kind: ErrorKind, offset: usize) -> Error {
        Error { kind, offset }
    }

    /// What went wrong.
    #[inline]
    pub const fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The byte offset in the input at which the problem was found.
    #[inline]
    pub const fn offset(&self) -> usize {
        self.offset
    }

    /// The same error, its offset moved by `base` (for errors found in a
    /// sub-slice of the input).
    #[inline]
    #[must_use]
    pub const fn shifted(self, base: usize) -> Error {
        Error {
            kind: self.kind,
            offset: self.offset + base,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.kind, self.offset)
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}

/// Shorthand used throughout the crate.
pub type Result<T, E = Error> = core::result::Result<T, E>;
