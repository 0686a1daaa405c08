//! The tracing deserializer behind [`Description::of`](super::Description::of).
//!
//! A type's `Deserialize` impl tells the deserializer what it expects next (a `u32`, a struct with
//! these fields, an enum with these variants), and the tracer records each answer while feeding it
//! a made-up value. One pass yields one value, so it reads one variant of each enum it meets:
//! [`Tracer::root`] deserializes the type again and again, each pass choosing a variant not yet
//! seen, until every enum the type reaches has shown all its variants.
//!
//! Recursive types need care, since a made-up value must be finite. A struct or enum met again
//! inside itself is *re-entered*: from there on the pass builds the smallest value it can (empty
//! sequences and maps, `None`, and for each enum a variant known to end), records nothing, and
//! only returns the reference. An enum with no variant known to end yet gets a guess; a guess that
//! nests without end is caught by a depth bound, remembered, and not made again.
//!
//! Unlike a registry keyed by serde's container names (`serde-reflection`), containers are told
//! apart by their Rust type, so `Result<i64, E>` and `Result<String, E>` are two types, as they are
//! to bincode.

use std::any::type_name;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::panic::AssertUnwindSafe;

use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};

use super::{Container, Fields, Shape, Variant};

/// How deep a pass may nest re-entered containers before its latest guess is called endless.
const MAX_REENTRY: usize = 32;

/// How deep a pass may nest containers at all: beyond any real type's nesting of distinct types.
const MAX_DEPTH: usize = 256;

/// Passes over one root after which the tracer stops and calls the rest unknown. Each pass that
/// fails to learn something ends the tracing, so this only bounds a pathological type.
const MAX_PASSES: usize = 10_000;

/// Why a pass ended early.
#[derive(Debug)]
pub(super) struct Error {
    kind: Kind,
    /// Whether the pass already learned from it (an enum recorded the variant it was reading as
    /// opaque, or the guess as endless); if not, the root it was tracing is opaque.
    learned: bool,
}

#[derive(Debug)]
enum Kind {
    /// The type's `Deserialize` refused the made-up value.
    Custom(String),
    /// The type's `Deserialize` asked for something only self-describing formats provide.
    Unsupported(&'static str),
    /// An enum with no variants: no value exists.
    Uninhabited,
    /// Re-entered containers nested too deep, with no guess to blame.
    Endless,
}

impl Error {
    fn new(kind: Kind) -> Self {
        Self {
            kind,
            learned: false,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Custom(message) => write!(f, "its Deserialize refused a sample value: {message}"),
            Kind::Unsupported(what) => write!(
                f,
                "its Deserialize calls {what}, which only self-describing formats support \
                 (#[serde(untagged)], #[serde(flatten)] or a type like serde_json::Value)"
            ),
            Kind::Uninhabited => f.write_str("it has no values (an enum without variants)"),
            Kind::Endless => f.write_str("it nests itself without end"),
        }
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(message: T) -> Self {
        Self::new(Kind::Custom(message.to_string()))
    }
}

type Result<T> = std::result::Result<T, Error>;

/// A struct or enum being traced.
struct Slot {
    name: &'static str,
    kind: SlotKind,
}

enum SlotKind {
    /// `None` until a pass has read it outside a re-entry.
    Struct(Option<Fields>),
    /// Each variant's name, and what it holds once a pass has read it.
    Enum(Vec<(&'static str, Option<Fields>)>),
}

/// What the passes over one or more roots have learned.
#[derive(Default)]
pub(super) struct Tracer {
    slots: Vec<Slot>,
    /// Slot index by Rust type.
    by_type: HashMap<&'static str, u32>,
    /// The containers the current pass is inside, outermost first.
    stack: Vec<u32>,
    /// How many of those were re-entered: the pass records nothing while this is above zero.
    reentered: usize,
    /// The variants the current pass is reading in re-entered enums without knowing they end,
    /// outermost first.
    guesses: Vec<(u32, u32)>,
    /// Variants that did not end when chosen in a re-entry.
    endless: HashSet<(u32, u32)>,
    /// Whether the current pass learned something.
    learned: bool,
}

impl Tracer {
    /// Traces `T` until a pass learns nothing new.
    pub(super) fn root<T: DeserializeOwned>(&mut self) -> Shape {
        let mut shape = Shape::Unknown;
        for _ in 0..MAX_PASSES {
            self.learned = false;
            self.guesses.clear();
            self.stack.clear();
            self.reentered = 0;
            shape = Shape::Unknown;
            // A `Deserialize` that panics on a sample value leaves this root undescribed, not the
            // process down.
            let pass = std::panic::catch_unwind(AssertUnwindSafe(|| {
                T::deserialize(De {
                    tracer: &mut *self,
                    out: &mut shape,
                })
                .map(drop)
            }));
            let Ok(pass) = pass else {
                return Shape::Opaque("its Deserialize panicked on a sample value".to_owned());
            };
            match pass {
                Err(err) if !err.learned && !matches!(err.kind, Kind::Uninhabited) => {
                    return Shape::Opaque(err.to_string());
                }
                _ if !self.learned || self.complete(&shape) => return shape,
                _ => {}
            }
        }
        shape
    }

    /// The containers, in index order, with whatever no pass reached marked as such.
    pub(super) fn finish(self) -> Vec<Container> {
        let unreached = || Fields::Opaque("no sample value reached it".to_owned());
        self.slots
            .into_iter()
            .map(|slot| match slot.kind {
                SlotKind::Struct(fields) => Container::Struct {
                    name: slot.name.to_owned(),
                    fields: fields.unwrap_or_else(unreached),
                },
                SlotKind::Enum(variants) => Container::Enum {
                    name: slot.name.to_owned(),
                    variants: variants
                        .into_iter()
                        .map(|(name, fields)| Variant {
                            name: name.to_owned(),
                            fields: fields.unwrap_or_else(unreached),
                        })
                        .collect(),
                },
            })
            .collect()
    }

    /// Enters the container whose `Deserialize` produces `V` (its slot made on first sight);
    /// returns its index and whether it was re-entered.
    fn enter<V>(
        &mut self,
        name: &'static str,
        kind: impl FnOnce() -> SlotKind,
    ) -> Result<(u32, bool)> {
        let key = type_name::<V>();
        let index = match self.by_type.get(key) {
            Some(&index) => index,
            None => {
                let index = self.slots.len() as u32;
                self.slots.push(Slot { name, kind: kind() });
                self.by_type.insert(key, index);
                index
            }
        };
        let reentry = self.stack.contains(&index);
        if self.stack.len() == MAX_DEPTH {
            return Err(Error::new(Kind::Endless));
        }
        if reentry {
            if self.reentered == MAX_REENTRY {
                return Err(self.blame_guess());
            }
            self.reentered += 1;
        }
        self.stack.push(index);
        Ok((index, reentry))
    }

    fn leave(&mut self, reentry: bool) {
        self.stack.pop();
        if reentry {
            self.reentered -= 1;
        }
    }

    /// Whether the pass is inside a re-entered container, building a minimal value.
    fn minimal(&self) -> bool {
        self.reentered > 0
    }

    /// Re-entries nest too deep: the innermost guess being read repeats without end.
    fn blame_guess(&mut self) -> Error {
        match self.guesses.last() {
            Some(&guess) => {
                self.endless.insert(guess);
                self.learned = true;
                Error {
                    kind: Kind::Endless,
                    learned: true,
                }
            }
            None => Error::new(Kind::Endless),
        }
    }

    fn record_struct(&mut self, index: u32, fields: Fields) {
        if let SlotKind::Struct(slot @ None) = &mut self.slots[index as usize].kind {
            *slot = Some(fields);
            self.learned = true;
        }
    }

    /// Records what `variant` of enum `index` holds, if that is not known yet; whether it was.
    fn record_variant(&mut self, index: u32, variant: u32, fields: Fields) -> bool {
        if let SlotKind::Enum(variants) = &mut self.slots[index as usize].kind
            && let Some((_, slot @ None)) = variants.get_mut(variant as usize)
        {
            *slot = Some(fields);
            self.learned = true;
            return true;
        }
        false
    }

    /// The variant a pass reads of enum `index` outside a re-entry: one not read yet; else one
    /// that reaches a container with something left to read; else one known to end.
    fn fresh_choice(&self, index: u32) -> u32 {
        let SlotKind::Enum(variants) = &self.slots[index as usize].kind else {
            return 0;
        };
        if let Some(unread) = variants.iter().position(|(_, fields)| fields.is_none()) {
            return unread as u32;
        }
        let complete = self.complete_slots();
        let open = variants.iter().position(|(_, fields)| {
            fields.as_ref().is_some_and(|fields| {
                fields_refs(fields, true).any(|r| !complete[r as usize] && !self.stack.contains(&r))
            })
        });
        open.map(|i| i as u32)
            .or_else(|| self.ending_variant(index))
            .unwrap_or(0)
    }

    /// The variant of enum `index` a re-entry reads, and whether it is a guess: one known to end;
    /// else the first not known to be endless; `None` if every variant is.
    fn minimal_choice(&self, index: u32) -> Option<(u32, bool)> {
        if let Some(variant) = self.ending_variant(index) {
            return Some((variant, false));
        }
        let SlotKind::Enum(variants) = &self.slots[index as usize].kind else {
            return None;
        };
        (0..variants.len() as u32)
            .find(|&v| !self.endless.contains(&(index, v)))
            .map(|v| (v, true))
    }

    /// A variant of enum `index` that a re-entry can build without nesting: every container it
    /// holds directly (not inside an `Option`, sequence or map, which a re-entry leaves empty) has
    /// such a value too.
    fn ending_variant(&self, index: u32) -> Option<u32> {
        let ends = self.ending_slots();
        let SlotKind::Enum(variants) = &self.slots[index as usize].kind else {
            return None;
        };
        variants
            .iter()
            .enumerate()
            .find(|&(v, (_, fields))| {
                !self.endless.contains(&(index, v as u32))
                    && fields.as_ref().is_some_and(|fields| can_end(fields, &ends))
            })
            .map(|(v, _)| v as u32)
    }

    /// Which containers a re-entry can build (the least fixpoint of [`Self::ending_variant`]'s rule).
    fn ending_slots(&self) -> Vec<bool> {
        let mut ends = vec![false; self.slots.len()];
        loop {
            let mut changed = false;
            for (i, slot) in self.slots.iter().enumerate() {
                if ends[i] {
                    continue;
                }
                let direct_ok =
                    |fields: &Option<Fields>| fields.as_ref().is_some_and(|f| can_end(f, &ends));
                let now = match &slot.kind {
                    SlotKind::Struct(fields) => direct_ok(fields),
                    SlotKind::Enum(variants) => variants.iter().enumerate().any(|(v, (_, f))| {
                        !self.endless.contains(&(i as u32, v as u32)) && direct_ok(f)
                    }),
                };
                if now {
                    ends[i] = true;
                    changed = true;
                }
            }
            if !changed {
                return ends;
            }
        }
    }

    /// Which containers are fully read, along with everything they reach (the greatest fixpoint).
    fn complete_slots(&self) -> Vec<bool> {
        let mut complete: Vec<bool> = self
            .slots
            .iter()
            .map(|slot| match &slot.kind {
                SlotKind::Struct(fields) => fields.is_some(),
                SlotKind::Enum(variants) => variants.iter().all(|(_, f)| f.is_some()),
            })
            .collect();
        loop {
            let mut changed = false;
            for (i, slot) in self.slots.iter().enumerate() {
                let reaches_open = match &slot.kind {
                    SlotKind::Struct(fields) => fields
                        .iter()
                        .any(|f| fields_refs(f, true).any(|r| !complete[r as usize])),
                    SlotKind::Enum(variants) => variants.iter().any(|(_, f)| {
                        f.iter()
                            .any(|f| fields_refs(f, true).any(|r| !complete[r as usize]))
                    }),
                };
                if complete[i] && reaches_open {
                    complete[i] = false;
                    changed = true;
                }
            }
            if !changed {
                return complete;
            }
        }
    }

    /// Whether everything `shape` reaches is fully read.
    fn complete(&self, shape: &Shape) -> bool {
        let complete = self.complete_slots();
        let mut refs = Vec::new();
        shape_refs(shape, true, &mut refs);
        refs.iter().all(|&r| complete[r as usize])
    }
}

/// Whether a re-entry can build a value holding `fields`, given which containers it can build:
/// what could not be read fails again, so it is no way to end.
fn can_end(fields: &Fields, ends: &[bool]) -> bool {
    !matches!(fields, Fields::Opaque(_)) && fields_refs(fields, false).all(|r| ends[r as usize])
}

/// The containers `fields` refers to; with `nested` false, only those it holds directly.
fn fields_refs(fields: &Fields, nested: bool) -> impl Iterator<Item = u32> {
    let mut refs = Vec::new();
    match fields {
        Fields::Unit | Fields::Opaque(_) => {}
        Fields::Newtype(shape) => shape_refs(shape, nested, &mut refs),
        Fields::Tuple(shapes) => shapes.iter().for_each(|s| shape_refs(s, nested, &mut refs)),
        Fields::Named(named) => named
            .iter()
            .for_each(|(_, s)| shape_refs(s, nested, &mut refs)),
    }
    refs.into_iter()
}

fn shape_refs(shape: &Shape, nested: bool, refs: &mut Vec<u32>) {
    match shape {
        Shape::Named(index) => refs.push(*index),
        Shape::Tuple(shapes) => shapes.iter().for_each(|s| shape_refs(s, nested, refs)),
        Shape::Option(inner) | Shape::Seq(inner) if nested => shape_refs(inner, nested, refs),
        Shape::Map(key, value) if nested => {
            shape_refs(key, nested, refs);
            shape_refs(value, nested, refs);
        }
        _ => {}
    }
}

/// Reads one value for the tracer, writing what it was asked for to `out`.
struct De<'t> {
    tracer: &'t mut Tracer,
    out: &'t mut Shape,
}

macro_rules! primitives {
    ($($method:ident => $shape:ident, $visit:ident($value:expr);)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
                *self.out = Shape::$shape;
                visitor.$visit($value)
            }
        )*
    };
}

macro_rules! unsupported {
    ($($method:ident,)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, _: V) -> Result<V::Value> {
                Err(Error::new(Kind::Unsupported(stringify!($method))))
            }
        )*
    };
}

impl<'de> de::Deserializer<'de> for De<'_> {
    type Error = Error;

    // Integers are 1, not 0, so that a `NonZero` field takes the sample.
    primitives! {
        deserialize_bool => Bool, visit_bool(false);
        deserialize_i8 => I8, visit_i8(1);
        deserialize_i16 => I16, visit_i16(1);
        deserialize_i32 => I32, visit_i32(1);
        deserialize_i64 => I64, visit_i64(1);
        deserialize_i128 => I128, visit_i128(1);
        deserialize_u8 => U8, visit_u8(1);
        deserialize_u16 => U16, visit_u16(1);
        deserialize_u32 => U32, visit_u32(1);
        deserialize_u64 => U64, visit_u64(1);
        deserialize_u128 => U128, visit_u128(1);
        deserialize_f32 => F32, visit_f32(0.0);
        deserialize_f64 => F64, visit_f64(0.0);
        deserialize_char => Char, visit_char('a');
        deserialize_str => Str, visit_str("");
        deserialize_string => Str, visit_string(String::new());
        deserialize_bytes => Bytes, visit_bytes(&[]);
        deserialize_byte_buf => Bytes, visit_byte_buf(Vec::new());
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        *self.out = Shape::Unit;
        visitor.visit_unit()
    }

    unsupported! {
        deserialize_any,
        deserialize_identifier,
        deserialize_ignored_any,
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if self.tracer.minimal() {
            *self.out = Shape::Option(Box::new(Shape::Unknown));
            return visitor.visit_none();
        }
        let mut inner = Shape::Unknown;
        let value = visitor.visit_some(De {
            tracer: self.tracer,
            out: &mut inner,
        });
        *self.out = Shape::Option(Box::new(inner));
        value
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let len = usize::from(!self.tracer.minimal());
        let (value, mut shapes) = read_seq(self.tracer, len, visitor);
        *self.out = Shape::Seq(Box::new(shapes.pop().unwrap_or(Shape::Unknown)));
        value
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value> {
        let (value, shapes) = read_seq(self.tracer, len, visitor);
        *self.out = Shape::Tuple(shapes);
        value
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let mut entry = Entry {
            tracer: self.tracer,
            key: Shape::Unknown,
            value: Shape::Unknown,
            left: 0,
        };
        entry.left = u8::from(!entry.tracer.minimal());
        let map = visitor.visit_map(&mut entry);
        *self.out = Shape::Map(Box::new(entry.key), Box::new(entry.value));
        map
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        self.structure::<V>(name, |_| (visitor.visit_unit(), Fields::Unit))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        self.structure::<V>(name, |tracer| {
            let mut inner = Shape::Unknown;
            let value = visitor.visit_newtype_struct(De {
                tracer,
                out: &mut inner,
            });
            (value, Fields::Newtype(inner))
        })
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value> {
        self.structure::<V>(name, |tracer| {
            let (value, shapes) = read_seq(tracer, len, visitor);
            (value, Fields::Tuple(shapes))
        })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        self.structure::<V>(name, |tracer| {
            let (value, shapes) = read_seq(tracer, fields.len(), visitor);
            (value, named(fields, shapes))
        })
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        let tracer = self.tracer;
        let (index, reentry) = tracer.enter::<V::Value>(name, || {
            SlotKind::Enum(variants.iter().map(|&name| (name, None)).collect())
        })?;
        *self.out = Shape::Named(index);
        let minimal = tracer.minimal();
        let choice = if variants.is_empty() {
            None
        } else if minimal {
            tracer.minimal_choice(index)
        } else {
            Some((tracer.fresh_choice(index), false))
        };
        let Some((variant, guess)) = choice else {
            tracer.leave(reentry);
            let kind = if variants.is_empty() {
                Kind::Uninhabited
            } else {
                Kind::Endless
            };
            return Err(Error::new(kind));
        };
        if guess {
            tracer.guesses.push((index, variant));
        }
        let mut fields = None;
        let value = visitor.visit_enum(Enum {
            tracer: &mut *tracer,
            variant,
            fields: &mut fields,
        });
        tracer.leave(reentry);
        if guess {
            tracer.guesses.pop();
        }
        match value {
            Ok(value) => {
                if let (false, Some(fields)) = (minimal, fields) {
                    tracer.record_variant(index, variant, fields);
                }
                Ok(value)
            }
            // The innermost enum learns from what went wrong in the variant it was reading. A
            // variant holding a type without values (`NoEvents`) is known all the same.
            Err(mut err) if !err.learned => {
                let learned = if minimal {
                    tracer.endless.insert((index, variant))
                } else {
                    let fields = match (&err.kind, fields) {
                        (Kind::Uninhabited, Some(fields)) => fields,
                        _ => Fields::Opaque(err.to_string()),
                    };
                    tracer.record_variant(index, variant, fields)
                };
                tracer.learned |= learned;
                err.learned = learned;
                Err(err)
            }
            Err(err) => Err(err),
        }
    }

    fn is_human_readable(&self) -> bool {
        false
    }
}

impl<'t> De<'t> {
    /// Reads a struct: `read` gets the tracer and returns the value and the fields it read,
    /// which are recorded unless the pass is building a minimal value.
    fn structure<'de, V: Visitor<'de>>(
        self,
        name: &'static str,
        read: impl FnOnce(&mut Tracer) -> (Result<V::Value>, Fields),
    ) -> Result<V::Value> {
        let (index, reentry) = self
            .tracer
            .enter::<V::Value>(name, || SlotKind::Struct(None))?;
        *self.out = Shape::Named(index);
        let minimal = self.tracer.minimal();
        let (value, fields) = read(self.tracer);
        self.tracer.leave(reentry);
        if value.is_ok() && !minimal {
            self.tracer.record_struct(index, fields);
        }
        value
    }
}

fn named(names: &'static [&'static str], shapes: Vec<Shape>) -> Fields {
    Fields::Named(
        names
            .iter()
            .map(|name| (*name).to_owned())
            .zip(shapes)
            .collect(),
    )
}

/// Reads `len` elements with `visitor`: its value, and each element's shape.
fn read_seq<'de, V: Visitor<'de>>(
    tracer: &mut Tracer,
    len: usize,
    visitor: V,
) -> (Result<V::Value>, Vec<Shape>) {
    let mut shapes = Vec::new();
    let value = visitor.visit_seq(Seq {
        tracer,
        shapes: &mut shapes,
        len,
    });
    (value, shapes)
}

/// The elements of a sequence, tuple or struct: `len` of them.
struct Seq<'a> {
    tracer: &'a mut Tracer,
    shapes: &'a mut Vec<Shape>,
    len: usize,
}

impl<'de> de::SeqAccess<'de> for Seq<'_> {
    type Error = Error;

    fn next_element_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<Option<S::Value>> {
        if self.shapes.len() == self.len {
            return Ok(None);
        }
        let mut shape = Shape::Unknown;
        let value = seed.deserialize(De {
            tracer: &mut *self.tracer,
            out: &mut shape,
        });
        self.shapes.push(shape);
        value.map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.len - self.shapes.len())
    }
}

/// The entries of a map: one, or none in a minimal value.
struct Entry<'a> {
    tracer: &'a mut Tracer,
    key: Shape,
    value: Shape,
    left: u8,
}

impl<'de> de::MapAccess<'de> for &mut Entry<'_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(De {
            tracer: &mut *self.tracer,
            out: &mut self.key,
        })
        .map(Some)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value> {
        seed.deserialize(De {
            tracer: &mut *self.tracer,
            out: &mut self.value,
        })
    }

    fn size_hint(&self) -> Option<usize> {
        Some(usize::from(self.left))
    }
}

/// The variant an enum reads, chosen by the tracer.
struct Enum<'a> {
    tracer: &'a mut Tracer,
    variant: u32,
    fields: &'a mut Option<Fields>,
}

impl<'de, 'a> de::EnumAccess<'de> for Enum<'a> {
    type Error = Error;
    type Variant = Self;

    fn variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<(S::Value, Self)> {
        let variant = seed.deserialize(self.variant.into_deserializer())?;
        Ok((variant, self))
    }
}

impl<'de> de::VariantAccess<'de> for Enum<'_> {
    type Error = Error;

    fn unit_variant(self) -> Result<()> {
        *self.fields = Some(Fields::Unit);
        Ok(())
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value> {
        let mut inner = Shape::Unknown;
        let value = seed.deserialize(De {
            tracer: self.tracer,
            out: &mut inner,
        });
        *self.fields = Some(Fields::Newtype(inner));
        value
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value> {
        let (value, shapes) = read_seq(self.tracer, len, visitor);
        *self.fields = Some(Fields::Tuple(shapes));
        value
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        names: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        let (value, shapes) = read_seq(self.tracer, names.len(), visitor);
        *self.fields = Some(named(names, shapes));
        value
    }
}
