//! Deserializing the caller's types from a validated [`Term`] view.

use ::serde::de::{
    DeserializeSeed, Deserializer, EnumAccess, IntoDeserializer, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};
use ::serde::Deserialize;

use crate::error::{Error, ErrorKind, Result};
use crate::etf::term::{ListIter, MapIter, TupleIter};
use crate::etf::{SafePolicy, Term};

/// Deserializes a `T` from one uncompressed term under the default
/// [`SafePolicy`], borrowing strings and bytes from `bytes`.
pub fn from_slice<'de, T: Deserialize<'de>>(bytes: &'de [u8]) -> Result<T> {
    from_slice_with(bytes, &SafePolicy::new())
}

/// Like [`from_slice`], under `policy`.
pub fn from_slice_with<'de, T: Deserialize<'de>>(
    bytes: &'de [u8],
    policy: &SafePolicy<'_>,
) -> Result<T> {
    let term = crate::etf::decode(bytes, policy)?;
    T::deserialize(TermDe::new(term, Some(bytes.as_ptr() as usize), 1))
}

/// Deserializes a `T` from a decoded term (e.g. one that
/// `decode_compressed` inflated). Error offsets are 0: the term does not
/// know where its input started.
pub fn from_term<'de, T: Deserialize<'de>>(term: Term<'de>) -> Result<T> {
    T::deserialize(TermDe::new(term, None, 0))
}

/// One term, with what it takes to say where it is.
struct TermDe<'de> {
    t: Term<'de>,
    base: Option<usize>,
    at: usize,
}

impl<'de> TermDe<'de> {
    fn new(t: Term<'de>, base: Option<usize>, parent_at: usize) -> Self {
        // The offset of the term's data when it has one, else the parent's.
        let at = match (base, t.addr()) {
            (Some(b), Some(a)) => a.saturating_sub(b),
            _ => parent_at,
        };
        TermDe { t, base, at }
    }

    fn child(&self, t: Term<'de>) -> TermDe<'de> {
        TermDe::new(t, self.base, self.at)
    }

    fn err(&self) -> Error {
        Error::new(ErrorKind::Serde, self.at)
    }

    /// Gives errors raised without a position (serde's `custom`) this term's.
    fn fix(&self, e: Error) -> Error {
        if e.kind() == ErrorKind::Serde && e.offset() == 0 {
            self.err()
        } else {
            e
        }
    }

    fn seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        let elems = match self.t {
            Term::Tuple(t) => Elems::Tuple(t.iter()),
            Term::Binary(b) => Elems::Bytes(b.iter()),
            _ => match self.t.as_list() {
                Some(l) if l.is_proper() => Elems::List(l.iter()),
                _ => return Err(self.err()),
            },
        };
        let mut seq = Seq { elems, de: &self };
        let value = v.visit_seq(&mut seq).map_err(|e| self.fix(e))?;
        match seq.next_term() {
            None => Ok(value),
            Some(_) => Err(self.err()),
        }
    }

    fn str<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        let r = match self.t {
            Term::Binary(b) => match core::str::from_utf8(b) {
                Ok(s) => v.visit_borrowed_str(s),
                Err(_) => return Err(self.err()),
            },
            Term::Atom(a) => match a.as_str() {
                Some(s) => v.visit_borrowed_str(s),
                None => v.visit_string(a.chars().collect()),
            },
            Term::Charlist(c) if c.is_ascii() => {
                v.visit_borrowed_str(core::str::from_utf8(c).unwrap_or(""))
            }
            Term::Charlist(_) | Term::List(_) | Term::Nil => {
                let mut s = alloc::string::String::new();
                for e in self.t.as_list().into_iter().flat_map(|l| l.iter()) {
                    let c = e
                        .as_i64()
                        .and_then(|i| u32::try_from(i).ok())
                        .and_then(char::from_u32);
                    s.push(c.ok_or(self.err())?);
                }
                v.visit_string(s)
            }
            _ => return Err(self.err()),
        };
        r.map_err(|e| self.fix(e))
    }
}

impl<'de> Term<'de> {
    /// The address of the term's data in memory, for error offsets.
    fn addr(&self) -> Option<usize> {
        match self {
            Term::Binary(s) | Term::Charlist(s) => Some(s.as_ptr() as usize),
            Term::Atom(a) => Some(a.raw().as_ptr() as usize),
            Term::BitBinary(b) => Some(b.bytes().as_ptr() as usize),
            Term::Tuple(t) => Some(t.data_addr()),
            Term::Map(m) => Some(m.data_addr()),
            Term::List(l) => l.data_addr(),
            _ => None,
        }
    }
}

enum Elems<'de> {
    List(ListIter<'de>),
    Tuple(TupleIter<'de>),
    Bytes(core::slice::Iter<'de, u8>),
}

struct Seq<'a, 'de> {
    elems: Elems<'de>,
    de: &'a TermDe<'de>,
}

impl<'de> Seq<'_, 'de> {
    fn next_term(&mut self) -> Option<Term<'de>> {
        match &mut self.elems {
            Elems::List(it) => it.next(),
            Elems::Tuple(it) => it.next(),
            Elems::Bytes(it) => it.next().map(|&b| Term::Int(i64::from(b))),
        }
    }
}

impl<'de> SeqAccess<'de> for Seq<'_, 'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        match self.next_term() {
            Some(t) => seed.deserialize(self.de.child(t)).map(Some),
            None => Ok(None),
        }
    }
}

struct Map<'a, 'de> {
    it: MapIter<'de>,
    value: Option<Term<'de>>,
    de: &'a TermDe<'de>,
}

impl<'de> MapAccess<'de> for Map<'_, 'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        match self.it.next() {
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(self.de.child(k)).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        let v = self.value.take().ok_or(self.de.err())?;
        seed.deserialize(self.de.child(v))
    }
}

/// An enum: an atom (unit variant) or a tuple tagged by an atom.
struct Enum<'de> {
    tag: Term<'de>,
    rest: Option<TupleIter<'de>>,
    arity: usize,
    de: TermDe<'de>,
}

impl<'de> EnumAccess<'de> for Enum<'de> {
    type Error = Error;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self)> {
        let v = seed.deserialize(self.de.child(self.tag))?;
        Ok((v, self))
    }
}

impl<'de> VariantAccess<'de> for Enum<'de> {
    type Error = Error;

    fn unit_variant(self) -> Result<()> {
        match self.rest {
            None => Ok(()),
            Some(_) => Err(self.de.err()),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value> {
        match (self.rest, self.arity) {
            (Some(mut it), 2) => match it.next() {
                Some(t) => seed.deserialize(self.de.child(t)),
                None => Err(self.de.err()),
            },
            _ => Err(self.de.err()),
        }
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value> {
        match self.rest {
            Some(it) if self.arity == len + 1 => {
                let mut seq = Seq {
                    elems: Elems::Tuple(it),
                    de: &self.de,
                };
                visitor.visit_seq(&mut seq).map_err(|e| self.de.fix(e))
            }
            _ => Err(self.de.err()),
        }
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        match (self.rest, self.arity) {
            (Some(mut it), 2) => match it.next() {
                Some(t) => self.de.child(t).deserialize_map(visitor),
                None => Err(self.de.err()),
            },
            _ => Err(self.de.err()),
        }
    }
}

impl<'de> Deserializer<'de> for TermDe<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        let r = match self.t {
            Term::Int(i) => v.visit_i64(i),
            // Past i64: u64 first (what most targets are), then 128 bits.
            Term::Big(b) => match (b.is_negative(), b.to_u128()) {
                (false, Some(u)) => match u64::try_from(u) {
                    Ok(x) => v.visit_u64(x),
                    Err(_) => v.visit_u128(u),
                },
                (true, Some(_)) => match b.to_i128() {
                    Some(i) => v.visit_i128(i),
                    None => return Err(self.err()),
                },
                _ => return Err(self.err()),
            },
            Term::Float(f) => v.visit_f64(f),
            Term::Atom(a) if a == "true" => v.visit_bool(true),
            Term::Atom(a) if a == "false" => v.visit_bool(false),
            Term::Atom(a) if a == "nil" => v.visit_unit(),
            Term::Atom(_) => return self.str(v),
            Term::Binary(b) => match core::str::from_utf8(b) {
                Ok(s) => v.visit_borrowed_str(s),
                Err(_) => v.visit_borrowed_bytes(b),
            },
            Term::Nil | Term::Charlist(_) | Term::List(_) | Term::Tuple(_) => return self.seq(v),
            Term::Map(_) => return self.deserialize_map(v),
            Term::BitBinary(_) | Term::Pid(_) | Term::Port(_) | Term::Ref(_) => {
                return Err(self.err())
            }
        };
        r.map_err(|e| self.fix(e))
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        match self.t {
            Term::Atom(a) if a == "nil" || a == "undefined" => v.visit_none(),
            _ => {
                let at = self.at;
                v.visit_some(self).map_err(|e| {
                    if e.offset() == 0 {
                        Error::new(e.kind(), at)
                    } else {
                        e
                    }
                })
            }
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        match self.t {
            Term::Atom(a) if a == "nil" => v.visit_unit(),
            Term::Nil => v.visit_unit(),
            _ => Err(self.err()),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value> {
        self.deserialize_unit(v)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value> {
        v.visit_newtype_struct(self)
    }

    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        self.str(v)
    }

    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        self.str(v)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        self.str(v)
    }

    fn deserialize_char<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        self.str(v)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        match self.t {
            Term::Binary(b) | Term::Charlist(b) => {
                v.visit_borrowed_bytes(b).map_err(|e| self.fix(e))
            }
            _ => self.deserialize_any(v),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        self.deserialize_bytes(v)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        self.seq(v)
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, v: V) -> Result<V::Value> {
        self.seq(v)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        v: V,
    ) -> Result<V::Value> {
        self.seq(v)
    }

    fn deserialize_map<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        let Term::Map(m) = self.t else {
            return Err(self.err());
        };
        let mut access = Map {
            it: m.iter(),
            value: None,
            de: &self,
        };
        v.visit_map(&mut access).map_err(|e| self.fix(e))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value> {
        self.deserialize_map(v)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value> {
        let (tag, rest, arity) = match self.t {
            Term::Atom(_) | Term::Binary(_) => (self.t, None, 0),
            Term::Tuple(t) if t.len() >= 2 => {
                let mut it = t.iter();
                let tag = it.next().ok_or(self.err())?;
                (tag, Some(it), t.len())
            }
            _ => return Err(self.err()),
        };
        let at = self.at;
        v.visit_enum(Enum {
            tag,
            rest,
            arity,
            de: self,
        })
        .map_err(|e| {
            if e.offset() == 0 {
                Error::new(e.kind(), at)
            } else {
                e
            }
        })
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        v.visit_unit()
    }

    fn is_human_readable(&self) -> bool {
        true
    }

    ::serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64
    }
}

impl<'de> IntoDeserializer<'de, Error> for TermDe<'de> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}
