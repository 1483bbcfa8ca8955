//! What a decode accepts: the safe defaults and the knobs that relax or
//! tighten them.

/// The deepest nesting a caller may ask for. The validator keeps one 16-byte
/// slot per level on the stack (at most about 5 KiB); comparisons and
/// re-encoding of a decoded term recurse once per level.
pub const MAX_DEPTH_LIMIT: usize = 256;

/// The default nesting limit (containers inside containers).
pub const DEFAULT_MAX_DEPTH: usize = 128;

/// The default bound on the inflated size of a compressed term: 16 MiB.
pub const DEFAULT_MAX_INFLATED_SIZE: usize = 16 << 20;

/// What [`decode`](super::decode) accepts.
///
/// The defaults are safe for terms from untrusted peers: nesting at most
/// [`DEFAULT_MAX_DEPTH`] levels, any atom (atoms are borrowed views, never
/// interned, so they cannot exhaust anything), no pids, ports or
/// references, never a fun, no bytes after the term, compressed terms at
/// most [`DEFAULT_MAX_INFLATED_SIZE`] once inflated.
///
/// Every setter is `const`, so a policy can be a `static`:
///
/// ```
/// use phoenix_wire::etf::{self, SafePolicy};
/// use phoenix_wire::ErrorKind;
///
/// // A BEAM peer decoding with `[safe]` knows only its existing atoms.
/// static POLICY: SafePolicy<'static> =
///     SafePolicy::new().allow_atoms(&["ok", "error", "token"]).max_depth(16);
///
/// assert!(etf::decode(&[131, 119, 2, b'o', b'k'], &POLICY).is_ok());
/// let err = etf::decode(&[131, 119, 3, b'r', b'm', b'f'], &POLICY).unwrap_err();
/// assert_eq!((err.kind(), err.offset()), (ErrorKind::AtomNotAllowed, 1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SafePolicy<'p> {
    pub(crate) max_depth: usize,
    pub(crate) atoms: Option<&'p [&'p str]>,
    pub(crate) pids_ports_refs: bool,
    pub(crate) strict: bool,
    pub(crate) max_inflated: usize,
}

impl Default for SafePolicy<'static> {
    fn default() -> Self {
        SafePolicy::new()
    }
}

impl SafePolicy<'static> {
    /// The safe defaults described on the type.
    pub const fn new() -> Self {
        SafePolicy {
            max_depth: DEFAULT_MAX_DEPTH,
            atoms: None,
            pids_ports_refs: false,
            strict: true,
            max_inflated: DEFAULT_MAX_INFLATED_SIZE,
        }
    }
}

impl<'p> SafePolicy<'p> {
    /// At most `depth` containers (tuples, lists, maps) nested inside each
    /// other; values above [`MAX_DEPTH_LIMIT`] are lowered to it.
    #[must_use]
    pub const fn max_depth(mut self, depth: usize) -> Self {
        self.max_depth = if depth > MAX_DEPTH_LIMIT {
            MAX_DEPTH_LIMIT
        } else {
            depth
        };
        self
    }

    /// Accepts only atoms in `atoms` ("existing atoms" semantics, as
    /// `binary_to_term(B, [safe])` on a node that knows exactly these atoms),
    /// node names of pids, ports and references included. Latin-1 atoms
    /// (tags 100 and 115) match by character, so `'é'` matches `"é"`.
    #[must_use]
    pub const fn allow_atoms<'q>(self, atoms: &'q [&'q str]) -> SafePolicy<'q> {
        SafePolicy {
            max_depth: self.max_depth,
            atoms: Some(atoms),
            pids_ports_refs: self.pids_ports_refs,
            strict: self.strict,
            max_inflated: self.max_inflated,
        }
    }

    /// Accepts any atom (the default).
    #[must_use]
    pub const fn any_atom(mut self) -> Self {
        self.atoms = None;
        self
    }

    /// Whether pids, ports and references are accepted (default `false`).
    /// Funs and exports are never accepted.
    #[must_use]
    pub const fn allow_pids_ports_refs(mut self, allow: bool) -> Self {
        self.pids_ports_refs = allow;
        self
    }

    /// Whether bytes after the term are an error (default `true`). With
    /// `false`, decoding stops after the first term like OTP does, and
    /// [`decode_used`](super::decode_used) says how many bytes it read.
    #[must_use]
    pub const fn strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }

    /// The largest inflated size a compressed term may declare or produce.
    #[must_use]
    pub const fn max_inflated_size(mut self, bytes: usize) -> Self {
        self.max_inflated = bytes;
        self
    }

    /// Whether `atom` passes the allow-list; `latin1` says how its bytes
    /// are encoded.
    pub(crate) fn atom_allowed(&self, atom: &[u8], latin1: bool) -> bool {
        match self.atoms {
            None => true,
            Some(list) => list.iter().any(|a| atom_eq_str(atom, latin1, a)),
        }
    }
}

/// Compares atom bytes (Latin-1 or UTF-8) with a string, by character,
/// without allocating.
pub(crate) fn atom_eq_str(atom: &[u8], latin1: bool, s: &str) -> bool {
    if !latin1 {
        return atom == s.as_bytes();
    }
    let mut chars = s.chars();
    for &b in atom {
        if chars.next() != Some(char::from(b)) {
            return false;
        }
    }
    chars.next().is_none()
}
