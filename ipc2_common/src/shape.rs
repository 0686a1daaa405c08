//! The shape of a message type, to tell at the handshake whether host and worker agree on it.
//!
//! A host and a worker built from different versions of a service would otherwise find out at the
//! first call, as a decode error. [`shape`] describes a type by what its `Deserialize` impl
//! announces before reading anything: for an enum its name and variant names, for a struct its
//! name and field names, for anything else its kind. For the reply enum `#[ipc2::service]`
//! generates, that is the service's name and its methods that answer, so adding, removing or
//! renaming one changes the shape. It is shallow: a field whose type changed is not seen.
//!
//! ```
//! #[derive(serde::Deserialize)]
//! # #[allow(dead_code)]
//! enum CalcResponse { Add(u32), Div(i64) }
//!
//! assert_eq!(ipc2_common::shape::shape::<CalcResponse>(), "CalcResponse{Add,Div}");
//! assert_eq!(ipc2_common::shape::shape::<u32>(), "u32");
//! ```

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeOwned, Visitor};

/// A short description of `T`'s outermost layer, as its `Deserialize` impl announces it.
pub fn shape<T: DeserializeOwned>() -> String {
    let probe = Probe::default();
    let _ = T::deserialize(&probe);
    probe.seen.into_inner().unwrap_or_else(|| "?".to_owned())
}

/// A 64-bit fingerprint of [`shape`], small enough for the handshake.
pub fn fingerprint<T: DeserializeOwned>() -> u64 {
    // FNV-1a: stable across builds and platforms, unlike `DefaultHasher`.
    shape::<T>()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        })
}

/// A deserializer that records the first thing asked of it and then fails.
#[derive(Default)]
struct Probe {
    seen: RefCell<Option<String>>,
}

impl Probe {
    fn record<T>(&self, what: String) -> Result<T, Stop> {
        self.seen.borrow_mut().get_or_insert(what);
        Err(Stop)
    }
}

#[derive(Debug)]
struct Stop;

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("shape probe")
    }
}

impl std::error::Error for Stop {}

impl de::Error for Stop {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Stop
    }
}

macro_rules! kinds {
    ($($method:ident => $kind:literal,)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
                self.record($kind.to_owned())
            }
        )*
    };
}

impl<'de> de::Deserializer<'de> for &Probe {
    type Error = Stop;

    kinds! {
        deserialize_any => "any",
        deserialize_bool => "bool",
        deserialize_i8 => "i8",
        deserialize_i16 => "i16",
        deserialize_i32 => "i32",
        deserialize_i64 => "i64",
        deserialize_i128 => "i128",
        deserialize_u8 => "u8",
        deserialize_u16 => "u16",
        deserialize_u32 => "u32",
        deserialize_u64 => "u64",
        deserialize_u128 => "u128",
        deserialize_f32 => "f32",
        deserialize_f64 => "f64",
        deserialize_char => "char",
        deserialize_str => "str",
        deserialize_string => "string",
        deserialize_bytes => "bytes",
        deserialize_byte_buf => "bytes",
        deserialize_option => "option",
        deserialize_unit => "unit",
        deserialize_seq => "seq",
        deserialize_map => "map",
        deserialize_identifier => "identifier",
        deserialize_ignored_any => "ignored",
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        _: V,
    ) -> Result<V::Value, Stop> {
        self.record(name.to_owned())
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        _: V,
    ) -> Result<V::Value, Stop> {
        self.record(format!("{name}()"))
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, _: V) -> Result<V::Value, Stop> {
        self.record(format!("tuple({len})"))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        _: V,
    ) -> Result<V::Value, Stop> {
        self.record(format!("{name}({len})"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Stop> {
        self.record(format!("{name}{{{}}}", fields.join(",")))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Stop> {
        self.record(format!("{name}{{{}}}", variants.join(",")))
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct Point {
        x: i32,
        y: i32,
    }

    #[derive(Deserialize)]
    #[allow(dead_code)]
    enum V1 {
        Add(u32),
        Div(i64),
    }

    mod v2 {
        #[derive(serde::Deserialize)]
        #[serde(rename = "V1")]
        #[allow(dead_code)]
        pub(super) enum V1 {
            Add(u32),
            Div(i64),
            Reset,
        }
    }

    #[test]
    fn shapes_name_the_type_and_its_parts() {
        assert_eq!(shape::<Point>(), "Point{x,y}");
        assert_eq!(shape::<(u32, String)>(), "tuple(2)");
        assert_eq!(shape::<Vec<u8>>(), "seq");
        assert_eq!(shape::<Option<u8>>(), "option");
    }

    #[test]
    fn a_new_variant_changes_the_fingerprint() {
        assert_ne!(fingerprint::<V1>(), fingerprint::<v2::V1>());
        assert_eq!(fingerprint::<V1>(), fingerprint::<V1>());
    }
}
