//! Conversions between [`Term`] and [`eetf::Term`] (feature `eetf`), for
//! code that already uses eetf: decode safely here, then hand eetf an
//! owned tree; or write an eetf tree with this crate's encoder (which keeps
//! `[-1]` a list of integers, unlike eetf 0.12's own encoder).

use alloc::string::String;
use alloc::vec::Vec;

use num_bigint::{BigInt, Sign};

use super::{Encoder, Term};
use crate::error::{Error, ErrorKind, Result};
use crate::sink::Sink;

impl Term<'_> {
    /// An owned eetf copy of this term.
    ///
    /// ```
    /// use phoenix_wire::etf::{self, SafePolicy};
    ///
    /// let t = etf::decode(&[131, 104, 2, 119, 2, b'o', b'k', 97, 7], &SafePolicy::new())?;
    /// let e = t.to_eetf();
    /// assert_eq!(e, eetf::Term::from(eetf::Tuple::from(vec![
    ///     eetf::Term::from(eetf::Atom::from("ok")),
    ///     eetf::Term::from(eetf::FixInteger::from(7)),
    /// ])));
    /// # Ok::<(), phoenix_wire::Error>(())
    /// ```
    pub fn to_eetf(&self) -> eetf::Term {
        use eetf::Term as E;
        match *self {
            Term::Int(v) => match i32::try_from(v) {
                Ok(small) => E::from(eetf::FixInteger::from(small)),
                Err(_) => E::from(eetf::BigInteger::from(v)),
            },
            Term::Big(b) => {
                let sign = if b.is_negative() {
                    Sign::Minus
                } else {
                    Sign::Plus
                };
                E::from(eetf::BigInteger {
                    value: BigInt::from_bytes_le(sign, b.magnitude()),
                })
            }
            // Decoded floats are finite, which is all eetf refuses.
            Term::Float(v) => E::from(eetf::Float { value: v }),
            Term::Atom(a) => E::from(atom(&a)),
            Term::Binary(b) => E::from(eetf::Binary::from(b)),
            Term::BitBinary(b) => {
                // eetf keeps the used bits of the last byte in its low bits.
                let mut bytes = b.bytes().to_vec();
                if let Some(last) = bytes.last_mut() {
                    *last >>= 8 - b.last_bits();
                }
                E::from(eetf::BitBinary::from((bytes, b.last_bits())))
            }
            Term::Nil => E::from(eetf::List::nil()),
            Term::Charlist(s) => E::from(eetf::ByteList::from(s.to_vec())),
            Term::List(l) => {
                let mut it = l.iter();
                let elements: Vec<E> = it.by_ref().map(|e| e.to_eetf()).collect();
                match it.tail() {
                    None => E::from(eetf::List::from(elements)),
                    Some(t) => E::from(eetf::ImproperList::from((elements, t.to_eetf()))),
                }
            }
            Term::Tuple(t) => E::from(eetf::Tuple::from(
                t.iter().map(|e| e.to_eetf()).collect::<Vec<_>>(),
            )),
            Term::Map(m) => E::from(eetf::Map::from(
                m.iter()
                    .map(|(k, v)| (k.to_eetf(), v.to_eetf()))
                    .collect::<std::collections::HashMap<_, _>>(),
            )),
            Term::Pid(p) => E::from(eetf::Pid {
                node: atom(&p.node),
                id: p.id,
                serial: p.serial,
                creation: p.creation,
            }),
            Term::Port(p) => E::from(eetf::Port {
                node: atom(&p.node),
                id: p.id,
                creation: p.creation,
            }),
            Term::Ref(r) => E::from(eetf::Reference {
                node: atom(&r.node),
                id: r.ids().collect(),
                creation: r.creation,
            }),
        }
    }
}

fn atom(a: &super::Atom<'_>) -> eetf::Atom {
    eetf::Atom::from(a.chars().collect::<String>())
}

impl<S: Sink + ?Sized> Encoder<'_, S> {
    /// Writes an eetf term. Funs are refused
    /// ([`ExecutableTerm`](ErrorKind::ExecutableTerm)), as a safe decoder
    /// would refuse them.
    ///
    /// ```
    /// use phoenix_wire::etf::Encoder;
    ///
    /// let list = eetf::Term::from(eetf::List::from(vec![eetf::Term::from(eetf::FixInteger::from(-1))]));
    /// let mut out = Vec::new();
    /// let mut enc = Encoder::new(&mut out);
    /// enc.version()?;
    /// enc.eetf(&list)?;
    /// assert_eq!(out, [131, 108, 0, 0, 0, 1, 98, 255, 255, 255, 255, 106]);
    /// # Ok::<(), phoenix_wire::Error>(())
    /// ```
    pub fn eetf(&mut self, t: &eetf::Term) -> Result<()> {
        use eetf::Term as E;
        match t {
            E::Atom(a) => self.atom(&a.name),
            E::FixInteger(i) => self.int(i.value.into()),
            E::BigInteger(b) => {
                let (sign, mag) = b.value.to_bytes_le();
                self.big(sign == Sign::Minus, &mag)
            }
            E::Float(f) => self.float(f.value),
            E::Pid(p) => self.pid(&p.node.name, p.id, p.serial, p.creation),
            E::Port(p) => self.port(&p.node.name, p.id, p.creation),
            E::Reference(r) => self.reference(&r.node.name, r.creation, &r.id),
            E::ExternalFun(_) | E::InternalFun(_) => Err(Error::new(ErrorKind::ExecutableTerm, 0)),
            E::Binary(b) => self.binary(&b.bytes),
            E::BitBinary(b) => self.eetf_bits(&b.bytes, b.tail_bits_size),
            E::ByteList(b) => self.charlist(&b.bytes),
            E::List(l) => self.eetf_list(&l.elements, None),
            E::ImproperList(l) => self.eetf_list(&l.elements, Some(&l.last)),
            E::Tuple(t) => {
                self.tuple_header(t.elements.len())?;
                t.elements.iter().try_for_each(|e| self.eetf(e))
            }
            E::Map(m) => {
                self.map_header(m.map.len())?;
                m.map.iter().try_for_each(|(k, v)| {
                    self.eetf(k)?;
                    self.eetf(v)
                })
            }
        }
    }

    /// eetf keeps the used bits of the last byte in its low bits; Erlang
    /// (and this crate) in the high ones.
    fn eetf_bits(&mut self, bytes: &[u8], bits: u8) -> Result<()> {
        match (bytes.split_last(), bits) {
            (Some((&last, body)), 1..=7) => {
                let mut v = Vec::with_capacity(bytes.len());
                v.extend_from_slice(body);
                v.push(last << (8 - bits));
                self.bit_binary(&v, bits)
            }
            _ => self.bit_binary(bytes, bits),
        }
    }

    fn eetf_list(&mut self, elements: &[eetf::Term], tail: Option<&eetf::Term>) -> Result<()> {
        if !elements.is_empty() {
            self.list_header(elements.len())?;
            elements.iter().try_for_each(|e| self.eetf(e))?;
        }
        match tail {
            Some(t) => self.eetf(t),
            None => self.nil(),
        }
    }
}
