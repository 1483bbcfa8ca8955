//! Serializing the caller's types straight into a [`Sink`] through the
//! [`Encoder`]: no intermediate tree.

use ::serde::ser::{self, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::etf::Encoder;
use crate::sink::Sink;

/// Writes `value` as one term (version byte first) into `out`.
///
/// Sequences and maps must know their length up front (those of the
/// standard library do); a `Serialize` impl that lies about it gets
/// [`ErrorKind::Serde`].
pub fn to_writer<S: Sink + ?Sized, T: Serialize + ?Sized>(out: &mut S, value: &T) -> Result<()> {
    let mut enc = Encoder::new(out);
    enc.version()?;
    value.serialize(Ser { enc: &mut enc })
}

/// `value` as one term in a new `Vec`.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<alloc::vec::Vec<u8>> {
    let mut out = alloc::vec::Vec::with_capacity(64);
    to_writer(&mut out, value)?;
    Ok(out)
}

struct Ser<'a, 's, S: Sink + ?Sized> {
    enc: &'a mut Encoder<'s, S>,
}

fn mismatch() -> Error {
    Error::new(ErrorKind::Serde, 0)
}

/// A container being written: how many elements it still expects, and
/// whether it is a list (which ends with `[]`).
struct Compound<'a, 's, S: Sink + ?Sized> {
    enc: &'a mut Encoder<'s, S>,
    left: usize,
    list: bool,
}

impl<'a, 's, S: Sink + ?Sized> Compound<'a, 's, S> {
    fn element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<()> {
        self.left = self.left.checked_sub(1).ok_or_else(mismatch)?;
        v.serialize(Ser {
            enc: &mut *self.enc,
        })
    }

    fn finish(self) -> Result<()> {
        if self.left != 0 {
            return Err(mismatch());
        }
        if self.list {
            self.enc.nil()?;
        }
        Ok(())
    }
}

impl<'a, 's, S: Sink + ?Sized> ser::Serializer for Ser<'a, 's, S> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'a, 's, S>;
    type SerializeTuple = Compound<'a, 's, S>;
    type SerializeTupleStruct = Compound<'a, 's, S>;
    type SerializeTupleVariant = Compound<'a, 's, S>;
    type SerializeMap = Compound<'a, 's, S>;
    type SerializeStruct = Compound<'a, 's, S>;
    type SerializeStructVariant = Compound<'a, 's, S>;

    fn serialize_bool(self, v: bool) -> Result<()> {
        self.enc.bool(v)
    }
    fn serialize_i8(self, v: i8) -> Result<()> {
        self.enc.int(v.into())
    }
    fn serialize_i16(self, v: i16) -> Result<()> {
        self.enc.int(v.into())
    }
    fn serialize_i32(self, v: i32) -> Result<()> {
        self.enc.int(v.into())
    }
    fn serialize_i64(self, v: i64) -> Result<()> {
        self.enc.int(v)
    }
    fn serialize_i128(self, v: i128) -> Result<()> {
        self.enc.int128(v)
    }
    fn serialize_u8(self, v: u8) -> Result<()> {
        self.enc.int(v.into())
    }
    fn serialize_u16(self, v: u16) -> Result<()> {
        self.enc.int(v.into())
    }
    fn serialize_u32(self, v: u32) -> Result<()> {
        self.enc.int(v.into())
    }
    fn serialize_u64(self, v: u64) -> Result<()> {
        self.enc.int128(v.into())
    }
    fn serialize_u128(self, v: u128) -> Result<()> {
        self.enc.big(false, &v.to_le_bytes())
    }
    fn serialize_f32(self, v: f32) -> Result<()> {
        self.enc.float(v.into())
    }
    fn serialize_f64(self, v: f64) -> Result<()> {
        self.enc.float(v)
    }
    fn serialize_char(self, v: char) -> Result<()> {
        self.enc.binary(v.encode_utf8(&mut [0; 4]).as_bytes())
    }
    fn serialize_str(self, v: &str) -> Result<()> {
        self.enc.binary(v.as_bytes())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<()> {
        self.enc.binary(v)
    }
    fn serialize_none(self) -> Result<()> {
        self.enc.atom("nil")
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<()> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<()> {
        self.enc.atom("nil")
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<()> {
        self.enc.atom("nil")
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _i: u32,
        variant: &'static str,
    ) -> Result<()> {
        self.enc.atom(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        v: &T,
    ) -> Result<()> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _i: u32,
        variant: &'static str,
        v: &T,
    ) -> Result<()> {
        self.enc.tuple_header(2)?;
        self.enc.atom(variant)?;
        v.serialize(self)
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<Compound<'a, 's, S>> {
        let len = len.ok_or_else(mismatch)?;
        if len > 0 {
            self.enc.list_header(len)?;
        }
        Ok(Compound {
            enc: self.enc,
            left: len,
            list: true,
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<Compound<'a, 's, S>> {
        self.enc.tuple_header(len)?;
        Ok(Compound {
            enc: self.enc,
            left: len,
            list: false,
        })
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<Compound<'a, 's, S>> {
        self.serialize_tuple(len)
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _i: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'a, 's, S>> {
        self.enc.tuple_header(len + 1)?;
        self.enc.atom(variant)?;
        Ok(Compound {
            enc: self.enc,
            left: len,
            list: false,
        })
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Compound<'a, 's, S>> {
        let len = len.ok_or_else(mismatch)?;
        self.enc.map_header(len)?;
        Ok(Compound {
            enc: self.enc,
            left: 2 * len,
            list: false,
        })
    }
    fn serialize_struct(self, _name: &'static str, len: usize) -> Result<Compound<'a, 's, S>> {
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _i: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'a, 's, S>> {
        self.enc.tuple_header(2)?;
        self.enc.atom(variant)?;
        self.serialize_map(Some(len))
    }
}

impl<S: Sink + ?Sized> ser::SerializeSeq for Compound<'_, '_, S> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<()> {
        self.element(v)
    }
    fn end(self) -> Result<()> {
        self.finish()
    }
}

impl<S: Sink + ?Sized> ser::SerializeTuple for Compound<'_, '_, S> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<()> {
        self.element(v)
    }
    fn end(self) -> Result<()> {
        self.finish()
    }
}

impl<S: Sink + ?Sized> ser::SerializeTupleStruct for Compound<'_, '_, S> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<()> {
        self.element(v)
    }
    fn end(self) -> Result<()> {
        self.finish()
    }
}

impl<S: Sink + ?Sized> ser::SerializeTupleVariant for Compound<'_, '_, S> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<()> {
        self.element(v)
    }
    fn end(self) -> Result<()> {
        self.finish()
    }
}

impl<S: Sink + ?Sized> ser::SerializeMap for Compound<'_, '_, S> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> Result<()> {
        self.element(k)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<()> {
        self.element(v)
    }
    fn end(self) -> Result<()> {
        self.finish()
    }
}

impl<S: Sink + ?Sized> ser::SerializeStruct for Compound<'_, '_, S> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, v: &T) -> Result<()> {
        self.left = self.left.checked_sub(1).ok_or_else(mismatch)?;
        self.enc.binary(key.as_bytes())?;
        self.element(v)
    }
    fn end(self) -> Result<()> {
        self.finish()
    }
}

impl<S: Sink + ?Sized> ser::SerializeStructVariant for Compound<'_, '_, S> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, v: &T) -> Result<()> {
        ser::SerializeStruct::serialize_field(self, key, v)
    }
    fn end(self) -> Result<()> {
        self.finish()
    }
}
