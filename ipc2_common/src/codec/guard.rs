//! A serde adapter that makes decoding input from another process safe for the decoding thread.
//!
//! bincode decodes exactly what it is told to, which leaves three ways for a hostile peer to hurt
//! the process that decodes its message. [`Guarded`] wraps bincode's deserializer and closes each:
//! - **Depth.** serde decodes nested values by recursion, so a value nested 100,000 deep in a
//!   small frame overflows the decoding thread's stack and aborts the process. Every nested
//!   value (a sequence, map, struct, tuple, enum variant, `Some` or newtype) enters one level;
//!   past [`MAX_DEPTH`] the decode fails with [`Error::TooDeep`](crate::Error::TooDeep), before anything deeper
//!   is built (so nothing deep is ever dropped, which recurses too).
//! - **Preallocation.** serde sizes a `Vec` or map up front from the length the input claims
//!   (capped at 1 MiB per collection by `serde::de::size_hint::cautious`), so a 15 KB frame of
//!   nested sequences each claiming `u32::MAX` elements once reserved gigabytes. Here the lengths
//!   handed out as size hints share one budget per message: the body's length in bytes. Every
//!   element of an honest message takes at least one byte on the wire, so honest collections are
//!   normally sized up front (a collection of zero-byte elements can use up the budget, and then
//!   later ones grow as they fill), and a forged length gets no hint once the budget cannot cover
//!   it. What a message makes the decoder reserve is then at most its length times the size of
//!   its largest element type (serde caps each collection at 1 MiB besides).
//! - **Claimed string and byte lengths.** An owned `String` or byte buffer is read by borrowing
//!   from the frame and copying what is there, so a forged length fails on the missing bytes
//!   instead of allocating what it claims. This is what lets bincode run without its own memory
//!   limit, which counts every integer at its in-memory width (8 bytes for a `u64`) and so
//!   refused honest messages that fit the frame.

use std::cell::Cell;
use std::fmt;

use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor,
};

/// How deeply a decoded value may nest: the levels of sequences, maps, structs, tuples, enum
/// variants, `Some`s and newtypes around its innermost value.
///
/// serde_json's default is 128 arrays or objects; ipc2 counts every level serde recurses through,
/// so it allows twice that. A level costs at most a few hundred bytes of stack in an optimised
/// build and a few KB in a debug one, so a decode at the limit fits the 2 MiB stack of a tokio
/// worker thread with room to spare.
pub const MAX_DEPTH: usize = 256;

/// What one message's decode may still spend: levels of nesting and elements of preallocation.
pub(super) struct Limits {
    depth: Cell<usize>,
    too_deep: Cell<bool>,
    hint_budget: Cell<usize>,
}

impl Limits {
    /// The limits for decoding a body of `body_len` bytes.
    pub(super) fn new(body_len: usize) -> Limits {
        Limits {
            depth: Cell::new(0),
            too_deep: Cell::new(false),
            hint_budget: Cell::new(body_len),
        }
    }

    /// Enters one level of nesting for the length of `f`.
    fn nested<T, E: de::Error>(&self, f: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        let depth = self.depth.get();
        if depth >= MAX_DEPTH {
            self.too_deep.set(true);
            return Err(E::custom("nested too deeply"));
        }
        self.depth.set(depth + 1);
        let result = f();
        self.depth.set(depth);
        result
    }

    /// Whether the decode failed because the value nests deeper than [`MAX_DEPTH`].
    pub(super) fn too_deep(&self) -> bool {
        self.too_deep.get()
    }

    /// Grants a collection claiming `claimed` elements that size hint, if what is left of the
    /// budget covers it.
    fn grant(&self, claimed: Option<usize>) -> Option<usize> {
        let claimed = claimed?;
        let left = self.hint_budget.get().checked_sub(claimed)?;
        self.hint_budget.set(left);
        Some(claimed)
    }
}

/// A deserializer, visitor or seed, wrapped so that everything nested inside it is guarded too.
pub(super) struct Guarded<'l, T> {
    pub(super) inner: T,
    pub(super) limits: &'l Limits,
}

impl<'l, T> Guarded<'l, T> {
    fn wrap<U>(&self, inner: U) -> Guarded<'l, U> {
        Guarded {
            inner,
            limits: self.limits,
        }
    }
}

/// A collection's access, with the size hint the budget granted it (asked for once, kept).
struct Collection<'l, A> {
    inner: A,
    limits: &'l Limits,
    hint: Cell<Option<Option<usize>>>,
}

impl<'l, A> Collection<'l, A> {
    fn new(inner: A, limits: &'l Limits) -> Self {
        Collection {
            inner,
            limits,
            hint: Cell::new(None),
        }
    }

    /// The claimed length if the budget covers it, else `None`: a hint is meant to be exact
    /// when it is given at all.
    fn size_hint(&self, claimed: impl FnOnce() -> Option<usize>) -> Option<usize> {
        match self.hint.get() {
            Some(granted) => granted,
            None => {
                let granted = self.limits.grant(claimed());
                self.hint.set(Some(granted));
                granted
            }
        }
    }

    fn seed<S>(&self, inner: S) -> Guarded<'l, S> {
        Guarded {
            inner,
            limits: self.limits,
        }
    }
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Guarded<'_, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<S::Value, D::Error> {
        let limits = self.limits;
        self.inner.deserialize(Guarded {
            inner: deserializer,
            limits,
        })
    }
}

macro_rules! forward_deserialize {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
            let visitor = self.wrap(visitor);
            self.inner.$method(visitor)
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Guarded<'_, D> {
    type Error = D::Error;

    forward_deserialize! {
        deserialize_any deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32
        deserialize_i64 deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32
        deserialize_u64 deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char
        deserialize_str deserialize_bytes deserialize_option deserialize_unit deserialize_seq
        deserialize_map deserialize_identifier deserialize_ignored_any
    }

    /// Borrowed, then copied: see the module docs.
    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        let visitor = self.wrap(visitor);
        self.inner.deserialize_str(visitor)
    }

    /// Borrowed, then copied: see the module docs.
    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        let visitor = self.wrap(visitor);
        self.inner.deserialize_bytes(visitor)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let visitor = self.wrap(visitor);
        self.inner.deserialize_unit_struct(name, visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let visitor = self.wrap(visitor);
        self.inner.deserialize_newtype_struct(name, visitor)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let visitor = self.wrap(visitor);
        self.inner.deserialize_tuple(len, visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let visitor = self.wrap(visitor);
        self.inner.deserialize_tuple_struct(name, len, visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let visitor = self.wrap(visitor);
        self.inner.deserialize_struct(name, fields, visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let visitor = self.wrap(visitor);
        self.inner.deserialize_enum(name, variants, visitor)
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

macro_rules! forward_visit {
    ($($method:ident($ty:ty))*) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<Self::Value, E> {
            self.inner.$method(v)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Guarded<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    forward_visit! {
        visit_bool(bool) visit_i8(i8) visit_i16(i16) visit_i32(i32) visit_i64(i64)
        visit_i128(i128) visit_u8(u8) visit_u16(u16) visit_u32(u32) visit_u64(u64)
        visit_u128(u128) visit_f32(f32) visit_f64(f64) visit_char(char) visit_str(&str)
        visit_borrowed_str(&'de str) visit_string(String) visit_bytes(&[u8])
        visit_borrowed_bytes(&'de [u8]) visit_byte_buf(Vec<u8>)
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<V::Value, D::Error> {
        let limits = self.limits;
        let deserializer = self.wrap(deserializer);
        limits.nested(|| self.inner.visit_some(deserializer))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<V::Value, D::Error> {
        let limits = self.limits;
        let deserializer = self.wrap(deserializer);
        limits.nested(|| self.inner.visit_newtype_struct(deserializer))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        let limits = self.limits;
        limits.nested(|| self.inner.visit_seq(Collection::new(seq, limits)))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        let limits = self.limits;
        limits.nested(|| self.inner.visit_map(Collection::new(map, limits)))
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        let limits = self.limits;
        let data = self.wrap(data);
        limits.nested(|| self.inner.visit_enum(data))
    }
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Collection<'_, A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        let seed = self.seed(seed);
        self.inner.next_element_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        Collection::size_hint(self, || self.inner.size_hint())
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Collection<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        let seed = self.seed(seed);
        self.inner.next_key_seed(seed)
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        let seed = self.seed(seed);
        self.inner.next_value_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        Collection::size_hint(self, || self.inner.size_hint())
    }
}

impl<'de, 'l, A: EnumAccess<'de>> EnumAccess<'de> for Guarded<'l, A> {
    type Error = A::Error;
    type Variant = Guarded<'l, A::Variant>;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Self::Variant), A::Error> {
        let limits = self.limits;
        let (value, variant) = self.inner.variant_seed(Guarded {
            inner: seed,
            limits,
        })?;
        Ok((
            value,
            Guarded {
                inner: variant,
                limits,
            },
        ))
    }
}

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for Guarded<'_, A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.inner.unit_variant()
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, A::Error> {
        let seed = self.wrap(seed);
        self.inner.newtype_variant_seed(seed)
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        let visitor = self.wrap(visitor);
        self.inner.tuple_variant(len, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        let visitor = self.wrap(visitor);
        self.inner.struct_variant(fields, visitor)
    }
}
